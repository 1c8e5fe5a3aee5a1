//! Rings the gateway can avoid (issue 14, item 1), over the real stack on both stores: the
//! emulator plays APNs over TLS and, through its delivery hook, the app posting its receipt.
//! A push whose device's receipt is recorded is never sent again:
//!
//! - **after a crash**: an instance dies while APNs is slow to answer a push the phone already
//!   has (its receipt recorded); a second instance on the same store reclaims the job when the
//!   lease lapses and must not send it again; likewise when the first instance is alive but
//!   APNs's answer takes longer than the lease;
//! - **after a 5xx**: APNs answers 503 to a push the phone nonetheless reports (a 5xx does not
//!   prove the push was not delivered), and the receipt comes in while the retry waits out its
//!   back-off: the retry must not go out.
//!
//! The first instance runs on a runtime of its own: shutting that runtime down drops every task
//! it has at its next await, with no clean-up, as `kill -9` would.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use pushtrace_apns::{DeviceToken, Environment, ProviderKey, Reason, SigningKey};
use pushtrace_emulator::{
    Emulator, EmulatorHandle, Fault, FaultRule, HookBody, HttpHookConfig, Latency,
};
use pushtrace_gateway::api::ApiToken;
use pushtrace_gateway::engine::{CallRequest, TokenKind, TokenRequest};
use pushtrace_gateway::receipt_token::ReceiptKey;
use pushtrace_gateway::{GatewayConfig, GatewayHandle, start_with};
use pushtrace_store::{Attempt, CallState, PushType, Store};
use support::{Backend, KEY_ID, TEAM_ID};
use tokio::runtime::Runtime;

const BUNDLE: &str = "com.example.duplicates";
const VOIP_TOPIC: &str = "com.example.duplicates.voip";
const RECEIPT_SECRET: [u8; 32] = [5; 32];
/// How long the emulator holds each answer in the crash test: the phone has the push (and the
/// gateway its receipt) long before APNs's 200 reaches the gateway.
const SLOW_ANSWER_MS: u64 = 3_000;
/// The error recorded on a push not sent again because its device's receipt is in.
const NOT_RESENT: &str = "not sent again: the device's receipt is in";

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(super::Backend::Sqlite);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    super::$name(super::Backend::Postgres);
                }
            )*
        }
    };
}

on_both_stores!(
    a_push_reclaimed_after_a_crash_is_not_sent_again_once_its_receipt_is_in,
    a_push_whose_lease_lapses_while_apns_is_slow_is_not_sent_again,
    a_retry_after_a_5xx_is_not_sent_once_the_receipt_is_in,
    a_receipt_retried_after_a_crash_between_its_writes_delivers_the_call,
);

/// Instance `first` sends the push; the phone gets it and its receipt is recorded while APNs
/// takes 3 s to answer; `first` dies before the answer. Instance `second` reclaims the job when
/// the 1 s lease lapses: the push is on the wire without an answer, so before this fix it was
/// sent again and the phone rang twice.
fn a_push_reclaimed_after_a_crash_is_not_sent_again_once_its_receipt_is_in(backend: Backend) {
    let main = runtime();
    let dir = tempfile::tempdir().unwrap();
    let token = voip_token(0);
    let hook_port = free_port();
    let emulator = main.block_on(start_emulator(
        &token,
        hook_port,
        Some(Latency::Fixed { ms: SLOW_ANSWER_MS }),
        None,
    ));
    let ca_file = dir.path().join("emulator-ca.pem");
    std::fs::write(&ca_file, emulator.ca_pem()).unwrap();
    let config =
        |instance: &str, port: u16| gateway_config(&emulator, &ca_file, instance, port, "");

    let first = runtime();
    let (first_gateway, schema, call_id) = first.block_on(async {
        let (store, schema) = support::open_store(backend, dir.path(), "gw_dup").await;
        let gateway = start(&config("first", hook_port), store).await;
        register(&gateway, "alice", &token).await;
        let call_id = call(&gateway, "crash", "alice").await;
        (gateway, schema, call_id)
    });

    let second_gateway = main.block_on(async {
        let store = support::reopen_store(backend, dir.path(), schema.as_deref()).await;
        // The receipt is in once its two writes are: the receipt's row, then the call moved to
        // delivered. Killing `first` between them leaves the call ringing until the app retries
        // its receipt (a case of its own, below), which this phone does not.
        let receipts = wait_for("the receipt", || async {
            let receipts = store.receipts_for_call(&call_id).await.unwrap();
            let call = store.call(&call_id).await.unwrap();
            let delivered = call.is_some_and(|c| c.state == CallState::Delivered);
            (!receipts.is_empty() && delivered).then_some(receipts)
        })
        .await;
        let push = store.attempt(&receipts[0].push_id).await.unwrap().unwrap();
        assert!(
            push.sent_at.is_some() && push.responded_at.is_none(),
            "the push should be on the wire, its answer not back: {push:#?}"
        );
        store
    });
    // kill -9 of `first`: its send task is dropped while it waits for APNs's answer.
    first.shutdown_background();
    drop(first_gateway);

    main.block_on(async {
        let store = second_gateway;
        let second = start(&config("second", 0), store.clone()).await;
        let push = wait_for("the reclaimed job to finish", || async {
            let pushes = voip_pushes(&store, &call_id).await;
            pushes
                .iter()
                .all(|p| p.responded_at.is_some())
                .then(|| pushes[0].clone())
        })
        .await;

        let rung = rings(&emulator, &token);
        assert_eq!(rung, 1, "the phone was rung {rung} times: {push:#?}");
        assert_eq!(push.error.as_deref(), Some(NOT_RESENT), "{push:#?}");
        assert_eq!(push.apns_status, None, "{push:#?}");
        let call = store.call(&call_id).await.unwrap().unwrap();
        assert_eq!(call.state, CallState::Delivered);
        second.shutdown().await;
        support::drop_schema(schema);
    });
    drop(emulator);
}

