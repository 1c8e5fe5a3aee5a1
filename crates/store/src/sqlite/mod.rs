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
mod listing;
mod outbox;
mod pushes;
mod rollups;

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::config::DbConfig;
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
            // A savepoint inside a group-commit batch journals the pages it touches; in memory,
            // not in a temporary file written through the kernel on every operation.
            .and_then(|_| conn.pragma_update(None, "temp_store", "MEMORY"))
            // Without the planner's stability guarantee, SQLite (3.54) marks a statement whose
            // plan weighed a `col = ?` term as depending on the bound value, and rusqlite's
            // statement cache clears the bindings of every statement it takes back: the next
            // use re-parses and re-plans it. That was an eighth of the store thread's time on
            // `benches/gateway.sh`; the plans here never depend on values (no ANALYZE data).
            .and_then(|_| conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true))
            .map(|_| ())
            .map_err(|e| connect(format!("setting up the connection: {e}")))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        migrate(&mut conn)?;
        let work = connection_thread(conn).map_err(|e| StoreError::Query {
            op: "sqlite",
            message: format!("cannot start the SQLite connection's thread: {e}"),
        })?;
        Ok(SqliteStore { work })
    }

    /// Runs `f` with the connection on the connection's own thread; answers once what `f` wrote
    /// is committed.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let work: Work = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit_failed| {
                let result = match commit_failed {
                    Some(message) if ok => Err(StoreError::Query {
                        op: "sqlite commit",
                        message,
                    }),
                    _ => result,
                };
                // The caller may have gone (its request was dropped): nothing to tell it.
                let _ = answer.send(result);
            });
            (reply, ok)
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

/// Tells an operation's caller how it went, once its batch is committed: `Some(message)` when
/// the commit failed.
type Reply = Box<dyn FnOnce(Option<String>) + Send>;
/// One operation for the connection's thread: runs, says whether it succeeded, and gives the
/// reply to send after the commit.
type Work = Box<dyn FnOnce(&mut Connection) -> (Reply, bool) + Send>;

/// Operations committed together at most.
const MAX_BATCH: usize = 256;

/// The thread that owns the connection. It runs operations in arrival order and ends when the
/// last `SqliteStore` clone is dropped.
///
/// Group commit: whatever queued up while the previous batch ran is run in ONE transaction,
/// each operation inside its own savepoint (a failing operation rolls back only itself), and
/// every caller is answered after the COMMIT. Under load a commit — the WAL append and its
/// file locking — is paid once per batch instead of once per statement; alone, an operation
/// runs as before.
fn connection_thread(mut conn: Connection) -> std::io::Result<std::sync::mpsc::Sender<Work>> {
    let (work, queue) = std::sync::mpsc::channel::<Work>();
    std::thread::Builder::new()
        .name("pushtrace-sqlite".into())
        .spawn(move || {
            while let Ok(first) = queue.recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                run_batch(&mut conn, batch);
            }
        })?;
    Ok(work)
}

fn run_batch(conn: &mut Connection, batch: Vec<Work>) {
    if batch.len() == 1 || run_cached(conn, "BEGIN IMMEDIATE").is_err() {
        for job in batch {
            if let Some((reply, _)) = run_guarded(conn, job) {
                reply(None);
            }
        }
        return;
    }
    let mut replies = Vec::with_capacity(batch.len());
    for job in batch {
        let savepoint = run_cached(conn, "SAVEPOINT operation").is_ok();
        let outcome = run_guarded(conn, job);
        let ok = outcome.as_ref().is_some_and(|(_, ok)| *ok);
        if savepoint {
            if !ok {
                let _ = run_cached(conn, "ROLLBACK TO operation");
            }
            let _ = run_cached(conn, "RELEASE operation");
        }
        replies.extend(outcome.map(|(reply, _)| reply));
    }
    let commit_failed = run_cached(conn, "COMMIT").err().map(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        format!("the transaction could not be committed: {e}")
    });
    for reply in replies {
        reply(commit_failed.clone());
    }
}

/// Runs a statement without parameters through the statement cache: the batch's savepoint
/// statements run twice per operation, and `execute_batch` would parse them every time.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs one operation; a panic must not take the connection down with it: its caller gets an
/// error (its answer is dropped) and `None` comes back.
fn run_guarded(conn: &mut Connection, job: Work) -> Option<(Reply, bool)> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn))).ok()
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
/// finds its snapshot stale (`SQLITE_BUSY_SNAPSHOT`) if another process wrote meanwhile. Inside
/// a group-commit batch (a transaction is already open) it is a savepoint of that transaction.
fn write_tx<'c>(conn: &'c mut Connection, op: &'static str) -> Result<WriteTx<'c>, StoreError> {
    if conn.is_autocommit() {
        conn.transaction_with_behavior(TransactionBehavior::Immediate)
            .map(WriteTx::Transaction)
            .op(op)
    } else {
        conn.savepoint().map(WriteTx::Savepoint).op(op)
    }
}

/// [`write_tx`]'s transaction or savepoint.
enum WriteTx<'c> {
    Transaction(rusqlite::Transaction<'c>),
    Savepoint(rusqlite::Savepoint<'c>),
}

impl WriteTx<'_> {
    fn commit(self) -> rusqlite::Result<()> {
        match self {
            WriteTx::Transaction(tx) => tx.commit(),
            WriteTx::Savepoint(sp) => sp.commit(),
        }
    }
}

impl std::ops::Deref for WriteTx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            WriteTx::Transaction(tx) => tx,
            WriteTx::Savepoint(sp) => sp,
        }
    }
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
