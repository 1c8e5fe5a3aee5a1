//! What a log line says the iPhone did: typed device events.
//!
//! A [`DeviceEvent`] is one log line understood by one rule of the catalogue (`rules/ios.toml`):
//! its instant, the process that logged it, the typed [`EventKind`], the rule's id and the
//! original line with its origin, so every conclusion drawn later can show its evidence.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::record::Origin;
use crate::time::Timestamp;

/// One understood log line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEvent {
    pub at: Timestamp,
    /// The process that logged the line.
    pub process: String,
    /// Its pid, when the log format prints one: it ties a line to the app's launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// What the line means. Nested (not flattened) because kinds have fields such as `process`
    /// and `pid` of their own (the process NECP made defunct).
    #[serde(rename = "event")]
    pub kind: EventKind,
    /// The id of the rule that matched (`apsd.path_satisfied`).
    pub rule: String,
    pub source: Origin,
    /// The message as logged.
    pub raw: String,
}

/// Whether powerd announced a policy or a client applied it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyStage {
    Sent,
    Applied,
}

/// The kinds of events the rule catalogue produces. Every text field a message may redact
/// (`<private>`) is an `Option`: a rule never invents it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// symptomsd: the cellular radio's RRC state (0 idle, 1 connected) on an interface.
    RrcState {
        interface: Option<String>,
        state: u8,
        previous: Option<u8>,
    },
    /// CommCenter: the cellular registration state (`kRegisteredHome`, `kRegisteredRoaming`, …).
    CellRegistration { state: Option<String> },
    /// apsd (libnetwork): the path of an APNs connection became satisfied: reconnection begins.
    ApnsPathSatisfied {
        interface: Option<String>,
        radio: Option<String>,
        port: Option<u16>,
        connection: Option<String>,
    },
    /// apsd: data arrived from APNs on an interface: the connection is up there.
    ApnsDataReceived {
        interface: Option<String>,
        length: Option<u32>,
        connected_interfaces: Option<u32>,
    },
    /// apsd: the connection manager decided not to connect (nothing usable, or already connected).
    ApnsConnectSkipped {
        reason: String,
        connected_interfaces: Option<u32>,
        wwan_usable: Option<bool>,
        wifi_usable: Option<bool>,
        /// apsd's back-off: the next attempt in this many seconds ("scheduled reconnect in …").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_in_s: Option<u32>,
    },
    /// apsd: the connection manager brings up cellular for dual channel.
    ApnsKickWwan,
    /// apsd: a keepalive (`explicit` sent, or `implicit` timer reset).
    ApnsKeepAlive {
        mode: String,
        interface: Option<String>,
        interval_s: Option<u32>,
        connected_interfaces: Option<u32>,
    },
    /// apsd: a push arrived for a topic the device has `enabled`, `ignored`, `recently_removed` or `unknown`.
    PushReceived {
        filter: String,
        topic: Option<String>,
        interface: Option<String>,
        priority: Option<u8>,
    },
    /// apsd: the topic filter policy (lock state and downgrade rule).
    TopicPolicyState {
        downgrade_when_locked: Option<bool>,
        system_locked: Option<bool>,
        ultra_constrained: Option<bool>,
    },
    /// apsd: a topic downgraded (`non-waking`, `ignored`) by the filter policy.
    TopicDowngraded { topic: Option<String>, to: String },
    /// apsd: a power assertion taken for some work (`APSCourier(tcpStream:dataReceived:)`).
    ApsdPowerAssertion { identifier: Option<String> },
    /// IOKit inside a client: powerd asked assertion holders to re-evaluate (policy change ahead).
    AssertionActivityUpdate,
    /// IOKit inside a client: a step of its assertion-policy set-up (`registering`, `received`
    /// category policies, a `category` and its policy).
    AssertionPolicyConfig {
        step: String,
        category: Option<String>,
        policy: Option<String>,
    },
    /// IOKit inside a client: one of its assertions timed out under the current policy.
    AssertionPolicyTimeout {
        assertion_id: Option<String>,
        time: Option<u64>,
        policy_timeout: Option<u64>,
    },
    /// powerd sent, or a client applied, an assertion policy (0 none, 1 active use, 2 inactive, 3 display off).
    PowerPolicy { level: u8, stage: PolicyStage },
    /// powerd: the user-activity level changed (bit 0x1 active, 0x2 passive).
    UserActivity { from: u64, to: u64 },
    /// powerd: HID and display state.
    DisplayState {
        display_off: bool,
        hid_active: Option<bool>,
    },
    /// powerd: an assertion that woke the system for a call (`sipIncoming`).
    CallWake {
        source: String,
        owner: Option<String>,
        owner_pid: Option<u32>,
        assertion: String,
    },
    /// powerd: a SystemIsActive assertion created or released by a process.
    SystemAssertion {
        action: String,
        owner: Option<String>,
        owner_pid: Option<u32>,
        name: Option<String>,
    },
    /// powerd: the System Assertion Timeout started, fired, allowed or dropped an assertion.
    AssertionTimeout {
        action: String,
        process: Option<String>,
    },
    /// kernel: NECP tore down a process's network flows (it was made defunct).
    NecpDefunct {
        pid: u32,
        process: Option<String>,
        error: Option<i32>,
    },
    /// callservicesd: a VoIP push for an app arrived from apsd.
    VoipPushToApp {
        bundle: Option<String>,
        topic: Option<String>,
    },
    /// callservicesd: launching the app for a VoIP push (`attempting`, `opened`, `assertion_taken`, `assertion_invalidated`).
    AppLaunchForPush {
        stage: String,
        bundle: Option<String>,
    },
    /// callservicesd: the app is blocked from VoIP launches for failing to report calls.
    VoipBlocked {
        bundle: Option<String>,
        delivered_anyway: bool,
    },
    /// PushKit in the app: the app was killed for not reporting a VoIP push to CallKit.
    AppKilledForNotReporting,
    /// The app's own last words as it crashes (the Swift runtime's `Fatal error:`, an uncaught
    /// Objective-C exception), logged in its own process: `reason` is what it said.
    AppCrashed { reason: Option<String> },
    /// SpringBoard / runningboardd: the app's process ended (exited, crashed or was killed).
    AppExited {
        bundle: Option<String>,
        reason: Option<String>,
    },
    /// SpringBoard: a request to open an app (`from` = the requesting daemon).
    AppOpenRequested {
        bundle: Option<String>,
        from: Option<String>,
    },
    /// SpringBoard: an app's process state.
    AppProcessState {
        bundle: Option<String>,
        task_state: Option<String>,
        visibility: Option<String>,
    },
    /// runningboardd / assertiond: callservicesd's VoIP process assertion for an app.
    VoipProcessAssertion {
        action: String,
        target: Option<String>,
    },
    /// dasd: Internet Sharing (personal hotspot) active or not.
    InternetSharing { active: bool },
    /// apsd: the connection to APNs is established (TLS done, connected) on an interface.
    ApnsConnected { interface: Option<String> },
    /// apsd: the connection to APNs closed or was lost.
    ApnsDisconnected {
        interface: Option<String>,
        reason: Option<String>,
    },
    /// apsd: an attempt to connect to APNs failed (DNS, TLS, timeout: CFNetwork / NSURLError
    /// codes such as -1003 when the host is not found).
    ApnsConnectFailed {
        interface: Option<String>,
        error: Option<String>,
        code: Option<i64>,
    },
    /// A network interface or path came up (`up`) or went down, as configd, wifid, CommCenter
    /// or libnetwork report it: the network coming back ends a radio outage.
    NetworkState { interface: Option<String>, up: bool },
    /// apsd scheduled its next wake (a reconnect or keepalive timer) for `fire_at`.
    WakeScheduled { fire_at: Option<Timestamp> },
    /// CallKit: the app reported a new incoming call (the ring).
    CallReported {
        bundle: Option<String>,
        call: Option<String>,
    },
}

