//! What a pushes read did: the format, the counts and the first bad lines.

use std::fmt;

use serde::Serialize;

use super::error::LineError;
use super::format::PushFormat;

/// The account of one pushes read.
#[derive(Clone, Debug, Serialize)]
pub struct PushSummary {
    pub input: String,
    pub format: PushFormat,
    /// False when the caller chose the format.
    pub detected: bool,
    /// Whether the input was gzip-compressed.
    pub gzip: bool,
    /// Lines of the (decompressed) input, the CSV header included.
    pub lines: u64,
    /// Push records read.
    pub pushes: u64,
    /// Blank lines, ignored.
    pub blank_lines: u64,
    /// Lines that were not valid push records, skipped.
    pub skipped: u64,
    /// The first [`PushSummary::EXAMPLES`] skipped lines with why.
    pub skipped_examples: Vec<LineError>,
}

impl PushSummary {
    pub const EXAMPLES: usize = 5;

    pub(crate) fn new(input: &str, format: PushFormat, detected: bool, gzip: bool) -> Self {
        PushSummary {
            input: input.to_string(),
            format,
            detected,
            gzip,
            lines: 0,
            pushes: 0,
            blank_lines: 0,
            skipped: 0,
            skipped_examples: Vec::new(),
        }
    }
}

impl fmt::Display for PushSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.detected { "detected" } else { "given" };
        let gz = if self.gzip { ", gzip" } else { "" };
        writeln!(f, "{}: {} ({how}){gz}", self.input, self.format.describe())?;
        writeln!(f, "  {} lines, {} pushes read", self.lines, self.pushes)?;
        if self.skipped > 0 {
            writeln!(
                f,
                "  {} bad lines skipped (not valid push records); the first:",
                self.skipped
            )?;
            for example in &self.skipped_examples {
                writeln!(f, "    {example}")?;
            }
        }
        Ok(())
    }
}
