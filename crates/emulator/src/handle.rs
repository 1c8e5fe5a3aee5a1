//! [`EmulatorHandle`], the running emulator as a test or the binary drives it: its addresses
//! and certificates, devices, the delivery model, faults, the admin API and the hook.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pushtrace_apns::{ApnsId, DeviceToken, Environment};
use tokio::sync::watch;

use crate::admin::{AdminInfo, AdminToken, HookView};
use crate::server::Shared;
use crate::sync::lock;
use crate::{
    AcceptedPush, Category, ClientCertificate, ClientCertificateRequest, Clock, DeliveryRecord,
    Device, DeviceState, FaultError, FaultRule, FaultStatus, HookStats, IssueError, Latency,
    Settings, client_cert,
};

/// A running emulator. Dropping it stops the listeners and closes open connections with a GOAWAY.
#[derive(Debug)]
pub struct EmulatorHandle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) stop: watch::Sender<bool>,
    pub(crate) sandbox: (SocketAddr, Option<SocketAddr>),
    pub(crate) production: (SocketAddr, Option<SocketAddr>),
    pub(crate) ca_pem: String,
    pub(crate) ca_pem_path: Option<PathBuf>,
    pub(crate) client_ca: ClientCa,
    pub(crate) admin: Option<AdminInfo>,
    pub(crate) hook_view: Option<HookView>,
}

/// The CA kept to issue client certificates (its key is not printed).
#[derive(Clone)]
pub(crate) struct ClientCa(pub(crate) Arc<rcgen::CertifiedIssuer<'static, rcgen::KeyPair>>);

impl std::fmt::Debug for ClientCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientCa(..)")
    }
}

impl EmulatorHandle {
    /// The TLS listener of an environment.
    pub fn addr(&self, environment: Environment) -> SocketAddr {
        match environment {
            Environment::Sandbox => self.sandbox.0,
            Environment::Production => self.production.0,
        }
    }

    /// The h2c (cleartext) listener of an environment, when enabled.
    pub fn h2c_addr(&self, environment: Environment) -> Option<SocketAddr> {
        match environment {
            Environment::Sandbox => self.sandbox.1,
            Environment::Production => self.production.1,
        }
    }

    /// The CA certificate (PEM) that signed the server certificate: trust it in clients.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Where the CA was written, if a path was given.
    pub fn ca_pem_path(&self) -> Option<&Path> {
        self.ca_pem_path.as_deref()
    }

    /// Issues a provider (client) certificate signed by the emulator's CA, shaped like Apple's
    /// push certificates (see [`ClientCertificateRequest`]). Present it in the TLS handshake to
    /// open a certificate connection.
    pub fn issue_client_certificate(
        &self,
        request: &ClientCertificateRequest,
    ) -> Result<ClientCertificate, IssueError> {
        client_cert::issue(&self.client_ca.0, request)
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// The emulator's clock (move a manual one to age tokens and windows).
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// Every push answered 200 so far, oldest first, within
    /// [`Settings::delivery_log_retention`] and [`Settings::delivery_log_max_records`].
    pub fn accepted(&self) -> Vec<AcceptedPush> {
        lock(&self.shared.store).accepted().cloned().collect()
    }

    /// Registers (or re-registers, making it live again) a device at run time. Stored pushes
    /// for a token unregistered by now are discarded ("token unregistered").
    pub fn register_device(&self, device: Device) {
        lock(&self.shared.devices).insert(device);
        self.shared.tick();
    }

    /// Marks a registered (or new) token unregistered for `topic` from `at_ms`.
    pub fn unregister_device(
        &self,
        environment: Environment,
        topic: impl Into<String>,
        token: DeviceToken,
        at_ms: u64,
    ) {
        self.register_device(Device::new(environment, topic, token).unregistered_at(at_ms));
    }

    /// Stops the listeners and sends GOAWAY on open connections.
    pub fn shutdown(self) {
        drop(self);
    }
}

/// The admin API and the hook, seen from the handle.
impl EmulatorHandle {
    /// Where the admin API listens, when it was enabled.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|admin| admin.addr)
    }

