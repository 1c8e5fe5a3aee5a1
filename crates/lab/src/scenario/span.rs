//! Durations as scenarios write them: `"1.644s"`, `"2m40s"`, `"250ms"`, `"30d"`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative duration in microseconds, the simulator's unit of time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(pub i64);

impl Span {
    pub const ZERO: Span = Span(0);

    pub fn from_secs_f64(secs: f64) -> Span {
        Span((secs * 1e6).round().max(0.0) as i64)
    }

    pub fn micros(self) -> i64 {
        self.0
    }

    pub fn secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// Reads `"1h30m"`, `"159.918s"`, `"250ms"`, `"30d"`: numbers each followed by a unit
    /// (`d`, `h`, `m`, `s`, `ms`, `us`).
    pub fn parse(text: &str) -> Result<Span, String> {
        let bad = || {
            format!(
                "`{text}` is not a duration: write numbers with units, like \"90s\", \"2m40s\", \
                 \"250ms\" or \"30d\""
            )
        };
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        let mut total = 0f64;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = match &rest[..unit_len] {
                "d" => 86_400e6,
                "h" => 3_600e6,
                "m" => 60e6,
                "s" => 1e6,
                "ms" => 1e3,
                "us" => 1.0,
                _ => return Err(bad()),
            };
            total += number * unit;
            rest = &rest[unit_len..];
        }
        if !total.is_finite() || total > 366.0 * 86_400e6 {
            return Err(format!(
                "`{text}` is longer than a year: the lab simulates at most one"
            ));
        }
        Ok(Span(total.round() as i64))
    }
}

impl Serialize for Span {
    /// As scenarios write it (`"10s"`), so a report reads back into a scenario.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Span {
    /// In the largest unit that divides it (`"30d"`, `"40m"`, `"1500ms"`): what a person would
    /// write in a scenario, and what [`Span::parse`] reads back exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(i64, &str); 5] = [
            (86_400_000_000, "d"),
            (3_600_000_000, "h"),
            (60_000_000, "m"),
            (1_000_000, "s"),
            (1_000, "ms"),
        ];
        let micros = self.0;
        match UNITS
            .iter()
            .find(|(size, _)| micros != 0 && micros % size == 0)
        {
            Some((size, unit)) => write!(f, "{}{unit}", micros / size),
            None if micros == 0 => write!(f, "0s"),
            None => write!(f, "{micros}us"),
        }
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        let text = String::deserialize(d)?;
        Span::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::Span;

    #[test]
    fn prints_in_the_largest_unit_and_reads_back() {
        for (text, shown) in [
            ("30d", "30d"),
            ("2400s", "40m"),
            ("1.5s", "1500ms"),
            ("10s", "10s"),
            ("250us", "250us"),
            ("0s", "0s"),
        ] {
            let span = Span::parse(text).unwrap();
            assert_eq!(span.to_string(), shown);
            assert_eq!(Span::parse(shown).unwrap(), span);
        }
    }

    #[test]
    fn units_add_up() {
        assert_eq!(Span::parse("2m40s").unwrap(), Span(160_000_000));
        assert_eq!(Span::parse("159.918s").unwrap(), Span(159_918_000));
        assert_eq!(Span::parse("250ms").unwrap(), Span(250_000));
        assert_eq!(Span::parse("1d12h").unwrap(), Span(129_600_000_000));
    }

    #[test]
    fn bad_durations_say_how_to_write_one() {
        for text in ["", "10", "5 minutes", "1x", "s"] {
            let err = Span::parse(text).unwrap_err();
            assert!(err.contains("\"2m40s\""), "{text}: {err}");
        }
        assert!(Span::parse("400d").unwrap_err().contains("a year"));
    }
}
