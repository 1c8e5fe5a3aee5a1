//! An APNs provider API you can run: HTTP/2 over TLS, provider-token checks, and the exact
//! `:status` and `reason` of every request APNs would refuse.
//!
//! # Brief overview
//!
//! [`Emulator::builder`] collects the trusted provider keys (a [`KeyRing`](pushtrace_apns::KeyRing) from
//! `pushtrace-apns`), the known devices ([`Device`]: token, topic, environment, optional
//! "unregistered at") and the knobs ([`Settings`]), and [`EmulatorBuilder::start`] binds one TLS
//! listener per environment (sandbox, production; `127.0.0.1:0` unless told otherwise), plus
//! optional cleartext h2c listeners. It answers an [`EmulatorHandle`]: the bound addresses, the
//! generated CA (PEM, and the file it was written to), the log of [`AcceptedPush`]es, and
//! run-time device registration. [`EmulatorConfig`] is the same configuration as a serde file
//! (keys read from `.p8` or public-key PEM files), turned into a builder.
//!
//! Each request goes through the checks of `validate` in a fixed order
//! (request line, provider token with the connection's state, headers, payload), then the last
//! stage looks the token up in the environment's registry (`BadDeviceToken`,
//! `DeviceTokenNotForTopic`, 410 `Unregistered` with its `timestamp`), applies the per-token
//! rate (429 `TooManyRequests`) and records the push. Every answer carries `apns-id` (echoed, or
//! a new v4 UUID) and, in sandbox only, `apns-unique-id`; errors carry
//! `content-type: application/json` and [`ErrorBody::to_json`](pushtrace_apns::ErrorBody::to_json).
//! A connection whose weighted error count reaches [`Settings::error_limit`] gets a GOAWAY (410s
//! do not count; `BadDeviceToken` counts [`Settings::bad_device_token_weight`]).
//!
//! Facts come from `docs/reference/apns.md` §1–§4 and §6.
//!
//! # Certificate connections
//!
//! The TLS listeners ask for a client certificate without requiring one. A client that presents a
//! certificate chaining to the emulator's CA or to a CA trusted with
//! [`EmulatorBuilder::client_ca_pem`] (`client_ca_file` in the config file) opens a **certificate
//! connection** (docs/reference/apns.md §2.2); any other certificate fails the TLS handshake (APNs
//! trusts only Apple's CA), and no certificate means a token connection. Certificates shaped like
//! Apple's come from [`EmulatorHandle::issue_client_certificate`], or are written to a PEM file at
//! start by [`EmulatorBuilder::write_client_certificate`] (`client_certificates` in the config
//! file).
//!
//! On a certificate connection the JWT check is replaced by the certificate's: 403
//! `BadCertificate` for a certificate without APNs topics or environment extensions, 403
//! `BadCertificateEnvironment` for one not issued for this environment; `authorization` is
//! ignored (docs/reference/apns.md §1.2). The topics come from the subject `UID` and extension
//! 1.2.840.113635.100.6.3.6: `apns-topic` outside them is 400 `TopicDisallowed` (Apple names no
//! reason; see `cert_auth` for why this one), and an omitted `apns-topic` takes the
//! certificate's only topic, or is 400 `MissingTopic` when it has several. There is no token to
//! wait for, so such a connection advertises the full [`Settings::max_concurrent_streams`] in
//! its first SETTINGS frame and its stream gate starts at that limit. Certificate validity is checked by the
//! system clock, not the emulator's [`Clock`]. h2c listeners have no TLS and so no certificate
//! connections.
//!
//! # Store and forward, and the delivery log
//!
//! An accepted push then reaches a simulated device (docs/reference/apns.md §4.1, §6 items 9–11).
//! Each device (environment + token) is [`DeviceState::Online`], [`DeviceState::Offline`] or
//! [`DeviceState::PowerRestricted`], set at start ([`EmulatorBuilder::device_state`]), at run time
//! ([`EmulatorHandle::set_device_state`]) or by a schedule applied by the clock
//! ([`EmulatorBuilder::schedule`], [`EmulatorBuilder::schedule_after`], `schedule` in the config
//! file). A push the device cannot receive now is stored, **one per topic per device** (a newer one
//! replaces it), until `min(apns-expiration, receipt + 30 days)` (30 days without the header);
//! `apns-expiration: 0` is one attempt, at once or after [`Settings::immediate_delivery_delay`],
//! and never stored. Coming online delivers the stored pushes in arrival order. Every push gets a
//! [`DeliveryRecord`] of timestamped [`Category`] events (Apple's metric names) and
//! [`EmulatorHandle::counts`] sums them; every delivery is handed to the [`DeliveryHook`], if any.
//!
//! Time is the emulator's [`Clock`]. Whatever is due (schedule entries, expirations,
//! unregistrations of stored tokens, delayed attempts) is applied in time order, each event
//! stamped with the time it was due, whenever the store is touched: on every request, on
//! [`EmulatorHandle::tick`] / [`EmulatorHandle::advance`], and every
//! [`Settings::tick_interval`] by a background task when the clock is [`Clock::System`]. With a
//! [`Clock::manual`] clock nothing runs on its own, so tests are deterministic.
//!
//! Model choices where the reference is silent: a power-restricted device receives priority 10
//! pushes at once and stores priority 5 and 1 pushes ("Stored - Power Considerations") until it
//! goes online; going from offline to power-restricted delivers only the stored priority 10
//! pushes. A replaced push is logged as [`Category::DiscardedReplaced`], which is not an Apple
//! category. An `apns-expiration: 0` push that finds the device unreachable is
//! "Discarded - Expired". Apple keeps "usually the latest" push and may reorder; the emulator
//! always keeps the latest and never reorders. "Discarded - Disabled" is never emitted (there is
//! no "notifications disabled" switch yet).
//!
//! Retention ([`Settings::delivery_log_retention`], 7 days as the Console keeps): a record
//! whose latest event is older is dropped when the store is next touched, and so is an
//! accepted push received before then; a push still stored is kept whatever its age.
//!
//! # Admin API and HTTP delivery hook
//!
//! [`EmulatorBuilder::admin`] serves a JSON admin API (axum, HTTP/1.1, its own listener, a
//! bearer [`AdminToken`]) over the same state: devices and their states, the accepted and
//! delivery logs, counts, the manual clock and the hook's counters (`docs/emulator.md` lists
//! the routes). [`EmulatorBuilder::http_hook`] POSTs a JSON [`Receipt`] per delivery to a URL
//! from a bounded queue, so a gateway can be tested end to end; it runs alongside a
//! [`DeliveryHook`] given to [`EmulatorBuilder::delivery_hook`]. Both stop with the handle. A
//! config file always turns the admin API on.
//!
//! # SETTINGS: how the mid-connection change is made
//!
//! APNs advertises `MAX_CONCURRENT_STREAMS = 1` on a token connection until the first request
//! with a valid token, then raises it (observed 1000). The `h2` crate (0.4, the HTTP/2 engine
//! under hyper) sends its SETTINGS once at the handshake and offers no way to change
//! `MAX_CONCURRENT_STREAMS` later (`server::Connection` can only re-send `INITIAL_WINDOW_SIZE`
//! and the extended-CONNECT flag, and its stream counter never applies a local change of the
//! limit), nor to send a GOAWAY with debug data or a chosen last-stream-id. So a small
//! frame-aware layer (`frame_shim`) sits between the decrypted stream and `h2`: it rewrites
//! `MAX_CONCURRENT_STREAMS` in the server's first SETTINGS frame, inserts SETTINGS frames with a
//! new limit at frame boundaries (after the first valid token; down to 1 and back in the 2016
//! mode, [`Settings::drop_limit_after_rejection`]), removes the client's ACKs of the inserted
//! frames (noting the limit each confirms), and inserts the emulator's own GOAWAY frames. A
//! client therefore sees exactly what APNs sends: 1, then the limit.
//!
//! The limit in force is enforced by the emulator's stream gate, not by `h2` (configured with
//! the highest limit ever allowed): a new stream over it waits its turn
//! ([`ExcessStreams::Serialize`], the default, lenient for clients that ignore SETTINGS), is reset
//! with `REFUSED_STREAM` ([`ExcessStreams::Refuse`]), or, as APNs did, ends the connection with a
//! GOAWAY "Maximum active streams violated for this endpoint." ([`ExcessStreams::Goaway`]; only
//! once the client has acknowledged the limit it broke, RFC 9113 §6.5.3).
//! [`Settings::advertise_pre_auth_limit`] `= false` advertises the full limit from the start
//! (the gate still admits one stream at a time until the first valid token).
//!
//! # Faults
//!
//! [`FaultRule`]s (builder, config file, or [`EmulatorHandle::set_faults`] at run time) hit
//! requests by probability, count, environment and topic with a [`Fault`]: an answer with a
//! reason's status (500 `InternalServerError`, 503 `ServiceUnavailable`/`Shutdown`), a GOAWAY with
//! `{"reason": …}` debug data and a chosen (or the last processed) stream id, after which higher
//! streams are reset unprocessed, or a bare TCP close. [`Latency`] delays every answer (fixed,
//! uniform or log-normal); [`Settings::idle_timeout`] closes quiet connections with GOAWAY
//! `IdleTimeout`. Draws are seeded ([`Settings::fault_seed`]). Injected answers do not count
//! towards the connection's error budget.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use pushtrace_apns::{DeviceToken, Environment, ProviderKey, VerifyingKey};
//! use pushtrace_emulator::Emulator;
//!
//! let public = VerifyingKey::from_public_pem(&std::fs::read_to_string("AuthKey.pub.pem")?)?;
//! let token = DeviceToken::parse("a1b2c3d4e5f60718293a4b5c6d7e8f90")?;
//! let emulator = Emulator::builder()
//!     .key("TESTKEY001", ProviderKey::new("TESTTEAM01", public))
//!     .device(Environment::Sandbox, "com.acme.call.voip", token)
//!     .ca_pem_path("/tmp/emulator-ca.pem")
//!     .start()
//!     .await?;
//! println!("sandbox at https://{}", emulator.addr(Environment::Sandbox));
//! # Ok(()) }
//! ```

