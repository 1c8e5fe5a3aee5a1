//! Three gateway instances on one PostgreSQL behind a load balancer, under load, one of them
//! killed with SIGKILL mid-load (issue 16, item 7). The emulator plays APNs over TLS/HTTP2 and,
//! through its delivery hook, the app posting its receipt (through the balancer, so to any
//! live instance). Every call the backend asked for must reach a final state, and every phone
//! must ring exactly once for its call: the killed instance's claimed work is taken over when
//! its leases lapse, and a push it had on the wire is not sent again once its receipt is in.
//!
//! Each instance is a process of its own: this test binary run again as
//! [`instance_process`], which starts the gateway as `pushtrace serve` does
//! (`pushtrace_gateway::start` with a config file), so the kill is a real `kill -9`. The load
//! balancer is a TCP round robin that passes over an instance that refuses connections, as a
//! balancer's health check would. A request cut by the kill is sent again with the same call id
//! (the backend's retry; the gateway creates each call once).
//!
//! Every webhook the calls owe the backend (`call.delivered`, written with the call's move in
//! the store's outbox) reaches a real HTTP receiver at least once, signed and with its event id,
//! whichever instance sends it: those the killed instance had claimed (their leases lapse) too.
//! The receiver answers slowly, so every instance has deliveries in flight at the kill.

// The receiver of tests/webhooks.rs; this test uses part of it.
#[allow(dead_code)]
#[path = "webhooks/receiver.rs"]
mod receiver;
mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pushtrace_apns::{DeviceToken, Environment, ProviderKey, SigningKey};
use pushtrace_emulator::{Emulator, EmulatorHandle, HookBody, HttpHookConfig, Latency};
use pushtrace_store::{CallState, PushType, Store, WebhookQuery, WebhookState};
use receiver::{Answer, Received, Receiver};
use serde_json::{Value, json};
use support::{KEY_ID, TEAM_ID};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BUNDLE: &str = "com.example.scale";
const VOIP_TOPIC: &str = "com.example.scale.voip";
const API_TOKEN: &str = "scale-out-api-token-0123456789";
/// The environment variable that turns this binary into a gateway instance (its config file).
const INSTANCE_CONFIG: &str = "PUSHTRACE_SCALE_OUT_INSTANCE";
/// What an instance prints once it listens, before its address.
const LISTENING: &str = "scale-out instance listening on ";
const INSTANCES: usize = 3;
const CALLS: usize = 600;
/// Calls in flight at once from the backend.
const CONCURRENCY: usize = 12;
/// The killed instance dies once this many calls were answered.
const KILL_AFTER: usize = 200;
const WEBHOOK_SECRET: &str = "whsec-scale-out-0123456789abcdef0123456789";
/// How long the receiver takes to answer each delivery: deliveries stay in flight.
const RECEIVER_MS: u64 = 400;

/// Not a test of its own: one gateway instance, started by the scale-out test as a child
/// process, serving until it is killed.
#[test]
#[ignore = "a gateway instance that three_instances_ring_every_call_once starts as its own process"]
fn instance_process() {
    let Ok(config) = std::env::var(INSTANCE_CONFIG) else {
        return;
    };
    let config = pushtrace_gateway::GatewayConfig::from_file(Path::new(&config)).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let gateway = pushtrace_gateway::start(&config).await.unwrap();
        println!("{LISTENING}{}", gateway.addr);
        // Until the parent kills it (or, if the parent died, the next one's schema is new).
        tokio::time::sleep(Duration::from_secs(600)).await;
        gateway.shutdown().await;
    });
}

#[test]
fn three_instances_ring_every_call_once_with_one_killed() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(scale_out());
}

