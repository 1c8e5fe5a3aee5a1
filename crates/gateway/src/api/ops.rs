//! `/metrics` and `/healthz`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ErrorCode;
use crate::engine::Engine;

/// The store-wide gauges are counted at each scrape; a store that does not answer leaves
/// them at their last values (and `/healthz` says so).
pub(super) async fn metrics(State(engine): State<Engine>) -> Response {
    match engine.store().gauges(crate::clock::now()).await {
        Ok(gauges) => engine.metrics().set_gauges(&gauges),
        Err(e) => tracing::warn!(error = %e, "counting the /metrics gauges failed"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        engine.metrics().render(),
    )
        .into_response()
}

/// 200 when the store answers, 503 when it does not (a load balancer takes the instance out).
pub(super) async fn healthz(State(engine): State<Engine>) -> Response {
    let store = engine.store();
    match store.pending_jobs().await {
        Ok(pending) => Json(json!({
            "status": "ok",
            "instance": engine.instance(),
            "store": store.backend().to_string(),
            "pending_jobs": pending,
        }))
        .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "store unavailable",
                "code": ErrorCode::StoreUnavailable,
                "instance": engine.instance(),
                "error": e.to_string(),
            })),
        )
            .into_response(),
    }
}
