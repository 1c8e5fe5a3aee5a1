//! The end of a call that did not ring: at its deadline (a `Deadline` job) a call still ringing
//! with no receipt is missed; earlier, a call none of whose pushes can ring any more (every
//! device's last push refused, or no VoIP token at all) has failed. Either way the missed-call
//! alert goes to the callee's alert tokens.
//!
//! The state change is a compare-and-set, so however many instances get there (a lapsed
//! lease, a restart, two sends finishing together), one alert goes out. The alerts, their send
//! jobs, the event and the webhook are written in the change's own transaction: a crash cannot
//! leave a missed call without its alert or its webhook.

use std::collections::HashMap;

use pushtrace_model::Timestamp;
use pushtrace_store::{
    Attempt, Call, CallEffects, CallState, Job, JobKind, NewEvent, NewJob, PushPurpose, PushType,
};
use serde_json::json;

use super::{Engine, EngineError};
use crate::{clock, ids};

impl Engine {
    pub(crate) async fn deadline_job(&self, job: &Job) -> Result<(), EngineError> {
        let store = &self.0.store;
        let now = clock::now();
        // Read first: the alerts and the webhook written with the change need the callee.
        let call = match store.call(&job.call_id).await? {
            Some(call) if call.state == CallState::Ringing => call,
            // Delivered, answered, cancelled or failed already: nothing to do at the deadline.
            _ => {
                store.complete_job(job.id, &self.0.instance).await?;
                return Ok(());
            }
        };
        let ended = self
            .end_unrung(&call, CallState::Missed, now, serde_json::Map::new())
            .await?;
        store.complete_job(job.id, &self.0.instance).await?;
        if let Some((_, job_ids)) = ended {
            for id in job_ids {
                self.run_claimed(id);
            }
        }
        Ok(())
    }

    /// Fails a ringing call at once when nothing can ring it any more: each device's latest
    /// VoIP push has its answer and none was accepted (no retry pending), or there was no VoIP
    /// token at all. Waiting for the deadline would only delay the missed-call alert. The call
    /// as it is now when this failed it.
    pub(crate) async fn fail_if_nothing_can_ring(
        &self,
        call: &Call,
    ) -> Result<Option<Call>, EngineError> {
        let store = &self.0.store;
        let attempts = store.attempts_for_call(&call.call_id).await?;
        let mut latest: HashMap<&str, &Attempt> = HashMap::new();
        for attempt in attempts.iter().filter(|a| a.push_type == PushType::Voip) {
            let entry = latest.entry(attempt.token.as_str()).or_insert(attempt);
            if attempt.attempt > entry.attempt {
                *entry = attempt;
            }
        }
        let can_still_ring = latest
            .values()
            .any(|a| a.responded_at.is_none() || a.apns_status == Some(200));
        if can_still_ring {
            return Ok(None);
        }
        let mut why = serde_json::Map::new();
        if latest.is_empty() {
            why.insert("reason".into(), json!("no_voip_token"));
        } else {
            why.insert("reason".into(), json!("no_device_can_ring"));
            let mut pushes: Vec<&Attempt> = latest.into_values().collect();
            pushes.sort_by(|a, b| a.token.cmp(&b.token));
            let pushes: Vec<_> = pushes
                .into_iter()
                .map(|a| {
                    json!({
                        "push_id": a.push_id,
                        "token": a.token,
                        "attempt": a.attempt,
                        "apns_status": a.apns_status,
                        "apns_reason": a.apns_reason,
                        "error": a.error,
                    })
                })
                .collect();
            why.insert("pushes".into(), json!(pushes));
        }
        let now = clock::now();
        let Some((failed, job_ids)) = self.end_unrung(call, CallState::Failed, now, why).await?
        else {
            return Ok(None);
        };
        for id in job_ids {
            self.run_claimed(id);
        }
        Ok(Some(failed))
    }

    /// Moves a ringing call to `to` (missed or failed) and, in the same transaction, its event,
    /// the missed-call alert to every alert token of the callee (when the app sends one) and
    /// the webhook. The moved call and the alerts' send jobs, or None when the call was no
    /// longer ringing (another instance, or a receipt, got there first).
    async fn end_unrung(
        &self,
        call: &Call,
        to: CallState,
        now: Timestamp,
        mut detail: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Option<(Call, Vec<i64>)>, EngineError> {
        let store = &self.0.store;
        let runtime = self.app(&call.app)?;
        let missed_call = &runtime.config.missed_call;
        let topic = runtime.config.bundle_id.clone();
        let mut alerts = Vec::new();
        if missed_call.enabled {
            let expiration = clock::unix_seconds_ceil(clock::after(
                now,
                std::time::Duration::from_secs(missed_call.expiration_secs),
            ));
            for token in store.active_tokens(&call.app, &call.callee).await? {
                if token.topic != topic {
                    continue;
                }
                alerts.push(Attempt {
                    call_id: Some(call.call_id.clone()),
                    expiration,
                    // One missed-call notification per call, whatever retries do.
                    collapse_id: Some(call.call_id.clone()),
                    attrs: token.attrs,
                    purpose: Some(PushPurpose::MissedCall),
                    ..Attempt::queued(
                        ids::new_uuid(),
                        call.app.clone(),
                        token.token,
                        topic.clone(),
                        PushType::Alert,
                        now,
                    )
                });
            }
        }
        let alert = if !missed_call.enabled {
            "not sent: the app's missed_call alert is disabled".to_owned()
        } else if alerts.is_empty() {
            format!(
                "not sent: no alert token is registered for {:?} (the app registers it with kind \"alert\")",
                call.callee
            )
        } else {
            format!("queued to {} device(s)", alerts.len())
        };
        detail.insert("alerts".into(), json!(alerts.len()));
        detail.insert("alert_enabled".into(), json!(missed_call.enabled));
        detail.insert("missed_call_alert".into(), json!(alert));
        let (kind, outcome) = match to {
            CallState::Failed => ("call.failed", "failed"),
            _ => ("call.missed", "missed"),
        };
        let webhook = self.webhook(
            &call.app,
            kind,
            now,
            serde_json::Value::Object(detail.clone()),
        );
        let jobs = alerts
            .iter()
            .map(|alert| NewJob {
                call_id: call.call_id.clone(),
                kind: JobKind::Send {
                    push_id: alert.push_id.clone(),
                },
                due_at: now,
            })
            .collect();
        let effects = CallEffects {
            events: vec![NewEvent {
                at: now,
                call_id: Some(call.call_id.clone()),
                push_id: None,
                kind: kind.into(),
                detail: serde_json::Value::Object(detail.clone()),
            }],
            attempts: alerts,
            jobs,
            webhook,
        };
        let Some(moved) = store
            .transition_call_with(&call.call_id, &[CallState::Ringing], to, now, &effects)
            .await?
        else {
            return Ok(None);
        };
        self.0.metrics.call(&call.app, outcome);
        tracing::info!(
            app = %call.app,
            call_id = %call.call_id,
            client_call_id = %call.client_call_id,
            outcome,
            reason = detail.get("reason").and_then(|r| r.as_str()).unwrap_or(""),
            missed_call_alert = %alert,
            "call ended"
        );
        Ok(Some((moved.call, moved.job_ids)))
    }
}
