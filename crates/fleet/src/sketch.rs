//! Mergeable latency sketch with a stated relative error.
//!
//! A DDSketch (Masson, Rim, Lee, "DDSketch: a fast and fully-mergeable quantile sketch with
//! relative-error guarantees", VLDB 2019) over integer microseconds: logarithmic buckets
//! (γ^(i−1), γ^i] with γ = (1 + α)/(1 − α), so any value in a bucket is within α of the
//! bucket's representative. Merging two sketches adds counts bucket by bucket, which is what
//! lets per-cohort, per-day and per-shard sketches be combined exactly, in Rust or in SQL.
//!
//! Because the inputs are integers, the buckets are defined by a table of integer thresholds
//! ([`bucket_thresholds`]): bucket k holds the integers x with `thresholds[k−1] ≤ x <
//! thresholds[k]`, bucket 0 holds 0. Logarithmic buckets below ~50 µs that contain no integer
//! are dropped, so the thresholds are strictly ascending and the bucket numbers consecutive.
//! A database computes the same bucket with integer comparisons only, e.g. PostgreSQL
//! `width_bucket(latency_us, ARRAY[…thresholds…])`, and `SUM(count) GROUP BY bucket` rows can
//! be fed back with [`LatencySketch::add_bucket`].

use std::sync::OnceLock;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// α: every quantile the sketch reports is within this fraction of a true value of that rank
/// (plus at most half a microsecond of rounding to an integer).
pub const RELATIVE_ACCURACY: f64 = 0.01;

/// The largest latency the buckets resolve: 31 days in microseconds. Larger values are counted
/// in the top bucket (a push answered after a month is a failure whatever its latency).
pub const MAX_MICROSECONDS: u64 = 31 * 86_400 * 1_000_000;

/// What a [`LatencySketch`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SketchError {
    #[error(
        "latency sketch bucket {index} does not exist (the buckets are 0..={last}); \
         the bucket numbers must come from `bucket_of` or `bucket_thresholds` of this version"
    )]
    NoSuchBucket { index: u16, last: u16 },
}

struct Table {
    /// Lower bound (inclusive) of bucket k + 1.
    thresholds: Vec<u64>,
    /// The integer reported for each bucket's values, index = bucket.
    representatives: Vec<u64>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let gamma = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY);
        // Powers of γ by repeated multiplication: IEEE-exact operations only, so every
        // platform builds the same table (unlike `powf`, whose last bit is libm's choice).
        let mut power = 1.0_f64;
        let mut thresholds = vec![1_u64];
        // The first threshold beyond the range: where the top bucket would end.
        let end = loop {
            power *= gamma;
            let next = power.floor() as u64 + 1;
            if next <= *thresholds.last().unwrap_or(&1) {
                continue;
            }
            if next > MAX_MICROSECONDS {
                break next;
            }
            thresholds.push(next);
        };
        let mut representatives = vec![0_u64];
        for (k, &low) in thresholds.iter().enumerate() {
            let high = thresholds.get(k + 1).copied().unwrap_or(end) - 1;
            representatives.push(representative(low, high));
        }
        Table {
            thresholds,
            representatives,
        }
    })
}

/// The integer in [low, high] with the smallest worst-case relative error over that range:
/// the harmonic mean 2·low·high/(low + high) equalises the errors at both ends, rounded to the
/// better of its two neighbouring integers.
fn representative(low: u64, high: u64) -> u64 {
    let (low_f, high_f) = (low as f64, high as f64);
    let harmonic = 2.0 * low_f * high_f / (low_f + high_f);
    let worst = |x: f64| ((x - low_f) / low_f).max((high_f - x) / high_f);
    let (down, up) = (harmonic.floor(), harmonic.ceil());
    let best = if worst(down) <= worst(up) { down } else { up };
    (best as u64).clamp(low, high)
}

/// Ascending integer thresholds (µs): `bucket_of(x)` is the number of thresholds ≤ x.
pub fn bucket_thresholds() -> &'static [u64] {
    &table().thresholds
}

/// The bucket of a latency in microseconds: 0 for 0, then one bucket per factor γ.
pub fn bucket_of(us: u64) -> u16 {
    // ~11 integer comparisons; exactly the definition, so SQL and Rust cannot disagree.
    let count = table()
        .thresholds
        .partition_point(|&threshold| threshold <= us);
    u16::try_from(count).unwrap_or(u16::MAX)
}

