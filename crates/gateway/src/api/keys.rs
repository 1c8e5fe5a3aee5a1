//! The set of API tokens a gateway accepts and what each opens, read again without a restart.
//!
//! A rotation overlaps the old and the new token: add the new one (a line in the token file,
//! or a second file in `api_token_files`), move the backend to it, then remove the old one.
//! The files are read again on SIGHUP and when one changes (checked every second: a `stat` of
//! each file). A reload that fails (a file missing, empty, a token too short or in two places)
//! changes nothing: the tokens of the last good read stay, and the error is logged.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use ring::digest;
use tokio::sync::watch;

use super::auth::{ApiToken, ApiTokenError, read_token_file};
use crate::config::{API_TOKEN_ENV, GatewayConfig};

/// How often the token files' metadata is compared with the last read.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// What a token opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every app and call.
    Admin,
    /// The routes of this app and its calls.
    App(String),
}

/// The tokens a gateway accepts. Cheap to clone: clones share the set, so a reload reaches
/// every router holding one.
#[derive(Clone)]
pub struct ApiKeys {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKeys(…)")
    }
}

struct Inner {
    /// The token of the environment variable (or given in process): fixed.
    fixed_admin: Option<ApiToken>,
    /// Files of admin tokens and of each app's tokens: read again on reload.
    files: Vec<(Scope, PathBuf)>,
    current: RwLock<Arc<Vec<Entry>>>,
    /// The files' stamps taken right before the last read: a file changed after them, even
    /// while it was being read, is read again.
    read_at: Mutex<Vec<Stamp>>,
}

#[derive(Clone)]
struct Entry {
    scope: Scope,
    token: ApiToken,
}

/// A file's identity at a read: a change of any of these (an edit, a rename over it, a new
/// file) makes the watcher read the files again.
type Stamp = Option<(SystemTime, u64, u64)>;

impl From<ApiToken> for ApiKeys {
    /// One admin token, nothing to reload.
    fn from(token: ApiToken) -> ApiKeys {
        ApiKeys {
            inner: Arc::new(Inner {
                fixed_admin: Some(token.clone()),
                files: Vec::new(),
                current: RwLock::new(Arc::new(vec![Entry {
                    scope: Scope::Admin,
                    token,
                }])),
                read_at: Mutex::new(Vec::new()),
            }),
        }
    }
}

impl ApiKeys {
    /// The tokens `config` names: `api_token_file` (else `PUSHTRACE_API_TOKEN`) for the admin,
    /// each app's `api_token_files`. Read now; an error names the file and line. At least one
    /// token must be configured.
    pub fn from_config(config: &GatewayConfig) -> Result<ApiKeys, KeysError> {
        let mut files = Vec::new();
        let mut fixed_admin = None;
        match &config.api_token_file {
            Some(path) => files.push((Scope::Admin, path.clone())),
            None => {
                if let Ok(token) = std::env::var(API_TOKEN_ENV) {
                    fixed_admin = Some(ApiToken::new(&token, API_TOKEN_ENV)?);
                }
            }
        }
        for app in &config.apps {
            for path in &app.api_token_files {
                files.push((Scope::App(app.name.clone()), path.clone()));
            }
        }
        if files.is_empty() && fixed_admin.is_none() {
            return Err(KeysError::None);
        }
        let keys = ApiKeys {
            inner: Arc::new(Inner {
                fixed_admin,
                files,
                current: RwLock::new(Arc::new(Vec::new())),
                read_at: Mutex::new(Vec::new()),
            }),
        };
        keys.read_files()?;
        Ok(keys)
    }

    /// What `given` opens, if it is one of the tokens. Every token is checked, a match or not.
    pub fn check(&self, given: &str) -> Option<Scope> {
        let entries = self.entries();
        let mut found = None;
        for entry in entries.iter() {
            if entry.token.matches(given) && found.is_none() {
                found = Some(entry.scope.clone());
            }
        }
        found
    }

