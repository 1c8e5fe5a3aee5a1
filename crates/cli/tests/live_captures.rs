//! Live-log captures taken from a computer (`idevicesyslog`, `pymobiledevice3 syslog live`), read
//! and diagnosed by the real binary from the files in `testdata/`.

use std::path::Path;

use serde_json::Value;

mod support;

use support::{run, testdata, text};

/// `pushtrace logs FILE ARGS --json`: the records, and stderr's summary.
fn logs_json(file: &Path, args: &[&str]) -> (Vec<Value>, String) {
    let mut all = vec!["logs", file.to_str().unwrap()];
    all.extend_from_slice(args);
    all.push("--json");
    let out = run(&all);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let records = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (records, text(&out.stderr))
}

#[test]
fn idevicesyslog_relay_capture_with_the_device_name() {
    let file = testdata("idevicesyslog-phonegap77.log");
    let (records, stderr) = logs_json(&file, &["--date", "2018-07-04", "--tz", "+02:00"]);
    assert!(stderr.contains("idevicesyslog"), "{stderr}");
    assert!(stderr.contains("(detected)"), "{stderr}");
    assert!(stderr.contains("5 records read, 5 kept"), "{stderr}");
    assert_eq!(records.len(), 5);
    assert_eq!(records[0]["at"], "2018-07-04T13:26:05.000000+02:00");
    assert_eq!(records[0]["process"], "apsd");
    assert_eq!(records[0]["pid"], 83);
    assert_eq!(records[0]["sender"], "PersistentConnection");
    assert_eq!(records[0]["level"], "default");
    // Records sharing a second keep the file's order.
    let lines: Vec<_> = records
        .iter()
        .map(|r| r["origin"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [1, 2, 3, 4, 5]);
}

#[test]
fn idevicesyslog_capture_across_new_year() {
    let file = testdata("cases/187-idevicesyslog-madrid-new-year-push-on-time-reported/device.log");
    let (records, stderr) = logs_json(&file, &["--date", "2025-12-31", "--tz", "Europe/Madrid"]);
    assert!(stderr.contains("10 records read, 10 kept"), "{stderr}");
    assert_eq!(records[0]["at"], "2025-12-31T23:58:41.402113+01:00");
    assert_eq!(records[2]["at"], "2026-01-01T00:00:02.118450+01:00");
    assert_eq!(records[3]["sender"], "TelephonyUtilities");
    assert_eq!(records[9]["origin"]["line"], 11);
}

#[test]
fn missing_flags_are_named() {
    let file = testdata("idevicesyslog-phonegap77.log");
    let out = run(&["logs", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--date YYYY-MM-DD and --tz"), "{stderr}");
    let file = testdata("pymobiledevice3-coloured.log");
    let out = run(&["logs", file.to_str().unwrap(), "--date", "2026-02-10"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--tz"), "{stderr}");
}

#[test]
fn pymobiledevice3_coloured_output_file() {
    let file = testdata("pymobiledevice3-coloured.log");
    let (records, stderr) = logs_json(&file, &["--tz=-03:00"]);
    assert!(stderr.contains("pymobiledevice3"), "{stderr}");
    assert!(stderr.contains("7 records read, 7 kept"), "{stderr}");
    assert_eq!(records[0]["at"], "2026-02-10T14:20:05.612880-03:00");
    assert_eq!(records[0]["process"], "apsd");
    assert_eq!(records[0]["sender"], "ApplePushService");
    // A time of whole seconds is printed without a fraction: exact, not missing.
    assert_eq!(records[1]["at"], "2026-02-10T14:20:06.000000-03:00");
    let message = records[6]["message"].as_str().unwrap();
    assert!(message.starts_with("Provider <CXProvider"), "{message}");
    assert!(!message.contains('\u{1b}'), "{message}");
}

/// Case 210: `pymobiledevice3 syslog live --format json`, naive local times of a laptop in
/// Lisbon on summer time.
const PYMOBILEDEVICE3_JSON: &str = "cases/210-pymobiledevice3-json-lisbon-summer-react-native-app-hands-ring-to-js-never-reports-pushkit-kills-it-needs-reader/device.jsonl";

#[test]
fn pymobiledevice3_json_capture() {
    let file = testdata(PYMOBILEDEVICE3_JSON);
    let (records, stderr) = logs_json(&file, &["--tz", "Europe/Lisbon"]);
    assert!(stderr.contains("pymobiledevice3-json"), "{stderr}");
    assert!(stderr.contains("(detected)"), "{stderr}");
    assert!(stderr.contains("47 records read, 47 kept"), "{stderr}");
    assert_eq!(records[0]["at"], "2026-07-09T20:11:02.118402+01:00");
    assert_eq!(records[0]["process"], "apsd");
    assert_eq!(records[0]["pid"], 97);
    assert_eq!(records[0]["thread"], 2461);
    assert_eq!(records[0]["sender"], "ApplePushService");
    assert_eq!(records[0]["subsystem"], "com.apple.apsd");
    assert_eq!(records[0]["category"], "courier");
    assert_eq!(records[0]["level"], "default");
    // The native module's payload dictionary: one record, its newlines kept.
    let payload = records.iter().find(|r| r["origin"]["line"] == 26).unwrap();
    assert_eq!(payload["process"], "Toque");
    assert!(
        payload["message"].as_str().unwrap().contains("\n"),
        "{payload}"
    );

    let out = run(&["logs", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--format json` capture whose lines have no time zone: pass --tz"),
        "{stderr}"
    );
}

#[test]
fn diagnose_a_push_in_each_capture() {
    for (case, args) in [
        (
            "cases/187-idevicesyslog-madrid-new-year-push-on-time-reported",
            &["--date", "2025-12-31", "--tz", "Europe/Madrid"][..],
        ),
        (
            "cases/188-pymobiledevice3-sao-paulo-push-on-time-reported",
            &["--tz=-03:00"][..],
        ),
    ] {
        let dir = testdata(case);
        let log = dir.join("device.log");
        let pushes = dir.join("pushes.jsonl");
        let mut all = vec![
            "diagnose",
            log.to_str().unwrap(),
            "--pushes",
            pushes.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        all.extend(["--json", "-q"]);
        let out = run(&all);
        assert!(out.status.success(), "{case}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.contains("\"on_time\""), "{case}: {stdout}");
    }
}
