//! Counting a [`Table`]'s pushes into [`Aggregates`].
//!
//! Single values are counted densely (a fleet has a few hundred). Combinations are where the
//! work is: eight attributes give 92 combinations of up to three values per push. Two facts
//! keep it small. A combination never holds more failures than any of its values, so only
//! values that pass the support floor on their own can be part of one (the Apriori property,
//! exact, not a heuristic); and pushes sharing a key share their combinations, so combinations
//! are enumerated once per distinct key, not per push, and each push then adds its counts to
//! the few combinations its key belongs to.

use std::collections::HashMap;

use foldhash::fast::FixedState;

use crate::aggregates::{Aggregates, CohortAggregate, Day, Slow};
use crate::cohort::{Cohort, HOUR};
use crate::counts::Counts;
use crate::sketch::{self, LatencySketch};
use crate::table::{NO_DEVICE, NO_LATENCY, Table};

/// How aggregates are counted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BuildOptions {
    /// A combination is kept when it holds at least this share of all failures …
    pub min_support: f64,
    /// … and at least this many.
    pub min_failures: u64,
    /// Largest combination (1 to 3).
    pub max_combination: usize,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            min_support: 0.005,
            min_failures: 20,
            max_combination: 3,
        }
    }
}

impl BuildOptions {
    /// The failures a combination needs, given the fleet's.
    pub fn floor(&self, failures: u64) -> u64 {
        let share = (self.min_support * failures as f64).ceil() as u64;
        share.max(self.min_failures).max(1)
    }
}

/// One attribute value: the attribute's index in the table and the value's code.
type Item = u32;

fn item(attribute: usize, code: u16) -> Item {
    ((attribute as u32) << 16) | u32::from(code)
}

fn item_attribute(item: Item) -> usize {
    (item >> 16) as usize
}

fn item_code(item: Item) -> u16 {
    (item & 0xffff) as u16
}

/// Up to three items in attribute order; unused slots hold `u32::MAX`.
type Combination = [Item; 3];

/// Counts `table` into aggregates.
pub fn aggregate(table: &Table, options: &BuildOptions) -> Aggregates {
    let rules = *table.rules();
    let Some((first, last)) = table.day_range() else {
        return Aggregates {
            rules,
            first_day: 0,
            days: 0,
            min_failures: options.floor(0),
            slow_threshold_micros: None,
            cohorts: Vec::new(),
        };
    };
    let days = usize::from(last - first) + 1;

    let (slow_bucket, slow_threshold_micros) = slow_threshold(table);
    let singles = Singles::new(table);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let RowCounts {
        daily,
        slow_daily,
        latency,
        failing_device_seen,
        single_daily,
        single_slow,
        single_latency,
        failures_by_key,
        key_devices,
        failing_key_devices,
        hour_devices,
        failing_hour_devices,
    } = RowCounts::of_rows(table, &singles, (first, days), slow_bucket, threads);
    let everyone = CohortAggregate {
        cohort: Cohort::everyone(),
        daily,
        slow_daily,
        latency: Some(latency),
        devices: Some(table.device_count() as u64),
        failing_devices: failing_device_seen.iter().filter(|&&seen| seen).count() as u64,
        busiest_device_failures: 0,
    };
    // Failures per (device, key), to find each cohort's busiest failing device; its pairs are
    // the failing pairs, distinct and by device.
    let device_failures = per_device(&failing_key_devices);
    let hour_device_failures = per_device(&failing_hour_devices);
    let failing_key_by_device: Vec<u64> = device_failures.iter().map(|&(pair, _)| pair).collect();
    let failing_hour_by_device: Vec<u64> =
        hour_device_failures.iter().map(|&(pair, _)| pair).collect();
    // Each distinct pair list sorted by device, side by side, for the distinct devices of the
    // single values and of the combinations alike.
    let (key_by_device, hour_by_device) =
        join(|| by_device(&key_devices), || by_device(&hour_devices));
    drop((
        key_devices,
        hour_devices,
        failing_key_devices,
        failing_hour_devices,
    ));
    let total_failures = everyone.total().failures(&rules);
    let floor = options.floor(total_failures);

    // The single values a key holds, and the one an hour is.
    let key_singles = |key: u32, add: &mut dyn FnMut(usize)| {
        for (attribute, &code) in table.key_codes(key).iter().enumerate() {
            if code != 0 {
                add(singles.index(attribute, code));
            }
        }
    };
    let hour_single = |hour: u32, add: &mut dyn FnMut(usize)| add(singles.index(0, hour as u16));
    // Hours and the other values are different singles: their counts add.
    let add =
        |a: Vec<u64>, b: Vec<u64>| -> Vec<u64> { a.iter().zip(&b).map(|(x, y)| x + y).collect() };
    let (single_devices, combination_cohorts) = join(
        || {
            let n = singles.len();
            let devices = add(
                distinct_devices(&key_by_device, n, key_singles),
                distinct_devices(&hour_by_device, n, hour_single),
            );
            let failing = add(
                distinct_devices(&failing_key_by_device, n, key_singles),
                distinct_devices(&failing_hour_by_device, n, hour_single),
            );
            let busiest = add(
                busiest_device(&device_failures, n, key_singles),
                busiest_device(&hour_device_failures, n, hour_single),
            );
            (devices, failing, busiest)
        },
        || {
            if options.max_combination < 2 {
                return Vec::new();
            }
            combinations(
                table,
                &failures_by_key,
                [&key_by_device, &failing_key_by_device],
                &device_failures,
                &singles,
                (floor, options.max_combination),
                (days, first),
            )
        },
    );
    let (devices, failing, busiest) = single_devices;
    let mut cohorts = vec![everyone];
    for (single, latency) in single_latency.into_iter().enumerate() {
        let (attribute, code) = singles.item(single);
        let daily = &single_daily[single * days..(single + 1) * days];
        // Hours of the day no push was sent in (the hour's codes exist in every table).
        if daily.iter().all(|d| d.attempts() == 0) {
            continue;
        }
        cohorts.push(CohortAggregate {
            cohort: Cohort::of([(
                table.name(attribute),
                table.dictionaries[attribute].value(code),
            )]),
            daily: daily.to_vec(),
            slow_daily: single_slow[single * days..(single + 1) * days].to_vec(),
            latency: Some(latency),
            devices: Some(devices[single]),
            failing_devices: failing[single],
            busiest_device_failures: busiest[single],
        });
    }
    cohorts.extend(combination_cohorts);
    let mut aggregates = Aggregates {
        rules,
        first_day: Day::from(first),
        days,
        min_failures: floor,
        slow_threshold_micros,
        cohorts,
    };
    aggregates.sort();
    aggregates
}

