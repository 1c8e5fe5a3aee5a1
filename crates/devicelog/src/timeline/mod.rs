//! What the iPhone was doing, and what is not known: a [`DeviceTimeline`] of device states.
//!
//! A [`TimelineBuilder`] receives every record's instant (so it knows what the log covers) and
//! the [`DeviceEvent`]s the rules found. Each event moves one or more [`Dimension`]s to a new
//! typed [`State`]; each dimension is a list of non-overlapping [`Interval`]s that starts as
//! [`State::Unknown`] until its first evidence. Nothing is assumed: a dimension no line speaks
//! about stays unknown for the whole log. [`summary`] turns the intervals into sentences;
//! [`render`] prints the annotated timeline.

use std::collections::BTreeMap;
use std::fmt;

use pushtrace_model::{DeviceEvent, EventKind, LogRecord, PolicyStage, Timestamp};
use serde::Serialize;

use crate::error::ReadError;
use crate::rules::RuleSet;
use crate::summary::LogSpan;
use unmatched::Unmatched;

pub mod render;
pub mod state;
pub mod summary;
pub mod unmatched;

pub use state::{
    Activity, ApnsState, DownReason, Lock, Network, PowerPolicy, Radio, Registration, Screen, State,
};

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
    /// A network interface or path coming up or going down.
    Network,
}

