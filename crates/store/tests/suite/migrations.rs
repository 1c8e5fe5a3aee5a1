use pushtrace_store::StoreError;

use super::{new_call, registration};
use crate::harness::Harness;

pub async fn reopen_is_idempotent(h: &Harness) {
    h.store
        .register_token(&registration("alice", "t1", 0))
        .await
        .unwrap();
    h.store
        .create_call(&new_call("c1", "b1"), &[], &[])
        .await
        .unwrap();
    for _ in 0..2 {
        let again = h.reopen().await.unwrap();
        assert_eq!(again.backend(), h.store.backend());
        assert!(again.token("acme", "t1").await.unwrap().is_some());
        assert!(again.call("c1").await.unwrap().is_some());
    }
    // Each version is recorded once: recording version 1 again must collide.
    let duplicate = h
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'initial', 0)",
        )
        .await;
    assert!(duplicate.is_err());
}

pub async fn newer_schema_is_refused(h: &Harness) {
    h.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
    )
    .await
    .unwrap();
    let err = h.reopen().await.unwrap_err();
    assert!(
        matches!(err, StoreError::Migrate { version: 999, .. }),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains("999") && message.contains("newer pushtrace"),
        "{message}"
    );
    // The store already open keeps working: nothing was changed.
    assert!(h.store.apps().await.is_ok());
}
