//! The admin API over real HTTP/1.1, and the HTTP delivery hook POSTing to a real local server,
//! with pushes sent over TLS + HTTP/2 and a manual clock moved through the API.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use bytes::Bytes;
use common::admin::{ADMIN_TOKEN, Admin, admin_options};
use common::{NOW_MS, NOW_SECS, Req, TOKEN, TOPIC, bearer, send_once};
use pushtrace_emulator::HttpHookConfig;
use serde_json::{Value, json};
use tokio::sync::mpsc;

const NEW_TOKEN: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// A local receipt sink: every POSTed body goes to the channel; answers 204.
async fn receipt_sink() -> (SocketAddr, mpsc::UnboundedReceiver<Value>) {
    async fn take(State(tx): State<mpsc::UnboundedSender<Value>>, body: Bytes) -> http::StatusCode {
        let _ = tx.send(serde_json::from_slice(&body).unwrap_or(Value::Null));
        http::StatusCode::NO_CONTENT
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route("/receipts", axum::routing::post(take))
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, rx)
}

async fn next_receipt(rx: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no receipt within 10 s")
        .unwrap()
}

fn count(counts: &Value, label: &str) -> u64 {
    counts["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == label)
        .unwrap_or_else(|| panic!("no category {label}"))["count"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn tokens_and_errors_are_json_with_status_and_field() {
    let emulator = common::builder()
        .admin(admin_options())
        .start()
        .await
        .unwrap();
    let admin = Admin::new(&emulator);

    let (status, body) = admin.call("GET", "/healthz", None, "").await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
    let (status, body) = admin.call("GET", "/v1/devices", None, "").await;
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");
    let (status, _) = admin
        .call("GET", "/v1/devices", Some("wrong-token-0123456789"), "")
        .await;
    assert_eq!(status, 401);
    // Unknown routes are hidden behind the token too.
    let (status, _) = admin.call("GET", "/v1/nothing", None, "").await;
    assert_eq!(status, 401);
    let (status, body) = admin.get("/v1/nothing").await;
    assert_eq!(status, 404);
    assert!(
        body["error"].as_str().unwrap().contains("/v1/nothing"),
        "{body}"
    );
    let (status, _) = admin
        .call("PATCH", "/v1/devices", Some(ADMIN_TOKEN), "")
        .await;
    assert_eq!(status, 405);

    let device = |env: &str, token: &str, state: &str| json!({"environment": env, "topic": "a.voip", "token": token, "state": state});
    for (body, field, says) in [
        (
            device("sandbox", "xyz", "online"),
            "token",
            "not a hex digit",
        ),
        (
            device("staging", "aabb", "online"),
            "environment",
            "sandbox",
        ),
        (
            device("sandbox", "aabb", "asleep"),
            "state",
            "power_restricted",
        ),
        (
            json!({"environment": "sandbox", "token": "aabb"}),
            "topic",
            "missing field",
        ),
        (
            json!({"environment": "sandbox", "topic": "a.voip", "token": "aabb", "colour": 1}),
            "colour",
            "unknown field",
        ),
    ] {
        let (status, answer) = admin.send("POST", "/v1/devices", body).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["field"], field, "{answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{answer}");
    }
    let (status, answer) = admin
        .call(
            "POST",
            "/v1/devices",
            Some(ADMIN_TOKEN),
            "{\"environment\":",
        )
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("body")),
        "{answer}"
    );
    assert!(
        answer["error"].as_str().unwrap().contains("line 1"),
        "{answer}"
    );

    let (status, answer) = admin.get("/v1/deliveries/not-a-uuid").await;
    assert_eq!((status, answer["field"].as_str()), (400, Some("id")));
    let (status, _) = admin
        .get("/v1/deliveries/123e4567-e89b-12d3-a456-426614174000")
        .await;
    assert_eq!(status, 404);
    let (status, answer) = admin
        .get(&format!("/v1/devices/sandbox/{NEW_TOKEN}/state"))
        .await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = admin
        .send("POST", "/v1/clock/advance", json!({"by_ms": "soon"}))
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("body")),
        "{answer}"
    );

    // Nothing was registered by the refused requests.
    let (_, devices) = admin.get("/v1/devices").await;
    assert_eq!(devices["devices"].as_array().unwrap().len(), 1, "{devices}");

    // The admin server stops with the emulator.
    let addr = emulator.admin_addr().unwrap();
    emulator.shutdown();
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the admin listener is still open after shutdown");
}

