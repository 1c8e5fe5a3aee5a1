//! The API's answers to input at its edges, over the real server on both stores (`docs/api.md`,
//! Errors): a body with more than one JSON value, a receipt for a push the store does not
//! have, paths and methods no route takes. Every error answers JSON with its `code`
//! (`every_error_class_answers_its_code` walks the list), and none is a 5xx.
//!
//! PostgreSQL: a fresh schema per test (`support` says where, and how to start it).

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pushtrace_gateway::api::{ApiToken, ErrorCode};
use pushtrace_gateway::receipt_token::ReceiptKey;
use pushtrace_gateway::{GatewayConfig, GatewayHandle, start_with};
use serde_json::{Value, json};
use support::{Backend, KEY_ID, TEAM_ID};

const API_TOKEN: &str = "input-edges-api-token-0123";
const RECEIPT_SECRET: [u8; 32] = [7; 32];
/// A push id no store in these tests has.
const UNKNOWN_PUSH: &str = "00000000-0000-4000-8000-000000000000";

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let gateway = super::Gateway::start(super::Backend::Sqlite).await;
                    super::$name(&gateway).await;
                    gateway.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let gateway = super::Gateway::start(super::Backend::Postgres).await;
                    super::$name(&gateway).await;
                    gateway.finish().await;
                }
            )*
        }
    };
}

on_both_stores!(
    trailing_data_is_a_400_and_creates_no_call,
    receipt_for_a_push_the_store_does_not_have_is_a_404,
    paths_and_methods_no_route_takes_answer_json,
    every_error_class_answers_its_code,
);

async fn trailing_data_is_a_400_and_creates_no_call(gateway: &Gateway) {
    let call = json!({"call_id": "edge-1", "caller": "Bob", "callee": "alice"}).to_string();
    let second = json!({"call_id": "edge-2", "caller": "Bob", "callee": "alice"}).to_string();
    for trailing in [second.as_str(), "x", ",", "]"] {
        let answer = gateway
            .request(
                "POST",
                "/v1/apps/acme/calls",
                Some(&format!("{call}{trailing}")),
            )
            .await;
        let error = answer.error(400, "trailing_data");
        let message = error["error"].as_str().unwrap();
        assert!(message.contains("trailing"), "{message}");
    }
    for id in ["edge-1", "edge-2"] {
        let answer = gateway
            .request("GET", &format!("/v1/apps/acme/calls/{id}"), None)
            .await;
        answer.error(404, "unknown_call");
    }
    // The first value alone, with whitespace after it, creates the call.
    let answer = gateway
        .request("POST", "/v1/apps/acme/calls", Some(&format!("{call} \r\n")))
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
}

