//! The fleet HTML report opened in a real headless browser (Debian's chromium, driven by
//! playwright-core from `tests/browser/check_fleet_report.js`): it renders without errors, asks
//! nothing of the network, every chart has a size, the change day's marker is inside the plot,
//! no two labels of a chart overlap, nothing scrolls sideways at 1280 px, and a screenshot of
//! the whole page is kept as `target/fleet-report.png` for a person to look at.
//!
//! Needs `node` and `/usr/bin/chromium` (or `PUSHTRACE_CHROMIUM`); without them the test fails
//! and says what to install — it never skips. playwright-core is installed by the CLI's
//! `tests/browser/setup.sh` (pinned there, shared with the diagnose report's browser test).
//!
//! The report is built here, a 60-day fleet with a regression, a cohort bad all along, a new
//! version and long, hostile attribute values, so the charts are tried on realistic shapes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pushtrace_fleet::Cohort;
use pushtrace_fleet::counts::Counts;
use pushtrace_fleet::html_report::render_html;
use pushtrace_fleet::outcome::OutcomeRules;
use pushtrace_fleet::report::{
    AttributeStats, Change, CohortStats, DayStats, Difference, Latency, LatencyShift, Regression,
    RegressionKind, Report, SinceChange, Thresholds, Window,
};
use pushtrace_fleet::stats::{Interval, TestMethod, wilson};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `<repo>/target` (or `CARGO_TARGET_DIR`): the parent of the tests' scratch directory.
fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("PUSHTRACE_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.is_file(),
        "{} not found: this test opens the fleet HTML report in Debian's chromium. Install it \
         (apt-get install -y chromium) or point PUSHTRACE_CHROMIUM at a chromium binary",
        path.display()
    );
    path
}

fn node_is_there() {
    let found = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`node` is not on PATH: this test drives chromium with playwright-core; install Node.js >= 20"
    );
}

/// Installs playwright-core with the CLI's script into `target/browser` (where `.ci/test-setup` and
/// the diagnose browser test put it too) and returns its `node_modules`.
fn playwright() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/browser/setup.sh");
    let dir = target_dir().join("browser");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("could not run bash {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}); this test needs playwright-core installed. Its output:\n{}{}",
        script.display(),
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    dir.join("node_modules")
}

fn day(i: usize) -> String {
    // 2026-02-01 + i days (February 2026 has 28, March 31).
    let (month, d) = match i {
        0..28 => (2, i + 1),
        28..59 => (3, i - 27),
        _ => (4, i - 58),
    };
    format!("2026-{month:02}-{d:02}")
}

fn stats(cohort: Cohort, pushes: u64, failures: u64, p50: f64) -> CohortStats {
    let no_receipt = pushes / 40;
    let judged = pushes - no_receipt;
    CohortStats {
        cohort,
        pushes,
        counts: Counts {
            on_time: judged - failures,
            late: failures * 7 / 10,
            no_receipt,
            rejected: failures * 2 / 10,
            not_sent: failures - failures * 7 / 10 - failures * 2 / 10,
        },
        failures,
        failure_rate: failures as f64 / judged as f64,
        failure_interval: wilson(failures, judged),
        devices: Some(pushes / 6),
        failing_devices: failures / 3,
        latency: Some(Latency {
            receipts: judged - failures / 2,
            p50_ms: p50,
            p90_ms: p50 * 5.5,
            p99_ms: p50 * 31.0,
            relative_error: 0.01,
        }),
    }
}

fn difference(pairs: &[(&str, &str)], pushes: u64, failures: u64, rest: f64) -> Difference {
    let rate = failures as f64 / pushes as f64;
    let rr = rate / rest;
    Difference {
        cohort: Cohort::of(pairs.iter().copied()),
        pushes,
        failures,
        failure_rate: rate,
        failure_interval: wilson(failures, pushes),
        rest_rate: rest,
        risk_ratio: rr,
        risk_ratio_interval: Interval {
            low: rr * 0.9,
            high: rr * 1.1,
        },
        excess_failures: failures as f64 - rest * pushes as f64,
        share_of_failures: failures as f64 / 61_000.0,
        failing_devices: failures / 2,
        devices: Some(pushes / 4),
        busiest_device_failures: 6,
        risk_ratio_without_busiest: rr * 0.98,
        failing_device_share: Some(0.4),
        rest_failing_device_share: Some(0.03),
        test: TestMethod::ChiSquared,
        p: 1e-40,
        q: 3e-38,
        device_q: Some(1e-20),
    }
}

