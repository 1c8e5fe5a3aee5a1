//! apsd reconnecting at the send: a reconnection runs from the path satisfied that began it to a
//! connection, its failed attempts included, and powerd's display-off policy (3) abandons it
//! only if apsd stops trying under the policy and nothing connects before a wake lifts it.

use std::time::Duration;

use pushtrace_devicelog::timeline::{ApnsState, Dimension, DownReason, Interval, State};
use pushtrace_model::duration::{after, since};
use pushtrace_model::{
    Cause, Confidence, DeviceEvent, EventKind, EvidenceRole, PushRecord, Timestamp,
};

use super::connection::{ApnsAtSend, apns_line};
use super::device::offline;
use super::{Diagnosed, describe, is_connection};
use crate::verdicts::app::Owner;
use crate::verdicts::arrival::Wanted;
use crate::verdicts::{Context, cite};

/// The line that ended the connection shortly before `at` (a stream end, a close, a failure),
/// when the APNs state just before `at` was down.
fn loss_before<'a>(cx: &Context<'a>, at: Timestamp) -> Option<&'a DeviceEvent> {
    let intervals = cx.timeline.states.get(&Dimension::Apns)?;
    let index = intervals.iter().position(|i| i.from == Some(at))?;
    let previous = intervals.get(index.checked_sub(1)?)?;
    let line = cx.timeline.began(previous)?;
    (matches!(previous.state, State::Apns(ApnsState::Down(_)))
        && since(at, line.at) <= Duration::from_secs(60))
    .then_some(line)
}

/// The path-satisfied line that began the reconnection `probe` falls in, when the APNs state at
/// `probe` is a failed attempt and, back to that line, every state is a failed attempt: no
/// connection, loss or unusable interface came between.
pub(super) fn reconnection_start<'a>(
    cx: &Context<'a>,
    probe: Timestamp,
) -> Option<&'a DeviceEvent> {
    let intervals = cx.timeline.states.get(&Dimension::Apns)?;
    let at = intervals
        .iter()
        .rposition(|i| i.from.is_some_and(|f| f <= probe))?;
    for (i, interval) in intervals[..=at].iter().enumerate().rev() {
        match &interval.state {
            State::Apns(ApnsState::Down(DownReason::ConnectFailed { .. })) => continue,
            State::Apns(ApnsState::Down(DownReason::Disconnected { .. }))
                if closes_failed_attempt(intervals, i) =>
            {
                continue;
            }
            State::Apns(ApnsState::Reconnecting { .. }) => return cx.timeline.began(interval),
            _ => return None,
        }
    }
    None
}

/// Whether the disconnection at `index` is apsd closing a failed attempt ("Disconnected in
/// response to connection failure" right after "Connection establish timer fired"): the state
/// before it is that failed attempt, so there was no connection to lose — the reconnection
/// goes on.
fn closes_failed_attempt(intervals: &[Interval], index: usize) -> bool {
    index.checked_sub(1).is_some_and(|previous| {
        matches!(
            intervals[previous].state,
            State::Apns(ApnsState::Down(DownReason::ConnectFailed { .. }))
        )
    })
}

/// The first line after `from` (up to `until`) that shows the device woken or the display
/// policy lifted: an incoming call, the display on, an unlock, powerd sending policy 0 or 1.
fn first_wake<'a>(cx: &Context<'a>, from: Timestamp, until: Timestamp) -> Option<&'a DeviceEvent> {
    cx.timeline.events.iter().find(|e| {
        e.at >= from
            && e.at <= until
            && matches!(
                e.kind,
                EventKind::CallWake { .. }
                    | EventKind::DisplayState {
                        display_off: false,
                        ..
                    }
                    | EventKind::TopicPolicyState {
                        system_locked: Some(false),
                        ..
                    }
                    | EventKind::PowerPolicy { level: 0 | 1, .. }
            )
    })
}

