//! Every error the API answers: a status and a JSON body `{"error": …, "field": …}` that says
//! what was wrong and what to send instead.

use axum::Json;
use axum::http::StatusCode;
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

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> ApiError {
        let message = error.to_string();
        match error {
            EngineError::UnknownApp(_)
            | EngineError::UnknownCall(_)
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
