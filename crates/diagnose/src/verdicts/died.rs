//! Step 4, continued: the app died after the delivery, before it reported the call.
//!
//! An app that crashes in its PushKit handler never reports the call, and PushKit's kill never
//! comes (the app is already gone), so the log holds no kill line. It shows the death two ways:
//! the app's last words in its own process (the Swift runtime's `Fatal error:`, an uncaught
//! Objective-C exception: [`EventKind::AppCrashed`]) and the system seeing the process end
//! (SpringBoard's `taskState: Not Running`, FrontBoard's `Process exited`, runningboardd's
//! `termination reported by launchd`). callservicesd letting go of its process assertion just
//! after is cited as context only: it lets go after every push, reported or not.

use std::time::Duration;

use pushtrace_model::duration::after;
use pushtrace_model::{Confidence, DeviceEvent, EventKind, Evidence, EvidenceRole, Timestamp};

use super::app::Owner;
use super::arrival::{Arrival, Attribution, Wanted, other_app_between};
use super::{Context, cite};

/// How long after the death callservicesd's release of the app is still about it.
const RELEASE_AFTER: Duration = Duration::from_secs(5);

/// How the app's death shows in the log.
#[derive(Debug)]
pub(super) struct Death<'a> {
    /// The app's own crash line, and whether the log ties its process to the app (`App`) or
    /// it is taken to be the app's because the push's own delivery launched it (`Unknown`).
    pub crash: Option<(&'a DeviceEvent, Owner)>,
    /// The system's first line saying the app's process ended.
    pub exit: Option<&'a DeviceEvent>,
    /// callservicesd letting go of its assertion on the app, just after.
    pub released: Option<&'a DeviceEvent>,
}

/// The app's death after `arrival` and before `until` (the end of the report window, or the
/// first CallKit report: an app that reported and then died did what PushKit asks), when the
/// log shows one.
pub(super) fn find<'a>(
    cx: &Context<'a>,
    wanted: &Wanted,
    arrival: &Arrival<'_>,
    until: Timestamp,
) -> Option<Death<'a>> {
    let bundle = wanted.bundle()?;
    let window = || {
        cx.timeline
            .events
            .iter()
            .filter(move |e| e.at >= arrival.at && e.at < until)
    };
    let crash = window().find_map(|e| {
        if !matches!(e.kind, EventKind::AppCrashed { .. }) {
            return None;
        }
        match cx
            .apps
            .owner(e, Some(bundle), cx.options.app_process.as_deref())
        {
            Owner::App => Some((e, Owner::App)),
            // A crash line of a process nothing names is the app's only when the push's own
            // delivery launched the app and no other app's push came in between, and it is
            // not one of the daemons that handed the push on: any process may print "Fatal
            // error:".
            Owner::Unknown
                if arrival.attribution != Attribution::Inferred
                    && !arrival.lines.iter().any(|l| l.process == e.process)
                    && !other_app_between(cx, wanted, arrival.at, e.at) =>
            {
                Some((e, Owner::Unknown))
            }
            _ => None,
        }
    });
    let exit = window().find(|e| ended(&e.kind, bundle));
    if crash.is_none() && exit.is_none() {
        return None;
    }
    let mut death = Death {
        crash,
        exit,
        released: None,
    };
    let at = death.at();
    death.released = cx.timeline.events.iter().find(|e| {
        e.at >= at
            && e.at <= after(at, RELEASE_AFTER)
            && matches!(&e.kind, EventKind::AppLaunchForPush { stage, bundle: b }
                if stage == "assertion_invalidated"
                    && b.as_deref().is_none_or(|b| b.eq_ignore_ascii_case(bundle)))
    });
    Some(death)
}

/// Whether `kind` says the process of the app `bundle` ended. The app must be named: a
/// redacted exit may be any app's.
fn ended(kind: &EventKind, bundle: &str) -> bool {
    let named = |b: &Option<String>| b.as_deref().is_some_and(|b| b.eq_ignore_ascii_case(bundle));
    match kind {
        EventKind::AppExited { bundle: b, .. } => named(b),
        EventKind::AppProcessState {
            bundle: b,
            task_state: Some(state),
            ..
        } => named(b) && state.eq_ignore_ascii_case("Not Running"),
        _ => false,
    }
}