impl EventKind {
    /// The snake_case name of the kind, as in JSON and in `rules/ios.toml`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::RrcState { .. } => "rrc_state",
            EventKind::CellRegistration { .. } => "cell_registration",
            EventKind::ApnsPathSatisfied { .. } => "apns_path_satisfied",
            EventKind::ApnsDataReceived { .. } => "apns_data_received",
            EventKind::ApnsConnectSkipped { .. } => "apns_connect_skipped",
            EventKind::ApnsKickWwan => "apns_kick_wwan",
            EventKind::ApnsKeepAlive { .. } => "apns_keep_alive",
            EventKind::PushReceived { .. } => "push_received",
            EventKind::TopicPolicyState { .. } => "topic_policy_state",
            EventKind::TopicDowngraded { .. } => "topic_downgraded",
            EventKind::ApsdPowerAssertion { .. } => "apsd_power_assertion",
            EventKind::AssertionActivityUpdate => "assertion_activity_update",
            EventKind::AssertionPolicyConfig { .. } => "assertion_policy_config",
            EventKind::AssertionPolicyTimeout { .. } => "assertion_policy_timeout",
            EventKind::PowerPolicy { .. } => "power_policy",
            EventKind::UserActivity { .. } => "user_activity",
            EventKind::DisplayState { .. } => "display_state",
            EventKind::CallWake { .. } => "call_wake",
            EventKind::SystemAssertion { .. } => "system_assertion",
            EventKind::AssertionTimeout { .. } => "assertion_timeout",
            EventKind::NecpDefunct { .. } => "necp_defunct",
            EventKind::VoipPushToApp { .. } => "voip_push_to_app",
            EventKind::AppLaunchForPush { .. } => "app_launch_for_push",
            EventKind::VoipBlocked { .. } => "voip_blocked",
            EventKind::AppKilledForNotReporting => "app_killed_for_not_reporting",
            EventKind::AppCrashed { .. } => "app_crashed",
            EventKind::AppExited { .. } => "app_exited",
            EventKind::AppOpenRequested { .. } => "app_open_requested",
            EventKind::AppProcessState { .. } => "app_process_state",
            EventKind::VoipProcessAssertion { .. } => "voip_process_assertion",
            EventKind::InternetSharing { .. } => "internet_sharing",
            EventKind::ApnsConnected { .. } => "apns_connected",
            EventKind::ApnsDisconnected { .. } => "apns_disconnected",
            EventKind::ApnsConnectFailed { .. } => "apns_connect_failed",
            EventKind::NetworkState { .. } => "network_state",
            EventKind::CallReported { .. } => "call_reported",
            EventKind::WakeScheduled { .. } => "wake_scheduled",
        }
    }
}

