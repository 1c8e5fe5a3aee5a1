//! One push as the server that sent it saw it: the import contract for pushes from any server.
//!
//! A [`PushRecord`] is one line of a pushes file (`docs/formats.md`, "Push records"): what was
//! sent (`topic`, `push_type`, `priority`, `expiration`), when (`sent_at`), what APNs answered
//! (`apns_status`, `apns_reason`, `apns_id`, …) and, when the app posted a receipt, when the push
//! reached it (`received_at`, `reported_at`, `must_report`). Field names are the JSON keys and
//! the CSV column names, in snake_case.
//!
//! Only `sent_at` is required: it is what places a push on the device's timeline, and a
//! diagnosis can still say something (often "unknown", with the reason) without anything else.
//! Every other field is optional and absent means *not known*, never a default: a record without
//! `apns_status` is not an accepted push.
//!
//! Times are read as RFC 3339 with an offset (the offset is kept for display, like every
//! [`Timestamp`]) or as a number of milliseconds since the epoch (UTC), the unit of APNs's own
//! 410 `timestamp` and of most servers' clocks. A number that would put the instant before 1973
//! is refused as "looks like seconds" rather than read as 1970: a unit mistake must not turn
//! into a wrong diagnosis. `expiration` is the `apns-expiration` header as sent: epoch
//! *seconds*, `0` for "one attempt, do not store".
//!
//! Unknown keys are refused, not ignored: a misspelt `recieved_at` dropped silently would make
//! a delivered push look lost. Extra data goes in `attrs`.

mod wire;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

pub use wire::{
    expiration_seconds, http_status, parse_push_time, push_time_from_micros, push_time_from_millis,
};

/// One push as sent, with APNs's answer and the app's receipt when there is one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRecord {
    /// The sender's id of this push (unique per push, e.g. per retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_id: Option<String>,
    /// The call this push rings for; several pushes (retries, devices) may share it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The device token (hex) or a stable device id of the sender's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// `apns-topic`: the bundle id, with `.voip` for VoIP pushes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// `apns-push-type` as sent (`voip`, `alert`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_type: Option<String>,
    /// `apns-priority` as sent (10, 5 or 1 are what APNs accepts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// `apns-expiration` as sent: UNIX epoch seconds, `0` for one attempt without storage.
    #[serde(
        default,
        deserialize_with = "wire::expiration",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration: Option<u64>,
    /// When the sender accepted the work (the call was created, the push queued): the time
    /// between this and `sent_at` was lost before APNs. The gateway records it.
    #[serde(
        default,
        deserialize_with = "wire::optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub queued_at: Option<Timestamp>,
    /// When the server sent the request to APNs. The one required field.
    #[serde(deserialize_with = "wire::required_time")]
    pub sent_at: Timestamp,
    /// The HTTP `:status` APNs answered (200 accepted).
    #[serde(
        default,
        deserialize_with = "wire::status",
        skip_serializing_if = "Option::is_none"
    )]
    pub apns_status: Option<u16>,
    /// The `reason` of an error answer (`BadDeviceToken`, `Unregistered`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apns_reason: Option<String>,
    /// `apns-id`: sent by the server or assigned by APNs (a UUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apns_id: Option<String>,
    /// `apns-unique-id`: answered in the sandbox only; keys Apple's Delivery Log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apns_unique_id: Option<String>,
    /// The `timestamp` of a 410 answer: when APNs learnt the token was no longer valid.
    #[serde(
        default,
        deserialize_with = "wire::optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub apns_timestamp: Option<Timestamp>,
    /// When APNs's answer reached the server.
    #[serde(
        default,
        deserialize_with = "wire::optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub responded_at: Option<Timestamp>,
    /// When the app received the push (its receipt), by the device's clock.
    #[serde(
        default,
        deserialize_with = "wire::optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub received_at: Option<Timestamp>,
    /// When the app reported the call to CallKit (its receipt).
    #[serde(
        default,
        deserialize_with = "wire::optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub reported_at: Option<Timestamp>,
    /// `PKVoIPPushMetadata.mustReport` as the app saw it (iOS 26.4+): `false` for a push that
    /// arrived too late to ring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub must_report: Option<bool>,
    /// When the push stopped being useful (the caller gave up, the ring window closed).
    #[serde(
        default,
        deserialize_with = "wire::optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub deadline: Option<Timestamp>,
    /// Free conditions of the push for cohort analysis: `os_version`, `model`, `carrier`,
    /// `radio`, `interface`, `app_version`, `region`, …. Values are text; JSON numbers and
    /// booleans are kept as their JSON text.
    #[serde(
        default,
        deserialize_with = "wire::attrs",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub attrs: BTreeMap<String, String>,
}

