//! `pushtrace diagnose` as a user runs it, on the bundled seed incident.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;

use support::text;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/seed-incident")
        .join(name)
}

fn run(extra: &[&str]) -> Output {
    let log = example("device-log.txt");
    let mut args = vec![
        "diagnose",
        log.to_str().unwrap(),
        "--date",
        "2026-05-20",
        "--tz",
        "+03:00",
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .args(&args)
        .output()
        .expect("pushtrace runs")
}

#[test]
fn the_seed_pushes_are_explained() {
    let pushes = example("pushes.jsonl");
    let out = run(&["--pushes", pushes.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.starts_with(
            "Times are on the device log's clock (UTC+03:00), 2026-05-20.\n2 push(es): 0 on time, 1 late"
        ),
        "{report}"
    );
    assert!(
        report.contains("seed-1747  17:47:00.000  200 in 138 ms  17:50:05.000  3 min 5 s  late     reconnect_abandoned_power_policy  high"),
        "{report}"
    );
    assert!(
        report.contains("▶ push seed-1747 sent 17:47:00.000"),
        "{report}"
    );
    assert!(
        report.contains("The log covers 17:45:59.562 +03:00–17:50:04.598 +03:00"),
        "{report}"
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("2 pushes read"), "{stderr}");
}

#[test]
fn json_has_every_push_with_its_verdict() {
    let pushes = example("pushes.jsonl");
    let out = run(&["--pushes", pushes.to_str().unwrap(), "--json", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pushes = value["pushes"].as_array().unwrap();
    assert_eq!(pushes.len(), 2);
    let late = &pushes[1];
    assert_eq!(late["push"]["push_id"], "seed-1747");
    assert!(late["origin"].as_str().unwrap().ends_with("pushes.jsonl:2"));
    assert_eq!(late["verdict"]["outcome"], "late");
    assert_eq!(late["verdict"]["latency_ms"], 185_000.0);
    assert_eq!(late["verdict"]["recovery"], "incoming_cellular_call_wake");
    assert!(late["verdict"]["evidence"].as_array().unwrap().len() >= 5);
}

#[test]
fn a_push_given_on_the_command_line_without_a_receipt_is_not_called_delivered() {
    let out = run(&["--push", "17:47:00", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains("not_delivered  reconnect_abandoned_power_policy  medium"),
        "{report}"
    );
}

#[test]
fn bad_input_is_named() {
    let out = run(&[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "usage: --pushes or --push is required"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("pushes.jsonl");
    std::fs::write(&bad, "{\"sent_at\":\"yesterday\"}\n").unwrap();
    let out = run(&["--pushes", bad.to_str().unwrap(), "--strict"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("pushes.jsonl:1") && stderr.contains("sent_at"),
        "{stderr}"
    );
}

#[test]
fn markdown_is_a_report_to_paste() {
    let pushes = example("pushes.jsonl");
    let out = run(&["--pushes", pushes.to_str().unwrap(), "--markdown", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = text(&out.stdout);
    assert!(md.starts_with("# Push diagnosis: device-log.txt"), "{md}");
    assert!(
        md.contains("| **17:47:00.000** | — | **push sent** |"),
        "{md}"
    );
    let both = run(&["--pushes", pushes.to_str().unwrap(), "--markdown", "--json"]);
    assert_eq!(both.status.code(), Some(2));
}

/// What `pushtrace store export` writes for a call: the VoIP push with its receipt and when the
/// gateway queued it, and the missed-call alert that followed.
const GATEWAY_EXPORT: &str = r#"{"push_id":"p-ring","call_id":"call-1","device":"a1b2","topic":"com.acme.call.voip","push_type":"voip","priority":10,"expiration":0,"queued_at":"2026-05-20T14:46:59.950000+00:00","sent_at":"2026-05-20T14:47:00.000000+00:00","apns_status":200,"apns_id":"8f1e6a52-3c4d-4e5f-9a0b-1c2d3e4f5a6b","responded_at":"2026-05-20T14:47:00.138000+00:00","received_at":"2026-05-20T14:50:05.000000+00:00","deadline":"2026-05-20T14:48:00.000000+00:00"}
{"push_id":"p-alert","call_id":"call-1","device":"c3d4","topic":"com.acme.call","push_type":"alert","priority":10,"queued_at":"2026-05-20T14:48:00.010000+00:00","sent_at":"2026-05-20T14:48:00.020000+00:00","apns_status":200,"responded_at":"2026-05-20T14:48:00.090000+00:00"}
"#;

#[test]
fn a_gateway_export_is_judged_on_its_receipts_and_alerts_are_not_rings() {
    let dir = tempfile::tempdir().unwrap();
    let pushes = dir.path().join("export.jsonl");
    std::fs::write(&pushes, GATEWAY_EXPORT).unwrap();
    let out = run(&["--pushes", pushes.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rings = value["pushes"].as_array().unwrap();
    assert_eq!(rings.len(), 1, "{value:#}");
    let verdict = &rings[0]["verdict"];
    assert_eq!(verdict["outcome"], "late");
    assert_eq!(verdict["latency_ms"], 185_000.0);
    assert_eq!(verdict["cause"], "reconnect_abandoned_power_policy");
    assert_eq!(verdict["arrived_at"], "2026-05-20T14:50:05.000000+00:00");
    let not_judged = value["not_judged"].as_array().unwrap();
    assert_eq!(not_judged.len(), 1);
    assert_eq!(not_judged[0]["push"]["push_id"], "p-alert");
    // The report shows the receipt's time on the log's clock, not the export's UTC.
    let out = run(&["--pushes", pushes.to_str().unwrap()]);
    let report = text(&out.stdout);
    assert!(report.contains("17:50:05.000"), "{report}");
    assert!(
        report.contains("1 push(es) of another type than voip"),
        "{report}"
    );
}

/// The seed pushes with a bad line between them: a misspelt field whose name carries a
/// terminal escape (the file is whatever a server wrote).
fn pushes_with_a_bad_line(dir: &Path) -> PathBuf {
    let seed = std::fs::read_to_string(example("pushes.jsonl")).unwrap();
    let mut lines: Vec<&str> = seed.lines().collect();
    lines.insert(
        1,
        r#"{"push_id":"bad","sent_at":"2026-05-20T17:45:00+03:00","sent_att\u001b]0;pwned\u0007":1}"#,
    );
    let path = dir.join("pushes.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[test]
fn a_skipped_push_line_is_reported_even_when_quiet_and_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let pushes = pushes_with_a_bad_line(dir.path());
    let out = run(&["--pushes", pushes.to_str().unwrap(), "-q"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("1 bad line(s) skipped") && stderr.contains("pushes.jsonl:2: "),
        "{stderr}"
    );
    assert!(stderr.contains("sent_att\\u{1b}]0;pwned\\u{7}"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "escaped for the terminal: {stderr}"
    );
    assert!(stderr.contains("--lenient"), "{stderr}");
    // The report is still written: the good pushes are diagnosed.
    assert!(text(&out.stdout).contains("seed-1747"));

    let lenient = run(&["--pushes", pushes.to_str().unwrap(), "-q", "--lenient"]);
    let stderr = text(&lenient.stderr);
    assert_eq!(lenient.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("pushes.jsonl:2: "),
        "still reported: {stderr}"
    );
}

#[test]
fn json_carries_the_skipped_lines() {
    let dir = tempfile::tempdir().unwrap();
    let pushes = pushes_with_a_bad_line(dir.path());
    let out = run(&["--pushes", pushes.to_str().unwrap(), "-q", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["pushes"].as_array().unwrap().len(), 2);
    let skipped = &value["skipped"];
    assert_eq!(skipped["count"], 1, "{value:#}");
    let first = &skipped["first"][0];
    assert_eq!(first["line"], 2);
    assert_eq!(first["field"], "sent_att\u{1b}]0;pwned\u{7}");
    assert!(first["file"].as_str().unwrap().ends_with("pushes.jsonl"));
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("is not a push record field"),
        "{value:#}"
    );
}

#[test]
fn a_file_of_bad_lines_is_not_called_empty() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("pushes.jsonl");
    std::fs::write(&bad, "{\"sent_at\":\"yesterday\"}\n{\"push_id\":\"x\"}\n").unwrap();
    let out = run(&["--pushes", bad.to_str().unwrap(), "-q", "--lenient"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("all 2 push line(s) of") && stderr.contains("pushes.jsonl:1: "),
        "{stderr}"
    );
    assert!(!stderr.contains("empty"), "{stderr}");

    let blank = dir.path().join("blank.jsonl");
    std::fs::write(&blank, "\n\n").unwrap();
    let out = run(&["--pushes", blank.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no push"), "{stderr}");
}

#[test]
fn misspelt_zones_and_formats_get_a_suggestion() {
    let log = example("device-log.txt");
    let out = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .args(["diagnose", log.to_str().unwrap(), "--push", "17:47:00"])
        .args(["--date", "2026-05-20", "--tz", "Europe/Istambul"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--tz") && stderr.contains("(did you mean `Europe/Istanbul`?)"),
        "{stderr}"
    );

    let out = run(&["--push", "17:47:00", "--format", "sylog"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("(did you mean `syslog`?)"), "{stderr}");
}
