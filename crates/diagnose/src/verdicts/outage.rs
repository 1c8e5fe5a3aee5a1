//! Step 5: the push was late, or never seen. Why?
//!
//! Time lost before APNs comes first (`provider_delay`): a push sent after its own deadline, an
//! APNs answer that came after it, or a wait in the sender's queue without which the push would
//! have been on time — whatever the device was doing. Otherwise the APNs connection's state at
//! the send decides the device-side cause. "Connected" needs evidence near the send: a
//! connection line at most [`FRESH`] before it, or lines on both sides of it inside one
//! connected stretch (nothing in between says the connection was lost); an older line alone
//! proves nothing about the connection at the send (a carrier's NAT forgets an idle mapping
//! in about five minutes), and the state is then unknown.

use std::time::Duration;

use pushtrace_devicelog::timeline::{ApnsState, Dimension, DownReason, Interval, State};
use pushtrace_model::duration::{after, before, since};
use pushtrace_model::{
    Cause, Confidence, DeviceEvent, EventKind, Evidence, EvidenceRole, Human, Outcome, PushRecord,
    Recovery, Timestamp,
};

use super::arrival::{Arrival, Attribution};
use super::delivered::{arrival_evidence, attribution_note};
use super::window::{expected_by, starts_after_send};
use super::{Context, Found, cite, recovery};

/// How close before the send a connection line must be to show, alone, that the connection
/// was alive at it.
pub const FRESH: Duration = Duration::from_secs(5 * 60);
/// How far after the send a connection line of the same stretch still brackets it.
const BRACKET: Duration = Duration::from_secs(30 * 60);

/// How long the log must go on after the device came back for "nothing arrived" to mean the
/// push expired rather than that the log ended too soon.
const AFTER_RECOVERY: Duration = Duration::from_secs(30);

/// The verdict of a push that arrived late or was not seen.
pub(super) fn verdict(cx: &Context<'_>, push: &PushRecord, arrival: Option<&Arrival<'_>>) -> Found {
    let due = expected_by(push, cx.options);
    let end = cx.timeline.end.unwrap_or(push.sent_at);
    let until = arrival.map_or(end, |a| a.at);
    let mut cause = provider_delay(cx, push, arrival, due)
        .or_else(|| dropped_by_apsd(cx, push, until))
        .unwrap_or_else(|| device_side(cx, push, until));

    let mut recovered: Option<(Recovery, &DeviceEvent)> = None;
    let mut recovery_lines: Vec<&DeviceEvent> = Vec::new();
    if cause.cause != Cause::ProviderDelay && cause.cause != Cause::Unknown {
        let from = cause.outage_from.unwrap_or(push.sent_at);
        if let Some((r, line, rest)) =
            recovery::find(cx, cause.cause, from.max(push.sent_at), until)
        {
            recovered = Some((r, line));
            recovery_lines = rest;
        }
        // Connection lines during the outage argue against "the device could not be reached":
        // up to the recovery for a push never seen, up to shortly before the arrival for a late
        // one (a connection minutes before it arrived did not end its wait).
        if matches!(
            cause.cause,
            Cause::DeviceOfflineRadio | Cause::ReconnectAbandonedPowerPolicy
        ) {
            let stop = match arrival {
                Some(a) => before(a.at, AFTER_RECOVERY),
                None => recovered.map_or(until, |(_, e)| e.at),
            };
            for e in
                cx.timeline.events.iter().filter(|e| {
                    e.at > push.sent_at.max(from) && e.at < stop && is_connection(&e.kind)
                })
            {
                cause.evidence.push(cite(
                    e,
                    EvidenceRole::Contradicts,
                    "APNs traffic during the outage",
                ));
            }
        }
    }
    if arrival.is_none()
        && let Some(expired) = expired(cx, push, &cause, recovered.map(|(_, e)| e.at), end)
    {
        cause.cause = Cause::ExpiredWhileOffline;
        cause.why = format!("{}; {expired}", cause.why);
    }

    let mut confidence = cause.confidence;
    let mut notes = String::new();
    if arrival.is_none() {
        // No receipt and no arrival line: it may have arrived after the log ends.
        confidence = confidence.lower();
    }
    if let Some(a) = arrival
        && a.attribution == Attribution::Inferred
    {
        confidence = confidence.lower();
    }
    if cause.cause != Cause::ProviderDelay
        && let Some(start) = starts_after_send(cx, push)
    {
        confidence = confidence.lower();
        notes.push_str(&format!(
            " The log starts at {}, {} after the send: the device's state at the send is read from its first lines.",
            cx.clock.show(start),
            Human(since(start, push.sent_at))
        ));
    }

    let head = match arrival {
        Some(a) => format!(
            "Delivered at {}, {} after it was sent{} and past its deadline ({})",
            cx.clock.show(a.at),
            Human(since(a.at, push.sent_at)),
            attribution_note(a),
            cx.clock.show(due)
        ),
        None => format!(
            "Not seen on the device up to the end of the log ({}), and no receipt",
            cx.clock.show(end)
        ),
    };
    let recovery_text = match (cause.cause, recovered) {
        (Cause::ProviderDelay | Cause::Unknown, _) => String::new(),
        (_, Some((r, e))) => format!(
            "; the outage ended at {} ({})",
            cx.clock.show(e.at),
            r.describe()
        ),
        (_, None) => "; no wake or network change that ended it is in the log".into(),
    };

    let mut found = Found::new(
        if arrival.is_some() {
            Outcome::Late
        } else {
            Outcome::NotDelivered
        },
        cause.cause,
        confidence,
        format!("{head}: {}{recovery_text}.{notes}", cause.why),
    );
    if let Some(a) = arrival {
        found.latency = Some(since(a.at, push.sent_at));
        found.arrived_at = Some(a.at);
        found.evidence.extend(arrival_evidence(a));
    }
    found.evidence.append(&mut cause.evidence);
    match (cause.cause, recovered) {
        (Cause::ProviderDelay | Cause::Unknown, _) => found.recovery = Some(Recovery::NoneSeen),
        (_, Some((r, e))) => {
            found.recovery = Some(r);
            found.recovered_at = Some(e.at);
            found
                .evidence
                .push(cite(e, EvidenceRole::Context, r.describe()));
            for line in recovery_lines {
                let note = match r {
                    Recovery::ScheduledWake => "apsd's timer scheduled to fire then",
                    _ => "the network coming back",
                };
                found.evidence.push(cite(line, EvidenceRole::Context, note));
            }
        }
        (_, None) => found.recovery = Some(Recovery::NoneSeen),
    }
    found
}

