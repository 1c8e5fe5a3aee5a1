//! Step 1: APNs refused the push. Its answer says everything; no log is needed.

use pushtrace_model::{Cause, Confidence, Outcome, PushRecord};

use super::Found;
use super::clock::LogClock;

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
pub(super) fn verdict(push: &PushRecord, clock: &LogClock) -> Option<Found> {
    let status = push.apns_status.filter(|s| *s != 200)?;
    let reason = push.apns_reason.as_deref().unwrap_or("no reason given");
    let (cause, what) = if status == 410 || TOKEN_REASONS.contains(&reason) {
        let since = push.apns_timestamp.map(|t| clock.show(t));
        (Cause::TokenInvalid, token_meaning(status, reason, since))
    } else {
        (
            Cause::ApnsRejected,
            "APNs did not take the push".to_string(),
        )
    };
    Some(Found::new(
        Outcome::Rejected,
        cause,
        Confidence::High,
        format!("APNs answered {status} {reason}: {what}; it never left APNs."),
    ))
}

/// What a token reason means and what to do, after Apple's table of APNs responses
/// ("Handling notification responses from APNs"). `since` is a 410's `timestamp`.
fn token_meaning(status: u16, reason: &str, since: Option<String>) -> String {
    match reason {
        "BadDeviceToken" => "the device token is not a valid token for this environment: a sandbox (development build) token sent to production or the reverse, or a token mangled in storage".into(),
        "DeviceTokenNotForTopic" => "the device token is not the app's for this topic: a VoIP token must be sent with the app's `.voip` topic, and an alert token with the bundle id".into(),
        "MissingDeviceToken" => "the request named no device token".into(),
        // 410's reasons are `Unregistered` and `ExpiredToken`.
        _ if status == 410 || reason == "ExpiredToken" => {
            let since = since.map_or(String::new(), |at| format!(" since {at} (APNs's clock)"));
            format!(
                "the device token is no longer active for this topic{since} (most often the app was removed or the token replaced): stop sending to it unless the device registered it again after that"
            )
        }
        _ => "the device token is not valid for this topic and environment".into(),
    }
}
