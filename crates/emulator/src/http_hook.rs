//! The HTTP delivery hook: on every delivery to a simulated device, `POST` a JSON receipt to a
//! configured URL, so a gateway that traces pushes can be tested end to end.
//!
//! [`DeliveryHook::delivered`] runs on the emulator's own tasks (a request handler, the ticker),
//! so it must not wait: it renders the receipt and `try_send`s it into a bounded queue
//! ([`HttpHookConfig::queue`]). A dispatcher task takes receipts off the queue and POSTs each on
//! its own task, at most [`MAX_IN_FLIGHT`] at once, so receipts can arrive out of order (each
//! carries its times). A POST that fails (connection error, timeout, or a status other than
//! 2xx) is retried [`HttpHookConfig::retries`] times with doubling backoff from 100 ms, then
//! counted as failed; a receipt that finds the queue full is counted as dropped. Losses are
//! logged as `tracing` warnings (the first, then every power of two, so a dead gateway does not
//! flood the log).
//!
//! The client is hyper's (through `hyper-util`'s pooled "legacy" client, HTTP/1.1 only, keeping
//! connections alive): axum, which serves the admin API, already brings hyper and hyper-util,
//! so the hook costs two features rather than another HTTP stack. Only `http://` URLs are
//! accepted: the hook points at a local gateway under test, and TLS there would need a trust
//! setup of its own for no gain.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc, watch};

use crate::{Delivery, DeliveryHook};

/// POSTs running at once.
pub const MAX_IN_FLIGHT: usize = 16;
/// How long one POST may take before it counts as failed.
const POST_TIMEOUT: Duration = Duration::from_secs(5);
/// The first retry's wait; each further retry doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The payload keys read into the receipt's `push_id`, in this order (top level only).
pub const PUSH_ID_KEYS: [&str; 2] = ["push_id", "pushId"];
/// The payload keys read into the receipt's `call_id`, in this order (top level only).
pub const CALL_ID_KEYS: [&str; 2] = ["call_id", "callId"];
/// The payload keys read into an app receipt's `receipt_token`, in this order (top level only).
pub const RECEIPT_TOKEN_KEYS: [&str; 2] = ["receipt_token", "receiptToken"];

/// What the hook POSTs for each delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HookBody {
    /// The emulator's own receipt ([`Receipt`]): every delivery, with APNs's side of it.
    #[default]
    Emulator,
    /// What an app instrumented as `docs/receipts.md` asks would post to a pushtrace gateway
    /// ([`AppReceipt`]): the emulator plays the app. Only VoIP deliveries whose payload
    /// carries a `receipt_token` are posted (an alert reaches the user, not the app).
    App,
}

/// Where and how to POST delivery receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpHookConfig {
    url: http::Uri,
    must_report_max_age: Duration,
    queue: usize,
    retries: u32,
    body: HookBody,
}

/// A hook URL that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HookUrlError {
    /// Not a URL.
    #[error(
        "delivery hook URL {url:?} is not a valid URL: {message}; write it as http://host:port/path"
    )]
    Invalid {
        /// The text given.
        url: String,
        /// What the parser said.
        message: String,
    },
    /// Not `http://host...`.
    #[error(
        "delivery hook URL {url:?} must start with http:// and name a host (https is not supported: point it at a local gateway)"
    )]
    Scheme {
        /// The text given.
        url: String,
    },
}

impl HttpHookConfig {
    /// POST to `url` (`http://host:port/path`), with a 30 s `must_report` age, a queue of 1024
    /// receipts and 3 retries.
    pub fn new(url: &str) -> Result<HttpHookConfig, HookUrlError> {
        let parsed: http::Uri =
            url.parse()
                .map_err(|e: http::uri::InvalidUri| HookUrlError::Invalid {
                    url: url.to_owned(),
                    message: e.to_string(),
                })?;
        if parsed.scheme_str() != Some("http") || parsed.host().is_none_or(str::is_empty) {
            return Err(HookUrlError::Scheme {
                url: url.to_owned(),
            });
        }
        Ok(HttpHookConfig {
            url: parsed,
            must_report_max_age: Duration::from_millis(DEFAULT_MUST_REPORT_MAX_AGE_MS),
            queue: 1024,
            retries: 3,
            body: HookBody::Emulator,
        })
    }

    /// What to POST (default [`HookBody::Emulator`]).
    pub fn body(mut self, body: HookBody) -> Self {
        self.body = body;
        self
    }

    /// A delivery later than this after receipt gets `must_report: false` (iOS exempts a push
    /// that "reached the device after an extended period"; Apple gives no number).
    pub fn must_report_max_age(mut self, age: Duration) -> Self {
        self.must_report_max_age = age;
        self
    }