/// A cause with its reasons, before the recovery and the outcome are known.
struct Diagnosed {
    cause: Cause,
    confidence: Confidence,
    why: String,
    evidence: Vec<Evidence>,
    /// When the outage began, if a line shows it (the recovery is looked for after it).
    outage_from: Option<Timestamp>,
}

impl Diagnosed {
    fn new(cause: Cause, confidence: Confidence, why: String) -> Diagnosed {
        Diagnosed {
            cause,
            confidence,
            why,
            evidence: Vec::new(),
            outage_from: None,
        }
    }
}

fn is_connection(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::ApnsDataReceived { .. }
            | EventKind::ApnsKeepAlive { .. }
            | EventKind::ApnsConnected { .. }
    )
}

/// Time lost before APNs: the sender's queue and APNs's answer.
fn provider_delay(
    cx: &Context<'_>,
    push: &PushRecord,
    arrival: Option<&Arrival<'_>>,
    due: Timestamp,
) -> Option<Diagnosed> {
    let show = |t| cx.clock.show(t);
    let queued = push.queued_at.filter(|q| *q < push.sent_at);
    let waited = queued.map(|q| since(push.sent_at, q));
    let answer = push.responded_at.map(|r| since(r, push.sent_at));
    let slow_answer = answer.filter(|a| *a > cx.options.slow_apns_answer);
    let why = if push.sent_at > due {
        let mut why = format!(
            "it was sent at {}, already past its deadline ({})",
            show(push.sent_at),
            show(due)
        );
        if let (Some(q), Some(w)) = (queued, waited) {
            why.push_str(&format!(
                " after waiting {} in the sender's queue (queued {})",
                Human(w),
                show(q)
            ));
        }
        why
    } else if let Some(responded) = push.responded_at.filter(|r| *r > due) {
        format!(
            "APNs took {} to answer (at {}), past the push's deadline ({})",
            Human(since(responded, push.sent_at)),
            show(responded),
            show(due)
        )
    } else {
        // Late only by what was lost before APNs: without it the push would have been on time.
        let lost = waited.unwrap_or_default() + slow_answer.unwrap_or_default();
        let arrived = arrival?.at;
        if lost.is_zero() || before(arrived, lost) > due {
            return None;
        }
        let mut parts = Vec::new();
        if let Some(w) = waited.filter(|w| !w.is_zero()) {
            parts.push(format!("{} in the sender's queue", Human(w)));
        }
        if let Some(a) = slow_answer {
            parts.push(format!("{} for APNs to answer", Human(a)));
        }
        format!(
            "{} were lost before APNs ({}); without them it would have arrived by its deadline ({})",
            Human(lost),
            parts.join(" and "),
            show(due)
        )
    };
    Some(Diagnosed::new(
        Cause::ProviderDelay,
        Confidence::High,
        format!("time was lost before the push reached APNs: {why}"),
    ))
}

