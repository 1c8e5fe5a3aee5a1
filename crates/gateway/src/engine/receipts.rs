//! A device's receipt: the app says when PushKit handed it the push and when it reported the
//! call to CallKit. The receipt token proves it is about a push we sent.

use pushtrace_model::{Receipt, Timestamp, parse_push_time};
use pushtrace_store::{CallEffects, CallState, NewEvent, ReceiptInsert};
use serde::{Deserialize, Serialize};

use super::{Engine, EngineError};
use crate::clock;

/// `POST /v1/receipts` (`docs/receipts.md`).
///
/// Unlike the backend's requests, unknown fields are ignored here: receipts come from app
/// versions in the field, and a newer app adding a field must not lose its receipts to an
/// older gateway.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReceiptRequest {
    /// The payload's `push_id`.
    pub push_id: String,
    /// The payload's `call_id` (checked against the token when given).
    #[serde(default)]
    pub call_id: Option<String>,
    /// The payload's `receipt_token`, unchanged.
    pub receipt_token: String,
    /// Device clock when PushKit delivered the push: RFC 3339 with offset, or epoch ms.
    pub device_received_at: TimeField,
    /// Device clock when the call was reported to CallKit, if it was.
    #[serde(default)]
    pub reported_at: Option<TimeField>,
    /// `PKVoIPPushMetadata.mustReport` (iOS 26.4+; absent before).
    #[serde(default)]
    pub must_report: Option<bool>,
    /// `active`, `inactive` or `background` (`UIApplication.State`).
    #[serde(default)]
    pub app_state: Option<String>,
    /// `wifi`, `cellular`, `wired`, `other` or `none` (`NWPath`).
    #[serde(default)]
    pub network: Option<String>,
    /// Device clock when the receipt was sent: with the server's clock, it bounds the device
    /// clock's skew.
    #[serde(default)]
    pub device_sent_at: Option<TimeField>,
}

/// A time given as RFC 3339 text or epoch milliseconds (a fraction allowed: Swift's
/// `Date().timeIntervalSince1970 * 1000` is a `Double`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum TimeField {
    /// `2026-11-24T10:00:00.123Z`
    Text(String),
    /// `1795500000123` or `1795500000123.456`
    Millis(serde_json::Number),
}

impl TimeField {
    fn parse(&self, field: &'static str) -> Result<Timestamp, EngineError> {
        let text = match self {
            TimeField::Text(text) => text.clone(),
            TimeField::Millis(ms) => ms.to_string(),
        };
        parse_push_time(&text).map_err(|message| EngineError::Invalid { field, message })
    }
}

/// What the gateway made of a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptResult {
    /// The push.
    pub push_id: String,
    /// The call.
    pub call_id: String,
    /// Reached us after the call's deadline.
    pub late: bool,
    /// A receipt for this push was already recorded (this one was not).
    pub duplicate: bool,
    /// Server clock minus the device's `device_sent_at`, ms, when given: skew plus transit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<i64>,
}

const APP_STATES: [&str; 3] = ["active", "inactive", "background"];
const NETWORKS: [&str; 5] = ["wifi", "cellular", "wired", "other", "none"];

