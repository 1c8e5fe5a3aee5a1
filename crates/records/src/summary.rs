//! What a read did: the format, the counts and the first bad rows.

use std::fmt;

use serde::Serialize;

use crate::error::BadRow;
use crate::format::RecordFormat;

/// The account of one read. Every row is either in `rows` or in `bad`: none is dropped silently.
#[derive(Clone, Debug, Serialize)]
pub struct ReadSummary {
    pub input: String,
    pub format: RecordFormat,
    /// False when the caller chose the format.
    pub detected: bool,
    /// Whether the input was gzip-compressed.
    pub gzip: bool,
    /// Bytes of the input as stored (compressed, for gzip).
    pub bytes: u64,
    /// Lines of the (decompressed) text, the CSV header included; 0 for Parquet.
    pub lines: u64,
    /// Blank lines, ignored.
    pub blank_lines: u64,
    /// Records read (delivered to the sinks).
    pub rows: u64,
    /// Rows that were not valid push records, skipped.
    pub bad: u64,
    /// The first bad rows (in file order), as many as the reader keeps.
    pub samples: Vec<BadRow>,
}

impl ReadSummary {
    pub(crate) fn new(input: &str, format: RecordFormat, detected: bool, gzip: bool) -> Self {
        ReadSummary {
            input: input.to_string(),
            format,
            detected,
            gzip,
            bytes: 0,
            lines: 0,
            blank_lines: 0,
            rows: 0,
            bad: 0,
            samples: Vec::new(),
        }
    }
}

impl fmt::Display for ReadSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.detected { "detected" } else { "given" };
        let gz = if self.gzip { ", gzip" } else { "" };
        writeln!(f, "{}: {} ({how}){gz}", self.input, self.format.describe())?;
        writeln!(f, "  {} records read", self.rows)?;
        if self.bad > 0 {
            writeln!(
                f,
                "  {} bad rows skipped (not valid push records); the first:",
                self.bad
            )?;
            for example in &self.samples {
                writeln!(f, "    {example}")?;
            }
        }
        Ok(())
    }
}

/// What one worker saw besides its records: counts, its first bad rows, and the bad row that
/// stopped it when the read is strict.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub rows: u64,
    pub bad: u64,
    pub blank_lines: u64,
    /// The worker's first bad rows by location, at most `keep`.
    pub samples: Vec<BadRow>,
    pub keep: usize,
    pub stopped: Option<BadRow>,
}

impl Tally {
    pub fn new(keep: usize) -> Self {
        Tally {
            keep,
            ..Tally::default()
        }
    }

    /// Counts a bad row and keeps it if it is among the first.
    pub fn bad(&mut self, row: BadRow) {
        self.bad += 1;
        if self.samples.len() == self.keep
            && self.samples.last().is_none_or(|last| last.at <= row.at)
        {
            return;
        }
        let at = self.samples.partition_point(|s| s.at <= row.at);
        self.samples.insert(at, row);
        self.samples.truncate(self.keep);
    }

    /// The first bad row of a strict read (the lowest location any worker stopped at).
    pub fn stop(&mut self, row: BadRow) {
        if self.stopped.as_ref().is_none_or(|s| row.at < s.at) {
            self.stopped = Some(row);
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.rows += other.rows;
        self.blank_lines += other.blank_lines;
        let bad = self.bad + other.bad;
        for row in other.samples {
            self.bad(row);
        }
        self.bad = bad;
        if let Some(row) = other.stopped {
            self.stop(row);
        }
    }
}
