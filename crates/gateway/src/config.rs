//! The gateway's configuration: where it listens, which store it writes, the secrets it reads,
//! and per app its APNs credentials and call policy (`docs/gateway.md` documents every field).
//!
//! Secrets never sit in the file itself: the `.p8` key, the API token and the receipt HMAC key
//! are read from files named here or from the environment, and no error message quotes them.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pushtrace_model::suggest;
use serde::Deserialize;

/// Environment variable holding the API bearer token when `api_token_file` is not set.
pub const API_TOKEN_ENV: &str = "PUSHTRACE_API_TOKEN";
/// Environment variable holding the receipt HMAC key when `receipt_key_file` is not set.
pub const RECEIPT_KEY_ENV: &str = "PUSHTRACE_RECEIPT_KEY";
/// The store when the file names none: an SQLite file in the working directory.
pub const DEFAULT_STORE: &str = "pushtrace.db";
/// PostgreSQL connections per instance when `store_pool_size` is not set.
pub const DEFAULT_STORE_POOL_SIZE: usize = pushtrace_store::DEFAULT_POOL_SIZE;
/// The call window when an app sets none: 60 s, about how long a phone rings.
pub const DEFAULT_CALL_WINDOW: Duration = Duration::from_secs(60);

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// The HTTP API's address (default `127.0.0.1:8080`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// How long a client has to send a request's head, ms (default 10000): a new connection
    /// from its accept, a kept-alive one from the first byte of its next request.
    #[serde(default = "default_header_timeout_ms")]
    pub header_timeout_ms: u64,
    /// How long a client has to send a request's body once its head is read, ms
    /// (default 30000); past it the request is answered 408.
    #[serde(default = "default_body_timeout_ms")]
    pub body_timeout_ms: u64,
    /// How long a kept-alive connection may wait for its next request, ms (default 60000).
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// Connections served at once (default 10000, 1 to 1000000); more wait to be accepted.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// A path (SQLite), `sqlite:PATH` or `postgres://…` (default [`DEFAULT_STORE`]). A relative
    /// path, the default included, is relative to the config file's folder, like every other
    /// path in it.
    #[serde(default = "default_store")]
    pub store: String,
    /// PostgreSQL only: the schema to use (created when missing), so several deployments or
    /// test runs can share one database.
    #[serde(default)]
    pub store_schema: Option<String>,
    /// PostgreSQL only: connections this instance keeps open to the database (default
    /// [`DEFAULT_STORE_POOL_SIZE`], 1 to 1000). Each runs one statement at a time, so this
    /// bounds the store work in flight; the instances together must stay under the server's
    /// `max_connections`.
    #[serde(default)]
    pub store_pool_size: Option<usize>,
    /// This instance's name in job leases (default `<hostname>-<pid>`).
    #[serde(default)]
    pub instance: Option<String>,
    /// A file holding the admin API bearer token(s), one per line (else [`API_TOKEN_ENV`]):
    /// they open every app. Read again on SIGHUP and when the file changes.
    #[serde(default)]
    pub api_token_file: Option<PathBuf>,
    /// A file holding the receipt HMAC key, at least 32 bytes (else [`RECEIPT_KEY_ENV`]).
    #[serde(default)]
    pub receipt_key_file: Option<PathBuf>,
    /// How often idle instances look for due work, ms (default 100).
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// How long a claimed job stays claimed before another instance may take it, ms
    /// (default 30000).
    #[serde(default = "default_lease_ms")]
    pub job_lease_ms: u64,
    /// How the log is written (`[log]`: format and level; `RUST_LOG` overrides the level).
    #[serde(default)]
    pub log: crate::logging::LogConfig,
    /// The apps this gateway rings for.
    #[serde(rename = "apps")]
    pub apps: Vec<AppConfig>,
}

