//! The emulator's configuration as a file (any serde format; the CLI will read TOML), turned
//! into an [`EmulatorBuilder`]. Every field is optional; omitted ones keep the builder defaults,
//! except that a config file always turns the admin API on (at `127.0.0.1:0` unless told
//! otherwise), with its token from `admin_token_file`, else [`ADMIN_TOKEN_ENV`](crate::ADMIN_TOKEN_ENV), else generated.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use pushtrace_apns::{DeviceToken, Environment, KeyScope, ProviderKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{
    AdminOptions, AdminToken, AdminTokenError, CertEnvironments, ClientCertificateRequest, Clock,
    Device, DeviceState, Emulator, EmulatorBuilder, ExcessStreams, FaultRule, HookBody,
    HookUrlError, HttpHookConfig, Latency, RateLimit, ScheduleEntry,
};

/// An environment name in a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvironmentName {
    /// Sandbox (development).
    Sandbox,
    /// Production.
    Production,
}

impl From<EnvironmentName> for Environment {
    fn from(name: EnvironmentName) -> Environment {
        match name {
            EnvironmentName::Sandbox => Environment::Sandbox,
            EnvironmentName::Production => Environment::Production,
        }
    }
}

/// Where a key or a client certificate may be used, in a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScopeName {
    /// Sandbox only.
    Sandbox,
    /// Production only.
    Production,
    /// Both (the default).
    #[default]
    Both,
}

/// A trusted provider key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The 10-character key ID (`kid`).
    pub key_id: String,
    /// The 10-character team ID (`iss`).
    pub team_id: String,
    /// A file with the public key (SPKI PEM) or the `.p8` private key (the public half is used).
    pub key_file: PathBuf,
    /// Where the key is valid.
    #[serde(default)]
    pub scope: ScopeName,
    /// A related key ID (topic-specific keys).
    #[serde(default)]
    pub related_key_id: Option<String>,
}

/// A known device token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// The environment the token belongs to.
    pub environment: EnvironmentName,
    /// The exact topic (`<bundle>.voip` for a PushKit token).
    pub topic: String,
    /// The hex token.
    pub token: String,
    /// When the token became invalid for the topic (ms since the epoch): 410 from then on.
    #[serde(default)]
    pub unregistered_at_ms: Option<u64>,
    /// The state at start (`online`, `offline`, `power_restricted`); default online.
    #[serde(default)]
    pub state: Option<DeviceState>,
}

/// A client certificate issued by the emulator's CA at start and written to a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCertificateConfig {
    /// The app's bundle ID (subject `UID`; topics `<bundle>`, `.voip`, `.complication`).
    pub bundle_id: String,
    /// Where the certificate then its private key are written (PEM).
    pub identity_file: PathBuf,
    /// Where the certificate is valid (`sandbox`, `production`, `both`); default both.
    #[serde(default)]
    pub environment: ScopeName,
    /// More topics for the topics extension.
    #[serde(default)]
    pub extra_topics: Vec<String>,
    /// `false`: no topics extension, the bundle ID is the only topic. Default `true`.
    #[serde(default = "yes")]
    pub topics_extension: bool,
    /// The team ID (subject `OU`).
    #[serde(default)]
    pub team_id: Option<String>,
}

fn yes() -> bool {
    true
}

/// A scheduled device-state change. Exactly one of `at_ms` and `after_ms` is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// When, ms since the epoch (by the emulator's clock).
    #[serde(default)]
    pub at_ms: Option<u64>,
    /// When, ms after the emulator starts.
    #[serde(default)]
    pub after_ms: Option<u64>,
    /// The device's environment.
    pub environment: EnvironmentName,
    /// The hex token.
    pub token: String,
    /// The new state.
    pub state: DeviceState,
}

