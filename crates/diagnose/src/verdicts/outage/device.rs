//! The device-side causes, from the APNs connection's state at the send: offline, connected
//! but restricted, connected with nothing coming through (reconnecting when policy 3 arrived is
//! in `reconnect`); and a push apsd received for a topic it does not deliver.

use std::time::Duration;

use pushtrace_devicelog::timeline::{ApnsState, Dimension, DownReason, Registration, State};
use pushtrace_model::duration::{before, since};
use pushtrace_model::{
    Cause, Confidence, DeviceEvent, EventKind, EvidenceRole, Human, PushRecord, Timestamp,
};

use super::connection::{
    ApnsAtSend, apns_at, apns_line, last_connected_end, other_app_push_after_due,
};
use super::reconnect;
use super::{Diagnosed, describe};
use crate::verdicts::window::starts_after_send;
use crate::verdicts::{Context, cite};

/// How long before the connection's end its loss may be logged.
const LOSS_LEAD: Duration = Duration::from_secs(10);
/// The lines one failure logs follow each other within this.
const BURST: Duration = Duration::from_secs(1);

/// apsd received the push for a topic it does not deliver (ignored, recently removed, unknown):
/// it reached the phone and went no further.
pub(super) fn dropped_by_apsd(
    cx: &Context<'_>,
    push: &PushRecord,
    until: Timestamp,
) -> Option<Diagnosed> {
    let topic = push.topic.as_deref();
    let line = cx.timeline.events.iter().find(|e| {
        e.at >= before(push.sent_at, Duration::from_secs(1))
            && e.at <= until
            && matches!(&e.kind, EventKind::PushReceived { filter, topic: seen, .. }
                if filter != "enabled"
                    && seen.as_deref().is_none_or(|s| topic.is_none_or(|t| names_topic(filter, s, t))))
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
    // "an unknown topic", "a recently removed topic".
    let a = if filter.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
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
                "apsd received it at {} for {a} {filter} topic, so it was not delivered: the app or its registration is no longer on the phone",
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
        format!("the push reached apsd for {a} {filter} topic"),
    ));
    Some(found)
}

/// Whether what apsd's line names for a topic it does not deliver (`seen`) is `topic`. A topic
/// apsd no longer knows (filter `unknown`) is named by its hash: the courier protocol carries
/// topics as the SHA-1 of their name (pypush's `sha1(topic.encode())` in the filter and
/// scoped-token commands), so the hex hash of the push's topic is compared. Other filters name
/// the topic itself.
fn names_topic(filter: &str, seen: &str, topic: &str) -> bool {
    if seen.eq_ignore_ascii_case(topic) {
        return true;
    }
    filter == "unknown" && seen.eq_ignore_ascii_case(&topic_hash(topic))
}