/// One calling app.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The name used in the API's paths (`/v1/apps/{name}/…`).
    pub name: String,
    /// The bundle id: alert topic; the VoIP topic is `<bundle_id>.voip`.
    pub bundle_id: String,
    /// `production` or `sandbox`.
    pub environment: EnvironmentName,
    /// The `.p8` signing key file from Apple's developer account.
    pub key_file: PathBuf,
    /// The key's 10-character id.
    pub key_id: String,
    /// The team's 10-character id.
    pub team_id: String,
    /// Send somewhere else than Apple's host for `environment` (an emulator): `https://host:port`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// A PEM file of extra CAs to trust for `endpoint` (the emulator's CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// HTTP/2 connections to APNs (default 1; Apple advises few, long-lived ones).
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// Pushes of this app in flight at once (default 256). One app's slow answers cannot take
    /// another app's slots.
    #[serde(default = "default_in_flight")]
    pub max_in_flight: usize,
    /// How long a call may ring, seconds (default 60): the deadline of its pushes and retries.
    #[serde(default)]
    pub call_window_secs: Option<u64>,
    /// `apns-expiration` of the VoIP pushes.
    #[serde(default)]
    pub expiration: ExpirationStrategy,
    /// Retries of transient failures, inside the call window.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// The missed-call alert.
    #[serde(default)]
    pub missed_call: MissedCallConfig,
    /// Files of this app's API bearer tokens, one per line: they open this app's routes and
    /// calls only. Read again on SIGHUP and when a file changes, so a rotation adds the new
    /// token before removing the old one.
    #[serde(default)]
    pub api_token_files: Vec<PathBuf>,
    /// Where this app's events go (`docs/webhooks.md`); none are sent without it.
    #[serde(default)]
    pub webhook: Option<crate::webhooks::WebhookConfig>,
    /// The push that stops the callee's other devices ringing once the call is answered or
    /// cancelled (`docs/gateway.md`, "Stopping the other phones").
    #[serde(default)]
    pub end_of_call: crate::engine::EndOfCallConfig,
}

/// `production` or `sandbox`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvironmentName {
    /// api.push.apple.com
    Production,
    /// api.sandbox.push.apple.com
    Sandbox,
}

impl EnvironmentName {
    /// `production` or `sandbox`.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvironmentName::Production => "production",
            EnvironmentName::Sandbox => "sandbox",
        }
    }

    /// The APNs environment.
    pub fn apns(self) -> pushtrace_apns::Environment {
        match self {
            EnvironmentName::Production => pushtrace_apns::Environment::Production,
            EnvironmentName::Sandbox => pushtrace_apns::Environment::Sandbox,
        }
    }
}

/// What `apns-expiration` a VoIP push carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpirationStrategy {
    /// `0`: one delivery attempt, never stored. Apple's advice for VoIP (docs/reference/apns.md §5.4).
    #[default]
    Immediately,
    /// The call's deadline: APNs keeps the push while the phone could still ring.
    Deadline,
    /// A fixed time after sending: APNs keeps it that long, even past the call.
    After(Duration),
}

impl<'de> Deserialize<'de> for ExpirationStrategy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ExpirationStrategy::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl ExpirationStrategy {
    /// `"0"`, `"deadline"` or `"<seconds>s"`.
    pub fn parse(text: &str) -> Result<ExpirationStrategy, String> {
        match text.trim() {
            "0" | "immediately" => Ok(ExpirationStrategy::Immediately),
            "deadline" => Ok(ExpirationStrategy::Deadline),
            other => other
                .strip_suffix('s')
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|&n| n > 0)
                .map(|n| ExpirationStrategy::After(Duration::from_secs(n)))
                .ok_or_else(|| {
                    format!(
                        "expiration {other:?} is not \"0\", \"deadline\" or a number of seconds like \"300s\""
                    )
                }),
        }
    }
}

