//! The end-of-call push: once a call is answered or cancelled, the callee's other devices that
//! rang are told to stop (`docs/gateway.md`, "Stopping the other phones").
//!
//! The pushes are queued in the transaction that ends the call, as the missed-call alert is in
//! the one that misses it: a crash right after the answer cannot leave the other phones
//! without theirs, and a second answer, on this instance or another, queues none.

use std::collections::BTreeSet;
use std::time::Duration;

use pushtrace_apns::DeviceToken;
use pushtrace_model::Timestamp;
use pushtrace_store::{Attempt, Call, CallState, JobKind, NewJob, PushPurpose, PushType};
use serde::Deserialize;
use serde_json::json;

use super::{Engine, EngineError};
use crate::payload::{EndPayload, EndReason};
use crate::{clock, ids};

/// `[apps.end_of_call]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndOfCallConfig {
    /// Which push, if any (default `background`: see `docs/gateway.md` for why).
    pub mode: EndOfCallMode,
    /// Its `apns-expiration`, seconds after the answer or cancel (default 10, 1 to 60); no
    /// retry goes out after it either.
    pub expiration_secs: u64,
}

impl Default for EndOfCallConfig {
    fn default() -> Self {
        EndOfCallConfig {
            mode: EndOfCallMode::Background,
            expiration_secs: 10,
        }
    }
}

/// The longest `expiration_secs`: past a minute every phone has stopped ringing by itself
/// (CallKit ends an unanswered call after about 30 s), and a VoIP end push arriving then
/// would only make the app report a call for nothing.
const MAX_EXPIRATION_SECS: u64 = 60;

impl EndOfCallConfig {
    /// The field that is wrong and what to write instead.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        if !(1..=MAX_EXPIRATION_SECS).contains(&self.expiration_secs) {
            return Err((
                "expiration_secs",
                format!(
                    "{} is not between 1 and {MAX_EXPIRATION_SECS} seconds: an end-of-call push is useful only while the other phones still ring",
                    self.expiration_secs
                ),
            ));
        }
        Ok(())
    }
}

/// Which push tells the other devices that the call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndOfCallMode {
    /// None: the app learns it from its own connection to the backend (Apple's advice).
    Off,
    /// A VoIP push to each VoIP token that rang: delivered at once, but the app must report a
    /// call to CallKit for it when it does not know the call (`mustReport`).
    Voip,
    /// A background push to the callee's alert tokens: cannot get the app killed, but iOS may
    /// delay or drop it.
    Background,
}

impl EndOfCallMode {
    fn as_str(self) -> &'static str {
        match self {
            EndOfCallMode::Off => "off",
            EndOfCallMode::Voip => "voip",
            EndOfCallMode::Background => "background",
        }
    }
}

/// `POST /v1/calls/{id}/answered`'s optional body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// The tokens of the device that answered: its VoIP token, and its alert token for the
    /// `background` mode. No end-of-call push goes to them.
    pub device_tokens: Vec<String>,
}

/// Most tokens one device has: one per kind, and a spare for a token being replaced.
const MAX_DEVICE_TOKENS: usize = 4;

/// The end-of-call pushes to queue with the call's end, and what the event says of them.
pub(crate) struct EndPushes {
    pub(crate) attempts: Vec<Attempt>,
    pub(crate) jobs: Vec<NewJob>,
    pub(crate) detail: serde_json::Map<String, serde_json::Value>,
}

impl Engine {
    /// The answering device's tokens as stored, each checked to be one the callee registered.
    pub(crate) async fn answering_tokens(
        &self,
        call: &Call,
        request: &AnswerRequest,
    ) -> Result<BTreeSet<String>, EngineError> {
        let invalid = |message: String| EngineError::Invalid {
            field: "device_tokens",
            message,
        };
        if request.device_tokens.is_empty() || request.device_tokens.len() > MAX_DEVICE_TOKENS {
            return Err(invalid(format!(
                "name 1 to {MAX_DEVICE_TOKENS} tokens of the device that answered (got {}), or send no body",
                request.device_tokens.len()
            )));
        }
        let mut tokens = BTreeSet::new();
        for (i, given) in request.device_tokens.iter().enumerate() {
            let token = DeviceToken::parse(given)
                .map_err(|e| {
                    invalid(format!(
                        "[{i}]: {e}; send the token as the hex string the app registered"
                    ))
                })?
                .to_string();
            match self.0.store.token(&call.app, &token).await? {
                Some(stored) if stored.user == call.callee => {}
                _ => {
                    return Err(invalid(format!(
                        "[{i}]: {token} is not a token {:?} registered in app {:?}; name the answering device's tokens as the app registered them",
                        call.callee, call.app
                    )));
                }
            }
            tokens.insert(token);
        }
        Ok(tokens)
    }

