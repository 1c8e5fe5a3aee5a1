//! The founding incident, rebuilt: the seed digest's events, states and summary.

use std::path::Path;

use pushtrace_model::{EventKind, PolicyStage};

use super::summary::sentences;
use super::*;
use crate::{LocalClock, LogReader, NoProgress, Zone};

fn seed() -> Built {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/seed-incident-digest.txt");
    let clock = LocalClock {
        date: Some((2026, 5, 20)),
        zone: Some(Zone::parse("+03:00").unwrap()),
    };
    let read = LogReader::builder()
        .clock(clock)
        .build()
        .read(&path, &mut NoProgress)
        .unwrap();
    build(
        read.records,
        read.summary.span,
        &RuleSet::embedded().unwrap(),
        &[],
        None,
    )
    .unwrap()
}

#[test]
fn seed_digest_yields_exactly_the_incident_events() {
    let built = seed();
    assert!(built.rule_errors.is_empty(), "{:?}", built.rule_errors);
    let events: Vec<(String, EventKind)> = built
        .timeline
        .events
        .iter()
        .map(|e| (e.at.time_of_day_millis(), e.kind.clone()))
        .collect();
    let s = |v: &str| Some(v.to_string());
    let expected = vec![
        (
            "17:45:59.562",
            EventKind::RrcState {
                interface: s("pdp_ip0"),
                state: 0,
                previous: Some(1),
            },
        ),
        (
            "17:46:01.206",
            EventKind::CellRegistration {
                state: s("kRegisteredHome"),
            },
        ),
        (
            "17:46:01.330",
            EventKind::ApnsPathSatisfied {
                interface: s("pdp_ip0"),
                radio: s("lte"),
                port: Some(5223),
                connection: s("C138"),
            },
        ),
        ("17:48:08.057", EventKind::AssertionActivityUpdate),
        (
            "17:48:41.248",
            EventKind::PowerPolicy {
                level: 3,
                stage: PolicyStage::Sent,
            },
        ),
        (
            "17:48:41.250",
            EventKind::PowerPolicy {
                level: 3,
                stage: PolicyStage::Applied,
            },
        ),
        ("17:48:41.250", EventKind::UserActivity { from: 1, to: 0 }),
        (
            "17:48:41.250",
            EventKind::DisplayState {
                display_off: true,
                hid_active: Some(false),
            },
        ),
        (
            "17:48:42.669",
            EventKind::NecpDefunct {
                pid: 1518,
                process: s("Comera"),
                error: Some(2),
            },
        ),
        (
            "17:50:04.028",
            EventKind::CallWake {
                source: "incoming cellular call".into(),
                owner: s("CommCenter"),
                owner_pid: Some(104),
                assertion: "com.apple.ipTelephony.sipIncoming.cell".into(),
            },
        ),
        (
            "17:50:04.494",
            EventKind::PowerPolicy {
                level: 0,
                stage: PolicyStage::Sent,
            },
        ),
        (
            "17:50:04.598",
            EventKind::PowerPolicy {
                level: 0,
                stage: PolicyStage::Applied,
            },
        ),
    ];
    let expected: Vec<(String, EventKind)> = expected
        .into_iter()
        .map(|(t, k)| (t.to_string(), k))
        .collect();
    assert_eq!(events, expected);
    let apsd = &built.timeline.events[5];
    assert_eq!(
        (apsd.process.as_str(), apsd.rule.as_str()),
        ("apsd", "apsd.policy_applied")
    );
}

#[test]
fn seed_states_start_unknown_and_hold_between_evidence() {
    let timeline = seed().timeline;
    let at = |t: &str| pushtrace_model::Timestamp::parse(&format!("2026-05-20 {t}+0300")).unwrap();
    let policy = &timeline.states[&Dimension::PowerPolicy];
    let shown: Vec<_> = policy
        .iter()
        .map(|i| (i.state.to_string(), i.from, i.to))
        .collect();
    assert_eq!(
        shown,
        [
            (
                "unknown".to_string(),
                Some(at("17:45:59.562")),
                Some(at("17:48:41.248"))
            ),
            (
                "3 (display off)".to_string(),
                Some(at("17:48:41.248")),
                Some(at("17:50:04.494"))
            ),
            ("0 (none)".to_string(), Some(at("17:50:04.494")), None),
        ]
    );
    let apns = &timeline.states[&Dimension::Apns];
    assert_eq!(apns.len(), 2);
    assert_eq!(
        (apns[0].state.to_string().as_str(), apns[0].to),
        ("unknown", Some(at("17:46:01.330")))
    );
    assert_eq!(
        (apns[1].state.to_string().as_str(), apns[1].to),
        ("reconnecting on pdp_ip0", None)
    );
    assert_eq!(
        timeline
            .state_at(Dimension::Display, at("17:47:00.000"))
            .state,
        State::Unknown
    );
    assert_eq!(
        timeline
            .state_at(Dimension::Display, at("17:49:00.000"))
            .state,
        State::Display(Screen::Off)
    );
    assert_eq!(timeline.states[&Dimension::Lock][0].state, State::Unknown);
    let before_the_log = at("17:40:00.000");
    assert_eq!(
        timeline.state_at(Dimension::Apns, before_the_log).state,
        State::Unknown
    );
    assert_eq!(timeline.states[&Dimension::Lock][0].to, None);
}

