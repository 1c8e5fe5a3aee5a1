//! One HTTP/2 connection, the transport: the stream gate and the frame shim, the faults that
//! hit its requests, the error budget and GOAWAY. What each request is checked against
//! (authentication, headers, payload) is the connection's `Policy`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use h2::RecvStream;
use h2::server::SendResponse;
use http::{Request, Response};
use pushtrace_apns::{Environment, ErrorBody, Reason};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::ExcessStreams;
use crate::cert_auth::CertConnection;
use crate::faults::{Fault, MAX_STREAMS_VIOLATED, NO_ERROR, PROTOCOL_ERROR};
use crate::frame_shim::{FrameShim, ShimControl};
use crate::policy::{Policy, RequestContext};
use crate::server::{Outcome, Shared};
use crate::stream_gate::{Admission, StreamGate};
use crate::sync::lock;
use crate::validate;

/// Bytes of body kept; more is read and dropped (anything this long is `PayloadTooLarge`).
const BODY_CAP: usize = 16 * 1024;

struct Connection {
    environment: Environment,
    shared: Arc<Shared>,
    /// What this connection's requests are checked against (its authentication state too).
    policy: Policy,
    /// The limit in force on concurrent streams.
    gate: Arc<StreamGate>,
    /// Frames `h2` cannot send: SETTINGS changes and our GOAWAY.
    control: ShimControl,
    /// In the 2016 mode, whether the limit is down to 1 after a rejection.
    dropped: Mutex<bool>,
    /// Highest stream id that has been processed (for a GOAWAY's default last-stream-id).
    highest_processed: AtomicU32,
    /// Once a GOAWAY is sent: its last-stream-id; streams above it are refused.
    goaway_last: Mutex<Option<u32>>,
    /// Last time a stream ended (or the connection opened), for the idle timeout.
    last_activity: Mutex<Instant>,
    /// Weighted error count; at the limit the connection is closed.
    errors: Mutex<u32>,
    /// `true`: close gracefully (GOAWAY, let streams finish).
    close: watch::Sender<bool>,
    /// `true`: drop the TCP connection now.
    abort: watch::Sender<bool>,
}

impl Connection {
    /// Sends a GOAWAY (once) and closes the connection after the streams at or below
    /// `last_stream_id` (default: the highest processed) are answered.
    fn goaway(&self, last_stream_id: Option<u32>, error_code: u32, debug: Vec<u8>) {
        let mut sent = lock(&self.goaway_last);
        if sent.is_some() {
            return;
        }
        let last = last_stream_id.unwrap_or_else(|| self.highest_processed.load(Ordering::SeqCst));
        *sent = Some(last);
        self.control.goaway(last, error_code, debug);
        let _ = self.close.send(true);
    }

    fn goaway_reason(&self, last_stream_id: Option<u32>, error_code: u32, reason: Reason) {
        let debug = ErrorBody::new(reason).to_json().into_bytes();
        self.goaway(last_stream_id, error_code, debug);
    }

    /// Whether a GOAWAY already excludes this stream.
    fn refused_by_goaway(&self, stream_id: u32) -> bool {
        lock(&self.goaway_last).is_some_and(|last| stream_id > last)
    }

    /// After the first valid token: the full limit, advertised when 1 was.
    fn lift_pre_auth_limit(&self) {
        let settings = &self.shared.settings;
        self.gate.set_limit(settings.max_concurrent_streams);
        if settings.advertise_pre_auth_limit {
            self.control.advertise(settings.max_concurrent_streams);
        }
    }

    /// The 2016 mode: down to 1 after a rejection, back up after a success.
    fn follow_outcome(&self, accepted: bool) {
        let settings = &self.shared.settings;
        if !settings.drop_limit_after_rejection || !self.policy.is_authenticated() {
            return;
        }
        let mut dropped = lock(&self.dropped);
        if *dropped == accepted {
            *dropped = !accepted;
            let limit = if accepted {
                settings.max_concurrent_streams
            } else {
                1
            };
            self.gate.set_limit(limit);
            self.control.advertise(limit);
        }
    }
}