fn realistic() -> Report {
    let days = 60;
    let daily: Vec<DayStats> = (0..days)
        .map(|i| {
            let pushes = 40_000 + (i as u64 * 7919) % 9_000;
            let rate = if i < 41 { 0.021 } else { 0.034 } + ((i * 37) % 11) as f64 * 0.0004;
            let failures = (pushes as f64 * rate) as u64;
            DayStats {
                day: day(i),
                pushes: if i == 17 { 0 } else { pushes },
                failures: if i == 17 { 0 } else { failures },
                failure_rate: if i == 17 { 0.0 } else { rate },
                failure_interval: if i == 17 {
                    wilson(0, 0)
                } else {
                    wilson(failures, pushes)
                },
                p50_ms: Some(380.0 + i as f64),
            }
        })
        .collect();
    let rest = 0.022;
    let orange = [
        ("os_version", "26.2"),
        ("carrier", "Orange"),
        ("interface", "cellular"),
    ];
    let carriers = [
        "Verizon Wireless",
        "AT&T",
        "T-Mobile USA",
        "Orange",
        "Vodafone Deutschland GmbH & Co. KG (roaming partner network)",
        "<script>alert(1)</script>",
        "Telefónica Movistar",
        "EE",
        "Three",
        "SFR",
        "Bouygues Telecom",
        "NTT docomo",
        "KDDI",
        "SoftBank",
    ];
    let attribute = |name: &str, values: &[&str], p50: f64| AttributeStats {
        attribute: name.to_string(),
        values: values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let pushes = 900_000 / (i as u64 + 2);
                stats(
                    Cohort::of([(name, *v)]),
                    pushes,
                    pushes / (30 + 7 * i as u64),
                    p50 * (1.0 + i as f64 * 0.35),
                )
            })
            .collect(),
    };
    Report {
        rules: OutcomeRules::default(),
        window: Window {
            first_day: day(0),
            last_day: day(days - 1),
            days,
        },
        thresholds: Thresholds {
            min_failures: 20,
            min_devices: 10,
            min_risk_ratio: 1.5,
            fdr: 0.05,
            tested: 2_841,
            slow_ms: Some(2_300.0),
        },
        overall: stats(Cohort::everyone(), 2_652_301, 61_020, 410.0),
        daily,
        changes: vec![
            Change {
                day: day(41),
                rate_before: 0.0232,
                interval_before: Interval {
                    low: 0.0229,
                    high: 0.0235,
                },
                rate_after: 0.0361,
                interval_after: Interval {
                    low: 0.0355,
                    high: 0.0367,
                },
                p: 1e-30,
            },
            Change {
                day: day(44),
                rate_before: 0.0361,
                interval_before: Interval {
                    low: 0.0355,
                    high: 0.0367,
                },
                rate_after: 0.0342,
                interval_after: Interval {
                    low: 0.0336,
                    high: 0.0348,
                },
                p: 2e-4,
            },
            Change {
                day: day(59),
                rate_before: 0.0342,
                interval_before: Interval {
                    low: 0.0336,
                    high: 0.0348,
                },
                rate_after: 0.0301,
                interval_after: Interval {
                    low: 0.0290,
                    high: 0.0312,
                },
                p: 3e-3,
            },
        ],
        attributes: vec![
            attribute("carrier", &carriers, 350.0),
            attribute("os_version", &["26.2", "26.1.1", "26.1", "18.7.2", "18.6"], 380.0),
            attribute(
                "model",
                &["iPhone17,2", "iPhone16,1", "iPhone15,4", "iPhone14,7", "iPhone12,1"],
                360.0,
            ),
            attribute("interface", &["wifi", "cellular"], 300.0),
        ],
        differences: vec![
            difference(&orange, 26_000, 8_110, rest),
            difference(&[("model", "iPhone11,8")], 41_000, 4_900, rest),
            difference(
                &[
                    ("carrier", "Vodafone Deutschland GmbH & Co. KG (roaming partner network)"),
                    ("app_version", "8.14.0 (build 20260301.4)"),
                ],
                9_000,
                1_100,
                rest,
            ),
            difference(&[("carrier", "<script>alert(1)</script>")], 12_000, 800, rest),
            difference(&[("region", "BR"), ("interface", "cellular")], 30_000, 1_500, rest),
            difference(&[("app_version", "8.15.0")], 50_000, 1_900, rest),
        ],
        since_change: Some(SinceChange {
            since: day(41),
            differences: vec![difference(&orange, 11_000, 3_500, 0.025)],
        }),
        regressions: vec![
            Regression {
                cohort: Cohort::of(orange),
                kind: RegressionKind::Since,
                since: day(41),
                rate_after: 0.312,
                interval_after: Interval {
                    low: 0.301,
                    high: 0.323,
                },
                rate_before: Some(0.021),
                interval_before: Some(Interval {
                    low: 0.019,
                    high: 0.023,
                }),
                rest_rate: 0.022,
                failing_devices: 812,
                p: Some(1e-60),
                q: Some(1e-58),
            },
            Regression {
                cohort: Cohort::of([("app_version", "8.15.0")]),
                kind: RegressionKind::SinceFirstSeen,
                since: day(50),
                rate_after: 0.038,
                interval_after: Interval {
                    low: 0.036,
                    high: 0.040,
                },
                rate_before: None,
                interval_before: None,
                rest_rate: 0.022,
                failing_devices: 690,
                p: Some(1e-9),
                q: Some(2e-8),
            },
            Regression {
                cohort: Cohort::of([("model", "iPhone11,8")]),
                kind: RegressionKind::AllAlong,
                since: day(0),
                rate_after: 0.12,
                interval_after: Interval {
                    low: 0.116,
                    high: 0.124,
                },
                rate_before: None,
                interval_before: None,
                rest_rate: 0.022,
                failing_devices: 2_300,
                p: None,
                q: None,
            },
        ],
        latency_shifts: vec![LatencyShift {
            cohort: Cohort::of([("carrier", "EE"), ("interface", "cellular")]),
            since: day(30),
            slow_before: 0.1,
            slow_after: 0.27,
            interval_after: Interval {
                low: 0.25,
                high: 0.29,
            },
            receipts_after: 31_000,
            p: 1e-12,
            q: 4e-11,
        }],
        notes: vec![
            "carrier has 212 values; the 64 with the most pushes are kept, the rest counted as `other`"
                .to_string(),
        ],
    }
}

