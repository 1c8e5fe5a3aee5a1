//! `GET /v1/apps/{app}/webhooks/deliveries`: the app's webhook events, their delivery state
//! and every attempt, newest first, a page at a time.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use pushtrace_store::{WebhookQuery, WebhookState};
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ErrorCode};
use super::path::PathParams;
use crate::engine::Engine;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeliveriesQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    call_id: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    before: Option<i64>,
}

const MAX_PAGE: usize = 1000;
const PARAMETERS: &str = "state=pending|delivered|failed, call_id, limit=1..1000, before=<seq>";

pub(super) async fn deliveries(
    State(engine): State<Engine>,
    PathParams(app): PathParams<String>,
    query: Result<Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidQuery,
            format!("{e}; the parameters are {PARAMETERS}"),
        )
    })?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("limit must be 1..{MAX_PAGE}"),
        )
        .field("limit"));
    }
    if query.before.is_some_and(|b| b < 1) {
        return Err(
            ApiError::new(ErrorCode::InvalidQuery, "before must be a seq of 1 or more")
                .field("before"),
        );
    }
    // No call id holds one, and PostgreSQL refuses a NUL in text: a 400 here, not a 503 there.
    if query
        .call_id
        .as_deref()
        .is_some_and(|id| id.chars().any(char::is_control))
    {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "call_id holds a control character once percent-decoded; no call id does",
        )
        .field("call_id"));
    }
    let state = match query.state.as_deref() {
        None => None,
        Some(text) => Some(text.parse::<WebhookState>().map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidQuery,
                format!(
                    "{text:?} is not one of pending, delivered, failed{}",
                    pushtrace_model::suggest::hint(text, ["pending", "delivered", "failed"])
                ),
            )
            .field("state")
        })?),
    };
    let page = engine
        .webhook_deliveries(WebhookQuery {
            app,
            state,
            call_id: query.call_id,
            before_seq: query.before,
            limit,
        })
        .await?;
    let next_before = if page.len() == limit {
        page.last().map(|(w, _)| w.seq)
    } else {
        None
    };
    let deliveries: Vec<_> = page
        .into_iter()
        .map(|(webhook, attempts)| {
            // The body is sent as text (its bytes are what is signed); shown here as JSON.
            let event: serde_json::Value =
                serde_json::from_str(&webhook.body).unwrap_or(serde_json::Value::Null);
            json!({
                "seq": webhook.seq,
                "event_id": webhook.event_id,
                "type": webhook.kind,
                "call_id": webhook.call_id,
                "created_at": webhook.created_at,
                "state": webhook.state,
                "attempts": webhook.attempts,
                "next_attempt_at": (webhook.state == WebhookState::Pending).then_some(webhook.due_at),
                "last_status": webhook.last_status,
                "last_error": webhook.last_error,
                "updated_at": webhook.updated_at,
                "event": event,
                "attempt_log": attempts,
            })
        })
        .collect();
    Ok(Json(json!({ "deliveries": deliveries, "next_before": next_before })).into_response())
}
