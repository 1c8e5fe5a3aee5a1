//! Provider-token checks (docs/reference/apns.md §2.1): every 403 reason and the per-connection
//! 20-minute token-update rule, with a manual clock instead of sleeps.

mod common;

use std::time::Duration;

use common::{KEY_ID, NOW_SECS, Req, TEAM_ID, bearer, connect, send_once, start};
use p256::elliptic_curve::Generate as _;
use pushtrace_apns::{Environment, KeyScope, ProviderKey, ProviderToken, Reason, SigningKey};

fn other_key() -> SigningKey {
    SigningKey::from_p256(p256::ecdsa::SigningKey::generate())
}

#[tokio::test]
async fn missing_authorization_is_missing_provider_token() {
    let emulator = start().await;
    let reply = send_once(&emulator, &Req::voip().without("authorization")).await;
    reply.assert_reason(403, Reason::MissingProviderToken);
}

#[tokio::test]
async fn garbage_token_is_invalid_provider_token() {
    let emulator = start().await;
    let reply = send_once(&emulator, &Req::voip().set("authorization", "bearer a.b.c")).await;
    reply.assert_reason(403, Reason::InvalidProviderToken);
}

#[tokio::test]
async fn token_signed_by_another_key_is_invalid_provider_token() {
    let emulator = start().await;
    let forged = ProviderToken::sign(&other_key(), KEY_ID, TEAM_ID, NOW_SECS).unwrap();
    let reply = send_once(
        &emulator,
        &Req::voip().set("authorization", forged.authorization()),
    )
    .await;
    reply.assert_reason(403, Reason::InvalidProviderToken);
}

#[tokio::test]
async fn token_older_than_an_hour_is_expired_provider_token() {
    let emulator = start().await;
    let reply = send_once(
        &emulator,
        &Req::voip().set("authorization", bearer(NOW_SECS - 3601)),
    )
    .await;
    reply.assert_reason(403, Reason::ExpiredProviderToken);
}

#[tokio::test]
async fn token_ages_out_on_the_emulator_clock() {
    let emulator = start().await;
    let client = connect(&emulator, Environment::Sandbox).await;
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
    emulator.clock().advance(Duration::from_secs(3601));
    let reply = Req::voip().send(&client).await.unwrap();
    reply.assert_reason(403, Reason::ExpiredProviderToken);
}

#[tokio::test]
async fn second_key_on_one_connection_is_unrelated_key_id_in_token() {
    let second = other_key();
    let emulator = common::builder()
        .key(
            "TESTKEY002",
            ProviderKey::new(TEAM_ID, second.verifying_key()),
        )
        .start()
        .await
        .unwrap();
    let client = connect(&emulator, Environment::Sandbox).await;
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
    let token = ProviderToken::sign(&second, "TESTKEY002", TEAM_ID, NOW_SECS).unwrap();
    let reply = Req::voip()
        .set("authorization", token.authorization())
        .send(&client)
        .await
        .unwrap();
    reply.assert_reason(403, Reason::UnrelatedKeyIdInToken);
    // The same key is fine on its own connection.
    let fresh = connect(&emulator, Environment::Sandbox).await;
    let ok = Req::voip()
        .set("authorization", token.authorization())
        .send(&fresh)
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn production_only_key_on_sandbox_is_bad_environment_key_id_in_token() {
    let key = ProviderKey::new(TEAM_ID, common::signing_key().verifying_key())
        .with_scope(KeyScope::Production);
    let emulator = common::builder().key(KEY_ID, key).start().await.unwrap();
    let reply = send_once(&emulator, &Req::voip()).await;
    reply.assert_reason(403, Reason::BadEnvironmentKeyIdInToken);
}

#[tokio::test]
async fn new_token_within_20_minutes_is_too_many_provider_token_updates_then_locked() {
    let emulator = common::builder()
        .token_update_lockout(Duration::from_secs(300))
        .start()
        .await
        .unwrap();
    let client = connect(&emulator, Environment::Sandbox).await;
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);

    emulator.clock().advance(Duration::from_secs(60));
    let newer = Req::voip().set("authorization", bearer(NOW_SECS + 60));
    newer
        .send(&client)
        .await
        .unwrap()
        .assert_reason(429, Reason::TooManyProviderTokenUpdates);
    // Locked: even the original token is refused now.
    Req::voip()
        .send(&client)
        .await
        .unwrap()
        .assert_reason(429, Reason::TooManyProviderTokenUpdates);
    // Another connection is not affected.
    let other = connect(&emulator, Environment::Sandbox).await;
    assert_eq!(newer.send(&other).await.unwrap().status, 200);

    // After the lock-out the original token works again on the first connection.
    emulator.clock().advance(Duration::from_secs(301));
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
}

#[tokio::test]
async fn new_token_after_20_minutes_is_accepted() {
    let emulator = start().await;
    let client = connect(&emulator, Environment::Sandbox).await;
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
    emulator.clock().advance(Duration::from_secs(20 * 60));
    let newer = Req::voip().set("authorization", bearer(NOW_SECS + 20 * 60));
    assert_eq!(newer.send(&client).await.unwrap().status, 200);
}
