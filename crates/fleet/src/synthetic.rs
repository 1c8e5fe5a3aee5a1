//! A realistic synthetic fleet of push records with planted effects, for benchmarks and tests.
//!
//! The fleet is a VoIP calling app's: about a million iPhones in 15 countries, each with a
//! stable 64-hex token, a model, a country and a carrier that never change, and an iOS
//! version and app version that change as releases roll out. Calls arrive on a diurnal curve
//! in each callee's local time, heavy-tailed across devices (most phones ring a few times in
//! 90 days, a few ring hundreds of times); each call is one push and, when no receipt comes
//! back within seconds, up to two retries. What happened to each push (APNs's answer, the
//! receipt, on time or late, the latency) is drawn at realistic rates, and *effects* change
//! it for chosen cohorts: a regression from a day, a cohort bad all along, a latency shift, a
//! version that rolls out. The shares and where they come from are in [`tables`].
//!
//! The effects are the truth an analysis should find: [`FleetSpec::planted`] plants a
//! three-attribute regression confounded with a rollout, a small always-bad cohort and a
//! latency shift; [`FleetSpec::null`] plants nothing (but the organic rollouts, app releases,
//! unregistered tokens and the couple of noisy phones are there in both, as in a real fleet).
//!
//! Generation streams: only the devices (about 30 bytes each) and one day of compact push
//! plans are held, never the records. A seed gives the same records byte for byte. Records
//! come out in `sent_at` order within a day; days follow each other (a retry may come a few
//! seconds after the next call's push, as in a real export).

mod rng;
pub mod tables;
#[cfg(test)]
mod tests;

use std::io::{self, Write};

use pushtrace_model::PushRecord;
use pushtrace_model::{CivilDateTime, Timestamp, UtcOffset};

use rng::{Categorical, Rng, mix};
use tables::{REGIONS, rates};

/// The attributes every record carries in `attrs` (`radio` only on cellular), and the only
/// ones an effect's cohort may name.
pub const ATTRIBUTES: [&str; 7] = [
    "model",
    "region",
    "carrier",
    "os_version",
    "app_version",
    "interface",
    "radio",
];

/// The app's bundle id: topics are `<bundle>.voip`.
pub const BUNDLE_ID: &str = "com.example.calls";

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct FleetSpec {
    pub seed: u64,
    pub devices: u32,
    pub pushes: u64,
    pub days: u32,
    /// Day 0 (UTC), as `(year, month, day)`.
    pub start: (i32, u8, u8),
    /// The planted truth. Rollouts of one attribute combine: a device keeps the highest version it has taken.
    pub effects: Vec<Effect>,
}

/// A change to what happens to a cohort's pushes. A cohort is a list of `(attribute, value)`
/// pairs of [`ATTRIBUTES`]; a push is in it when it matches every pair.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// From `from_day` on, a share `failure_rate` of the cohort's pushes that would have been
    /// on time fail instead (received late, or never): the cohort's failure share becomes
    /// `failure_rate + (1 − failure_rate) × base`.
    Regression {
        cohort: Vec<(String, String)>,
        from_day: u32,
        failure_rate: f64,
    },
    /// A regression from day 0.
    AlwaysBad {
        cohort: Vec<(String, String)>,
        failure_rate: f64,
    },
    /// From `from_day` on, the cohort's delivery latency is multiplied by `factor` (a push
    /// pushed past its deadline becomes late).
    LatencyShift {
        cohort: Vec<(String, String)>,
        from_day: u32,
        factor: f64,
    },
    /// `value` of `attr` (`os_version` or `app_version`) starts appearing on `from_day` and is
    /// on a share `share` of the devices that can take it after `ramp_days` (for an iOS
    /// version: the devices on the same major; for an app version: all). Devices that update
    /// iOS early take every release early; a device keeps the highest version it has taken.
    Rollout {
        attr: String,
        value: String,
        from_day: u32,
        ramp_days: u32,
        share: f64,
    },
}

impl Effect {
    /// The cohort the effect applies to (a rollout's is the attribute and value it brings).
    pub fn cohort(&self) -> Vec<(String, String)> {
        match self {
            Effect::Regression { cohort, .. }
            | Effect::AlwaysBad { cohort, .. }
            | Effect::LatencyShift { cohort, .. } => cohort.clone(),
            Effect::Rollout { attr, value, .. } => vec![(attr.clone(), value.clone())],
        }
    }
}

