//! The rows of the store as Rust values: what the gateway writes and reads back.
//!
//! Times are [`Timestamp`]s stored as UTC microseconds, so they come back in UTC whatever
//! offset they were written with. Attributes are free text key/values stored as JSON objects.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use pushtrace_model::Timestamp;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// An app the gateway sends for (from its configuration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    pub name: String,
    pub bundle_id: String,
    /// "production" | "sandbox"
    pub environment: String,
}

/// A VoIP token as the app registers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRegistration {
    pub app: String,
    pub user: String,
    pub token: String,
    pub environment: String,
    pub topic: String,
    pub registered_at: Timestamp,
    /// os_version, model, carrier, app_version, …: the cohorts of its pushes.
    pub attrs: BTreeMap<String, String>,
}

/// A stored token: its last registration and whether it was invalidated since.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub app: String,
    pub user: String,
    pub token: String,
    pub environment: String,
    pub topic: String,
    pub registered_at: Timestamp,
    pub attrs: BTreeMap<String, String>,
    pub invalidated_at: Option<Timestamp>,
    /// "unregistered", or APNs's reason (`Unregistered`, `BadDeviceToken`, …).
    pub invalidated_reason: Option<String>,
}

/// A call as the backend asks for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCall {
    pub call_id: String,
    pub app: String,
    /// The backend's id of the call: creating twice with the same one returns the first.
    pub client_call_id: String,
    pub caller: String,
    pub callee: String,
    pub created_at: Timestamp,
    /// When the call stops being able to ring.
    pub deadline: Timestamp,
    pub attrs: BTreeMap<String, String>,
}

/// Where a call stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallState {
    Ringing,
    Delivered,
    Answered,
    Cancelled,
    Missed,
    Failed,
}

impl CallState {
    pub const ALL: [CallState; 6] = [
        CallState::Ringing,
        CallState::Delivered,
        CallState::Answered,
        CallState::Cancelled,
        CallState::Missed,
        CallState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Ringing => "ringing",
            CallState::Delivered => "delivered",
            CallState::Answered => "answered",
            CallState::Cancelled => "cancelled",
            CallState::Missed => "missed",
            CallState::Failed => "failed",
        }
    }
}

impl fmt::Display for CallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CallState {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<CallState, StoreError> {
        CallState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| {
                StoreError::invalid(
                    "call state",
                    format!(
                        "{text:?} is not one of ringing, delivered, answered, cancelled, missed, failed"
                    ),
                )
            })
    }
}

/// A stored call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub call_id: String,
    pub app: String,
    pub client_call_id: String,
    pub caller: String,
    pub callee: String,
    pub created_at: Timestamp,
    pub deadline: Timestamp,
    pub attrs: BTreeMap<String, String>,
    pub state: CallState,
    /// When the call entered `state` (`created_at` while ringing).
    pub state_at: Timestamp,
}

/// What `create_call` did: the call (new or the existing one) and the ids of the jobs it added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedCall {
    pub call: Call,
    /// False when a call with the same (app, client_call_id) already existed.
    pub created: bool,
    /// The new jobs' ids, in the order given; empty when `created` is false.
    pub job_ids: Vec<i64>,
}

/// What a push is, as its `apns-push-type` header names it; stored as that text. The gateway
/// sends three types (the ring, the missed-call alert, and the background end-of-call push); a
/// push imported from elsewhere may be of any other, or not say, and is kept as written.
///
/// Not `pushtrace_apns::PushType`: that one knows only Apple's types and would make the store
/// depend on the APNs client, while an imported push may name a type this build does not know.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum PushType {
    /// `voip`: the call itself (PushKit).
    Voip,
    /// `alert`: the missed-call notification.
    Alert,
    /// `background`: a silent push that wakes the app (the end of a call, in that mode).
    Background,
    /// Any other type as stored, `""` when an imported push did not say.
    Other(String),
}

impl PushType {
    pub fn as_str(&self) -> &str {
        match self {
            PushType::Voip => "voip",
            PushType::Alert => "alert",
            PushType::Background => "background",
            PushType::Other(text) => text,
        }
    }
}

impl fmt::Display for PushType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PushType {
    type Err = std::convert::Infallible;

    /// Every text is a push type: the ones the gateway sends are recognised, others kept.
    fn from_str(text: &str) -> Result<PushType, Self::Err> {
        Ok(PushType::from(text))
    }
}

impl From<&str> for PushType {
    fn from(text: &str) -> PushType {
        match text {
            "voip" => PushType::Voip,
            "alert" => PushType::Alert,
            "background" => PushType::Background,
            other => PushType::Other(other.to_owned()),
        }
    }
}

