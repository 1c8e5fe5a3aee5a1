//! `pushtrace demo`, the real binary, short: the emulator, the gateway and 50 simulated phones
//! for 6 s. The folder must hold what index.html links to, a diagnosis of each story phone's
//! failed call with the cause its story is about, and the fleet report; index.html is opened in
//! a real headless chromium (the suite's browser set-up, `tests/browser/`) and its screenshot
//! must show the stories table, not a blank page.
//!
//! Needs `node` and `/usr/bin/chromium` (or `PUSHTRACE_CHROMIUM`), as `diagnose_browser` does:
//! `bash .ci/test-setup` installs them; without them the test fails and says so.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run_demo(out: &Path) -> Value {
    let run = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .args([
            "demo",
            "--seconds",
            "6",
            "--phones",
            "50",
            "--json",
            "--out",
        ])
        .arg(out)
        .output()
        .expect("pushtrace runs");
    assert!(
        run.status.success(),
        "demo failed ({}):\n{}",
        run.status,
        text(&run.stderr)
    );
    serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("demo --json printed no JSON ({e}): {}", text(&run.stdout)))
}

#[test]
fn a_short_demo_writes_a_folder_whose_links_resolve_and_whose_stories_are_diagnosed() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("demo");
    let summary = run_demo(&out);

    let index = out.join("index.html");
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(
        !html.contains("http:") && !html.contains("https:"),
        "index.html must be self-contained"
    );
    assert!(summary["calls"].as_u64().unwrap() >= 30, "{summary}");
    // What the libraries logged is in the folder, not on the console: the stale token's 410
    // is a failed push the gateway logs.
    let log = std::fs::read_to_string(summary["log"]["file"].as_str().unwrap()).unwrap();
    assert_eq!(
        summary["log"]["lines"].as_u64(),
        Some(log.lines().count() as u64)
    );
    assert!(log.contains("push failed") && log.contains("410"), "{log}");

    // Each story phone's failed call, diagnosed with the cause family of its story.
    let failed = summary["failed"].as_array().unwrap();
    let causes_of = |device: &str| -> Vec<String> {
        failed
            .iter()
            .filter(|c| c["device"] == device)
            .flat_map(|c| c["causes"].as_array().unwrap().clone())
            .map(|c| c.as_str().unwrap().to_string())
            .collect()
    };
    for (device, expected) in [
        ("outage-1", &["device_offline_radio"][..]),
        (
            "asleep-1",
            &["reconnect_abandoned_power_policy", "device_offline_radio"][..],
        ),
        ("app-failing-1", &["app_not_reporting", "voip_blocked"][..]),
        ("stale-token-1", &["token_invalid"][..]),
    ] {
        let causes = causes_of(device);
        assert!(
            causes.iter().any(|c| expected.contains(&c.as_str())),
            "{device}: diagnosed {causes:?}, expected one of {expected:?}\n{summary}"
        );
        let call = failed.iter().find(|c| c["device"] == device).unwrap();
        let report = out.join(call["report"].as_str().unwrap());
        let report_html = std::fs::read_to_string(&report).unwrap();
        assert!(report_html.contains("<html"), "{}", report.display());
        assert!(out.join(call["bundle"].as_str().unwrap()).is_file());
    }
    let fleet = out.join(summary["fleet"]["html"].as_str().unwrap());
    assert!(std::fs::metadata(&fleet).unwrap().len() > 1000);
    let timeline: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(failed[0]["timeline"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    assert!(timeline["pushes"].as_array().is_some(), "{timeline}");

    // The browser: offline, the stories table in view, a non-blank screenshot, and every link
    // a file that exists.
    let found = support::browser_check("tests/browser/check_demo.js", &index, "demo-index.png");
    assert_eq!(found["title"], "pushtrace demo");
    assert_eq!(found["storyRows"], 4, "{found}");
    let links = found["links"].as_array().unwrap();
    assert!(links.len() > 30, "{found}");
    for link in links {
        let url = link.as_str().unwrap();
        let file = url
            .strip_prefix("file://")
            .unwrap_or_else(|| panic!("index.html links outside the folder: {url}"));
        assert!(
            Path::new(file).is_file(),
            "index.html links to {url}, which is missing"
        );
    }
}
