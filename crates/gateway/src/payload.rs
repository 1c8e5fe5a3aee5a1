//! The JSON the phone receives: the VoIP payload the app turns into a CallKit call, and the
//! missed-call alert the user sees. Documented for app developers in `docs/receipts.md`.

use serde_json::json;

/// What goes into a VoIP push (top-level keys, so any app can read them without nesting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoipPayload<'a> {
    /// This push's id (also its `apns-id`).
    pub push_id: &'a str,
    /// The call's id: the app keys its CallKit call on it, so retries ring once.
    pub call_id: &'a str,
    /// Who is calling, as the backend named them.
    pub caller: &'a str,
    /// When the gateway sent it, ms since the epoch (server clock).
    pub sent_at_ms: i64,
    /// When the call stops ringing, ms since the epoch (server clock).
    pub deadline_ms: i64,
    /// The token to send back with the receipt (`POST /v1/receipts`).
    pub receipt_token: &'a str,
}

impl VoipPayload<'_> {
    /// The payload bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        json!({
            "push_id": self.push_id,
            "call_id": self.call_id,
            "caller": self.caller,
            "sent_at": self.sent_at_ms,
            "deadline": self.deadline_ms,
            "receipt_token": self.receipt_token,
        })
        .to_string()
        .into_bytes()
    }
}

/// The missed-call alert's payload: a visible notification (the app is not woken).
pub fn missed_call_alert(
    title: &str,
    body: &str,
    caller: &str,
    call_id: &str,
    push_id: &str,
) -> Vec<u8> {
    json!({
        "aps": {
            "alert": {
                "title": title.replace("{caller}", caller),
                "body": body.replace("{caller}", caller),
            },
            "sound": "default",
            "thread-id": "missed-calls",
        },
        "call_id": call_id,
        "push_id": push_id,
        "missed_call": true,
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voip_payload_has_every_key_the_app_needs() {
        let bytes = VoipPayload {
            push_id: "p",
            call_id: "c",
            caller: "Ann \"A\"",
            sent_at_ms: 1,
            deadline_ms: 2,
            receipt_token: "t",
        }
        .to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["caller"], "Ann \"A\"");
        assert_eq!(value["deadline"], 2);
        assert_eq!(value["receipt_token"], "t");
    }

    #[test]
    fn the_alert_names_the_caller() {
        let bytes = missed_call_alert("Missed call", "{caller} called", "Ann", "c", "p");
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["aps"]["alert"]["body"], "Ann called");
        assert_eq!(value["call_id"], "c");
    }
}
