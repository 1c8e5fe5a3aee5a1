//! From aggregates to a report: rates, what is different, since when (`docs/fleet.md`).
//!
//! "What is different" follows MacroBase's DIFF (Bailis et al., SIGMOD 2017; Abuzaid et al.,
//! VLDB 2018): every value and combination of up to three values that passes a support floor
//! (failures, and distinct failing devices so one noisy phone cannot make a cohort) is tested
//! against the rest of the fleet (2×2 table: Fisher exact when sparse, else chi-squared), the
//! p-values go through Benjamini–Hochberg together, and a cohort is kept when it survives and
//! its risk ratio reaches the floor. Then only the smallest explanation is shown:
//! a combination that fails no differently from the rest of one of its parts adds nothing over
//! that part (dropped), and a part whose pushes outside a kept combination fail no more than
//! the fleet is explained by the combination (dropped).

use crate::aggregates::{Aggregates, CohortAggregate, Day, Slow};
use crate::cohort::Cohort;
use crate::counts::Counts;
use crate::onset::{self, OnsetOptions};
use crate::outcome::OutcomeRules;
use crate::report::{
    AttributeStats, Change, CohortStats, DayStats, Difference, Latency, LatencyShift, Regression,
    RegressionKind, Report, SinceChange, Thresholds, Window,
};
use crate::sketch::{LatencySketch, RELATIVE_ACCURACY};
use crate::stats::{self, Interval};

/// How a report is judged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnalysisOptions {
    /// Distinct failing devices a cohort needs to be tested.
    pub min_devices: u64,
    /// Smallest risk ratio (cohort vs rest) reported as a difference.
    pub min_risk_ratio: f64,
    /// Benjamini–Hochberg false discovery rate.
    pub fdr: f64,
    /// Shortest segment of a daily series, in days.
    pub min_segment: usize,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            min_devices: 10,
            min_risk_ratio: 1.5,
            fdr: 0.05,
            min_segment: 3,
        }
    }
}

/// The day `day` as `YYYY-MM-DD`.
pub fn date(day: Day) -> String {
    let local =
        pushtrace_model::Timestamp::from_utc_micros(i64::from(day) * 86_400_000_000).local();
    format!("{:04}-{:02}-{:02}", local.year, local.month, local.day)
}

/// Computes the report of `aggregates`.
pub fn analyze(aggregates: &Aggregates, options: &AnalysisOptions) -> Report {
    let rules = aggregates.rules;
    let empty = CohortAggregate {
        cohort: Cohort::everyone(),
        daily: vec![Counts::default(); aggregates.days],
        slow_daily: Vec::new(),
        latency: None,
        devices: Some(0),
        failing_devices: 0,
        busiest_device_failures: 0,
    };
    let everyone = aggregates.everyone().unwrap_or(&empty);
    let day_label = |index: usize| date(aggregates.first_day + index as Day);
    let window = Window {
        first_day: day_label(0),
        last_day: day_label(aggregates.days.saturating_sub(1)),
        days: aggregates.days,
    };
    let overall = cohort_stats(everyone, &rules);
    let daily = everyone
        .daily
        .iter()
        .enumerate()
        .map(|(i, counts)| {
            let failures = counts.failures(&rules);
            let judged = counts.judged(&rules);
            DayStats {
                day: day_label(i),
                pushes: counts.attempts(),
                failures,
                failure_rate: rate(failures, judged),
                failure_interval: stats::wilson(failures, judged),
                p50_ms: None,
            }
        })
        .collect();
    let onset_options = OnsetOptions {
        min_segment: options.min_segment,
        ..OnsetOptions::default()
    };
    let changes = series_changes(
        &failure_series(everyone, &rules),
        &onset_options,
        options.fdr,
    );
    let changes_out: Vec<Change> = changes
        .iter()
        .map(|c| Change {
            day: day_label(c.index),
            rate_before: c.before.0,
            interval_before: c.before.1,
            rate_after: c.after.0,
            interval_after: c.after.1,
            p: c.p,
        })
        .collect();

    let mut attributes: Vec<AttributeStats> = Vec::new();
    for aggregate in aggregates.cohorts.iter().filter(|c| c.cohort.len() == 1) {
        let Some((attribute, _)) = aggregate.cohort.0.iter().next() else {
            continue;
        };
        let stats = cohort_stats(aggregate, &rules);
        match attributes.iter_mut().find(|a| &a.attribute == attribute) {
            Some(a) => a.values.push(stats),
            None => attributes.push(AttributeStats {
                attribute: attribute.clone(),
                values: vec![stats],
            }),
        }
    }
    for a in &mut attributes {
        a.values
            .sort_by(|x, y| y.pushes.cmp(&x.pushes).then(x.cohort.cmp(&y.cohort)));
    }

    let whole = 0..aggregates.days;
    let (differences, tested) = differences_in(aggregates, everyone, whole, options);
    let since_change = changes
        .iter()
        .rev()
        .find(|c| c.after.0 > c.before.0)
        .map(|c| SinceChange {
            since: day_label(c.index),
            differences: differences_in(aggregates, everyone, c.index..aggregates.days, options).0,
        });
    let mut flagged: Vec<&Cohort> = differences.iter().map(|d| &d.cohort).collect();
    if let Some(since) = &since_change {
        for d in &since.differences {
            if !flagged.contains(&&d.cohort) {
                flagged.push(&d.cohort);
            }
        }
    }
    let regressions = regressions(aggregates, everyone, &flagged, &onset_options, options);
    let (latency_shifts, slow_ms) = latency_shifts(aggregates, &onset_options, options);

    let mut notes = Vec::new();
    if aggregates.days == 0 {
        notes.push("no pushes were read".to_string());
    }
    Report {
        rules,
        window,
        thresholds: Thresholds {
            min_failures: aggregates.min_failures,
            min_devices: options.min_devices,
            min_risk_ratio: options.min_risk_ratio,
            fdr: options.fdr,
            tested,
            slow_ms,
        },
        overall,
        daily,
        changes: changes_out,
        attributes,
        differences,
        since_change,
        regressions,
        latency_shifts,
        notes,
    }
}

