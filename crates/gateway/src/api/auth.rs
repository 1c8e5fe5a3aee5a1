//! The backend's bearer token, checked in constant time.
//!
//! The token is never kept as text: we keep an HMAC key and the token's tag, and check a
//! presented token with `ring::hmac::verify`, which compares in constant time.

use std::fmt;
use std::path::Path;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ring::hmac;

use super::error::{ApiError, ErrorCode};

/// The shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// The API token, as a verifier.
#[derive(Clone)]
pub struct ApiToken {
    key: hmac::Key,
    tag: Vec<u8>,
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(…)")
    }
}

/// A token that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ApiTokenError {
    /// The file could not be read.
    #[error("cannot read the API token file {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// Too short.
    #[error(
        "the API token from {source_name} is {len} characters; use at least {MIN_TOKEN_LEN} (e.g. `head -c 24 /dev/urandom | base64`)"
    )]
    Short {
        /// The file or variable.
        source_name: String,
        /// Its length.
        len: usize,
    },
}

impl ApiToken {
    /// A verifier for `token` (surrounding whitespace trimmed); `source_name` names where it came
    /// from in errors.
    pub fn new(token: &str, source_name: &str) -> Result<ApiToken, ApiTokenError> {
        let token = token.trim();
        if token.len() < MIN_TOKEN_LEN {
            return Err(ApiTokenError::Short {
                source_name: source_name.to_owned(),
                len: token.len(),
            });
        }
        let rng = ring::rand::SystemRandom::new();
        let Ok(key) = hmac::Key::generate(hmac::HMAC_SHA256, &rng) else {
            panic!("the system random number generator failed");
        };
        let tag = hmac::sign(&key, token.as_bytes()).as_ref().to_vec();
        Ok(ApiToken { key, tag })
    }

    /// Reads the token from a file.
    pub fn from_file(path: &Path) -> Result<ApiToken, ApiTokenError> {
        let text = std::fs::read_to_string(path).map_err(|e| ApiTokenError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        ApiToken::new(&text, &path.display().to_string())
    }

    /// Whether `given` is the token.
    pub fn matches(&self, given: &str) -> bool {
        hmac::verify(&self.key, given.as_bytes(), &self.tag).is_ok()
    }
}

/// Middleware: `Authorization: Bearer <token>` or 401.
pub async fn require_token(
    State(token): State<ApiToken>,
    request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            // The scheme is case-insensitive (RFC 9110 §11.1).
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token)
        });
    match given {
        Some(given) if token.matches(given.trim()) => next.run(request).await,
        Some(_) => ApiError::new(ErrorCode::Unauthorized, "the bearer token is wrong").into_response(),
        None => ApiError::new(
            ErrorCode::Unauthorized,
            "send the API token as `Authorization: Bearer <token>` (api_token_file or PUSHTRACE_API_TOKEN)",
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_matches() {
        let token = ApiToken::new(" secret-token-123456 \n", "test").unwrap();
        assert!(token.matches("secret-token-123456"));
        assert!(!token.matches("secret-token-12345"));
        assert!(!token.matches(""));
        assert!(ApiToken::new("short", "test").is_err());
    }
}
