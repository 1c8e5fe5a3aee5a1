//! Which log line is a push's arrival: apsd's `Received message for enabled topic …` or
//! callservicesd's `Received incoming APS message from application with bundle identifier …`,
//! when it names the push's own topic or app (or is redacted).

use pushtrace_model::{DeviceEvent, EventKind};

/// What a push's arrival line must name: its apns-topic, or (for a record without one) the app's
/// bundle id given with `--app`.
#[derive(Clone, Copy)]
pub(crate) enum Wanted<'a> {
    Topic(&'a str),
    App(&'a str),
    Any,
}

impl Wanted<'_> {
    /// The bundle id the push is for: a VoIP topic is the bundle id plus `.voip`.
    fn bundle(&self) -> Option<&str> {
        match *self {
            Wanted::Topic(t) => Some(t.strip_suffix(".voip").unwrap_or(t)),
            Wanted::App(a) => Some(a),
            Wanted::Any => None,
        }
    }

    fn topic_matches(&self, seen: &str) -> bool {
        match *self {
            Wanted::Topic(t) => seen == t,
            Wanted::App(a) => {
                seen == a
                    || seen
                        .strip_prefix(a)
                        .is_some_and(|rest| rest.starts_with('.'))
            }
            Wanted::Any => true,
        }
    }
}

/// Whether `event` can be the arrival of the push. A line naming another topic or app is never
/// its arrival (a push for app A is not delivered by app B's line); a redacted topic or bundle
/// (`<private>`) may be.
pub(crate) fn is_arrival(event: &DeviceEvent, wanted: Wanted<'_>) -> bool {
    let (topic, bundle) = match &event.kind {
        EventKind::PushReceived { topic, .. } => (topic.as_deref(), None),
        EventKind::VoipPushToApp { topic, bundle } => (topic.as_deref(), bundle.as_deref()),
        _ => return false,
    };
    topic.is_none_or(|t| wanted.topic_matches(t))
        && bundle.is_none_or(|b| wanted.bundle().is_none_or(|w| w == b))
}
