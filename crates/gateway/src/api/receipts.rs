//! `POST /v1/receipts`: a device says a push reached it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::body::JsonBody;
use super::error::ApiError;
use crate::engine::{Engine, ReceiptRequest};

pub(super) async fn post(
    State(engine): State<Engine>,
    JsonBody(request): JsonBody<ReceiptRequest>,
) -> Result<Response, ApiError> {
    let result = engine.receipt(request).await?;
    Ok((StatusCode::ACCEPTED, Json(result)).into_response())
}
