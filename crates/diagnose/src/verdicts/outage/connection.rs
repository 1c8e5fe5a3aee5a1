//! Was the APNs connection alive at the send? "Connected" needs evidence near the send: a
//! connection line at most [`FRESH`] before it, or lines on both sides of it inside one
//! connected stretch; otherwise the state at the send is unknown, or read from the first APNs
//! line after it when that line shows a reconnection or a loss.

use std::time::Duration;

use pushtrace_devicelog::timeline::{
    ApnsState, Dimension, DownReason, Interval, Registration, State,
};
use pushtrace_model::duration::since;
use pushtrace_model::{
    DeviceEvent, EventKind, Evidence, EvidenceRole, Human, PushRecord, Timestamp,
};

use super::is_connection;
use crate::verdicts::arrival::{Wanted, other_apps_pushes};
use crate::verdicts::window::expected_by;
use crate::verdicts::{Context, cite};

/// How close before the send a connection line must be to show, alone, that the connection
/// was alive at it.
pub const FRESH: Duration = Duration::from_secs(5 * 60);
/// How far apart two connection lines of one stretch, either side of the send, may be and still
/// show the connection alive across it: one keepalive cycle (apsd's longest, "next KA in
/// 1740sec", is 29 min).
const BRACKET: Duration = Duration::from_secs(30 * 60);

/// What the APNs connection was doing at the send, with the line that shows it.
pub(super) struct ApnsAtSend<'a> {
    pub state: Option<ApnsState>,
    pub line: Option<&'a DeviceEvent>,
    /// For a live connection, the line after the send that brackets it.
    pub after: Option<&'a DeviceEvent>,
    /// For a live connection, apsd's own keepalives nearest the send on either side when they are
    /// not the lines above: the nearest line may be traffic another app's push caused (a timer
    /// reset by an incoming message), and the keepalives are the connection's own.
    pub keepalives: Vec<&'a DeviceEvent>,
    /// Read from the first APNs line after the send (the state at the send is not in the log).
    pub inferred: bool,
    /// For a connection last shown alive too long before the send: apsd's next word on it,
    /// after the send, that it found it dead, and the reconnection on the same interface that
    /// followed at once with no change of the network ([`found_dead`]).
    pub found_dead: Option<(&'a DeviceEvent, &'a DeviceEvent)>,
    pub why_unknown: Option<String>,
}

