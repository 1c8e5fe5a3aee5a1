//! Step 4: the push arrived. Did the app report the call to CallKit (or was it killed, blocked,
//! or dead first), and was it on time?

use std::time::Duration;

use pushtrace_model::duration::{after, before, since};
use pushtrace_model::{
    Cause, Confidence, DeviceEvent, EventKind, EvidenceRole, Human, Outcome, PushRecord, Timestamp,
};

use super::app::Owner;
use super::arrival::{
    Arrival, Attribution, Wanted, may_name_app, other_app_between, report_fits_receipt,
};
use super::died::{self, Death};
use super::window::expected_by;
use super::{Context, Found, cite};

/// How long after the arrival a CallKit report, a PushKit kill or a launch block still belongs
/// to it: PushKit kills the app as soon as its delegate returns without reporting.
pub(super) const APP_WINDOW: Duration = Duration::from_secs(30);
/// A CallKit report this soon after the arrival is in time (PushKit wants it before the
/// delegate returns; callservicesd keeps the app awake for a few seconds).
const REPORT_IN_TIME: Duration = Duration::from_secs(5);
/// callservicesd may log a launch block a moment before apsd's line is stamped.
const BEFORE_ARRIVAL: Duration = Duration::from_secs(1);

/// The verdict of a push that arrived: `delivered_not_reported` when the app was killed or
/// blocked for not reporting, or died before it reported ([`died`]), `on_time` when it arrived
/// by its deadline, `None` when it was late (the outage step explains that).
pub(super) fn verdict(cx: &Context<'_>, push: &PushRecord, arrival: &Arrival<'_>) -> Option<Found> {
    let wanted = Wanted::of(push, cx.options.app.as_deref());
    let bundle = wanted.bundle();
    let (from, until) = (
        before(arrival.at, BEFORE_ARRIVAL),
        after(arrival.at, APP_WINDOW),
    );
    let near = || {
        cx.timeline
            .events
            .iter()
            .filter(move |e| e.at >= from && e.at <= until)
    };
    let names_app = |named: &Option<String>| may_name_app(named.as_deref(), bundle);
    // A report line later than the one the receipt gives is another device's (one call rung on
    // several devices). The window opens a moment before the arrival for callservicesd's launch
    // block, but a report comes after the push it reports (one clock, and the app reports what
    // it was given): one stamped before the arrival is an earlier push's, such as the first of
    // a call's pushes when this one is the retry that raced it.
    // Without a line of its own (a receipt alone), the receipt's stamp may come a moment after
    // the app's report: the same slack as for the block.
    let reported_from = arrival
        .lines
        .first()
        .map_or(from, |line| line.at.min(arrival.at));
    let report_line = near().find(|e| {
        e.at >= reported_from
            && matches!(&e.kind, EventKind::CallReported { bundle, .. } if names_app(bundle))
            && report_fits_receipt(push, e)
    });
    // A report in time clears the app: a kill after it is another push's or another app's.
    let report_at = report_line.map(|e| e.at).or(push.reported_at);
    let reported_in_time = report_at.is_some_and(|at| at <= after(arrival.at, REPORT_IN_TIME));
    let failure = near().find_map(|e| match &e.kind {
        EventKind::AppKilledForNotReporting => {
            let owner = cx.apps.owner(e, bundle, cx.options.app_process.as_deref());
            (owner != Owner::Other && !reported_in_time && !delivery_between(cx, arrival.at, e.at))
                .then_some((e, owner, false))
        }
        EventKind::VoipBlocked {
            bundle: blocked,
            delivered_anyway: false,
        } if names_app(blocked) => Some((
            e,
            if blocked.is_some() {
                Owner::App
            } else {
                Owner::Unknown
            },
            true,
        )),
        _ => None,
    });

    // A kill or a block is iOS's judgement that the call was not reported in time: it stands
    // even when a CallKit report (or the receipt's reported_at) came, too late, before it.
    let mut found = if let Some((line, owner, blocked)) = failure {
        let owner = match owner {
            // Nothing names the process, but the push's own delivery launched the app and no
            // other app's push came in between: the kill is the app's.
            Owner::Unknown
                if arrival.attribution != Attribution::Inferred
                    && !other_app_between(cx, &wanted, arrival.at, line.at) =>
            {
                Owner::App
            }
            other => other,
        };
        let report = report_line.map(|e| e.at).or(push.reported_at);
        let mut found = failed(cx, push, arrival, line, owner, blocked, report);
        found.evidence.extend(launch_evidence(arrival));
        // PushKit logs its warning and then the exception: both lines are the kill.
        for e in near().filter(|e| {
            e.at >= line.at
                && e.source != line.source
                && e.process == line.process
                && matches!(e.kind, EventKind::AppKilledForNotReporting)
        }) {
            found.evidence.push(cite(
                e,
                EvidenceRole::Supports,
                "iOS killed the app for not reporting the call to CallKit",
            ));
        }
        found
    } else if let Some(death) =
        // An app that reported and then died did what PushKit asks: only a death before the
        // first report counts, and one after another delivery is that push's.
        died::find(
            cx,
            &wanted,
            arrival,
            report_at.map_or(until, |at| at.min(until)),
        )
        .filter(|death| !delivery_between(cx, arrival.at, death.at()))
    {
        let mut found = dead_before_report(cx, push, arrival, &death);
        found.evidence.extend(launch_evidence(arrival));
        found
    } else if arrival.at <= expected_by(push, cx.options) {
        on_time(cx, push, arrival, report_line)
    } else {
        return None;
    };
    found.latency = Some(since(arrival.at, push.sent_at));
    found.arrived_at = Some(arrival.at);
    found.evidence.splice(0..0, arrival_evidence(arrival));
    if let Some(line) = report_line {
        found.evidence.push(cite(
            line,
            EvidenceRole::Supports,
            "the app reported the call to CallKit",
        ));
    }
    Some(found)
}

