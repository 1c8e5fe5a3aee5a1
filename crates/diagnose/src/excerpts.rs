//! The raw log lines around each push, kept while the log streams past, for the bug-report
//! bundle's `excerpts/<push>.log`.
//!
//! Which pushes fail is only known once the whole log has been read, so every push gets a
//! window — from [`BEFORE`] before its send to [`AFTER_DUE`] after it was due — and the lines
//! inside windows are the only ones kept. Memory stays bounded: at most [`MAX_PER_WINDOW`] lines
//! a window and [`MAX_TOTAL`] in all; lines past a cap are counted, and the excerpt says how many
//! were left out.

use std::time::Duration;

use pushtrace_model::{LogRecord, PushRecord, Timestamp};

use crate::verdicts::{DiagnoseOptions, expected_by};

/// How long before the send an excerpt starts: the state the device was in when it was sent.
pub const BEFORE: Duration = Duration::from_secs(60);
/// How long after the push was due lines are kept while reading (the excerpt is cut to the
/// arrival or recovery afterwards).
pub const AFTER_DUE: Duration = Duration::from_secs(10 * 60);
/// At most this many lines a window.
pub const MAX_PER_WINDOW: usize = 5_000;
/// At most this many lines over all windows (about 200 bytes each: some 40 MB).
pub const MAX_TOTAL: usize = 200_000;

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// One kept line: its instant, where it came from (`file:line`), and the record as a
/// `log show --style syslog` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcerptLine {
    pub at: Timestamp,
    pub source: String,
    pub text: String,
}

/// The lines of one push's window.
#[derive(Debug, Clone, Default)]
pub struct Excerpt {
    pub lines: Vec<ExcerptLine>,
    /// Lines inside the window left out by a cap.
    pub left_out: u64,
}

impl Excerpt {
    /// The lines from `from` to `to` (inclusive).
    pub fn between(&self, from: Timestamp, to: Timestamp) -> impl Iterator<Item = &ExcerptLine> {
        self.lines
            .iter()
            .filter(move |l| l.at >= from && l.at <= to)
    }
}

/// Collects the lines of every push's window as records stream past.
#[derive(Debug)]
pub struct ExcerptCollector {
    /// (from, to) in UTC microseconds, one per push, in the pushes' order.
    windows: Vec<(i64, i64)>,
    excerpts: Vec<Excerpt>,
    kept: usize,
}

impl ExcerptCollector {
    /// A window per push: [`BEFORE`] before its send to [`AFTER_DUE`] after it was due.
    pub fn new<'a>(
        pushes: impl IntoIterator<Item = &'a PushRecord>,
        options: &DiagnoseOptions,
    ) -> ExcerptCollector {
        let windows: Vec<(i64, i64)> = pushes
            .into_iter()
            .map(|p| {
                let due = expected_by(p, options)
                    .utc_micros()
                    .max(p.sent_at.utc_micros());
                (
                    p.sent_at.utc_micros().saturating_sub(micros(BEFORE)),
                    due.saturating_add(micros(AFTER_DUE)),
                )
            })
            .collect();
        ExcerptCollector {
            excerpts: vec![Excerpt::default(); windows.len()],
            windows,
            kept: 0,
        }
    }

    /// Keeps `record` in every window it falls in (while the caps allow).
    pub fn offer(&mut self, record: &LogRecord) {
        let at = record.at.utc_micros();
        let mut line = None;
        for (window, excerpt) in self.windows.iter().zip(&mut self.excerpts) {
            if at < window.0 || at > window.1 {
                continue;
            }
            if excerpt.lines.len() >= MAX_PER_WINDOW || self.kept >= MAX_TOTAL {
                excerpt.left_out += 1;
                continue;
            }
            let line = line.get_or_insert_with(|| ExcerptLine {
                at: record.at,
                source: record.origin.to_string(),
                text: record.syslog_line(),
            });
            excerpt.lines.push(line.clone());
            self.kept += 1;
        }
    }

    /// The excerpts, one per push, in the order the pushes were given.
    pub fn finish(self) -> Vec<Excerpt> {
        self.excerpts
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use pushtrace_model::{Origin, UtcOffset};

    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::new(s * 1_000_000, UtcOffset::from_seconds(3 * 3600).unwrap())
    }

    fn record(s: i64, line: u64) -> LogRecord {
        let mut r = LogRecord::new(
            at(s),
            "apsd",
            format!("line {line}"),
            Origin::Line {
                file: Arc::from("log.txt"),
                line,
            },
        );
        r.pid = Some(7);
        r
    }

    #[test]
    fn only_lines_inside_a_window_are_kept_with_their_source() {
        let mut p = PushRecord::new(at(1000));
        p.deadline = Some(at(1060));
        let mut c = ExcerptCollector::new([&p], &DiagnoseOptions::default());
        for (s, line) in [(900, 1), (941, 2), (1500, 3), (1661, 4)] {
            c.offer(&record(s, line));
        }
        let e = &c.finish()[0];
        let sources: Vec<&str> = e.lines.iter().map(|l| l.source.as_str()).collect();
        assert_eq!(sources, ["log.txt:2", "log.txt:3"]);
        assert!(
            e.lines[0].text.ends_with("apsd[7]: line 2"),
            "{}",
            e.lines[0].text
        );
        assert_eq!(e.between(at(1400), at(1600)).count(), 1);
    }
}