    /// Receipts waiting to be posted before new ones are dropped (at least 1).
    pub fn queue(mut self, capacity: usize) -> Self {
        self.queue = capacity.max(1);
        self
    }

    /// Retries of a failed POST.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The URL.
    pub fn url(&self) -> &http::Uri {
        &self.url
    }
}

/// The default of [`HttpHookConfig::must_report_max_age`]: 30 s, the emulator's own choice.
pub const DEFAULT_MUST_REPORT_MAX_AGE_MS: u64 = 30_000;

/// What the hook has done so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookStats {
    /// The URL receipts go to.
    pub url: String,
    /// Receipts answered 2xx.
    pub posted: u64,
    /// Receipts given up after every retry failed.
    pub failed: u64,
    /// Receipts dropped because the queue was full.
    pub dropped: u64,
    /// Retries made (over all receipts).
    pub retries: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    posted: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    retries: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self, url: &http::Uri) -> HookStats {
        HookStats {
            url: url.to_string(),
            posted: self.posted.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}

/// The receipt POSTed for one delivery (documented in `docs/emulator.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// `apns-id` as answered to the sender.
    pub apns_id: String,
    /// `apns-unique-id` (sandbox only; `null` in production).
    pub apns_unique_id: Option<String>,
    /// The payload's `push_id` (see [`PUSH_ID_KEYS`]), as a string.
    pub push_id: Option<String>,
    /// The payload's `call_id` (see [`CALL_ID_KEYS`]), as a string.
    pub call_id: Option<String>,
    /// The device token (hex).
    pub token: String,
    /// `apns-topic`.
    pub topic: String,
    /// `sandbox` or `production`.
    pub environment: String,
    /// `apns-push-type`, when given.
    pub push_type: Option<String>,
    /// `apns-priority` (10 when omitted).
    pub priority: u8,
    /// When APNs (the emulator) received it: RFC 3339 UTC with milliseconds.
    pub received_at: String,
    /// The same, ms since the epoch.
    pub received_at_ms: u64,
    /// When it reached the device: RFC 3339 UTC with milliseconds.
    pub delivered_at: String,
    /// The same, ms since the epoch.
    pub delivered_at_ms: u64,
    /// `delivered_at_ms - received_at_ms`.
    pub age_ms: u64,
    /// Delivered from storage (the device came back) rather than at once.
    pub from_storage: bool,
    /// What `PKVoIPPushMetadata.mustReport` would say for the age alone: `false` when `age_ms` is
    /// above the configured maximum age.
    pub must_report: bool,
}

impl Receipt {
    /// The receipt of a delivery, with `must_report` decided by `max_age`.
    pub fn new(delivery: &Delivery, max_age: Duration) -> Receipt {
        let push = &delivery.push;
        let payload = PayloadKeys::parse(&push.payload);
        let read = |keys: &[&str]| payload.read(keys);
        let age_ms = delivery.delivered_at_ms.saturating_sub(push.received_at_ms);
        Receipt {
            apns_id: push.apns_id.to_string(),
            apns_unique_id: push.unique_id.map(|id| id.to_string()),
            push_id: read(&PUSH_ID_KEYS),
            call_id: read(&CALL_ID_KEYS),
            token: push.token.to_string(),
            topic: push.topic.clone(),
            environment: push.environment.to_string(),
            push_type: push.push_type.map(|t| t.header_value().to_owned()),
            priority: push.priority.value(),
            received_at: rfc3339_ms(push.received_at_ms),
            received_at_ms: push.received_at_ms,
            delivered_at: rfc3339_ms(delivery.delivered_at_ms),
            delivered_at_ms: delivery.delivered_at_ms,
            age_ms,
            from_storage: delivery.from_storage,
            must_report: must_report(age_ms, max_age),
        }
    }
}

fn must_report(age_ms: u64, max_age: Duration) -> bool {
    age_ms <= u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX)
}

/// The top-level string or number values of a JSON payload.
struct PayloadKeys(Option<serde_json::Value>);

impl PayloadKeys {
    fn parse(payload: &[u8]) -> PayloadKeys {
        PayloadKeys(serde_json::from_slice(payload).ok())
    }

