//! `pushtrace lab run | score | compare`, run as a user runs them, on small fleets.

use std::path::Path;
use std::process::{Command, Output};

fn pushtrace(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pushtrace {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    })
}

#[test]
fn run_writes_the_files_and_score_reports_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_arg = out.to_str().unwrap();
    // A bundled scenario by name, from a directory that holds no scenarios.
    let ran = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .current_dir(dir.path())
        .args([
            "lab",
            "run",
            "mixed-fleet",
            "--devices",
            "12",
            "--days",
            "3",
        ])
        .args([
            "--out", out_arg, "--format", "ndjson", "--noise", "0.3", "--json",
        ])
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let summary = json(&ran);
    assert_eq!(summary["devices"], 12);
    let pushes = summary["pushes"].as_u64().unwrap();
    assert!(pushes > 50, "{summary}");
    assert_eq!(
        summary["calls"]["calls"], pushes,
        "no resends in the scenario"
    );
    for file in ["pushes.jsonl", "truth.jsonl", "calls.jsonl", "run.json"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let logs = std::fs::read_dir(out.join("logs")).unwrap().count();
    assert_eq!(logs, 12);
    assert!(out.join("logs/lab-000000.ndjson").is_file());
    let truth = std::fs::read_to_string(out.join("truth.jsonl")).unwrap();
    assert_eq!(truth.lines().count() as u64, pushes);
    let first: serde_json::Value = serde_json::from_str(truth.lines().next().unwrap()).unwrap();
    assert_eq!(first["call_id"], "call-lab-000000-1");

    let text = pushtrace(&["lab", "score", out_arg]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("agreement "), "{text}");
    assert!(text.contains("precision"), "{text}");
    assert!(text.contains("says nothing of real phones"), "{text}");

    let score = json(&pushtrace(&["lab", "score", out_arg, "--json"]));
    assert_eq!(score["total"], pushes);
    assert!(score["accuracy"].as_f64().unwrap() >= 0.9, "{score}");
    assert!(score["diagnosed"].as_array().unwrap().len() >= 2, "{score}");
    assert!(score["matrix"]["none"]["none"].as_u64().unwrap() > 0);
}

#[test]
fn score_of_a_folder_that_is_not_a_run_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .args(["lab", "score", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run.json"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .args([
            "lab",
            "run",
            "mixed-fleat",
            "--out",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bundled: founding-incident, mixed-fleet"),
        "{err}"
    );
}

/// The mixed fleet with every phone on iOS 18 (no `mustReport`: a late push rings) and a
/// rougher cellular network, so a short run shows the strategies apart.
fn rough_fleet(dir: &Path) -> String {
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/mixed-fleet.toml");
    let text = std::fs::read_to_string(bundled).unwrap();
    let text = text
        .replace("value = \"26.4\"", "value = \"18.4\"")
        .replace("value = \"26.2\"", "value = \"18.3\"")
        .replace("outages_per_day = 6", "outages_per_day = 24");
    let path = dir.join("rough.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn compare_sets_the_strategies_apart_in_the_expected_directions() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = rough_fleet(dir.path());
    let out = pushtrace(&[
        "lab",
        "compare",
        &scenario,
        "--devices",
        "150",
        "--days",
        "7",
        "--strategy",
        "exp-0=expiration=0",
        "--strategy",
        "exp-30d=expiration=30d",
        "--strategy",
        "exp-0+retry=expiration=0,retry=10s",
        "--strategy",
        "exp-0+fallback=expiration=0,fallback=on",
        "--json",
    ]);
    let result = json(&out);
    let s = result["strategies"].as_array().unwrap();
    assert_eq!(s.len(), 4);
    let get = |i: usize, key: &str| s[i][key]["count"].as_u64().unwrap();
    let calls = s[0]["calls"].as_u64().unwrap();
    assert!(calls > 2000, "{calls}");
    assert!(s.iter().all(|x| x["calls"] == calls), "the same calls");
    assert!(
        get(0, "stale_rings") < get(1, "stale_rings"),
        "expiration 0 rings stale less than 30 days: {result}"
    );
    assert!(get(2, "rang_in_time") > get(0, "rang_in_time"), "{result}");
    assert!(s[2]["pushes_per_call"]["mean"].as_f64().unwrap() > 1.0);
    assert!(get(3, "fallback_saves") > 0, "{result}");
    assert_eq!(get(0, "fallback_saves"), 0);
    let interval = &s[0]["rang_in_time"]["interval"];
    let share = s[0]["rang_in_time"]["share"].as_f64().unwrap();
    assert!(
        interval["low"].as_f64().unwrap() < share && share < interval["high"].as_f64().unwrap()
    );

    // The table, with the default strategy set.
    let table = pushtrace(&[
        "lab",
        "compare",
        "mixed-fleet",
        "--devices",
        "20",
        "--days",
        "2",
    ]);
    let table = String::from_utf8_lossy(&table.stdout);
    for name in [
        "exp-0 ",
        "exp-30d ",
        "exp-0+fallback ",
        "exp-deadline+prio-5 ",
    ] {
        assert!(table.contains(name), "{name}: {table}");
    }
    assert!(table.contains("Wilson"), "{table}");
}

#[test]
fn a_bad_strategy_is_refused_with_what_to_write() {
    let out = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .args([
            "lab",
            "compare",
            "mixed-fleet",
            "--strategy",
            "a=priority=7",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("APNs accepts 10, 5 or 1"), "{err}");
}

#[test]
fn a_strategies_file_runs_its_strategies_and_a_bad_one_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("strategies.toml");
    std::fs::write(
        &file,
        "[[strategy]]\nname = \"once\"\nexpiration = \"0\"\nretry = \"off\"\n\n\
         [[strategy]]\nname = \"schedule\"\nexpiration = \"0\"\nretry = [\"5s\", \"20s\"]\n\
         fallback = true\n",
    )
    .unwrap();
    let file_arg = file.to_str().unwrap();
    let result = json(&pushtrace(&[
        "lab",
        "compare",
        "mixed-fleet",
        "--devices",
        "20",
        "--days",
        "2",
        "--strategies",
        file_arg,
        "--strategy",
        "flag=priority=5",
        "--json",
    ]));
    let s = result["strategies"].as_array().unwrap();
    let names: Vec<_> = s.iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["once", "schedule", "flag"],
        "file first, then flags"
    );
    assert_eq!(s[1]["retry_after"], "5s/20s");
    assert_eq!(s[1]["fallback"], true);
    assert_eq!(s[2]["priority"], 5);
    assert!(s[1]["pushes_per_call"]["mean"].as_f64().unwrap() >= 1.0);

    // The bundled example runs as the default set plus its own.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/strategies.toml");
    let table = pushtrace(&[
        "lab",
        "compare",
        "mixed-fleet",
        "--devices",
        "5",
        "--days",
        "1",
        "--strategies",
        example.to_str().unwrap(),
    ]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("exp-0+retry-5s-then-10s+fallback "),
        "{table}"
    );

    std::fs::write(
        &file,
        "[[strategy]]\nname = \"a\"\nexpiration = \"deadline\"\npriority = 7\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .args(["lab", "compare", "mixed-fleet", "--strategies", file_arg])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{file_arg}:4: strategy `a`: field `priority`")),
        "{err}"
    );
    assert!(err.contains("APNs accepts 10, 5 or 1"), "{err}");
    assert!(err.contains("docs/strategies.md"), "{err}");
}

