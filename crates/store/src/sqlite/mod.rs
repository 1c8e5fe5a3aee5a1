//! The SQLite backend: one file (or memory), zero set-up, one gateway instance.
//!
//! rusqlite is synchronous, so the connection lives on a thread of its own and every operation
//! is sent to it through a channel (and answered through a oneshot): the async workers never
//! block. ONE connection: SQLite lets one writer in at a time anyway, nearly everything the
//! gateway does writes, and a single connection never meets `SQLITE_BUSY` from its own siblings
//! nor pays for handing the write lock between connections. The first version ran each
//! operation with `spawn_blocking` behind a mutex; under load hundreds of blocking-pool threads
//! queued on the mutex, and thread churn (each new thread's allocator heap faulting in fresh
//! pages) took a third of the gateway's CPU (docs/performance.md). Readers could run beside the writer
//! in WAL mode, but the gateway's reads (timeline, history) are rare next to its writes, so a
//! reader pool would add connections without adding throughput.
//!
//! The connection runs in WAL mode with `synchronous = NORMAL`: a commit survives the process
//! being killed (the WAL is in the OS's hands), and only a power cut may lose the last few
//! commits — the trade-off SQLite recommends for WAL. Foreign keys are on; a busy timeout
//! covers another process (e.g. `pushtrace` export) holding the write lock briefly.

mod calls;
mod jobs;
mod pushes;
mod rollups;

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use crate::error::QueryContext;
use crate::{Backend, StoreError, migrations};

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const STATEMENT_CACHE: usize = 64;

#[derive(Clone)]
pub(crate) struct SqliteStore {
    work: std::sync::mpsc::Sender<Work>,
}

impl SqliteStore {
    pub(crate) async fn open_file(path: PathBuf) -> Result<SqliteStore, StoreError> {
        blocking(move || {
            let target = path.display().to_string();
            let connect = |message: String| StoreError::Connect {
                backend: Backend::Sqlite,
                target: target.clone(),
                message,
            };
            let conn = Connection::open(&path).map_err(|e| {
                connect(format!(
                    "{e} — check that the directory exists and is writable"
                ))
            })?;
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
                .map_err(|e| connect(format!("{e} — is it a SQLite database?")))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(connect(format!(
                    "the database stayed in journal mode {mode:?} instead of WAL — is it on a \
                     file system that supports shared memory?"
                )));
            }
            SqliteStore::configure(conn, &connect)
        })
        .await
    }

    pub(crate) async fn open_memory() -> Result<SqliteStore, StoreError> {
        blocking(|| {
            let connect = |message: String| StoreError::Connect {
                backend: Backend::Sqlite,
                target: ":memory:".into(),
                message,
            };
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
            let conn =
                Connection::open_in_memory_with_flags(flags).map_err(|e| connect(e.to_string()))?;
            SqliteStore::configure(conn, &connect)
        })
        .await
    }

    fn configure(
        mut conn: Connection,
        connect: &dyn Fn(String) -> StoreError,
    ) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .and_then(|_| conn.pragma_update(None, "foreign_keys", true))
            .and_then(|_| conn.pragma_update(None, "synchronous", "NORMAL"))
            .map_err(|e| connect(format!("setting up the connection: {e}")))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        migrate(&mut conn)?;
        let work = connection_thread(conn).map_err(|e| StoreError::Query {
            op: "sqlite",
            message: format!("cannot start the SQLite connection's thread: {e}"),
        })?;
        Ok(SqliteStore { work })
    }

    /// Runs `f` with the connection on the connection's own thread.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let work: Work = Box::new(move |conn| {
            // The caller may have gone (its request was dropped): nothing to tell it.
            let _ = answer.send(f(conn));
        });
        let gone = || {
            StoreError::Query {
            op: "sqlite",
            message: "the SQLite operation did not complete (it panicked, or the connection's thread stopped)".into(),
        }
        };
        self.work.send(work).map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }
}

/// One operation for the connection's thread.
type Work = Box<dyn FnOnce(&mut Connection) + Send>;

/// The thread that owns the connection: it runs each operation in arrival order and ends when
/// the last `SqliteStore` clone is dropped.
fn connection_thread(mut conn: Connection) -> std::io::Result<std::sync::mpsc::Sender<Work>> {
    let (work, queue) = std::sync::mpsc::channel::<Work>();
    std::thread::Builder::new()
        .name("pushtrace-sqlite".into())
        .spawn(move || {
            for job in queue {
                // A panicking statement must not take the connection down with it: its caller
                // gets an error (its answer is dropped), the next operation runs. An open
                // transaction was rolled back when the panic unwound through it.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut conn)));
            }
        })?;
    Ok(work)
}

async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Query {
            op: "sqlite task",
            message: format!("the blocking task running the statement failed: {e}"),
        })?
}

/// A write transaction that takes the write lock at BEGIN, so that a read-then-write never
/// finds its snapshot stale (`SQLITE_BUSY_SNAPSHOT`) if another process wrote meanwhile.
fn write_tx<'c>(
    conn: &'c mut Connection,
    op: &'static str,
) -> Result<rusqlite::Transaction<'c>, StoreError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .op(op)
}

/// Turns a constraint failure into what the caller did wrong; other errors stay query errors.
fn constraint(error: rusqlite::Error, op: &'static str, what: &str) -> StoreError {
    if error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) {
        return StoreError::invalid(what.to_string(), format!("{op}: {error}"));
    }
    StoreError::Query {
        op,
        message: format!("sqlite: {error}"),
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let setup = |e: rusqlite::Error| StoreError::Migrate {
        version: 0,
        message: format!("sqlite: cannot read or create schema_migrations: {e}"),
    };
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at INTEGER NOT NULL
         )",
    )
    .map_err(setup)?;
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(setup)?;
        let current: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |row| row.get(0),
            )
            .map_err(setup)?;
        let current = u32::try_from(current).unwrap_or(u32::MAX);
        let Some(next) = migrations::pending(Backend::Sqlite, current)?.first() else {
            return Ok(());
        };
        let fail = |e: rusqlite::Error| migrations::failed(next, Backend::Sqlite, e.to_string());
        tx.execute_batch(next.sql).map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![next.version, next.name, migrations::now_micros()],
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)?;
    }
}
