//! The typed state of each [`Dimension`](super::Dimension), built where the rules fire.
//!
//! A state is data, not a sentence: the diagnosis matches on [`ApnsState::Reconnecting`] or
//! [`PowerPolicy::restricts`], and only [`Display`](fmt::Display) turns a state into words
//! (`reconnecting on pdp_ip0`, `3 (display off)`). [`State::Unknown`] is a value of its own:
//! what a dimension holds before its first evidence and outside the log.

use std::fmt;

use pushtrace_model::policy_name;
use serde::{Serialize, Serializer};

/// What one dimension of the device was doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// No line says: before the first evidence, or outside the log.
    Unknown,
    Apns(ApnsState),
    PowerPolicy(PowerPolicy),
    Display(Screen),
    UserActivity(Activity),
    Lock(Lock),
    Radio(Radio),
    Registration(Registration),
    /// Personal hotspot on (`true`) or off.
    InternetSharing(bool),
    /// The app iOS no longer launches for VoIP pushes (`None`: redacted).
    AppBlocked(Option<String>),
    Network(Network),
}

/// apsd's connection to APNs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApnsState {
    /// Traffic, a keepalive or an established connection on this interface.
    Connected { interface: Option<String> },
    /// A path is satisfied and apsd is (re)connecting: not yet connected.
    Reconnecting { interface: Option<String> },
    /// No connection, and why.
    Down(DownReason),
}

/// Why the APNs connection was down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DownReason {
    /// apsd found no usable interface.
    NoUsableInterface,
    /// The connection closed or was lost.
    Disconnected { reason: Option<String> },
    /// A connection attempt failed (DNS, TLS, timeout).
    ConnectFailed { error: Option<String> },
}

/// powerd's assertion policy level (IOPMAssertionCategories.h): 0 none, 1 active use,
/// 2 inactive, 3 display off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PowerPolicy(pub u8);

impl PowerPolicy {
    /// Whether the policy lets assertions time out (2 inactive, 3 display off): a non-waking
    /// push waits for a wake, and apsd may give up reconnecting.
    pub fn restricts(self) -> bool {
        self.0 >= 2
    }

    /// Display off: the policy under which apsd abandons a reconnection.
    pub fn is_display_off(self) -> bool {
        self.0 == 3
    }
}

/// The display (powerd's HID and display state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    On,
    Off,
}

/// powerd's user-activity level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    Active,
    Passive,
    Inactive,
}

/// Lock state, from apsd's topic filter policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    Locked,
    Unlocked,
}

/// The cellular radio's RRC state on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Radio {
    Idle { interface: Option<String> },
    Connected { interface: Option<String> },
}

/// Cellular registration, as CommCenter maps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registration {
    Home,
    Roaming,
    /// Any other state (`NotRegistered`, `Searching`, `Denied`…), without the `k` prefix.
    Other(String),
}

impl Registration {
    /// From CommCenter's name (`kRegisteredHome`).
    pub fn from_name(name: &str) -> Registration {
        match name {
            "kRegisteredHome" => Registration::Home,
            "kRegisteredRoaming" => Registration::Roaming,
            other => Registration::Other(other.trim_start_matches('k').to_string()),
        }
    }

    /// Registered on a network (home or roaming).
    pub fn is_registered(&self) -> bool {
        matches!(self, Registration::Home | Registration::Roaming)
    }
}

/// A network interface or path, as the last line about one said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Network {
    Up { interface: Option<String> },
    Down { interface: Option<String> },
}

impl State {
    pub fn is_unknown(&self) -> bool {
        matches!(self, State::Unknown)
    }

    /// The APNs state, when this is one.
    pub fn apns(&self) -> Option<&ApnsState> {
        match self {
            State::Apns(s) => Some(s),
            _ => None,
        }
    }

