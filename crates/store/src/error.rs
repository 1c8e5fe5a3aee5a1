//! What can go wrong in the store, said so that the reader knows what to do next.

use crate::Backend;

/// Every failure of the store. Messages name the backend and, for connections, the target
/// (`host:port/database`, never a password) and end with what to try.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or reached.
    #[error("cannot connect to {backend} at {target}: {message}")]
    Connect {
        backend: Backend,
        target: String,
        message: String,
    },
    /// A schema migration failed, or the database is newer than this build.
    #[error("schema migration {version} failed: {message}")]
    Migrate { version: u32, message: String },
    /// A statement failed; `op` is the store operation (`create_call`, `claim_due`, …).
    #[error("store operation {op} failed: {message}")]
    Query { op: &'static str, message: String },
    /// The caller passed something the store cannot use (a bad URL, day, schema name, …).
    #[error("invalid {what}: {message}")]
    Invalid { what: String, message: String },
}

impl StoreError {
    pub(crate) fn invalid(what: impl Into<String>, message: impl Into<String>) -> StoreError {
        StoreError::Invalid {
            what: what.into(),
            message: message.into(),
        }
    }
}

/// Attaches the operation name and backend to a driver error.
pub(crate) trait QueryContext<T> {
    fn op(self, op: &'static str) -> Result<T, StoreError>;
}

impl<T> QueryContext<T> for Result<T, rusqlite::Error> {
    fn op(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Query {
            op,
            message: format!("sqlite: {e}"),
        })
    }
}

impl<T> QueryContext<T> for Result<T, tokio_postgres::Error> {
    fn op(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Query {
            op,
            message: format!("postgresql: {}", pg_message(&e)),
        })
    }
}

impl<T> QueryContext<T> for Result<T, deadpool_postgres::PoolError> {
    fn op(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| {
            let cause = match &e {
                deadpool_postgres::PoolError::Backend(e) => pg_message(e),
                other => other.to_string(),
            };
            StoreError::Query {
                op,
                message: format!(
                    "postgresql: no connection from the pool: {cause} — is PostgreSQL still \
                     running? (`pg_isready`)"
                ),
            }
        })
    }
}

/// A PostgreSQL error with the server's own message and detail when there is one (the
/// driver's `Display` says only "db error").
pub(crate) fn pg_message(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}
