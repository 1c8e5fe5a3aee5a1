//! `GET /v1/apps/{app}/calls` and `GET /v1/apps/{app}/users/{user}/tokens`: an app's calls and
//! a user's tokens, newest first, a page at a time.
//!
//! Pages are keyset pages (the store's `PageKey`): `next_cursor` names where a page ended, and
//! the next request reads strictly before it, so pages never repeat or skip a row however the
//! table grows meanwhile. The cursor is opaque to clients: its text may change between
//! versions, and a cursor of one list is refused by the other.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pushtrace_model::Timestamp;
use pushtrace_store::{CallQuery, CallState, PageKey, TokenQuery};
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ErrorCode};
use super::path::PathParams;
use crate::engine::Engine;

/// A page's size when the request sets none.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page.
pub const MAX_LIMIT: usize = 500;

const CALL_STATES: [&str; 6] = [
    "ringing",
    "delivered",
    "answered",
    "cancelled",
    "missed",
    "failed",
];
const TOKEN_STATES: [&str; 2] = ["valid", "invalidated"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CallsQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TokensQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

pub(super) async fn calls(
    State(engine): State<Engine>,
    PathParams(app): PathParams<String>,
    query: Result<Query<CallsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    const PARAMETERS: &str = "state, since, until, limit, cursor";
    let Query(query) = query.map_err(|e| unreadable(&e, PARAMETERS))?;
    engine.app(&app)?;
    let state = match query.state.as_deref() {
        None => None,
        Some(text) => Some(
            text.parse::<CallState>()
                .map_err(|_| one_of("state", text, &CALL_STATES))?,
        ),
    };
    let since = query
        .since
        .as_deref()
        .map(|t| time("since", t))
        .transpose()?;
    let until = query
        .until
        .as_deref()
        .map(|t| time("until", t))
        .transpose()?;
    if let (Some(since), Some(until)) = (since, until)
        && until < since
    {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!(
                "until ({until}) is before since ({since}): the calls listed are those created at or after since and before until"
            ),
        )
        .field("until"));
    }
    let limit = limit(query.limit.as_deref())?;
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::Calls.read(c))
        .transpose()?;
    let page = engine
        .store()
        .list_calls(&CallQuery {
            app,
            state,
            since,
            until,
            after,
            limit,
        })
        .await
        .map_err(crate::engine::EngineError::from)?;
    let next_cursor = page.next.map(|key| Cursor::Calls.write(&key));
    Ok(Json(json!({ "calls": page.items, "next_cursor": next_cursor })).into_response())
}

pub(super) async fn tokens(
    State(engine): State<Engine>,
    PathParams((app, user)): PathParams<(String, String)>,
    query: Result<Query<TokensQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    const PARAMETERS: &str = "state, limit, cursor";
    let Query(query) = query.map_err(|e| unreadable(&e, PARAMETERS))?;
    engine.app(&app)?;
    let valid = match query.state.as_deref() {
        None => None,
        Some("valid") => Some(true),
        Some("invalidated") => Some(false),
        Some(text) => return Err(one_of("state", text, &TOKEN_STATES)),
    };
    let limit = limit(query.limit.as_deref())?;
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::Tokens.read(c))
        .transpose()?;
    let page = engine
        .store()
        .list_tokens(&TokenQuery {
            app,
            user,
            valid,
            after,
            limit,
        })
        .await
        .map_err(crate::engine::EngineError::from)?;
    let next_cursor = page.next.map(|key| Cursor::Tokens.write(&key));
    Ok(Json(json!({ "tokens": page.items, "next_cursor": next_cursor })).into_response())
}

/// A query string that does not parse: an unknown parameter, or one given twice.
fn unreadable(rejection: &QueryRejection, parameters: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidQuery,
        format!("{rejection}; the parameters are {parameters}, each at most once"),
    )
}

fn one_of(field: &str, text: &str, allowed: &[&str]) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidQuery,
        format!(
            "{field} {text:?} is not one of {}{}",
            allowed.join(", "),
            pushtrace_model::suggest::hint(text, allowed.iter().copied())
        ),
    )
    .field(field)
}