/// The emulator's configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmulatorConfig {
    /// Sandbox TLS listener (default `127.0.0.1:0`).
    pub sandbox_addr: Option<SocketAddr>,
    /// Production TLS listener (default `127.0.0.1:0`).
    pub production_addr: Option<SocketAddr>,
    /// Also serve h2c.
    pub h2c: bool,
    /// Where to write the CA certificate.
    pub ca_pem_path: Option<PathBuf>,
    /// A PEM file of CA certificates whose client certificates open certificate connections,
    /// besides the emulator's own CA (for your own push certificates).
    pub client_ca_file: Option<PathBuf>,
    /// `MAX_CONCURRENT_STREAMS` after authentication.
    pub max_concurrent_streams: Option<u32>,
    /// Advertise 1 stream until the first valid token.
    pub advertise_pre_auth_limit: Option<bool>,
    /// New streams over the limit in force: `serialize` (wait), `refuse` (`REFUSED_STREAM`) or
    /// `goaway` (APNs's "Maximum active streams violated").
    pub excess_streams: Option<ExcessStreams>,
    /// The 2016 mode: the stream limit drops to 1 after a rejection, back after a success.
    pub drop_limit_after_rejection: Option<bool>,
    /// Close connections idle this long with GOAWAY `IdleTimeout`, seconds (0: never).
    pub idle_timeout_secs: Option<u64>,
    /// Fault rules, tried in order for every request.
    pub faults: Vec<FaultRule>,
    /// Added response latency.
    pub latency: Option<Latency>,
    /// Seed for fault probabilities and latency draws.
    pub fault_seed: Option<u64>,
    /// Lock-out after `TooManyProviderTokenUpdates`, seconds.
    pub token_update_lockout_secs: Option<u64>,
    /// Per-token pushes per window (0 disables the 429).
    pub per_token_requests: Option<u32>,
    /// The per-token window, seconds.
    pub per_token_window_secs: Option<u64>,
    /// Weighted errors before GOAWAY (0 disables it).
    pub error_limit: Option<u32>,
    /// Weight of one `BadDeviceToken`.
    pub bad_device_token_weight: Option<u32>,
    /// Trusted keys.
    pub keys: Vec<KeyConfig>,
    /// Known devices.
    pub devices: Vec<DeviceConfig>,
    /// Delay of the one attempt of an `apns-expiration: 0` push, ms.
    pub immediate_delivery_delay_ms: Option<u64>,
    /// How often the system-clock ticker runs, ms.
    pub tick_interval_ms: Option<u64>,
    /// Device-state changes applied by the clock.
    pub schedule: Vec<ScheduleConfig>,
    /// Client certificates to issue at start (for certificate connections).
    pub client_certificates: Vec<ClientCertificateConfig>,
    /// How long the delivery and accepted logs keep a push after its latest event, seconds
    /// (default 7 days; 0 keeps everything).
    pub delivery_log_retention_secs: Option<u64>,
    /// At most this many pushes in each log, oldest dropped first (default 100 000; 0: no cap).
    pub delivery_log_max_records: Option<u64>,
    /// Run on a manual clock starting at this time (ms since the epoch), moved only through
    /// the admin API (`POST /v1/clock/advance`); default: the system clock.
    pub manual_clock_start_ms: Option<u64>,
    /// The admin API's listener (default `127.0.0.1:0`).
    pub admin_addr: Option<SocketAddr>,
    /// A file holding the admin token (else [`ADMIN_TOKEN_ENV`](crate::ADMIN_TOKEN_ENV), else one is generated).
    pub admin_token_file: Option<PathBuf>,
    /// POST a JSON receipt of every delivery here (`http://` only).
    pub delivery_hook_url: Option<String>,
    /// A delivery later than this after receipt has `must_report: false`, ms (default 30000).
    pub must_report_max_age_ms: Option<u64>,
    /// What the hook POSTs: `emulator` (default, the emulator's receipt) or `app` (the receipt
    /// an instrumented app posts to a pushtrace gateway, `docs/receipts.md`).
    pub delivery_hook_body: Option<HookBodyName>,
}

