//! `pushtrace diagnose`'s HTML report, `--output`, the `--bundle` package and `--app` as a
//! bundle id, as a user runs them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/seed-incident")
        .join(name)
}

fn pushtrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .args(args)
        .output()
        .expect("pushtrace runs")
}

/// `pushtrace diagnose <seed log> --date --tz --pushes <seed pushes> -q` plus `extra`.
fn seed(extra: &[&str]) -> Output {
    let log = example("device-log.txt");
    let pushes = example("pushes.jsonl");
    let mut args = vec![
        "diagnose",
        log.to_str().unwrap(),
        "--date",
        "2026-05-20",
        "--tz",
        "+03:00",
        "--pushes",
        pushes.to_str().unwrap(),
        "-q",
    ];
    args.extend_from_slice(extra);
    pushtrace(&args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn html_is_one_file_with_the_failure_table_and_a_timeline() {
    let out = seed(&["--html"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = text(&out.stdout);
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<table id=\"failures\">"), "{html}");
    assert_eq!(html.matches("<tr class=\"failure\">").count(), 2, "{html}");
    assert!(html.contains("<svg class=\"timeline\""), "{html}");
    // Log lines are escaped: the quotes of CommCenter's assertion name.
    assert!(
        html.contains("Created SystemIsActive &quot;com.apple.ipTelephony.sipIncoming.cell&quot;"),
        "{html}"
    );
    for outside in [
        "http:", "https:", "<script", "<link", "<img", "@import", "url(http",
    ] {
        assert!(!html.contains(outside), "{outside} in {html}");
    }
    let both = seed(&["--html", "--markdown"]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn output_writes_the_chosen_format_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.md");
    let out = seed(&["--markdown", "-o", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let md = fs::read_to_string(&file).unwrap();
    assert!(md.starts_with("# Push diagnosis: device-log.txt"), "{md}");

    let nowhere = dir.path().join("missing/report.md");
    let out = seed(&["-o", nowhere.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--output"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bundle_holds_the_failures_facts_checklist_excerpts_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("feedback");
    let out = seed(&["--bundle", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The terminal report still goes to stdout.
    assert!(text(&out.stdout).contains("\n2 push(es)"));
    for file in [
        "README.md",
        "report.html",
        "verdicts.json",
        "excerpts/seed-1747.log",
        "excerpts/seed-1740.log",
    ] {
        assert!(bundle.join(file).is_file(), "{file} missing");
    }
    let readme = fs::read_to_string(bundle.join("README.md")).unwrap();
    let row = |id: &str| {
        readme
            .lines()
            .find(|l| l.starts_with(&format!("| {id} |")))
            .unwrap_or_else(|| panic!("no row for {id} in {readme}"))
            .to_string()
    };
    let late = row("seed-1747");
    for cell in [
        "8f1e6a52-3c4d-4e5f-9a0b-1c2d3e4f5a6b",
        "com.acme.call.voip",
        "iphone-17-pro",
        "2026-05-20T17:47:00.000000+03:00",
        "2026-05-20T17:48:00.000000+03:00 (the call's deadline)",
        "2026-05-20T17:50:05.000000+03:00 (the app's receipt)",
        "| 3 min 5 s |",
        "late, `reconnect_abandoned_power_policy`, high confidence",
    ] {
        assert!(late.contains(cell), "{cell} not in {late}");
    }
    let unknown = row("seed-1740");
    assert!(
        unknown.contains("| not seen | — | unknown, `unknown`, low confidence"),
        "{unknown}"
    );
    assert!(
        readme.contains("- Network (apsd): APNs over pdp_ip0 [lte]"),
        "{readme}"
    );
    assert!(
        readme.contains("- OS build: not found in the logs"),
        "{readme}"
    );
    assert!(
        readme.contains(
            "- [ ] **Logs taken without a reboot since the failure** (cannot be checked)"
        ),
        "{readme}"
    );
    assert!(readme.contains("- [x] **Time zones stated** (yes): the log's times without an offset were read in --tz +03:00"), "{readme}");
    assert!(
        readme.contains("- [x] **apns-id included for every failure** (yes)"),
        "{readme}"
    );
    // seed-1740 was sent before the log begins; seed-1747's outage is inside it.
    assert!(
        readme.contains("- [ ] **The logs cover each failure window** (no)")
            && readme.contains("not the whole window of seed-1740:"),
        "{readme}"
    );

    let excerpt = fs::read_to_string(bundle.join("excerpts/seed-1747.log")).unwrap();
    assert!(
        excerpt.contains("powerd: Sending com.apple.powerd.assertionpolicy 3\t# ")
            && excerpt.contains("device-log.txt:19"),
        "{excerpt}"
    );
    assert!(excerpt.contains("sipIncoming.cell"), "{excerpt}");
    let outside = fs::read_to_string(bundle.join("excerpts/seed-1740.log")).unwrap();
    assert!(
        outside.contains("the log holds no line in this window"),
        "{outside}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(bundle.join("verdicts.json")).unwrap()).unwrap();
    assert_eq!(json["pushes"][1]["verdict"]["outcome"], "late");
    let html = fs::read_to_string(bundle.join("report.html")).unwrap();
    assert!(html.contains("<table id=\"failures\">"));
}

#[test]
fn bundle_refuses_a_folder_with_something_in_it_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let out = seed(&["--bundle", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("is not empty") && stderr.contains("--force"),
        "{stderr}"
    );
    assert!(!dir.path().join("README.md").exists());

    let out = seed(&["--bundle", dir.path().to_str().unwrap(), "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("README.md").is_file());
    assert_eq!(
        fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "mine"
    );

    let alone = seed(&["--force"]);
    assert_eq!(alone.status.code(), Some(2));
}

const TWO_APPS: &str = "\
09:59:00.000  apsd  <APSCourier: 0x1 production>: Connection established
10:00:00.500  apsd  <APSCourier: 0x1 production>: Received message for enabled topic 'net.whatsapp.WhatsApp.voip' onInterface: NonCellular with payload '{}' with priority 10 for device token: YES
10:00:20.000  apsd  <APSCourier: 0x1 production>: Received message for enabled topic 'com.acme.call.voip' onInterface: NonCellular with payload '{}' with priority 10 for device token: YES
10:01:00.000  apsd  <APSCourier: 0x1 production>: Connection established
";

#[test]
fn app_as_a_bundle_id_lets_only_its_own_push_lines_count() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("two-apps.txt");
    fs::write(&log, TWO_APPS).unwrap();
    let base = [
        "diagnose",
        log.to_str().unwrap(),
        "--date",
        "2026-05-20",
        "--tz",
        "+03:00",
        "--push",
        "10:00:00",
        "-q",
        "--json",
    ];
    let latency = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let out = pushtrace(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let verdict = v["pushes"][0]["verdict"].clone();
        (
            verdict["outcome"].as_str().unwrap().to_string(),
            verdict["latency_ms"].as_f64(),
        )
    };
    // A push with no topic and no --app: any push line may be it, WhatsApp's came first.
    assert_eq!(latency(&[]), ("on_time".into(), Some(500.0)));
    // --app com.acme.call: only the app's own topic counts.
    assert_eq!(
        latency(&["--app", "com.acme.call"]),
        ("late".into(), Some(20_000.0))
    );
}

#[test]
fn app_as_a_bundle_id_keeps_only_its_pushes() {
    let out = seed(&["--app", "net.whatsapp.WhatsApp"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no push to diagnose"),
        "{}",
        text(&out.stderr)
    );
    let out = seed(&["--app", "com.acme.call", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pushes"].as_array().unwrap().len(), 2);
}

/// The colour the report's CSS gives a state class (`svg .s-x { fill: #…; }`).
fn fill_of<'a>(html: &'a str, class: &str) -> &'a str {
    let rule = format!("svg .{class} {{ fill: ");
    let at = html
        .find(&rule)
        .unwrap_or_else(|| panic!("no CSS for {class}"))
        + rule.len();
    &html[at..at + 7]
}

#[test]
fn html_timeline_has_a_legend_distinct_colours_and_labels_that_do_not_collide() {
    let out = seed(&["--html"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = text(&out.stdout);
    // The legend names every colour of the picture, the hatching and the marks.
    let legend = &html[html.find("<ul class=\"legend\"").expect("a legend")..];
    let legend = &legend[..legend.find("</ul>").unwrap()];
    for item in [
        "APNs reconnecting",
        "radio idle (wakes for traffic)",
        "power policy display off (pushes wait)",
        "sent: the push left the server",
        "due: when it should have rung",
        "arrived: it reached the device",
        "woken: the outage ended",
    ] {
        assert!(legend.contains(item), "{item} not in {legend}");
    }
    // Each class in the picture has its legend swatch; reconnecting and radio idle differ.
    for class in ["s-apns-reconnecting", "s-radio-idle", "s-power-display-off"] {
        assert!(
            html.contains(&format!("<rect class=\"{class}\"")),
            "{class}"
        );
        assert!(legend.contains(&format!("swatch {class}")), "{class}");
    }
    assert_ne!(
        fill_of(&html, "s-apns-reconnecting"),
        fill_of(&html, "s-radio-idle")
    );
    // Mark labels: no two on the same row overlap (about 7 px a character, as drawn).
    let mut labels: Vec<(f64, f64, String)> = Vec::new();
    for (i, _) in html.match_indices("<text class=\"mark-label") {
        let tag = &html[i..i + html[i..].find("</text>").unwrap()];
        let attr = |name: &str| {
            let at = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            tag[at..at + tag[at..].find('"').unwrap()].to_string()
        };
        let x: f64 = attr("x").parse().unwrap();
        let chars = tag[tag.find('>').unwrap() + 1..].chars().count() as f64;
        let (from, to) = if attr("text-anchor") == "end" {
            (x - chars * 7.0, x)
        } else {
            (x, x + chars * 7.0)
        };
        labels.push((from, to, attr("y")));
    }
    assert_eq!(labels.len(), 4, "{labels:?}");
    for (i, a) in labels.iter().enumerate() {
        for b in &labels[i + 1..] {
            assert!(
                a.2 != b.2 || a.1 <= b.0 || b.1 <= a.0,
                "{a:?} overlaps {b:?}"
            );
        }
    }
    // Evidence lines wrap between words, breaking a word only when it alone is too wide.
    assert!(html.contains(".raw { white-space: pre-wrap; overflow-wrap: anywhere;"));
    assert!(!html.contains("break-all"));
}

#[test]
fn text_report_explains_its_marks_once() {
    let out = seed(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    let legend = "Marks: ✓ the line supports the verdict, ✗ it contradicts it, · context \
                  (what happened around it); ▶ the push was sent, ◀ the app's receipt.";
    assert_eq!(report.matches(legend).count(), 1, "{report}");
    let first_mark = report.find(" ✓ ").unwrap();
    assert!(report.find(legend).unwrap() < first_mark, "{report}");
}
