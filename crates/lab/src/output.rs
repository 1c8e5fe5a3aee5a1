//! Writing a run to disk: the pushes file (the fleet input contract), each device's log in the
//! form asked for (`log show --style syslog` by default), and the ground truth beside them, per
//! push and per call; `run.json` says how the run was written, so [`Written::open`] can score
//! it later.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::log::{LogFormat, with_noise, write_log};
use crate::scenario::Scenario;
use crate::sim::DeviceRun;
use crate::{FleetSummary, run_fleet};

/// How a run is written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunOptions {
    /// Threads to simulate on (at least 1).
    pub threads: usize,
    /// The form of the device logs.
    pub format: LogFormat,
    /// The share of log lines that are noise from chatty processes (0 to 1, below 1; 0: none).
    pub noise: f64,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            threads: 1,
            format: LogFormat::Syslog,
            noise: 0.0,
        }
    }
}

/// Where a written run lives: `pushes.jsonl`, `truth.jsonl`, `calls.jsonl`, `run.json`,
/// `logs/<device>.<ext>`.
#[derive(Clone, Debug)]
pub struct Written {
    pub pushes: PathBuf,
    pub truth: PathBuf,
    pub calls: PathBuf,
    pub logs: PathBuf,
    /// The form of the logs, and the day the run starts on in its zone (`YYYY-MM-DD`): what a
    /// reader of a Console copy must be told.
    pub format: LogFormat,
    pub start_date: String,
    /// The app's process name, which the timeline follows.
    pub app: String,
    /// The tallies of the run; `None` for a run read back with [`Written::open`].
    pub summary: Option<FleetSummary>,
}

/// The name of a log format, as `--format` and `run.json` write it.
pub fn format_name(format: LogFormat) -> &'static str {
    match format {
        LogFormat::Syslog => "syslog",
        LogFormat::Default => "default",
        LogFormat::Ndjson => "ndjson",
        LogFormat::Json => "json",
        LogFormat::Console => "console",
    }
}

/// The log format named `name` (`syslog`, `default`, `ndjson`, `json`, `console`).
pub fn parse_format(name: &str) -> Option<LogFormat> {
    LogFormat::ALL.into_iter().find(|&f| format_name(f) == name)
}

/// `run.json`: what a reader of the run needs beyond the files themselves.
#[derive(Serialize, Deserialize)]
struct RunFile {
    scenario: String,
    format: String,
    start_date: String,
    app: String,
    devices: u64,
}

impl Written {
    /// A run written earlier under `dir`, as its `run.json` describes it.
    pub fn open(dir: &Path) -> Result<Written, WriteError> {
        let path = dir.join("run.json");
        let text = std::fs::read_to_string(&path).map_err(|source| WriteError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let run: RunFile = serde_json::from_str(&text).map_err(|e| WriteError::NotARun {
            path: path.display().to_string(),
            why: e.to_string(),
        })?;
        let format = parse_format(&run.format).ok_or_else(|| WriteError::NotARun {
            path: path.display().to_string(),
            why: format!("unknown log format `{}`", run.format),
        })?;
        Ok(Written {
            pushes: dir.join("pushes.jsonl"),
            truth: dir.join("truth.jsonl"),
            calls: dir.join("calls.jsonl"),
            logs: dir.join("logs"),
            format,
            start_date: run.start_date,
            app: run.app,
            summary: None,
        })
    }

    /// The log of `device` (`lab-000042`).
    pub fn log_of(&self, device: &str) -> PathBuf {
        self.logs
            .join(format!("{device}.{}", self.format.extension()))
    }
}

/// A run that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write the lab's output {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("a noise share of {0} is not a share below 1: use 0 (no noise) to 0.99")]
    NoiseShare(f64),
    #[error(
        "{path} does not describe a lab run ({why}): give the folder `pushtrace lab run --out` wrote"
    )]
    NotARun { path: String, why: String },
}

#[derive(Serialize)]
struct TruthLine<'a> {
    push_id: String,
    call_id: String,
    attempt: u32,
    device: &'a str,
    outcome: &'a str,
    cause: &'a str,
    rang: bool,
    stale_ring: bool,
    missed_call_notice: bool,
}

#[derive(Serialize)]
struct CallLine<'a> {
    call_id: String,
    device: &'a str,
    pushes: u32,
    rang_in_time: bool,
    stale_ring: bool,
    missed_call_notice: bool,
    fallback_sent: bool,
    fallback_shown: bool,
    fallback_saved: bool,
}

/// Simulates the scenario and writes it under `dir` (created if missing).
pub fn write_run(
    scenario: &Scenario,
    options: &RunOptions,
    dir: &Path,
) -> Result<Written, WriteError> {
    write_run_with_progress(scenario, options, dir, &|| {})
}

