//! The gateway's one clock: UTC now as a [`Timestamp`], and the conversions its records need.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pushtrace_model::Timestamp;

/// Now, UTC, microseconds.
pub fn now() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    Timestamp::from_utc_micros(micros)
}

/// `at + duration`.
pub fn after(at: Timestamp, duration: Duration) -> Timestamp {
    let micros = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
    Timestamp::from_utc_micros(at.utc_micros().saturating_add(micros))
}

/// The instant `ms` milliseconds after the epoch (APNs's 410 `timestamp`).
pub fn from_millis(ms: u64) -> Timestamp {
    let micros = i64::try_from(ms).map_or(i64::MAX, |ms| ms.saturating_mul(1000));
    Timestamp::from_utc_micros(micros)
}

/// Milliseconds since the epoch.
pub fn millis(at: Timestamp) -> i64 {
    at.utc_micros().div_euclid(1000)
}

/// Whole seconds since the epoch, rounded up (an expiration must not fall short).
pub fn unix_seconds_ceil(at: Timestamp) -> u64 {
    u64::try_from(at.utc_micros().max(0)).map_or(0, |us| us.div_ceil(1_000_000))
}

/// `to - from`, zero when `to` is earlier.
pub fn elapsed(from: Timestamp, to: Timestamp) -> Duration {
    Duration::from_micros(u64::try_from(to.utc_micros() - from.utc_micros()).unwrap_or(0))
}
