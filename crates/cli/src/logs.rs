//! `pushtrace logs`: any iPhone log in, normalized records out, in time order.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use clap::Args;
use pushtrace_devicelog::rules::RuleSet;
use pushtrace_devicelog::{LineFormatter, PUSH_SET, Predicate, RecordFilter, SortedLines};
use pushtrace_model::{Level, Timestamp};
use regex::Regex;

use crate::clock_args::{parse_duration, parse_instant};
use crate::input::InputArgs;
use crate::log_styles::{Style, StyleWriter};

#[derive(Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    pub source: InputArgs,

    /// Keep only these processes (comma-separated short names, e.g. apsd,powerd).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub process: Vec<String>,

    /// Keep the processes push forensics needs: apsd, powerd, kernel, symptomsd, CommCenter,
    /// callservicesd, SpringBoard, runningboardd, dasd, wifid, configd (plus --app), and the
    /// lines of any process that PushKit logs inside the app (the rules for any process).
    #[arg(long)]
    pub push_set: bool,

    /// The calling app's process name, added to --push-set (e.g. Comera).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,

    /// Keep records at or after this instant: RFC 3339, log show's 'YYYY-MM-DD HH:MM:SS+ZZZZ',
    /// or without a zone in --tz ('YYYY-MM-DD' is its midnight; a time of day needs --date).
    #[arg(long, visible_alias = "start", value_name = "TIME")]
    pub since: Option<String>,

    /// Keep records at or before this instant (same forms as --since).
    #[arg(long, visible_alias = "end", value_name = "TIME")]
    pub until: Option<String>,

    /// Keep the records of the last stretch of the log, e.g. 2h, 30m, 1d: counted back from
    /// the last record the other filters keep (a log read here is not live).
    #[arg(long, value_name = "DURATION")]
    pub last: Option<String>,

    /// Keep records whose message matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub grep: Option<String>,

    /// Keep records this log show predicate holds for, e.g. 'process == "apsd" AND
    /// eventMessage CONTAINS[c] "connect"' (keys, operators: docs/formats.md).
    #[arg(long, value_name = "PREDICATE")]
    pub predicate: Option<String>,

    /// Also show info records (hidden by default, as log show hides them).
    #[arg(long)]
    pub info: bool,

    /// Also show debug records (hidden by default, as log show hides them).
    #[arg(long)]
    pub debug: bool,

    /// How to print the records, as log show's --style: default, syslog, compact, json or
    /// ndjson. Without it, the syslog style.
    #[arg(long, value_enum, value_name = "STYLE", conflicts_with = "json")]
    pub style: Option<Style>,

    /// Print NDJSON records in pushtrace's schema (docs/formats.md) instead of text.
    #[arg(long)]
    pub json: bool,

    /// Memory for sorting before runs spill to temporary files, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub sort_memory: usize,

    /// Parser threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

impl LogsArgs {
    fn filter(&self, clock: &pushtrace_devicelog::LocalClock) -> Result<RecordFilter> {
        let mut filter = RecordFilter::new();
        if self.push_set {
            // PushKit logs in the app's own process, which --app may not name.
            let rules = RuleSet::embedded().context("the embedded rule catalogue")?;
            filter = filter
                .processes(PUSH_SET)
                .processes(self.app.as_slice())
                .anywhere(rules.anywhere_literals());
        } else if let Some(app) = &self.app {
            filter = filter.processes([app]);
        }
        if !self.process.is_empty() {
            filter = filter.processes(&self.process);
        }
        if let Some(since) = &self.since {
            filter = filter.since(parse_instant("--since/--start", since, clock)?);
        }
        if let Some(until) = &self.until {
            filter = filter.until(parse_instant("--until/--end", until, clock)?);
        }
        if let Some(pattern) = &self.grep {
            filter = filter.grep(Regex::new(pattern).with_context(|| format!("--grep {pattern}"))?);
        }
        if let Some(text) = &self.predicate {
            let predicate = Predicate::parse(text).map_err(|e| {
                anyhow::anyhow!("--predicate {text}: {e} (what pushtrace runs: docs/formats.md, \"--predicate\")")
            })?;
            filter = filter.predicate(predicate);
        }
        filter = filter.hide_levels(self.hidden_levels());
        Ok(filter)
    }

    /// log show's levels: info and debug records are hidden unless asked for.
    fn hidden_levels(&self) -> Vec<Level> {
        let mut hidden = Vec::new();
        if !self.info {
            hidden.push(Level::Info);
        }
        if !self.debug {
            hidden.push(Level::Debug);
        }
        hidden
    }

    fn style(&self) -> Style {
        match self.style {
            Some(style) => style,
            None if self.json => Style::Records,
            None => Style::Syslog,
        }
    }
}

