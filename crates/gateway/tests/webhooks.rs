//! Webhooks over the real stack, on both stores: the emulator plays APNs (and the app posting
//! its receipt), the gateway runs in-process, and a real HTTP receiver on a local port gets
//! the events. The signatures are checked by the Python and Node snippets of
//! `docs/webhooks.md`, run as they are written there.

#[path = "webhooks/receiver.rs"]
mod receiver;
mod support;

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

use pushtrace_apns::{DeviceToken, Environment, ProviderKey, SigningKey};
use pushtrace_emulator::{DeviceState, Emulator, EmulatorHandle, HookBody, HttpHookConfig};
use pushtrace_gateway::api::ApiToken;
use pushtrace_gateway::engine::{CallRequest, TokenKind, TokenRequest};
use pushtrace_gateway::receipt_token::ReceiptKey;
use pushtrace_gateway::{GatewayConfig, GatewayHandle, start_with};
use pushtrace_store::{Store, WebhookQuery, WebhookState};
use receiver::{Answer, Receiver, verify_with_docs_snippet};
use serde_json::Value;
use support::{Backend, KEY_ID, TEAM_ID};

const BUNDLE: &str = "com.example.hooks";
const VOIP_TOPIC: &str = "com.example.hooks.voip";
const SECRET: &str = "whsec-test-0123456789abcdef0123456789abcdef";

crate::on_both_stores!(
    each_event_type_is_signed_and_delivered,
    a_500_is_retried_then_delivered_with_the_same_event_id,
    a_receiver_that_never_succeeds_is_given_up_after_max_attempts,
);

/// VoIP tokens: 0 online (rings), 1 offline (accepted, never received: missed), 2 gone (410).
fn voip_token(n: u64) -> String {
    format!("{:064x}", 0xb0_0000 + n)
}

fn alert_token() -> String {
    format!("{:064x}", 0xb0a1e7)
}

