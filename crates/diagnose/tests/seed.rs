//! Issue 6's acceptance on the bundled seed incident: the pushes file and the device log of
//! `examples/seed-incident/`, read the way a user's would be.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pushtrace_devicelog::rules::RuleSet;
use pushtrace_devicelog::timeline::{DeviceTimeline, build};
use pushtrace_devicelog::{LocalClock, LogReader, NoProgress, Zone};
use pushtrace_diagnose::text_report::Diagnosed;
use pushtrace_diagnose::{DiagnoseOptions, PushReader, diagnose};
use pushtrace_model::{Cause, Confidence, Outcome, Recovery};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/seed-incident")
        .join(name)
}

fn device() -> DeviceTimeline {
    let clock = LocalClock {
        date: Some((2026, 5, 20)),
        zone: Some(Zone::parse("+03:00").unwrap()),
    };
    let read = LogReader::builder()
        .clock(clock)
        .build()
        .read(&example("device-log.txt"), &mut NoProgress)
        .unwrap();
    build(
        read.records,
        read.summary.span,
        &RuleSet::embedded().unwrap(),
        &[],
        None,
    )
    .unwrap()
    .timeline
}

/// The seed pushes diagnosed against the seed log, handed to a report renderer.
fn with_seed_report<R>(render: impl FnOnce(&[Diagnosed<'_>]) -> R) -> R {
    let read = PushReader::builder()
        .build()
        .read(&example("pushes.jsonl"))
        .unwrap();
    let timeline = device();
    let verdicts: Vec<_> = read
        .pushes
        .iter()
        .map(|p| diagnose(&p.record, &timeline, &DiagnoseOptions::default()))
        .collect();
    let diagnosed: Vec<Diagnosed<'_>> = read
        .pushes
        .iter()
        .zip(&verdicts)
        .map(|(p, verdict)| Diagnosed {
            push: &p.record,
            verdict,
        })
        .collect();
    render(&diagnosed)
}

#[test]
fn the_seed_pushes_get_the_verdicts_of_the_incident() {
    let read = PushReader::builder()
        .build()
        .read(&example("pushes.jsonl"))
        .unwrap();
    assert_eq!(read.pushes.len(), 2);
    let timeline = device();
    let options = DiagnoseOptions::default();

    // 17:40:00: before the log begins.
    let early = diagnose(&read.pushes[0].record, &timeline, &options);
    assert_eq!(
        (early.outcome, early.cause),
        (Outcome::Unknown, Cause::Unknown)
    );
    assert!(
        early
            .explanation
            .contains("The log covers 17:45:59.562 +03:00–17:50:04.598 +03:00")
    );

    // 17:47:00 with APNs 200 and a receipt at 17:50:05: late by 3 min 5 s, the abandoned
    // reconnect, ended by an incoming cellular call.
    let late = diagnose(&read.pushes[1].record, &timeline, &options);
    assert_eq!(late.push, "seed-1747");
    assert_eq!(late.outcome, Outcome::Late);
    assert_eq!(late.latency, Some(Duration::from_secs(185)));
    assert_eq!(late.cause, Cause::ReconnectAbandonedPowerPolicy);
    assert_eq!(late.confidence, Confidence::High);
    assert_eq!(late.recovery, Some(Recovery::IncomingCellularCallWake));

    // The same push without its receipt: not called delivered, same cause, less sure.
    let mut unreceipted = read.pushes[1].record.clone();
    unreceipted.received_at = None;
    let v = diagnose(&unreceipted, &timeline, &options);
    assert_eq!(v.outcome, Outcome::NotDelivered);
    assert_eq!(v.cause, Cause::ReconnectAbandonedPowerPolicy);
    assert!(v.confidence < late.confidence);
}

#[test]
fn the_terminal_report_puts_the_push_among_its_evidence() {
    let text = with_seed_report(pushtrace_diagnose::text_report::render);
    assert!(text.starts_with("2 push(es): 0 on time, 1 late"), "{text}");
    let sent = text
        .find("▶ push seed-1747 sent 17:47:00.000 (APNs 200 in 138 ms)")
        .expect(&text);
    let satisfied = text.find("17:46:01.330  apsd").unwrap();
    let policy = text.find("17:48:41.248  powerd").unwrap();
    let wake = text.find("17:50:04.028  powerd").unwrap();
    let received = text.find("◀ received 17:50:05.000").unwrap();
    assert!(
        satisfied < sent && sent < policy && policy < wake && wake < received,
        "{text}"
    );
    assert!(text.contains("device-log.txt:"), "sources cited: {text}");
}

#[test]
fn the_markdown_report_has_the_table_and_the_evidence() {
    let md = with_seed_report(|diagnosed| {
        pushtrace_diagnose::markdown_report::render("device-log.txt", diagnosed)
    });
    assert!(md.starts_with("# Push diagnosis: device-log.txt"), "{md}");
    assert!(
        md.contains("| seed-1747 | 8f1e6a52-3c4d-4e5f-9a0b-1c2d3e4f5a6b | 2026-05-20T17:47:00.000000+03:00 | 200 in 138 ms |"),
        "{md}"
    );
    assert!(
        md.contains("## seed-1747: late, `reconnect_abandoned_power_policy` (high confidence)"),
        "{md}"
    );
    let sent = md
        .find("| **17:47:00.000** | — | **push sent** |")
        .expect(&md);
    let policy = md
        .find("| 17:48:41.248 | powerd | supports | power policy 3 |")
        .expect(&md);
    let received = md
        .find("| **17:50:05.000** | — | **received** |")
        .expect(&md);
    assert!(sent < policy && policy < received, "{md}");
    // Every table row has the same number of cells as its header.
    for line in md.lines().filter(|l| l.starts_with("| ")) {
        let cells = line.replace("\\|", "").matches('|').count();
        assert!(cells == 10 || cells == 7, "{cells} in {line}");
    }
}
