//! `pushtrace logs`: any iPhone log in, normalized records out, in time order.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use pushtrace_devicelog::rules::RuleSet;
use pushtrace_devicelog::{PUSH_SET, RecordFilter};
use pushtrace_model::terminal;
use regex::Regex;

use crate::clock_args::parse_instant;
use crate::input::InputArgs;

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

    /// Keep records at or after this instant (RFC 3339, or local time with --tz / --date).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Keep records at or before this instant.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Keep records whose message matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub grep: Option<String>,

    /// Print NDJSON records in pushtrace's schema (docs/formats.md) instead of syslog-style text.
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
            filter = filter.since(parse_instant("--since", since, clock)?);
        }
        if let Some(until) = &self.until {
            filter = filter.until(parse_instant("--until", until, clock)?);
        }
        if let Some(pattern) = &self.grep {
            filter = filter.grep(Regex::new(pattern).with_context(|| format!("--grep {pattern}"))?);
        }
        Ok(filter)
    }
}

pub fn run(args: LogsArgs) -> Result<ExitCode> {
    let clock = args.source.clock.clock()?;
    let filter = args.filter(&clock)?;
    let read = args.source.read(clock, filter, |builder| {
        let builder = builder.sort_memory(args.sort_memory.max(1) << 20);
        match args.threads {
            Some(threads) => builder.threads(threads),
            None => builder,
        }
    })?;

    let stdout = io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 20, stdout);
    let written = write_records(&mut out, read.records, args.json);
    match written.and_then(|()| out.flush().map_err(anyhow::Error::from)) {
        Ok(()) => {}
        // `pushtrace logs … | head` closes the pipe early: that is not an error.
        Err(e) if is_broken_pipe(&e) => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e),
    }
    args.source.report(&read.summary);
    Ok(ExitCode::SUCCESS)
}

fn write_records(
    out: &mut impl Write,
    records: pushtrace_devicelog::SortedRecords,
    json: bool,
) -> Result<()> {
    for record in records {
        let record = record?;
        if json {
            serde_json::to_writer(&mut *out, &record)?;
            out.write_all(b"\n")?;
        } else {
            // A multi-line message keeps its continuation lines, so the text reads back as the
            // syslog style; every other control character is shown escaped.
            out.write_all(terminal::escape_lines(&record.syslog_line()).as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
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
