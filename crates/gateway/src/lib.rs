//! The call gateway: ring a user's iPhones through APNs and trace every push end to end.
//!
//! # Brief overview
//!
//! A backend says "ring Alice" (`POST /v1/apps/{app}/calls`). The [`Engine`] looks up Alice's
//! VoIP tokens in the [`Store`](pushtrace_store::Store), records one push per token and a
//! deadline, and sends the pushes through the app's `pushtrace_apns` client at once. APNs's
//! answer is recorded with its timestamps; 429/5xx/no answer are retried with back-off only
//! while the call can still ring; a 410 invalidates the token unless it was registered again
//! since. The app posts a receipt when PushKit hands it the push (`POST /v1/receipts`,
//! authenticated by the HMAC [`receipt_token`] the payload carried). At the deadline a call
//! that no device received becomes *missed* and the missed-call alert goes to the callee's
//! alert tokens.
//!
//! Work that must happen later is a job row in the store: any instance can claim it, so
//! deadlines survive restarts and several instances can share one PostgreSQL
//! ([`engine`] explains the protocol). [`GatewayConfig`] reads the TOML config, [`start`]
//! serves the HTTP API ([`api`]) and runs the worker; [`Metrics`](metrics::Metrics) feeds
//! `/metrics`.
//!
//! ```
//! use pushtrace_gateway::receipt_token::ReceiptKey;
//!
//! let key = ReceiptKey::new(&[7; 32]).unwrap();
//! let token = key.issue("push-1", "call-1", 1_795_500_000_000);
//! let claims = key.verify(&token, 1_795_499_999_000).unwrap();
//! assert_eq!(claims.call_id, "call-1");
//! assert!(key.verify(&token, 1_795_500_000_001).is_err()); // expired
//! ```

pub mod api;
pub mod clock;
pub mod config;
pub mod engine;
mod http;
mod ids;
pub mod logging;
pub mod metrics;
pub mod payload;
pub mod receipt_token;
mod server;
pub mod webhooks;

pub use config::{AppConfig, ConfigError, GatewayConfig};
pub use engine::Engine;
pub use server::{GatewayHandle, StartError, build_engine, redact, start, start_with};
