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

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::time::{Timestamp, UtcOffset};

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
        deserialize_with = "expiration",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration: Option<u64>,
    /// When the server sent the request to APNs. The one required field.
    #[serde(deserialize_with = "required_time")]
    pub sent_at: Timestamp,
    /// The HTTP `:status` APNs answered (200 accepted).
    #[serde(
        default,
        deserialize_with = "status",
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
        deserialize_with = "optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub apns_timestamp: Option<Timestamp>,
    /// When APNs's answer reached the server.
    #[serde(
        default,
        deserialize_with = "optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub responded_at: Option<Timestamp>,
    /// When the app received the push (its receipt), by the device's clock.
    #[serde(
        default,
        deserialize_with = "optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub received_at: Option<Timestamp>,
    /// When the app reported the call to CallKit (its receipt).
    #[serde(
        default,
        deserialize_with = "optional_time",
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
        deserialize_with = "optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub deadline: Option<Timestamp>,
    /// Free conditions of the push for cohort analysis: `os_version`, `model`, `carrier`,
    /// `radio`, `interface`, `app_version`, `region`, …. Values are text; JSON numbers and
    /// booleans are kept as their JSON text.
    #[serde(
        default,
        deserialize_with = "attrs",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub attrs: BTreeMap<String, String>,
}

impl PushRecord {
    /// Every field name, in the order of the contract: the JSON keys and the CSV columns.
    pub const FIELDS: [&'static str; 19] = [
        "push_id",
        "call_id",
        "device",
        "topic",
        "push_type",
        "priority",
        "expiration",
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

/// Epoch milliseconds below this (1973-03-03) are almost surely seconds sent by mistake.
const MIN_EPOCH_MILLIS: i64 = 100_000_000_000;
/// 9999-12-31T23:59:59.999Z: the last instant a [`Timestamp`] prints as a date.
const MAX_EPOCH_MILLIS: i64 = 253_402_300_799_999;
/// `apns-expiration` values from here on are epoch milliseconds, not the seconds APNs wants.
const MIN_EXPIRATION_MILLIS: u64 = 100_000_000_000;

const TIME_EXPECTED: &str =
    "an RFC 3339 time with an offset (2026-05-20T17:47:00+03:00) or epoch milliseconds";

/// Reads a push time from text: RFC 3339 (or the `log show` form) with an offset, or a number of
/// milliseconds since the epoch. The message of an error says what was expected.
pub fn parse_push_time(text: &str) -> Result<Timestamp, String> {
    let trimmed = text.trim();
    if looks_numeric(trimmed) {
        return match trimmed.parse::<i64>() {
            Ok(ms) => from_epoch_millis(ms),
            Err(_) => match trimmed.parse::<f64>() {
                Ok(ms) => from_epoch_millis_f64(ms),
                Err(_) => Err(format!("`{trimmed}` is not {TIME_EXPECTED}")),
            },
        };
    }
    Timestamp::parse(trimmed).map_err(|e| format!("{e}; or give epoch milliseconds"))
}

fn looks_numeric(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|b| *b == b'.').count() <= 1
}

fn from_epoch_millis(ms: i64) -> Result<Timestamp, String> {
    if ms < 0 {
        return Err(format!(
            "{ms} is before 1970: expected epoch milliseconds of the push"
        ));
    }
    if ms < MIN_EPOCH_MILLIS {
        return Err(format!(
            "{ms} looks like seconds (as milliseconds it is before 1973): times are epoch \
             milliseconds; multiply by 1000"
        ));
    }
    if ms > MAX_EPOCH_MILLIS {
        return Err(format!(
            "{ms} is after the year 9999 as milliseconds (microseconds or nanoseconds?): times \
             are epoch milliseconds"
        ));
    }
    Ok(Timestamp::new(ms * 1000, UtcOffset::UTC))
}

fn from_epoch_millis_f64(ms: f64) -> Result<Timestamp, String> {
    if !ms.is_finite() {
        return Err(format!("{ms} is not {TIME_EXPECTED}"));
    }
    // Checked as whole milliseconds first so that the range errors read the same.
    from_epoch_millis(ms.floor() as i64)?;
    Ok(Timestamp::new((ms * 1000.0).round() as i64, UtcOffset::UTC))
}

fn required_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
    if !deserializer.is_human_readable() {
        return Timestamp::deserialize(deserializer);
    }
    deserializer.deserialize_any(TimeVisitor)
}

fn optional_time<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Timestamp>, D::Error> {
    if !deserializer.is_human_readable() {
        return Option::<Timestamp>::deserialize(deserializer);
    }
    deserializer.deserialize_option(OptionalVisitor(TimeVisitor))
}

/// An instant from a string (RFC 3339 or digits) or a JSON number of epoch milliseconds.
struct TimeVisitor;

impl<'de> Visitor<'de> for TimeVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(TIME_EXPECTED)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
        parse_push_time(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
        from_epoch_millis(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
        from_epoch_millis(i64::try_from(v).unwrap_or(i64::MAX)).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
        from_epoch_millis_f64(v).map_err(E::custom)
    }
}

