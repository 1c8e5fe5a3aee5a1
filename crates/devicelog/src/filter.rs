//! Which records a read keeps: processes, a time range, a message pattern, levels and a
//! `log show`-style predicate.
//!
//! The process test runs first, on the raw bytes of the process name before a record is built,
//! because push forensics keeps a few percent of a log: that is where the speed of `--push-set`
//! comes from. Some lines matter whatever process logs them (PushKit logs inside the calling
//! app, whose name a read may not know): [`RecordFilter::anywhere`] keeps a record of any
//! process whose message contains one of a few literals, checked on the raw message too.

use std::sync::Arc;

use pushtrace_model::{Level, LogRecord, Timestamp};
use regex::Regex;

use crate::anywhere::{Anywhere, Hits};
use crate::predicate::Predicate;

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
    /// Shared: every parser thread holds the filter, the searchers are built once.
    anywhere: Option<Arc<Anywhere>>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    grep: Option<Regex>,
    hidden_levels: Vec<Level>,
    predicate: Option<Arc<Predicate>>,
    /// The processes the predicate pins (`process == "apsd"`), tested on raw bytes like
    /// [`RecordFilter::processes`] so the other processes' records are never built.
    pinned: Option<Vec<Box<[u8]>>>,
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

    /// Also keeps records of processes outside [`RecordFilter::processes`] whose message contains
    /// one of `literals` (exact, case-sensitive), e.g. [`crate::rules::RuleSet::anywhere_literals`].
    /// Called several times, the literals add up. Without a process set every record is kept
    /// anyway, and this changes nothing.
    pub fn anywhere<I, S>(mut self, literals: I) -> RecordFilter
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut all: Vec<String> = self
            .anywhere
            .as_ref()
            .map(|a| a.literals().to_vec())
            .unwrap_or_default();
        for literal in literals {
            let literal = literal.as_ref();
            if !literal.is_empty() && !all.iter().any(|l| l == literal) {
                all.push(literal.to_string());
            }
        }
        self.anywhere = (!all.is_empty()).then(|| Arc::new(Anywhere::new(all)));
        self
    }

    /// The literals given to [`RecordFilter::anywhere`].
    pub fn anywhere_literals(&self) -> &[String] {
        self.anywhere.as_ref().map_or(&[], |a| a.literals())
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

    /// Drops records of these levels, as `log show` drops info and debug unless `--info` /
    /// `--debug`. Records without a level (digests) are kept.
    pub fn hide_levels<I: IntoIterator<Item = Level>>(mut self, levels: I) -> RecordFilter {
        for level in levels {
            if !self.hidden_levels.contains(&level) {
                self.hidden_levels.push(level);
            }
        }
        self
    }

    /// Keeps records the predicate holds for. When it pins the process (`process == "apsd"`
    /// in a chain of ANDs), other processes are refused before their records are built.
    pub fn predicate(mut self, predicate: Predicate) -> RecordFilter {
        self.pinned = predicate.required_processes().map(|names| {
            names
                .iter()
                .map(|n| n.as_bytes().into())
                .collect::<Vec<Box<[u8]>>>()
        });
        self.predicate = Some(Arc::new(predicate));
        self
    }

    /// Whether a record of this process can be kept. Image paths (`/usr/sbin/apsd`) are compared
    /// by their last component.
    #[inline]
    pub fn wants_process(&self, name: &[u8]) -> bool {
        if self.processes.is_none() && self.pinned.is_none() {
            return true;
        }
        let short = crate::image::short_name_bytes(name);
        let in_set = |set: &Option<Vec<Box<[u8]>>>| {
            set.as_ref()
                .is_none_or(|set| set.iter().any(|n| **n == *short))
        };
        in_set(&self.processes) && in_set(&self.pinned)
    }

    /// Whether anywhere literals can keep a record the process set refuses (both are given).
    pub fn has_anywhere(&self) -> bool {
        self.anywhere.is_some() && self.processes.is_some()
    }

    /// Whether a record of a process [`RecordFilter::wants_process`] refuses is kept for its
    /// message: it contains one of the [`RecordFilter::anywhere`] literals.
    #[inline]
    pub fn wants_anywhere(&self, message: &[u8]) -> bool {
        self.anywhere.as_ref().is_some_and(|a| a.is_in(message))
    }

    /// Whether a record of `process` with this (raw) message can be kept: its process is wanted,
    /// or its message holds an anywhere literal.
    #[inline]
    pub fn wants_process_or_message(&self, process: &[u8], message: &[u8]) -> bool {
        self.wants_process(process) || self.wants_anywhere(message)
    }

    /// Where the anywhere literals occur in a text chunk: searched once per chunk, so a line of a
    /// refused process costs nothing more when (as nearly always) the chunk has none.
    pub(crate) fn anywhere_hits(&self, chunk: &[u8]) -> Hits {
        match &self.anywhere {
            Some(anywhere) if self.has_anywhere() => anywhere.hits(chunk),
            _ => Hits::default(),
        }
    }

    /// Whether the whole record passes the message pattern (processes are checked earlier).
    pub fn wants_message(&self, message: &str) -> bool {
        self.grep.as_ref().is_none_or(|re| re.is_match(message))
    }

    /// Whether a built record passes the message pattern, the levels and the predicate
    /// (processes are checked earlier, the time later, once a date-less log's day is known).
    pub fn wants_fields(&self, record: &LogRecord) -> bool {
        self.wants_message(&record.message)
            && record
                .level
                .is_none_or(|level| !self.hidden_levels.contains(&level))
            && self.predicate.as_ref().is_none_or(|p| p.matches(record))
    }

    /// Whether the record's instant is inside `--since` / `--until`.
    pub fn wants_time(&self, at: Timestamp) -> bool {
        self.since.is_none_or(|s| at >= s) && self.until.is_none_or(|u| at <= u)
    }

    /// Applies every test to a finished record.
    pub fn wants(&self, record: &LogRecord) -> bool {
        self.wants_process_or_message(record.process.as_bytes(), record.message.as_bytes())
            && self.wants_fields(record)
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

    #[test]
    fn anywhere_literals_keep_a_refused_process_by_its_message() {
        let filter = RecordFilter::new()
            .processes(PUSH_SET)
            .anywhere(["Killing app because"])
            .anywhere(["Killing app because", "Apps receving VoIP"]);
        assert_eq!(
            filter.anywhere_literals(),
            ["Killing app because", "Apps receving VoIP"]
        );
        assert!(filter.wants_process_or_message(b"Comera", b"reason: 'Killing app because it"));
        assert!(!filter.wants_process_or_message(b"Comera", b"killing app because"));
        assert!(filter.wants_process_or_message(b"apsd", b"anything"));
        let record = |process: &str, message: &str| {
            let at = Timestamp::from_utc_micros(0);
            let origin = pushtrace_model::Origin::Line {
                file: "t".into(),
                line: 1,
            };
            LogRecord::new(at, process, message, origin)
        };
        assert!(filter.wants(&record("Comera", "Apps receving VoIP pushes must post")));
        assert!(!filter.wants(&record("Comera", "Apps receiving VoIP pushes")));
        let grep = filter.clone().grep(Regex::new("^never$").unwrap());
        assert!(!grep.wants(&record("Comera", "Killing app because")));
    }

    #[test]
    fn levels_and_predicate_test_the_whole_record() {
        let mut debug = LogRecord::new(
            Timestamp::from_utc_micros(0),
            "apsd",
            "Update assertion policy 3",
            pushtrace_model::Origin::Line {
                file: "t".into(),
                line: 1,
            },
        );
        debug.level = Some(Level::Debug);
        let mut unleveled = debug.clone();
        unleveled.level = None;
        let quiet = RecordFilter::new().hide_levels([Level::Info, Level::Debug]);
        assert!(!quiet.wants(&debug));
        assert!(quiet.wants(&unleveled), "a record without a level is kept");

        let pinned = RecordFilter::new().predicate(
            Predicate::parse("process == 'apsd' && eventMessage CONTAINS 'policy'").unwrap(),
        );
        assert!(pinned.wants_process(b"/usr/libexec/apsd"));
        assert!(
            !pinned.wants_process(b"powerd"),
            "refused before the record is built"
        );
        assert!(pinned.wants(&debug));
        let other = RecordFilter::new().predicate(Predicate::parse("messageType == info").unwrap());
        assert!(other.wants_process(b"powerd"));
        assert!(!other.wants(&debug));
    }
}
