//! Retries over the real stack, on both stores: the emulator plays APNs (answering 503 to the
//! VoIP topic as each test asks) and, through its delivery hook, the app posting its receipt;
//! the gateway runs in-process. Retries go on while the next one can still be sent before the
//! call's deadline, past the old cap of four attempts, and no faster than the app's
//! `max_retries_per_sec` (`docs/api.md`, Retries).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use pushtrace_apns::{DeviceToken, Environment, ProviderKey, Reason, SigningKey};
use pushtrace_emulator::{Emulator, EmulatorHandle, Fault, FaultRule, HookBody, HttpHookConfig};
use pushtrace_gateway::api::ApiToken;
use pushtrace_gateway::engine::{CallRequest, CallTimeline, TokenKind, TokenRequest};
use pushtrace_gateway::receipt_token::ReceiptKey;
use pushtrace_gateway::{GatewayConfig, GatewayHandle, start_with};
use pushtrace_store::{Attempt, CallState};
use support::{Backend, KEY_ID, TEAM_ID};

const BUNDLE: &str = "com.example.retries";
const VOIP_TOPIC: &str = "com.example.retries.voip";
/// VoIP tokens the emulator knows (online); each test registers the ones it rings.
const PHONES: u64 = 8;

crate::on_both_stores!(
    retries_go_past_four_attempts_while_the_window_allows,
    retries_stop_before_the_deadline_and_the_call_is_missed,
    retries_stop_before_the_push_expires,
    the_per_app_ceiling_spaces_retries,
);

/// 503 to the first six attempts: the seventh rings, well inside a 10 s window.
async fn retries_go_past_four_attempts_while_the_window_allows(backend: Backend) {
    let lab = Lab::start(
        backend,
        "[apps.retry]\nfirst_backoff_ms = 50\nmax_backoff_ms = 200\n",
    )
    .await;
    lab.fail_voip(Some(6));
    lab.register("alice", &voip_token(0), TokenKind::Voip).await;
    let call_id = lab.call("past-cap", "alice", 10).await;

    let timeline = lab
        .wait_for(&call_id, |t| t.call.state != CallState::Ringing)
        .await;
    assert_eq!(timeline.call.state, CallState::Delivered, "{timeline:#?}");
    let pushes = voip(&timeline);
    let answers: Vec<(u32, Option<u16>)> =
        pushes.iter().map(|p| (p.attempt, p.apns_status)).collect();
    let mut expected: Vec<(u32, Option<u16>)> = (1..=6).map(|n| (n, Some(503))).collect();
    expected.push((7, Some(200)));
    assert_eq!(answers, expected);
    assert_eq!(events(&timeline, "push.retry_scheduled"), 6);
    assert_eq!(events(&timeline, "push.gave_up"), 0);
    lab.finish().await;
}

