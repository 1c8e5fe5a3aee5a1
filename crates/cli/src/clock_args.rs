//! `--date`, `--tz`, `--since` and `--until`: what the user tells us about time.

use anyhow::{Context, Result, bail};
use clap::Args;
use pushtrace_devicelog::{LocalClock, Zone};
use pushtrace_model::{Timestamp, parse_civil, parse_date, parse_time_of_day};

/// Time options shared by the verbs that read device logs.
#[derive(Args, Debug, Clone, Default)]
pub struct ClockArgs {
    /// The day of the first line, for logs whose lines have no date (Console copies, forum digests)
    /// or no year (idevicesyslog captures: each line takes the year nearest to this day).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,

    /// The device's time zone, for lines without one: an offset (+03:00, -0700, Z) or a zone
    /// name (Europe/Istanbul). Archives, whose times are UTC, are then shown in this zone. Live
    /// captures (pymobiledevice3, idevicesyslog 1.4) print the capturing computer's time: its zone.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
}

impl ClockArgs {
    pub fn clock(&self) -> Result<LocalClock> {
        let date = self
            .date
            .as_deref()
            .map(|d| parse_date(d).with_context(|| format!("--date {d}")))
            .transpose()?;
        let zone = self
            .tz
            .as_deref()
            .map(|z| Zone::parse(z).map_err(anyhow::Error::msg).context("--tz"))
            .transpose()?;
        Ok(LocalClock { date, zone })
    }
}

/// Reads an instant given on the command line: RFC 3339 or `YYYY-MM-DD HH:MM[:SS]` with an
/// offset (`+03:00`, or `+0300` as `log show --start` takes it); without one, in `--tz`;
/// `YYYY-MM-DD` alone is that day's midnight in `--tz`; a bare time of day also needs `--date`.
pub fn parse_instant(flag: &str, text: &str, clock: &LocalClock) -> Result<Timestamp> {
    if let Ok(at) = Timestamp::parse(text) {
        return Ok(at);
    }
    if parse_date(text).is_ok() {
        return parse_instant(flag, &format!("{} 00:00:00", text.trim()), clock);
    }
    let need_zone = || {
        anyhow::anyhow!(
            "{flag} {text}: no UTC offset in it and no --tz; write e.g. {text}+03:00 or pass --tz"
        )
    };
    if let Ok(civil) = parse_civil(text) {
        let zone = clock.zone.as_ref().ok_or_else(need_zone)?;
        return zone
            .resolve(civil)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("{flag} {text}"));
    }
    if let Ok(time) = parse_time_of_day(text) {
        if clock.date.is_none() {
            bail!(
                "{flag} {text}: a time of day needs --date YYYY-MM-DD (or give a full date and time)"
            );
        }
        clock.zone.as_ref().ok_or_else(need_zone)?;
        return clock.time_of_day(time, None).map_err(anyhow::Error::msg);
    }
    bail!(
        "{flag} {text}: expected a date and time such as 2026-05-20T17:47:00+03:00, \
         '2026-05-20 17:47:00+0300', '2026-05-20 17:47:00' or 2026-05-20 (with --tz) or \
         17:47:00 (with --date and --tz)"
    )
}

/// Parses a duration such as `10m`, `90s`, `1h30m`, `2m30s`, `500ms` or `1d` into microseconds.
pub fn parse_duration(flag: &str, text: &str) -> Result<i64> {
    let bad = || {
        anyhow::anyhow!(
            "{flag} {text}: expected a duration such as 10m, 90s, 1h30m, 2h, 1d or 500ms"
        )
    };
    let mut total: i64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let value: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(char::is_ascii_alphabetic).count();
        let micros = match &rest[..unit_len] {
            "d" => 86_400_000_000,
            "h" => 3_600_000_000,
            "m" | "min" => 60_000_000,
            "s" => 1_000_000,
            "ms" => 1_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = value
            .checked_mul(micros)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("--window", "10m").unwrap(), 600_000_000);
        assert_eq!(parse_duration("--window", "1h30m").unwrap(), 5_400_000_000);
        assert_eq!(parse_duration("--window", "2m30s").unwrap(), 150_000_000);
        assert_eq!(parse_duration("--window", "500ms").unwrap(), 500_000);
        assert_eq!(parse_duration("--last", "1d").unwrap(), 86_400_000_000);
        for bad in ["", "10", "m", "10x", "-5m", "99999999999999999h"] {
            assert!(parse_duration("--window", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn instants_in_every_accepted_form() {
        let args = ClockArgs {
            date: Some("2026-05-20".into()),
            tz: Some("+03:00".into()),
        };
        let clock = args.clock().unwrap();
        let expected = "2026-05-20T17:47:00.000000+03:00";
        for text in [
            "2026-05-20T17:47:00+03:00",
            "2026-05-20 17:47:00",
            "17:47:00",
            "2026-05-20T14:47:00Z",
            "2026-05-20 17:47:00+0300",
        ] {
            let at = parse_instant("--since", text, &clock).unwrap();
            assert_eq!(
                at.with_offset(pushtrace_model::UtcOffset::parse("+03:00").unwrap())
                    .to_string(),
                expected
            );
        }
    }

    #[test]
    fn a_date_alone_is_its_midnight_in_the_zone() {
        let clock = ClockArgs {
            date: None,
            tz: Some("+03:00".into()),
        }
        .clock()
        .unwrap();
        let at = parse_instant("--start", "2026-05-20", &clock).unwrap();
        assert_eq!(
            at.utc_micros(),
            Timestamp::parse("2026-05-19T21:00:00Z")
                .unwrap()
                .utc_micros()
        );
        let err = parse_instant("--start", "2026-05-20", &LocalClock::default()).unwrap_err();
        assert!(err.to_string().contains("--tz"), "{err}");
    }

    #[test]
    fn missing_context_is_named() {
        let err = parse_instant("--since", "17:47", &LocalClock::default()).unwrap_err();
        assert!(err.to_string().contains("--date"), "{err}");
        let err = parse_instant("--until", "2026-05-20 17:47", &LocalClock::default()).unwrap_err();
        assert!(err.to_string().contains("--tz"), "{err}");
        let err = parse_instant("--until", "yesterday", &LocalClock::default()).unwrap_err();
        assert!(err.to_string().contains("expected a date"), "{err}");
    }
}
