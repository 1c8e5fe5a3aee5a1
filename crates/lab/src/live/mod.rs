//! Live mode: the device model drives the real APNs emulator's devices in scaled real time, and
//! calls are rung through the real gateway.
//!
//! Each simulated phone is simulated ahead in virtual time ([`plan_device`]); what APNs can see
//! of it (connected, connected under powerd's policy 3, not connected) is read from the model's
//! typed log messages into a list of [`StateChange`]s. [`run`](driver::run) then plays every
//! phone at `speed` × real time: it registers each phone's token with the emulator and the
//! gateway, sets the emulator device's state as the model's changes, rings each call the model
//! makes through the gateway's HTTP API (the gateway sends the push over HTTP/2 to the
//! emulator), and when the emulator delivers a push it posts the receipt the model's app would
//! post (or none, when the model's app was not launched).
//!
//! The model decides what the phone does; the emulator decides, from the states it is given,
//! when APNs delivers. [`LiveReport::disagreements`] counts deliveries where they differ.

mod driver;
mod gateway;

use pushtrace_emulator::DeviceState;

use crate::log::Message;
use crate::scenario::Scenario;
use crate::sim::{DeviceRun, simulate_device};

pub use driver::{
    Deliveries, LiveCall, LiveError, LiveHook, LiveOptions, LiveReport, Progress, run,
};
pub use gateway::{GatewayClient, GatewayError};

/// A change of what APNs sees of a phone, at a model time (UTC microseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateChange {
    pub at: i64,
    pub state: DeviceState,
}

/// One phone ready to be played live.
#[derive(Debug)]
pub struct LiveDevice {
    /// Its simulated run: pushes with their truth, and its log.
    pub run: DeviceRun,
    /// Its PushKit token (32 bytes as hex), unique per device name.
    pub token: String,
    /// The VoIP topic its pushes go to.
    pub topic: String,
    /// Its state when the run starts, then each change in time order.
    pub initial: DeviceState,
    pub changes: Vec<StateChange>,
    /// APNs answers its token 410 from the start.
    pub unregistered: bool,
    /// How long the app's ring lasts before the caller gives up (the push's deadline).
    pub ring_window_micros: i64,
    /// The scenario's time zone, for writing its log.
    pub offset: pushtrace_model::UtcOffset,
    /// The app's process name in its log.
    pub process: String,
}

/// Simulates device `index` of `scenario` (with its log), names it `name`, and works out the
/// states the emulator must show for it.
pub fn plan_device(scenario: &Scenario, index: u32, name: &str) -> LiveDevice {
    let mut run = simulate_device(scenario, index, true);
    run.device = name.to_string();
    let initial_policy = if scenario.powerd.display_on_at_start {
        0
    } else {
        3
    };
    let (initial, changes) = states(&run, initial_policy);
    let unregistered = run.pushes.iter().any(|p| p.status == 410);
    LiveDevice {
        token: token_for(name),
        topic: format!("{}.voip", scenario.app.bundle),
        initial,
        changes,
        unregistered,
        ring_window_micros: scenario.calls.ring_window.micros(),
        offset: scenario.fleet.start.offset(),
        process: scenario.app.process.clone(),
        run,
    }
}

/// What APNs sees of the phone over its run: not connected (offline), connected while powerd
/// holds assertion policy 3 (power-restricted: only priority-10 pushes get through), or
/// connected and awake (online). Read from the typed messages the model logged, in order.
pub fn states(run: &DeviceRun, initial_policy: u8) -> (DeviceState, Vec<StateChange>) {
    let state = |connected: bool, policy: u8| match (connected, policy) {
        (false, _) => DeviceState::Offline,
        (true, 3) => DeviceState::PowerRestricted,
        (true, _) => DeviceState::Online,
    };
    let mut connected = true;
    let mut policy = initial_policy;
    let initial = state(connected, policy);
    let mut current = initial;
    let mut changes = Vec::new();
    for line in &run.log {
        match &line.message {
            Message::Connected(_) => connected = true,
            // A cellular outage logs CommCenter losing registration (RRC idle alone is the
            // radio's ordinary churn), a Wi-Fi one or a move to the other network the closed
            // connection. A silently dropped connection was already gone on APNs's side; the
            // keep-alive is when the phone finds out, the closest time the log gives.
            Message::RegistrationLost
            | Message::ConnectionClosed(_)
            | Message::KeepAliveFailed(_) => connected = false,
            Message::PolicyApplied(p) => policy = *p,
            _ => continue,
        }
        let next = state(connected, policy);
        if next != current {
            changes.push(StateChange {
                at: line.at,
                state: next,
            });
            current = next;
        }
    }
    (initial, changes)
}

/// A stable 32-byte token for a device name (FNV-1a over the name, four rounds): the same
/// device gets the same token in every run, so a rerun's records line up.
pub fn token_for(name: &str) -> String {
    let mut out = String::with_capacity(64);
    for round in 0u64..4 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for byte in name.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{hash:016x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn founding() -> Scenario {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scenarios/founding-incident.toml"
        );
        Scenario::load(std::path::Path::new(path)).unwrap()
    }

    #[test]
    fn the_founding_incident_goes_offline_at_the_outage_and_back_at_the_wake() {
        let device = plan_device(&founding(), 0, "phone-1");
        assert_eq!(device.initial, DeviceState::PowerRestricted);
        let kinds: Vec<DeviceState> = device.changes.iter().map(|c| c.state).collect();
        assert_eq!(kinds.first(), Some(&DeviceState::Offline), "{kinds:?}");
        // The cellular call's wake brings policy 0 and the reconnect: online again.
        assert!(kinds.contains(&DeviceState::Online), "{kinds:?}");
        let push = &device.run.pushes[0];
        let offline_at = device.changes[0].at;
        let back = device
            .changes
            .iter()
            .find(|c| c.state != DeviceState::Offline)
            .unwrap();
        assert!(offline_at < push.sent_at && push.sent_at < back.at);
    }

    #[test]
    fn tokens_are_64_hex_digits_and_differ_by_name() {
        let a = token_for("lab-000001");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, token_for("lab-000002"));
        assert_eq!(a, token_for("lab-000001"));
    }
}
