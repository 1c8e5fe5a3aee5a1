//! One [`Verdict`] per push: what became of it, why, how sure, on which log lines.
//!
//! The diagnosis reads the push's record ([`PushRecord`]: what the server knows) against the
//! device's [`DeviceTimeline`] and walks DESIGN §5's taxonomy in a fixed order:
//!
//! 1. APNs refused it → `rejected` (`token_invalid` or `apns_rejected`); no log needed.
//! 2. The log does not cover the send time → `unknown`, saying what the log covers.
//! 3. The arrival: the first apsd / callservicesd line for the push after it was sent, else the
//!    app's receipt (`received_at`). Latency = arrival − sent.
//! 4. On time (within the call's deadline, else [`DiagnoseOptions::on_time_within`]) → `on_time`.
//!    Delivered but the app was killed or blocked for not reporting → `delivered_not_reported`.
//! 5. Late or never seen: the APNs connection's state at the send time decides the cause —
//!    reconnecting, then powerd's policy 3 before any connection (`reconnect_abandoned_power_policy`);
//!    down or reconnecting without that (`device_offline_radio`); connected but restricted for a
//!    non-waking push (`power_deferred`); connected throughout with nothing arriving
//!    (`network_path_suspect`); `apns-expiration` passed before the device came back
//!    (`expired_while_offline`); APNs itself slow to answer (`provider_delay`).
//! 6. What ended the outage: the first wake after the send (incoming cellular call, user,
//!    network change).
//!
//! Confidence is high when every link is in the record or the log, medium when one is inferred
//! (no receipt, no arrival line), and low when a line contradicts the signature (an APNs
//! connection during the outage, say); contradicting lines are shown, never dropped.

use std::time::Duration;

use pushtrace_devicelog::timeline::{DeviceTimeline, Dimension, Interval};

use crate::arrival::{Wanted, is_arrival};
use pushtrace_model::{
    Cause, Confidence, DeviceEvent, EventKind, Evidence, EvidenceRole, Outcome, PushRecord,
    Recovery, Timestamp, Verdict,
};

/// Thresholds of the diagnosis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnoseOptions {
    /// Without a deadline, a push arriving later than this after it was sent is late.
    pub on_time_within: Duration,
    /// An APNs answer slower than this is time lost before APNs.
    pub slow_apns_answer: Duration,
    /// The app's bundle id (`--app com.acme.call`), for pushes whose record has no topic: only
    /// log lines for this app (its bundle, or a topic under it) can be their arrival.
    pub app: Option<String>,
}

