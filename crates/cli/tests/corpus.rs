//! The diagnosis corpus: every case in `testdata/cases/` (a device log built from sourced iOS log
//! lines, the push records, and the verdict an expert expects for each push) is run through
//! `pushtrace diagnose … --json -q` and compared field by field. Prints a score table per cause
//! and fails listing every mismatch, except those `testdata/cases/known-misses.toml` lists with
//! the reason they are accepted; a listed miss that no longer happens fails too, so the list only
//! shrinks.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Case {
    log: String,
    pushes: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    expect: Vec<Expect>,
}

#[derive(Deserialize)]
struct Expect {
    push: String,
    outcome: String,
    cause: String,
    recovery: Option<String>,
    #[serde(default)]
    evidence: Vec<u64>,
    #[serde(default)]
    not_evidence: Vec<u64>,
    confidence: Option<Vec<String>>,
}

/// A mismatch the project accepts for now, and why.
#[derive(Deserialize)]
struct KnownMiss {
    case: String,
    push: String,
    field: String,
    why: String,
}

#[derive(Deserialize)]
struct KnownMisses {
    #[serde(default)]
    miss: Vec<KnownMiss>,
}

#[derive(Default)]
struct Score {
    cases: std::collections::BTreeSet<String>,
    pushes: usize,
    outcome: usize,
    cause: usize,
    recovery: (usize, usize),
    evidence: (usize, usize),
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("-")
}

/// The evidence lines of a verdict from the log file, with their role.
fn evidence_lines(verdict: &Value, log: &str) -> Vec<(u64, String)> {
    let Some(items) = verdict.get("evidence").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|e| {
            let src = e.get("event")?.get("source")?;
            let file = Path::new(src.get("file")?.as_str()?)
                .file_name()?
                .to_str()?;
            let line = src.get("line")?.as_u64()?;
            (src.get("kind")?.as_str()? == "line" && file == log)
                .then(|| (line, str_at(e, "role").to_owned()))
        })
        .collect()
}

/// The corpus folder and its cases' folders, in name order.
fn case_dirs() -> (PathBuf, Vec<PathBuf>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cases");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("testdata/cases")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.toml").is_file())
        .collect();
    dirs.sort();
    (root, dirs)
}

#[test]
fn corpus_cases_get_the_expected_verdicts() {
    let (root, dirs) = case_dirs();
    assert!(!dirs.is_empty(), "no cases in {}", root.display());
    let known: Vec<KnownMiss> = match std::fs::read_to_string(root.join("known-misses.toml")) {
        Ok(text) => {
            toml::from_str::<KnownMisses>(&text)
                .expect("testdata/cases/known-misses.toml")
                .miss
        }
        Err(_) => Vec::new(),
    };
    let mut seen_known = vec![false; known.len()];
    let mut accepted: Vec<String> = Vec::new();

    let mut mismatches = Vec::new();
    let mut scores: BTreeMap<String, Score> = BTreeMap::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let case: Case = toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap())
            .unwrap_or_else(|e| panic!("{name}/case.toml: {e}"));
        let out = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
            .arg("diagnose")
            .arg(dir.join(&case.log))
            .arg("--pushes")
            .arg(dir.join(&case.pushes))
            .args(&case.args)
            .args(["--json", "-q"])
            .output()
            .expect("pushtrace runs");
        let report: Option<Value> = out
            .status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten();
        let verdicts: BTreeMap<String, Value> = report
            .as_ref()
            .and_then(|r| r.get("pushes")?.as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                Some((
                    p.get("push")?.get("push_id")?.as_str()?.to_owned(),
                    p.get("verdict")?.clone(),
                ))
            })
            .collect();
        if report.is_none() {
            let err = String::from_utf8_lossy(&out.stderr);
            mismatches.push(format!(
                "{name}: diagnose failed ({}): {}",
                out.status,
                err.trim()
            ));
        }
        for want in &case.expect {
            let score = scores.entry(want.cause.clone()).or_default();
            score.cases.insert(name.clone());
            score.pushes += 1;
            let mut miss = |field: &str, expected: String, got: String| {
                let line = format!(
                    "{name} {}: {field}: expected {expected}, got {got}",
                    want.push
                );
                match known.iter().position(|k| {
                    k.case == name && k.push == want.push && field.starts_with(k.field.as_str())
                }) {
                    Some(i) => {
                        accepted.push(format!("{line} (known: {})", known[i].why));
                        seen_known[i] = true;
                    }
                    None => mismatches.push(line),
                }
            };
            let Some(v) = verdicts.get(&want.push) else {
                if report.is_some() {
                    miss(
                        "verdict",
                        "a verdict".into(),
                        "no such push in the output".into(),
                    );
                }
                continue;
            };
            let got = |k: &str| str_at(v, k).to_owned();
            if got("outcome") == want.outcome {
                score.outcome += 1;
            } else {
                miss("outcome", want.outcome.clone(), got("outcome"));
            }
            if got("cause") == want.cause {
                score.cause += 1;
            } else {
                miss("cause", want.cause.clone(), got("cause"));
            }
            if let Some(r) = &want.recovery {
                score.recovery.1 += 1;
                if &got("recovery") == r {
                    score.recovery.0 += 1;
                } else {
                    miss("recovery", r.clone(), got("recovery"));
                }
            }
            if let Some(ok) = &want.confidence
                && !ok.contains(&got("confidence"))
            {
                miss("confidence", ok.join("|"), got("confidence"));
            }
            let cited = evidence_lines(v, &case.log);
            if !want.evidence.is_empty() {
                score.evidence.1 += 1;
                let absent: Vec<u64> = want
                    .evidence
                    .iter()
                    .copied()
                    .filter(|n| {
                        !cited
                            .iter()
                            .any(|(l, role)| l == n && role != "contradicts")
                    })
                    .collect();
                if absent.is_empty() {
                    score.evidence.0 += 1;
                } else {
                    let got: Vec<String> = cited.iter().map(|(l, r)| format!("{l}:{r}")).collect();
                    miss(
                        "evidence",
                        format!("lines {absent:?} cited"),
                        format!("[{}]", got.join(", ")),
                    );
                }
            }
            for n in &want.not_evidence {
                if cited.iter().any(|(l, role)| l == n && role == "supports") {
                    miss(
                        "not_evidence",
                        format!("line {n} not cited as support"),
                        "cited".into(),
                    );
                }
            }
        }
    }

    let mut table = String::new();
    let _ = writeln!(
        table,
        "{:<34} {:>5} {:>6} {:>8} {:>8} {:>9} {:>9}",
        "cause (expected)", "cases", "pushes", "outcome", "cause", "recovery", "evidence"
    );
    let frac = |(a, b): (usize, usize)| {
        if b == 0 {
            "-".to_owned()
        } else {
            format!("{a}/{b}")
        }
    };
    let mut total = (0, 0, 0);
    for (cause, s) in &scores {
        total = (total.0 + s.pushes, total.1 + s.outcome, total.2 + s.cause);
        let _ = writeln!(
            table,
            "{:<34} {:>5} {:>6} {:>8} {:>8} {:>9} {:>9}",
            cause,
            s.cases.len(),
            s.pushes,
            format!("{}/{}", s.outcome, s.pushes),
            format!("{}/{}", s.cause, s.pushes),
            frac(s.recovery),
            frac(s.evidence)
        );
    }
    let _ = writeln!(
        table,
        "{:<34} {:>5} {:>6} {:>8} {:>8}",
        "all",
        dirs.len(),
        total.0,
        format!("{}/{}", total.1, total.0),
        format!("{}/{}", total.2, total.0)
    );
    println!("{table}");
    if !accepted.is_empty() {
        println!(
            "{} known miss(es):\n  {}",
            accepted.len(),
            accepted.join("\n  ")
        );
    }
    for (k, seen) in known.iter().zip(&seen_known) {
        if !seen {
            mismatches.push(format!(
                "{} {}: {}: listed in known-misses.toml but no longer missed: remove it from the list",
                k.case, k.push, k.field
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{table}\n{} mismatch(es):\n  {}",
        mismatches.len(),
        mismatches.join("\n  ")
    );
}

/// Outcome, cause, recovery and confidence of each push, by push id; `Err` with stderr when
/// diagnose fails.
fn verdict_keys(
    log: &Path,
    pushes: &Path,
    args: &[String],
) -> Result<BTreeMap<String, String>, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .arg("diagnose")
        .arg(log)
        .arg("--pushes")
        .arg(pushes)
        .args(args)
        .args(["--json", "-q"])
        .output()
        .expect("pushtrace runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    let report: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    Ok(report
        .get("pushes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let v = p.get("verdict")?;
            Some((
                p.get("push")?.get("push_id")?.as_str()?.to_owned(),
                ["outcome", "cause", "recovery", "confidence"]
                    .map(|k| str_at(v, k))
                    .join(" "),
            ))
        })
        .collect())
}

