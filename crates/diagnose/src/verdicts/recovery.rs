//! What ended an outage: the earliest line after the send that shows the device could take a
//! push again. Which lines count depends on what kept it away: for a radio outage the network
//! coming back (registration, RRC connected, a path satisfied, an interface up, APNs traffic)
//! ends it as surely as a wake; for a power-policy outage only a wake (an incoming cellular call,
//! the user, the display) or APNs traffic does.

use std::time::Duration;

use pushtrace_model::duration::{after, before};
use pushtrace_model::{Cause, DeviceEvent, EventKind, PolicyStage, Recovery, Timestamp};

use super::Context;

/// A wake may be stamped just after the arrival it caused.
const AFTER_ARRIVAL: Duration = Duration::from_secs(5);
/// How close to a wake powerd's lifting of the policy is.
const WAKE: Duration = Duration::from_secs(2);
/// The network's return is often several lines (registration, RRC, path, APNs): those within
/// this of the first are cited with it.
const RETURN: Duration = Duration::from_secs(10);

/// The line that ended the outage begun at `began`, looked for from `from` (the send) to shortly
/// after `until`, what it was, and the lines of the same return that follow it.
pub(super) fn find<'a>(
    cx: &Context<'a>,
    cause: Cause,
    began: Timestamp,
    from: Timestamp,
    until: Timestamp,
) -> Option<(Recovery, &'a DeviceEvent, Vec<&'a DeviceEvent>)> {
    let horizon = after(until, AFTER_ARRIVAL);
    let network_counts = matches!(
        cause,
        Cause::DeviceOfflineRadio | Cause::ExpiredWhileOffline | Cause::NetworkPathSuspect
    );
    // A network line ends an outage only when it changes a state (registration returning, the
    // radio connecting, an interface coming up): the same "up" said again is not a return.
    let events = &cx.timeline.events;
    let (index, recovery) = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.at > from && e.at <= horizon)
        .find_map(|(i, e)| {
            let r = kind(&e.kind, network_counts)?;
            // APNs traffic too: data on a connection that never went away is not a return.
            let is_state_line = matches!(
                e.kind,
                EventKind::RrcState { .. }
                    | EventKind::NetworkState { .. }
                    | EventKind::CellRegistration { .. }
                    | EventKind::ApnsPathSatisfied { .. }
                    | EventKind::ApnsConnected { .. }
                    | EventKind::ApnsDataReceived { .. }
            );
            (!is_state_line || cx.state_changes.contains(&i))
                .then_some((i, r))
                .filter(|_| r != Recovery::NetworkChange || !fails_right_after(events, i))
        })?;
    let first = &events[index];
    // apsd's own timer firing at that instant: the device woke on schedule.
    if recovery == Recovery::NetworkChange
        && let Some(schedule) = scheduled_for(cx, began, first)
    {
        return Some((Recovery::ScheduledWake, first, vec![schedule]));
    }
    let rest = if recovery == Recovery::NetworkChange {
        events[index + 1..]
            .iter()
            .take_while(|e| e.at <= after(first.at, RETURN).min(horizon))
            .filter(|e| kind(&e.kind, true) == Some(Recovery::NetworkChange))
            .take(3)
            .collect()
    } else {
        // A wake lifts powerd's policy in the same instant: its line is part of the wake.
        events
            .iter()
            .filter(|e| {
                e.at >= before(first.at, WAKE)
                    && e.at <= after(first.at, WAKE)
                    && matches!(
                        e.kind,
                        EventKind::PowerPolicy {
                            level: 0 | 1,
                            stage: PolicyStage::Sent
                        }
                    )
            })
            .take(1)
            .collect()
    };
    Some((recovery, first, rest))
}

