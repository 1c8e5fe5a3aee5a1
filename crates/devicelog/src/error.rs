//! Errors of a read: each says what went wrong, where, and what to do about it.

use std::io;
use std::path::PathBuf;

use crate::archive::ArchiveError;
use crate::format::Format;
use crate::summary::SkipReason;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },

    #[error("{} is empty: nothing to read", path.display())]
    Empty { path: PathBuf },

    #[error(
        "cannot tell the format of {}: {why}. Pass --format with one of: {}",
        path.display(),
        Format::ALL.map(|f| f.name()).join(", ")
    )]
    UnknownFormat { path: PathBuf, why: String },

    #[error("{} is a {} whose lines have no {missing}: pass {flags}", path.display(), format.describe())]
    NeedsClock {
        path: PathBuf,
        format: Format,
        missing: &'static str,
        flags: &'static str,
    },

    #[error("--format {format} cannot read {}: {why}", path.display())]
    WrongFormat {
        path: PathBuf,
        format: Format,
        why: String,
    },

    #[error("{origin}: {reason} (--strict stops at the first skipped line): {excerpt}")]
    Strict {
        origin: String,
        reason: SkipReason,
        excerpt: String,
    },

    #[error("{} is a compressed file that is truncated or corrupt: {source}. Copy it again from the device or the sender", path.display())]
    Decompress { path: PathBuf, source: io::Error },

    #[error(
        "sorting needs temporary files and failed ({source}); set TMPDIR to a writable directory with free space"
    )]
    Spill { source: io::Error },

    /// Writing the lines sorted so far while the input was read
    /// ([`LogReaderBuilder::write_lines_to`](crate::LogReaderBuilder::write_lines_to)).
    #[error("writing the output failed: {source}")]
    Output { source: io::Error },

    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

impl ReadError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> ReadError {
        let path = path.into();
        move |source| ReadError::Io { path, source }
    }
}
