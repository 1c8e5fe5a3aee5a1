//! Every error the API answers: a status and a JSON body `{"code": …, "error": …, "field": …}`
//! whose `code` says what kind of error it is, `error` what was wrong and what to send instead.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::engine::EngineError;

/// What kind of error an answer is: its `code`, a stable string clients can branch on (the
/// message is for people and may change).
///
/// Each code has one status ([`ErrorCode::status`]), so the two never disagree. `docs/api.md`
/// ("Errors") lists them with whether a client should retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: the body is not JSON of the expected shape (bad syntax; a field missing, unknown or
    /// of the wrong type).
    InvalidBody,
    /// 400: something other than whitespace follows the body's JSON value (`{…}{…}`).
    TrailingData,
    /// 400: a field's value is refused (out of range, blank text, a time that cannot be read,
    /// an id that does not match the receipt token).
    InvalidField,
    /// 400: a path parameter cannot be read (not UTF-8 once percent-decoded, a control
    /// character).
    InvalidPath,
    /// 400: a query parameter is unknown or out of range.
    InvalidQuery,
    /// 400: a request refused for a reason with no code of its own (the message says which).
    BadRequest,
    /// 401: no bearer token, or a wrong one.
    Unauthorized,
    /// 401: the receipt token is malformed, was not issued by this gateway's key, or expired.
    ReceiptRefused,
    /// 403: an app's API token on another app's route, or on a call of another app.
    Forbidden,
    /// 404: no app by that name in the config.
    UnknownApp,
    /// 404: no call with that id.
    UnknownCall,
    /// 404: a receipt whose token holds for a push the store does not have.
    UnknownPush,
    /// 404: no such token registered for the app.
    UnknownToken,
    /// 404: no route has that path.
    NotFound,
    /// 405: the route does not take that method.
    MethodNotAllowed,
    /// 408: the body did not arrive within `body_timeout_ms`.
    RequestTimeout,
    /// 409: cancel or answered on a call already in another final state.
    CallAlreadyEnded,
    /// 413: the body is over the size limit.
    BodyTooLarge,
    /// 415: the body was not sent as `application/json`.
    UnsupportedMediaType,
    /// 500: the gateway is broken (a bug); never an answer to the request's content.
    Internal,
    /// 503: the store failed; retry later.
    StoreUnavailable,
}

impl ErrorCode {
    /// Every code, in the order `docs/api.md` lists them.
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::InvalidBody,
        ErrorCode::TrailingData,
        ErrorCode::InvalidField,
        ErrorCode::InvalidPath,
        ErrorCode::InvalidQuery,
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::ReceiptRefused,
        ErrorCode::Forbidden,
        ErrorCode::UnknownApp,
        ErrorCode::UnknownCall,
        ErrorCode::UnknownPush,
        ErrorCode::UnknownToken,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RequestTimeout,
        ErrorCode::CallAlreadyEnded,
        ErrorCode::BodyTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::Internal,
        ErrorCode::StoreUnavailable,
    ];

    /// The code as it appears in error bodies: snake_case, never changed once published.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::TrailingData => "trailing_data",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::InvalidPath => "invalid_path",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::ReceiptRefused => "receipt_refused",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::UnknownApp => "unknown_app",
            ErrorCode::UnknownCall => "unknown_call",
            ErrorCode::UnknownPush => "unknown_push",
            ErrorCode::UnknownToken => "unknown_token",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::CallAlreadyEnded => "call_already_ended",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::Internal => "internal",
            ErrorCode::StoreUnavailable => "store_unavailable",
        }
    }

    /// The status every answer with this code has.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidBody
            | ErrorCode::TrailingData
            | ErrorCode::InvalidField
            | ErrorCode::InvalidPath
            | ErrorCode::InvalidQuery
            | ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized | ErrorCode::ReceiptRefused => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::UnknownApp
            | ErrorCode::UnknownCall
            | ErrorCode::UnknownPush
            | ErrorCode::UnknownToken
            | ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::CallAlreadyEnded => StatusCode::CONFLICT,
            ErrorCode::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The code of an error answer made outside the API's handlers (an axum rejection or a
    /// layer's answer), from its status alone.
    fn of_status(status: StatusCode) -> ErrorCode {
        match status {
            StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
            StatusCode::FORBIDDEN => ErrorCode::Forbidden,
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::REQUEST_TIMEOUT => ErrorCode::RequestTimeout,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::BodyTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            StatusCode::SERVICE_UNAVAILABLE => ErrorCode::StoreUnavailable,
            status if status.is_server_error() => ErrorCode::Internal,
            _ => ErrorCode::BadRequest,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

#[derive(Debug, Serialize)]
struct ErrorBody {
    code: ErrorCode,
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

impl ApiError {
    /// An answer of kind `code` (its status follows) saying `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status: code.status(),
            body: ErrorBody {
                code,
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

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.body.code
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
    // The status is kept as it was: the code only classifies it.
    let mut json = ApiError {
        status,
        body: ErrorBody {
            code: ErrorCode::of_status(status),
            error: message,
            field: None,
        },
    }
    .into_response();
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
            EngineError::UnknownApp(_) => ApiError::new(ErrorCode::UnknownApp, message),
            EngineError::UnknownCall(_) => ApiError::new(ErrorCode::UnknownCall, message),
            EngineError::UnknownPush(_) => ApiError::new(ErrorCode::UnknownPush, message),
            EngineError::UnknownToken { .. } => ApiError::new(ErrorCode::UnknownToken, message),
            EngineError::Invalid { field, .. } => {
                ApiError::new(ErrorCode::InvalidField, message).field(field)
            }
            EngineError::Conflict { .. } => ApiError::new(ErrorCode::CallAlreadyEnded, message),
            EngineError::ReceiptRefused(_) => {
                ApiError::new(ErrorCode::ReceiptRefused, message).field("receipt_token")
            }
            EngineError::Store(e) => {
                tracing::error!(error = %e, "the store failed; answered 503");
                ApiError::new(
                    ErrorCode::StoreUnavailable,
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

    use super::{ErrorCode, is_json, json_errors};

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
        let json = body(json).await;
        assert_eq!(json["error"], "Method Not Allowed; see docs/api.md");
        assert_eq!(json["code"], "method_not_allowed");

        let empty = body(json_errors(StatusCode::URI_TOO_LONG.into_response()).await).await;
        assert_eq!(empty["error"], "URI Too Long; see docs/api.md");
        assert_eq!(empty["code"], "bad_request");

        let broken = json_errors(StatusCode::BAD_GATEWAY.into_response()).await;
        assert_eq!(broken.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(body(broken).await["code"], "internal");
    }

    #[tokio::test]
    async fn successes_and_json_errors_pass_unchanged() {
        let text = json_errors((StatusCode::OK, "# EOF").into_response()).await;
        assert!(!is_json(text.headers()));
        let ours = super::ApiError::new(ErrorCode::UnknownCall, "no call").field("call_id");
        let passed = json_errors(ours.into_response()).await;
        let passed = body(passed).await;
        assert_eq!(passed["error"], "no call");
        assert_eq!(passed["field"], "call_id");
        assert_eq!(passed["code"], "unknown_call");
    }

    #[test]
    fn codes_are_distinct_snake_case_and_agree_with_their_status() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{text}"
            );
            // Read back from its status alone, a 5xx stays the gateway's fault and a 4xx the
            // request's.
            let read_back = ErrorCode::of_status(code.status()).status();
            assert_eq!(
                read_back.is_server_error(),
                code.status().is_server_error(),
                "{text}"
            );
        }
    }
}