/// Whether another push reached the device between the arrival and `to`: a kill after it is
/// that push's.
fn delivery_between(cx: &Context<'_>, from: Timestamp, to: Timestamp) -> bool {
    cx.deliveries.iter().any(|d| {
        let at = cx.timeline.events[d.events[0]].at;
        at > from && at < to
    })
}

/// The arrival's lines as evidence: the arrival line and callservicesd's hand-over (the
/// launch lines only matter when the app failed: [`launch_evidence`]).
pub(super) fn arrival_evidence(arrival: &Arrival<'_>) -> Vec<pushtrace_model::Evidence> {
    arrival
        .lines
        .iter()
        .enumerate()
        .filter(|(i, line)| *i == 0 || matches!(line.kind, EventKind::VoipPushToApp { .. }))
        .map(|(i, line)| {
            let note = match (i, arrival.attribution) {
                (0, Attribution::Inferred) => {
                    "a push reached the device (redacted: taken to be this one)"
                }
                (0, _) => "the push reached the device",
                _ => "the delivery went on to the app",
            };
            cite(line, EvidenceRole::Supports, note)
        })
        .collect()
}

/// The lines of the app's launch for the push.
fn launch_evidence(arrival: &Arrival<'_>) -> Vec<pushtrace_model::Evidence> {
    arrival
        .lines
        .iter()
        .skip(1)
        .filter(|line| !matches!(line.kind, EventKind::VoipPushToApp { .. }))
        .take(2)
        .map(|line| {
            cite(
                line,
                EvidenceRole::Context,
                "iOS launched the app for the push",
            )
        })
        .collect()
}

/// How long after the send the push arrived; an arrival stamped before the send says so (the
/// device's clock runs behind the server's) rather than "0 ms after".
fn after_send(arrived: Timestamp, push: &PushRecord) -> String {
    if arrived < push.sent_at {
        format!(
            "stamped {} before it was sent (the device's clock runs behind the server's)",
            Human(since(push.sent_at, arrived))
        )
    } else {
        format!("{} after it was sent", Human(since(arrived, push.sent_at)))
    }
}