impl Dimension {
    pub const ALL: [Dimension; 10] = [
        Dimension::Apns,
        Dimension::PowerPolicy,
        Dimension::Display,
        Dimension::UserActivity,
        Dimension::Lock,
        Dimension::Radio,
        Dimension::Registration,
        Dimension::InternetSharing,
        Dimension::AppBlock,
        Dimension::Network,
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
            Dimension::Network => "network",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A state held from `from` to `to`. `from: None` is the start of the log, `to: None` the end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Interval {
    pub state: State,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// The index (in [`DeviceTimeline::events`]) of the event that began this state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_event: Option<usize>,
    /// In a window of the log ([`DeviceTimeline::window`]): the state was set by a line before
    /// the window, at this instant, and carried into it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carried_from: Option<Timestamp>,
}

impl Interval {
    pub fn is_unknown(&self) -> bool {
        self.state.is_unknown()
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
    /// How many records of each process the timeline was built from: which parts of the
    /// device the log speaks for (a log without callservicesd cannot show a CallKit failure).
    pub processes: BTreeMap<String, u64>,
}

impl DeviceTimeline {
    /// The state of a dimension at an instant ([`State::Unknown`] outside the log).
    pub fn state_at(&self, dimension: Dimension, at: Timestamp) -> &Interval {
        static OUTSIDE: Interval = Interval {
            state: State::Unknown,
            from: None,
            to: None,
            since_event: None,
            carried_from: None,
        };
        if self.start.is_none_or(|s| at < s) || self.end.is_none_or(|e| at > e) {
            return &OUTSIDE;
        }
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

    /// The event that began an interval, if a line did (not the unknown start).
    pub fn began(&self, interval: &Interval) -> Option<&DeviceEvent> {
        interval.since_event.and_then(|i| self.events.get(i))
    }

    /// Whether the log holds any record of `process`.
    pub fn has_process(&self, process: &str) -> bool {
        self.processes.get(process).is_some_and(|n| *n > 0)
    }

    /// The part of the timeline from `from` to `to`: the events inside it, and each dimension's
    /// states clipped to it. A state set before the window is carried into it (`carried_from`
    /// says when it was set), so a window shows what the device was doing at its start, not
    /// `unknown`.
    pub fn window(&self, from: Timestamp, to: Timestamp) -> DeviceTimeline {
        let start = self.start.map(|s| s.max(from));
        let end = self.end.map(|e| e.min(to));
        let first = self.events.partition_point(|e| e.at < from);
        let last = self.events.partition_point(|e| e.at <= to);
        let events = self.events[first..last.max(first)].to_vec();
        let states = self
            .states
            .iter()
            .map(|(dimension, intervals)| {
                let clipped = intervals
                    .iter()
                    .filter(|i| i.from.is_none_or(|f| f <= to) && i.to.is_none_or(|t| t > from))
                    .map(|i| {
                        let before = i.from.is_some_and(|f| f < from);
                        Interval {
                            state: i.state.clone(),
                            from: if before { Some(from) } else { i.from },
                            to: i.to.filter(|t| *t < to),
                            since_event: i
                                .since_event
                                .filter(|e| (first..last).contains(e))
                                .map(|e| e - first),
                            carried_from: if before && !i.is_unknown() {
                                i.from
                            } else {
                                None
                            },
                        }
                    })
                    .collect();
                (*dimension, clipped)
            })
            .collect();
        DeviceTimeline {
            start,
            end,
            events,
            states,
            processes: self.processes.clone(),
        }
    }

    /// Whether `at` is inside what the log covers.
    pub fn covers(&self, at: Timestamp) -> bool {
        self.start.is_some_and(|s| s <= at) && self.end.is_some_and(|e| at <= e)
    }
}

/// Collects records' instants and events, in time order, into a [`DeviceTimeline`].
#[derive(Default)]
pub struct TimelineBuilder {
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    events: Vec<DeviceEvent>,
    states: BTreeMap<Dimension, Vec<Interval>>,
    processes: BTreeMap<String, u64>,
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

    /// Notes what the whole log covers (records the reader did not keep included), so that a
    /// log whose watched processes fall quiet is not taken to end there. Instants the log's
    /// records already hold keep their offset.
    pub fn cover(&mut self, span: LogSpan) {
        let on_clock = |at: Timestamp, like: Option<Timestamp>| {
            like.map_or(at, |like| Timestamp::new(at.utc_micros(), like.offset()))
        };
        let (start, end) = (self.start, self.end);
        self.observe(on_clock(span.first, start.or(end)));
        self.observe(on_clock(span.last, end.or(start)));
    }

    /// Notes a record: its instant and its process.
    pub fn observe_record(&mut self, record: &LogRecord) {
        self.observe(record.at);
        match self.processes.get_mut(record.process.as_str()) {
            Some(n) => *n += 1,
            None => {
                self.processes.insert(record.process.clone(), 1);
            }
        }
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
                carried_from: None,
            });
        }
        self.events.push(event);
    }

    fn current(&self, dimension: Dimension) -> Option<&State> {
        self.states
            .get(&dimension)
            .and_then(|i| i.last())
            .map(|i| &i.state)
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
                        state: State::Unknown,
                        from: self.start,
                        to: first_from,
                        since_event: None,
                        carried_from: None,
                    },
                );
            }
        }
        DeviceTimeline {
            start: self.start,
            end: self.end,
            events: self.events,
            states: self.states,
            processes: self.processes,
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
/// `span` is what the whole log covers ([`crate::ReadSummary::span`]): the timeline's start
/// and end, where the records alone would end at the last watched line.
pub fn build(
    records: impl IntoIterator<Item = Result<LogRecord, ReadError>>,
    span: Option<LogSpan>,
    rules: &RuleSet,
    also_watch: &[String],
    mut unmatched: Option<&mut Unmatched>,
) -> Result<Built, ReadError> {
    let mut builder = TimelineBuilder::new();
    let mut rule_errors = Vec::new();
    let mut rule_error_count = 0;
    for record in records {
        let record = record?;
        builder.observe_record(&record);
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
    if let Some(span) = span {
        builder.cover(span);
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
    current: impl Fn(Dimension) -> Option<&'a State>,
) -> Vec<(Dimension, State)> {
    let apns = |state: ApnsState| vec![(Dimension::Apns, State::Apns(state))];
    match kind {
        EventKind::RrcState {
            interface, state, ..
        } => {
            let interface = interface.clone();
            let radio = if *state == 0 {
                Radio::Idle { interface }
            } else {
                Radio::Connected { interface }
            };
            vec![(Dimension::Radio, State::Radio(radio))]
        }
        EventKind::CellRegistration { state: Some(state) } => {
            vec![(
                Dimension::Registration,
                State::Registration(Registration::from_name(state)),
            )]
        }
        EventKind::ApnsPathSatisfied { interface, .. } => apns(ApnsState::Reconnecting {
            interface: interface.clone(),
        }),
        EventKind::ApnsDataReceived { interface, .. }
        | EventKind::ApnsKeepAlive { interface, .. }
        | EventKind::PushReceived { interface, .. }
        | EventKind::ApnsConnected { interface } => apns(ApnsState::Connected {
            interface: interface.clone(),
        }),
        EventKind::ApnsDisconnected { reason, .. } => {
            apns(ApnsState::Down(DownReason::Disconnected {
                reason: reason.clone(),
            }))
        }
        EventKind::ApnsConnectFailed { error, code, .. } => {
            let error = match (error, code) {
                (Some(e), Some(c)) => Some(format!("{e} {c}")),
                (Some(e), None) => Some(e.clone()),
                (None, Some(c)) => Some(format!("error {c}")),
                (None, None) => None,
            };
            apns(ApnsState::Down(DownReason::ConnectFailed { error }))
        }
        EventKind::ApnsConnectSkipped {
            connected_interfaces,
            wwan_usable,
            wifi_usable,
            ..
        } => {
            if connected_interfaces.is_some_and(|n| n > 0) {
                // Already connected somewhere: keep the interface the state knows.
                match current(Dimension::Apns) {
                    Some(State::Apns(ApnsState::Connected { .. })) => Vec::new(),
                    _ => apns(ApnsState::Connected { interface: None }),
                }
            } else if *wwan_usable != Some(true) && *wifi_usable != Some(true) {
                apns(ApnsState::Down(DownReason::NoUsableInterface))
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
                State::Lock(if *locked {
                    Lock::Locked
                } else {
                    Lock::Unlocked
                }),
            )]
        }
        EventKind::PowerPolicy { level, stage } => {
            let state = State::PowerPolicy(PowerPolicy(*level));
            // powerd's broadcast sets the policy; a client applying it confirms what is known,
            // and only sets it when powerd's line is not in the log.
            if *stage == PolicyStage::Applied && current(Dimension::PowerPolicy) == Some(&state) {
                Vec::new()
            } else {
                vec![(Dimension::PowerPolicy, state)]
            }
        }
        EventKind::UserActivity { to, .. } => {
            let activity = if to & 1 == 1 {
                Activity::Active
            } else if to & 2 == 2 {
                Activity::Passive
            } else {
                Activity::Inactive
            };
            vec![(Dimension::UserActivity, State::UserActivity(activity))]
        }
        EventKind::DisplayState { display_off, .. } => {
            vec![(
                Dimension::Display,
                State::Display(if *display_off {
                    Screen::Off
                } else {
                    Screen::On
                }),
            )]
        }
        EventKind::InternetSharing { active } => {
            vec![(Dimension::InternetSharing, State::InternetSharing(*active))]
        }
        EventKind::VoipBlocked { bundle, .. } => {
            vec![(Dimension::AppBlock, State::AppBlocked(bundle.clone()))]
        }
        EventKind::NetworkState { interface, up } => {
            let interface = interface.clone();
            let network = if *up {
                Network::Up { interface }
            } else {
                Network::Down { interface }
            };
            vec![(Dimension::Network, State::Network(network))]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
