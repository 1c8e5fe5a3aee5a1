//! [`Emulator::builder`]: keys, devices, settings, schedule, clock and listeners, then
//! [`EmulatorBuilder::start`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pushtrace_apns::{DeviceToken, Environment, KeyRing, ProviderKey};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::{self, AdminOptions, HookView};
use crate::client_cert;
use crate::delivery::{Delivery, HookSlot};
use crate::devices::Registry;
use crate::faults::FaultPlan;
use crate::http_hook::{HttpHook, HttpHookConfig};
use crate::server::{self, Shared};
use crate::store::Store;
use crate::{
    ClientCertificateRequest, Clock, DeliveryHook, Device, DeviceState, EmulatorHandle,
    ExcessStreams, FaultRule, Latency, RateLimit, ScheduleEntry, Settings, StartError, tls,
};

/// The entry point: [`Emulator::builder`].
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// A builder with the defaults: both environments on `127.0.0.1:0`, TLS only, no keys, no
    /// devices, [`Settings::default`], the system clock.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

/// Configures and starts an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    pub(crate) keys: KeyRing,
    pub(crate) devices: Vec<Device>,
    pub(crate) settings: Settings,
    pub(crate) clock: Clock,
    pub(crate) sandbox_addr: SocketAddr,
    pub(crate) production_addr: SocketAddr,
    pub(crate) h2c: bool,
    pub(crate) ca_pem_path: Option<PathBuf>,
    pub(crate) device_states: Vec<(Environment, DeviceToken, DeviceState)>,
    pub(crate) schedule: Vec<(ScheduleAt, ScheduleEntry)>,
    pub(crate) hook: HookSlot,
    pub(crate) faults: Vec<FaultRule>,
    pub(crate) latency: Option<Latency>,
    /// PEM texts of CAs whose client certificates open certificate connections.
    pub(crate) client_cas: Vec<String>,
    /// Client certificates to issue at start, and the files to write them to.
    pub(crate) client_cert_files: Vec<(ClientCertificateRequest, PathBuf)>,
    pub(crate) http_hook: Option<HttpHookConfig>,
    pub(crate) admin: Option<AdminOptions>,
}

/// Whether a schedule entry's time is absolute or counted from the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScheduleAt {
    Absolute,
    AfterStart,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        EmulatorBuilder {
            keys: KeyRing::new(),
            devices: Vec::new(),
            settings: Settings::default(),
            clock: Clock::System,
            sandbox_addr: local,
            production_addr: local,
            h2c: false,
            ca_pem_path: None,
            device_states: Vec::new(),
            schedule: Vec::new(),
            hook: HookSlot::default(),
            faults: Vec::new(),
            latency: None,
            client_cas: Vec::new(),
            client_cert_files: Vec::new(),
            http_hook: None,
            admin: None,
        }
    }
}

impl EmulatorBuilder {
    /// Trusts a provider key under `key_id`.
    pub fn key(mut self, key_id: impl Into<String>, key: ProviderKey) -> Self {
        self.keys.insert(key_id, key);
        self
    }

    /// Replaces the trusted keys.
    pub fn key_ring(mut self, keys: KeyRing) -> Self {
        self.keys = keys;
        self
    }

    /// Registers a live device token for `topic` in `environment`.
    pub fn device(
        self,
        environment: Environment,
        topic: impl Into<String>,
        token: DeviceToken,
    ) -> Self {
        self.device_entry(Device::new(environment, topic, token))
    }

    /// Registers a device, possibly unregistered.
    pub fn device_entry(mut self, device: Device) -> Self {
        self.devices.push(device);
        self
    }

    /// Replaces all settings.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// `SETTINGS_MAX_CONCURRENT_STREAMS` after authentication.
    pub fn max_concurrent_streams(mut self, limit: u32) -> Self {
        self.settings.max_concurrent_streams = limit.max(1);
        self
    }

    /// Whether the first SETTINGS frame advertises 1 stream until the first valid token.
    pub fn advertise_pre_auth_limit(mut self, enabled: bool) -> Self {
        self.settings.advertise_pre_auth_limit = enabled;
        self
    }

    /// What happens to new streams over the limit in force.
    pub fn excess_streams(mut self, mode: ExcessStreams) -> Self {
        self.settings.excess_streams = mode;
        self
    }

    /// The 2016 mode: the limit drops to 1 after a rejection and comes back after a success.
    pub fn drop_limit_after_rejection(mut self, enabled: bool) -> Self {
        self.settings.drop_limit_after_rejection = enabled;
        self
    }