/// The SHA-1 of a topic's name in lower-case hex, as apsd logs a topic hash.
fn topic_hash(topic: &str) -> String {
    use sha1::{Digest, Sha1};
    Sha1::digest(topic.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// apsd's latest line downgrading the push's topic before `probe`, when it downgraded it to
/// `wanted` (`non-waking` while locked; `ignored` on an ultra-constrained interface such as
/// satellite) and the device was not unlocked since.
fn downgraded_to<'a>(
    cx: &Context<'a>,
    push: &PushRecord,
    probe: Timestamp,
    wanted: &str,
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
    (to.contains(wanted) && !unlocked_since).then_some(line)
}

/// The device-side cause, from the APNs state at the send.
pub(super) fn device_side(cx: &Context<'_>, push: &PushRecord, until: Timestamp) -> Diagnosed {
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
        ApnsState::Reconnecting { .. } => {
            reconnect::reconnecting(cx, push, &at_send, &state, until, None)
        }
        // A failed attempt after a path was satisfied, with nothing lost since, is one attempt
        // of the reconnection that path began (apsd's close of that attempt included): apsd
        // was still reconnecting.
        ApnsState::Down(DownReason::ConnectFailed { .. } | DownReason::Disconnected { .. }) => {
            let start = reconnect::reconnection_start(cx, probe);
            reconnect::reconnecting(cx, push, &at_send, &state, until, start)
        }
        ApnsState::Down(_) => offline(cx, push, &at_send, &state, until),
        ApnsState::Connected { .. } => connected(cx, push, &at_send, &state, probe),
    };
    if found.cause == Cause::DeviceOfflineRadio
        && let Some(resumed) = abandoned_after_return(cx, push, &found, probe, until)
    {
        found = resumed;
    }
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

/// An outage that was over before the push was due did not make it late by itself: when the
/// network is back (a path satisfied, beginning apsd's reconnection) after the send and before
/// the push was due, and that reconnection is abandoned under powerd's display-off policy, the
/// abandoned reconnection is the cause (the founding incident's chain, entered from an outage).
fn abandoned_after_return(
    cx: &Context<'_>,
    push: &PushRecord,
    offline: &Diagnosed,
    probe: Timestamp,
    until: Timestamp,
) -> Option<Diagnosed> {
    let due = crate::verdicts::window::expected_by(push, cx.options);
    let from = offline.outage_from.unwrap_or(probe).max(probe);
    let path = cx.timeline.events.iter().find(|e| {
        e.at > from
            && e.at <= due.min(until)
            && matches!(e.kind, EventKind::ApnsPathSatisfied { .. })
    })?;
    let EventKind::ApnsPathSatisfied { interface, .. } = &path.kind else {
        return None;
    };
    let state = ApnsState::Reconnecting {
        interface: interface.clone(),
    };
    let at_path = ApnsAtSend {
        state: Some(state.clone()),
        line: Some(path),
        after: None,
        keepalives: Vec::new(),
        inferred: false,
        found_dead: None,
        why_unknown: None,
    };
    let mut resumed = reconnect::reconnecting(cx, push, &at_path, &state, until, None);
    if resumed.cause != Cause::ReconnectAbandonedPowerPolicy {
        return None;
    }
    resumed.why = format!(
        "{} at the send; the network was back at {}, before the push was due ({}), and then {}, so the abandoned reconnection, not the outage, made it late",
        offline.why,
        cx.clock.show(path.at),
        cx.clock.show(due),
        resumed.why
    );
    let mut evidence = offline.evidence.clone();
    evidence.append(&mut resumed.evidence);
    evidence.dedup_by_key(|e| e.event.source.clone());
    resumed.evidence = evidence;
    resumed.confidence = resumed.confidence.min(offline.confidence);
    Some(resumed)
}

/// Whether apsd names a cellular interface (`WWAN` in its own lines, `pdp_ip0` in the path's).
fn is_cellular(interface: &str) -> bool {
    interface.eq_ignore_ascii_case("WWAN")
        || interface.eq_ignore_ascii_case("cellular")
        || interface.starts_with("pdp_ip")
}

/// A connection lives on its network. For a connection on cellular whose last line alive came
/// before CommCenter lost the registration, with the registration still lost at the send and no
/// APNs traffic until it is back: the line showing it alive and the loss. A connection whose
/// interface the log hides (redacted) or that ran over Wi-Fi is not judged by the radio.
fn network_lost_under<'a>(
    cx: &Context<'a>,
    state: &ApnsState,
    at_send: &ApnsAtSend<'a>,
    probe: Timestamp,
) -> Option<(&'a DeviceEvent, &'a DeviceEvent)> {
    let ApnsState::Connected {
        interface: Some(interface),
    } = state
    else {
        return None;
    };
    let alive = at_send.line?;
    if !is_cellular(interface) || alive.at > probe {
        return None;
    }
    let registration = cx.timeline.state_at(Dimension::Registration, probe);
    if !matches!(&registration.state, State::Registration(r) if !r.is_registered()) {
        return None;
    }
    let loss = cx.timeline.began(registration)?;
    if loss.at <= alive.at {
        return None;
    }
    // Traffic after the send before the network is back: the connection carried on.
    if let Some(after) = at_send.after
        && network_back(cx, Some(loss.at), after.at).is_none()
    {
        return None;
    }
    Some((alive, loss))
}

/// The first line after `from` and up to `probe` showing the network usable again: an APNs path
/// satisfied, registration regained, an interface up.
fn network_back<'a>(
    cx: &Context<'a>,
    from: Option<Timestamp>,
    probe: Timestamp,
) -> Option<&'a DeviceEvent> {
    cx.timeline.events.iter().find(|e| {
        from.is_some_and(|f| e.at > f)
            && e.at <= probe
            && match &e.kind {
                EventKind::ApnsPathSatisfied { .. } | EventKind::NetworkState { up: true, .. } => {
                    true
                }
                EventKind::CellRegistration { state: Some(s) } => {
                    Registration::from_name(s).is_registered()
                }
                _ => false,
            }
    })
}

