//! Stopping the other phones, over the real stack on both stores: the emulator plays APNs over
//! TLS and HTTP/2, the gateway runs in-process and is asked over HTTP, as a backend would. A
//! callee with three phones is rung; answered on one, the two others get the end-of-call push
//! (VoIP or background, as the app says), the answering one none; cancelled, all three do; with
//! the mode off, none do. Every end push is in the call's timeline with purpose `end`, and an
//! instance dying right after the answer loses none: another instance sends them.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pushtrace_apns::{DeviceToken, Environment, Priority, ProviderKey, PushType, SigningKey};
use pushtrace_emulator::{AcceptedPush, Emulator, EmulatorHandle};
use pushtrace_gateway::api::ApiToken;
use pushtrace_gateway::engine::{CallRequest, CallTimeline, TokenKind, TokenRequest};
use pushtrace_gateway::receipt_token::ReceiptKey;
use pushtrace_gateway::{GatewayConfig, GatewayHandle, start_with};
use pushtrace_store::{Attempt, CallState, PushPurpose};
use serde_json::{Value, json};
use support::{Backend, KEY_ID, TEAM_ID};

const BUNDLE: &str = "com.example.endcall";
const VOIP_TOPIC: &str = "com.example.endcall.voip";
const API_TOKEN: &str = "end-of-call-api-token-0123";
/// The callee's phones: each has a VoIP token and an alert token.
const PHONES: u64 = 3;

crate::on_both_stores!(
    answered_on_one_phone_the_two_others_get_a_voip_end_push,
    cancelled_every_phone_that_rang_gets_one,
    background_mode_sends_background_pushes_to_the_alert_tokens,
    mode_off_sends_nothing,
    the_answered_body_is_checked_and_optional,
    a_crash_right_after_the_answer_loses_no_end_push,
);

async fn answered_on_one_phone_the_two_others_get_a_voip_end_push(backend: Backend) {
    let lab = Lab::start(backend, "voip").await;
    let call_id = lab.ring("answered").await;
    let answered_at = unix_now();

    let body = json!({ "device_tokens": [voip_token(0)] }).to_string();
    let (status, answer) = lab
        .post(&format!("/v1/calls/{call_id}/answered"), Some(&body))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["state"], "answered");

    let timeline = lab.wait_for_end_pushes(&call_id, 2).await;
    let ends = end_pushes(&timeline);
    let mut tokens: Vec<&str> = ends.iter().map(|p| p.token.as_str()).collect();
    tokens.sort();
    assert_eq!(tokens, [voip_token(1), voip_token(2)]);
    for push in &ends {
        assert_eq!(push.push_type, "voip");
        assert_eq!(push.topic, VOIP_TOPIC);
        assert_eq!(push.apns_status, Some(200), "{push:#?}");
    }

    // What APNs got: two end pushes, none to the phone that answered.
    let wire = lab.end_pushes_on_the_wire();
    assert_eq!(wire.len(), 2, "{wire:#?}");
    for push in &wire {
        assert_ne!(push.token.to_string(), voip_token(0));
        assert_eq!(push.push_type, Some(PushType::Voip));
        assert_eq!(push.topic, VOIP_TOPIC);
        assert_eq!(push.priority, Priority::Immediate);
        // apns-expiration: 10 s after the answer (the default), so a late one is dropped.
        let expiration = push.expiration.expect("an apns-expiration");
        assert!(
            (answered_at + 9..=answered_at + 12).contains(&expiration),
            "{expiration} vs answered at {answered_at}"
        );
        let payload: Value = serde_json::from_slice(&push.payload).unwrap();
        assert_eq!(payload["type"], "end");
        assert_eq!(payload["call_id"], call_id);
        assert_eq!(payload["reason"], "answered_elsewhere");
        assert!(payload["ended_at"].as_i64().is_some(), "{payload}");
        assert!(payload.get("receipt_token").is_none(), "{payload}");
        let stored = ends
            .iter()
            .find(|p| p.token == push.token.to_string())
            .unwrap();
        assert_eq!(payload["push_id"], stored.push_id);
    }

    let answered = event(&timeline, "call.answered");
    assert_eq!(answered.detail["end_pushes"], 2, "{answered:#?}");
    assert_eq!(answered.detail["end_of_call_mode"], "voip");
    assert_eq!(answered.detail["answered_on"], json!([voip_token(0)]));
    let metrics = lab.get("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("pushtrace_pushes_total{")
                && l.contains("purpose=\"end\"")
                && l.contains("outcome=\"accepted\"")
                && l.ends_with(" 2")),
        "{metrics}"
    );
    lab.finish().await;
}

