//! One [`Verdict`] per push: what became of it, why, how sure, on which log lines.
//!
//! The diagnosis reads each push's record ([`PushRecord`]: what the server knows) against the
//! device's [`DeviceTimeline`] and asks `docs/diagnosis.md`'s questions in a fixed order, one
//! module each:
//!
//! 1. `rejected`: APNs refused it → `rejected` (`token_invalid` or `apns_rejected`); no log
//!    needed.
//! 2. `arrival`: when it reached the device — the app's receipt, else the apsd /
//!    callservicesd lines of one delivery that name the push's app (a redacted line counts, but
//!    as an inferred attribution), each delivery given to at most one push.
//! 3. `window`: which part of the push's delivery window (sent → due) the log covers; `unknown`
//!    only when what the log holds cannot decide.
//! 4. `delivered`: arrived — killed or blocked for not reporting to CallKit, or dead before
//!    reporting (`died`: a crash, the process gone) (`delivered_not_reported`), else on time.
//! 5. `outage`: late or never seen — time lost before APNs (`provider_delay`), else the APNs
//!    connection's state at the send decides the device-side cause; `recovery` names what
//!    ended the outage.
//!
//! Confidence is high when every link is in the record or the log, medium when one is inferred
//! (no receipt and no arrival line, a redacted arrival, the app's side not in the log), and low
//! when a line contradicts the signature; contradicting lines are shown, never dropped.
//! `docs/diagnosis.md` states the rules.

mod app;
mod arrival;
mod clock;
mod delivered;
mod died;
mod options;
mod outage;
mod recovery;
mod rejected;
mod window;

use pushtrace_devicelog::timeline::DeviceTimeline;
use pushtrace_model::{
    Cause, Confidence, DeviceEvent, Evidence, EvidenceRole, Outcome, PushRecord, Timestamp, Verdict,
};

pub use clock::LogClock;
pub use options::DiagnoseOptions;
pub use window::expected_by;

use std::collections::BTreeSet;

use app::AppIndex;
use arrival::{Arrival, Claims, Delivery, Phase};

/// How a verdict names its push: `push_id`, else `apns-id`, else the send time.
pub fn label(push: &PushRecord) -> String {
    push.push_id
        .clone()
        .or_else(|| push.apns_id.clone())
        .unwrap_or_else(|| format!("sent {}", push.sent_at))
}

/// Whether a push rings: a VoIP push, or one whose type the record does not say. A missed-call
/// alert (push type `alert`) or any other type is not a ring and gets no ring verdict.
pub fn is_ring(push: &PushRecord) -> bool {
    push.push_type.as_deref().is_none_or(|t| t == "voip")
}

/// Why a push that is not a ring ([`is_ring`]) is listed and not judged: a missed-call alert
/// when a VoIP push of its call is among `rings`, else a push that could not have rung.
pub fn why_not_a_ring<'a>(
    push: &PushRecord,
    rings: impl IntoIterator<Item = &'a PushRecord>,
) -> String {
    let kind = push.push_type.as_deref().unwrap_or("voip");
    let rung = push.call_id.as_deref().is_some_and(|call| {
        rings
            .into_iter()
            .any(|r| r.call_id.as_deref() == Some(call))
    });
    if rung && kind == "alert" {
        "not a ring: an alert push of a call that had a VoIP push (its missed-call alert)".into()
    } else {
        format!(
            "not a ring: push type `{kind}`, and no VoIP push of its call; had it been meant to ring, it could not: only a `voip` push to the app's `.voip` topic wakes PushKit and CallKit"
        )
    }
}

