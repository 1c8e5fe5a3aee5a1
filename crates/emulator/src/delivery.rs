//! The delivery model's public types: device states, Apple's delivery-log categories, the per-push
//! log, the schedule, and the seam for the delivery hook (docs/reference/apns.md §4, §6 items
//! 9–11).

use std::fmt;
use std::sync::Arc;

use pushtrace_apns::{ApnsId, DeviceToken, Environment};
use serde::{Deserialize, Serialize};

use crate::AcceptedPush;

/// How long APNs keeps a stored push at most, and what a push without `apns-expiration` gets
/// (docs/reference/apns.md §4.1: "30 days or less").
pub const MAX_STORAGE_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// A simulated device's reachability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Connected: pushes are delivered at once.
    #[default]
    Online,
    /// Not connected: pushes are stored (one per topic) until it comes back, or expire.
    Offline,
    /// Connected, but in a restricted power state (Low Power Mode). The emulator's model
    /// (docs/reference/apns.md §4.1 says only "may defer and store"): priority 10 pushes, which
    /// wake the device, are delivered at once; priority 5 and 1 pushes are stored with
    /// [`Category::StoredPowerConsiderations`] until the device leaves the state.
    PowerRestricted,
}

impl DeviceState {
    /// Whether a push of this urgency (`waking`: priority 10) reaches the device now.
    pub(crate) fn reaches(self, waking: bool) -> bool {
        match self {
            DeviceState::Online => true,
            DeviceState::Offline => false,
            DeviceState::PowerRestricted => waking,
        }
    }
}

/// A delivery-log category, as named by Apple's Push Notifications Console metrics
/// (docs/reference/apns.md §4.3), plus one emulator-only category for a stored push replaced by a
/// newer one. [`fmt::Display`] gives the exact label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// "Received by APNs".
    Received,
    /// "Stored - Device Offline".
    StoredDeviceOffline,
    /// "Stored - Power Considerations".
    StoredPowerConsiderations,
    /// "Delivered to Device".
    Delivered,
    /// "Delivered to Device (From Storage)".
    DeliveredFromStorage,
    /// "Discarded - Expired": a stored push reached its expiration, or an `apns-expiration: 0`
    /// push found the device unreachable at its one attempt.
    DiscardedExpired,
    /// "Discarded - Token Unregistered": the token became invalid before a pending
    /// (delayed, not stored) attempt.
    DiscardedTokenUnregistered,
    /// "Discarded - Token Unregistered (From Storage)": the token became invalid while stored.
    DiscardedTokenUnregisteredFromStorage,
    /// "Discarded - Disabled": the user disabled notifications. Listed for completeness; the
    /// emulator has no "notifications disabled" switch yet, so it is never emitted.
    DiscardedDisabled,
    /// "Discarded - Disabled (From Storage)". Never emitted (see above).
    DiscardedDisabledFromStorage,
    /// "Discarded - Replaced (emulator)": **not an Apple category**. A stored push overwritten by a
    /// newer one for the same topic and device (docs/reference/apns.md §4.1: one stored push per
    /// app); Apple does not say how that shows in its metrics.
    DiscardedReplaced,
}

impl Category {
    /// Every category, in the order of the Console's list (the emulator's own last).
    pub const ALL: [Category; 11] = [
        Category::Received,
        Category::Delivered,
        Category::DeliveredFromStorage,
        Category::StoredDeviceOffline,
        Category::StoredPowerConsiderations,
        Category::DiscardedTokenUnregistered,
        Category::DiscardedTokenUnregisteredFromStorage,
        Category::DiscardedExpired,
        Category::DiscardedDisabled,
        Category::DiscardedDisabledFromStorage,
        Category::DiscardedReplaced,
    ];