/// Why a spec cannot be generated.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpecError {
    #[error("fleet spec: {what} must be at least 1 (got 0)")]
    Empty { what: &'static str },
    #[error(
        "fleet spec: start date {year:04}-{month:02}-{day:02} is not a calendar date: give a real YYYY-MM-DD"
    )]
    Start { year: i32, month: u8, day: u8 },
    #[error(
        "fleet spec: effect {index}: attribute `{attr}` is not one the records carry; use one of {known}"
    )]
    Attribute {
        index: usize,
        attr: String,
        known: String,
    },
    #[error(
        "fleet spec: effect {index}: a rollout can only bring `os_version` or `app_version`, not `{attr}`"
    )]
    RolloutAttribute { index: usize, attr: String },
    #[error("fleet spec: effect {index}: {what} = {value} is outside {range}")]
    Range {
        index: usize,
        what: &'static str,
        value: f64,
        range: &'static str,
    },
    #[error(
        "fleet spec: effect {index}: the cohort is empty; name at least one (attribute, value)"
    )]
    EmptyCohort { index: usize },
}

impl Default for FleetSpec {
    /// The benchmark's size: 1 M devices, 10 M pushes, 90 days from 2026-03-01, no effect.
    fn default() -> FleetSpec {
        FleetSpec {
            seed: 1,
            devices: 1_000_000,
            pushes: 10_000_000,
            days: 90,
            start: (2026, 3, 1),
            effects: Vec::new(),
        }
    }
}

fn cohort(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, v)| (a.to_string(), v.to_string()))
        .collect()
}

impl FleetSpec {
    /// The benchmark's fleet with the planted truth: iOS 26.4.1 rolls out from day 57 and
    /// T-Mobile cellular pushes on it fail from day 60 (time and version confounded), iPhone
    /// 12 on Jio is bad all along, and Vivo's latency triples from day 45.
    pub fn planted() -> FleetSpec {
        FleetSpec {
            effects: vec![
                Effect::Rollout {
                    attr: "os_version".into(),
                    value: "26.4.1".into(),
                    from_day: 57,
                    ramp_days: 10,
                    share: 0.4,
                },
                Effect::Regression {
                    cohort: cohort(&[
                        ("os_version", "26.4.1"),
                        ("carrier", "T-Mobile"),
                        ("interface", "cellular"),
                    ]),
                    from_day: 60,
                    failure_rate: 0.4,
                },
                Effect::AlwaysBad {
                    cohort: cohort(&[("model", "iPhone 12"), ("carrier", "Jio")]),
                    failure_rate: 0.3,
                },
                Effect::LatencyShift {
                    cohort: cohort(&[("carrier", "Vivo")]),
                    from_day: 45,
                    factor: 3.0,
                },
            ],
            ..FleetSpec::default()
        }
    }

    /// The benchmark's fleet without any planted effect.
    pub fn null(seed: u64) -> FleetSpec {
        FleetSpec {
            seed,
            ..FleetSpec::default()
        }
    }

    pub fn with_seed(self, seed: u64) -> FleetSpec {
        FleetSpec { seed, ..self }
    }

    pub fn with_size(self, devices: u32, pushes: u64, days: u32) -> FleetSpec {
        FleetSpec {
            devices,
            pushes,
            days,
            ..self
        }
    }

    pub fn with_effect(mut self, effect: Effect) -> FleetSpec {
        self.effects.push(effect);
        self
    }

    /// Midnight UTC of `day`.
    pub fn day_start(&self, day: u32) -> Result<Timestamp, SpecError> {
        let (year, month, d) = self.start;
        let midnight = CivilDateTime::new(self.start, (0, 0, 0, 0))
            .at_offset(UtcOffset::UTC)
            .map_err(|_| SpecError::Start {
                year,
                month,
                day: d,
            })?;
        Ok(Timestamp::from_utc_micros(
            midnight.utc_micros() + day as i64 * MICROS_PER_DAY,
        ))
    }