mod admin;
mod builder;
mod cert_auth;
mod client_cert;
mod clock;
mod config;
mod connection;
mod delivery;
mod devices;
mod faults;
mod frame_shim;
mod handle;
mod http_hook;
mod policy;
mod server;
mod store;
mod stream_gate;
mod sync;
mod tls;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use pushtrace_apns::{Environment, MIN_REFRESH_SECS};

pub use admin::{ADMIN_TOKEN_ENV, AdminOptions, AdminToken, AdminTokenError, TokenSource};
pub use builder::{Emulator, EmulatorBuilder};
pub use client_cert::{CertEnvironments, ClientCertificate, ClientCertificateRequest, IssueError};
pub use clock::Clock;
pub use config::{
    ClientCertificateConfig, ConfigError, DeviceConfig, EmulatorConfig, EnvironmentName,
    HookBodyName, KeyConfig, ScheduleConfig, ScopeName,
};
pub use delivery::{
    Category, Delivery, DeliveryEvent, DeliveryHook, DeliveryRecord, DeviceState, MAX_STORAGE_MS,
    ScheduleEntry,
};
pub use devices::{AcceptedPush, Device};
pub use faults::{
    Fault, FaultError, FaultRule, FaultStatus, Latency, MAX_LATENCY, MAX_STREAMS_VIOLATED,
    NO_ERROR, PROTOCOL_ERROR,
};
pub use handle::EmulatorHandle;
pub use http_hook::{
    AppReceipt, CALL_ID_KEYS, DEFAULT_MUST_REPORT_MAX_AGE_MS, HookBody, HookStats, HookUrlError,
    HttpHookConfig, PUSH_ID_KEYS, RECEIPT_TOKEN_KEYS, Receipt,
};
pub use tls::SERVER_NAMES;

