//! The call engine: from "ring Alice" to a push per device, its answer, the device's receipt,
//! retries while the call can still ring, and the missed-call alert when it could not.
//!
//! Everything the engine decides is written to the store before or as it acts, and every piece
//! of work that must happen later (a push to send, a retry, the deadline) is a job row with a
//! due time. Any instance can run any job: the instance that creates a call claims its own send
//! jobs at once (no wait for a poll), and a worker loop claims whatever is due — retries,
//! deadlines, and the jobs of an instance that died (its leases lapse). That is how deadlines
//! survive a restart and how several instances share one PostgreSQL without running a call
//! twice.
//!
//! One app's trouble cannot stall another's: each app has its own APNs client (its own
//! connections), its own bound on pushes in flight and its own ceiling on retries per second,
//! and a retry is a job for later, never a task sleeping on a slot. The instance that schedules
//! a retry claims it at its due time (a timer holding nothing); the worker loop takes it instead
//! if that instance is gone.
//!
//! A device that has the call is never pushed again for it: a re-send (a retry, or a push
//! reclaimed on the wire without an answer) reads the store for the device's receipt right
//! before it would go out, and is recorded as not sent when the receipt is in.

mod calls;
mod deadline;
mod end_of_call;
mod error;
mod push_log;
mod receipts;
mod retry_ceiling;
mod send;
mod tokens;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use pushtrace_apns::SigningKey;
use pushtrace_apns::client::{Client, Credentials, Endpoint, TokenSigner};
use pushtrace_store::Store;
use tokio::sync::Semaphore;

use crate::config::{AppConfig, GatewayConfig};
use crate::metrics::Metrics;
use crate::receipt_token::ReceiptKey;
use retry_ceiling::RetryCeiling;

pub use calls::{CallCreated, CallRequest, CallTimeline};
pub use error::EngineError;
pub use end_of_call::{AnswerRequest, EndOfCallConfig, EndOfCallMode};
pub use receipts::{ReceiptRequest, ReceiptResult};
pub use tokens::{TokenKind, TokenRequest};

/// How long after a call's deadline its receipt tokens are still accepted (late receipts are
/// evidence worth keeping).
pub const RECEIPT_GRACE: Duration = Duration::from_secs(3600);
/// A job claimed this many times without finishing is abandoned (with an event): whatever
/// fails it (a removed app, a store error on every try) will not heal by itself.
pub const MAX_CLAIMS: u32 = 5;
/// How long after the call's deadline a missed-call alert may still be retried.
pub const ALERT_RETRY_WINDOW: Duration = Duration::from_secs(600);

/// One app's sending side.
pub(crate) struct AppRuntime {
    pub(crate) config: AppConfig,
    pub(crate) client: Client,
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) retry_ceiling: RetryCeiling,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) apps: HashMap<String, AppRuntime>,
    pub(crate) receipt_key: ReceiptKey,
    pub(crate) instance: String,
    pub(crate) lease: Duration,
    pub(crate) metrics: Metrics,
    pub(crate) webhooks: crate::webhooks::Webhooks,
}

/// The engine; cheap to clone (shared state).
#[derive(Clone)]
pub struct Engine(pub(crate) Arc<Inner>);

/// An app whose credentials or endpoint cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("app {app:?}: {message}")]
pub struct AppSetupError {
    /// The app.
    pub app: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl Engine {
    /// Builds each app's APNs client (reading its `.p8` key and CA file) over `store`.
    pub fn new(
        config: &GatewayConfig,
        store: Store,
        receipt_key: ReceiptKey,
        instance: String,
    ) -> Result<Engine, AppSetupError> {
        let mut apps = HashMap::new();
        for app in &config.apps {
            let client = build_client(app)?;
            apps.insert(
                app.name.clone(),
                AppRuntime {
                    config: app.clone(),
                    client,
                    slots: Arc::new(Semaphore::new(app.max_in_flight)),
                    retry_ceiling: RetryCeiling::new(app.retry.max_retries_per_sec),
                },
            );
        }
        let webhooks = crate::webhooks::Webhooks::new(&config.apps)?;
        Ok(Engine(Arc::new(Inner {
            webhooks,
            store,
            apps,
            receipt_key,
            instance,
            lease: Duration::from_millis(config.job_lease_ms),
            metrics: Metrics::default(),
        })))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// This instance's name in job leases.
    pub fn instance(&self) -> &str {
        &self.0.instance
    }

    pub(crate) fn app(&self, name: &str) -> Result<&AppRuntime, EngineError> {
        self.0
            .apps
            .get(name)
            .ok_or_else(|| EngineError::UnknownApp(name.to_owned()))
    }
}

fn build_client(app: &AppConfig) -> Result<Client, AppSetupError> {
    let fail = |message: String| AppSetupError {
        app: app.name.clone(),
        message,
    };
    let pem = std::fs::read_to_string(&app.key_file).map_err(|e| {
        fail(format!(
            "cannot read the signing key {}: {e}; give the .p8 file Apple issued (key_file)",
            app.key_file.display()
        ))
    })?;
    let key = SigningKey::from_p8_pem(&pem)
        .map_err(|e| fail(format!("{}: {e}", app.key_file.display())))?;
    let signer = TokenSigner::new(key, &app.key_id, &app.team_id)
        .map_err(|e| fail(format!("cannot sign provider tokens: {e}")))?;
    let environment = app.environment.apns();
    let endpoint = match &app.endpoint {
        Some(url) => Endpoint::url(url, environment).map_err(|e| fail(format!("endpoint: {e}")))?,
        None => Endpoint::for_environment(environment),
    };
    let mut builder = Client::builder(endpoint, Credentials::Token(Arc::new(signer)))
        .connections(app.connections)
        .max_in_flight(app.max_in_flight);
    if let Some(ca) = &app.ca_file {
        let pem = std::fs::read_to_string(ca)
            .map_err(|e| fail(format!("cannot read ca_file {}: {e}", ca.display())))?;
        builder = builder
            .add_ca_pem(&pem)
            .map_err(|e| fail(format!("ca_file {}: {e}", ca.display())))?;
    }
    builder
        .build()
        .map_err(|e| fail(format!("cannot set up TLS: {e}")))
}

impl Engine {
    /// Records an app from the config in the store (so exports and rollups can name it).
    pub(crate) async fn app_upserted(
        &self,
        app: &AppConfig,
    ) -> Result<(), pushtrace_store::StoreError> {
        self.0
            .store
            .upsert_app(&pushtrace_store::App {
                name: app.name.clone(),
                bundle_id: app.bundle_id.clone(),
                environment: app.environment.as_str().to_owned(),
            })
            .await
    }
}