async fn cancelled_every_phone_that_rang_gets_one(backend: Backend) {
    let lab = Lab::start(backend, "voip").await;
    let call_id = lab.ring("cancelled").await;

    let (status, answer) = lab.post(&format!("/v1/calls/{call_id}/cancel"), None).await;
    assert_eq!(status, 200, "{answer}");

    let timeline = lab.wait_for_end_pushes(&call_id, 3).await;
    let wire = lab.end_pushes_on_the_wire();
    let mut tokens: Vec<String> = wire.iter().map(|p| p.token.to_string()).collect();
    tokens.sort();
    assert_eq!(tokens, (0..PHONES).map(voip_token).collect::<Vec<_>>());
    for push in &wire {
        let payload: Value = serde_json::from_slice(&push.payload).unwrap();
        assert_eq!(payload["reason"], "cancelled", "{payload}");
    }
    let cancelled = event(&timeline, "call.cancelled");
    assert_eq!(cancelled.detail["end_pushes"], 3, "{cancelled:#?}");
    assert_eq!(cancelled.detail["reason"], "cancelled");

    // Cancelling again queues nothing more.
    let (status, _) = lab.post(&format!("/v1/calls/{call_id}/cancel"), None).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let timeline = lab.engine().call_timeline(&call_id).await.unwrap();
    assert_eq!(end_pushes(&timeline).len(), 3);
    lab.finish().await;
}

async fn background_mode_sends_background_pushes_to_the_alert_tokens(backend: Backend) {
    let lab = Lab::start(backend, "background").await;
    let call_id = lab.ring("background").await;

    let body = json!({ "device_tokens": [voip_token(0), alert_token(0)] }).to_string();
    let (status, answer) = lab
        .post(&format!("/v1/calls/{call_id}/answered"), Some(&body))
        .await;
    assert_eq!(status, 200, "{answer}");

    let timeline = lab.wait_for_end_pushes(&call_id, 2).await;
    let wire = lab.end_pushes_on_the_wire();
    let mut tokens: Vec<String> = wire.iter().map(|p| p.token.to_string()).collect();
    tokens.sort();
    assert_eq!(tokens, [alert_token(1), alert_token(2)]);
    for push in &wire {
        assert_eq!(push.push_type, Some(PushType::Background));
        assert_eq!(push.priority, Priority::ConservePower);
        assert_eq!(push.topic, BUNDLE);
        let payload: Value = serde_json::from_slice(&push.payload).unwrap();
        assert_eq!(
            payload["aps"],
            json!({ "content-available": 1 }),
            "{payload}"
        );
        assert_eq!(payload["type"], "end");
        assert_eq!(payload["reason"], "answered_elsewhere");
    }
    for push in end_pushes(&timeline) {
        assert_eq!(push.push_type, "background");
        assert_eq!(push.priority, 5);
        assert_eq!(push.apns_status, Some(200), "{push:#?}");
    }
    lab.finish().await;
}

async fn mode_off_sends_nothing(backend: Backend) {
    let lab = Lab::start(backend, "off").await;
    let call_id = lab.ring("off").await;

    let (status, answer) = lab
        .post(&format!("/v1/calls/{call_id}/answered"), None)
        .await;
    assert_eq!(status, 200, "{answer}");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let timeline = lab.engine().call_timeline(&call_id).await.unwrap();
    assert!(end_pushes(&timeline).is_empty(), "{timeline:#?}");
    assert!(lab.end_pushes_on_the_wire().is_empty());
    let answered = event(&timeline, "call.answered");
    assert_eq!(
        answered.detail["end_of_call"],
        "not sent: the app's end_of_call mode is off"
    );
    lab.finish().await;
}