    /// Checks sizes, the start date and every effect.
    pub fn validate(&self) -> Result<(), SpecError> {
        for (what, n) in [
            ("devices", self.devices as u64),
            ("pushes", self.pushes),
            ("days", self.days as u64),
        ] {
            if n == 0 {
                return Err(SpecError::Empty { what });
            }
        }
        self.day_start(0)?;
        let known = || ATTRIBUTES.join(", ");
        let check_cohort = |index: usize, cohort: &[(String, String)]| {
            if cohort.is_empty() {
                return Err(SpecError::EmptyCohort { index });
            }
            for (attr, _) in cohort {
                if !ATTRIBUTES.contains(&attr.as_str()) {
                    return Err(SpecError::Attribute {
                        index,
                        attr: attr.clone(),
                        known: known(),
                    });
                }
            }
            Ok(())
        };
        let rate = |index: usize, what: &'static str, value: f64| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(SpecError::Range {
                    index,
                    what,
                    value,
                    range: "[0, 1]",
                })
            }
        };
        for (index, effect) in self.effects.iter().enumerate() {
            match effect {
                Effect::Regression {
                    cohort,
                    failure_rate,
                    ..
                }
                | Effect::AlwaysBad {
                    cohort,
                    failure_rate,
                } => {
                    check_cohort(index, cohort)?;
                    rate(index, "failure_rate", *failure_rate)?;
                }
                Effect::LatencyShift { cohort, factor, .. } => {
                    check_cohort(index, cohort)?;
                    if !(factor.is_finite() && *factor > 0.0) {
                        return Err(SpecError::Range {
                            index,
                            what: "factor",
                            value: *factor,
                            range: "(0, ∞)",
                        });
                    }
                }
                Effect::Rollout { attr, share, .. } => {
                    if attr != "os_version" && attr != "app_version" {
                        return Err(SpecError::RolloutAttribute {
                            index,
                            attr: attr.clone(),
                        });
                    }
                    rate(index, "share", *share)?;
                }
            }
        }
        Ok(())
    }
}

/// The fleet's records, one day at a time.
pub fn generate(spec: &FleetSpec) -> Result<Fleet, SpecError> {
    Fleet::new(spec)
}

/// Writes the fleet as JSONL (one [`PushRecord`] per line) and returns the number of records.
/// An invalid spec is an `InvalidInput` error.
pub fn write_jsonl(spec: &FleetSpec, writer: impl Write) -> io::Result<u64> {
    let fleet =
        generate(spec).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let mut out = io::BufWriter::with_capacity(1 << 20, writer);
    let mut count = 0u64;
    for record in fleet {
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"\n")?;
        count += 1;
    }
    out.flush()?;
    Ok(count)
}

/// A device's fixed attributes and update habits (kept compact: a million of them are held).
struct Device {
    model: u8,
    region: u8,
    carrier: u8,
    /// Index in `Fleet::os_values` of the version on day 0.
    os_base: u8,
    bad_token: bool,
    noisy: bool,
    /// How early this device takes iOS updates (0 = first).
    eagerness: f32,
    /// Days after an app release this device updates.
    app_lag: f32,
    /// Added to the hour's wifi probability.
    wifi_bias: f32,
    /// Day (fraction) the app was deleted: 410 from then on; `f32::INFINITY` if never.
    unregistered_at: f32,
}

/// One effect with its cohort resolved to attribute indices.
struct Resolved {
    kind: Kind,
    cohort: Vec<(usize, String)>,
    from_day: u32,
}

enum Kind {
    Fail(f64),
    Latency(f64),
}

/// A rollout of an os or app version: the value's index, where and how fast.
struct Release {
    value: u8,
    /// For iOS: the major of the devices that can take it (None: any device).
    major: Option<u32>,
    from_day: f64,
    ramp_days: f64,
    share: f64,
}

const INTERFACE: [&str; 2] = ["wifi", "cellular"];
const RADIO: [&str; 4] = ["5G SA", "5G NSA", "LTE", "HSPA"];
const NO_RADIO: u8 = u8::MAX;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    NotSent,
    Ok,
    Unregistered,
    BadDeviceToken,
    ServiceUnavailable,
    InternalServerError,
}

/// One push as planned for a day, before its strings are made.
struct Planned {
    sent_us: i64,
    /// Absolute receipt time; `i64::MIN` when none.
    received_us: i64,
    rtt_us: u32,
    queue_us: u32,
    device: u32,
    call: u32,
    /// The call's ring window's end (retries share it).
    deadline_us: i64,
    attempt: u8,
    status: Status,
    interface: u8,
    radio: u8,
    os: u8,
    app: u8,
}

