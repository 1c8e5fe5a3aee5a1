//! What the gateway's integration tests share: the store each runs on (SQLite in a temporary
//! folder, or a fresh PostgreSQL schema), the test signing key, and the app's receipt.
//!
//! PostgreSQL is `PUSHTRACE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`);
//! its tests fail, never skip, when the server is not there (`bash .ci/start-postgres.sh`
//! starts it).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pushtrace_gateway::receipt_token::ReceiptKey;
use pushtrace_store::{Store, StoreBuilder};

/// The test key's id and team, as the emulator and the gateway's config name them.
pub const KEY_ID: &str = "TESTKEY001";
pub const TEAM_ID: &str = "TESTTEAM01";

/// The committed `.p8` test key.
pub fn key_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../apns/testdata/test-AuthKey.p8")
}

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// An open store and, for PostgreSQL, its schema (dropped by [`drop_schema`]).
pub async fn open_store(backend: Backend, dir: &Path, prefix: &str) -> (Store, Option<String>) {
    match backend {
        Backend::Sqlite => {
            let store = StoreBuilder::sqlite(dir.join("gateway.db"))
                .open()
                .await
                .unwrap();
            (store, None)
        }
        Backend::Postgres => {
            let schema = fresh_schema(prefix);
            let store = StoreBuilder::postgres(postgres_url())
                .schema(&schema)
                .open()
                .await
                .unwrap_or_else(|e| {
                    panic!("PostgreSQL: {e}; start it with `bash .ci/start-postgres.sh`")
                });
            (store, Some(schema))
        }
    }
}

/// A second handle on the store [`open_store`] opened in `dir` (and `schema`): what another
/// instance, or the same one restarted, opens.
pub async fn reopen_store(backend: Backend, dir: &Path, schema: Option<&str>) -> Store {
    match (backend, schema) {
        (Backend::Sqlite, _) => StoreBuilder::sqlite(dir.join("gateway.db"))
            .open()
            .await
            .unwrap(),
        (Backend::Postgres, Some(schema)) => StoreBuilder::postgres(postgres_url())
            .schema(schema)
            .open()
            .await
            .unwrap(),
        (Backend::Postgres, None) => panic!("a PostgreSQL store is reopened by its schema"),
    }
}

/// Posts the receipt an app that got `push_id` of `call_id` sends, its token signed with
/// `key` (the gateway's), over HTTP/1.1 to the gateway at `addr`; the status and body.
pub async fn post_receipt(
    addr: SocketAddr,
    key: &ReceiptKey,
    push_id: &str,
    call_id: &str,
) -> (u16, String) {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let body = serde_json::json!({
        "push_id": push_id,
        "call_id": call_id,
        "receipt_token": key.issue(push_id, call_id, now_ms + 3_600_000),
        "device_received_at": now_ms,
    })
    .to_string();
    let request = format!(
        "POST /v1/receipts HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tokio::task::spawn_blocking(move || {
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
        (status, answer)
    })
    .await
    .unwrap()
}

/// Best effort: a schema left behind only costs disk.
pub fn drop_schema(schema: Option<String>) {
    if let Some(schema) = schema {
        let _ = std::process::Command::new("psql")
            .args([
                &postgres_url(),
                "-qc",
                &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
            ])
            .output();
    }
}

pub fn postgres_url() -> String {
    std::env::var("PUSHTRACE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn fresh_schema(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Each named `async fn name(backend: Backend)` of the calling file, as a test on SQLite
/// (`sqlite::name`) and one on PostgreSQL (`postgres::name`).
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await;
                }
            )*
        }
    };
}
