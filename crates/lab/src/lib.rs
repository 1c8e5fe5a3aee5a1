//! A lab for VoIP push delivery: a model of the iPhone and its networks, a virtual-time fleet
//! simulator, and outputs with ground truth.
//!
//! # Brief overview
//!
//! A [`Scenario`] (`scenarios/*.toml`, `docs/lab.md`) describes a fleet: its networks (cellular
//! radio and Wi-Fi outages), apsd (reconnects, back-off, keep-alive), powerd (display, assertion
//! policy 3, wakes), the app (CallKit reports, iOS's kills and blocks, iOS 26.4's
//! `mustReport`), the calls and how they are sent, and APNs store-and-forward as the emulator
//! implements it. [`simulate_device`] runs one device's events in virtual time and returns each
//! push as a [`PushTruth`]: the [`PushRecord`](pushtrace_model::PushRecord) its server would
//! export, whether the phone rang, and the true [`Cause`](pushtrace_model::Cause) of a failure.
//! [`run_fleet`] shards devices across threads; [`write_run`] writes the pushes file, each
//! device's log (worded as the catalogue `diagnose` reads, in any [`LogFormat`] `diagnose`
//! reads, optionally with noise) and the truth; [`score()`] runs `diagnose` over a written run
//! and sets its causes against the truth. Each call (its pushes and resends, and the
//! missed-call fallback) has a [`CallTruth`]; [`compare()`] runs the same phones and calls under
//! several sending [`Strategy`]s and reports what became of the calls, with intervals.
//!
//! ```
//! use pushtrace_lab::{Scenario, run_fleet};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/founding-incident.toml");
//! let scenario = Scenario::load(std::path::Path::new(path)).unwrap();
//! let summary = run_fleet(&scenario, 1, false, |_| {});
//! assert_eq!(summary.devices, 1);
//! assert_eq!(summary.pushes, 1);
//! ```

pub mod compare;
pub mod fleet;
pub mod live;
pub mod log;
pub mod output;
pub mod scenario;
pub mod score;
pub mod sim;
pub mod strategy;

pub use compare::{Comparison, Strategy, StrategyError, compare};
pub use fleet::{CallCounts, FleetSummary, run_fleet};
pub use log::LogFormat;
pub use output::{
    RunOptions, WriteError, Written, format_name, parse_format, write_run, write_run_with_progress,
};
pub use scenario::{Scenario, ScenarioError};
pub use score::{Score, ScoreError, score};
pub use sim::{CallTruth, DeviceRun, PushTruth, simulate_device};