/// `delivery_hook_body` in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HookBodyName {
    /// [`HookBody::Emulator`].
    Emulator,
    /// [`HookBody::App`].
    App,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key file could not be read.
    #[error("key {key_id:?}: cannot read {path}: {source}")]
    KeyFile {
        /// The key.
        key_id: String,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A key file holds neither a public key nor a `.p8` key.
    #[error("key {key_id:?}: {path} is neither an SPKI public key PEM nor a .p8 key: {message}")]
    KeyFormat {
        /// The key.
        key_id: String,
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A device token is not hex.
    #[error(
        "device {index} (topic {topic:?}): token {token:?} is not an even number of hex digits"
    )]
    Token {
        /// Position in `devices`, from 0.
        index: usize,
        /// Its topic.
        topic: String,
        /// The token.
        token: String,
    },
    /// A fault rule is unusable.
    #[error("faults entry {index}: {message}")]
    Fault {
        /// Position in `faults`, from 0.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// The latency distribution is unusable.
    #[error("latency: {0}")]
    Latency(String),
    /// The client CA file could not be read.
    #[error("client_ca_file: cannot read {path}: {source}")]
    ClientCaFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A field that means nothing without another.
    #[error("{field} is set but {needs} is not; set {needs} too, or remove {field}")]
    Needs {
        /// The field given.
        field: &'static str,
        /// The field it needs.
        needs: &'static str,
    },
    /// The admin token cannot be used.
    #[error(transparent)]
    AdminToken(#[from] AdminTokenError),
    /// The delivery hook URL cannot be used.
    #[error(transparent)]
    HookUrl(#[from] HookUrlError),
    /// A schedule entry is unusable.
    #[error("schedule entry {index}: {message}")]
    Schedule {
        /// Position in `schedule`, from 0.
        index: usize,
        /// What is wrong.
        message: String,
    },
}

impl EmulatorConfig {
    /// The builder this configuration describes (reads the key files).
    pub fn into_builder(self) -> Result<EmulatorBuilder, ConfigError> {
        let mut builder = Emulator::builder().h2c(self.h2c);
        let mut settings = builder.settings.clone();
        if let Some(addr) = self.sandbox_addr {
            builder = builder.sandbox_addr(addr);
        }
        if let Some(addr) = self.production_addr {
            builder = builder.production_addr(addr);
        }
        if let Some(path) = self.ca_pem_path {
            builder = builder.ca_pem_path(path);
        }
        if let Some(path) = self.client_ca_file {
            let pem = std::fs::read_to_string(&path)
                .map_err(|source| ConfigError::ClientCaFile { path, source })?;
            builder = builder.client_ca_pem(pem);
        }
        if let Some(limit) = self.max_concurrent_streams {
            settings.max_concurrent_streams = limit.max(1);
        }
        if let Some(advertise) = self.advertise_pre_auth_limit {
            settings.advertise_pre_auth_limit = advertise;
        }
        if let Some(mode) = self.excess_streams {
            settings.excess_streams = mode;
        }
        if let Some(drop) = self.drop_limit_after_rejection {
            settings.drop_limit_after_rejection = drop;
        }
        if let Some(secs) = self.idle_timeout_secs {
            settings.idle_timeout = (secs > 0).then(|| Duration::from_secs(secs));
        }
        if let Some(seed) = self.fault_seed {
            settings.fault_seed = seed;
        }
        if let Some(secs) = self.token_update_lockout_secs {
            settings.token_update_lockout = Duration::from_secs(secs);
        }
        if self.per_token_requests.is_some() || self.per_token_window_secs.is_some() {
            let default = settings.per_token_rate.unwrap_or(RateLimit {
                requests: 100,
                window: Duration::from_secs(10),
            });
            let requests = self.per_token_requests.unwrap_or(default.requests);
            let window = self
                .per_token_window_secs
                .map_or(default.window, Duration::from_secs);
            settings.per_token_rate = (requests > 0).then_some(RateLimit { requests, window });
        }
        if let Some(limit) = self.error_limit {
            settings.error_limit = (limit > 0).then_some(limit);
        }
        if let Some(weight) = self.bad_device_token_weight {
            settings.bad_device_token_weight = weight;
        }
        if let Some(ms) = self.immediate_delivery_delay_ms {
            settings.immediate_delivery_delay = Duration::from_millis(ms);
        }
        if let Some(ms) = self.tick_interval_ms {
            settings.tick_interval = Duration::from_millis(ms.max(1));
        }
        if let Some(secs) = self.delivery_log_retention_secs {
            settings.delivery_log_retention = (secs > 0).then(|| Duration::from_secs(secs));
        }
        if let Some(max) = self.delivery_log_max_records {
            settings.delivery_log_max_records =
                (max > 0).then(|| usize::try_from(max).unwrap_or(usize::MAX));
        }
        builder = builder.settings(settings);
        for (index, rule) in self.faults.into_iter().enumerate() {
            rule.check().map_err(|e| ConfigError::Fault {
                index,
                message: e.0,
            })?;
            builder = builder.fault(rule);
        }
        if let Some(latency) = self.latency {
            latency.check().map_err(|e| ConfigError::Latency(e.0))?;
            builder = builder.latency(latency);
        }
        if let Some(start_ms) = self.manual_clock_start_ms {
            builder = builder.clock(Clock::manual(start_ms));
        }
        let token = match &self.admin_token_file {
            Some(path) => AdminToken::from_file(path)?,
            None => AdminToken::from_env()?.unwrap_or_else(AdminToken::generate),
        };
        builder = builder.admin(AdminOptions {
            addr: self
                .admin_addr
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            token,
        });
        if let Some(url) = &self.delivery_hook_url {
            let mut hook = HttpHookConfig::new(url)?;
            if let Some(ms) = self.must_report_max_age_ms {
                hook = hook.must_report_max_age(Duration::from_millis(ms));
            }
            if let Some(HookBodyName::App) = self.delivery_hook_body {
                hook = hook.body(HookBody::App);
            }
            builder = builder.http_hook(hook);
        } else if self.must_report_max_age_ms.is_some() {
            return Err(ConfigError::Needs {
                field: "must_report_max_age_ms",
                needs: "delivery_hook_url",
            });
        } else if self.delivery_hook_body.is_some() {
            return Err(ConfigError::Needs {
                field: "delivery_hook_body",
                needs: "delivery_hook_url",
            });
        }

        for key in self.keys {
            let text =
                std::fs::read_to_string(&key.key_file).map_err(|source| ConfigError::KeyFile {
                    key_id: key.key_id.clone(),
                    path: key.key_file.clone(),
                    source,
                })?;
            let public = VerifyingKey::from_public_pem(&text)
                .or_else(|_| VerifyingKey::from_p8_pem(&text))
                .map_err(|e| ConfigError::KeyFormat {
                    key_id: key.key_id.clone(),
                    path: key.key_file.clone(),
                    message: e.to_string(),
                })?;
            let scope = match key.scope {
                ScopeName::Sandbox => KeyScope::Sandbox,
                ScopeName::Production => KeyScope::Production,
                ScopeName::Both => KeyScope::Both,
            };
            let mut provider = ProviderKey::new(key.team_id, public).with_scope(scope);
            if let Some(related) = key.related_key_id {
                provider = provider.with_related_key(related);
            }
            builder = builder.key(key.key_id, provider);
        }
        for (index, device) in self.devices.into_iter().enumerate() {
            let token = DeviceToken::parse(&device.token).map_err(|_| ConfigError::Token {
                index,
                topic: device.topic.clone(),
                token: device.token.clone(),
            })?;
            if let Some(state) = device.state {
                builder = builder.device_state(device.environment.into(), token.clone(), state);
            }
            let mut entry = Device::new(device.environment.into(), device.topic, token);
            entry.unregistered_at_ms = device.unregistered_at_ms;
            builder = builder.device_entry(entry);
        }
        for cert in self.client_certificates {
            let mut request = ClientCertificateRequest::new(cert.bundle_id).environments(
                match cert.environment {
                    ScopeName::Sandbox => CertEnvironments::Sandbox,
                    ScopeName::Production => CertEnvironments::Production,
                    ScopeName::Both => CertEnvironments::Both,
                },
            );
            request.extra_topics = cert.extra_topics;
            request.topics_extension = cert.topics_extension;
            request.team_id = cert.team_id;
            builder = builder.write_client_certificate(request, cert.identity_file);
        }
        for (index, entry) in self.schedule.into_iter().enumerate() {
            let error = |message: String| ConfigError::Schedule { index, message };
            let token = DeviceToken::parse(&entry.token).map_err(|_| {
                error(format!(
                    "token {:?} is not an even number of hex digits",
                    entry.token
                ))
            })?;
            let environment = entry.environment.into();
            builder = match (entry.at_ms, entry.after_ms) {
                (Some(at_ms), None) => builder.schedule(ScheduleEntry {
                    at_ms,
                    environment,
                    token,
                    state: entry.state,
                }),
                (None, Some(after)) => builder.schedule_after(
                    Duration::from_millis(after),
                    environment,
                    token,
                    entry.state,
                ),
                _ => return Err(error("give exactly one of at_ms and after_ms".into())),
            };
        }
        Ok(builder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_config_becomes_a_builder() {
        let key_file = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../apns/testdata/test-AuthKey.p8"
        );
        let text = format!(
            r#"{{
                "h2c": true,
                "max_concurrent_streams": 500,
                "excess_streams": "goaway",
                "drop_limit_after_rejection": true,
                "idle_timeout_secs": 3600,
                "fault_seed": 9,
                "faults": [{{"fault": {{"kind": "status", "reason": "Shutdown"}}, "times": 2}}],
                "latency": {{"distribution": "uniform", "min_ms": 1, "max_ms": 5}},
                "per_token_requests": 0,
                "error_limit": 7,
                "keys": [{{"key_id": "TESTKEY001", "team_id": "TESTTEAM01",
                           "key_file": "{key_file}", "scope": "sandbox"}}],
                "devices": [{{"environment": "production", "topic": "a.voip",
                              "token": "aabb", "unregistered_at_ms": 5}}]
            }}"#
        );
        let config: EmulatorConfig = serde_json::from_str(&text).unwrap();
        let builder = config.into_builder().unwrap();
        assert!(builder.h2c);
        assert_eq!(builder.settings.max_concurrent_streams, 500);
        assert_eq!(builder.settings.excess_streams, ExcessStreams::Goaway);
        assert!(builder.settings.drop_limit_after_rejection);
        assert_eq!(
            builder.settings.idle_timeout,
            Some(Duration::from_secs(3600))
        );
        assert_eq!(builder.settings.fault_seed, 9);
        assert_eq!(builder.faults[0].times, Some(2));
        assert_eq!(
            builder.latency,
            Some(Latency::Uniform {
                min_ms: 1,
                max_ms: 5
            })
        );
        assert_eq!(builder.settings.per_token_rate, None);
        assert_eq!(builder.settings.error_limit, Some(7));
        let key = builder.keys.get("TESTKEY001").unwrap();
        assert_eq!(key.scope, KeyScope::Sandbox);
        assert_eq!(builder.devices[0].unregistered_at_ms, Some(5));
        assert_eq!(builder.devices[0].environment, Environment::Production);
    }

    #[test]
    fn device_states_and_schedule_are_read() {
        let config: EmulatorConfig = serde_json::from_str(
            r#"{
                "immediate_delivery_delay_ms": 250,
                "devices": [{"environment": "sandbox", "topic": "a.voip", "token": "aabb",
                             "state": "power_restricted"}],
                "schedule": [
                    {"at_ms": 5000, "environment": "sandbox", "token": "aabb", "state": "offline"},
                    {"after_ms": 60000, "environment": "sandbox", "token": "aabb", "state": "online"}
                ]
            }"#,
        )
        .unwrap();
        let builder = config.into_builder().unwrap();
        assert_eq!(
            builder.settings.immediate_delivery_delay,
            Duration::from_millis(250)
        );
        assert_eq!(builder.device_states[0].2, DeviceState::PowerRestricted);
        assert_eq!(builder.schedule.len(), 2);
        assert_eq!(builder.schedule[0].1.at_ms, 5000);
        assert_eq!(builder.schedule[0].1.state, DeviceState::Offline);
        assert_eq!(builder.schedule[1].1.at_ms, 60000);

        let both: EmulatorConfig = serde_json::from_str(
            r#"{"schedule": [{"at_ms": 1, "after_ms": 1, "environment": "sandbox",
                              "token": "aabb", "state": "online"}]}"#,
        )
        .unwrap();
        let error = both.into_builder().unwrap_err().to_string();
        assert!(error.contains("schedule entry 0"), "{error}");
    }

    #[test]
    fn errors_name_the_entry() {
        let config: EmulatorConfig = serde_json::from_str(
            r#"{"devices": [{"environment": "sandbox", "topic": "a.voip", "token": "xyz"}]}"#,
        )
        .unwrap();
        let error = config.into_builder().unwrap_err().to_string();
        assert!(
            error.contains("device 0") && error.contains("xyz"),
            "{error}"
        );
        let config: EmulatorConfig = serde_json::from_str(
            r#"{"faults": [{"fault": {"kind": "status", "reason": "Flaky"}}]}"#,
        )
        .unwrap();
        let error = config.into_builder().unwrap_err().to_string();
        assert!(
            error.contains("faults entry 0") && error.contains("Flaky"),
            "{error}"
        );
        let missing: EmulatorConfig =
            serde_json::from_str(r#"{"client_ca_file": "/nonexistent/ca.pem"}"#).unwrap();
        let error = missing.into_builder().unwrap_err().to_string();
        assert!(
            error.contains("client_ca_file") && error.contains("/nonexistent/ca.pem"),
            "{error}"
        );
        let unknown = serde_json::from_str::<EmulatorConfig>(r#"{"port": 1}"#).unwrap_err();
        assert!(unknown.to_string().contains("unknown field"), "{unknown}");
    }
}
