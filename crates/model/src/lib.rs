//! The shared vocabulary of pushtrace.
//!
//! # Brief overview
//!
//! Every other crate speaks in these types. A [`Timestamp`] is an instant in UTC with
//! microseconds that remembers the offset its source printed, so an iPhone log written in
//! `+0300` and a push server in UTC line up. A [`LogRecord`] is one normalized log message,
//! whatever format it came from, with an [`Origin`] pointing back at the file and line (or the
//! archive entry) so every later conclusion can cite its evidence. A [`DeviceEvent`] is one
//! such line understood by a rule. A [`PushRecord`] is one push as the server that sent it saw it
//! (sent at, APNs's answer, the app's receipt): the contract any push server exports for
//! diagnosis, placed on the same UTC axis. A [`Verdict`] is what a diagnosis concludes about one
//! push: [`Outcome`], [`Cause`] (the taxonomy of `docs/diagnosis.md`), [`Confidence`] and the
//! [`Evidence`] lines.
//!
//! This crate does no I/O: readers live in `pushtrace-devicelog` (logs) and
//! `pushtrace-diagnose` (push records). What it has for output is [`terminal`]: the one rule for
//! showing input text on a terminal.
//!
//! ```
//! use pushtrace_model::{LogRecord, Origin, Timestamp};
//!
//! let at = Timestamp::parse("2026-05-20 17:48:41.248+0300").unwrap();
//! let origin = Origin::Line { file: "digest.txt".into(), line: 14 };
//! let record = LogRecord::new(at, "powerd", "Sending com.apple.powerd.assertionpolicy 3", origin);
//! assert_eq!(record.at.to_string(), "2026-05-20T17:48:41.248000+03:00");
//! ```

pub mod duration;
mod event;
mod json_line;
mod push;
mod receipt;
mod record;
pub mod suggest;
pub mod terminal;
mod time;
mod verdict;

pub use duration::{Human, human, since};
pub use event::{DeviceEvent, EventKind, PolicyStage, policy_name};

pub use push::{
    PushRecord, expiration_seconds, http_status, parse_push_time, push_time_from_micros,
    push_time_from_millis,
};
pub use receipt::Receipt;
pub use record::{Level, LogRecord, Origin};
pub use time::{
    CivilDateTime, TimeError, TimeOfDay, Timestamp, UtcOffset, parse_civil, parse_date,
    parse_time_of_day, parse_time_prefix,
};
pub use verdict::{Cause, Confidence, Evidence, EvidenceRole, Outcome, Recovery, Verdict};