impl PushRecord {
    /// Every field name, in the order of the contract: the JSON keys and the CSV columns.
    pub const FIELDS: [&'static str; 20] = [
        "push_id",
        "call_id",
        "device",
        "topic",
        "push_type",
        "priority",
        "expiration",
        "queued_at",
        "sent_at",
        "apns_status",
        "apns_reason",
        "apns_id",
        "apns_unique_id",
        "apns_timestamp",
        "responded_at",
        "received_at",
        "reported_at",
        "must_report",
        "deadline",
        "attrs",
    ];

    /// The same record with every instant shown in `offset` (the device log's clock, for a
    /// report whose times must be found in the log).
    pub fn on_offset(&self, offset: crate::time::UtcOffset) -> PushRecord {
        let on = |t: Option<Timestamp>| t.map(|t| t.with_offset(offset));
        PushRecord {
            queued_at: on(self.queued_at),
            sent_at: self.sent_at.with_offset(offset),
            apns_timestamp: on(self.apns_timestamp),
            responded_at: on(self.responded_at),
            received_at: on(self.received_at),
            reported_at: on(self.reported_at),
            deadline: on(self.deadline),
            ..self.clone()
        }
    }

    /// The date `apns-expiration` names, in the send's offset: `None` for `0` (one attempt,
    /// nothing stored), when the record does not say, or past what a time can hold.
    pub fn expiration_date(&self) -> Option<Timestamp> {
        let seconds = self.expiration.filter(|&s| s != 0)?;
        let micros = i64::try_from(seconds).ok()?.checked_mul(1_000_000)?;
        Some(Timestamp::new(micros, self.sent_at.offset()))
    }