pub(crate) async fn serve<T>(
    io: T,
    environment: Environment,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    cert: Option<CertConnection>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let settings = &shared.settings;
    // A certificate connection has no token to wait for: the full limit from the start.
    let initial = if settings.advertise_pre_auth_limit && cert.is_none() {
        1
    } else {
        settings.max_concurrent_streams
    };
    let (shim, control) = FrameShim::new(io, initial);
    serve_h2(shim, control, environment, shared, stop, cert).await;
}

async fn serve_h2<T>(
    io: T,
    control: ShimControl,
    environment: Environment,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    cert: Option<CertConnection>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let settings = &shared.settings;
    // `h2` must let through what the gate decides on: with `Goaway`, a stream over the limit
    // has to reach the gate to be answered with a GOAWAY rather than refused by `h2`.
    let h2_limit = match settings.excess_streams {
        ExcessStreams::Goaway => settings.max_concurrent_streams.saturating_mul(2),
        _ => settings.max_concurrent_streams,
    };
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(h2_limit)
        .max_header_list_size(8000)
        .header_table_size(4096);
    let Ok(mut h2) = builder.handshake::<_, Bytes>(io).await else {
        return;
    };
    let (close, mut closed) = watch::channel(false);
    let (abort, mut aborted) = watch::channel(false);
    let idle_timeout = settings.idle_timeout;
    let connection = Arc::new(Connection {
        environment,
        // One stream until the first valid token, whatever is advertised (docs/reference/apns.md
        // §2.1); a certificate connection is authenticated from the start.
        gate: StreamGate::new(if cert.is_some() {
            settings.max_concurrent_streams
        } else {
            1
        }),
        policy: Policy::new(environment, Arc::clone(&shared), cert),
        shared,
        control,
        dropped: Mutex::new(false),
        highest_processed: AtomicU32::new(0),
        goaway_last: Mutex::new(None),
        last_activity: Mutex::new(Instant::now()),
        errors: Mutex::new(0),
        close,
        abort,
    });
    loop {
        let idle_at = idle_timeout.map(|t| *lock(&connection.last_activity) + t);
        let idle = async {
            match idle_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            next = h2.accept() => match next {
                Some(Ok((request, respond))) => {
                    tokio::spawn(handle(Arc::clone(&connection), request, respond));
                }
                _ => return,
            },
            _ = closed.changed() => break,
            _ = aborted.changed() => return,
            _ = stop.changed() => break,
            () = idle => {
                // A stream may have ended (moving `last_activity`) or begun since the timer was set.
                let quiet = connection.gate.active() == 0
                    && idle_timeout
                        .is_some_and(|t| *lock(&connection.last_activity) + t <= Instant::now());
                if quiet {
                    connection.goaway_reason(None, NO_ERROR, Reason::IdleTimeout);
                    break;
                }
            }
        }
    }
    // GOAWAY, then let in-flight streams finish and the frames flush.
    h2.graceful_shutdown();
    loop {
        tokio::select! {
            next = h2.accept() => match next {
                Some(Ok((_request, mut respond))) => respond.send_reset(h2::Reason::REFUSED_STREAM),
                _ => return,
            },
            _ = aborted.changed() => return,
        }
    }
}

/// Marks the end of a stream for the idle timeout.
struct Activity<'a>(&'a Mutex<Instant>);

impl Drop for Activity<'_> {
    fn drop(&mut self) {
        *lock(self.0) = Instant::now();
    }
}

