//! A sample of the mixed fleet, diagnosed from the logs the lab wrote: where `diagnose` and the
//! model disagree, one of them is wrong, or the log cannot tell.

use std::collections::BTreeMap;
use std::path::Path;

use pushtrace_devicelog::rules::RuleSet;
use pushtrace_devicelog::timeline::build;
use pushtrace_devicelog::{LogReader, NoProgress};
use pushtrace_diagnose::{DiagnoseOptions, diagnose};
use pushtrace_lab::log::write_syslog;
use pushtrace_lab::scenario::Span;
use pushtrace_lab::{Scenario, simulate_device};

#[test]
fn diagnose_agrees_with_the_model_on_a_fleet_sample() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/mixed-fleet.toml");
    let mut sc = Scenario::load(&path).unwrap();
    sc.fleet.duration = Span::parse("7d").unwrap();
    let rules = RuleSet::embedded().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut confusion: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    let (mut agree, mut total) = (0, 0);
    for index in 0..60 {
        let run = simulate_device(&sc, index, true);
        // Keeping the log must not change what happens.
        assert_eq!(run.pushes, simulate_device(&sc, index, false).pushes);
        let log = dir.path().join(format!("{}.log", run.device));
        let mut out = std::fs::File::create(&log).unwrap();
        write_syslog(&mut out, &run.log, sc.fleet.start.offset(), "Comera").unwrap();
        let read = LogReader::builder()
            .build()
            .read(&log, &mut NoProgress)
            .unwrap();
        let timeline = build(read.records, &rules, &["Comera".to_string()], None)
            .unwrap()
            .timeline;
        for push in &run.pushes {
            let record = run.record(&sc, push);
            let verdict = diagnose(&record, &timeline, &DiagnoseOptions::default());
            total += 1;
            agree += u32::from(verdict.cause == push.cause);
            if verdict.cause != push.cause && std::env::var_os("LAB_SHOW").is_some() {
                eprintln!(
                    "{} {:?} {:?}: {}\n{:?}",
                    run.device,
                    push.cause,
                    record,
                    verdict.explanation,
                    verdict
                        .evidence
                        .iter()
                        .map(|e| format!("{:?} {}", e.role, e.event.raw))
                        .collect::<Vec<_>>()
                );
            }
            *confusion
                .entry((push.cause.as_str(), verdict.cause.as_str()))
                .or_default() += 1;
        }
    }
    for ((truth, found), n) in &confusion {
        eprintln!("{truth:>34} -> {found:<34} {n}");
    }
    eprintln!("agreement {agree}/{total}");
    assert!(total > 1000, "{total}");
    // The residue is where the log alone cannot tell (an arrival not tied to its push, an
    // expiry the log does not show): `LAB_SHOW=1` prints each disagreement with its reasons.
    assert!(agree * 100 >= total * 95, "agreement {agree}/{total}");
}