/// `null` as `None`, anything else through the inner visitor.
struct OptionalVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for OptionalVisitor<V> {
    type Value = Option<V::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)?;
        f.write_str(", or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self.0).map(Some)
    }
}

fn expiration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    if !deserializer.is_human_readable() {
        return Option::<u64>::deserialize(deserializer);
    }
    deserializer.deserialize_option(OptionalVisitor(ExpirationVisitor))
}

/// `apns-expiration`: epoch seconds as a number or digits, or an RFC 3339 time.
struct ExpirationVisitor;

impl ExpirationVisitor {
    fn seconds(v: u64) -> Result<u64, String> {
        if v >= MIN_EXPIRATION_MILLIS {
            Err(format!(
                "{v} looks like milliseconds: `apns-expiration` is in epoch seconds (0: one \
                 attempt, no storage); divide by 1000"
            ))
        } else {
            Ok(v)
        }
    }
}

impl<'de> Visitor<'de> for ExpirationVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the apns-expiration header: epoch seconds (0 for no storage) or an RFC 3339 time",
        )
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Self::seconds(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        let v = u64::try_from(v).map_err(|_| {
            E::custom(format!(
                "{v} is negative: `apns-expiration` is epoch seconds, 0 or later"
            ))
        })?;
        self.visit_u64(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        if v.is_finite() && v.fract() == 0.0 && v >= 0.0 && v < u64::MAX as f64 {
            self.visit_u64(v as u64)
        } else {
            Err(E::custom(format!(
                "{v} is not whole epoch seconds: `apns-expiration` is an integer"
            )))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        let text = v.trim();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let seconds = text
                .parse::<u64>()
                .map_err(|_| E::custom(format!("`{text}` is too large for epoch seconds")))?;
            return self.visit_u64(seconds);
        }
        let at = Timestamp::parse(text).map_err(|e| {
            E::custom(format!(
                "{e}; `apns-expiration` is epoch seconds (0 for no storage) or an RFC 3339 time"
            ))
        })?;
        u64::try_from(at.utc_micros().div_euclid(1_000_000))
            .map_err(|_| E::custom(format!("`{text}` is before 1970")))
    }
}

fn status<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u16>, D::Error> {
    let status = Option::<u16>::deserialize(deserializer)?;
    match status {
        Some(code) if !(100..=599).contains(&code) => Err(de::Error::custom(format!(
            "{code} is not an HTTP status: expected what APNs answered (200, 400, 403, 410, …)"
        ))),
        other => Ok(other),
    }
}

fn attrs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    if !deserializer.is_human_readable() {
        return BTreeMap::deserialize(deserializer);
    }
    deserializer
        .deserialize_option(OptionalVisitor(AttrsVisitor))
        .map(Option::unwrap_or_default)
}

/// An object of text, numbers and booleans; `null` values are left out.
struct AttrsVisitor;

impl<'de> Visitor<'de> for AttrsVisitor {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of strings, numbers or booleans")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut attrs = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let Some(AttrText(value)) = map.next_value::<Option<AttrText>>()? else {
                continue;
            };
            if attrs.insert(key.clone(), value).is_some() {
                return Err(de::Error::custom(format!(
                    "attribute `{key}` appears twice"
                )));
            }
        }
        Ok(attrs)
    }
}

/// One attribute value as text.
struct AttrText(String);

impl<'de> Deserialize<'de> for AttrText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AttrTextVisitor)
    }
}

struct AttrTextVisitor;

impl<'de> Visitor<'de> for AttrTextVisitor {
    type Value = AttrText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a string, number or boolean (nested values are not supported: flatten them into \
             keys such as `radio.rat`)",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<AttrText, E> {
        Ok(AttrText(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<AttrText, E> {
        Ok(AttrText(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<AttrText, E> {
        Ok(AttrText(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<AttrText, E> {
        Ok(AttrText(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<AttrText, E> {
        Ok(AttrText(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<AttrText, E> {
        Ok(AttrText(v.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            r#"{"push_id":"p-1","call_id":"c-1","device":"a1b2c3","topic":"com.acme.call.voip","push_type":"voip","priority":10,"expiration":0,"sent_at":"2026-05-20T17:47:00.125000+03:00","apns_status":410,"apns_reason":"Unregistered","apns_id":"8f1e6a52-3c4d-4e5f-9a0b-1c2d3e4f5a6b","apns_unique_id":"2f0c7a6e-1b2d-4c3e-8f9a-0b1c2d3e4f5a","apns_timestamp":"2026-05-19T08:00:00.000000+00:00","responded_at":"2026-05-20T14:47:00.180000+00:00","received_at":"2026-05-20T17:50:05.000000+03:00","reported_at":"2026-05-20T10:50:05.077000-04:00","must_report":false,"deadline":"2026-05-20T17:48:00.000000+03:00","attrs":{"carrier":"Turkcell","os_version":"26.4.1"}}"#
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
