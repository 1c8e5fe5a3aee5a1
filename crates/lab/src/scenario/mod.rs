//! Scenarios as data: one `scenarios/*.toml` file describes a fleet, its networks, the iPhone's
//! daemons, the app, the calls and any scripted incident (`docs/lab.md`, field by field).
//!
//! [`Scenario::load`] reads and checks a file; every error names the file, the field and what to
//! write instead. The simulator only ever sees a checked scenario.

mod dist;
mod retry;
mod span;

use std::path::Path;

use pushtrace_model::Timestamp;
use serde::Deserialize;

pub use dist::{Dist, exponential};
pub use retry::Retry;
pub use span::Span;

/// A checked scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub fleet: Fleet,
    pub cellular: Link,
    pub wifi: Link,
    pub apsd: Apsd,
    pub powerd: Powerd,
    pub app: App,
    pub calls: Calls,
    #[serde(default)]
    pub apns: Apns,
    /// Timed events for device 0, on top of (or instead of) the random ones: an incident.
    #[serde(default)]
    pub script: Vec<Scripted>,
}

/// Who is simulated, for how long, from which seed.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    pub name: String,
    pub devices: u32,
    /// Simulated time per device.
    pub duration: Span,
    /// When the simulation starts; its offset is the one logs are written in.
    #[serde(deserialize_with = "timestamp")]
    pub start: Timestamp,
    pub seed: u64,
    /// iOS versions and their shares; `mustReport` exists from 26.4.
    pub os: Vec<Weighted<String>>,
    /// Which interface a device reaches APNs on, and the shares.
    pub interfaces: Vec<Weighted<Interface>>,
    /// Share of devices whose token APNs answers 410 `Unregistered` (the app was removed).
    #[serde(default)]
    pub unregistered_share: f64,
}

/// A value and its share of the fleet.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weighted<T> {
    pub value: T,
    pub weight: f64,
}

/// How a device reaches APNs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interface {
    Wifi,
    Cellular,
    /// Cellular while sharing its connection (Personal Hotspot).
    Hotspot,
}

impl Interface {
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Wifi => "wifi",
            Interface::Cellular => "cellular",
            Interface::Hotspot => "hotspot",
        }
    }
}

/// One network (cellular radio or Wi-Fi): how often it breaks and how it comes back.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Mean outages per simulated day (a Poisson process).
    pub outages_per_day: f64,
    pub outage: Dist,
    /// From the end of an outage to the network being back (cellular: registration).
    pub back_after: Span,
    /// From the network being back to apsd seeing its path satisfied.
    pub path_after: Span,
    /// Share of returns where the link carries no viable APNs connection (TLS never completes)
    /// until the next wake: the founding incident's "no working LTE".
    pub weak_share: f64,
    /// Mean silent drops per day of the connection's server side (a NAT or middlebox forgets
    /// it): the device believes it is connected until its keep-alive fails.
    #[serde(default)]
    pub silent_drops_per_day: f64,
    /// apsd's keep-alive interval on this interface (default: `apsd.keepalive`).
    #[serde(default)]
    pub keepalive: Option<Span>,
    /// Mean moves per day of a phone on this link to the other one (Wi-Fi to cellular and
    /// back): apsd's connection closes and it reconnects on the new interface. Hotspot phones
    /// stay on cellular.
    #[serde(default)]
    pub switches_per_day: f64,
    /// Cellular only: mean cell handovers per day that keep the connection (the radio drops
    /// to RRC idle and CommCenter maps the registration again, apsd stays connected).
    #[serde(default)]
    pub handovers_per_day: f64,
    /// Cellular only: the radio's inactivity timer, from its last data (a keep-alive) to RRC
    /// idle (default 10s).
    #[serde(default = "rrc_idle_after")]
    pub rrc_idle_after: Span,
}

fn rrc_idle_after() -> Span {
    Span(10_000_000)
}

