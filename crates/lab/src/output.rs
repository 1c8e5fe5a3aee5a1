//! Writing a run to disk: the pushes file (the fleet input contract), each device's log in the
//! form asked for (`log show --style syslog` by default), and the ground truth beside them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

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

/// Where a written run lives: `pushes.jsonl`, `truth.jsonl`, `logs/<device>.<ext>`.
#[derive(Clone, Debug)]
pub struct Written {
    pub pushes: PathBuf,
    pub truth: PathBuf,
    pub logs: PathBuf,
    /// The form of the logs, and the day the run starts on in its zone (`YYYY-MM-DD`): what a
    /// reader of a Console copy must be told.
    pub format: LogFormat,
    pub start_date: String,
    /// The app's process name, which the timeline follows.
    pub app: String,
    pub summary: FleetSummary,
}

impl Written {
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
}

#[derive(Serialize)]
struct TruthLine<'a> {
    push_id: String,
    device: &'a str,
    outcome: &'a str,
    cause: &'a str,
    rang: bool,
    stale_ring: bool,
    missed_call_notice: bool,
}

/// Simulates the scenario and writes it under `dir` (created if missing).
pub fn write_run(
    scenario: &Scenario,
    options: &RunOptions,
    dir: &Path,
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
        for p in &run.pushes {
            serde_json::to_writer(&mut *out, &run.record(scenario, p))?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })?;
    write_lines(&truth_path, &|run, out| {
        for p in &run.pushes {
            let line = TruthLine {
                push_id: format!("{}-{}", run.device, p.seq),
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
    let day = start.local();
    Ok(Written {
        pushes: pushes_path,
        truth: truth_path,
        logs,
        format: options.format,
        start_date: format!("{:04}-{:02}-{:02}", day.year, day.month, day.day),
        app: scenario.app.process.clone(),
        summary,
    })
}