impl From<String> for PushType {
    fn from(text: String) -> PushType {
        match text.as_str() {
            "voip" => PushType::Voip,
            "alert" => PushType::Alert,
            "background" => PushType::Background,
            _ => PushType::Other(text),
        }
    }
}

impl From<PushType> for String {
    fn from(push_type: PushType) -> String {
        match push_type {
            PushType::Other(text) => text,
            known => known.as_str().to_owned(),
        }
    }
}

/// So JSON fixtures and tests can say `push.push_type == "voip"`.
impl PartialEq<&str> for PushType {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Why the gateway sent a push; stored as this text. The push type alone cannot say it: a ring
/// and an end-of-call push are both `voip`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushPurpose {
    /// The call ringing a device.
    Ring,
    /// The alert that a call could not ring.
    MissedCall,
    /// The call was answered elsewhere or cancelled: stop ringing.
    End,
}

impl PushPurpose {
    pub const ALL: [PushPurpose; 3] =
        [PushPurpose::Ring, PushPurpose::MissedCall, PushPurpose::End];

    pub fn as_str(self) -> &'static str {
        match self {
            PushPurpose::Ring => "ring",
            PushPurpose::MissedCall => "missed_call",
            PushPurpose::End => "end",
        }
    }
}

impl fmt::Display for PushPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PushPurpose {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<PushPurpose, StoreError> {
        PushPurpose::ALL
            .into_iter()
            .find(|purpose| purpose.as_str() == text)
            .ok_or_else(|| {
                StoreError::invalid(
                    "push purpose",
                    format!("{text:?} is not one of ring, missed_call, end"),
                )
            })
    }
}

/// One push to APNs (a retry is a new push_id with `attempt` + 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub push_id: String,
    pub call_id: Option<String>,
    pub app: String,
    pub token: String,
    pub topic: String,
    pub push_type: PushType,
    pub priority: u8,
    pub expiration: u64,
    pub collapse_id: Option<String>,
    pub attempt: u32,
    pub queued_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub responded_at: Option<Timestamp>,
    pub apns_status: Option<u16>,
    pub apns_reason: Option<String>,
    pub apns_id: Option<String>,
    pub apns_unique_id: Option<String>,
    pub apns_timestamp: Option<Timestamp>,
    /// Transport failure text when APNs never answered.
    pub error: Option<String>,
    /// The token's attrs at send time (cohorts).
    pub attrs: BTreeMap<String, String>,
    /// Why it was sent; None for a push imported from elsewhere.
    pub purpose: Option<PushPurpose>,
}

impl Attempt {
    /// A push's first attempt, queued at `queued_at` and not yet on the wire: priority 10, no
    /// expiration, no call, attrs or purpose (set those with struct update syntax).
    pub fn queued(
        push_id: String,
        app: String,
        token: String,
        topic: String,
        push_type: PushType,
        queued_at: Timestamp,
    ) -> Attempt {
        Attempt {
            push_id,
            call_id: None,
            app,
            token,
            topic,
            push_type,
            priority: 10,
            expiration: 0,
            collapse_id: None,
            attempt: 1,
            queued_at,
            sent_at: None,
            responded_at: None,
            apns_status: None,
            apns_reason: None,
            apns_id: None,
            apns_unique_id: None,
            apns_timestamp: None,
            error: None,
            attrs: BTreeMap::new(),
            purpose: None,
        }
    }
}

/// APNs's answer to one push, or the transport failure instead of one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptAnswer {
    pub responded_at: Timestamp,
    pub apns_status: Option<u16>,
    pub apns_reason: Option<String>,
    pub apns_id: Option<String>,
    pub apns_unique_id: Option<String>,
    pub apns_timestamp: Option<Timestamp>,
    pub error: Option<String>,
}

/// Whether a receipt was new.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptInsert {
    Recorded,
    /// A receipt for this push_id was already stored; the first one is kept.
    Duplicate,
}

/// An entry for the append-only event log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    pub at: Timestamp,
    pub call_id: Option<String>,
    pub push_id: Option<String>,
    pub kind: String,
    pub detail: serde_json::Value,
}

/// A logged event with its sequence number (increasing in insertion order).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: i64,
    pub at: Timestamp,
    pub call_id: Option<String>,
    pub push_id: Option<String>,
    pub kind: String,
    pub detail: serde_json::Value,
}

/// What a job does when it comes due.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum JobKind {
    /// Send (or resend) this push.
    Send { push_id: String },
    /// The call's window closed: decide missed or not.
    Deadline,
}

impl JobKind {
    pub(crate) fn parts(&self) -> (&'static str, Option<&str>) {
        match self {
            JobKind::Send { push_id } => ("send", Some(push_id)),
            JobKind::Deadline => ("deadline", None),
        }
    }