fn rate(failures: u64, judged: u64) -> f64 {
    if judged == 0 {
        0.0
    } else {
        failures as f64 / judged as f64
    }
}

fn cohort_stats(aggregate: &CohortAggregate, rules: &OutcomeRules) -> CohortStats {
    let counts = aggregate.total();
    let failures = counts.failures(rules);
    let judged = counts.judged(rules);
    CohortStats {
        cohort: aggregate.cohort.clone(),
        pushes: counts.attempts(),
        counts,
        failures,
        failure_rate: rate(failures, judged),
        failure_interval: stats::wilson(failures, judged),
        devices: aggregate.devices,
        failing_devices: aggregate.failing_devices,
        latency: aggregate.latency.as_ref().and_then(latency),
    }
}

fn latency(sketch: &LatencySketch) -> Option<Latency> {
    let ms = |q| sketch.quantile(q).map(|us| us as f64 / 1000.0);
    Some(Latency {
        receipts: sketch.count(),
        p50_ms: ms(0.5)?,
        p90_ms: ms(0.9)?,
        p99_ms: ms(0.99)?,
        relative_error: RELATIVE_ACCURACY,
    })
}

/// (failures, judged) per day.
fn failure_series(aggregate: &CohortAggregate, rules: &OutcomeRules) -> (Vec<u64>, Vec<u64>) {
    aggregate
        .daily
        .iter()
        .map(|c| (c.failures(rules), c.judged(rules)))
        .unzip()
}

fn slow_series(slow: &[Slow]) -> (Vec<u64>, Vec<u64>) {
    slow.iter().map(|s| (s.slow, s.received)).unzip()
}

/// A change found in a daily series.
struct SeriesChange {
    index: usize,
    before: (f64, Interval),
    after: (f64, Interval),
    p: f64,
}

/// The changes of a series whose p-values survive BH among the series' own changes.
fn series_changes(
    (failures, judged): &(Vec<u64>, Vec<u64>),
    options: &OnsetOptions,
    fdr: f64,
) -> Vec<SeriesChange> {
    let found = raw_changes(failures, judged, options);
    let q = stats::benjamini_hochberg(&found.iter().map(|c| c.p).collect::<Vec<_>>());
    found
        .into_iter()
        .zip(q)
        .filter(|(_, q)| *q <= fdr)
        .map(|(c, _)| c)
        .collect()
}