/// Delivered, answered, missed (with its alert), failed (no VoIP token, no alert token) and
/// token.invalidated (with APNs's 410 timestamp), each signed as docs/webhooks.md says.
async fn each_event_type_is_signed_and_delivered(backend: Backend) {
    let receiver = Receiver::start(VecDeque::new()).await;
    let lab = Lab::start(backend, &receiver, "").await;
    lab.register("alice", &voip_token(0), TokenKind::Voip).await;
    lab.register("carol", &voip_token(1), TokenKind::Voip).await;
    lab.register("carol", &alert_token(), TokenKind::Alert)
        .await;
    lab.register("dave", &voip_token(2), TokenKind::Voip).await;
    // Token 2 is gone from now on: the 410 names a time after its registration.
    let gone_at_ms = now_ms() + 1;
    lab.emulator.unregister_device(
        Environment::Sandbox,
        VOIP_TOPIC,
        DeviceToken::parse(&voip_token(2)).unwrap(),
        gone_at_ms,
    );
    tokio::time::sleep(Duration::from_millis(10)).await;

    let alice = lab.call("c-alice", "alice", 30).await;
    let carol = lab.call("c-carol", "carol", 1).await;
    let dave = lab.call("c-dave", "dave", 30).await;
    let erin = lab.call("c-erin", "erin", 30).await;
    receiver
        .wait(|r| r.iter().any(|e| e.kind == "call.delivered"))
        .await;
    lab.engine().answer_call(&alice).await.unwrap();

    let events = receiver
        .wait(|r| {
            let kinds: std::collections::BTreeSet<&str> = r.iter().map(|e| e.kind()).collect();
            kinds.len() == 5 && r.iter().filter(|e| e.kind == "call.failed").count() == 2
        })
        .await;
    let find = |kind: &str, call: &str| {
        events
            .iter()
            .find(|e| e.kind == kind && e.body["data"]["call"]["call_id"] == call)
            .unwrap_or_else(|| panic!("no {kind} for {call}: {events:#?}"))
            .clone()
    };
    let delivered = find("call.delivered", &alice);
    assert_eq!(delivered.body["data"]["call"]["client_call_id"], "c-alice");
    assert_eq!(delivered.body["data"]["token"], voip_token(0));
    let answered = find("call.answered", &alice);
    assert_eq!(answered.body["data"]["call"]["state"], "answered");
    let missed = find("call.missed", &carol);
    assert_eq!(missed.body["data"]["alerts"], 1, "{missed:#?}");
    assert_eq!(
        missed.body["data"]["missed_call_alert"],
        "queued to 1 device(s)"
    );
    let no_token = find("call.failed", &erin);
    assert_eq!(no_token.body["data"]["reason"], "no_voip_token");
    assert_eq!(no_token.body["data"]["alerts"], 0);
    let alert = no_token.body["data"]["missed_call_alert"].as_str().unwrap();
    assert!(
        alert.contains("no alert token is registered for \"erin\""),
        "{alert}"
    );
    let gone = find("call.failed", &dave);
    assert_eq!(gone.body["data"]["reason"], "no_device_can_ring");
    assert_eq!(gone.body["data"]["pushes"][0]["apns_status"], 410);
    let invalidated = events
        .iter()
        .find(|e| e.kind == "token.invalidated")
        .unwrap();
    assert_eq!(invalidated.body["data"]["token"], voip_token(2));
    assert_eq!(invalidated.body["data"]["reason"], "Unregistered");
    assert_eq!(invalidated.body["data"]["call_id"], dave.as_str());
    // The emulator's 410 says the token has been gone since gone_at_ms.
    let since = invalidated.body["data"]["invalidated_since"]
        .as_str()
        .unwrap();
    let since = pushtrace_model::Timestamp::parse(since).unwrap();
    assert_eq!(
        since.utc_micros() / 1000,
        gone_at_ms as i64,
        "{invalidated:#?}"
    );

    // The timeline of a call to a user with no alert token says so.
    let timeline = lab.engine().call_timeline(&erin).await.unwrap();
    let failed = timeline
        .events
        .iter()
        .find(|e| e.kind == "call.failed")
        .unwrap();
    assert!(
        failed.detail["missed_call_alert"]
            .as_str()
            .unwrap()
            .contains("no alert token is registered for \"erin\""),
        "{failed:#?}"
    );

    for event in &events {
        assert_eq!(event.headers["pushtrace-event-id"], event.body["id"]);
        assert_eq!(event.headers["pushtrace-event-type"], event.body["type"]);
        assert_eq!(event.body["app"], "acme");
        assert_eq!(event.body["id"].as_str().unwrap().len(), 40);
        let signature = &event.headers["pushtrace-signature"];
        assert!(
            verify_with_docs_snippet("python", SECRET, signature, &event.raw),
            "{event:#?}"
        );
        assert!(
            verify_with_docs_snippet("js", SECRET, signature, &event.raw),
            "{event:#?}"
        );
        // A body changed by one byte does not verify.
        let tampered = event.raw.replacen("acme", "acmf", 1);
        assert!(!verify_with_docs_snippet(
            "python", SECRET, signature, &tampered
        ));
    }
    // Every event delivered once: no retries were needed.
    let page = lab.deliveries(None).await;
    assert_eq!(page.len(), events.len(), "{page:#?}");
    assert!(
        page.iter()
            .all(|(w, a)| w.state == WebhookState::Delivered && a.len() == 1)
    );
    lab.finish().await;
}

