//! `pushtrace timeline` as a user runs it.

use std::process::Output;

mod support;

use support::{run, testdata, text};

fn seed(extra: &[&str]) -> Output {
    let digest = testdata("seed-incident-digest.txt");
    let mut args = vec![
        "timeline",
        digest.to_str().unwrap(),
        "--date",
        "2026-05-20",
        "--tz",
        "+03:00",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn seed_timeline_explains_the_incident() {
    let out = seed(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("Timeline of "), "{stdout}");
    assert!(stdout.contains("17:48:41.248  powerd      Sending com.apple.powerd.assertionpolicy 3\n              ↑ powerd sends assertion policy 3 (display off)\n"), "{stdout}");
    assert!(stdout.contains("── 1 min 21 s ──"), "{stdout}");
    assert!(stdout.contains("APNs: reconnecting from 17:46:01.330 (path satisfied on pdp_ip0, lte, port 5223); no viable connection seen before the end of the log (17:50:04.598)."), "{stdout}");
    assert!(
        stdout.contains("Power policy: 3 (display off) from 17:48:41.248 to 17:50:04.494"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Wake: woken by an incoming cellular call at 17:50:04.028"),
        "{stdout}"
    );
}

#[test]
fn a_window_carries_the_states_set_before_it() {
    let out = seed(&["--around", "17:49:00", "--window", "2m", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // apsd began reconnecting at 17:46:01.330, two minutes before the window opens.
    assert!(
        stdout.contains("reconnecting on pdp_ip0 (set at 17:46:01.330, before the window)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("APNs: reconnecting from 17:46:01.330"),
        "{stdout}"
    );
    let json = seed(&["--json", "--around", "17:49:00", "--window", "2m", "-q"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let apns = &value["states"]["apns"][0];
    assert_eq!(apns["state"], "reconnecting on pdp_ip0");
    assert_eq!(apns["carried_from"], "2026-05-20T17:46:01.330000+03:00");
}

#[test]
fn seed_timeline_as_json_in_a_window() {
    let out = seed(&["--json", "--around", "17:48:41", "--window", "2m", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = value["events"].as_array().unwrap();
    let kinds: Vec<_> = events
        .iter()
        .map(|e| e["event"]["kind"].as_str().unwrap())
        .collect();
    // 17:47:41–17:49:41: the activity update, policy 3 sent/applied, activity, display, NECP.
    assert_eq!(
        kinds,
        [
            "assertion_activity_update",
            "power_policy",
            "power_policy",
            "user_activity",
            "display_state",
            "necp_defunct"
        ]
    );
    assert_eq!(events[5]["process"], "kernel");
    assert_eq!(events[5]["event"]["process"], "Comera");
    assert_eq!(events[5]["event"]["pid"], 1518);
    assert_eq!(events[5]["source"]["line"], 26);
    assert_eq!(
        value["states"]["power_policy"][1]["state"],
        "3 (display off)"
    );
    // The log covers the whole window (it starts before it): the window is what it covers.
    assert_eq!(value["start"], "2026-05-20T17:47:41.000000+03:00");
}

#[test]
fn unmatched_lines_of_the_real_archive_are_grouped() {
    let archive = testdata("unifiedlog-macos-plaso.logarchive");
    let out = run(&[
        "timeline",
        archive.to_str().unwrap(),
        "--unmatched",
        "--json",
        "-q",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shapes = value["unmatched"].as_array().unwrap();
    assert!(shapes.len() > 100, "{}", shapes.len());
    let counts: Vec<u64> = shapes
        .iter()
        .map(|s| s["count"].as_u64().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "sorted by count");
    assert!(counts[0] > 1000, "the top shape groups many lines");
    assert!(shapes.iter().all(|s| s["origin"]["kind"] == "archive"));

    let out = run(&["timeline", archive.to_str().unwrap(), "--unmatched", "-q"]);
    assert!(
        text(&out.stdout).contains("matched no rule, in "),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn user_rules_extend_the_catalogue_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("more.toml");
    std::fs::write(
        &rules,
        r#"
[[rule]]
id = "local.comera_defunct"
process = "kernel"
pattern = 'for pid (?P<pid>\d+) Comera$'
event = "necp_defunct"
set = { process = "Comera (ours)" }
source = "our own test"
"#,
    )
    .unwrap();
    let out = seed(&["--rules", rules.to_str().unwrap(), "--json", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let necp = value["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"]["kind"] == "necp_defunct")
        .unwrap()
        .clone();
    assert_eq!(necp["rule"], "local.comera_defunct");
    assert_eq!(necp["event"]["process"], "Comera (ours)");

    std::fs::write(&rules, "[[rule]]\nid = \"x\"\nprocess = \"apsd\"\npattern = '('\nevent = \"rrc_state\"\nsource = \"t\"\n").unwrap();
    let out = seed(&["--rules", rules.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("rule `x`") && stderr.contains("pattern does not compile"),
        "{stderr}"
    );
}

#[test]
fn window_needs_around() {
    let out = seed(&["--window", "5m"]);
    assert_eq!(out.status.code(), Some(2));
}
