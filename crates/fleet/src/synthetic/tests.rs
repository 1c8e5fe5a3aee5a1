//! The generated fleet looks like the configured one, is the same for a seed, and carries the
//! planted effects at the rates asked.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::*;

/// On time: accepted and received by the deadline; everything else fails.
fn on_time(r: &PushRecord) -> bool {
    r.apns_status == Some(200)
        && matches!((r.received_at, r.deadline), (Some(got), Some(by)) if got <= by)
}

fn day_of(spec: &FleetSpec, r: &PushRecord) -> u32 {
    let start = spec.day_start(0).unwrap().utc_micros();
    ((r.sent_at.utc_micros() - start) / MICROS_PER_DAY) as u32
}

fn small() -> FleetSpec {
    FleetSpec::null(42).with_size(20_000, 200_000, 30)
}

fn share(count: usize, total: usize) -> f64 {
    count as f64 / total as f64
}

#[test]
fn a_null_fleet_has_realistic_shares() {
    let spec = small();
    let records: Vec<PushRecord> = generate(&spec).unwrap().collect();
    assert_eq!(records.len(), 200_000);
    let n = records.len();

    // Outcomes.
    let status = |code| {
        records
            .iter()
            .filter(|r| r.apns_status == Some(code))
            .count()
    };
    let accepted = share(status(200), n);
    assert!((0.975..=0.993).contains(&accepted), "200: {accepted}");
    let gone = share(status(410), n);
    assert!((0.001..=0.02).contains(&gone), "410: {gone}");
    assert!(
        records
            .iter()
            .filter(|r| r.apns_status == Some(410))
            .all(|r| {
                r.apns_timestamp.is_some() && r.apns_reason.as_deref() == Some("Unregistered")
            })
    );
    let not_sent = share(
        records.iter().filter(|r| r.apns_status.is_none()).count(),
        n,
    );
    assert!((0.001..=0.005).contains(&not_sent), "not sent: {not_sent}");
    let ok: Vec<&PushRecord> = records
        .iter()
        .filter(|r| r.apns_status == Some(200))
        .collect();
    let no_receipt = share(
        ok.iter().filter(|r| r.received_at.is_none()).count(),
        ok.len(),
    );
    assert!(
        (0.02..=0.06).contains(&no_receipt),
        "no receipt: {no_receipt}"
    );
    let late = share(
        ok.iter()
            .filter(|r| r.received_at.is_some() && !on_time(r))
            .count(),
        ok.len(),
    );
    assert!((0.005..=0.03).contains(&late), "late: {late}");

    // Latency of the receipts.
    let mut latency: Vec<i64> = records
        .iter()
        .filter_map(|r| Some(r.received_at?.utc_micros() - r.sent_at.utc_micros()))
        .collect();
    latency.sort();
    let at = |q: f64| latency[((latency.len() - 1) as f64 * q) as usize] as f64 / 1e3;
    assert!((150.0..=600.0).contains(&at(0.5)), "median {} ms", at(0.5));
    assert!(
        (1_000.0..=60_000.0).contains(&at(0.99)),
        "p99 {} ms",
        at(0.99)
    );
    assert!(
        at(1.0) > 10.0 * 60_000.0,
        "no stored delivery minutes later"
    );

    // Interface and radio.
    let attr = |r: &PushRecord, k: &str| r.attrs.get(k).cloned().unwrap_or_default();
    let wifi = share(
        records
            .iter()
            .filter(|r| attr(r, "interface") == "wifi")
            .count(),
        n,
    );
    assert!((0.5..=0.8).contains(&wifi), "wifi {wifi}");
    assert!(
        records
            .iter()
            .all(|r| (attr(r, "interface") == "wifi") != r.attrs.contains_key("radio"))
    );

    // Device-level shares against the tables: models and regions.
    let mut devices: HashMap<String, &PushRecord> = HashMap::new();
    for r in &records {
        devices.entry(r.device.clone().unwrap()).or_insert(r);
    }
    let d = devices.len();
    assert!(d > 8_000, "{d} distinct devices");
    let total: f64 = tables::MODELS.iter().map(|m| m.weight).sum();
    for model in tables::MODELS.iter().filter(|m| m.weight >= 5.0) {
        let got = share(
            devices
                .values()
                .filter(|r| attr(r, "model") == model.name)
                .count(),
            d,
        );
        let want = model.weight / total;
        assert!(
            (got - want).abs() < 0.015,
            "{}: {got} vs {want}",
            model.name
        );
    }
    let total: f64 = REGIONS.iter().map(|r| r.weight).sum();
    let us = share(
        devices
            .values()
            .filter(|r| attr(r, "region") == "US")
            .count(),
        d,
    );
    assert!((us - 30.0 / total).abs() < 0.02, "US {us}");
    // Carriers belong to their country.
    for r in &records {
        let region = REGIONS
            .iter()
            .find(|g| g.code == attr(r, "region"))
            .unwrap();
        assert!(
            region
                .carriers
                .iter()
                .any(|(c, _)| *c == attr(r, "carrier"))
        );
    }
    // iOS 26 on about two thirds to four fifths of the devices.
    let ios26 = share(
        devices
            .values()
            .filter(|r| attr(r, "os_version").starts_with("26."))
            .count(),
        d,
    );
    assert!((0.6..=0.85).contains(&ios26), "iOS 26 {ios26}");

    // Heavy-tailed pushes per device: most get few, a few get many.
    let mut per_device: HashMap<&str, usize> = HashMap::new();
    for r in &records {
        *per_device.entry(r.device.as_deref().unwrap()).or_default() += 1;
    }
    let mut counts: Vec<usize> = per_device.values().copied().collect();
    counts.sort();
    let median = counts[counts.len() / 2];
    let max = *counts.last().unwrap();
    assert!(
        median <= 10 && max >= 20 * median,
        "median {median}, max {max}"
    );

    // Diurnal: in local time, 19 h has several times the calls of 4 h.
    let mut by_hour = [0usize; 24];
    for r in &records {
        if let Some(got) = r.received_at {
            by_hour[got.local().hour as usize] += 1;
        }
    }
    assert!(by_hour[19] > 5 * by_hour[4], "{by_hour:?}");

    // The record's fixed fields.
    let r = &records[0];
    assert_eq!(r.topic.as_deref(), Some("com.example.calls.voip"));
    assert_eq!(r.push_type.as_deref(), Some("voip"));
    assert_eq!((r.priority, r.expiration), (Some(10), Some(0)));
    assert_eq!(r.device.as_ref().unwrap().len(), 64);
    assert!(r.queued_at.unwrap() <= r.sent_at);
    let window = r.deadline.unwrap().utc_micros() - r.sent_at.utc_micros();
    assert!(window <= 60_000_000 && window > 0);
}

