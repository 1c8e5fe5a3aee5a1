//! One normalized line of an iPhone log, whatever format it was read from.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// The unified-log level of a record (`messageType` in `log show --style json`).
///
/// Console.app localizes the word (`standard` for `default` in French), so readers map the
/// words they know and keep [`Level::Default`] for the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Debug,
    Info,
    Default,
    Error,
    Fault,
    /// Activity, signpost, state dump and loss entries of a logarchive: not messages proper.
    Other,
}

impl Level {
    /// Every level, in order.
    pub const ALL: [Level; 6] = [
        Level::Debug,
        Level::Info,
        Level::Default,
        Level::Error,
        Level::Fault,
        Level::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Default => "default",
            Level::Error => "error",
            Level::Fault => "fault",
            Level::Other => "other",
        }
    }

    /// Maps the type words of `log show`, Console.app (English, French, German, Spanish) and
    /// the compact style's two-letter codes.
    pub fn from_word(word: &str) -> Option<Level> {
        let lower = word.trim().to_ascii_lowercase();
        Some(match lower.as_str() {
            "debug" | "db" | "débogage" | "depuración" => Level::Debug,
            "info" | "i" | "information" | "información" => Level::Info,
            "default" | "df" | "notice" | "standard" | "standardwert" | "predeterminado"
            | "par défaut" => Level::Default,
            "error" | "e" | "erreur" | "fehler" => Level::Error,
            "fault" | "f" | "faute" | "défaut" | "fallo" => Level::Fault,
            _ => return None,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a record came from, so every conclusion can point at its evidence.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// A text export: the file and the 1-based line the record starts on.
    Line { file: Arc<str>, line: u64 },
    /// A binary archive: the tracev3 file inside it and the entry's index in that file.
    Archive { file: Arc<str>, entry: u64 },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Line { file, line } => write!(f, "{file}:{line}"),
            Origin::Archive { file, entry } => write!(f, "{file}#{entry}"),
        }
    }
}

/// One log message, normalized: the schema of `pushtrace logs --json`.
///
/// Fields a format does not carry are `None` (a Console.app copy has no pid, a forum digest has
/// no level); readers never invent them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// The instant, in UTC with microseconds, keeping the offset the source printed.
    pub at: Timestamp,
    /// Short process name (`apsd`, `kernel`), as `log show` prints it.
    pub process: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subsystem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The image that logged the message when it is not the process itself (`IOKit`, `libnetwork.dylib`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    pub message: String,
    pub origin: Origin,
}

impl LogRecord {
    /// A record with only the fields every format has; the others can be set afterwards.
    pub fn new(
        at: Timestamp,
        process: impl Into<String>,
        message: impl Into<String>,
        origin: Origin,
    ) -> LogRecord {
        LogRecord {
            at,
            process: process.into(),
            pid: None,
            thread: None,
            level: None,
            subsystem: None,
            category: None,
            sender: None,
            message: message.into(),
            origin,
        }
    }

    /// The record as a `log show --style syslog` line:
    /// `2026-05-20 17:46:01.330000+0300  localhost apsd[123]: (sender) [sub:cat] message`.
    pub fn syslog_line(&self) -> String {
        use fmt::Write;
        let mut out = String::with_capacity(64 + self.message.len());
        out.push_str(&self.at.log_style());
        out.push_str("  localhost ");
        out.push_str(&self.process);
        match self.pid {
            Some(pid) => {
                let _ = write!(out, "[{pid}]: ");
            }
            None => out.push_str(": "),
        }
        if let Some(sender) = &self.sender {
            let _ = write!(out, "({sender}) ");
        }
        if self.subsystem.is_some() || self.category.is_some() {
            let _ = write!(
                out,
                "[{}:{}] ",
                self.subsystem.as_deref().unwrap_or(""),
                self.category.as_deref().unwrap_or("")
            );
        }
        // Kernel messages end in their own newline; the line ends once.
        out.push_str(self.message.trim_end_matches(['\n', '\r']));
        out
    }

    /// Rough heap footprint, used to bound the memory of sorting.
    pub fn heap_size(&self) -> usize {
        self.process.capacity()
            + self.message.capacity()
            + [&self.subsystem, &self.category, &self.sender]
                .iter()
                .map(|s| s.as_ref().map_or(0, String::capacity))
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LogRecord {
        let at = Timestamp::parse("2026-05-20 17:48:41.248000+0300").unwrap();
        let origin = Origin::Line {
            file: "digest.txt".into(),
            line: 14,
        };
        let mut record = LogRecord::new(
            at,
            "powerd",
            "Sending com.apple.powerd.assertionpolicy 3",
            origin,
        );
        record.pid = Some(63);
        record.level = Some(Level::Default);
        record
    }

    #[test]
    fn json_schema_is_stable() {
        let json = serde_json::to_string(&sample()).unwrap();
        assert_eq!(
            json,
            r#"{"at":"2026-05-20T17:48:41.248000+03:00","process":"powerd","pid":63,"level":"default","message":"Sending com.apple.powerd.assertionpolicy 3","origin":{"kind":"line","file":"digest.txt","line":14}}"#
        );
        let back: LogRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn syslog_line_keeps_the_source_offset() {
        assert_eq!(
            sample().syslog_line(),
            "2026-05-20 17:48:41.248000+0300  localhost powerd[63]: Sending com.apple.powerd.assertionpolicy 3"
        );
    }

    #[test]
    fn localized_level_words() {
        assert_eq!(Level::from_word("standard"), Some(Level::Default));
        assert_eq!(Level::from_word("Df"), Some(Level::Default));
        assert_eq!(Level::from_word("E"), Some(Level::Error));
        assert_eq!(Level::from_word("banana"), None);
    }
}