#[test]
fn fallback_alerts_are_push_records_fleet_reads_and_score_sets_apart() {
    let dir = tempfile::tempdir().unwrap();
    let rough = rough_fleet(dir.path());
    let text = std::fs::read_to_string(&rough)
        .unwrap()
        .replace("per_day = 4\n", "per_day = 4\nfallback = true\n");
    std::fs::write(&rough, text).unwrap();
    let out = dir.path().join("run");
    let out_arg = out.to_str().unwrap();
    let summary = json(&pushtrace(&[
        "lab",
        "run",
        &rough,
        "--devices",
        "40",
        "--days",
        "3",
        "--out",
        out_arg,
        "--json",
    ]));
    let pushes = summary["pushes"].as_u64().unwrap();
    let calls = std::fs::read_to_string(out.join("calls.jsonl")).unwrap();
    let sent = calls
        .lines()
        .filter(|l| l.contains("\"fallback_sent\":true"))
        .count();
    assert!(sent > 0, "the rough fleet misses calls");

    let records: Vec<serde_json::Value> = std::fs::read_to_string(out.join("pushes.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let alerts: Vec<_> = records
        .iter()
        .filter(|r| r["push_type"] == "alert")
        .collect();
    assert_eq!(alerts.len(), sent);
    assert_eq!(records.len() as u64, pushes + sent as u64);
    for a in &alerts {
        assert_eq!(a["topic"], "com.acme.call", "the bundle id, not .voip: {a}");
        assert_eq!(a["attrs"]["purpose"], "missed_call");
        assert_eq!(
            a["sent_at"], a["deadline"],
            "sent at the call's deadline: {a}"
        );
        assert!(
            a.get("received_at").is_none(),
            "an alert posts no receipt: {a}"
        );
        let call = a["call_id"].as_str().unwrap();
        assert!(
            calls.contains(&format!("\"call_id\":\"{call}\"")),
            "{call} is a call of the run"
        );
    }
    assert!(records.iter().any(|r| r["attrs"]["purpose"] == "ring"));

    // fleet reads every record; an alert has no receipt, so it counts under no_receipt, and
    // `purpose` is an attribute its cohorts can split on.
    let fleet = json(&pushtrace(&[
        "fleet",
        out.join("pushes.jsonl").to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(fleet["overall"]["pushes"], records.len());
    assert!(fleet["overall"]["counts"]["no_receipt"].as_u64().unwrap() >= sent as u64 / 2);
    assert!(
        fleet["attributes"].to_string().contains("purpose"),
        "{}",
        fleet["attributes"]
    );

    let score = json(&pushtrace(&["lab", "score", out_arg, "--json"]));
    assert_eq!(score["alerts"], sent);
    assert_eq!(score["total"], pushes, "call pushes only are scored");
    let text = pushtrace(&["lab", "score", out_arg]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!("{sent} missed-call alerts not scored")),
        "{text}"
    );
}