fn raw_changes(failures: &[u64], judged: &[u64], options: &OnsetOptions) -> Vec<SeriesChange> {
    // The series come from counts that add up (failures ≤ judged, equal lengths): an error
    // here means there is nothing to segment.
    let Ok(segmentation) = onset::detect(failures, judged, *options) else {
        return Vec::new();
    };
    let segments = &segmentation.segments;
    segmentation
        .changes
        .iter()
        .enumerate()
        .filter_map(|(i, change)| {
            let (before, after) = (segments.get(i)?, segments.get(i + 1)?);
            Some(SeriesChange {
                index: change.day,
                before: (before.rate?, before.interval),
                after: (after.rate?, after.interval),
                p: change.p,
            })
        })
        .collect()
}

/// How much more pushes' failures vary between cohorts than independent pushes would: failures
/// cluster by device (a phone that fails, fails again), so a push-level test overstates its
/// evidence by this factor. Quasi-binomial estimate, made robust to the cohorts that really
/// differ: each attribute value's squared standardized deviation from the window's rate is
/// φ·χ²₁ when nothing differs, so φ is their median over every value divided by χ²₁'s median
/// (0.4549). At least 1.
fn dispersion(aggregates: &Aggregates, range: &std::ops::Range<usize>) -> f64 {
    let rules = &aggregates.rules;
    let Some(everyone) = aggregates.everyone() else {
        return 1.0;
    };
    let all = everyone.between(range.start, range.end);
    let (f_all, j_all) = (all.failures(rules), all.judged(rules));
    if j_all == 0 || f_all == 0 || f_all == j_all {
        return 1.0;
    }
    let p = f_all as f64 / j_all as f64;
    let mut deviations: Vec<f64> = aggregates
        .cohorts
        .iter()
        .filter(|c| c.cohort.len() == 1)
        .filter_map(|c| {
            let counts = c.between(range.start, range.end);
            let (f, j) = (counts.failures(rules), counts.judged(rules));
            // Values too small to say anything would drag the median down.
            let expected = j as f64 * p;
            (expected >= 5.0).then(|| (f as f64 - expected).powi(2) / (expected * (1.0 - p)))
        })
        .collect();
    if deviations.len() < 5 {
        return 1.0;
    }
    deviations.sort_by(f64::total_cmp);
    (deviations[deviations.len() / 2] / 0.454_936_4).max(1.0)
}