    /// The label (Apple's, except [`Category::DiscardedReplaced`]).
    pub fn label(self) -> &'static str {
        match self {
            Category::Received => "Received by APNs",
            Category::StoredDeviceOffline => "Stored - Device Offline",
            Category::StoredPowerConsiderations => "Stored - Power Considerations",
            Category::Delivered => "Delivered to Device",
            Category::DeliveredFromStorage => "Delivered to Device (From Storage)",
            Category::DiscardedExpired => "Discarded - Expired",
            Category::DiscardedTokenUnregistered => "Discarded - Token Unregistered",
            Category::DiscardedTokenUnregisteredFromStorage => {
                "Discarded - Token Unregistered (From Storage)"
            }
            Category::DiscardedDisabled => "Discarded - Disabled",
            Category::DiscardedDisabledFromStorage => "Discarded - Disabled (From Storage)",
            Category::DiscardedReplaced => "Discarded - Replaced (emulator)",
        }
    }

    /// A delivery.
    pub fn is_delivered(self) -> bool {
        matches!(self, Category::Delivered | Category::DeliveredFromStorage)
    }

    /// A storage event.
    pub fn is_stored(self) -> bool {
        matches!(
            self,
            Category::StoredDeviceOffline | Category::StoredPowerConsiderations
        )
    }

    /// A discard.
    pub fn is_discarded(self) -> bool {
        !(self == Category::Received || self.is_delivered() || self.is_stored())
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One timestamped event of a push's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryEvent {
    /// When, ms since the epoch (the emulator's clock; for scheduled and expiry events, the
    /// time they were due, even when processed later).
    pub at_ms: u64,
    /// What happened.
    pub category: Category,
}

/// The delivery log of one accepted push (the Console's Delivery Log, keyed by
/// `apns-unique-id`; `apns-id` too, since production has no unique id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The environment it arrived on.
    pub environment: Environment,
    /// `apns-id` as answered.
    pub apns_id: ApnsId,
    /// `apns-unique-id` (sandbox only).
    pub unique_id: Option<ApnsId>,
    /// The device token.
    pub token: DeviceToken,
    /// `apns-topic`.
    pub topic: String,
    /// Events, oldest first; the first is always [`Category::Received`].
    pub events: Vec<DeliveryEvent>,
}

impl DeliveryRecord {
    /// The categories in order.
    pub fn categories(&self) -> Vec<Category> {
        self.events.iter().map(|e| e.category).collect()
    }

    /// The latest event.
    pub fn last(&self) -> Option<DeliveryEvent> {
        self.events.last().copied()
    }

    /// Whether the push is still stored (its latest event is a storage event).
    pub fn is_stored(&self) -> bool {
        self.last().is_some_and(|e| e.category.is_stored())
    }

    /// When it was delivered, if it was.
    pub fn delivered_at_ms(&self) -> Option<u64> {
        self.events
            .iter()
            .find(|e| e.category.is_delivered())
            .map(|e| e.at_ms)
    }
}

/// A device-state change applied when the emulator's clock reaches `at_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleEntry {
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// The device's environment.
    pub environment: Environment,
    /// The device token.
    pub token: DeviceToken,
    /// The new state.
    pub state: DeviceState,
}

/// A push reaching a simulated device, as given to a [`DeliveryHook`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The push as accepted (ids, token, topic, payload, receive time).
    pub push: AcceptedPush,
    /// When it reached the device, ms since the epoch.
    pub delivered_at_ms: u64,
    /// Delivered from storage (after the device came back) rather than at once.
    pub from_storage: bool,
}

/// Called on every delivery ([`Category::Delivered`] and [`Category::DeliveredFromStorage`]),
/// after the log was updated and outside the emulator's locks, on the task that caused it (a
/// request handler, [`crate::EmulatorHandle::tick`], or the system-clock ticker). It must not
/// block: an implementation doing I/O should hand the delivery to a task. Closures
/// `Fn(&Delivery)` implement it.
pub trait DeliveryHook: Send + Sync + 'static {
    /// A push reached its device.
    fn delivered(&self, delivery: &Delivery);
}

impl<F> DeliveryHook for F
where
    F: Fn(&Delivery) + Send + Sync + 'static,
{
    fn delivered(&self, delivery: &Delivery) {
        self(delivery)
    }
}

/// An optional hook that the builder can clone and print.
#[derive(Clone, Default)]
pub(crate) struct HookSlot(pub(crate) Option<Arc<dyn DeliveryHook>>);

impl fmt::Debug for HookSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Some(hook)"
        } else {
            "None"
        })
    }
}