/// The stream of a fleet's records: an [`Iterator`] of [`PushRecord`].
pub struct Fleet {
    seed: u64,
    days: u32,
    start_us: i64,
    devices: Vec<Device>,
    /// Running sums of the devices' activity, for drawing a call's callee.
    activity: Vec<f64>,
    carriers: Vec<Vec<&'static str>>,
    os_values: Vec<String>,
    /// Whether a version is iOS 26.4 or later (PushKit reports `mustReport`).
    os_must_report: Vec<bool>,
    os_releases: Vec<Release>,
    app_values: Vec<String>,
    /// Day each app release in `app_values` (by index) was published.
    app_days: Vec<f64>,
    app_rollouts: Vec<Release>,
    effects: Vec<Resolved>,
    /// Per region: the 48 half-hour UTC slots weighted by local call volume.
    slots: Vec<Categorical>,
    quotas: Vec<u64>,
    day: u32,
    plan: Vec<Planned>,
    next: usize,
}

fn major_of(version: &str) -> Option<u32> {
    version.split('.').next()?.parse().ok()
}

fn version_key(version: &str) -> Vec<u32> {
    version
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0))
        .collect()
}

fn version_at_least(version: &str, floor: (u32, u32)) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= floor
}

fn intern(values: &mut Vec<String>, value: &str) -> u8 {
    match values.iter().position(|v| v == value) {
        Some(i) => i as u8,
        None => {
            values.push(value.to_string());
            (values.len() - 1) as u8
        }
    }
}

