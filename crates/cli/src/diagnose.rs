//! `pushtrace diagnose`: for every push a server sent, what the iPhone's log says happened to
//! it — outcome, cause, confidence, evidence — as a terminal report or JSON.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use pushtrace_devicelog::RecordFilter;
use pushtrace_devicelog::rules::RuleSet;
use pushtrace_devicelog::timeline;
use pushtrace_diagnose::markdown_report;
use pushtrace_diagnose::text_report::{Diagnosed, render};
use pushtrace_diagnose::{DiagnoseOptions, Push, PushReader, diagnose, push_from_arg, sort_pushes};
use serde_json::json;

use crate::input::InputArgs;

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

    /// The calling app's process name (e.g. Comera): its lines are read too.
    #[arg(long, value_name = "NAME")]
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
}

pub fn run(args: DiagnoseArgs) -> Result<ExitCode> {
    let clock = args.source.clock.clock()?;
    let mut pushes: Vec<Push> = match &args.pushes {
        Some(path) => {
            let read = PushReader::builder()
                .strict(args.source.strict)
                .build()
                .read(path)?;
            if !args.source.quiet {
                eprint!("{}", read.summary);
            }
            read.pushes
        }
        None => args
            .push
            .iter()
            .enumerate()
            .map(|(i, text)| push_from_arg(text, i as u64 + 1, &clock))
            .collect::<Result<_, _>>()
            .context("--push")?,
    };
    if let Some(topic) = &args.topic {
        pushes.retain(|p| p.record.topic.as_deref() == Some(topic.as_str()));
    }
    sort_pushes(&mut pushes);
    if pushes.is_empty() {
        bail!("no push to diagnose: the pushes file is empty or no push has --topic");
    }

    let rules = match &args.rules {
        Some(path) => RuleSet::with_file(path)?,
        None => RuleSet::embedded().context("the embedded rule catalogue")?,
    };
    let also_watch: Vec<String> = args.app.iter().cloned().collect();
    let filter = RecordFilter::new()
        .processes(rules.processes())
        .processes(&also_watch);
    let read = args.source.read(clock, filter, |builder| builder)?;
    let built = timeline::build(read.records, &rules, &also_watch, None)?;
    args.source.report(&read.summary);

    let options = DiagnoseOptions {
        on_time_within: std::time::Duration::from_secs(args.late_after),
        ..DiagnoseOptions::default()
    };
    let verdicts: Vec<_> = pushes
        .iter()
        .map(|p| diagnose(&p.record, &built.timeline, &options))
        .collect();

    let text = if args.json {
        let items: Vec<_> = pushes
            .iter()
            .zip(&verdicts)
            .map(|(p, v)| json!({ "origin": p.origin.to_string(), "push": p.record, "verdict": v }))
            .collect();
        let value = json!({
            "input": args.source.input.display().to_string(),
            "log_start": built.timeline.start,
            "log_end": built.timeline.end,
            "pushes": items,
        });
        serde_json::to_string_pretty(&value)? + "\n"
    } else {
        let diagnosed: Vec<Diagnosed<'_>> = pushes
            .iter()
            .zip(&verdicts)
            .map(|(p, verdict)| Diagnosed {
                push: &p.record,
                verdict,
            })
            .collect();
        if args.markdown {
            let name = args
                .source
                .input
                .file_name()
                .map_or_else(|| "<stdin>".into(), |n| n.to_string_lossy().into_owned());
            markdown_report::render(&name, &diagnosed)
        } else {
            render(&diagnosed)
        }
    };
    match io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}
