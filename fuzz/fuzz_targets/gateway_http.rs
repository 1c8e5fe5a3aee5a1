#![no_main]
//! Drives the gateway's real router (`api::router` over `build_engine`, an in-memory SQLite
//! store) in process with fuzzed requests: up to eight per input, to any route, with fuzzed
//! path parameters, queries and bodies. Whatever they hold: no panic, no 5xx (a 5xx means the
//! gateway is broken, never the input), and every answer of 400 or more is JSON with a known
//! `code` and a message.
//!
//! An input is requests separated by `0xff`. Each is a route byte, a flags byte, then the path
//! parameters (separated by `/`, percent-encoded here unless a flag asks for them raw), a
//! newline, and the body. `@c` and `@p` in parameters and bodies stand for the last call id
//! and push id the gateway answered, so sequences (register, ring, receipt, cancel) reach past
//! "unknown call"; a flag signs a valid `receipt_token` into a receipt body with the gateway's
//! key, as the push payload would carry it, so receipts reach the store.
//!
//! The app's APNs endpoint is a closed local port: a send fails at once, and its retry is
//! dropped with the input's runtime. Nothing sleeps.

use std::path::Path;

use axum::body::Body;
use axum::http::{Method, Request, Uri, header};
use libfuzzer_sys::fuzz_target;
use pushtrace_gateway::api::{self, ApiToken, ErrorCode};
use pushtrace_gateway::receipt_token::ReceiptKey;
use pushtrace_gateway::{GatewayConfig, build_engine};
use pushtrace_store::StoreBuilder;
use serde_json::Value;
use tower::ServiceExt;

const API_TOKEN: &str = "fuzz-api-token-0123456789";
const RECEIPT_SECRET: [u8; 32] = [7; 32];
const MAX_REQUESTS: usize = 8;
const MAX_ANSWER: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run(data));
});

fn config() -> GatewayConfig {
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/apns/testdata/test-AuthKey.p8"
    );
    let toml = format!(
        "listen = \"127.0.0.1:0\"\ninstance = \"fuzz\"\n\n[[apps]]\nname = \"acme\"\n\
         bundle_id = \"com.example.fuzz\"\nenvironment = \"sandbox\"\nkey_file = \"{key}\"\n\
         key_id = \"TESTKEY001\"\nteam_id = \"TESTTEAM01\"\nendpoint = \"https://127.0.0.1:9\"\n"
    );
    GatewayConfig::from_toml(&toml, Path::new("fuzz.toml")).expect("the fuzz config")
}