/// Diagnoses every push against one device timeline. One delivery line is never given to two
/// pushes (see the passes below); verdicts come back in the order of `pushes`.
pub fn diagnose_all<'a>(
    pushes: impl IntoIterator<Item = &'a PushRecord>,
    timeline: &DeviceTimeline,
    options: &DiagnoseOptions,
) -> Vec<Verdict> {
    let pushes: Vec<&PushRecord> = pushes.into_iter().collect();
    let context = Context::new(timeline, options);
    let mut by_sent: Vec<usize> = (0..pushes.len()).collect();
    by_sent.sort_by_key(|&i| pushes[i].sent_at);
    // A push APNs refused never reached any device: it claims nothing.
    by_sent.retain(|&i| !rejected::refused(pushes[i]));

    // The log's device: the one whose receipt it shows arriving. A push to another device is
    // not in this log at all.
    let log_devices: BTreeSet<&str> = by_sent
        .iter()
        .filter(|&&i| arrival::receipt_in_log(&context, pushes[i]))
        .filter_map(|&i| pushes[i].device.as_deref())
        .collect();
    let elsewhere = |i: usize| {
        !log_devices.is_empty()
            && pushes[i]
                .device
                .as_deref()
                .is_some_and(|d| !log_devices.contains(d))
    };

    // Deliveries are claimed in three passes: pushes with a receipt (it says which line is
    // theirs), then arrivals by the deadline in the order pushes were sent, then late arrivals
    // newest push first (APNs stores one push per app and device: after an outage the newest is
    // the one delivered).
    let mut claims = Claims::default();
    let mut arrivals: Vec<Option<Arrival<'_>>> = (0..pushes.len()).map(|_| None).collect();
    let passes = [
        (Phase::Receipt, false),
        (Phase::InTime, false),
        (Phase::Late, true),
    ];
    for (phase, newest_first) in passes {
        let mut order: Vec<usize> = if newest_first {
            by_sent.iter().rev().copied().collect()
        } else {
            by_sent.clone()
        };
        if phase == Phase::InTime {
            // A push sent while the log shows APNs's connection down can only come once it is
            // back, and then at once (APNs delivers what it holds on the reconnect), while one
            // sent over the live connection comes right after its send: an arrival after both
            // sends is first the live one's (the one sent during the outage may well be gone: an
            // `expiration` of 0 is not stored).
            order.sort_by_key(|&i| arrival::sent_while_down(&context, pushes[i]));
        }
        for i in order {
            if arrivals[i].is_none() && !elsewhere(i) {
                arrivals[i] = arrival::find(&context, pushes[i], phase, &mut claims);
            }
        }
    }
    let mut verdicts: Vec<Verdict> = pushes
        .iter()
        .zip(arrivals)
        .enumerate()
        .map(|(i, (push, arrival))| {
            if elsewhere(i) && !rejected::refused(push) {
                return other_device(push, &log_devices, &context.clock);
            }
            context.diagnose(push, arrival)
        })
        .collect();
    note_replaced(&pushes, &mut verdicts, &context.clock);
    verdicts
}

/// The verdict of a push sent to another device than the one whose log this is.
fn other_device(push: &PushRecord, log_devices: &BTreeSet<&str>, clock: &LogClock) -> Verdict {
    let devices: Vec<&str> = log_devices.iter().copied().collect();
    Found::new(
        Outcome::Unknown,
        Cause::Unknown,
        Confidence::Low,
        format!(
            "This push (sent {}) went to device {}, and the log is of device {} (a push to it arrives in the log by its receipt): it says nothing about this one.",
            clock.show(push.sent_at),
            push.device.as_deref().unwrap_or("?"),
            devices.join(", ")
        ),
    )
    .into_verdict(label(push))
}

/// A push never seen while a newer push to the same app and device arrived was replaced by it:
/// APNs stores one push per app and device. The verdict says so.
fn note_replaced(pushes: &[&PushRecord], verdicts: &mut [Verdict], clock: &LogClock) {
    for i in 0..pushes.len() {
        // Replaced in APNs's store only if APNs took it and stored it: with `apns-expiration` 0
        // it keeps nothing, so there was nothing to replace.
        if verdicts[i].outcome != Outcome::NotDelivered
            || pushes[i].apns_status != Some(200)
            || pushes[i].expiration == Some(0)
        {
            continue;
        }
        let newer = (0..pushes.len())
            .filter(|&j| {
                pushes[j].sent_at > pushes[i].sent_at
                    && pushes[j].topic == pushes[i].topic
                    && (pushes[j].device.is_none()
                        || pushes[i].device.is_none()
                        || pushes[j].device == pushes[i].device)
            })
            .find_map(|j| {
                verdicts[j]
                    .arrived_at
                    .map(|at| (verdicts[j].push.clone(), at))
            });
        if let Some((push, at)) = newer {
            verdicts[i].explanation.push_str(&format!(
                " A newer push to the same app ({push}) arrived at {}: APNs keeps one stored push per app and device, so this one was replaced by it.",
                clock.show(at)
            ));
        }
    }
}