/// apsd: connecting, keeping alive, backing off.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Apsd {
    /// How long a connection attempt takes on a viable link.
    pub connect: Dist,
    /// How long an attempt on a weak link waits before it fails.
    pub connect_timeout: Span,
    /// Waits between failed attempts, in order; the last repeats.
    pub backoff: Vec<Span>,
    /// Keep-alive interval on an interface whose link gives none: a silently dropped
    /// connection is found dead at the next keep-alive.
    pub keepalive: Span,
    /// How long apsd waits for a keep-alive's answer before it declares the connection dead
    /// (default 30s).
    #[serde(default = "keepalive_timeout")]
    pub keepalive_timeout: Span,
}

fn keepalive_timeout() -> Span {
    Span(30_000_000)
}

/// powerd: display, assertion policy 3 and wakes.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Powerd {
    /// Whether the display is on when the simulation starts.
    #[serde(default)]
    pub display_on_at_start: bool,
    /// Mean user sessions (unlock, use, lock) per day.
    pub user_sessions_per_day: f64,
    pub user_session: Dist,
    /// The display goes off this long after the last user activity.
    pub display_idle: Span,
    /// Policy 3 follows display off by this much when apsd holds no assertion.
    pub restrict_after: Span,
    /// How long apsd's reconnect assertion can keep a dark device awake before powerd sends
    /// policy 3 anyway: the reconnect is then abandoned.
    pub reconnect_assertion_timeout: Span,
    /// apsd logs "Powerd has requested assertion activity update" this long before policy 3.
    pub activity_update_lead: Span,
    /// Mean incoming cellular (PSTN) calls per day: each wakes the device when the radio is up.
    pub cellular_calls_per_day: f64,
    /// A scheduled timer wake every this long (0: none).
    #[serde(default)]
    pub scheduled_wake_every: Span,
    /// How long a call or timer wake keeps policy 0.
    pub wake_hold: Span,
}

/// The calling app and iOS's rules for it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    pub bundle: String,
    /// The process name the app logs under.
    pub process: String,
    /// From apsd receiving the push to the app being handed it.
    pub handoff: Span,
    /// From the app being handed the push to its CallKit report.
    pub report: Dist,
    /// Share of pushes the app never reports (crash, bug, slow start).
    pub fails_to_report: f64,
    /// iOS kills an app that has not reported within this.
    pub kill_after: Span,
    /// Consecutive failures after which iOS stops launching the app for VoIP pushes.
    pub blocked_after: u32,
    /// iOS 26.4+: `mustReport` is false for a push whose delivery latency exceeds this.
    pub must_report_within: Span,
    /// Whether the app posts a missed-call notification, not a ring, when `mustReport` is false.
    pub honours_must_report: bool,
}

/// The calls rung to the fleet and how they are sent.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calls {
    /// Mean incoming app calls per device per day.
    pub per_day: f64,
    /// How long the caller waits: the push's deadline.
    pub ring_window: Span,
    pub expiration: Expiration,
    /// `apns-priority`: 10 wakes a power-restricted device, 5 waits for a wake.
    pub priority: u8,
    /// How long the server takes to get APNs's answer.
    pub apns_answer: Dist,
    /// Resend the call push when no receipt came this long after the last one, while the
    /// resend still goes out before the deadline (`"0s"`: never resend; a list: the waits after
    /// each push in order, the last repeating). The receipt is the app's, posted when it is
    /// handed the push.
    #[serde(default)]
    pub retry_after: Retry,
    /// The missed-call fallback: at the deadline of a call with no receipt, an alert push (the
    /// bundle id's topic, not `.voip`: APNs stores it apart from the call push).
    #[serde(default)]
    pub fallback: bool,
    /// The fallback alert's `apns-priority` (default 10, as Apple advises for an alert the user
    /// must act on).
    #[serde(default = "alert_priority")]
    pub fallback_priority: u8,
    /// How long APNs may keep the fallback alert (default 1d, the gateway's default).
    #[serde(default = "alert_expiration")]
    pub fallback_expiration: Span,
}

