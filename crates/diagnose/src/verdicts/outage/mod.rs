//! Step 5: the push was late, or never seen. Why?
//!
//! Time lost before APNs comes first (`provider_delay`): a push sent after its own deadline, an
//! APNs answer that came after it, or a wait in the sender's queue without which the push would
//! have been on time — whatever the device was doing. Otherwise the APNs connection's state at
//! the send decides the device-side cause. "Connected" needs evidence near the send: a
//! connection line at most [`connection::FRESH`] (5 min) before it, or lines on both sides of it inside one
//! connected stretch (nothing in between says the connection was lost); an older line alone
//! proves nothing about the connection at the send (a carrier's NAT forgets an idle mapping
//! in about five minutes), and the state is then unknown.

mod connection;
mod device;
mod provider;
mod reconnect;

use std::time::Duration;

use pushtrace_model::duration::{before, since};
use pushtrace_model::{
    Cause, Confidence, DeviceEvent, EventKind, Evidence, EvidenceRole, Human, Outcome, PushRecord,
    Recovery, Timestamp,
};

use super::arrival::{self, Arrival, Attribution, first_named_after};
use super::delivered::{arrival_evidence, attribution_note};
use super::window::{expected_by, starts_after_send};
use super::{Context, Found, cite, recovery};

/// How long the log must go on after the device came back for "nothing arrived" to mean the
/// push expired rather than that the log ended too soon.
const AFTER_RECOVERY: Duration = Duration::from_secs(30);

