//! What ended an outage: the earliest line after the send that shows the device could take a
//! push again. Which lines count depends on what kept it away: for a radio outage the network
//! coming back (registration, RRC connected, a path satisfied, an interface up, APNs traffic)
//! ends it as surely as a wake; for a power-policy outage only a wake (an incoming cellular call,
//! the user, the display) or APNs traffic does.

use std::time::Duration;

use pushtrace_model::duration::after;
use pushtrace_model::{Cause, DeviceEvent, EventKind, Recovery, Timestamp};

use super::Context;

/// A wake may be stamped just after the arrival it caused.
const AFTER_ARRIVAL: Duration = Duration::from_secs(5);

/// The line that ended the outage begun at `from`, up to shortly after `until`, and what it was.
pub(super) fn find<'a>(
    cx: &Context<'a>,
    cause: Cause,
    from: Timestamp,
    until: Timestamp,
) -> Option<(Recovery, &'a DeviceEvent)> {
    let horizon = after(until, AFTER_ARRIVAL);
    let network_counts = matches!(
        cause,
        Cause::DeviceOfflineRadio | Cause::ExpiredWhileOffline | Cause::NetworkPathSuspect
    );
    cx.timeline
        .events
        .iter()
        .filter(|e| e.at > from && e.at <= horizon)
        .find_map(|e| kind(&e.kind, network_counts).map(|r| (r, e)))
}

fn kind(event: &EventKind, network_counts: bool) -> Option<Recovery> {
    match event {
        EventKind::CallWake { .. } => Some(Recovery::IncomingCellularCallWake),
        EventKind::DisplayState {
            display_off: false, ..
        }
        | EventKind::TopicPolicyState {
            system_locked: Some(false),
            ..
        } => Some(Recovery::UserUnlockOrDisplayOn),
        EventKind::ApnsConnected { .. } | EventKind::ApnsDataReceived { .. } => {
            Some(Recovery::NetworkChange)
        }
        EventKind::RrcState { state: 1, .. }
        | EventKind::NetworkState { up: true, .. }
        | EventKind::ApnsPathSatisfied { .. }
            if network_counts =>
        {
            Some(Recovery::NetworkChange)
        }
        EventKind::CellRegistration { state: Some(state) }
            if network_counts && state.starts_with("kRegistered") =>
        {
            Some(Recovery::NetworkChange)
        }
        _ => None,
    }
}
