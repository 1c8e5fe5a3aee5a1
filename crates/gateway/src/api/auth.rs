//! The backend's bearer tokens, checked in constant time, and what each one opens.
//!
//! A token is never kept as text: we keep an HMAC key and the token's tag, and check a
//! presented token with `ring::hmac::verify`, which compares in constant time. A presented
//! token is checked against every known token, without stopping at a match, so how long the
//! check takes does not say which token (or whether an early one) matched.
//!
//! Tokens are admin tokens (`api_token_file`, else `PUSHTRACE_API_TOKEN`), which open every
//! app, or app tokens (`[[apps]] api_token_files`), which open one app's routes and its calls
//! only. The files are read again on SIGHUP and when one of them changes (`keys.rs` holds the
//! set and its reloading).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ring::hmac;

use super::error::{ApiError, ErrorCode};
use super::keys::{ApiKeys, Scope};
use super::path::PathParams;
use crate::engine::{Engine, EngineError};

/// The shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// One API token, as a verifier.
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
        /// The file (and line) or variable.
        source_name: String,
        /// Its length.
        len: usize,
    },
    /// A token file with no token in it.
    #[error(
        "the API token file {path} holds no token: write one token per line (e.g. `head -c 24 /dev/urandom | base64 > {path}`)"
    )]
    Empty {
        /// The file.
        path: String,
    },
    /// The same token in two places: it would open both scopes, or one of them twice.
    #[error(
        "the same API token is at {first} and at {second}: give each app (and the admin) its own token"
    )]
    Duplicate {
        /// Where it is first.
        first: String,
        /// Where it is again.
        second: String,
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

    /// Reads the one token of a file (the first of [`read_token_file`]).
    pub fn from_file(path: &Path) -> Result<ApiToken, ApiTokenError> {
        let tokens = read_token_file(path)?;
        let (line, text) = &tokens[0];
        ApiToken::new(text, &format!("{}:{line}", path.display()))
    }

    /// Whether `given` is the token.
    pub fn matches(&self, given: &str) -> bool {
        hmac::verify(&self.key, given.as_bytes(), &self.tag).is_ok()
    }
}

/// The tokens of a token file, with their line numbers: one per line, blank lines and lines
/// starting with `#` skipped, so a file can hold the old and the new token while a rotation
/// is under way. At least one.
pub(super) fn read_token_file(path: &Path) -> Result<Vec<(usize, String)>, ApiTokenError> {
    let text = std::fs::read_to_string(path).map_err(|e| ApiTokenError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let tokens: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| (n, line.to_owned()))
        .collect();
    if tokens.is_empty() {
        return Err(ApiTokenError::Empty {
            path: path.display().to_string(),
        });
    }
    Ok(tokens)
}

/// What the middleware needs: the tokens, and the engine to find the app of a call.
#[derive(Clone)]
pub(super) struct Guard {
    pub keys: ApiKeys,
    pub engine: Engine,
}

/// Middleware: `Authorization: Bearer <token>` or 401; an app token on another app's route,
/// or on a call of another app, 403.
pub(super) async fn require_token(
    State(guard): State<Guard>,
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
    let scope = match given {
        Some(given) => guard.keys.check(given.trim()),
        None => {
            return ApiError::new(
                ErrorCode::Unauthorized,
                "send the API token as `Authorization: Bearer <token>` (api_token_file, an app's api_token_files, or PUSHTRACE_API_TOKEN)",
            )
            .into_response();
        }
    };
    match scope {
        None => ApiError::new(ErrorCode::Unauthorized, "the bearer token is wrong").into_response(),
        Some(Scope::Admin) => next.run(request).await,
        Some(Scope::App(app)) => {
            let (mut parts, body) = request.into_parts();
            if let Err(refused) = in_scope(&guard.engine, &app, &mut parts).await {
                return refused.into_response();
            }
            next.run(Request::from_parts(parts, body)).await
        }
    }
}

/// Whether the route is within `app`: its `{app}` is `app`, or its `{call_id}` is a call of
/// `app` (a call that does not exist is left to the route's own 404).
async fn in_scope(
    engine: &Engine,
    app: &str,
    parts: &mut axum::http::request::Parts,
) -> Result<(), ApiError> {
    let PathParams(params) =
        PathParams::<HashMap<String, String>>::from_request_parts(parts, &()).await?;
    let refused = |message: String| ApiError::new(ErrorCode::Forbidden, message);
    if let Some(asked) = params.get("app") {
        if asked != app {
            return Err(refused(format!(
                "this API token is for app {app:?} only: use app {asked:?}'s token (its api_token_files) or an admin token (api_token_file)"
            ))
            .field("app"));
        }
        return Ok(());
    }
    if let Some(call_id) = params.get("call_id") {
        let call = engine
            .store()
            .call(call_id)
            .await
            .map_err(|e| ApiError::from(EngineError::Store(e)))?;
        return match call {
            Some(call) if call.app != app => Err(refused(format!(
                "this API token is for app {app:?} only and call {call_id} is not one of its calls: use the call's app's token or an admin token (api_token_file)"
            ))
            .field("call_id")),
            _ => Ok(()),
        };
    }
    // Every backend route names an app or a call; one that names neither is for admins.
    Err(refused(format!(
        "this API token is for app {app:?} only; this route needs an admin token (api_token_file)"
    )))
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
