//! The durable state of the pushtrace call gateway, on SQLite or PostgreSQL.
//!
//! # Brief overview
//!
//! A [`Store`] is opened with a [`StoreBuilder`] (or [`Store::open`] and a URL) and runs the
//! schema [migrations](crate#migrations) it lacks. It holds the [`App`]s the gateway sends
//! for; their users' VoIP [`Token`]s (registered with a [`TokenRegistration`], invalidated by
//! the app or by APNs's 410 under the re-registration rule of [`Store::invalidate_token`]);
//! the [`Call`]s (created idempotently from a [`NewCall`] with their first [`Attempt`]s and
//! [`Job`]s in one transaction, moved between [`CallState`]s by compare-and-set); one
//! [`Attempt`] per push sent with APNs's [`AttemptAnswer`]; the app's [`Receipt`]s (at most one
//! per push); an append-only log of [`Event`]s; the due work ([`Job`]s, [`JobKind`]) that
//! several gateway instances share through leases; and daily [`Rollup`]s per cohort. Pushes go
//! out and come in as [`PushRecord`]s (docs/formats.md, "Push records") ([`Store::export_push_records`],
//! [`Store::import_push_records`]).
//!
//! Both [`Backend`]s pass one test suite. SQLite (bundled, WAL) is the zero-setup default for
//! one instance; PostgreSQL (a small pool, `SKIP LOCKED` claims) lets several instances share
//! the work. Failures are [`StoreError`]s that say what failed, where, and what to try. The
//! store holds no business rules: when to retry or what a late receipt means is the
//! gateway's; the store only makes each step atomic. `docs/store.md` describes the schema.
//!
//! ```
//! use std::collections::BTreeMap;
//! use pushtrace_model::Timestamp;
//! use pushtrace_store::{CallState, NewCall, StoreBuilder};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = StoreBuilder::sqlite_memory().open().await?;
//! let at = Timestamp::parse("2026-05-20T17:47:00Z").unwrap();
//! let call = NewCall {
//!     call_id: "c-1".into(),
//!     app: "acme".into(),
//!     client_call_id: "backend-42".into(),
//!     caller: "bob".into(),
//!     callee: "alice".into(),
//!     created_at: at,
//!     deadline: Timestamp::from_utc_micros(at.utc_micros() + 60_000_000),
//!     attrs: BTreeMap::new(),
//! };
//! assert!(store.create_call(&call, &[], &[]).await?.created);
//! // The same client call id again: the first call, nothing new.
//! assert!(!store.create_call(&call, &[], &[]).await?.created);
//! let answered = store
//!     .transition_call("c-1", &[CallState::Ringing], CallState::Answered, at)
//!     .await?;
//! assert_eq!(answered.unwrap().state, CallState::Answered);
//! # Ok::<(), pushtrace_store::StoreError>(())
//! # }).unwrap();
//! ```
//!
//! # Migrations
//!
//! The schema is versioned SQL embedded in the binary (`migrations/{sqlite,postgres}/`),
//! applied in order at open and recorded in `schema_migrations`. Reopening applies nothing;
//! a database newer than this build is refused rather than written to.

mod builder;
mod error;
mod listing;
mod migrations;
mod outbox;
mod postgres;
mod push_records;
mod records;
mod rollup;
mod sqlite;
mod store;

pub use builder::{DEFAULT_POOL_SIZE, StoreBuilder};
pub use error::StoreError;
pub use listing::{CallQuery, Page, PageKey, TokenQuery};
pub use outbox::{
    CallEffects, NewWebhook, StoreGauges, Transitioned, Webhook, WebhookAttempt, WebhookNext,
    WebhookQuery, WebhookState,
};
pub use pushtrace_model::{PushRecord, Receipt};
pub use records::{
    App, Attempt, AttemptAnswer, Call, CallState, CreatedCall, Event, Job, JobKind, NewCall,
    NewEvent, NewJob, PushPurpose, PushType, ReceiptInsert, Token, TokenRegistration,
};
pub use rollup::Rollup;
pub use store::{Backend, Store};