#[test]
fn versions_change_over_time() {
    let spec = small();
    let mut first_seen: BTreeMap<String, u32> = BTreeMap::new();
    let mut os_by_device: HashMap<String, HashSet<String>> = HashMap::new();
    for r in generate(&spec).unwrap() {
        let day = day_of(&spec, &r);
        for key in ["os_version", "app_version"] {
            let value = r.attrs[key].clone();
            first_seen.entry(value).or_insert(day);
        }
        os_by_device
            .entry(r.device.unwrap())
            .or_default()
            .insert(r.attrs["os_version"].clone());
    }
    assert!(first_seen["26.4"] >= 24, "{first_seen:?}");
    assert_eq!(first_seen["26.3"], 0);
    assert!(
        first_seen["7.22.0"] >= 14 && first_seen["7.22.0"] <= 16,
        "{first_seen:?}"
    );
    let updated = os_by_device.values().filter(|v| v.len() > 1).count();
    assert!(updated > 500, "{updated} devices changed iOS version");
}

#[test]
fn a_seed_gives_the_same_records_and_another_seed_others() {
    let spec = FleetSpec::planted().with_size(2_000, 20_000, 10);
    let mut a = Vec::new();
    let mut b = Vec::new();
    assert_eq!(write_jsonl(&spec, &mut a).unwrap(), 20_000);
    assert_eq!(write_jsonl(&spec, &mut b).unwrap(), 20_000);
    assert!(a == b, "same seed, different bytes");
    let mut c = Vec::new();
    write_jsonl(&spec.clone().with_seed(2), &mut c).unwrap();
    assert!(a != c);
    // Every line reads back into the record it was written from.
    let text = String::from_utf8(a).unwrap();
    for (line, record) in text.lines().zip(generate(&spec).unwrap()) {
        let back: PushRecord = serde_json::from_str(line).unwrap();
        assert_eq!(back, record);
    }
    // Roughly in time order: never more than a retry's gap backwards.
    let times: Vec<i64> = generate(&spec)
        .unwrap()
        .map(|r| r.sent_at.utc_micros())
        .collect();
    let mut latest = times[0];
    for t in times {
        assert!(t > latest - 30_000_000);
        latest = latest.max(t);
    }
}

