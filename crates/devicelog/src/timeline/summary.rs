//! The timeline in sentences: what held when, what woke the device, and what is not known.

use pushtrace_model::{EventKind, Timestamp};

use super::{ApnsState, DeviceTimeline, Dimension, Interval, State};

/// How instants are written: time of day to the millisecond when the log stays within one day,
/// with the date otherwise; always in the offset the log was written in.
#[derive(Clone, Copy, Debug)]
pub struct TimeFormat {
    with_date: bool,
}

impl TimeFormat {
    pub fn for_timeline(timeline: &DeviceTimeline) -> TimeFormat {
        let with_date = match (timeline.start, timeline.end) {
            (Some(s), Some(e)) => {
                let (a, b) = (s.local(), e.local());
                (a.year, a.month, a.day) != (b.year, b.month, b.day)
            }
            _ => false,
        };
        TimeFormat { with_date }
    }

    pub fn show(self, at: Timestamp) -> String {
        if self.with_date {
            let c = at.local();
            format!(
                "{:04}-{:02}-{:02} {}",
                c.year,
                c.month,
                c.day,
                at.time_of_day_millis()
            )
        } else {
            at.time_of_day_millis()
        }
    }
}

/// One line per finding, most important first.
pub fn sentences(timeline: &DeviceTimeline) -> Vec<String> {
    let time = TimeFormat::for_timeline(timeline);
    let mut out = Vec::new();
    let (Some(start), Some(end)) = (timeline.start, timeline.end) else {
        return vec!["The log holds no record: nothing is known.".to_string()];
    };
    out.push(format!(
        "The log covers {}–{} (UTC{}); {} event(s) understood.",
        time.show(start),
        time.show(end),
        start.offset(),
        timeline.events.len()
    ));
    if let Some(apns) = apns_sentence(timeline, time) {
        out.push(apns);
    }
    for dimension in Dimension::ALL.into_iter().filter(|d| *d != Dimension::Apns) {
        if let Some(line) = dimension_sentence(timeline, dimension, time) {
            out.push(line);
        }
    }
    let wakes: Vec<String> = timeline
        .wakes()
        .map(|event| match &event.kind {
            EventKind::CallWake {
                source,
                owner,
                owner_pid,
                assertion,
            } => {
                let who = match (owner, owner_pid) {
                    (Some(o), Some(p)) => format!("{o}.{p}"),
                    (Some(o), None) => o.clone(),
                    _ => "<private>".to_string(),
                };
                format!(
                    "woken by an {source} at {} ({who}: {assertion})",
                    time.show(event.at)
                )
            }
            _ => unreachable!("wakes() yields call wakes"),
        })
        .collect();
    if wakes.is_empty() {
        out.push("Wake: no call wake seen.".to_string());
    } else {
        out.push(format!("Wake: {}.", wakes.join("; ")));
    }
    out.push(unknown_sentence(timeline, time));
    out
}

fn known(intervals: &[Interval]) -> impl Iterator<Item = &Interval> {
    intervals.iter().filter(|i| !i.is_unknown())
}

fn span(interval: &Interval, time: TimeFormat) -> String {
    let from = interval.carried_from.or(interval.from);
    match (from, interval.to) {
        (Some(from), Some(to)) => format!(
            "{} from {} to {}",
            interval.state,
            time.show(from),
            time.show(to)
        ),
        (Some(from), None) => format!(
            "{} from {} to the end of the log",
            interval.state,
            time.show(from)
        ),
        (None, Some(to)) => format!("{} until {}", interval.state, time.show(to)),
        (None, None) => interval.state.to_string(),
    }
}

/// APNs gets its own sentence: a reconnection still open at the end is the key finding.
fn apns_sentence(timeline: &DeviceTimeline, time: TimeFormat) -> Option<String> {
    let intervals = timeline.states.get(&Dimension::Apns)?;
    let known: Vec<&Interval> = known(intervals).collect();
    let last = known.last()?;
    let mut parts: Vec<String> = known[..known.len() - 1]
        .iter()
        .map(|i| span(i, time))
        .collect();
    let open_reconnect =
        matches!(last.state, State::Apns(ApnsState::Reconnecting { .. })) && last.to.is_none();
    if open_reconnect {
        let how = last
            .since_event
            .and_then(|i| timeline.events.get(i))
            .map(|e| match &e.kind {
                EventKind::ApnsPathSatisfied {
                    interface,
                    radio,
                    port,
                    ..
                } => {
                    let mut what = vec![interface.clone().unwrap_or_else(|| "<private>".into())];
                    what.extend(radio.clone());
                    what.extend(port.map(|p| format!("port {p}")));
                    format!(" (path satisfied on {})", what.join(", "))
                }
                _ => String::new(),
            })
            .unwrap_or_default();
        let end = timeline
            .end
            .map(|e| format!(" ({})", time.show(e)))
            .unwrap_or_default();
        parts.push(format!(
            "reconnecting from {}{how}; no viable connection seen before the end of the log{end}",
            last.carried_from
                .or(last.from)
                .map(|f| time.show(f))
                .unwrap_or_default()
        ));
    } else {
        parts.push(span(last, time));
    }
    Some(format!("APNs: {}.", parts.join("; ")))
}

fn dimension_sentence(
    timeline: &DeviceTimeline,
    dimension: Dimension,
    time: TimeFormat,
) -> Option<String> {
    let intervals = timeline.states.get(&dimension)?;
    let parts: Vec<String> = known(intervals).map(|i| span(i, time)).collect();
    if parts.is_empty() {
        return None;
    }
    let mut label = dimension.label().to_string();
    label[..1].make_ascii_uppercase();
    Some(format!("{label}: {}.", parts.join("; ")))
}

fn unknown_sentence(timeline: &DeviceTimeline, time: TimeFormat) -> String {
    let mut until = Vec::new();
    let mut never = Vec::new();
    for dimension in Dimension::ALL {
        let Some(first) = timeline.states.get(&dimension).and_then(|i| i.first()) else {
            continue;
        };
        if !first.is_unknown() {
            continue;
        }
        match first.to {
            Some(to) => until.push(format!("{dimension} until {}", time.show(to))),
            None => never.push(dimension.label()),
        }
    }
    let mut parts = Vec::new();
    if !until.is_empty() {
        parts.push(format!(
            "Unknown before the first evidence: {}.",
            until.join(", ")
        ));
    }
    if !never.is_empty() {
        parts.push(format!(
            "No evidence at all (unknown throughout): {}.",
            never.join(", ")
        ));
    }
    parts.join(" ")
}