/// Two live instances: `first` sends, APNs takes 3 s to answer, and the 1 s lease lapses while
/// it waits; `second`'s worker claims the job. The receipt is in by then, so `second` records
/// the push as not sent again; `first`'s 200 still arrives and is recorded.
fn a_push_whose_lease_lapses_while_apns_is_slow_is_not_sent_again(backend: Backend) {
    let main = runtime();
    let dir = tempfile::tempdir().unwrap();
    let token = voip_token(2);
    main.block_on(async {
        let port = free_port();
        let slow = Some(Latency::Fixed { ms: SLOW_ANSWER_MS });
        let emulator = start_emulator(&token, port, slow, None).await;
        let ca_file = dir.path().join("emulator-ca.pem");
        std::fs::write(&ca_file, emulator.ca_pem()).unwrap();
        let (store, schema) = support::open_store(backend, dir.path(), "gw_dup").await;
        let first = start(
            &gateway_config(&emulator, &ca_file, "first", port, ""),
            store.clone(),
        )
        .await;
        let other = support::reopen_store(backend, dir.path(), schema.as_deref()).await;
        let second = start(&gateway_config(&emulator, &ca_file, "second", 0, ""), other).await;
        register(&first, "carol", &token).await;
        let call_id = call(&first, "lapse", "carol").await;

        let push = wait_for("APNs's answer", || async {
            let pushes = voip_pushes(&store, &call_id).await;
            pushes.first().filter(|p| p.apns_status.is_some()).cloned()
        })
        .await;
        let rung = rings(&emulator, &token);
        assert_eq!(rung, 1, "the phone was rung {rung} times: {push:#?}");
        assert_eq!(push.apns_status, Some(200), "{push:#?}");
        let call = store.call(&call_id).await.unwrap().unwrap();
        assert_eq!(call.state, CallState::Delivered);
        second.shutdown().await;
        first.shutdown().await;
        emulator.shutdown();
        support::drop_schema(schema);
    });
}

/// The first push is answered 503 and a retry scheduled 1.5 s later; the receipt for the first
/// push comes in during the back-off. The retry is recorded as not sent, and the phone is not
/// rung a second time.
fn a_retry_after_a_5xx_is_not_sent_once_the_receipt_is_in(backend: Backend) {
    let main = runtime();
    let dir = tempfile::tempdir().unwrap();
    let token = voip_token(1);
    main.block_on(async {
        let (emulator, gateway, store, schema) =
            refused_once(backend, dir.path(), &token, 1500).await;
        let call_id = call(&gateway, "race", "bob").await;

        let (first, retry) = wait_for("the retry to be scheduled", || async {
            let pushes = voip_pushes(&store, &call_id).await;
            match pushes.as_slice() {
                [first, retry] if first.apns_status == Some(503) => {
                    Some((first.clone(), retry.clone()))
                }
                _ => None,
            }
        })
        .await;
        assert!(retry.sent_at.is_none(), "{retry:#?}");
        let key = ReceiptKey::new(&RECEIPT_SECRET).unwrap();
        let (status, answer) =
            support::post_receipt(gateway.addr, &key, &first.push_id, &call_id).await;
        assert_eq!(status, 202, "{answer}");

        let retry = wait_for("the retry's turn", || async {
            let retry = store.attempt(&retry.push_id).await.unwrap().unwrap();
            retry.responded_at.is_some().then_some(retry)
        })
        .await;
        let rung = rings(&emulator, &token);
        assert_eq!(rung, 0, "the retry went out after the receipt: {retry:#?}");
        assert_eq!(retry.error.as_deref(), Some(NOT_RESENT), "{retry:#?}");
        assert_eq!(retry.sent_at, None, "{retry:#?}");
        let call = store.call(&call_id).await.unwrap().unwrap();
        assert_eq!(call.state, CallState::Delivered);
        gateway.shutdown().await;
        emulator.shutdown();
        support::drop_schema(schema);
    });
}