/// 500 twice, then 200: three attempts of the same event, visible through the API.
async fn a_500_is_retried_then_delivered_with_the_same_event_id(backend: Backend) {
    let receiver =
        Receiver::start(VecDeque::from([Answer::Status(500), Answer::Status(500)])).await;
    let lab = Lab::start(backend, &receiver, "events = [\"call.answered\"]\n").await;
    lab.register("alice", &voip_token(0), TokenKind::Voip).await;
    let call = lab.call("c-retry", "alice", 30).await;
    lab.engine().answer_call(&call).await.unwrap();
    let received = receiver.wait(|r| r.len() == 3).await;
    let ids: Vec<&Value> = received.iter().map(|e| &e.body["id"]).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert!(received.iter().all(|e| e.raw == received[0].raw));
    let page = lab
        .wait_deliveries(|p| p.iter().all(|(w, _)| w.state == WebhookState::Delivered))
        .await;
    let (webhook, attempts) = &page[0];
    assert_eq!(webhook.attempts, 3);
    let statuses: Vec<Option<u16>> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    assert_eq!(
        attempts[0].error.as_deref(),
        Some("the receiver answered 500")
    );
    // Waited about first_backoff_ms (50), then twice that.
    let gap = |i: usize| attempts[i + 1].at.utc_micros() - attempts[i].at.utc_micros();
    assert!(gap(0) >= 50_000 && gap(1) >= 100_000, "{attempts:#?}");
    lab.finish().await;
}

/// Always 503: max_attempts (3) attempts, then failed, listed under state=failed.
async fn a_receiver_that_never_succeeds_is_given_up_after_max_attempts(backend: Backend) {
    let receiver = Receiver::start(VecDeque::from([Answer::Status(503); 10])).await;
    let lab = Lab::start(backend, &receiver, "events = [\"call.answered\"]\n").await;
    lab.register("alice", &voip_token(0), TokenKind::Voip).await;
    let call = lab.call("c-down", "alice", 30).await;
    lab.engine().answer_call(&call).await.unwrap();
    let page = lab
        .wait_deliveries(|p| p.iter().any(|(w, _)| w.state == WebhookState::Failed))
        .await;
    assert_eq!(page[0].0.attempts, 3);
    assert_eq!(page[0].0.last_status, Some(503));
    assert_eq!(lab.deliveries(Some(WebhookState::Failed)).await.len(), 1);
    assert!(lab.deliveries(Some(WebhookState::Pending)).await.is_empty());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.received().len(), 3, "no attempt after giving up");
    lab.finish().await;
}