    /// A push known only by when it was sent; everything else is unknown.
    pub fn new(sent_at: Timestamp) -> PushRecord {
        PushRecord {
            push_id: None,
            call_id: None,
            device: None,
            topic: None,
            push_type: None,
            priority: None,
            expiration: None,
            queued_at: None,
            sent_at,
            apns_status: None,
            apns_reason: None,
            apns_id: None,
            apns_unique_id: None,
            apns_timestamp: None,
            responded_at: None,
            received_at: None,
            reported_at: None,
            must_report: None,
            deadline: None,
            attrs: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::UtcOffset;
    use proptest::prelude::*;

    fn t(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    /// A record with every field set, in several offsets.
    fn full() -> PushRecord {
        let mut push = PushRecord::new(t("2026-05-20T17:47:00.125+03:00"));
        push.push_id = Some("p-1".into());
        push.call_id = Some("c-1".into());
        push.device = Some("a1b2c3".into());
        push.topic = Some("com.acme.call.voip".into());
        push.push_type = Some("voip".into());
        push.priority = Some(10);
        push.expiration = Some(0);
        push.queued_at = Some(t("2026-05-20T17:46:59.900+03:00"));
        push.apns_status = Some(410);
        push.apns_reason = Some("Unregistered".into());
        push.apns_id = Some("8f1e6a52-3c4d-4e5f-9a0b-1c2d3e4f5a6b".into());
        push.apns_unique_id = Some("2f0c7a6e-1b2d-4c3e-8f9a-0b1c2d3e4f5a".into());
        push.apns_timestamp = Some(t("2026-05-19T08:00:00Z"));
        push.responded_at = Some(t("2026-05-20T14:47:00.180Z"));
        push.received_at = Some(t("2026-05-20T17:50:05+03:00"));
        push.reported_at = Some(t("2026-05-20T10:50:05.077-04:00"));
        push.must_report = Some(false);
        push.deadline = Some(t("2026-05-20T17:48:00+03:00"));
        push.attrs.insert("carrier".into(), "Turkcell".into());
        push.attrs.insert("os_version".into(), "26.4.1".into());
        push
    }

    #[test]
    fn every_field_round_trips_with_its_offset() {
        let json = serde_json::to_string(&full()).unwrap();
        assert_eq!(
            json,
            r#"{"push_id":"p-1","call_id":"c-1","device":"a1b2c3","topic":"com.acme.call.voip","push_type":"voip","priority":10,"expiration":0,"queued_at":"2026-05-20T17:46:59.900000+03:00","sent_at":"2026-05-20T17:47:00.125000+03:00","apns_status":410,"apns_reason":"Unregistered","apns_id":"8f1e6a52-3c4d-4e5f-9a0b-1c2d3e4f5a6b","apns_unique_id":"2f0c7a6e-1b2d-4c3e-8f9a-0b1c2d3e4f5a","apns_timestamp":"2026-05-19T08:00:00.000000+00:00","responded_at":"2026-05-20T14:47:00.180000+00:00","received_at":"2026-05-20T17:50:05.000000+03:00","reported_at":"2026-05-20T10:50:05.077000-04:00","must_report":false,"deadline":"2026-05-20T17:48:00.000000+03:00","attrs":{"carrier":"Turkcell","os_version":"26.4.1"}}"#
        );
        let back: PushRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, full());
        assert_eq!(back.reported_at.unwrap().offset().seconds(), -4 * 3600);
        // Every field of the contract is in the JSON, in FIELDS order.
        let keys: Vec<_> = serde_json::from_str::<serde_json::Value>(&json)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let mut sorted_fields = PushRecord::FIELDS.map(String::from).to_vec();
        sorted_fields.sort();
        assert_eq!(keys, sorted_fields);
    }

    #[test]
    fn only_sent_at_is_required() {
        let push: PushRecord =
            serde_json::from_str(r#"{"sent_at":"2026-05-20T17:47:00+03:00"}"#).unwrap();
        assert_eq!(push, PushRecord::new(t("2026-05-20T17:47:00+03:00")));
        assert_eq!(
            serde_json::to_string(&push).unwrap(),
            r#"{"sent_at":"2026-05-20T17:47:00.000000+03:00"}"#
        );
        let err = serde_json::from_str::<PushRecord>(r#"{"topic":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `sent_at`"), "{err}");
    }

    #[test]
    fn nulls_are_absent() {
        let push: PushRecord = serde_json::from_str(
            r#"{"sent_at":1779288420000,"received_at":null,"expiration":null,"attrs":null,"apns_status":null}"#,
        )
        .unwrap();
        assert_eq!(push.received_at, None);
        assert_eq!(push.expiration, None);
        assert_eq!(push.apns_status, None);
        assert!(push.attrs.is_empty());
    }

    #[test]
    fn epoch_milliseconds_as_numbers_and_digits() {
        let push: PushRecord = serde_json::from_str(
            r#"{"sent_at":1779288420000,"received_at":"1779288605000","apns_timestamp":1779288420000.5}"#,
        )
        .unwrap();
        // Epoch numbers carry no offset: they read as UTC.
        assert_eq!(push.sent_at, t("2026-05-20T14:47:00Z"));
        assert_eq!(push.received_at, Some(t("2026-05-20T14:50:05Z")));
        assert_eq!(
            push.apns_timestamp.unwrap().utc_micros(),
            1_779_288_420_000_500
        );
    }

    #[test]
    fn unit_mistakes_are_refused_with_the_fix() {
        let err = serde_json::from_str::<PushRecord>(r#"{"sent_at":1779288420}"#).unwrap_err();
        assert!(err.to_string().contains("looks like seconds"), "{err}");
        let err =
            serde_json::from_str::<PushRecord>(r#"{"sent_at":1779288420000000}"#).unwrap_err();
        assert!(err.to_string().contains("after the year 9999"), "{err}");
        let err = serde_json::from_str::<PushRecord>(
            r#"{"sent_at":1779288420000,"expiration":1779288480000}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("looks like milliseconds"), "{err}");
        let err = serde_json::from_str::<PushRecord>(r#"{"sent_at":-5}"#).unwrap_err();
        assert!(err.to_string().contains("before 1970"), "{err}");
    }

    #[test]
    fn times_without_offset_are_refused() {
        let err =
            serde_json::from_str::<PushRecord>(r#"{"sent_at":"2026-05-20T17:47:00"}"#).unwrap_err();
        assert!(err.to_string().contains("has no UTC offset"), "{err}");
        let err = serde_json::from_str::<PushRecord>(r#"{"sent_at":"17:47:00"}"#).unwrap_err();
        assert!(err.to_string().contains("epoch milliseconds"), "{err}");
    }

    #[test]
    fn expiration_forms() {
        let read = |v: &str| {
            serde_json::from_str::<PushRecord>(&format!(
                r#"{{"sent_at":1779288420000,"expiration":{v}}}"#
            ))
            .map(|p| p.expiration)
        };
        assert_eq!(read("0").unwrap(), Some(0));
        assert_eq!(read("1779288480").unwrap(), Some(1_779_288_480));
        assert_eq!(read(r#""1779288480""#).unwrap(), Some(1_779_288_480));
        assert_eq!(
            read(r#""2026-05-20T17:48:00+03:00""#).unwrap(),
            Some(1_779_288_480)
        );
        assert!(read("-1").unwrap_err().to_string().contains("negative"));
        assert!(read("1.5").unwrap_err().to_string().contains("whole"));
    }

    #[test]
    fn status_must_be_http() {
        let err =
            serde_json::from_str::<PushRecord>(r#"{"sent_at":1779288420000,"apns_status":42}"#)
                .unwrap_err();
        assert!(err.to_string().contains("not an HTTP status"), "{err}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<PushRecord>(
            r#"{"sent_at":1779288420000,"recieved_at":1779288605000}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown field `recieved_at`"),
            "{err}"
        );
    }

    #[test]
    fn attrs_take_scalars_as_text() {
        let push: PushRecord = serde_json::from_str(
            r#"{"sent_at":1779288420000,"attrs":{"os_version":"26.4","rssi":-87,"hotspot":true,"bars":2.5,"region":null}}"#,
        )
        .unwrap();
        let attrs: Vec<_> = push.attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            attrs,
            ["bars=2.5", "hotspot=true", "os_version=26.4", "rssi=-87"]
        );
        let err = serde_json::from_str::<PushRecord>(
            r#"{"sent_at":1779288420000,"attrs":{"radio":{"rat":"lte"}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("flatten them"), "{err}");
    }

    #[test]
    fn parse_push_time_forms() {
        assert_eq!(
            parse_push_time("2026-05-20 17:47:00.000000+0300").unwrap(),
            t("2026-05-20T17:47:00+03:00")
        );
        assert_eq!(
            parse_push_time(" 1779288420000 ").unwrap(),
            t("2026-05-20T14:47:00Z")
        );
        assert!(parse_push_time("1.2.3").is_err());
        assert!(parse_push_time("").is_err());
    }

    proptest! {
        #[test]
        fn any_instant_and_offset_round_trips(
            micros in 100_000_000_000_000i64..253_402_300_799_999_000,
            offset in -1080i32..=1080,
        ) {
            let offset = UtcOffset::from_seconds(offset * 60).unwrap();
            let mut push = PushRecord::new(Timestamp::new(micros, offset));
            push.received_at = Some(Timestamp::new(micros / 2 + 50_000_000_000_000_000, offset));
            let json = serde_json::to_string(&push).unwrap();
            prop_assert_eq!(serde_json::from_str::<PushRecord>(&json).unwrap(), push);
        }

        #[test]
        fn arbitrary_json_never_panics(text in ".{0,200}") {
            let _ = serde_json::from_str::<PushRecord>(&text);
            let _ = parse_push_time(&text);
        }
    }
}
