//! A fleet report: the figures [`crate::analyze`] computes from [`crate::Aggregates`], in the
//! shape `--json` prints and the text, Markdown and HTML renderers read.

use serde::{Deserialize, Serialize};

use crate::cohort::Cohort;
use crate::counts::Counts;
use crate::outcome::OutcomeRules;
use crate::stats::{Interval, TestMethod};

/// Everything `pushtrace fleet` says about a fleet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub rules: OutcomeRules,
    pub window: Window,
    /// The thresholds the ranking used, so a reader can judge what was not shown.
    pub thresholds: Thresholds,
    pub overall: CohortStats,
    pub daily: Vec<DayStats>,
    /// Where the fleet's failure rate changed, oldest first.
    pub changes: Vec<Change>,
    /// Per attribute, every value's rates and latency, most pushes first.
    pub attributes: Vec<AttributeStats>,
    /// What makes failing pushes different over the whole window: the smallest cohorts that
    /// explain an excess of failures, most excess failures first.
    pub differences: Vec<Difference>,
    /// The same question asked of the days since the fleet's last upward change, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_change: Option<SinceChange>,
    /// For each cohort found different: since when.
    pub regressions: Vec<Regression>,
    /// Cohorts whose share of slow receipts rose on a given day.
    pub latency_shifts: Vec<LatencyShift>,
    /// What a reader should know about the data (values past the per-attribute limit, …).
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// `YYYY-MM-DD` (UTC).
    pub first_day: String,
    pub last_day: String,
    pub days: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Failures a cohort needs to be tested (the support floor).
    pub min_failures: u64,
    /// Distinct failing devices a cohort needs, so one noisy phone cannot make a cohort.
    pub min_devices: u64,
    /// Smallest risk ratio reported.
    pub min_risk_ratio: f64,
    /// False discovery rate of the Benjamini–Hochberg procedure.
    pub fdr: f64,
    /// Cohorts tested (the BH family size).
    pub tested: usize,
    /// A receipt this late is slow (the fleet's 90th percentile), for latency shifts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_ms: Option<f64>,
}

/// A cohort's figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CohortStats {
    pub cohort: Cohort,
    pub pushes: u64,
    pub counts: Counts,
    pub failures: u64,
    /// failures / judged pushes (pushes without a receipt are not judged unless they count as
    /// failures).
    pub failure_rate: f64,
    pub failure_interval: Interval,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<u64>,
    pub failing_devices: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
}

/// Percentiles of `received_at − sent_at`, from a sketch with a stated relative error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub receipts: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    /// Each percentile is within this relative error of the exact one.
    pub relative_error: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayStats {
    pub day: String,
    pub pushes: u64,
    pub failures: u64,
    pub failure_rate: f64,
    pub failure_interval: Interval,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttributeStats {
    pub attribute: String,
    pub values: Vec<CohortStats>,
}

/// A change of a daily rate between two segments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The first day of the new segment.
    pub day: String,
    pub rate_before: f64,
    pub interval_before: Interval,
    pub rate_after: f64,
    pub interval_after: Interval,
    /// Likelihood-ratio p-value of the change (overdispersion-adjusted).
    pub p: f64,
}

/// A cohort that fails more than the rest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    pub cohort: Cohort,
    pub pushes: u64,
    pub failures: u64,
    pub failure_rate: f64,
    pub failure_interval: Interval,
    /// The failure rate of every other push.
    pub rest_rate: f64,
    pub risk_ratio: f64,
    pub risk_ratio_interval: Interval,
    /// Failures beyond what the rest's rate would give this cohort.
    pub excess_failures: f64,
    /// Share of all failures that fall in this cohort.
    pub share_of_failures: f64,
    pub failing_devices: u64,
    /// Distinct devices with a push in the cohort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<u64>,
    /// Failures of the cohort's busiest phone; the test and `risk_ratio_without_busiest` leave
    /// them out, so one noisy phone cannot make a cohort.
    pub busiest_device_failures: u64,
    pub risk_ratio_without_busiest: f64,
    /// Share of the cohort's devices with a failure, and the same share for the other devices:
    /// a cohort whose failures come from a few noisy phones fails no more often per device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_device_share: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest_failing_device_share: Option<f64>,
    pub test: TestMethod,
    pub p: f64,
    /// Benjamini–Hochberg adjusted p-value.
    pub q: f64,
    /// Benjamini–Hochberg adjusted p-value of the devices' test (failing devices in and out
    /// of the cohort), when devices are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_q: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SinceChange {
    pub since: String,
    pub differences: Vec<Difference>,
}

/// When a cohort's failures began.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Regression {
    pub cohort: Cohort,
    pub kind: RegressionKind,
    /// The onset day (for `since`), the first day with pushes (for `since_first_seen`), or the
    /// window's first day (for `all_along`).
    pub since: String,
    pub rate_after: f64,
    pub interval_after: Interval,
    /// The cohort's rate before the onset (`since` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_before: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_before: Option<Interval>,
    /// The rest of the fleet over the same days.
    pub rest_rate: f64,
    pub failing_devices: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegressionKind {
    /// The cohort's rate rose on a day.
    Since,
    /// High from the day the cohort first had pushes (a new version, say), not before.
    SinceFirstSeen,
    /// High over the whole window: not a regression.
    AllAlong,
}

/// A cohort whose receipts became slower.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyShift {
    pub cohort: Cohort,
    pub since: String,
    /// Share of receipts at or above the slow threshold, before and after.
    pub slow_before: f64,
    pub slow_after: f64,
    pub interval_after: Interval,
    pub receipts_after: u64,
    pub p: f64,
    pub q: f64,
}