#[test]
fn planted_effects_are_there_at_the_rates_asked() {
    let regression = cohort(&[("carrier", "Verizon"), ("interface", "cellular")]);
    let bad = cohort(&[("model", "iPhone 13"), ("region", "GB")]);
    let slow = cohort(&[("carrier", "Airtel")]);
    let spec = FleetSpec::null(7)
        .with_size(20_000, 300_000, 30)
        .with_effect(Effect::Regression {
            cohort: regression.clone(),
            from_day: 15,
            failure_rate: 0.4,
        })
        .with_effect(Effect::AlwaysBad {
            cohort: bad.clone(),
            failure_rate: 0.5,
        })
        .with_effect(Effect::LatencyShift {
            cohort: slow.clone(),
            from_day: 10,
            factor: 3.0,
        })
        .with_effect(Effect::Rollout {
            attr: "os_version".into(),
            value: "26.5".into(),
            from_day: 20,
            ramp_days: 5,
            share: 0.4,
        });
    let in_cohort =
        |r: &PushRecord, c: &[(String, String)]| c.iter().all(|(a, v)| r.attrs.get(a) == Some(v));
    // [pushes, failures] before / after the change, for the regression and a control.
    let mut reg = [[0usize; 2]; 2];
    let mut base = [0usize; 2];
    let mut always = [0usize; 2];
    let mut lat: [Vec<i64>; 2] = [Vec::new(), Vec::new()];
    let mut new_os = [0usize; 2];
    for r in generate(&spec).unwrap() {
        let day = day_of(&spec, &r);
        let fail = !on_time(&r) as usize;
        if in_cohort(&r, &regression) {
            let after = (day >= 15) as usize;
            reg[after][0] += 1;
            reg[after][1] += fail;
        } else if in_cohort(&r, &bad) {
            always[0] += 1;
            always[1] += fail;
        } else {
            base[0] += 1;
            base[1] += fail;
        }
        if in_cohort(&r, &slow) && on_time(&r) {
            let l = r.received_at.unwrap().utc_micros() - r.sent_at.utc_micros();
            lat[(day >= 10) as usize].push(l);
        }
        if day >= 26 && r.attrs["os_version"].starts_with("26.") {
            new_os[0] += 1;
            new_os[1] += (r.attrs["os_version"] == "26.5") as usize;
        }
        if day < 20 {
            assert_ne!(r.attrs["os_version"], "26.5");
        }
    }
    let rate = |c: [usize; 2]| c[1] as f64 / c[0] as f64;
    let base_rate = rate(base);
    assert!((0.04..=0.09).contains(&base_rate), "base {base_rate}");
    let before = rate(reg[0]);
    let after = rate(reg[1]);
    assert!(reg[0][0] > 1_000 && reg[1][0] > 1_000, "{reg:?}");
    assert!(
        (before - base_rate).abs() < 0.025,
        "before {before} vs base {base_rate}"
    );
    let want = 0.4 + 0.6 * base_rate;
    assert!((after - want).abs() < 0.04, "after {after} vs {want}");
    let want = 0.5 + 0.5 * base_rate;
    assert!(always[0] > 300, "{always:?}");
    assert!(
        (rate(always) - want).abs() < 0.07,
        "always bad {} vs {want}",
        rate(always)
    );
    let median = |v: &mut Vec<i64>| {
        v.sort();
        v[v.len() / 2] as f64
    };
    let ratio = median(&mut lat[1]) / median(&mut lat[0]);
    assert!((2.4..=3.6).contains(&ratio), "latency ratio {ratio}");
    // 26.5 reaches about 40 % of the iOS 26 pushes after its ramp.
    let got = rate(new_os);
    assert!((0.3..=0.5).contains(&got), "26.5 share {got}");
}

