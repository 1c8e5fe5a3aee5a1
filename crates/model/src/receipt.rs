//! What the app reports when a push reaches it: the device's receipt, as the gateway stored it.
//!
//! The app posts one receipt per push (DESIGN §3 `received_at`, `reported_at`, `must_report`).
//! It carries two clocks on purpose: `received_at` is the server's clock when the receipt
//! arrived (always known, comparable with `sent_at`), while `device_received_at` and
//! `reported_at` are the phone's clock, which may be skewed but is the only witness of when
//! PushKit actually woke the app.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// One push's receipt from the app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub push_id: String,
    pub call_id: Option<String>,
    /// Server clock when the receipt reached the gateway.
    pub received_at: Timestamp,
    /// Device clock when PushKit handed the push to the app.
    pub device_received_at: Option<Timestamp>,
    /// Device clock when the app reported the call to CallKit.
    pub reported_at: Option<Timestamp>,
    /// `PKVoIPPushMetadata.mustReport` as the app saw it (iOS 26.4+).
    pub must_report: Option<bool>,
    /// "active" | "inactive" | "background" (free text, validated by the gateway).
    pub app_state: Option<String>,
    /// e.g. "wifi" | "cellular" | "none".
    pub network: Option<String>,
    /// Arrived after the call's deadline.
    pub late: bool,
}