/// The highest bucket number.
pub fn last_bucket() -> u16 {
    u16::try_from(table().thresholds.len()).unwrap_or(u16::MAX)
}

/// A mergeable quantile sketch of latencies in integer microseconds.
#[derive(Debug, Clone, Default)]
pub struct LatencySketch {
    /// Dense counts by bucket, grown up to the highest bucket used (about 1 400 buckets reach
    /// 31 days, so at most ~11 kB; typical push latencies stop near bucket 700).
    counts: Vec<u64>,
    total: u64,
}

impl PartialEq for LatencySketch {
    fn eq(&self, other: &Self) -> bool {
        self.total == other.total && self.buckets().eq(other.buckets())
    }
}

impl Eq for LatencySketch {}

impl LatencySketch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, us: u64) {
        self.add_many(us, 1);
    }

    /// Counts `count` latencies equal to `us`.
    pub fn add_many(&mut self, us: u64, count: u64) {
        self.increment(bucket_of(us), count);
    }

    /// Adds `count` to a bucket computed elsewhere (e.g. by SQL over [`bucket_thresholds`]).
    pub fn add_bucket(&mut self, index: u16, count: u64) -> Result<(), SketchError> {
        let last = last_bucket();
        if index > last {
            return Err(SketchError::NoSuchBucket { index, last });
        }
        self.increment(index, count);
        Ok(())
    }

    fn increment(&mut self, index: u16, count: u64) {
        if count == 0 {
            return;
        }
        let index = usize::from(index);
        if self.counts.len() <= index {
            self.counts.resize(index + 1, 0);
        }
        self.counts[index] = self.counts[index].saturating_add(count);
        self.total = self.total.saturating_add(count);
    }

    /// Adds every count of `other`: the result is the sketch of both inputs together.
    pub fn merge(&mut self, other: &LatencySketch) {
        for (index, count) in other.buckets() {
            self.increment(index, count);
        }
    }

    /// How many latencies were added.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The q-quantile, for q in [0, 1], or `None` for an empty sketch or q outside [0, 1].
    ///
    /// Rank convention (DDSketch's): with the n values sorted ascending and numbered from 0,
    /// the result estimates the value at position ⌊q·(n − 1)⌋, so q = 0 is the minimum, q = 1
    /// the maximum and q = 0.5 the lower median. The estimate is within
    /// [`RELATIVE_ACCURACY`] of that value, plus at most 0.5 µs of rounding.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = (q * (self.total - 1) as f64).floor() as u64;
        let mut seen = 0_u64;
        for (index, count) in self.buckets() {
            seen += count;
            if seen > rank {
                return table().representatives.get(usize::from(index)).copied();
            }
        }
        None
    }

    /// The non-empty buckets, ascending: (bucket, count).
    pub fn buckets(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|&(_, &count)| count > 0)
            .map(|(index, &count)| (u16::try_from(index).unwrap_or(u16::MAX), count))
    }
}

/// Serialised as the sparse list `[[bucket, count], …]`, ascending.
impl Serialize for LatencySketch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.buckets().map(|(index, count)| [index as u64, count]))
    }
}

