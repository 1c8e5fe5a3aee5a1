//! Listeners and HTTP/2 connections: per-connection JWT state, the one-stream-until-authenticated
//! rule, the error budget that ends a connection, and the pipeline
//! `validate → authenticate → validate headers → accept`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use h2::RecvStream;
use h2::server::SendResponse;
use http::{HeaderMap, Request, Response};
use pushtrace_apns::{
    ApnsId, DeviceToken, Environment, ErrorBody, KeyRing, MIN_REFRESH_SECS, Reason, VerifyContext,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, TryAcquireError, watch};

use crate::delivery::{Delivery, DeviceState, HookSlot};
use crate::devices::{AcceptedPush, Lookup, Registry};
use crate::settings_shim::{Raise, SettingsShim};
use crate::store::Store;
use crate::validate::{self, ValidPush};
use crate::{Clock, PreAuthStreams, Settings};

/// Bytes of body kept; more is read and dropped (anything this long is `PayloadTooLarge`).
const BODY_CAP: usize = 16 * 1024;

/// Everything the listeners share. Nothing here is shared with a client.
pub(crate) struct Shared {
    pub(crate) keys: KeyRing,
    pub(crate) settings: Settings,
    pub(crate) clock: Clock,
    pub(crate) devices: Mutex<Registry>,
    /// Store and forward; always locked after `devices` when both are held.
    pub(crate) store: Mutex<Store>,
    hook: HookSlot,
    rates: Mutex<HashMap<(Environment, DeviceToken), VecDeque<u64>>>,
    /// The system CSPRNG, through rustls's ring provider (no extra dependency).
    rng: &'static dyn rustls::crypto::SecureRandom,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the last stage answers for a push that passed every check. Later stages (store and
/// forward, faults, delivery) plug in here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Accepted,
    Rejected(ErrorBody),
}

impl Shared {
    pub(crate) fn new(
        keys: KeyRing,
        settings: Settings,
        clock: Clock,
        registry: Registry,
        store: Store,
        hook: HookSlot,
    ) -> Self {
        Shared {
            keys,
            settings,
            clock,
            devices: Mutex::new(registry),
            store: Mutex::new(store),
            hook,
            rates: Mutex::new(HashMap::new()),
            rng: rustls::crypto::ring::default_provider().secure_random,
        }
    }

    /// A random version-4 UUID.
    fn new_id(&self) -> ApnsId {
        let mut bytes = [0u8; 16];
        if self.rng.fill(&mut bytes).is_err() {
            // The system RNG failed: fall back to the clock, still unique enough for a test server.
            bytes[..8].copy_from_slice(&self.clock.now_ms().to_be_bytes());
        }
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        ApnsId::from_bytes(bytes)
    }

    /// The last stage: the device registry, the per-token rate, then the log.
    pub(crate) fn accept(&self, push: AcceptedPush) -> Outcome {
        let lookup = lock(&self.devices).lookup(
            push.environment,
            &push.token,
            &push.topic,
            push.received_at_ms,
        );
        match lookup {
            Lookup::Unknown => return Outcome::Rejected(ErrorBody::new(Reason::BadDeviceToken)),
            Lookup::OtherTopic => {
                return Outcome::Rejected(ErrorBody::new(Reason::DeviceTokenNotForTopic));
            }
            Lookup::Unregistered(at) => {
                return Outcome::Rejected(ErrorBody {
                    reason: Reason::Unregistered,
                    timestamp_ms: Some(at),
                });
            }
            Lookup::Active => {}
        }
        if let Some(rate) = self.settings.per_token_rate {
            let mut rates = lock(&self.rates);
            let window = u64::try_from(rate.window.as_millis()).unwrap_or(u64::MAX);
            let seen = rates
                .entry((push.environment, push.token.clone()))
                .or_default();
            while seen
                .front()
                .is_some_and(|t| push.received_at_ms.saturating_sub(*t) >= window)
            {
                seen.pop_front();
            }
            if seen.len() >= rate.requests as usize {
                return Outcome::Rejected(ErrorBody::new(Reason::TooManyRequests));
            }
            seen.push_back(push.received_at_ms);
        }
        let now_ms = push.received_at_ms;
        self.with_store(now_ms, |store, out| store.receive(push, out));
        Outcome::Accepted
    }

    /// Brings the store up to `now_ms` (schedule, expirations, unregistrations, delayed
    /// attempts), runs `then` on it, and hands the deliveries to the hook outside the locks.
    pub(crate) fn with_store<R>(
        &self,
        now_ms: u64,
        then: impl FnOnce(&mut Store, &mut Vec<Delivery>) -> R,
    ) -> R {
        let mut out = Vec::new();
        let result = {
            let devices = lock(&self.devices);
            let mut store = lock(&self.store);
            let registration = |env: Environment, token: &DeviceToken, topic: &str, at: u64| {
                devices.lookup(env, token, topic, at)
            };
            store.advance(now_ms, &registration, &mut out);
            then(&mut store, &mut out)
        };
        if let Some(hook) = &self.hook.0 {
            for delivery in &out {
                hook.delivered(delivery);
            }
        }
        result
    }