/// The differences over days `range`, and how many cohorts were tested.
fn differences_in(
    aggregates: &Aggregates,
    everyone: &CohortAggregate,
    range: std::ops::Range<usize>,
    options: &AnalysisOptions,
) -> (Vec<Difference>, usize) {
    let rules = &aggregates.rules;
    let all = everyone.between(range.start, range.end);
    let (all_failures, all_judged) = (all.failures(rules), all.judged(rules));
    let in_range: Vec<(&CohortAggregate, Counts)> = aggregates
        .cohorts
        .iter()
        .filter(|c| !c.cohort.is_empty())
        .map(|c| (c, c.between(range.start, range.end)))
        .collect();
    let counts_of = |cohort: &Cohort| -> Option<Counts> {
        in_range
            .iter()
            .find(|(c, _)| &c.cohort == cohort)
            .map(|(_, counts)| *counts)
    };
    let tested: Vec<(&CohortAggregate, Counts)> = in_range
        .iter()
        .filter(|(c, counts)| {
            counts.failures(rules) >= aggregates.min_failures
                && c.failing_devices >= options.min_devices
                && counts.judged(rules) < all_judged
        })
        .copied()
        .collect();
    let phi = dispersion(aggregates, &range);
    let all_devices = everyone.devices;
    let all_failing_devices = everyone.failing_devices;
    let mut device_ps = Vec::new();
    let tests: Vec<Difference> = tested
        .iter()
        .map(|(c, counts)| {
            let (f, j) = (counts.failures(rules), counts.judged(rules));
            let mut d = difference(
                &c.cohort,
                counts.attempts(),
                (f, j),
                (all_failures - f, all_judged - j),
                all_failures,
                c.failing_devices,
            );
            // The cohort must stand without its busiest phone: its test leaves that phone's
            // failures out.
            let top = c.busiest_device_failures.min(f);
            d.busiest_device_failures = top;
            let (a, b, c2, d2) = (
                f - top,
                j - f,
                all_failures - f,
                (all_judged - j) - (all_failures - f),
            );
            let test = stats::two_by_two(a, b, c2, d2);
            d.test = test.method;
            d.p = if phi > 1.0 {
                // Quasi-binomial: the statistic shrinks by the fleet's dispersion.
                stats::chi_squared_1df_survival(stats::chi_squared(a, b, c2, d2).statistic / phi)
                    .max(test.p)
            } else {
                test.p
            };
            d.risk_ratio_without_busiest =
                stats::risk_ratio(f - top, j - top, all_failures - f, all_judged - j)
                    .map_or(0.0, |r| r.ratio);
            if let (Some(total), Some(inside)) = (all_devices, c.devices) {
                let failing_in = c.failing_devices.min(inside);
                let outside = total.saturating_sub(inside);
                let failing_out = all_failing_devices.saturating_sub(failing_in).min(outside);
                d.devices = Some(inside);
                d.failing_device_share = Some(rate(failing_in, inside));
                d.rest_failing_device_share = Some(rate(failing_out, outside));
                let p = stats::two_by_two(
                    failing_in,
                    inside - failing_in,
                    failing_out,
                    outside - failing_out,
                )
                .p;
                device_ps.push(p);
            }
            d
        })
        .collect();
    let q = stats::benjamini_hochberg(&tests.iter().map(|d| d.p).collect::<Vec<_>>());
    let mut device_q = stats::benjamini_hochberg(&device_ps).into_iter();
    let significant: Vec<Difference> = tests
        .into_iter()
        .zip(q)
        .filter_map(|(mut d, q)| {
            d.q = q;
            if d.devices.is_some() {
                d.device_q = device_q.next();
            }
            // Many failures from few phones is not a cohort: its devices must fail more
            // often too.
            let devices_agree = match (
                d.device_q,
                d.failing_device_share,
                d.rest_failing_device_share,
            ) {
                (Some(q), Some(inside), Some(outside)) => q <= options.fdr && inside > outside,
                _ => true,
            };
            (q <= options.fdr
                && devices_agree
                && d.risk_ratio >= options.min_risk_ratio
                && d.risk_ratio_without_busiest >= options.min_risk_ratio
                && d.failure_rate > d.rest_rate)
                .then_some(d)
        })
        .collect();
    let differs = |(f_in, j_in): (u64, u64), (f_out, j_out): (u64, u64)| -> bool {
        if j_in == 0 || j_out == 0 {
            return false;
        }
        let Some(rr) = stats::risk_ratio(f_in, j_in, f_out, j_out) else {
            return false;
        };
        let p = stats::two_by_two(f_in, j_in - f_in, f_out, j_out - f_out).p;
        rr.ratio >= options.min_risk_ratio && p <= options.fdr
    };
    let fj = |c: &Counts| (c.failures(rules), c.judged(rules));
    // Values that imply others (radio=LTE ⇒ interface=cellular, carrier=Jio ⇒ region=IN):
    // a cohort is compared with its parts and extensions through everything it implies.
    let implied = implications(&in_range);
    let closure = |c: &Cohort| -> Cohort {
        let mut out = c.clone();
        for (a, v) in &c.0 {
            for (b, w) in implied.get(&(a.clone(), v.clone())).into_iter().flatten() {
                out.0.entry(b.clone()).or_insert_with(|| w.clone());
            }
        }
        out
    };
    // Two cohorts with the same closure are the same pushes: the one with fewer values is the
    // part (carrier=Jio ∧ model=iPhone 12 rather than the same with region=IN).
    let within = |part: &Cohort, whole: &Cohort| -> bool {
        let (p, w) = (closure(part), closure(whole));
        part != whole && p.contains(&w) && (p != w || part.len() < whole.len())
    };
    // A combination adds nothing over a part when it fails no differently from the part's
    // other pushes.
    let minimal: Vec<&Difference> = significant
        .iter()
        .filter(|s| {
            !significant.iter().any(|t| {
                within(&t.cohort, &s.cohort) && {
                    let (Some(t_counts), Some(s_counts)) =
                        (counts_of(&t.cohort), counts_of(&s.cohort))
                    else {
                        return false;
                    };
                    !differs(fj(&s_counts), fj(&t_counts.minus(&s_counts)))
                }
            })
        })
        .collect();
    // A part is explained by a kept combination when its pushes outside it fail no more than
    // the pushes outside the part.
    let mut kept: Vec<Difference> = minimal
        .iter()
        .filter(|t| {
            !minimal.iter().any(|s| {
                within(&t.cohort, &s.cohort) && {
                    let (Some(t_counts), Some(s_counts)) =
                        (counts_of(&t.cohort), counts_of(&s.cohort))
                    else {
                        return false;
                    };
                    let (mut out_f, mut out_j) = fj(&t_counts.minus(&s_counts));
                    // The part's busiest phone, when it is busier than any phone of the
                    // combination, is outside it: one phone cannot keep the part apart either.
                    if t.busiest_device_failures > s.busiest_device_failures {
                        out_f = out_f.saturating_sub(t.busiest_device_failures);
                        out_j = out_j.saturating_sub(t.busiest_device_failures);
                    }
                    let (t_f, t_j) = fj(&t_counts);
                    !differs((out_f, out_j), (all_failures - t_f, all_judged - t_j))
                }
            })
        })
        .map(|d| (*d).clone())
        .collect();
    kept.sort_by(|a, b| {
        b.excess_failures
            .total_cmp(&a.excess_failures)
            .then_with(|| a.cohort.cmp(&b.cohort))
    });
    (kept, tested.len())
}

