//! Reading path parameters with errors that name the parameter, instead of axum's plain-text
//! rejections.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::{ApiError, ErrorCode};

/// The route's path parameters as `T`.
///
/// A parameter holding a control character once percent-decoded is refused here: no app,
/// token, call id or client call id can hold one (they are printable text), and PostgreSQL
/// refuses a NUL in text outright, which would otherwise come back as a store failure (503)
/// for what is the request's fault.
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(refused)?;
        if let Some((key, _)) = raw.0.iter().find(|(_, v)| v.chars().any(char::is_control)) {
            return Err(ApiError::new(
                ErrorCode::InvalidPath,
                format!(
                    "path parameter {key} holds a control character once percent-decoded; no {key} does"
                ),
            )
            .field(key.clone()));
        }
        let Path(value) = Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(refused)?;
        Ok(PathParams(value))
    }
}

fn refused(rejection: PathRejection) -> ApiError {
    match rejection {
        PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
            // `%ff`: the bytes decode, the text does not.
            ErrorKind::InvalidUtf8InPathParam { key } => ApiError::new(
                ErrorCode::InvalidPath,
                format!(
                    "path parameter {key} is not UTF-8 once percent-decoded: percent-encode the UTF-8 bytes of the text"
                ),
            )
            .field(key.clone()),
            // The parameters are all text: anything else is a route that does not match its
            // handler, a bug.
            _ if e.status().is_server_error() => ApiError::new(ErrorCode::Internal, e.body_text()),
            _ => ApiError::new(ErrorCode::InvalidPath, e.body_text()),
        },
        // Only a route without the parameters its handler reads: a bug, hence a 500.
        e => ApiError::new(ErrorCode::Internal, e.body_text()),
    }
}