    /// Processes everything due by the clock's now.
    pub(crate) fn tick(&self) {
        self.with_store(self.clock.now_ms(), |_, _| ());
    }

    /// Sets a device's state now (after processing what was due before).
    pub(crate) fn set_device_state(
        &self,
        environment: Environment,
        token: &DeviceToken,
        state: DeviceState,
    ) {
        let now_ms = self.clock.now_ms();
        self.with_store(now_ms, |store, out| {
            store.set_state(environment, token, state, now_ms, out);
        });
    }
}

/// Accepts connections until `stop` turns true.
pub(crate) async fn listen(
    listener: TcpListener,
    environment: Environment,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((tcp, _peer)) = accepted else { continue };
        let _ = tcp.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let stop = stop.clone();
        match &tls {
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    // APNs speaks HTTP/2 only: refuse a client that did not negotiate `h2`.
                    if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
                        return;
                    }
                    serve(stream, environment, shared, stop).await;
                });
            }
            None => {
                tokio::spawn(serve(tcp, environment, shared, stop));
            }
        }
    }
}

/// JWT state of one connection (reference §2.1).
#[derive(Debug, Default)]
struct Auth {
    /// `kid` of the first authenticated push.
    first_key_id: Option<String>,
    /// The token in use and since when (ms).
    token: Option<(String, u64)>,
    /// `TooManyProviderTokenUpdates` until this time (ms).
    locked_until_ms: Option<u64>,
}

struct Connection {
    environment: Environment,
    shared: Arc<Shared>,
    auth: Mutex<Auth>,
    /// Set by the first valid token; until then one stream at a time.
    authenticated: AtomicBool,
    pre_auth: Arc<Semaphore>,
    /// Advertises the raised MAX_CONCURRENT_STREAMS (when the shim is on).
    raise: Option<Raise>,
    /// Weighted error count; at the limit the connection is closed.
    errors: Mutex<u32>,
    close: watch::Sender<bool>,
}

async fn serve<T>(io: T, environment: Environment, shared: Arc<Shared>, stop: watch::Receiver<bool>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if shared.settings.advertise_pre_auth_limit {
        let limit = shared.settings.max_concurrent_streams;
        let (shim, raise) = SettingsShim::new(io, 1, limit);
        serve_h2(shim, Some(raise), environment, shared, stop).await;
    } else {
        serve_h2(io, None, environment, shared, stop).await;
    }
}

async fn serve_h2<T>(
    io: T,
    raise: Option<Raise>,
    environment: Environment,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(shared.settings.max_concurrent_streams)
        .max_header_list_size(8000)
        .header_table_size(4096);
    let Ok(mut h2) = builder.handshake::<_, Bytes>(io).await else {
        return;
    };
    let (close, mut closed) = watch::channel(false);
    let mut stop = stop;
    let connection = Arc::new(Connection {
        environment,
        shared,
        auth: Mutex::new(Auth::default()),
        authenticated: AtomicBool::new(false),
        pre_auth: Arc::new(Semaphore::new(1)),
        raise,
        errors: Mutex::new(0),
        close,
    });
    loop {
        tokio::select! {
            next = h2.accept() => match next {
                Some(Ok((request, respond))) => {
                    tokio::spawn(handle(Arc::clone(&connection), request, respond));
                }
                _ => return,
            },
            _ = closed.changed() => break,
            _ = stop.changed() => break,
        }
    }
    // GOAWAY, then let in-flight streams finish and the frames flush.
    h2.graceful_shutdown();
    while let Some(Ok((_request, mut respond))) = h2.accept().await {
        respond.send_reset(h2::Reason::REFUSED_STREAM);
    }
}