impl Fleet {
    fn new(spec: &FleetSpec) -> Result<Fleet, SpecError> {
        spec.validate()?;
        let start_us = spec.day_start(0)?.utc_micros();

        let mut os_values: Vec<String> = tables::OS_VERSIONS
            .iter()
            .map(|(v, _)| v.to_string())
            .collect();
        let capped: Vec<(u8, u8)> = tables::OS_CAPPED
            .iter()
            .map(|(major, v)| (*major, intern(&mut os_values, v)))
            .collect();
        let mut os_releases = Vec::new();
        let mut app_rollouts = Vec::new();
        for (value, from, ramp, share) in tables::OS_RELEASES {
            os_releases.push(Release {
                value: intern(&mut os_values, value),
                major: major_of(value),
                from_day: *from as f64,
                ramp_days: *ramp as f64,
                share: *share,
            });
        }
        let app_count =
            tables::APP_RELEASES_BEFORE + spec.days / tables::APP_RELEASE_EVERY_DAYS + 1;
        let mut app_values: Vec<String> = (0..app_count)
            .map(|i| format!("7.{}.0", tables::APP_FIRST_MINOR + i))
            .collect();
        let app_days: Vec<f64> = (0..app_count)
            .map(|i| {
                (i as f64 - tables::APP_RELEASES_BEFORE as f64)
                    * tables::APP_RELEASE_EVERY_DAYS as f64
            })
            .collect();
        let mut effects = Vec::new();
        for effect in &spec.effects {
            let resolve = |cohort: &[(String, String)]| {
                cohort
                    .iter()
                    .map(|(a, v)| {
                        let index = ATTRIBUTES.iter().position(|k| k == a).unwrap_or(0);
                        (index, v.clone())
                    })
                    .collect::<Vec<_>>()
            };
            match effect {
                Effect::Regression {
                    cohort,
                    from_day,
                    failure_rate,
                } => effects.push(Resolved {
                    kind: Kind::Fail(*failure_rate),
                    cohort: resolve(cohort),
                    from_day: *from_day,
                }),
                Effect::AlwaysBad {
                    cohort,
                    failure_rate,
                } => effects.push(Resolved {
                    kind: Kind::Fail(*failure_rate),
                    cohort: resolve(cohort),
                    from_day: 0,
                }),
                Effect::LatencyShift {
                    cohort,
                    from_day,
                    factor,
                } => effects.push(Resolved {
                    kind: Kind::Latency(*factor),
                    cohort: resolve(cohort),
                    from_day: *from_day,
                }),
                Effect::Rollout {
                    attr,
                    value,
                    from_day,
                    ramp_days,
                    share,
                } => {
                    let os = attr == "os_version";
                    let values = if os { &mut os_values } else { &mut app_values };
                    let release = Release {
                        value: intern(values, value),
                        major: if os { major_of(value) } else { None },
                        from_day: *from_day as f64,
                        ramp_days: *ramp_days as f64,
                        share: *share,
                    };
                    if os {
                        os_releases.push(release);
                    } else {
                        app_rollouts.push(release);
                    }
                }
            }
        }
        // The highest version a device has taken wins: nobody downgrades.
        os_releases.sort_by_key(|r| version_key(&os_values[r.value as usize]));
        app_rollouts.sort_by_key(|r| version_key(&app_values[r.value as usize]));
        let os_must_report = os_values
            .iter()
            .map(|v| version_at_least(v, (26, 4)))
            .collect();

        let mut rng = Rng::new(mix(&[spec.seed, 0xDE71CE]));
        let region_pick = Categorical::new(REGIONS.iter().map(|r| r.weight));
        let model_pick = Categorical::new(tables::MODELS.iter().map(|m| m.weight));
        let os_pick = Categorical::new(tables::OS_VERSIONS.iter().map(|(_, w)| *w));
        let carrier_picks: Vec<Categorical> = REGIONS
            .iter()
            .map(|r| Categorical::new(r.carriers.iter().map(|(_, w)| *w)))
            .collect();
        let mut devices = Vec::with_capacity(spec.devices as usize);
        let mut activity = Vec::with_capacity(spec.devices as usize);
        let mut total = 0.0;
        for _ in 0..spec.devices {
            let region = region_pick.sample(&mut rng);
            let model = model_pick.sample(&mut rng);
            let max_major = tables::MODELS[model].max_major;
            let os_base = match capped.iter().find(|(m, _)| *m == max_major) {
                Some((_, v)) => *v,
                None => os_pick.sample(&mut rng) as u8,
            };
            let app_lag = if rng.chance(tables::APP_AUTO_UPDATE_SHARE) {
                rng.exponential(tables::APP_AUTO_UPDATE_MEAN_DAYS)
            } else {
                rng.exponential(tables::APP_MANUAL_UPDATE_MEAN_DAYS)
            };
            let unregistered_at = if rng.chance(rates::UNREGISTERED_DEVICES) {
                (rng.f64() * (spec.days as f64 + rates::UNREGISTERED_BEFORE_DAYS)
                    - rates::UNREGISTERED_BEFORE_DAYS) as f32
            } else {
                f32::INFINITY
            };
            devices.push(Device {
                model: model as u8,
                region: region as u8,
                carrier: carrier_picks[region].sample(&mut rng) as u8,
                os_base,
                bad_token: rng.chance(rates::BAD_TOKEN_DEVICES),
                noisy: false,
                eagerness: rng.f64() as f32,
                app_lag: app_lag as f32,
                wifi_bias: (REGIONS[region].wifi_bias + 0.12 * rng.normal()) as f32,
                unregistered_at,
            });
            // Pareto activity: most phones ring rarely, a few ring all day.
            let weight = (1.0 - rng.f64())
                .powf(-1.0 / rates::ACTIVITY_ALPHA)
                .min(rates::ACTIVITY_CAP);
            total += weight;
            activity.push(total);
        }
        // A couple of noisy phones: busy ones, so that their failures weigh.
        for _ in 0..rates::NOISY_DEVICES.min(devices.len()) {
            let i = rng.below(devices.len() as u64) as usize;
            devices[i].noisy = true;
            devices[i].bad_token = false;
            devices[i].unregistered_at = f32::INFINITY;
            let boost = rates::ACTIVITY_CAP * 0.3;
            for sum in &mut activity[i..] {
                *sum += boost;
            }
        }

        let slots = REGIONS
            .iter()
            .map(|r| {
                Categorical::new((0..48i32).map(|slot| {
                    let local = (slot * 30 + r.utc_offset_minutes).rem_euclid(1440);
                    tables::DIURNAL[(local / 60) as usize]
                }))
            })
            .collect();

        // Pushes per day: weekday and a slow growth, summing exactly to `pushes`.
        let start_days = start_us.div_euclid(MICROS_PER_DAY);
        let weights: Vec<f64> = (0..spec.days)
            .map(|d| {
                let weekday = (start_days + d as i64 + 3).rem_euclid(7) as usize;
                tables::WEEKDAY[weekday] * (1.0 + 0.1 * d as f64 / spec.days as f64)
            })
            .collect();
        let sum: f64 = weights.iter().sum();
        let mut running = 0.0;
        let mut given = 0u64;
        let quotas = weights
            .iter()
            .map(|w| {
                running += w;
                let upto = (spec.pushes as f64 * running / sum).round() as u64;
                let upto = upto.min(spec.pushes);
                let q = upto - given;
                given = upto;
                q
            })
            .collect();

        Ok(Fleet {
            seed: spec.seed,
            days: spec.days,
            start_us,
            devices,
            activity,
            carriers: REGIONS
                .iter()
                .map(|r| r.carriers.iter().map(|(c, _)| *c).collect())
                .collect(),
            os_values,
            os_must_report,
            os_releases,
            app_values,
            app_days,
            app_rollouts,
            effects,
            slots,
            quotas,
            day: 0,
            plan: Vec::new(),
            next: 0,
        })
    }