impl Default for DiagnoseOptions {
    fn default() -> Self {
        DiagnoseOptions {
            // A ring is useful for about 30 s; a push slower than 10 s already rings late.
            on_time_within: Duration::from_secs(10),
            slow_apns_answer: Duration::from_secs(1),
            app: None,
        }
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// `later − earlier`, zero when `later` is not after `earlier`.
pub(crate) fn since(later: Timestamp, earlier: Timestamp) -> Duration {
    Duration::from_micros(u64::try_from(later.utc_micros() - earlier.utc_micros()).unwrap_or(0))
}

/// `3 min 5 s`, `850 ms`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms} ms");
    }
    let secs = d.as_secs();
    let tenths = (ms % 1000) / 100;
    match secs {
        0..60 if tenths > 0 => format!("{secs}.{tenths} s"),
        0..60 => format!("{secs} s"),
        60..3600 if secs.is_multiple_of(60) => format!("{} min", secs / 60),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}

/// The reasons that mean the token itself is the problem (reference §1.7).
const TOKEN_REASONS: [&str; 5] = [
    "BadDeviceToken",
    "DeviceTokenNotForTopic",
    "Unregistered",
    "ExpiredToken",
    "MissingDeviceToken",
];

/// Diagnoses one push against the device's timeline.
pub fn diagnose(
    push: &PushRecord,
    timeline: &DeviceTimeline,
    options: &DiagnoseOptions,
) -> Verdict {
    let label = label(push);
    let verdict = |outcome, cause, confidence, explanation: String| Verdict {
        push: label.clone(),
        outcome,
        latency: None,
        cause,
        confidence,
        evidence: Vec::new(),
        recovery: None,
        explanation,
    };

    // 1. APNs refused it.
    if let Some(status) = push.apns_status.filter(|s| *s != 200) {
        let reason = push
            .apns_reason
            .clone()
            .unwrap_or_else(|| "no reason given".into());
        let token = status == 410 || TOKEN_REASONS.contains(&reason.as_str());
        let cause = if token {
            Cause::TokenInvalid
        } else {
            Cause::ApnsRejected
        };
        let what = if token {
            "the device token is not valid for this topic and environment"
        } else {
            "APNs did not take the push"
        };
        return verdict(
            Outcome::Rejected,
            cause,
            Confidence::High,
            format!("APNs answered {status} {reason}: {what}; it never left APNs."),
        );
    }

    // 2. Coverage.
    let (Some(start), Some(end)) = (timeline.start, timeline.end) else {
        return verdict(
            Outcome::Unknown,
            Cause::Unknown,
            Confidence::Low,
            "The log holds no dated record: nothing can be said about the device.".into(),
        );
    };
    let offset = push.sent_at.offset();
    let at = |t: Timestamp| t.with_offset(offset).time_of_day_millis();
    if push.sent_at < start || push.sent_at > end {
        return verdict(
            Outcome::Unknown,
            Cause::Unknown,
            Confidence::Low,
            format!(
                "Logs cover {}–{}; the push was sent at {}, outside them.",
                at(start),
                at(end),
                at(push.sent_at)
            ),
        );
    }

    // 3. The arrival.
    let wanted = match (push.topic.as_deref(), options.app.as_deref()) {
        (Some(topic), _) => Wanted::Topic(topic),
        (None, Some(app)) => Wanted::App(app),
        (None, None) => Wanted::Any,
    };
    let arrival_line = timeline
        .events
        .iter()
        .find(|e| e.at >= push.sent_at && is_arrival(e, wanted));
    let arrival = arrival_line.map(|e| e.at).or(push.received_at);
    let deadline = expected_by(push, options);
    let mut evidence = Vec::new();
    if let Some(line) = arrival_line {
        evidence.push(cite(
            line,
            EvidenceRole::Supports,
            "the push reached the device",
        ));
    }

    // 4. Delivered: the app's part.
    if let Some(arrived) = arrival {
        let failure = timeline.events.iter().find(|e| {
            e.at >= arrived
                && matches!(
                    e.kind,
                    EventKind::AppKilledForNotReporting | EventKind::VoipBlocked { .. }
                )
        });
        if let (Some(failed), None) = (failure, push.reported_at) {
            let blocked = matches!(failed.kind, EventKind::VoipBlocked { .. });
            evidence.push(cite(
                failed,
                EvidenceRole::Supports,
                if blocked {
                    "iOS no longer launches the app for VoIP pushes"
                } else {
                    "iOS killed the app for not reporting the call to CallKit"
                },
            ));
            let mut v = verdict(
                Outcome::DeliveredNotReported,
                if blocked {
                    Cause::VoipBlocked
                } else {
                    Cause::AppNotReporting
                },
                Confidence::High,
                format!(
                    "Delivered at {} but the app never reported the call to CallKit{}.",
                    at(arrived),
                    if blocked {
                        ": iOS has stopped launching it for VoIP pushes"
                    } else {
                        ", so iOS killed it"
                    }
                ),
            );
            v.latency = Some(since(arrived, push.sent_at));
            v.evidence = evidence;
            return v;
        }
        if arrived <= deadline {
            let mut v = verdict(
                Outcome::OnTime,
                Cause::None,
                if arrival_line.is_some() || push.received_at.is_some() {
                    Confidence::High
                } else {
                    Confidence::Medium
                },
                format!(
                    "Delivered {} after it was sent.",
                    human(since(arrived, push.sent_at))
                ),
            );
            v.latency = Some(since(arrived, push.sent_at));
            v.evidence = evidence;
            return v;
        }
    } else if end < deadline {
        return verdict(
            Outcome::Unknown,
            Cause::Unknown,
            Confidence::Low,
            format!(
                "The log ends at {}, before the push was due ({}): whether it arrived is not in it.",
                at(end),
                at(deadline)
            ),
        );
    }

    // 5. Late or not seen: why.
    let until = arrival.unwrap_or(end);
    let mut found = outage(push, timeline, until, options);
    evidence.append(&mut found.evidence);
    evidence.sort_by_key(|e| e.event.at);
    let recovery = recovery(timeline, push.sent_at, until, &mut evidence);
    let mut confidence = found.confidence;
    if arrival.is_none() {
        // No receipt and no arrival line: whether it arrived after the log is not known.
        confidence = confidence.lower();
    }
    if evidence.iter().any(|e| e.role == EvidenceRole::Contradicts) {
        confidence = confidence.lower();
    }
    let (outcome, latency, head) = match arrival {
        Some(arrived) => {
            let late = since(arrived, push.sent_at);
            (
                Outcome::Late,
                Some(late),
                format!(
                    "Delivered {} after it was sent ({}), late",
                    human(late),
                    at(arrived)
                ),
            )
        }
        None => (
            Outcome::NotDelivered,
            None,
            format!(
                "Not seen on the device up to the end of the log ({}), and no receipt",
                at(end)
            ),
        ),
    };
    // Expired while offline: the device came back, the log goes on long enough after that for a
    // late delivery to show, none did, and the push's expiration (0: one attempt) had passed by
    // then. A log that ends at the recovery cannot tell an expired push from a late one.
    let back = recovery.and_then(|(_, when)| when);
    let cause = match (found.cause, push.expiration, arrival, back) {
        (
            Cause::DeviceOfflineRadio | Cause::ReconnectAbandonedPowerPolicy,
            Some(expiry),
            None,
            Some(back),
        ) if end.utc_micros() - back.utc_micros() >= micros(AFTER_RECOVERY)
            && (expiry == 0 || expires_before(expiry, back)) =>
        {
            Cause::ExpiredWhileOffline
        }
        (cause, _, _, _) => cause,
    };
    let recovery_text = match recovery {
        Some((r, Some(when))) => format!("; the outage ended at {} ({})", at(when), r.describe()),
        _ => "; no wake or network change that ended it is in the log".to_string(),
    };
    let recovery = recovery.map(|(r, _)| r);
    Verdict {
        push: label,
        outcome,
        latency,
        cause,
        confidence,
        evidence,
        recovery,
        explanation: format!("{head}: {}{recovery_text}.", found.why),
    }
}

/// How long the log must go on after the device came back for "nothing arrived" to mean the
/// push expired rather than that the log ended too soon.
const AFTER_RECOVERY: Duration = Duration::from_secs(30);

/// When the push was due: its call's deadline, else the send time plus
/// [`DiagnoseOptions::on_time_within`].
pub fn expected_by(push: &PushRecord, options: &DiagnoseOptions) -> Timestamp {
    push.deadline.unwrap_or_else(|| {
        Timestamp::new(
            push.sent_at.utc_micros() + micros(options.on_time_within),
            push.sent_at.offset(),
        )
    })
}

/// How a verdict names its push: `push_id`, else `apns-id`, else the send time.
pub fn label(push: &PushRecord) -> String {
    push.push_id
        .clone()
        .or_else(|| push.apns_id.clone())
        .unwrap_or_else(|| format!("sent {}", push.sent_at))
}

/// Whether `apns-expiration` (epoch seconds) is before `at`.
fn expires_before(expiration_secs: u64, at: Timestamp) -> bool {
    i64::try_from(expiration_secs)
        .ok()
        .and_then(|s| s.checked_mul(1_000_000))
        .is_some_and(|micros| micros < at.utc_micros())
}

struct Found {
    cause: Cause,
    confidence: Confidence,
    why: String,
    evidence: Vec<Evidence>,
}

fn cite(event: &DeviceEvent, role: EvidenceRole, note: &str) -> Evidence {
    Evidence {
        role,
        note: note.to_owned(),
        event: event.clone(),
    }
}

/// The event that began an interval.
fn began<'a>(timeline: &'a DeviceTimeline, interval: &Interval) -> Option<&'a DeviceEvent> {
    interval.since_event.and_then(|i| timeline.events.get(i))
}