/// apsd received the push for a topic it does not deliver (ignored, recently removed, unknown):
/// it reached the phone and went no further.
fn dropped_by_apsd(cx: &Context<'_>, push: &PushRecord, until: Timestamp) -> Option<Diagnosed> {
    let topic = push.topic.as_deref();
    let line = cx.timeline.events.iter().find(|e| {
        e.at >= before(push.sent_at, Duration::from_secs(1))
            && e.at <= until
            && matches!(&e.kind, EventKind::PushReceived { filter, topic: seen, .. }
                if filter != "enabled"
                    && seen.as_deref().is_none_or(|s| topic.is_none_or(|t| s.eq_ignore_ascii_case(t))))
    })?;
    let EventKind::PushReceived {
        filter,
        topic: seen,
        ..
    } = &line.kind
    else {
        return None;
    };
    let filter = filter.replace('_', " ");
    // A topic the filter made ignored while locked is held back by power policy; a removed or
    // unknown topic means the app (or its registration) is gone from the phone.
    let (cause, why) = if filter == "ignored" {
        (
            Cause::PowerDeferred,
            format!(
                "apsd received it at {} but its topic was on the ignored list (the topic filter), so it was not delivered to the app",
                cx.clock.show(line.at)
            ),
        )
    } else {
        (
            Cause::TokenInvalid,
            format!(
                "apsd received it at {} for a {filter} topic, so it was not delivered: the app or its registration is no longer on the phone",
                cx.clock.show(line.at)
            ),
        )
    };
    let mut found = Diagnosed::new(
        cause,
        if seen.is_some() {
            Confidence::High
        } else {
            Confidence::Medium
        },
        why,
    );
    found.evidence.push(cite(
        line,
        EvidenceRole::Supports,
        format!("the push reached apsd for a {filter} topic"),
    ));
    Some(found)
}

/// What the APNs connection was doing at the send, with the line that shows it.
struct ApnsAtSend<'a> {
    state: Option<ApnsState>,
    line: Option<&'a DeviceEvent>,
    /// For a live connection, the line after the send that brackets it.
    after: Option<&'a DeviceEvent>,
    /// Read from the first APNs line after the send (the state at the send is not in the log).
    inferred: bool,
    why_unknown: Option<String>,
}