fn alert_priority() -> u8 {
    10
}

fn alert_expiration() -> Span {
    Span(86_400_000_000)
}

/// The `apns-expiration` strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expiration {
    /// `0`: one attempt, never stored.
    Zero,
    /// The call's deadline.
    Deadline,
    /// 30 days, APNs's longest storage.
    Max,
}

/// APNs's side: what the emulator implements, plus how long APNs takes to notice a device's
/// connection died.
#[derive(Clone, Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Apns {
    /// Until APNs's side of a connection times out, it still writes pushes to it; those are
    /// delivered when the device reconnects, whatever their expiration (the founding thread).
    #[serde(default)]
    pub notices_loss_after: Span,
}

/// One scripted event for device 0: `at` a time, an `event` and its fields.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scripted {
    /// The device's network goes away for `duration`; a `weak` link comes back without a
    /// viable APNs connection until the next wake.
    Outage {
        #[serde(deserialize_with = "timestamp")]
        at: Timestamp,
        duration: Span,
        weak: bool,
    },
    /// The phone moves to the other network (Wi-Fi to cellular or back).
    Switch {
        #[serde(deserialize_with = "timestamp")]
        at: Timestamp,
    },
    /// A cell handover that keeps the connection.
    Handover {
        #[serde(deserialize_with = "timestamp")]
        at: Timestamp,
    },
    /// A middlebox silently drops the connection's server side.
    SilentDrop {
        #[serde(deserialize_with = "timestamp")]
        at: Timestamp,
    },
    /// An incoming cellular call wakes the device.
    CellularCall {
        #[serde(deserialize_with = "timestamp")]
        at: Timestamp,
    },
    /// The user wakes the device for `duration`.
    User {
        #[serde(deserialize_with = "timestamp")]
        at: Timestamp,
        duration: Span,
    },
    /// A call to the app: the server sends its push now.
    Call {
        #[serde(deserialize_with = "timestamp")]
        at: Timestamp,
    },
}

impl Scripted {
    pub fn at(&self) -> Timestamp {
        match *self {
            Scripted::Outage { at, .. }
            | Scripted::Switch { at }
            | Scripted::Handover { at }
            | Scripted::SilentDrop { at }
            | Scripted::CellularCall { at }
            | Scripted::User { at, .. }
            | Scripted::Call { at } => at,
        }
    }
}

fn timestamp<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    let text = String::deserialize(d)?;
    Timestamp::parse(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "`{text}` is not a time ({e}): write RFC 3339 with an offset, like \
             \"2026-05-20T17:14:56+03:00\""
        ))
    })
}

/// A scenario that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("cannot read scenario {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The TOML does not parse or does not fit the scenario's shape.
    #[error("{path}: {why}\n(the fields are documented in docs/lab.md)")]
    Parse { path: String, why: String },
    /// A value is out of range.
    #[error("{path}: `{field}`: {why}")]
    Invalid {
        path: String,
        field: &'static str,
        why: String,
    },
}

/// The scenarios shipped with pushtrace, by name: usable from any directory.
pub const BUNDLED: [(&str, &str); 2] = [
    (
        "founding-incident",
        include_str!("../../../../scenarios/founding-incident.toml"),
    ),
    (
        "mixed-fleet",
        include_str!("../../../../scenarios/mixed-fleet.toml"),
    ),
];

