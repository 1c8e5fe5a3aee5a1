//! `POST /v1/apps/{app}/calls`, `GET /v1/calls/{id}`, `POST /v1/calls/{id}/cancel|answered`
//! (the latter with an optional body naming the device that answered).

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::body::JsonBody;
use super::error::ApiError;
use super::path::PathParams;
use crate::engine::{AnswerRequest, CallRequest, Engine};

pub(super) async fn create(
    State(engine): State<Engine>,
    PathParams(app): PathParams<String>,
    JsonBody(request): JsonBody<CallRequest>,
) -> Result<Response, ApiError> {
    let created = engine.create_call(&app, request).await?;
    let status = if created.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(created)).into_response())
}

pub(super) async fn timeline(
    State(engine): State<Engine>,
    PathParams(call_id): PathParams<String>,
) -> Result<Response, ApiError> {
    Ok(Json(engine.call_timeline(&call_id).await?).into_response())
}

pub(super) async fn timeline_by_client_id(
    State(engine): State<Engine>,
    PathParams((app, client_call_id)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(Json(
        engine
            .call_timeline_by_client_id(&app, &client_call_id)
            .await?,
    )
    .into_response())
}

pub(super) async fn cancel(
    State(engine): State<Engine>,
    PathParams(call_id): PathParams<String>,
) -> Result<Response, ApiError> {
    Ok(Json(engine.cancel_call(&call_id).await?).into_response())
}

/// The body is optional: without one (nothing to read, whatever `Content-Type` says: many
/// clients send `application/json` on every request) the answering device is not named, as
/// before the body existed. HTTP/1.1 says a request has a body by `Content-Length` or
/// `Transfer-Encoding`.
pub(super) async fn answered(
    State(engine): State<Engine>,
    PathParams(call_id): PathParams<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0");
    let call = if has_body {
        let JsonBody(answered_on) = JsonBody::<AnswerRequest>::from_request(request, &()).await?;
        engine.answer_call_on(&call_id, &answered_on).await?
    } else {
        engine.answer_call(&call_id).await?
    };
    Ok(Json(call).into_response())
}
