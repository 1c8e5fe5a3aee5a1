//! Instants in UTC with microsecond precision that remember the offset they were written in.
//!
//! Every log line, push and receipt is placed on one UTC axis so that an iPhone log written in
//! `+0300` and a push server clock in UTC can be compared, while reports still show each instant
//! in the zone its source used. Calendar arithmetic is done here by hand (proleptic Gregorian,
//! Howard Hinnant's `days_from_civil`): it runs once per parsed log line on the hot path, needs no
//! time-zone database and is a few lines of integer maths. Named zones are resolved to offsets by
//! the readers, which may do I/O.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;
/// Offsets beyond ±18 h do not exist in any time-zone database; larger values are input errors.
const MAX_OFFSET_SECONDS: i32 = 18 * 3600;

/// A UTC offset, in seconds east of Greenwich.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct UtcOffset(i32);

impl UtcOffset {
    pub const UTC: UtcOffset = UtcOffset(0);

    /// An offset of `seconds` east of UTC; `None` beyond ±18 hours.
    pub fn from_seconds(seconds: i32) -> Option<UtcOffset> {
        (seconds.abs() <= MAX_OFFSET_SECONDS).then_some(UtcOffset(seconds))
    }

    pub fn seconds(self) -> i32 {
        self.0
    }

    /// Parses `Z`, `+03`, `+0300`, `+03:00`, `-0700` and `UTC`.
    pub fn parse(text: &str) -> Result<UtcOffset, TimeError> {
        let bad = || TimeError::Offset(text.to_string());
        if text == "Z" || text.eq_ignore_ascii_case("utc") {
            return Ok(UtcOffset::UTC);
        }
        let bytes = text.as_bytes();
        let sign = match bytes.first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err(bad()),
        };
        let digits: Vec<u8> = bytes[1..].iter().copied().filter(|b| *b != b':').collect();
        let has_colon = bytes[1..].contains(&b':');
        let (hours, minutes) = match (digits.len(), has_colon) {
            (2, false) => (two_digits(&digits[0..2]), Some(0)),
            (4, _) => (two_digits(&digits[0..2]), two_digits(&digits[2..4])),
            _ => return Err(bad()),
        };
        match (hours, minutes) {
            (Some(h), Some(m)) if m < 60 => {
                UtcOffset::from_seconds(sign * (h as i32 * 3600 + m as i32 * 60)).ok_or_else(bad)
            }
            _ => Err(bad()),
        }
    }

    fn write_compact(self, out: &mut impl fmt::Write, colon: bool) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let abs = self.0.unsigned_abs();
        let (h, m) = (abs / 3600, (abs % 3600) / 60);
        if colon {
            write!(out, "{sign}{h:02}:{m:02}")
        } else {
            write!(out, "{sign}{h:02}{m:02}")
        }
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_compact(f, true)
    }
}

/// A calendar date and wall-clock time without a zone, as log lines print them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDateTime {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micros: u32,
}

impl CivilDateTime {
    /// A date and a time of day, unchecked (see [`CivilDateTime::validate`]).
    pub fn new(
        (year, month, day): (i32, u8, u8),
        (hour, minute, second, micros): TimeOfDay,
    ) -> CivilDateTime {
        CivilDateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micros,
        }
    }

    /// Checks the fields form a real date and time (leap years included; no leap seconds).
    pub fn validate(&self) -> Result<(), TimeError> {
        let ok = (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
            && self.micros < 1_000_000
            && (1..=9999).contains(&self.year);
        if ok {
            Ok(())
        } else {
            Err(TimeError::Civil(format!("{self:?}")))
        }
    }

    /// Microseconds since the Unix epoch if this wall-clock time were UTC.
    fn as_utc_micros(&self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        let seconds = days * SECONDS_PER_DAY
            + self.hour as i64 * 3600
            + self.minute as i64 * 60
            + self.second as i64;
        seconds * MICROS_PER_SECOND + self.micros as i64
    }

    /// This wall-clock time read in `offset`.
    pub fn at_offset(&self, offset: UtcOffset) -> Result<Timestamp, TimeError> {
        self.validate()?;
        let utc = self.as_utc_micros() - offset.0 as i64 * MICROS_PER_SECOND;
        Ok(Timestamp::new(utc, offset))
    }

    /// The same wall-clock time on the next calendar day (for logs that cross midnight).
    pub fn next_day(&self) -> CivilDateTime {
        let (year, month, day) =
            civil_from_days(days_from_civil(self.year, self.month, self.day) + 1);
        CivilDateTime {
            year,
            month,
            day,
            ..*self
        }
    }
}