    /// The power policy, when this is one.
    pub fn power_policy(&self) -> Option<PowerPolicy> {
        match self {
            State::PowerPolicy(p) => Some(*p),
            _ => None,
        }
    }
}

fn on(f: &mut fmt::Formatter<'_>, interface: &Option<String>) -> fmt::Result {
    match interface {
        Some(i) => write!(f, " on {i}"),
        None => Ok(()),
    }
}

impl fmt::Display for ApnsState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApnsState::Connected { interface } => {
                f.write_str("connected")?;
                on(f, interface)
            }
            ApnsState::Reconnecting { interface } => {
                f.write_str("reconnecting")?;
                on(f, interface)
            }
            ApnsState::Down(DownReason::NoUsableInterface) => {
                f.write_str("down: no usable interface")
            }
            ApnsState::Down(DownReason::Disconnected { reason }) => {
                f.write_str("down: disconnected")?;
                match reason {
                    Some(r) => write!(f, " ({r})"),
                    None => Ok(()),
                }
            }
            ApnsState::Down(DownReason::ConnectFailed { error }) => {
                f.write_str("down: connection attempt failed")?;
                match error {
                    Some(e) => write!(f, " ({e})"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl fmt::Display for PowerPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, policy_name(self.0))
    }
}

impl fmt::Display for Radio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, interface) = match self {
            Radio::Idle { interface } => ("idle", interface),
            Radio::Connected { interface } => ("connected", interface),
        };
        f.write_str(name)?;
        on(f, interface)
    }
}

impl fmt::Display for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Registration::Home => f.write_str("registered (home)"),
            Registration::Roaming => f.write_str("registered (roaming)"),
            Registration::Other(name) => f.write_str(name),
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, interface) = match self {
            Network::Up { interface } => ("up", interface),
            Network::Down { interface } => ("down", interface),
        };
        f.write_str(name)?;
        on(f, interface)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Unknown => f.write_str("unknown"),
            State::Apns(s) => s.fmt(f),
            State::PowerPolicy(p) => p.fmt(f),
            State::Display(Screen::On) => f.write_str("on"),
            State::Display(Screen::Off) => f.write_str("off"),
            State::UserActivity(Activity::Active) => f.write_str("active"),
            State::UserActivity(Activity::Passive) => f.write_str("passive"),
            State::UserActivity(Activity::Inactive) => f.write_str("inactive"),
            State::Lock(Lock::Locked) => f.write_str("locked"),
            State::Lock(Lock::Unlocked) => f.write_str("unlocked"),
            State::Radio(r) => r.fmt(f),
            State::Registration(r) => r.fmt(f),
            State::InternetSharing(true) => f.write_str("active"),
            State::InternetSharing(false) => f.write_str("inactive"),
            State::AppBlocked(bundle) => {
                write!(f, "blocked: {}", bundle.as_deref().unwrap_or("<private>"))
            }
            State::Network(n) => n.fmt(f),
        }
    }
}

/// On the wire a state is its sentence: the JSON of `pushtrace timeline` reads as the text.
impl Serialize for State {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_print_as_people_read_them() {
        let cases = [
            (
                State::Apns(ApnsState::Reconnecting {
                    interface: Some("pdp_ip0".into()),
                }),
                "reconnecting on pdp_ip0",
            ),
            (
                State::Apns(ApnsState::Down(DownReason::NoUsableInterface)),
                "down: no usable interface",
            ),
            (State::PowerPolicy(PowerPolicy(3)), "3 (display off)"),
            (State::Registration(Registration::Home), "registered (home)"),
            (
                State::Registration(Registration::from_name("kNotRegistered")),
                "NotRegistered",
            ),
            (State::Unknown, "unknown"),
        ];
        for (state, text) in cases {
            assert_eq!(state.to_string(), text);
            assert_eq!(serde_json::to_value(&state).unwrap(), text);
        }
        assert!(PowerPolicy(2).restricts() && !PowerPolicy(1).restricts());
    }
}