/// [`write_run`], calling `device_done` (from the simulating threads) as each device's log is
/// written.
pub fn write_run_with_progress(
    scenario: &Scenario,
    options: &RunOptions,
    dir: &Path,
    device_done: &(dyn Fn() + Sync),
) -> Result<Written, WriteError> {
    if !(0.0..1.0).contains(&options.noise) {
        return Err(WriteError::NoiseShare(options.noise));
    }
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| WriteError::Io { path, source }
    };
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(io(&logs))?;
    let pushes_path = dir.join("pushes.jsonl");
    let truth_path = dir.join("truth.jsonl");
    let calls_path = dir.join("calls.jsonl");
    let runs: Mutex<Vec<DeviceRun>> = Mutex::new(Vec::new());
    let failed: Mutex<Option<WriteError>> = Mutex::new(None);
    let start = scenario.fleet.start;
    let summary = run_fleet(scenario, options.threads, true, |mut run| {
        let path = logs.join(format!("{}.{}", run.device, options.format.extension()));
        let lines = with_noise(
            std::mem::take(&mut run.log),
            options.noise,
            scenario.fleet.seed,
            &run.device,
        );
        let written = File::create(&path).and_then(|f| {
            let mut out = BufWriter::new(f);
            write_log(
                &mut out,
                options.format,
                &lines,
                start.offset(),
                &scenario.app.process,
            )?;
            out.flush()
        });
        if let Err(e) = written {
            let mut failed = failed.lock().unwrap_or_else(|p| p.into_inner());
            failed.get_or_insert(io(&path)(e));
        }
        runs.lock().unwrap_or_else(|p| p.into_inner()).push(run);
        device_done();
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut runs = runs.into_inner().unwrap_or_else(|p| p.into_inner());
    runs.sort_by(|a, b| a.device.cmp(&b.device));
    let write_lines =
        |path: &Path, line: &dyn Fn(&DeviceRun, &mut dyn Write) -> std::io::Result<()>| {
            let f = File::create(path).map_err(io(path))?;
            let mut out = BufWriter::new(f);
            for run in &runs {
                line(run, &mut out).map_err(io(path))?;
            }
            out.flush().map_err(io(path))
        };
    write_lines(&pushes_path, &|run, out| {
        // The call pushes and the missed-call alerts, in the order the server sent them.
        let mut records: Vec<_> = run.pushes.iter().map(|p| run.record(scenario, p)).collect();
        records.extend(run.calls.iter().zip(0u32..).filter_map(|(c, i)| {
            let alert = c.fallback?;
            Some(alert.record(scenario, &run.device, &run.os, run.interface, c, i))
        }));
        records.sort_by_key(|r| r.sent_at.utc_micros());
        for record in &records {
            serde_json::to_writer(&mut *out, record)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })?;
    write_lines(&truth_path, &|run, out| {
        for p in &run.pushes {
            let line = TruthLine {
                push_id: format!("{}-{}", run.device, p.seq),
                call_id: format!("call-{}-{}", run.device, p.call + 1),
                attempt: p.attempt,
                device: &run.device,
                outcome: p.outcome.as_str(),
                cause: p.cause.as_str(),
                rang: p.rang,
                stale_ring: p.stale_ring,
                missed_call_notice: p.missed_call_notice,
            };
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })?;
    write_lines(&calls_path, &|run, out| {
        for (i, c) in run.calls.iter().enumerate() {
            let line = CallLine {
                call_id: format!("call-{}-{}", run.device, i + 1),
                device: &run.device,
                pushes: c.pushes,
                rang_in_time: c.rang_in_time,
                stale_ring: c.stale_ring,
                missed_call_notice: c.missed_call_notice,
                fallback_sent: c.fallback.is_some(),
                fallback_shown: c.fallback.is_some_and(|f| f.shown_at.is_some()),
                fallback_saved: c.fallback_saved(),
            };
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })?;
    let day = start.local();
    let start_date = format!("{:04}-{:02}-{:02}", day.year, day.month, day.day);
    let run_path = dir.join("run.json");
    let run_file = RunFile {
        scenario: scenario.fleet.name.clone(),
        format: format_name(options.format).to_string(),
        start_date: start_date.clone(),
        app: scenario.app.process.clone(),
        devices: summary.devices,
    };
    let text = serde_json::to_string_pretty(&run_file).map_err(|e| WriteError::Io {
        path: run_path.display().to_string(),
        source: e.into(),
    })?;
    std::fs::write(&run_path, text + "\n").map_err(io(&run_path))?;
    Ok(Written {
        pushes: pushes_path,
        truth: truth_path,
        calls: calls_path,
        logs,
        format: options.format,
        start_date,
        app: scenario.app.process.clone(),
        summary: Some(summary),
    })
}