/// The verdict of a push that arrived late or was not seen.
pub(super) fn verdict(cx: &Context<'_>, push: &PushRecord, arrival: Option<&Arrival<'_>>) -> Found {
    // A record without its priority: apsd's arrival line says which priority the push came
    // with, and a priority-5 push is one APNs holds while the phone's power policy restricts.
    let arrived_priority = arrival.filter(|_| push.priority.is_none()).and_then(|a| {
        a.lines.iter().find_map(|e| match e.kind {
            EventKind::PushReceived { priority, .. } => priority,
            _ => None,
        })
    });
    let with_priority;
    let push = match arrived_priority {
        Some(priority) => {
            with_priority = PushRecord {
                priority: Some(priority),
                ..push.clone()
            };
            &with_priority
        }
        None => push,
    };
    let due = expected_by(push, cx.options);
    let end = cx.timeline.end.unwrap_or(push.sent_at);
    let until = arrival.map_or(end, |a| a.at);
    let mut cause = provider::provider_delay(cx, push, arrival, due)
        .or_else(|| device::dropped_by_apsd(cx, push, until))
        .unwrap_or_else(|| device::device_side(cx, push, until));

    let mut recovered: Option<(Recovery, &DeviceEvent)> = None;
    let mut recovery_lines: Vec<&DeviceEvent> = Vec::new();
    if cause.cause != Cause::ProviderDelay && cause.cause != Cause::Unknown {
        let from = cause.outage_from.unwrap_or(push.sent_at);
        if let Some((r, line, rest)) =
            recovery::find(cx, cause.cause, from, from.max(push.sent_at), until)
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
    // APNs can deliver only over a connection: the device is back for the push when apsd
    // connects after the return (a path satisfied is not yet a connection), or at the return
    // when no connection line follows it.
    let back_for_apns = recovered.map(|(_, e)| {
        cx.timeline
            .events
            .iter()
            .find(|l| l.at >= e.at && l.at <= end && is_connection(&l.kind))
            .map_or(e.at, |l| l.at)
    });
    if arrival.is_none()
        && let Some(expired) = expired(cx, push, &cause, back_for_apns, end)
    {
        cause.cause = Cause::ExpiredWhileOffline;
        cause.why = format!("{}; {expired}", cause.why);
        // The first APNs connection after the return shows the device could take the push,
        // and nothing came.
        let back = recovered.map_or(push.sent_at, |(_, e)| e.at);
        if let Some(line) = cx
            .timeline
            .events
            .iter()
            .find(|e| e.at >= back && e.at <= end && is_connection(&e.kind))
        {
            cause.evidence.push(cite(
                line,
                EvidenceRole::Context,
                "APNs connected again, and the push did not come",
            ));
        }
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

    if let Some(priority) = arrived_priority {
        notes.push_str(&format!(
            " The push record has no priority; apsd's arrival line gives {priority}."
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
            // The first APNs connection after the return: the device could take the push again.
            let stop = arrival.map_or(end, |a| a.at);
            if let Some(back) = cx.timeline.events.iter().find(|l| {
                l.at > e.at
                    && l.at <= stop
                    && matches!(
                        l.kind,
                        EventKind::ApnsConnected { .. } | EventKind::ApnsDataReceived { .. }
                    )
                    && !recovery_lines.iter().any(|r| r.source == l.source)
            }) {
                found
                    .evidence
                    .push(cite(back, EvidenceRole::Context, "APNs connected again"));
            }
            for line in recovery_lines {
                let note = match (r, &line.kind) {
                    (Recovery::ScheduledWake, _) => "apsd's timer scheduled to fire then",
                    (_, EventKind::PowerPolicy { .. }) => "powerd lifts the display-off policy",
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
pub(super) struct Diagnosed {
    pub cause: Cause,
    pub confidence: Confidence,
    pub why: String,
    pub evidence: Vec<Evidence>,
    /// When the outage began, if a line shows it (the recovery is looked for after it).
    pub outage_from: Option<Timestamp>,
}

impl Diagnosed {
    pub(super) fn new(cause: Cause, confidence: Confidence, why: String) -> Diagnosed {
        Diagnosed {
            cause,
            confidence,
            why,
            evidence: Vec::new(),
            outage_from: None,
        }
    }
}

pub(super) fn is_connection(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::ApnsDataReceived { .. }
            | EventKind::ApnsKeepAlive { .. }
            | EventKind::ApnsConnected { .. }
    )
}

/// The expiration sentence, when the push expired while the device was away: it came back with
/// the log going on [`AFTER_RECOVERY`] after that and nothing arrived (or with the app's next
/// push delivered after the return), and `apns-expiration` was 0 or had passed; or it never came
/// back and a dated expiration passed inside the log.
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
    let expires_at = push
        .expiration_date()
        .map(|t| t.with_offset(cx.clock.offset));
    let header = match expires_at {
        None => "apns-expiration 0: APNs makes one attempt and does not store the push".to_string(),
        Some(t) => format!("apns-expiration {expiration} ({})", cx.clock.show(t)),
    };
    // Nothing more can come once the app's next push has been delivered after the return: APNs
    // keeps one push per app and device, and hands over what it kept when the device is back,
    // so that delivery closes the watch as well as the log going on would.
    let watched = |back: Timestamp| {
        since(end, back) >= AFTER_RECOVERY || first_named_after(cx, push, back).is_some()
    };
    match back {
        Some(back) if watched(back) => {
            if expires_at.is_none_or(|t| t < back) {
                // A later line for the app came too long after the expiry to be this push's
                // (arrival::AFTER_EXPIRY): say so, not "nothing arriving".
                if let Some(line) = first_named_after(cx, push, back)
                    && let Some(expiry) = arrival::expires_at(push)
                {
                    let late = since(line.at, expiry);
                    return Some(if late > arrival::AFTER_EXPIRY {
                        format!(
                            "it expired before the device came back ({header}); the app's next arrival, at {}, came {} after it expired, too late to be this push: APNs had discarded it, so that was a later push",
                            cx.clock.show(line.at),
                            Human(late)
                        )
                    } else {
                        format!(
                            "it expired before the device came back ({header}); the app's next arrival, at {}, was a later push's",
                            cx.clock.show(line.at)
                        )
                    });
                }
                return Some(format!(
                    "it expired before the device came back ({header}), and the log goes on {} after the device came back with nothing arriving",
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

pub(super) fn describe(event: &DeviceEvent) -> String {
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
