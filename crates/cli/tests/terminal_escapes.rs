//! Input text on a terminal: a log line or a push id that sets the terminal's title (`ESC ]0;…
//! BEL`) or clears the screen (`ESC [2J`) is shown escaped in text output, and kept exactly in
//! JSON.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const TITLE: &str = "\u{1b}]0;pwned\u{7}";
const CLEAR: &str = "\u{1b}[2J";

fn pushtrace() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushtrace"))
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/seed-incident")
        .join(name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Neither ESC nor BEL reached the stream.
fn assert_inert(stream: &[u8], what: &str) {
    assert!(
        !stream.iter().any(|b| matches!(b, 0x1b | 0x07)),
        "{what} holds ESC or BEL: {:?}",
        text(stream)
    );
}

/// The seed incident's device log with a terminal escape in a line that is evidence of the
/// late push, and that line's hostile part.
fn hostile_seed_log(dir: &Path) -> (PathBuf, String) {
    let hostile = format!("LQM: good {TITLE}{CLEAR})]");
    let log = std::fs::read_to_string(example("device-log.txt"))
        .unwrap()
        .replace("LQM: good)]", &hostile);
    let path = dir.join("device-log.txt");
    std::fs::write(&path, log).unwrap();
    (path, hostile)
}

fn logs(log: &str, json: bool) -> Output {
    let mut child = pushtrace()
        .args(["logs", "-", "--date", "2026-05-20", "--tz", "+03:00"])
        .args(json.then_some("--json"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(log.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

#[test]
fn logs_text_escapes_a_hostile_line_and_json_keeps_it() {
    let message = format!("Update assertion policy 3 {TITLE}{CLEAR}\u{202e}txt.exe");
    let log = format!("17:48:41.250  apsd    {message}\n");

    let out = logs(&log, false);
    assert_inert(&out.stdout, "stdout");
    assert_inert(&out.stderr, "stderr");
    assert_eq!(
        text(&out.stdout),
        "2026-05-20 17:48:41.250000+0300  localhost apsd: Update assertion policy 3 \
         \\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{202e}txt.exe\n"
    );

    let out = logs(&log, true);
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["message"], message.as_str());
}

#[test]
fn diagnose_text_escapes_push_ids_log_lines_and_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (log_path, hostile_line) = hostile_seed_log(dir.path());
    let push_id = format!("seed{TITLE}-1747");
    let pushes = std::fs::read_to_string(example("pushes.jsonl"))
        .unwrap()
        .replace(
            "\"seed-1747\"",
            &serde_json::Value::from(push_id.as_str()).to_string(),
        )
        + &format!(
            "{}\n",
            serde_json::json!({ "sent_at": format!("17:47{CLEAR}"), "apns_status": 200 })
        );
    let pushes_path = dir.path().join("pushes.jsonl");
    std::fs::write(&pushes_path, pushes).unwrap();
    let diagnose = |extra: &[&str]| {
        pushtrace()
            .arg("diagnose")
            .args([&log_path, Path::new("--pushes"), &pushes_path])
            .args(["--date", "2026-05-20", "--tz", "+03:00"])
            .args(extra)
            .output()
            .unwrap()
    };
    // The bad line is skipped and reported; --lenient accepts the report without it.
    let run = |extra: &[&str]| {
        let out = diagnose(&[extra, &["--lenient"][..]].concat());
        assert!(out.status.success(), "{}", text(&out.stderr));
        out
    };

    for extra in [&[][..], &["--markdown"]] {
        let out = run(extra);
        assert_inert(&out.stdout, "stdout");
        assert_inert(&out.stderr, "stderr");
        let report = text(&out.stdout);
        assert!(
            report.contains("seed\\u{1b}]0;pwned\\u{7}-1747"),
            "{report}"
        );
        let stderr = text(&out.stderr);
        assert!(stderr.contains("`17:47\\u{1b}[2J` is not"), "{stderr}");
    }
    let report = text(&run(&[]).stdout);
    assert!(
        report.contains("LQM: good \\u{1b}]0;pwned\\u{7}\\u{1b}[2J)]"),
        "{report}"
    );

    // The bad line stops a strict read: the error quotes it.
    let out = diagnose(&["--strict"]);
    assert_eq!(out.status.code(), Some(1));
    assert_inert(&out.stderr, "stderr");
    assert!(
        text(&out.stderr).contains("17:47\\u{1b}[2J"),
        "{}",
        text(&out.stderr)
    );

    let out = run(&["--json", "-q"]);
    // Quiet or not, the skipped line is said, escaped.
    assert_inert(&out.stderr, "stderr");
    assert!(text(&out.stderr).contains("`17:47\\u{1b}[2J` is not"));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let late = &value["pushes"][1];
    assert_eq!(late["push"]["push_id"], push_id.as_str());
    assert_eq!(late["verdict"]["push"], push_id.as_str());
    let evidence = late["verdict"]["evidence"].as_array().unwrap();
    assert!(
        evidence
            .iter()
            .any(|e| e["event"]["raw"].as_str().unwrap().contains(&hostile_line)),
        "{evidence:?}"
    );
}

#[test]
fn timeline_text_escapes_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (log_path, _) = hostile_seed_log(dir.path());
    for extra in [&[][..], &["--unmatched"]] {
        let out = pushtrace()
            .arg("timeline")
            .arg(&log_path)
            .args(["--date", "2026-05-20", "--tz", "+03:00"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_inert(&out.stdout, "stdout");
        assert_inert(&out.stderr, "stderr");
    }
    let out = pushtrace()
        .arg("timeline")
        .arg(&log_path)
        .args(["--date", "2026-05-20", "--tz", "+03:00"])
        .output()
        .unwrap();
    let timeline = text(&out.stdout);
    assert!(
        timeline.contains("LQM: good \\u{1b}]0;pwned\\u{7}\\u{1b}[2J)]"),
        "{timeline}"
    );
}