/// The cause of an outage from `push.sent_at` to `until`, from the APNs state at the send.
fn outage(
    push: &PushRecord,
    timeline: &DeviceTimeline,
    until: Timestamp,
    options: &DiagnoseOptions,
) -> Found {
    let sent = push.sent_at;
    let apns = timeline.state_at(Dimension::Apns, sent);
    let in_window = |e: &&DeviceEvent| e.at >= sent && e.at <= until;
    let mut evidence = Vec::new();
    if let Some(start) = began(timeline, apns) {
        evidence.push(cite(
            start,
            EvidenceRole::Supports,
            &format!("APNs: {}", apns.state),
        ));
    }
    // A connection seen during the outage argues against "the device could not be reached".
    let connected_during: Vec<&DeviceEvent> = timeline
        .events
        .iter()
        .filter(in_window)
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::ApnsDataReceived { .. } | EventKind::ApnsKeepAlive { .. }
            )
        })
        .collect();

    if apns.state.starts_with("reconnecting") {
        let policy3 = timeline
            .events
            .iter()
            .filter(in_window)
            .find(|e| matches!(e.kind, EventKind::PowerPolicy { level: 3, .. }));
        let connected_before_policy = connected_during
            .iter()
            .any(|c| policy3.is_none_or(|p| c.at < p.at));
        if let Some(policy) = policy3
            && !connected_before_policy
        {
            for e in timeline.events.iter().filter(in_window).filter(|e| {
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
            }) {
                evidence.push(cite(e, EvidenceRole::Supports, &describe(e)));
            }
            for c in &connected_during {
                evidence.push(cite(
                    c,
                    EvidenceRole::Contradicts,
                    "APNs traffic during the outage",
                ));
            }
            return Found {
                cause: Cause::ReconnectAbandonedPowerPolicy,
                confidence: Confidence::High,
                why: format!(
                    "apsd was reconnecting to APNs ({}) when powerd moved to assertion policy 3 (display off) at {}, and nothing connected before a wake",
                    apns.state,
                    policy.at.with_offset(sent.offset()).time_of_day_millis()
                ),
                evidence,
            };
        }
        return offline(timeline, sent, &apns.state, evidence, &connected_during);
    }
    if apns.state.starts_with("down") {
        return offline(timeline, sent, &apns.state, evidence, &connected_during);
    }
    if apns.state.starts_with("connected") {
        let policy = timeline.state_at(Dimension::PowerPolicy, sent);
        let restricted = policy.state.starts_with('3') || policy.state.starts_with('2');
        if restricted && push.priority.is_some_and(|p| p < 10) {
            if let Some(e) = began(timeline, policy) {
                evidence.push(cite(e, EvidenceRole::Supports, &describe(e)));
            }
            return Found {
                cause: Cause::PowerDeferred,
                confidence: Confidence::High,
                why: format!(
                    "the device was connected but in power policy {} and the push (priority {}) does not wake it: APNs held it until a wake",
                    policy.state,
                    push.priority.unwrap_or(5)
                ),
                evidence,
            };
        }
        if let Some(answered) = push.responded_at
            && since(answered, sent) > options.slow_apns_answer
        {
            return Found {
                cause: Cause::ProviderDelay,
                confidence: Confidence::Medium,
                why: format!(
                    "APNs took {} to answer while the device was connected",
                    human(since(answered, sent))
                ),
                evidence,
            };
        }
        return Found {
            cause: Cause::NetworkPathSuspect,
            confidence: Confidence::Medium,
            why: format!(
                "the device's APNs connection looked live ({}) across the send time and APNs accepted the push, yet nothing arrived: the connection may have been severed on the server side (NAT, middlebox)",
                apns.state
            ),
            evidence,
        };
    }
    Found {
        cause: Cause::Unknown,
        confidence: Confidence::Low,
        why: "the log says nothing about the APNs connection at the send time".into(),
        evidence,
    }
}

