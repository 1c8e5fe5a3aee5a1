//! The aggregates file: [`Aggregates`] as JSON lines a warehouse can write
//! (`docs/fleet.md`, "Aggregates file").
//!
//! Flat rows, so one `UNION ALL` query in any SQL engine produces the file:
//!
//! ```text
//! {"kind":"settings","on_time_within_s":60,"no_receipt_is_failure":false,"min_failures":1500,"slow_threshold_us":1870000}
//! {"kind":"day","day":"2026-03-02","cohort":{"os_version":"26.2"},"on_time":9120,"late":310,"no_receipt":201,"rejected":12,"not_sent":3,"received":9430,"slow":944}
//! {"kind":"latency","cohort":{"os_version":"26.2"},"bucket":612,"count":88}
//! {"kind":"devices","cohort":{"os_version":"26.2"},"devices":81234,"failing_devices":2210}
//! ```
//!
//! `received` and `slow` belong to every push and single values; latency rows too.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::aggregates::{Aggregates, CohortAggregate, Day, Slow};
use crate::cohort::Cohort;
use crate::counts::Counts;
use crate::outcome::OutcomeRules;
use crate::sketch::LatencySketch;

#[derive(Debug, thiserror::Error)]
pub enum AggregatesFileError {
    #[error("{file}:{line}: {message}")]
    Row {
        file: String,
        line: u64,
        message: String,
    },
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum Row {
    Settings {
        on_time_within_s: f64,
        no_receipt_is_failure: bool,
        min_failures: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slow_threshold_us: Option<u64>,
    },
    Day {
        day: String,
        cohort: Cohort,
        on_time: u64,
        late: u64,
        no_receipt: u64,
        rejected: u64,
        not_sent: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        received: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slow: Option<u64>,
    },
    Latency {
        cohort: Cohort,
        bucket: u16,
        count: u64,
    },
    Devices {
        cohort: Cohort,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        devices: Option<u64>,
        failing_devices: u64,
        #[serde(default)]
        busiest_device_failures: u64,
    },
}

/// Writes `aggregates` as JSON lines.
pub fn write(aggregates: &Aggregates, out: &mut impl Write) -> std::io::Result<()> {
    let mut line = |row: &Row| -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, row)?;
        out.write_all(b"\n")
    };
    line(&Row::Settings {
        on_time_within_s: aggregates.rules.on_time_within_micros as f64 / 1e6,
        no_receipt_is_failure: aggregates.rules.no_receipt_is_failure,
        min_failures: aggregates.min_failures,
        slow_threshold_us: aggregates.slow_threshold_micros,
    })?;
    for c in &aggregates.cohorts {
        for (i, counts) in c.daily.iter().enumerate() {
            if counts.attempts() == 0 {
                continue;
            }
            let slow = c.slow_daily.get(i);
            line(&Row::Day {
                day: crate::analyze::date(aggregates.first_day + i as Day),
                cohort: c.cohort.clone(),
                on_time: counts.on_time,
                late: counts.late,
                no_receipt: counts.no_receipt,
                rejected: counts.rejected,
                not_sent: counts.not_sent,
                received: slow.map(|s| s.received),
                slow: slow.map(|s| s.slow),
            })?;
        }
        if let Some(sketch) = &c.latency {
            for (bucket, count) in sketch.buckets() {
                line(&Row::Latency {
                    cohort: c.cohort.clone(),
                    bucket,
                    count,
                })?;
            }
        }
        line(&Row::Devices {
            cohort: c.cohort.clone(),
            devices: c.devices,
            failing_devices: c.failing_devices,
            busiest_device_failures: c.busiest_device_failures,
        })?;
    }
    Ok(())
}

#[derive(Default)]
struct Partial {
    days: BTreeMap<Day, (Counts, Option<Slow>)>,
    latency: Option<LatencySketch>,
    devices: Option<u64>,
    failing_devices: u64,
    busiest_device_failures: u64,
}

