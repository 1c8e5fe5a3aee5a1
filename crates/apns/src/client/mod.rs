//! The HTTP/2 client: send [`Notification`]s to APNs (or the emulator) and get a
//! [`SendResult`] per push.
//!
//! # Brief overview
//!
//! [`Client::builder`] takes an [`Endpoint`] and [`Credentials`] (a shared [`TokenSigner`] or a
//! [`ClientCertificate`]) and gives a [`Client`]: a pool of HTTP/2 connections over TLS (ALPN
//! `h2`; the APNs root, USERTrust RSA, plus any CA you add). [`Client::send`] waits for an in-flight
//! slot (back-pressure: at most [`ClientBuilder::max_in_flight`] sends hold memory at once), takes
//! the least busy connection whose server-advertised `MAX_CONCURRENT_STREAMS` allows one more
//! stream, sends, and answers Pushy's tri-state [`Outcome`]: accepted, rejected (status,
//! reason, 410 timestamp) or failed (no answer), with [`Timings`] for queueing, connecting and
//! the round trip.
//!
//! What it does for you (docs/reference/apns.md §3 and §7, and the peers' bug trackers):
//! - resends a push the server did not process: reset with `REFUSED_STREAM`, or above a GOAWAY's
//!   last-stream-id (the GOAWAY's JSON reason is kept, [`Client::last_goaway`]); the connection
//!   that sent the GOAWAY gets no new streams;
//! - on `ExpiredProviderToken`, signs a new token once and resends;
//! - follows the stream limit as it changes (1 before the first valid token, then e.g. 1000;
//!   down to 1 and back);
//! - PINGs a connection that has been quiet for [`ClientBuilder::ping_interval`] and drops it
//!   when the PING goes unanswered, so a half-dead connection is found before a ring needs it;
//!   connections are never closed for being idle, and with keep-warm (the default) one that ends
//!   is reopened in the background;
//! - never resends after a timeout or a lost connection on its own: APNs may already have the
//!   push ([`SendError::may_have_been_processed`]); the caller decides.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use pushtrace_apns::client::{Client, Credentials, Endpoint, TokenSigner};
//! use pushtrace_apns::{Expiration, Notification, PushType, SigningKey};
//!
//! let key = SigningKey::from_p8_pem(&std::fs::read_to_string("AuthKey_ABC123DEFG.p8")?)?;
//! let signer = TokenSigner::new(key, "ABC123DEFG", "DEF123GHIJ")?;
//! let client = Client::builder(Endpoint::sandbox(), Credentials::Token(Arc::new(signer)))
//!     .connections(2)
//!     .build()?;
//! let push = Notification::builder(PushType::Voip)
//!     .device_token("a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90")
//!     .bundle_id("com.acme.call")
//!     .expiration(Expiration::Immediately)
//!     .payload(br#"{"call_id":"c-1"}"#.to_vec())
//!     .build(1_780_000_000)?;
//! let result = client.send(&push).await;
//! println!("{} after {:?}", result.outcome, result.timings.total);
//! # Ok(()) }
//! ```

mod connection;
mod credentials;
mod endpoint;
mod goaway_tap;
mod metrics;
mod outcome;
mod pool;
mod send;
mod tls;

use std::sync::Arc;
use std::time::Duration;

pub use credentials::{
    CertificateError, ClientCertificate, Credentials, DEFAULT_REFRESH_AFTER, MAX_REFRESH_AFTER,
    TokenSigner, UnixClock, system_clock,
};
pub use endpoint::{ALTERNATIVE_PORT, Endpoint, EndpointError, PRODUCTION_HOST, SANDBOX_HOST};
pub use goaway_tap::Goaway;
pub use metrics::{BUCKETS_US, ClientStats, Histogram, SendObserver, StatsSnapshot};
pub use outcome::{Outcome, SendError, SendResult, Timings};
pub use tls::{APNS_ROOT_NAMES, TrustError, add_pem, apns_roots};

use connection::ConnectSettings;