async fn handle(
    connection: Arc<Connection>,
    request: Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
) {
    // One stream at a time until the first valid token (reference §2.1; see the crate docs for
    // why this is not a SETTINGS change).
    let _permit = if connection.authenticated.load(Ordering::SeqCst) {
        None
    } else {
        let gate = Arc::clone(&connection.pre_auth);
        match connection.shared.settings.pre_auth_streams {
            PreAuthStreams::Serialize => gate.acquire_owned().await.ok(),
            PreAuthStreams::Refuse => match gate.try_acquire_owned() {
                Ok(permit) => Some(permit),
                // Closed: the connection authenticated meanwhile.
                Err(TryAcquireError::Closed) => None,
                Err(TryAcquireError::NoPermits) => {
                    respond.send_reset(h2::Reason::REFUSED_STREAM);
                    return;
                }
            },
        }
    };

    let (parts, mut body) = request.into_parts();
    let mut payload = Vec::new();
    while let Some(chunk) = body.data().await {
        let Ok(chunk) = chunk else { return };
        let _ = body.flow_control().release_capacity(chunk.len());
        let room = BODY_CAP.saturating_sub(payload.len());
        payload.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }

    let now_ms = connection.shared.clock.now_ms();
    let sandbox = connection.environment == Environment::Sandbox;
    let request_id = validate::request_apns_id(&parts.headers);
    let apns_id = match request_id {
        Some(Ok(id)) => id,
        _ => connection.shared.new_id(),
    };
    let unique_id = sandbox.then(|| connection.shared.new_id());

    let outcome = process(
        &connection,
        parts.method.as_str(),
        parts.uri.path(),
        &parts.headers,
        request_id,
        &payload,
        apns_id,
        unique_id,
        now_ms,
    );

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
            if body.reason.counts_as_error() {
                count_error(&connection, &body.reason);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn process(
    connection: &Connection,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    request_id: Option<Result<ApnsId, Reason>>,
    payload: &[u8],
    apns_id: ApnsId,
    unique_id: Option<ApnsId>,
    now_ms: u64,
) -> Outcome {
    let reject = |reason: Reason| Outcome::Rejected(ErrorBody::new(reason));
    if let Err(reason) = validate::check_duplicates(headers) {
        return reject(reason);
    }
    let token = match validate::check_request_line(method, path) {
        Ok(token) => token,
        Err(reason) => return reject(reason),
    };
    if let Err(reason) = authenticate(connection, headers, now_ms) {
        return reject(reason);
    }
    if let Some(Err(reason)) = request_id {
        return reject(reason);
    }
    let ValidPush {
        notification,
        push_type_header,
    } = match validate::check_push(headers, token, payload) {
        Ok(push) => push,
        Err(reason) => return reject(reason),
    };
    let expiration = match notification.expiration() {
        pushtrace_apns::Expiration::None => None,
        pushtrace_apns::Expiration::Immediately => Some(0),
        pushtrace_apns::Expiration::At(at) => Some(at),
    };
    connection.shared.accept(AcceptedPush {
        environment: connection.environment,
        apns_id,
        unique_id,
        token: notification.device_token().clone(),
        topic: notification.topic().to_owned(),
        push_type: push_type_header,
        priority: notification.priority(),
        expiration,
        collapse_id: notification.collapse_id().map(str::to_owned),
        payload_len: payload.len(),
        payload: payload.to_vec(),
        received_at_ms: now_ms,
    })
}

/// The JWT check with the connection's state: first key ID, the 20-minute token-update rule and
/// its lock-out (reference §2.1, F-675879).
fn authenticate(connection: &Connection, headers: &HeaderMap, now_ms: u64) -> Result<(), Reason> {
    let mut auth = lock(&connection.auth);
    if let Some(until) = auth.locked_until_ms {
        if now_ms < until {
            return Err(Reason::TooManyProviderTokenUpdates);
        }
        auth.locked_until_ms = None;
    }
    let header = match headers.get("authorization").map(|v| v.to_str()) {
        None => None,
        Some(Ok(text)) => Some(text),
        Some(Err(_)) => return Err(Reason::InvalidProviderToken),
    };
    let context = VerifyContext {
        environment: connection.environment,
        connection_key_id: auth.first_key_id.as_deref(),
    };
    let claims = connection
        .shared
        .keys
        .verify_authorization(header, &context, now_ms / 1000)
        .map_err(|e| e.reason())?;
    let token = header.unwrap_or_default().trim().to_owned();
    match &auth.token {
        Some((current, _)) if *current == token => {}
        Some((_, since)) if now_ms.saturating_sub(*since) < MIN_REFRESH_SECS * 1000 => {
            let lockout =
                u64::try_from(connection.shared.settings.token_update_lockout.as_millis())
                    .unwrap_or(u64::MAX);
            auth.locked_until_ms = Some(now_ms.saturating_add(lockout));
            return Err(Reason::TooManyProviderTokenUpdates);
        }
        _ => auth.token = Some((token, now_ms)),
    }
    if auth.first_key_id.is_none() {
        auth.first_key_id = Some(claims.key_id);
    }
    if !connection.authenticated.swap(true, Ordering::SeqCst) {
        // Lift the one-stream rule: waiting streams go on without a permit.
        connection.pre_auth.close();
        if let Some(raise) = &connection.raise {
            raise.raise();
        }
    }
    Ok(())
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