impl Death<'_> {
    /// When the app died: its first line of the death.
    pub fn at(&self) -> Timestamp {
        match (self.crash, self.exit) {
            (Some((c, _)), Some(x)) => c.at.min(x.at),
            (Some((c, _)), None) => c.at,
            (None, Some(x)) => x.at,
            (None, None) => unreachable!("a death has a crash or an exit line: this is a bug"),
        }
    }

    /// High when the log ties the crash line to the app, or shows both the crash and the
    /// process ending; one step down when a single line stands for the death and what makes
    /// it the app's is inferred (a crash in a process nothing names) or it says nothing of why
    /// (an exit alone: the process is gone, and no report line came before it).
    pub fn confidence(&self, arrival: &Arrival<'_>) -> Confidence {
        let sure = match (self.crash, self.exit) {
            (Some((_, Owner::App)), _) | (Some(_), Some(_)) => Confidence::High,
            _ => Confidence::Medium,
        };
        if arrival.attribution == Attribution::Inferred {
            sure.lower()
        } else {
            sure
        }
    }

    /// What the log shows of the death, for the verdict's sentence: the crash line quoted,
    /// then where the system saw the process end.
    pub fn told(&self, show: impl Fn(Timestamp) -> String) -> String {
        let mut told = Vec::new();
        if let Some((line, owner)) = self.crash {
            let mut said = format!("it logged `{}` at {}", line.raw.trim(), show(line.at));
            if owner == Owner::Unknown {
                said.push_str(&format!(
                    " (in {}, which the log does not tie to the app: taken to be the app's, as the push's delivery launched it)",
                    line.process
                ));
            }
            told.push(said);
        }
        if let Some(line) = self.exit {
            told.push(match &line.kind {
                EventKind::AppExited {
                    reason: Some(reason),
                    ..
                } => format!(
                    "{} saw its process end at {} ({reason})",
                    line.process,
                    show(line.at)
                ),
                EventKind::AppExited { .. } => {
                    format!("{} saw its process end at {}", line.process, show(line.at))
                }
                _ => format!("{} shows it not running at {}", line.process, show(line.at)),
            });
        }
        if self.crash.is_none() {
            told.push("the log does not say why".into());
        }
        told.join(", and ")
    }

    /// The death's lines: the crash and the exit support the verdict, callservicesd's release
    /// of the app is context.
    pub fn evidence(&self) -> Vec<Evidence> {
        let mut evidence = Vec::new();
        if let Some((line, _)) = self.crash {
            evidence.push(cite(
                line,
                EvidenceRole::Supports,
                "the app crashed before it reported the call to CallKit",
            ));
        }
        if let Some(line) = self.exit {
            evidence.push(cite(
                line,
                EvidenceRole::Supports,
                "the app's process ended before it reported the call",
            ));
        }
        if let Some(line) = self.released {
            evidence.push(cite(
                line,
                EvidenceRole::Context,
                "callservicesd let go of the app after it died",
            ));
        }
        evidence
    }
}

#[cfg(test)]
mod tests {
    use pushtrace_model::{
        Cause, Confidence, DeviceEvent, EventKind, EvidenceRole, Origin, Outcome,
    };

    use super::super::diagnose;
    use super::super::tests::{arrived, connected, event, options, push, timeline};

    const FATAL: &str = "Hatif/PushHandler.swift:88: Fatal error: Unexpectedly found nil while unwrapping an Optional value";

    /// SpringBoard's process-state line for com.acme.call, pid 2455.
    fn state(time: &str, bundle: &str, task_state: &str) -> DeviceEvent {
        let mut e = event(
            time,
            "SpringBoard",
            EventKind::AppProcessState {
                bundle: Some(bundle.into()),
                task_state: Some(task_state.into()),
                visibility: Some("Background".into()),
            },
        );
        e.raw = format!(
            "Application process state changed for {bundle}: <SBApplicationProcessState: 0x281a5ea00; pid: 2455; taskState: {task_state}; visibility: Background>"
        );
        e
    }

    fn crash(time: &str, process: &str, pid: Option<u32>) -> DeviceEvent {
        let mut e = event(
            time,
            process,
            EventKind::AppCrashed {
                reason: Some("Unexpectedly found nil while unwrapping an Optional value".into()),
            },
        );
        e.pid = pid;
        e.raw = FATAL.into();
        // Its own line: evidence from one line is cited once.
        e.source = Origin::Line {
            file: "test.log".into(),
            line: 11,
        };
        e
    }

    fn reported(time: &str) -> DeviceEvent {
        event(
            time,
            "callservicesd",
            EventKind::CallReported {
                bundle: None,
                call: None,
            },
        )
    }

    /// The push (sent 10:00:30) arrives at 10:00:31 and SpringBoard launches the app as pid 2455.
    fn launched(mut more: Vec<DeviceEvent>) -> pushtrace_devicelog::timeline::DeviceTimeline {
        let mut events = vec![
            connected("10:00:00.000"),
            arrived("10:00:31.000"),
            state("10:00:31.400", "com.acme.call", "Running"),
        ];
        events.append(&mut more);
        timeline(events, "09:59:00", "10:05:00")
    }

    fn cites(v: &pushtrace_model::Verdict, raw: &str, role: EvidenceRole) -> bool {
        v.evidence
            .iter()
            .any(|e| e.event.raw == raw && e.role == role)
    }