async fn scale_out() {
    let dir = tempfile::tempdir().unwrap();
    // The schema is created by the first instance; the test reads it through its own store.
    let (store, schema) =
        support::open_store(support::Backend::Postgres, dir.path(), "gw_scale").await;
    let schema = schema.unwrap();

    let balancer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let balancer_addr = balancer.local_addr().unwrap();
    let tokens: Vec<String> = (0..CALLS).map(voip_token).collect();
    let emulator = start_emulator(&tokens, balancer_addr).await;
    let ca_file = dir.path().join("emulator-ca.pem");
    std::fs::write(&ca_file, emulator.ca_pem()).unwrap();
    std::fs::write(dir.path().join("api-token"), API_TOKEN).unwrap();
    std::fs::write(dir.path().join("receipt-key"), [b'k'; 32]).unwrap();
    std::fs::write(dir.path().join("webhook-secret"), WEBHOOK_SECRET).unwrap();
    // The first CALLS requests are answered slowly, any after them at once.
    let receiver = Receiver::start(VecDeque::from(vec![Answer::OkAfter(RECEIVER_MS); CALLS])).await;

    let mut instances: Vec<Instance> = (0..INSTANCES)
        .map(|n| Instance::start(n, dir.path(), &schema, &emulator, &ca_file, &receiver.url()))
        .collect();
    let backends: Vec<SocketAddr> = instances.iter().map(|i| i.addr).collect();
    tokio::spawn(balance(balancer, backends));

    for (n, token) in tokens.iter().enumerate() {
        let body = json!({ "user": format!("user-{n}"), "kind": "voip" });
        let path = format!("/v1/apps/acme/tokens/{token}");
        let (status, answer) = request(balancer_addr, "PUT", &path, Some(&body))
            .await
            .unwrap();
        assert!(matches!(status, 200 | 201), "{status}: {answer}");
    }

    // The load: CALLS calls, each to its own user; instance 0 is killed mid-way.
    let answered = Arc::new(AtomicUsize::new(0));
    let resent = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (answered, resent, next) = (answered.clone(), resent.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= CALLS {
                    return ids;
                }
                ids.push(ring(balancer_addr, n, &resent).await);
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    while answered.load(Ordering::Relaxed) < KILL_AFTER {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    instances[0].kill9();
    let killed_at = answered.load(Ordering::Relaxed);
    // Owned until the attempt is recorded: what the killed instance had claimed and not
    // finished, left for its lease to lapse.
    let orphaned = claimed_by(&schema, "gw-0");
    let mut call_ids = Vec::new();
    for worker in workers {
        call_ids.extend(worker.await.unwrap());
    }
    let load_time = started.elapsed();
    assert_eq!(call_ids.len(), CALLS);

    // Every call reaches a final state: the window is 5 s, a dead instance's lease 2 s.
    let mut states = BTreeMap::<String, usize>::new();
    for call_id in &call_ids {
        let call = wait_final(&store, call_id).await;
        *states.entry(call.state.to_string()).or_default() += 1;
    }
    wait_for("every job done", || async {
        (store.pending_jobs().await.unwrap() == 0).then_some(())
    })
    .await;

    // Every phone rang exactly once: one accepted push per token, of its call's one push.
    let mut rings = BTreeMap::<String, usize>::new();
    for push in emulator.accepted() {
        *rings.entry(push.token.to_string()).or_default() += 1;
    }
    let mut reclaimed = 0;
    for (n, call_id) in call_ids.iter().enumerate() {
        let pushes = store.attempts_for_call(call_id).await.unwrap();
        let voip: Vec<_> = pushes
            .iter()
            .filter(|p| p.push_type == PushType::Voip)
            .collect();
        assert_eq!(voip.len(), 1, "call {call_id}: {pushes:#?}");
        let rung = rings.get(&tokens[n]).copied().unwrap_or(0);
        assert_eq!(rung, 1, "call {call_id} rang {rung} times: {pushes:#?}");
        let events = store.events_for_call(call_id).await.unwrap();
        assert!(
            events.iter().all(|e| e.kind != "job.abandoned"),
            "{events:#?}"
        );
        if voip[0].error.as_deref() == Some("not sent again: the device's receipt is in") {
            reclaimed += 1;
        }
    }
    // Every phone was online and its receipt is in. A receipt the killed instance recorded
    // without moving its call to delivered (killed between the two writes; the app's retry is
    // then a duplicate that moves nothing) leaves the call to be missed at its deadline: final,
    // rung once, but counted here apart.
    let mut receipt_without_delivery = 0;
    for call_id in &call_ids {
        let receipts = store.receipts_for_call(call_id).await.unwrap();
        assert_eq!(receipts.len(), 1, "call {call_id}: {receipts:#?}");
        let call = store.call(call_id).await.unwrap().unwrap();
        if call.state != CallState::Delivered {
            receipt_without_delivery += 1;
        }
    }
    let webhooks = every_webhook_delivered(&store, &receiver, &orphaned).await;
    let delivered_calls = states.get("delivered").copied().unwrap_or(0);
    assert_eq!(
        webhooks.events, delivered_calls,
        "one call.delivered per delivered call"
    );
    eprintln!(
        "scale-out: {CALLS} calls through {INSTANCES} instances in {load_time:?}, instance 0 \
         killed after {killed_at}; {} requests sent again after the kill; {reclaimed} pushes \
         on the wire at the kill not sent again (receipt in); final states {states:?} \
         ({receipt_without_delivery} with an on-time receipt but not delivered); {} webhooks \
         delivered in {} requests, {} of them claimed by the killed instance, {} received \
         more than once",
        resent.load(Ordering::Relaxed),
        webhooks.events,
        webhooks.requests,
        orphaned.len(),
        webhooks.duplicates,
    );
    for instance in &mut instances {
        instance.kill9();
    }
    drop(emulator);
    support::drop_schema(Some(schema));
}

/// Creates call `n` (its user's), sending the request again (same call id) until it is
/// answered 201 or 200: a request cut by the kill may or may not have created the call.
async fn ring(balancer: SocketAddr, n: usize, resent: &AtomicUsize) -> String {
    let body = json!({
        "call_id": format!("scale-{n}"),
        "caller": "Ann",
        "callee": format!("user-{n}"),
        "window_secs": 5,
    });
    for attempt in 0..20 {
        match request(balancer, "POST", "/v1/apps/acme/calls", Some(&body)).await {
            // 200: the call was created by the request the kill cut.
            Ok((200 | 201, answer)) => {
                assert!(answer["warning"].is_null(), "{answer}");
                return answer["call"]["call_id"].as_str().unwrap().to_owned();
            }
            Ok((status, answer)) if status < 500 => panic!("call {n}: {status} {answer}"),
            _ => {
                resent.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20 * (attempt + 1))).await;
            }
        }
    }
    panic!("call {n} was never answered 201");
}

