//! Time lost before APNs: the sender's queue and APNs's answer. It comes first, whatever the
//! device was doing.

use pushtrace_model::duration::{before, since};
use pushtrace_model::{Cause, Confidence, Human, PushRecord, Timestamp};

use super::Diagnosed;
use crate::verdicts::Context;
use crate::verdicts::arrival::Arrival;

/// Time lost before APNs: the sender's queue and APNs's answer.
pub(super) fn provider_delay(
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
