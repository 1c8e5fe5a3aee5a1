//! The bug-report bundle for Apple's Feedback Assistant: one folder holding what an Apple engineer
//! asks for about late or missing VoIP pushes.
//!
//! - `README.md`: a table of every failure (push id, apns-id, topic, token, sent with its zone,
//!   expected, arrived, delay, verdict), the device and OS facts the logs hold, and a checklist
//!   whose every item is ticked or not with its reason;
//! - `excerpts/<push>.log`: the raw log lines of each failure window, each with its `file:line`;
//! - `report.html`: the HTML report; `verdicts.json`: every push with its verdict.
//!
//! Nothing is invented: a fact the logs do not hold says "not found in the logs", and a check
//! that cannot be made says so rather than being ticked.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use pushtrace_devicelog::timeline::DeviceTimeline;
use pushtrace_model::{EventKind, Outcome, PushRecord, Timestamp, Verdict};
use thiserror::Error;

use crate::excerpts::{BEFORE, Excerpt};
use crate::text_report::{Diagnosed, summary_line};
use crate::verdicts::{DiagnoseOptions, expected_by};
use pushtrace_model::human;

/// How the log's clock was placed on the UTC axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneSource {
    /// `--tz` named the zone (lines with their own offset keep it).
    Flag(String),
    /// No `--tz`: the read only succeeds when every line carries its own UTC offset.
    LogOffsets,
}

/// Everything the bundle is made of.
pub struct BundleInput<'a> {
    pub diagnosed: &'a [Diagnosed<'a>],
    /// One excerpt per push, in the order of `diagnosed`.
    pub excerpts: &'a [Excerpt],
    pub timeline: &'a DeviceTimeline,
    pub options: &'a DiagnoseOptions,
    /// The log as the user named it (a path, or `<stdin>`).
    pub log_name: String,
    pub zone: ZoneSource,
    pub html: String,
    pub json: String,
}

#[derive(Debug, Error)]
pub enum BundleError {
    #[error(
        "{}: the folder exists and is not empty; choose a new folder, empty it, or pass --force to write over it",
        .0.display()
    )]
    NotEmpty(PathBuf),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One checklist item: what it asks, whether it holds (`None`: cannot be checked), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub item: &'static str,
    pub ok: Option<bool>,
    pub why: String,
}

/// The pushes that were not on time.
fn failures<'a, 'b>(
    input: &'b BundleInput<'a>,
) -> impl Iterator<Item = (usize, &'b Diagnosed<'a>)> {
    input
        .diagnosed
        .iter()
        .enumerate()
        .filter(|(_, d)| d.verdict.outcome != Outcome::OnTime)
}

/// When a failure's story ends: the latest of its arrival, its recovery and when it was due.
fn story_end(push: &PushRecord, verdict: &Verdict, options: &DiagnoseOptions) -> Timestamp {
    let arrived = verdict.arrived_at;
    [
        Some(expected_by(push, options)),
        arrived,
        verdict.recovered_at,
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(push.sent_at)
}

/// The checklist Apple's engineers go through before they can use a report.
pub fn checklist(input: &BundleInput<'_>) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(Check {
        item: "Logs taken without a reboot since the failure",
        ok: None,
        why: "the rule catalogue reads no boot or shutdown line. A restart between the failure and the sysdiagnose loses the lines iOS keeps only in memory; \
              say in the report that the device was not restarted."
            .into(),
    });
    checks.push(Check {
        item: "Time zones stated",
        ok: Some(true),
        why: match &input.zone {
            ZoneSource::Flag(tz) => format!(
                "the log's times without an offset were read in --tz {tz}; every time in this \
                 bundle carries its UTC offset"
            ),
            ZoneSource::LogOffsets => "every log line carried its own UTC offset (no --tz was \
                                        needed); every time in this bundle carries its UTC offset"
                .into(),
        },
    });
    let missing: Vec<&str> = failures(input)
        .filter(|(_, d)| d.push.apns_id.is_none())
        .map(|(_, d)| d.verdict.push.as_str())
        .collect();
    let failed = failures(input).count();
    checks.push(Check {
        item: "apns-id included for every failure",
        ok: Some(missing.is_empty()),
        why: if failed == 0 {
            "no push failed".into()
        } else if missing.is_empty() {
            format!("all {failed} failure(s) have the apns-id APNs answered with")
        } else {
            format!(
                "no apns-id for {}: export APNs's apns-id response header with each push",
                missing.join(", ")
            )
        },
    });
    let (start, end) = (input.timeline.start, input.timeline.end);
    let uncovered: Vec<String> = failures(input)
        .filter(|(_, d)| d.verdict.outcome != Outcome::Rejected)
        .filter(|(_, d)| {
            let from = Timestamp::new(
                d.push.sent_at.utc_micros() - BEFORE.as_micros() as i64,
                d.push.sent_at.offset(),
            );
            // The device's side ends when the outage did; the app's receipt may come after
            // the last line of a log taken right then.
            let to = d
                .verdict
                .recovered_at
                .unwrap_or_else(|| story_end(d.push, d.verdict, input.options));
            !(start.is_some_and(|s| s <= from) && end.is_some_and(|e| e >= to))
        })
        .map(|(_, d)| d.verdict.push.clone())
        .collect();
    let covers = match (start, end) {
        (Some(s), Some(e)) => format!("the log covers {s} to {e}"),
        _ => "the log holds no dated line".into(),
    };
    checks.push(Check {
        item: "The logs cover each failure window",
        ok: Some(uncovered.is_empty()),
        why: if uncovered.is_empty() {
            format!(
                "{covers}: from a minute before each send to the end of its outage (else its arrival or deadline)"
            )
        } else {
            format!(
                "{covers}; not the whole window of {}: take the sysdiagnose sooner after the failure",
                uncovered.join(", ")
            )
        },
    });
    checks
}