    /// The device's iOS version `t` days after day 0.
    fn os_at(&self, device: &Device, t: f64) -> u8 {
        let base = &self.os_values[device.os_base as usize];
        let base_major = major_of(base);
        let mut os = device.os_base;
        for release in &self.os_releases {
            if release.major.is_some() && release.major != base_major {
                continue;
            }
            if adopted(release, device.eagerness as f64, t) {
                os = release.value;
            }
        }
        os
    }

    /// The device's app version `t` days after day 0.
    fn app_at(&self, device: &Device, t: f64) -> u8 {
        let lag = device.app_lag as f64;
        let mut app = 0u8;
        for (i, day) in self.app_days.iter().enumerate() {
            if day + lag <= t {
                app = i as u8;
            }
        }
        // A planted app rollout: the device's place in it is the rank of its update lag (the
        // lag's distribution function, uniform over devices), so slow updaters come late.
        let place = tables::APP_AUTO_UPDATE_SHARE
            * (1.0 - (-lag / tables::APP_AUTO_UPDATE_MEAN_DAYS).exp())
            + (1.0 - tables::APP_AUTO_UPDATE_SHARE)
                * (1.0 - (-lag / tables::APP_MANUAL_UPDATE_MEAN_DAYS).exp());
        for release in &self.app_rollouts {
            if adopted(release, place, t) {
                app = release.value;
            }
        }
        app
    }

    fn pick_device(&self, rng: &mut Rng) -> usize {
        let total = self.activity.last().copied().unwrap_or(0.0);
        let x = rng.f64() * total;
        self.activity
            .partition_point(|&c| c <= x)
            .min(self.activity.len() - 1)
    }

    /// Plans every push of `day`, in `sent_at` order.
    fn plan_day(&mut self, day: u32) {
        let quota = self.quotas[day as usize] as usize;
        let mut rng = Rng::new(mix(&[self.seed, 0xDA7, day as u64]));
        let mut plan = Vec::with_capacity(quota);
        let day_us = self.start_us + day as i64 * MICROS_PER_DAY;
        let mut call = 0u32;
        while plan.len() < quota {
            let index = self.pick_device(&mut rng);
            let device = &self.devices[index];
            let region = &REGIONS[device.region as usize];
            let slot = self.slots[device.region as usize].sample(&mut rng) as i64;
            let t0 = day_us + slot * 1_800_000_000 + rng.below(1_800_000_000) as i64;
            let t_days = (t0 - self.start_us) as f64 / MICROS_PER_DAY as f64;
            let local_hour =
                ((slot * 30 + region.utc_offset_minutes as i64).rem_euclid(1440) / 60) as usize;
            let wifi_p = tables::WIFI_BY_HOUR[local_hour] + device.wifi_bias as f64;
            let cellular = !rng.chance(wifi_p);
            let radio = if !cellular {
                NO_RADIO
            } else if rng.chance(region.five_g) {
                if rng.chance(region.five_g_standalone) {
                    0
                } else {
                    1
                }
            } else if rng.chance(0.97) {
                2
            } else {
                3
            };
            let os = self.os_at(device, t_days);
            let app = self.app_at(device, t_days);
            let deadline_s = 30 + rng.below(31) as u8;
            let attrs: [&str; 7] = [
                tables::MODELS[device.model as usize].name,
                region.code,
                self.carriers[device.region as usize][device.carrier as usize],
                &self.os_values[os as usize],
                &self.app_values[app as usize],
                INTERFACE[cellular as usize],
                if radio == NO_RADIO {
                    ""
                } else {
                    RADIO[radio as usize]
                },
            ];
            let mut fail_rates = Vec::new();
            let mut latency_factor = 1.0;
            for effect in &self.effects {
                if day < effect.from_day || !effect.cohort.iter().all(|(a, v)| attrs[*a] == v) {
                    continue;
                }
                match effect.kind {
                    Kind::Fail(rate) => fail_rates.push(rate),
                    Kind::Latency(factor) => latency_factor *= factor,
                }
            }
            if device.noisy {
                fail_rates.push(rates::NOISY_FAILURE);
            }
            let mut sent = t0;
            for attempt in 0..3u8 {
                if plan.len() >= quota {
                    break;
                }
                let deadline_us = t0 + deadline_s as i64 * 1_000_000;
                let (status, received_us) = outcome(
                    &mut rng,
                    device,
                    sent,
                    deadline_us,
                    self.start_us,
                    radio,
                    latency_factor,
                    &fail_rates,
                );
                plan.push(Planned {
                    sent_us: sent,
                    received_us,
                    rtt_us: rng.log_normal(45_000.0, 0.5).min(30e6) as u32,
                    queue_us: rng.log_normal(4_000.0, 0.8).min(5e6) as u32,
                    device: index as u32,
                    call,
                    attempt,
                    deadline_us,
                    status,
                    interface: cellular as u8,
                    radio,
                    os,
                    app,
                });
                let permanent = matches!(status, Status::Unregistered | Status::BadDeviceToken);
                let timely = received_us != i64::MIN && received_us <= sent + 5_000_000;
                if permanent || timely || !rng.chance(rates::RETRY_PROBABILITY) {
                    break;
                }
                sent += 5_000_000 + rng.below(3_000_000) as i64;
                if sent >= deadline_us {
                    break;
                }
            }
            call += 1;
        }
        plan.sort_by_key(|p| p.sent_us);
        self.plan = plan;
        self.next = 0;
    }