/// An instant: microseconds since the Unix epoch in UTC, plus the offset its source used.
///
/// Two timestamps are equal and ordered by their instant; the offset only breaks ties so that
/// `Ord` agrees with `Eq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timestamp {
    utc_micros: i64,
    offset: UtcOffset,
}

impl Timestamp {
    pub fn new(utc_micros: i64, offset: UtcOffset) -> Timestamp {
        Timestamp { utc_micros, offset }
    }

    pub fn from_utc_micros(utc_micros: i64) -> Timestamp {
        Timestamp::new(utc_micros, UtcOffset::UTC)
    }

    pub fn utc_micros(self) -> i64 {
        self.utc_micros
    }

    pub fn offset(self) -> UtcOffset {
        self.offset
    }

    /// The same instant shown in another offset.
    pub fn with_offset(self, offset: UtcOffset) -> Timestamp {
        Timestamp { offset, ..self }
    }

    /// The wall-clock time of this instant in its own offset.
    pub fn local(self) -> CivilDateTime {
        let local = self.utc_micros + self.offset.0 as i64 * MICROS_PER_SECOND;
        let days = local.div_euclid(SECONDS_PER_DAY * MICROS_PER_SECOND);
        let in_day = local.rem_euclid(SECONDS_PER_DAY * MICROS_PER_SECOND);
        let (year, month, day) = civil_from_days(days);
        let seconds = in_day / MICROS_PER_SECOND;
        CivilDateTime {
            year,
            month,
            day,
            hour: (seconds / 3600) as u8,
            minute: ((seconds / 60) % 60) as u8,
            second: (seconds % 60) as u8,
            micros: (in_day % MICROS_PER_SECOND) as u32,
        }
    }

    /// `2026-05-20 17:45:59.562000+0300`: the form `log show --style syslog` prints.
    pub fn log_style(self) -> String {
        let mut out = String::with_capacity(31);
        let c = self.local();
        use fmt::Write;
        let _ = write!(
            out,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
            c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
        );
        let _ = self.offset.write_compact(&mut out, false);
        out
    }

    /// `17:45:59.562`: wall-clock time to the millisecond, as timelines show it.
    pub fn time_of_day_millis(self) -> String {
        let c = self.local();
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            c.hour,
            c.minute,
            c.second,
            c.micros / 1000
        )
    }

    /// `17:45:59.562 +03:00`: wall-clock time with the offset it is shown in, so a reader can
    /// find the line in a log that prints that offset.
    pub fn time_of_day_labelled(self) -> String {
        format!("{} {}", self.time_of_day_millis(), self.offset)
    }

    /// `2026-05-20 17:45:59.562 +03:00`.
    pub fn date_time_labelled(self) -> String {
        let c = self.local();
        format!(
            "{:04}-{:02}-{:02} {}",
            c.year,
            c.month,
            c.day,
            self.time_of_day_labelled()
        )
    }

    /// Parses RFC 3339 (`2026-05-20T17:45:59.562+03:00`, `…Z`) and the log form
    /// (`2026-05-20 17:45:59.562000+0300`). A time without an offset is an error: see
    /// [`parse_civil`] for those.
    pub fn parse(text: &str) -> Result<Timestamp, TimeError> {
        let (civil, rest) = parse_civil_prefix(text.trim())?;
        let rest = rest.trim_start();
        if rest.is_empty() {
            return Err(TimeError::MissingOffset(text.to_string()));
        }
        civil.at_offset(UtcOffset::parse(rest)?)
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> Ordering {
        self.utc_micros
            .cmp(&other.utc_micros)
            .then(self.offset.cmp(&other.offset))
    }
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// RFC 3339 with microseconds and the original offset: `2026-05-20T17:45:59.562000+03:00`.
/// `YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM`.
pub(crate) const RFC3339_BYTES: usize = 32;

impl Timestamp {
    /// The text [`Display`](fmt::Display) writes, laid out by hand in `buf`: `pushtrace logs
    /// --json` writes one per record, and going through `fmt` (and, in JSON, serde's escaping
    /// of each piece `fmt` hands over) cost more than the rest of the record. `None` for a
    /// year outside 0–9999, which `Display` writes with another width.
    pub(crate) fn rfc3339<'b>(&self, buf: &'b mut [u8; RFC3339_BYTES]) -> Option<&'b str> {
        self.rfc3339_bytes(buf)?;
        std::str::from_utf8(buf).ok()
    }

    /// [`Timestamp::rfc3339`] as bytes, all ASCII digits and punctuation: JSON writes them
    /// between quotes as they are, without a UTF-8 check or an escape scan.
    pub(crate) fn rfc3339_bytes(&self, buf: &mut [u8; RFC3339_BYTES]) -> Option<()> {
        let c = self.local();
        let year = u32::try_from(c.year).ok().filter(|y| *y <= 9999)?;
        let abs = self.offset.0.unsigned_abs();
        let (oh, om) = (abs / 3600, (abs % 3600) / 60);
        if oh > 99 {
            return None;
        }
        let mut digits = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        digits(0, 4, year);
        digits(5, 2, u32::from(c.month));
        digits(8, 2, u32::from(c.day));
        digits(11, 2, u32::from(c.hour));
        digits(14, 2, u32::from(c.minute));
        digits(17, 2, u32::from(c.second));
        digits(20, 6, c.micros);
        digits(27, 2, oh);
        digits(30, 2, om);
        for (at, byte) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (29, b':'),
        ] {
            buf[at] = byte;
        }
        buf[26] = if self.offset.0 < 0 { b'-' } else { b'+' };
        Some(())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; RFC3339_BYTES];
        if let Some(text) = self.rfc3339(&mut buf) {
            return f.write_str(text);
        }
        let c = self.local();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
            c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
        )?;
        self.offset.write_compact(f, true)
    }
}

