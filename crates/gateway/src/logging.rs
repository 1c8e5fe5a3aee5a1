//! The `[log]` section: how `pushtrace serve` writes the gateway's `tracing` events to stderr.
//!
//! The gateway only emits events (a failed push with its reason, a call's outcome, a webhook
//! that failed); the binary installs the subscriber from this section, and `RUST_LOG`, when
//! set, replaces `level` (`docs/gateway.md`, "Operations").

use serde::Deserialize;

/// The levels `level` takes, most verbose last. Finer filters (per module) go in `RUST_LOG`.
pub const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (one line a person reads, the default) or `json` (one JSON object a line, for a
    /// log pipeline).
    #[serde(default)]
    pub format: LogFormat,
    /// The least severe level written (default `info`): one of [`LEVELS`].
    #[serde(default = "default_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::default(),
            level: default_level(),
        }
    }
}

fn default_level() -> String {
    "info".to_owned()
}

/// How each event is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `2026-05-20T10:00:00.000000Z  WARN pushtrace_gateway::engine::send: push failed app=…`
    #[default]
    Text,
    /// `{"timestamp":"…","level":"WARN","fields":{"message":"push failed","app":…},…}`
    Json,
}

impl LogConfig {
    /// What is wrong with the section, as (field under `log.`, message).
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        if LEVELS.contains(&self.level.as_str()) {
            return Ok(());
        }
        Err((
            "level",
            format!(
                "{:?} is not one of {}{} (per-module filters go in RUST_LOG, e.g. \
                 RUST_LOG=info,pushtrace_gateway::webhooks=debug)",
                self.level,
                LEVELS.join(", "),
                pushtrace_model::suggest::hint(&self.level, LEVELS)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_checked_with_a_hint() {
        assert!(LogConfig::default().check().is_ok());
        let wrong = LogConfig {
            level: "warning".into(),
            ..LogConfig::default()
        };
        let (field, message) = wrong.check().unwrap_err();
        assert_eq!(field, "level");
        assert!(
            message.contains("\"warning\"") && message.contains("RUST_LOG"),
            "{message}"
        );
    }
}
