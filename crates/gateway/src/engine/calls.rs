//! Creating a call (one push per VoIP token), cancelling it, marking it answered, and reading
//! its timeline back.

use std::collections::BTreeMap;
use std::time::Duration;

use pushtrace_model::Receipt;
use pushtrace_store::{
    Attempt, Call, CallEffects, CallState, Event, Job, JobKind, NewCall, NewEvent, NewJob,
    PushPurpose, PushType, Transitioned,
};
use serde::{Deserialize as _, Serialize};

use super::tokens::{check_attrs, check_text};
use super::{AnswerRequest, Engine, EngineError};
use crate::config::ExpirationStrategy;
use crate::{clock, ids};

/// `POST /v1/apps/{app}/calls`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    /// The backend's own id for the call: creating twice with it returns the first call.
    pub call_id: String,
    /// Who calls (shown by the app and in the missed-call alert).
    pub caller: String,
    /// Whose phones ring: the `user` their tokens were registered with.
    pub callee: String,
    /// How long it may ring, seconds (default: the app's `call_window_secs`).
    #[serde(default, deserialize_with = "whole_seconds")]
    pub window_secs: Option<u64>,
    /// Free attributes kept with the call.
    #[serde(default)]
    pub attrs: BTreeMap<String, String>,
}

/// `window_secs` as JSON Schema's `integer` reads it: `45.0` is 45 (a backend whose language
/// keeps numbers as floats, as Python's `json.dumps(45.0)` does, sends that), `45.5` is refused.
fn whole_seconds<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if let Some(secs) = number.as_u64() {
        return Ok(Some(secs));
    }
    match number.as_f64() {
        // Past 2^53 a float is whole anyway; the range check after parsing refuses it.
        Some(secs) if secs.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&secs) => {
            Ok(Some(secs as u64))
        }
        _ => Err(serde::de::Error::custom(format!(
            "{number} is not a whole number of seconds between 1 and 3600"
        ))),
    }
}

