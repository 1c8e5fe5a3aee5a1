//! What a read did: the detected format and every count a user needs to trust the output.

use std::collections::BTreeMap;
use std::fmt;

use pushtrace_model::{LogRecord, Timestamp};
use serde::Serialize;

use crate::clock::Zone;
use crate::filter::RecordFilter;
use crate::format::Format;

/// What became of the records that passed the process and message filters, counted where
/// they are taken (a parsing thread counts its chunk's) and added to the [`ReadSummary`] in
/// input order.
#[derive(Debug, Default)]
pub(crate) struct KeptTally {
    kept: u64,
    last_kept_at: Option<Timestamp>,
    by_message: BTreeMap<String, u64>,
    /// Their times, in or out of the time filter.
    span: Option<LogSpan>,
    /// Those outside `--since`/`--until`.
    outside_times: u64,
}

impl KeptTally {
    /// Applies the time filter to a record the other filters kept; whether it is kept.
    pub fn admit(&mut self, record: &LogRecord, filter: &RecordFilter) -> bool {
        self.span = Some(LogSpan::widen(self.span, record.at));
        if !filter.wants_time(record.at) {
            self.outside_times += 1;
            return false;
        }
        self.count(record, filter);
        true
    }

    /// Counts a record that passed every filter.
    fn count(&mut self, record: &LogRecord, filter: &RecordFilter) {
        self.kept += 1;
        self.last_kept_at = self.last_kept_at.max(Some(record.at));
        // A record of a refused process can only have been kept for its message.
        if filter.has_anywhere() && !filter.wants_process(record.process.as_bytes()) {
            *self.by_message.entry(record.process.clone()).or_default() += 1;
        }
    }
}

/// Why a line was skipped. Skips are counted, never silent: `--strict` turns the first into an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The line does not have the shape of its format.
    Malformed,
    /// The timestamp is not a real date or time.
    BadTimestamp,
    /// Continuation lines with no record before them (e.g. the input starts mid-record).
    OrphanContinuation,
    /// A line beyond [`crate::MAX_LINE_BYTES`].
    LineTooLong,
    /// A JSON record that does not parse or lacks a required field.
    BadJson,
    /// A CSV row that does not parse or lacks a required column.
    BadCsv,
}

impl SkipReason {
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::Malformed => "line does not have the shape of the format",
            SkipReason::BadTimestamp => "timestamp is not a valid date/time",
            SkipReason::OrphanContinuation => "continuation lines with no record before them",
            SkipReason::LineTooLong => "line longer than the 16 MiB limit",
            SkipReason::BadJson => "JSON record does not parse or lacks a field",
            SkipReason::BadCsv => "CSV row does not parse or lacks a column",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Counts of one skip reason and where the first few happened.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SkipCount {
    pub count: u64,
    /// `file:line: detail` of the first [`ReadSummary::EXAMPLES`] skips.
    pub examples: Vec<String>,
}

/// The first and last instant of a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LogSpan {
    pub first: Timestamp,
    pub last: Timestamp,
}

impl LogSpan {
    /// `span` widened to hold `at`.
    pub(crate) fn widen(span: Option<LogSpan>, at: Timestamp) -> LogSpan {
        match span {
            Some(span) => LogSpan {
                first: span.first.min(at),
                last: span.last.max(at),
            },
            None => LogSpan {
                first: at,
                last: at,
            },
        }
    }

    /// `span` widened to hold `other`.
    pub(crate) fn merge(span: Option<LogSpan>, other: LogSpan) -> LogSpan {
        LogSpan::widen(Some(LogSpan::widen(span, other.first)), other.last)
    }

    /// Both ends moved by `micros`.
    pub(crate) fn shifted(self, micros: i64) -> LogSpan {
        let shift = |at: Timestamp| Timestamp::new(at.utc_micros() + micros, at.offset());
        LogSpan {
            first: shift(self.first),
            last: shift(self.last),
        }
    }

    /// Both ends on `zone`'s clock.
    pub(crate) fn shown_in(self, zone: &Zone) -> LogSpan {
        LogSpan {
            first: zone.show(self.first),
            last: zone.show(self.last),
        }
    }
}

