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
    /// Simulated device-days.
    pub device_days: f64,
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
    }

    fn merge(&mut self, other: FleetSummary) {
        self.devices += other.devices;
        self.pushes += other.pushes;
        self.rang += other.rang;
        self.stale_rings += other.stale_rings;
        self.missed_call_notices += other.missed_call_notices;
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
