//! Everything a report is computed from: counts per day and cohort, latency sketches, devices.
//!
//! The analysis never sees a push. It reads [`Aggregates`]: for every push (the empty cohort),
//! every attribute value, and every combination of two or three values with enough failures,
//! the day-by-day counts of each outcome; for every push and every attribute value, a latency
//! sketch and the day-by-day share of slow receipts; and the devices behind each cohort. These
//! add up exactly, so the same aggregates can be counted here from a file ([`crate::build`]),
//! inside PostgreSQL ([`crate::pushdown`]) or in a warehouse (the SQL in `docs/fleet.md`), and
//! written to and read from an aggregates file: the analysis gives the same report from each.

use serde::{Deserialize, Serialize};

use crate::cohort::Cohort;
use crate::counts::Counts;
use crate::outcome::OutcomeRules;
use crate::sketch::LatencySketch;

/// Days since 1970-01-01 (UTC).
pub type Day = i32;

/// What a fleet's pushes add up to. Built by [`crate::build::aggregate`], the pushdown, or read
/// from an aggregates file ([`crate::aggregates_file`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Aggregates {
    pub rules: OutcomeRules,
    /// The first day with a push; `daily` series start here.
    pub first_day: Day,
    /// Days covered, `first_day..first_day + days`.
    pub days: usize,
    /// Combinations of two or three values are kept when they hold at least this many failures
    /// over the whole window (the support floor).
    pub min_failures: u64,
    /// A receipt this late or later is slow: the fleet-wide 90th percentile of latency, as the
    /// lower bound of its sketch bucket (so every engine finds the same threshold).
    pub slow_threshold_micros: Option<u64>,
    /// Every push first, then single attribute values, then combinations; each cohort once.
    pub cohorts: Vec<CohortAggregate>,
}

/// One cohort's aggregates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CohortAggregate {
    pub cohort: Cohort,
    /// Counts per day (`Aggregates::days` entries).
    pub daily: Vec<Counts>,
    /// Per day: receipts, and receipts at or above the slow threshold. Every push and single
    /// values only (empty for combinations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slow_daily: Vec<Slow>,
    /// Latency of the cohort's receipts. Every push and single values only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencySketch>,
    /// Distinct devices with a push in the cohort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<u64>,
    /// Distinct devices with a failure in the cohort.
    pub failing_devices: u64,
    /// The failures of the cohort's busiest failing device: a cohort must stand without it.
    #[serde(default)]
    pub busiest_device_failures: u64,
}

/// A day's receipts and how many were slow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slow {
    pub received: u64,
    pub slow: u64,
}

impl Slow {
    /// One more receipt, slow or not.
    pub(crate) fn add(&mut self, slow: bool) {
        self.received += 1;
        self.slow += u64::from(slow);
    }

    pub(crate) fn merge(&mut self, other: &Slow) {
        self.received += other.received;
        self.slow += other.slow;
    }
}

impl CohortAggregate {
    pub fn total(&self) -> Counts {
        let mut total = Counts::default();
        for day in &self.daily {
            total.merge(day);
        }
        total
    }

    /// Counts over days `[from, to)` (indices into `daily`).
    pub fn between(&self, from: usize, to: usize) -> Counts {
        let mut total = Counts::default();
        for day in &self.daily[from.min(self.daily.len())..to.min(self.daily.len())] {
            total.merge(day);
        }
        total
    }
}

impl Aggregates {
    /// The aggregate of every push.
    pub fn everyone(&self) -> Option<&CohortAggregate> {
        self.cohorts.iter().find(|c| c.cohort.is_empty())
    }

    pub fn find(&self, cohort: &Cohort) -> Option<&CohortAggregate> {
        self.cohorts.iter().find(|c| &c.cohort == cohort)
    }

    /// Puts cohorts in their canonical order (size, then attributes and values), so two
    /// engines' aggregates compare equal.
    pub fn sort(&mut self) {
        self.cohorts
            .sort_by(|a, b| (a.cohort.len(), &a.cohort).cmp(&(b.cohort.len(), &b.cohort)));
    }
}