/// Whether the connection attempt the network's return began failed at once: apsd's failure or
/// loss within [`RETURN`] of `events[i]`, before any connection. A path satisfied that ends in a
/// TLS failure is not the device coming back.
fn fails_right_after(events: &[DeviceEvent], i: usize) -> bool {
    let start = events[i].at;
    events[i + 1..]
        .iter()
        .take_while(|e| e.at <= after(start, RETURN))
        .take_while(|e| {
            !matches!(
                e.kind,
                EventKind::ApnsConnected { .. }
                    | EventKind::ApnsDataReceived { .. }
                    | EventKind::PushReceived { .. }
            )
        })
        .any(|e| {
            matches!(
                e.kind,
                EventKind::ApnsConnectFailed { .. } | EventKind::ApnsDisconnected { .. }
            )
        })
}

/// How close to a scheduled fire time a reconnection must be to be that wake.
const ON_SCHEDULE: Duration = Duration::from_secs(3);
/// How long a wake on schedule may take to reconnect (a keepalive sent at its time, answered by
/// no one, then a new connection: about 30 s).
const SCHEDULED_RECONNECT: Duration = Duration::from_secs(60);

/// When apsd's own timer was due to wake the device, by a line that set it: a persistent
/// timer's fire date, a reconnect back-off ("scheduled reconnect in 120 seconds"), the next
/// keepalive ("next KA in 900sec").
fn fire_time(event: &DeviceEvent) -> Option<Timestamp> {
    match &event.kind {
        EventKind::WakeScheduled { fire_at } => *fire_at,
        EventKind::ApnsConnectSkipped {
            retry_in_s: Some(s),
            ..
        }
        | EventKind::ApnsKeepAlive {
            interval_s: Some(s),
            ..
        } => Some(after(event.at, Duration::from_secs(u64::from(*s)))),
        _ => None,
    }
}

/// The line of apsd's timer that woke the device for the reconnection `line`: its fire time
/// falls just before it (or at it), and no line of the radio or the network changed since the
/// outage `began` (then the network, not the timer, ended it).
fn scheduled_for<'a>(
    cx: &Context<'a>,
    began: Timestamp,
    line: &DeviceEvent,
) -> Option<&'a DeviceEvent> {
    if !matches!(
        line.kind,
        EventKind::ApnsPathSatisfied { .. }
            | EventKind::ApnsConnected { .. }
            | EventKind::ApnsDataReceived { .. }
    ) {
        return None;
    }
    let schedule = cx
        .timeline
        .events
        .iter()
        .rev()
        .filter(|e| e.at <= line.at)
        .find(|e| {
            fire_time(e).is_some_and(|fire| {
                fire <= after(line.at, ON_SCHEDULE) && fire >= before(line.at, SCHEDULED_RECONNECT)
            })
        })?;
    let fire = fire_time(schedule)?;
    let network_moved = cx.timeline.events.iter().any(|e| {
        e.at >= began.min(before(fire, ON_SCHEDULE))
            && e.at < line.at
            && matches!(
                e.kind,
                EventKind::RrcState { state: 1, .. }
                    | EventKind::NetworkState { up: true, .. }
                    | EventKind::CellRegistration { .. }
            )
    });
    (!network_moved).then_some(schedule)
}

fn kind(event: &EventKind, network_counts: bool) -> Option<Recovery> {
    match event {
        EventKind::CallWake { .. } => Some(Recovery::IncomingCellularCallWake),
        EventKind::DisplayState {
            display_off: false, ..
        }
        | EventKind::TopicPolicyState {
            system_locked: Some(false),
            ..
        } => Some(Recovery::UserUnlockOrDisplayOn),
        EventKind::ApnsConnected { .. } | EventKind::ApnsDataReceived { .. } => {
            Some(Recovery::NetworkChange)
        }
        EventKind::RrcState { state: 1, .. }
        | EventKind::NetworkState { up: true, .. }
        | EventKind::ApnsPathSatisfied { .. }
            if network_counts =>
        {
            Some(Recovery::NetworkChange)
        }
        EventKind::CellRegistration { state: Some(state) }
            if network_counts && state.starts_with("kRegistered") =>
        {
            Some(Recovery::NetworkChange)
        }
        _ => None,
    }
}