pub fn run(args: LogsArgs) -> Result<ExitCode> {
    let clock = args.source.clock.clock()?;
    let filter = args.filter(&clock)?;
    let last = args
        .last
        .as_deref()
        .map(|text| parse_duration("--last", text))
        .transpose()?;
    let hides_levels = !(args.info && args.debug);
    if hides_levels && !args.source.quiet {
        // log show's own words, so its users recognise the default.
        eprintln!("Skipping info and debug messages, pass --info and/or --debug to include.");
    }
    let out = Arc::new(Mutex::new(BufWriter::with_capacity(64 << 10, io::stdout())));
    let formatter = line_formatter(args.style());
    // Lines are written during the read when that changes nothing a user sees: not with --last
    // (which is counted back from the last record), not with --strict (which must fail before
    // printing anything), not to a terminal (where they would cross the progress bar).
    let streams =
        formatter.is_some() && last.is_none() && !args.source.strict && !io::stdout().is_terminal();
    let mut writer = StyleWriter::new(args.style());
    let mut started = false;
    if streams {
        with_output(&out, |out| writer.begin(out).map_err(anyhow::Error::from))?;
        started = true;
    }
    let read = args.source.read(clock, filter, |builder| {
        let builder = builder.sort_memory(args.sort_memory.max(1) << 20);
        let builder = match formatter {
            Some(formatter) if streams => builder.lines(formatter).write_lines_to(out.clone()),
            Some(formatter) => builder.lines(formatter),
            None => builder,
        };
        match args.threads {
            Some(threads) => builder.threads(threads),
            None => builder,
        }
    });
    let read = match read {
        Ok(read) => read,
        // `pushtrace logs … | head` closes the pipe early: that is not an error.
        Err(e) if is_broken_pipe(&e) => return Ok(ExitCode::SUCCESS),
        Err(e) => {
            // What is still buffered (at least the header, before a read that fails at once)
            // is not printed.
            if let Ok(out) = Arc::try_unwrap(out) {
                let out = out
                    .into_inner()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                drop(out.into_parts());
            }
            return Err(e);
        }
    };

    let mut summary = read.summary;
    // Records come out in time order, so the last one kept is known once the read is done.
    let from = match (last, summary.last_kept_at) {
        (Some(span), Some(end)) => {
            let from = Timestamp::new(end.utc_micros().saturating_sub(span), end.offset());
            if !args.source.quiet {
                eprintln!(
                    "--last {}: from {from} to {end}, the last record kept (the log is not live)",
                    args.last.as_deref().unwrap_or_default()
                );
            }
            Some(from)
        }
        _ => None,
    };
    let mut before = 0u64;
    let written = with_output(&out, |out| {
        if !started {
            writer.begin(out)?;
        }
        match read.lines {
            Some(lines) => write_lines(out, lines, from, &mut before)?,
            None => write_records(out, read.records, &mut writer, from, &mut before)?,
        }
        writer.end(out)?;
        out.flush().map_err(anyhow::Error::from)
    });
    match written {
        Ok(()) => {}
        // `pushtrace logs … | head` closes the pipe early: that is not an error.
        Err(e) if is_broken_pipe(&e) => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e),
    }
    summary.records_kept -= before;
    summary.records_filtered += before;
    args.source.report(&summary);
    Ok(ExitCode::SUCCESS)
}

/// Runs `write` on the output shared with the reader.
fn with_output<T>(
    out: &Mutex<BufWriter<io::Stdout>>,
    write: impl FnOnce(&mut BufWriter<io::Stdout>) -> Result<T>,
) -> Result<T> {
    // The reader's threads have stopped by the time this runs: a poisoned lock only means one
    // of them panicked while writing, and its error has been reported.
    let mut out = out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    write(&mut out)
}

/// Writes the records at or after `from`, counting in `before` those it leaves out.
fn write_records(
    out: &mut impl Write,
    records: pushtrace_devicelog::SortedRecords,
    writer: &mut StyleWriter,
    from: Option<Timestamp>,
    before: &mut u64,
) -> Result<()> {
    for record in records {
        let record = record?;
        if from.is_some_and(|from| record.at < from) {
            *before += 1;
            continue;
        }
        writer.record(out, &record)?;
    }
    Ok(())
}

/// How the styles whose records print independently of each other (no separator, no count)
/// format one record: those are formatted on every core during the read and sorted as bytes,
/// which is much cheaper when many records are kept. The others are written record by record.
fn line_formatter(style: Style) -> Option<LineFormatter> {
    match style {
        Style::Records => Some(Arc::new(|record, out| {
            record.write_json(out);
            out.push(b'\n');
        })),
        Style::Syslog | Style::Default | Style::Compact => Some(Arc::new(move |record, out| {
            // Writing to a Vec cannot fail.
            let _ = StyleWriter::new(style).record(out, record);
        })),
        Style::Json | Style::Ndjson => None,
    }
}

/// Writes lines formatted by [`line_formatter`] at or after `from`, as [`write_records`] does
/// (after those the reader wrote during the read).
fn write_lines(
    out: &mut impl Write,
    lines: SortedLines,
    from: Option<Timestamp>,
    before: &mut u64,
) -> Result<()> {
    *before += lines.write_to(out, from.map(|from| from.utc_micros()))?;
    Ok(())
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(|e| e.io_error_kind())
                .is_some_and(|k| k == io::ErrorKind::BrokenPipe)
    })
}