    /// The end-of-call pushes for `call`, which is ending as `to` at `now`: none to the tokens
    /// in `spared` (the device that answered).
    pub(crate) async fn end_pushes(
        &self,
        call: &Call,
        to: CallState,
        spared: &BTreeSet<String>,
        now: Timestamp,
    ) -> Result<EndPushes, EngineError> {
        let runtime = self.app(&call.app)?;
        let config = runtime.config.end_of_call;
        let mut detail = serde_json::Map::new();
        detail.insert("end_of_call_mode".into(), json!(config.mode.as_str()));
        if !spared.is_empty() {
            detail.insert("answered_on".into(), json!(spared));
        }
        let mut end = EndPushes {
            attempts: Vec::new(),
            jobs: Vec::new(),
            detail,
        };
        let said = if config.mode == EndOfCallMode::Off {
            "not sent: the app's end_of_call mode is off".to_owned()
        } else {
            let rung = self.rung_devices(call, spared).await?;
            let expiration = clock::unix_seconds_ceil(clock::after(
                now,
                Duration::from_secs(config.expiration_secs),
            ));
            let reason = match to {
                CallState::Answered => EndReason::AnsweredElsewhere,
                _ => EndReason::Cancelled,
            };
            end.detail.insert("reason".into(), json!(reason.as_str()));
            let template = Attempt {
                call_id: Some(call.call_id.clone()),
                expiration,
                purpose: Some(PushPurpose::End),
                ..Attempt::queued(
                    String::new(),
                    call.app.clone(),
                    String::new(),
                    runtime.config.voip_topic(),
                    PushType::Voip,
                    now,
                )
            };
            if rung.is_empty() {
                "not sent: no other device rang".to_owned()
            } else if config.mode == EndOfCallMode::Voip {
                for ring in rung {
                    end.attempts.push(Attempt {
                        push_id: ids::new_uuid(),
                        token: ring.token.clone(),
                        attrs: ring.attrs.clone(),
                        ..template.clone()
                    });
                }
                format!("queued to {} device(s)", end.attempts.len())
            } else {
                // An alert token cannot be matched to the VoIP token that rang beside it on
                // the same phone: every alert token of the callee but the answering
                // device's gets it, and an app that did not ring ignores it.
                let bundle_id = &runtime.config.bundle_id;
                for token in self.0.store.active_tokens(&call.app, &call.callee).await? {
                    if &token.topic != bundle_id || spared.contains(&token.token) {
                        continue;
                    }
                    end.attempts.push(Attempt {
                        push_id: ids::new_uuid(),
                        token: token.token,
                        topic: bundle_id.clone(),
                        push_type: PushType::Background,
                        // Apple refuses a background push at any other priority.
                        priority: 5,
                        attrs: token.attrs,
                        ..template.clone()
                    });
                }
                if end.attempts.is_empty() {
                    format!(
                        "not sent: no alert token is registered for {:?} other than the answering device's (the app registers it with kind \"alert\")",
                        call.callee
                    )
                } else {
                    format!("queued to {} device(s)", end.attempts.len())
                }
            }
        };
        end.detail
            .insert("end_pushes".into(), json!(end.attempts.len()));
        end.detail.insert("end_of_call".into(), json!(said));
        end.jobs = end
            .attempts
            .iter()
            .map(|a| NewJob {
                call_id: call.call_id.clone(),
                kind: JobKind::Send {
                    push_id: a.push_id.clone(),
                },
                due_at: now,
            })
            .collect();
        Ok(end)
    }

    /// The ring of each device that may be ringing, one per token, but those in `spared`: a
    /// ring that went on the wire and was not refused (APNs accepted it, or never answered).
    /// A ring still queued is not one: the call's end stops it before it goes out.
    async fn rung_devices(
        &self,
        call: &Call,
        spared: &BTreeSet<String>,
    ) -> Result<Vec<Attempt>, EngineError> {
        let mut seen = BTreeSet::new();
        let mut rung = Vec::new();
        for attempt in self.0.store.attempts_for_call(&call.call_id).await? {
            let is_ring = attempt.purpose == Some(PushPurpose::Ring)
                || (attempt.purpose.is_none() && attempt.push_type == PushType::Voip);
            let may_ring =
                attempt.sent_at.is_some() && matches!(attempt.apns_status, None | Some(200));
            if is_ring
                && may_ring
                && !spared.contains(&attempt.token)
                && seen.insert(attempt.token.clone())
            {
                rung.push(attempt);
            }
        }
        Ok(rung)
    }
}

/// Why `attempt` is sent. A push written before the store kept it (schema 4) and not
/// recognised then is read by its type: the gateway's VoIP pushes were rings and its alerts
/// missed-call alerts.
pub(crate) fn purpose_of(attempt: &Attempt) -> PushPurpose {
    attempt.purpose.unwrap_or(match attempt.push_type {
        PushType::Alert => PushPurpose::MissedCall,
        _ => PushPurpose::Ring,
    })
}

/// The APNs push type and payload of an end-of-call push for `call`, ended by now.
pub(crate) fn end_payload(
    attempt: &Attempt,
    call: &Call,
) -> Result<(pushtrace_apns::PushType, Vec<u8>), String> {
    let payload = EndPayload {
        push_id: &attempt.push_id,
        call_id: &call.call_id,
        reason: match call.state {
            CallState::Answered => EndReason::AnsweredElsewhere,
            _ => EndReason::Cancelled,
        },
        ended_at_ms: clock::millis(call.state_at),
    };
    match attempt.push_type {
        PushType::Voip => Ok((pushtrace_apns::PushType::Voip, payload.voip_bytes())),
        PushType::Background => Ok((
            pushtrace_apns::PushType::Background,
            payload.background_bytes(),
        )),
        ref other => Err(format!(
            "an end-of-call push is voip or background, not {:?}",
            other.as_str()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_background_for_ten_seconds() {
        let config = EndOfCallConfig::default();
        assert_eq!(config.mode, EndOfCallMode::Background);
        assert_eq!(config.expiration_secs, 10);
        assert!(config.check().is_ok());
        for wrong in [0, 61] {
            let config = EndOfCallConfig {
                expiration_secs: wrong,
                ..config
            };
            let (field, message) = config.check().unwrap_err();
            assert_eq!(field, "expiration_secs");
            assert!(message.contains("between 1 and 60"), "{message}");
        }
    }
}
