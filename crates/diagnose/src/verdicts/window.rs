//! Step 3: the push's delivery window (sent → due) against what the log covers.
//!
//! Coverage is judged on the window, not on the send instant: a log that starts a moment after
//! the send still shows whether the push arrived by its deadline. `unknown` is for a log that
//! cannot decide — it ends before the push was due, or holds nothing of the window — never for a
//! first line that is a little late, and for a log without apsd, which cannot show an arrival.

use pushtrace_model::duration::after;
use pushtrace_model::{Cause, Confidence, Outcome, PushRecord, Timestamp};

use super::{Context, DiagnoseOptions, Found};

/// When the push was due: its call's deadline, else [`DiagnoseOptions::on_time_within`] after
/// the sender took the work (`queued_at`, else `sent_at`).
pub fn expected_by(push: &PushRecord, options: &DiagnoseOptions) -> Timestamp {
    push.deadline.unwrap_or_else(|| {
        after(
            push.queued_at.unwrap_or(push.sent_at).min(push.sent_at),
            options.on_time_within,
        )
    })
}

/// For a push with no arrival: the `unknown` verdict when the log cannot say whether it
/// arrived by its deadline, naming what the log covers.
pub(super) fn undecided(cx: &Context<'_>, push: &PushRecord) -> Option<Found> {
    let unknown = |why: String| {
        Some(Found::new(
            Outcome::Unknown,
            Cause::Unknown,
            Confidence::Low,
            why,
        ))
    };
    let (Some(start), Some(end)) = (cx.timeline.start, cx.timeline.end) else {
        return unknown(
            "The log holds no dated record: nothing can be said about the device.".into(),
        );
    };
    let show = |t| cx.clock.show(t);
    let due = expected_by(push, cx.options);
    if end < push.sent_at || start > due {
        return unknown(format!(
            "The log covers {}–{}; the push's delivery window (sent {}, due {}) is outside it, and there is no receipt.",
            show(start),
            show(end),
            show(push.sent_at),
            show(due)
        ));
    }
    if end < due {
        return unknown(format!(
            "The log ends at {}, before the push was due ({}), with no arrival before it and no receipt: whether it arrived is not in the log.",
            show(end),
            show(due)
        ));
    }
    // An export that left apsd out covers the window without speaking for the delivery: the
    // push's absence from it says nothing.
    let speaks_for_apsd = cx.timeline.processes.contains_key(DELIVERING_PROCESS)
        || cx
            .timeline
            .events
            .iter()
            .any(|e| e.process == DELIVERING_PROCESS);
    if !speaks_for_apsd {
        return unknown(format!(
            "The log covers {}–{} but holds no line of apsd, the daemon that receives pushes, and there is no receipt: whether the push arrived is not in the log.",
            show(start),
            show(end)
        ));
    }
    None
}

/// The daemon that holds the APNs connection and receives every push.
const DELIVERING_PROCESS: &str = "apsd";

/// What part of the window before the send's state the log misses: `Some(start)` when the log
/// begins after the send (the device's state at the send is then not in it).
pub(super) fn starts_after_send(cx: &Context<'_>, push: &PushRecord) -> Option<Timestamp> {
    cx.timeline.start.filter(|start| *start > push.sent_at)
}
