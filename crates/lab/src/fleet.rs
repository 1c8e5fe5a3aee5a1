//! Running a whole fleet: devices sharded across threads, results tallied per cause.

use std::collections::BTreeMap;

use crate::scenario::Scenario;
use crate::sim::{DeviceRun, simulate_device};

/// What a fleet run counted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FleetSummary {
    pub devices: u64,
    pub pushes: u64,
    pub rang: u64,
    pub stale_rings: u64,
    pub missed_call_notices: u64,
    /// By outcome and cause wire names (`late`, `reconnect_abandoned_power_policy`).
    pub by_outcome: BTreeMap<&'static str, u64>,
    pub by_cause: BTreeMap<&'static str, u64>,
    /// Calls, and what became of them (`CallTruth`).
    pub calls: CallCounts,
    /// Simulated device-days.
    pub device_days: f64,
}

/// What became of a fleet's calls. A call is one or more pushes (resends), plus the
/// missed-call fallback when it is on.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CallCounts {
    pub calls: u64,
    /// A push of the call rang by the deadline.
    pub rang_in_time: u64,
    /// A push of the call rang after the caller gave up.
    pub stale_rings: u64,
    /// The app posted its own missed-call notification (`mustReport` false).
    pub missed_call_notices: u64,
    /// Call pushes sent, and the sum of their squares per call (for the spread).
    pub pushes: u64,
    pub pushes_squared: u64,
    pub fallbacks_sent: u64,
    pub fallbacks_shown: u64,
    /// Calls that did not ring in time whose callee learned of them from the fallback alone.
    pub fallback_saves: u64,
}

impl CallCounts {
    /// Calls that did not ring in time (stale rings included: the caller had gone).
    pub fn missed(&self) -> u64 {
        self.calls - self.rang_in_time
    }

    fn merge(&mut self, other: &CallCounts) {
        self.calls += other.calls;
        self.rang_in_time += other.rang_in_time;
        self.stale_rings += other.stale_rings;
        self.missed_call_notices += other.missed_call_notices;
        self.pushes += other.pushes;
        self.pushes_squared += other.pushes_squared;
        self.fallbacks_sent += other.fallbacks_sent;
        self.fallbacks_shown += other.fallbacks_shown;
        self.fallback_saves += other.fallback_saves;
    }
}

impl FleetSummary {
    fn add(&mut self, run: &DeviceRun) {
        self.devices += 1;
        for p in &run.pushes {
            self.pushes += 1;
            self.rang += u64::from(p.rang);
            self.stale_rings += u64::from(p.stale_ring);
            self.missed_call_notices += u64::from(p.missed_call_notice);
            *self.by_outcome.entry(p.outcome.as_str()).or_default() += 1;
            *self.by_cause.entry(p.cause.as_str()).or_default() += 1;
        }
        let c = &mut self.calls;
        for call in &run.calls {
            c.calls += 1;
            c.rang_in_time += u64::from(call.rang_in_time);
            c.stale_rings += u64::from(call.stale_ring);
            c.missed_call_notices += u64::from(call.missed_call_notice);
            c.pushes += u64::from(call.pushes);
            c.pushes_squared += u64::from(call.pushes) * u64::from(call.pushes);
            c.fallbacks_sent += u64::from(call.fallback.is_some());
            c.fallbacks_shown += u64::from(call.fallback.is_some_and(|f| f.shown_at.is_some()));
            c.fallback_saves += u64::from(call.fallback_saved());
        }
    }

    fn merge(&mut self, other: FleetSummary) {
        self.devices += other.devices;
        self.pushes += other.pushes;
        self.rang += other.rang;
        self.stale_rings += other.stale_rings;
        self.missed_call_notices += other.missed_call_notices;
        self.calls.merge(&other.calls);
        for (k, v) in other.by_outcome {
            *self.by_outcome.entry(k).or_default() += v;
        }
        for (k, v) in other.by_cause {
            *self.by_cause.entry(k).or_default() += v;
        }
    }
}

/// Simulates every device of the scenario on `threads` threads (at least one), handing each
/// device's run to `each` on the thread that made it, and returns the tallies. Device `i` is
/// simulated the same way whatever the thread count: runs are reproducible.
pub fn run_fleet<F>(scenario: &Scenario, threads: usize, logging: bool, each: F) -> FleetSummary
where
    F: Fn(DeviceRun) + Sync,
{
    let threads = threads.max(1);
    let devices = scenario.fleet.devices;
    let mut summary = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|shard| {
                let each = &each;
                scope.spawn(move || {
                    let mut summary = FleetSummary::default();
                    let mut index = shard as u32;
                    while index < devices {
                        let run = simulate_device(scenario, index, logging);
                        summary.add(&run);
                        each(run);
                        index += threads as u32;
                    }
                    summary
                })
            })
            .collect();
        let mut total = FleetSummary::default();
        for worker in workers {
            match worker.join() {
                Ok(part) => total.merge(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        total
    });
    summary.device_days = f64::from(devices) * scenario.fleet.duration.micros() as f64 / 86_400e6;
    tracing::debug!(devices, pushes = summary.pushes, "fleet simulated");
    summary
}
