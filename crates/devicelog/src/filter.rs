//! Which records a read keeps: processes, a time range and a message pattern.
//!
//! The process test runs first, on the raw bytes of the process name before a record is built,
//! because push forensics keeps a few percent of a log: that is where the speed of `--push-set`
//! comes from.

use pushtrace_model::{LogRecord, Timestamp};
use regex::Regex;

/// The processes push forensics needs (`--push-set`): the APNs daemon, power management, the
/// kernel's NECP, radio and registration, the VoIP launch path and the policies that gate it.
pub const PUSH_SET: [&str; 11] = [
    "apsd",
    "powerd",
    "kernel",
    "symptomsd",
    "CommCenter",
    "callservicesd",
    "SpringBoard",
    "runningboardd",
    "dasd",
    "wifid",
    "configd",
];

/// A record filter; the default keeps everything.
#[derive(Clone, Debug, Default)]
pub struct RecordFilter {
    processes: Option<Vec<Box<[u8]>>>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    grep: Option<Regex>,
}

impl RecordFilter {
    pub fn new() -> RecordFilter {
        RecordFilter::default()
    }

    /// Keeps only these processes (exact, case-sensitive short names, as `log show` prints them).
    /// Called several times, the sets add up.
    pub fn processes<I, S>(mut self, names: I) -> RecordFilter
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let set = self.processes.get_or_insert_with(Vec::new);
        for name in names {
            let name = name.as_ref().trim();
            if !name.is_empty() && !set.iter().any(|n| &**n == name.as_bytes()) {
                set.push(name.as_bytes().into());
            }
        }
        self
    }

    /// Keeps records at or after `at`.
    pub fn since(mut self, at: Timestamp) -> RecordFilter {
        self.since = Some(at);
        self
    }

    /// Keeps records at or before `at`.
    pub fn until(mut self, at: Timestamp) -> RecordFilter {
        self.until = Some(at);
        self
    }

    /// Keeps records whose message matches `pattern`.
    pub fn grep(mut self, pattern: Regex) -> RecordFilter {
        self.grep = Some(pattern);
        self
    }

    /// Whether a record of this process can be kept. Image paths (`/usr/sbin/apsd`) are compared
    /// by their last component.
    #[inline]
    pub fn wants_process(&self, name: &[u8]) -> bool {
        let Some(set) = &self.processes else {
            return true;
        };
        let short = crate::image::short_name_bytes(name);
        set.iter().any(|n| **n == *short)
    }

    /// Whether the whole record passes the message pattern (processes are checked earlier).
    pub fn wants_message(&self, message: &str) -> bool {
        self.grep.as_ref().is_none_or(|re| re.is_match(message))
    }

    /// Whether the record's instant is inside `--since` / `--until`.
    pub fn wants_time(&self, at: Timestamp) -> bool {
        self.since.is_none_or(|s| at >= s) && self.until.is_none_or(|u| at <= u)
    }

    /// Applies every test to a finished record.
    pub fn wants(&self, record: &LogRecord) -> bool {
        self.wants_process(record.process.as_bytes())
            && self.wants_message(&record.message)
            && self.wants_time(record.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_names_match_exactly_or_by_image_path() {
        let filter = RecordFilter::new()
            .processes(PUSH_SET)
            .processes(["Comera"]);
        assert!(filter.wants_process(b"apsd"));
        assert!(filter.wants_process(b"/usr/libexec/apsd"));
        assert!(filter.wants_process(b"Comera"));
        assert!(!filter.wants_process(b"apsdx"));
        assert!(!filter.wants_process(b"Apsd"));
        assert!(RecordFilter::new().wants_process(b"anything"));
    }
}
