//! Reading a JSON request body with errors that name the field, instead of axum's plain-text
//! rejections.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use super::error::{ApiError, ErrorCode};
use crate::http::BodyTimeout;

/// The largest request body read (a receipt or a call is a few hundred bytes).
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON body of type `T`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let mime = v.split(';').next().unwrap_or("").trim();
                mime.eq_ignore_ascii_case("application/json")
            });
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(unreadable)?;
        parse(&bytes).map(JsonBody)
    }
}

/// A body that could not be read: too slow (408) or too large (413).
fn unreadable(rejection: BytesRejection) -> ApiError {
    match BodyTimeout::find(&rejection) {
        Some(timeout) => ApiError::new(
            ErrorCode::RequestTimeout,
            format!("{timeout}; send the whole body at once"),
        ),
        None => ApiError::new(
            ErrorCode::BodyTooLarge,
            format!("cannot read the body ({rejection}); bodies are limited to {MAX_BODY} bytes"),
        ),
    }
}

/// Parses one JSON value, naming the field a type error is in.
///
/// Anything but whitespace after the value is refused, as `serde_json::from_slice` would: a
/// body of two values (`{…}{…}`) is a client bug, and acting on the first would hide it.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let error = ApiError::new(
            ErrorCode::InvalidBody,
            format!("invalid JSON body: {}", e.inner()),
        );
        if path == "." {
            error
        } else {
            error.field(path)
        }
    })?;
    deserializer.end().map_err(|e| {
        ApiError::new(
            ErrorCode::TrailingData,
            format!("invalid JSON body: {e}; send one JSON value and nothing after it"),
        )
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::api::ErrorCode;

    #[test]
    fn one_value_and_whitespace_only() {
        let value: serde_json::Value = parse(b" {\"a\": 1}\r\n\t ").unwrap();
        assert_eq!(value["a"], 1);
        for body in [
            &b"{\"a\": 1}{\"a\": 2}"[..],
            b"{\"a\": 1} x",
            b"{\"a\": 1},",
        ] {
            let error = parse::<serde_json::Value>(body).unwrap_err();
            assert_eq!(error.code(), ErrorCode::TrailingData);
        }
    }
}