/// The APNs state at `probe` (the send, or the log's first line when it starts later).
pub(super) fn apns_at<'a>(cx: &Context<'a>, probe: Timestamp, until: Timestamp) -> ApnsAtSend<'a> {
    let timeline = cx.timeline;
    let interval = timeline.state_at(Dimension::Apns, probe);
    let began = timeline.began(interval);
    match &interval.state {
        State::Apns(state @ ApnsState::Connected { .. }) => {
            let before_send = connection_lines(cx, interval)
                .rev()
                .find(|e| e.at <= probe)
                .or(began);
            // After the send, a line that shows traffic both ways (an ack, data) says more
            // than a keepalive sent; the two lines may be at most one keepalive cycle apart
            // (apsd's "next KA in 1740sec": 29 min), or a keepalive was missed between them.
            let within = |e: &&DeviceEvent| {
                e.at > probe && before_send.is_some_and(|b| since(e.at, b.at) <= BRACKET)
            };
            let after_send = connection_lines(cx, interval)
                .filter(within)
                .find(|e| shows_traffic(&e.kind))
                .or_else(|| connection_lines(cx, interval).find(within));
            let fresh = before_send.filter(|e| since(probe, e.at) <= FRESH);
            let bracketed = before_send.is_some() && after_send.is_some();
            let keepalive = |e: &&DeviceEvent| matches!(&e.kind, EventKind::ApnsKeepAlive { mode, .. } if mode != "implicit");
            let keepalives: Vec<&DeviceEvent> = [
                connection_lines(cx, interval)
                    .rev()
                    .filter(|e| e.at <= probe && since(probe, e.at) <= BRACKET)
                    .find(keepalive),
                connection_lines(cx, interval)
                    .filter(within)
                    .find(keepalive),
            ]
            .into_iter()
            .flatten()
            .filter(|k| Some(*k) != before_send && Some(*k) != after_send)
            .collect();
            match (fresh.is_some() || bracketed, before_send) {
                (true, line) => ApnsAtSend {
                    state: Some(state.clone()),
                    line,
                    after: after_send,
                    keepalives,
                    inferred: false,
                    found_dead: None,
                    why_unknown: None,
                },
                (false, last) => {
                    if let Some(dead) = found_dead(cx, interval, state, probe, until) {
                        return ApnsAtSend {
                            state: Some(state.clone()),
                            line: last,
                            after: None,
                            keepalives: Vec::new(),
                            inferred: false,
                            found_dead: Some(dead),
                            why_unknown: None,
                        };
                    }
                    let mut next = first_apns_change(cx, probe, until);
                    next.why_unknown = Some(match last {
                        Some(e) => format!(
                            "the last line showing the APNs connection alive is at {}, {} before the send, and none after it shows the connection still up: a line more than {} old does not show the connection alive at the send",
                            cx.clock.show(e.at),
                            Human(since(probe, e.at)),
                            Human(FRESH)
                        ),
                        None => "nothing shows the APNs connection alive near the send".into(),
                    });
                    next
                }
            }
        }
        State::Apns(state) => ApnsAtSend {
            state: Some(state.clone()),
            line: began,
            after: None,
            keepalives: Vec::new(),
            inferred: false,
            found_dead: None,
            why_unknown: None,
        },
        _ => {
            let mut after_send = first_apns_change(cx, probe, until);
            after_send.why_unknown =
                Some("the log says nothing about the APNs connection at the send".into());
            after_send
        }
    }
}

/// How soon after finding its connection dead apsd must be connected again, on the same
/// interface, for the device's own network to have been working: a first retry, not a wait for
/// the network to return.
const RECONNECT: Duration = Duration::from_secs(120);

/// A connection apsd believed up at `probe` (the `connected` stretch, last shown alive too long
/// before it) and found dead after it: the stretch ends in a loss on its interface with no line
/// of the device losing its network since the stretch began (no interface or network down, no
/// registration lost, no unusable interface), and apsd is connected again on the same interface
/// within [`RECONNECT`] with no network line between (no path, radio, registration or interface
/// change). The device's network worked throughout; the connection died between the phone and
/// APNs (a NAT or middlebox forgetting it, the server dropping it), unseen until apsd's own
/// probe. Returns the loss and the reconnection.
fn found_dead<'a>(
    cx: &Context<'a>,
    connected: &Interval,
    state: &ApnsState,
    probe: Timestamp,
    until: Timestamp,
) -> Option<(&'a DeviceEvent, &'a DeviceEvent)> {
    let ApnsState::Connected { interface } = state else {
        return None;
    };
    let intervals = cx.timeline.states.get(&Dimension::Apns)?;
    let index = intervals
        .iter()
        .position(|i| i.from == connected.from && i.to == connected.to)?;
    let lost = intervals.get(index + 1)?;
    let back = intervals.get(index + 2)?;
    let loss = cx.timeline.began(lost)?;
    let reconnected = cx.timeline.began(back)?;
    let same = |i: &Option<String>| i.is_some() && i == interface;
    let lost_here = matches!(
        &lost.state,
        State::Apns(ApnsState::Down(DownReason::Disconnected { .. }))
    ) && matches!(&loss.kind, EventKind::ApnsDisconnected { interface: i, .. } if same(i));
    let back_here =
        matches!(&back.state, State::Apns(ApnsState::Connected { interface: i }) if same(i));
    if !lost_here
        || !back_here
        || loss.at <= probe
        || loss.at > until
        || since(reconnected.at, loss.at) > RECONNECT
    {
        return None;
    }
    let from = connected.from.unwrap_or(probe);
    let device_lost_network = cx.timeline.events.iter().any(|e| {
        e.at >= from
            && e.at < loss.at
            && match &e.kind {
                EventKind::NetworkState { up: false, .. } => true,
                EventKind::CellRegistration { state: Some(s) } => {
                    !Registration::from_name(s).is_registered()
                }
                EventKind::ApnsConnectSkipped {
                    connected_interfaces,
                    ..
                } => connected_interfaces.is_none_or(|n| n == 0),
                _ => false,
            }
    });
    let network_moved = cx.timeline.events.iter().any(|e| {
        e.at > loss.at
            && e.at < reconnected.at
            && matches!(
                e.kind,
                EventKind::RrcState { .. }
                    | EventKind::NetworkState { .. }
                    | EventKind::CellRegistration { .. }
                    | EventKind::ApnsPathSatisfied { .. }
            )
    });
    (!device_lost_network && !network_moved).then_some((loss, reconnected))
}

