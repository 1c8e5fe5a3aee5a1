//! The admin API's fault routes: the rules and latency of [`crate::faults`], read and changed
//! at run time.
//!
//! | Method and path | What |
//! |---|---|
//! | `GET /v1/faults` | the rules (each with how many requests it hit) and the latency |
//! | `PUT /v1/faults` | replace the rules (a JSON array of rules) |
//! | `POST /v1/faults` | add one rule after the others |
//! | `DELETE /v1/faults` | remove every rule |
//! | `PUT /v1/latency`, `DELETE /v1/latency` | set or remove the added latency |

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::json;

use super::routes::body;
use super::{AdminState, ApiError};
use crate::faults::FaultError;
use crate::sync::lock;
use crate::{FaultRule, Latency};

type Answer = Result<Response, ApiError>;

pub(crate) fn router() -> Router<AdminState> {
    Router::new()
        .route(
            "/v1/faults",
            get(faults)
                .put(replace_faults)
                .post(add_fault)
                .delete(clear_faults),
        )
        .route("/v1/latency", put(set_latency).delete(clear_latency))
}

fn refused(error: FaultError) -> ApiError {
    ApiError::bad("faults", error.0)
}

fn current(state: &AdminState) -> Response {
    let plan = lock(&state.shared.faults);
    Json(json!({ "rules": plan.rules(), "latency": plan.latency() })).into_response()
}

async fn faults(State(state): State<AdminState>) -> Answer {
    Ok(current(&state))
}

async fn replace_faults(State(state): State<AdminState>, bytes: Bytes) -> Answer {
    let rules: Vec<FaultRule> = body(&bytes)?;
    lock(&state.shared.faults)
        .set_rules(rules)
        .map_err(refused)?;
    Ok(current(&state))
}

async fn add_fault(State(state): State<AdminState>, bytes: Bytes) -> Answer {
    let rule: FaultRule = body(&bytes)?;
    lock(&state.shared.faults).add_rule(rule).map_err(refused)?;
    Ok(current(&state))
}

async fn clear_faults(State(state): State<AdminState>) -> Answer {
    lock(&state.shared.faults).clear();
    Ok(current(&state))
}

async fn set_latency(State(state): State<AdminState>, bytes: Bytes) -> Answer {
    let latency: Latency = body(&bytes)?;
    lock(&state.shared.faults)
        .set_latency(Some(latency))
        .map_err(|e| ApiError::bad("latency", e.0))?;
    Ok(current(&state))
}

async fn clear_latency(State(state): State<AdminState>) -> Answer {
    lock(&state.shared.faults)
        .set_latency(None)
        .map_err(|e| ApiError::bad("latency", e.0))?;
    Ok(current(&state))
}
