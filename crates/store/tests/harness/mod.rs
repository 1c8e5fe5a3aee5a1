//! Opening a fresh store per test on each backend, and cleaning up after it.

use pushtrace_store::{Store, StoreBuilder};

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh store for one test, and what is needed to reopen or inspect it.
pub struct Harness {
    pub store: Store,
    target: Target,
}

enum Target {
    Sqlite {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
    },
    Postgres {
        url: String,
        schema: String,
    },
}

pub fn postgres_url() -> String {
    std::env::var("PUSHTRACE_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_string())
}

fn postgres_unreachable(url: &str, error: &dyn std::fmt::Display) -> ! {
    panic!(
        "PostgreSQL tests need a server at {url} (override with PUSHTRACE_TEST_POSTGRES): \
         {error}\nStart one, e.g. `pg_ctlcluster 15 main start` (Debian) or \
         `docker run -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres`, create the \
         database with `createdb -h 127.0.0.1 -U postgres test`, and check with \
         `pg_isready -h 127.0.0.1`."
    )
}

impl Harness {
    pub async fn sqlite() -> Harness {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("pushtrace.db");
        let store = StoreBuilder::sqlite(&path)
            .open()
            .await
            .expect("open SQLite");
        Harness {
            store,
            target: Target::Sqlite { _dir: dir, path },
        }
    }

    pub async fn postgres() -> Harness {
        let url = postgres_url();
        let schema = format!("t_{:016x}", fastrand::u64(..));
        let store = match StoreBuilder::postgres(&url)
            .schema(&schema)
            .pool_size(8)
            .open()
            .await
        {
            Ok(store) => store,
            Err(error) => postgres_unreachable(&url, &error),
        };
        Harness {
            store,
            target: Target::Postgres { url, schema },
        }
    }

    /// Opens the same database again (as a restarted gateway would).
    pub async fn reopen(&self) -> Result<Store, pushtrace_store::StoreError> {
        match &self.target {
            Target::Sqlite { path, .. } => StoreBuilder::sqlite(path).open().await,
            Target::Postgres { url, schema } => {
                StoreBuilder::postgres(url).schema(schema).open().await
            }
        }
    }

    /// Runs raw SQL beside the store (to simulate what the API cannot, e.g. a newer schema).
    pub async fn execute(&self, sql: &str) -> Result<(), String> {
        match &self.target {
            Target::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
                conn.execute_batch(sql).map_err(|e| e.to_string())
            }
            Target::Postgres { url, schema } => {
                let client = connect(url).await;
                client
                    .batch_execute(&format!("SET search_path TO {schema}; {sql}"))
                    .await
                    .map_err(|e| format!("{e:?}"))
            }
        }
    }

    /// Drops the test's PostgreSQL schema (the SQLite file goes with its directory).
    pub async fn finish(self) {
        if let Target::Postgres { url, schema } = &self.target {
            drop(self.store);
            let client = connect(url).await;
            client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await
                .expect("drop the test schema");
        }
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
        Ok(pair) => pair,
        Err(error) => postgres_unreachable(url, &error),
    };
    tokio::spawn(connection);
    client
}