impl<'de> Deserialize<'de> for LatencySketch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pairs = Vec::<(u16, u64)>::deserialize(deserializer)?;
        let mut sketch = LatencySketch::new();
        for (index, count) in pairs {
            sketch.add_bucket(index, count).map_err(D::Error::custom)?;
        }
        Ok(sketch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_strictly_ascending_and_every_bucket_is_narrower_than_gamma() {
        let thresholds = bucket_thresholds();
        let gamma = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY);
        assert_eq!(thresholds[0], 1);
        assert!(*thresholds.last().expect("non-empty") <= MAX_MICROSECONDS);
        assert!(thresholds.len() < 2_000, "{}", thresholds.len());
        for pair in thresholds.windows(2) {
            assert!(pair[0] < pair[1]);
            let (low, high) = (pair[0] as f64, (pair[1] - 1) as f64);
            assert!(high / low < gamma, "{pair:?}");
        }
        // Below ~50 µs every integer has a bucket of its own.
        assert_eq!(&thresholds[..5], &[1, 2, 3, 4, 5]);
    }

    #[test]
    fn bucket_of_counts_thresholds_at_and_around_each_one() {
        let thresholds = bucket_thresholds();
        let count = |x: u64| thresholds.iter().filter(|&&t| t <= x).count();
        assert_eq!(bucket_of(0), 0);
        for &threshold in thresholds {
            for x in [threshold - 1, threshold, threshold + 1] {
                assert_eq!(usize::from(bucket_of(x)), count(x), "x = {x}");
            }
        }
        assert_eq!(bucket_of(u64::MAX), last_bucket());
    }

    #[test]
    fn representatives_are_within_the_relative_accuracy_of_their_bucket() {
        let thresholds = bucket_thresholds();
        for k in 1..thresholds.len() {
            let (low, high) = (thresholds[k - 1], thresholds[k] - 1);
            let estimate = table().representatives[k] as f64;
            for x in [low, high] {
                let error = (estimate - x as f64).abs();
                assert!(
                    error <= RELATIVE_ACCURACY * x as f64 + 0.5,
                    "bucket {k}: {x}"
                );
            }
        }
    }

    use crate::test_random::Random;

    /// Latencies of a push service: log-normal around 300 ms, 2 % of them hours late (devices
    /// offline), a few at 0 (answered from a cache) and some over 31 days (clamped).
    fn heavy_tailed_latencies(rng: &mut Random, n: usize) -> Vec<u64> {
        let mut normal = || {
            let (u, v) = (rng.uniform(), rng.uniform());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        (0..n)
            .map(|i| match i % 500 {
                0 => 0,
                1..=10 => (3_600e6 * (1.0 + 0.8 * normal()).exp()) as u64,
                _ => (300_000.0 * (0.7 * normal()).exp()) as u64,
            })
            .collect()
    }

    fn exact_quantile(sorted: &[u64], q: f64) -> u64 {
        sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
    }

    #[test]
    fn quantiles_are_within_the_relative_accuracy_of_the_exact_order_statistic() {
        for seed in 0..20 {
            let mut rng = Random(seed);
            let size = [1, 2, 10, 999, 20_000][seed as usize % 5];
            let mut values = if seed % 2 == 0 {
                heavy_tailed_latencies(&mut rng, size)
            } else {
                (0..size).map(|_| rng.below(5_000_000)).collect()
            };
            let mut sketch = LatencySketch::new();
            values.iter().for_each(|&us| sketch.add(us));
            values.sort_unstable();
            for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
                let exact = exact_quantile(&values, q).min(MAX_MICROSECONDS) as f64;
                let estimate = sketch.quantile(q).expect("non-empty") as f64;
                assert!(
                    (estimate - exact).abs() <= RELATIVE_ACCURACY * exact + 0.5,
                    "seed {seed}, q {q}: {estimate} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn merging_equals_the_sketch_of_the_union() {
        let mut rng = Random(7);
        let first = heavy_tailed_latencies(&mut rng, 5_000);
        let second: Vec<u64> = (0..3_000).map(|_| rng.below(10_000)).collect();
        let sketch_of = |values: &[u64]| {
            let mut sketch = LatencySketch::new();
            values.iter().for_each(|&us| sketch.add(us));
            sketch
        };
        let mut merged = sketch_of(&first);
        merged.merge(&sketch_of(&second));
        let union: Vec<u64> = first.iter().chain(&second).copied().collect();
        assert_eq!(merged, sketch_of(&union));
        assert_eq!(merged.count(), 8_000);
        let mut from_buckets = LatencySketch::new();
        for (index, count) in merged.buckets() {
            from_buckets.add_bucket(index, count).expect("valid bucket");
        }
        assert_eq!(from_buckets, merged);
    }

    #[test]
    fn empty_sketch_and_bad_quantiles_give_none() {
        let mut sketch = LatencySketch::new();
        assert_eq!(sketch.quantile(0.5), None);
        sketch.add(0);
        sketch.add(1_000);
        assert_eq!(sketch.quantile(0.0), Some(0));
        assert_eq!(sketch.quantile(1.5), None);
        assert_eq!(sketch.quantile(f64::NAN), None);
        assert!(sketch.add_bucket(last_bucket() + 1, 1).is_err());
    }

    #[test]
    fn serialises_as_a_sparse_list_and_back() {
        let mut sketch = LatencySketch::new();
        sketch.add_many(0, 2);
        sketch.add_many(300_000, 5);
        let json = serde_json::to_string(&sketch).expect("serialises");
        assert_eq!(json, format!("[[0,2],[{},5]]", bucket_of(300_000)));
        let back: LatencySketch = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, sketch);
        let error = serde_json::from_str::<LatencySketch>("[[65000,1]]").expect_err("rejected");
        assert!(error.to_string().contains("65000"), "{error}");
    }
}
