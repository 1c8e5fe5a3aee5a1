//! The call's deadline (a `Deadline` job): a call still ringing with no receipt is missed, and
//! the missed-call alert goes to the callee's alert tokens.
//!
//! The state change comes first and is a compare-and-set, so however many instances run the
//! job (a lapsed lease, a restart), one alert goes out. The price: a crash between the state
//! change and queuing the alerts loses the alert; sending it twice was judged worse.

use pushtrace_store::{Attempt, CallState, Job, JobKind, NewEvent, NewJob};

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
            // Delivered, answered or cancelled in time: the phone rang or need not.
            store.complete_job(job.id, &self.0.instance).await?;
            return Ok(());
        };
        self.0.metrics.call(&call.app, "missed");
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
                    push_type: "alert".into(),
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
                kind: "call.missed".into(),
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
        store.complete_job(job.id, &self.0.instance).await?;
        for id in job_ids {
            self.run_claimed(id);
        }
        Ok(())
    }
}
