//! An app's `[apps.webhook]` section: where its events go, the secret they are signed with,
//! and how long a delivery is retried.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pushtrace_model::suggest;
use serde::Deserialize;

/// The event types a backend can receive (`docs/webhooks.md`).
pub const EVENT_TYPES: [&str; 5] = [
    "call.delivered",
    "call.answered",
    "call.missed",
    "call.failed",
    "token.invalidated",
];

/// The shortest secret accepted: HMAC-SHA256's own block of security needs no less.
pub const MIN_SECRET_LEN: usize = 32;

/// `[apps.webhook]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where events are POSTed: `https://…` (or `http://…` on a private network).
    pub url: String,
    /// A file holding the signing secret (at least 32 bytes; surrounding whitespace is
    /// ignored). The secret never sits in the config file itself.
    pub secret_file: PathBuf,
    /// The event types sent (default: all of [`EVENT_TYPES`]).
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// Attempts per event, the first included (default 12), after which it is marked failed.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The wait before the first retry, ms (default 1000); it doubles each time.
    #[serde(default = "default_first_backoff_ms")]
    pub first_backoff_ms: u64,
    /// The longest wait between attempts, ms (default 3600000: an hour).
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// How long the receiver has to answer, ms (default 10000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_max_attempts() -> u32 {
    12
}
fn default_first_backoff_ms() -> u64 {
    1000
}
fn default_max_backoff_ms() -> u64 {
    3_600_000
}
fn default_timeout_ms() -> u64 {
    10_000
}

impl WebhookConfig {
    /// Whether events of `kind` go to this receiver.
    pub fn sends(&self, kind: &str) -> bool {
        match &self.events {
            None => true,
            Some(events) => events.iter().any(|e| e == kind),
        }
    }

    /// The wait before attempt `next` (2 for the first retry).
    pub fn backoff(&self, next: u32) -> Duration {
        let doublings = next.saturating_sub(2).min(30);
        let ms = self
            .first_backoff_ms
            .saturating_mul(1 << doublings)
            .min(self.max_backoff_ms);
        Duration::from_millis(ms)
    }

    pub(crate) fn resolve_paths(&mut self, dir: &Path) {
        if self.secret_file.is_relative() {
            self.secret_file = dir.join(&self.secret_file);
        }
    }

    /// What is wrong with the section, as (field under `webhook.`, message).
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        let rest = self
            .url
            .strip_prefix("https://")
            .or_else(|| self.url.strip_prefix("http://"));
        let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
        if host.is_none_or(|h| h.is_empty() || h.contains('@')) {
            return Err((
                "url",
                format!(
                    "{:?} is not an http:// or https:// URL with a host (and no user:password@)",
                    self.url
                ),
            ));
        }
        if let Some(events) = &self.events {
            if events.is_empty() {
                return Err((
                    "events",
                    "is empty: leave it out to send every event type, or name some".into(),
                ));
            }
            for event in events {
                if !EVENT_TYPES.contains(&event.as_str()) {
                    return Err((
                        "events",
                        format!(
                            "{event:?} is not one of {}{}",
                            EVENT_TYPES.join(", "),
                            suggest::hint(event, EVENT_TYPES)
                        ),
                    ));
                }
            }
        }
        if !(1..=100).contains(&self.max_attempts) {
            return Err((
                "max_attempts",
                format!("{} is not between 1 and 100", self.max_attempts),
            ));
        }
        if self.first_backoff_ms == 0 || self.max_backoff_ms < self.first_backoff_ms {
            return Err((
                "first_backoff_ms",
                "first_backoff_ms must be at least 1 and max_backoff_ms at least first_backoff_ms"
                    .into(),
            ));
        }
        if !(1..=300_000).contains(&self.timeout_ms) {
            return Err((
                "timeout_ms",
                format!("{} is not between 1 and 300000", self.timeout_ms),
            ));
        }
        Ok(())
    }

    /// Reads the signing secret.
    pub(crate) fn read_secret(&self) -> Result<Vec<u8>, String> {
        let text = std::fs::read(&self.secret_file).map_err(|e| {
            format!(
                "cannot read the webhook secret {}: {e}; write at least {MIN_SECRET_LEN} random \
                 bytes to it (e.g. `openssl rand -hex 32 > {}`)",
                self.secret_file.display(),
                self.secret_file.display()
            )
        })?;
        let secret = text.trim_ascii().to_vec();
        if secret.len() < MIN_SECRET_LEN {
            return Err(format!(
                "the webhook secret in {} is {} bytes; it must be at least {MIN_SECRET_LEN} \
                 (e.g. `openssl rand -hex 32 > {}`)",
                self.secret_file.display(),
                secret.len(),
                self.secret_file.display()
            ));
        }
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            secret_file: "s".into(),
            events: None,
            max_attempts: 12,
            first_backoff_ms: 1000,
            max_backoff_ms: 3_600_000,
            timeout_ms: 10_000,
        }
    }

    #[test]
    fn urls_and_event_names_are_checked_with_a_suggestion() {
        assert!(config("https://backend.example/hooks").check().is_ok());
        assert!(config("http://10.0.0.2:9000").check().is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "backend.example",
            "https://u:p@host/",
        ] {
            assert_eq!(config(bad).check().unwrap_err().0, "url", "{bad}");
        }
        let mut misspelt = config("https://b.example");
        misspelt.events = Some(vec!["call.answred".into()]);
        let (field, message) = misspelt.check().unwrap_err();
        assert_eq!(field, "events");
        assert!(
            message.contains("did you mean `call.answered`"),
            "{message}"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut c = config("https://b.example");
        c.max_backoff_ms = 5000;
        let waits: Vec<u64> = (2..7).map(|n| c.backoff(n).as_millis() as u64).collect();
        assert_eq!(waits, [1000, 2000, 4000, 5000, 5000]);
    }
}