/// Reads an aggregates file.
pub fn read(file: &str, input: impl BufRead) -> Result<Aggregates, AggregatesFileError> {
    let mut settings = None;
    let mut cohorts: BTreeMap<Cohort, Partial> = BTreeMap::new();
    for (index, line) in input.lines().enumerate() {
        let line_no = index as u64 + 1;
        let text = line.map_err(|source| AggregatesFileError::Io {
            file: file.to_string(),
            source,
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let bad = |message: String| AggregatesFileError::Row {
            file: file.to_string(),
            line: line_no,
            message,
        };
        let row: Row = serde_json::from_str(&text).map_err(|e| {
            bad(format!(
                "{e}; expected a row of kind settings, day, latency or devices (docs/fleet.md, \"Aggregates file\")"
            ))
        })?;
        match row {
            Row::Settings {
                on_time_within_s,
                no_receipt_is_failure,
                min_failures,
                slow_threshold_us,
            } => {
                if settings.is_some() {
                    return Err(bad(
                        "a second settings row: the file must hold one fleet".into()
                    ));
                }
                if !(on_time_within_s.is_finite() && on_time_within_s >= 0.0) {
                    return Err(bad(format!(
                        "on_time_within_s is {on_time_within_s}: expected seconds ≥ 0"
                    )));
                }
                settings = Some((
                    OutcomeRules {
                        on_time_within_micros: (on_time_within_s * 1e6).round() as i64,
                        no_receipt_is_failure,
                    },
                    min_failures,
                    slow_threshold_us,
                ));
            }
            Row::Day {
                day,
                cohort,
                on_time,
                late,
                no_receipt,
                rejected,
                not_sent,
                received,
                slow,
            } => {
                let d = parse_day(&day).map_err(bad)?;
                let counts = Counts {
                    on_time,
                    late,
                    no_receipt,
                    rejected,
                    not_sent,
                };
                let slow = match (received, slow) {
                    (Some(received), Some(slow)) if slow <= received => {
                        Some(Slow { received, slow })
                    }
                    (None, None) => None,
                    _ => {
                        return Err(bad(
                            "received and slow go together, with slow ≤ received".into()
                        ));
                    }
                };
                let partial = cohorts.entry(cohort).or_default();
                if partial.days.insert(d, (counts, slow)).is_some() {
                    return Err(bad(format!("a second row for day {day} of this cohort")));
                }
            }
            Row::Latency {
                cohort,
                bucket,
                count,
            } => {
                cohorts
                    .entry(cohort)
                    .or_default()
                    .latency
                    .get_or_insert_with(LatencySketch::new)
                    .add_bucket(bucket, count)
                    .map_err(|e| bad(e.to_string()))?;
            }
            Row::Devices {
                cohort,
                devices,
                failing_devices,
                busiest_device_failures,
            } => {
                let partial = cohorts.entry(cohort).or_default();
                partial.devices = devices;
                partial.failing_devices = failing_devices;
                partial.busiest_device_failures = busiest_device_failures;
            }
        }
    }
    let Some((rules, min_failures, slow_threshold_micros)) = settings else {
        return Err(AggregatesFileError::File {
            file: file.to_string(),
            message: "no settings row: an aggregates file starts with \
                      {\"kind\":\"settings\",…} (docs/fleet.md, \"Aggregates file\")"
                .into(),
        });
    };
    let first = cohorts
        .values()
        .flat_map(|p| p.days.keys())
        .min()
        .copied()
        .unwrap_or(0);
    let last = cohorts
        .values()
        .flat_map(|p| p.days.keys())
        .max()
        .copied()
        .unwrap_or(first - 1);
    let days = usize::try_from(last - first + 1).unwrap_or(0);
    let mut out: Vec<CohortAggregate> = cohorts
        .into_iter()
        .map(|(cohort, partial)| {
            let single_or_all = cohort.len() <= 1;
            let mut daily = vec![Counts::default(); days];
            let mut slow_daily = if single_or_all {
                vec![Slow::default(); days]
            } else {
                Vec::new()
            };
            for (d, (counts, slow)) in partial.days {
                let i = (d - first) as usize;
                daily[i] = counts;
                if let (Some(slot), Some(slow)) = (slow_daily.get_mut(i), slow) {
                    *slot = slow;
                }
            }
            CohortAggregate {
                cohort,
                daily,
                slow_daily,
                latency: if single_or_all {
                    Some(partial.latency.unwrap_or_default())
                } else {
                    partial.latency
                },
                devices: partial.devices,
                failing_devices: partial.failing_devices,
                busiest_device_failures: partial.busiest_device_failures,
            }
        })
        .collect();
    out.retain(|c| !c.daily.is_empty() || c.cohort.is_empty());
    let mut aggregates = Aggregates {
        rules,
        first_day: first,
        days,
        min_failures,
        slow_threshold_micros,
        cohorts: out,
    };
    aggregates.sort();
    Ok(aggregates)
}

/// `YYYY-MM-DD` as days since 1970-01-01.
pub fn parse_day(text: &str) -> Result<Day, String> {
    let (y, m, d) = pushtrace_model::parse_date(text)
        .map_err(|e| format!("day {text:?} is not a date written YYYY-MM-DD: {e}"))?;
    let t = pushtrace_model::CivilDateTime::new((y, m, d), (0, 0, 0, 0))
        .at_offset(pushtrace_model::UtcOffset::UTC)
        .map_err(|e| format!("day {text:?}: {e}"))?;
    Ok(t.utc_micros().div_euclid(86_400_000_000) as Day)
}
