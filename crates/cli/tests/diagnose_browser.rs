//! The HTML report of the seed incident, opened in a real headless browser (Debian's chromium,
//! driven by playwright-core from `tests/browser/`): it renders, asks nothing of the network,
//! a screenshot shows the failure table inside the first viewport, and one of the timeline's
//! legend shows each state's colour.
//!
//! Needs `node` and `/usr/bin/chromium` (or `PUSHTRACE_CHROMIUM`); without them the test fails
//! and says what to install — it never skips. `tests/browser/setup.sh` installs the pinned
//! playwright-core under the target directory (`.ci/test-setup` runs it too).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/seed-incident")
        .join(name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_seed_html_report_renders_offline_with_its_failure_table_in_view() {
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("seed-report.html");
    let log = example("device-log.txt");
    let pushes = example("pushes.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .args(["diagnose", log.to_str().unwrap()])
        .args(["--date", "2026-05-20", "--tz", "+03:00", "-q", "--html"])
        .args(["--pushes", pushes.to_str().unwrap()])
        .output()
        .expect("pushtrace runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = text(&out.stdout);
    assert!(
        !html.contains("http:") && !html.contains("https:"),
        "{html}"
    );
    std::fs::write(&report, &html).unwrap();

    let found = support::browser_check("tests/browser/check_report.js", &report, "seed-report.png");
    let screenshot = support::install_dir("browser").join("seed-report.png");

    let requests = found["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1, "{found}");
    assert!(
        requests[0].as_str().unwrap().starts_with("file://"),
        "{found}"
    );
    assert_eq!(found["title"], "Push diagnosis: device-log.txt");
    assert_eq!(found["failureRows"], 2, "{found}");
    assert_eq!(found["rowBackground"], "rgb(253, 226, 225)", "{found}");
    assert_eq!(found["failureSections"], 2, "{found}");
    // seed-1740 is outside the log: only seed-1747 has device states to draw.
    assert_eq!(found["timelines"], 1, "{found}");
    let rows: Vec<&str> = found["rowTexts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert!(rows[1].starts_with("seed-1747"), "{rows:?}");
    assert!(
        rows[1].contains("3 min 5 s\tlate\treconnect_abandoned_power_policy"),
        "{rows:?}"
    );
    assert!(
        found["screenshot"]["rowColourPixels"].as_u64().unwrap() >= 500,
        "{found}"
    );
    assert!(screenshot.is_file());
    // The timeline's legend renders: every swatch shows its own colour on screen.
    let items: Vec<&str> = found["legendItems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i.as_str())
        .collect();
    for item in [
        "APNs reconnecting",
        "radio idle (wakes for traffic)",
        "sent: the push left the server",
    ] {
        assert!(items.contains(&item), "{item} not in {items:?}");
    }
    let swatches = found["legend"]["swatches"].as_array().unwrap();
    assert!(swatches.len() >= 4, "{found}");
    assert_eq!(
        found["legend"]["distinctColours"].as_u64(),
        Some(swatches.len() as u64)
    );
    assert!(
        support::install_dir("browser")
            .join("seed-report-legend.png")
            .is_file()
    );
}