/// The fleet's 90th percentile of latency, as a sketch bucket and that bucket's lower bound.
fn slow_threshold(table: &Table) -> (u16, Option<u64>) {
    let mut sketch = LatencySketch::new();
    for &b in &table.latency {
        if b != NO_LATENCY {
            let _ = sketch.add_bucket(b, 1);
        }
    }
    match sketch.quantile(0.9) {
        Some(p90) => {
            let bucket = sketch::bucket_of(p90);
            (bucket, Some(bucket_floor(bucket)))
        }
        None => (NO_LATENCY, None),
    }
}

/// The smallest latency that falls in `bucket`.
pub(crate) fn bucket_floor(bucket: u16) -> u64 {
    match bucket {
        0 => 0,
        b => sketch::bucket_thresholds()[usize::from(b) - 1],
    }
}

/// Dense numbering of the (attribute, value) pairs present in a table.
struct Singles {
    offsets: Vec<usize>,
    items: Vec<(usize, u16)>,
}

impl Singles {
    fn new(table: &Table) -> Singles {
        let mut offsets = Vec::with_capacity(table.attribute_count());
        let mut items = Vec::new();
        for attribute in 0..table.attribute_count() {
            offsets.push(items.len());
            for code in 1..=table.dictionaries[attribute].len() as u16 {
                items.push((attribute, code));
            }
        }
        Singles { offsets, items }
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn index(&self, attribute: usize, code: u16) -> usize {
        self.offsets[attribute] + usize::from(code) - 1
    }

    fn item(&self, index: usize) -> (usize, u16) {
        self.items[index]
    }
}

/// What one pass over the rows counts: the fleet's and each single value's daily outcomes,
/// slow receipts and latency, failures per key, and the (key, device) and (hour, device) pairs
/// the distinct devices are counted from. Rows are split between threads, each counting its
/// share; the shares add up.
struct RowCounts {
    daily: Vec<Counts>,
    slow_daily: Vec<Slow>,
    latency: LatencySketch,
    failing_device_seen: Vec<bool>,
    single_daily: Vec<Counts>,
    single_slow: Vec<Slow>,
    single_latency: Vec<LatencySketch>,
    failures_by_key: Vec<u64>,
    /// Distinct and sorted once counted.
    key_devices: Vec<u64>,
    failing_key_devices: Vec<u64>,
    /// Distinct and sorted once counted.
    hour_devices: Vec<u64>,
    failing_hour_devices: Vec<u64>,
}

impl RowCounts {
    fn of_rows(
        table: &Table,
        singles: &Singles,
        (first, days): (u16, usize),
        slow_bucket: u16,
        threads: usize,
    ) -> RowCounts {
        let share = table.len().div_ceil(threads.max(1)).max(1);
        let shares: Vec<RowCounts> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..table.len())
                .step_by(share)
                .map(|start| {
                    let rows = start..(start + share).min(table.len());
                    scope.spawn(move || {
                        RowCounts::count(table, singles, (first, days), slow_bucket, rows)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let mut shares = shares.into_iter();
        let Some(mut all) = shares.next() else {
            return RowCounts::count(table, singles, (first, days), slow_bucket, 0..0);
        };
        for share in shares {
            all.add(share);
        }
        all
    }

    fn count(
        table: &Table,
        singles: &Singles,
        (first, days): (u16, usize),
        slow_bucket: u16,
        rows: std::ops::Range<usize>,
    ) -> RowCounts {
        let mut c = RowCounts {
            daily: vec![Counts::default(); days],
            slow_daily: vec![Slow::default(); days],
            latency: LatencySketch::new(),
            failing_device_seen: vec![false; table.device_count()],
            single_daily: vec![Counts::default(); singles.len() * days],
            single_slow: vec![Slow::default(); singles.len() * days],
            single_latency: vec![LatencySketch::new(); singles.len()],
            failures_by_key: vec![0u64; table.key_count()],
            key_devices: Vec::with_capacity(rows.len()),
            failing_key_devices: Vec::new(),
            hour_devices: Vec::with_capacity(rows.len()),
            failing_hour_devices: Vec::new(),
        };
        for row in rows {
            let day = usize::from(table.day[row] - first);
            let outcome = table.row_outcome(row);
            let key = table.key[row];
            let fails = table.fails(row);
            let latency = table.latency[row];
            let device = table.device[row];
            c.daily[day].add(outcome, 1);
            if fails {
                c.failures_by_key[key as usize] += 1;
                if device != NO_DEVICE {
                    c.failing_device_seen[device as usize] = true;
                }
            }
            if latency != NO_LATENCY {
                c.slow_daily[day].add(latency >= slow_bucket);
                // Rows hold buckets `bucket_of` gave: always in range.
                let _ = c.latency.add_bucket(latency, 1);
            }
            let hour = (0, u16::from(table.hour[row]));
            for (attribute, code) in table
                .key_codes(key)
                .iter()
                .copied()
                .enumerate()
                .chain(std::iter::once(hour))
            {
                if code == 0 {
                    continue;
                }
                let single = singles.index(attribute, code);
                c.single_daily[single * days + day].add(outcome, 1);
                if latency != NO_LATENCY {
                    c.single_slow[single * days + day].add(latency >= slow_bucket);
                    let _ = c.single_latency[single].add_bucket(latency, 1);
                }
            }
            if device != NO_DEVICE {
                let pair = (u64::from(key) << 32) | u64::from(device);
                c.key_devices.push(pair);
                let by_hour = (u64::from(table.hour[row]) << 32) | u64::from(device);
                c.hour_devices.push(by_hour);
                if fails {
                    c.failing_key_devices.push(pair);
                    c.failing_hour_devices.push(by_hour);
                }
            }
        }
        // Distinct on each thread: a device sends many pushes with one key.
        for pairs in [&mut c.key_devices, &mut c.hour_devices] {
            pairs.sort_unstable();
            pairs.dedup();
        }
        c
    }

    fn add(&mut self, other: RowCounts) {
        let counts =
            |a: &mut [Counts], b: &[Counts]| a.iter_mut().zip(b).for_each(|(a, b)| a.merge(b));
        let slows = |a: &mut [Slow], b: &[Slow]| a.iter_mut().zip(b).for_each(|(a, b)| a.merge(b));
        counts(&mut self.daily, &other.daily);
        slows(&mut self.slow_daily, &other.slow_daily);
        self.latency.merge(&other.latency);
        for (seen, theirs) in self
            .failing_device_seen
            .iter_mut()
            .zip(&other.failing_device_seen)
        {
            *seen |= *theirs;
        }
        counts(&mut self.single_daily, &other.single_daily);
        slows(&mut self.single_slow, &other.single_slow);
        for (mine, theirs) in self.single_latency.iter_mut().zip(&other.single_latency) {
            mine.merge(theirs);
        }
        for (mine, theirs) in self.failures_by_key.iter_mut().zip(&other.failures_by_key) {
            *mine += theirs;
        }
        self.key_devices = union(&self.key_devices, &other.key_devices);
        self.failing_key_devices
            .extend_from_slice(&other.failing_key_devices);
        self.hour_devices = union(&self.hour_devices, &other.hour_devices);
        self.failing_hour_devices
            .extend_from_slice(&other.failing_hour_devices);
    }
}

/// The distinct values of two sorted, distinct lists, sorted.
fn union(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Runs `a` on a thread of its own and `b` on this one: the two halves of the counting that do
/// not depend on each other.
fn join<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|scope| {
        let a = scope.spawn(a);
        let b = b();
        (a.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), b)
    })
}

/// Combinations of two or three values holding at least `floor` failures, with their daily
/// counts and failing devices.
fn combinations(
    table: &Table,
    failures_by_key: &[u64],
    [key_devices, failing_key_devices]: [&[u64]; 2],
    device_failures: &[(u64, u64)],
    singles: &Singles,
    (floor, max_combination): (u64, usize),
    (days, first): (usize, u16),
) -> Vec<CohortAggregate> {
    let hour = table.attribute_index(HOUR);
    // Values that can be part of a kept combination.
    let mut single_failures = vec![0u64; singles.len()];
    for (key, &failures) in failures_by_key.iter().enumerate() {
        if failures == 0 {
            continue;
        }
        for (attribute, &code) in table.key_codes(key as u32).iter().enumerate() {
            if code != 0 {
                single_failures[singles.index(attribute, code)] += failures;
            }
        }
    }
    let frequent_items = |key: u32, out: &mut Vec<Item>| {
        out.clear();
        for (attribute, &code) in table.key_codes(key).iter().enumerate() {
            if code != 0
                && Some(attribute) != hour
                && single_failures[singles.index(attribute, code)] >= floor
            {
                out.push(item(attribute, code));
            }
        }
    };
    let max = max_combination.min(3);
    // Failures per combination, from the keys that hold failures.
    let mut failures: HashMap<Combination, u64, FixedState> = HashMap::default();
    let mut items = Vec::new();
    for (key, &f) in failures_by_key.iter().enumerate() {
        if f == 0 {
            continue;
        }
        frequent_items(key as u32, &mut items);
        for_each_combination(&items, max, |c| *failures.entry(c).or_default() += f);
    }
    let mut kept: Vec<Combination> = failures
        .into_iter()
        .filter(|&(_, f)| f >= floor)
        .map(|(c, _)| c)
        .collect();
    kept.sort_unstable();
    let ids: HashMap<Combination, u32, FixedState> = kept
        .iter()
        .enumerate()
        .map(|(i, &c)| (c, i as u32))
        .collect();
    // Which kept combinations each key belongs to (compressed rows).
    let mut starts = Vec::with_capacity(table.key_count() + 1);
    let mut members: Vec<u32> = Vec::new();
    for key in 0..table.key_count() {
        starts.push(members.len());
        frequent_items(key as u32, &mut items);
        for_each_combination(&items, max, |c| {
            if let Some(&id) = ids.get(&c) {
                members.push(id);
            }
        });
    }
    starts.push(members.len());
    // Daily counts per combination: rows split between threads, the shares added.
    let count_rows = |rows: std::ops::Range<usize>| {
        let mut daily = vec![Counts::default(); kept.len() * days];
        for row in rows {
            let key = table.key[row] as usize;
            let of_key = &members[starts[key]..starts[key + 1]];
            if of_key.is_empty() {
                continue;
            }
            let day = usize::from(table.day[row] - first);
            let outcome = table.row_outcome(row);
            for &id in of_key {
                daily[id as usize * days + day].add(outcome, 1);
            }
        }
        daily
    };
    let half = table.len() / 2;
    let (mut daily, other) = join(|| count_rows(0..half), || count_rows(half..table.len()));
    for (mine, theirs) in daily.iter_mut().zip(&other) {
        mine.merge(theirs);
    }
    let key_members = |key: u32, add: &mut dyn FnMut(usize)| {
        for &id in &members[starts[key as usize]..starts[key as usize + 1]] {
            add(id as usize);
        }
    };
    let devices = distinct_devices(key_devices, kept.len(), key_members);
    let failing = distinct_devices(failing_key_devices, kept.len(), key_members);
    let busiest = busiest_device(device_failures, kept.len(), key_members);
    kept.iter()
        .enumerate()
        .map(|(id, combination)| CohortAggregate {
            cohort: Cohort::of(combination.iter().filter(|&&i| i != u32::MAX).map(|&i| {
                let attribute = item_attribute(i);
                (
                    table.name(attribute),
                    table.dictionaries[attribute].value(item_code(i)),
                )
            })),
            daily: daily[id * days..(id + 1) * days].to_vec(),
            slow_daily: Vec::new(),
            latency: None,
            devices: Some(devices[id]),
            failing_devices: failing[id],
            busiest_device_failures: busiest[id],
        })
        .collect()
}

/// `(key << 32 | device)` pairs as `(device << 32 | key)`, sorted: by device.
fn by_device(pairs: &[u64]) -> Vec<u64> {
    let mut by_device: Vec<u64> = pairs.iter().map(|&pair| pair.rotate_left(32)).collect();
    by_device.sort_unstable();
    by_device
}

/// Distinct devices per cohort from distinct pairs sorted by device ([`by_device`]): a device's
/// pairs are consecutive, so a cohort counts a device when the last device it counted was
/// another. Materializing every (cohort, device) pair instead would take tens of bytes per push
/// and combination (half a gigabyte on 10 M pushes), and sorting each device's cohorts took
/// most of the counting's time.
fn distinct_devices(
    by_device: &[u64],
    cohorts: usize,
    members: impl Fn(u32, &mut dyn FnMut(usize)),
) -> Vec<u64> {
    let mut counts = vec![0u64; cohorts];
    // The device that last counted in each cohort (device ids are below NO_DEVICE).
    let mut counted_by = vec![NO_DEVICE; cohorts];
    for &pair in by_device {
        let device = (pair >> 32) as u32;
        members(pair as u32, &mut |cohort| {
            if counted_by[cohort] != device {
                counted_by[cohort] = device;
                counts[cohort] += 1;
            }
        });
    }
    counts
}

/// `(id << 32 | device)` pairs of failing pushes, counted per `(device << 32 | id)` in that
/// order (by device, for [`busiest_device`]).
fn per_device(failing: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for pair in by_device(failing) {
        match out.last_mut() {
            Some((last, n)) if *last == pair => *n += 1,
            _ => out.push((pair, 1)),
        }
    }
    out
}

/// The most failures one device has in each cohort. `device_failures` holds
/// `(device << 32 | key, failures)` sorted by device; `members(key, add)` names the cohorts a
/// key belongs to.
fn busiest_device(
    device_failures: &[(u64, u64)],
    cohorts: usize,
    members: impl Fn(u32, &mut dyn FnMut(usize)),
) -> Vec<u64> {
    let mut busiest = vec![0u64; cohorts];
    let mut mine: Vec<(usize, u64)> = Vec::new();
    let mut start = 0;
    while start < device_failures.len() {
        let device = device_failures[start].0 >> 32;
        let mut end = start;
        mine.clear();
        while end < device_failures.len() && device_failures[end].0 >> 32 == device {
            let (pair, failures) = device_failures[end];
            members(pair as u32, &mut |cohort| mine.push((cohort, failures)));
            end += 1;
        }
        mine.sort_unstable();
        let mut i = 0;
        while i < mine.len() {
            let cohort = mine[i].0;
            let mut total = 0;
            while i < mine.len() && mine[i].0 == cohort {
                total += mine[i].1;
                i += 1;
            }
            busiest[cohort] = busiest[cohort].max(total);
        }
        start = end;
    }
    busiest
}

/// Calls `f` with every combination of two to `max` of `items` (which are in attribute order,
/// one per attribute).
fn for_each_combination(items: &[Item], max: usize, mut f: impl FnMut(Combination)) {
    let n = items.len();
    for a in 0..n {
        for b in a + 1..n {
            f([items[a], items[b], u32::MAX]);
            if max >= 3 {
                for c in b + 1..n {
                    f([items[a], items[b], items[c]]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_are_every_pair_and_triple_once() {
        let mut seen = Vec::new();
        for_each_combination(&[1, 2, 3, 4], 3, |c| seen.push(c));
        assert_eq!(seen.len(), 6 + 4);
        let mut pairs = Vec::new();
        for_each_combination(&[1, 2, 3, 4], 2, |c| pairs.push(c));
        assert_eq!(pairs.len(), 6);
    }
}
