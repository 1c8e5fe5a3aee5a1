//! Errors of a read, and the bad rows a read skips: each says what, where (file and line, or
//! row group and row; the field) and what to do.

use std::fmt;
use std::io;

use serde::Serialize;

/// Where a record is in its file: a line of a text file (the line a CSV record starts on), or a
/// row of a Parquet row group (both 0-based, as Parquet tools count them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowLocation {
    /// 1-based line of the (decompressed) text.
    Line(u64),
    /// 0-based row group, and 0-based row within it.
    Row { group: usize, row: u64 },
}

impl fmt::Display for RowLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowLocation::Line(line) => write!(f, "{line}"),
            RowLocation::Row { group, row } => write!(f, "row group {group}, row {row}"),
        }
    }
}

/// One row that is not a valid push record: skipped and counted, or what stops a strict read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadRow {
    pub file: String,
    pub at: RowLocation,
    /// The field (or column) at fault, when one is (`received_at`, `attrs.carrier`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, what was expected, what to do.
    pub message: String,
    /// The start of the row as written (at most 80 characters), for a strict read's message.
    #[serde(skip)]
    pub excerpt: String,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            RowLocation::Line(line) => write!(f, "{}:{line}: ", self.file)?,
            at => write!(f, "{}: {at}: ", self.file)?,
        }
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Why a read stopped. Bad rows do not stop a read unless it is strict.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read push records from {path}: {source}")]
    Io { path: String, source: io::Error },

    #[error("{path} is empty: no push records to read")]
    Empty { path: String },

    #[error(
        "{path} is a compressed file that is truncated or corrupt: {source}. Export the pushes again"
    )]
    Decompress { path: String, source: io::Error },

    #[error(
        "cannot tell the format of the push records file {path}: {why}. Write one PushRecord \
         JSON object per line, a CSV with a header row or a Parquet file (docs/formats.md, \
         \"Push records\"), or give the format"
    )]
    UnknownFormat { path: String, why: String },

    /// The CSV header cannot be read as push record columns: every row would fail.
    #[error("{path}:{line}: bad CSV header: {why}")]
    Header {
        path: String,
        line: u64,
        why: String,
    },

    #[error(
        "{path} is a Parquet file, which is read from its end (the footer): give it as a file, \
         not standard input or a pipe"
    )]
    ParquetNeedsFile { path: String },

    #[error(
        "{path} is not a readable Parquet file: {why}. A Parquet file starts and ends with \
         `PAR1` and its footer (the schema) is at the end: a copy cut short loses it; export or \
         copy it again"
    )]
    NotParquet { path: String, why: String },

    /// Parquet columns that are not push record columns: every row would fail.
    #[error("{path}: {why}")]
    ParquetSchema { path: String, why: String },

    /// A Parquet column that cannot be read as push record data: every row would fail.
    #[error("{path}: column `{column}`: {why}")]
    ParquetColumn {
        path: String,
        column: String,
        why: String,
    },

    /// Parquet data that cannot be decoded (a corrupt page): the rest of the file is unreadable.
    #[error(
        "{path}: row group {group}: cannot decode the Parquet data: {why}. Export the file again"
    )]
    ParquetData {
        path: String,
        group: usize,
        why: String,
    },

    #[error(
        "{row} (a strict read stops at the first bad row; otherwise bad rows are skipped and \
         counted): `{}`", row.excerpt
    )]
    Strict { row: BadRow },
}