async fn the_answered_body_is_checked_and_optional(backend: Backend) {
    let lab = Lab::start(backend, "voip").await;
    let call_id = lab.ring("checked").await;
    let path = format!("/v1/calls/{call_id}/answered");

    let stranger = format!("{:064x}", 0xdead);
    for (body, says) in [
        (json!({ "device_tokens": [stranger] }), "is not a token"),
        (json!({ "device_tokens": ["not hex"] }), "hex"),
        (json!({ "device_tokens": [] }), "or send no body"),
        (json!({ "device": voip_token(0) }), "unknown field"),
    ] {
        let (status, answer) = lab.post(&path, Some(&body.to_string())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer.to_string().contains(says), "{body}: {answer}");
    }
    // Refused bodies changed nothing: the call still rings.
    let timeline = lab.engine().call_timeline(&call_id).await.unwrap();
    assert_eq!(timeline.call.state, CallState::Ringing);

    // No body (here with the `Content-Type` many clients send anyway): the answering phone is
    // not named, so every phone that rang gets the push.
    let (status, answer) = lab.post(&path, Some("")).await;
    assert_eq!(status, 200, "{answer}");
    lab.wait_for_end_pushes(&call_id, 3).await;
    lab.finish().await;
}

/// Instance A answers the call and dies (its runtime dropped, every task with it, as `kill -9`
/// would) while APNs is slow to answer the end pushes; instance B, on the same store, sends them
/// once A's lease has lapsed, well inside their `apns-expiration`.
async fn a_crash_right_after_the_answer_loses_no_end_push(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (store, schema) = support::open_store(backend, dir.path(), "gw_endcall").await;
    let emulator = start_emulator(dir.path()).await;
    let lease = "job_lease_ms = 1000\npoll_interval_ms = 50\n";
    let config_a = gateway_config(
        &emulator,
        dir.path(),
        "voip",
        &format!("{lease}instance = \"a\"\n"),
    );
    // A runs on a runtime of its own, so that dropping it ends A's tasks mid-send.
    let runtime_a = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let a = runtime_a
        .spawn(async move { start_gateway(&config_a, store).await })
        .await
        .unwrap();
    let addr_a = a.addr;
    let reader = support::reopen_store(backend, dir.path(), schema.as_deref()).await;
    let timeline = |call_id: String| {
        let reader = reader.clone();
        async move { reader.attempts_for_call(&call_id).await.unwrap() }
    };

    for n in 0..PHONES {
        for (token, kind) in [(voip_token(n), "voip"), (alert_token(n), "alert")] {
            let body = json!({ "user": "carol", "kind": kind }).to_string();
            let (status, _) = send(
                addr_a,
                "PUT",
                &format!("/v1/apps/acme/tokens/{token}"),
                Some(&body),
            )
            .await;
            assert!(status == 201 || status == 200, "{status}");
        }
    }
    let body = json!({ "call_id": "crash", "caller": "Dan", "callee": "carol", "window_secs": 30 });
    let (status, created) = send(
        addr_a,
        "POST",
        "/v1/apps/acme/calls",
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let created: Value = serde_json::from_str(&created).unwrap();
    let call_id = created["call"]["call_id"].as_str().unwrap().to_owned();
    wait_until(|| async {
        let pushes = timeline(call_id.clone()).await;
        pushes.iter().filter(|p| p.apns_status == Some(200)).count() == PHONES as usize
    })
    .await;

    // APNs now takes 3 s to answer: the end pushes go on the wire and A dies before the answer.
    emulator
        .set_latency(Some(pushtrace_emulator::Latency::Fixed { ms: 3000 }))
        .unwrap();
    let body = json!({ "device_tokens": [voip_token(0)] }).to_string();
    let (status, answer) = send(
        addr_a,
        "POST",
        &format!("/v1/calls/{call_id}/answered"),
        Some(&body),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    wait_until(|| async {
        let pushes = timeline(call_id.clone()).await;
        pushes
            .iter()
            .filter(|p| p.purpose == Some(PushPurpose::End) && p.sent_at.is_some())
            .count()
            == 2
    })
    .await;
    runtime_a.shutdown_background();
    let unanswered = timeline(call_id.clone()).await;
    assert!(
        unanswered
            .iter()
            .filter(|p| p.purpose == Some(PushPurpose::End))
            .all(|p| p.responded_at.is_none()),
        "{unanswered:#?}"
    );
    emulator.set_latency(None).unwrap();

    let config_b = gateway_config(
        &emulator,
        dir.path(),
        "voip",
        &format!("{lease}instance = \"b\"\n"),
    );
    let store_b = support::reopen_store(backend, dir.path(), schema.as_deref()).await;
    let b = start_gateway(&config_b, store_b).await;
    wait_until(|| async {
        let pushes = timeline(call_id.clone()).await;
        pushes
            .iter()
            .filter(|p| p.purpose == Some(PushPurpose::End) && p.apns_status == Some(200))
            .count()
            == 2
    })
    .await;
    let pushes = timeline(call_id.clone()).await;
    let mut ended: Vec<&str> = pushes
        .iter()
        .filter(|p| p.purpose == Some(PushPurpose::End))
        .map(|p| p.token.as_str())
        .collect();
    ended.sort();
    assert_eq!(ended, [voip_token(1), voip_token(2)], "{pushes:#?}");

    b.shutdown().await;
    emulator.shutdown();
    support::drop_schema(schema);
}

/// Polls `done` every 50 ms for up to 20 s.
async fn wait_until<F, Fut>(done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < Duration::from_secs(20), "gave up waiting");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// [`exchange`] off the async threads.
async fn send(
    addr: SocketAddr,
    method: &'static str,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    let (path, body) = (path.to_owned(), body.map(str::to_owned));
    tokio::task::spawn_blocking(move || exchange(addr, method, &path, body.as_deref()))
        .await
        .unwrap()
}

fn end_pushes(timeline: &CallTimeline) -> Vec<&Attempt> {
    timeline
        .pushes
        .iter()
        .filter(|p| p.purpose == Some(PushPurpose::End))
        .collect()
}

fn event<'a>(timeline: &'a CallTimeline, kind: &str) -> &'a pushtrace_store::Event {
    timeline
        .events
        .iter()
        .find(|e| e.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} event: {timeline:#?}"))
}

fn voip_token(n: u64) -> String {
    format!("{:064x}", 0xe0_0000 + n)
}

fn alert_token(n: u64) -> String {
    format!("{:064x}", 0xa0_0000 + n)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The emulator (every phone online) and a gateway with one app, `acme`, sending end-of-call
/// pushes in `mode`; carol's three phones registered with both their tokens.
struct Lab {
    emulator: EmulatorHandle,
    gateway: GatewayHandle,
    schema: Option<String>,
    _dir: tempfile::TempDir,
}

impl Lab {
    async fn start(backend: Backend, mode: &str) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let (store, schema) = support::open_store(backend, dir.path(), "gw_endcall").await;
        let emulator = start_emulator(dir.path()).await;
        let config = gateway_config(&emulator, dir.path(), mode, "");
        let gateway = start_gateway(&config, store).await;
        let lab = Lab {
            emulator,
            gateway,
            schema,
            _dir: dir,
        };
        for n in 0..PHONES {
            lab.register(&voip_token(n), TokenKind::Voip).await;
            lab.register(&alert_token(n), TokenKind::Alert).await;
        }
        lab
    }

    fn engine(&self) -> &pushtrace_gateway::Engine {
        &self.gateway.engine
    }

    async fn register(&self, token: &str, kind: TokenKind) {
        let request = TokenRequest {
            user: "carol".into(),
            kind,
            environment: None,
            attrs: Default::default(),
        };
        self.engine()
            .register_token("acme", token, request)
            .await
            .unwrap();
    }

    /// Rings carol and waits until all three phones' rings are accepted; the gateway's call id.
    async fn ring(&self, id: &str) -> String {
        let request = CallRequest {
            call_id: id.to_owned(),
            caller: "Dan".into(),
            callee: "carol".into(),
            window_secs: Some(30),
            attrs: Default::default(),
        };
        let created = self.engine().create_call("acme", request).await.unwrap();
        let call_id = created.call.call_id;
        self.wait_for(&call_id, |t| {
            t.pushes
                .iter()
                .filter(|p| p.purpose == Some(PushPurpose::Ring) && p.apns_status == Some(200))
                .count()
                == PHONES as usize
        })
        .await;
        call_id
    }

    /// The call's timeline once `count` end pushes have APNs's answer.
    async fn wait_for_end_pushes(&self, call_id: &str, count: usize) -> CallTimeline {
        let timeline = self
            .wait_for(call_id, |t| {
                end_pushes(t)
                    .iter()
                    .filter(|p| p.responded_at.is_some())
                    .count()
                    >= count
            })
            .await;
        assert_eq!(end_pushes(&timeline).len(), count, "{timeline:#?}");
        timeline
    }

    /// The call's timeline once `done` holds (within 20 s).
    async fn wait_for(&self, call_id: &str, done: impl Fn(&CallTimeline) -> bool) -> CallTimeline {
        let start = Instant::now();
        loop {
            let timeline = self.engine().call_timeline(call_id).await.unwrap();
            if done(&timeline) {
                return timeline;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "gave up waiting: {timeline:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The end-of-call pushes APNs (the emulator) accepted.
    fn end_pushes_on_the_wire(&self) -> Vec<AcceptedPush> {
        self.emulator
            .accepted()
            .into_iter()
            .filter(|p| {
                serde_json::from_slice::<Value>(&p.payload).is_ok_and(|v| v["type"] == "end")
            })
            .collect()
    }

    /// A backend POST with the bearer token: the status and the JSON answer.
    async fn post(&self, path: &str, body: Option<&str>) -> (u16, Value) {
        let (addr, path, body) = (self.gateway.addr, path.to_owned(), body.map(str::to_owned));
        let (status, text) =
            tokio::task::spawn_blocking(move || exchange(addr, "POST", &path, body.as_deref()))
                .await
                .unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// A backend GET with the bearer token: the body.
    async fn get(&self, path: &str) -> String {
        let (addr, path) = (self.gateway.addr, path.to_owned());
        tokio::task::spawn_blocking(move || exchange(addr, "GET", &path, None).1)
            .await
            .unwrap()
    }

    async fn finish(self) {
        self.gateway.shutdown().await;
        self.emulator.shutdown();
        support::drop_schema(self.schema);
    }
}

/// The emulator with carol's three phones online (both tokens of each); its CA written in `dir`.
async fn start_emulator(dir: &Path) -> EmulatorHandle {
    let pem = std::fs::read_to_string(support::key_file()).unwrap();
    let key = SigningKey::from_p8_pem(&pem).unwrap();
    let mut builder = Emulator::builder()
        .key(KEY_ID, ProviderKey::new(TEAM_ID, key.verifying_key()))
        .per_token_rate(None);
    for n in 0..PHONES {
        for (topic, token) in [(VOIP_TOPIC, voip_token(n)), (BUNDLE, alert_token(n))] {
            builder = builder.device(
                Environment::Sandbox,
                topic,
                DeviceToken::parse(&token).unwrap(),
            );
        }
    }
    let emulator = builder.start().await.unwrap();
    std::fs::write(dir.join("emulator-ca.pem"), emulator.ca_pem()).unwrap();
    emulator
}

/// A gateway of one app, `acme`, sending to `emulator` with end-of-call `mode`; `top` is
/// written before the app.
fn gateway_config(emulator: &EmulatorHandle, dir: &Path, mode: &str, top: &str) -> GatewayConfig {
    GatewayConfig::from_toml(
        &format!(
            "listen = \"127.0.0.1:0\"\n{top}\n[[apps]]\nname = \"acme\"\n\
             bundle_id = \"{BUNDLE}\"\nenvironment = \"sandbox\"\n\
             key_file = \"{}\"\nkey_id = \"{KEY_ID}\"\nteam_id = \"{TEAM_ID}\"\n\
             endpoint = \"https://{}\"\nca_file = \"{}\"\n\
             [apps.end_of_call]\nmode = \"{mode}\"\n",
            support::key_file().display(),
            emulator.addr(Environment::Sandbox),
            dir.join("emulator-ca.pem").display(),
        ),
        Path::new("end_of_call.toml"),
    )
    .unwrap()
}

async fn start_gateway(config: &GatewayConfig, store: pushtrace_store::Store) -> GatewayHandle {
    start_with(
        config,
        store,
        ApiToken::new(API_TOKEN, "test").unwrap(),
        ReceiptKey::new(&[7; 32]).unwrap(),
        false,
    )
    .await
    .unwrap()
}

/// One HTTP/1.1 request (no body at all when `body` is None, as a backend's bare POST), its
/// status and body.
fn exchange(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Authorization: Bearer {API_TOKEN}\r\n"
    );
    match body {
        Some(body) => request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )),
        None => request.push_str("\r\n"),
    }
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_owned();
    (status, body)
}