    /// The first of `keys` present, as a string.
    fn read(&self, keys: &[&str]) -> Option<String> {
        let object = self.0.as_ref()?.as_object()?;
        keys.iter().find_map(|key| match object.get(*key)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    }
}

/// The receipt an instrumented app posts to a pushtrace gateway (`docs/receipts.md`), as the
/// emulator plays that app: PushKit hands the push over at delivery, and the app reports the
/// call to CallKit at once when `must_report` (so `reported_at` equals `device_received_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppReceipt {
    /// The payload's `push_id`.
    pub push_id: String,
    /// The payload's `call_id`, when present.
    pub call_id: Option<String>,
    /// The payload's `receipt_token` (see [`RECEIPT_TOKEN_KEYS`]).
    pub receipt_token: String,
    /// Device clock when PushKit handed the push over: the delivery time.
    pub device_received_at: String,
    /// Device clock when the call was reported to CallKit (`null` when not reported).
    pub reported_at: Option<String>,
    /// `PKVoIPPushMetadata.mustReport` as the emulator decides it (see [`Receipt::must_report`]).
    pub must_report: bool,
    /// Always `background`: the simulated app is woken by the push.
    pub app_state: &'static str,
    /// Always `wifi`: the emulator has no radio model.
    pub network: &'static str,
    /// Device clock when the receipt is posted (the delivery time: posted at once).
    pub device_sent_at: String,
}

impl AppReceipt {
    /// The app's receipt for a delivery, or `None` when the app would not post one: not a
    /// VoIP push, or no `push_id`/`receipt_token` in the payload.
    pub fn new(delivery: &Delivery, max_age: Duration) -> Option<AppReceipt> {
        let push = &delivery.push;
        if push.push_type != Some(pushtrace_apns::PushType::Voip) {
            return None;
        }
        let payload = PayloadKeys::parse(&push.payload);
        let age_ms = delivery.delivered_at_ms.saturating_sub(push.received_at_ms);
        let must_report = must_report(age_ms, max_age);
        let at = rfc3339_ms(delivery.delivered_at_ms);
        Some(AppReceipt {
            push_id: payload.read(&PUSH_ID_KEYS)?,
            call_id: payload.read(&CALL_ID_KEYS),
            receipt_token: payload.read(&RECEIPT_TOKEN_KEYS)?,
            device_received_at: at.clone(),
            reported_at: must_report.then(|| at.clone()),
            must_report,
            app_state: "background",
            network: "wifi",
            device_sent_at: at,
        })
    }
}

/// `2026-11-24T06:37:42.123Z` for ms since the epoch.
pub(crate) fn rfc3339_ms(ms: u64) -> String {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(at) => at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        // Past jiff's range (year 9999): no calendar date to give, so say it plainly.
        Err(_) => format!("out-of-range:{ms}ms"),
    }
}

/// The [`DeliveryHook`] side: renders receipts and queues them.
pub(crate) struct HttpHook {
    queue: mpsc::Sender<Bytes>,
    counters: Arc<Counters>,
    max_age: Duration,
    body: HookBody,
}

impl HttpHook {
    /// Starts the dispatcher on the current tokio runtime; it ends when `stop` turns true.
    pub(crate) fn start(
        config: &HttpHookConfig,
        stop: watch::Receiver<bool>,
    ) -> (HttpHook, Arc<Counters>) {
        let (queue, receipts) = mpsc::channel(config.queue);
        let counters = Arc::new(Counters::default());
        tokio::spawn(dispatch(
            config.clone(),
            receipts,
            Arc::clone(&counters),
            stop,
        ));
        let hook = HttpHook {
            queue,
            counters: Arc::clone(&counters),
            max_age: config.must_report_max_age,
            body: config.body,
        };
        (hook, counters)
    }
}