/// The account of one read, printed at the end of `pushtrace logs` (and as JSON with `--json`).
#[derive(Clone, Debug, Serialize)]
pub struct ReadSummary {
    pub input: String,
    pub format: Format,
    /// False when `--format` chose the format.
    pub detected: bool,
    /// The logarchive found inside a sysdiagnose, as a path inside it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner: Option<String>,
    /// Text lines read (0 for archives).
    pub lines: u64,
    /// Log entries seen (records parsed from text, or archive entries).
    pub records_read: u64,
    /// Records written out.
    pub records_kept: u64,
    /// The latest instant of a kept record: where `logs --last` counts back from, the log
    /// not being live.
    #[serde(skip)]
    pub last_kept_at: Option<Timestamp>,
    /// What the log covers: the first and last instant of any record read, those the filter
    /// refused included (of text exports, every kept record and the first and last refused
    /// record of each 4 MiB chunk). A log whose watched processes fall quiet still runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<LogSpan>,
    /// Of the records kept, those of processes outside the filter's process set, kept because
    /// their message holds a literal of a rule for any process (PushKit inside the app), by
    /// process: the process that logged PushKit's lines is the app's.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub kept_by_message: BTreeMap<String, u64>,
    /// Records dropped by `--process` / `--push-set` / `--since` / `--until` / `--grep`.
    pub records_filtered: u64,
    /// Lines that are not records by design: headers, `↑` annotations, separators, trailers.
    pub lines_ignored: u64,
    /// Archive entries whose message could not be rendered (format string in a missing file).
    pub unrendered: u64,
    /// Lines with bytes that are not UTF-8, kept with U+FFFD in their place.
    pub lossy_utf8_lines: u64,
    /// Midnight crossings assumed in a log without dates (time of day went back by > 12 h).
    pub day_rollovers: u64,
    /// Sorted runs written to disk because the records did not fit the sort memory.
    pub spilled_runs: u64,
    pub skipped: BTreeMap<SkipReason, SkipCount>,
    /// Archive files that could not be read at all, with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable_files: Vec<(String, String)>,
}

impl ReadSummary {
    pub const EXAMPLES: usize = 5;

    pub fn new(input: String, format: Format, detected: bool) -> ReadSummary {
        ReadSummary {
            input,
            format,
            detected,
            inner: None,
            lines: 0,
            records_read: 0,
            records_kept: 0,
            last_kept_at: None,
            span: None,
            kept_by_message: BTreeMap::new(),
            records_filtered: 0,
            lines_ignored: 0,
            unrendered: 0,
            lossy_utf8_lines: 0,
            day_rollovers: 0,
            spilled_runs: 0,
            skipped: BTreeMap::new(),
            unreadable_files: Vec::new(),
        }
    }

    /// How many records were kept for their message from processes outside the process set.
    pub fn kept_by_message_total(&self) -> u64 {
        self.kept_by_message.values().sum()
    }

    /// Notes that the log holds records from `span.first` to `span.last`, kept or not.
    pub(crate) fn covers_span(&mut self, span: LogSpan) {
        self.span = Some(LogSpan::merge(self.span, span));
    }

    /// Adds what became of the records a chunk or an archive took.
    pub(crate) fn add_kept(&mut self, tally: KeptTally) {
        if let Some(span) = tally.span {
            self.covers_span(span);
        }
        self.records_filtered += tally.outside_times;
        self.records_kept += tally.kept;
        self.last_kept_at = self.last_kept_at.max(tally.last_kept_at);
        for (process, count) in tally.by_message {
            *self.kept_by_message.entry(process).or_default() += count;
        }
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().map(|s| s.count).sum()
    }

    pub(crate) fn add_skip(&mut self, reason: SkipReason, example: impl FnOnce() -> String) {
        let entry = self.skipped.entry(reason).or_default();
        entry.count += 1;
        if entry.examples.len() < Self::EXAMPLES {
            entry.examples.push(example());
        }
    }
}

impl fmt::Display for ReadSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.detected { "detected" } else { "given" };
        write!(f, "{}: {} ({how})", self.input, self.format.describe())?;
        if let Some(inner) = &self.inner {
            write!(f, ", log archive {inner}")?;
        }
        writeln!(f)?;
        if self.lines > 0 {
            write!(f, "  {} lines, ", self.lines)?;
        } else {
            write!(f, "  ")?;
        }
        writeln!(
            f,
            "{} records read, {} kept, {} filtered out",
            self.records_read, self.records_kept, self.records_filtered
        )?;
        if !self.kept_by_message.is_empty() {
            let by: Vec<String> = self
                .kept_by_message
                .iter()
                .map(|(process, n)| format!("{process} {n}"))
                .collect();
            writeln!(
                f,
                "  {} kept from other processes for their message (rules for any process, e.g. \
                 PushKit in the app): {}",
                self.kept_by_message_total(),
                by.join(", ")
            )?;
        }
        if self.lines_ignored > 0 {
            writeln!(
                f,
                "  {} non-record lines ignored (headers, notes, separators)",
                self.lines_ignored
            )?;
        }
        if self.unrendered > 0 {
            writeln!(
                f,
                "  {} entries unrendered: their format strings live in files the archive lacks \
                 (shared cache `dsc/` or uuidtext); they are kept with the text that could be read",
                self.unrendered
            )?;
        }
        if self.lossy_utf8_lines > 0 {
            writeln!(
                f,
                "  {} lines had invalid UTF-8 (replaced with U+FFFD)",
                self.lossy_utf8_lines
            )?;
        }
        if self.day_rollovers > 0 {
            writeln!(
                f,
                "  {} midnight crossing(s) assumed: the time of day went back by more than 12 h",
                self.day_rollovers
            )?;
        }
        for (name, why) in &self.unreadable_files {
            writeln!(f, "  unreadable: {name}: {why}")?;
        }
        for (reason, skip) in &self.skipped {
            writeln!(f, "  {} skipped: {reason}", skip.count)?;
            for example in &skip.examples {
                writeln!(f, "    {example}")?;
            }
        }
        Ok(())
    }
}
