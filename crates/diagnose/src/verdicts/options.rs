//! The thresholds of a diagnosis, and which app it is about.

use std::time::Duration;

/// Thresholds of the diagnosis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnoseOptions {
    /// Without a deadline, a push arriving later than this after it was queued (else sent) is
    /// late.
    pub on_time_within: Duration,
    /// An APNs answer slower than this is time lost before APNs.
    pub slow_apns_answer: Duration,
    /// The app's bundle id (`--app com.acme.call`), for pushes whose record has no topic: only
    /// log lines for this app (its bundle, or a topic under it) can be their arrival.
    pub app: Option<String>,
    /// The app's process name (`--app Comera`): PushKit's lines in that process are the app's.
    pub app_process: Option<String>,
}

impl Default for DiagnoseOptions {
    fn default() -> Self {
        DiagnoseOptions {
            // A ring is useful for about 30 s; a push slower than 10 s already rings late.
            on_time_within: Duration::from_secs(10),
            slow_apns_answer: Duration::from_secs(1),
            app: None,
            app_process: None,
        }
    }
}