/// `start`: the path-satisfied line that began the reconnection when the state at the send is
/// one of its failed attempts (`at_send` is then that attempt).
pub(super) fn reconnecting(
    cx: &Context<'_>,
    push: &PushRecord,
    at_send: &ApnsAtSend<'_>,
    state: &ApnsState,
    until: Timestamp,
    start: Option<&DeviceEvent>,
) -> Diagnosed {
    if matches!(state, ApnsState::Down(_)) && start.is_none() {
        return offline(cx, push, at_send, state, until);
    }
    let began = start.or(at_send.line).map_or(push.sent_at, |e| e.at);
    let bundle = Wanted::of(push, cx.options.app.as_deref())
        .bundle()
        .map(str::to_owned);
    let window = |e: &&DeviceEvent| e.at >= began && e.at <= until;
    let policy3 = cx
        .timeline
        .events
        .iter()
        .filter(window)
        .find(|e| matches!(e.kind, EventKind::PowerPolicy { level: 3, .. }));
    let connected_before = policy3.is_some_and(|p| {
        cx.timeline
            .events
            .iter()
            .any(|e| e.at > began && e.at < p.at && is_connection(&e.kind))
    });
    // Policy 3 already in force when the reconnection began counts too.
    let policy_at_start = cx.timeline.state_at(Dimension::PowerPolicy, began);
    let already = policy_at_start
        .state
        .power_policy()
        .is_some_and(|p| p.is_display_off());
    let policy_line = policy3.filter(|_| !connected_before).or_else(|| {
        already
            .then(|| cx.timeline.began(policy_at_start))
            .flatten()
    });
    let Some(policy) = policy_line else {
        return offline(cx, push, at_send, state, until);
    };
    // The policy abandons a reconnection only if apsd stops trying under it and nothing
    // connects until a wake lifts it. apsd connecting while the policy still held, or still
    // logging attempts after the latest policy-3 line before the wake, shows the policy did not
    // stop it: the wait was the network's.
    let connected_after = cx
        .timeline
        .events
        .iter()
        .find(|e| e.at > began.max(policy.at) && e.at <= until && is_connection(&e.kind));
    let stop = connected_after.map_or(until, |c| c.at);
    let wake = first_wake(cx, policy.at, stop);
    let waited_until = wake.map_or(stop, |w| w.at);
    let policy = cx
        .timeline
        .events
        .iter()
        .rev()
        .find(|e| {
            e.at >= policy.at
                && e.at <= waited_until
                && matches!(e.kind, EventKind::PowerPolicy { level: 3, .. })
        })
        .unwrap_or(policy);
    let attempt_after = cx.timeline.events.iter().find(|e| {
        e.at > began.max(policy.at)
            && e.at < waited_until
            && matches!(e.kind, EventKind::ApnsConnectFailed { .. })
    });
    let not_stopped = match (connected_after, wake, attempt_after) {
        (Some(connected), None, _) => Some((
            connected,
            format!(
                "apsd connected at {} without a wake",
                cx.clock.show(connected.at)
            ),
            "apsd connected under policy 3, without a wake",
        )),
        (_, _, Some(attempt)) => Some((
            attempt,
            format!(
                "apsd was still trying at {}{}",
                cx.clock.show(attempt.at),
                wake.map_or(String::new(), |w| format!(
                    ", until the wake at {}",
                    cx.clock.show(w.at)
                ))
            ),
            "apsd still trying under policy 3",
        )),
        _ => None,
    };
    if let Some((line, what, note)) = not_stopped {
        let mut found = offline(cx, push, at_send, state, until);
        found.why = format!(
            "{}; powerd's assertion policy 3 (display off, since {}) did not stop apsd: {what}",
            found.why,
            cx.clock.show(policy.at),
        );
        found.evidence.push(cite(line, EvidenceRole::Context, note));
        return found;
    }
    let mut evidence = apns_line(at_send, state);
    if let Some(path) = start {
        evidence.push(cite(
            path,
            EvidenceRole::Supports,
            "the path is satisfied: apsd's reconnection began",
        ));
    }
    // How the connection was lost before apsd began reconnecting, when a line says so.
    if let Some(loss) = loss_before(cx, began) {
        evidence.push(cite(loss, EvidenceRole::Supports, describe(loss)));
    }
    for e in cx
        .timeline
        .events
        .iter()
        .filter(|e| e.at >= began.min(policy.at) && e.at <= until)
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::PowerPolicy { level: 3, .. }
                    | EventKind::AssertionActivityUpdate
                    | EventKind::DisplayState {
                        display_off: true,
                        ..
                    }
                    | EventKind::NecpDefunct { .. }
            )
        })
    {
        // NECP tearing down a suspended app's flows is routine: cited only when it is the
        // push's own app.
        if matches!(e.kind, EventKind::NecpDefunct { .. })
            && cx
                .apps
                .owner(e, bundle.as_deref(), cx.options.app_process.as_deref())
                != Owner::App
        {
            continue;
        }
        // Only the lines of the policy change itself, not every later one.
        if e.at <= after(policy.at, Duration::from_secs(5)) {
            evidence.push(cite(e, EvidenceRole::Supports, describe(e)));
        }
    }
    let reconnecting = match start {
        Some(path) => format!(
            "since the path was satisfied at {}; at the send its last attempt had failed: {state}",
            cx.clock.show(path.at)
        ),
        None => state.to_string(),
    };
    Diagnosed {
        cause: Cause::ReconnectAbandonedPowerPolicy,
        confidence: Confidence::High,
        why: format!(
            "apsd was reconnecting to APNs ({reconnecting}) when powerd moved to assertion policy 3 (display off) at {}, and nothing connected before a wake",
            cx.clock.show(policy.at)
        ),
        evidence,
        outage_from: Some(began),
    }
}