/// The name of a power assertion policy level (IOPMAssertionCategories.h).
pub fn policy_name(level: u8) -> &'static str {
    match level {
        0 => "none",
        1 => "active use",
        2 => "inactive",
        3 => "display off",
        _ => "unknown level",
    }
}

fn or_redacted(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("<private>")
}

/// One plain sentence: what the line means (the `↑` line of a timeline).
impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::RrcState {
                interface,
                state,
                previous,
            } => {
                let name = |s: u8| if s == 0 { "idle" } else { "connected" };
                write!(
                    f,
                    "radio RRC {} on {}",
                    name(*state),
                    or_redacted(interface)
                )?;
                if let Some(p) = previous {
                    write!(f, " (was {})", name(*p))?;
                }
                Ok(())
            }
            EventKind::CellRegistration { state } => {
                write!(f, "cellular registration: {}", or_redacted(state))
            }
            EventKind::ApnsPathSatisfied {
                interface,
                radio,
                port,
                ..
            } => {
                write!(f, "APNs path satisfied on {}", or_redacted(interface))?;
                match (radio, port) {
                    (Some(r), Some(p)) => write!(f, " ({r}, port {p})")?,
                    (Some(r), None) => write!(f, " ({r})")?,
                    (None, Some(p)) => write!(f, " (port {p})")?,
                    (None, None) => {}
                }
                write!(f, ": reconnection begins, not yet connected")
            }
            EventKind::ApnsDataReceived {
                interface,
                connected_interfaces,
                ..
            } => {
                write!(
                    f,
                    "APNs data received on {}: connected",
                    or_redacted(interface)
                )?;
                if let Some(n) = connected_interfaces {
                    write!(f, " on {n} interface(s)")?;
                }
                Ok(())
            }
            EventKind::ApnsConnectSkipped {
                reason,
                wwan_usable,
                wifi_usable,
                ..
            } => {
                write!(f, "APNs connection not attempted: {reason}")?;
                let yn = |b: &Option<bool>| match b {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "?",
                };
                if wwan_usable.is_some() || wifi_usable.is_some() {
                    write!(
                        f,
                        " (cellular usable: {}, Wi-Fi usable: {})",
                        yn(wwan_usable),
                        yn(wifi_usable)
                    )?;
                }
                Ok(())
            }
            EventKind::ApnsKickWwan => write!(f, "apsd brings up cellular for dual channel"),
            EventKind::ApnsKeepAlive {
                mode,
                interface,
                interval_s,
                ..
            } => {
                write!(f, "APNs {mode} keepalive on {}", or_redacted(interface))?;
                if let Some(s) = interval_s {
                    write!(f, ", interval {s} s")?;
                }
                write!(f, ": connection alive")
            }
            EventKind::PushReceived {
                filter,
                topic,
                interface,
                priority,
            } => {
                write!(
                    f,
                    "push received for {filter} topic {} on {}",
                    or_redacted(topic),
                    or_redacted(interface)
                )?;
                if let Some(p) = priority {
                    write!(f, ", priority {p}")?;
                }
                Ok(())
            }
            EventKind::TopicPolicyState {
                downgrade_when_locked,
                system_locked,
                ..
            } => {
                let yn = |b: &Option<bool>| match b {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "?",
                };
                write!(
                    f,
                    "topic filter policy: locked {}, downgrade when locked {}",
                    yn(system_locked),
                    yn(downgrade_when_locked)
                )
            }
            EventKind::TopicDowngraded { topic, to } => {
                write!(f, "topic {} downgraded to {to}", or_redacted(topic))
            }
            EventKind::ApsdPowerAssertion { identifier } => {
                write!(
                    f,
                    "apsd holds a power assertion ({})",
                    or_redacted(identifier)
                )
            }
            EventKind::AssertionActivityUpdate => {
                write!(
                    f,
                    "powerd asked for an assertion activity update: a policy change is coming"
                )
            }
            EventKind::AssertionPolicyConfig {
                step,
                category,
                policy,
            } => {
                write!(f, "assertion policy set-up: {step}")?;
                if category.is_some() || policy.is_some() {
                    write!(f, " ({} → {})", or_redacted(category), or_redacted(policy))?;
                }
                Ok(())
            }
            EventKind::AssertionPolicyTimeout {
                assertion_id,
                policy_timeout,
                ..
            } => {
                write!(
                    f,
                    "assertion {} timed out under the current policy",
                    or_redacted(assertion_id)
                )?;
                if let Some(t) = policy_timeout {
                    write!(f, " (policy timeout {t})")?;
                }
                Ok(())
            }
            EventKind::PowerPolicy {
                level,
                stage: PolicyStage::Sent,
            } => {
                write!(
                    f,
                    "powerd sends assertion policy {level} ({})",
                    policy_name(*level)
                )
            }
            EventKind::PowerPolicy {
                level,
                stage: PolicyStage::Applied,
            } => {
                write!(
                    f,
                    "assertion policy {level} ({}) applied",
                    policy_name(*level)
                )
            }
            EventKind::UserActivity { from, to } => {
                let name = |v: u64| {
                    if v & 1 == 1 {
                        "active"
                    } else if v & 2 == 2 {
                        "passive"
                    } else {
                        "inactive"
                    }
                };
                write!(
                    f,
                    "user activity {:#x} → {:#x} ({} → {})",
                    from,
                    to,
                    name(*from),
                    name(*to)
                )
            }
            EventKind::DisplayState { display_off, .. } => {
                write!(f, "display {}", if *display_off { "off" } else { "on" })
            }
            EventKind::CallWake {
                source,
                owner,
                assertion,
                ..
            } => {
                write!(
                    f,
                    "system woken by {source} ({}: {assertion})",
                    or_redacted(owner)
                )
            }
            EventKind::SystemAssertion {
                action,
                owner,
                name,
                ..
            } => {
                write!(
                    f,
                    "{} {action} a SystemIsActive assertion",
                    or_redacted(owner)
                )?;
                if let Some(n) = name {
                    write!(f, " ({n})")?;
                }
                Ok(())
            }
            EventKind::AssertionTimeout { action, process } => {
                write!(f, "system assertion timeout: {action}")?;
                if let Some(p) = process {
                    write!(f, " ({p})")?;
                }
                Ok(())
            }
            EventKind::NecpDefunct { pid, process, .. } => {
                write!(
                    f,
                    "kernel tore down the network flows of {} (pid {pid}): defunct",
                    or_redacted(process)
                )
            }
            EventKind::VoipPushToApp { bundle, .. } => {
                write!(
                    f,
                    "VoIP push handed to callservicesd for {}",
                    or_redacted(bundle)
                )
            }
            EventKind::AppLaunchForPush { stage, bundle } => {
                write!(f, "launch for VoIP push: {stage} ({})", or_redacted(bundle))
            }
            EventKind::VoipBlocked {
                bundle,
                delivered_anyway,
            } => {
                write!(
                    f,
                    "{} blocked from VoIP launches for not reporting calls",
                    or_redacted(bundle)
                )?;
                if *delivered_anyway {
                    write!(f, "; delivered anyway because it is in the foreground")?;
                }
                Ok(())
            }
            EventKind::AppKilledForNotReporting => {
                write!(f, "app killed: it did not report the VoIP push to CallKit")
            }
            EventKind::AppCrashed { reason } => {
                write!(f, "the app is crashing: {}", or_redacted(reason))
            }
            EventKind::AppExited { bundle, reason } => {
                write!(f, "{}'s process ended", or_redacted(bundle))?;
                if let Some(r) = reason {
                    write!(f, " ({r})")?;
                }
                Ok(())
            }
            EventKind::AppOpenRequested { bundle, from } => {
                write!(
                    f,
                    "request to open {} from {}",
                    or_redacted(bundle),
                    or_redacted(from)
                )
            }
            EventKind::AppProcessState {
                bundle, task_state, ..
            } => {
                write!(f, "{} is {}", or_redacted(bundle), or_redacted(task_state))
            }
            EventKind::VoipProcessAssertion { action, target } => {
                write!(
                    f,
                    "VoIP process assertion {action} for {}",
                    or_redacted(target)
                )
            }
            EventKind::InternetSharing { active } => {
                write!(
                    f,
                    "Internet Sharing {}",
                    if *active { "active" } else { "inactive" }
                )
            }
            EventKind::ApnsConnected { interface } => {
                write!(f, "APNs connected on {}", or_redacted(interface))
            }
            EventKind::ApnsDisconnected { interface, reason } => {
                write!(f, "APNs connection on {} lost", or_redacted(interface))?;
                if let Some(r) = reason {
                    write!(f, " ({r})")?;
                }
                Ok(())
            }
            EventKind::ApnsConnectFailed {
                interface,
                error,
                code,
            } => {
                write!(f, "APNs connection attempt failed")?;
                if let Some(i) = interface {
                    write!(f, " on {i}")?;
                }
                match (error, code) {
                    (Some(e), Some(c)) => write!(f, ": {e} ({c})"),
                    (Some(e), None) => write!(f, ": {e}"),
                    (None, Some(c)) => write!(f, ": error {c}"),
                    (None, None) => Ok(()),
                }
            }
            EventKind::NetworkState { interface, up } => {
                f.write_str("network ")?;
                if let Some(i) = interface {
                    write!(f, "{i} ")?;
                }
                f.write_str(if *up { "up" } else { "down" })
            }
            EventKind::WakeScheduled { fire_at } => match fire_at {
                Some(t) => write!(f, "apsd schedules its next wake for {}", t.log_style()),
                None => f.write_str("apsd schedules its next wake"),
            },
            EventKind::CallReported { bundle, .. } => {
                write!(
                    f,
                    "{} reported an incoming call to CallKit",
                    or_redacted(bundle)
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_nests_the_event_with_a_kind_tag() {
        let event = DeviceEvent {
            at: Timestamp::parse("2026-05-20 17:48:41.248+0300").unwrap(),
            process: "powerd".into(),
            pid: None,
            kind: EventKind::PowerPolicy {
                level: 3,
                stage: PolicyStage::Sent,
            },
            rule: "powerd.policy_sent".into(),
            source: Origin::Line {
                file: "d.txt".into(),
                line: 14,
            },
            raw: "Sending com.apple.powerd.assertionpolicy 3".into(),
        };
        let json = serde_json::to_string(&event).unwrap();
        assert!(
            json.contains(r#""event":{"kind":"power_policy","level":3,"stage":"sent"}"#),
            "{json}"
        );
        let back: DeviceEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event);
        assert_eq!(
            event.kind.to_string(),
            "powerd sends assertion policy 3 (display off)"
        );
    }
}