/// The Console's delivery-log retention, 7 days (docs/reference/apns.md §4.3): the default of
/// [`Settings::delivery_log_retention`].
pub const DELIVERY_LOG_RETENTION_SECS: u64 = 7 * 24 * 60 * 60;

/// The default of [`Settings::delivery_log_max_records`]: enough for a long test run, small
/// enough to keep the emulator's memory bounded (`docs/emulator.md` gives the measured figure).
pub const DELIVERY_LOG_MAX_RECORDS: usize = 100_000;

/// What to do with a new stream over the connection's limit in force (1 before the first valid
/// token, 1 after a rejection with [`Settings::drop_limit_after_rejection`], else
/// [`Settings::max_concurrent_streams`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExcessStreams {
    /// Hold it until a stream before it is answered (lenient: a client that ignores SETTINGS
    /// still works).
    #[default]
    Serialize,
    /// Reset it with `REFUSED_STREAM` (RFC 9113 §8.7: not processed, safe to retry), as most
    /// HTTP/2 servers do.
    Refuse,
    /// What APNs did (docs/reference/apns.md §3): a GOAWAY (`PROTOCOL_ERROR`, debug text
    /// "Maximum active streams violated for this endpoint."), once the client has acknowledged
    /// the limit it broke.
    Goaway,
}

/// At most `requests` accepted pushes to one device token per `window` (Apple gives no number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Pushes allowed in one window.
    pub requests: u32,
    /// The sliding window.
    pub window: Duration,
}