/// A created (or found again) call with its pushes.
#[derive(Debug, Clone, Serialize)]
pub struct CallCreated {
    /// The call.
    pub call: Call,
    /// Its pushes as queued (one per VoIP token).
    pub pushes: Vec<Attempt>,
    /// `false` when the call id was used before: nothing new was sent.
    pub created: bool,
    /// Said when nothing can ring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Everything recorded about a call.
#[derive(Debug, Clone, Serialize)]
pub struct CallTimeline {
    /// The call.
    pub call: Call,
    /// Every push, retries, the missed-call alert and the end-of-call pushes included (each
    /// says which by its `purpose`).
    pub pushes: Vec<Attempt>,
    /// The devices' receipts.
    pub receipts: Vec<Receipt>,
    /// The event log.
    pub events: Vec<Event>,
}

impl Engine {
    /// Creates a call and sends its pushes at once (idempotent on the backend's call id).
    pub async fn create_call(
        &self,
        app: &str,
        request: CallRequest,
    ) -> Result<CallCreated, EngineError> {
        let runtime = self.app(app)?;
        check_text("call_id", &request.call_id)?;
        check_text("caller", &request.caller)?;
        check_text("callee", &request.callee)?;
        check_attrs(&request.attrs)?;
        let window = match request.window_secs {
            None => runtime.config.call_window(),
            Some(secs @ 1..=3600) => Duration::from_secs(secs),
            Some(other) => {
                return Err(EngineError::Invalid {
                    field: "window_secs",
                    message: format!("{other} is not between 1 and 3600 seconds"),
                });
            }
        };
        let now = clock::now();
        let deadline = clock::after(now, window);
        let voip_topic = runtime.config.voip_topic();
        let tokens = self.0.store.active_tokens(app, &request.callee).await?;
        let call_id = ids::new_uuid();
        let expiration = match runtime.config.expiration {
            ExpirationStrategy::Immediately => 0,
            ExpirationStrategy::Deadline => clock::unix_seconds_ceil(deadline),
            ExpirationStrategy::After(d) => clock::unix_seconds_ceil(clock::after(now, d)),
        };
        let attempts: Vec<Attempt> = tokens
            .iter()
            .filter(|t| t.topic == voip_topic)
            .map(|t| Attempt {
                call_id: Some(call_id.clone()),
                expiration,
                attrs: t.attrs.clone(),
                purpose: Some(PushPurpose::Ring),
                ..Attempt::queued(
                    ids::new_uuid(),
                    app.to_owned(),
                    t.token.clone(),
                    voip_topic.clone(),
                    PushType::Voip,
                    now,
                )
            })
            .collect();
        let mut jobs: Vec<NewJob> = attempts
            .iter()
            .map(|a| NewJob {
                call_id: call_id.clone(),
                kind: JobKind::Send {
                    push_id: a.push_id.clone(),
                },
                due_at: now,
            })
            .collect();
        jobs.push(NewJob {
            call_id: call_id.clone(),
            kind: JobKind::Deadline,
            due_at: deadline,
        });
        let new_call = NewCall {
            call_id,
            app: app.to_owned(),
            client_call_id: request.call_id,
            caller: request.caller,
            callee: request.callee,
            created_at: now,
            deadline,
            attrs: request.attrs,
        };
        let created = self
            .0
            .store
            .create_call_claiming(&new_call, &attempts, &jobs, &self.0.instance, self.0.lease)
            .await?;
        if !created.created {
            self.0.metrics.call(app, "duplicate");
            let pushes = self
                .0
                .store
                .attempts_for_call(&created.call.call_id)
                .await?;
            return Ok(CallCreated {
                call: created.call,
                pushes,
                created: false,
                warning: None,
            });
        }
        self.0.metrics.call(app, "created");
        // The store returns the job ids in the order given: the send jobs first, one per
        // attempt, created claimed by this instance (due now); the deadline job is left to the
        // worker loop.
        for ((&job_id, attempt), job) in created.job_ids.iter().zip(&attempts).zip(&jobs) {
            let claimed = Job {
                id: job_id,
                call_id: job.call_id.clone(),
                kind: job.kind.clone(),
                due_at: job.due_at,
                claims: 1,
            };
            self.run_created_send(claimed, attempt.clone(), created.call.clone());
        }
        let mut call = created.call;
        let warning = if attempts.is_empty() {
            // Nothing can ring: the call fails now and the missed-call alert goes out now.
            if let Some(failed) = self.fail_if_nothing_can_ring(&call).await? {
                call = failed;
            }
            Some(format!(
                "no active VoIP token is registered for {:?}: nothing rings; the call failed (its call.failed event says whether the missed-call alert went out)",
                new_call.callee
            ))
        } else {
            None
        };
        Ok(CallCreated {
            call,
            pushes: attempts,
            created: true,
            warning,
        })
    }

    /// The backend cancelled the call (the caller hung up).
    pub async fn cancel_call(&self, call_id: &str) -> Result<Call, EngineError> {
        self.end_call(call_id, CallState::Cancelled, "cancelled", None)
            .await
    }

    /// The callee answered (on a device the backend does not name: every device that rang
    /// gets the end-of-call push, the answering one included).
    pub async fn answer_call(&self, call_id: &str) -> Result<Call, EngineError> {
        self.end_call(call_id, CallState::Answered, "answered", None)
            .await
    }

    /// The callee answered on the device `request` names: it gets no end-of-call push.
    pub async fn answer_call_on(
        &self,
        call_id: &str,
        request: &AnswerRequest,
    ) -> Result<Call, EngineError> {
        self.end_call(call_id, CallState::Answered, "answered", Some(request))
            .await
    }