/// The bounds of the connected stretch `interval` is part of: the connected states next to it
/// whose interface agrees with it or is not said. A line that names no interface (apsd's
/// `unknown topic hash` drop, a redacted one) starts a state of its own in the timeline, but says
/// nothing of a new connection: the stretch goes on through it.
fn connected_stretch(
    cx: &Context<'_>,
    interval: &Interval,
) -> (Option<Timestamp>, Option<Timestamp>) {
    let bounds = (interval.from, interval.to);
    let Some(intervals) = cx.timeline.states.get(&Dimension::Apns) else {
        return bounds;
    };
    let Some(index) = intervals
        .iter()
        .position(|i| i.from == interval.from && i.to == interval.to)
    else {
        return bounds;
    };
    let interface_of = |i: &Interval| match &i.state {
        State::Apns(ApnsState::Connected { interface }) => Some(interface.clone()),
        _ => None,
    };
    let Some(mut known) = interface_of(interval) else {
        return bounds;
    };
    let mut joins = |i: &Interval| match interface_of(i) {
        Some(None) => true,
        Some(Some(name)) => match &known {
            Some(k) => *k == name,
            None => {
                known = Some(name);
                true
            }
        },
        None => false,
    };
    let first = intervals[..index]
        .iter()
        .rposition(|i| !joins(i))
        .map_or(0, |p| p + 1);
    let last = intervals[index + 1..]
        .iter()
        .position(|i| !joins(i))
        .map_or(intervals.len() - 1, |p| index + p);
    (intervals[first].from, intervals[last].to)
}

/// Whether a connection line shows traffic from APNs (an ack, a timer reset by incoming data,
/// data, the connection made), not only a keepalive sent.
fn shows_traffic(kind: &EventKind) -> bool {
    match kind {
        EventKind::ApnsKeepAlive { mode, .. } => mode != "explicit",
        _ => true,
    }
}