/// The APNs state at `probe` (the send, or the log's first line when it starts later).
fn apns_at<'a>(cx: &Context<'a>, probe: Timestamp, until: Timestamp) -> ApnsAtSend<'a> {
    let timeline = cx.timeline;
    let interval = timeline.state_at(Dimension::Apns, probe);
    let began = timeline.began(interval);
    match &interval.state {
        State::Apns(state @ ApnsState::Connected { .. }) => {
            let before_send = connection_lines(cx, interval)
                .rev()
                .find(|e| e.at <= probe)
                .or(began);
            let after_send = connection_lines(cx, interval)
                .find(|e| e.at > probe && e.at <= after(probe, BRACKET));
            let fresh = before_send.filter(|e| since(probe, e.at) <= FRESH);
            let bracketed = before_send.is_some() && after_send.is_some();
            match (fresh.is_some() || bracketed, before_send) {
                (true, line) => ApnsAtSend {
                    state: Some(state.clone()),
                    line,
                    after: after_send,
                    inferred: false,
                    why_unknown: None,
                },
                (false, last) => {
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
            inferred: false,
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

/// The lines of a connected stretch that show the connection alive: apsd's own traffic and
/// keepalives (another app's push shows it too, but is never cited for this one).
fn connection_lines<'a>(
    cx: &Context<'a>,
    interval: &Interval,
) -> impl DoubleEndedIterator<Item = &'a DeviceEvent> {
    let (from, to) = (interval.from, interval.to);
    cx.timeline.events.iter().filter(move |e| {
        from.is_none_or(|f| e.at >= f) && to.is_none_or(|t| e.at < t) && is_connection(&e.kind)
    })
}

/// The first line after `probe` that sets the APNs state: a reconnection or a loss right after
/// the send says the device was not connected at it.
fn first_apns_change<'a>(cx: &Context<'a>, probe: Timestamp, until: Timestamp) -> ApnsAtSend<'a> {
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
                inferred: true,
                why_unknown: None,
            }
        }
        _ => ApnsAtSend {
            state: None,
            line: None,
            after: None,
            inferred: false,
            why_unknown: None,
        },
    }
}

/// apsd's line making the push's topic non-waking, when it is in force at `probe` (no later
/// line restored it and the device was not unlocked since).
fn downgraded<'a>(
    cx: &Context<'a>,
    push: &PushRecord,
    probe: Timestamp,
) -> Option<&'a DeviceEvent> {
    let topic = push.topic.as_deref()?;
    let line = cx.timeline.events.iter().rev().filter(|e| e.at <= probe).find(|e| {
        matches!(&e.kind, EventKind::TopicDowngraded { topic: Some(t), .. } if t.eq_ignore_ascii_case(topic))
    })?;
    let EventKind::TopicDowngraded { to, .. } = &line.kind else {
        return None;
    };
    let unlocked_since = cx.timeline.events.iter().any(|e| {
        e.at > line.at
            && e.at <= probe
            && matches!(
                e.kind,
                EventKind::TopicPolicyState {
                    system_locked: Some(false),
                    ..
                }
            )
    });
    (to.contains("non-waking") && !unlocked_since).then_some(line)
}

/// When the APNs connection was last seen up before `probe` (the end of the last connected
/// stretch).
fn last_connected_end(cx: &Context<'_>, probe: Timestamp) -> Option<Timestamp> {
    cx.timeline
        .states
        .get(&Dimension::Apns)?
        .iter()
        .rev()
        .filter(|i| i.from.is_none_or(|f| f <= probe))
        .find(|i| matches!(i.state, State::Apns(ApnsState::Connected { .. })))
        .and_then(|i| i.to)
}

/// The device-side cause, from the APNs state at the send.
fn device_side(cx: &Context<'_>, push: &PushRecord, until: Timestamp) -> Diagnosed {
    let probe = starts_after_send(cx, push).unwrap_or(push.sent_at);
    let at_send = apns_at(cx, probe, until);
    let Some(state) = at_send.state.clone() else {
        return Diagnosed::new(
            Cause::Unknown,
            Confidence::Low,
            at_send.why_unknown.unwrap_or_else(|| {
                "the log says nothing about the APNs connection at the send".into()
            }),
        );
    };
    let mut found = match &state {
        ApnsState::Reconnecting { .. } => reconnecting(cx, push, &at_send, &state, until),
        ApnsState::Down(_) => offline(cx, push, &at_send, &state, until),
        ApnsState::Connected { .. } => connected(cx, push, &at_send, &state, probe),
    };
    if at_send.inferred {
        found.confidence = found.confidence.lower();
        if let Some(line) = at_send.line {
            found.why = format!(
                "{} (the state at the send is not in the log: it is read from the first APNs line after it, at {})",
                found.why,
                cx.clock.show(line.at)
            );
        }
    }
    found
}

fn apns_line(at_send: &ApnsAtSend<'_>, state: &ApnsState) -> Vec<Evidence> {
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
    lines
}

