use pushtrace_store::App;

use super::{at, registration};
use crate::harness::Harness;

pub async fn apps_are_upserted(h: &Harness) {
    let store = &h.store;
    assert!(store.apps().await.unwrap().is_empty());
    let mut app = App {
        name: "acme".into(),
        bundle_id: "com.acme.call".into(),
        environment: "sandbox".into(),
    };
    store.upsert_app(&app).await.unwrap();
    app.environment = "production".into();
    store.upsert_app(&app).await.unwrap();
    let other = App {
        name: "a-first".into(),
        bundle_id: "com.first".into(),
        environment: "sandbox".into(),
    };
    store.upsert_app(&other).await.unwrap();
    assert_eq!(store.apps().await.unwrap(), vec![other, app]);
}

pub async fn registering_again_revives_a_token(h: &Harness) {
    let store = &h.store;
    let token = store
        .register_token(&registration("alice", "t1", 0))
        .await
        .unwrap();
    assert_eq!(token.user, "alice");
    assert_eq!(token.registered_at, at(0));
    assert_eq!(token.invalidated_at, None);
    assert_eq!(token.attrs["model"], "iPhone17,1");
    assert!(store.unregister_token("acme", "t1", at(5)).await.unwrap());

    let mut again = registration("alice2", "t1", 10);
    again.attrs.insert("carrier".into(), "Orange".into());
    let token = store.register_token(&again).await.unwrap();
    assert_eq!(token.user, "alice2");
    assert_eq!(token.registered_at, at(10));
    assert_eq!(token.invalidated_at, None);
    assert_eq!(token.invalidated_reason, None);
    assert_eq!(token.attrs["carrier"], "Orange");
    assert_eq!(store.token("acme", "t1").await.unwrap(), Some(token));
    assert_eq!(store.token("acme", "nope").await.unwrap(), None);
    assert_eq!(store.token("other-app", "t1").await.unwrap(), None);
}

pub async fn unregister_invalidates_once(h: &Harness) {
    let store = &h.store;
    assert!(!store.unregister_token("acme", "t1", at(1)).await.unwrap());
    store
        .register_token(&registration("alice", "t1", 0))
        .await
        .unwrap();
    assert!(store.unregister_token("acme", "t1", at(1)).await.unwrap());
    assert!(!store.unregister_token("acme", "t1", at(2)).await.unwrap());
    let token = store.token("acme", "t1").await.unwrap().unwrap();
    assert_eq!(token.invalidated_at, Some(at(1)));
    assert_eq!(token.invalidated_reason.as_deref(), Some("unregistered"));
}

pub async fn invalidation_follows_the_410_rule(h: &Harness) {
    let store = &h.store;
    assert!(
        !store
            .invalidate_token("acme", "t1", at(5), "Unregistered")
            .await
            .unwrap()
    );
    store
        .register_token(&registration("alice", "t1", 10))
        .await
        .unwrap();
    // APNs learnt the token was dead before the app registered it again: keep it.
    assert!(
        !store
            .invalidate_token("acme", "t1", at(5), "Unregistered")
            .await
            .unwrap()
    );
    assert!(
        !store
            .invalidate_token("acme", "t1", at(10), "Unregistered")
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .token("acme", "t1")
            .await
            .unwrap()
            .unwrap()
            .invalidated_at,
        None
    );
    // After the last registration: invalid.
    assert!(
        store
            .invalidate_token("acme", "t1", at(20), "Unregistered")
            .await
            .unwrap()
    );
    let token = store.token("acme", "t1").await.unwrap().unwrap();
    assert_eq!(token.invalidated_at, Some(at(20)));
    assert_eq!(token.invalidated_reason.as_deref(), Some("Unregistered"));
    // Already invalid: not again.
    assert!(
        !store
            .invalidate_token("acme", "t1", at(30), "BadDeviceToken")
            .await
            .unwrap()
    );
    // Registered again after the 410: valid again.
    store
        .register_token(&registration("alice", "t1", 40))
        .await
        .unwrap();
    let token = store.token("acme", "t1").await.unwrap().unwrap();
    assert_eq!(token.invalidated_at, None);
}

pub async fn active_tokens_are_the_valid_ones_oldest_first(h: &Harness) {
    let store = &h.store;
    store
        .register_token(&registration("alice", "t-new", 30))
        .await
        .unwrap();
    store
        .register_token(&registration("alice", "t-old", 10))
        .await
        .unwrap();
    store
        .register_token(&registration("alice", "t-dead", 20))
        .await
        .unwrap();
    store
        .register_token(&registration("bob", "t-bob", 5))
        .await
        .unwrap();
    let mut elsewhere = registration("alice", "t-other-app", 1);
    elsewhere.app = "other".into();
    store.register_token(&elsewhere).await.unwrap();
    store
        .unregister_token("acme", "t-dead", at(25))
        .await
        .unwrap();
    let active = store.active_tokens("acme", "alice").await.unwrap();
    let names: Vec<&str> = active.iter().map(|t| t.token.as_str()).collect();
    assert_eq!(names, ["t-old", "t-new"]);
    assert!(
        store
            .active_tokens("acme", "nobody")
            .await
            .unwrap()
            .is_empty()
    );
}
