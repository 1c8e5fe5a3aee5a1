//! Reading iPhone logs in every form people have them.
//!
//! # Brief overview
//!
//! A [`LogReader`] takes one input — a sysdiagnose (`.tar.gz`, `.zip` or folder), a
//! `.logarchive`, a `log show` export in any style, a Console.app copy, a forum digest or a
//! `macos-unifiedlogs` export — detects its [`Format`] (or is told it), and returns every
//! [`LogRecord`](pushtrace_model::LogRecord) in time order with a [`ReadSummary`] of what was
//! read, filtered, skipped and could not be rendered. A [`RecordFilter`] (processes, time range,
//! message pattern) is applied as early as each format allows, so reading a 2 GB export for the
//! [`PUSH_SET`] processes costs little more than scanning it.
//!
//! Text exports are parsed on every core in chunks cut at record boundaries; archives go through
//! the `macos-unifiedlogs` crate. Either way the records pass through an external merge sort, so
//! memory stays bounded by [`LogReaderBuilder::sort_memory`] plus a fixed pool of read buffers,
//! whatever the input size (see `docs/formats.md`, "Memory").
//!
//! ```
//! use pushtrace_devicelog::{LocalClock, LogReader, NoProgress, RecordFilter, Zone};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("digest.txt");
//! std::fs::write(&path, "17:48:41.248  powerd  Sending com.apple.powerd.assertionpolicy 3\n").unwrap();
//!
//! let clock = LocalClock { date: Some((2026, 5, 20)), zone: Some(Zone::parse("+03:00").unwrap()) };
//! let reader = LogReader::builder().clock(clock).filter(RecordFilter::new().processes(["powerd"])).build();
//! let read = reader.read(&path, &mut NoProgress).unwrap();
//! let records: Vec<_> = read.records.collect::<Result<_, _>>().unwrap();
//! assert_eq!(records[0].at.to_string(), "2026-05-20T17:48:41.248000+03:00");
//! assert_eq!(read.summary.format.name(), "digest");
//! ```

mod anywhere;
mod archive;
mod clock;
mod detect;
mod error;
mod filter;
mod format;
mod image;
mod predicate;
mod read;
pub mod rules;
mod sort;
mod sorted_lines;
mod summary;
mod text;
pub mod timeline;

pub use anywhere::MIN_LITERAL_BYTES;
pub use archive::{
    ArchiveError, ByteSize, ExtractLimit, LimitOrigin, ParseSizeError, remove_temp_folders,
};
pub use clock::{LocalClock, Zone};
pub use detect::detect;
pub use error::ReadError;
pub use filter::{PUSH_SET, RecordFilter};
pub use format::{Format, Requirements};
pub use predicate::{Predicate, PredicateError};
pub use read::{LogRead, LogReader, LogReaderBuilder, NoProgress, Progress};
pub use sort::{DEFAULT_SORT_MEMORY, RecordSorter, SortedRecords};
pub use sorted_lines::{LineFormatter, LineOutput, SortedLines};
pub use summary::{LogSpan, ReadSummary, SkipCount, SkipReason};
pub use text::pipeline::{CHUNK_BYTES, MAX_LINE_BYTES};