async fn handle(
    connection: Arc<Connection>,
    request: Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
) {
    let stream_id = u32::from(respond.stream_id());
    let _activity = Activity(&connection.last_activity);
    if connection.refused_by_goaway(stream_id) {
        respond.send_reset(h2::Reason::REFUSED_STREAM);
        return;
    }
    let mode = connection.shared.settings.excess_streams;
    let control = connection.control.clone();
    let _permit = match connection
        .gate
        .admit(mode, || control.acknowledged_limit())
        .await
    {
        Admission::Admitted(permit) => permit,
        Admission::Refused => {
            respond.send_reset(h2::Reason::REFUSED_STREAM);
            return;
        }
        Admission::Violation => {
            connection.goaway(
                None,
                PROTOCOL_ERROR,
                MAX_STREAMS_VIOLATED.as_bytes().to_vec(),
            );
            respond.send_reset(h2::Reason::REFUSED_STREAM);
            return;
        }
    };

    let (parts, mut body) = request.into_parts();
    // Sized from `content-length` when the client sent one (a hint only: the loop below is
    // what counts), so a payload is not grown piecewise.
    let expected = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .unwrap_or(0);
    let mut payload = Vec::with_capacity(expected.min(BODY_CAP));
    while let Some(chunk) = body.data().await {
        let Ok(chunk) = chunk else { return };
        let _ = body.flow_control().release_capacity(chunk.len());
        let room = BODY_CAP.saturating_sub(payload.len());
        payload.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    // A GOAWAY sent while the body arrived may exclude this stream.
    if connection.refused_by_goaway(stream_id) {
        respond.send_reset(h2::Reason::REFUSED_STREAM);
        return;
    }

    let now_ms = connection.shared.clock.now_ms();
    let sandbox = connection.environment == Environment::Sandbox;
    let request_id = validate::request_apns_id(&parts.headers);
    let apns_id = match request_id {
        Some(Ok(id)) => id,
        _ => connection.shared.new_id(),
    };
    let unique_id = sandbox.then(|| connection.shared.new_id());

    let topic = parts
        .headers
        .get("apns-topic")
        .and_then(|v| v.to_str().ok());
    let fault = lock(&connection.shared.faults).pick(connection.environment, topic);
    let (outcome, injected) = match fault {
        Some(Fault::Disconnect) => {
            let _ = connection.abort.send(true);
            // Dropping `respond` now would queue a RST_STREAM: hold it until the connection
            // task has gone (its receiver dropped), so nothing at all is sent.
            connection.abort.closed().await;
            drop(respond);
            return;
        }
        Some(Fault::Goaway {
            reason,
            last_stream_id,
            error_code,
        }) => {
            connection.goaway_reason(last_stream_id, error_code, reason);
            // Above the GOAWAY's last-stream-id (this one's, or an earlier one's): unprocessed.
            if connection.refused_by_goaway(stream_id) {
                respond.send_reset(h2::Reason::REFUSED_STREAM);
                return;
            }
            (None, false)
        }
        Some(Fault::Status { reason }) => (Some(Outcome::Rejected(ErrorBody::new(reason))), true),
        None => (None, false),
    };
    let outcome = match outcome {
        Some(outcome) => outcome,
        None => {
            connection
                .highest_processed
                .fetch_max(stream_id, Ordering::SeqCst);
            let verdict = connection.policy.decide(RequestContext {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                headers: &parts.headers,
                request_id,
                payload: Bytes::from(payload),
                apns_id,
                unique_id,
                now_ms,
            });
            if verdict.first_authentication {
                connection.lift_pre_auth_limit();
            }
            verdict.outcome
        }
    };
    let delay = lock(&connection.shared.faults).delay();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }

    let mut response = Response::builder()
        .status(200)
        .header("apns-id", apns_id.to_string());
    if let Some(unique) = unique_id {
        response = response.header("apns-unique-id", unique.to_string());
    }
    let error = match outcome {
        Outcome::Accepted => None,
        Outcome::Rejected(body) => Some(body),
    };
    if !injected {
        // Before the answer is written, so a lowered limit is advertised ahead of it.
        connection.follow_outcome(error.is_none());
    }
    if let Some(body) = &error {
        response = response
            .status(body.reason.status().unwrap_or(400))
            .header("content-type", "application/json");
    }
    let Ok(response) = response.body(()) else {
        return;
    };
    match &error {
        None => {
            let _ = respond.send_response(response, true);
        }
        Some(body) => {
            if let Ok(mut stream) = respond.send_response(response, false) {
                let _ = stream.send_data(Bytes::from(body.to_json()), true);
            }
            if !injected && body.reason.counts_as_error() {
                count_error(&connection, &body.reason);
            }
        }
    }
}

/// Adds a rejection to the connection's error count; at the limit, GOAWAY.
fn count_error(connection: &Connection, reason: &Reason) {
    let settings = &connection.shared.settings;
    let Some(limit) = settings.error_limit else {
        return;
    };
    let weight = if *reason == Reason::BadDeviceToken {
        settings.bad_device_token_weight
    } else {
        1
    };
    let mut errors = lock(&connection.errors);
    *errors = errors.saturating_add(weight);
    if *errors >= limit {
        let _ = connection.close.send(true);
    }
}
