//! Every error the API answers: a status and a JSON body `{"error": …, "field": …}` that says
//! what was wrong and what to send instead.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::engine::EngineError;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

#[derive(Debug, Serialize)]
struct ErrorBody {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

impl ApiError {
    /// An answer with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                error: message.into(),
                field: None,
            },
        }
    }

    /// Names the request field at fault.
    pub fn field(mut self, field: impl Into<String>) -> ApiError {
        self.body.field = Some(field.into());
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// The longest plain-text error body kept as a message (axum's rejections are one line).
const MAX_PLAIN_ERROR: usize = 1024;

/// Middleware: an error answer that is not JSON becomes one, its text the message and its
/// other headers (`Allow`, …) kept.
///
/// Our handlers and extractors answer [`ApiError`]s already; this holds the promise that every
/// error is JSON for what they do not see: a rejection of an axum extractor we did not wrap,
/// or a layer's own answer.
pub(super) async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_PLAIN_ERROR)
        .await
        .ok()
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty());
    let message = format!(
        "{}; see docs/api.md",
        text.as_deref()
            .or(status.canonical_reason())
            .unwrap_or("error")
    );
    let mut json = ApiError::new(status, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().append(name, value.clone());
        }
    }
    json
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> ApiError {
        let message = error.to_string();
        match error {
            EngineError::UnknownApp(_)
            | EngineError::UnknownCall(_)
            | EngineError::UnknownPush(_)
            | EngineError::UnknownToken { .. } => ApiError::new(StatusCode::NOT_FOUND, message),
            EngineError::Invalid { field, .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, message).field(field)
            }
            EngineError::Conflict { .. } => ApiError::new(StatusCode::CONFLICT, message),
            EngineError::ReceiptRefused(_) => {
                ApiError::new(StatusCode::UNAUTHORIZED, message).field("receipt_token")
            }
            EngineError::Store(e) => {
                eprintln!("pushtrace-gateway: store error: {e}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the store failed; retry later (the gateway's log says why)",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use serde_json::Value;

    use super::{is_json, json_errors};

    async fn body(response: Response) -> Value {
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn plain_errors_become_json_and_keep_their_headers() {
        let plain = (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET")],
            "Method Not Allowed",
        )
            .into_response();
        let json = json_errors(plain).await;
        assert_eq!(json.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(json.headers()[header::ALLOW], "GET");
        assert!(is_json(json.headers()));
        assert_eq!(
            body(json).await["error"],
            "Method Not Allowed; see docs/api.md"
        );

        let empty = json_errors(StatusCode::URI_TOO_LONG.into_response()).await;
        assert_eq!(body(empty).await["error"], "URI Too Long; see docs/api.md");
    }

    #[tokio::test]
    async fn successes_and_json_errors_pass_unchanged() {
        let text = json_errors((StatusCode::OK, "# EOF").into_response()).await;
        assert!(!is_json(text.headers()));
        let ours = super::ApiError::new(StatusCode::NOT_FOUND, "no call").field("call_id");
        let passed = json_errors(ours.into_response()).await;
        let passed = body(passed).await;
        assert_eq!(passed["error"], "no call");
        assert_eq!(passed["field"], "call_id");
    }
}