#[test]
fn seed_summary_says_what_the_expert_would() {
    let lines = sentences(&seed().timeline);
    let text = lines.join("\n");
    assert!(
        text.contains(
            "APNs: reconnecting from 17:46:01.330 (path satisfied on pdp_ip0, lte, port 5223); \
             no viable connection seen before the end of the log (17:50:04.598)."
        ),
        "{text}"
    );
    assert!(text.contains("Power policy: 3 (display off) from 17:48:41.248 to 17:50:04.494; 0 (none) from 17:50:04.494 to the end of the log."), "{text}");
    assert!(
        text.contains("Wake: woken by an incoming cellular call at 17:50:04.028 (CommCenter.104: com.apple.ipTelephony.sipIncoming.cell)."),
        "{text}"
    );
    assert!(text.contains("Unknown before the first evidence: APNs until 17:46:01.330, power policy until 17:48:41.248"), "{text}");
    assert!(
        text.contains(
            "No evidence at all (unknown throughout): lock, internet sharing, app block, network."
        ),
        "{text}"
    );
}

#[test]
fn rendered_timeline_has_notes_and_gaps() {
    let built = seed();
    let text = render::text(&built.timeline, "seed");
    assert!(text.contains("17:45:59.562  symptomsd   New RRC 0 when previous 1 from pdp_ip0\n              ↑ radio RRC idle on pdp_ip0 (was connected)\n"), "{text}");
    assert!(text.contains("              ── 2 min 6 s ──\n"), "{text}");
    assert!(text.contains("  power policy      unknown until 17:48:41.248 · 3 (display off) 17:48:41.248–17:50:04.494 · 0 (none) from 17:50:04.494"), "{text}");
}

#[test]
fn an_app_crashing_after_its_launch_is_read_from_its_own_process_and_from_springboard() {
    // A compact export: the app's own process is not one the read watches, so only its Swift
    // fatal error is kept (by its text); SpringBoard's lines tie pid 2455 to the app and say it
    // is gone.
    let text = "\
Timestamp               Ty Process[PID:TID]
2026-03-11 21:42:00.806 Df SpringBoard[61:5a8b5bf] [com.apple.SpringBoard:ProcessState] Application process state changed for ae.example.hatif: <SBApplicationProcessState: 0x281a5ea00; pid: 2455; taskState: Running; visibility: Background>
2026-03-11 21:42:01.100 Df Hatif[2455:5a8b5f0] PushHandler: handling the push
2026-03-11 21:42:01.104 F  Hatif[2455:5a8b5f8] Hatif/PushHandler.swift:88: Fatal error: Unexpectedly found nil while unwrapping an Optional value
2026-03-11 21:42:01.390 Df SpringBoard[61:5a8b60b] [com.apple.SpringBoard:ProcessState] Application process state changed for ae.example.hatif: <SBApplicationProcessState: 0x281a5ea00; pid: 2455; taskState: Not Running; visibility: Unknown>
";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.log");
    std::fs::write(&path, text).unwrap();
    let rules = RuleSet::embedded().unwrap();
    let read = LogReader::builder()
        .clock(LocalClock {
            date: None,
            zone: Some(Zone::parse("+04:00").unwrap()),
        })
        .filter(rules.read_filter(std::iter::empty::<&str>()))
        .build()
        .read(&path, &mut NoProgress)
        .unwrap();
    let built = build(read.records, read.summary.span, &rules, &[], None).unwrap();
    let events: Vec<(&str, Option<u32>, &EventKind)> = built
        .timeline
        .events
        .iter()
        .map(|e| (e.process.as_str(), e.pid, &e.kind))
        .collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        events,
        [
            (
                "SpringBoard",
                Some(61),
                &EventKind::AppProcessState {
                    bundle: s("ae.example.hatif"),
                    task_state: s("Running"),
                    visibility: s("Background"),
                }
            ),
            (
                "Hatif",
                Some(2455),
                &EventKind::AppCrashed {
                    reason: s("Unexpectedly found nil while unwrapping an Optional value"),
                }
            ),
            (
                "SpringBoard",
                Some(61),
                &EventKind::AppProcessState {
                    bundle: s("ae.example.hatif"),
                    task_state: s("Not Running"),
                    visibility: s("Unknown"),
                }
            ),
        ]
    );
}
