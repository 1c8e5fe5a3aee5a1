//! The demo's folder: call timelines, push records, phone logs, `diagnose` reports and bundles
//! for the failed calls, the `fleet` report, and `index.html` linking them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Parser;
use pushtrace_fleet::{AnalysisOptions, BuildOptions, OutcomeRules, Table, analyze, build};
use pushtrace_lab::LogFormat;
use pushtrace_records::RecordReader;
use serde_json::{Value, json};

use super::phones::{PROCESS, STORIES};
use super::{Ran, write};
use crate::diagnose::DiagnoseArgs;

/// One call as the folder shows it.
pub struct CallRow {
    pub client_call_id: String,
    pub device: String,
    pub state: String,
    pub late_receipt: bool,
    /// Diagnosed causes of its VoIP pushes (failed calls only).
    pub causes: Vec<String>,
    /// The model's true cause for the push (`none` when it rang in time).
    pub truth: String,
    pub timeline: String,
    pub report: Option<String>,
    pub bundle: Option<String>,
    pub log: Option<String>,
}

impl CallRow {
    pub fn failed(&self) -> bool {
        matches!(self.state.as_str(), "missed" | "failed") || self.late_receipt
    }
}

/// What was written.
pub struct Written {
    pub calls: Vec<CallRow>,
    pub fleet_html: String,
    pub fleet_markdown: String,
    pub states: BTreeMap<String, u64>,
}

impl Written {
    pub fn failed(&self) -> impl Iterator<Item = &CallRow> {
        self.calls.iter().filter(|c| c.failed())
    }

    pub fn json(&self, out: &Path, ran: &Ran) -> Value {
        json!({
            "folder": out.display().to_string(),
            "index": out.join("index.html").display().to_string(),
            "calls": self.calls.len(),
            "states": self.states,
            "failed": self.failed().map(|c| json!({
                "call": c.client_call_id,
                "device": c.device,
                "state": c.state,
                "late_receipt": c.late_receipt,
                "causes": c.causes,
                "true_cause": c.truth,
                "timeline": c.timeline,
                "report": c.report,
                "bundle": c.bundle,
            })).collect::<Vec<_>>(),
            "fleet": { "html": self.fleet_html, "markdown": self.fleet_markdown },
            "live": {
                "phones": ran.report.devices,
                "state_changes": ran.report.state_changes,
                "deliveries": ran.report.deliveries,
                "receipts": ran.report.receipts,
                "receipt_errors": ran.report.receipt_errors,
                "call_errors": ran.report.calls.iter().filter(|c| c.error.is_some()).count(),
                "disagreements": ran.report.disagreements,
                "max_lag_ms": ran.report.max_lag_ms,
            },
        })
    }

    pub fn summary(&self, out: &Path, ran: &Ran) -> String {
        let r = &ran.report;
        let mut text = String::new();
        let _ = writeln!(
            text,
            "\npushtrace demo: done in {:.0} s",
            ran.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            text,
            "  {} phones, {} calls rung through the gateway, {} deliveries, {} receipts, {} state changes",
            r.devices,
            r.calls.len(),
            r.deliveries,
            r.receipts,
            r.state_changes
        );
        let states: Vec<String> = self
            .states
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        let _ = writeln!(text, "  calls: {}", states.join(", "));
        for story in &STORIES {
            let rows: Vec<&CallRow> = self
                .calls
                .iter()
                .filter(|c| c.device == story.name)
                .collect();
            let what: Vec<String> = rows
                .iter()
                .map(|c| {
                    if c.causes.is_empty() {
                        c.state.clone()
                    } else {
                        format!("{} ({})", c.state, c.causes.join(", "))
                    }
                })
                .collect();
            let _ = writeln!(text, "  {:<14} {}", story.name, what.join("; "));
        }
        let _ = writeln!(
            text,
            "  {} failed call(s) diagnosed from the phones' logs; model and emulator disagreed on {} deliveries; the driver ran at most {} ms behind",
            self.failed().count(),
            r.disagreements,
            r.max_lag_ms
        );
        let _ = writeln!(text, "  open {}", out.join("index.html").display());
        text
    }
}

/// `diagnose`'s own arguments, parsed as the verb parses them, so a report here is the one
/// `pushtrace diagnose` writes.
#[derive(Parser)]
struct DiagnoseCommand {
    #[command(flatten)]
    args: DiagnoseArgs,
}