fn offline(
    timeline: &DeviceTimeline,
    sent: Timestamp,
    state: &str,
    mut evidence: Vec<Evidence>,
    connected_during: &[&DeviceEvent],
) -> Found {
    let radio = timeline.state_at(Dimension::Radio, sent);
    if let Some(e) = began(timeline, radio) {
        evidence.push(cite(
            e,
            EvidenceRole::Supports,
            &format!("radio: {}", radio.state),
        ));
    }
    for c in connected_during {
        evidence.push(cite(
            c,
            EvidenceRole::Contradicts,
            "APNs traffic during the outage",
        ));
    }
    Found {
        cause: Cause::DeviceOfflineRadio,
        confidence: if radio.is_unknown() {
            Confidence::Medium
        } else {
            Confidence::High
        },
        why: format!(
            "the device had no working APNs connection ({state}; radio {})",
            if radio.state.is_empty() {
                "unknown"
            } else {
                radio.state.as_str()
            }
        ),
        evidence,
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
        other => other.name().replace('_', " "),
    }
}

/// The first wake after the send, up to shortly after `until`, and when it happened.
fn recovery(
    timeline: &DeviceTimeline,
    sent: Timestamp,
    until: Timestamp,
    evidence: &mut Vec<Evidence>,
) -> Option<(Recovery, Option<Timestamp>)> {
    let horizon = Timestamp::new(until.utc_micros() + 5_000_000, until.offset());
    let wake = timeline.events.iter().find(|e| {
        e.at > sent
            && e.at <= horizon
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
            )
    });
    let Some(wake) = wake else {
        return Some((Recovery::NoneSeen, None));
    };
    let recovery = match &wake.kind {
        EventKind::CallWake { .. } => Recovery::IncomingCellularCallWake,
        _ => Recovery::UserUnlockOrDisplayOn,
    };
    evidence.push(cite(wake, EvidenceRole::Context, recovery.describe()));
    evidence.sort_by_key(|e| e.event.at);
    Some((recovery, Some(wake.at)))
}

#[cfg(test)]
#[path = "verdicts_tests.rs"]
mod tests;
