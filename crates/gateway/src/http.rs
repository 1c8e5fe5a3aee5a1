//! Serving the API over HTTP/1.1 with limits on slow and idle clients and on connections.
//!
//! `axum::serve` sets no timeout at all: a client that trickles its head, stalls its body or
//! keeps an idle connection open holds the socket for as long as it likes. Here each
//! connection is in one [`Phase`] at a time, and the phase decides its deadline:
//!
//! - a new connection has `header_timeout` from its accept to deliver a complete head;
//! - a kept-alive connection waits at most `idle_timeout` for the first byte of its next
//!   request, then has `header_timeout` for the rest of the head;
//! - once the head is read the request is the handler's, and its body must arrive within
//!   `body_timeout` ([`TimedBody`]; a late body is answered 408 by `api::body`).
//!
//! A connection past its deadline is dropped, which closes the socket. hyper's own
//! `header_read_timeout` is not used: in hyper 1.x its timer starts whenever the connection
//! waits for a head, the keep-alive wait included (`proto/h1/conn.rs`, `poll_read_head` and
//! `State::idle`), so it cannot give an idle connection longer than a slow head.
//!
//! At most `max_connections` are served at once. Past that the server stops accepting until
//! one closes: a burst waits in the kernel's backlog instead of being refused.

use std::error::Error;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};

use crate::config::HttpLimits;

/// How long the accept loop rests after an error (out of file descriptors, mostly) before
/// trying again.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `stop` turns true, then lets open connections finish
/// (idle ones close at once) and returns when the last has closed.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.expect("the slots are never closed"),
            _ = stopped(&mut stop) => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        tokio::spawn(connection(
            stream,
            app.clone(),
            limits,
            stop.clone(),
            permit,
        ));
    }
    drop(listener);
    // Every connection holds a slot until it closes.
    let _ = slots.acquire_many(limits.max_connections).await;
}

/// Returns once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Drives one connection until it ends, misses its deadline or, after `stop`, finishes.
async fn connection(
    stream: TcpStream,
    app: Router,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let (phase, mut phase_changes) = watch::channel(Phase::Head(Instant::now()));
    let phase = Arc::new(phase);
    let io = TokioIo::new(Watched {
        stream,
        phase: phase.clone(),
    });
    let router = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        phase.send_replace(Phase::Busy);
        let request = request.map(|body| Body::new(TimedBody::new(body, limits.body_timeout)));
        let phase = phase.clone();
        let response = hyper::service::Service::call(&router, request);
        async move {
            let response = response.await?;
            Ok::<_, std::convert::Infallible>(
                response.map(|body| Body::new(IdleWhenDropped { body, phase })),
            )
        }
    });
    let conn = http1::Builder::new().serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = overdue(&mut phase_changes, limits) => return,
            _ = stopped(&mut stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Where a connection is in its request cycle.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Reading a head whose first byte came at (or, on a new connection, accepted at) this
    /// instant: `header_timeout` from it.
    Head(Instant),
    /// A handler has the request; its body has [`TimedBody`]'s deadline.
    Busy,
    /// The last response went out at this instant: `idle_timeout` from it.
    Idle(Instant),
}

/// Returns when the connection's current phase has run past its deadline.
async fn overdue(phase: &mut watch::Receiver<Phase>, limits: HttpLimits) {
    loop {
        let deadline = match *phase.borrow_and_update() {
            Phase::Head(since) => Some(since + limits.header_timeout),
            Phase::Idle(since) => Some(since + limits.idle_timeout),
            Phase::Busy => None,
        };
        match deadline {
            Some(deadline) => tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = phase.changed() => {}
            },
            None => {
                if phase.changed().await.is_err() {
                    // All senders are gone: so is the connection.
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

/// The socket, noting the first byte of a request that follows an idle wait.
struct Watched {
    stream: TcpStream,
    phase: Arc<watch::Sender<Phase>>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.phase.send_if_modified(|phase| match phase {
                Phase::Idle(_) => {
                    *phase = Phase::Head(Instant::now());
                    true
                }
                Phase::Head(_) | Phase::Busy => false,
            });
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A response body that starts the connection's idle wait when hyper is done with it (it
/// drops the body once written, or when the connection fails).
struct IdleWhenDropped {
    body: Body,
    phase: Arc<watch::Sender<Phase>>,
}

impl Drop for IdleWhenDropped {
    fn drop(&mut self) {
        self.phase.send_replace(Phase::Idle(Instant::now()));
    }
}

impl hyper::body::Body for IdleWhenDropped {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that fails with [`BodyTimeout`] when it has not ended by its deadline.
struct TimedBody {
    body: Incoming,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
}

impl TimedBody {
    fn new(body: Incoming, timeout: Duration) -> TimedBody {
        TimedBody {
            body,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timeout,
        }
    }
}

impl hyper::body::Body for TimedBody {
    type Data = axum::body::Bytes;
    type Error = Box<dyn Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout(self.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that did not arrive within `body_timeout_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyTimeout(pub(crate) Duration);

impl BodyTimeout {
    /// The `BodyTimeout` somewhere in `error`'s chain of sources, if any.
    pub(crate) fn find(error: &(dyn Error + 'static)) -> Option<BodyTimeout> {
        let mut next = Some(error);
        while let Some(error) = next {
            if let Some(timeout) = error.downcast_ref::<BodyTimeout>() {
                return Some(*timeout);
            }
            next = error.source();
        }
        None
    }
}

impl fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the body did not arrive within {} ms (body_timeout_ms)",
            self.0.as_millis()
        )
    }
}

impl Error for BodyTimeout {}