    #[test]
    fn a_crash_in_the_pushkit_handler_before_any_report_is_the_app_not_reporting() {
        let t = launched(vec![
            crash("10:00:31.900", "Hatif", Some(2455)),
            state("10:00:32.200", "com.acme.call", "Not Running"),
        ]);
        let v = diagnose(&push("10:00:30.000"), &t, &options());
        assert_eq!(
            (v.outcome, v.cause, v.confidence),
            (
                Outcome::DeliveredNotReported,
                Cause::AppNotReporting,
                Confidence::High
            ),
            "{v:#?}"
        );
        assert!(
            v.explanation.contains(&format!("`{FATAL}`")),
            "{}",
            v.explanation
        );
        assert!(
            v.explanation
                .contains("died 900 ms after the delivery, before it reported the call"),
            "{}",
            v.explanation
        );
        assert!(
            v.explanation.contains("not running at 10:00:32.200"),
            "{}",
            v.explanation
        );
        assert!(cites(&v, FATAL, EvidenceRole::Supports), "{v:#?}");
    }

    #[test]
    fn the_same_death_after_the_report_leaves_the_push_on_time_and_uncited() {
        let t = launched(vec![
            reported("10:00:31.600"),
            crash("10:00:33.000", "Hatif", Some(2455)),
            state("10:00:33.300", "com.acme.call", "Not Running"),
        ]);
        let v = diagnose(&push("10:00:30.000"), &t, &options());
        assert_eq!(
            (v.outcome, v.cause),
            (Outcome::OnTime, Cause::None),
            "{v:#?}"
        );
        assert!(!cites(&v, FATAL, EvidenceRole::Supports), "{v:#?}");
    }

    #[test]
    fn the_process_gone_without_a_crash_line_counts_one_step_less_sure() {
        let t = launched(vec![state("10:00:33.000", "com.acme.call", "Not Running")]);
        let v = diagnose(&push("10:00:30.000"), &t, &options());
        assert_eq!(
            (v.outcome, v.cause, v.confidence),
            (
                Outcome::DeliveredNotReported,
                Cause::AppNotReporting,
                Confidence::Medium
            ),
            "{v:#?}"
        );
        assert!(
            v.explanation.contains("the log does not say why"),
            "{}",
            v.explanation
        );
    }

    #[test]
    fn another_apps_death_and_a_death_past_the_report_window_are_not_this_pushs() {
        for more in [
            vec![state(
                "10:00:33.000",
                "net.whatsapp.WhatsApp",
                "Not Running",
            )],
            // pid 2455 is com.acme.call's, but this crash is in a pid SpringBoard gave another app.
            vec![
                {
                    let mut e = state("10:00:32.000", "net.whatsapp.WhatsApp", "Running");
                    e.raw = e.raw.replace("2455", "3100");
                    e
                },
                crash("10:00:33.000", "WhatsApp", Some(3100)),
            ],
            // 30 s after the arrival the report window is over.
            vec![state("10:01:02.000", "com.acme.call", "Not Running")],
        ] {
            let v = diagnose(&push("10:00:30.000"), &launched(more), &options());
            assert_eq!(
                (v.outcome, v.cause),
                (Outcome::OnTime, Cause::None),
                "{v:#?}"
            );
        }
    }

    #[test]
    fn a_crash_in_a_process_nothing_names_counts_only_after_the_pushs_own_launch() {
        // The log ties no pid to "Hatif": the push's own (named) delivery launched the app, so
        // the crash is taken to be the app's, and the sentence says so.
        let t = launched(vec![crash("10:00:31.900", "Hatif", None)]);
        let v = diagnose(&push("10:00:30.000"), &t, &options());
        assert_eq!(
            (v.outcome, v.confidence),
            (Outcome::DeliveredNotReported, Confidence::Medium),
            "{v:#?}"
        );
        assert!(
            v.explanation
                .contains("in Hatif, which the log does not tie to the app"),
            "{}",
            v.explanation
        );

        // Another app's push in between: the crash may be that app's.
        let t = launched(vec![
            event(
                "10:00:31.500",
                "apsd",
                EventKind::PushReceived {
                    filter: "enabled".into(),
                    topic: Some("net.whatsapp.WhatsApp.voip".into()),
                    interface: Some("en0".into()),
                    priority: Some(10),
                },
            ),
            crash("10:00:31.900", "Hatif", None),
        ]);
        let v = diagnose(&push("10:00:30.000"), &t, &options());
        assert_eq!(v.outcome, Outcome::OnTime, "{v:#?}");

        // A daemon that handed the push on is not the app, whatever it prints.
        let t = launched(vec![crash("10:00:31.900", "apsd", None)]);
        let v = diagnose(&push("10:00:30.000"), &t, &options());
        assert_eq!(v.outcome, Outcome::OnTime, "{v:#?}");
    }
}