    /// Closes connections idle for this long (GOAWAY `IdleTimeout`); `None`: never.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.idle_timeout = timeout;
        self
    }

    /// Adds a fault rule (tried after the ones before it).
    pub fn fault(mut self, rule: FaultRule) -> Self {
        self.faults.push(rule);
        self
    }

    /// Adds response latency drawn from `latency`.
    pub fn latency(mut self, latency: Latency) -> Self {
        self.latency = Some(latency);
        self
    }

    /// Seeds the generator behind fault probabilities and latency.
    pub fn fault_seed(mut self, seed: u64) -> Self {
        self.settings.fault_seed = seed;
        self
    }

    /// How long a connection stays locked after `TooManyProviderTokenUpdates`.
    pub fn token_update_lockout(mut self, lockout: Duration) -> Self {
        self.settings.token_update_lockout = lockout;
        self
    }

    /// The per-token rate for 429 `TooManyRequests`; `None` disables it.
    pub fn per_token_rate(mut self, rate: Option<RateLimit>) -> Self {
        self.settings.per_token_rate = rate;
        self
    }

    /// Weighted errors before a GOAWAY; `None` disables it.
    pub fn error_limit(mut self, limit: Option<u32>) -> Self {
        self.settings.error_limit = limit;
        self
    }

    /// The clock (a [`Clock::manual`] one for tests).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Where the sandbox TLS listener binds (default `127.0.0.1:0`).
    pub fn sandbox_addr(mut self, addr: SocketAddr) -> Self {
        self.sandbox_addr = addr;
        self
    }

    /// Where the production TLS listener binds (default `127.0.0.1:0`).
    pub fn production_addr(mut self, addr: SocketAddr) -> Self {
        self.production_addr = addr;
        self
    }

    /// Also serve cleartext HTTP/2 (h2c, prior knowledge) on one more port per environment, on
    /// the same IP as its TLS listener.
    pub fn h2c(mut self, enabled: bool) -> Self {
        self.h2c = enabled;
        self
    }

    /// Writes the generated CA certificate (PEM) to this file at start.
    pub fn ca_pem_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_pem_path = Some(path.into());
        self
    }

    /// A device's state at start (devices are [`DeviceState::Online`] unless told otherwise).
    pub fn device_state(
        mut self,
        environment: Environment,
        token: DeviceToken,
        state: DeviceState,
    ) -> Self {
        self.device_states.push((environment, token, state));
        self
    }

    /// A device-state change applied when the clock reaches `entry.at_ms` (ms since the epoch).
    pub fn schedule(mut self, entry: ScheduleEntry) -> Self {
        self.schedule.push((ScheduleAt::Absolute, entry));
        self
    }

    /// A device-state change applied `after` the emulator starts (by its clock).
    pub fn schedule_after(
        mut self,
        after: Duration,
        environment: Environment,
        token: DeviceToken,
        state: DeviceState,
    ) -> Self {
        let at_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        self.schedule.push((
            ScheduleAt::AfterStart,
            ScheduleEntry {
                at_ms,
                environment,
                token,
                state,
            },
        ));
        self
    }

    /// When the one attempt of an `apns-expiration: 0` push happens after receipt.
    pub fn immediate_delivery_delay(mut self, delay: Duration) -> Self {
        self.settings.immediate_delivery_delay = delay;
        self
    }

    /// Also accepts client certificates issued by this CA (PEM text, one or more `CERTIFICATE`
    /// blocks), besides those of the emulator's own CA; see the crate docs on certificate
    /// connections.
    pub fn client_ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.client_cas.push(pem.into());
        self
    }

    /// Issues a client certificate at start and writes it, then its key, to `path` (one PEM
    /// file, the form `curl --cert` reads), for clients that cannot call
    /// [`EmulatorHandle::issue_client_certificate`].
    pub fn write_client_certificate(
        mut self,
        request: ClientCertificateRequest,
        path: impl Into<PathBuf>,
    ) -> Self {
        self.client_cert_files.push((request, path.into()));
        self
    }

    /// Called on every delivery to a simulated device (see [`DeliveryHook`]).
    pub fn delivery_hook(mut self, hook: impl DeliveryHook) -> Self {
        self.hook = HookSlot(Some(Arc::new(hook)));
        self
    }

    /// Also POST a JSON receipt of every delivery to a URL (see [`HttpHookConfig`]); works
    /// alongside [`EmulatorBuilder::delivery_hook`].
    pub fn http_hook(mut self, config: HttpHookConfig) -> Self {
        self.http_hook = Some(config);
        self
    }

    /// Serves the admin API (see `docs/emulator.md`) on its own listener. Off by default in
    /// the builder; a config file turns it on.
    pub fn admin(mut self, options: AdminOptions) -> Self {
        self.admin = Some(options);
        self
    }

    /// Generates the certificates, binds the listeners and starts serving on the current tokio
    /// runtime. Serving stops when the handle is dropped or [`EmulatorHandle::shutdown`] is
    /// called.
    pub async fn start(self) -> Result<EmulatorHandle, StartError> {
        let mut faults = FaultPlan::new(self.settings.fault_seed);
        faults.set_rules(self.faults).map_err(StartError::Faults)?;
        faults
            .set_latency(self.latency)
            .map_err(StartError::Faults)?;
        let tls = tls::generate(&self.client_cas)?;
        if let Some(path) = &self.ca_pem_path {
            std::fs::write(path, &tls.ca_pem).map_err(|source| StartError::CaFile {
                path: path.clone(),
                source,
            })?;
        }
        for (request, path) in &self.client_cert_files {
            client_cert::write(&tls.ca, request, path)?;
        }
        let mut registry = Registry::default();
        for device in self.devices {
            registry.insert(device);
        }
        let start_ms = self.clock.now_ms();
        let schedule = self
            .schedule
            .into_iter()
            .map(|(at, mut entry)| {
                if at == ScheduleAt::AfterStart {
                    entry.at_ms = entry.at_ms.saturating_add(start_ms);
                }
                entry
            })
            .collect();
        let delay_ms =
            u64::try_from(self.settings.immediate_delivery_delay.as_millis()).unwrap_or(u64::MAX);
        let retention_ms = self
            .settings
            .delivery_log_retention
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut store = Store::new(delay_ms, schedule)
            .with_retention(retention_ms)
            .with_max_records(self.settings.delivery_log_max_records);
        for (environment, token, state) in &self.device_states {
            store.set_state(*environment, token, *state, start_ms, &mut Vec::new());
        }
        let (stop, stopped) = watch::channel(false);
        let mut hook = self.hook;
        let hook_view = self.http_hook.map(|config| {
            let (http, counters) = HttpHook::start(&config, stopped.clone());
            hook = HookSlot(Some(match hook.0.take() {
                Some(user) => Arc::new(move |delivery: &Delivery| {
                    user.delivered(delivery);
                    http.delivered(delivery);
                }),
                None => Arc::new(http),
            }));
            HookView {
                url: config.url().clone(),
                counters,
            }
        });
        let shared = Arc::new(Shared::new(
            self.keys,
            self.settings,
            self.clock,
            registry,
            store,
            hook,
            faults,
        ));
        if matches!(shared.clock, Clock::System) {
            tokio::spawn(ticker(Arc::clone(&shared), stopped.clone()));
        }
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&tls.server_config));

        let mut addrs = Vec::new();
        for (environment, addr) in [
            (Environment::Sandbox, self.sandbox_addr),
            (Environment::Production, self.production_addr),
        ] {
            let tls_addr =
                bind_and_serve(environment, addr, Some(acceptor.clone()), &shared, &stopped)
                    .await?;
            let h2c_addr = if self.h2c {
                let addr = SocketAddr::new(addr.ip(), 0);
                Some(bind_and_serve(environment, addr, None, &shared, &stopped).await?)
            } else {
                None
            };
            addrs.push((tls_addr, h2c_addr));
        }
        let admin = match self.admin {
            Some(options) => Some(
                admin::serve(
                    options,
                    Arc::clone(&shared),
                    hook_view.clone(),
                    stopped.clone(),
                )
                .await?,
            ),
            None => None,
        };
        Ok(EmulatorHandle {
            admin,
            hook_view,
            shared,
            stop,
            sandbox: addrs[0],
            production: addrs[1],
            ca_pem: tls.ca_pem,
            ca_pem_path: self.ca_pem_path,
            client_ca: crate::handle::ClientCa(tls.ca),
        })
    }
}

/// Applies what is due by the system clock, every [`Settings::tick_interval`].
async fn ticker(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let period = shared.settings.tick_interval.max(Duration::from_millis(1));
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => shared.tick(),
            _ = stop.changed() => return,
        }
    }
}

async fn bind_and_serve(
    environment: Environment,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: &Arc<Shared>,
    stopped: &watch::Receiver<bool>,
) -> Result<SocketAddr, StartError> {
    let kind = if tls.is_some() { "TLS" } else { "h2c" };
    let bind_error = |source| StartError::Bind {
        environment,
        kind,
        addr,
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    tokio::spawn(server::listen(
        listener,
        environment,
        tls,
        Arc::clone(shared),
        stopped.clone(),
    ));
    Ok(bound)
}
