//! What the iPhone was doing, and what is not known: a [`DeviceTimeline`] of device states.
//!
//! A [`TimelineBuilder`] receives every record's instant (so it knows what the log covers) and
//! the [`DeviceEvent`]s the rules found. Each event moves one or more [`Dimension`]s to a new
//! state; each dimension is a list of non-overlapping [`Interval`]s that starts as `unknown`
//! until its first evidence. Nothing is assumed: a dimension no line speaks about stays unknown
//! for the whole log. [`summary`] turns the intervals into sentences; [`render`] prints the
//! annotated timeline.

use std::collections::BTreeMap;
use std::fmt;

use pushtrace_model::{DeviceEvent, EventKind, LogRecord, PolicyStage, Timestamp, policy_name};
use serde::Serialize;

use crate::error::ReadError;
use crate::rules::RuleSet;
use unmatched::Unmatched;

pub mod render;
pub mod summary;
pub mod unmatched;

/// One aspect of the device's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// apsd's connection to APNs.
    Apns,
    /// powerd's assertion policy.
    PowerPolicy,
    Display,
    UserActivity,
    Lock,
    /// The cellular radio's RRC state.
    Radio,
    /// Cellular registration.
    Registration,
    InternetSharing,
    /// Apps blocked from VoIP launches.
    AppBlock,
}

impl Dimension {
    pub const ALL: [Dimension; 9] = [
        Dimension::Apns,
        Dimension::PowerPolicy,
        Dimension::Display,
        Dimension::UserActivity,
        Dimension::Lock,
        Dimension::Radio,
        Dimension::Registration,
        Dimension::InternetSharing,
        Dimension::AppBlock,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Dimension::Apns => "APNs",
            Dimension::PowerPolicy => "power policy",
            Dimension::Display => "display",
            Dimension::UserActivity => "user activity",
            Dimension::Lock => "lock",
            Dimension::Radio => "radio",
            Dimension::Registration => "registration",
            Dimension::InternetSharing => "internet sharing",
            Dimension::AppBlock => "app block",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The state `unknown`: no evidence yet.
pub const UNKNOWN: &str = "unknown";

/// A state held from `from` to `to`. `from: None` is the start of the log, `to: None` the end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Interval {
    pub state: String,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// The index (in [`DeviceTimeline::events`]) of the event that began this state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_event: Option<usize>,
}

impl Interval {
    pub fn is_unknown(&self) -> bool {
        self.state == UNKNOWN
    }
}

/// Events and states rebuilt from one log.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceTimeline {
    /// The first and last instant of any record read (what the log covers), if any.
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub events: Vec<DeviceEvent>,
    pub states: BTreeMap<Dimension, Vec<Interval>>,
}

impl DeviceTimeline {
    /// The state of a dimension at an instant (`unknown` outside the log).
    pub fn state_at(&self, dimension: Dimension, at: Timestamp) -> &Interval {
        static OUTSIDE: Interval = Interval {
            state: String::new(),
            from: None,
            to: None,
            since_event: None,
        };
        self.states
            .get(&dimension)
            .and_then(|intervals| {
                intervals
                    .iter()
                    .find(|i| i.from.is_none_or(|f| f <= at) && i.to.is_none_or(|t| at < t))
            })
            .unwrap_or(&OUTSIDE)
    }

    /// The events that woke the device for a call.
    pub fn wakes(&self) -> impl Iterator<Item = &DeviceEvent> {
        self.events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::CallWake { .. }))
    }
}

/// Collects records' instants and events, in time order, into a [`DeviceTimeline`].
#[derive(Default)]
pub struct TimelineBuilder {
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    events: Vec<DeviceEvent>,
    states: BTreeMap<Dimension, Vec<Interval>>,
}

impl TimelineBuilder {
    pub fn new() -> TimelineBuilder {
        TimelineBuilder::default()
    }

    /// Notes that the log holds a record at `at` (extends what the log covers).
    pub fn observe(&mut self, at: Timestamp) {
        self.start = Some(self.start.map_or(at, |s| s.min(at)));
        self.end = Some(self.end.map_or(at, |e| e.max(at)));
    }

    /// Adds an event (events arrive in time order) and applies its state changes.
    pub fn push(&mut self, event: DeviceEvent) {
        self.observe(event.at);
        let index = self.events.len();
        for (dimension, state) in transitions(&event.kind, |d| self.current(d)) {
            let intervals = self.states.entry(dimension).or_default();
            if intervals.last().is_some_and(|last| last.state == state) {
                continue;
            }
            if let Some(last) = intervals.last_mut() {
                last.to = Some(event.at);
            }
            intervals.push(Interval {
                state,
                from: Some(event.at),
                to: None,
                since_event: Some(index),
            });
        }
        self.events.push(event);
    }

    fn current(&self, dimension: Dimension) -> Option<&str> {
        self.states
            .get(&dimension)
            .and_then(|i| i.last())
            .map(|i| i.state.as_str())
    }

    /// Closes the timeline: every dimension starts as unknown until its first evidence.
    pub fn finish(mut self) -> DeviceTimeline {
        for dimension in Dimension::ALL {
            let intervals = self.states.entry(dimension).or_default();
            let first_from = intervals.first().and_then(|i| i.from);
            if intervals.is_empty() || first_from != self.start {
                intervals.insert(
                    0,
                    Interval {
                        state: UNKNOWN.to_string(),
                        from: self.start,
                        to: first_from,
                        since_event: None,
                    },
                );
            }
        }
        DeviceTimeline {
            start: self.start,
            end: self.end,
            events: self.events,
            states: self.states,
        }
    }
}

