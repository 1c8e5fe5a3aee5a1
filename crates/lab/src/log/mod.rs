//! Device logs: what each simulated iPhone logged, written in the formats `diagnose` reads.

mod message;
mod syslog;

pub use message::Message;
pub use syslog::write_syslog;

/// One logged line before formatting: when, by whom, what.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    /// UTC microseconds.
    pub at: i64,
    pub pid: u32,
    pub message: Message,
}
