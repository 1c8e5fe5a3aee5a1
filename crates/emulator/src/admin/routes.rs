//! The admin API's routes and handlers. Bodies are read as bytes and parsed here, so a bad body
//! gets this API's JSON error (with serde's line and column) rather than axum's plain text.
//!
//! | Method and path | What |
//! |---|---|
//! | `GET /healthz` | liveness, no token |
//! | `GET /v1/devices` | registered devices with their states (paged) |
//! | `POST /v1/devices` | register (or re-register) a device |
//! | `DELETE /v1/devices/{environment}/{token}/{topic}` | unregister (`?at_ms=`, default now) |
//! | `GET`, `PUT /v1/devices/{environment}/{token}/state` | a device's state |
//! | `GET /v1/pushes` | accepted pushes (paged) |
//! | `GET /v1/deliveries` | the delivery log (paged; `?stored=true`: stored now) |
//! | `GET /v1/deliveries/{id}` | one record, by `apns-unique-id` or `apns-id` |
//! | `GET /v1/counts` | events per category |
//! | `GET /v1/clock`, `POST /v1/clock/advance` | the clock; move a manual one |
//! | `GET /v1/hook` | the delivery hook's counters |
//! | `/v1/faults`, `/v1/latency` | fault injection (`fault_routes`) |

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use pushtrace_apns::{ApnsId, DeviceToken, Environment};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::json::{ClockJson, DeviceJson, PushJson, RecordJson};
use super::{AdminState, ApiError, page, require_token};
use crate::devices::Lookup;
use crate::sync::lock;
use crate::{Category, Clock, Device, DeviceState};

type Answer = Result<Response, ApiError>;

pub(crate) fn router(state: AdminState) -> Router {
    let authenticated = Router::new()
        .route("/v1/devices", get(list_devices).post(register_device))
        .route(
            "/v1/devices/{environment}/{token}/{topic}",
            delete(unregister_device),
        )
        .route(
            "/v1/devices/{environment}/{token}/state",
            get(device_state).put(set_device_state),
        )
        .route("/v1/pushes", get(pushes))
        .route("/v1/deliveries", get(deliveries))
        .route("/v1/deliveries/{id}", get(delivery))
        .route("/v1/counts", get(counts))
        .route("/v1/clock", get(clock))
        .route("/v1/clock/advance", post(advance_clock))
        .route("/v1/hook", get(hook))
        .merge(super::fault_routes::router())
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(authenticated)
        .with_state(state)
}

async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

async fn unknown_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no admin route {}; the routes are listed in docs/emulator.md (e.g. GET /v1/devices)",
        uri.path()
    ))
}

async fn wrong_method(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} does not take this method; see docs/emulator.md for the methods of each route",
            uri.path()
        ),
    )
}

// ---- input parsing -------------------------------------------------------------------------

fn environment(text: &str) -> Result<Environment, ApiError> {
    match text {
        "sandbox" => Ok(Environment::Sandbox),
        "production" => Ok(Environment::Production),
        other => Err(ApiError::bad(
            "environment",
            format!("unknown environment {other:?}; use \"sandbox\" or \"production\""),
        )),
    }
}

fn token(text: &str) -> Result<DeviceToken, ApiError> {
    DeviceToken::parse(text).map_err(|e| {
        ApiError::bad(
            "token",
            format!("token {text:?} is not a device token ({e}); give the token as hex, as the app got it"),
        )
    })
}

fn state(text: &str) -> Result<DeviceState, ApiError> {
    match text {
        "online" => Ok(DeviceState::Online),
        "offline" => Ok(DeviceState::Offline),
        "power_restricted" => Ok(DeviceState::PowerRestricted),
        other => Err(ApiError::bad(
            "state",
            format!(
                "unknown device state {other:?}; use \"online\", \"offline\" or \"power_restricted\""
            ),
        )),
    }
}

fn topic(text: &str) -> Result<String, ApiError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad(
            "topic",
            format!("topic {text:?} must be a non-empty bundle ID such as \"com.acme.call.voip\""),
        ));
    }
    Ok(text.to_owned())
}

/// A JSON body, with serde's message (which says the line, the column and, for a missing or
/// unknown key, its name) and that name as `field`.
pub(super) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        let field = message
            .split_once("field `")
            .and_then(|(_, rest)| rest.split_once('`'))
            .map_or("body", |(name, _)| name);
        ApiError::bad(
            field,
            format!("the request body is not the JSON this route takes: {message}"),
        )
    })
}

/// A query string, with serde's message and, for an unknown or badly typed parameter, its name
/// as `field`.
fn query<T>(
    query: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(|e| {
        let message = e.body_text();
        let field = message
            .split_once("field `")
            .and_then(|(_, rest)| rest.split_once('`'))
            .map_or("query", |(name, _)| name);
        ApiError::bad(field, format!("bad query string: {message}"))
    })
}

/// `?limit=&after=`, the paging of every list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    limit: Option<String>,
    after: Option<String>,
}

fn path<T>(path: Result<Path<T>, axum::extract::rejection::PathRejection>) -> Result<T, ApiError> {
    path.map(|Path(p)| p)
        .map_err(|e| ApiError::bad("path", format!("bad path: {}", e.body_text())))
}