/// Retries of transient failures (429, 5xx, no answer): with back-off, for as long as the next
/// attempt can still go out inside the push's window (a ring's: before the call's deadline and
/// the push's own `apns-expiration`), and no faster than the app's ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts per device, the first included (default 1000): a safety ceiling only; the
    /// window is what ends retries.
    pub max_attempts: u32,
    /// The first wait, ms (default 200); it doubles each time.
    pub first_backoff_ms: u64,
    /// The longest wait, ms (default 5000).
    pub max_backoff_ms: u64,
    /// This app's retries put on the wire per second by one instance (default 100, 1 to
    /// 1,000,000). A retry beyond it waits for the next free turn while its window allows.
    pub max_retries_per_sec: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 1000,
            first_backoff_ms: 200,
            max_backoff_ms: 5000,
            max_retries_per_sec: 100,
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `next` (2 for the first retry).
    pub fn backoff(&self, next: u32) -> Duration {
        let doublings = next.saturating_sub(2).min(20);
        let ms = self
            .first_backoff_ms
            .saturating_mul(1 << doublings)
            .min(self.max_backoff_ms);
        Duration::from_millis(ms)
    }
}

/// The alert sent when a call could not ring.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MissedCallConfig {
    /// Send it at all (default true).
    pub enabled: bool,
    /// The alert's title; `{caller}` is replaced (default "Missed call").
    pub title: String,
    /// The alert's body; `{caller}` is replaced (default "{caller} tried to call you").
    pub body: String,
    /// How long APNs keeps it for an offline device, seconds (default 86400).
    pub expiration_secs: u64,
}

impl Default for MissedCallConfig {
    fn default() -> Self {
        MissedCallConfig {
            enabled: true,
            title: "Missed call".into(),
            body: "{caller} tried to call you".into(),
            expiration_secs: 86_400,
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the gateway config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or a field is wrong.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What toml/serde said (with the line and the field).
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{path}: {field}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field, e.g. `apps[0].key_id`.
        field: String,
        /// What is wrong and what to write instead.
        message: String,
    },
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_header_timeout_ms() -> u64 {
    10_000
}
fn default_body_timeout_ms() -> u64 {
    30_000
}
fn default_idle_timeout_ms() -> u64 {
    60_000
}
fn default_max_connections() -> u32 {
    10_000
}
fn default_store() -> String {
    DEFAULT_STORE.to_owned()
}
fn default_poll_ms() -> u64 {
    100
}
fn default_lease_ms() -> u64 {
    30_000
}
fn default_connections() -> usize {
    1
}
fn default_in_flight() -> usize {
    256
}

impl GatewayConfig {
    /// Reads and checks a config file. Relative paths inside it are resolved against the
    /// file's folder.
    pub fn from_file(path: &Path) -> Result<GatewayConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = GatewayConfig::from_toml(&text, path)?;
        if let Some(dir) = path.parent() {
            config.resolve_paths(dir);
        }
        Ok(config)
    }

    /// Parses and checks TOML text; `path` only names it in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<GatewayConfig, ConfigError> {
        let config: GatewayConfig = toml::from_str(text).map_err(|e| {
            let message = e.to_string();
            ConfigError::Parse {
                path: path.to_owned(),
                message: format!("{}{}", message.trim_end(), suggest::serde_hint(&message)),
            }
        })?;
        config.check(path)?;
        Ok(config)
    }