fn reconnecting(
    cx: &Context<'_>,
    push: &PushRecord,
    at_send: &ApnsAtSend<'_>,
    state: &ApnsState,
    until: Timestamp,
) -> Diagnosed {
    let began = at_send.line.map_or(push.sent_at, |e| e.at);
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
    let mut evidence = apns_line(at_send, state);
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
        // Only the lines of the policy change itself, not every later one.
        if e.at <= after(policy.at, Duration::from_secs(5)) {
            evidence.push(cite(e, EvidenceRole::Supports, describe(e)));
        }
    }
    Diagnosed {
        cause: Cause::ReconnectAbandonedPowerPolicy,
        confidence: Confidence::High,
        why: format!(
            "apsd was reconnecting to APNs ({state}) when powerd moved to assertion policy 3 (display off) at {}, and nothing connected before a wake",
            cx.clock.show(policy.at)
        ),
        evidence,
        outage_from: Some(began),
    }
}

fn offline(
    cx: &Context<'_>,
    push: &PushRecord,
    at_send: &ApnsAtSend<'_>,
    state: &ApnsState,
    until: Timestamp,
) -> Diagnosed {
    let probe = starts_after_send(cx, push).unwrap_or(push.sent_at);
    let mut evidence = apns_line(at_send, state);
    let mut network = Vec::new();
    for dimension in [
        Dimension::Radio,
        Dimension::Registration,
        Dimension::Network,
    ] {
        let interval = cx.timeline.state_at(dimension, probe);
        if interval.is_unknown() {
            continue;
        }
        // A radio idle, a network down, registration lost support the outage; the network up
        // argues against it (apsd's trouble was elsewhere), a radio connected says nothing.
        let role = match &interval.state {
            State::Radio(pushtrace_devicelog::timeline::Radio::Idle { .. })
            | State::Network(pushtrace_devicelog::timeline::Network::Down { .. }) => {
                EvidenceRole::Supports
            }
            State::Registration(r) if !r.is_registered() => EvidenceRole::Supports,
            State::Network(pushtrace_devicelog::timeline::Network::Up { .. }) => {
                EvidenceRole::Contradicts
            }
            _ => continue,
        };
        network.push(format!("{} {}", dimension.label(), interval.state));
        if let Some(e) = cx.timeline.began(interval) {
            evidence.push(cite(
                e,
                role,
                format!("{}: {}", dimension.label(), interval.state),
            ));
        }
    }
    // Failed attempts and losses since the connection was last up: the first ones began the
    // outage; after the send, the first says it went on.
    let last_up = last_connected_end(cx, probe);
    let failures: Vec<&DeviceEvent> = cx
        .timeline
        .events
        .iter()
        .filter(|e| last_up.is_none_or(|t| e.at >= t) && e.at <= until)
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::ApnsConnectFailed { .. }
                    | EventKind::ApnsDisconnected { .. }
                    | EventKind::NetworkState { up: false, .. }
            ) || matches!(
                e.kind,
                EventKind::ApnsConnectSkipped { connected_interfaces, .. }
                    if connected_interfaces.is_none_or(|n| n == 0)
            )
        })
        .collect();
    let before_send = failures.iter().filter(|e| e.at <= probe).take(3);
    let after_send = failures.iter().find(|e| e.at > probe);
    for e in before_send.chain(after_send) {
        evidence.push(cite(e, EvidenceRole::Supports, describe(e)));
    }
    let radio_lost = matches!(
        cx.timeline.state_at(Dimension::Radio, probe).state,
        State::Radio(pushtrace_devicelog::timeline::Radio::Idle { .. })
    ) || matches!(
        cx.timeline.state_at(Dimension::Network, probe).state,
        State::Network(pushtrace_devicelog::timeline::Network::Down { .. })
    ) || matches!(
        &cx.timeline.state_at(Dimension::Registration, probe).state,
        State::Registration(r) if !r.is_registered()
    );
    // The radio or an interface lost: apsd's connection failing or closing alone may be the
    // server's side or the path, not the device's radio.
    let shows_loss = radio_lost
        || matches!(state, ApnsState::Down(DownReason::NoUsableInterface))
        || failures
            .iter()
            .any(|e| matches!(e.kind, EventKind::NetworkState { up: false, .. }));
    Diagnosed {
        cause: Cause::DeviceOfflineRadio,
        confidence: if shows_loss {
            Confidence::High
        } else {
            Confidence::Medium
        },
        why: format!(
            "the device had no working APNs connection ({state}{})",
            if network.is_empty() {
                "; the radio's state is not in the log".to_string()
            } else {
                format!("; {}", network.join(", "))
            }
        ),
        evidence,
        outage_from: at_send.line.map(|e| e.at),
    }
}

