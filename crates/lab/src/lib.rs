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
//! device's log in `log show --style syslog` (worded as the catalogue `diagnose` reads) and
//! the truth.
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

pub mod fleet;
pub mod log;
pub mod output;
pub mod scenario;
pub mod sim;

pub use fleet::{FleetSummary, run_fleet};
pub use output::{WriteError, Written, write_run};
pub use scenario::{Scenario, ScenarioError};
pub use sim::{DeviceRun, PushTruth, simulate_device};