/// Device and OS facts found in the logs, each with where it was found.
pub fn device_facts(input: &BundleInput<'_>) -> Vec<(&'static str, String)> {
    let mut facts = Vec::new();
    // iOS names a sysdiagnose `sysdiagnose_<date>_iPhone-OS_<device>_<build>`.
    let name = Path::new(&input.log_name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let os = name
        .split_once("_iPhone-OS_")
        .map(|(_, rest)| rest.split('.').next().unwrap_or(rest).to_string());
    facts.push((
        "OS build",
        match os.as_deref().and_then(|r| r.rsplit_once('_')) {
            Some((device, build)) => {
                format!("iOS build {build} on {device} (from the sysdiagnose's name)")
            }
            None => "not found in the logs".into(),
        },
    ));
    let from_pushes: Vec<String> = input
        .diagnosed
        .iter()
        .filter_map(|d| d.push.attrs.get("model"))
        .fold(Vec::new(), |mut seen, m| {
            if !seen.contains(m) {
                seen.push(m.clone());
            }
            seen
        });
    facts.push((
        "Device model",
        if from_pushes.is_empty() {
            "not found in the logs".into()
        } else {
            format!(
                "not found in the logs (the push records say {})",
                from_pushes.join(", ")
            )
        },
    ));
    let mut network = Vec::new();
    let mut registration = Vec::new();
    let mut apps = Vec::new();
    let add = |list: &mut Vec<String>, item: String| {
        if !list.contains(&item) {
            list.push(item);
        }
    };
    for e in &input.timeline.events {
        match &e.kind {
            EventKind::ApnsPathSatisfied {
                interface, radio, ..
            } => add(
                &mut network,
                format!(
                    "APNs over {}{}",
                    interface.as_deref().unwrap_or("<private>"),
                    radio
                        .as_deref()
                        .map(|r| format!(" [{r}]"))
                        .unwrap_or_default()
                ),
            ),
            EventKind::CellRegistration { state: Some(s) } => add(&mut registration, s.clone()),
            EventKind::VoipPushToApp {
                bundle: Some(b), ..
            }
            | EventKind::AppLaunchForPush {
                bundle: Some(b), ..
            }
            | EventKind::VoipBlocked {
                bundle: Some(b), ..
            } => add(&mut apps, b.clone()),
            EventKind::PushReceived { topic: Some(t), .. } => add(&mut apps, t.clone()),
            _ => {}
        }
    }
    let or_none = |list: Vec<String>| {
        if list.is_empty() {
            "not found in the logs".to_string()
        } else {
            list.join(", ")
        }
    };
    facts.push(("Network (apsd)", or_none(network)));
    facts.push(("Cellular registration", or_none(registration)));
    facts.push(("Apps and topics receiving pushes", or_none(apps)));
    facts
}

/// A file name for a push's excerpt: its label with anything but `[A-Za-z0-9._-]` replaced.
fn file_stem(label: &str, index: usize) -> String {
    let stem: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let stem = stem.trim_start_matches('.');
    if stem.is_empty() {
        format!("push-{}", index + 1)
    } else {
        stem.to_string()
    }
}

/// The excerpt file names, one per failure, unique even when two labels clean up the same way.
fn excerpt_names(input: &BundleInput<'_>) -> Vec<(usize, String)> {
    let mut taken: Vec<String> = Vec::new();
    failures(input)
        .map(|(i, d)| {
            let mut name = format!("{}.log", file_stem(&d.verdict.push, i));
            if taken.contains(&name) {
                name = format!("{}-{}.log", file_stem(&d.verdict.push, i), i + 1);
            }
            taken.push(name.clone());
            (i, name)
        })
        .collect()
}

fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// The bundle's README.md.
pub fn readme(input: &BundleInput<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# VoIP push failures: {}\n", cell(&input.log_name));
    let _ = writeln!(out, "{}.\n", summary_line(input.diagnosed));
    let _ = writeln!(out, "## Failures\n");
    let names = excerpt_names(input);
    if names.is_empty() {
        let _ = writeln!(out, "Every push arrived on time.\n");
    } else {
        let _ = writeln!(
            out,
            "| push | apns-id | topic | token | sent | expected | arrived | delay | verdict | log excerpt |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
        for (i, name) in &names {
            let d = &input.diagnosed[*i];
            let (p, v) = (d.push, d.verdict);
            let expected = match p.deadline {
                Some(deadline) => format!("{deadline} (the call's deadline)"),
                None => format!(
                    "{} (sent + {})",
                    expected_by(p, input.options),
                    human(input.options.on_time_within)
                ),
            };
            // On the clock the report's push records were put on (the device log's).
            let arrived = match (
                v.arrived_at.map(|a| a.with_offset(p.sent_at.offset())),
                p.received_at,
            ) {
                (Some(a), Some(r)) if a.utc_micros() == r.utc_micros() => {
                    format!("{a} (the app's receipt)")
                }
                (Some(a), _) => format!("{a} (apsd / callservicesd line)"),
                (None, _) => "not seen".into(),
            };
            let dash = || "—".to_string();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {}, `{}`, {} confidence | [excerpts/{name}](excerpts/{name}) |",
                cell(&v.push),
                p.apns_id.as_deref().map_or_else(dash, cell),
                p.topic.as_deref().map_or_else(dash, cell),
                p.device.as_deref().map_or_else(dash, cell),
                p.sent_at,
                expected,
                arrived,
                v.latency.map_or_else(|| "—".into(), human),
                v.outcome,
                v.cause,
                v.confidence.as_str(),
            );
        }
        for (i, _) in &names {
            let v = input.diagnosed[*i].verdict;
            let _ = writeln!(out, "\n- **{}**: {}", cell(&v.push), v.explanation);
        }
        out.push('\n');
    }
    let _ = writeln!(out, "## Device and OS, from the logs\n");
    for (what, fact) in device_facts(input) {
        let _ = writeln!(out, "- {what}: {}", cell(&fact));
    }
    let _ = writeln!(out, "\n## Checklist\n");
    for check in checklist(input) {
        let (mark, state) = match check.ok {
            Some(true) => ("x", "yes"),
            Some(false) => (" ", "no"),
            None => (" ", "cannot be checked"),
        };
        let _ = writeln!(
            out,
            "- [{mark}] **{}** ({state}): {}",
            check.item, check.why
        );
    }
    let _ = writeln!(
        out,
        "\n## Files\n\n- `report.html`: the full report, with a timeline of the device states around each failure (one file, opens offline)\n\
         - `verdicts.json`: every push with its verdict and the log lines it rests on\n\
         - `excerpts/`: the raw log lines of each failure window (from {} before the send to its arrival, recovery or deadline), each with its `file:line`",
        human(BEFORE)
    );
    out
}

/// One failure's excerpt file.
fn excerpt_text(d: &Diagnosed<'_>, excerpt: &Excerpt, input: &BundleInput<'_>) -> String {
    let p = d.push;
    let from = Timestamp::new(
        p.sent_at.utc_micros() - BEFORE.as_micros() as i64,
        p.sent_at.offset(),
    );
    let to = Timestamp::new(
        story_end(p, d.verdict, input.options).utc_micros() + 30_000_000,
        p.sent_at.offset(),
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {}: {} (sent {}); lines from {} to {}, each followed by its source",
        d.verdict.push, d.verdict.outcome, p.sent_at, from, to
    );
    let mut count = 0;
    for line in excerpt.between(from, to) {
        let _ = writeln!(out, "{}\t# {}", line.text, line.source);
        count += 1;
    }
    if count == 0 {
        let _ = writeln!(out, "# the log holds no line in this window");
    }
    if excerpt.left_out > 0 {
        let _ = writeln!(
            out,
            "# {} more line(s) in the window were left out (cap of {} a window)",
            excerpt.left_out,
            crate::excerpts::MAX_PER_WINDOW
        );
    }
    out
}

/// Whether `dir` may be written: absent or empty, or `force`.
fn check_target(dir: &Path, force: bool) -> Result<(), BundleError> {
    match fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            Some(_) if !force => Err(BundleError::NotEmpty(dir.to_path_buf())),
            _ => Ok(()),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_at(dir)(e)),
    }
}

/// Writes the bundle into `dir` (created if needed; refused when it holds anything, unless
/// `force`) and returns the files written.
pub fn write(
    dir: &Path,
    force: bool,
    input: &BundleInput<'_>,
) -> Result<Vec<PathBuf>, BundleError> {
    check_target(dir, force)?;
    let excerpts_dir = dir.join("excerpts");
    fs::create_dir_all(&excerpts_dir).map_err(io_at(&excerpts_dir))?;
    let mut files = vec![
        (dir.join("README.md"), readme(input)),
        (dir.join("report.html"), input.html.clone()),
        (dir.join("verdicts.json"), input.json.clone()),
    ];
    for (i, name) in excerpt_names(input) {
        let excerpt = input.excerpts.get(i).cloned().unwrap_or_default();
        files.push((
            excerpts_dir.join(name),
            excerpt_text(&input.diagnosed[i], &excerpt, input),
        ));
    }
    for (path, text) in &files {
        fs::write(path, text).map_err(io_at(path))?;
    }
    Ok(files.into_iter().map(|(path, _)| path).collect())
}

#[cfg(test)]
#[path = "bundle_tests.rs"]
mod tests;
