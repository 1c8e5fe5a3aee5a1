//! The webhook receiver of the tests: a real HTTP endpoint on a local port that records every
//! request and answers as scripted, and the signature check by the snippets of
//! `docs/webhooks.md`.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// How the receiver answers a request.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// Holds the request without answering (until the test ends).
    Hang,
    /// Answers 200 after this many ms: a receiver that keeps deliveries in flight.
    #[allow(dead_code)] // tests/scale_out.rs's, not tests/webhooks.rs's
    OkAfter(u64),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub kind: String,
    pub headers: std::collections::HashMap<String, String>,
    pub raw: String,
    pub body: Value,
}

impl Received {
    pub fn kind(&self) -> &str {
        &self.kind
    }
}

#[derive(Default)]
pub struct ReceiverState {
    script: Mutex<VecDeque<Answer>>,
    pub received: Mutex<Vec<Received>>,
}

/// A webhook endpoint on a local port: records every request, answers as scripted, then 200.
pub struct Receiver {
    addr: std::net::SocketAddr,
    pub state: Arc<ReceiverState>,
}

impl Receiver {
    pub async fn start(script: VecDeque<Answer>) -> Receiver {
        let state = Arc::new(ReceiverState {
            script: Mutex::new(script),
            received: Mutex::default(),
        });
        let app = axum::Router::new()
            .route("/hooks", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// What was received once `done` holds (within 20 s).
    pub async fn wait(&self, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "gave up waiting: {received:#?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    raw: String,
) -> StatusCode {
    let body: Value = serde_json::from_str(&raw).unwrap();
    let headers = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    state.received.lock().unwrap().push(Received {
        kind: body["type"].as_str().unwrap().to_owned(),
        headers,
        raw,
        body,
    });
    let answer = state.script.lock().unwrap().pop_front();
    match answer {
        Some(Answer::Status(status)) => StatusCode::from_u16(status).unwrap(),
        Some(Answer::Hang) => {
            tokio::time::sleep(Duration::from_secs(600)).await;
            StatusCode::OK
        }
        Some(Answer::OkAfter(ms)) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            StatusCode::OK
        }
        None => StatusCode::OK,
    }
}

/// Runs the verification snippet of docs/webhooks.md in `language` (`python` or `js`) on a
/// delivery's header and raw body.
pub fn verify_with_docs_snippet(language: &str, secret: &str, header: &str, body: &str) -> bool {
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/webhooks.md"),
    )
    .unwrap();
    let fence = format!("```{language}\n");
    let start = docs.find(&fence).unwrap() + fence.len();
    let snippet = &docs[start..start + docs[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let body_file = dir.path().join("body");
    std::fs::write(&body_file, body).unwrap();
    let (program, script) = match language {
        "python" => (
            "python3",
            format!(
                "{snippet}\nimport sys\nbody = open(sys.argv[3], 'rb').read()\n\
                 sys.exit(0 if verify(sys.argv[1].encode(), sys.argv[2], body) else 1)\n"
            ),
        ),
        _ => (
            "node",
            format!(
                "{snippet}\nconst body = require('fs').readFileSync(process.argv[4]);\n\
                 process.exit(verify(process.argv[2], process.argv[3], body) ? 0 : 1);\n"
            ),
        ),
    };
    let script_file = dir.path().join("verify");
    std::fs::write(&script_file, script).unwrap();
    let out = std::process::Command::new(program)
        .arg(&script_file)
        .arg(secret)
        .arg(header)
        .arg(&body_file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.success()
}