    async fn end_call(
        &self,
        call_id: &str,
        to: CallState,
        event: &'static str,
        answered_on: Option<&AnswerRequest>,
    ) -> Result<Call, EngineError> {
        let now = clock::now();
        let store = &self.0.store;
        // Read first: what is written with the change (the webhook, the end-of-call pushes and
        // the event saying what became of them) needs the app and the callee.
        let wanted_webhook = self.0.webhooks.wants_any(to_webhook_kind(to));
        let Some(call) = store.call(call_id).await? else {
            return Err(EngineError::UnknownCall(call_id.to_owned()));
        };
        let spared = match answered_on {
            Some(request) => self.answering_tokens(&call, request).await?,
            None => Default::default(),
        };
        let mut effects = CallEffects::default();
        let mut detail = serde_json::Value::Null;
        // An ended call gets no end pushes: the compare-and-set below would write nothing.
        if matches!(call.state, CallState::Ringing | CallState::Delivered) {
            let end = self.end_pushes(&call, to, &spared, now).await?;
            detail = serde_json::Value::Object(end.detail);
            effects.attempts = end.attempts;
            effects.jobs = end.jobs;
        }
        if let Some(kind) = wanted_webhook {
            effects.webhook = self.webhook(&call.app, kind, now, serde_json::json!({}));
        }
        effects.events.push(NewEvent {
            at: now,
            call_id: Some(call_id.to_owned()),
            push_id: None,
            kind: format!("call.{event}"),
            detail,
        });
        let moved = store
            .transition_call_with(
                call_id,
                &[CallState::Ringing, CallState::Delivered],
                to,
                now,
                &effects,
            )
            .await?;
        match moved {
            Some(Transitioned { call, job_ids }) => {
                self.0.metrics.call(&call.app, event);
                tracing::info!(
                    app = %call.app,
                    call_id = %call.call_id,
                    client_call_id = %call.client_call_id,
                    outcome = event,
                    end_pushes = job_ids.len(),
                    "call ended"
                );
                for id in job_ids {
                    self.run_claimed(id);
                }
                Ok(call)
            }
            None => match store.call(call_id).await? {
                // Asking twice for the same end is not an error.
                Some(call) if call.state == to => Ok(call),
                Some(call) => Err(EngineError::Conflict {
                    call_id: call.call_id,
                    state: call.state,
                    wanted: to,
                }),
                None => Err(EngineError::UnknownCall(call_id.to_owned())),
            },
        }
    }

    /// The timeline of the call the backend created with `client_call_id`.
    pub async fn call_timeline_by_client_id(
        &self,
        app: &str,
        client_call_id: &str,
    ) -> Result<CallTimeline, EngineError> {
        self.app(app)?;
        match self.0.store.call_by_client_id(app, client_call_id).await? {
            Some(call) => self.call_timeline(&call.call_id).await,
            None => Err(EngineError::UnknownCall(client_call_id.to_owned())),
        }
    }

    /// Everything recorded about a call.
    pub async fn call_timeline(&self, call_id: &str) -> Result<CallTimeline, EngineError> {
        let store = &self.0.store;
        // Four reads, not one snapshot: read the event log first. The engine appends an event
        // after the writes it reports, so everything an event read here speaks of is in the
        // reads that follow (the other order showed a "token.invalidated" beside a push with
        // no answer yet).
        let events = store.events_for_call(call_id).await?;
        let receipts = store.receipts_for_call(call_id).await?;
        let pushes = store.attempts_for_call(call_id).await?;
        let Some(call) = store.call(call_id).await? else {
            return Err(EngineError::UnknownCall(call_id.to_owned()));
        };
        Ok(CallTimeline {
            call,
            pushes,
            receipts,
            events,
        })
    }
}

/// The webhook an end of call sends, if any (a cancel comes from the backend itself).
fn to_webhook_kind(to: CallState) -> Option<&'static str> {
    match to {
        CallState::Answered => Some("call.answered"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::CallRequest;

    fn window(json: &str) -> Result<Option<u64>, String> {
        let body = format!(r#"{{"call_id":"c","caller":"a","callee":"b"{json}}}"#);
        serde_json::from_str::<CallRequest>(&body)
            .map(|r| r.window_secs)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn window_secs_is_a_json_schema_integer() {
        assert_eq!(window(""), Ok(None));
        assert_eq!(window(r#","window_secs":null"#), Ok(None));
        assert_eq!(window(r#","window_secs":45"#), Ok(Some(45)));
        // An integer written as a float is an integer (JSON Schema, and Python's json.dumps).
        assert_eq!(window(r#","window_secs":45.0"#), Ok(Some(45)));
        assert_eq!(window(r#","window_secs":4.5e1"#), Ok(Some(45)));
        for refused in ["45.5", "-1", "-1.0", "1e400", "\"45\"", "true"] {
            let answer = window(&format!(r#","window_secs":{refused}"#));
            assert!(answer.is_err(), "{refused}: {answer:?}");
        }
    }
}
