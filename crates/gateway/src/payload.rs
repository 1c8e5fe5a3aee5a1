//! The JSON the phone receives: the VoIP payload the app turns into a CallKit call, the
//! missed-call alert the user sees, and the end-of-call push that stops the other devices
//! ringing. Documented for app developers in `docs/receipts.md` and, for the end-of-call push,
//! `docs/gateway.md` ("Stopping the other phones").

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

/// Why a call stopped ringing on a device that gets an end-of-call push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Another of the callee's devices answered it (`CXCallEndedReason.answeredElsewhere`).
    AnsweredElsewhere,
    /// The caller hung up before anyone answered (`CXCallEndedReason.remoteEnded`).
    Cancelled,
}

impl EndReason {
    /// The payload's `reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::AnsweredElsewhere => "answered_elsewhere",
            EndReason::Cancelled => "cancelled",
        }
    }
}

/// What goes into an end-of-call push (top-level keys, as in the ring's payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndPayload<'a> {
    /// This push's id (also its `apns-id`).
    pub push_id: &'a str,
    /// The call's id, as in the ring's payload: the app finds its CallKit call by it.
    pub call_id: &'a str,
    /// Why it ended.
    pub reason: EndReason,
    /// When the backend answered or cancelled it, ms since the epoch (server clock).
    pub ended_at_ms: i64,
}

impl EndPayload<'_> {
    fn fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut fields = serde_json::Map::new();
        fields.insert("type".into(), json!("end"));
        fields.insert("push_id".into(), json!(self.push_id));
        fields.insert("call_id".into(), json!(self.call_id));
        fields.insert("reason".into(), json!(self.reason.as_str()));
        fields.insert("ended_at".into(), json!(self.ended_at_ms));
        fields
    }

    /// As a VoIP push: PushKit hands the app these keys as they are.
    pub fn voip_bytes(&self) -> Vec<u8> {
        serde_json::Value::Object(self.fields())
            .to_string()
            .into_bytes()
    }

    /// As a background push: `content-available` is what makes it wake the app, with nothing
    /// shown to the user.
    pub fn background_bytes(&self) -> Vec<u8> {
        let mut fields = self.fields();
        fields.insert("aps".into(), json!({ "content-available": 1 }));
        serde_json::Value::Object(fields).to_string().into_bytes()
    }
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

    #[test]
    fn the_end_payload_says_end_the_call_and_why() {
        let end = EndPayload {
            push_id: "p",
            call_id: "c",
            reason: EndReason::AnsweredElsewhere,
            ended_at_ms: 7,
        };
        let voip: serde_json::Value = serde_json::from_slice(&end.voip_bytes()).unwrap();
        assert_eq!(
            voip,
            json!({"type": "end", "push_id": "p", "call_id": "c",
                   "reason": "answered_elsewhere", "ended_at": 7})
        );
        let background: serde_json::Value =
            serde_json::from_slice(&end.background_bytes()).unwrap();
        assert_eq!(background["aps"], json!({"content-available": 1}));
        assert_eq!(background["type"], "end");
        assert_eq!(background["call_id"], "c");
        assert!(background["aps"].get("alert").is_none());
    }
}