    pub(crate) fn from_parts(kind: &str, push_id: Option<String>) -> Result<JobKind, StoreError> {
        match (kind, push_id) {
            ("send", Some(push_id)) => Ok(JobKind::Send { push_id }),
            ("deadline", _) => Ok(JobKind::Deadline),
            (other, _) => Err(StoreError::invalid(
                "job row",
                format!("kind {other:?} (with its push_id) is unknown to this build"),
            )),
        }
    }
}

/// Due work to add.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewJob {
    pub call_id: String,
    pub kind: JobKind,
    pub due_at: Timestamp,
}

/// A claimed job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: i64,
    pub call_id: String,
    pub kind: JobKind,
    pub due_at: Timestamp,
    /// How many times it was claimed (1 on the first claim): more means a lease expired.
    pub claims: u32,
}

/// Attributes as stored (a JSON object of strings).
pub(crate) fn attrs_to_json(attrs: &BTreeMap<String, String>) -> String {
    // A map of strings always serializes.
    serde_json::to_string(attrs).unwrap_or_else(|_| "{}".to_string())
}

pub(crate) fn attrs_from_json(text: &str) -> Result<BTreeMap<String, String>, StoreError> {
    serde_json::from_str(text).map_err(|e| {
        StoreError::invalid(
            "stored attrs",
            format!("{text:?} is not a JSON object of strings: {e}"),
        )
    })
}

/// When a lease taken at `now` ends (saturating: a huge lease is "forever", not an overflow).
pub(crate) fn lease_end(now: Timestamp, lease: std::time::Duration) -> i64 {
    let lease = i64::try_from(lease.as_micros()).unwrap_or(i64::MAX);
    micros(now).saturating_add(lease)
}

pub(crate) fn micros(at: Timestamp) -> i64 {
    at.utc_micros()
}

pub(crate) fn time(micros: i64) -> Timestamp {
    Timestamp::from_utc_micros(micros)
}

/// Column lists shared by both backends (the schemas use the same names), in the order the
/// row readers expect.
pub(crate) mod columns {
    pub const APP: &str = "name, bundle_id, environment";
    pub const TOKEN: &str = "app, token, user_id, environment, topic, registered_at, attrs, \
                             invalidated_at, invalidated_reason";
    pub const CALL: &str = "call_id, app, client_call_id, caller, callee, created_at, deadline, \
                            attrs, state, state_at";
    /// Prefixed `a.` so it can be joined with receipts.
    pub const ATTEMPT: &str = "a.push_id, a.call_id, a.app, a.token, a.topic, a.push_type, \
                               a.priority, a.expiration, a.collapse_id, a.attempt, a.queued_at, \
                               a.sent_at, a.responded_at, a.apns_status, a.apns_reason, a.apns_id, \
                               a.apns_unique_id, a.apns_timestamp, a.error, a.attrs, \
                               a.purpose";
    pub const ATTEMPT_COUNT: usize = 21;
    /// Prefixed `r.`; every column is NULL when a LEFT JOIN found no receipt.
    pub const RECEIPT: &str = "r.push_id, r.call_id, r.received_at, r.device_received_at, \
                               r.reported_at, r.must_report, r.app_state, r.network, r.late";
    pub const JOB: &str = "id, call_id, kind, push_id, due_at, claims";
    pub const EVENT: &str = "seq, at, call_id, push_id, kind, detail";
    pub const ROLLUP: &str = "day, app, cohort_key, cohort_value, pushes, accepted, rejected, \
                              failed, received, received_late, latency_ms_sum";
    /// For export: attempt, call deadline (else the imported one), receipt.
    pub const EXPORT: &str = "a.push_id, a.call_id, a.token, a.topic, a.push_type, a.priority, \
                              a.expiration, a.queued_at, a.sent_at, a.responded_at, \
                              a.apns_status, a.apns_reason, a.apns_id, a.apns_unique_id, \
                              a.apns_timestamp, a.attrs, COALESCE(c.deadline, a.deadline), \
                              r.received_at, r.device_received_at, r.reported_at, r.must_report";
}

/// A stored number that does not fit its Rust type (a corrupt or hand-edited row).
pub(crate) fn out_of_range(column: &str, value: i64) -> StoreError {
    StoreError::invalid(
        "stored row",
        format!("column {column} holds {value}, out of range for its type"),
    )
}

pub(crate) fn to_i64(column: &str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| {
        StoreError::invalid(
            column.to_string(),
            format!("{value} is larger than the store can hold (2^63 - 1)"),
        )
    })
}

pub(crate) fn from_i64<T: TryFrom<i64>>(column: &str, value: i64) -> Result<T, StoreError> {
    T::try_from(value).map_err(|_| out_of_range(column, value))
}
