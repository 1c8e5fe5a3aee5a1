//! What happened to one push, and why: the [`Verdict`] a diagnosis gives each push,
//! with its [`Cause`] from the taxonomy (`docs/diagnosis.md`) and the log lines it rests on.
//!
//! A verdict never claims more than its evidence: a cause comes with a [`Confidence`], the
//! lines that support it and those that contradict it ([`EvidenceRole`]), and `Unknown` is a
//! first-class answer ("logs cover 17:45–17:52"), never a guess.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::DeviceEvent;
use crate::time::Timestamp;

/// What became of the push.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Delivered and reported to CallKit in time.
    OnTime,
    /// Delivered, but later than the call's window (or than the expected latency).
    Late,
    /// Accepted by APNs, never delivered (as far as the logs and receipts show).
    NotDelivered,
    /// Delivered to the device (apsd / callservicesd saw it) but the app never reported the
    /// call to CallKit.
    DeliveredNotReported,
    /// APNs refused it (4xx / 5xx answer).
    Rejected,
    /// The logs do not cover the push, or the evidence conflicts.
    Unknown,
}

impl Outcome {
    /// The wire name (`on_time`, `late`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::OnTime => "on_time",
            Outcome::Late => "late",
            Outcome::NotDelivered => "not_delivered",
            Outcome::DeliveredNotReported => "delivered_not_reported",
            Outcome::Rejected => "rejected",
            Outcome::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why: a code of the diagnosis taxonomy (`docs/diagnosis.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Nothing went wrong.
    None,
    /// The APNs connection was down across the send time with radio or interface loss.
    DeviceOfflineRadio,
    /// apsd was reconnecting when powerd moved to policy 3 (display off): it gave up until a
    /// wake.
    ReconnectAbandonedPowerPolicy,
    /// Connected but power-restricted (a non-waking push): APNs stored it until a wake.
    PowerDeferred,
    /// `apns-expiration` passed (or was 0) while the device was unreachable.
    ExpiredWhileOffline,
    /// The device kept a live connection across the send time, APNs accepted, nothing arrived.
    NetworkPathSuspect,
    /// Delivered to callservicesd, no CallKit report (app killed, crashed, or slow).
    AppNotReporting,
    /// iOS stopped launching the app for VoIP pushes after repeated failures to report.
    VoipBlocked,
    /// APNs said the token is invalid (410 with timestamp, `BadDeviceToken`, wrong topic…).
    TokenInvalid,
    /// APNs refused the push for another reason (payload, headers, auth, 5xx).
    ApnsRejected,
    /// Time lost before APNs: queueing, a cold connection, a slow APNs answer.
    ProviderDelay,
    /// Not enough evidence, or evidence that conflicts.
    Unknown,
}

impl Cause {
    /// The taxonomy code (`reconnect_abandoned_power_policy`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::None => "none",
            Cause::DeviceOfflineRadio => "device_offline_radio",
            Cause::ReconnectAbandonedPowerPolicy => "reconnect_abandoned_power_policy",
            Cause::PowerDeferred => "power_deferred",
            Cause::ExpiredWhileOffline => "expired_while_offline",
            Cause::NetworkPathSuspect => "network_path_suspect",
            Cause::AppNotReporting => "app_not_reporting",
            Cause::VoipBlocked => "voip_blocked",
            Cause::TokenInvalid => "token_invalid",
            Cause::ApnsRejected => "apns_rejected",
            Cause::ProviderDelay => "provider_delay",
            Cause::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure the diagnosis is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Evidence conflicts or is thin: read the evidence before acting.
    Low,
    /// The signature matches but a link of the chain is inferred (no receipt, say).
    Medium,
    /// Every link of the chain is in the logs or the push record.
    High,
}

impl Confidence {
    /// The wire name (`low`, `medium`, `high`).
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }

    /// One step less sure (`Low` stays `Low`).
    pub fn lower(self) -> Confidence {
        match self {
            Confidence::High => Confidence::Medium,
            _ => Confidence::Low,
        }
    }
}

/// What ended the outage, when something did (`docs/diagnosis.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recovery {
    /// An incoming cellular call woke the device (and its network).
    IncomingCellularCallWake,
    /// The user unlocked the device or turned the display on.
    UserUnlockOrDisplayOn,
    /// The device changed networks (Wi-Fi ↔ cellular, a new path).
    NetworkChange,
    /// A scheduled wake (dark wake, maintenance).
    ScheduledWake,
    /// The logs show no recovery.
    NoneSeen,
}

impl Recovery {
    /// How a person says it ("incoming cellular call wake").
    pub fn describe(self) -> &'static str {
        match self {
            Recovery::IncomingCellularCallWake => "incoming cellular call wake",
            Recovery::UserUnlockOrDisplayOn => "user unlock or display on",
            Recovery::NetworkChange => "network change",
            Recovery::ScheduledWake => "scheduled wake",
            Recovery::NoneSeen => "none seen",
        }
    }
}

/// How a log line bears on a verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceRole {
    /// It is part of the cause's signature.
    Supports,
    /// It argues against the cause (shown, and it lowers confidence).
    Contradicts,
    /// It sets the scene (the state before, the recovery).
    Context,
}

