//! Step 1: APNs refused the push. Its answer says everything; no log is needed.

use pushtrace_model::{Cause, Confidence, Outcome, PushRecord};

use super::Found;

/// The reasons that mean the token itself is the problem (Apple's reason table).
const TOKEN_REASONS: [&str; 5] = [
    "BadDeviceToken",
    "DeviceTokenNotForTopic",
    "Unregistered",
    "ExpiredToken",
    "MissingDeviceToken",
];

/// Whether APNs answered with an error.
pub(super) fn refused(push: &PushRecord) -> bool {
    push.apns_status.is_some_and(|s| s != 200)
}

/// The verdict of a push APNs did not accept, if it did not.
pub(super) fn verdict(push: &PushRecord) -> Option<Found> {
    let status = push.apns_status.filter(|s| *s != 200)?;
    let reason = push.apns_reason.as_deref().unwrap_or("no reason given");
    let token = status == 410 || TOKEN_REASONS.contains(&reason);
    let (cause, what) = if token {
        (
            Cause::TokenInvalid,
            "the device token is not valid for this topic and environment",
        )
    } else {
        (Cause::ApnsRejected, "APNs did not take the push")
    };
    Some(Found::new(
        Outcome::Rejected,
        cause,
        Confidence::High,
        format!("APNs answered {status} {reason}: {what}; it never left APNs."),
    ))
}