/// One gateway instance: a child process.
struct Instance {
    child: Child,
    addr: SocketAddr,
}

impl Instance {
    fn start(
        n: usize,
        dir: &Path,
        schema: &str,
        emulator: &EmulatorHandle,
        ca_file: &Path,
        webhook_url: &str,
    ) -> Instance {
        let config = dir.join(format!("gateway-{n}.toml"));
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\ninstance = \"gw-{n}\"\n\
                 store = \"{}\"\nstore_schema = \"{schema}\"\n\
                 api_token_file = \"api-token\"\nreceipt_key_file = \"receipt-key\"\n\
                 job_lease_ms = 2000\npoll_interval_ms = 50\n\n\
                 [[apps]]\nname = \"acme\"\nbundle_id = \"{BUNDLE}\"\nenvironment = \"sandbox\"\n\
                 key_file = \"{}\"\nkey_id = \"{KEY_ID}\"\nteam_id = \"{TEAM_ID}\"\n\
                 endpoint = \"https://{}\"\nca_file = \"{}\"\n\n\
                 [apps.webhook]\nurl = \"{webhook_url}\"\nsecret_file = \"webhook-secret\"\n\
                 timeout_ms = 3000\nfirst_backoff_ms = 100\n",
                support::postgres_url(),
                support::key_file().display(),
                emulator.addr(Environment::Sandbox),
                ca_file.display(),
            ),
        )
        .unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "instance_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(INSTANCE_CONFIG, &config)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            match lines.next() {
                // libtest may have written "test instance_process ... " on the same line.
                Some(Ok(line)) => {
                    if let Some((_, addr)) = line.split_once(LISTENING) {
                        break addr.trim().parse().unwrap();
                    }
                }
                other => panic!("instance {n} did not start: {other:?}"),
            }
        };
        // Keep reading its output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Instance { child, addr }
    }

    /// SIGKILL: no shutdown, no clean-up, leases left to lapse.
    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The load balancer: each connection goes to the next instance that accepts it.
async fn balance(listener: TcpListener, backends: Vec<SocketAddr>) {
    let next = AtomicUsize::new(0);
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            return;
        };
        let first = next.fetch_add(1, Ordering::Relaxed);
        let backends = backends.clone();
        tokio::spawn(async move {
            for k in 0..backends.len() {
                let backend = backends[(first + k) % backends.len()];
                if let Ok(mut upstream) = TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    return;
                }
            }
        });
    }
}

/// One HTTP/1.1 request on its own connection; the status and JSON body.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Value)> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\
         Authorization: Bearer {API_TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .map_err(|_| std::io::Error::other("no answer within 10 s"))??;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {text:?}")))?;
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    Ok((status, json))
}

async fn start_emulator(tokens: &[String], balancer: SocketAddr) -> EmulatorHandle {
    let pem = std::fs::read_to_string(support::key_file()).unwrap();
    let key = SigningKey::from_p8_pem(&pem).unwrap();
    let hook = HttpHookConfig::new(&format!("http://{balancer}/v1/receipts"))
        .unwrap()
        .body(HookBody::App);
    let mut builder = Emulator::builder()
        .key(KEY_ID, ProviderKey::new(TEAM_ID, key.verifying_key()))
        .per_token_rate(None)
        .http_hook(hook)
        // APNs answers after 150 ms: the killed instance has pushes on the wire, delivered
        // (their receipts on the way) but unanswered.
        .latency(Latency::Fixed { ms: 150 });
    for token in tokens {
        builder = builder.device(
            Environment::Sandbox,
            VOIP_TOPIC,
            DeviceToken::parse(token).unwrap(),
        );
    }
    builder.start().await.unwrap()
}

