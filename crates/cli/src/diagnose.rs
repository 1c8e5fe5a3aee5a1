//! `pushtrace diagnose`: for every push a server sent, what the iPhone's log says happened to
//! it — outcome, cause, confidence, evidence — as a terminal, Markdown or HTML report or JSON,
//! and the bug-report bundle for Apple's Feedback Assistant (`--bundle`).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use pushtrace_devicelog::RecordFilter;
use pushtrace_devicelog::rules::RuleSet;
use pushtrace_devicelog::timeline;
use pushtrace_diagnose::bundle::{self, BundleInput, ZoneSource};
use pushtrace_diagnose::excerpts::ExcerptCollector;
use pushtrace_diagnose::text_report::{Diagnosed, render};
use pushtrace_diagnose::{
    DiagnoseOptions, LogClock, Push, PushReader, PushSummary, diagnose_all, is_ring, push_from_arg,
    sort_pushes, why_not_a_ring,
};
use pushtrace_diagnose::{html_report, markdown_report};
use pushtrace_model::terminal;
use serde_json::json;

use crate::input::InputArgs;

/// Exit code: the report was written, but lines of the pushes file were skipped as bad push
/// records (without `--lenient`), so the report may lack pushes.
pub const EXIT_SKIPPED_PUSHES: u8 = 3;

#[derive(Args, Debug)]
pub struct DiagnoseArgs {
    #[command(flatten)]
    pub source: InputArgs,

    /// The pushes the server sent: push records as JSONL or CSV (docs/formats.md, "Push
    /// records"), plain or .gz.
    #[arg(long, value_name = "FILE", required_unless_present = "push")]
    pub pushes: Option<PathBuf>,

    /// One push by its send time, optionally with its apns-id: `17:47:00` (with --date/--tz),
    /// an RFC 3339 time, or epoch ms. Repeat for several.
    #[arg(long, value_name = "TIME[,APNS-ID]", conflicts_with = "pushes")]
    pub push: Vec<String>,

    /// The calling app: its process name (e.g. Comera), whose lines are read too, or its bundle
    /// id (e.g. com.acme.call), which keeps the pushes of its topics and lets only log lines for
    /// it count as a push's arrival.
    #[arg(long, value_name = "NAME|BUNDLE-ID")]
    pub app: Option<String>,

    /// Only the pushes with this apns-topic.
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,

    /// A rules file that adds to the embedded catalogue.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// Without a deadline in the push record, a push arriving later than this many seconds
    /// after it was sent is late.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub late_after: u64,

    /// Print JSON (every push record with its verdict) instead of the report.
    #[arg(long)]
    pub json: bool,

    /// Print the report as Markdown (to paste into an issue or a Feedback Assistant report).
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,

    /// Print the report as one self-contained HTML file (inline CSS and SVG timelines, nothing
    /// fetched from the network).
    #[arg(long, conflicts_with_all = ["json", "markdown"])]
    pub html: bool,

    /// Write the report (in the format chosen) to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Also write the bug-report package for Apple's Feedback Assistant into DIR: README.md
    /// (failures, device facts, checklist), excerpts/<push>.log, report.html, verdicts.json.
    #[arg(long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,

    /// With --bundle: write into DIR even when it is not empty.
    #[arg(long, requires = "bundle")]
    pub force: bool,

    /// Exit 0 even when bad lines of the pushes file were skipped (they are still reported on
    /// stderr); without it such a run exits 3.
    #[arg(long)]
    pub lenient: bool,
}

impl DiagnoseArgs {
    /// `--app` as a bundle id (`com.acme.call`): it has a dot, an app's executable name does not.
    fn app_bundle(&self) -> Option<&str> {
        self.app.as_deref().filter(|a| a.contains('.'))
    }
}

/// Whether a push record's topic belongs to the app `bundle` (`com.acme.call`,
/// `com.acme.call.voip`, …); a push without a topic may.
fn for_app(topic: Option<&str>, bundle: &str) -> bool {
    topic.is_none_or(|t| t == bundle || t.strip_prefix(bundle).is_some_and(|r| r.starts_with('.')))
}

