//! `pushtrace logs` with `log show`'s options: --predicate, --last, --start/--end, --info/--debug
//! and --style, on the real logarchive in testdata/ through the real binary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn archive() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/unifiedlog-macos-plaso.logarchive")
}

fn logs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .arg("logs")
        .arg(archive())
        .args(args)
        .output()
        .expect("pushtrace runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn records(out: &Output) -> Vec<serde_json::Value> {
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The examples of the `log` man page (PREDICATE-BASED FILTERING,
/// https://keith.github.io/xcode-man-pages/log.1.html) and of the predicate primer at
/// https://eclecticlight.co/2016/10/17/log-a-primer-on-predicates/: each one runs, or fails with
/// exit 1 naming the part pushtrace does not run and its column.
#[test]
fn published_examples_run_or_name_what_is_unsupported() {
    let runs = [
        r#"subsystem == "com.example.my_subsystem""#,
        r#"(subsystem == "com.example.my_subsystem") && (category == "desired_category")"#,
        r#"(subsystem == "com.example.my_subsystem") && (category IN { "desired_category1", "desired_category2" })"#,
        r#"eventMessage CONTAINS[c] "error""#,
        r#"messageType == error"#,
        r#"messageType == "fault""#,
        r#"process == "kernel" && eventMessage BEGINSWITH "kprintf""#,
        r#"subsystem BEGINSWITH "com.apple" AND NOT (category == "process")"#,
        r#"eventMessage LIKE[cd] "*sandbox*""#,
        r#"eventMessage MATCHES ".*[0-9]{4}.*""#,
    ];
    for predicate in runs {
        let out = logs(&["-q", "--predicate", predicate]);
        assert!(out.status.success(), "{predicate}: {}", text(&out.stderr));
    }
    let unsupported = [
        (
            r#"(subsystem == "com.example.my_subsystem") && ((senderImagePath ENDSWITH "mybinary") || (senderImagePath ENDSWITH "myframework"))"#,
            "column 48, `senderImagePath`",
        ),
        (
            r#"processImagePath ENDSWITH "/sbin/launchd""#,
            "column 1, `processImagePath`",
        ),
        (r#"eventType == logEvent"#, "column 1, `eventType`"),
        (
            r#"process == "a" AND ANY eventMessage == "b""#,
            "column 20, `ANY`",
        ),
    ];
    for (predicate, part) in unsupported {
        let out = logs(&["-q", "--predicate", predicate]);
        assert_eq!(out.status.code(), Some(1), "{predicate}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(part), "{predicate}: {stderr}");
        assert!(stderr.contains("--predicate"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_predicate_keeps_exactly_its_records() {
    let out = logs(&[
        "--json",
        "--predicate",
        r#"process == "kernel" AND eventMessage CONTAINS[c] "KPRINTF""#,
    ]);
    let kept = records(&out);
    assert_eq!(kept.len(), 1);
    assert_eq!(
        kept[0]["message"].as_str().unwrap().trim_end(),
        "kprintf initialized"
    );
    assert!(
        text(&out.stderr).contains("97610 records read, 1 kept"),
        "{}",
        text(&out.stderr)
    );

    // Every error record, and nothing else: the same set --json shows by level.
    let all = records(&logs(&["-q", "--json", "--info", "--debug"]));
    let errors = records(&logs(&[
        "-q",
        "--json",
        "--predicate",
        "messageType == error",
    ]));
    let expected = all.iter().filter(|r| r["level"] == "error").count();
    assert!(expected > 1000, "{expected}");
    assert_eq!(errors.len(), expected);
    assert!(errors.iter().all(|r| r["level"] == "error"));

    let or_not = records(&logs(&[
        "-q",
        "--json",
        "--predicate",
        r#"(process == "kernel" || process == "dasd") && !(messageType == default)"#,
    ]));
    let expected = all
        .iter()
        .filter(|r| {
            (r["process"] == "kernel" || r["process"] == "dasd")
                && r["level"] != "default"
                && r["level"] != "info"
                && r["level"] != "debug"
        })
        .count();
    assert!(expected > 0);
    assert_eq!(or_not.len(), expected);
}

#[test]
fn info_and_debug_are_hidden_unless_asked_as_log_show_does() {
    let all = records(&logs(&["-q", "--json", "--info", "--debug"]));
    let count = |level: &str| all.iter().filter(|r| r["level"] == level).count();
    let (info, debug) = (count("info"), count("debug"));
    assert!(info > 0 && debug > 0, "{info} {debug}");

    let out = logs(&["--json"]);
    let default = records(&out);
    assert_eq!(default.len(), all.len() - info - debug);
    assert!(
        text(&out.stderr).starts_with(
            "Skipping info and debug messages, pass --info and/or --debug to include.\n"
        ),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        records(&logs(&["-q", "--json", "--info"])).len(),
        all.len() - debug
    );
    assert_eq!(
        records(&logs(&["-q", "--json", "--debug"])).len(),
        all.len() - info
    );
}

#[test]
fn last_counts_back_from_the_last_record_and_says_so() {
    let all = records(&logs(&["-q", "--json"]));
    let at = |r: &serde_json::Value| r["at"].as_str().unwrap().to_string();
    let end = at(all.last().unwrap());
    assert_eq!(end, "2023-01-12T01:41:50.707140+00:00");
    let out = logs(&["--json", "--last", "1m"]);
    let last = records(&out);
    let expected: Vec<_> = all
        .iter()
        .filter(|r| at(r).as_str() >= "2023-01-12T01:40:50.707140+00:00")
        .collect();
    assert!(!expected.is_empty() && expected.len() < all.len());
    assert_eq!(last.len(), expected.len());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "--last 1m: from 2023-01-12T01:40:50.707140+00:00 to 2023-01-12T01:41:50.707140+00:00, \
             the last record kept (the log is not live)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{} kept", last.len())),
        "the account counts what was written: {stderr}"
    );
}

#[test]
fn start_and_end_take_log_shows_date_forms() {
    let window = records(&logs(&[
        "-q",
        "--json",
        "--start",
        "2023-01-12 01:41:00+0000",
        "--end",
        "2023-01-12 01:41:10+0000",
    ]));
    assert!(!window.is_empty());
    assert!(window.iter().all(|r| {
        let at = r["at"].as_str().unwrap();
        ("2023-01-12T01:41:00"..="2023-01-12T01:41:10.000000+00:00").contains(&at)
    }));
    // A bare date is its midnight in --tz: the whole archive is on 12 January in UTC.
    let day = records(&logs(&[
        "-q",
        "--json",
        "--tz",
        "Z",
        "--start",
        "2023-01-12",
    ]));
    assert_eq!(day.len(), records(&logs(&["-q", "--json"])).len());
    let none = logs(&["-q", "--json", "--tz", "Z", "--start", "2023-01-13"]);
    assert!(records(&none).is_empty());
    let out = logs(&["-q", "--start", "2023-01-12"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--tz"), "{}", text(&out.stderr));
}

/// The records the styles are checked on. A message that itself starts with `[a:b]` reads back
/// from the text styles as subsystem `a` and category `b`, as log show's own output does.
const SET: &str = r#"process IN {"kernel", "dasd"} AND NOT eventMessage BEGINSWITH "[""#;

/// What one style writes, read back by pushtrace: the same records.
fn round_trip(style: &str, extra: &[&str]) -> (String, Vec<serde_json::Value>) {
    let pick = ["-q", "--info", "--debug", "--predicate", SET];
    let out = logs(&[&pick[..], &["--style", style]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .args(["logs", "-", "-q", "--info", "--debug", "--json"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let back = child.wait_with_output().unwrap();
    (text(&out.stdout), records(&back))
}

#[test]
fn styles_read_back_as_the_same_records() {
    let direct = records(&logs(&[
        "-q",
        "--info",
        "--debug",
        "--json",
        "--predicate",
        SET,
    ]));
    assert!(direct.len() > 100, "{}", direct.len());
    let fields = |r: &serde_json::Value| {
        (
            r["at"].clone(),
            r["process"].clone(),
            r["pid"].clone(),
            r["level"].clone(),
            r["subsystem"].clone(),
            r["category"].clone(),
            // Text styles show control characters escaped (docs/formats.md), tabs included.
            r["message"]
                .as_str()
                .unwrap()
                .trim_end()
                .replace('\t', "\\u{9}"),
        )
    };
    let want: Vec<_> = direct.iter().map(fields).collect();
    for style in ["ndjson", "json", "default"] {
        let (written, back) = round_trip(style, &[]);
        let got: Vec<_> = back.iter().map(fields).collect();
        assert_eq!(got.len(), want.len(), "{style}");
        if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
            panic!(
                "{style}: record {i} reads back as {:?}, not {:?}",
                got[i], want[i]
            );
        }
        assert!(!written.is_empty());
    }
    let (ndjson, _) = round_trip("ndjson", &[]);
    assert!(
        ndjson.ends_with(&format!("{{\"count\":{},\"finished\":1}}\n", direct.len())),
        "log show's trailer"
    );
    let (default, _) = round_trip("default", &[]);
    assert!(default.starts_with("Timestamp                       Thread     Type"));
    // compact has milliseconds and no zone: read back with the zone, the same records to the ms.
    let (compact, back) = round_trip("compact", &["--tz", "Z"]);
    assert!(compact.starts_with("Timestamp               Ty Process[PID:TID]\n"));
    assert_eq!(back.len(), want.len());
    assert_eq!(
        back[0]["at"].as_str().unwrap()[..23],
        direct[0]["at"].as_str().unwrap()[..23]
    );
    // syslog is the text pushtrace printed before --style, and still its default.
    let (syslog, _) = round_trip("syslog", &[]);
    let plain = logs(&["-q", "--info", "--debug", "--predicate", SET]);
    assert_eq!(syslog, text(&plain.stdout));
}

#[test]
fn json_and_style_together_are_a_usage_error() {
    let out = logs(&["--json", "--style", "ndjson"]);
    assert_eq!(out.status.code(), Some(2));
    let out = logs(&["--style", "xml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("possible values"),
        "{}",
        text(&out.stderr)
    );
}
