//! What the listeners share (keys, settings, clock, devices, the store, faults) with the last
//! stage of every request (`Shared::accept`), and the listeners themselves; each connection is
//! served by `connection`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use pushtrace_apns::{ApnsId, DeviceToken, Environment, ErrorBody, KeyRing, Reason};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cert_auth::CertConnection;
use crate::connection::serve;
use crate::delivery::{Delivery, DeviceState, HookSlot};
use crate::devices::{AcceptedPush, Lookup, Registry};
use crate::faults::FaultPlan;
use crate::store::Store;
use crate::sync::lock;
use crate::{Clock, Settings};

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
    pub(crate) faults: Mutex<FaultPlan>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
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
        faults: FaultPlan,
    ) -> Self {
        Shared {
            keys,
            settings,
            clock,
            devices: Mutex::new(registry),
            store: Mutex::new(store),
            hook,
            rates: Mutex::new(HashMap::new()),
            faults: Mutex::new(faults),
        }
    }

    /// A random version-4 UUID. From `fastrand`'s per-thread generator (seeded from the OS
    /// once per thread): `apns-id`s must be unique, not unpredictable, and a system call per id
    /// (two per sandbox request) cost the emulator measurably.
    pub(crate) fn new_id(&self) -> ApnsId {
        let mut bytes = fastrand::u128(..).to_be_bytes();
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
                    // APNs speaks HTTP/2 only. A client that offers no ALPN at all and speaks
                    // HTTP/2 with prior knowledge is served, as APNs serves it (aioapns does
                    // this; Pushy did before 2022); one whose ALPN list lacks `h2` was already
                    // refused by rustls.
                    if stream
                        .get_ref()
                        .1
                        .alpn_protocol()
                        .is_some_and(|p| p != b"h2")
                    {
                        return;
                    }
                    // rustls verified it: a certificate connection (crate docs).
                    let cert = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .map(|der| CertConnection::from_der(der.as_ref()));
                    serve(stream, environment, shared, stop, cert).await;
                });
            }
            None => {
                tokio::spawn(serve(tcp, environment, shared, stop, None));
            }
        }
    }
}