/// A restart mid-delivery: the first gateway's runtime is dropped (every task of it stops, as
/// in a kill) while the receiver holds its request; a second gateway on the same store sends
/// the event again once the lease lapses, with the same id and body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_restart_mid_delivery_still_delivers() {
    restart_mid_delivery(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_mid_delivery_still_delivers() {
    restart_mid_delivery(Backend::Postgres).await;
}

/// Longer than the first gateway lives with the request held: its attempt never ends by
/// itself. The lease is then 8 s (timeout + 5 s).
const SLOW: &str = "timeout_ms = 3000\n";

async fn restart_mid_delivery(backend: Backend) {
    let receiver = Receiver::start(VecDeque::from([Answer::Hang])).await;
    let dir = tempfile::tempdir().unwrap();
    let emulator = start_emulator(0).await;
    let ca_file = dir.path().join("emulator-ca.pem");
    std::fs::write(&ca_file, emulator.ca_pem()).unwrap();
    // The first gateway runs on a runtime of its own, dropped mid-delivery.
    let first = {
        let (dir, receiver_addr, ca) = (dir.path().to_owned(), receiver.url(), ca_file.clone());
        let held = receiver.state.clone();
        let emulator_addr = emulator.addr(Environment::Sandbox);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            // The handle is kept: dropping it would tell the gateway's loops to stop.
            let (schema, gateway) = runtime.block_on(async {
                let (store, schema) = support::open_store(backend, &dir, "gw_hooks").await;
                let config = config(0, &dir, &receiver_addr, emulator_addr, &ca, SLOW);
                let gateway = start(&config, store).await;
                register(&gateway, "alice", &voip_token(0), TokenKind::Voip).await;
                let call = ring(&gateway, "c-kill", "alice", 30).await;
                gateway.engine.answer_call(&call).await.unwrap();
                (schema, gateway)
            });
            // Let the worker claim and POST the event (the receiver holds it), then stop the
            // runtime with the request in flight.
            let start = Instant::now();
            while held.received.lock().unwrap().is_empty() && start.elapsed().as_secs() < 20 {
                std::thread::sleep(Duration::from_millis(10));
            }
            runtime.shutdown_background();
            drop(gateway);
            schema
        })
    };
    let schema = tokio::task::spawn_blocking(move || first.join().unwrap())
        .await
        .unwrap();
    let held = receiver.received();
    assert!(!held.is_empty(), "the first gateway never posted");
    let store = support::reopen_store(backend, dir.path(), schema.as_deref()).await;
    let config = config(
        0,
        dir.path(),
        &receiver.url(),
        emulator.addr(Environment::Sandbox),
        &ca_file,
        SLOW,
    );
    let gateway = start(&config, store.clone()).await;
    let all = receiver
        .wait(|r| r.iter().filter(|e| e.kind == "call.answered").count() >= 2)
        .await;
    let answered: Vec<_> = all.iter().filter(|e| e.kind == "call.answered").collect();
    assert_eq!(
        answered[0].headers["pushtrace-event-id"],
        answered[1].headers["pushtrace-event-id"]
    );
    assert_eq!(answered[0].raw, answered[1].raw);
    let page = wait_deliveries(&store, |p| {
        p.iter().all(|(w, _)| w.state == WebhookState::Delivered)
    })
    .await;
    assert!(page.iter().any(|(w, _)| w.kind == "call.answered"));
    gateway.shutdown().await;
    emulator.shutdown();
    support::drop_schema(schema);
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn start_emulator(hook_port: u16) -> EmulatorHandle {
    let pem = std::fs::read_to_string(support::key_file()).unwrap();
    let key = SigningKey::from_p8_pem(&pem).unwrap();
    let mut builder = Emulator::builder()
        .key(KEY_ID, ProviderKey::new(TEAM_ID, key.verifying_key()))
        .device(
            Environment::Sandbox,
            BUNDLE,
            DeviceToken::parse(&alert_token()).unwrap(),
        )
        .per_token_rate(None);
    if hook_port != 0 {
        let hook = HttpHookConfig::new(&format!("http://127.0.0.1:{hook_port}/v1/receipts"))
            .unwrap()
            .body(HookBody::App);
        builder = builder.http_hook(hook);
    }
    for n in 0..2 {
        builder = builder.device(
            Environment::Sandbox,
            VOIP_TOPIC,
            DeviceToken::parse(&voip_token(n)).unwrap(),
        );
    }
    builder = builder.device_state(
        Environment::Sandbox,
        DeviceToken::parse(&voip_token(1)).unwrap(),
        DeviceState::Offline,
    );
    builder.start().await.unwrap()
}

fn config(
    port: u16,
    dir: &Path,
    receiver: &str,
    emulator: std::net::SocketAddr,
    ca_file: &Path,
    webhook: &str,
) -> GatewayConfig {
    let timeout = if webhook.contains("timeout_ms") {
        ""
    } else {
        "timeout_ms = 1000\n"
    };
    let secret_file = dir.join("webhook-secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    GatewayConfig::from_toml(
        &format!(
            "listen = \"127.0.0.1:{port}\"\npoll_interval_ms = 20\njob_lease_ms = 1000\n\n\
             [[apps]]\nname = \"acme\"\n\
             bundle_id = \"{BUNDLE}\"\nenvironment = \"sandbox\"\n\
             key_file = \"{}\"\nkey_id = \"{KEY_ID}\"\nteam_id = \"{TEAM_ID}\"\n\
             endpoint = \"https://{emulator}\"\nca_file = \"{}\"\n\
             [apps.webhook]\nurl = \"{receiver}\"\nsecret_file = \"{}\"\n\
             first_backoff_ms = 50\nmax_backoff_ms = 200\nmax_attempts = 3\n{timeout}{webhook}",
            support::key_file().display(),
            ca_file.display(),
            secret_file.display(),
        ),
        Path::new("webhooks.toml"),
    )
    .unwrap()
}

