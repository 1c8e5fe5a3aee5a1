//! The analysis finds what the generator planted, and nothing on fleets without effects.
//!
//! Fleets come from `synthetic` (the benchmark's generator) at a size a test can afford: the
//! planted effects keep their shares, so the counts behind them scale down with the fleet.

use pushtrace_fleet::report::RegressionKind;
use pushtrace_fleet::synthetic::{FleetSpec, generate};
use pushtrace_fleet::{
    AnalysisOptions, BuildOptions, Cohort, OutcomeRules, Report, Table, analyze, build,
};

fn report_of(spec: &FleetSpec) -> Report {
    let mut table = Table::new(OutcomeRules::default());
    for record in generate(spec).expect("valid spec") {
        table.add(&record);
    }
    let aggregates = build::aggregate(&table, &BuildOptions::default());
    analyze(&aggregates, &AnalysisOptions::default())
}

fn day(spec: &FleetSpec, n: u32) -> String {
    let t = spec.day_start(n).unwrap().local();
    format!("{:04}-{:02}-{:02}", t.year, t.month, t.day)
}

#[test]
fn planted_effects_are_found_with_their_onset_and_smallest_cohort() {
    let spec = FleetSpec::planted().with_size(100_000, 1_000_000, 90);
    let report = report_of(&spec);
    let listed: Vec<String> = report
        .differences
        .iter()
        .map(|d| d.cohort.to_string())
        .collect();
    let regression = Cohort::of([
        ("os_version", "26.4.1"),
        ("carrier", "T-Mobile"),
        ("interface", "cellular"),
    ]);
    assert_eq!(
        report.differences.first().map(|d| &d.cohort),
        Some(&regression),
        "the planted combination is not the top difference: {listed:#?}"
    );
    for d in &report.differences[1..] {
        assert!(
            !d.cohort.contains(&regression) && !regression.contains(&d.cohort),
            "{} is a part or an extension of the planted {regression}: {listed:#?}",
            d.cohort
        );
    }
    assert!(
        report
            .regressions
            .iter()
            .any(|r| r.cohort == regression && r.kind != RegressionKind::AllAlong),
        "the planted regression is said to be high all along: {:#?}",
        report.regressions
    );
    let shift = report
        .latency_shifts
        .first()
        .expect("the planted latency shift is found");
    assert_eq!(
        shift.cohort,
        Cohort::of([("carrier", "Vivo")]),
        "{:#?}",
        report.latency_shifts
    );
    assert_eq!(shift.since, day(&spec, 45));
    // region=BR holds carrier=Vivo; its other pushes did not slow down.
    assert_eq!(
        report.latency_shifts.len(),
        1,
        "{:#?}",
        report.latency_shifts
    );
}

#[test]
fn fleets_without_effects_show_no_difference() {
    let mut found = Vec::new();
    for seed in 1..=20 {
        let spec = FleetSpec::null(seed).with_size(20_000, 200_000, 30);
        let report = report_of(&spec);
        for d in &report.differences {
            found.push(format!(
                "seed {seed}: {} (q {:.2e}, RR {:.2})",
                d.cohort, d.q, d.risk_ratio
            ));
        }
        for s in &report.latency_shifts {
            found.push(format!(
                "seed {seed}: latency shift {} since {}",
                s.cohort, s.since
            ));
        }
    }
    assert!(
        found.is_empty(),
        "differences found in fleets without effects: {found:#?}"
    );
}
