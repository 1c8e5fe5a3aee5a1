//! `POST /v1/apps/{app}/calls`, `GET /v1/calls/{id}`, `POST /v1/calls/{id}/cancel|answered`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::body::JsonBody;
use super::error::ApiError;
use super::path::PathParams;
use crate::engine::{CallRequest, Engine};

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

pub(super) async fn answered(
    State(engine): State<Engine>,
    PathParams(call_id): PathParams<String>,
) -> Result<Response, ApiError> {
    Ok(Json(engine.answer_call(&call_id).await?).into_response())
}
