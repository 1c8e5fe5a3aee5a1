//! The HTTP API (`docs/api.md`, `docs/openapi.yaml`): the backend registers tokens and rings
//! calls with a bearer token; devices post receipts authenticated by their receipt token;
//! `/metrics` and `/healthz` are for operators. An app's token opens that app's routes and
//! calls only; an admin token opens all of them ([`ApiKeys`]).

mod auth;
mod body;
mod calls;
mod error;
mod keys;
mod listing;
mod ops;
mod path;
mod receipts;
mod tokens;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

pub use auth::{ApiToken, ApiTokenError, MIN_TOKEN_LEN};
pub use error::{ApiError, ErrorCode};
pub use keys::{ApiKeys, KeysError, Scope};

use crate::engine::Engine;

/// The router over `engine`, with `keys` (an [`ApiKeys`], or one admin [`ApiToken`]) guarding
/// the backend's routes.
pub fn router(engine: Engine, keys: impl Into<ApiKeys>) -> Router {
    let guard = auth::Guard {
        keys: keys.into(),
        engine: engine.clone(),
    };
    let backend = Router::new()
        .route(
            "/v1/apps/{app}/tokens/{token}",
            put(tokens::register).delete(tokens::unregister),
        )
        .route("/v1/apps/{app}/tokens/{token}/pushes", get(tokens::history))
        .route(
            "/v1/apps/{app}/calls",
            post(calls::create).get(listing::calls),
        )
        .route("/v1/apps/{app}/users/{user}/tokens", get(listing::tokens))
        .route(
            "/v1/apps/{app}/calls/{client_call_id}",
            get(calls::timeline_by_client_id),
        )
        .route(
            "/v1/apps/{app}/webhooks/deliveries",
            get(webhooks::deliveries),
        )
        .route("/v1/calls/{call_id}", get(calls::timeline))
        .route("/v1/calls/{call_id}/cancel", post(calls::cancel))
        .route("/v1/calls/{call_id}/answered", post(calls::answered))
        .route_layer(axum::middleware::from_fn_with_state(
            guard,
            auth::require_token,
        ));
    Router::new()
        .merge(backend)
        .route("/v1/receipts", post(receipts::post))
        .route("/metrics", get(ops::metrics))
        .route("/healthz", get(ops::healthz))
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such route; see docs/api.md") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "this route does not take that method; see docs/api.md",
            )
        })
        .layer(DefaultBodyLimit::max(body::MAX_BODY))
        .layer(axum::middleware::map_response(error::json_errors))
        .with_state(engine)
}
