//! Reading the pushes a server sent: a pushes file (JSONL or CSV of
//! [`PushRecord`](pushtrace_model::PushRecord), plain or gzip) or the `--push TIME[,apns-id]`
//! shorthand.
//!
//! A pushes file is small next to a device log (one line per push, not per log message) and is
//! joined whole with the timeline, so it is read into memory and sorted by `sent_at`. Detection,
//! gzip, the per-line parsing (JSONL lines, CSV rows with `attr.<name>` and `attrs` columns) and
//! the messages of bad lines are `pushtrace-records`'s, the one home of push record reading
//! (fleet streams millions through it); here it runs on one thread, so pushes keep file order.

mod arg;
mod error;
mod format;
mod summary;

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use pushtrace_model::{Origin, PushRecord};
use pushtrace_records::{BadRow, ReadError, RecordFormat, RecordReader, RecordSink, RowLocation};
use serde::Serialize;

pub use arg::push_from_arg;
pub use error::{LineError, PushArgError, PushError};
pub use format::PushFormat;
pub use summary::PushSummary;

/// One push as read, with the line it came from so a verdict can cite it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Push {
    pub record: PushRecord,
    /// `file:line` of the JSONL line or CSV row, or `--push:N` for the Nth shorthand.
    pub origin: Origin,
}

/// A finished read: the pushes in `sent_at` order and the account of the read.
#[derive(Debug)]
pub struct PushRead {
    pub pushes: Vec<Push>,
    pub summary: PushSummary,
}

/// Reads pushes files. Build one with [`PushReader::builder`]; like the log reader it skips
/// and counts bad lines unless made strict.
#[derive(Clone, Debug, Default)]
pub struct PushReader {
    format: Option<PushFormat>,
    strict: bool,
}

/// Configures a [`PushReader`].
#[derive(Clone, Debug, Default)]
pub struct PushReaderBuilder {
    reader: PushReader,
}

impl PushReaderBuilder {
    /// Reads as this format instead of detecting it.
    pub fn format(mut self, format: Option<PushFormat>) -> Self {
        self.reader.format = format;
        self
    }

    /// Stops at the first bad line instead of skipping and counting it.
    pub fn strict(mut self, strict: bool) -> Self {
        self.reader.strict = strict;
        self
    }

    pub fn build(self) -> PushReader {
        self.reader
    }
}

impl PushReader {
    pub fn builder() -> PushReaderBuilder {
        PushReaderBuilder::default()
    }

    /// Reads a pushes file (plain or gzip).
    pub fn read(&self, path: &Path) -> Result<PushRead, PushError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| PushError::Io {
            path: name.clone(),
            source,
        })?;
        self.read_stream(&name, file)
    }

    /// Reads pushes from a stream (standard input, a test's bytes); `name` stands for the file
    /// in line references.
    pub fn read_stream(&self, name: &str, input: impl Read + Send) -> Result<PushRead, PushError> {
        let reader = RecordReader::builder()
            .format(self.format.map(RecordFormat::from))
            .strict(self.strict)
            .threads(1)
            .max_bad_samples(PushSummary::EXAMPLES)
            .build();
        let file: Arc<str> = name.into();
        let make_sink = || Pushes {
            file: file.clone(),
            pushes: Vec::new(),
        };
        let (sink, read) = reader
            .read_stream(name, input, make_sink, &|_| {})
            .map_err(|e| push_error(name, e))?;
        let format = match read.format {
            RecordFormat::Csv => PushFormat::Csv,
            _ => PushFormat::Jsonl,
        };
        let mut summary = PushSummary::new(name, format, read.detected, read.gzip);
        summary.lines = read.lines;
        summary.pushes = read.rows;
        summary.blank_lines = read.blank_lines;
        summary.skipped = read.bad;
        summary.skipped_examples = read.samples.into_iter().map(line_error).collect();
        let mut pushes = sink.pushes;
        sort_pushes(&mut pushes);
        Ok(PushRead { pushes, summary })
    }
}

/// Sorts by `sent_at` on the UTC axis; pushes sent at the same instant keep their input order.
pub fn sort_pushes(pushes: &mut [Push]) {
    pushes.sort_by_key(|p| p.record.sent_at.utc_micros());
}

/// Collects the pushes of a read with their `file:line`.
struct Pushes {
    file: Arc<str>,
    pushes: Vec<Push>,
}

impl RecordSink for Pushes {
    fn record(&mut self, record: &PushRecord, at: RowLocation) {
        let line = match at {
            RowLocation::Line(line) => line,
            RowLocation::Row { row, .. } => row + 1,
        };
        self.pushes.push(Push {
            record: record.clone(),
            origin: Origin::Line {
                file: self.file.clone(),
                line,
            },
        });
    }

    fn merge(&mut self, other: Self) {
        self.pushes.extend(other.pushes);
    }
}

fn line_error(row: BadRow) -> LineError {
    LineError {
        file: row.file,
        line: match row.at {
            RowLocation::Line(line) => line,
            RowLocation::Row { row, .. } => row + 1,
        },
        field: row.field,
        message: row.message,
    }
}

fn push_error(name: &str, e: ReadError) -> PushError {
    match e {
        ReadError::Io { path, source } => PushError::Io { path, source },
        ReadError::Empty { path } => PushError::Empty { path },
        ReadError::Decompress { path, source } => PushError::Decompress { path, source },
        ReadError::UnknownFormat { path, why } => PushError::UnknownFormat { path, why },
        ReadError::Header { path, line, why } => PushError::Header { path, line, why },
        ReadError::Strict { row } => {
            let excerpt = row.excerpt.clone();
            PushError::Strict {
                error: line_error(row),
                excerpt,
            }
        }
        ReadError::ParquetNeedsFile { path } => PushError::UnknownFormat {
            path,
            why: "it is a Parquet file, which diagnose does not read yet: export the pushes as \
                  JSONL or CSV"
                .to_string(),
        },
        other => PushError::UnknownFormat {
            path: name.to_string(),
            why: other.to_string(),
        },
    }
}
