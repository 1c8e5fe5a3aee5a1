//! Runs a scenario, writes it, and prints how `diagnose` scores on it: `cargo run --release -p
//! pushtrace-lab --example score -- [scenario] [devices] [format] [noise]` (defaults:
//! scenarios/founding-incident.toml, the scenario's own count, syslog, 0). `format` is one of
//! syslog, default, ndjson, json, console; `noise` a share of lines from 0 to 0.99.

use std::path::PathBuf;

use pushtrace_lab::{LogFormat, RunOptions, Scenario, score, write_run};

fn fail(message: String) -> ! {
    eprintln!("{message}");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scenarios/founding-incident.toml"
        ))
    });
    let mut scenario = Scenario::load(&path).unwrap_or_else(|e| fail(e.to_string()));
    if let Some(devices) = args.get(1) {
        scenario.fleet.devices = devices
            .parse()
            .unwrap_or_else(|_| fail(format!("devices (`{devices}`) must be a whole number")));
    }
    let format = match args.get(2).map(String::as_str) {
        None | Some("syslog") => LogFormat::Syslog,
        Some("default") => LogFormat::Default,
        Some("ndjson") => LogFormat::Ndjson,
        Some("json") => LogFormat::Json,
        Some("console") => LogFormat::Console,
        Some(other) => fail(format!(
            "format `{other}`: use syslog, default, ndjson, json or console"
        )),
    };
    let noise = args.get(3).map_or(0.0, |n| {
        n.parse()
            .unwrap_or_else(|_| fail(format!("noise (`{n}`) must be a share such as 0.69")))
    });
    let options = RunOptions {
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        format,
        noise,
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| fail(format!("no temporary folder: {e}")));
    let written =
        write_run(&scenario, &options, dir.path()).unwrap_or_else(|e| fail(e.to_string()));
    let score = score(&written).unwrap_or_else(|e| fail(e.to_string()));
    println!("{score}");
}
