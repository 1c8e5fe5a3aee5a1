//! The delivery loop: claim due outbox rows, POST each on its own task, record the attempt and
//! what follows it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pushtrace_store::{Webhook, WebhookAttempt, WebhookNext};
use tokio::sync::{Semaphore, watch};

use super::deliver::{self, Answer};
use super::{EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature};
use crate::clock;
use crate::engine::Engine;

/// Deliveries in flight per instance: a slow receiver holds at most this many claims.
const MAX_IN_FLIGHT: usize = 64;

impl Engine {
    /// Delivers due webhooks, polling every `interval`, until `stop` turns true. Deliveries in
    /// flight then finish on their own tasks; one cut short by the process ending is claimed
    /// again when its lease lapses (at least once).
    pub async fn run_webhooks(self, interval: Duration, mut stop: watch::Receiver<bool>) {
        if self.0.webhooks.receivers.is_empty() {
            return;
        }
        let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        loop {
            if *stop.borrow() {
                return;
            }
            let free = slots.available_permits();
            let mut full = false;
            if free > 0 {
                match self
                    .0
                    .store
                    .claim_webhooks(clock::now(), &self.0.instance, self.webhook_lease(), free)
                    .await
                {
                    Ok(claimed) => {
                        full = claimed.len() == free;
                        for webhook in claimed {
                            let Ok(permit) = slots.clone().try_acquire_owned() else {
                                break;
                            };
                            let engine = self.clone();
                            tokio::spawn(async move {
                                engine.deliver(webhook).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "looking for due webhooks failed; polling again");
                    }
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Longer than any receiver may take, so a delivery in progress is never claimed twice.
    fn webhook_lease(&self) -> Duration {
        let longest = self
            .0
            .webhooks
            .receivers
            .values()
            .map(|r| Duration::from_millis(r.config.timeout_ms))
            .max()
            .unwrap_or_default();
        self.0.lease.max(longest + Duration::from_secs(5))
    }

    async fn deliver(&self, webhook: Webhook) {
        let number = webhook.attempts + 1;
        let started = Instant::now();
        let at = clock::now();
        let (answer, receiver_config) = match self.0.webhooks.receivers.get(&webhook.app) {
            Some(receiver) => {
                let unix = at.utc_micros().div_euclid(1_000_000);
                let headers = [
                    (
                        SIGNATURE_HEADER,
                        signature(&receiver.secret, unix, &webhook.body),
                    ),
                    (EVENT_ID_HEADER, webhook.event_id.clone()),
                    (EVENT_TYPE_HEADER, webhook.kind.clone()),
                ];
                let timeout = Duration::from_millis(receiver.config.timeout_ms);
                let answer = deliver::post(
                    &receiver.target,
                    &self.0.webhooks.tls,
                    &headers,
                    webhook.body.clone(),
                    timeout,
                )
                .await;
                (answer, Some(&receiver.config))
            }
            None => (
                Answer::NoAnswer(format!(
                    "app {:?} has no webhook configured any more",
                    webhook.app
                )),
                None,
            ),
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (status, error) = match &answer {
            Answer::Status(s) if (200..300).contains(s) => (Some(*s), None),
            Answer::Status(s) => (Some(*s), Some(format!("the receiver answered {s}"))),
            Answer::NoAnswer(why) => (None, Some(why.clone())),
        };
        let next = match (&error, receiver_config) {
            (None, _) => WebhookNext::Delivered,
            (Some(_), Some(config)) if number < config.max_attempts => {
                WebhookNext::RetryAt(clock::after(clock::now(), config.backoff(number + 1)))
            }
            _ => WebhookNext::Failed,
        };
        let outcome = match next {
            WebhookNext::Delivered => "delivered",
            WebhookNext::RetryAt(_) => "retry",
            WebhookNext::Failed => "failed",
        };
        self.0.metrics.webhook(&webhook.app, outcome);
        if let Some(error) = &error {
            let retry_at = match next {
                WebhookNext::RetryAt(due) => Some(due),
                _ => None,
            };
            // `status` and `retry_at` are left out of the line when there is none.
            let retry_at = retry_at.map(tracing::field::display);
            let call_id = webhook.call_id.as_deref();
            if next == WebhookNext::Failed {
                tracing::error!(
                    app = %webhook.app,
                    event_id = %webhook.event_id,
                    event_type = %webhook.kind,
                    call_id,
                    attempt = number,
                    status,
                    error = %error,
                    will_retry = false,
                    "webhook failed for good; the event stays listed under /v1/apps/{{app}}/webhooks/deliveries?state=failed"
                );
            } else {
                tracing::warn!(
                    app = %webhook.app,
                    event_id = %webhook.event_id,
                    event_type = %webhook.kind,
                    call_id,
                    attempt = number,
                    status,
                    error = %error,
                    will_retry = true,
                    retry_at,
                    "webhook delivery failed; retrying"
                );
            }
        }
        let attempt = WebhookAttempt {
            attempt: number,
            at,
            duration_ms,
            status,
            error,
        };
        match self
            .0
            .store
            .finish_webhook_attempt(&webhook.event_id, &self.0.instance, &attempt, next)
            .await
        {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                event_id = %webhook.event_id,
                "webhook attempt not recorded: its lease lapsed and another instance took it over"
            ),
            Err(e) => tracing::error!(
                event_id = %webhook.event_id,
                error = %e,
                "recording a webhook attempt failed; it is sent again when its lease lapses"
            ),
        }
    }
}
