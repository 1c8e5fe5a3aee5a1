//! The admin API: HTTP/1.1 + JSON on its own listener, for tests and scripts to drive the
//! emulator at run time (devices, their states, the clock, faults and latency) and read what it did (accepted
//! pushes, the delivery log, counts per category, the delivery hook's counters).
//!
//! Built on axum (`router`), which the gateway of a later issue uses too. Every route except
//! `GET /healthz` needs `Authorization: Bearer <admin token>`, compared in constant time; the
//! check is a layer over the whole router, fallback included, so an unauthenticated client
//! learns nothing about which routes exist. Every error is a JSON body
//! `{"error": "...", "field": "..."}` (`field` when one input is at fault) with its status:
//! 400 bad input, 401 no or wrong token, 404 unknown route or thing, 405 wrong method, 409 a
//! request the emulator's set-up cannot do (advancing the system clock). The routes are listed
//! in `routes` and documented in `docs/emulator.md`.
//!
//! The server stops with the emulator: it shuts down gracefully when the
//! [`EmulatorHandle`](crate::EmulatorHandle)'s stop signal fires.

mod fault_routes;
mod json;
mod page;
mod routes;
mod token;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::http_hook::Counters;
use crate::server::Shared;
use crate::{HookStats, StartError};

pub use token::{ADMIN_TOKEN_ENV, AdminToken, AdminTokenError, TokenSource};

/// The admin API's listener and token ([`crate::EmulatorBuilder::admin`]).
#[derive(Debug, Clone)]
pub struct AdminOptions {
    /// Where to listen (the config default is `127.0.0.1:0`).
    pub addr: SocketAddr,
    /// The bearer token every request but `GET /healthz` must carry.
    pub token: AdminToken,
}

/// The running admin API, as the handle reports it.
#[derive(Debug)]
pub(crate) struct AdminInfo {
    pub(crate) addr: SocketAddr,
    pub(crate) token: Arc<AdminToken>,
}

/// The hook's URL and counters, for `GET /v1/hook` and [`EmulatorHandle::hook_stats`].
#[derive(Debug, Clone)]
pub(crate) struct HookView {
    pub(crate) url: http::Uri,
    pub(crate) counters: Arc<Counters>,
}

impl HookView {
    pub(crate) fn stats(&self) -> HookStats {
        self.counters.snapshot(&self.url)
    }
}

/// What every handler sees.
#[derive(Clone)]
pub(crate) struct AdminState {
    pub(crate) shared: Arc<Shared>,
    pub(crate) token: Arc<AdminToken>,
    pub(crate) hook: Option<HookView>,
}

/// Binds the admin listener and serves until `stop` turns true.
pub(crate) async fn serve(
    options: AdminOptions,
    shared: Arc<Shared>,
    hook: Option<HookView>,
    mut stop: watch::Receiver<bool>,
) -> Result<AdminInfo, StartError> {
    let addr = options.addr;
    let bind_error = |source| StartError::AdminBind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    let token = Arc::new(options.token);
    let state = AdminState {
        shared,
        token: Arc::clone(&token),
        hook,
    };
    let app = routes::router(state);
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(addr = %bound, %error, "the emulator's admin API stopped");
        }
    });
    Ok(AdminInfo { addr: bound, token })
}

/// An error answer: `{"error": ..., "field": ...}` with a status.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    error: String,
    field: Option<String>,
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: error.into(),
            field: None,
        }
    }

    pub(crate) fn bad(field: impl Into<String>, error: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            error: error.into(),
            field: Some(field.into()),
        }
    }

    pub(crate) fn not_found(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorJson {
            error: &self.error,
            field: self.field.as_deref(),
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"pushtrace-emulator\""),
            );
        }
        response
    }
}

/// The layer over every authenticated route.
pub(crate) async fn require_token(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    match given {
        Some(token) if state.token.matches(token) => next.run(request).await,
        Some(_) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong admin token; use the token from the source `pushtrace emulator` printed",
        )
        .into_response(),
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing admin token; send `Authorization: Bearer <token>` (its source is printed by `pushtrace emulator`)",
        )
        .into_response(),
    }
}