/// What the arrival sentence says of how the push was tied to it.
pub(super) fn attribution_note(arrival: &Arrival<'_>) -> &'static str {
    match arrival.attribution {
        Attribution::Inferred => {
            " (its arrival line is redacted or names no app: taken to be this push, not shown to be)"
        }
        Attribution::Receipt if arrival.lines.is_empty() => " (by the app's receipt)",
        _ => "",
    }
}

fn failed(
    cx: &Context<'_>,
    push: &PushRecord,
    arrival: &Arrival<'_>,
    line: &DeviceEvent,
    owner: Owner,
    blocked: bool,
    report: Option<pushtrace_model::Timestamp>,
) -> Found {
    let mut confidence = Confidence::High;
    let mut tied = String::new();
    if owner == Owner::Unknown && !blocked {
        confidence = Confidence::Medium;
        tied = format!(
            " (the kill is logged by {}, which the log does not tie to the app: taken to be the app's)",
            line.process
        );
    }
    if arrival.attribution == Attribution::Inferred {
        confidence = confidence.lower();
    }
    if let Some(at) = report {
        tied.push_str(&format!(
            "; its CallKit report at {} came too late",
            cx.clock.show(at)
        ));
    }
    let mut found = Found::new(
        Outcome::DeliveredNotReported,
        if blocked {
            Cause::VoipBlocked
        } else {
            Cause::AppNotReporting
        },
        confidence,
        format!(
            "Delivered at {}, {}{}, but the app never reported the call to CallKit{}{}.",
            cx.clock.show(arrival.at),
            after_send(arrival.at, push),
            attribution_note(arrival),
            if blocked {
                ": iOS has stopped launching it for VoIP pushes"
            } else {
                ", so iOS killed it"
            },
            tied
        ),
    );
    found.evidence.push(cite(
        line,
        EvidenceRole::Supports,
        if blocked {
            "iOS no longer launches the app for VoIP pushes"
        } else {
            "iOS killed the app for not reporting the call to CallKit"
        },
    ));
    found
}

/// The app died after the delivery and before any CallKit report: the call was never reported.
fn dead_before_report(
    cx: &Context<'_>,
    push: &PushRecord,
    arrival: &Arrival<'_>,
    death: &Death<'_>,
) -> Found {
    let mut found = Found::new(
        Outcome::DeliveredNotReported,
        Cause::AppNotReporting,
        death.confidence(arrival),
        format!(
            "Delivered at {}, {}{}, but the app died {} after the delivery, before it reported the call to CallKit: {}.",
            cx.clock.show(arrival.at),
            after_send(arrival.at, push),
            attribution_note(arrival),
            Human(since(death.at(), arrival.at)),
            death.told(|t| cx.clock.show(t)),
        ),
    );
    found.evidence.extend(death.evidence());
    found
}

fn on_time(
    cx: &Context<'_>,
    push: &PushRecord,
    arrival: &Arrival<'_>,
    report_line: Option<&DeviceEvent>,
) -> Found {
    let mut confidence = Confidence::High;
    let mut caveat = String::new();
    if arrival.attribution == Attribution::Inferred {
        confidence = Confidence::Medium;
    }
    let reported = push.reported_at.is_some() || report_line.is_some();
    let app_side_seen = cx.timeline.has_process("callservicesd")
        || cx
            .options
            .app_process
            .as_deref()
            .is_some_and(|p| cx.timeline.has_process(p));
    if !reported && !app_side_seen {
        confidence = Confidence::Medium;
        caveat = "; the log holds no callservicesd line and not the app's own, so a failure to report the call to CallKit would not show".into();
    }
    Found::new(
        Outcome::OnTime,
        Cause::None,
        confidence,
        format!(
            "Delivered at {}, {}{}{}.",
            cx.clock.show(arrival.at),
            after_send(arrival.at, push),
            attribution_note(arrival),
            caveat
        ),
    )
}