pub(super) fn offline(
    cx: &Context<'_>,
    push: &PushRecord,
    at_send: &ApnsAtSend<'_>,
    state: &ApnsState,
    until: Timestamp,
) -> Diagnosed {
    let probe = starts_after_send(cx, push).unwrap_or(push.sent_at);
    let mut evidence = apns_line(at_send, state);
    let mut network = Vec::new();
    let mut losses = Vec::new();
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
        // A loss a later line shows over before the send (the path satisfied again) no longer
        // describes the send: it is the outage's past, not its state.
        let over = (role == EvidenceRole::Supports)
            .then(|| network_back(cx, interval.from, probe))
            .flatten();
        let (role, said) = match over {
            Some(back) => (
                EvidenceRole::Context,
                format!(
                    "{} {} until the network was back at {}",
                    dimension.label(),
                    interval.state,
                    cx.clock.show(back.at)
                ),
            ),
            None => (role, format!("{} {}", dimension.label(), interval.state)),
        };
        if role == EvidenceRole::Supports {
            losses.push(dimension);
        }
        network.push(said);
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
        // The loss is often logged a moment before the connection's end (interface inactive,
        // then the stream error and the close).
        .filter(|e| last_up.is_none_or(|t| e.at >= before(t, LOSS_LEAD)) && e.at <= until)
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
    // The first line of the outage, the last before the send (the state the push met) and the
    // first after it (it went on).
    let before_send: Vec<&&DeviceEvent> = failures.iter().filter(|e| e.at <= probe).collect();
    let mut cited: Vec<&DeviceEvent> = Vec::new();
    cited.extend(before_send.first().map(|e| **e));
    // apsd's own failure says more than its decision to wait ("scheduled reconnect"), and one
    // failure logs a burst (the TLS error, "untrusted peer", the disconnect): its first line
    // says why.
    let failed: Vec<&DeviceEvent> = before_send
        .iter()
        .map(|e| **e)
        .filter(|e| !matches!(e.kind, EventKind::ApnsConnectSkipped { .. }))
        .collect();
    let burst_start = failed.last().map(|last| {
        let mut first = *last;
        for e in failed.iter().rev() {
            if since(first.at, e.at) > BURST {
                break;
            }
            first = e;
        }
        first
    });
    cited.extend(burst_start.or(before_send.last().map(|e| **e)));
    // And the burst's close, its last loss line ("Disconnected in response to connection
    // failure … Connected on 0 interfaces"): it says the connection went down.
    if let Some(start) = burst_start {
        cited.extend(
            failed
                .iter()
                .filter(|e| e.at >= start.at && since(e.at, start.at) <= BURST)
                .rfind(|e| matches!(e.kind, EventKind::ApnsDisconnected { .. }))
                .copied(),
        );
    }
    // And apsd's last word before the send on why it does not connect (no usable interface).
    cited.extend(
        before_send
            .iter()
            .rev()
            .find(|e| matches!(e.kind, EventKind::ApnsConnectSkipped { .. }))
            .map(|e| **e),
    );
    cited.sort_by_key(|e| e.at);
    cited.dedup_by_key(|e| e.source.clone());
    cited.extend(failures.iter().find(|e| e.at > probe).copied());
    cited.dedup_by_key(|e| e.at);
    for e in cited {
        evidence.push(cite(e, EvidenceRole::Supports, describe(e)));
    }
    let radio_lost = !losses.is_empty();
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
        // The outage began when the connection was last up, not at the state's latest line.
        outage_from: last_up.or(at_send.line.map(|e| e.at)),
    }
}