fn connected(
    cx: &Context<'_>,
    push: &PushRecord,
    at_send: &ApnsAtSend<'_>,
    state: &ApnsState,
    probe: Timestamp,
) -> Diagnosed {
    let mut evidence = apns_line(at_send, state);
    let policy = cx.timeline.state_at(Dimension::PowerPolicy, probe);
    let restricted = policy.state.power_policy().is_some_and(|p| p.restricts());
    if restricted && push.priority.is_some_and(|p| p < 10) {
        if let Some(e) = cx.timeline.began(policy) {
            evidence.push(cite(e, EvidenceRole::Supports, describe(e)));
        }
        return Diagnosed {
            cause: Cause::PowerDeferred,
            confidence: Confidence::High,
            why: format!(
                "the device was connected but in power policy {} and the push (priority {}) does not wake it: APNs held it until a wake",
                policy.state,
                push.priority.unwrap_or(5)
            ),
            evidence,
            outage_from: None,
        };
    }
    if let Some(downgrade) = downgraded(cx, push, probe) {
        evidence.push(cite(
            downgrade,
            EvidenceRole::Supports,
            "apsd made the push's topic non-waking",
        ));
        return Diagnosed {
            cause: Cause::PowerDeferred,
            confidence: Confidence::High,
            why: format!(
                "the device was connected but apsd had made the push's topic non-waking at {} (its topic filter, while locked): the push waited for a wake",
                cx.clock.show(downgrade.at)
            ),
            evidence,
            outage_from: None,
        };
    }
    let line = at_send.line.map_or_else(String::new, |e| {
        format!(", last seen at {}", cx.clock.show(e.at))
    });
    Diagnosed {
        cause: Cause::NetworkPathSuspect,
        confidence: Confidence::Medium,
        why: format!(
            "the device's APNs connection was live at the send ({state}{line}) and APNs accepted the push, yet it did not come through then: the connection may have been severed on the server side (NAT, middlebox)"
        ),
        evidence,
        outage_from: None,
    }
}

/// The expiration sentence, when the push expired while the device was away: it came back with
/// the log going on [`AFTER_RECOVERY`] after that and nothing arrived, and `apns-expiration` was
/// 0 or had passed; or it never came back and a dated expiration passed inside the log.
fn expired(
    cx: &Context<'_>,
    push: &PushRecord,
    found: &Diagnosed,
    back: Option<Timestamp>,
    end: Timestamp,
) -> Option<String> {
    if !matches!(
        found.cause,
        Cause::DeviceOfflineRadio | Cause::ReconnectAbandonedPowerPolicy
    ) {
        return None;
    }
    let expiration = push.expiration?;
    let expires_at = (expiration != 0)
        .then(|| i64::try_from(expiration).ok()?.checked_mul(1_000_000))
        .flatten()
        .map(|micros| Timestamp::new(micros, cx.clock.offset));
    let header = match expires_at {
        None => "apns-expiration 0: APNs makes one attempt and does not store the push".to_string(),
        Some(t) => format!("apns-expiration {expiration} ({})", cx.clock.show(t)),
    };
    match back {
        Some(back) if since(end, back) >= AFTER_RECOVERY => {
            if expires_at.is_none_or(|t| t < back) {
                return Some(format!(
                    "it expired before the device came back ({header}), and the log goes on {} after that with nothing arriving",
                    Human(since(end, back))
                ));
            }
            None
        }
        None => {
            let t = expires_at?;
            (t < end).then(|| {
                format!("it expired while the device was away ({header}), before the log ends")
            })
        }
        Some(_) => None,
    }
}

fn describe(event: &DeviceEvent) -> String {
    match &event.kind {
        EventKind::PowerPolicy { level, .. } => format!("power policy {level}"),
        EventKind::AssertionActivityUpdate => "powerd announces a policy change".into(),
        EventKind::DisplayState {
            display_off: true, ..
        } => "display off".into(),
        EventKind::NecpDefunct { process, .. } => format!(
            "the kernel tore down {}'s network flows",
            process.as_deref().unwrap_or("an app")
        ),
        other => other.to_string(),
    }
}