/// An instance records the receipt and dies before moving the call (two writes); the app, which
/// got no answer, posts the receipt again to another instance. That duplicate must finish the
/// move, or the deadline would mark missed a call whose phone had the push.
fn a_receipt_retried_after_a_crash_between_its_writes_delivers_the_call(backend: Backend) {
    let main = runtime();
    let dir = tempfile::tempdir().unwrap();
    let token = voip_token(1);
    main.block_on(async {
        // The retry waits 5 s: nothing reaches the phone before, so the only receipts are the
        // test's.
        let (emulator, gateway, store, schema) =
            refused_once(backend, dir.path(), &token, 5000).await;
        let call_id = call(&gateway, "torn", "bob").await;
        let first = wait_for("the first answer", || async {
            let pushes = voip_pushes(&store, &call_id).await;
            pushes.into_iter().find(|p| p.apns_status == Some(503))
        })
        .await;

        // What the dead instance wrote: the receipt, and not the call's move.
        let now = pushtrace_gateway::clock::now();
        let torn = pushtrace_model::Receipt {
            push_id: first.push_id.clone(),
            call_id: Some(call_id.clone()),
            received_at: now,
            device_received_at: Some(now),
            reported_at: None,
            must_report: None,
            app_state: None,
            network: None,
            late: false,
        };
        store.record_receipt(&torn).await.unwrap();
        let ringing = store.call(&call_id).await.unwrap().unwrap();
        assert_eq!(ringing.state, CallState::Ringing);

        let key = ReceiptKey::new(&RECEIPT_SECRET).unwrap();
        let (status, answer) =
            support::post_receipt(gateway.addr, &key, &first.push_id, &call_id).await;
        assert_eq!(status, 202, "{answer}");
        assert!(answer.contains(r#""duplicate":true"#), "{answer}");
        let call = store.call(&call_id).await.unwrap().unwrap();
        assert_eq!(call.state, CallState::Delivered, "{call:#?}");
        let events = store.events_for_call(&call_id).await.unwrap();
        let on_time = events
            .iter()
            .filter(|e| e.kind == "receipt.on_time")
            .count();
        assert_eq!(on_time, 1, "{events:#?}");

        // A third copy changes nothing more.
        let (status, answer) =
            support::post_receipt(gateway.addr, &key, &first.push_id, &call_id).await;
        assert_eq!(status, 202, "{answer}");
        let events = store.events_for_call(&call_id).await.unwrap();
        let on_time = events
            .iter()
            .filter(|e| e.kind == "receipt.on_time")
            .count();
        assert_eq!(on_time, 1, "{events:#?}");
        gateway.shutdown().await;
        emulator.shutdown();
        support::drop_schema(schema);
    });
}

/// What the 503 tests share: bob's one phone (`token`), the emulator answering the first VoIP
/// push 503 `ServiceUnavailable`, and a gateway retrying `backoff_ms` later.
async fn refused_once(
    backend: Backend,
    dir: &Path,
    token: &str,
    backoff_ms: u64,
) -> (EmulatorHandle, GatewayHandle, Store, Option<String>) {
    let fault = FaultRule::always(Fault::Status {
        reason: Reason::ServiceUnavailable,
    })
    .topic(VOIP_TOPIC)
    .times(1);
    let port = free_port();
    let emulator = start_emulator(token, port, None, Some(fault)).await;
    let ca_file = dir.join("emulator-ca.pem");
    std::fs::write(&ca_file, emulator.ca_pem()).unwrap();
    let retry =
        format!("[apps.retry]\nfirst_backoff_ms = {backoff_ms}\nmax_backoff_ms = {backoff_ms}\n");
    let config = gateway_config(&emulator, &ca_file, "only", port, &retry);
    let (store, schema) = support::open_store(backend, dir, "gw_dup").await;
    let gateway = start(&config, store.clone()).await;
    register(&gateway, "bob", token).await;
    (emulator, gateway, store, schema)
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn voip_token(n: u64) -> String {
    format!("{:064x}", 0xd0_0000 + n)
}

/// The emulator with the phone of `token` online for the VoIP topic, posting the app's receipt
/// to the gateway at `hook_port` on each delivery.
async fn start_emulator(
    token: &str,
    hook_port: u16,
    latency: Option<Latency>,
    fault: Option<FaultRule>,
) -> EmulatorHandle {
    let pem = std::fs::read_to_string(support::key_file()).unwrap();
    let key = SigningKey::from_p8_pem(&pem).unwrap();
    let hook = HttpHookConfig::new(&format!("http://127.0.0.1:{hook_port}/v1/receipts"))
        .unwrap()
        .body(HookBody::App);
    let mut builder = Emulator::builder()
        .key(KEY_ID, ProviderKey::new(TEAM_ID, key.verifying_key()))
        .per_token_rate(None)
        .http_hook(hook)
        .device(
            Environment::Sandbox,
            VOIP_TOPIC,
            DeviceToken::parse(token).unwrap(),
        );
    if let Some(latency) = latency {
        builder = builder.latency(latency);
    }
    if let Some(fault) = fault {
        builder = builder.fault(fault);
    }
    builder.start().await.unwrap()
}

/// One app, `acme`; a 1 s lease and a 50 ms poll so a second instance reclaims quickly.
fn gateway_config(
    emulator: &EmulatorHandle,
    ca_file: &Path,
    instance: &str,
    port: u16,
    app: &str,
) -> GatewayConfig {
    GatewayConfig::from_toml(
        &format!(
            "listen = \"127.0.0.1:{port}\"\ninstance = \"{instance}\"\n\
             job_lease_ms = 1000\npoll_interval_ms = 50\n\n[[apps]]\nname = \"acme\"\n\
             bundle_id = \"{BUNDLE}\"\nenvironment = \"sandbox\"\n\
             key_file = \"{}\"\nkey_id = \"{KEY_ID}\"\nteam_id = \"{TEAM_ID}\"\n\
             endpoint = \"https://{}\"\nca_file = \"{}\"\n{app}",
            support::key_file().display(),
            emulator.addr(Environment::Sandbox),
            ca_file.display(),
        ),
        Path::new("duplicates.toml"),
    )
    .unwrap()
}

async fn start(config: &GatewayConfig, store: Store) -> GatewayHandle {
    start_with(
        config,
        store,
        ApiToken::new("duplicates-api-token-012345", "test").unwrap(),
        ReceiptKey::new(&RECEIPT_SECRET).unwrap(),
        false,
    )
    .await
    .unwrap()
}

async fn register(gateway: &GatewayHandle, user: &str, token: &str) {
    let request = TokenRequest {
        user: user.to_owned(),
        kind: TokenKind::Voip,
        environment: None,
        attrs: Default::default(),
    };
    gateway
        .engine
        .register_token("acme", token, request)
        .await
        .unwrap();
}

/// Rings `callee` for 30 s; the gateway's call id.
async fn call(gateway: &GatewayHandle, id: &str, callee: &str) -> String {
    let request = CallRequest {
        call_id: id.to_owned(),
        caller: "Ann".into(),
        callee: callee.to_owned(),
        window_secs: Some(30),
        attrs: Default::default(),
    };
    let created = gateway.engine.create_call("acme", request).await.unwrap();
    assert!(created.warning.is_none(), "{:?}", created.warning);
    created.call.call_id
}

async fn voip_pushes(store: &Store, call_id: &str) -> Vec<Attempt> {
    let mut pushes = store.attempts_for_call(call_id).await.unwrap();
    pushes.retain(|p| p.push_type == PushType::Voip);
    pushes.sort_by_key(|p| p.attempt);
    pushes
}

/// How many pushes to `token` the emulator accepted: each one rang the phone.
fn rings(emulator: &EmulatorHandle, token: &str) -> usize {
    emulator
        .accepted()
        .iter()
        .filter(|p| p.token.to_string() == token)
        .count()
}

/// Polls `probe` until it answers (within 20 s).
async fn wait_for<T, F, Fut>(what: &str, probe: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