impl FromStr for Timestamp {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            let mut buf = [0u8; RFC3339_BYTES];
            match self.rfc3339(&mut buf) {
                Some(text) => serializer.serialize_str(text),
                None => serializer.collect_str(self),
            }
        } else {
            (self.utc_micros, self.offset.0).serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            Timestamp::parse(&text).map_err(serde::de::Error::custom)
        } else {
            let (utc_micros, offset) = <(i64, i32)>::deserialize(deserializer)?;
            let offset = UtcOffset::from_seconds(offset)
                .ok_or_else(|| serde::de::Error::custom("offset beyond ±18 h"))?;
            Ok(Timestamp::new(utc_micros, offset))
        }
    }
}

/// Parses a date and time without an offset (`2026-05-20 17:45:59.562`, `2026-05-20T17:45`).
pub fn parse_civil(text: &str) -> Result<CivilDateTime, TimeError> {
    let (civil, rest) = parse_civil_prefix(text.trim())?;
    if !rest.trim().is_empty() {
        return Err(TimeError::Civil(text.to_string()));
    }
    Ok(civil)
}

/// Parses a time of day (`17:45:59.562`, `17:45`) as hour, minute, second and microseconds.
pub fn parse_time_of_day(text: &str) -> Result<TimeOfDay, TimeError> {
    let bad = || TimeError::Civil(text.to_string());
    let (time, rest) = parse_time_prefix(text.trim().as_bytes()).ok_or_else(bad)?;
    if !rest.is_empty() {
        return Err(bad());
    }
    Ok(time)
}

/// Parses a calendar date `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<(i32, u8, u8), TimeError> {
    let bytes = text.trim().as_bytes();
    let bad = || TimeError::Civil(text.to_string());
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return Err(bad());
    }
    let year = four_digits(&bytes[0..4]).ok_or_else(bad)?;
    let month = two_digits(&bytes[5..7]).ok_or_else(bad)?;
    let day = two_digits(&bytes[8..10]).ok_or_else(bad)?;
    let civil = CivilDateTime {
        year,
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
        micros: 0,
    };
    civil.validate()?;
    Ok((year, month, day))
}

fn parse_civil_prefix(text: &str) -> Result<(CivilDateTime, &str), TimeError> {
    let bytes = text.as_bytes();
    let bad = || TimeError::Civil(text.to_string());
    if bytes.len() < 16 || !matches!(bytes[10], b' ' | b'T') {
        return Err(bad());
    }
    let date = parse_date(&text[..10])?;
    let (time, rest) = parse_time_prefix(&bytes[11..]).ok_or_else(bad)?;
    let civil = CivilDateTime::new(date, time);
    civil.validate()?;
    let consumed = bytes.len() - rest.len();
    Ok((civil, &text[consumed..]))
}

/// A wall-clock time of day: hour, minute, second and microseconds.
pub type TimeOfDay = (u8, u8, u8, u32);

