//! Turning the wall-clock times printed on log lines into instants.
//!
//! Some formats print a full timestamp with its offset (`log show`), some only a time of day
//! (Console copies, forum digests) and some no zone (`--style compact`). What a line lacks comes
//! from `--date` and `--tz`; nothing is ever guessed.

use pushtrace_model::{CivilDateTime, TimeOfDay, Timestamp, UtcOffset, suggest};

/// The zone `--tz` names: a fixed offset (`+03:00`) or an IANA zone (`Europe/Istanbul`), whose
/// offset then depends on the date (daylight saving).
#[derive(Clone, Debug)]
pub enum Zone {
    Fixed(UtcOffset),
    Named {
        name: String,
        zone: jiff::tz::TimeZone,
    },
}

impl Zone {
    /// Parses `Z`, `UTC`, `+03`, `+0300`, `+03:00` or an IANA name from the system database.
    pub fn parse(text: &str) -> Result<Zone, String> {
        if let Ok(offset) = UtcOffset::parse(text) {
            return Ok(Zone::Fixed(offset));
        }
        jiff::tz::TimeZone::get(text)
            .map(|zone| Zone::Named {
                name: text.to_string(),
                zone,
            })
            .map_err(|e| {
                let names: Vec<_> = jiff::tz::db().available().collect();
                let hint = suggest::hint(text, names.iter().map(|n| n.as_str()));
                format!(
                    "`{text}` is neither a UTC offset (+03:00, -0700, Z) nor a time zone name \
                     (Europe/Istanbul): {e}{hint}"
                )
            })
    }

    /// The offset this zone has at an instant (for showing UTC records in the device's zone).
    pub fn offset_at(&self, at: Timestamp) -> UtcOffset {
        match self {
            Zone::Fixed(offset) => *offset,
            Zone::Named { zone, .. } => {
                let seconds = at.utc_micros().div_euclid(1_000_000);
                jiff::Timestamp::from_second(seconds)
                    .ok()
                    .and_then(|ts| UtcOffset::from_seconds(zone.to_offset(ts).seconds()))
                    .unwrap_or(UtcOffset::UTC)
            }
        }
    }

    /// `at` on this zone's clock: the same instant with the offset the zone has then.
    pub fn show(&self, at: Timestamp) -> Timestamp {
        at.with_offset(self.offset_at(at))
    }

    /// The instant of a wall-clock time in this zone. In a named zone, a time that does not
    /// exist (spring-forward gap) or exists twice (fall-back) resolves as `log` itself would:
    /// the earlier offset ([`Zone::second_instance`] gives the later one of a fold).
    pub fn resolve(&self, civil: CivilDateTime) -> Result<Timestamp, String> {
        match self {
            Zone::Fixed(offset) => civil.at_offset(*offset).map_err(|e| e.to_string()),
            Zone::Named { zone, .. } => {
                let dt = jiff_civil(civil)?;
                let ts = zone
                    .to_ambiguous_timestamp(dt)
                    .compatible()
                    .map_err(|e| e.to_string())?;
                let offset = zone.to_offset(ts).seconds();
                let offset = UtcOffset::from_seconds(offset).ok_or("offset beyond ±18 h")?;
                civil.at_offset(offset).map_err(|e| e.to_string())
            }
        }
    }
}

/// A wall-clock time as jiff's, checked.
fn jiff_civil(civil: CivilDateTime) -> Result<jiff::civil::DateTime, String> {
    civil.validate().map_err(|e| e.to_string())?;
    jiff::civil::DateTime::new(
        civil.year as i16,
        civil.month as i8,
        civil.day as i8,
        civil.hour as i8,
        civil.minute as i8,
        civil.second as i8,
        civil.micros as i32 * 1000,
    )
    .map_err(|e| e.to_string())
}

impl Zone {
    /// When `at` is the first instance of a wall-clock time this zone shows twice (the hour
    /// repeated when daylight saving ends), the second instance, an hour or so later.
    pub fn second_instance(&self, at: Timestamp) -> Option<Timestamp> {
        let Zone::Named { zone, .. } = self else {
            return None;
        };
        let civil = at.local();
        let jiff::tz::AmbiguousOffset::Fold { before, after } = zone
            .to_ambiguous_timestamp(jiff_civil(civil).ok()?)
            .offset()
        else {
            return None;
        };
        if at.offset().seconds() != before.seconds() {
            return None;
        }
        let after = UtcOffset::from_seconds(after.seconds())?;
        civil.at_offset(after).ok()
    }
}

