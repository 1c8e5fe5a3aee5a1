//! The PostgreSQL backend: one database shared by several gateway instances.
//!
//! tokio-postgres is async, so operations run on the caller's task; a deadpool pool keeps a
//! few connections open (each runs one statement at a time) and caches prepared statements
//! per connection. Every claim of due work takes row locks with `FOR UPDATE SKIP LOCKED`, so
//! instances polling together split the work instead of queueing behind each other. The calls
//! created together, and the two writes around every push (on the wire, answered), are
//! group-committed (`write_batch`). With
//! `StoreBuilder::schema` every connection starts with `search_path` set to that schema.

mod calls;
mod create_call;
mod jobs;
mod listing;
mod outbox;
mod push_writes;
mod pushes;
mod rollups;
mod write_batch;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::FromSql;
use tokio_postgres::{Config, NoTls, Row};

use crate::builder::redact;
use crate::error::{QueryContext, pg_message};
use crate::{Backend, StoreError, migrations};

/// How long to wait for a new connection (an unreachable host must fail, not hang).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub(crate) struct PgStore {
    pool: Pool,
    creates: create_call::Creations,
    writes: push_writes::PushWrites,
}

impl PgStore {
    pub(crate) async fn open(
        url: &str,
        schema: Option<&str>,
        pool_size: usize,
    ) -> Result<PgStore, StoreError> {
        let mut config: Config = url.parse().map_err(|e| {
            StoreError::invalid(
                "PostgreSQL URL",
                format!(
                    "{}: {e} — expected postgres://user[:password]@host[:port]/database",
                    redact(url)
                ),
            )
        })?;
        let target = describe(&config);
        if let Some(schema) = schema {
            // Validated by the builder: lowercase letters, digits and '_' need no quoting.
            let options = match config.get_options() {
                Some(existing) => format!("{existing} -c search_path={schema}"),
                None => format!("-c search_path={schema}"),
            };
            config.options(&options);
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Connect {
                backend: Backend::Postgres,
                target: target.clone(),
                message: format!("cannot build the connection pool: {e}"),
            })?;
        let creates = create_call::creations(&pool);
        let writes = push_writes::PushWrites::new(&pool);
        let store = PgStore {
            pool,
            creates,
            writes,
        };
        store.migrate(schema, &target).await?;
        Ok(store)
    }

    async fn client(&self, op: &'static str) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.op(op)
    }

    /// Creates the schema if asked, then applies pending migrations in one transaction under
    /// an advisory lock, so instances starting together migrate once.
    async fn migrate(&self, schema: Option<&str>, target: &str) -> Result<(), StoreError> {
        let mut client = self.pool.get().await.map_err(|e| {
            let (cause, hint) = match &e {
                deadpool_postgres::PoolError::Backend(e) => (pg_message(e), hint(e, target)),
                other => (other.to_string(), hint_unreachable(target)),
            };
            StoreError::Connect {
                backend: Backend::Postgres,
                target: target.to_string(),
                message: format!("{cause} — {hint}"),
            }
        })?;
        let setup = |e: tokio_postgres::Error| StoreError::Migrate {
            version: 0,
            message: format!(
                "postgresql at {target}: cannot create the schema or schema_migrations: {}",
                pg_message(&e)
            ),
        };
        let tx = client.transaction().await.map_err(setup)?;
        let lock = format!("pushtrace-migrate:{}", schema.unwrap_or(""));
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&lock])
            .await
            .map_err(setup)?;
        if let Some(schema) = schema {
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .await
                .map_err(setup)?;
        }
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    INTEGER PRIMARY KEY,
                 name       TEXT NOT NULL,
                 applied_at BIGINT NOT NULL
             )",
        )
        .await
        .map_err(setup)?;
        let current: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .await
            .and_then(|row| row.try_get(0))
            .map_err(setup)?;
        let current = u32::try_from(current).unwrap_or(0);
        for migration in migrations::pending(Backend::Postgres, current)? {
            let fail = |e: tokio_postgres::Error| {
                migrations::failed(migration, Backend::Postgres, pg_message(&e))
            };
            tx.batch_execute(migration.sql).await.map_err(fail)?;
            let version = i32::try_from(migration.version).unwrap_or(i32::MAX);
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &[&version, &migration.name, &migrations::now_micros()],
            )
            .await
            .map_err(fail)?;
        }
        tx.commit().await.map_err(setup)
    }
}

/// `host:port/database`: where we connect, without user or password.
fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

fn hint(error: &tokio_postgres::Error, target: &str) -> String {
    match error.code() {
        Some(code) if *code == SqlState::INVALID_CATALOG_NAME => {
            let db = target.rsplit('/').next().unwrap_or("");
            format!("create it: `createdb -h <host> -U postgres {db}`")
        }
        Some(code)
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            "check the user and password in the URL".to_string()
        }
        Some(_) => "check the URL and the server's log".to_string(),
        None => hint_unreachable(target),
    }
}

fn hint_unreachable(target: &str) -> String {
    let (host, port) = target
        .split('/')
        .next()
        .and_then(|hp| hp.rsplit_once(':'))
        .unwrap_or(("127.0.0.1", "5432"));
    format!("is it running? `pg_isready -h {host} -p {port}`")
}

/// Turns a constraint failure into what the caller did wrong; other errors stay query errors.
fn constraint(error: tokio_postgres::Error, op: &'static str, what: &str) -> StoreError {
    let is_constraint = error.code().is_some_and(|code| {
        *code == SqlState::UNIQUE_VIOLATION || *code == SqlState::FOREIGN_KEY_VIOLATION
    });
    if is_constraint {
        return StoreError::invalid(what.to_string(), format!("{op}: {}", pg_message(&error)));
    }
    StoreError::Query {
        op,
        message: format!("postgresql: {}", pg_message(&error)),
    }
}

/// Column `i` of `row`: a NULL where a value is due, or a value of another type, is an error of
/// `op` (as SQLite's reader gives), never the panic of `Row::get`.
pub(super) fn get<'r, T: FromSql<'r>>(
    row: &'r Row,
    i: usize,
    op: &'static str,
) -> Result<T, StoreError> {
    row.try_get(i).op(op)
}
