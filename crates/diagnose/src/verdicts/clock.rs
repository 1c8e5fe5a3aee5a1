//! The clock a verdict writes its times on: the device log's own, labelled with its offset, so
//! that every time in a sentence can be found in the log as printed.

use pushtrace_devicelog::timeline::DeviceTimeline;
use pushtrace_model::{Timestamp, UtcOffset};

/// The device log's clock: its UTC offset, and whether dates must be said (the log spans
/// several days, or a time falls on another day than the log's first line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogClock {
    pub offset: UtcOffset,
    first_day: Option<(i32, u8, u8)>,
    spans_days: bool,
}

impl LogClock {
    /// The clock of `timeline`'s lines (the offset its reader gave them: the log's own or
    /// `--tz`); UTC for an empty log.
    pub fn of(timeline: &DeviceTimeline) -> LogClock {
        let offset = timeline.start.map_or(UtcOffset::UTC, Timestamp::offset);
        let day = |t: Timestamp| {
            let c = t.with_offset(offset).local();
            (c.year, c.month, c.day)
        };
        let first_day = timeline.start.map(day);
        LogClock {
            offset,
            first_day,
            spans_days: timeline.end.map(day) != first_day,
        }
    }

    /// `17:47:00.000 +03:00`, with the date in front when it is needed.
    pub fn show(&self, t: Timestamp) -> String {
        let t = t.with_offset(self.offset);
        let c = t.local();
        if self.spans_days || self.first_day != Some((c.year, c.month, c.day)) {
            t.date_time_labelled()
        } else {
            t.time_of_day_labelled()
        }
    }
}
