//! Errors of a pushes read: each says what, where (file:line, field) and what to do.

use std::fmt;
use std::io;

use serde::Serialize;

/// One line (or CSV row) that is not a valid push record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LineError {
    pub file: String,
    /// 1-based line the record starts on.
    pub line: u64,
    /// The field at fault, when one is (`received_at`, `attrs.carrier`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("cannot read pushes from {path}: {source}")]
    Io { path: String, source: io::Error },

    #[error("{path} is empty: no pushes to read")]
    Empty { path: String },

    #[error(
        "{path} is a compressed file that is truncated or corrupt: {source}. Export the pushes again"
    )]
    Decompress { path: String, source: io::Error },

    #[error(
        "cannot tell the format of the pushes file {path}: {why}. Write one PushRecord JSON \
         object per line or a CSV with a header row (docs/formats.md, \"Push records\"), or say \
         which with --format jsonl|csv"
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
        "{error} (--strict stops at the first bad line; without it bad lines are skipped and \
         counted): `{excerpt}`"
    )]
    Strict { error: LineError, excerpt: String },
}

/// A `--push TIME[,apns-id]` that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--push `{arg}`: {why}")]
pub struct PushArgError {
    pub arg: String,
    pub why: String,
}