/// Value A implies value B when every push with A has B: the pair holds all of A's pushes.
fn implications(
    cohorts: &[(&CohortAggregate, Counts)],
) -> std::collections::HashMap<(String, String), Vec<(String, String)>> {
    let singles: std::collections::HashMap<(String, String), u64> = cohorts
        .iter()
        .filter(|(c, _)| c.cohort.len() == 1)
        .filter_map(|(c, counts)| {
            let (a, v) = c.cohort.0.iter().next()?;
            Some(((a.clone(), v.clone()), counts.attempts()))
        })
        .collect();
    let mut out: std::collections::HashMap<(String, String), Vec<(String, String)>> =
        std::collections::HashMap::new();
    for (c, counts) in cohorts.iter().filter(|(c, _)| c.cohort.len() == 2) {
        let pair: Vec<(String, String)> = c
            .cohort
            .0
            .iter()
            .map(|(a, v)| (a.clone(), v.clone()))
            .collect();
        for (x, y) in [(0, 1), (1, 0)] {
            if singles.get(&pair[x]) == Some(&counts.attempts()) && counts.attempts() > 0 {
                out.entry(pair[x].clone())
                    .or_default()
                    .push(pair[y].clone());
            }
        }
    }
    out
}

fn difference(
    cohort: &Cohort,
    pushes: u64,
    (f_in, j_in): (u64, u64),
    (f_out, j_out): (u64, u64),
    all_failures: u64,
    failing_devices: u64,
) -> Difference {
    let rest_rate = rate(f_out, j_out);
    let rr = stats::risk_ratio(f_in, j_in, f_out, j_out);
    let test = stats::two_by_two(f_in, j_in - f_in, f_out, j_out - f_out);
    Difference {
        cohort: cohort.clone(),
        pushes,
        failures: f_in,
        failure_rate: rate(f_in, j_in),
        failure_interval: stats::wilson(f_in, j_in),
        rest_rate,
        risk_ratio: rr.map_or(f64::INFINITY, |r| r.ratio),
        risk_ratio_interval: rr.map_or(
            Interval {
                low: 0.0,
                high: f64::INFINITY,
            },
            |r| r.interval,
        ),
        excess_failures: f_in as f64 - j_in as f64 * rest_rate,
        share_of_failures: rate(f_in, all_failures),
        failing_devices,
        devices: None,
        busiest_device_failures: 0,
        risk_ratio_without_busiest: 0.0,
        failing_device_share: None,
        rest_failing_device_share: None,
        test: test.method,
        p: test.p,
        q: 1.0,
        device_q: None,
    }
}

