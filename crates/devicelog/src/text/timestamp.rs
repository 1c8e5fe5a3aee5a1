//! The timestamp shapes text exports print, parsed without allocation.

use pushtrace_model::{CivilDateTime, TimeOfDay, UtcOffset, parse_time_prefix};

use super::decimal;

/// `YYYY-MM-DD HH:MM:SS[.f…]` at the start of `bytes`, then an optional `±HHMM` (or `±HH:MM`)
/// glued to it. Returns the civil time, the offset if printed, and the rest of the line.
pub(crate) fn date_time_prefix(bytes: &[u8]) -> Option<(CivilDateTime, Option<UtcOffset>, &[u8])> {
    if bytes.len() < 16 || bytes[4] != b'-' || bytes[7] != b'-' || !matches!(bytes[10], b' ' | b'T')
    {
        return None;
    }
    let year = decimal(&bytes[0..4])? as i32;
    let month = decimal(&bytes[5..7])? as u8;
    let day = decimal(&bytes[8..10])? as u8;
    let (time, rest) = parse_time_prefix(&bytes[11..])?;
    let civil = CivilDateTime::new((year, month, day), time);
    let (offset, rest) = offset_prefix(rest);
    Some((civil, offset, rest))
}

/// Whether two lines that start as [`date_time_prefix`] reads them name the same second: equal
/// up to the seconds and in the offset glued after the fraction (or both without one). The
/// fraction is the only part left unread.
pub(crate) fn same_second(a: &[u8], b: &[u8]) -> bool {
    const SECONDS: usize = "YYYY-MM-DD HH:MM:SS".len();
    if a.len() < SECONDS || b.len() < SECONDS || a[..SECONDS] != b[..SECONDS] {
        return false;
    }
    fn after_fraction(line: &[u8]) -> &[u8] {
        let rest = &line[SECONDS..];
        let rest = match rest.strip_prefix(b".") {
            Some(fraction) => {
                let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
                &fraction[digits..]
            }
            None => rest,
        };
        let offset = rest
            .iter()
            .take(6)
            .take_while(|b| matches!(b, b'+' | b'-' | b'Z' | b':' | b'0'..=b'9'))
            .count();
        &rest[..offset]
    }
    after_fraction(a) == after_fraction(b)
}

/// A `±HHMM`, `±HH:MM` or `Z` glued at the start of `bytes`.
pub(crate) fn offset_prefix(bytes: &[u8]) -> (Option<UtcOffset>, &[u8]) {
    match bytes.first() {
        Some(b'Z') => (Some(UtcOffset::UTC), &bytes[1..]),
        Some(sign @ (b'+' | b'-')) => {
            let sign = if *sign == b'-' { -1 } else { 1 };
            let (h, m, len) = if bytes.len() >= 6 && bytes[3] == b':' {
                (decimal(&bytes[1..3]), decimal(&bytes[4..6]), 6)
            } else if bytes.len() >= 5 {
                (decimal(&bytes[1..3]), decimal(&bytes[3..5]), 5)
            } else {
                (None, None, 0)
            };
            match (h, m) {
                (Some(h), Some(m)) if m < 60 => {
                    match UtcOffset::from_seconds(sign * (h as i32 * 3600 + m as i32 * 60)) {
                        Some(offset) => (Some(offset), &bytes[len..]),
                        None => (None, bytes),
                    }
                }
                _ => (None, bytes),
            }
        }
        _ => (None, bytes),
    }
}

/// Microseconds since midnight of a time of day.
pub(crate) fn micros_of_day((hour, minute, second, micros): TimeOfDay) -> i64 {
    ((hour as i64 * 60 + minute as i64) * 60 + second as i64) * 1_000_000 + micros as i64
}

/// Skips spaces and tabs.
pub(crate) fn trim_start(bytes: &[u8]) -> &[u8] {
    let n = bytes
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    &bytes[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_show_timestamp_with_glued_offset() {
        let (civil, offset, rest) =
            date_time_prefix(b"2023-05-26 13:42:44.136082+0200  localhost").unwrap();
        assert_eq!((civil.hour, civil.micros), (13, 136_082));
        assert_eq!(offset.unwrap().seconds(), 7200);
        assert_eq!(rest, b"  localhost");
    }

    #[test]
    fn compact_timestamp_without_offset() {
        let (civil, offset, rest) = date_time_prefix(b"2026-10-06 10:41:02.207 Df tccd").unwrap();
        assert_eq!(civil.micros, 207_000);
        assert!(offset.is_none());
        assert_eq!(rest, b" Df tccd");
    }

    #[test]
    fn same_second_leaves_only_the_fraction_unread() {
        let a = b"2026-05-20 14:00:00.389631+0300  localhost apsd[112]: x";
        assert!(same_second(
            a,
            b"2026-05-20 14:00:00.999999+0300  localhost kernel[0]: y"
        ));
        // Another second, another offset (the same wall second an hour apart), no fraction.
        assert!(!same_second(
            a,
            b"2026-05-20 14:00:01.000000+0300  localhost apsd[112]: x"
        ));
        assert!(!same_second(
            a,
            b"2026-05-20 14:00:00.389631+0200  localhost apsd[112]: x"
        ));
        assert!(!same_second(
            a,
            b"2026-05-20 14:00:00+0200  localhost apsd[112]: x"
        ));
        // Compact style, no offset: what follows the fraction does not matter.
        assert!(same_second(
            b"2026-10-06 10:41:02.207 Df tccd[1]: x",
            b"2026-10-06 10:41:02.931 E  apsd[2]: y"
        ));
        assert!(!same_second(
            b"2026-10-06 10:41:02.207 Df tccd[1]: x",
            b"2026-10-06 10:41:02.931-0700 Df tccd[1]: y"
        ));
        assert!(!same_second(b"    continued", b"    continued"));
    }

    #[test]
    fn offsets() {
        assert_eq!(offset_prefix(b"-0700 x").0.unwrap().seconds(), -25_200);
        assert_eq!(offset_prefix(b"+05:30").0.unwrap().seconds(), 19_800);
        assert!(offset_prefix(b"+9").0.is_none());
    }
}
