//! Device logs: what each simulated iPhone logged, written in the formats `diagnose` reads.

mod message;
pub mod noise;
mod styles;
mod syslog;

pub use message::Message;
pub use noise::{NOISE, NoiseLine, with_noise};
pub use styles::{LogFormat, write_log};
pub use syslog::write_syslog;

/// One logged line before formatting: when, by whom, what.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    /// UTC microseconds.
    pub at: i64,
    pub pid: u32,
    pub message: Message,
}