/// An RFC 3339 time: `Timestamp::parse` also reads the log form (`2026-05-20 17:47:00+0200`),
/// which a query parameter is not, so the shape is checked first.
fn time(field: &str, text: &str) -> Result<Timestamp, ApiError> {
    let refused = |why: String| {
        ApiError::new(
            ErrorCode::InvalidQuery,
            format!(
                "{field} {text:?} is not an RFC 3339 time ({why}); write it like 2026-05-20T17:47:00Z or 2026-05-20T19:47:00%2B02:00 (`+` escaped)"
            ),
        )
        .field(field)
    };
    if !is_rfc3339(text) {
        return Err(refused(
            "date T time, then Z or an offset like +02:00".to_owned(),
        ));
    }
    Timestamp::parse(text).map_err(|e| refused(e.to_string()))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, as `docs/openapi.yaml`'s `QueryTime` pattern.
fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(digits(0..4)
        && at(4, b"-")
        && digits(5..7)
        && at(7, b"-")
        && digits(8..10)
        && at(10, b"Tt")
        && digits(11..13)
        && at(13, b":")
        && digits(14..16)
        && at(16, b":")
        && digits(17..19))
    {
        return false;
    }
    let mut i = 19;
    if at(i, b".") {
        let fraction = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if fraction == 0 {
            return false;
        }
        i += 1 + fraction;
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            digits(i + 1..i + 3) && at(i + 3, b":") && digits(i + 4..i + 6) && i + 6 == b.len()
        }
        _ => false,
    }
}

fn limit(text: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = text else {
        return Ok(DEFAULT_LIMIT);
    };
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) && text.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!(
                "limit {text:?} is not a whole number from 1 to {MAX_LIMIT} (the page's size; {DEFAULT_LIMIT} when left out)"
            ),
        )
        .field("limit")),
    }
}

/// Which list a cursor pages: its first byte once decoded, so one list's cursor is refused by
/// the other.
#[derive(Clone, Copy)]
enum Cursor {
    Calls,
    Tokens,
}

impl Cursor {
    fn tag(self) -> &'static str {
        match self {
            Cursor::Calls => "c",
            Cursor::Tokens => "t",
        }
    }

    /// `<tag>:<µs since the epoch>:<id>`, base64url: URL-safe, and opaque enough that nobody
    /// builds one by hand.
    fn write(self, key: &PageKey) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}:{}", self.tag(), key.at.utc_micros(), key.id))
    }

    fn read(self, text: &str) -> Result<PageKey, ApiError> {
        let key = URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|decoded| {
                let rest = decoded.strip_prefix(self.tag())?.strip_prefix(':')?;
                let (micros, id) = rest.split_once(':')?;
                // No id holds one, and PostgreSQL refuses a NUL in text (a 503 otherwise).
                if id.chars().any(char::is_control) {
                    return None;
                }
                Some(PageKey {
                    at: Timestamp::from_utc_micros(micros.parse().ok()?),
                    id: id.to_owned(),
                })
            });
        key.ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidQuery,
                "cursor is not one this list gave: pass the previous page's next_cursor unchanged, or leave cursor out for the first page",
            )
            .field("cursor")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_and_belong_to_their_list() {
        let key = PageKey {
            at: Timestamp::from_utc_micros(1_779_271_200_123_456),
            id: "call:with:colons".into(),
        };
        let text = Cursor::Calls.write(&key);
        assert_eq!(Cursor::Calls.read(&text).unwrap(), key);
        assert!(Cursor::Tokens.read(&text).is_err());
        let nul = URL_SAFE_NO_PAD.encode("c:1:a\0b");
        for bad in ["", "!!", "Yzox", "YzpYOmE", nul.as_str()] {
            assert!(Cursor::Calls.read(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_are_rfc_3339_only() {
        for good in [
            "2026-05-20T17:47:00Z",
            "2026-05-20T17:47:00.123456+02:00",
            "2026-05-20T17:47:00-05:30",
        ] {
            assert!(time("since", good).is_ok(), "{good}");
        }
        for bad in [
            "2026-05-20 17:47:00+0200",
            "2026-05-20T17:47:00",
            "2026-05-20T17:47:00+0200",
            " 2026-05-20T17:47:00Z",
            "2026-05-20T17:47:00.Z",
            "2026-05-20T17:47:00Zx",
            "2026-13-20T17:47:00Z",
            "yesterday",
            "",
        ] {
            let error = time("since", bad).unwrap_err();
            assert_eq!(error.code(), ErrorCode::InvalidQuery, "{bad}");
        }
    }

    #[test]
    fn limits_are_whole_numbers_in_range() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(Some("500")).unwrap(), 500);
        for bad in ["0", "501", "+5", "-1", "1.5", "", "ten"] {
            assert_eq!(
                limit(Some(bad)).unwrap_err().code(),
                ErrorCode::InvalidQuery,
                "{bad}"
            );
        }
    }
}
