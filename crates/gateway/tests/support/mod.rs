//! What the gateway's integration tests share: the store each runs on (SQLite in a temporary
//! folder, or a fresh PostgreSQL schema) and the test signing key.
//!
//! PostgreSQL is `PUSHTRACE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`);
//! its tests fail, never skip, when the server is not there (`bash .ci/start-postgres.sh`
//! starts it).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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