    fn entries(&self) -> Arc<Vec<Entry>> {
        self.inner
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads the token files again and, if all of them read, replaces the tokens; otherwise
    /// keeps the ones it had. `why` is logged with the outcome.
    pub fn reload(&self, why: &str) -> Result<(), KeysError> {
        match self.read_files() {
            Ok(()) => {
                tracing::info!(reason = why, "API tokens reloaded");
                Ok(())
            }
            Err(e) => {
                tracing::error!(
                    reason = why,
                    error = %e,
                    "API tokens not reloaded: the tokens read before stay in use; fix the file and save it again (or send SIGHUP)"
                );
                Err(e)
            }
        }
    }

    /// Reads every file and, when all read, replaces the tokens. The stamps are taken first
    /// and kept whatever the outcome: a file that fails is not read again (nor its error
    /// logged again) until it changes.
    fn read_files(&self) -> Result<(), KeysError> {
        let stamps = self.stamps();
        *self.inner.read_at.lock().unwrap_or_else(|e| e.into_inner()) = stamps;
        let entries = self.inner.read()?;
        *self
            .inner
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(entries);
        Ok(())
    }

    fn changed_since_read(&self) -> bool {
        let now = self.stamps();
        *self.inner.read_at.lock().unwrap_or_else(|e| e.into_inner()) != now
    }

    /// Whether there are files to watch (tokens not all fixed).
    pub fn has_files(&self) -> bool {
        !self.inner.files.is_empty()
    }

    fn stamps(&self) -> Vec<Stamp> {
        self.inner
            .files
            .iter()
            .map(|(_, path)| {
                let meta = std::fs::metadata(path).ok()?;
                Some((meta.modified().ok()?, meta.len(), file_id(&meta)))
            })
            .collect()
    }

    /// Reloads on SIGHUP (unix) and when a token file changes, until `stop`. The SIGHUP
    /// handler is installed before this returns its future, so a SIGHUP sent once the gateway
    /// has started is never the default (which ends the process).
    pub fn watch(
        self,
        mut stop: watch::Receiver<bool>,
    ) -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
        let mut hangup = Hangup::install()?;
        Ok(async move {
            let mut tick = tokio::time::interval(CHECK_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let why = tokio::select! {
                    _ = stop.changed() => return,
                    () = hangup.recv() => "SIGHUP",
                    _ = tick.tick() => {
                        if !self.changed_since_read() {
                            continue;
                        }
                        "a token file changed"
                    }
                };
                // Errors are logged by reload; the tokens in use stay.
                let _ = self.reload(why);
            }
        })
    }
}

impl Inner {
    /// Every token of every file (and the fixed one), logged by where it is and a fingerprint
    /// (never the token): or the first error.
    fn read(&self) -> Result<Vec<Entry>, KeysError> {
        let mut entries = Vec::new();
        // Each token's text, only while reading, to refuse one in two places.
        let mut seen: HashMap<String, String> = HashMap::new();
        if let Some(token) = &self.fixed_admin {
            entries.push(Entry {
                scope: Scope::Admin,
                token: token.clone(),
            });
        }
        let mut loaded = Vec::new();
        for (scope, path) in &self.files {
            for (line, text) in read_token_file(path)? {
                let place = format!("{}:{line}", path.display());
                let token = ApiToken::new(&text, &place)?;
                if let Some(first) = seen.insert(text.clone(), place.clone()) {
                    return Err(ApiTokenError::Duplicate {
                        first,
                        second: place,
                    }
                    .into());
                }
                loaded.push((scope.clone(), place, fingerprint(&text)));
                entries.push(Entry {
                    scope: scope.clone(),
                    token,
                });
            }
        }
        for (scope, place, fingerprint) in loaded {
            let scope = match scope {
                Scope::Admin => "admin".to_owned(),
                Scope::App(app) => format!("app {app}"),
            };
            tracing::info!(scope, source = place, fingerprint, "API token loaded");
        }
        Ok(entries)
    }
}

/// The first 8 hex digits of the token's SHA-256: enough for an operator to tell which token
/// a line is, too little to find the token from.
fn fingerprint(token: &str) -> String {
    let digest = digest::digest(&digest::SHA256, token.as_bytes());
    digest.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> u64 {
    0
}

/// SIGHUP where there is one.
#[cfg(unix)]
struct Hangup(tokio::signal::unix::Signal);

#[cfg(unix)]
impl Hangup {
    fn install() -> std::io::Result<Hangup> {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::hangup()).map(Hangup)
    }

    async fn recv(&mut self) {
        if self.0.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(unix))]
struct Hangup;

#[cfg(not(unix))]
impl Hangup {
    fn install() -> std::io::Result<Hangup> {
        Ok(Hangup)
    }

    async fn recv(&mut self) {
        std::future::pending::<()>().await;
    }
}

/// Why the tokens could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// A token or file.
    #[error(transparent)]
    Token(#[from] ApiTokenError),
    /// No token configured at all.
    #[error(
        "no API token: set api_token_file (an admin token) or an app's api_token_files in the config, or {API_TOKEN_ENV} in the environment"
    )]
    None,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_short_and_stable() {
        assert_eq!(fingerprint("secret-token-123456").len(), 8);
        assert_eq!(
            fingerprint("secret-token-123456"),
            fingerprint("secret-token-123456")
        );
        assert_ne!(
            fingerprint("secret-token-123456"),
            fingerprint("secret-token-123457")
        );
    }
}
