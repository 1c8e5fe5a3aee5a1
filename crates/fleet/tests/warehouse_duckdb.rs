//! The warehouse SQL of docs/fleet.md, run for real in DuckDB (the pinned PyPI wheel, installed
//! into a venv under target/ by tests/warehouse/setup.sh): a generated fleet written as JSONL,
//! counted by tests/warehouse/duckdb_aggregates.sql into an aggregates file, must read back as
//! the aggregates `build::aggregate` counts from the same records.

use std::path::{Path, PathBuf};
use std::process::Command;

use pushtrace_fleet::aggregates_file;
use pushtrace_fleet::synthetic::{self, FleetSpec};
use pushtrace_fleet::{AnalysisOptions, BuildOptions, OutcomeRules, Table, analyze, build};

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn duckdb_sql_writes_the_aggregates_pushtrace_counts() {
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/warehouse");
    let dir = target_dir().join("fleet-warehouse");
    run(
        Command::new("bash").arg(scripts.join("setup.sh")).arg(&dir),
        "installing the pinned duckdb wheel (tests/warehouse/setup.sh)",
    );
    let work = dir.join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("a work directory under target/");

    let spec = FleetSpec::planted().with_size(5_000, 50_000, 30);
    let fleet = work.join("fleet.jsonl");
    let written = synthetic::write_jsonl(
        &spec,
        std::fs::File::create(&fleet).expect("create the fleet file"),
    )
    .expect("write the fleet");
    assert_eq!(written, 50_000);

    run(
        Command::new(dir.join("venv/bin/python"))
            .arg(scripts.join("run_duckdb.py"))
            .arg(&fleet)
            .arg(&work),
        "DuckDB over the documented SQL (tests/warehouse/run_duckdb.py)",
    );
    let file = work.join("aggregates.jsonl");
    let input = std::io::BufReader::new(std::fs::File::open(&file).expect("aggregates.jsonl"));
    let warehouse =
        aggregates_file::read(&file.display().to_string(), input).expect("a valid aggregates file");

    let mut table = Table::new(OutcomeRules::default());
    for record in synthetic::generate(&spec).expect("valid spec") {
        table.add(&record);
    }
    let local = build::aggregate(&table, &BuildOptions::default());

    assert_eq!(
        (warehouse.first_day, warehouse.days, warehouse.min_failures),
        (local.first_day, local.days, local.min_failures)
    );
    assert_eq!(warehouse.slow_threshold_micros, local.slow_threshold_micros);
    assert_eq!(warehouse.rules, local.rules);
    for (w, l) in warehouse.cohorts.iter().zip(&local.cohorts) {
        assert_eq!(w.cohort, l.cohort, "cohort order (DuckDB vs in process)");
        let c = &l.cohort;
        assert_eq!(w.daily, l.daily, "{c}: daily counts");
        assert_eq!(
            w.slow_daily, l.slow_daily,
            "{c}: receipts and slow receipts"
        );
        assert_eq!(w.latency, l.latency, "{c}: latency");
        assert_eq!(
            (w.devices, w.failing_devices, w.busiest_device_failures),
            (l.devices, l.failing_devices, l.busiest_device_failures),
            "{c}: devices"
        );
    }
    assert_eq!(warehouse.cohorts.len(), local.cohorts.len(), "cohorts");
    assert!(local.cohorts.iter().any(|c| c.cohort.len() == 3));
    assert_eq!(warehouse, local);
    let options = AnalysisOptions::default();
    assert_eq!(analyze(&warehouse, &options), analyze(&local, &options));
    std::fs::remove_dir_all(&work).ok();
}