/// One understood log line, and why it is cited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// How it bears on the verdict.
    pub role: EvidenceRole,
    /// What it shows, in a few words ("apsd reconnecting on pdp_ip0").
    pub note: String,
    /// The line itself, with its source (file:line) and instant.
    pub event: DeviceEvent,
}

/// The diagnosis of one push.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The push (its `push_id`, else its `apns-id`, else its send time).
    pub push: String,
    /// What became of it.
    pub outcome: Outcome,
    /// Sent → received, when the receipt or the logs show the arrival. In JSON `latency_ms`,
    /// the unit in the key; `latency` (its name before) is still read.
    #[serde(
        rename = "latency_ms",
        alias = "latency",
        with = "duration_ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub latency: Option<Duration>,
    /// Why.
    pub cause: Cause,
    /// How sure.
    pub confidence: Confidence,
    /// The lines it rests on, in time order.
    pub evidence: Vec<Evidence>,
    /// What ended the outage, if there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Recovery>,
    /// When the push reached the device (its arrival line, else the app's receipt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived_at: Option<Timestamp>,
    /// When the outage ended (the line of the recovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_at: Option<Timestamp>,
    /// One plain sentence.
    pub explanation: String,
}

/// Durations as milliseconds (with fractions) on the wire: what people read in JSON.
mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(d.as_secs_f64() * 1000.0),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let ms: Option<f64> = Option::deserialize(d)?;
        match ms {
            None => Ok(None),
            Some(ms) if ms.is_finite() && ms >= 0.0 => {
                Ok(Some(Duration::from_secs_f64(ms / 1000.0)))
            }
            Some(ms) => Err(serde::de::Error::custom(format!(
                "latency {ms} ms is not a non-negative number"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_round_trip_with_taxonomy_codes_and_latency_in_ms() {
        let verdict = Verdict {
            push: "p-1".into(),
            outcome: Outcome::Late,
            latency: Some(Duration::from_millis(185_000)),
            cause: Cause::ReconnectAbandonedPowerPolicy,
            confidence: Confidence::High,
            evidence: Vec::new(),
            recovery: Some(Recovery::IncomingCellularCallWake),
            arrived_at: Some(Timestamp::parse("2026-05-20T17:50:05+03:00").unwrap()),
            recovered_at: Some(Timestamp::parse("2026-05-20T17:50:04.028+03:00").unwrap()),
            explanation: "late".into(),
        };
        let json = serde_json::to_value(&verdict).unwrap();
        assert_eq!(json["outcome"], "late");
        assert_eq!(json["cause"], "reconnect_abandoned_power_policy");
        assert_eq!(json["latency_ms"], 185_000.0);
        assert!(json.get("latency").is_none());
        assert_eq!(json["recovery"], "incoming_cellular_call_wake");
        let back: Verdict = serde_json::from_value(json).unwrap();
        assert_eq!(back, verdict);
        assert!(serde_json::from_str::<Verdict>(
            r#"{"push":"p","outcome":"late","latency":-1,"cause":"none","confidence":"low","evidence":[],"explanation":""}"#
        )
        .is_err());
    }

    #[test]
    fn names_match_the_taxonomy() {
        for (cause, code) in [
            (Cause::DeviceOfflineRadio, "device_offline_radio"),
            (Cause::PowerDeferred, "power_deferred"),
            (Cause::ExpiredWhileOffline, "expired_while_offline"),
            (Cause::NetworkPathSuspect, "network_path_suspect"),
            (Cause::AppNotReporting, "app_not_reporting"),
            (Cause::VoipBlocked, "voip_blocked"),
            (Cause::TokenInvalid, "token_invalid"),
            (Cause::ApnsRejected, "apns_rejected"),
            (Cause::ProviderDelay, "provider_delay"),
        ] {
            assert_eq!(cause.as_str(), code);
            assert_eq!(serde_json::to_value(cause).unwrap(), code);
        }
        assert_eq!(Confidence::High.lower().lower(), Confidence::Low);
        assert_eq!(
            Recovery::IncomingCellularCallWake.describe(),
            "incoming cellular call wake"
        );
    }
}
