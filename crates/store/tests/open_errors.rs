//! Opening a store with a bad URL, an unreachable server or an unusable path fails with an
//! error that says what and what to do — and never shows a password.

use pushtrace_store::{Backend, Store, StoreBuilder, StoreError};

#[tokio::test]
async fn unknown_scheme_is_refused_without_the_password() {
    let err = Store::open("mysql://admin:hunter2@db/pushtrace")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Invalid { .. }), "{message}");
    assert!(
        message.contains("postgres://") && message.contains("sqlite:"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn malformed_postgres_url_is_invalid() {
    let err = Store::open("postgres://bob:hunter2@127.0.0.1:notaport/db")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Invalid { .. }), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn unreachable_postgres_says_how_to_check() {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    let err = Store::open("postgres://bob:hunter2@127.0.0.1:9/db")
        .await
        .unwrap_err();
    let message = err.to_string();
    let StoreError::Connect {
        backend, target, ..
    } = &err
    else {
        panic!("expected a connect error, got {message}");
    };
    assert_eq!(*backend, Backend::Postgres);
    assert_eq!(target, "127.0.0.1:9/db");
    assert!(
        message.contains("pg_isready -h 127.0.0.1 -p 9"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn missing_postgres_database_says_how_to_create_it() {
    let url = harness_url_with_database("pushtrace_no_such_db");
    let err = Store::open(&url).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Connect { .. }), "{message}");
    assert!(message.contains("createdb"), "{message}");
}

#[tokio::test]
async fn sqlite_in_a_missing_directory_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/pushtrace.db");
    let err = StoreBuilder::sqlite(&path).open().await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            StoreError::Connect {
                backend: Backend::Sqlite,
                ..
            }
        ),
        "{message}"
    );
    assert!(
        message.contains("no/such/dir") && message.contains("directory exists"),
        "{message}"
    );
}

#[tokio::test]
async fn sqlite_rejects_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "this is not a database, just some text long enough to matter ".repeat(20),
    )
    .unwrap();
    let err = Store::open(&format!("sqlite:{}", path.display()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("SQLite database"), "{err}");
}

#[tokio::test]
async fn schema_and_pool_options_are_checked() {
    let err = StoreBuilder::sqlite_memory()
        .schema("t_x")
        .open()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("PostgreSQL option"), "{err}");
    let err = StoreBuilder::postgres("postgres://u@127.0.0.1/test")
        .schema("Robert'); DROP TABLE students;--")
        .open()
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    let err = StoreBuilder::postgres("postgres://u@127.0.0.1/test")
        .pool_size(0)
        .open()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pool size"), "{err}");
}

#[tokio::test]
async fn memory_url_opens_sqlite() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert_eq!(store.backend().to_string(), "sqlite");
    assert_eq!(Backend::Postgres.to_string(), "postgresql");
}

/// The test server's URL with another database name.
fn harness_url_with_database(db: &str) -> String {
    let url = std::env::var("PUSHTRACE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let base = url.split('?').next().unwrap_or(&url);
    match base.rfind('/') {
        Some(slash) if slash > base.find("://").map_or(0, |i| i + 2) => {
            format!("{}/{db}", &base[..slash])
        }
        _ => format!("{base}/{db}"),
    }
}
