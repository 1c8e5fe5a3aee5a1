//! Metrics hooks: every send result goes to a [`SendObserver`]; [`ClientStats`] is the built-in
//! one, with counters by push type, outcome and reason, and latency histograms per stage
//! (peers offer counters only, or nothing: gorush counts without latency, reason or push-type
//! labels, Pushy needs Micrometer plumbing).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use super::lock;
use super::outcome::{Outcome, SendResult};
use crate::PushType;

/// Receives every send result.
pub trait SendObserver: Send + Sync + 'static {
    /// Called once per push, after its last attempt.
    fn observe(&self, push_type: PushType, result: &SendResult);
}

/// Buckets of a latency histogram: upper bounds in microseconds, powers of two from 64 µs to
/// about 67 s, then overflow.
pub const BUCKETS_US: [u64; 21] = {
    let mut bounds = [0u64; 21];
    let mut i = 0;
    while i < 21 {
        bounds[i] = 64 << i;
        i += 1;
    }
    bounds
};

/// A latency histogram with fixed power-of-two buckets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Count per bucket of [`BUCKETS_US`], plus one overflow bucket at the end.
    pub counts: Vec<u64>,
    /// Samples.
    pub count: u64,
    /// Sum of the samples, µs.
    pub sum_us: u64,
}

impl Histogram {
    fn record(&mut self, value: Duration) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS_US.len() + 1];
        }
        let us = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        let index = BUCKETS_US
            .iter()
            .position(|bound| us <= *bound)
            .unwrap_or(BUCKETS_US.len());
        self.counts[index] += 1;
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
    }

    /// The upper bound (µs) of the bucket holding quantile `q` (0–1); `None` when empty.
    pub fn quantile_upper_us(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((self.count as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(BUCKETS_US.get(i).copied().unwrap_or(u64::MAX));
            }
        }
        None
    }
}

/// Counters and histograms of a client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Sends by (push type, outcome, reason or error kind).
    pub outcomes: BTreeMap<(String, &'static str, String), u64>,
    /// Time waiting for a slot and a stream.
    pub queue: Histogram,
    /// Time getting a connection.
    pub connect: Histogram,
    /// Request round trip.
    pub round_trip: Histogram,
    /// Whole send.
    pub total: Histogram,
    /// Attempts beyond the first (resends).
    pub resends: u64,
}

/// The built-in observer.
#[derive(Debug, Default)]
pub struct ClientStats {
    inner: Mutex<StatsSnapshot>,
}

impl ClientStats {
    /// A copy of the counters and histograms now.
    pub fn snapshot(&self) -> StatsSnapshot {
        lock(&self.inner).clone()
    }
}

impl SendObserver for ClientStats {
    fn observe(&self, push_type: PushType, result: &SendResult) {
        let detail = match &result.outcome {
            Outcome::Accepted { .. } => String::new(),
            Outcome::Rejected { reason, .. } => reason.as_str().to_owned(),
            Outcome::Failed { error, .. } => error_kind(error).to_owned(),
        };
        let mut stats = lock(&self.inner);
        *stats
            .outcomes
            .entry((
                push_type.header_value().to_owned(),
                result.outcome.label(),
                detail,
            ))
            .or_default() += 1;
        stats.queue.record(result.timings.queue);
        stats.connect.record(result.timings.connect);
        stats.round_trip.record(result.timings.round_trip);
        stats.total.record(result.timings.total);
        stats.resends += u64::from(result.attempts.saturating_sub(1));
    }
}

fn error_kind(error: &super::outcome::SendError) -> &'static str {
    use super::outcome::SendError;
    match error {
        SendError::Connect { .. } => "connect",
        SendError::Timeout(_) => "timeout",
        SendError::ConnectionLost(_) => "connection_lost",
        SendError::NotProcessed(_) => "not_processed",
        SendError::Protocol(_) => "protocol",
        SendError::Closed => "closed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_bucket_bounds() {
        let mut h = Histogram::default();
        for ms in [1, 1, 1, 2, 50] {
            h.record(Duration::from_millis(ms));
        }
        assert_eq!(h.count, 5);
        assert_eq!(h.quantile_upper_us(0.5), Some(1024));
        assert_eq!(h.quantile_upper_us(0.99), Some(65_536));
        assert_eq!(Histogram::default().quantile_upper_us(0.5), None);
    }
}