pub fn run(args: DiagnoseArgs) -> Result<ExitCode> {
    let clock = args.source.clock.clock()?;
    let (mut pushes, push_summary): (Vec<Push>, Option<PushSummary>) = match &args.pushes {
        Some(path) => {
            let read = PushReader::builder()
                .strict(args.source.strict)
                .build()
                .read(path)?;
            // Skipped pushes change the report, so they are said whatever `--quiet` asks.
            if !args.source.quiet {
                eprint!("{}", terminal::escape_lines(&read.summary.to_string()));
            } else if read.summary.skipped > 0 {
                eprint!(
                    "{}",
                    terminal::escape_lines(&skipped_account(&read.summary))
                );
            }
            if read.pushes.is_empty() {
                bail!("{}", no_push_read(&read.summary));
            }
            (read.pushes, Some(read.summary))
        }
        None => (
            args.push
                .iter()
                .enumerate()
                .map(|(i, text)| push_from_arg(text, i as u64 + 1, &clock))
                .collect::<Result<_, _>>()
                .context("--push")?,
            None,
        ),
    };
    let read_count = pushes.len();
    if let Some(topic) = &args.topic {
        pushes.retain(|p| p.record.topic.as_deref() == Some(topic.as_str()));
    }
    if let Some(bundle) = args.app_bundle() {
        pushes.retain(|p| for_app(p.record.topic.as_deref(), bundle));
    }
    sort_pushes(&mut pushes);
    if pushes.is_empty() {
        bail!(
            "no push to diagnose: none of the {read_count} push(es) read has {}",
            match (&args.topic, args.app_bundle()) {
                (Some(topic), None) => format!("the topic `{topic}` (--topic)"),
                (None, Some(app)) => format!("a topic of the app `{app}` (--app)"),
                _ => "the --topic and a topic of the --app given".to_string(),
            }
        );
    }
    let skipped = push_summary.as_ref().map_or(0, |s| s.skipped);
    // Refuse a bundle folder before the read, which may take minutes.
    if let Some(dir) = &args.bundle
        && !args.force
        && fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
    {
        bail!(
            "--bundle {}: the folder exists and is not empty; choose a new folder, empty it, or pass --force to write over it",
            dir.display()
        );
    }

    let rules = match &args.rules {
        Some(path) => RuleSet::with_file(path)?,
        None => RuleSet::embedded().context("the embedded rule catalogue")?,
    };
    // Some process names have dots too (XPC services), so a dotted --app is read as a process
    // as well: a name no process has costs nothing.
    let also_watch: Vec<String> = args.app.iter().cloned().collect();
    let filter = rules.read_filter(&also_watch);
    let options = DiagnoseOptions {
        on_time_within: std::time::Duration::from_secs(args.late_after),
        app: args.app_bundle().map(str::to_owned),
        app_process: args.app.clone(),
        ..DiagnoseOptions::default()
    };
    // A missed-call alert (or any push that is not VoIP) is not a ring: it is listed, not judged.
    let (rings, not_rings): (Vec<Push>, Vec<Push>) =
        pushes.into_iter().partition(|p| is_ring(&p.record));
    let pushes = rings;
    if pushes.is_empty() {
        bail!(
            "no ring to diagnose: the {} push(es) given are all of another push type than voip (missed-call alerts are not judged as rings)",
            not_rings.len()
        );
    }
    // The bundle's excerpts show every process's lines around a failure, so the reader keeps
    // everything and the timeline gets the same records it would otherwise (same verdicts).
    let mut collector = args
        .bundle
        .as_ref()
        .map(|_| ExcerptCollector::new(pushes.iter().map(|p| &p.record), &options));
    let read_filter = if collector.is_some() {
        RecordFilter::new()
    } else {
        filter.clone()
    };
    let read = args.source.read(clock, read_filter, |builder| builder)?;
    let records = read.records.filter(|record| match record {
        Ok(record) => {
            if let Some(collector) = collector.as_mut() {
                collector.offer(record);
            }
            filter.wants(record)
        }
        Err(_) => true,
    });
    let span = read.summary.span;
    let built = timeline::build(records, span, &rules, &also_watch, None)?;
    args.source.report(&read.summary);

    let verdicts = diagnose_all(pushes.iter().map(|p| &p.record), &built.timeline, &options);
    // Reports show every time on the device log's clock, so a line can be found by its time.
    let clock = LogClock::of(&built.timeline);
    let on_log_clock: Vec<_> = pushes
        .iter()
        .map(|p| p.record.on_offset(clock.offset))
        .collect();
    let diagnosed: Vec<Diagnosed<'_>> = on_log_clock
        .iter()
        .zip(&verdicts)
        .map(|(push, verdict)| Diagnosed { push, verdict })
        .collect();
    let day = |t: pushtrace_model::Timestamp| {
        let c = t.with_offset(clock.offset).local();
        format!("{:04}-{:02}-{:02}", c.year, c.month, c.day)
    };
    let log_days: std::collections::BTreeSet<String> = [built.timeline.start, built.timeline.end]
        .into_iter()
        .flatten()
        .map(day)
        .collect();
    let push_days: std::collections::BTreeSet<String> =
        pushes.iter().map(|p| day(p.record.sent_at)).collect();
    let days = if log_days.is_empty() || log_days == push_days {
        format!(
            ", {}",
            push_days.into_iter().collect::<Vec<_>>().join(" to ")
        )
    } else {
        format!(
            "; the log runs on {}, the pushes were sent on {}",
            log_days.into_iter().collect::<Vec<_>>().join(" to "),
            push_days.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    let clock_line = format!(
        "Times are on the device log's clock (UTC{}){days}.{}\n",
        clock.offset,
        if not_rings.is_empty() {
            String::new()
        } else {
            format!(
                " {} push(es) of another type than voip (a missed-call alert, or a ring sent as another type, which cannot ring) are listed, not judged as rings.",
                not_rings.len()
            )
        }
    );
    let name = args
        .source
        .input
        .file_name()
        .map_or_else(|| "<stdin>".into(), |n| n.to_string_lossy().into_owned());
    let json = || -> Result<String> {
        let items: Vec<_> = pushes
            .iter()
            .zip(&verdicts)
            .map(|(p, v)| json!({ "origin": p.origin.to_string(), "push": p.record, "verdict": v }))
            .collect();
        let not_judged: Vec<_> = not_rings
            .iter()
            .map(|p| json!({ "origin": p.origin.to_string(), "push": p.record, "why": why_not_a_ring(&p.record, pushes.iter().map(|r| &r.record)) }))
            .collect();
        let value = json!({
            "input": args.source.input.display().to_string(),
            "log_start": built.timeline.start,
            "log_end": built.timeline.end,
            "pushes": items,
            "not_judged": not_judged,
            "skipped": push_summary.as_ref().map(|s| json!({
                "count": s.skipped,
                "first": s.skipped_examples,
            })),
        });
        Ok(serde_json::to_string_pretty(&value)? + "\n")
    };
    let html = || html_report::render(&name, &diagnosed, &built.timeline, &options);

    if let (Some(dir), Some(collector)) = (&args.bundle, collector) {
        let excerpts = collector.finish();
        let input = BundleInput {
            diagnosed: &diagnosed,
            excerpts: &excerpts,
            timeline: &built.timeline,
            options: &options,
            log_name: args.source.input.display().to_string(),
            zone: match &args.source.clock.tz {
                Some(tz) => ZoneSource::Flag(tz.clone()),
                None => ZoneSource::LogOffsets,
            },
            html: html(),
            json: json()?,
        };
        let files = bundle::write(dir, args.force, &input)?;
        if !args.source.quiet {
            eprintln!(
                "bundle: {} file(s) written to {} (start with README.md)",
                files.len(),
                dir.display()
            );
        }
    }

    let text = if args.json {
        json()?
    } else if args.html {
        html()
    } else if args.markdown {
        // The reports quote log lines and push ids; JSON and HTML have their own escaping.
        terminal::escape_lines(&(markdown_report::render(&name, &diagnosed) + "\n" + &clock_line))
            .into_owned()
    } else {
        terminal::escape_lines(&(clock_line.clone() + &render(&diagnosed))).into_owned()
    };
    if let Some(path) = &args.output {
        write_file(path, &text)?;
    } else {
        match io::stdout().lock().write_all(text.as_bytes()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            Err(e) => return Err(e.into()),
        }
    }
    if skipped == 0 || args.lenient {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "{skipped} bad line(s) of the pushes file were skipped, so the report may lack pushes: \
         exit code {EXIT_SKIPPED_PUSHES}. Fix the lines, or pass --lenient to accept the report \
         without them"
    );
    Ok(ExitCode::from(EXIT_SKIPPED_PUSHES))
}

/// The skipped lines of a pushes read, for `--quiet`, which leaves out the rest of the account.
fn skipped_account(summary: &PushSummary) -> String {
    let mut text = format!(
        "{}: {} bad line(s) skipped (not valid push records); the first:\n",
        summary.input, summary.skipped
    );
    for example in &summary.skipped_examples {
        text.push_str(&format!("    {example}\n"));
    }
    text
}

/// Why a pushes file gave no push: every line bad, or nothing but blank lines and a header.
fn no_push_read(summary: &PushSummary) -> String {
    if summary.skipped == 0 {
        return format!(
            "no push to diagnose: {} has no push record ({} line(s), {} blank)",
            summary.input, summary.lines, summary.blank_lines
        );
    }
    let first = summary
        .skipped_examples
        .first()
        .map(|e| format!("; the first: {e}"))
        .unwrap_or_default();
    format!(
        "no push to diagnose: all {} push line(s) of {} are bad and were skipped{first} \
         (docs/formats.md, \"Push records\")",
        summary.skipped, summary.input
    )
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text)
        .with_context(|| format!("--output {}: cannot write the report", path.display()))
}
