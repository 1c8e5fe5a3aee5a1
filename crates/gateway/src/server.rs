//! Starting a gateway: open the store, build the engine, serve the API, run the worker.

use std::net::SocketAddr;

use pushtrace_store::{Store, StoreBuilder};
use tokio::sync::watch;

use crate::api::{self, ApiKeys, ApiTokenError, KeysError};
use crate::config::{API_TOKEN_ENV, GatewayConfig, RECEIPT_KEY_ENV};
use crate::engine::{AppSetupError, Engine};
use crate::receipt_token::{ReceiptKey, ShortKey};

/// Why a gateway did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened.
    #[error("store {target}: {source}")]
    Store {
        /// The configured store (without a password).
        target: String,
        /// Why.
        source: pushtrace_store::StoreError,
    },
    /// An app's credentials or endpoint.
    #[error(transparent)]
    App(#[from] AppSetupError),
    /// The API token.
    #[error(transparent)]
    ApiToken(#[from] ApiTokenError),
    /// No API token configured.
    #[error(
        "no API token: set api_token_file (an admin token) or an app's api_token_files in the config, or {API_TOKEN_ENV} in the environment"
    )]
    NoApiToken,
    /// SIGHUP could not be listened for (to reload the API tokens).
    #[error("cannot listen for SIGHUP (which reloads the API tokens): {0}")]
    Hangup(String),
    /// The receipt key.
    #[error("receipt key from {source_name}: {error}")]
    ReceiptKey {
        /// The file or variable.
        source_name: String,
        /// Why.
        error: ShortKey,
    },
    /// The receipt key file.
    #[error("cannot read receipt_key_file {path}: {message}")]
    ReceiptKeyFile {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The listener.
    #[error(
        "cannot listen on {addr}: {message}; is another gateway running there? Set `listen` in the config"
    )]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        message: String,
    },
}

/// A running gateway.
pub struct GatewayHandle {
    /// The API's address.
    pub addr: SocketAddr,
    /// The engine (for in-process use and tests).
    pub engine: Engine,
    /// Whether the receipt key was generated (receipts then only verify in this process).
    pub ephemeral_receipt_key: bool,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    worker: tokio::task::JoinHandle<()>,
    webhooks: tokio::task::JoinHandle<()>,
    keys_watch: Option<tokio::task::JoinHandle<()>>,
}

impl GatewayHandle {
    /// Stops serving and polling; in-flight jobs are left to their leases.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        let _ = self.worker.await;
        let _ = self.webhooks.await;
        if let Some(keys_watch) = self.keys_watch {
            let _ = keys_watch.await;
        }
    }
}

/// The store URL with any password hidden, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn api_keys(config: &GatewayConfig) -> Result<ApiKeys, StartError> {
    ApiKeys::from_config(config).map_err(|e| match e {
        KeysError::Token(e) => StartError::ApiToken(e),
        KeysError::None => StartError::NoApiToken,
    })
}

fn receipt_key(config: &GatewayConfig) -> Result<(ReceiptKey, bool), StartError> {
    let (secret, source_name) = if let Some(path) = &config.receipt_key_file {
        let bytes = std::fs::read(path).map_err(|e| StartError::ReceiptKeyFile {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        (bytes.trim_ascii().to_vec(), path.display().to_string())
    } else if let Ok(text) = std::env::var(RECEIPT_KEY_ENV) {
        (text.trim().as_bytes().to_vec(), RECEIPT_KEY_ENV.to_owned())
    } else {
        return Ok((ReceiptKey::generate(), true));
    };
    let key =
        ReceiptKey::new(&secret).map_err(|error| StartError::ReceiptKey { source_name, error })?;
    Ok((key, false))
}

fn default_instance() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "gateway".into());
    format!("{host}-{}", std::process::id())
}

/// Opens the store, builds the engine and starts serving on the current tokio runtime.
pub async fn start(config: &GatewayConfig) -> Result<GatewayHandle, StartError> {
    let token = api_keys(config)?;
    let (receipt_key, ephemeral) = receipt_key(config)?;
    let opened = match (&config.store_schema, config.store_pool_size) {
        (None, None) => Store::open(&config.store).await,
        // Both are PostgreSQL options (the config's check says so for a SQLite store).
        (schema, pool_size) => {
            let mut builder = StoreBuilder::postgres(&config.store)
                .pool_size(pool_size.unwrap_or(crate::config::DEFAULT_STORE_POOL_SIZE));
            if let Some(schema) = schema {
                builder = builder.schema(schema);
            }
            builder.open().await
        }
    };
    let store = opened.map_err(|source| StartError::Store {
        target: redact(&config.store),
        source,
    })?;
    start_with(config, store, token, receipt_key, ephemeral).await
}

/// The engine [`start_with`] serves: `config`'s apps over `store`, each recorded in it. For a
/// program that serves [`api::router`] itself (mounted in its own axum app, or called in
/// process) and runs [`Engine::run_worker`] as it sees fit.
pub async fn build_engine(
    config: &GatewayConfig,
    store: Store,
    receipt_key: ReceiptKey,
) -> Result<Engine, StartError> {
    let instance = config.instance.clone().unwrap_or_else(default_instance);
    let engine = Engine::new(config, store, receipt_key, instance)?;
    for app in &config.apps {
        engine
            .app_upserted(app)
            .await
            .map_err(|source| StartError::Store {
                target: redact(&config.store),
                source,
            })?;
    }
    Ok(engine)
}

/// [`start`] with the store and secrets given (several gateways in one process share a
/// PostgreSQL schema this way). `token` is what guards the API: one admin
/// [`ApiToken`](api::ApiToken), or [`ApiKeys::from_config`], whose files are then read again
/// on SIGHUP and when they change.
pub async fn start_with(
    config: &GatewayConfig,
    store: Store,
    token: impl Into<ApiKeys>,
    receipt_key: ReceiptKey,
    ephemeral_receipt_key: bool,
) -> Result<GatewayHandle, StartError> {
    let engine = build_engine(config, store, receipt_key).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| StartError::Listen {
            addr: config.listen,
            message: e.to_string(),
        })?;
    let addr = listener.local_addr().map_err(|e| StartError::Listen {
        addr: config.listen,
        message: e.to_string(),
    })?;
    let (stop, stopped) = watch::channel(false);
    let keys: ApiKeys = token.into();
    let keys_watch = if keys.has_files() {
        let watching = keys
            .clone()
            .watch(stopped.clone())
            .map_err(|e| StartError::Hangup(e.to_string()))?;
        Some(tokio::spawn(watching))
    } else {
        None
    };
    let app = api::router(engine.clone(), keys);
    let server = tokio::spawn(crate::http::serve(
        listener,
        app,
        config.http_limits(),
        stopped.clone(),
    ));
    let interval = std::time::Duration::from_millis(config.poll_interval_ms);
    let webhooks = tokio::spawn(engine.clone().run_webhooks(interval, stopped.clone()));
    let worker = tokio::spawn(engine.clone().run_worker(interval, stopped));
    Ok(GatewayHandle {
        addr,
        engine,
        ephemeral_receipt_key,
        stop,
        server,
        worker,
        webhooks,
        keys_watch,
    })
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test"
        );
        assert_eq!(redact("pushtrace.db"), "pushtrace.db");
    }
}
