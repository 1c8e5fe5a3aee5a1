//! What really happened to one push: the record its server would export, and the truth the
//! diagnosis is scored against.

use pushtrace_model::{Cause, Outcome, PushRecord};

/// One push with its ground truth.
#[derive(Clone, Debug, PartialEq)]
pub struct PushTruth {
    /// The push as its server saw it, with the app's receipt when it posted one.
    pub record: PushRecord,
    pub outcome: Outcome,
    /// Why it failed or was late (`Cause::None` when it rang in time).
    pub cause: Cause,
    /// The phone rang for it.
    pub rang: bool,
    /// It rang after the caller gave up.
    pub stale_ring: bool,
    /// The app posted a missed-call notification instead (`mustReport` false).
    pub missed_call_notice: bool,
}

/// Why a push waited at APNs: decided when it was sent, sharpened when it resolves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// The device was off the network (or reconnecting).
    Offline { abandons: u32 },
    /// Connected but power-restricted, and the push does not wake.
    PowerRestricted,
}

impl Waiting {
    /// The cause, given how many reconnects had been abandoned by the time it resolved.
    pub fn cause(self, abandons_now: u32, abandoned_now: bool) -> Cause {
        match self {
            Waiting::PowerRestricted => Cause::PowerDeferred,
            Waiting::Offline { abandons } if abandons_now > abandons || abandoned_now => {
                Cause::ReconnectAbandonedPowerPolicy
            }
            Waiting::Offline { .. } => Cause::DeviceOfflineRadio,
        }
    }
}
