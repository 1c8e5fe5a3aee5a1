//! Scoring a written run: `diagnose` reads each device's log with the pushes, as it would a
//! user's, and its cause is set against the lab's ground truth. The result is a confusion
//! matrix (true cause × diagnosed cause) with accuracy overall and per true cause.
//!
//! A score measures how far the model and `diagnose` agree on logs the model wrote; it says
//! nothing of real phones, whose logs only real captures can provide.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use pushtrace_devicelog::rules::RuleSet;
use pushtrace_devicelog::timeline::build;
use pushtrace_devicelog::{LocalClock, LogReader, NoProgress};
use pushtrace_diagnose::{DiagnoseOptions, PushReader, diagnose_all, is_ring};
use pushtrace_model::{Cause, PushRecord};
use serde::{Deserialize, Serialize};

use crate::log::LogFormat;
use crate::output::Written;

/// How `diagnose` did on a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Score {
    /// Pushes scored.
    pub total: u64,
    /// Pushes whose diagnosed cause is the true one.
    pub agree: u64,
    /// `agree / total` (0 for no pushes).
    pub accuracy: f64,
    /// Per true cause: how many, how many diagnosed right (`accuracy` is the cause's recall).
    pub causes: Vec<CauseScore>,
    /// Per diagnosed cause: how many pushes `diagnose` gave it, how many of them truly had it
    /// (`accuracy` is the cause's precision).
    pub diagnosed: Vec<CauseScore>,
    /// Counts by true cause, then diagnosed cause.
    pub matrix: BTreeMap<Cause, BTreeMap<Cause, u64>>,
    /// Each push diagnosed wrong, in device and push order.
    pub disagreements: Vec<Disagreement>,
    /// Missed-call alerts in the pushes file: `diagnose` reads them with the call pushes (the
    /// log shows them arriving) but gives no ring verdict, and the truth has no cause for them,
    /// so they are counted here and not scored.
    pub alerts: u64,
}

/// The pushes of one true cause.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CauseScore {
    pub cause: Cause,
    pub total: u64,
    pub agree: u64,
    pub accuracy: f64,
}

/// A push `diagnose` gave another cause than the truth.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Disagreement {
    pub push_id: String,
    pub truth: Cause,
    pub diagnosed: Cause,
    /// The verdict's explanation: why `diagnose` chose its cause.
    pub explanation: String,
}

/// A run that cannot be scored.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}:{line}: not a truth line: {message}")]
    Truth {
        path: String,
        line: usize,
        message: String,
    },
    #[error("push {push_id} in {pushes} has no truth line in {truth}")]
    NoTruth {
        push_id: String,
        pushes: String,
        truth: String,
    },
}

#[derive(Deserialize)]
struct TruthLine {
    push_id: String,
    cause: Cause,
}

fn ratio(agree: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        agree as f64 / total as f64
    }
}

