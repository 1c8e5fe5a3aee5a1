//! Events to the backend: webhooks per app (`docs/webhooks.md`).
//!
//! The engine never POSTs from the code path that changes a call. It writes the event to the
//! store's outbox in the same transaction as the change (a `kill -9` right after loses
//! nothing), and [`Engine::run_webhooks`] delivers what is due: claimed with a lease (so one
//! instance of several sends it, and another takes over if that one dies), signed
//! (`Pushtrace-Signature: t=…,v1=…`, HMAC-SHA256 over `t.body`), retried with doubling waits up
//! to the app's `max_attempts`, then marked failed. Delivery is at least once: a receiver
//! deduplicates on `Pushtrace-Event-Id`.

mod config;
mod deliver;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;

use pushtrace_model::Timestamp;
use pushtrace_store::{Attempt, NewWebhook, StoreError, Webhook, WebhookAttempt, WebhookQuery};

pub use config::{EVENT_TYPES, MIN_SECRET_LEN, WebhookConfig};
pub use deliver::{EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature};

use crate::config::AppConfig;
use crate::engine::{AppSetupError, Engine, EngineError};
use crate::{clock, ids};

/// One app's receiver.
struct Receiver {
    config: WebhookConfig,
    secret: Vec<u8>,
    target: deliver::Target,
}

/// Every app's receiver, and the TLS set-up they share.
pub(crate) struct Webhooks {
    receivers: HashMap<String, Receiver>,
    tls: Arc<rustls::ClientConfig>,
}

impl Webhooks {
    /// Reads each app's secret; an unreadable or short one stops the start.
    pub(crate) fn new(apps: &[AppConfig]) -> Result<Webhooks, AppSetupError> {
        let mut receivers = HashMap::new();
        for app in apps {
            let Some(config) = &app.webhook else { continue };
            let fail = |message: String| AppSetupError {
                app: app.name.clone(),
                message: format!("webhook: {message}"),
            };
            let secret = config.read_secret().map_err(fail)?;
            let target = deliver::Target::parse(&config.url).map_err(fail)?;
            receivers.insert(
                app.name.clone(),
                Receiver {
                    config: config.clone(),
                    secret,
                    target,
                },
            );
        }
        Ok(Webhooks {
            receivers,
            tls: deliver::tls_config(),
        })
    }

    /// `kind` when some app's receiver takes it (a read needed only for a webhook is skipped
    /// otherwise).
    pub(crate) fn wants_any(&self, kind: Option<&'static str>) -> Option<&'static str> {
        let kind = kind?;
        self.receivers
            .values()
            .any(|r| r.config.sends(kind))
            .then_some(kind)
    }

    /// The outbox row for an event of `app`, or None when the app has no receiver for it.
    pub(crate) fn event(
        &self,
        app: &str,
        kind: &'static str,
        at: Timestamp,
        data: serde_json::Value,
    ) -> Option<NewWebhook> {
        let receiver = self.receivers.get(app)?;
        if !receiver.config.sends(kind) {
            return None;
        }
        Some(NewWebhook {
            event_id: format!("evt_{}", ids::new_uuid()),
            app: app.to_owned(),
            kind: kind.to_owned(),
            at,
            data,
        })
    }
}

impl Engine {
    /// [`Webhooks::event`] of this engine.
    pub(crate) fn webhook(
        &self,
        app: &str,
        kind: &'static str,
        at: Timestamp,
        data: serde_json::Value,
    ) -> Option<NewWebhook> {
        self.0.webhooks.event(app, kind, at, data)
    }

    /// One page of an app's webhook deliveries with their attempts.
    pub async fn webhook_deliveries(
        &self,
        query: WebhookQuery,
    ) -> Result<Vec<(Webhook, Vec<WebhookAttempt>)>, EngineError> {
        self.app(&query.app)?;
        Ok(self.0.store.webhooks(&query).await?)
    }

    /// Invalidates the token a push went to (the 410 rule of
    /// [`Store::invalidate_token`](pushtrace_store::Store::invalidate_token)) and, when it does,
    /// writes `token.invalidated` to the outbox in the same transaction.
    pub(crate) async fn invalidate_token_notify(
        &self,
        attempt: &Attempt,
        since: Timestamp,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let webhook = self.webhook(
            &attempt.app,
            "token.invalidated",
            clock::now(),
            serde_json::json!({
                "token": attempt.token,
                "topic": attempt.topic,
                "reason": reason,
                // APNs's timestamp for a 410 (the token has been gone since then); the time of
                // the answer for BadDeviceToken and DeviceTokenNotForTopic, which carry none.
                "invalidated_since": since,
                "push_id": attempt.push_id,
                "call_id": attempt.call_id,
            }),
        );
        self.0
            .store
            .invalidate_token_with(
                &attempt.app,
                &attempt.token,
                since,
                reason,
                webhook.as_ref(),
            )
            .await
    }
}