    fn record(&self, day: u32, p: &Planned) -> PushRecord {
        let device = &self.devices[p.device as usize];
        let region = &REGIONS[device.region as usize];
        let local =
            UtcOffset::from_seconds(region.utc_offset_minutes * 60).unwrap_or(UtcOffset::UTC);
        let call_id = format!(
            "call-{:016x}",
            mix(&[self.seed, 0xCA11, day as u64, p.call as u64])
        );
        let mut record = PushRecord::new(Timestamp::from_utc_micros(p.sent_us));
        record.push_id = Some(format!("{call_id}.{}", p.attempt));
        record.device = Some(token(self.seed, p.device));
        record.call_id = Some(call_id);
        record.topic = Some(format!("{BUNDLE_ID}.voip"));
        record.push_type = Some("voip".into());
        record.priority = Some(10);
        record.expiration = Some(0);
        record.queued_at = Some(Timestamp::from_utc_micros(p.sent_us - p.queue_us as i64));
        record.apns_id = Some(uuid(mix(&[
            self.seed,
            0xA9D5,
            day as u64,
            p.call as u64,
            p.attempt as u64,
        ])));
        record.deadline = Some(Timestamp::from_utc_micros(p.deadline_us));
        let answered = |status: u16, reason: Option<&str>, record: &mut PushRecord| {
            record.apns_status = Some(status);
            record.apns_reason = reason.map(str::to_string);
            record.responded_at = Some(Timestamp::from_utc_micros(p.sent_us + p.rtt_us as i64));
        };
        match p.status {
            Status::NotSent => {}
            Status::Ok => answered(200, None, &mut record),
            Status::Unregistered => {
                answered(410, Some("Unregistered"), &mut record);
                let at =
                    self.start_us + (device.unregistered_at as f64 * MICROS_PER_DAY as f64) as i64;
                // APNs's timestamp is in milliseconds.
                record.apns_timestamp = Some(Timestamp::from_utc_micros(at - at % 1000));
            }
            Status::BadDeviceToken => answered(400, Some("BadDeviceToken"), &mut record),
            Status::ServiceUnavailable => answered(503, Some("ServiceUnavailable"), &mut record),
            Status::InternalServerError => answered(500, Some("InternalServerError"), &mut record),
        }
        if p.received_us != i64::MIN {
            let on_time = p.received_us <= p.deadline_us;
            record.received_at = Some(Timestamp::new(p.received_us, local));
            let must_report = self.os_must_report[p.os as usize];
            if must_report {
                record.must_report = Some(on_time);
            }
            if on_time || !must_report {
                let report = p.received_us + 20_000 + (p.sent_us.rem_euclid(130)) * 1000;
                record.reported_at = Some(Timestamp::new(report, local));
            }
        }
        let attrs = &mut record.attrs;
        attrs.insert(
            "model".into(),
            tables::MODELS[device.model as usize].name.into(),
        );
        attrs.insert("region".into(), region.code.into());
        attrs.insert(
            "carrier".into(),
            self.carriers[device.region as usize][device.carrier as usize].into(),
        );
        attrs.insert("os_version".into(), self.os_values[p.os as usize].clone());
        attrs.insert(
            "app_version".into(),
            self.app_values[p.app as usize].clone(),
        );
        attrs.insert("interface".into(), INTERFACE[p.interface as usize].into());
        if p.radio != NO_RADIO {
            attrs.insert("radio".into(), RADIO[p.radio as usize].into());
        }
        record
    }
}

