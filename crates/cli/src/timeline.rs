//! `pushtrace timeline`: what the iPhone was doing, from its own log, with what is not known.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use pushtrace_devicelog::rules::{OsVersion, RuleSet};
use pushtrace_devicelog::timeline::{self, render, summary, unmatched::Unmatched};
use pushtrace_model::{Timestamp, terminal};
use serde_json::json;

use crate::clock_args::{parse_duration, parse_instant};
use crate::input::InputArgs;

#[derive(Args, Debug)]
pub struct TimelineArgs {
    #[command(flatten)]
    pub source: InputArgs,

    /// Center the timeline on this instant (RFC 3339, or local time with --tz / --date),
    /// e.g. when a push was sent.
    #[arg(long, value_name = "TIME")]
    pub around: Option<String>,

    /// The width of the window around --around: 10m shows 5 minutes either side.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10m",
        requires = "around"
    )]
    pub window: String,

    /// The calling app's process name (e.g. Comera): its lines are read too, so PushKit's
    /// messages inside the app are understood.
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,

    /// A rules file that adds to the embedded catalogue (a rule with the same id replaces it).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// The device's iOS version, to use only rules written for it (e.g. 26.4).
    #[arg(long, value_name = "VERSION")]
    pub ios: Option<String>,

    /// Instead of the timeline, list the lines of watched processes that no rule matched,
    /// grouped by message shape with counts.
    #[arg(long)]
    pub unmatched: bool,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: TimelineArgs) -> Result<ExitCode> {
    let mut rules = match &args.rules {
        Some(path) => RuleSet::with_file(path)?,
        None => RuleSet::embedded().context("the embedded rule catalogue")?,
    };
    if let Some(version) = &args.ios {
        rules = rules.for_os(
            &OsVersion::parse(version)
                .map_err(anyhow::Error::msg)
                .context("--ios")?,
        );
    }
    let clock = args.source.clock.clock()?;
    let also_watch: Vec<String> = args.app.iter().cloned().collect();
    let mut filter = rules.read_filter(&also_watch);
    // The log before the window is read too (only its end bounds the read): the states the
    // device was in when the window opens were set by lines before it.
    let mut window = None;
    if let Some(around) = &args.around {
        let center = parse_instant("--around", around, &clock)?;
        let half = parse_duration("--window", &args.window)? / 2;
        let shift = |delta: i64| Timestamp::new(center.utc_micros() + delta, center.offset());
        window = Some((shift(-half), shift(half)));
        filter = filter.until(shift(half));
        if args.unmatched {
            filter = filter.since(shift(-half));
        }
    }
    let read = args.source.read(clock, filter, |builder| builder)?;
    let format = read.summary.format;
    let mut unmatched = args.unmatched.then(Unmatched::default);
    let mut built = timeline::build(
        read.records,
        read.summary.span,
        &rules,
        &also_watch,
        unmatched.as_mut(),
    )?;
    if let Some((from, to)) = window {
        built.timeline = built.timeline.window(from, to);
    }
    args.source.report(&read.summary);
    if built.rule_error_count > 0 && !args.source.quiet {
        eprintln!(
            "  {} line(s) matched a rule but could not be read:",
            built.rule_error_count
        );
        for error in &built.rule_errors {
            eprintln!("    {}", terminal::escape(error));
        }
    }

    let input = args.source.input.display().to_string();
    let text = match (unmatched, args.json) {
        (Some(unmatched), true) => {
            let shapes = unmatched.shapes();
            serde_json::to_string_pretty(
                &json!({ "input": input, "format": format, "unmatched": shapes }),
            )? + "\n"
        }
        (Some(unmatched), false) => unmatched_text(&input, unmatched),
        (None, true) => {
            let t = &built.timeline;
            let value = json!({
                "input": input,
                "format": format,
                "start": t.start,
                "end": t.end,
                "events": t.events,
                "states": t.states,
                "summary": summary::sentences(t),
                "rule_errors": built.rule_errors,
            });
            serde_json::to_string_pretty(&value)? + "\n"
        }
        (None, false) => render::text(
            &built.timeline,
            &format!("Timeline of {input} ({})", format.describe()),
        ),
    };
    // The text quotes log lines; JSON carries them exactly.
    let text = if args.json {
        text.into()
    } else {
        terminal::escape_lines(&text)
    };
    match io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}

fn unmatched_text(input: &str, unmatched: Unmatched) -> String {
    let shapes = unmatched.shapes();
    let total: u64 = shapes.iter().map(|s| s.count).sum();
    let mut out = format!(
        "{total} line(s) of watched processes in {input} matched no rule, in {} shape(s):\n\n",
        shapes.len()
    );
    let width = shapes
        .iter()
        .map(|s| s.process.len())
        .max()
        .unwrap_or(7)
        .max(7);
    out.push_str(&format!(
        "{:>7}  {:width$}  shape (first example at)\n",
        "count", "process"
    ));
    for shape in shapes {
        out.push_str(&format!(
            "{:>7}  {:width$}  {}\n",
            shape.count, shape.process, shape.shape
        ));
        out.push_str(&format!(
            "{:>7}  {:width$}    e.g. {}: {}\n",
            "", "", shape.origin, shape.example
        ));
    }
    out
}