    /// The HTTP server's limits on slow clients and connections.
    pub fn http_limits(&self) -> HttpLimits {
        HttpLimits {
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            body_timeout: Duration::from_millis(self.body_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            max_connections: self.max_connections,
        }
    }

    fn resolve_paths(&mut self, dir: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        for path in [&mut self.api_token_file, &mut self.receipt_key_file]
            .into_iter()
            .flatten()
        {
            resolve(path);
        }
        for app in &mut self.apps {
            resolve(&mut app.key_file);
            app.api_token_files.iter_mut().for_each(resolve);
            if let Some(ca) = &mut app.ca_file {
                resolve(ca);
            }
            if let Some(webhook) = &mut app.webhook {
                webhook.resolve_paths(dir);
            }
        }
        if let Some(path) = self.store.strip_prefix("sqlite:")
            && path != ":memory:"
            && Path::new(path).is_relative()
        {
            self.store = format!("sqlite:{}", dir.join(path).display());
        } else if !self.store.contains(':') && Path::new(&self.store).is_relative() {
            self.store = dir.join(&self.store).to_string_lossy().into_owned();
        }
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |field: String, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            field,
            message,
        };
        if self.apps.is_empty() {
            return Err(invalid(
                "apps".into(),
                "no app: add an [[apps]] section with name, bundle_id, environment, key_file, key_id and team_id".into(),
            ));
        }
        if let Some(schema) = &self.store_schema {
            let is_postgres =
                self.store.starts_with("postgres://") || self.store.starts_with("postgresql://");
            let valid = !schema.is_empty()
                && schema.len() <= 63
                && schema
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                && !schema.as_bytes()[0].is_ascii_digit();
            if !is_postgres || !valid {
                return Err(invalid(
                    "store_schema".into(),
                    "needs a postgres:// store and a name of lowercase letters, digits and '_' (not starting with a digit, at most 63)".into(),
                ));
            }
        }
        if let Some(size) = self.store_pool_size {
            let is_postgres =
                self.store.starts_with("postgres://") || self.store.starts_with("postgresql://");
            if !is_postgres {
                return Err(invalid(
                    "store_pool_size".into(),
                    "is a PostgreSQL option: the SQLite store has one connection (SQLite lets one writer in at a time); remove it or use a postgres:// store".into(),
                ));
            }
            if !(1..=1000).contains(&size) {
                return Err(invalid(
                    "store_pool_size".into(),
                    format!(
                        "{size} is not between 1 and 1000 (connections to PostgreSQL per instance)"
                    ),
                ));
            }
        }
        if let Err((name, message)) = self.log.check() {
            return Err(invalid(format!("log.{name}"), message));
        }
        if self.poll_interval_ms == 0 || self.job_lease_ms < 1000 {
            return Err(invalid(
                "poll_interval_ms / job_lease_ms".into(),
                "poll_interval_ms must be at least 1 and job_lease_ms at least 1000".into(),
            ));
        }
        for (field, ms) in [
            ("header_timeout_ms", self.header_timeout_ms),
            ("body_timeout_ms", self.body_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
        ] {
            if ms == 0 {
                return Err(invalid(
                    field.into(),
                    "must be at least 1 (ms): without a limit a slow client holds its connection for ever".into(),
                ));
            }
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(invalid(
                "max_connections".into(),
                format!(
                    "{} is not between 1 and 1000000 (connections served at once)",
                    self.max_connections
                ),
            ));
        }
        let mut names = BTreeSet::new();
        for (i, app) in self.apps.iter().enumerate() {
            let field = |name: &str| format!("apps[{i}].{name}");
            let name_ok = !app.name.is_empty()
                && app
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
            if !name_ok {
                return Err(invalid(
                    field("name"),
                    format!(
                        "{:?} must be letters, digits, '-', '_' or '.' (it goes in URLs)",
                        app.name
                    ),
                ));
            }
            if !names.insert(app.name.as_str()) {
                return Err(invalid(
                    field("name"),
                    format!("{:?} is used by two apps", app.name),
                ));
            }
            if app.bundle_id.is_empty() || app.bundle_id.ends_with(".voip") {
                return Err(invalid(
                    field("bundle_id"),
                    format!(
                        "{:?}: give the app's bundle id without .voip (the VoIP topic is derived from it)",
                        app.bundle_id
                    ),
                ));
            }
            for (name, value) in [("key_id", &app.key_id), ("team_id", &app.team_id)] {
                if value.len() != 10 || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(invalid(
                        field(name),
                        format!("{value:?} is not a 10-character Apple id"),
                    ));
                }
            }
            if app.connections == 0 || app.max_in_flight == 0 {
                return Err(invalid(
                    field("connections / max_in_flight"),
                    "must be at least 1".into(),
                ));
            }
            if app.call_window_secs == Some(0) || app.call_window_secs > Some(3600) {
                return Err(invalid(
                    field("call_window_secs"),
                    "must be between 1 and 3600 seconds".into(),
                ));
            }
            if app.retry.max_attempts == 0 {
                return Err(invalid(
                    field("retry.max_attempts"),
                    "must be at least 1 (the first attempt counts)".into(),
                ));
            }
            if !(1..=1_000_000).contains(&app.retry.max_retries_per_sec) {
                return Err(invalid(
                    field("retry.max_retries_per_sec"),
                    format!(
                        "{} is not between 1 and 1000000 (retries a second, per instance)",
                        app.retry.max_retries_per_sec
                    ),
                ));
            }
            if app.retry.first_backoff_ms == 0
                || app.retry.max_backoff_ms < app.retry.first_backoff_ms
            {
                return Err(invalid(
                    field("retry"),
                    "first_backoff_ms must be at least 1 and max_backoff_ms at least first_backoff_ms".into(),
                ));
            }
            if let Some(Err((name, message))) = app.webhook.as_ref().map(|w| w.check()) {
                return Err(invalid(field(&format!("webhook.{name}")), message));
            }
            if let Err((name, message)) = app.end_of_call.check() {
                return Err(invalid(field(&format!("end_of_call.{name}")), message));
            }
            if app.missed_call.enabled && app.missed_call.expiration_secs == 0 {
                return Err(invalid(
                    field("missed_call.expiration_secs"),
                    "must be at least 1: an alert that APNs may not store is lost on any offline phone".into(),
                ));
            }
        }
        Ok(())
    }
}