fn connected(
    cx: &Context<'_>,
    push: &PushRecord,
    at_send: &ApnsAtSend<'_>,
    state: &ApnsState,
    probe: Timestamp,
) -> Diagnosed {
    // Connected, but only over a satellite-like link on which apsd ignores the topic: for
    // this push the device was offline until a usable network came back.
    if let Some(ignored) = downgraded_to(cx, push, probe, "ignored") {
        let mut evidence = Vec::new();
        if let Some(policy) = cx.timeline.events.iter().rev().find(|e| {
            e.at <= ignored.at
                && matches!(
                    e.kind,
                    EventKind::TopicPolicyState {
                        ultra_constrained: Some(true),
                        ..
                    }
                )
        }) {
            evidence.push(cite(
                policy,
                EvidenceRole::Supports,
                "apsd on an ultra-constrained interface",
            ));
        }
        evidence.push(cite(
            ignored,
            EvidenceRole::Supports,
            "apsd ignores the push's topic on it",
        ));
        return Diagnosed {
            cause: Cause::DeviceOfflineRadio,
            confidence: Confidence::Medium,
            why: format!(
                "the device was connected only over an ultra-constrained interface (satellite), on which apsd had put the push's topic on its ignored list at {}: for this push it was offline until a usable network came back",
                cx.clock.show(ignored.at)
            ),
            evidence,
            outage_from: Some(ignored.at),
        };
    }
    // "Nothing came through" rests on APNs having taken the push.
    if push.apns_status != Some(200) {
        let mut found = Diagnosed::new(
            Cause::Unknown,
            Confidence::Low,
            "the device's APNs connection was live at the send, but the push record has no answer from APNs: whether APNs took the push is not known".into(),
        );
        found.evidence = apns_line(at_send, state);
        found
            .evidence
            .extend(other_app_push_after_due(cx, push, probe));
        return found;
    }
    if let Some((alive, loss)) = network_lost_under(cx, state, at_send, probe) {
        let mut evidence = vec![
            cite(
                alive,
                EvidenceRole::Context,
                format!("apsd's last line with the connection up ({state})"),
            ),
            cite(loss, EvidenceRole::Supports, describe(loss)),
        ];
        evidence.extend(at_send.after.map(|e| {
            cite(
                e,
                EvidenceRole::Context,
                "APNs traffic again once the network was back",
            )
        }));
        return Diagnosed {
            cause: Cause::DeviceOfflineRadio,
            // apsd's own word on the connection is missing: the loss is the radio's line.
            confidence: Confidence::Medium,
            why: format!(
                "apsd's APNs connection ran over cellular ({state}, last shown alive at {}), and the cellular registration was lost at {} and not regained by the send: a connection on a network the phone had lost could not carry the push, though no apsd line shows it going down (apsd logs nothing of its own when the radio goes)",
                cx.clock.show(alive.at),
                cx.clock.show(loss.at)
            ),
            evidence,
            outage_from: Some(loss.at),
        };
    }
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
    if let Some(downgrade) = downgraded_to(cx, push, probe, "non-waking") {
        // The lock that made the filter downgrade it.
        let lock = cx.timeline.state_at(Dimension::Lock, probe);
        if let Some(line) = cx.timeline.began(lock).filter(|_| !lock.is_unknown()) {
            evidence.push(cite(
                line,
                EvidenceRole::Supports,
                format!("lock: {}", lock.state),
            ));
        }
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
    if let Some((loss, back)) = at_send.found_dead {
        evidence.push(cite(
            loss,
            EvidenceRole::Supports,
            format!("apsd finds the connection dead: {}", describe(loss)),
        ));
        evidence.push(cite(
            back,
            EvidenceRole::Supports,
            "apsd connected again at once on the same interface, the network unchanged",
        ));
        let last = at_send.line.map_or_else(
            || "no earlier line shows it alive".to_string(),
            |e| {
                format!(
                    "last shown alive at {}, {} before the send",
                    cx.clock.show(e.at),
                    Human(since(probe, e.at))
                )
            },
        );
        // Believed up is not shown up: one step less sure than a connection seen alive.
        return Diagnosed {
            cause: Cause::NetworkPathSuspect,
            confidence: Confidence::Low,
            why: format!(
                "apsd held its APNs connection ({state}) as up at the send ({last}) with no line of the device losing its network, found it dead at {} and connected again on the same interface at {} with no network line between: nothing in the log shows the device's network failing, so most likely the connection died between the phone and APNs (a NAT, middlebox or the server dropping it) unseen by the phone, and APNs sent the push down a connection that could no longer carry it",
                cx.clock.show(loss.at),
                cx.clock.show(back.at)
            ),
            evidence,
            outage_from: None,
        };
    }
    let line = at_send.line.map_or_else(String::new, |e| {
        format!(", last seen at {}", cx.clock.show(e.at))
    });
    // The failure that showed the connection dead after the send (a keepalive unanswered).
    if let Some(dead) = cx.timeline.events.iter().find(|e| {
        e.at > probe
            && matches!(
                e.kind,
                EventKind::ApnsDisconnected { .. } | EventKind::ApnsConnectFailed { .. }
            )
    }) {
        evidence.push(cite(dead, EvidenceRole::Supports, describe(dead)));
    }
    evidence.extend(other_app_push_after_due(cx, push, probe));
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
