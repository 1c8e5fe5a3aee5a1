//! What the app reports when a push reaches it: the device's receipt, as the gateway stored it.
//!
//! The app posts one receipt per push (`PushRecord` fields `received_at`, `reported_at`,
//! `must_report`). It carries two clocks on purpose: `received_at` is the server's clock when the
//! receipt arrived (always known, comparable with `sent_at`), while `device_received_at` and
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_round_trips_through_json() {
        let receipt = Receipt {
            push_id: "p-1".into(),
            call_id: Some("c-1".into()),
            received_at: Timestamp::parse("2026-05-20T10:00:02Z").unwrap(),
            device_received_at: Some(Timestamp::parse("2026-05-20T13:00:01.5+03:00").unwrap()),
            reported_at: None,
            must_report: Some(false),
            app_state: Some("background".into()),
            network: Some("cellular".into()),
            late: true,
        };
        let json = serde_json::to_string(&receipt).unwrap();
        assert!(json.contains("\"must_report\":false"), "{json}");
        assert_eq!(serde_json::from_str::<Receipt>(&json).unwrap(), receipt);
    }
}
