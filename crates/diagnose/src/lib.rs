//! Explaining each push: what the server sent, joined with what the iPhone did.
//!
//! # Brief overview
//!
//! Diagnosis starts from the pushes a server sent. A [`PushReader`] reads a pushes file — one
//! [`PushRecord`](pushtrace_model::PushRecord) per JSONL line or CSV row, as any push server can
//! export it (`docs/formats.md`, "Push records"), plain or gzip, from a path or a stream — and
//! returns every [`Push`] with the [`Origin`](pushtrace_model::Origin) of its line, in `sent_at`
//! order, with a [`PushSummary`] of what was read and which lines were bad. For a quick look at
//! one push there is [`push_from_arg`]: `--push 17:47:00,<apns-id>`, placed on the UTC axis with
//! the same `--date`/`--tz` clock as the device log.
//!
//! Bad lines are never silent: each is a [`LineError`] naming the file, the line, the field and
//! what was expected; a strict reader stops at the first, a lenient one skips it and counts it.
//!
//! [`diagnose`] then joins each push with the device's timeline
//! (`pushtrace_devicelog::timeline`) into a [`Verdict`](pushtrace_model::Verdict): outcome,
//! cause from the taxonomy, confidence, the log lines it rests on, what ended the outage,
//! and one sentence (`docs/diagnosis.md`).
//!
//! ```
//! use pushtrace_diagnose::PushReader;
//!
//! let jsonl = r#"{"sent_at":"2026-05-20T17:47:00+03:00","topic":"com.acme.call.voip","apns_status":200}
//! {"sent_at":"2026-05-20T17:40:00+03:00","apns_status":200}
//! "#;
//! let read = PushReader::builder().build().read_stream("pushes.jsonl", jsonl.as_bytes()).unwrap();
//! assert_eq!(read.summary.format.name(), "jsonl");
//! let sent: Vec<_> = read.pushes.iter().map(|p| p.record.sent_at.to_string()).collect();
//! assert_eq!(sent, ["2026-05-20T17:40:00.000000+03:00", "2026-05-20T17:47:00.000000+03:00"]);
//! assert_eq!(read.pushes[0].origin.to_string(), "pushes.jsonl:2");
//! ```

pub mod bundle;
pub mod excerpts;
pub mod html_report;
mod html_timeline;
pub mod markdown_report;
mod pushes;
pub mod text_report;
pub mod verdicts;

pub use pushes::{
    LineError, Push, PushArgError, PushError, PushFormat, PushRead, PushReader, PushReaderBuilder,
    PushSummary, push_from_arg, sort_pushes,
};
pub use verdicts::{
    DiagnoseOptions, LogClock, diagnose, diagnose_all, expected_by, is_ring, label, why_not_a_ring,
};
