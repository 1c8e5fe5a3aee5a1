//! How the fields of a [`PushRecord`](super::PushRecord) are read from JSON and CSV text: times
//! as RFC 3339 or epoch milliseconds, `apns-expiration` in seconds, the HTTP status, and
//! attributes as text. Binary (non human-readable) encodings get the plain types.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::time::{TimeError, Timestamp, UtcOffset};

/// Epoch milliseconds below this (1973-03-03) are almost surely seconds sent by mistake.
const MIN_EPOCH_MILLIS: i64 = 100_000_000_000;
/// 9999-12-31T23:59:59.999Z: the last instant a [`Timestamp`] prints as a date.
const MAX_EPOCH_MILLIS: i64 = 253_402_300_799_999;
/// `apns-expiration` values from here on are epoch milliseconds, not the seconds APNs wants.
const MIN_EXPIRATION_MILLIS: u64 = 100_000_000_000;

const TIME_EXPECTED: &str =
    "an RFC 3339 time with an offset (2026-05-20T17:47:00+03:00) or epoch milliseconds";

/// Reads a push time from text: RFC 3339 (or the `log show` form) with an offset, or a number of
/// milliseconds since the epoch. The message of an error says what was expected.
pub fn parse_push_time(text: &str) -> Result<Timestamp, String> {
    let trimmed = text.trim();
    if looks_numeric(trimmed) {
        return match trimmed.parse::<i64>() {
            Ok(ms) => from_epoch_millis(ms),
            Err(_) => match trimmed.parse::<f64>() {
                Ok(ms) => from_epoch_millis_f64(ms),
                Err(_) => Err(format!("`{trimmed}` is not {TIME_EXPECTED}")),
            },
        };
    }
    Timestamp::parse(trimmed).map_err(|e| match e {
        TimeError::MissingOffset(_) => format!("{e}, or give epoch milliseconds"),
        TimeError::Offset(_) => e.to_string(),
        TimeError::Civil(_) => format!("`{trimmed}` is not {TIME_EXPECTED}"),
    })
}

/// A typed time of a columnar file (a Parquet or Arrow TIMESTAMP, epoch microseconds) as the push
/// time the same instant written as epoch milliseconds reads: the same range checks, whole or
/// fractional milliseconds alike.
pub fn push_time_from_micros(micros: i64) -> Result<Timestamp, String> {
    if micros % 1000 == 0 {
        from_epoch_millis(micros / 1000)
    } else {
        from_epoch_millis_f64(micros as f64 / 1000.0)
    }
}

/// A push time given as a number of epoch milliseconds (a JSON number, a Parquet INT64).
pub fn push_time_from_millis(ms: i64) -> Result<Timestamp, String> {
    from_epoch_millis(ms)
}

/// `apns-expiration` as a number: epoch seconds (0: one attempt, no storage), refused when it
/// looks like milliseconds.
pub fn expiration_seconds(v: u64) -> Result<u64, String> {
    if v >= MIN_EXPIRATION_MILLIS {
        Err(format!(
            "{v} looks like milliseconds: `apns-expiration` is in epoch seconds (0: one \
             attempt, no storage); divide by 1000"
        ))
    } else {
        Ok(v)
    }
}

/// The HTTP `:status` APNs answered: 100–599.
pub fn http_status(code: u16) -> Result<u16, String> {
    if (100..=599).contains(&code) {
        Ok(code)
    } else {
        Err(format!(
            "{code} is not an HTTP status: expected what APNs answered (200, 400, 403, 410, …)"
        ))
    }
}

fn looks_numeric(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|b| *b == b'.').count() <= 1
}

fn from_epoch_millis(ms: i64) -> Result<Timestamp, String> {
    if ms < 0 {
        return Err(format!(
            "{ms} is before 1970: expected epoch milliseconds of the push"
        ));
    }
    if ms < MIN_EPOCH_MILLIS {
        return Err(format!(
            "{ms} looks like seconds (as milliseconds it is before 1973): times are epoch \
             milliseconds; multiply by 1000"
        ));
    }
    if ms > MAX_EPOCH_MILLIS {
        return Err(format!(
            "{ms} is after the year 9999 as milliseconds (microseconds or nanoseconds?): times \
             are epoch milliseconds"
        ));
    }
    Ok(Timestamp::new(ms * 1000, UtcOffset::UTC))
}

fn from_epoch_millis_f64(ms: f64) -> Result<Timestamp, String> {
    if !ms.is_finite() {
        return Err(format!("{ms} is not {TIME_EXPECTED}"));
    }
    // Checked as whole milliseconds first so that the range errors read the same.
    from_epoch_millis(ms.floor() as i64)?;
    Ok(Timestamp::new((ms * 1000.0).round() as i64, UtcOffset::UTC))
}