/// A log written back by `pushtrace logs --style S` holds what the original did: each case's
/// log, re-rendered in every text and JSON style log show writes, gets the verdicts the original
/// gets. This catches a writer and a reader that disagree (a pid-less syslog line our own
/// reader refused), and rules that lean on one format's wording of a field.
#[test]
fn every_case_gets_the_same_verdicts_through_each_export_style() {
    let (_, dirs) = case_dirs();
    let scratch = tempfile::tempdir().unwrap();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mismatches = std::sync::Mutex::new(Vec::<String>::new());
    let work = || {
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(dir) = dirs.get(i) else { return };
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let case: Case =
                toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap()).unwrap();
            // `--app` is diagnose's; the clock options (`--date`, `--tz`) are the reader's and
            // are spent once the log is written with zones.
            let mut app_args = Vec::new();
            let mut read_args = Vec::new();
            let mut args = case.args.iter();
            while let Some(arg) = args.next() {
                if arg == "--app" {
                    app_args.push(arg.clone());
                    app_args.extend(args.next().cloned());
                } else if arg.starts_with("--app=") {
                    app_args.push(arg.clone());
                } else {
                    read_args.push(arg.clone());
                }
            }
            let log = dir.join(&case.log);
            let pushes = dir.join(&case.pushes);
            let original = verdict_keys(&log, &pushes, &case.args);
            for style in ["syslog", "default", "json", "ndjson"] {
                let written = scratch.path().join(format!("{name}.{style}"));
                let out = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
                    .arg("logs")
                    .arg(&log)
                    .args(&read_args)
                    .args(["--style", style, "--info", "--debug", "-q"])
                    .output()
                    .expect("pushtrace runs");
                let mismatch = |what: String| mismatches.lock().unwrap().push(what);
                if !out.status.success() {
                    mismatch(format!(
                        "{name}: logs --style {style} failed: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                    continue;
                }
                std::fs::write(&written, &out.stdout).unwrap();
                let again = verdict_keys(&written, &pushes, &app_args);
                if again != original {
                    mismatch(format!(
                        "{name} through --style {style}:\n    original {original:?}\n    written  {again:?}"
                    ));
                }
                std::fs::remove_file(&written).unwrap();
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(work);
        }
    });
    let mismatches = mismatches.into_inner().unwrap();
    assert!(
        mismatches.is_empty(),
        "{} case/style pair(s) changed verdict:\n  {}",
        mismatches.len(),
        mismatches.join("\n  ")
    );
}