/// The event ids of the webhooks `instance` holds claimed, read from the outbox itself.
fn claimed_by(schema: &str, instance: &str) -> BTreeSet<String> {
    let out = Command::new("psql")
        .args([
            &support::postgres_url(),
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
            "-c",
            &format!(
                "SELECT event_id FROM {schema}.webhook_outbox \
                 WHERE owner = '{instance}' AND state = 'pending'"
            ),
        ])
        .output()
        .expect("psql (the PostgreSQL client) must be installed");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// What the receiver got.
struct WebhookTally {
    /// Events in the outbox, each delivered.
    events: usize,
    /// Requests the receiver took.
    requests: usize,
    /// Events received more than once (at least once allows it; the event id deduplicates).
    duplicates: usize,
}

/// Waits until every outbox row is delivered, then checks each reached the receiver with the
/// body the outbox holds, its event id as idempotency key and a valid signature; `orphaned`
/// (the killed instance's claims) among them.
async fn every_webhook_delivered(
    store: &Store,
    receiver: &Receiver,
    orphaned: &BTreeSet<String>,
) -> WebhookTally {
    let outbox = wait_for("every webhook delivered", || async {
        let rows = outbox(store).await;
        rows.iter()
            .all(|w| w.state == WebhookState::Delivered)
            .then_some(rows)
    })
    .await;
    let received = receiver.received();
    let mut by_id = HashMap::<&str, Vec<&Received>>::new();
    for request in &received {
        let id = request.headers["pushtrace-event-id"].as_str();
        assert_eq!(request.body["id"], id, "the header names the body's event");
        assert!(
            signed(&request.headers["pushtrace-signature"], &request.raw),
            "bad signature on {id}: {:?}",
            request.headers["pushtrace-signature"]
        );
        by_id.entry(id).or_default().push(request);
    }
    let ids: BTreeSet<&str> = outbox.iter().map(|w| w.event_id.as_str()).collect();
    for webhook in &outbox {
        let got = by_id.get(webhook.event_id.as_str()).unwrap_or_else(|| {
            panic!(
                "{} ({}) never reached the receiver",
                webhook.event_id, webhook.kind
            )
        });
        assert!(got.iter().all(|r| r.raw == webhook.body), "{got:#?}");
        assert_eq!(webhook.kind, "call.delivered");
    }
    assert!(
        by_id.keys().all(|id| ids.contains(id)),
        "an event the outbox does not hold"
    );
    assert!(
        !orphaned.is_empty(),
        "the killed instance had no delivery in flight: the test did not test the takeover"
    );
    for id in orphaned {
        assert!(ids.contains(id.as_str()), "{id} left the outbox");
    }
    // The documented snippet accepts what the gateway sends (once: it runs Python).
    let sample = &received[0];
    assert!(receiver::verify_with_docs_snippet(
        "python",
        WEBHOOK_SECRET,
        &sample.headers["pushtrace-signature"],
        &sample.raw
    ));
    WebhookTally {
        events: outbox.len(),
        requests: received.len(),
        duplicates: by_id.values().filter(|r| r.len() > 1).count(),
    }
}

/// Every outbox row of the app, newest first.
async fn outbox(store: &Store) -> Vec<pushtrace_store::Webhook> {
    let mut rows = Vec::new();
    let mut before_seq = None;
    loop {
        let query = WebhookQuery {
            app: "acme".into(),
            state: None,
            call_id: None,
            before_seq,
            limit: 500,
        };
        let page = store.webhooks(&query).await.unwrap();
        let Some((last, _)) = page.last() else {
            return rows;
        };
        before_seq = Some(last.seq);
        rows.extend(page.into_iter().map(|(w, _)| w));
    }
}

/// `Pushtrace-Signature: t=…,v1=…` checked as a receiver would: HMAC-SHA256 of `t.body` with
/// the secret, compared in constant time, `t` within five minutes.
fn signed(header: &str, body: &str) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let Some(tag) = (0..v1.len())
        .step_by(2)
        .map(|i| {
            v1.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, WEBHOOK_SECRET.as_bytes());
    (now - t).abs() < 300
        && ring::hmac::verify(&key, format!("{t}.{body}").as_bytes(), &tag).is_ok()
}

fn voip_token(n: usize) -> String {
    format!("{:064x}", n as u128 + 0x5ca1_e000_0000)
}

async fn wait_final(store: &Store, call_id: &str) -> pushtrace_store::Call {
    wait_for("a final state", || async {
        let call = store.call(call_id).await.unwrap()?;
        let final_state = !matches!(call.state, CallState::Ringing)
            && store
                .attempts_for_call(call_id)
                .await
                .unwrap()
                .iter()
                .all(|p| p.responded_at.is_some());
        final_state.then_some(call)
    })
    .await
}

/// Polls `probe` until it answers (within 30 s).
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
            start.elapsed() < Duration::from_secs(30),
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
