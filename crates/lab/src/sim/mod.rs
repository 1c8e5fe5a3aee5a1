//! The virtual-time discrete-event simulator: one event queue per device, devices sharded
//! across threads.

mod apns;
mod device;
mod event;
mod queue;
mod truth;

pub use apns::MAX_STORAGE_MICROS;
pub use device::DeviceRun;
pub use truth::{CallTruth, Fallback, PushTruth};

use crate::scenario::Scenario;

/// Simulates device `index` of the fleet; with `logging`, keeps its log lines. Device 0 also
/// plays the scenario's script.
pub fn simulate_device(scenario: &Scenario, index: u32, logging: bool) -> DeviceRun {
    device::Device::new(scenario, index, logging).run(index == 0)
}
