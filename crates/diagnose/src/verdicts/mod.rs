//! One [`Verdict`] per push: what became of it, why, how sure, on which log lines.
//!
//! The diagnosis reads each push's record ([`PushRecord`]: what the server knows) against the
//! device's [`DeviceTimeline`] and asks DESIGN §5's questions in a fixed order, one module each:
//!
//! 1. [`rejected`]: APNs refused it → `rejected` (`token_invalid` or `apns_rejected`); no log
//!    needed.
//! 2. [`arrival`]: when it reached the device — the app's receipt, else the apsd /
//!    callservicesd lines of one delivery that name the push's app (a redacted line counts, but
//!    as an inferred attribution), each delivery given to at most one push.
//! 3. [`window`]: which part of the push's delivery window (sent → due) the log covers; `unknown`
//!    only when what the log holds cannot decide.
//! 4. [`delivered`]: arrived — killed or blocked for not reporting to CallKit
//!    (`delivered_not_reported`), else on time.
//! 5. [`outage`]: late or never seen — time lost before APNs (`provider_delay`), else the APNs
//!    connection's state at the send decides the device-side cause; [`recovery`] names what
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

use app::AppIndex;
use arrival::{Claims, Delivery};

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

/// Diagnoses every push against one device timeline. Pushes are taken in the order they were
/// sent so that one delivery line is never given to two pushes; verdicts come back in the order
/// of `pushes`.
pub fn diagnose_all<'a>(
    pushes: impl IntoIterator<Item = &'a PushRecord>,
    timeline: &DeviceTimeline,
    options: &DiagnoseOptions,
) -> Vec<Verdict> {
    let pushes: Vec<&PushRecord> = pushes.into_iter().collect();
    let context = Context::new(timeline, options);
    // Pushes with a receipt claim their delivery first: the receipt says which line is theirs.
    // The others follow in the order they were sent.
    let mut order: Vec<usize> = (0..pushes.len()).collect();
    order.sort_by_key(|&i| (pushes[i].received_at.is_none(), pushes[i].sent_at));
    let mut claims = Claims::default();
    let mut verdicts: Vec<Option<Verdict>> = vec![None; pushes.len()];
    for i in order {
        let next = next_push(&pushes, i);
        verdicts[i] = Some(context.diagnose(pushes[i], next, &mut claims));
    }
    let mut verdicts: Vec<Verdict> = verdicts.into_iter().flatten().collect();
    note_replaced(&pushes, &mut verdicts, &context.clock);
    verdicts
}

/// A push never seen while a newer push to the same app and device arrived was replaced by it:
/// APNs stores one push per app and device. The verdict says so.
fn note_replaced(pushes: &[&PushRecord], verdicts: &mut [Verdict], clock: &LogClock) {
    for i in 0..pushes.len() {
        if verdicts[i].outcome != Outcome::NotDelivered {
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

/// When the next push for the same app and device was sent after `pushes[i]`: APNs keeps one
/// stored push per app and device, so a delivery after that send is the later push's.
fn next_push(pushes: &[&PushRecord], i: usize) -> Option<Timestamp> {
    let this = pushes[i];
    pushes
        .iter()
        .filter(|p| {
            p.sent_at > this.sent_at
                && p.topic == this.topic
                && (p.device.is_none() || this.device.is_none() || p.device == this.device)
        })
        .map(|p| p.sent_at)
        .min()
}

/// Diagnoses one push against the device's timeline.
pub fn diagnose(
    push: &PushRecord,
    timeline: &DeviceTimeline,
    options: &DiagnoseOptions,
) -> Verdict {
    Context::new(timeline, options).diagnose(push, None, &mut Claims::default())
}

/// What every step reads: the timeline, the options, the apps the log identifies and the
/// clock times are written on.
pub(crate) struct Context<'a> {
    pub timeline: &'a DeviceTimeline,
    pub options: &'a DiagnoseOptions,
    pub apps: AppIndex,
    pub clock: LogClock,
    pub deliveries: Vec<Delivery>,
}

impl<'a> Context<'a> {
    fn new(timeline: &'a DeviceTimeline, options: &'a DiagnoseOptions) -> Context<'a> {
        Context {
            timeline,
            options,
            apps: AppIndex::new(timeline),
            clock: LogClock::of(timeline),
            deliveries: arrival::deliveries(timeline),
        }
    }

    fn diagnose(
        &self,
        push: &PushRecord,
        next_push: Option<Timestamp>,
        claims: &mut Claims,
    ) -> Verdict {
        let label = label(push);
        if let Some(found) = rejected::verdict(push) {
            return found.into_verdict(label);
        }
        let arrival = arrival::find(self, push, next_push, claims);
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
mod tests;
