//! `--push TIME[,apns-id]`: one push typed on the command line, for a quick look without a
//! pushes file.
//!
//! TIME is read as a full instant when it has one (RFC 3339 or the `log show` form with an
//! offset, or epoch milliseconds); a time of day (`17:47:00`, `17:47:00.250`, optionally with
//! its own offset) or a date and time without a zone take what they lack from the same
//! `--date`/`--tz` clock as the device log, so a push and the digest it is compared with line
//! up. Nothing is guessed: without the clock the error names the flag.

use pushtrace_devicelog::LocalClock;
use pushtrace_model::{
    Origin, PushRecord, UtcOffset, parse_civil, parse_push_time, parse_time_prefix,
};

use super::{Push, PushArgError};

/// Reads the `index`th (1-based) `--push` argument. Its origin is `--push:<index>`.
pub fn push_from_arg(text: &str, index: u64, clock: &LocalClock) -> Result<Push, PushArgError> {
    let bad = |why: String| PushArgError {
        arg: text.to_string(),
        why,
    };
    let (time, apns_id) = match text.split_once(',') {
        Some((time, id)) => (time.trim(), Some(id.trim())),
        None => (text.trim(), None),
    };
    let sent_at = instant(time, clock).map_err(bad)?;
    let mut record = PushRecord::new(sent_at);
    if let Some(id) = apns_id {
        record.apns_id = Some(apns_id_of(id).map_err(bad)?);
    }
    Ok(Push {
        record,
        origin: Origin::Line {
            file: "--push".into(),
            line: index,
        },
    })
}

fn instant(time: &str, clock: &LocalClock) -> Result<pushtrace_model::Timestamp, String> {
    if time.is_empty() {
        return Err("no time: expected TIME[,apns-id]".to_string());
    }
    match parse_push_time(time) {
        Ok(at) => return Ok(at),
        // Digits are epoch milliseconds or nothing: keep the unit diagnosis ("looks like seconds").
        Err(why) if time.bytes().all(|b| b.is_ascii_digit() || b == b'.') => return Err(why),
        Err(_) => {}
    }
    if let Some((of_day, rest)) = parse_time_prefix(time.as_bytes()) {
        let rest = std::str::from_utf8(rest).unwrap_or_default().trim();
        let offset = if rest.is_empty() {
            None
        } else {
            Some(UtcOffset::parse(rest).map_err(|e| e.to_string())?)
        };
        return clock.time_of_day(of_day, offset);
    }
    if let Ok(civil) = parse_civil(time) {
        return clock.with_zone(civil, None);
    }
    Err(format!(
        "`{time}` is not a time: expected RFC 3339 (2026-05-20T17:47:00+03:00), epoch \
         milliseconds, or HH:MM:SS[.mmm] with --date and --tz"
    ))
}

/// An `apns-id` is a UUID (8-4-4-4-12 hex digits); it is kept in lower case, as APNs and the
/// emulator answer it, so that it matches receipts and delivery logs.
fn apns_id_of(id: &str) -> Result<String, String> {
    let groups: Vec<&str> = id.split('-').collect();
    let shaped = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if shaped {
        Ok(id.to_ascii_lowercase())
    } else if id.contains(',') {
        Err("one apns-id after the time, not several: TIME[,apns-id]".to_string())
    } else {
        Err(format!(
            "`{id}` is not an apns-id: expected a UUID such as \
             8f1e6a52-3c4d-4e5f-9a0b-1c2d3e4f5a6b"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushtrace_devicelog::Zone;

    fn clock() -> LocalClock {
        LocalClock {
            date: Some((2026, 5, 20)),
            zone: Some(Zone::parse("+03:00").unwrap()),
        }
    }

    #[test]
    fn time_of_day_takes_the_clock() {
        let push =
            push_from_arg("17:47:00,8F1E6A52-3C4D-4E5F-9A0B-1C2D3E4F5A6B", 2, &clock()).unwrap();
        assert_eq!(
            push.record.sent_at.to_string(),
            "2026-05-20T17:47:00.000000+03:00"
        );
        assert_eq!(
            push.record.apns_id.as_deref(),
            Some("8f1e6a52-3c4d-4e5f-9a0b-1c2d3e4f5a6b")
        );
        assert_eq!(push.origin.to_string(), "--push:2");
        let push = push_from_arg("17:47:00.250", 1, &clock()).unwrap();
        assert_eq!(push.record.sent_at.time_of_day_millis(), "17:47:00.250");
        assert_eq!(push.record.apns_id, None);
    }

    #[test]
    fn full_instants_need_no_clock() {
        let none = LocalClock::default();
        let push = push_from_arg("2026-05-20T14:47:00Z", 1, &none).unwrap();
        assert_eq!(
            push.record.sent_at.to_string(),
            "2026-05-20T14:47:00.000000+00:00"
        );
        let push = push_from_arg("1779288420000", 1, &none).unwrap();
        assert_eq!(push.record.sent_at.utc_micros(), 1_779_288_420_000_000);
        // A time of day with its own offset needs only the date.
        let dated = LocalClock {
            date: Some((2026, 5, 20)),
            zone: None,
        };
        let push = push_from_arg("17:47:00+03:00", 1, &dated).unwrap();
        assert_eq!(push.record.sent_at.utc_micros(), 1_779_288_420_000_000);
    }

    #[test]
    fn missing_clock_and_bad_ids_say_what_to_do() {
        let err = push_from_arg("17:47:00", 1, &LocalClock::default()).unwrap_err();
        assert!(err.to_string().contains("--date"), "{err}");
        let err = push_from_arg("2026-05-20 17:47:00", 1, &LocalClock::default()).unwrap_err();
        assert!(err.to_string().contains("--tz"), "{err}");
        let err = push_from_arg("17:47:00,abc", 1, &clock()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--push `17:47:00,abc`: `abc` is not an apns-id: expected a UUID such as \
             8f1e6a52-3c4d-4e5f-9a0b-1c2d3e4f5a6b"
        );
        let err = push_from_arg("yesterday", 1, &clock()).unwrap_err();
        assert!(err.to_string().contains("is not a time"), "{err}");
        assert!(push_from_arg("", 1, &clock()).is_err());
        let err = push_from_arg("1779288420", 1, &clock()).unwrap_err();
        assert!(err.to_string().contains("looks like seconds"), "{err}");
        assert!(push_from_arg("25:00:00", 1, &clock()).is_err());
        assert!(push_from_arg("17:47:00+99", 1, &clock()).is_err());
    }
}