    /// The admin API's token (its secret and where it came from), when it was enabled.
    pub fn admin_token(&self) -> Option<&AdminToken> {
        self.admin.as_ref().map(|admin| admin.token.as_ref())
    }

    /// The HTTP delivery hook's counters, when one is configured.
    pub fn hook_stats(&self) -> Option<HookStats> {
        self.hook_view.as_ref().map(HookView::stats)
    }

    /// Every registered (token, topic), unregistered ones included, sorted by environment
    /// (sandbox first), token and topic.
    pub fn devices(&self) -> Vec<Device> {
        lock(&self.shared.devices).devices()
    }
}

/// The delivery model's run-time API.
impl EmulatorHandle {
    /// Sets a device's state now (by the emulator's clock), after applying what was due. Coming
    /// online delivers its stored pushes in arrival order; leaving power restriction for
    /// online delivers the ones stored for power.
    pub fn set_device_state(
        &self,
        environment: Environment,
        token: &DeviceToken,
        state: DeviceState,
    ) {
        self.shared.set_device_state(environment, token, state);
    }

    /// A device's current state (as of the last processing; see [`EmulatorHandle::tick`]).
    pub fn device_state(&self, environment: Environment, token: &DeviceToken) -> DeviceState {
        lock(&self.shared.store).state(environment, token)
    }

    /// Applies everything due by the clock's now, in time order: scheduled state changes,
    /// expirations, unregistrations of stored tokens, delayed attempts. Requests and the
    /// system-clock ticker do this too; with a manual clock, tests call it (or
    /// [`EmulatorHandle::advance`]).
    pub fn tick(&self) {
        self.shared.tick();
    }

    /// Moves a manual clock forward and [ticks](EmulatorHandle::tick); returns `false` for
    /// the system clock (which is not moved, but still ticked).
    pub fn advance(&self, by: Duration) -> bool {
        let moved = self.shared.clock.advance(by);
        self.shared.tick();
        moved
    }

    /// The delivery log: one record per accepted push, in arrival order, within
    /// [`Settings::delivery_log_retention`] and [`Settings::delivery_log_max_records`] (a push
    /// still stored is kept past both).
    pub fn delivery_log(&self) -> Vec<DeliveryRecord> {
        lock(&self.shared.store).records().cloned().collect()
    }

    /// The record of the push answered with this `apns-unique-id` (sandbox) or, failing that,
    /// this `apns-id` (the latest such push).
    pub fn delivery_record(&self, id: &ApnsId) -> Option<DeliveryRecord> {
        let store = lock(&self.shared.store);
        store
            .records()
            .find(|r| r.unique_id.as_ref() == Some(id))
            .or_else(|| store.records().rev().find(|r| r.apns_id == *id))
            .cloned()
    }

    /// The pushes stored now, in arrival order.
    pub fn stored(&self) -> Vec<DeliveryRecord> {
        lock(&self.shared.store).stored()
    }

    /// Events per category over the whole log (categories never seen are absent).
    pub fn counts(&self) -> BTreeMap<Category, u64> {
        lock(&self.shared.store).counts().clone()
    }
}

/// Fault injection at run time.
impl EmulatorHandle {
    /// Replaces the fault rules (all are checked first; on an error nothing changes).
    pub fn set_faults(&self, rules: Vec<FaultRule>) -> Result<(), FaultError> {
        lock(&self.shared.faults).set_rules(rules)
    }

    /// Adds a rule after the others (which keep their counts).
    pub fn add_fault(&self, rule: FaultRule) -> Result<(), FaultError> {
        lock(&self.shared.faults).add_rule(rule)
    }

    /// Removes every rule.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// The rules in force and how many requests each has hit.
    pub fn faults(&self) -> Vec<FaultStatus> {
        lock(&self.shared.faults).rules()
    }

    /// Sets (or with `None` removes) the added response latency.
    pub fn set_latency(&self, latency: Option<Latency>) -> Result<(), FaultError> {
        lock(&self.shared.faults).set_latency(latency)
    }

    /// The added response latency in force.
    pub fn latency(&self) -> Option<Latency> {
        lock(&self.shared.faults).latency()
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
