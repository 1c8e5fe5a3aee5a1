//! Time between two instants, and how a person reads it: one home for both, so a report, a
//! verdict and a bundle never disagree on "3 min 5 s".

use std::fmt;
use std::time::Duration;

use crate::time::Timestamp;

/// `later − earlier`, zero when `later` is not after `earlier`.
pub fn since(later: Timestamp, earlier: Timestamp) -> Duration {
    Duration::from_micros(u64::try_from(later.utc_micros() - earlier.utc_micros()).unwrap_or(0))
}

/// `at + d`, in `at`'s offset (saturating at the end of time).
pub fn after(at: Timestamp, d: Duration) -> Timestamp {
    Timestamp::new(at.utc_micros().saturating_add(micros(d)), at.offset())
}

/// `at − d`, in `at`'s offset.
pub fn before(at: Timestamp, d: Duration) -> Timestamp {
    Timestamp::new(at.utc_micros().saturating_sub(micros(d)), at.offset())
}

/// A duration in microseconds, saturating.
pub fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// A duration as a person says it: `850 ms`, `4.2 s`, `3 min 5 s`, `1 h 2 min`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Human(pub Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms < 1000 {
            return write!(f, "{ms} ms");
        }
        let secs = self.0.as_secs();
        let tenths = (ms % 1000) / 100;
        match secs {
            0..60 if tenths > 0 => write!(f, "{secs}.{tenths} s"),
            0..60 => write!(f, "{secs} s"),
            60..3600 if secs.is_multiple_of(60) => write!(f, "{} min", secs / 60),
            60..3600 => write!(f, "{} min {} s", secs / 60, secs % 60),
            _ if (secs % 3600) / 60 == 0 => write!(f, "{} h", secs / 3600),
            _ => write!(f, "{} h {} min", secs / 3600, (secs % 3600) / 60),
        }
    }
}

/// [`Human`] as a `String`.
pub fn human(d: Duration) -> String {
    Human(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        for (ms, text) in [
            (850, "850 ms"),
            (4_200, "4.2 s"),
            (30_000, "30 s"),
            (185_000, "3 min 5 s"),
            (120_000, "2 min"),
            (3_600_000, "1 h"),
            (3_720_000, "1 h 2 min"),
        ] {
            assert_eq!(human(Duration::from_millis(ms)), text);
        }
        let a = Timestamp::parse("2026-05-20T17:47:00+03:00").unwrap();
        let b = after(a, Duration::from_secs(185));
        assert_eq!(since(b, a), Duration::from_secs(185));
        assert_eq!(since(a, b), Duration::ZERO);
        assert_eq!(before(b, Duration::from_secs(185)), a);
    }
}
