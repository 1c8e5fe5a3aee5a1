//! `PUT|DELETE /v1/apps/{app}/tokens/{token}`, `GET /v1/apps/{app}/tokens/{token}/pushes`.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::body::JsonBody;
use super::error::{ApiError, ErrorCode};
use super::path::PathParams;
use crate::engine::{Engine, TokenRequest};

pub(super) async fn register(
    State(engine): State<Engine>,
    PathParams((app, token)): PathParams<(String, String)>,
    JsonBody(request): JsonBody<TokenRequest>,
) -> Result<Response, ApiError> {
    let (token, created) = engine.register_token(&app, &token, request).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(token)).into_response())
}

pub(super) async fn unregister(
    State(engine): State<Engine>,
    PathParams((app, token)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    engine.unregister_token(&app, &token).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HistoryQuery {
    #[serde(default)]
    limit: Option<usize>,
}

const MAX_HISTORY: usize = 1000;

pub(super) async fn history(
    State(engine): State<Engine>,
    PathParams((app, token)): PathParams<(String, String)>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidQuery,
            format!("{e}; the only parameter is limit=1..{MAX_HISTORY}"),
        )
        .field("limit")
    })?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_HISTORY).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("limit must be 1..{MAX_HISTORY}"),
        )
        .field("limit"));
    }
    let (token, history) = engine.token_history(&app, &token, limit).await?;
    let pushes: Vec<_> = history
        .into_iter()
        .map(|(push, receipt)| json!({ "push": push, "receipt": receipt }))
        .collect();
    Ok(Json(json!({ "token": token, "pushes": pushes })).into_response())
}