impl Scenario {
    /// The bundled scenario `name` (`founding-incident`, `mixed-fleet`), or the file at that
    /// path when no bundled scenario has that name.
    pub fn find(name: &str) -> Result<Scenario, ScenarioError> {
        match BUNDLED.iter().find(|(n, _)| *n == name) {
            Some((n, text)) => Scenario::parse(text, &format!("bundled scenario {n}")),
            None => {
                let path = Path::new(name);
                if !path.exists() && !name.contains(['/', '.']) {
                    let names: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
                    return Err(ScenarioError::Io {
                        path: name.to_string(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            format!(
                                "no such file, and no bundled scenario has that name (bundled: {})",
                                names.join(", ")
                            ),
                        ),
                    });
                }
                Scenario::load(path)
            }
        }
    }

    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Scenario::parse(&text, &path.display().to_string())
    }

    /// Parses and checks scenario text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            path: origin.to_string(),
            why: e.to_string(),
        })?;
        scenario
            .check()
            .map_err(|(field, why)| ScenarioError::Invalid {
                path: origin.to_string(),
                field,
                why,
            })?;
        Ok(scenario)
    }

    fn check(&self) -> Result<(), (&'static str, String)> {
        let f = &self.fleet;
        if f.devices == 0 {
            return Err(("fleet.devices", "must be at least 1".into()));
        }
        if f.duration == Span::ZERO {
            return Err(("fleet.duration", "must be longer than 0s".into()));
        }
        weights("fleet.os", &f.os)?;
        weights("fleet.interfaces", &f.interfaces)?;
        for os in &f.os {
            os_version(&os.value).map_err(|why| ("fleet.os", why))?;
        }
        share("fleet.unregistered_share", f.unregistered_share)?;
        check_link(&self.cellular, CELLULAR_FIELDS)?;
        check_link(&self.wifi, WIFI_FIELDS)?;
        if self.wifi.handovers_per_day != 0.0 {
            return Err((
                "wifi.handovers_per_day",
                "cell handovers are cellular: set cellular.handovers_per_day, or \
                 wifi.switches_per_day for moves between Wi-Fi and cellular"
                    .into(),
            ));
        }
        if self.wifi.rrc_idle_after != rrc_idle_after() {
            return Err((
                "wifi.rrc_idle_after",
                "RRC is the cellular radio's: set cellular.rrc_idle_after".into(),
            ));
        }
        for (field, keepalive) in [
            ("cellular.keepalive", self.cellular.keepalive),
            ("wifi.keepalive", self.wifi.keepalive),
        ] {
            if keepalive == Some(Span::ZERO) {
                return Err((field, "must be longer than 0s".into()));
            }
        }
        self.apsd
            .connect
            .check()
            .map_err(|why| ("apsd.connect", why))?;
        if self.apsd.backoff.is_empty() {
            return Err((
                "apsd.backoff",
                "give at least one wait, like [\"2s\"]".into(),
            ));
        }
        if self.apsd.keepalive == Span::ZERO {
            return Err(("apsd.keepalive", "must be longer than 0s".into()));
        }
        let p = &self.powerd;
        rate("powerd.user_sessions_per_day", p.user_sessions_per_day)?;
        rate("powerd.cellular_calls_per_day", p.cellular_calls_per_day)?;
        p.user_session
            .check()
            .map_err(|why| ("powerd.user_session", why))?;
        if p.activity_update_lead > p.reconnect_assertion_timeout {
            return Err((
                "powerd.activity_update_lead",
                "must not exceed powerd.reconnect_assertion_timeout".into(),
            ));
        }
        self.app.report.check().map_err(|why| ("app.report", why))?;
        share("app.fails_to_report", self.app.fails_to_report)?;
        if self.app.blocked_after == 0 {
            return Err(("app.blocked_after", "must be at least 1".into()));
        }
        rate("calls.per_day", self.calls.per_day)?;
        if ![1, 5, 10].contains(&self.calls.priority) {
            return Err(("calls.priority", "APNs accepts 10, 5 or 1".into()));
        }
        if ![1, 5, 10].contains(&self.calls.fallback_priority) {
            return Err(("calls.fallback_priority", "APNs accepts 10, 5 or 1".into()));
        }
        if self.calls.fallback_expiration > Span(crate::sim::MAX_STORAGE_MICROS) {
            return Err((
                "calls.fallback_expiration",
                "APNs keeps a push 30 days at most: use \"30d\" or less".into(),
            ));
        }
        if !self.script.is_empty() && self.script.windows(2).any(|w| w[1].at() < w[0].at()) {
            return Err(("script", "list the events in time order".into()));
        }
        let end = f.start.utc_micros() + f.duration.micros();
        if let Some(s) = self
            .script
            .iter()
            .find(|s| s.at().utc_micros() < f.start.utc_micros() || s.at().utc_micros() >= end)
        {
            return Err((
                "script",
                format!(
                    "the event at {} is outside fleet.start + fleet.duration",
                    s.at()
                ),
            ));
        }
        Ok(())
    }

    /// apsd's keep-alive interval on `interface`: its link's, else `apsd.keepalive`.
    pub fn keepalive(&self, interface: Interface) -> Span {
        let link = match interface {
            Interface::Wifi => &self.wifi,
            Interface::Cellular | Interface::Hotspot => &self.cellular,
        };
        link.keepalive.unwrap_or(self.apsd.keepalive)
    }

    /// When the simulation ends, in UTC microseconds.
    pub fn end_micros(&self) -> i64 {
        self.fleet.start.utc_micros() + self.fleet.duration.micros()
    }
}