#[test]
fn the_planted_preset_keeps_its_truth() {
    let spec = FleetSpec::planted();
    assert_eq!(
        (spec.devices, spec.pushes, spec.days),
        (1_000_000, 10_000_000, 90)
    );
    assert_eq!(spec.effects.len(), 4);
    assert!(spec.validate().is_ok());
    assert!(FleetSpec::null(3).effects.is_empty());
    assert_eq!(
        spec.effects[1].cohort(),
        cohort(&[
            ("os_version", "26.4.1"),
            ("carrier", "T-Mobile"),
            ("interface", "cellular"),
        ])
    );
}

#[test]
fn bad_specs_are_refused_with_what_to_do() {
    let err = generate(&FleetSpec::null(1).with_size(0, 10, 1))
        .err()
        .unwrap();
    assert_eq!(err, SpecError::Empty { what: "devices" });
    let mut spec = small();
    spec.start = (2026, 2, 30);
    assert!(matches!(
        generate(&spec).err().unwrap(),
        SpecError::Start { .. }
    ));
    let err = generate(&small().with_effect(Effect::AlwaysBad {
        cohort: cohort(&[("carier", "Jio")]),
        failure_rate: 0.2,
    }))
    .err()
    .unwrap();
    assert!(err.to_string().contains("`carier`") && err.to_string().contains("carrier"));
    let err = generate(&small().with_effect(Effect::Regression {
        cohort: cohort(&[("carrier", "Jio")]),
        from_day: 3,
        failure_rate: 1.5,
    }))
    .err()
    .unwrap();
    assert!(err.to_string().contains("failure_rate = 1.5"), "{err}");
    let err = generate(&small().with_effect(Effect::Rollout {
        attr: "carrier".into(),
        value: "X".into(),
        from_day: 1,
        ramp_days: 1,
        share: 0.5,
    }))
    .err()
    .unwrap();
    assert!(matches!(err, SpecError::RolloutAttribute { .. }));
    let mut sink = Vec::new();
    let err = write_jsonl(&FleetSpec::null(1).with_size(1, 0, 1), &mut sink).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn an_app_version_rollout_reaches_its_share() {
    let spec = FleetSpec::null(9)
        .with_size(5_000, 60_000, 20)
        .with_effect(Effect::Rollout {
            attr: "app_version".into(),
            value: "8.0.0".into(),
            from_day: 5,
            ramp_days: 5,
            share: 0.5,
        });
    let mut counts = [0usize; 2];
    for r in generate(&spec).unwrap() {
        let day = day_of(&spec, &r);
        let new = r.attrs["app_version"] == "8.0.0";
        if day < 5 {
            assert!(!new);
        } else if day >= 12 {
            counts[0] += 1;
            counts[1] += new as usize;
        }
    }
    let got = counts[1] as f64 / counts[0] as f64;
    assert!((0.3..=0.6).contains(&got), "{got}");
}
