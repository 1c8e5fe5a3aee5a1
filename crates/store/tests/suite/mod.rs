//! The semantics both backends must honour, each as an async fn taking a fresh store.

pub mod calls;
pub mod jobs;
pub mod listing;
pub mod migrations;
pub mod push_writes;
pub mod purposes;
pub mod pushes;
pub mod records;
pub mod rollups;
pub mod tokens;

use std::collections::BTreeMap;

use pushtrace_model::{Receipt, Timestamp};
use pushtrace_store::{Attempt, JobKind, NewCall, NewJob, PushPurpose, TokenRegistration};

/// 2026-05-20T10:00:00Z plus `seconds`.
pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_utc_micros(1_779_271_200_000_000 + seconds * 1_000_000)
}

pub fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn registration(user: &str, token: &str, registered: i64) -> TokenRegistration {
    TokenRegistration {
        app: "acme".into(),
        user: user.into(),
        token: token.into(),
        environment: "production".into(),
        topic: "com.acme.call.voip".into(),
        registered_at: at(registered),
        attrs: attrs(&[("os_version", "26.4"), ("model", "iPhone17,1")]),
    }
}

pub fn new_call(call_id: &str, client_call_id: &str) -> NewCall {
    NewCall {
        call_id: call_id.into(),
        app: "acme".into(),
        client_call_id: client_call_id.into(),
        caller: "bob".into(),
        callee: "alice".into(),
        created_at: at(0),
        deadline: at(60),
        attrs: attrs(&[("room", "7")]),
    }
}

pub fn attempt(push_id: &str, call_id: Option<&str>, token: &str, queued: i64) -> Attempt {
    Attempt {
        push_id: push_id.into(),
        call_id: call_id.map(str::to_string),
        app: "acme".into(),
        token: token.into(),
        topic: "com.acme.call.voip".into(),
        push_type: "voip".into(),
        priority: 10,
        expiration: 0,
        collapse_id: None,
        attempt: 1,
        queued_at: at(queued),
        sent_at: None,
        responded_at: None,
        apns_status: None,
        apns_reason: None,
        apns_id: None,
        apns_unique_id: None,
        apns_timestamp: None,
        error: None,
        attrs: attrs(&[("os_version", "26.4")]),
    }
        purpose: Some(PushPurpose::Ring),
}

pub fn send_job(call_id: &str, push_id: &str, due: i64) -> NewJob {
    NewJob {
        call_id: call_id.into(),
        kind: JobKind::Send {
            push_id: push_id.into(),
        },
        due_at: at(due),
    }
}

pub fn deadline_job(call_id: &str, due: i64) -> NewJob {
    NewJob {
        call_id: call_id.into(),
        kind: JobKind::Deadline,
        due_at: at(due),
    }
}

pub fn receipt(push_id: &str, call_id: Option<&str>, received: i64) -> Receipt {
    Receipt {
        push_id: push_id.into(),
        call_id: call_id.map(str::to_string),
        received_at: at(received),
        device_received_at: Some(at(received - 1)),
        reported_at: Some(at(received)),
        must_report: Some(true),
        app_state: Some("background".into()),
        network: Some("wifi".into()),
        late: false,
    }
}