fn regressions(
    aggregates: &Aggregates,
    everyone: &CohortAggregate,
    flagged: &[&Cohort],
    onset_options: &OnsetOptions,
    options: &AnalysisOptions,
) -> Vec<Regression> {
    let rules = &aggregates.rules;
    let day_label = |index: usize| date(aggregates.first_day + index as Day);
    let mut found: Vec<(Regression, Option<f64>)> = Vec::new();
    for cohort in flagged {
        let Some(aggregate) = aggregates.find(cohort) else {
            continue;
        };
        let series = failure_series(aggregate, rules);
        let first_seen = series.1.iter().position(|&j| j > 0).unwrap_or(0);
        let rising = rise(
            &series.0[first_seen..],
            &series.1[first_seen..],
            onset_options,
            options.min_risk_ratio,
        )
        .map(|c| SeriesChange {
            index: c.index + first_seen,
            ..c
        });
        let from = rising.as_ref().map_or(first_seen, |c| c.index);
        let after = aggregate.between(from, aggregates.days);
        let rest = everyone.between(from, aggregates.days).minus(&after);
        let (f, j) = (after.failures(rules), after.judged(rules));
        let kind = match &rising {
            Some(_) => RegressionKind::Since,
            None if first_seen >= options.min_segment => RegressionKind::SinceFirstSeen,
            None => RegressionKind::AllAlong,
        };
        let regression = Regression {
            cohort: (*cohort).clone(),
            kind,
            since: day_label(from),
            rate_after: rate(f, j),
            interval_after: stats::wilson(f, j),
            rate_before: rising.as_ref().map(|c| c.before.0),
            interval_before: rising.as_ref().map(|c| c.before.1),
            rest_rate: rate(rest.failures(rules), rest.judged(rules)),
            failing_devices: aggregate.failing_devices,
            p: rising.as_ref().map(|c| c.p),
            q: None,
        };
        let p = rising.as_ref().map(|c| c.p);
        found.push((regression, p));
    }
    // The onsets are tested together: a change that does not survive BH is not an onset.
    let ps: Vec<f64> = found.iter().filter_map(|(_, p)| *p).collect();
    let mut qs = stats::benjamini_hochberg(&ps).into_iter();
    let mut out = Vec::new();
    for (mut regression, p) in found {
        if p.is_some() {
            let q = qs.next().unwrap_or(1.0);
            regression.q = Some(q);
            if q > options.fdr {
                // Not a credible change: the cohort is high over its whole life.
                let aggregate = aggregates.find(&regression.cohort);
                let first_seen = aggregate
                    .map(|a| {
                        failure_series(a, rules)
                            .1
                            .iter()
                            .position(|&j| j > 0)
                            .unwrap_or(0)
                    })
                    .unwrap_or(0);
                if let Some(a) = aggregate {
                    let after = a.between(first_seen, aggregates.days);
                    let rest = everyone.between(first_seen, aggregates.days).minus(&after);
                    let (f, j) = (after.failures(rules), after.judged(rules));
                    regression.rate_after = rate(f, j);
                    regression.interval_after = stats::wilson(f, j);
                    regression.rest_rate = rate(rest.failures(rules), rest.judged(rules));
                }
                regression.kind = if first_seen >= options.min_segment {
                    RegressionKind::SinceFirstSeen
                } else {
                    RegressionKind::AllAlong
                };
                regression.since = day_label(first_seen);
                regression.rate_before = None;
                regression.interval_before = None;
            }
        }
        out.push(regression);
    }
    out
}

/// A cohort's onset: the one day that best splits its life (from its first push) into a lower
/// and a higher rate — at most one change, as a regression in a cohort has one onset — with
/// segments of at least `min_segment` days. The split's likelihood ratio, shrunk by the series'
/// overdispersion, gives its p-value (optimistic, being the best of the splits: it ranks the
/// onsets for Benjamini–Hochberg, as the fleet's changes do).
fn rise(
    failures: &[u64],
    judged: &[u64],
    options: &OnsetOptions,
    min_ratio: f64,
) -> Option<SeriesChange> {
    let days = failures.len();
    let m = options.min_segment.max(1);
    if days < 2 * m {
        return None;
    }
    let phi = onset::overdispersion(failures, judged).ok()?.max(1.0);
    let (k, n): (u64, u64) = (failures.iter().sum(), judged.iter().sum());
    let whole = onset::segment_cost(k, n);
    let (mut kb, mut nb) = (0u64, 0u64);
    let mut best: Option<(f64, usize, (u64, u64))> = None;
    for day in 1..days {
        kb += failures[day - 1];
        nb += judged[day - 1];
        if day < m || days - day < m || nb == 0 || nb == n {
            continue;
        }
        let (ka, na) = (k - kb, n - nb);
        // A regression is a rise worth the name: the rate after is at least `min_ratio`
        // times the rate before (a cohort high all along wobbles, it does not rise).
        if rate(ka, na) < min_ratio * rate(kb, nb) || rate(ka, na) <= rate(kb, nb) {
            continue;
        }
        let gain = whole - onset::segment_cost(kb, nb) - onset::segment_cost(ka, na);
        if best.is_none_or(|(g, _, _)| gain > g) {
            best = Some((gain, day, (kb, nb)));
        }
    }
    let (gain, day, (kb, nb)) = best?;
    let (ka, na) = (k - kb, n - nb);
    Some(SeriesChange {
        index: day,
        before: (rate(kb, nb), stats::wilson(kb, nb)),
        after: (rate(ka, na), stats::wilson(ka, na)),
        p: stats::chi_squared_1df_survival(gain.max(0.0) / phi),
    })
}