/// What the HTTP server allows a client ([`GatewayConfig::http_limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// `header_timeout_ms`.
    pub header_timeout: Duration,
    /// `body_timeout_ms`.
    pub body_timeout: Duration,
    /// `idle_timeout_ms`.
    pub idle_timeout: Duration,
    /// `max_connections`.
    pub max_connections: u32,
}

impl AppConfig {
    /// The VoIP topic: `<bundle_id>.voip`.
    pub fn voip_topic(&self) -> String {
        format!("{}.voip", self.bundle_id)
    }

    /// The call window.
    pub fn call_window(&self) -> Duration {
        self.call_window_secs
            .map_or(DEFAULT_CALL_WINDOW, Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[[apps]]
name = "acme"
bundle_id = "com.acme.call"
environment = "sandbox"
key_file = "AuthKey.p8"
key_id = "ABC123DEFG"
team_id = "DEF123GHIJ"
"#;

    #[test]
    fn a_minimal_file_gets_the_documented_defaults() {
        let config = GatewayConfig::from_toml(MINIMAL, Path::new("g.toml")).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.store, "pushtrace.db");
        let limits = config.http_limits();
        assert_eq!(
            (
                limits.header_timeout,
                limits.body_timeout,
                limits.idle_timeout
            ),
            (
                Duration::from_secs(10),
                Duration::from_secs(30),
                Duration::from_secs(60)
            )
        );
        assert_eq!(limits.max_connections, 10_000);
        let app = &config.apps[0];
        assert_eq!(app.voip_topic(), "com.acme.call.voip");
        assert_eq!(app.call_window(), Duration::from_secs(60));
        assert_eq!(app.expiration, ExpirationStrategy::Immediately);
        assert_eq!(app.retry, RetryPolicy::default());
        assert_eq!(
            (app.retry.max_attempts, app.retry.max_retries_per_sec),
            (1000, 100)
        );
        assert!(app.missed_call.enabled);
    }

    #[test]
    fn expiration_strategies_parse_and_bad_ones_say_what_to_write() {
        assert_eq!(
            ExpirationStrategy::parse("deadline"),
            Ok(ExpirationStrategy::Deadline)
        );
        assert_eq!(
            ExpirationStrategy::parse("300s"),
            Ok(ExpirationStrategy::After(Duration::from_secs(300)))
        );
        let error = ExpirationStrategy::parse("5m").unwrap_err();
        assert!(error.contains("\"deadline\""), "{error}");
    }

    #[test]
    fn pool_size_is_for_postgres_and_log_sections_are_checked() {
        let parse = |head: &str| {
            GatewayConfig::from_toml(&format!("{head}\n{MINIMAL}"), Path::new("g.toml"))
                .map_err(|e| e.to_string())
        };
        let postgres = "store = \"postgres://u@db/gw\"";
        let config = parse(&format!("{postgres}\nstore_pool_size = 32")).unwrap();
        assert_eq!(config.store_pool_size, Some(32));
        let error = parse(&format!("{postgres}\nstore_pool_size = 0")).unwrap_err();
        assert!(
            error.contains("store_pool_size: 0 is not between"),
            "{error}"
        );
        let error = parse("store_pool_size = 4").unwrap_err();
        assert!(error.contains("PostgreSQL option"), "{error}");

        let config = parse("[log]\nformat = \"json\"").unwrap();
        assert_eq!(config.log.format, crate::logging::LogFormat::Json);
        assert_eq!(config.log.level, "info");
        let error = parse("[log]\nlevel = \"verbose\"").unwrap_err();
        assert!(error.contains("log.level"), "{error}");
        let error = parse("[log]\nformat = \"yaml\"").unwrap_err();
        assert!(error.contains("yaml"), "{error}");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            first_backoff_ms: 100,
            max_backoff_ms: 500,
            ..RetryPolicy::default()
        };
        let waits: Vec<u64> = (2..7)
            .map(|n| policy.backoff(n).as_millis() as u64)
            .collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
    }