#[test]
fn the_fleet_html_report_renders_offline_with_readable_charts() {
    let chromium = chromium();
    node_is_there();
    let modules = playwright();

    let html = render_html(&realistic());
    let report = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fleet-report.html");
    std::fs::write(&report, &html).unwrap();
    let screenshot = target_dir().join("fleet-report.png");
    let _ = std::fs::remove_file(&screenshot);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/check_fleet_report.js");
    let out = Command::new("node")
        .arg(&script)
        .arg(&report)
        .arg(&screenshot)
        .arg(&chromium)
        .arg(&modules)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "the browser check failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check_fleet_report.js printed no JSON ({e}): {}",
            text(&out.stdout)
        )
    });

    let requests = found["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1, "{found}");
    assert!(
        requests[0].as_str().unwrap().starts_with("file://"),
        "{found}"
    );
    assert_eq!(found["title"], "Push delivery, 2026-02-01 to 2026-04-01");
    assert_eq!(found["scripts"], 0, "the <script> carrier is text: {found}");
    let ids: Vec<&str> = found["charts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "chart-daily",
            "chart-differences",
            "chart-since-change",
            "chart-latency-0",
            "chart-latency-1",
            "chart-latency-2",
            "chart-latency-3"
        ],
        "{found}"
    );
    let daily = &found["charts"][0];
    assert_eq!(daily["changes"].as_array().unwrap().len(), 3, "{found}");
    assert!(daily["texts"].as_u64().unwrap() >= 15, "{found}");
    let shot = std::fs::metadata(&screenshot).expect("the screenshot was written");
    assert!(shot.len() > 20_000, "{} bytes", shot.len());
    assert!(
        found["screenshot"]["height"].as_u64().unwrap() > 900,
        "{found}"
    );
}