/// `HH:MM[:SS[.f{1,9}]]` at the start of `bytes`; fractions beyond microseconds are truncated.
pub fn parse_time_prefix(bytes: &[u8]) -> Option<(TimeOfDay, &[u8])> {
    if bytes.len() < 5 || bytes[2] != b':' {
        return None;
    }
    let hour = two_digits(&bytes[0..2])?;
    let minute = two_digits(&bytes[3..5])?;
    let mut rest = &bytes[5..];
    let mut second = 0;
    let mut micros = 0u32;
    if rest.len() >= 3 && rest[0] == b':' {
        second = two_digits(&rest[1..3])?;
        rest = &rest[3..];
        if rest.len() >= 2 && matches!(rest[0], b'.' | b',') && rest[1].is_ascii_digit() {
            let digits = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > 9 {
                return None;
            }
            for (i, d) in rest[1..=digits].iter().enumerate() {
                if i < 6 {
                    micros = micros * 10 + (d - b'0') as u32;
                }
            }
            for _ in digits..6 {
                micros *= 10;
            }
            rest = &rest[1 + digits..];
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(((hour, minute, second, micros), rest))
}

fn two_digits(b: &[u8]) -> Option<u8> {
    match b {
        [a @ b'0'..=b'9', c @ b'0'..=b'9'] => Some((a - b'0') * 10 + (c - b'0')),
        _ => None,
    }
}

fn four_digits(b: &[u8]) -> Option<i32> {
    if b.len() != 4 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i32, |acc, d| acc * 10 + (d - b'0') as i32))
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant, "chrono-Compatible Low-Level
/// Date Algorithms").
fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let y = year as i64 - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

/// Why a time could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("`{0}` is not a UTC offset: expected Z, +HH, +HHMM or +HH:MM within ±18:00")]
    Offset(String),
    #[error("`{0}` is not a valid date or time: expected YYYY-MM-DD HH:MM[:SS[.ffffff]]")]
    Civil(String),
    #[error("`{0}` has no UTC offset: add one (e.g. +03:00 or Z)")]
    MissingOffset(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_laid_out_by_hand_is_the_formatted_one() {
        // The formatted text as Display wrote it before the hand-laid path.
        let formatted = |at: Timestamp| {
            let c = at.local();
            let mut text = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
                c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
            );
            at.offset.write_compact(&mut text, true).unwrap();
            text
        };
        let offsets = [
            0,
            3 * 3600,
            -(9 * 3600 + 30 * 60),
            18 * 3600,
            -18 * 3600,
            5 * 3600 + 45 * 60,
        ];
        let mut micros = -62_135_596_800_000_000i64; // 0001-01-01
        let mut checked = 0;
        while micros < 253_402_300_799_000_000 {
            for &offset in &offsets {
                let at = Timestamp::new(micros, UtcOffset::from_seconds(offset).unwrap());
                assert_eq!(at.to_string(), formatted(at));
                assert_eq!(
                    serde_json::to_string(&at).unwrap(),
                    format!("\"{}\"", formatted(at))
                );
                checked += 1;
            }
            micros += 7_919_000_123_457;
        }
        assert!(checked > 40_000);
        // Years Display pads otherwise keep the formatted path.
        let far = Timestamp::new(300_000_000_000_000_000, UtcOffset::from_seconds(0).unwrap());
        assert_eq!(far.to_string(), formatted(far));
    }
    use proptest::prelude::*;

    #[test]
    fn log_style_round_trips_with_its_offset() {
        let t = Timestamp::parse("2023-05-26 13:42:44.136082+0200").unwrap();
        assert_eq!(t.log_style(), "2023-05-26 13:42:44.136082+0200");
        assert_eq!(t.to_string(), "2023-05-26T13:42:44.136082+02:00");
        assert_eq!(t.utc_micros(), 1_685_101_364_136_082);
    }

    #[test]
    fn rfc3339_with_z_and_short_fraction() {
        let t: Timestamp = "2026-05-20T14:45:59.562Z".parse().unwrap();
        let local = t.with_offset(UtcOffset::parse("+03:00").unwrap());
        assert_eq!(local.time_of_day_millis(), "17:45:59.562");
    }

    #[test]
    fn rejects_impossible_dates_and_missing_offsets() {
        assert!(Timestamp::parse("2023-02-29 00:00:00+0000").is_err());
        assert!(Timestamp::parse("2024-02-29 00:00:00+0000").is_ok());
        assert!(matches!(
            Timestamp::parse("2024-02-29 00:00:00"),
            Err(TimeError::MissingOffset(_))
        ));
        assert!(UtcOffset::parse("+19:00").is_err());
        assert!(UtcOffset::parse("+0360").is_err());
    }

    #[test]
    fn instants_order_across_offsets() {
        let a = Timestamp::parse("2026-05-20 17:00:00+0300").unwrap();
        let b = Timestamp::parse("2026-05-20 15:00:00+0000").unwrap();
        assert!(a < b);
    }

    proptest! {
        #[test]
        fn civil_round_trip(micros in -50_000_000_000_000_000i64..200_000_000_000_000_000i64,
                            offset in -64_800i32..=64_800) {
            let offset = UtcOffset::from_seconds(offset / 60 * 60).unwrap();
            let t = Timestamp::new(micros, offset);
            prop_assert_eq!(t.local().at_offset(offset).unwrap(), t);
            prop_assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        }

        #[test]
        fn parse_never_panics(text in ".{0,40}") {
            let _ = Timestamp::parse(&text);
            let _ = parse_civil(&text);
            let _ = UtcOffset::parse(&text);
        }
    }
}