/// Diagnoses one push against the device's timeline (as [`diagnose_all`] with one push).
pub fn diagnose(
    push: &PushRecord,
    timeline: &DeviceTimeline,
    options: &DiagnoseOptions,
) -> Verdict {
    diagnose_all([push], timeline, options)
        .pop()
        .expect("one push in, one verdict out: this is a bug")
}

/// What every step reads: the timeline, the options, the apps the log identifies and the
/// clock times are written on.
pub(crate) struct Context<'a> {
    pub timeline: &'a DeviceTimeline,
    pub options: &'a DiagnoseOptions,
    pub apps: AppIndex,
    pub clock: LogClock,
    pub deliveries: Vec<Delivery>,
    /// The events that began a state interval (a change, not the same state said again),
    /// found once for every push's recovery.
    pub state_changes: BTreeSet<usize>,
}

impl<'a> Context<'a> {
    fn new(timeline: &'a DeviceTimeline, options: &'a DiagnoseOptions) -> Context<'a> {
        Context {
            timeline,
            options,
            apps: AppIndex::new(timeline),
            clock: LogClock::of(timeline),
            deliveries: arrival::deliveries(timeline),
            state_changes: timeline
                .states
                .values()
                .flatten()
                .filter_map(|i| i.since_event)
                .collect(),
        }
    }

    fn diagnose(&self, push: &PushRecord, arrival: Option<Arrival<'a>>) -> Verdict {
        let label = label(push);
        if let Some(found) = rejected::verdict(push, &self.clock) {
            return found.into_verdict(label);
        }
        if let Some(arrival) = &arrival
            && let Some(found) = delivered::verdict(self, push, arrival)
        {
            return found.into_verdict(label);
        }
        if arrival.is_none()
            && let Some(found) = window::undecided(self, push)
        {
            return found.into_verdict(label);
        }
        outage::verdict(self, push, arrival.as_ref()).into_verdict(label)
    }
}

/// A verdict before it is named: what each step returns.
pub(crate) struct Found {
    pub outcome: Outcome,
    pub cause: Cause,
    pub confidence: Confidence,
    pub explanation: String,
    pub evidence: Vec<Evidence>,
    pub latency: Option<std::time::Duration>,
    pub recovery: Option<pushtrace_model::Recovery>,
    pub arrived_at: Option<Timestamp>,
    pub recovered_at: Option<Timestamp>,
}

impl Found {
    pub fn new(
        outcome: Outcome,
        cause: Cause,
        confidence: Confidence,
        explanation: String,
    ) -> Found {
        Found {
            outcome,
            cause,
            confidence,
            explanation,
            evidence: Vec::new(),
            latency: None,
            recovery: None,
            arrived_at: None,
            recovered_at: None,
        }
    }

    fn into_verdict(mut self, push: String) -> Verdict {
        self.evidence.sort_by_key(|e| e.event.at);
        self.evidence
            .dedup_by(|a, b| a.event.source == b.event.source && a.role == b.role);
        if self
            .evidence
            .iter()
            .any(|e| e.role == EvidenceRole::Contradicts)
        {
            self.confidence = self.confidence.lower();
        }
        Verdict {
            push,
            outcome: self.outcome,
            latency: self.latency,
            cause: self.cause,
            confidence: self.confidence,
            evidence: self.evidence,
            recovery: self.recovery,
            arrived_at: self.arrived_at,
            recovered_at: self.recovered_at,
            explanation: self.explanation,
        }
    }
}

/// A line cited as evidence.
pub(crate) fn cite(event: &DeviceEvent, role: EvidenceRole, note: impl Into<String>) -> Evidence {
    Evidence {
        role,
        note: note.into(),
        event: event.clone(),
    }
}

#[cfg(test)]
mod sequence_tests;
#[cfg(test)]
mod tests;