pub fn write_folder(out: &Path, ran: &Ran) -> Result<Written> {
    for dir in ["calls", "logs", "diagnose", "fleet"] {
        fs::create_dir_all(out.join(dir))
            .with_context(|| format!("cannot create {}", out.join(dir).display()))?;
    }
    let mut pushes = String::new();
    for record in &ran.records {
        pushes.push_str(&serde_json::to_string(record)?);
        pushes.push('\n');
    }
    write(&out.join("pushes.jsonl"), &pushes)?;

    let by_name: BTreeMap<&str, &pushtrace_lab::live::LiveDevice> = ran
        .devices
        .iter()
        .map(|d| (d.run.device.as_str(), d))
        .collect();
    let truth: BTreeMap<&str, &str> = ran
        .report
        .calls
        .iter()
        .map(|c| {
            let push = &ran.devices[c.device].run.pushes[c.push];
            (c.client_call_id.as_str(), push.cause.as_str())
        })
        .collect();
    let mut calls = Vec::new();
    let mut states = BTreeMap::new();
    for (client_call_id, timeline) in &ran.timelines {
        let file = format!("calls/{client_call_id}.json");
        write(&out.join(&file), &serde_json::to_string_pretty(timeline)?)?;
        let state = timeline["call"]["state"]
            .as_str()
            .unwrap_or("unknown")
            .to_string();
        *states.entry(state.clone()).or_insert(0u64) += 1;
        let late_receipt = timeline["receipts"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["late"] == true));
        calls.push(CallRow {
            client_call_id: client_call_id.clone(),
            device: timeline["call"]["callee"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            state,
            late_receipt,
            causes: Vec::new(),
            truth: truth
                .get(client_call_id.as_str())
                .map_or_else(String::new, |c| c.to_string()),
            timeline: file,
            report: None,
            bundle: None,
            log: None,
        });
    }

    // Every phone's log, in the form `log show` prints; the failing ones diagnosed.
    for device in ran.devices.iter() {
        let mut text = Vec::new();
        pushtrace_lab::log::write_log(
            &mut text,
            LogFormat::Syslog,
            &device.run.log,
            device.offset,
            &device.process,
        )?;
        let path = out.join(format!("logs/{}.log", device.run.device));
        fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let failing: BTreeSet<String> = calls
        .iter()
        .filter(|c| c.failed())
        .map(|c| c.device.clone())
        .collect();
    for name in &failing {
        let Some(device) = by_name.get(name.as_str()) else {
            continue;
        };
        let causes = diagnose_device(out, ran, device)?;
        for call in calls.iter_mut().filter(|c| &c.device == name) {
            call.log = Some(format!("logs/{name}.log"));
            call.report = Some(format!("diagnose/{name}/report.html"));
            call.bundle = Some(format!("diagnose/{name}/bundle/README.md"));
            let gateway_id = ran
                .timelines
                .iter()
                .find(|(id, _)| id == &call.client_call_id)
                .and_then(|(_, t)| t["call"]["call_id"].as_str());
            if let Some(id) = gateway_id {
                call.causes = causes.get(id).cloned().unwrap_or_default();
            }
        }
    }

    let (fleet_html, fleet_markdown) = fleet_report(out)?;
    let written = Written {
        calls,
        fleet_html,
        fleet_markdown,
        states,
    };
    write(&out.join("index.html"), &index_html(&written, ran))?;
    Ok(written)
}

/// `pushtrace diagnose logs/<device>.log --pushes <its pushes> --app Comera --html -o
/// report.html --bundle bundle`, run in this process. Answers the diagnosed causes of its VoIP
/// pushes by gateway call id.
fn diagnose_device(
    out: &Path,
    ran: &Ran,
    device: &pushtrace_lab::live::LiveDevice,
) -> Result<BTreeMap<String, Vec<String>>> {
    let name = &device.run.device;
    let dir = out.join("diagnose").join(name);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut pushes = String::new();
    for record in ran
        .records
        .iter()
        .filter(|r| r.device.as_deref() == Some(device.token.as_str()))
    {
        pushes.push_str(&serde_json::to_string(record)?);
        pushes.push('\n');
    }
    let pushes_path = dir.join("pushes.jsonl");
    write(&pushes_path, &pushes)?;
    let log = out.join(format!("logs/{name}.log"));
    let bundle = dir.join("bundle");
    let report = dir.join("report.html");
    let argv: Vec<PathBuf> = vec![
        "diagnose".into(),
        log,
        "--pushes".into(),
        pushes_path,
        "--app".into(),
        PROCESS.into(),
        "--html".into(),
        "-o".into(),
        report,
        "--bundle".into(),
        bundle.clone(),
        "-q".into(),
        "--lenient".into(),
    ];
    let command = DiagnoseCommand::try_parse_from(&argv)
        .with_context(|| format!("the diagnose arguments for {name}"))?;
    crate::diagnose::run(command.args).with_context(|| format!("diagnosing {name}"))?;
    let verdicts: Value = serde_json::from_str(
        &fs::read_to_string(bundle.join("verdicts.json"))
            .with_context(|| format!("the diagnosis bundle of {name}"))?,
    )?;
    let mut causes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for item in verdicts["pushes"].as_array().into_iter().flatten() {
        if let (Some(call), Some(cause)) = (
            item["push"]["call_id"].as_str(),
            item["verdict"]["cause"].as_str(),
        ) {
            let list = causes.entry(call.to_string()).or_default();
            if !list.iter().any(|c| c == cause) {
                list.push(cause.to_string());
            }
        }
    }
    Ok(causes)
}

/// The `fleet` report over the exported push records, as `pushtrace fleet pushes.jsonl --html
/// --markdown` writes it. The thresholds are lowered to the demo's size: a few hundred phones
/// have only a handful of failures.
fn fleet_report(out: &Path) -> Result<(String, String)> {
    let reader = RecordReader::builder().fields(Table::FIELDS).build();
    let rules = OutcomeRules {
        on_time_within_micros: 60_000_000,
        no_receipt_is_failure: false,
    };
    let (table, _summary) = reader.read_path(
        &out.join("pushes.jsonl"),
        || Table::new(rules),
        &|_: u64| {},
    )?;
    let aggregates = build::aggregate(
        &table,
        &BuildOptions {
            min_support: 0.005,
            min_failures: 3,
            max_combination: 2,
        },
    );
    let report = analyze(
        &aggregates,
        &AnalysisOptions {
            min_devices: 2,
            ..AnalysisOptions::default()
        },
    );
    let html = "fleet/report.html".to_string();
    let markdown = "fleet/report.md".to_string();
    write(
        &out.join(&html),
        &pushtrace_fleet::html_report::render_html(&report),
    )?;
    write(
        &out.join(&markdown),
        &pushtrace_fleet::markdown_report::render_markdown(&report),
    )?;
    Ok((html, markdown))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn link(href: &Option<String>, label: &str) -> String {
    match href {
        Some(h) => format!("<a href=\"{}\">{label}</a>", escape(h)),
        None => String::new(),
    }
}

fn index_html(written: &Written, ran: &Ran) -> String {
    let r = &ran.report;
    let mut h = String::new();
    h.push_str(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>pushtrace demo</title><style>\
         body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d1d1f;padding:0 1rem}\
         h1{font-size:1.7rem;margin-bottom:.2rem}.sub{color:#555;margin-top:0}\
         .cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1.2rem 0}\
         .card{background:#f2f4f8;border-radius:8px;padding:.7rem 1rem;min-width:8rem}\
         .card b{display:block;font-size:1.5rem}\
         table{border-collapse:collapse;width:100%;margin:.6rem 0 1.6rem}\
         th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}\
         th{background:#e8ebf2}tr.fail td{background:#fde2e1}code{font-size:.9em}\
         a{color:#0b57d0}</style></head><body>\n",
    );
    let _ = writeln!(h, "<h1>pushtrace demo</h1>");
    let _ = writeln!(
        h,
        "<p class=\"sub\">{} simulated phones rang for {} s from {} (UTC), through the real gateway \
         (SQLite) and the APNs emulator over HTTP/2 on loopback. Each phone's state in the emulator \
         (online, offline, power-restricted) followed the lab's device model; each call's ring \
         window was {} s.</p>",
        r.devices,
        ran.timing.seconds,
        escape(&ran.timing.start.to_string()),
        ran.timing.ring_window
    );
    h.push_str("<div class=\"cards\">");
    let mut card = |label: &str, value: String| {
        let _ = write!(h, "<div class=\"card\"><b>{value}</b>{label}</div>");
    };
    card("phones", r.devices.to_string());
    card("calls", written.calls.len().to_string());
    for (state, n) in &written.states {
        card(&format!("calls {}", escape(state)), n.to_string());
    }
    card(
        "failed calls diagnosed",
        written.failed().count().to_string(),
    );
    card("receipts", r.receipts.to_string());
    card("state changes", r.state_changes.to_string());
    card("model/emulator disagreements", r.disagreements.to_string());
    h.push_str("</div>\n");

    let _ = writeln!(
        h,
        "<h2>The four stories</h2><table id=\"stories\"><tr><th>phone</th><th>what the demo did</th><th>calls</th><th>diagnosed cause</th><th>expected</th><th>files</th></tr>"
    );
    for story in &STORIES {
        let rows: Vec<&CallRow> = written
            .calls
            .iter()
            .filter(|c| c.device == story.name)
            .collect();
        let states: Vec<String> = rows.iter().map(|c| escape(&c.state)).collect();
        let causes: BTreeSet<String> = rows.iter().flat_map(|c| c.causes.clone()).collect();
        let files = rows
            .iter()
            .find(|c| c.report.is_some())
            .map(|c| {
                format!(
                    "{} · {} · {}",
                    link(&c.report, "report"),
                    link(&c.bundle, "bundle"),
                    link(&c.log, "log")
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            h,
            "<tr class=\"fail\"><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{files}</td></tr>",
            story.name,
            escape(story.what),
            states.join(", "),
            causes.into_iter().collect::<Vec<_>>().join(", "),
            story.expected.join(" or ")
        );
    }
    h.push_str("</table>\n");

    let _ = writeln!(
        h,
        "<h2>Failed calls</h2><p>Missed or failed calls, and calls whose receipt came after the deadline, each diagnosed by <code>pushtrace diagnose</code> from its phone's log and the gateway's push records.</p>"
    );
    let _ = writeln!(
        h,
        "<table id=\"failed\"><tr><th>call</th><th>phone</th><th>state</th><th>diagnosed cause</th><th>true cause (model)</th><th>timeline</th><th>diagnosis</th></tr>"
    );
    for c in written.failed() {
        let _ = writeln!(
            h,
            "<tr class=\"fail\"><td>{}</td><td>{}</td><td>{}{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{} {} {}</td></tr>",
            escape(&c.client_call_id),
            escape(&c.device),
            escape(&c.state),
            if c.late_receipt {
                " (late receipt)"
            } else {
                ""
            },
            escape(&c.causes.join(", ")),
            escape(&c.truth),
            link(&Some(c.timeline.clone()), "timeline"),
            link(&c.report, "report"),
            link(&c.bundle, "bundle"),
            link(&c.log, "log"),
        );
    }
    h.push_str("</table>\n");

    let _ = writeln!(
        h,
        "<h2>Reports</h2><ul><li>{} ({}): outcomes and latency per cohort over every push the gateway sent</li>\
         <li><a href=\"pushes.jsonl\">pushes.jsonl</a>: the gateway's push records (the input of <code>diagnose</code> and <code>fleet</code>)</li></ul>",
        link(&Some(written.fleet_html.clone()), "fleet report"),
        link(&Some(written.fleet_markdown.clone()), "Markdown")
    );

    let _ = writeln!(
        h,
        "<h2>Every call</h2><table id=\"calls\"><tr><th>call</th><th>phone</th><th>state</th><th>timeline</th></tr>"
    );
    for c in &written.calls {
        let _ = writeln!(
            h,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if c.failed() { " class=\"fail\"" } else { "" },
            escape(&c.client_call_id),
            escape(&c.device),
            escape(&c.state),
            link(&Some(c.timeline.clone()), "timeline"),
        );
    }
    h.push_str("</table>\n<p class=\"sub\">The phones are the lab's model (docs/lab.md), not real iPhones: their logs are written in the real formats from the model's state, and a diagnosis of them checks that the model and <code>diagnose</code> agree.</p>\n</body></html>\n");
    h
}
