//! The admin token: read from a file or the environment, or generated; never printed by
//! `Debug`, compared in constant time.

use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable the admin token is read from when no file is configured.
pub const ADMIN_TOKEN_ENV: &str = "PUSHTRACE_EMULATOR_ADMIN_TOKEN";

/// Shortest token accepted from a file or the environment.
const MIN_LEN: usize = 16;

/// Where the admin token came from (say this, not the token, in logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// Read from this file.
    File(PathBuf),
    /// Read from [`ADMIN_TOKEN_ENV`].
    Environment,
    /// Generated at start (32 random bytes, hex).
    Generated,
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::File(path) => write!(f, "file {}", path.display()),
            TokenSource::Environment => write!(f, "environment variable {ADMIN_TOKEN_ENV}"),
            TokenSource::Generated => f.write_str("generated at start"),
        }
    }
}

/// The bearer token of the admin API.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken {
    secret: String,
    source: TokenSource,
}

/// An admin token that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    /// The token file could not be read.
    #[error("cannot read the admin token file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The token is too short or has characters a header cannot carry.
    #[error(
        "the admin token from {origin} is unusable: {problem}; use at least 16 visible ASCII characters without spaces (e.g. `openssl rand -hex 32`)"
    )]
    Unusable {
        /// Where it came from.
        origin: TokenSource,
        /// What is wrong.
        problem: &'static str,
    },
}

impl AdminToken {
    /// A token given directly (surrounding whitespace is trimmed).
    pub fn new(secret: &str, source: TokenSource) -> Result<AdminToken, AdminTokenError> {
        let secret = secret.trim();
        let problem = if secret.len() < MIN_LEN {
            Some("it is shorter than 16 characters")
        } else if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            Some("it has spaces, control or non-ASCII characters")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(AdminTokenError::Unusable {
                origin: source,
                problem,
            });
        }
        Ok(AdminToken {
            secret: secret.to_owned(),
            source,
        })
    }

    /// The token in a file (one line).
    pub fn from_file(path: &Path) -> Result<AdminToken, AdminTokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| AdminTokenError::File {
            path: path.to_owned(),
            source,
        })?;
        AdminToken::new(&text, TokenSource::File(path.to_owned()))
    }

    /// The token in [`ADMIN_TOKEN_ENV`], if that is set and not empty.
    pub fn from_env() -> Result<Option<AdminToken>, AdminTokenError> {
        match std::env::var(ADMIN_TOKEN_ENV) {
            Ok(text) if !text.trim().is_empty() => {
                AdminToken::new(&text, TokenSource::Environment).map(Some)
            }
            Ok(_) => Ok(None),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(AdminTokenError::Unusable {
                origin: TokenSource::Environment,
                problem: "it is not valid UTF-8",
            }),
        }
    }

    /// 32 random bytes from the system CSPRNG (through rustls's ring provider), as hex.
    pub fn generate() -> AdminToken {
        let mut bytes = [0u8; 32];
        let rng = rustls::crypto::ring::default_provider().secure_random;
        if rng.fill(&mut bytes).is_err() {
            // No system randomness at all: nothing secret can be made, so mix the clock and
            // the process id rather than refuse to start a local test server.
            let seed = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
                ^ u128::from(std::process::id());
            bytes[..16].copy_from_slice(&seed.to_le_bytes());
        }
        let secret = bytes.iter().map(|b| format!("{b:02x}")).collect();
        AdminToken {
            secret,
            source: TokenSource::Generated,
        }
    }

    /// The token itself (print it only to the user who started the emulator).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Where it came from.
    pub fn source(&self) -> &TokenSource {
        &self.source
    }

    /// Whether `given` is the token, in time independent of where they differ.
    pub fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.secret.as_bytes(), given.as_bytes());
        let mut diff = a.len() ^ b.len();
        for (i, byte) in a.iter().enumerate() {
            diff |= usize::from(byte ^ b.get(i).copied().unwrap_or(0));
        }
        diff == 0
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminToken")
            .field("secret", &"<redacted>")
            .field("source", &self.source)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_matched_and_never_debug_printed() {
        let token = AdminToken::new(" 0123456789abcdef\n", TokenSource::Environment).unwrap();
        assert!(token.matches("0123456789abcdef"));
        assert!(!token.matches("0123456789abcdeF"));
        assert!(!token.matches("0123456789abcdef0"));
        assert!(!token.matches(""));
        assert!(!format!("{token:?}").contains("0123"));
        let short = AdminToken::new("abc", TokenSource::Environment).unwrap_err();
        assert!(short.to_string().contains("shorter than 16"), "{short}");
        let spaced = AdminToken::new("0123456789 abcdef", TokenSource::Generated).unwrap_err();
        assert!(spaced.to_string().contains("spaces"), "{spaced}");
        let generated = AdminToken::generate();
        assert_eq!(generated.secret().len(), 64);
        assert_ne!(generated.secret(), AdminToken::generate().secret());
    }
}
