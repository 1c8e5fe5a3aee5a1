use std::time::Duration;

use pushtrace_devicelog::timeline::TimelineBuilder;
use pushtrace_model::{Cause, Confidence, UtcOffset};

use super::*;

fn at(s: i64) -> Timestamp {
    Timestamp::new(s * 1_000_000, UtcOffset::from_seconds(3 * 3600).unwrap())
}

fn push(id: &str, sent: i64, apns_id: Option<&str>) -> PushRecord {
    let mut p = PushRecord::new(at(sent));
    p.push_id = Some(id.into());
    p.apns_id = apns_id.map(Into::into);
    p.deadline = Some(at(sent + 60));
    p
}

fn verdict(id: &str, outcome: Outcome, latency_s: Option<u64>) -> Verdict {
    Verdict {
        push: id.into(),
        outcome,
        latency: latency_s.map(Duration::from_secs),
        cause: Cause::Unknown,
        confidence: Confidence::Low,
        evidence: Vec::new(),
        recovery: None,
        arrived_at: None,
        recovered_at: None,
        explanation: "why".into(),
    }
}

fn timeline(from: i64, to: i64) -> DeviceTimeline {
    let mut b = TimelineBuilder::new();
    b.observe(at(from));
    b.observe(at(to));
    b.finish()
}

fn with_input<R>(
    pushes: &[PushRecord],
    verdicts: &[Verdict],
    timeline: &DeviceTimeline,
    zone: ZoneSource,
    f: impl FnOnce(&BundleInput<'_>) -> R,
) -> R {
    let diagnosed: Vec<Diagnosed<'_>> = pushes
        .iter()
        .zip(verdicts)
        .map(|(push, verdict)| Diagnosed { push, verdict })
        .collect();
    let options = DiagnoseOptions::default();
    let input = BundleInput {
        diagnosed: &diagnosed,
        excerpts: &[],
        timeline,
        options: &options,
        log_name: "sysdiagnose_2026.05.20_17-52-10+0300_iPhone-OS_iPhone_23A341.tar.gz".into(),
        zone,
        html: String::new(),
        json: String::new(),
    };
    f(&input)
}

#[test]
fn every_check_is_ticked_when_the_failures_are_covered_and_named() {
    let pushes = [push("a", 1000, Some("id-a")), push("b", 2000, None)];
    let verdicts = [
        verdict("a", Outcome::Late, Some(100)),
        verdict("b", Outcome::OnTime, Some(1)),
    ];
    let checks = with_input(
        &pushes,
        &verdicts,
        &timeline(900, 1200),
        ZoneSource::Flag("+03:00".into()),
        checklist,
    );
    let states: Vec<(&str, Option<bool>)> = checks.iter().map(|c| (c.item, c.ok)).collect();
    assert_eq!(
        states,
        [
            ("Logs taken without a reboot since the failure", None),
            ("Time zones stated", Some(true)),
            ("apns-id included for every failure", Some(true)),
            ("The logs cover each failure window", Some(true)),
        ]
    );
    assert!(
        checks[0].why.contains("no boot or shutdown line"),
        "{}",
        checks[0].why
    );
    assert!(checks[1].why.contains("--tz +03:00"), "{}", checks[1].why);
}

#[test]
fn a_failure_without_apns_id_or_outside_the_log_is_not_ticked_and_named() {
    let pushes = [push("early", 100, Some("id-e")), push("bare", 1000, None)];
    let verdicts = [
        verdict("early", Outcome::Unknown, None),
        verdict("bare", Outcome::Late, Some(30)),
    ];
    let checks = with_input(
        &pushes,
        &verdicts,
        &timeline(900, 1200),
        ZoneSource::LogOffsets,
        checklist,
    );
    assert_eq!(checks[1].ok, Some(true));
    assert!(
        checks[1].why.contains("own UTC offset"),
        "{}",
        checks[1].why
    );
    assert_eq!(checks[2].ok, Some(false));
    assert!(
        checks[2].why.contains("no apns-id for bare"),
        "{}",
        checks[2].why
    );
    assert_eq!(checks[3].ok, Some(false));
    assert!(
        checks[3].why.contains("not the whole window of early"),
        "{}",
        checks[3].why
    );
    assert!(!checks[3].why.contains("bare"), "{}", checks[3].why);
}

#[test]
fn facts_come_from_the_logs_or_say_they_are_not_there() {
    let mut p = push("a", 1000, Some("id-a"));
    p.attrs.insert("model".into(), "iPhone 17 Pro".into());
    let facts = with_input(
        &[p],
        &[verdict("a", Outcome::Late, Some(100))],
        &timeline(900, 1200),
        ZoneSource::LogOffsets,
        device_facts,
    );
    let get = |what: &str| facts.iter().find(|(w, _)| *w == what).unwrap().1.clone();
    assert_eq!(
        get("OS build"),
        "iOS build 23A341 on iPhone (from the sysdiagnose's name)"
    );
    assert_eq!(
        get("Device model"),
        "not found in the logs (the push records say iPhone 17 Pro)"
    );
    assert_eq!(get("Network (apsd)"), "not found in the logs");
}

#[test]
fn excerpt_names_are_safe_file_names() {
    assert_eq!(file_stem("seed-1747", 0), "seed-1747");
    assert_eq!(file_stem("../../etc/passwd", 0), "_.._etc_passwd");
    assert_eq!(file_stem("...", 2), "push-3");
    assert_eq!(
        file_stem("sent 2026-05-20T17:47:00+03:00", 0),
        "sent_2026-05-20T17_47_00_03_00"
    );
}

#[test]
fn a_non_empty_folder_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    assert!(check_target(&dir.path().join("new"), false).is_ok());
    assert!(check_target(dir.path(), false).is_ok());
    fs::write(dir.path().join("x"), "x").unwrap();
    let err = check_target(dir.path(), false).unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    assert!(check_target(dir.path(), true).is_ok());
}