async fn start(config: &GatewayConfig, store: Store) -> GatewayHandle {
    start_with(
        config,
        store,
        ApiToken::new("webhooks-api-token-012345", "test").unwrap(),
        ReceiptKey::new(&[9; 32]).unwrap(),
        false,
    )
    .await
    .unwrap()
}

async fn register(gateway: &GatewayHandle, user: &str, token: &str, kind: TokenKind) {
    let request = TokenRequest {
        user: user.to_owned(),
        kind,
        environment: None,
        attrs: Default::default(),
    };
    gateway
        .engine
        .register_token("acme", token, request)
        .await
        .unwrap();
}

async fn ring(gateway: &GatewayHandle, id: &str, callee: &str, window_secs: u64) -> String {
    let request = CallRequest {
        call_id: id.to_owned(),
        caller: "Ann".into(),
        callee: callee.to_owned(),
        window_secs: Some(window_secs),
        attrs: Default::default(),
    };
    let created = gateway.engine.create_call("acme", request).await.unwrap();
    created.call.call_id
}

type Page = Vec<(
    pushtrace_store::Webhook,
    Vec<pushtrace_store::WebhookAttempt>,
)>;

async fn wait_deliveries(store: &Store, done: impl Fn(&Page) -> bool) -> Page {
    let start = Instant::now();
    loop {
        let page = store
            .webhooks(&WebhookQuery {
                app: "acme".into(),
                state: None,
                call_id: None,
                before_seq: None,
                limit: 100,
            })
            .await
            .unwrap();
        if !page.is_empty() && done(&page) {
            return page;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "gave up waiting: {page:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The emulator (with the app's receipt hook) and a gateway whose webhooks go to `receiver`.
struct Lab {
    emulator: EmulatorHandle,
    gateway: GatewayHandle,
    schema: Option<String>,
    _dir: tempfile::TempDir,
}

impl Lab {
    async fn start(backend: Backend, receiver: &Receiver, webhook: &str) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let (store, schema) = support::open_store(backend, dir.path(), "gw_hooks").await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let emulator = start_emulator(port).await;
        let ca_file = dir.path().join("emulator-ca.pem");
        std::fs::write(&ca_file, emulator.ca_pem()).unwrap();
        let config = config(
            port,
            dir.path(),
            &receiver.url(),
            emulator.addr(Environment::Sandbox),
            &ca_file,
            webhook,
        );
        let gateway = start(&config, store).await;
        Lab {
            emulator,
            gateway,
            schema,
            _dir: dir,
        }
    }

    fn engine(&self) -> &pushtrace_gateway::Engine {
        &self.gateway.engine
    }

    async fn register(&self, user: &str, token: &str, kind: TokenKind) {
        register(&self.gateway, user, token, kind).await;
    }

    async fn call(&self, id: &str, callee: &str, window_secs: u64) -> String {
        ring(&self.gateway, id, callee, window_secs).await
    }

    async fn deliveries(&self, state: Option<WebhookState>) -> Page {
        self.engine()
            .webhook_deliveries(WebhookQuery {
                app: "acme".into(),
                state,
                call_id: None,
                before_seq: None,
                limit: 100,
            })
            .await
            .unwrap()
    }

    async fn wait_deliveries(&self, done: impl Fn(&Page) -> bool) -> Page {
        wait_deliveries(self.engine().store(), done).await
    }

    async fn finish(self) {
        self.gateway.shutdown().await;
        self.emulator.shutdown();
        support::drop_schema(self.schema);
    }
}
