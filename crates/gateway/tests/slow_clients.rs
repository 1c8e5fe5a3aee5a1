//! Slow and idle clients over a real socket (`docs/gateway.md`, `header_timeout_ms` and the
//! rest): a stalled head is closed, a stalled body is answered 408, an idle keep-alive is
//! closed, and past `max_connections` a connection waits until one closes. SQLite only: the
//! store plays no part.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use pushtrace_gateway::api::ApiToken;
use pushtrace_gateway::receipt_token::ReceiptKey;
use pushtrace_gateway::{GatewayConfig, GatewayHandle, start_with};
use support::{Backend, KEY_ID, TEAM_ID};

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_head_is_closed_after_the_header_timeout() {
    let gateway = Gateway::start("header_timeout_ms = 300\nidle_timeout_ms = 5000\n").await;
    let addr = gateway.handle.addr;
    let (answer, after) = blocking(move || {
        let mut stream = connect(addr);
        stream.write_all(b"GET /heal").unwrap();
        read_to_close(&mut stream)
    })
    .await;
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert_between(after, 250, 1_500);
    gateway.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_answered_408_after_the_body_timeout() {
    let gateway = Gateway::start("body_timeout_ms = 300\n").await;
    let addr = gateway.handle.addr;
    let (answer, after) = blocking(move || {
        let mut stream = connect(addr);
        stream
            .write_all(
                b"POST /v1/receipts HTTP/1.1\r\nHost: test\r\n\
                  Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"push_id\"",
            )
            .unwrap();
        read_to_close(&mut stream)
    })
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains("application/json"), "{answer}");
    assert!(answer.contains("body_timeout_ms"), "{answer}");
    assert_between(after, 250, 1_500);
    gateway.finish().await;
}

/// The idle timeout is longer than the header timeout here, so a close after it is the idle
/// timer's and not the head's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_is_closed_after_the_idle_timeout() {
    let gateway = Gateway::start("header_timeout_ms = 300\nidle_timeout_ms = 1000\n").await;
    let addr = gateway.handle.addr;
    let (answer, after) = blocking(move || {
        let mut stream = connect(addr);
        stream.write_all(HEALTHZ).unwrap();
        read_answer(&mut stream);
        // A second request on the same connection, after longer than the header timeout.
        std::thread::sleep(Duration::from_millis(500));
        stream.write_all(HEALTHZ).unwrap();
        read_answer(&mut stream);
        read_to_close(&mut stream)
    })
    .await;
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert_between(after, 950, 2_500);
    gateway.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_connections_a_connection_waits_until_one_closes() {
    let gateway = Gateway::start("max_connections = 2\n").await;
    let addr = gateway.handle.addr;
    blocking(move || {
        let mut held: Vec<TcpStream> = (0..2)
            .map(|_| {
                let mut stream = connect(addr);
                stream.write_all(HEALTHZ).unwrap();
                read_answer(&mut stream);
                stream
            })
            .collect();
        let mut third = connect(addr);
        third.write_all(HEALTHZ).unwrap();
        third
            .set_read_timeout(Some(Duration::from_millis(400)))
            .unwrap();
        let mut buf = [0; 64];
        match third.read(&mut buf) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            other => panic!("the third connection was served while two were held: {other:?}"),
        }
        held.pop();
        third
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let answer = read_answer(&mut third);
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        // The one still held is served as before.
        held[0].write_all(HEALTHZ).unwrap();
        let answer = read_answer(&mut held[0]);
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    })
    .await;
    gateway.finish().await;
}

struct Gateway {
    handle: GatewayHandle,
    _dir: tempfile::TempDir,
}

impl Gateway {
    /// A gateway with `limits`, top-level keys of the config, added to a minimal one.
    async fn start(limits: &str) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = support::open_store(Backend::Sqlite, dir.path(), "gw_slow").await;
        let config = GatewayConfig::from_toml(
            &format!(
                "listen = \"127.0.0.1:0\"\n{limits}\n[[apps]]\nname = \"acme\"\n\
                 bundle_id = \"com.example.slow\"\nenvironment = \"sandbox\"\n\
                 key_file = \"{}\"\nkey_id = \"{KEY_ID}\"\nteam_id = \"{TEAM_ID}\"\n\
                 endpoint = \"https://127.0.0.1:9\"\n",
                support::key_file().display()
            ),
            Path::new("slow-clients.toml"),
        )
        .unwrap();
        let handle = start_with(
            &config,
            store,
            ApiToken::new("slow-clients-api-token-0123", "test").unwrap(),
            ReceiptKey::new(&[7; 32]).unwrap(),
            false,
        )
        .await
        .unwrap();
        Gateway { handle, _dir: dir }
    }

    async fn finish(self) {
        self.handle.shutdown().await;
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// Everything the server sends until it closes the connection, and how long that took.
fn read_to_close(stream: &mut TcpStream) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "not closed after {:?}: {e}; received {:?}",
                started.elapsed(),
                String::from_utf8_lossy(&received)
            ),
        }
    }
    (received, started.elapsed())
}

/// One answer with a `Content-Length`, read to its end and no further.
fn read_answer(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0; 1];
    while !received.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        assert_eq!(
            n,
            1,
            "closed mid-head: {}",
            String::from_utf8_lossy(&received)
        );
        received.push(buf[0]);
    }
    let head = String::from_utf8_lossy(&received).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .unwrap_or_else(|| panic!("no content-length in {head}"))
        .trim()
        .parse()
        .unwrap();
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    received.extend_from_slice(&body);
    String::from_utf8_lossy(&received).into_owned()
}

fn assert_between(elapsed: Duration, min_ms: u128, max_ms: u128) {
    let ms = elapsed.as_millis();
    assert!(
        (min_ms..max_ms).contains(&ms),
        "took {ms} ms, expected {min_ms} to {max_ms}"
    );
}
