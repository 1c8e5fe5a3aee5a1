//! Writing a run to disk: the pushes file (the fleet input contract), each device's log in
//! `log show --style syslog`, and the ground truth beside them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use crate::log::write_syslog;
use crate::scenario::Scenario;
use crate::sim::DeviceRun;
use crate::{FleetSummary, run_fleet};

/// Where a written run lives: `pushes.jsonl`, `truth.jsonl`, `logs/<device>.log`.
#[derive(Clone, Debug)]
pub struct Written {
    pub pushes: PathBuf,
    pub truth: PathBuf,
    pub logs: PathBuf,
    pub summary: FleetSummary,
}

/// An output that cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the lab's output {path}: {source}")]
pub struct WriteError {
    pub path: String,
    pub source: std::io::Error,
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
pub fn write_run(scenario: &Scenario, threads: usize, dir: &Path) -> Result<Written, WriteError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| WriteError { path, source }
    };
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(io(&logs))?;
    let pushes_path = dir.join("pushes.jsonl");
    let truth_path = dir.join("truth.jsonl");
    let runs: Mutex<Vec<DeviceRun>> = Mutex::new(Vec::new());
    let failed: Mutex<Option<WriteError>> = Mutex::new(None);
    let summary = run_fleet(scenario, threads, true, |mut run| {
        let path = logs.join(format!("{}.log", run.device));
        let written = File::create(&path).and_then(|f| {
            let mut out = BufWriter::new(f);
            write_syslog(
                &mut out,
                &run.log,
                scenario.fleet.start.offset(),
                &scenario.app.process,
            )?;
            out.flush()
        });
        if let Err(e) = written {
            let mut failed = failed.lock().unwrap_or_else(|p| p.into_inner());
            failed.get_or_insert(io(&path)(e));
        }
        run.log = Vec::new();
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
    Ok(Written {
        pushes: pushes_path,
        truth: truth_path,
        logs,
        summary,
    })
}