/// Every VoIP attempt refused: retries go on up to the deadline, none is sent at or after it,
/// and the call ends with the missed-call alert.
async fn retries_stop_before_the_deadline_and_the_call_is_missed(backend: Backend) {
    const MAX_BACKOFF_MS: i64 = 300;
    let retry = format!("[apps.retry]\nfirst_backoff_ms = 50\nmax_backoff_ms = {MAX_BACKOFF_MS}\n");
    let lab = Lab::start(backend, &retry).await;
    lab.fail_voip(None);
    lab.register("bob", &voip_token(1), TokenKind::Voip).await;
    lab.register("bob", &alert_token(), TokenKind::Alert).await;
    let call_id = lab.call("closing", "bob", 2).await;

    let timeline = lab
        .wait_for(&call_id, |t| {
            t.call.state != CallState::Ringing
                && t.pushes
                    .iter()
                    .any(|p| p.push_type == "alert" && p.responded_at.is_some())
        })
        .await;
    assert!(
        matches!(timeline.call.state, CallState::Missed | CallState::Failed),
        "{timeline:#?}"
    );
    let alert = timeline
        .pushes
        .iter()
        .find(|p| p.push_type == "alert")
        .unwrap();
    assert_eq!(alert.apns_status, Some(200), "{alert:#?}");
    // Give a retry that should not exist the time to show.
    tokio::time::sleep(Duration::from_millis(2 * MAX_BACKOFF_MS as u64)).await;
    let timeline = lab.engine().call_timeline(&call_id).await.unwrap();

    let deadline = timeline.call.deadline.utc_micros();
    let pushes = voip(&timeline);
    let sent: Vec<i64> = pushes
        .iter()
        .filter_map(|p| p.sent_at.map(|t| t.utc_micros()))
        .collect();
    assert!(
        sent.len() > 4,
        "{} attempts sent: retries go past the old cap",
        sent.len()
    );
    for push in &pushes {
        assert!(push.queued_at.utc_micros() < deadline, "{push:#?}");
        if let Some(at) = push.sent_at {
            assert!(
                at.utc_micros() < deadline,
                "sent after the deadline: {push:#?}"
            );
        }
    }
    // Retries ran up to the end of the window, not to a count.
    let last = sent.iter().max().unwrap();
    eprintln!(
        "closing window: {} attempts sent, the last {} ms before the deadline",
        sent.len(),
        (deadline - last) / 1000
    );
    let slack_us = (MAX_BACKOFF_MS + 700) * 1000;
    assert!(
        deadline - last < slack_us,
        "the last attempt went out {} ms before the deadline",
        (deadline - last) / 1000
    );
    let why: Vec<&str> = timeline
        .events
        .iter()
        .filter(|e| e.kind == "push.gave_up")
        .filter_map(|e| e.detail["why"].as_str())
        .collect();
    assert!(why.iter().all(|w| *w == "deadline"), "{why:?}");
    lab.finish().await;
}

/// With `expiration = "2s"` a push expires 2 s after the call was created, long before its 10 s
/// deadline: retries stop before the expiration (APNs would refuse an expired push), and with
/// nothing left to ring the call fails at once, with the missed-call alert.
async fn retries_stop_before_the_push_expires(backend: Backend) {
    let app = "expiration = \"2s\"\n[apps.retry]\nfirst_backoff_ms = 50\nmax_backoff_ms = 200\n";
    let lab = Lab::start(backend, app).await;
    lab.fail_voip(None);
    lab.register("dave", &voip_token(2), TokenKind::Voip).await;
    lab.register("dave", &alert_token(), TokenKind::Alert).await;
    let call_id = lab.call("expiring", "dave", 10).await;

    // The state changes first, then the event is written.
    let timeline = lab
        .wait_for(&call_id, |t| {
            t.call.state != CallState::Ringing && t.events.iter().any(|e| e.kind == "call.failed")
        })
        .await;
    assert_eq!(timeline.call.state, CallState::Failed, "{timeline:#?}");
    let pushes = voip(&timeline);
    let expires = pushes[0].expiration as i64 * 1_000_000;
    assert!(expires < timeline.call.deadline.utc_micros());
    assert!(pushes.len() > 4, "{} attempts", pushes.len());
    for push in &pushes {
        match push.sent_at {
            Some(at) => {
                assert_eq!(push.apns_status, Some(503), "{push:#?}");
                assert!(at.utc_micros() < expires, "{push:#?}");
            }
            // A retry due just before the expiration whose turn came just after it.
            None => assert_eq!(
                push.error.as_deref(),
                Some("not sent: the push's apns-expiration had passed")
            ),
        }
    }
    let why: Vec<&str> = timeline
        .events
        .iter()
        .filter(|e| e.kind == "push.gave_up")
        .filter_map(|e| e.detail["why"].as_str())
        .collect();
    assert!(why.iter().all(|w| *w == "expiration"), "{why:?}");
    lab.finish().await;
}

