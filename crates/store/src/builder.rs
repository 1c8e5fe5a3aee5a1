//! Choosing and opening a backend: [`StoreBuilder`] and the URL forms of [`Store::open`].

use std::path::PathBuf;

use crate::{Store, StoreError, postgres, sqlite};

/// PostgreSQL connections a store keeps open unless [`StoreBuilder::pool_size`] says otherwise.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// Where a store lives, and how to open it.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use pushtrace_store::{Backend, StoreBuilder};
/// let store = StoreBuilder::sqlite_memory().open().await.unwrap();
/// assert_eq!(store.backend(), Backend::Sqlite);
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct StoreBuilder {
    target: Target,
    schema: Option<String>,
    pool_size: usize,
}

#[derive(Clone, Debug)]
enum Target {
    SqliteFile(PathBuf),
    SqliteMemory,
    Postgres(String),
}

impl StoreBuilder {
    /// A SQLite database file, created when missing.
    pub fn sqlite(path: impl Into<PathBuf>) -> StoreBuilder {
        StoreBuilder::new(Target::SqliteFile(path.into()))
    }

    /// A private SQLite database in memory, gone when the store is dropped.
    pub fn sqlite_memory() -> StoreBuilder {
        StoreBuilder::new(Target::SqliteMemory)
    }

    /// A PostgreSQL database, `postgres://user[:password]@host[:port]/database`.
    pub fn postgres(url: impl Into<String>) -> StoreBuilder {
        StoreBuilder::new(Target::Postgres(url.into()))
    }

    fn new(target: Target) -> StoreBuilder {
        StoreBuilder {
            target,
            schema: None,
            pool_size: DEFAULT_POOL_SIZE,
        }
    }

    /// PostgreSQL only: keep every table in this schema (created when missing), so tests and
    /// tenants can share one database. Lowercase letters, digits and `_`, not starting with a
    /// digit (so it needs no quoting and cannot be mistaken for another after case folding).
    pub fn schema(mut self, name: &str) -> StoreBuilder {
        self.schema = Some(name.to_string());
        self
    }

    /// PostgreSQL connections kept open (default [`DEFAULT_POOL_SIZE`]). Each connection runs one statement at a
    /// time, so this bounds the store's concurrency per instance.
    pub fn pool_size(mut self, n: usize) -> StoreBuilder {
        self.pool_size = n;
        self
    }

    /// Opens the database and applies pending migrations.
    pub async fn open(self) -> Result<Store, StoreError> {
        if !matches!(self.target, Target::Postgres(_)) {
            self.schema_is_for_postgres()?;
        }
        match self.target {
            Target::SqliteFile(path) => sqlite::SqliteStore::open_file(path)
                .await
                .map(Store::sqlite),
            Target::SqliteMemory => sqlite::SqliteStore::open_memory().await.map(Store::sqlite),
            Target::Postgres(ref url) => {
                if self.pool_size == 0 {
                    return Err(StoreError::invalid(
                        "pool size",
                        "0 connections cannot run anything: give at least 1",
                    ));
                }
                if let Some(schema) = &self.schema {
                    check_schema_name(schema)?;
                }
                postgres::PgStore::open(url, self.schema.as_deref(), self.pool_size)
                    .await
                    .map(Store::postgres)
            }
        }
    }

    fn schema_is_for_postgres(&self) -> Result<(), StoreError> {
        match &self.schema {
            Some(schema) => Err(StoreError::invalid(
                "schema",
                format!(
                    "{schema:?} was given for a SQLite store; schemas are a PostgreSQL option \
                     (use another database file instead)"
                ),
            )),
            None => Ok(()),
        }
    }

    /// Reads the URL forms of [`Store::open`].
    pub(crate) fn from_url(url: &str) -> Result<StoreBuilder, StoreError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreBuilder::postgres(url));
        }
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            return Ok(StoreBuilder::sqlite_memory());
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if let Some((scheme, _)) = url.split_once("://")
            && !url.starts_with("sqlite:")
        {
            return Err(StoreError::invalid(
                "store URL",
                format!(
                    "{} has scheme {scheme:?}; use postgres://…, sqlite:PATH, sqlite::memory: \
                     or a file path",
                    redact(url)
                ),
            ));
        }
        if path.is_empty() {
            return Err(StoreError::invalid(
                "store URL",
                "it is empty; use postgres://…, sqlite:PATH, sqlite::memory: or a file path",
            ));
        }
        Ok(StoreBuilder::sqlite(path))
    }
}

fn check_schema_name(name: &str) -> Result<(), StoreError> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63;
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "schema",
            format!(
                "{name:?}: use 1 to 63 lowercase ASCII letters, digits and '_', not starting with \
                 a digit"
            ),
        ))
    }
}

/// The URL with any password replaced by `***`, fit for an error message.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split_once(':').map_or(user_info, |(u, _)| u);
            let hidden = if user_info.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_passwords_only() {
        assert_eq!(
            redact("postgres://bob:s3cret@db:5432/x?sslmode=disable"),
            "postgres://bob:***@db:5432/x?sslmode=disable"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact("pushtrace.db"), "pushtrace.db");
    }

    #[test]
    fn url_forms() {
        let target = |url| StoreBuilder::from_url(url).map(|b| format!("{:?}", b.target));
        assert!(target("postgresql://x/y").unwrap().starts_with("Postgres"));
        assert_eq!(target("sqlite::memory:").unwrap(), "SqliteMemory");
        assert_eq!(target("sqlite:a/b.db").unwrap(), "SqliteFile(\"a/b.db\")");
        assert_eq!(target("sqlite://a.db").unwrap(), "SqliteFile(\"a.db\")");
        assert_eq!(
            target("pushtrace.db").unwrap(),
            "SqliteFile(\"pushtrace.db\")"
        );
        let err = target("mysql://u:pw@h/d").unwrap_err().to_string();
        assert!(err.contains("\"mysql\"") && !err.contains("pw"), "{err}");
        assert!(target("  ").is_err());
        assert!(check_schema_name("t_abc1").is_ok());
        assert!(check_schema_name("1x").is_err());
        assert!(check_schema_name("Tenant").is_err());
        assert!(check_schema_name("a\"; drop").is_err());
    }
}