/// Whether a cohort lost most of its receipts at `day`: an old app version on the day the next
/// one ships keeps only the phones that update late (a fifth or more of its daily receipts gone). Its share of slow receipts can step up
/// because *who* is in it changed, not how fast pushes reach anyone, so that is not a shift.
fn loses_members(slow: &[Slow], day: usize) -> bool {
    let per_day = |range: std::ops::Range<usize>| {
        let days = range.len().max(1) as f64;
        slow[range].iter().map(|d| d.received).sum::<u64>() as f64 / days
    };
    if day == 0 || day >= slow.len() {
        return false;
    }
    let before = per_day(day.saturating_sub(STEP_DAYS)..day);
    let after = per_day(day..(day + STEP_DAYS).min(slow.len()));
    after < 0.8 * before
}

/// Whether the cohort's step is `min_risk_ratio` times the step of every other push over the
/// same days (a difference in differences): a day every phone got slower is the fleet's
/// change, not the cohort's.
fn outpaces_rest(
    aggregates: &Aggregates,
    cohort: &CohortAggregate,
    day: usize,
    options: &AnalysisOptions,
) -> bool {
    let Some(everyone) = aggregates.everyone() else {
        return true;
    };
    let share = |slow: &[Slow], range: std::ops::Range<usize>| {
        let (s, r) = slow[range]
            .iter()
            .fold((0u64, 0u64), |(s, r), d| (s + d.slow, r + d.received));
        rate(s, r)
    };
    let rest: Vec<Slow> = everyone
        .slow_daily
        .iter()
        .zip(&cohort.slow_daily)
        .map(|(e, c)| Slow {
            received: e.received.saturating_sub(c.received),
            slow: e.slow.saturating_sub(c.slow),
        })
        .collect();
    if day == 0 || day >= rest.len() {
        return false;
    }
    let (before, after) = (
        day.saturating_sub(STEP_DAYS)..day,
        day..(day + STEP_DAYS).min(rest.len()),
    );
    let step = |slow: &[Slow]| {
        let b = share(slow, before.clone());
        if b == 0.0 {
            f64::INFINITY
        } else {
            share(slow, after.clone()) / b
        }
    };
    let rest_step = step(&rest).max(1.0);
    step(&cohort.slow_daily) >= options.min_risk_ratio * rest_step
}

/// Days compared on each side of a step.
const STEP_DAYS: usize = 7;

/// Whether the share of slow receipts in the days right after `day` is at least
/// `min_risk_ratio` times the share right before, beyond chance.
fn steps_up(slow: &[Slow], day: usize, options: &AnalysisOptions) -> bool {
    let sum = |range: std::ops::Range<usize>| {
        slow[range]
            .iter()
            .fold((0u64, 0u64), |(s, r), d| (s + d.slow, r + d.received))
    };
    if day == 0 || day >= slow.len() {
        return false;
    }
    let (sb, rb) = sum(day.saturating_sub(STEP_DAYS)..day);
    let (sa, ra) = sum(day..(day + STEP_DAYS).min(slow.len()));
    if rb == 0 || ra == 0 {
        return false;
    }
    let (before, after) = (rate(sb, rb), rate(sa, ra));
    after >= options.min_risk_ratio * before
        && after > before
        && stats::two_by_two(sa, ra - sa, sb, rb - sb).p <= options.fdr
}

