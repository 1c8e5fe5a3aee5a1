//! Reading path parameters with errors that name the parameter, instead of axum's plain-text
//! rejections.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The route's path parameters as `T`.
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(PathParams(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(match e.kind() {
                // `%ff`: the bytes decode, the text does not.
                ErrorKind::InvalidUtf8InPathParam { key } => ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "path parameter {key} is not UTF-8 once percent-decoded: percent-encode the UTF-8 bytes of the text"
                    ),
                )
                .field(key.clone()),
                _ => ApiError::new(e.status(), e.body_text()),
            }),
            // Only a route without the parameters its handler reads: a bug, hence axum's 500.
            Err(e) => Err(ApiError::new(e.status(), e.body_text())),
        }
    }
}