    #[test]
    fn mistakes_are_named_by_field() {
        let bad = MINIMAL.replace("ABC123DEFG", "short");
        let error = GatewayConfig::from_toml(&bad, Path::new("g.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("apps[0].key_id"), "{error}");
        let voip = MINIMAL.replace("com.acme.call\"", "com.acme.call.voip\"");
        let error = GatewayConfig::from_toml(&voip, Path::new("g.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("without .voip"), "{error}");
        let unknown = format!("{MINIMAL}colour = \"blue\"\n");
        let error = GatewayConfig::from_toml(&unknown, Path::new("g.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("colour"), "{error}");
        assert!(!error.contains("did you mean"), "{error}");
        let misspelt = format!("lisen = \"127.0.0.1:9\"\n{MINIMAL}");
        let error = GatewayConfig::from_toml(&misspelt, Path::new("g.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("(did you mean `listen`?)"), "{error}");
        let in_app = format!("{MINIMAL}key_fille = \"k.p8\"\n");
        let error = GatewayConfig::from_toml(&in_app, Path::new("g.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("(did you mean `key_file`?)"), "{error}");
        let value = MINIMAL.replace("\"sandbox\"", "\"sandbx\"");
        let error = GatewayConfig::from_toml(&value, Path::new("g.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("(did you mean `sandbox`?)"), "{error}");
        for ceiling in ["0", "1000001"] {
            let bad = format!("{MINIMAL}[apps.retry]\nmax_retries_per_sec = {ceiling}\n");
            let error = GatewayConfig::from_toml(&bad, Path::new("g.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("apps[0].retry.max_retries_per_sec"),
                "{error}"
            );
        }
        for (key, value) in [
            ("header_timeout_ms", "0"),
            ("body_timeout_ms", "0"),
            ("idle_timeout_ms", "0"),
            ("max_connections", "0"),
            ("max_connections", "1000001"),
        ] {
            let bad = format!("{key} = {value}\n{MINIMAL}");
            let error = GatewayConfig::from_toml(&bad, Path::new("g.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains(&format!("g.toml: {key}: ")), "{error}");
        }
        let none = GatewayConfig::from_toml("apps = []", Path::new("g.toml"))
            .unwrap_err()
            .to_string();
        assert!(none.contains("[[apps]]"), "{none}");
    }
}
