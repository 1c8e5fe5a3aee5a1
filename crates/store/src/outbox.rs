//! The webhook outbox as Rust values: the events the gateway owes a backend, their delivery
//! state and every attempt.
//!
//! An event is written in the same transaction as the state change it reports
//! ([`Store::transition_call_with`](crate::Store::transition_call_with),
//! [`Store::invalidate_token_with`](crate::Store::invalidate_token_with)), so an event cannot be
//! lost between the change and its delivery. Delivery is claimed with a lease like a job, so
//! several instances share the outbox and a dead instance's deliveries are taken over.

use std::fmt;
use std::str::FromStr;

use pushtrace_model::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Attempt, Call, NewEvent, NewJob, StoreError};

/// An event to put in the outbox. The store writes its body once, as
/// `{"id", "type", "created_at", "app", "data"}`, adding to `data` the call as the state change
/// left it (`data.call`) when the event comes from a call's transition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewWebhook {
    /// Stable and unique: the receiver's idempotency key.
    pub event_id: String,
    pub app: String,
    /// `call.delivered`, `call.answered`, …
    pub kind: String,
    pub at: Timestamp,
    /// The event's own fields; must be a JSON object.
    pub data: serde_json::Value,
}

impl NewWebhook {
    /// The body sent (and signed) on every attempt.
    pub(crate) fn body(&self, call: Option<&Call>) -> Result<String, StoreError> {
        let mut data = match &self.data {
            serde_json::Value::Object(map) => map.clone(),
            serde_json::Value::Null => serde_json::Map::new(),
            other => {
                return Err(StoreError::invalid(
                    "webhook data",
                    format!("{other} is not a JSON object"),
                ));
            }
        };
        if let Some(call) = call {
            let call = serde_json::to_value(call).map_err(|e| StoreError::Query {
                op: "webhook body",
                message: format!("the call does not serialize: {e}"),
            })?;
            data.insert("call".into(), call);
        }
        let body = serde_json::json!({
            "id": self.event_id,
            "type": self.kind,
            "created_at": self.at,
            "app": self.app,
            "data": data,
        });
        Ok(body.to_string())
    }
}

/// Where a webhook delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookState {
    /// Not yet delivered; due again at `due_at`.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt the gateway allows failed.
    Failed,
}

impl WebhookState {
    pub const ALL: [WebhookState; 3] = [
        WebhookState::Pending,
        WebhookState::Delivered,
        WebhookState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookState::Pending => "pending",
            WebhookState::Delivered => "delivered",
            WebhookState::Failed => "failed",
        }
    }
}

impl fmt::Display for WebhookState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WebhookState {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<WebhookState, StoreError> {
        WebhookState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| {
                StoreError::invalid(
                    "webhook state",
                    format!("{text:?} is not one of pending, delivered, failed"),
                )
            })
    }
}

/// An outbox row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// Insertion order: the API's page cursor.
    pub seq: i64,
    pub event_id: String,
    pub app: String,
    pub kind: String,
    pub call_id: Option<String>,
    pub created_at: Timestamp,
    /// The exact JSON sent.
    pub body: String,
    pub state: WebhookState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (pending) or the last one ended.
    pub due_at: Timestamp,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub updated_at: Timestamp,
}

/// One attempt to deliver a webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAttempt {
    /// 1 for the first.
    pub attempt: u32,
    pub at: Timestamp,
    pub duration_ms: u64,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why it did not count as delivered (a non-2xx status, a timeout, a refused connection).
    pub error: Option<String>,
}

/// What an attempt led to: delivered, due again at a time, or given up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookNext {
    Delivered,
    RetryAt(Timestamp),
    Failed,
}

/// The side effects written with a call's state change, in its transaction, only when the
/// change happens.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallEffects {
    pub events: Vec<NewEvent>,
    pub attempts: Vec<Attempt>,
    pub jobs: Vec<NewJob>,
    pub webhook: Option<NewWebhook>,
}

/// A call moved by [`Store::transition_call_with`](crate::Store::transition_call_with), with
/// the ids of the jobs its effects added (in the order given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transitioned {
    pub call: Call,
    pub job_ids: Vec<i64>,
}

/// A page of the outbox for the API: one app's deliveries, newest first, optionally in one
/// state, before a `seq` (the previous page's last).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookQuery {
    pub app: String,
    pub state: Option<WebhookState>,
    pub call_id: Option<String>,
    pub before_seq: Option<i64>,
    pub limit: usize,
}

/// The state and due time an attempt's outcome leaves the row in.
pub(crate) fn next_state(next: WebhookNext, at: Timestamp) -> (WebhookState, Timestamp) {
    match next {
        WebhookNext::Delivered => (WebhookState::Delivered, at),
        WebhookNext::RetryAt(due) => (WebhookState::Pending, due),
        WebhookNext::Failed => (WebhookState::Failed, at),
    }
}

/// What an operator watches, counted at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreGauges {
    /// Calls ringing or delivered (not yet answered, cancelled, missed or failed).
    pub live_calls: u64,
    /// Jobs due now or overdue (a growing number means the instances do not keep up).
    pub due_jobs: u64,
    /// Webhook deliveries pending (the outbox's depth).
    pub webhook_backlog: u64,
}

pub(crate) const GAUGES: &str = "SELECT
     (SELECT COUNT(*) FROM calls WHERE state IN ('ringing', 'delivered')),
     (SELECT COUNT(*) FROM jobs WHERE due_at <= ?1),
     (SELECT COUNT(*) FROM webhook_outbox WHERE state = 'pending')";
pub(crate) const GAUGES_PG: &str = "SELECT
     (SELECT COUNT(*) FROM calls WHERE state IN ('ringing', 'delivered')),
     (SELECT COUNT(*) FROM jobs WHERE due_at <= $1),
     (SELECT COUNT(*) FROM webhook_outbox WHERE state = 'pending')";

/// Column list shared by both backends, in the order the row readers expect.
pub(crate) const COLUMNS: &str = "seq, event_id, app, kind, call_id, created_at, body, state, \
     attempts, due_at, last_status, last_error, updated_at";
pub(crate) const ATTEMPT_COLUMNS: &str = "attempt, at, duration_ms, status, error";