impl DeliveryHook for HttpHook {
    fn delivered(&self, delivery: &Delivery) {
        let rendered = match self.body {
            HookBody::Emulator => serde_json::to_vec(&Receipt::new(delivery, self.max_age)),
            HookBody::App => match AppReceipt::new(delivery, self.max_age) {
                Some(receipt) => serde_json::to_vec(&receipt),
                None => return,
            },
        };
        let body = match rendered {
            Ok(body) => Bytes::from(body),
            // Strings and integers only: serialising cannot fail, but losing a receipt is
            // still counted rather than panicking.
            Err(_) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        if self.queue.try_send(body).is_err() {
            let dropped = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(
                    apns_id = %delivery.push.apns_id,
                    dropped,
                    "delivery hook queue full (or stopped): receipt dropped"
                );
            }
        }
    }
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

async fn dispatch(
    config: HttpHookConfig,
    mut receipts: mpsc::Receiver<Bytes>,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let config = Arc::new(config);
    loop {
        let body = tokio::select! {
            body = receipts.recv() => match body {
                Some(body) => body,
                None => return,
            },
            _ = stop.changed() => return,
        };
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (client, config, counters) =
            (client.clone(), Arc::clone(&config), Arc::clone(&counters));
        tokio::spawn(async move {
            post_with_retries(&client, &config, body, &counters).await;
            drop(permit);
        });
    }
}

async fn post_with_retries(
    client: &HttpClient,
    config: &HttpHookConfig,
    body: Bytes,
    counters: &Counters,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 0;
    loop {
        let error = match post(client, &config.url, body.clone()).await {
            Ok(()) => {
                counters.posted.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(error) => error,
        };
        if attempt >= config.retries {
            let failed = counters.failed.fetch_add(1, Ordering::Relaxed) + 1;
            if failed.is_power_of_two() {
                tracing::warn!(
                    url = %config.url,
                    attempts = attempt + 1,
                    %error,
                    lost = failed,
                    "delivery hook POST failed: receipt lost"
                );
            }
            return;
        }
        attempt += 1;
        counters.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
}

async fn post(client: &HttpClient, url: &http::Uri, body: Bytes) -> Result<(), String> {
    let request = http::Request::post(url.clone())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "pushtrace-emulator")
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(POST_TIMEOUT, client.request(request))
        .await
        .map_err(|_| format!("no answer within {POST_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("answered {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    use pushtrace_apns::{ApnsId, DeviceToken, Environment, Priority, PushType};

    use super::*;
    use crate::AcceptedPush;

    fn delivery(payload: &str, received: u64, delivered: u64) -> Delivery {
        Delivery {
            push: AcceptedPush {
                environment: Environment::Sandbox,
                apns_id: ApnsId::from_bytes([1; 16]),
                unique_id: Some(ApnsId::from_bytes([2; 16])),
                token: DeviceToken::parse("aabb").unwrap(),
                topic: "a.voip".into(),
                push_type: Some(PushType::Voip),
                priority: Priority::Immediate,
                expiration: None,
                collapse_id: None,
                payload_len: payload.len(),
                payload: bytes::Bytes::copy_from_slice(payload.as_bytes()),
                received_at_ms: received,
            },
            delivered_at_ms: delivered,
            from_storage: true,
        }
    }

    #[test]
    fn receipt_reads_ids_and_decides_must_report_by_age() {
        let max = Duration::from_secs(30);
        let at = 1_780_000_000_123;
        let fresh = Receipt::new(
            &delivery(r#"{"push_id":"p-1","callId":42}"#, at, at + 30_000),
            max,
        );
        assert_eq!(fresh.push_id.as_deref(), Some("p-1"));
        assert_eq!(fresh.call_id.as_deref(), Some("42"));
        assert!(fresh.must_report);
        assert_eq!(fresh.age_ms, 30_000);
        assert_eq!(fresh.received_at, "2026-05-28T20:26:40.123Z");
        assert_eq!(
            fresh.apns_unique_id.as_deref(),
            Some("02020202-0202-0202-0202-020202020202")
        );
        let late = Receipt::new(&delivery("{}", at, at + 30_001), max);
        assert!(!late.must_report);
        assert_eq!(late.push_id, None);
        let json = serde_json::to_value(&late).unwrap();
        assert_eq!(json["environment"], "sandbox");
        assert_eq!(json["push_type"], "voip");
        assert_eq!(json["delivered_at_ms"], at + 30_001);
    }

    #[test]
    fn app_receipt_plays_the_app_for_voip_pushes_with_a_receipt_token() {
        let max = Duration::from_secs(30);
        let at = 1_780_000_000_123;
        let payload = r#"{"push_id":"p-1","call_id":"c-1","receipt_token":"tok"}"#;
        let fresh = AppReceipt::new(&delivery(payload, at, at + 100), max).unwrap();
        assert_eq!(fresh.push_id, "p-1");
        assert_eq!(fresh.call_id.as_deref(), Some("c-1"));
        assert_eq!(fresh.receipt_token, "tok");
        assert_eq!(fresh.device_received_at, "2026-05-28T20:26:40.223Z");
        assert_eq!(
            fresh.reported_at.as_deref(),
            Some("2026-05-28T20:26:40.223Z")
        );
        assert!(fresh.must_report);
        let stale = AppReceipt::new(&delivery(payload, at, at + 40_000), max).unwrap();
        assert!(!stale.must_report);
        assert_eq!(stale.reported_at, None);
        // No receipt token, or not a VoIP push: the app posts nothing.
        assert_eq!(
            AppReceipt::new(&delivery(r#"{"push_id":"p"}"#, at, at), max),
            None
        );
        let mut alert = delivery(payload, at, at);
        alert.push.push_type = Some(PushType::Alert);
        assert_eq!(AppReceipt::new(&alert, max), None);
    }

    #[test]
    fn only_http_urls_with_a_host_are_accepted() {
        assert!(HttpHookConfig::new("http://127.0.0.1:9/receipts").is_ok());
        for bad in [
            "https://gw/x",
            "ftp://gw",
            "/just/a/path",
            "http://",
            "not a url",
        ] {
            let error = HttpHookConfig::new(bad).unwrap_err().to_string();
            assert!(error.contains(bad), "{error}");
        }
    }
}
