//! What really happened to one push: the facts its server's record is made from, and the truth
//! the diagnosis is scored against.
//!
//! A fleet run makes millions of pushes, most of them only counted: a [`PushTruth`] is a few
//! numbers, and [`DeviceRun::record`](super::DeviceRun::record) builds the
//! [`PushRecord`] a server would export only when it is written.

use std::collections::BTreeMap;

use pushtrace_model::{Cause, Outcome, PushRecord, Timestamp};

use super::apns::MAX_STORAGE_MICROS;
use crate::scenario::{Expiration, Scenario};

/// One push with its ground truth. Times are UTC microseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct PushTruth {
    /// 1 for the device's first push.
    pub seq: u32,
    /// The call it rings: an index into [`DeviceRun::calls`](super::DeviceRun::calls).
    pub call: u32,
    /// 1 for the call's first push, 2 for its first resend.
    pub attempt: u32,
    pub sent_at: i64,
    pub responded_at: i64,
    pub deadline: i64,
    /// APNs's answer: 200, or 410 for an unregistered token.
    pub status: u16,
    /// When the app was handed the push (its receipt).
    pub received_at: Option<i64>,
    /// When the app reported the call to CallKit.
    pub reported_at: Option<i64>,
    /// `mustReport` as the app saw it (iOS 26.4+).
    pub must_report: Option<bool>,
    /// The random bits of the push's `apns-id`.
    pub id_bits: (u64, u64),
    pub outcome: Outcome,
    /// Why it failed or was late (`Cause::None` when it rang in time).
    pub cause: Cause,
    /// The phone rang for it.
    pub rang: bool,
    /// It rang after the caller gave up.
    pub stale_ring: bool,
    /// The app posted a missed-call notification instead (`mustReport` false).
    pub missed_call_notice: bool,
}

impl PushTruth {
    /// `apns-id`: a UUID (version 4 layout) from the push's random bits.
    pub fn apns_id(&self) -> String {
        uuid(self.id_bits.0, self.id_bits.1)
    }

    /// `apns-expiration` as the scenario's strategy sets it (epoch seconds, 0 for none).
    pub fn expiration(&self, strategy: Expiration) -> u64 {
        let seconds = |micros: i64| u64::try_from(micros / 1_000_000).unwrap_or(0);
        match strategy {
            Expiration::Zero => 0,
            Expiration::Deadline => seconds(self.deadline),
            Expiration::Max => seconds(self.sent_at + MAX_STORAGE_MICROS),
        }
    }

    /// The push record its server would export, for `device` running iOS `os` on `interface`.
    pub fn record(&self, sc: &Scenario, device: &str, os: &str, interface: &str) -> PushRecord {
        let at = |micros: i64| Timestamp::new(micros, sc.fleet.start.offset());
        let rejected = self.status == 410;
        let attrs = attrs(interface, os, "ring");
        PushRecord {
            push_id: Some(format!("{device}-{}", self.seq)),
            call_id: Some(format!("call-{device}-{}", self.call + 1)),
            device: Some(device.to_string()),
            topic: Some(format!("{}.voip", sc.app.bundle)),
            push_type: Some("voip".into()),
            priority: Some(sc.calls.priority),
            expiration: Some(self.expiration(sc.calls.expiration)),
            queued_at: None,
            sent_at: at(self.sent_at),
            apns_status: Some(self.status),
            apns_reason: rejected.then(|| "Unregistered".to_string()),
            apns_id: Some(self.apns_id()),
            apns_unique_id: None,
            apns_timestamp: rejected.then_some(sc.fleet.start),
            responded_at: Some(at(self.responded_at)),
            received_at: self.received_at.map(at),
            reported_at: self.reported_at.map(at),
            must_report: self.must_report,
            deadline: Some(at(self.deadline)),
            attrs,
        }
    }
}

/// One call: the pushes that rang it (or did not), and what the callee saw.
#[derive(Clone, Debug, PartialEq)]
pub struct CallTruth {
    pub started_at: i64,
    /// When the caller gives up: the deadline of every push of the call.
    pub deadline: i64,
    /// Call pushes sent (the first and every resend).
    pub pushes: u32,
    /// The first receipt the server got (the app was handed a push of the call).
    pub receipt_at: Option<i64>,
    /// A push of the call rang by the deadline.
    pub rang_in_time: bool,
    /// A push of the call rang after the caller gave up.
    pub stale_ring: bool,
    /// The app posted its own missed-call notification (`mustReport` false).
    pub missed_call_notice: bool,
    /// The missed-call fallback alert, when one was sent.
    pub fallback: Option<Fallback>,
}