pub(super) fn required_time<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Timestamp, D::Error> {
    if !deserializer.is_human_readable() {
        return Timestamp::deserialize(deserializer);
    }
    deserializer.deserialize_any(TimeVisitor)
}

pub(super) fn optional_time<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Timestamp>, D::Error> {
    if !deserializer.is_human_readable() {
        return Option::<Timestamp>::deserialize(deserializer);
    }
    deserializer.deserialize_option(OptionalVisitor(TimeVisitor))
}

/// An instant from a string (RFC 3339 or digits) or a JSON number of epoch milliseconds.
struct TimeVisitor;

impl<'de> Visitor<'de> for TimeVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(TIME_EXPECTED)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
        parse_push_time(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
        from_epoch_millis(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
        from_epoch_millis(i64::try_from(v).unwrap_or(i64::MAX)).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
        from_epoch_millis_f64(v).map_err(E::custom)
    }
}

/// `null` as `None`, anything else through the inner visitor.
struct OptionalVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for OptionalVisitor<V> {
    type Value = Option<V::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)?;
        f.write_str(", or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self.0).map(Some)
    }
}

pub(super) fn expiration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    if !deserializer.is_human_readable() {
        return Option::<u64>::deserialize(deserializer);
    }
    deserializer.deserialize_option(OptionalVisitor(ExpirationVisitor))
}

/// `apns-expiration`: epoch seconds as a number or digits, or an RFC 3339 time.
struct ExpirationVisitor;

impl<'de> Visitor<'de> for ExpirationVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the apns-expiration header: epoch seconds (0 for no storage) or an RFC 3339 time",
        )
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        expiration_seconds(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        let v = u64::try_from(v).map_err(|_| {
            E::custom(format!(
                "{v} is negative: `apns-expiration` is epoch seconds, 0 or later"
            ))
        })?;
        self.visit_u64(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        if v.is_finite() && v.fract() == 0.0 && v >= 0.0 && v < u64::MAX as f64 {
            self.visit_u64(v as u64)
        } else {
            Err(E::custom(format!(
                "{v} is not whole epoch seconds: `apns-expiration` is an integer"
            )))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        let text = v.trim();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let seconds = text
                .parse::<u64>()
                .map_err(|_| E::custom(format!("`{text}` is too large for epoch seconds")))?;
            return self.visit_u64(seconds);
        }
        let at = Timestamp::parse(text).map_err(|e| {
            E::custom(format!(
                "{e}; `apns-expiration` is epoch seconds (0 for no storage) or an RFC 3339 time"
            ))
        })?;
        u64::try_from(at.utc_micros().div_euclid(1_000_000))
            .map_err(|_| E::custom(format!("`{text}` is before 1970")))
    }
}

pub(super) fn status<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u16>, D::Error> {
    let status = Option::<u16>::deserialize(deserializer)?;
    status
        .map(http_status)
        .transpose()
        .map_err(de::Error::custom)
}

pub(super) fn attrs<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    if !deserializer.is_human_readable() {
        return BTreeMap::deserialize(deserializer);
    }
    deserializer
        .deserialize_option(OptionalVisitor(AttrsVisitor))
        .map(Option::unwrap_or_default)
}

/// An object of text, numbers and booleans; `null` values are left out.
struct AttrsVisitor;

impl<'de> Visitor<'de> for AttrsVisitor {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of strings, numbers or booleans")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut attrs = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let Some(AttrText(value)) = map.next_value::<Option<AttrText>>()? else {
                continue;
            };
            if attrs.insert(key.clone(), value).is_some() {
                return Err(de::Error::custom(format!(
                    "attribute `{key}` appears twice"
                )));
            }
        }
        Ok(attrs)
    }
}

/// One attribute value as text.
struct AttrText(String);

impl<'de> Deserialize<'de> for AttrText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AttrTextVisitor)
    }
}

struct AttrTextVisitor;

impl<'de> Visitor<'de> for AttrTextVisitor {
    type Value = AttrText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a string, number or boolean (nested values are not supported: flatten them into \
             keys such as `radio.rat`)",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<AttrText, E> {
        Ok(AttrText(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<AttrText, E> {
        Ok(AttrText(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<AttrText, E> {
        Ok(AttrText(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<AttrText, E> {
        Ok(AttrText(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<AttrText, E> {
        Ok(AttrText(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<AttrText, E> {
        Ok(AttrText(v.to_string()))
    }
}
