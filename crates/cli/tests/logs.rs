//! `pushtrace logs` as a user runs it: the real binary, real files, exit codes and streams.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

mod support;

use support::{run, testdata, text};

fn pushtrace() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushtrace"))
}

#[test]
fn seed_digest_as_json() {
    let digest = testdata("seed-incident-digest.txt");
    let out = run(&[
        "logs",
        digest.to_str().unwrap(),
        "--date",
        "2026-05-20",
        "--tz",
        "+03:00",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<_> = stdout.lines().collect();
    assert_eq!(lines.len(), 12);
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["at"], "2026-05-20T17:45:59.562000+03:00");
    assert_eq!(first["process"], "symptomsd");
    assert_eq!(first["message"], "New RRC 0 when previous 1 from pdp_ip0");
    assert_eq!(first["origin"]["line"], 1);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("forum digest"), "{stderr}");
    assert!(stderr.contains("(detected)"), "{stderr}");
    assert!(stderr.contains("12 records read, 12 kept"), "{stderr}");
}

#[test]
fn missing_date_fails_with_exit_1_and_says_what_to_pass() {
    let digest = testdata("seed-incident-digest.txt");
    let out = run(&["logs", digest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("error:"), "{stderr}");
    assert!(stderr.contains("--date YYYY-MM-DD and --tz"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_cut_sysdiagnose_is_named_once_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("sysdiagnose_cut.zip");
    let mut bytes = b"PK\x03\x04".to_vec();
    bytes.extend(std::iter::repeat_n(7u8, 4000));
    std::fs::write(&cut, bytes).unwrap();
    let out = run(&["logs", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("sysdiagnose_cut.zip is truncated or not a valid zip file"),
        "{stderr}"
    );
    assert!(stderr.contains("re-copy the sysdiagnose"), "{stderr}");
    assert_eq!(stderr.matches("Could not find EOCD").count(), 1, "{stderr}");
}

#[test]
fn wrong_arguments_exit_2() {
    let out = run(&["logs", "x.log", "--format", "banana"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown format `banana`"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["logs"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn stdin_with_filters_in_text_form() {
    let mut child = pushtrace()
        .args([
            "logs",
            "-",
            "--date",
            "2026-05-20",
            "--tz",
            "+03:00",
            "--process",
            "apsd",
        ])
        .args(["--since", "17:48", "--grep", "policy"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let digest = std::fs::read(testdata("seed-incident-digest.txt")).unwrap();
    child.stdin.take().unwrap().write_all(&digest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "2026-05-20 17:48:41.250000+0300  localhost apsd: Update assertion policy 3\n\
         2026-05-20 17:50:04.598000+0300  localhost apsd: Update assertion policy 0\n"
    );
    assert!(
        text(&out.stderr).contains("<stdin>"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn logarchive_in_the_device_zone_and_closed_pipe() {
    let archive = testdata("unifiedlog-macos-plaso.logarchive");
    let out = run(&[
        "logs",
        archive.to_str().unwrap(),
        "--process",
        "kernel",
        "--tz",
        "Europe/Paris",
        "-q",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "2023-01-12 02:35:35.240388+0100  localhost kernel[0]: kprintf initialized\n"
        ),
        "{}",
        &stdout[..200.min(stdout.len())]
    );
    assert!(out.stderr.is_empty(), "-q prints nothing on stderr");

    // Reading only the first line and closing the pipe, as `| head -1` does, is not an error.
    let mut child = pushtrace()
        .args(["logs", archive.to_str().unwrap(), "--json", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    assert!(status.success(), "closed pipe gave {status}");
}

#[test]
fn extracted_sysdiagnose_folder_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir
        .path()
        .join("sysdiagnose_2026.05.20_17-55-00+0300_iPhone-OS_iPhone_23F79");
    let archive = inner.join("system_logs.logarchive");
    copy_dir(&testdata("unifiedlog-macos-plaso.logarchive"), &archive);
    let out = run(&["logs", dir.path().to_str().unwrap(), "--push-set", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("sysdiagnose archive (detected)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "sysdiagnose_2026.05.20_17-55-00+0300_iPhone-OS_iPhone_23F79/system_logs.logarchive"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("97610 records read"), "{stderr}");
    let kept = text(&out.stdout).lines().count();
    assert!(kept > 0 && kept < 97_610, "{kept}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