async fn receipt_for_a_push_the_store_does_not_have_is_a_404(gateway: &Gateway) {
    let call = json!({"call_id": "edge-r", "caller": "Bob", "callee": "alice"}).to_string();
    let created = gateway
        .request("POST", "/v1/apps/acme/calls", Some(&call))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let call_id = created.json()["call"]["call_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Signed with the gateway's key, for a call it has and a push it does not.
    let answer = gateway.receipt(UNKNOWN_PUSH, &call_id).await;
    let error = answer.error(404, "unknown_push");
    assert!(
        error["error"].as_str().unwrap().contains(UNKNOWN_PUSH),
        "{error}"
    );
    // The same again: still a 404 (nothing was half recorded).
    gateway
        .receipt(UNKNOWN_PUSH, &call_id)
        .await
        .error(404, "unknown_push");
    // And a call it does not have.
    let answer = gateway
        .receipt(UNKNOWN_PUSH, "00000000-0000-4000-8000-000000000001")
        .await;
    answer.error(404, "unknown_call");
}

async fn paths_and_methods_no_route_takes_answer_json(gateway: &Gateway) {
    // `%ff` decodes to a byte that is not UTF-8: the parameter is named.
    for (path, field) in [
        ("/v1/calls/%ff", "call_id"),
        ("/v1/calls/%FF/cancel", "call_id"),
        ("/v1/apps/%ff/calls/x", "app"),
        ("/v1/apps/acme/tokens/%c3%28/pushes", "token"),
    ] {
        let method = if path.ends_with("cancel") {
            "POST"
        } else {
            "GET"
        };
        let error = gateway
            .request(method, path, None)
            .await
            .error(400, "invalid_path");
        assert_eq!(error["field"], field, "{path}: {error}");
    }
    // Without the bearer token, the token is what is wrong.
    let answer = gateway.send("GET", "/v1/calls/%ff", &[], None).await;
    answer.error(401, "unauthorized");
    // An escape that is not one is kept as text: no such call.
    gateway
        .request("GET", "/v1/calls/%zz", None)
        .await
        .error(404, "unknown_call");

    gateway
        .request("GET", "/v1/nothing-here", None)
        .await
        .error(404, "not_found");
    gateway
        .request("GET", "/%ff", None)
        .await
        .error(404, "not_found");

    let answer = gateway.request("DELETE", "/v1/receipts", None).await;
    answer.error(405, "method_not_allowed");
    let answer = gateway.request("PATCH", "/v1/calls/x", None).await;
    answer.error(405, "method_not_allowed");
}

/// One request for each code a request can earn (`store_unavailable` and `internal` aside: no
/// request may earn those), each answered with its status and code.
async fn every_error_class_answers_its_code(gateway: &Gateway) {
    let call = |extra: Value| {
        let mut body = json!({"call_id": "codes-1", "caller": "Bob", "callee": "alice"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body.to_string()
    };
    let calls = "/v1/apps/acme/calls";

    let error = gateway
        .request("POST", calls, Some(r#"{"call_id": 1}"#))
        .await
        .error(400, "invalid_body");
    assert_eq!(error["field"], "call_id", "{error}");
    gateway
        .request("POST", calls, Some("{"))
        .await
        .error(400, "invalid_body");
    let error = gateway
        .request("POST", calls, Some(&call(json!({"window_secs": 0}))))
        .await
        .error(400, "invalid_field");
    assert_eq!(error["field"], "window_secs", "{error}");
    let token = "/v1/apps/acme/tokens/a1b2c3d4";
    for query in ["limit=0", "limit=x", "other=1"] {
        let error = gateway
            .request("GET", &format!("{token}/pushes?{query}"), None)
            .await
            .error(400, "invalid_query");
        assert_eq!(error["field"], "limit", "{query}: {error}");
    }
    // No id holds a control character, and PostgreSQL refuses a NUL outright: the request's
    // fault, never the store's.
    for (path, field) in [
        ("/v1/calls/%00", "call_id"),
        ("/v1/apps/acme/calls/a%00b", "client_call_id"),
        ("/v1/apps/acme/calls/%1b%5b2J", "client_call_id"),
        ("/v1/apps/%00/calls/x", "app"),
    ] {
        let error = gateway
            .request("GET", path, None)
            .await
            .error(400, "invalid_path");
        assert_eq!(error["field"], field, "{path}: {error}");
    }
    let error = gateway
        .request(
            "GET",
            "/v1/apps/acme/webhooks/deliveries?call_id=a%00b",
            None,
        )
        .await
        .error(400, "invalid_query");
    assert_eq!(error["field"], "call_id", "{error}");
    // The same for a NUL inside a body's text.
    let nul_user = r#"{"user": "al\u0000ice", "attrs": {"model": "a\u0000b"}}"#;
    let answer = gateway.request("PUT", token, Some(nul_user)).await;
    answer.error(400, "invalid_field");
    let nul_attr = r#"{"user": "alice", "attrs": {"model": "a\u0000b"}}"#;
    let answer = gateway
        .request("PUT", "/v1/apps/acme/tokens/b1b2c3d4", Some(nul_attr))
        .await;
    assert!(answer.status < 500, "{}\n\n{}", answer.head, answer.text());

    let answer = gateway.send("GET", "/v1/calls/x", &[], None).await;
    answer.error(401, "unauthorized");
    let wrong = [("Authorization", "Bearer not-the-token-at-all")];
    let answer = gateway.send("GET", "/v1/calls/x", &wrong, None).await;
    answer.error(401, "unauthorized");
    let receipt = json!({
        "push_id": UNKNOWN_PUSH,
        "receipt_token": "forged",
        "device_received_at": 1_795_500_000_000_i64,
    });
    let error = gateway
        .send("POST", "/v1/receipts", &[], Some(&receipt.to_string()))
        .await
        .error(401, "receipt_refused");
    assert_eq!(error["field"], "receipt_token", "{error}");

    gateway
        .request("POST", "/v1/apps/nope/calls", Some(&call(json!({}))))
        .await
        .error(404, "unknown_app");
    gateway
        .request(
            "GET",
            "/v1/calls/00000000-0000-4000-8000-000000000002",
            None,
        )
        .await
        .error(404, "unknown_call");
    gateway
        .request("DELETE", token, None)
        .await
        .error(404, "unknown_token");
    gateway
        .request("GET", &format!("{token}/pushes"), None)
        .await
        .error(404, "unknown_token");

    let created = gateway.request("POST", calls, Some(&call(json!({})))).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let call_id = created.json()["call"]["call_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancelled = gateway
        .request("POST", &format!("/v1/calls/{call_id}/cancel"), None)
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text());
    gateway
        .request("POST", &format!("/v1/calls/{call_id}/answered"), None)
        .await
        .error(409, "call_already_ended");

    let large = call(json!({"attrs": {"pad": "x".repeat(70_000)}}));
    gateway
        .request("POST", calls, Some(&large))
        .await
        .error(413, "body_too_large");
    let bearer = format!("Bearer {API_TOKEN}");
    let request = format!(
        "POST {calls} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Authorization: {bearer}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    gateway
        .send_raw(request)
        .await
        .error(415, "unsupported_media_type");
    // A body shorter than its Content-Length: answered once body_timeout_ms (500) has passed.
    let request = "POST /v1/receipts HTTP/1.1\r\nHost: test\r\n\
                   Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"push_id\""
        .to_owned();
    gateway
        .send_raw(request)
        .await
        .error(408, "request_timeout");

    gateway
        .request("GET", "/v1/nothing-here", None)
        .await
        .error(404, "not_found");
    gateway
        .request("PUT", calls, None)
        .await
        .error(405, "method_not_allowed");
}

/// `docs/openapi.yaml` lists every code in its `Error` schema, and `docs/api.md` has a row for
/// each: the list clients read is the gateway's.
#[test]
fn the_docs_list_every_code() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let openapi = std::fs::read_to_string(docs.join("openapi.yaml")).unwrap();
    let listed = openapi
        .split("\n    Error:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n    Time:\n").next())
        .and_then(|schema| schema.split("enum: [").nth(1))
        .and_then(|list| list.split(']').next())
        .expect("docs/openapi.yaml: an enum under the Error schema");
    let listed: Vec<&str> = listed.split(',').map(str::trim).collect();
    let ours: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, ours, "docs/openapi.yaml, Error.code");
    let api = std::fs::read_to_string(docs.join("api.md")).unwrap();
    for code in ErrorCode::ALL {
        let row = format!("| `{code}` | {} |", code.status().as_u16());
        assert!(api.contains(&row), "docs/api.md has no row {row}");
    }
}

/// Heads too large for hyper (a request target over 65,534 bytes, more than 100 headers) are
/// answered by hyper's HTTP/1 parser before any router runs: a bare 414 or 431 with an empty
/// body (`Content-Length: 0`), and the connection closed. Neither axum's layers nor its
/// fallback see these requests, so they cannot be made JSON short of replacing the HTTP server.
/// `docs/api.md` says so; this pins it, so a hyper that changes it is noticed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_are_answered_by_hyper_without_a_body() {
    let gateway = Gateway::start(Backend::Sqlite).await;
    let long_path = format!("/v1/calls/{}", "a".repeat(70_000));
    let answer = gateway.request("GET", &long_path, None).await;
    assert_eq!(answer.status, 414, "{}", answer.head);
    assert!(answer.body.is_empty(), "{}", answer.text());
    assert!(answer.head.contains("content-length: 0"), "{}", answer.head);

    let many: Vec<(String, String)> = (0..120)
        .map(|i| (format!("x-header-{i}"), "1".to_owned()))
        .collect();
    let headers: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let answer = gateway.send("GET", "/healthz", &headers, None).await;
    assert_eq!(answer.status, 431, "{}", answer.head);
    assert!(answer.body.is_empty(), "{}", answer.text());
    assert!(answer.head.contains("content-length: 0"), "{}", answer.head);
    gateway.finish().await;
}

/// A gateway on a real store, with one app (`acme`) whose APNs endpoint nothing listens on:
/// these tests register no device, so nothing is sent.
struct Gateway {
    handle: GatewayHandle,
    receipt_key: ReceiptKey,
    schema: Option<String>,
    _dir: tempfile::TempDir,
}

impl Gateway {
    async fn start(backend: Backend) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let (store, schema) = support::open_store(backend, dir.path(), "gw_edges").await;
        let config = GatewayConfig::from_toml(
            &format!(
                "listen = \"127.0.0.1:0\"\nbody_timeout_ms = 500\n\n[[apps]]\nname = \"acme\"\n\
                 bundle_id = \"com.example.edges\"\nenvironment = \"sandbox\"\n\
                 key_file = \"{}\"\nkey_id = \"{KEY_ID}\"\nteam_id = \"{TEAM_ID}\"\n\
                 endpoint = \"https://127.0.0.1:9\"\n",
                support::key_file().display()
            ),
            Path::new("input-edges.toml"),
        )
        .unwrap();
        let handle = start_with(
            &config,
            store,
            ApiToken::new(API_TOKEN, "test").unwrap(),
            ReceiptKey::new(&RECEIPT_SECRET).unwrap(),
            false,
        )
        .await
        .unwrap();
        Gateway {
            handle,
            receipt_key: ReceiptKey::new(&RECEIPT_SECRET).unwrap(),
            schema,
            _dir: dir,
        }
    }

    async fn finish(self) {
        self.handle.shutdown().await;
        support::drop_schema(self.schema);
    }

    /// A backend request with the bearer token.
    async fn request(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        let bearer = format!("Bearer {API_TOKEN}");
        self.send(method, path, &[("Authorization", &bearer)], body)
            .await
    }

    /// A receipt for `push_id` of `call_id`, its token signed with the gateway's key.
    async fn receipt(&self, push_id: &str, call_id: &str) -> Answer {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let token = self.receipt_key.issue(push_id, call_id, now_ms + 3_600_000);
        let body = json!({
            "push_id": push_id,
            "call_id": call_id,
            "receipt_token": token,
            "device_received_at": now_ms,
        });
        self.send("POST", "/v1/receipts", &[], Some(&body.to_string()))
            .await
    }

    /// One HTTP/1.1 request written as bytes (a client library would refuse or re-encode the
    /// paths these tests need), its answer read to the end.
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Answer {
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        } else {
            request.push_str("\r\n");
        }
        self.send_raw(request).await
    }

    /// `request` as it is.
    async fn send_raw(&self, request: String) -> Answer {
        let addr = self.handle.addr;
        tokio::task::spawn_blocking(move || exchange(addr, request.as_bytes()))
            .await
            .unwrap()
    }
}

fn exchange(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The server may answer and close before it has read everything (an oversized head).
    let _ = stream.write_all(request);
    let mut raw = Vec::new();
    let mut buf = [0; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if raw.is_empty() => panic!("no answer from {addr}: {e}"),
            Err(_) => break,
        }
    }
    Answer::parse(&raw)
}

struct Answer {
    status: u16,
    /// The status line and headers, names lowercased.
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn parse(raw: &[u8]) -> Answer {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head}"));
        let head = head
            .lines()
            .map(|line| match line.split_once(':') {
                Some((name, value)) => format!("{}:{value}", name.to_ascii_lowercase()),
                None => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let mut body = raw[split + 4..].to_vec();
        if head.contains("transfer-encoding: chunked") {
            body = dechunk(&body);
        }
        Answer { status, head, body }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        assert!(
            self.head.contains("content-type: application/json"),
            "not JSON:\n{}\n\n{}",
            self.head,
            self.text()
        );
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    /// The error body, checked: `status`, JSON, `code`, an `error` message.
    fn error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{}\n\n{}", self.head, self.text());
        let body = self.json();
        assert_eq!(body["code"], code, "{body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "no error message: {body}"
        );
        body
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 4 + size..];
    }
    out
}