impl Engine {
    /// Verifies and records a receipt.
    pub async fn receipt(&self, request: ReceiptRequest) -> Result<ReceiptResult, EngineError> {
        let now = clock::now();
        let claims = self
            .0
            .receipt_key
            .verify(&request.receipt_token, clock::millis(now))
            .map_err(|e| {
                self.0.metrics.receipt("refused");
                EngineError::ReceiptRefused(e)
            })?;
        if claims.push_id != request.push_id
            || request
                .call_id
                .as_ref()
                .is_some_and(|c| *c != claims.call_id)
        {
            self.0.metrics.receipt("refused");
            return Err(EngineError::Invalid {
                field: "push_id",
                message: "push_id/call_id do not match the receipt token: send the ids and the token of the same payload".into(),
            });
        }
        let device_received_at = request.device_received_at.parse("device_received_at")?;
        let reported_at = match &request.reported_at {
            Some(t) => Some(t.parse("reported_at")?),
            None => None,
        };
        let device_sent_at = match &request.device_sent_at {
            Some(t) => Some(t.parse("device_sent_at")?),
            None => None,
        };
        check_choice("app_state", request.app_state.as_deref(), &APP_STATES)?;
        check_choice("network", request.network.as_deref(), &NETWORKS)?;

        let store = &self.0.store;
        let Some(call) = store.call(&claims.call_id).await? else {
            return Err(EngineError::UnknownCall(claims.call_id));
        };
        // The token proves we issued it, not that the store still has the push (the store
        // was reset or restored while the receipt key stayed); without this the receipt's
        // foreign key fails and the answer is a 503, which tells the app to retry.
        let Some(attempt) = store.attempt(&claims.push_id).await? else {
            return Err(EngineError::UnknownPush(claims.push_id));
        };
        let late = now > call.deadline;
        let receipt = Receipt {
            push_id: claims.push_id.clone(),
            call_id: Some(claims.call_id.clone()),
            received_at: now,
            device_received_at: Some(device_received_at),
            reported_at,
            must_report: request.must_report,
            app_state: request.app_state,
            network: request.network,
            late,
        };
        let duplicate = store.record_receipt(&receipt).await? == ReceiptInsert::Duplicate;
        let mut late = late;
        if duplicate {
            self.0.metrics.receipt("duplicate");
            // Answer with what was recorded the first time.
            if let Some(first) = store
                .receipts_for_call(&call.call_id)
                .await?
                .into_iter()
                .find(|r| r.push_id == claims.push_id)
            {
                late = first.late;
            }
            // An instance killed between recording the first receipt and moving the call left
            // the call ringing: the app's retry finishes that move (a no-op when it was made),
            // or the deadline would mark a call missed whose phone had the push.
            if !late {
                self.deliver_on_receipt(&call, &attempt, &receipt, device_received_at, now)
                    .await?;
            }
        } else {
            self.0
                .metrics
                .receipt(if late { "late" } else { "on_time" });
            if let Some(sent_at) = attempt.sent_at {
                self.0
                    .metrics
                    .stage("receipt", clock::elapsed(sent_at, now));
            }
            let moved = !late
                && self
                    .deliver_on_receipt(&call, &attempt, &receipt, device_received_at, now)
                    .await?;
            if !moved {
                self.receipt_event(&call.call_id, &receipt, now).await?;
            }
        }
        Ok(ReceiptResult {
            push_id: claims.push_id,
            call_id: claims.call_id,
            late,
            duplicate,
            clock_offset_ms: device_sent_at.map(|d| clock::millis(now) - clock::millis(d)),
        })
    }
}

impl Engine {
    /// Moves a ringing call to delivered on its first on-time receipt, with the
    /// `call.delivered` webhook in the same write, and records the receipt's event. False when
    /// the call was no longer ringing (already delivered, ended, or past its deadline): then
    /// nothing is written.
    async fn deliver_on_receipt(
        &self,
        call: &pushtrace_store::Call,
        attempt: &pushtrace_store::Attempt,
        receipt: &Receipt,
        device_received_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, EngineError> {
        let store = &self.0.store;
        let webhook = self.webhook(
            &call.app,
            "call.delivered",
            now,
            serde_json::json!({
                "push_id": receipt.push_id,
                "token": attempt.token,
                "device_received_at": device_received_at,
                "reported_at": receipt.reported_at,
                "must_report": receipt.must_report,
                "app_state": receipt.app_state,
                "network": receipt.network,
            }),
        );
        let effects = CallEffects {
            webhook,
            ..CallEffects::default()
        };
        let delivered = store
            .transition_call_with(
                &call.call_id,
                &[CallState::Ringing],
                CallState::Delivered,
                now,
                &effects,
            )
            .await?;
        if delivered.is_none() {
            return Ok(false);
        }
        self.0.metrics.call(&call.app, "delivered");
        tracing::info!(
            app = %call.app,
            call_id = %call.call_id,
            client_call_id = %call.client_call_id,
            outcome = "delivered",
            push_id = %receipt.push_id,
            "call delivered"
        );
        self.receipt_event(&call.call_id, receipt, now).await?;
        Ok(true)
    }

    async fn receipt_event(
        &self,
        call_id: &str,
        receipt: &Receipt,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        self.0
            .store
            .append_event(&NewEvent {
                at: now,
                call_id: Some(call_id.to_owned()),
                push_id: Some(receipt.push_id.clone()),
                kind: if receipt.late {
                    "receipt.late"
                } else {
                    "receipt.on_time"
                }
                .into(),
                detail: serde_json::json!({ "must_report": receipt.must_report }),
            })
            .await?;
        Ok(())
    }
}

fn check_choice(
    field: &'static str,
    value: Option<&str>,
    allowed: &[&str],
) -> Result<(), EngineError> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(EngineError::Invalid {
            field,
            message: format!("{v:?} is not one of {}", allowed.join(", ")),
        }),
        _ => Ok(()),
    }
}