// ---- devices -------------------------------------------------------------------------------

fn device_json(state: &AdminState, device: &Device) -> DeviceJson {
    let now_ms = state.shared.clock.now_ms();
    let current = lock(&state.shared.store).state(device.environment, &device.token);
    DeviceJson::new(device, current, now_ms)
}

/// A device's place in the list's order, which is also its cursor: `environment/token/topic`.
fn device_cursor(device: &Device) -> String {
    format!("{}/{}/{}", device.environment, device.token, device.topic)
}

fn device_key(device: &Device) -> (bool, String, &str) {
    (
        device.environment == Environment::Production,
        device.token.to_string(),
        &device.topic,
    )
}

async fn list_devices(
    State(state): State<AdminState>,
    paging: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    let paging = query(paging)?;
    let limit = page::limit(paging.limit.as_deref())?;
    let after = paging
        .after
        .as_deref()
        .map(|text| {
            let bad = || {
                ApiError::bad(
                    "after",
                    format!("after {text:?} is not a device cursor (environment/token/topic); pass the `next` of the previous page"),
                )
            };
            let mut parts = text.splitn(3, '/');
            let (Some(env), Some(hex), Some(topic)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad());
            };
            let environment = environment(env).map_err(|_| bad())?;
            let token = DeviceToken::parse(hex).map_err(|_| bad())?;
            Ok(Device::new(environment, topic, token))
        })
        .transpose()?;
    let devices = lock(&state.shared.devices).devices();
    let after_key = after.as_ref().map(device_key);
    let rest = devices
        .iter()
        .filter(|d| after_key.as_ref().is_none_or(|key| device_key(d) > *key));
    let (devices, next) = page::take(rest, limit, |d| device_cursor(d));
    let devices: Vec<DeviceJson> = devices
        .into_iter()
        .map(|d| device_json(&state, d))
        .collect();
    Ok(Json(json!({ "devices": devices, "next": next })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDevice {
    environment: String,
    topic: String,
    token: String,
    #[serde(default)]
    unregistered_at_ms: Option<u64>,
    #[serde(default)]
    state: Option<String>,
}

async fn register_device(State(state): State<AdminState>, bytes: Bytes) -> Answer {
    let new: NewDevice = body(&bytes)?;
    let device = Device {
        environment: environment(&new.environment)?,
        topic: topic(&new.topic)?,
        token: token(&new.token)?,
        unregistered_at_ms: new.unregistered_at_ms,
    };
    let wanted = new.state.as_deref().map(self::state).transpose()?;
    lock(&state.shared.devices).insert(device.clone());
    state.shared.tick();
    if let Some(wanted) = wanted {
        state
            .shared
            .set_device_state(device.environment, &device.token, wanted);
    }
    Ok((StatusCode::CREATED, Json(device_json(&state, &device))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnregisterQuery {
    at_ms: Option<u64>,
}

async fn unregister_device(
    State(state): State<AdminState>,
    segments: Result<Path<(String, String, String)>, axum::extract::rejection::PathRejection>,
    at: Result<Query<UnregisterQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    let (env_text, token_text, topic_text) = path(segments)?;
    let (environment, token, topic) = (
        environment(&env_text)?,
        token(&token_text)?,
        self::topic(&topic_text)?,
    );
    let at_ms = query(at)?
        .at_ms
        .unwrap_or_else(|| state.shared.clock.now_ms());
    {
        let mut devices = lock(&state.shared.devices);
        if matches!(
            devices.lookup(environment, &token, &topic, 0),
            Lookup::Unknown | Lookup::OtherTopic
        ) {
            return Err(ApiError::not_found(format!(
                "no {environment} device {token} registered for topic {topic:?}; list them with GET /v1/devices"
            )));
        }
        let device = Device::new(environment, topic.clone(), token.clone()).unregistered_at(at_ms);
        devices.insert(device);
    }
    // Stored pushes for a token unregistered by now are discarded ("token unregistered").
    state.shared.tick();
    let device = Device::new(environment, topic, token).unregistered_at(at_ms);
    Ok(Json(device_json(&state, &device)).into_response())
}

fn known_device(
    state: &AdminState,
    env_text: &str,
    token_text: &str,
) -> Result<(Environment, DeviceToken), ApiError> {
    let (environment, token) = (environment(env_text)?, token(token_text)?);
    if !lock(&state.shared.devices).knows(environment, &token) {
        return Err(ApiError::not_found(format!(
            "no {environment} device {token} is registered; register it with POST /v1/devices"
        )));
    }
    Ok((environment, token))
}

async fn device_state(
    State(state): State<AdminState>,
    segments: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> Answer {
    let (env_text, token_text) = path(segments)?;
    let (environment, token) = known_device(&state, &env_text, &token_text)?;
    state.shared.tick();
    let current = lock(&state.shared.store).state(environment, &token);
    Ok(Json(json!({
        "environment": environment.to_string(),
        "token": token.to_string(),
        "state": current,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewState {
    state: String,
}

async fn set_device_state(
    State(state): State<AdminState>,
    segments: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
    bytes: Bytes,
) -> Answer {
    let (env_text, token_text) = path(segments)?;
    let (environment, token) = known_device(&state, &env_text, &token_text)?;
    let new: NewState = body(&bytes)?;
    let wanted = self::state(&new.state)?;
    state.shared.set_device_state(environment, &token, wanted);
    Ok(Json(json!({
        "environment": environment.to_string(),
        "token": token.to_string(),
        "state": wanted,
    }))
    .into_response())
}

// ---- logs ----------------------------------------------------------------------------------

async fn pushes(
    State(state): State<AdminState>,
    paging: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    let paging = query(paging)?;
    let limit = page::limit(paging.limit.as_deref())?;
    let after = page::log_cursor(paging.after.as_deref())?;
    state.shared.tick();
    // Copied out (a payload is shared, not copied), so pushes are not held up while the page
    // is rendered.
    let (pushes, next, dropped) = {
        let store = lock(&state.shared.store);
        let pushes = store.accepted_after(after).map(|(n, p)| (n, p.clone()));
        let (pushes, next) = page::take(pushes, limit, |(n, _)| n.to_string());
        (pushes, next, store.dropped())
    };
    let pushes: Vec<PushJson> = pushes.iter().map(|(_, p)| PushJson::from(p)).collect();
    Ok(Json(json!({
        "pushes": pushes,
        "next": next,
        "max_records": state.shared.settings.delivery_log_max_records,
        "dropped": { "by_age": dropped.pushes_by_age, "by_count": dropped.pushes_by_count },
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    stored: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

async fn deliveries(
    State(state): State<AdminState>,
    filter: Result<Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    let filter = query(filter)?;
    let stored = match filter.stored.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad(
                "stored",
                format!("stored {other:?} must be \"true\" or \"false\""),
            ));
        }
    };
    let limit = page::limit(filter.limit.as_deref())?;
    let after = page::log_cursor(filter.after.as_deref())?;
    state.shared.tick();
    let (records, next, dropped) = {
        let store = lock(&state.shared.store);
        let matching = store
            .records_after(after)
            .filter(|(_, r)| !stored || r.is_stored())
            .map(|(n, r)| (n, r.clone()));
        let (records, next) = page::take(matching, limit, |(n, _)| n.to_string());
        (records, next, store.dropped())
    };
    let records: Vec<RecordJson> = records.iter().map(|(_, r)| RecordJson::from(r)).collect();
    let settings = &state.shared.settings;
    Ok(Json(json!({
        "deliveries": records,
        "next": next,
        "retention_secs": settings.delivery_log_retention.map(|d| d.as_secs()),
        "max_records": settings.delivery_log_max_records,
        "dropped": { "by_age": dropped.records_by_age, "by_count": dropped.records_by_count },
    }))
    .into_response())
}

async fn delivery(
    State(state): State<AdminState>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Answer {
    let text = path(id)?;
    let id = ApnsId::parse(&text).map_err(|e| {
        ApiError::bad(
            "id",
            format!("{text:?} is not an apns-unique-id or apns-id ({e}); give the UUID from the response header"),
        )
    })?;
    state.shared.tick();
    let store = lock(&state.shared.store);
    let record = store
        .records()
        .find(|r| r.unique_id.as_ref() == Some(&id))
        .or_else(|| store.records().rev().find(|r| r.apns_id == id))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no delivery record for {id}; it was never accepted, or is older than the retention"
            ))
        })?;
    Ok(Json(RecordJson::from(record)).into_response())
}

async fn counts(State(state): State<AdminState>) -> Answer {
    state.shared.tick();
    let counts = lock(&state.shared.store).counts().clone();
    let list: Vec<_> = Category::ALL
        .iter()
        .map(|category| {
            json!({
                "category": category.label(),
                "count": counts.get(category).copied().unwrap_or(0),
            })
        })
        .collect();
    Ok(Json(json!({ "counts": list })).into_response())
}

// ---- clock and hook ------------------------------------------------------------------------

fn clock_json(state: &AdminState) -> ClockJson {
    let clock = &state.shared.clock;
    ClockJson::new(matches!(clock, Clock::Manual(_)), clock.now_ms())
}

async fn clock(State(state): State<AdminState>) -> Answer {
    Ok(Json(clock_json(&state)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    by_ms: u64,
}

async fn advance_clock(State(state): State<AdminState>, bytes: Bytes) -> Answer {
    let advance: Advance = body(&bytes)?;
    let clock = &state.shared.clock;
    if matches!(clock, Clock::System) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "the emulator runs on the system clock, which cannot be moved; start it with `manual_clock_start_ms` in its config to drive time by hand",
        ));
    }
    clock.advance(Duration::from_millis(advance.by_ms));
    state.shared.tick();
    Ok(Json(clock_json(&state)).into_response())
}

async fn hook(State(state): State<AdminState>) -> Answer {
    let answer = match &state.hook {
        Some(view) => json!({ "configured": true, "stats": view.stats() }),
        None => json!({ "configured": false }),
    };
    Ok(Json(answer).into_response())
}