/// `(major, minor)` of an iOS version like `"26.4"` or `"18.5.1"`.
pub fn os_version(text: &str) -> Result<(u32, u32), String> {
    let mut parts = text.split('.');
    let mut next = || parts.next().map(str::parse::<u32>);
    match (next(), next()) {
        (Some(Ok(major)), None) => Ok((major, 0)),
        (Some(Ok(major)), Some(Ok(minor))) => Ok((major, minor)),
        _ => Err(format!(
            "`{text}` is not an iOS version: write it like \"26.4\""
        )),
    }
}

/// A link's field names, for errors: outages_per_day, silent_drops_per_day, weak_share, outage,
/// switches_per_day, handovers_per_day.
type LinkFields = [&'static str; 6];
const CELLULAR_FIELDS: LinkFields = [
    "cellular.outages_per_day",
    "cellular.silent_drops_per_day",
    "cellular.weak_share",
    "cellular.outage",
    "cellular.switches_per_day",
    "cellular.handovers_per_day",
];
const WIFI_FIELDS: LinkFields = [
    "wifi.outages_per_day",
    "wifi.silent_drops_per_day",
    "wifi.weak_share",
    "wifi.outage",
    "wifi.switches_per_day",
    "wifi.handovers_per_day",
];

fn check_link(link: &Link, fields: LinkFields) -> Result<(), (&'static str, String)> {
    rate(fields[0], link.outages_per_day)?;
    rate(fields[1], link.silent_drops_per_day)?;
    share(fields[2], link.weak_share)?;
    rate(fields[4], link.switches_per_day)?;
    rate(fields[5], link.handovers_per_day)?;
    link.outage.check().map_err(|why| (fields[3], why))
}

fn weights<T>(field: &'static str, list: &[Weighted<T>]) -> Result<(), (&'static str, String)> {
    if list.is_empty() {
        return Err((field, "give at least one { value, weight }".into()));
    }
    if list
        .iter()
        .any(|w| !(w.weight >= 0.0 && w.weight.is_finite()))
        || list.iter().map(|w| w.weight).sum::<f64>() <= 0.0
    {
        return Err((
            field,
            "weights must be non-negative with a positive sum".into(),
        ));
    }
    Ok(())
}

fn share(field: &'static str, value: f64) -> Result<(), (&'static str, String)> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err((field, format!("{value} is not a share: use 0 to 1")))
    }
}

fn rate(field: &'static str, value: f64) -> Result<(), (&'static str, String)> {
    if (0.0..=100_000.0).contains(&value) {
        Ok(())
    } else {
        Err((field, format!("{value} per day: use 0 to 100000")))
    }
}