/// Eight phones all refused with back-offs of 50 ms: the ceiling of 5 retries a second, not the
/// back-off, sets the pace; retries are delayed (not dropped) while the 3 s window allows.
async fn the_per_app_ceiling_spaces_retries(backend: Backend) {
    const PER_SEC: usize = 5;
    let retry = format!(
        "[apps.retry]\nfirst_backoff_ms = 50\nmax_backoff_ms = 50\nmax_retries_per_sec = {PER_SEC}\n"
    );
    let lab = Lab::start(backend, &retry).await;
    lab.fail_voip(None);
    for n in 0..PHONES {
        lab.register("carol", &voip_token(n), TokenKind::Voip).await;
    }
    let call_id = lab.call("paced", "carol", 3).await;
    let timeline = lab
        .wait_for(&call_id, |t| t.call.state != CallState::Ringing)
        .await;
    // Retries due before the deadline may still be in flight: let them answer.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let timeline = lab
        .engine()
        .call_timeline(&timeline.call.call_id)
        .await
        .unwrap();

    let deadline = timeline.call.deadline.utc_micros();
    let retries: Vec<&Attempt> = voip(&timeline)
        .into_iter()
        .filter(|p| p.attempt > 1)
        .collect();
    // About 5 a second over the window's 3 s; without the ceiling the back-off alone would
    // allow some 20 a second for each phone.
    assert!(
        (PER_SEC * 2..=PER_SEC * 3 + 1).contains(&retries.len()),
        "{} retries",
        retries.len()
    );
    let mut due: Vec<i64> = retries.iter().map(|p| p.queued_at.utc_micros()).collect();
    due.sort_unstable();
    for run in due.windows(PER_SEC + 1) {
        assert!(
            run[PER_SEC] - run[0] >= 1_000_000,
            "more than {PER_SEC} retries due within a second: {run:?}"
        );
    }
    assert!(due.iter().all(|&d| d < deadline));
    // Each went out at or after its turn; the sends keep the pace up to the latency of claiming
    // the job and reading the push back (allowed 150 ms here, on a busy machine).
    let mut sent: Vec<i64> = Vec::new();
    for retry in &retries {
        if let Some(at) = retry.sent_at {
            assert!(at >= retry.queued_at, "{retry:#?}");
            sent.push(at.utc_micros());
        }
    }
    sent.sort_unstable();
    let tightest = |times: &[i64]| {
        times
            .windows(PER_SEC + 1)
            .map(|run| (run[PER_SEC] - run[0]) / 1000)
            .min()
    };
    eprintln!(
        "ceiling: {} retries; tightest {} consecutive: {:?} ms apart when due, {:?} ms when sent",
        retries.len(),
        PER_SEC + 1,
        tightest(&due),
        tightest(&sent)
    );
    for run in sent.windows(PER_SEC + 1) {
        assert!(
            run[PER_SEC] - run[0] >= 850_000,
            "more than {PER_SEC} retries sent within a second: {run:?}"
        );
    }
    // Demand beyond the ceiling: some retries found no turn left before the deadline.
    let why: Vec<&str> = timeline
        .events
        .iter()
        .filter(|e| e.kind == "push.gave_up")
        .filter_map(|e| e.detail["why"].as_str())
        .collect();
    assert!(why.contains(&"max_retries_per_sec"), "{why:?}");
    lab.finish().await;
}

fn voip(timeline: &CallTimeline) -> Vec<&Attempt> {
    timeline
        .pushes
        .iter()
        .filter(|p| p.push_type == "voip")
        .collect()
}

fn events(timeline: &CallTimeline, kind: &str) -> usize {
    timeline.events.iter().filter(|e| e.kind == kind).count()
}

fn voip_token(n: u64) -> String {
    format!("{:064x}", 0xa1_0000 + n)
}

fn alert_token() -> String {
    format!("{:064x}", 0xa1e7)
}