/// Another app's push that APNs delivered over the connection live at `probe` (the same
/// connected stretch: its interface, no loss between), when it is the first traffic on that
/// connection after this push was due. APNs delivers over the device's persistent connection,
/// so that delivery shows APNs reaching the device, over that connection, at a time this push
/// should already have come: the loss is this push's, not the device's. Earlier pushes of other
/// apps prove nothing more than apsd's own lines: one before the send says nothing of this
/// push, and one inside its window (sent to due) came while this one could still come after it
/// (APNs does not keep pushes in order, docs/reference/apns.md §4.1–4.2), and is a delivery the
/// arrival step weighed as this push's; cited as support, it reads as the arrival. Nor is one
/// cited after apsd's own traffic already showed the connection alive past the due time: it
/// adds nothing to the nearer line.
pub(super) fn other_app_push_after_due(
    cx: &Context<'_>,
    push: &PushRecord,
    probe: Timestamp,
) -> Option<Evidence> {
    let interval = cx.timeline.state_at(Dimension::Apns, probe);
    if !matches!(interval.state, State::Apns(ApnsState::Connected { .. })) {
        return None;
    }
    let due = expected_by(push, cx.options);
    let (from, to) = connected_stretch(cx, interval);
    let after_due = |e: &&DeviceEvent| {
        e.at > due && to.is_none_or(|t| e.at < t) && since(e.at, probe) <= BRACKET
    };
    let own = connection_lines(cx, interval).find(after_due);
    let wanted = Wanted::of(push, cx.options.app.as_deref());
    let other = other_apps_pushes(cx, &wanted)
        .filter(|e| from.is_none_or(|f| e.at >= f))
        .find(after_due)?;
    if own.is_some_and(|own| own.at <= other.at) {
        return None;
    }
    Some(cite(
        other,
        EvidenceRole::Supports,
        "another app's push delivered over the same connection after this one was due",
    ))
}

/// The lines of a connected stretch that show the connection alive: apsd's own traffic and
/// keepalives (another app's push shows it too, but is cited only as
/// [`other_app_push_after_due`] says).
pub(super) fn connection_lines<'a>(
    cx: &Context<'a>,
    interval: &Interval,
) -> impl DoubleEndedIterator<Item = &'a DeviceEvent> {
    let (from, to) = connected_stretch(cx, interval);
    cx.timeline.events.iter().filter(move |e| {
        from.is_none_or(|f| e.at >= f) && to.is_none_or(|t| e.at < t) && is_connection(&e.kind)
    })
}

/// The first line after `probe` that sets the APNs state: a reconnection or a loss right after
/// the send says the device was not connected at it.
pub(super) fn first_apns_change<'a>(
    cx: &Context<'a>,
    probe: Timestamp,
    until: Timestamp,
) -> ApnsAtSend<'a> {
    let intervals = cx
        .timeline
        .states
        .get(&Dimension::Apns)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let next = intervals
        .iter()
        .find(|i| i.from.is_some_and(|f| f > probe && f <= until) && !i.is_unknown());
    match next.map(|i| (&i.state, cx.timeline.began(i))) {
        Some((State::Apns(state), line)) if !matches!(state, ApnsState::Connected { .. }) => {
            ApnsAtSend {
                state: Some(state.clone()),
                line,
                after: None,
                keepalives: Vec::new(),
                inferred: true,
                found_dead: None,
                why_unknown: None,
            }
        }
        _ => ApnsAtSend {
            state: None,
            line: None,
            after: None,
            keepalives: Vec::new(),
            inferred: false,
            found_dead: None,
            why_unknown: None,
        },
    }
}

/// When the APNs connection was last seen up before `probe` (the end of the last connected
/// stretch).
pub(super) fn last_connected_end(cx: &Context<'_>, probe: Timestamp) -> Option<Timestamp> {
    cx.timeline
        .states
        .get(&Dimension::Apns)?
        .iter()
        .rev()
        .filter(|i| i.from.is_none_or(|f| f <= probe))
        .find(|i| matches!(i.state, State::Apns(ApnsState::Connected { .. })))
        .and_then(|i| i.to)
}

pub(super) fn apns_line(at_send: &ApnsAtSend<'_>, state: &ApnsState) -> Vec<Evidence> {
    let mut lines: Vec<Evidence> = at_send
        .line
        .map(|e| cite(e, EvidenceRole::Supports, format!("APNs: {state}")))
        .into_iter()
        .collect();
    if let Some(e) = at_send.after {
        lines.push(cite(
            e,
            EvidenceRole::Supports,
            "APNs still connected after the send",
        ));
    }
    for e in &at_send.keepalives {
        lines.push(cite(e, EvidenceRole::Supports, "apsd's keepalive"));
    }
    lines
}