/// What `--date` and `--tz` supply to formats whose lines lack them.
#[derive(Clone, Debug, Default)]
pub struct LocalClock {
    pub date: Option<(i32, u8, u8)>,
    pub zone: Option<Zone>,
}

impl LocalClock {
    /// A time of day on the `--date` day, with the line's own offset when it printed one.
    /// Callers check [`crate::Requirements`] up front, so a missing date or zone here is a line
    /// the format's detection did not foresee; it is reported, not guessed.
    pub fn time_of_day(
        &self,
        time: TimeOfDay,
        line_offset: Option<UtcOffset>,
    ) -> Result<Timestamp, String> {
        let date = self
            .date
            .ok_or("the line has no date: pass --date YYYY-MM-DD")?;
        self.with_zone(CivilDateTime::new(date, time), line_offset)
    }

    /// A full wall-clock time, with the line's offset or else `--tz`.
    pub fn with_zone(
        &self,
        civil: CivilDateTime,
        line_offset: Option<UtcOffset>,
    ) -> Result<Timestamp, String> {
        match (line_offset, &self.zone) {
            (Some(offset), _) => civil.at_offset(offset).map_err(|e| e.to_string()),
            (None, Some(zone)) => zone.resolve(civil),
            (None, None) => Err("the line has no time zone: pass --tz (e.g. +03:00)".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_zone_follows_daylight_saving() {
        let zone = Zone::parse("Europe/Paris").unwrap();
        let winter = CivilDateTime {
            year: 2026,
            month: 1,
            day: 10,
            hour: 12,
            minute: 0,
            second: 0,
            micros: 0,
        };
        let summer = CivilDateTime { month: 7, ..winter };
        assert_eq!(zone.resolve(winter).unwrap().offset().seconds(), 3600);
        assert_eq!(zone.resolve(summer).unwrap().offset().seconds(), 7200);
    }

    #[test]
    fn the_repeated_fall_back_hour_has_a_second_instance() {
        let zone = Zone::parse("America/Chicago").unwrap();
        let civil = |hour, minute| CivilDateTime {
            year: 2026,
            month: 11,
            day: 1,
            hour,
            minute,
            second: 4,
            micros: 402_000,
        };
        let first = zone.resolve(civil(1, 0)).unwrap();
        assert_eq!(first.to_string(), "2026-11-01T01:00:04.402000-05:00");
        let second = zone.second_instance(first).unwrap();
        assert_eq!(second.to_string(), "2026-11-01T01:00:04.402000-06:00");
        assert_eq!(second.utc_micros() - first.utc_micros(), 3_600_000_000);
        assert_eq!(zone.second_instance(second), None);
        assert_eq!(
            zone.second_instance(zone.resolve(civil(2, 0)).unwrap()),
            None
        );
        assert_eq!(Zone::parse("-05:00").unwrap().second_instance(first), None);
    }

    #[test]
    fn fixed_offsets_and_bad_names() {
        assert!(matches!(Zone::parse("+03:00"), Ok(Zone::Fixed(o)) if o.seconds() == 10_800));
        let err = Zone::parse("Mars/Olympus").unwrap_err();
        assert!(err.contains("neither a UTC offset"), "{err}");
        assert!(!err.contains("did you mean"), "{err}");
        let err = Zone::parse("Europe/Istambul").unwrap_err();
        assert!(err.contains("(did you mean `Europe/Istanbul`?)"), "{err}");
    }

    #[test]
    fn missing_date_or_zone_says_which_flag() {
        let clock = LocalClock::default();
        assert!(
            clock
                .time_of_day((1, 2, 3, 0), None)
                .unwrap_err()
                .contains("--date")
        );
        let clock = LocalClock {
            date: Some((2026, 5, 20)),
            zone: None,
        };
        assert!(
            clock
                .time_of_day((1, 2, 3, 0), None)
                .unwrap_err()
                .contains("--tz")
        );
    }
}