async fn run(data: &[u8]) {
    let store = StoreBuilder::sqlite_memory()
        .open()
        .await
        .expect("an in-memory store");
    let engine = build_engine(&config(), store, ReceiptKey::new(&RECEIPT_SECRET).unwrap())
        .await
        .expect("the engine");
    let router = api::router(engine, ApiToken::new(API_TOKEN, "fuzz").unwrap());
    let key = ReceiptKey::new(&RECEIPT_SECRET).unwrap();
    let mut ids = Ids::default();
    for raw in data.split(|&b| b == 0xff).take(MAX_REQUESTS) {
        let Some(request) = request(raw, &ids, &key) else {
            continue;
        };
        let shown = format!("{} {}", request.method(), request.uri());
        let answer = router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = answer.status();
        let json = answer
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let bytes = axum::body::to_bytes(answer.into_body(), MAX_ANSWER)
            .await
            .expect("an answer body");
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        assert!(
            !status.is_server_error(),
            "{shown}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        if status.as_u16() >= 400 {
            let body = body
                .filter(|_| json)
                .unwrap_or_else(|| panic!("{shown}: {status} is not JSON: {bytes:?}"));
            let code = body["code"]
                .as_str()
                .unwrap_or_else(|| panic!("{shown}: no code in {body}"));
            assert!(
                ErrorCode::ALL.iter().any(|c| c.as_str() == code),
                "{shown}: unknown code {code}"
            );
            assert!(
                body["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{shown}: {body}"
            );
        } else if let Some(body) = body {
            ids.note(&body);
        }
    }
}

/// The last call and push ids answered, for `@c` and `@p`.
#[derive(Default)]
struct Ids {
    call: Option<String>,
    push: Option<String>,
}

impl Ids {
    fn note(&mut self, body: &Value) {
        let call = body["call"]["call_id"]
            .as_str()
            .or(body["call_id"].as_str());
        if let Some(call) = call {
            self.call = Some(call.to_owned());
        }
        let push = body["pushes"][0]["push_id"]
            .as_str()
            .or(body["pushes"][0]["push"]["push_id"].as_str());
        if let Some(push) = push {
            self.push = Some(push.to_owned());
        }
    }

    fn fill(&self, text: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(text);
        if !text.contains('@') {
            return text.as_bytes().to_vec();
        }
        let call = self.call.as_deref().unwrap_or("no-call-yet");
        let push = self.push.as_deref().unwrap_or("no-push-yet");
        text.replace("@c", call).replace("@p", push).into_bytes()
    }
}

/// Flags: which parts of a request the fuzzer leaves out or changes.
const NO_BEARER: u8 = 1;
const NOT_JSON: u8 = 2;
const SIGN_RECEIPT: u8 = 4;
const RAW_PATH: u8 = 8;

fn request(raw: &[u8], ids: &Ids, key: &ReceiptKey) -> Option<Request<Body>> {
    let (&route, rest) = raw.split_first()?;
    let (&flags, rest) = rest.split_first().unwrap_or((&0, &[]));
    let (params, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let params = ids.fill(params);
    let given: Vec<String> = params
        .split(|&b| b == b'/')
        .map(|s| {
            if flags & RAW_PATH != 0 {
                String::from_utf8_lossy(s).into_owned()
            } else {
                encode(s)
            }
        })
        .collect();
    let mut segments = given.clone();
    // One parameter given to a route of two: it is the second, under the app.
    if segments.len() < 2 {
        segments.insert(0, "acme".to_owned());
    }
    let (a, b) = (&segments[0], &segments[1]);
    let query = segments.get(2).map(|q| format!("?{q}")).unwrap_or_default();
    let (method, path) = match route % 12 {
        0 => (Method::PUT, format!("/v1/apps/{a}/tokens/{b}")),
        1 => (Method::DELETE, format!("/v1/apps/{a}/tokens/{b}")),
        2 => (
            Method::GET,
            format!("/v1/apps/{a}/tokens/{b}/pushes{query}"),
        ),
        3 => (Method::POST, format!("/v1/apps/{a}/calls")),
        4 => (Method::GET, format!("/v1/apps/{a}/calls/{b}")),
        5 => (Method::GET, format!("/v1/calls/{b}")),
        6 => (Method::POST, format!("/v1/calls/{b}/cancel")),
        7 => (Method::POST, format!("/v1/calls/{b}/answered")),
        8 => (Method::POST, "/v1/receipts".to_owned()),
        9 => (Method::GET, "/healthz".to_owned()),
        10 => (Method::GET, "/metrics".to_owned()),
        _ => {
            let methods = [
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::PATCH,
            ];
            let method = methods[usize::from(flags >> 4) % methods.len()].clone();
            (method, format!("/{}", given.join("/")))
        }
    };
    let uri: Uri = path.parse().ok()?;
    let mut body = ids.fill(body);
    if flags & SIGN_RECEIPT != 0 {
        body = signed(body, key);
    }
    let mut builder = Request::builder().method(method).uri(uri);
    if flags & NO_BEARER == 0 {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {API_TOKEN}"));
    }
    let content_type = if flags & NOT_JSON == 0 {
        "application/json"
    } else {
        "text/plain"
    };
    builder
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .ok()
}

/// Every byte but the unreserved ones (and `=`, `&`, for queries) percent-encoded: any bytes
/// make a valid path.
fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~=&".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A receipt body with a `receipt_token` the gateway's key signed for its `push_id` and
/// `call_id`, valid for an hour; anything else unchanged.
fn signed(body: Vec<u8>, key: &ReceiptKey) -> Vec<u8> {
    let Ok(Value::Object(mut receipt)) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let push = receipt
        .get("push_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let call = receipt
        .get("call_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let token = key.issue(&push, &call, now_ms + 3_600_000);
    receipt.insert("receipt_token".into(), Value::String(token));
    serde_json::to_vec(&receipt).unwrap_or(body)
}