/// Locks a mutex, going on with the data if another thread panicked while holding it (every
/// guarded value here stays consistent between statements).
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
use pool::Pool;

use crate::Notification;

/// Configures a [`Client`].
pub struct ClientBuilder {
    endpoint: Endpoint,
    credentials: Credentials,
    roots: rustls::RootCertStore,
    connections: usize,
    max_in_flight: usize,
    request_timeout: Duration,
    connect: ConnectSettings,
    keep_warm: bool,
    max_attempts: u32,
    observer: Option<Arc<dyn SendObserver>>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("endpoint", &self.endpoint)
            .field("connections", &self.connections)
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Connections in the pool (default 1; Apple: several improve throughput).
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = n.max(1);
        self
    }

    /// Sends in flight at once across the pool; more wait (default 1000 per connection).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// How long one attempt may wait for a stream and its answer (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long TCP, TLS and the HTTP/2 handshake may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect.connect_timeout = timeout;
        self
    }

    /// PING a connection quiet for this long (default 60 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.connect.ping_interval = interval;
        self
    }

    /// Drop a connection whose PING is unanswered this long (default 5 s).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.connect.ping_timeout = timeout;
        self
    }

    /// Reopen connections that end, in the background (default `true`).
    pub fn keep_warm(mut self, enabled: bool) -> Self {
        self.keep_warm = enabled;
        self
    }

    /// Attempts per push when the server did not process it or the token expired (default 3).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Also trusts the CAs of a PEM (e.g. the emulator's CA file).
    pub fn add_ca_pem(mut self, pem: &str) -> Result<Self, TrustError> {
        add_pem(&mut self.roots, pem)?;
        Ok(self)
    }

    /// Receives every result (e.g. a [`ClientStats`]).
    pub fn observer(mut self, observer: Arc<dyn SendObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The client. Connections open on the first send, or at once with [`Client::warm_up`].
    pub fn build(self) -> Result<Client, TrustError> {
        let tls = if self.endpoint.is_tls() {
            Some(tls::client_config(self.roots, &self.credentials)?)
        } else {
            None
        };
        let max_in_flight = if self.max_in_flight == 0 {
            self.connections * 1000
        } else {
            self.max_in_flight
        };
        let pool = Pool::new(
            self.endpoint,
            tls,
            self.connect,
            self.connections,
            max_in_flight,
            self.keep_warm,
        );
        Ok(Client(Arc::new(send::Sender {
            pool,
            credentials: self.credentials,
            request_timeout: self.request_timeout,
            max_attempts: self.max_attempts,
            observer: self.observer,
            last_goaway: std::sync::Mutex::new(None),
        })))
    }
}

/// A pool of connections to one APNs endpoint with one credential. Cheap to clone; clones
/// share the pool. Dropping the last clone closes the connections.
#[derive(Debug, Clone)]
pub struct Client(Arc<send::Sender>);

impl Client {
    /// A builder for `endpoint` with `credentials`; trusts the APNs root.
    pub fn builder(endpoint: Endpoint, credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            endpoint,
            credentials,
            roots: apns_roots(),
            connections: 1,
            max_in_flight: 0,
            request_timeout: Duration::from_secs(10),
            connect: ConnectSettings {
                connect_timeout: Duration::from_secs(10),
                ping_interval: Duration::from_secs(60),
                ping_timeout: Duration::from_secs(5),
            },
            keep_warm: true,
            max_attempts: 3,
            observer: None,
        }
    }

    /// Sends one push and waits for its answer.
    pub async fn send(&self, notification: &Notification) -> SendResult {
        self.0.send(notification).await
    }

    /// Opens every connection now; the error of the last one that failed, if any.
    pub async fn warm_up(&self) -> Result<(), SendError> {
        self.0.pool.warm_up().await
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.0.pool.0.endpoint
    }

    /// The last GOAWAY a server sent on this pool, with its JSON reason.
    pub fn last_goaway(&self) -> Option<Goaway> {
        self.0.last_goaway()
    }
}
