//! Playing planned phones against the running emulator and gateway, in scaled real time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pushtrace_apns::{DeviceToken, Environment};
use pushtrace_emulator::{Delivery, DeliveryHook, Device, DeviceState, EmulatorHandle};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::LiveDevice;
use super::gateway::{GatewayClient, GatewayError};

/// How the model's clock maps onto the wall clock.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Model seconds per real second: 1 is real time, 10 plays ten minutes in one.
    pub speed: f64,
    /// The model time (UTC microseconds) that maps to `wall_start_ms`.
    pub model_start: i64,
    /// Wall-clock ms since the epoch at which the model's `model_start` is played.
    pub wall_start_ms: i64,
    /// The emulator environment the tokens belong to (the gateway app's).
    pub environment: Environment,
    /// Who calls, as the gateway's calls name it.
    pub caller: String,
    /// After the last scheduled event, how long to wait for deliveries and receipts.
    pub grace: Duration,
}

impl LiveOptions {
    /// The wall-clock ms at which model time `at` is played.
    pub fn wall_ms(&self, at: i64) -> i64 {
        self.wall_start_ms + ((at - self.model_start) as f64 / self.speed / 1000.0).round() as i64
    }
}

/// A live run that could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("speed {0} is not a positive number of model seconds per real second")]
    Speed(f64),
    #[error("device {device}: token {token} is not a device token: {message}")]
    Token {
        device: String,
        token: String,
        message: String,
    },
    #[error("cannot register device {device} with the gateway: {source}")]
    Register {
        device: String,
        #[source]
        source: GatewayError,
    },
}

/// The emulator's deliveries, handed to the driver. Install the [`LiveHook`] in the emulator's
/// builder (`delivery_hook`) and give these to [`run`].
pub struct Deliveries(mpsc::UnboundedReceiver<Delivery>);

/// The emulator's delivery hook for live mode: it only queues, never blocks the emulator.
pub struct LiveHook(mpsc::UnboundedSender<Delivery>);

impl LiveHook {
    pub fn channel() -> (LiveHook, Deliveries) {
        let (tx, rx) = mpsc::unbounded_channel();
        (LiveHook(tx), Deliveries(rx))
    }
}

impl DeliveryHook for LiveHook {
    fn delivered(&self, delivery: &Delivery) {
        // The driver may be gone (the run ended); a late delivery then has no one to tell.
        let _ = self.0.send(delivery.clone());
    }
}

/// Running counts, readable while the run goes on (for a progress line).
#[derive(Debug, Default)]
pub struct Progress {
    pub state_changes: AtomicU64,
    pub calls: AtomicU64,
    pub call_errors: AtomicU64,
    pub deliveries: AtomicU64,
    pub receipts: AtomicU64,
    pub receipt_errors: AtomicU64,
    /// Deliveries for which the model's app posts nothing (not launched, or not delivered in
    /// the model) or whose receipt the model loses on its way to the server.
    pub silent: AtomicU64,
    /// Deliveries more than 2 s away from when the model's phone received the push, or that
    /// the model's phone never received.
    pub disagreements: AtomicU64,
    /// The latest any state change or call was applied after its scheduled wall time, in ms:
    /// how far the driver fell behind real time.
    pub max_lag_ms: AtomicU64,
}

fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// One call the driver rang.
#[derive(Clone, Debug)]
pub struct LiveCall {
    /// Index into the devices given to [`run`], and the push's index in its run.
    pub device: usize,
    pub push: usize,
    /// The id the driver created it with (`<device>-<seq>`).
    pub client_call_id: String,
    /// The gateway's call id; `None` when the gateway refused the call (`error` says why).
    pub call_id: Option<String>,
    pub error: Option<String>,
}

/// What a live run did.
#[derive(Clone, Debug, Default)]
pub struct LiveReport {
    pub devices: usize,
    pub calls: Vec<LiveCall>,
    pub state_changes: u64,
    pub deliveries: u64,
    pub receipts: u64,
    pub receipt_errors: u64,
    pub silent: u64,
    pub disagreements: u64,
    pub max_lag_ms: u64,
}

