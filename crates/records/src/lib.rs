//! Push records (`pushtrace_model::PushRecord`) read from files, in one place.
//!
//! # Brief overview
//!
//! A push records file is JSONL or CSV, plain or gzip, or Parquet (`docs/formats.md`, "Push
//! records"). Every form ends in the contract's one serde definition: a JSONL line is
//! deserialized as is, a CSV or Parquet row is first turned into the JSON object it stands for.
//! Bad rows are named (file and line, or row group and row; the field) and counted, never
//! dropped silently; a strict read stops at the first.
//!
//! Two callers, two sizes: `diagnose` parses a few hundred pushes with [`parse_line`] and the
//! CSV rules through [`RecordReader`] on one thread; `fleet` streams ten million through
//! [`RecordReader::read_path`] on every core, each worker filling its own [`RecordSink`], with
//! memory bounded by a few chunks (text) or one row group per worker (Parquet).
//!
//! ```
//! use pushtrace_records::{Collect, RecordReader, RowLocation};
//!
//! let text = "{\"sent_at\":1779288420000}\nnot json\n";
//! let reader = RecordReader::builder().threads(1).build();
//! let (sink, summary) = reader.read_stream("pushes.jsonl", text.as_bytes(), Collect::default, &|_| {}).unwrap();
//! assert_eq!((summary.rows, summary.bad), (1, 1));
//! assert_eq!(summary.samples[0].at, RowLocation::Line(2));
//! assert_eq!(sink.records[0].1, RowLocation::Line(1));
//! ```

mod chunk;
mod csv;
mod error;
mod fields;
mod format;
mod jsonl;
mod parquet;
mod reader;
mod sink;
mod summary;

pub use chunk::MAX_RECORD_BYTES;
pub use error::{BadRow, ReadError, RowLocation};
pub use fields::{RowError, closest_field};
pub use format::{PARQUET_MAGIC, RecordFormat, detect_text, excerpt};
pub use jsonl::{MAX_LINE_BYTES, parse_line};
pub use reader::{RecordReader, RecordReaderBuilder};
pub use sink::{Collect, Count, RecordSink};
pub use summary::ReadSummary;
