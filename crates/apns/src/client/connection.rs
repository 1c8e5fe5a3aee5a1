//! One HTTP/2 connection to APNs: TCP, TLS (ALPN `h2`) and the HTTP/2 handshake, a task that
//! drives it and checks it with PING when it is quiet, and what the pool needs to know about
//! it: open streams, the server's current `MAX_CONCURRENT_STREAMS`, whether it is still usable,
//! and the GOAWAY that ended it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::Endpoint;
use super::goaway_tap::{Goaway, GoawaySlot, GoawayTap};
use super::lock;
use super::outcome::SendError;

/// Connection-level knobs (from the client builder).
#[derive(Debug, Clone)]
pub(crate) struct ConnectSettings {
    pub(crate) connect_timeout: Duration,
    /// Check a connection with no open stream this long with a PING.
    pub(crate) ping_interval: Duration,
    /// A PING unanswered this long marks the connection dead.
    pub(crate) ping_timeout: Duration,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A live (or recently live) connection.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) id: u64,
    send: SendRequest<Bytes>,
    /// Streams this client has open on it.
    pub(crate) in_flight: AtomicUsize,
    /// The server's `MAX_CONCURRENT_STREAMS` as `h2` applies it.
    max_streams: Arc<AtomicUsize>,
    /// The driver ended (closed, failed, dead after an unanswered PING).
    closed: Arc<AtomicBool>,
    goaway: GoawaySlot,
    /// When a stream last ended, for the idle PING.
    last_active: Arc<Mutex<Instant>>,
    /// Asks the driver to PING now (after a timeout).
    check_now: Arc<Notify>,
    driver: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Connection {
    /// Opens a connection; `on_change` is notified whenever it ends or its stream limit moves.
    pub(crate) async fn open(
        endpoint: &Endpoint,
        tls: Option<&Arc<rustls::ClientConfig>>,
        settings: &ConnectSettings,
        on_change: Arc<Notify>,
        on_end: Box<dyn FnOnce() + Send>,
    ) -> Result<Arc<Connection>, SendError> {
        let error = |message: String| SendError::Connect {
            endpoint: endpoint.base(),
            message,
        };
        let connect = async {
            // A fresh DNS lookup per connection (docs/reference/apns.md §7: no cached DNS).
            let tcp = TcpStream::connect((endpoint.host(), endpoint.port()))
                .await
                .map_err(|e| error(format!("TCP: {e}")))?;
            let _ = tcp.set_nodelay(true);
            match tls {
                Some(config) => {
                    let name = ServerName::try_from(endpoint.host().to_owned())
                        .map_err(|e| error(format!("bad server name: {e}")))?;
                    let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
                    let stream = connector
                        .connect(name, tcp)
                        .await
                        .map_err(|e| error(format!("TLS: {e}")))?;
                    if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
                        return Err(error("the server did not negotiate ALPN h2".into()));
                    }
                    handshake(stream, settings, on_change, on_end)
                        .await
                        .map_err(error)
                }
                None => handshake(tcp, settings, on_change, on_end)
                    .await
                    .map_err(error),
            }
        };
        tokio::time::timeout(settings.connect_timeout, connect)
            .await
            .map_err(|_| {
                error(format!(
                    "no connection within {:?}",
                    settings.connect_timeout
                ))
            })?
    }

    /// Whether new streams may go on it.
    pub(crate) fn is_usable(&self) -> bool {
        !self.closed.load(Ordering::SeqCst) && !self.send_is_closed() && self.goaway().is_none()
    }

    fn send_is_closed(&self) -> bool {
        self.driver.is_finished()
    }

    /// The server's current limit on concurrent streams.
    pub(crate) fn max_streams(&self) -> usize {
        self.max_streams.load(Ordering::SeqCst)
    }

    /// The GOAWAY the server sent, if any.
    pub(crate) fn goaway(&self) -> Option<Goaway> {
        lock(&self.goaway).clone()
    }

    /// Takes a stream slot if the server's limit allows one more.
    pub(crate) fn try_reserve(&self) -> bool {
        let max = self.max_streams();
        self.in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives a stream slot back.
    pub(crate) fn release(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        *lock(&self.last_active) = Instant::now();
    }

    /// Asks for an immediate PING (a request timed out: the connection may be dead).
    pub(crate) fn check(&self) {
        self.check_now.notify_one();
    }

    /// A handle to open a stream.
    pub(crate) fn sender(&self) -> SendRequest<Bytes> {
        self.send.clone()
    }
}

