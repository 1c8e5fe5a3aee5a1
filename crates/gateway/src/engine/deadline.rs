//! The end of a call that did not ring: at its deadline (a `Deadline` job) a call still ringing
//! with no receipt is missed; earlier, a call none of whose pushes can ring any more (every
//! device's last push refused, or no VoIP token at all) has failed. Either way the missed-call
//! alert goes to the callee's alert tokens.
//!
//! The state change comes first and is a compare-and-set, so however many instances get there
//! (a lapsed lease, a restart, two sends finishing together), one alert goes out. The price: a
//! crash between the state change and queuing the alerts loses the alert; sending it twice was
//! judged worse.

use std::collections::HashMap;

use pushtrace_model::Timestamp;
use pushtrace_store::{Attempt, Call, CallState, Job, JobKind, NewEvent, NewJob, PushType};

use super::{Engine, EngineError};
use crate::{clock, ids};

impl Engine {
    pub(crate) async fn deadline_job(&self, job: &Job) -> Result<(), EngineError> {
        let store = &self.0.store;
        let now = clock::now();
        let missed = store
            .transition_call(&job.call_id, &[CallState::Ringing], CallState::Missed, now)
            .await?;
        let Some(call) = missed else {
            // Delivered, answered, cancelled or failed already: nothing to do at the deadline.
            store.complete_job(job.id, &self.0.instance).await?;
            return Ok(());
        };
        self.0.metrics.call(&call.app, "missed");
        let job_ids = self
            .queue_missed_call_alerts(&call, now, "call.missed")
            .await?;
        store.complete_job(job.id, &self.0.instance).await?;
        for id in job_ids {
            self.run_claimed(id);
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
        let now = clock::now();
        let failed = store
            .transition_call(&call.call_id, &[CallState::Ringing], CallState::Failed, now)
            .await?;
        if let Some(call) = &failed {
            self.0.metrics.call(&call.app, "failed");
            for id in self
                .queue_missed_call_alerts(call, now, "call.failed")
                .await?
            {
                self.run_claimed(id);
            }
        }
        Ok(failed)
    }

    /// Records `event` and queues the missed-call alert to every alert token of the callee
    /// (when the app sends one); the ids of the send jobs to run.
    async fn queue_missed_call_alerts(
        &self,
        call: &Call,
        now: Timestamp,
        event: &str,
    ) -> Result<Vec<i64>, EngineError> {
        let store = &self.0.store;
        let runtime = self.app(&call.app)?;
        let missed_call = &runtime.config.missed_call;
        let mut alerts = Vec::new();
        if missed_call.enabled {
            let topic = runtime.config.bundle_id.clone();
            let expiration = clock::unix_seconds_ceil(clock::after(
                now,
                std::time::Duration::from_secs(missed_call.expiration_secs),
            ));
            for token in store.active_tokens(&call.app, &call.callee).await? {
                if token.topic != topic {
                    continue;
                }
                alerts.push(Attempt {
                    push_id: ids::new_uuid(),
                    call_id: Some(call.call_id.clone()),
                    app: call.app.clone(),
                    token: token.token,
                    topic: topic.clone(),
                    push_type: PushType::Alert,
                    priority: 10,
                    expiration,
                    // One missed-call notification per call, whatever retries do.
                    collapse_id: Some(call.call_id.clone()),
                    attempt: 1,
                    queued_at: now,
                    sent_at: None,
                    responded_at: None,
                    apns_status: None,
                    apns_reason: None,
                    apns_id: None,
                    apns_unique_id: None,
                    apns_timestamp: None,
                    error: None,
                    attrs: token.attrs,
                });
            }
        }
        store
            .append_event(&NewEvent {
                at: now,
                call_id: Some(call.call_id.clone()),
                push_id: None,
                kind: event.into(),
                detail: serde_json::json!({
                    "alerts": alerts.len(),
                    "alert_enabled": missed_call.enabled,
                }),
            })
            .await?;
        let mut job_ids = Vec::with_capacity(alerts.len());
        for alert in &alerts {
            store.insert_attempt(alert).await?;
            job_ids.push(
                store
                    .add_job(&NewJob {
                        call_id: call.call_id.clone(),
                        kind: JobKind::Send {
                            push_id: alert.push_id.clone(),
                        },
                        due_at: now,
                    })
                    .await?,
            );
        }
        Ok(job_ids)
    }
}