/// The emulator's knobs, with [`Default`] values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` advertised (APNs: 1000 observed). Default 1000.
    pub max_concurrent_streams: u32,
    /// Advertise `MAX_CONCURRENT_STREAMS = 1` in the first SETTINGS frame and send a second
    /// SETTINGS frame with [`Settings::max_concurrent_streams`] after the first valid token, as
    /// APNs does. Default `true`; `false` advertises the full limit from the start.
    pub advertise_pre_auth_limit: bool,
    /// New streams over the limit in force. Default [`ExcessStreams::Serialize`].
    pub excess_streams: ExcessStreams,
    /// The 2016 behaviour (docs/reference/apns.md §3): after a rejected request the connection's
    /// limit drops to 1 (a SETTINGS frame), and the next accepted push restores it. Default
    /// `false`.
    pub drop_limit_after_rejection: bool,
    /// Close a connection with no open stream for this long with a GOAWAY
    /// `{"reason":"IdleTimeout"}`. Apple gives no value (docs/reference/apns.md §8); default `None`
    /// (never).
    pub idle_timeout: Option<Duration>,
    /// Seed of the generator behind fault probabilities and latency draws. Default 0.
    pub fault_seed: u64,
    /// How long a connection answers `TooManyProviderTokenUpdates` after changing its token
    /// within 20 minutes. Default 20 minutes.
    pub token_update_lockout: Duration,
    /// Per-token limit for 429 `TooManyRequests`; `None` disables it. Default 100 per 10 s.
    pub per_token_rate: Option<RateLimit>,
    /// Weighted rejections after which the connection gets a GOAWAY; `None`: never. Default 100.
    pub error_limit: Option<u32>,
    /// How much one `BadDeviceToken` counts towards the limit ("sooner for some"). Default 10.
    pub bad_device_token_weight: u32,
    /// When the one attempt of an `apns-expiration: 0` push happens after it is received (APNs
    /// "may deliver with some delay"); the device must be reachable then. Default 0 (at once).
    pub immediate_delivery_delay: Duration,
    /// With [`Clock::System`], how often a background task applies what is due (schedule,
    /// expirations, delayed attempts). Default 100 ms. A manual clock has no such task: call
    /// [`EmulatorHandle::advance`] or [`EmulatorHandle::tick`].
    pub tick_interval: Duration,
    /// How long the delivery log and the accepted log keep a push after its latest event (the
    /// Console keeps 7 days, docs/reference/apns.md §4.3); a push still stored is kept whatever its
    /// age. `None`: forever. Default 7 days.
    pub delivery_log_retention: Option<Duration>,
    /// At most this many pushes in the delivery log and in the accepted log each; past it the
    /// oldest go first (a push still stored stays in the delivery log). `None`: no cap.
    /// Default [`DELIVERY_LOG_MAX_RECORDS`].
    pub delivery_log_max_records: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_concurrent_streams: 1000,
            advertise_pre_auth_limit: true,
            excess_streams: ExcessStreams::Serialize,
            drop_limit_after_rejection: false,
            idle_timeout: None,
            fault_seed: 0,
            token_update_lockout: Duration::from_secs(MIN_REFRESH_SECS),
            per_token_rate: Some(RateLimit {
                requests: 100,
                window: Duration::from_secs(10),
            }),
            error_limit: Some(100),
            bad_device_token_weight: 10,
            immediate_delivery_delay: Duration::ZERO,
            tick_interval: Duration::from_millis(100),
            delivery_log_retention: Some(Duration::from_secs(DELIVERY_LOG_RETENTION_SECS)),
            delivery_log_max_records: Some(DELIVERY_LOG_MAX_RECORDS),
        }
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Certificate generation failed.
    #[error("could not generate the emulator's certificates: {0}")]
    Certificate(String),
    /// The TLS configuration was refused.
    #[error("could not configure TLS: {0}")]
    Tls(String),
    /// A trusted client CA ([`EmulatorBuilder::client_ca_pem`]) is unusable.
    #[error("could not trust the client CA: {0}")]
    ClientCa(String),
    /// A client certificate asked for with [`EmulatorBuilder::write_client_certificate`] could
    /// not be issued or written.
    #[error("client certificate for {path}: {message}")]
    ClientCertificate {
        /// The file asked for.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A listener could not bind.
    #[error(
        "could not bind the {environment} {kind} listener to {addr}: {source}; pick a free port or 0"
    )]
    Bind {
        /// Which environment.
        environment: Environment,
        /// `TLS` or `h2c`.
        kind: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A fault rule or the latency distribution is unusable.
    #[error("{0}")]
    Faults(FaultError),
    /// The admin API's listener could not bind.
    #[error("could not bind the admin API listener to {addr}: {source}; pick a free port or 0")]
    AdminBind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The CA file could not be written.
    #[error(
        "could not write the CA certificate to {path}: {source}; check the directory exists and is writable"
    )]
    CaFile {
        /// The path asked for.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}