/// Whether a device at `place` (0 = first) in a rollout has taken it `t` days after day 0.
fn adopted(release: &Release, place: f64, t: f64) -> bool {
    if release.share <= 0.0 || place >= release.share {
        return false;
    }
    let day = release.from_day + release.ramp_days * place / release.share;
    t >= day
}

/// APNs's answer and the receipt's time (`i64::MIN`: none) for one push.
#[allow(clippy::too_many_arguments)]
fn outcome(
    rng: &mut Rng,
    device: &Device,
    sent: i64,
    deadline: i64,
    start: i64,
    radio: u8,
    latency_factor: f64,
    fail_rates: &[f64],
) -> (Status, i64) {
    let t_days = (sent - start) as f64 / MICROS_PER_DAY as f64;
    let draw = rng.f64();
    // Draws are taken in a fixed order whatever the branch, so that an effect on one push
    // does not shift the random stream of the pushes after it.
    let latency_draw = rng.normal();
    let slow_draw = rng.f64();
    let slow_extra = rng.exponential(rates::SLOW_MEAN_S * 1e6);
    let receipt_draw = rng.f64();
    let late_draw = rng.log_normal(rates::LATE_MEDIAN_MIN * 60e6, rates::LATE_SIGMA);
    let fail_draw = rng.f64();
    let fail_kind = rng.f64();
    if draw < rates::NOT_SENT {
        return (Status::NotSent, i64::MIN);
    }
    if device.bad_token {
        return (Status::BadDeviceToken, i64::MIN);
    }
    if t_days >= device.unregistered_at as f64 {
        return (Status::Unregistered, i64::MIN);
    }
    if draw < rates::NOT_SENT + rates::SERVICE_UNAVAILABLE {
        return (Status::ServiceUnavailable, i64::MIN);
    }
    if draw < rates::NOT_SENT + rates::SERVICE_UNAVAILABLE + rates::INTERNAL_SERVER_ERROR {
        return (Status::InternalServerError, i64::MIN);
    }
    let median_ms = match radio {
        0 | 1 => rates::MEDIAN_MS_5G,
        2 => rates::MEDIAN_MS_LTE,
        3 => rates::MEDIAN_MS_HSPA,
        _ => rates::MEDIAN_MS_WIFI,
    };
    let mut latency = median_ms * 1000.0 * (rates::SIGMA * latency_draw).exp();
    if slow_draw < rates::SLOW {
        latency += slow_extra;
    }
    let late_at = deadline + late_draw as i64;
    if receipt_draw < rates::NO_RECEIPT {
        return (Status::Ok, i64::MIN);
    }
    if receipt_draw < rates::NO_RECEIPT + rates::LATE {
        return (Status::Ok, late_at);
    }
    let received = sent + (latency * latency_factor) as i64;
    if received > deadline {
        return (Status::Ok, received);
    }
    // An on-time push that an effect makes fail: the complement of surviving every effect.
    let survive: f64 = fail_rates.iter().map(|r| 1.0 - r).product();
    if fail_draw < 1.0 - survive {
        if fail_kind < 0.4 {
            return (Status::Ok, late_at);
        }
        return (Status::Ok, i64::MIN);
    }
    (Status::Ok, received)
}

/// A device's stable 64-hex token.
fn token(seed: u64, device: u32) -> String {
    let mut out = String::with_capacity(64);
    for part in 0..4u64 {
        let word = mix(&[seed, 0x70CE, device as u64, part]);
        out.push_str(&format!("{word:016x}"));
    }
    out
}

/// A version-4 UUID from 64 random bits (stretched to 128).
fn uuid(bits: u64) -> String {
    let hi = bits;
    let lo = mix(&[bits, 0x4]);
    let a = (hi >> 32) as u32;
    let b = (hi >> 16) as u16;
    let c = (hi as u16 & 0x0FFF) | 0x4000;
    let d = ((lo >> 48) as u16 & 0x3FFF) | 0x8000;
    let e = lo & 0xFFFF_FFFF_FFFF;
    format!("{a:08x}-{b:04x}-{c:04x}-{d:04x}-{e:012x}")
}

impl Iterator for Fleet {
    type Item = PushRecord;

    fn next(&mut self) -> Option<PushRecord> {
        while self.next >= self.plan.len() {
            if self.day >= self.days {
                return None;
            }
            let day = self.day;
            self.plan_day(day);
            self.day += 1;
        }
        let p = &self.plan[self.next];
        let record = self.record(self.day - 1, p);
        self.next += 1;
        Some(record)
    }
}