async fn handshake<T>(
    io: T,
    settings: &ConnectSettings,
    on_change: Arc<Notify>,
    on_end: Box<dyn FnOnce() + Send>,
) -> Result<Arc<Connection>, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (io, goaway) = GoawayTap::new(io);
    let (send, mut connection) = h2::client::Builder::new()
        // Until the server's SETTINGS arrive, assume what APNs grants a new connection (1).
        .initial_max_send_streams(1)
        .handshake::<_, Bytes>(io)
        .await
        .map_err(|e| format!("HTTP/2: {e}"))?;
    let max_streams = Arc::new(AtomicUsize::new(1));
    let closed = Arc::new(AtomicBool::new(false));
    let last_active = Arc::new(Mutex::new(Instant::now()));
    let check_now = Arc::new(Notify::new());
    let ping = connection.ping_pong();
    let driver = Driver {
        connection,
        max_streams: Arc::clone(&max_streams),
        on_change: Arc::clone(&on_change),
    };
    let task = tokio::spawn(drive(
        driver,
        ping,
        Health {
            closed: Arc::clone(&closed),
            last_active: Arc::clone(&last_active),
            check_now: Arc::clone(&check_now),
            interval: settings.ping_interval,
            timeout: settings.ping_timeout,
            on_change,
            on_end,
        },
    ));
    Ok(Arc::new(Connection {
        id: NEXT_ID.fetch_add(1, Ordering::SeqCst),
        send,
        in_flight: AtomicUsize::new(0),
        max_streams,
        closed,
        goaway,
        last_active,
        check_now,
        driver: task,
    }))
}

/// Polls the `h2` connection and publishes its send-stream limit whenever it changes (a
/// SETTINGS frame from the server).
struct Driver<T> {
    connection: h2::client::Connection<GoawayTap<T>, Bytes>,
    max_streams: Arc<AtomicUsize>,
    on_change: Arc<Notify>,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Future for Driver<T> {
    type Output = Result<(), h2::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.connection).poll(cx);
        let max = this.connection.max_concurrent_send_streams();
        if this.max_streams.swap(max, Ordering::SeqCst) != max {
            this.on_change.notify_waiters();
        }
        result
    }
}

struct Health {
    closed: Arc<AtomicBool>,
    last_active: Arc<Mutex<Instant>>,
    check_now: Arc<Notify>,
    interval: Duration,
    timeout: Duration,
    on_change: Arc<Notify>,
    on_end: Box<dyn FnOnce() + Send>,
}

/// Drives the connection; PINGs it when it has been quiet for the interval or when asked; ends
/// (closing it) when a PING goes unanswered.
async fn drive<T>(driver: Driver<T>, ping: Option<h2::PingPong>, health: Health)
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let checker = async {
        let Some(mut ping) = ping else {
            return std::future::pending::<()>().await;
        };
        loop {
            let quiet_since = *lock(&health.last_active);
            tokio::select! {
                () = tokio::time::sleep_until(quiet_since + health.interval) => {
                    let moved = *lock(&health.last_active);
                    if moved != quiet_since {
                        continue;
                    }
                }
                () = health.check_now.notified() => {}
            }
            match tokio::time::timeout(health.timeout, ping.ping(h2::Ping::opaque())).await {
                Ok(Ok(_pong)) => {
                    *lock(&health.last_active) = Instant::now();
                }
                // No answer, or the connection is gone: stop driving it.
                _ => return,
            }
        }
    };
    tokio::select! {
        _ = driver => {}
        () = checker => {}
    }
    health.closed.store(true, Ordering::SeqCst);
    health.on_change.notify_waiters();
    (health.on_end)();
}