/// The emulator (every phone online, the app's receipt posted on delivery) and a gateway with
/// one app, `acme`, whose last lines (its `[apps.retry]`) each test writes.
struct Lab {
    emulator: EmulatorHandle,
    gateway: GatewayHandle,
    schema: Option<String>,
    _dir: tempfile::TempDir,
}

impl Lab {
    async fn start(backend: Backend, app: &str) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let (store, schema) = support::open_store(backend, dir.path(), "gw_retries").await;
        // The hook needs the gateway's address before the gateway needs the emulator's.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pem = std::fs::read_to_string(support::key_file()).unwrap();
        let key = SigningKey::from_p8_pem(&pem).unwrap();
        let hook = HttpHookConfig::new(&format!("http://127.0.0.1:{port}/v1/receipts"))
            .unwrap()
            .body(HookBody::App);
        let mut builder = Emulator::builder()
            .key(KEY_ID, ProviderKey::new(TEAM_ID, key.verifying_key()))
            .device(
                Environment::Sandbox,
                BUNDLE,
                DeviceToken::parse(&alert_token()).unwrap(),
            )
            .per_token_rate(None)
            .http_hook(hook);
        for n in 0..PHONES {
            builder = builder.device(
                Environment::Sandbox,
                VOIP_TOPIC,
                DeviceToken::parse(&voip_token(n)).unwrap(),
            );
        }
        let emulator = builder.start().await.unwrap();
        let ca_file = dir.path().join("emulator-ca.pem");
        std::fs::write(&ca_file, emulator.ca_pem()).unwrap();

        let config = GatewayConfig::from_toml(
            &format!(
                "listen = \"127.0.0.1:{port}\"\n\n[[apps]]\nname = \"acme\"\n\
                 bundle_id = \"{BUNDLE}\"\nenvironment = \"sandbox\"\n\
                 key_file = \"{}\"\nkey_id = \"{KEY_ID}\"\nteam_id = \"{TEAM_ID}\"\n\
                 endpoint = \"https://{}\"\nca_file = \"{}\"\n{app}",
                support::key_file().display(),
                emulator.addr(Environment::Sandbox),
                ca_file.display(),
            ),
            Path::new("retries.toml"),
        )
        .unwrap();
        let gateway = start_with(
            &config,
            store,
            ApiToken::new("retries-api-token-0123456", "test").unwrap(),
            ReceiptKey::new(&[9; 32]).unwrap(),
            false,
        )
        .await
        .unwrap();
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

    /// 503 `ServiceUnavailable` to VoIP pushes: the first `times`, or all.
    fn fail_voip(&self, times: Option<u64>) {
        let mut rule = FaultRule::always(Fault::Status {
            reason: Reason::ServiceUnavailable,
        })
        .topic(VOIP_TOPIC);
        if let Some(times) = times {
            rule = rule.times(times);
        }
        self.emulator.add_fault(rule).unwrap();
    }

    async fn register(&self, user: &str, token: &str, kind: TokenKind) {
        let request = TokenRequest {
            user: user.to_owned(),
            kind,
            environment: None,
            attrs: Default::default(),
        };
        self.engine()
            .register_token("acme", token, request)
            .await
            .unwrap();
    }

    /// Rings `callee` for `window_secs`; the gateway's call id.
    async fn call(&self, id: &str, callee: &str, window_secs: u64) -> String {
        let request = CallRequest {
            call_id: id.to_owned(),
            caller: "Ann".into(),
            callee: callee.to_owned(),
            window_secs: Some(window_secs),
            attrs: Default::default(),
        };
        let created = self.engine().create_call("acme", request).await.unwrap();
        assert!(created.warning.is_none(), "{:?}", created.warning);
        created.call.call_id
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

    async fn finish(self) {
        self.gateway.shutdown().await;
        self.emulator.shutdown();
        support::drop_schema(self.schema);
    }
}