#[tokio::test]
async fn devices_states_logs_counts_clock_and_the_hook_end_to_end() {
    let (sink, mut receipts) = receipt_sink().await;
    let hook = HttpHookConfig::new(&format!("http://{sink}/receipts"))
        .unwrap()
        .must_report_max_age(Duration::from_secs(30));
    let emulator = common::builder()
        .admin(admin_options())
        .http_hook(hook)
        .start()
        .await
        .unwrap();
    let admin = Admin::new(&emulator);

    // The common device goes offline; a push for it is stored.
    let path = format!("/v1/devices/sandbox/{TOKEN}/state");
    let (status, answer) = admin.send("PUT", &path, json!({"state": "offline"})).await;
    assert_eq!(
        (status, answer["state"].as_str()),
        (200, Some("offline")),
        "{answer}"
    );
    let (_, answer) = admin.get(&path).await;
    assert_eq!(answer["state"], "offline");
    let push = Req::voip()
        .without("apns-expiration")
        .body(br#"{"push_id":"p-1","call_id":"c-1"}"#.to_vec());
    let reply = send_once(&emulator, &push).await;
    assert_eq!(reply.status, 200);
    let unique = reply.header("apns-unique-id").unwrap().to_owned();
    let (status, record) = admin.get(&format!("/v1/deliveries/{unique}")).await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["stored"], true);
    assert_eq!(record["events"][1]["category"], "Stored - Device Offline");
    let (_, stored) = admin.get("/v1/deliveries?stored=true").await;
    assert_eq!(stored["deliveries"].as_array().unwrap().len(), 1);
    let (_, pushes) = admin.get("/v1/pushes").await;
    assert_eq!(pushes["pushes"][0]["payload"]["push_id"], "p-1");
    assert_eq!(pushes["pushes"][0]["received_at_ms"], NOW_MS);

    // 40 s later it comes back: delivered from storage, too late to have to be reported.
    let (status, clock) = admin
        .send("POST", "/v1/clock/advance", json!({"by_ms": 40_000}))
        .await;
    assert_eq!(
        (status, clock["now_ms"].as_u64()),
        (200, Some(NOW_MS + 40_000))
    );
    assert_eq!(clock["manual"], true);
    admin.send("PUT", &path, json!({"state": "online"})).await;
    let receipt = next_receipt(&mut receipts).await;
    assert_eq!(receipt["apns_unique_id"], unique.as_str());
    assert_eq!(receipt["push_id"], "p-1");
    assert_eq!(receipt["call_id"], "c-1");
    assert_eq!(receipt["token"], TOKEN);
    assert_eq!(receipt["topic"], TOPIC);
    assert_eq!(receipt["from_storage"], true);
    assert_eq!(receipt["age_ms"], 40_000);
    assert_eq!(receipt["must_report"], false);
    assert_eq!(receipt["delivered_at_ms"], NOW_MS + 40_000);
    assert!(receipt["delivered_at"].as_str().unwrap().ends_with('Z'));

    // A device registered through the API takes pushes at once, and must report them.
    let (status, device) = admin
        .send(
            "POST",
            "/v1/devices",
            json!({"environment": "sandbox", "topic": TOPIC, "token": NEW_TOKEN}),
        )
        .await;
    assert_eq!(
        (status, device["state"].as_str()),
        (201, Some("online")),
        "{device}"
    );
    let now_secs = NOW_SECS + 40;
    let to_new = Req::voip()
        .path(format!("/3/device/{NEW_TOKEN}"))
        .set("authorization", bearer(now_secs))
        .set("apns-id", "00000000-0000-4000-8000-000000000002");
    assert_eq!(send_once(&emulator, &to_new).await.status, 200);
    let receipt = next_receipt(&mut receipts).await;
    assert_eq!(
        (
            receipt["from_storage"].as_bool(),
            receipt["must_report"].as_bool()
        ),
        (Some(false), Some(true))
    );

    // Unregistered through the API: 410 with that time.
    let (status, device) = admin
        .send(
            "DELETE",
            &format!("/v1/devices/sandbox/{NEW_TOKEN}/{TOPIC}"),
            Value::Null,
        )
        .await;
    assert_eq!(
        (status, device["unregistered"].as_bool()),
        (200, Some(true)),
        "{device}"
    );
    let gone = send_once(&emulator, &to_new).await;
    assert_eq!(gone.status, 410);
    let (status, _) = admin
        .send(
            "DELETE",
            &format!("/v1/devices/sandbox/{NEW_TOKEN}/other.voip"),
            Value::Null,
        )
        .await;
    assert_eq!(status, 404);

    // Counts by Apple's labels.
    let (_, counts) = admin.get("/v1/counts").await;
    assert_eq!(count(&counts, "Received by APNs"), 2);
    assert_eq!(count(&counts, "Stored - Device Offline"), 1);
    assert_eq!(count(&counts, "Delivered to Device (From Storage)"), 1);
    assert_eq!(count(&counts, "Delivered to Device"), 1);
    assert_eq!(count(&counts, "Discarded - Disabled"), 0);

    // The by-apns-id lookup, then 7 days of retention.
    let (status, record) = admin
        .get("/v1/deliveries/00000000-0000-4000-8000-000000000002")
        .await;
    assert_eq!(
        (status, record["delivered_at_ms"].as_u64()),
        (200, Some(NOW_MS + 40_000))
    );
    let (_, log) = admin.get("/v1/deliveries").await;
    assert_eq!(log["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(log["retention_secs"], 7 * 24 * 60 * 60);
    admin
        .send("POST", "/v1/clock/advance", json!({"by_ms": 7 * DAY_MS}))
        .await;
    let (_, log) = admin.get("/v1/deliveries").await;
    assert_eq!(
        log["deliveries"].as_array().unwrap().len(),
        2,
        "exactly 7 days: still kept"
    );
    // Logs are pruned in batches, within a sixteenth of the retention past it.
    admin
        .send(
            "POST",
            "/v1/clock/advance",
            json!({"by_ms": 7 * DAY_MS / 16 + 1}),
        )
        .await;
    let (_, log) = admin.get("/v1/deliveries").await;
    assert_eq!(log["deliveries"], json!([]));
    let (_, pushes) = admin.get("/v1/pushes").await;
    assert_eq!(pushes["pushes"], json!([]));

    // Hook counters: both receipts answered 2xx (the counter moves just after the answer).
    let mut stats = Value::Null;
    for _ in 0..200 {
        stats = admin.get("/v1/hook").await.1;
        if stats["stats"]["posted"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(stats["configured"], true);
    assert_eq!(stats["stats"]["posted"], 2, "{stats}");
    assert_eq!(stats["stats"]["failed"], 0, "{stats}");
}

#[tokio::test]
async fn a_dead_hook_counts_failures_and_the_system_clock_cannot_be_advanced() {
    // A port that was just free: nothing listens there.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let hook = HttpHookConfig::new(&format!("http://{dead_addr}/receipts"))
        .unwrap()
        .retries(1);
    let emulator = pushtrace_emulator::Emulator::builder()
        .key(
            common::KEY_ID,
            pushtrace_apns::ProviderKey::new(
                common::TEAM_ID,
                common::signing_key().verifying_key(),
            ),
        )
        .device(
            pushtrace_apns::Environment::Sandbox,
            TOPIC,
            common::token(TOKEN),
        )
        .admin(admin_options())
        .http_hook(hook)
        .start()
        .await
        .unwrap();
    let admin = Admin::new(&emulator);
    let now = emulator.clock().now_secs();
    let reply = send_once(&emulator, &Req::voip().set("authorization", bearer(now))).await;
    assert_eq!(reply.status, 200);
    let mut stats = Value::Null;
    for _ in 0..300 {
        stats = admin.get("/v1/hook").await.1;
        if stats["stats"]["failed"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(stats["stats"]["failed"], 1, "{stats}");
    assert_eq!(stats["stats"]["retries"], 1, "{stats}");
    assert_eq!(stats["stats"]["posted"], 0, "{stats}");
    assert_eq!(emulator.hook_stats().unwrap().failed, 1);

    let (status, answer) = admin
        .send("POST", "/v1/clock/advance", json!({"by_ms": 1}))
        .await;
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("manual_clock_start_ms")
    );
}

#[tokio::test]
async fn faults_and_latency_are_set_read_and_cleared_at_run_time() {
    let emulator = common::builder()
        .admin(admin_options())
        .start()
        .await
        .unwrap();
    let admin = Admin::new(&emulator);
    let (status, body) = admin.get("/v1/faults").await;
    assert_eq!(
        (status, &body["rules"], &body["latency"]),
        (200, &json!([]), &Value::Null)
    );

    let rule = json!({"fault": {"kind": "status", "reason": "ServiceUnavailable"}, "times": 1});
    let (status, body) = admin.send("POST", "/v1/faults", rule).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rules"][0]["fired"], 0);
    let reply = send_once(&emulator, &Req::voip()).await;
    reply.assert_reason(503, pushtrace_apns::Reason::ServiceUnavailable);
    assert_eq!(admin.get("/v1/faults").await.1["rules"][0]["fired"], 1);
    assert_eq!(send_once(&emulator, &Req::voip()).await.status, 200);

    // Bad rules are refused whole, naming what is wrong.
    let bad = json!([{"fault": {"kind": "status", "reason": "Flaky"}}]);
    let (status, body) = admin.send("PUT", "/v1/faults", bad).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("Flaky"), "{body}");
    assert_eq!(body["field"], "faults");
    let (status, body) = admin
        .send("PUT", "/v1/faults", json!([{"fault": {"kind": "explode"}}]))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        admin.get("/v1/faults").await.1["rules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let (status, body) = admin
        .send(
            "PUT",
            "/v1/latency",
            json!({"distribution": "fixed", "ms": 5}),
        )
        .await;
    assert_eq!((status, &body["latency"]["ms"]), (200, &json!(5)), "{body}");
    let (status, _) = admin
        .send(
            "PUT",
            "/v1/latency",
            json!({"distribution": "uniform", "min_ms": 9, "max_ms": 1}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = admin
        .call("DELETE", "/v1/latency", Some(ADMIN_TOKEN), "")
        .await;
    assert_eq!((status, &body["latency"]), (200, &Value::Null));
    let (status, body) = admin
        .call("DELETE", "/v1/faults", Some(ADMIN_TOKEN), "")
        .await;
    assert_eq!((status, &body["rules"]), (200, &json!([])));
}
