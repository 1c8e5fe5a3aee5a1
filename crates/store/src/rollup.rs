//! Daily rollups per cohort: how many pushes of a day were accepted, rejected, unanswered,
//! received (late or not), and how long they took to reach the app.
//!
//! The counting is done here, once for both backends, from the day's attempts and their
//! receipts: cohorts come from the attempts' JSON attrs, which neither dialect can explode
//! into rows portably. A day is a UTC calendar day; an attempt belongs to the day it was
//! queued in.

use std::collections::BTreeMap;

use pushtrace_model::{CivilDateTime, Receipt, UtcOffset, parse_date};
use serde::{Deserialize, Serialize};

use crate::{Attempt, PushPurpose, StoreError};

/// The cohort every push belongs to.
pub const ALL: &str = "all";

/// One day's counts for one app and one cohort (`all`/`all`, or an attr key and value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollup {
    pub day: String,
    pub app: String,
    pub cohort_key: String,
    pub cohort_value: String,
    pub pushes: u64,
    /// APNs answered 200.
    pub accepted: u64,
    /// APNs answered anything else.
    pub rejected: u64,
    /// No answer from APNs (transport failure, or not answered yet).
    pub failed: u64,
    /// The app posted a receipt.
    pub received: u64,
    /// … after the call's deadline.
    pub received_late: u64,
    /// Sum over received pushes of sent → device received, in ms (0 when the device clock
    /// says it came before it was sent: skew, not time travel).
    pub latency_ms_sum: u64,
}

/// The UTC microseconds `[start, end)` of a day written `YYYY-MM-DD`.
pub(crate) fn day_bounds(day: &str) -> Result<(i64, i64), StoreError> {
    let bad = |e: String| {
        StoreError::invalid(
            "day",
            format!("{day:?} is not a calendar day written YYYY-MM-DD (UTC): {e}"),
        )
    };
    if day.len() != 10 {
        return Err(bad("expected 10 characters".into()));
    }
    let date = parse_date(day).map_err(|e| bad(e.to_string()))?;
    let start = CivilDateTime::new(date, (0, 0, 0, 0));
    let from = start
        .at_offset(UtcOffset::UTC)
        .map_err(|e| bad(e.to_string()))?;
    let to = start
        .next_day()
        .at_offset(UtcOffset::UTC)
        .map_err(|e| bad(e.to_string()))?;
    Ok((from.utc_micros(), to.utc_micros()))
}

/// Checks a day given as a range bound (it is compared as text, so it must be well formed).
pub(crate) fn check_day(day: &str) -> Result<(), StoreError> {
    day_bounds(day).map(|_| ())
}

/// Counts a day's attempts (with their receipts) per app and cohort, in a stable order.
pub(crate) fn compute(day: &str, rows: &[(Attempt, Option<Receipt>)]) -> Vec<Rollup> {
    let mut out: BTreeMap<(String, String, String), Rollup> = BTreeMap::new();
    // An end-of-call push has no receipt to wait for: counted, it would read as a lost ring.
    let counted = rows
        .iter()
        .filter(|(attempt, _)| attempt.purpose != Some(PushPurpose::End));
    for (attempt, receipt) in counted {
        let cohorts = std::iter::once((ALL, ALL))
            .chain(attempt.attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for (key, value) in cohorts {
            let row = out
                .entry((attempt.app.clone(), key.to_string(), value.to_string()))
                .or_insert_with(|| Rollup {
                    day: day.to_string(),
                    app: attempt.app.clone(),
                    cohort_key: key.to_string(),
                    cohort_value: value.to_string(),
                    pushes: 0,
                    accepted: 0,
                    rejected: 0,
                    failed: 0,
                    received: 0,
                    received_late: 0,
                    latency_ms_sum: 0,
                });
            count(row, attempt, receipt.as_ref());
        }
    }
    out.into_values().collect()
}

fn count(row: &mut Rollup, attempt: &Attempt, receipt: Option<&Receipt>) {
    row.pushes += 1;
    match attempt.apns_status {
        Some(200) => row.accepted += 1,
        Some(_) => row.rejected += 1,
        None => row.failed += 1,
    }
    if let Some(receipt) = receipt {
        row.received += 1;
        if receipt.late {
            row.received_late += 1;
        }
        let arrived = receipt.device_received_at.unwrap_or(receipt.received_at);
        if let Some(sent) = attempt.sent_at {
            let ms = (arrived.utc_micros() - sent.utc_micros()) / 1000;
            row.latency_ms_sum += u64::try_from(ms).unwrap_or(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_bounds_are_one_utc_day() {
        let (from, to) = day_bounds("2026-05-20").unwrap();
        assert_eq!(to - from, 86_400_000_000);
        assert_eq!(from, 1_779_235_200_000_000);
        for bad in ["2026-5-20", "2026-02-30", "yesterday", "2026-05-20T00:00"] {
            let err = day_bounds(bad).unwrap_err().to_string();
            assert!(err.contains("YYYY-MM-DD"), "{err}");
        }
    }
}