/// A timeline built from a log, with the lines a rule matched but could not read.
pub struct Built {
    pub timeline: DeviceTimeline,
    /// `file:line: rule …: why` for the first [`Built::ERROR_EXAMPLES`] such lines.
    pub rule_errors: Vec<String>,
    pub rule_error_count: u64,
}

impl Built {
    pub const ERROR_EXAMPLES: usize = 10;
}

/// Runs `rules` over records in time order. Records of a process some rule watches (or of
/// `also_watch`, e.g. the app) that no rule matches go to `unmatched` when given.
pub fn build(
    records: impl IntoIterator<Item = Result<LogRecord, ReadError>>,
    rules: &RuleSet,
    also_watch: &[String],
    mut unmatched: Option<&mut Unmatched>,
) -> Result<Built, ReadError> {
    let mut builder = TimelineBuilder::new();
    let mut rule_errors = Vec::new();
    let mut rule_error_count = 0;
    for record in records {
        let record = record?;
        builder.observe(record.at);
        match rules.event(&record) {
            Some(Ok(event)) => builder.push(event),
            Some(Err(why)) => {
                rule_error_count += 1;
                if rule_errors.len() < Built::ERROR_EXAMPLES {
                    rule_errors.push(format!("{}: {why}", record.origin));
                }
            }
            None => {
                if let Some(unmatched) = unmatched.as_deref_mut()
                    && (rules.watches(&record.process) || also_watch.contains(&record.process))
                {
                    unmatched.add(&record);
                }
            }
        }
    }
    Ok(Built {
        timeline: builder.finish(),
        rule_errors,
        rule_error_count,
    })
}

/// The states an event establishes. `current` reads a dimension's present state.
fn transitions<'a>(
    kind: &EventKind,
    current: impl Fn(Dimension) -> Option<&'a str>,
) -> Vec<(Dimension, String)> {
    let on = |interface: &Option<String>| {
        interface
            .as_deref()
            .map(|i| format!(" on {i}"))
            .unwrap_or_default()
    };
    match kind {
        EventKind::RrcState {
            interface, state, ..
        } => {
            let name = if *state == 0 { "idle" } else { "connected" };
            vec![(Dimension::Radio, format!("{name}{}", on(interface)))]
        }
        EventKind::CellRegistration { state: Some(state) } => {
            let name = match state.as_str() {
                "kRegisteredHome" => "registered (home)".to_string(),
                "kRegisteredRoaming" => "registered (roaming)".to_string(),
                other => other.trim_start_matches('k').to_string(),
            };
            vec![(Dimension::Registration, name)]
        }
        EventKind::ApnsPathSatisfied { interface, .. } => {
            vec![(Dimension::Apns, format!("reconnecting{}", on(interface)))]
        }
        EventKind::ApnsDataReceived { interface, .. }
        | EventKind::ApnsKeepAlive { interface, .. }
        | EventKind::PushReceived { interface, .. } => {
            vec![(Dimension::Apns, format!("connected{}", on(interface)))]
        }
        EventKind::ApnsConnectSkipped {
            connected_interfaces,
            wwan_usable,
            wifi_usable,
            ..
        } => {
            if connected_interfaces.is_some_and(|n| n > 0) {
                vec![(Dimension::Apns, "connected".to_string())]
            } else if *wwan_usable != Some(true) && *wifi_usable != Some(true) {
                vec![(Dimension::Apns, "down: no usable interface".to_string())]
            } else {
                Vec::new()
            }
        }
        EventKind::TopicPolicyState {
            system_locked: Some(locked),
            ..
        } => {
            vec![(
                Dimension::Lock,
                if *locked { "locked" } else { "unlocked" }.to_string(),
            )]
        }
        EventKind::PowerPolicy { level, stage } => {
            let state = format!("{level} ({})", policy_name(*level));
            // powerd's broadcast sets the policy; a client applying it confirms what is known,
            // and only sets it when powerd's line is not in the log.
            if *stage == PolicyStage::Applied
                && current(Dimension::PowerPolicy) == Some(state.as_str())
            {
                Vec::new()
            } else {
                vec![(Dimension::PowerPolicy, state)]
            }
        }
        EventKind::UserActivity { to, .. } => {
            let state = if to & 1 == 1 {
                "active"
            } else if to & 2 == 2 {
                "passive"
            } else {
                "inactive"
            };
            vec![(Dimension::UserActivity, state.to_string())]
        }
        EventKind::DisplayState { display_off, .. } => {
            vec![(
                Dimension::Display,
                if *display_off { "off" } else { "on" }.to_string(),
            )]
        }
        EventKind::InternetSharing { active } => {
            vec![(
                Dimension::InternetSharing,
                if *active { "active" } else { "inactive" }.to_string(),
            )]
        }
        EventKind::VoipBlocked { bundle, .. } => {
            vec![(
                Dimension::AppBlock,
                format!("blocked: {}", bundle.as_deref().unwrap_or("<private>")),
            )]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