enum Action {
    State(usize, DeviceState),
    Call(usize, usize),
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn sleep_until_ms(at: i64) {
    let wait = at - now_ms();
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
}

/// Plays `devices` against the emulator and the gateway until the last model event has been
/// played and `grace` has passed, and returns what happened. The emulator must have been built
/// with the [`LiveHook`] whose [`Deliveries`] are given.
pub async fn run(
    emulator: &EmulatorHandle,
    gateway: &GatewayClient,
    deliveries: Deliveries,
    devices: Arc<Vec<LiveDevice>>,
    options: &LiveOptions,
    progress: Arc<Progress>,
) -> Result<LiveReport, LiveError> {
    if !(options.speed.is_finite() && options.speed > 0.0) {
        return Err(LiveError::Speed(options.speed));
    }
    register(emulator, gateway, &devices, options).await?;

    let mut schedule: Vec<(i64, Action)> = Vec::new();
    for (d, device) in devices.iter().enumerate() {
        for change in &device.changes {
            schedule.push((change.at, Action::State(d, change.state)));
        }
        for (p, push) in device.run.pushes.iter().enumerate() {
            schedule.push((push.sent_at, Action::Call(d, p)));
        }
    }
    // Stable: at equal times a state change is applied before the call the model made after it.
    schedule.sort_by_key(|(at, _)| *at);
    let last = schedule
        .last()
        .map_or(options.wall_start_ms, |(at, _)| options.wall_ms(*at));

    let calls_by_id: Arc<Mutex<HashMap<String, (usize, usize)>>> = Arc::default();
    let receipts = tokio::spawn(answer_deliveries(
        deliveries,
        gateway.clone(),
        Arc::clone(&devices),
        Arc::clone(&calls_by_id),
        options.clone(),
        Arc::clone(&progress),
    ));

    let mut ringing = JoinSet::new();
    for (at, action) in schedule {
        let due = options.wall_ms(at);
        sleep_until_ms(due).await;
        let lag = u64::try_from(now_ms() - due).unwrap_or(0);
        progress.max_lag_ms.fetch_max(lag, Ordering::Relaxed);
        match action {
            Action::State(d, state) => {
                let device = &devices[d];
                if let Ok(token) = DeviceToken::parse(&device.token) {
                    emulator.set_device_state(options.environment, &token, state);
                }
                count(&progress.state_changes);
            }
            Action::Call(d, p) => {
                let gateway = gateway.clone();
                let devices = Arc::clone(&devices);
                let calls_by_id = Arc::clone(&calls_by_id);
                let progress = Arc::clone(&progress);
                let caller = options.caller.clone();
                let window = window_secs(&devices[d], options.speed);
                ringing.spawn(async move {
                    let device = &devices[d];
                    let push = &device.run.pushes[p];
                    let client_call_id = format!("{}-{}", device.run.device, push.seq);
                    let created = gateway
                        .create_call(&client_call_id, &caller, &device.run.device, window)
                        .await;
                    count(&progress.calls);
                    let (call_id, error) = match created {
                        Ok(answer) => match answer["call"]["call_id"].as_str() {
                            Some(id) => {
                                lock(&calls_by_id).insert(id.to_string(), (d, p));
                                (Some(id.to_string()), None)
                            }
                            None => (None, Some(format!("no call.call_id in {answer}"))),
                        },
                        Err(e) => (None, Some(e.to_string())),
                    };
                    if error.is_some() {
                        count(&progress.call_errors);
                    }
                    LiveCall {
                        device: d,
                        push: p,
                        client_call_id,
                        call_id,
                        error,
                    }
                });
            }
        }
    }
    let mut calls = Vec::new();
    while let Some(done) = ringing.join_next().await {
        if let Ok(call) = done {
            calls.push(call);
        }
    }
    calls.sort_by_key(|c| (c.device, c.push));
    sleep_until_ms(last + options.grace.as_millis() as i64).await;
    receipts.abort();
    let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
    tracing::debug!(calls = calls.len(), "live run ended");
    Ok(LiveReport {
        devices: devices.len(),
        calls,
        state_changes: read(&progress.state_changes),
        deliveries: read(&progress.deliveries),
        receipts: read(&progress.receipts),
        receipt_errors: read(&progress.receipt_errors),
        silent: read(&progress.silent),
        disagreements: read(&progress.disagreements),
        max_lag_ms: read(&progress.max_lag_ms),
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The call's ring window on the wall clock, whole seconds as the gateway takes it (1–3600).
fn window_secs(device: &LiveDevice, speed: f64) -> u64 {
    let secs = device.ring_window_micros as f64 / 1e6 / speed;
    (secs.round() as u64).clamp(1, 3600)
}

/// Each phone's token in the emulator (with its starting state, 410 from the start when the
/// model says so) and in the gateway (as its user's VoIP token, with cohort attributes).
async fn register(
    emulator: &EmulatorHandle,
    gateway: &GatewayClient,
    devices: &[LiveDevice],
    options: &LiveOptions,
) -> Result<(), LiveError> {
    for device in devices {
        let token = DeviceToken::parse(&device.token).map_err(|e| LiveError::Token {
            device: device.run.device.clone(),
            token: device.token.clone(),
            message: e.to_string(),
        })?;
        // A token of the other environment is known there only, so the emulator answers the
        // gateway's pushes 400 BadDeviceToken, as APNs does.
        let environment = match (device.wrong_environment, options.environment) {
            (false, own) => own,
            (true, Environment::Sandbox) => Environment::Production,
            (true, Environment::Production) => Environment::Sandbox,
        };
        let mut entry = Device::new(environment, device.topic.clone(), token.clone());
        if device.unregistered {
            entry.unregistered_at_ms = Some(options.wall_start_ms.saturating_sub(60_000) as u64);
        }
        emulator.register_device(entry);
        emulator.set_device_state(environment, &token, device.initial);
    }
    // A few at a time: enough to hide the round trips, few enough not to queue at the store.
    let mut pending = JoinSet::new();
    for device in devices {
        let gateway = gateway.clone();
        let token = device.token.clone();
        let name = device.run.device.clone();
        let attrs = json!({
            "os_version": device.run.os,
            "interface": device.run.interface,
        });
        pending.spawn(async move {
            gateway
                .register_token(&token, &name, &attrs)
                .await
                .map_err(|source| LiveError::Register {
                    device: name,
                    source,
                })
        });
        if pending.len() >= 16
            && let Some(Ok(result)) = pending.join_next().await
        {
            result?;
        }
    }
    while let Some(done) = pending.join_next().await {
        if let Ok(result) = done {
            result?;
        }
    }
    Ok(())
}

/// For each delivery, the receipt the model's app posts: when it was handed the push, when it
/// reported the call to CallKit (or not), `mustReport` as it saw it. None when the model's app
/// was never handed the push (blocked by iOS, or the model's phone did not receive it).
async fn answer_deliveries(
    mut deliveries: Deliveries,
    gateway: GatewayClient,
    devices: Arc<Vec<LiveDevice>>,
    calls_by_id: Arc<Mutex<HashMap<String, (usize, usize)>>>,
    options: LiveOptions,
    progress: Arc<Progress>,
) {
    let mut posting = JoinSet::new();
    while let Some(delivery) = deliveries.0.recv().await {
        count(&progress.deliveries);
        let payload: Value = serde_json::from_slice(&delivery.push.payload).unwrap_or(Value::Null);
        // Missed-call alerts and pushes the gateway did not send have no receipt token.
        let (Some(call_id), Some(push_id), Some(receipt_token)) = (
            payload["call_id"].as_str().map(str::to_owned),
            payload["push_id"].as_str().map(str::to_owned),
            payload["receipt_token"].as_str().map(str::to_owned),
        ) else {
            continue;
        };
        let gateway = gateway.clone();
        let devices = Arc::clone(&devices);
        let calls_by_id = Arc::clone(&calls_by_id);
        let options = options.clone();
        let progress = Arc::clone(&progress);
        posting.spawn(async move {
            // The delivery can beat the create-call answer that names the call.
            let mut found = None;
            for _ in 0..300 {
                found = lock(&calls_by_id).get(&call_id).copied();
                if found.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let Some((d, p)) = found else {
                tracing::warn!(
                    call_id,
                    "a delivery for a call the live driver did not make"
                );
                return;
            };
            let device = &devices[d];
            let truth = &device.run.pushes[p];
            let Some(received) = truth.received_at else {
                count(&progress.silent);
                // A blocked app is delivered to but not launched; a push the model's phone
                // never received is a disagreement between the model and the emulator.
                if truth.outcome == pushtrace_model::Outcome::NotDelivered {
                    count(&progress.disagreements);
                }
                return;
            };
            let received_ms = options.wall_ms(received);
            if (received_ms - delivery.delivered_at_ms as i64).abs() > 2_000 {
                count(&progress.disagreements);
            }
            if truth.receipt_lost {
                // The model's receipt never reached its server (`calls.receipt_lost_share`):
                // the gateway hears nothing either, and resends and alerts as it would.
                count(&progress.silent);
                return;
            }
            let reported_ms = truth.reported_at.map(|at| options.wall_ms(at));
            sleep_until_ms(reported_ms.unwrap_or(received_ms)).await;
            let mut receipt = json!({
                "push_id": push_id,
                "call_id": call_id,
                "receipt_token": receipt_token,
                "device_received_at": received_ms,
                "reported_at": reported_ms,
                "app_state": "background",
                "network": if device.run.interface == "wifi" { "wifi" } else { "cellular" },
                "device_sent_at": now_ms(),
            });
            if let Some(must_report) = truth.must_report {
                receipt["must_report"] = Value::Bool(must_report);
            }
            match gateway.post_receipt(receipt).await {
                Ok(_) => count(&progress.receipts),
                Err(e) => {
                    count(&progress.receipt_errors);
                    tracing::warn!(error = %e, "the gateway refused a receipt");
                }
            }
        });
        while posting.try_join_next().is_some() {}
    }
}