/// Diagnoses every push of the run `written` against its device's log and scores the causes
/// against `truth.jsonl`.
pub fn score(written: &Written) -> Result<Score, ScoreError> {
    let read_error = |path: &Path, message: String| ScoreError::Read {
        path: path.display().to_string(),
        message,
    };
    let truth_text = std::fs::read_to_string(&written.truth)
        .map_err(|e| read_error(&written.truth, e.to_string()))?;
    let mut truth: HashMap<String, Cause> = HashMap::new();
    for (i, line) in truth_text.lines().enumerate() {
        let row: TruthLine = serde_json::from_str(line).map_err(|e| ScoreError::Truth {
            path: written.truth.display().to_string(),
            line: i + 1,
            message: e.to_string(),
        })?;
        truth.insert(row.push_id, row.cause);
    }
    let pushes = PushReader::builder()
        .build()
        .read(&written.pushes)
        .map_err(|e| read_error(&written.pushes, e.to_string()))?;
    let mut by_device: BTreeMap<String, Vec<PushRecord>> = BTreeMap::new();
    for push in pushes.pushes {
        let device = push.record.device.clone().unwrap_or_default();
        by_device.entry(device).or_default().push(push.record);
    }
    let rules = RuleSet::embedded().map_err(|e| read_error(Path::new("rules"), e.to_string()))?;
    let clock = match written.format {
        // A Console copy has no dates: the reader is given the day the run starts on.
        LogFormat::Console => LocalClock {
            date: Some(
                pushtrace_model::parse_date(&written.start_date)
                    .map_err(|e| read_error(&written.logs, e.to_string()))?,
            ),
            zone: None,
        },
        _ => LocalClock::default(),
    };
    let reader = LogReader::builder().clock(clock).threads(1).build();
    let watch = [written.app.clone()];
    let mut matrix: BTreeMap<Cause, BTreeMap<Cause, u64>> = BTreeMap::new();
    let mut disagreements = Vec::new();
    let mut alerts = 0;
    for (device, records) in &by_device {
        let path = written.log_of(device);
        let read = reader
            .read(&path, &mut NoProgress)
            .map_err(|e| read_error(&path, e.to_string()))?;
        let timeline = build(read.records, read.summary.span, &rules, &watch, None)
            .map_err(|e| read_error(&path, e.to_string()))?
            .timeline;
        let verdicts = diagnose_all(records, &timeline, &DiagnoseOptions::default());
        for (record, verdict) in records.iter().zip(verdicts) {
            if !is_ring(record) {
                alerts += 1;
                continue;
            }
            let push_id = record.push_id.clone().unwrap_or_default();
            let true_cause = *truth.get(&push_id).ok_or_else(|| ScoreError::NoTruth {
                push_id: push_id.clone(),
                pushes: written.pushes.display().to_string(),
                truth: written.truth.display().to_string(),
            })?;
            *matrix
                .entry(true_cause)
                .or_default()
                .entry(verdict.cause)
                .or_default() += 1;
            if verdict.cause != true_cause {
                disagreements.push(Disagreement {
                    push_id,
                    truth: true_cause,
                    diagnosed: verdict.cause,
                    explanation: verdict.explanation,
                });
            }
        }
    }
    let causes: Vec<CauseScore> = matrix
        .iter()
        .map(|(&cause, row)| {
            let total = row.values().sum();
            let agree = row.get(&cause).copied().unwrap_or(0);
            CauseScore {
                cause,
                total,
                agree,
                accuracy: ratio(agree, total),
            }
        })
        .collect();
    let mut by_diagnosis: BTreeMap<Cause, (u64, u64)> = BTreeMap::new();
    for (&truth, row) in &matrix {
        for (&diagnosed, &n) in row {
            let entry = by_diagnosis.entry(diagnosed).or_default();
            entry.0 += n;
            if diagnosed == truth {
                entry.1 += n;
            }
        }
    }
    let diagnosed = by_diagnosis
        .into_iter()
        .map(|(cause, (total, agree))| CauseScore {
            cause,
            total,
            agree,
            accuracy: ratio(agree, total),
        })
        .collect();
    let total = causes.iter().map(|c| c.total).sum();
    let agree = causes.iter().map(|c| c.agree).sum();
    Ok(Score {
        total,
        agree,
        accuracy: ratio(agree, total),
        causes,
        diagnosed,
        matrix,
        disagreements,
        alerts,
    })
}

impl fmt::Display for Score {
    /// The matrix as a table: a row per true cause, a column per diagnosed cause (numbered,
    /// the causes' names are long), then the row's accuracy.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut columns: Vec<Cause> = self
            .matrix
            .values()
            .flat_map(|row| row.keys().copied())
            .collect();
        columns.sort();
        columns.dedup();
        let width = self
            .matrix
            .keys()
            .map(|c| c.as_str().len())
            .max()
            .unwrap_or(0)
            .max("true cause \\ diagnosed".len());
        write!(f, "{:<width$}", "true cause \\ diagnosed")?;
        for i in 0..columns.len() {
            write!(f, " {:>7}", format!("[{}]", i + 1))?;
        }
        writeln!(f, " {:>9}", "accuracy")?;
        for score in &self.causes {
            write!(f, "{:<width$}", score.cause.as_str())?;
            let row = &self.matrix[&score.cause];
            for column in &columns {
                match row.get(column) {
                    Some(n) => write!(f, " {n:>7}")?,
                    None => write!(f, " {:>7}", ".")?,
                }
            }
            writeln!(
                f,
                " {:>8.1}%  ({}/{})",
                score.accuracy * 100.0,
                score.agree,
                score.total
            )?;
        }
        for (i, column) in columns.iter().enumerate() {
            writeln!(f, "[{}] {}", i + 1, column.as_str())?;
        }
        write!(
            f,
            "overall {:.1}% ({}/{})",
            self.accuracy * 100.0,
            self.agree,
            self.total
        )
    }
}