impl CallTruth {
    /// The fallback told the callee of a call that did not ring in time, and nothing else did.
    pub fn fallback_saved(&self) -> bool {
        !self.rang_in_time
            && !self.missed_call_notice
            && self.fallback.is_some_and(|f| f.shown_at.is_some())
    }
}

/// The missed-call alert of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fallback {
    pub sent_at: i64,
    pub responded_at: i64,
    /// APNs's answer: 200, or 410 for an unregistered token.
    pub status: u16,
    /// `apns-expiration`, epoch seconds.
    pub expiration: u64,
    /// The random bits of its `apns-id`.
    pub id_bits: (u64, u64),
    /// When the phone showed it; `None`: never (expired, replaced, lost, or held at the end).
    pub shown_at: Option<i64>,
}

impl Fallback {
    /// The push record its server would export, as the gateway exports a missed-call alert:
    /// push type `alert` on the bundle id's topic, the call's id and deadline, and no receipt
    /// (iOS shows an alert without running the app, so none is posted). Its `purpose` attribute
    /// (`missed_call`, against `ring`) sets it apart in `pushtrace fleet`'s cohorts.
    pub fn record(
        &self,
        sc: &Scenario,
        device: &str,
        os: &str,
        interface: &str,
        call: &CallTruth,
        index: u32,
    ) -> PushRecord {
        let at = |micros: i64| Timestamp::new(micros, sc.fleet.start.offset());
        let rejected = self.status == 410;
        let (a, b) = self.id_bits;
        PushRecord {
            push_id: Some(format!("{device}-alert-{}", index + 1)),
            call_id: Some(format!("call-{device}-{}", index + 1)),
            device: Some(device.to_string()),
            topic: Some(sc.app.bundle.clone()),
            push_type: Some("alert".into()),
            priority: Some(sc.calls.fallback_priority),
            expiration: Some(self.expiration),
            queued_at: None,
            sent_at: at(self.sent_at),
            apns_status: Some(self.status),
            apns_reason: rejected.then(|| "Unregistered".to_string()),
            apns_id: Some(uuid(a, b)),
            apns_unique_id: None,
            apns_timestamp: rejected.then_some(sc.fleet.start),
            responded_at: Some(at(self.responded_at)),
            received_at: None,
            reported_at: None,
            must_report: None,
            deadline: Some(at(call.deadline)),
            attrs: attrs(interface, os, "missed_call"),
        }
    }
}

/// A record's cohort attributes: how the phone reaches APNs, its iOS, and what the push is for
/// (`ring` or `missed_call`, the gateway's names).
fn attrs(interface: &str, os: &str, purpose: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("interface".to_string(), interface.to_string()),
        ("os_version".to_string(), os.to_string()),
        ("purpose".to_string(), purpose.to_string()),
    ])
}

/// A UUID (version 4 layout) from 128 random bits.
fn uuid(a: u64, b: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// Why a push waited at APNs: decided when it was sent, sharpened when it resolves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// The device was off the network (or reconnecting); `abandons` reconnects had been
    /// abandoned before it started waiting.
    Offline { abandons: u32 },
    /// Connected but power-restricted, and the push does not wake.
    PowerRestricted,
    /// Written to a connection a middlebox had dropped, while the device believed it was
    /// connected: it waits for the keep-alive to find that out and the device to reconnect.
    Severed,
}

impl Waiting {
    /// The cause, given how many reconnects had been abandoned by the time it resolved.
    pub fn cause(self, abandons_now: u32) -> Cause {
        match self {
            Waiting::PowerRestricted => Cause::PowerDeferred,
            Waiting::Severed => Cause::NetworkPathSuspect,
            Waiting::Offline { abandons } if abandons_now > abandons => {
                Cause::ReconnectAbandonedPowerPolicy
            }
            Waiting::Offline { .. } => Cause::DeviceOfflineRadio,
        }
    }
}