fn latency_shifts(
    aggregates: &Aggregates,
    onset_options: &OnsetOptions,
    options: &AnalysisOptions,
) -> (Vec<LatencyShift>, Option<f64>) {
    let day_label = |index: usize| date(aggregates.first_day + index as Day);
    let mut found: Vec<LatencyShift> = Vec::new();
    // Every value with receipts is in the BH family, shifted or not: testing only those that
    // passed the filters below would make the family (and its correction) too small.
    let mut untested = 0usize;
    for aggregate in aggregates.cohorts.iter().filter(|c| c.cohort.len() == 1) {
        if aggregate.slow_daily.iter().all(|d| d.received == 0) {
            continue;
        }
        untested += 1;
        let (slow, received) = slow_series(&aggregate.slow_daily);
        let Some(change) = raw_changes(&slow, &received, onset_options)
            .into_iter()
            .filter(|c| c.after.0 >= options.min_risk_ratio * c.before.0 && c.after.0 > c.before.0)
            .max_by(|a, b| (a.after.0 - a.before.0).total_cmp(&(b.after.0 - b.before.0)))
        else {
            continue;
        };
        let receipts_after: u64 = received[change.index..].iter().sum();
        let fleet_after: u64 = aggregates.everyone().map_or(0, |e| {
            e.slow_daily[change.index.min(e.slow_daily.len())..]
                .iter()
                .map(|s| s.received)
                .sum()
        });
        // The same support floor as differences: a cohort of a few phones is not a shift.
        if (receipts_after as f64) < 0.01 * fleet_after as f64 {
            continue;
        }
        // A shift is a step: the days right after it are slower than the days right before.
        // A cohort drifting slowly (an old app version whose remaining phones are the idle
        // ones) is not one.
        if !steps_up(&aggregate.slow_daily, change.index, options)
            || loses_members(&aggregate.slow_daily, change.index)
            || !outpaces_rest(aggregates, aggregate, change.index, options)
        {
            continue;
        }
        untested -= 1;
        found.push(LatencyShift {
            cohort: aggregate.cohort.clone(),
            since: day_label(change.index),
            slow_before: change.before.0,
            slow_after: change.after.0,
            interval_after: change.after.1,
            receipts_after,
            p: change.p,
            q: 1.0,
        });
    }
    let mut family: Vec<f64> = found.iter().map(|s| s.p).collect();
    family.extend(std::iter::repeat_n(1.0, untested));
    let q = stats::benjamini_hochberg(&family);
    let kept: Vec<LatencyShift> = found
        .into_iter()
        .zip(q)
        .filter_map(|(mut s, q)| {
            s.q = q;
            (q <= options.fdr).then_some(s)
        })
        .collect();
    // A value that holds a shifted value (region=BR holds carrier=Vivo) is explained by it
    // when its other pushes did not step up.
    let whole: Vec<(&CohortAggregate, Counts)> = aggregates
        .cohorts
        .iter()
        .filter(|c| c.cohort.len() <= 2)
        .map(|c| (c, c.total()))
        .collect();
    let implied = implications(&whole);
    let holds = |outer: &Cohort, inner: &Cohort| -> bool {
        let (Some((a, v)), Some((b, w))) = (outer.0.iter().next(), inner.0.iter().next()) else {
            return false;
        };
        implied
            .get(&(b.clone(), w.clone()))
            .is_some_and(|list| list.iter().any(|(x, y)| x == a && y == v))
    };
    let mut kept: Vec<LatencyShift> = kept
        .iter()
        .filter(|outer| {
            !kept.iter().any(|inner| {
                inner.since == outer.since
                    && holds(&outer.cohort, &inner.cohort)
                    && match (
                        aggregates.find(&outer.cohort),
                        aggregates.find(&inner.cohort),
                    ) {
                        (Some(o), Some(i)) => {
                            let rest: Vec<Slow> = o
                                .slow_daily
                                .iter()
                                .zip(&i.slow_daily)
                                .map(|(o, i)| Slow {
                                    received: o.received.saturating_sub(i.received),
                                    slow: o.slow.saturating_sub(i.slow),
                                })
                                .collect();
                            let day = (0..aggregates.days)
                                .find(|&d| date(aggregates.first_day + d as Day) == outer.since)
                                .unwrap_or(0);
                            !steps_up(&rest, day, options)
                        }
                        _ => false,
                    }
            })
        })
        .cloned()
        .collect();
    kept.sort_by(|a, b| {
        (b.slow_after / b.slow_before.max(1e-9))
            .total_cmp(&(a.slow_after / a.slow_before.max(1e-9)))
    });
    (
        kept,
        aggregates
            .slow_threshold_micros
            .map(|us| us as f64 / 1000.0),
    )
}
