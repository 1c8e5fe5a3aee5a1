//! The admin API's JSON shapes. They are separate from the library types so the wire names
//! stay stable when the library changes: snake_case keys, ids and tokens as strings, every
//! time both as RFC 3339 UTC with milliseconds (`*_at`) and ms since the epoch (`*_at_ms`),
//! categories as Apple's labels.

use serde::Serialize;

use crate::http_hook::rfc3339_ms;
use crate::{AcceptedPush, DeliveryRecord, Device, DeviceState};

#[derive(Debug, Serialize)]
pub(crate) struct DeviceJson {
    environment: String,
    topic: String,
    token: String,
    unregistered_at_ms: Option<u64>,
    /// Unregistered by the emulator's now (410 from then on).
    unregistered: bool,
    state: DeviceState,
}

impl DeviceJson {
    pub(crate) fn new(device: &Device, state: DeviceState, now_ms: u64) -> DeviceJson {
        DeviceJson {
            environment: device.environment.to_string(),
            topic: device.topic.clone(),
            token: device.token.to_string(),
            unregistered_at_ms: device.unregistered_at_ms,
            unregistered: device.unregistered_at_ms.is_some_and(|at| at <= now_ms),
            state,
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct PushJson {
    environment: String,
    apns_id: String,
    apns_unique_id: Option<String>,
    token: String,
    topic: String,
    push_type: Option<&'static str>,
    priority: u8,
    /// `apns-expiration`, UNIX seconds.
    expiration: Option<u64>,
    collapse_id: Option<String>,
    payload_len: usize,
    /// The payload as JSON when it parses, else as text (lossy UTF-8).
    payload: serde_json::Value,
    received_at: String,
    received_at_ms: u64,
}

impl From<&AcceptedPush> for PushJson {
    fn from(push: &AcceptedPush) -> PushJson {
        let payload = serde_json::from_slice(&push.payload).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&push.payload).into_owned())
        });
        PushJson {
            environment: push.environment.to_string(),
            apns_id: push.apns_id.to_string(),
            apns_unique_id: push.unique_id.map(|id| id.to_string()),
            token: push.token.to_string(),
            topic: push.topic.clone(),
            push_type: push.push_type.map(|t| t.header_value()),
            priority: push.priority.value(),
            expiration: push.expiration,
            collapse_id: push.collapse_id.clone(),
            payload_len: push.payload_len,
            payload,
            received_at: rfc3339_ms(push.received_at_ms),
            received_at_ms: push.received_at_ms,
        }
    }
}

#[derive(Debug, Serialize)]
struct EventJson {
    category: &'static str,
    at: String,
    at_ms: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct RecordJson {
    environment: String,
    apns_id: String,
    apns_unique_id: Option<String>,
    token: String,
    topic: String,
    /// Stored now (the latest event is a storage event).
    stored: bool,
    delivered_at_ms: Option<u64>,
    events: Vec<EventJson>,
}

impl From<&DeliveryRecord> for RecordJson {
    fn from(record: &DeliveryRecord) -> RecordJson {
        RecordJson {
            environment: record.environment.to_string(),
            apns_id: record.apns_id.to_string(),
            apns_unique_id: record.unique_id.map(|id| id.to_string()),
            token: record.token.to_string(),
            topic: record.topic.clone(),
            stored: record.is_stored(),
            delivered_at_ms: record.delivered_at_ms(),
            events: record
                .events
                .iter()
                .map(|event| EventJson {
                    category: event.category.label(),
                    at: rfc3339_ms(event.at_ms),
                    at_ms: event.at_ms,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct ClockJson {
    pub(crate) manual: bool,
    pub(crate) now: String,
    pub(crate) now_ms: u64,
}

impl ClockJson {
    pub(crate) fn new(manual: bool, now_ms: u64) -> ClockJson {
        ClockJson {
            manual,
            now: rfc3339_ms(now_ms),
            now_ms,
        }
    }
}
