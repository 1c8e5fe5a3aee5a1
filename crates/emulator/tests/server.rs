//! The emulator end to end: an accepted VoIP push, environments, 410, 429, GOAWAY after errors,
//! the one-stream-until-authenticated rule, h2c and the CA file.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{APNS_ID, NOW_MS, OTHER_TOKEN, Req, TOKEN, TOPIC, connect, send_once, start, token};
use pushtrace_apns::{ApnsId, Environment, Priority, PushType, Reason};
use pushtrace_emulator::{Device, ExcessStreams, RateLimit};

#[tokio::test]
async fn accepted_voip_push_in_sandbox_echoes_apns_id_adds_unique_id_and_is_logged() {
    let emulator = start().await;
    let reply = send_once(&emulator, &Req::voip()).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());
    assert_eq!(reply.header("apns-id"), Some(APNS_ID));
    let unique = reply
        .header("apns-unique-id")
        .expect("sandbox answers apns-unique-id");
    assert!(ApnsId::parse(unique).is_ok());

    let log = emulator.accepted();
    assert_eq!(log.len(), 1);
    let push = &log[0];
    assert_eq!(push.environment, Environment::Sandbox);
    assert_eq!(push.apns_id.to_string(), APNS_ID);
    assert_eq!(
        push.unique_id.map(|u| u.to_string()).as_deref(),
        Some(unique)
    );
    assert_eq!(push.token, token(TOKEN));
    assert_eq!(push.topic, TOPIC);
    assert_eq!(push.push_type, Some(PushType::Voip));
    assert_eq!(push.priority, Priority::Immediate);
    assert_eq!(push.expiration, Some(0));
    assert_eq!(&push.payload[..], br#"{"call_id":"c-1","caller":"Ann"}"#);
    assert_eq!(push.received_at_ms, NOW_MS);
}

#[tokio::test]
async fn production_has_no_unique_id_and_generates_apns_id() {
    let emulator = common::builder()
        .device(Environment::Production, TOPIC, token(OTHER_TOKEN))
        .start()
        .await
        .unwrap();
    let client = connect(&emulator, Environment::Production).await;
    let req = Req::voip()
        .path(format!("/3/device/{OTHER_TOKEN}"))
        .without("apns-id");
    let reply = req.send(&client).await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("apns-unique-id"), None);
    let id = reply.header("apns-id").unwrap();
    assert!(ApnsId::parse(id).is_ok(), "{id}");
    assert_eq!(emulator.accepted()[0].apns_id.to_string(), id);
    assert_eq!(emulator.accepted()[0].unique_id, None);
}

#[tokio::test]
async fn errors_in_production_carry_no_unique_id() {
    let emulator = start().await;
    let client = connect(&emulator, Environment::Production).await;
    let reply = Req::voip().send(&client).await.unwrap();
    reply.assert_reason(400, Reason::BadDeviceToken);
    assert_eq!(reply.header("apns-unique-id"), None);
    assert_eq!(reply.header("apns-id"), Some(APNS_ID));
}

#[tokio::test]
async fn sandbox_token_used_on_production_is_bad_device_token() {
    let emulator = start().await;
    assert_ne!(
        emulator.addr(Environment::Sandbox),
        emulator.addr(Environment::Production)
    );
    assert!(emulator.addr(Environment::Sandbox).ip().is_loopback());
    let client = connect(&emulator, Environment::Production).await;
    Req::voip()
        .send(&client)
        .await
        .unwrap()
        .assert_reason(400, Reason::BadDeviceToken);
    assert!(emulator.accepted().is_empty());
}

#[tokio::test]
async fn unregistered_token_is_410_with_its_timestamp_and_does_not_close_the_connection() {
    let at = NOW_MS - 5_000;
    let emulator = common::builder()
        .device_entry(
            Device::new(Environment::Sandbox, TOPIC, token(OTHER_TOKEN)).unregistered_at(at),
        )
        .error_limit(Some(2))
        .start()
        .await
        .unwrap();
    let client = connect(&emulator, Environment::Sandbox).await;
    let gone = Req::voip().path(format!("/3/device/{OTHER_TOKEN}"));
    for _ in 0..5 {
        let reply = gone.send(&client).await.unwrap();
        reply.assert_reason(410, Reason::Unregistered);
        assert_eq!(reply.error().timestamp_ms, Some(at));
        assert!(String::from_utf8_lossy(&reply.body).contains(&format!("\"timestamp\":{at}")));
    }
    // 410s do not count as errors: the connection still serves.
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);

    // Registering the token again makes it live.
    emulator.register_device(Device::new(Environment::Sandbox, TOPIC, token(OTHER_TOKEN)));
    assert_eq!(gone.send(&client).await.unwrap().status, 200);
}

#[tokio::test]
async fn unregistration_in_the_future_takes_effect_on_the_clock() {
    let emulator = start().await;
    emulator.unregister_device(Environment::Sandbox, TOPIC, token(TOKEN), NOW_MS + 1_000);
    let client = connect(&emulator, Environment::Sandbox).await;
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
    emulator.clock().advance(Duration::from_secs(1));
    Req::voip()
        .send(&client)
        .await
        .unwrap()
        .assert_reason(410, Reason::Unregistered);
}

#[tokio::test]
async fn too_many_pushes_to_one_token_is_429_too_many_requests() {
    let emulator = common::builder()
        .per_token_rate(Some(RateLimit {
            requests: 2,
            window: Duration::from_secs(10),
        }))
        .start()
        .await
        .unwrap();
    let client = connect(&emulator, Environment::Sandbox).await;
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
    Req::voip()
        .send(&client)
        .await
        .unwrap()
        .assert_reason(429, Reason::TooManyRequests);
    assert_eq!(emulator.accepted().len(), 2);
    emulator.clock().advance(Duration::from_secs(10));
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
}

#[tokio::test]
async fn connection_gets_goaway_after_too_many_errors() {
    let emulator = common::builder()
        .error_limit(Some(3))
        .start()
        .await
        .unwrap();
    let client = connect(&emulator, Environment::Sandbox).await;
    let bad = Req::voip().set("apns-priority", "7");
    for _ in 0..3 {
        bad.send(&client)
            .await
            .unwrap()
            .assert_reason(400, Reason::BadPriority);
    }
    let after = tokio::time::timeout(Duration::from_secs(5), Req::voip().send(&client))
        .await
        .expect("the closed connection answers at once");
    assert!(after.is_err(), "the connection should be closed: {after:?}");
    // A new connection is fine.
    assert_eq!(send_once(&emulator, &Req::voip()).await.status, 200);
}

#[tokio::test]
async fn bad_device_token_counts_heavier() {
    let emulator = common::builder()
        .error_limit(Some(10))
        .start()
        .await
        .unwrap();
    let client = connect(&emulator, Environment::Sandbox).await;
    let unknown = Req::voip().path(format!("/3/device/{OTHER_TOKEN}"));
    unknown
        .send(&client)
        .await
        .unwrap()
        .assert_reason(400, Reason::BadDeviceToken);
    let after = tokio::time::timeout(Duration::from_secs(5), Req::voip().send(&client))
        .await
        .expect("the closed connection answers at once");
    assert!(
        after.is_err(),
        "one BadDeviceToken (weight 10) should close: {after:?}"
    );
}

/// Starts a request whose body is not finished: the stream stays open on the server.
fn open_stream(
    client: &mut h2::client::SendRequest<Bytes>,
    req: &Req,
) -> (h2::client::ResponseFuture, h2::SendStream<Bytes>) {
    client.send_request(req.request(), false).unwrap()
}

#[tokio::test]
async fn before_the_first_valid_token_a_second_stream_waits_even_if_the_client_ignores_settings() {
    // With the full limit advertised, the h2 client opens the second stream at once: the
    // server's own gate must hold it.
    let emulator = common::builder()
        .advertise_pre_auth_limit(false)
        .start()
        .await
        .unwrap();
    let client = connect(&emulator, Environment::Sandbox).await;
    let mut ready = client.clone().ready().await.unwrap();
    let (first, mut first_body) = open_stream(&mut ready, &Req::voip());
    // Give the server time to take the first stream.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = tokio::spawn({
        let client = client.clone();
        async move { Req::voip().send(&client).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "the second stream was served before authentication"
    );
    first_body
        .send_data(Bytes::from_static(br#"{"call_id":"c-1"}"#), true)
        .unwrap();
    assert_eq!(common::read(first).await.unwrap().status, 200);
    assert_eq!(second.await.unwrap().unwrap().status, 200);

    // Authenticated: two open streams are served side by side.
    let mut ready = client.clone().ready().await.unwrap();
    let (a, mut a_body) = open_stream(&mut ready, &Req::voip());
    let mut ready = client.clone().ready().await.unwrap();
    let (b, mut b_body) = open_stream(&mut ready, &Req::voip());
    b_body.send_data(Bytes::from_static(b"{}"), true).unwrap();
    let b = tokio::time::timeout(Duration::from_secs(5), common::read(b))
        .await
        .expect("served while the other stream is open");
    assert_eq!(b.unwrap().status, 200);
    a_body.send_data(Bytes::from_static(b"{}"), true).unwrap();
    assert_eq!(common::read(a).await.unwrap().status, 200);
}

#[tokio::test]
async fn refuse_mode_resets_a_second_stream_before_authentication() {
    let emulator = common::builder()
        .excess_streams(ExcessStreams::Refuse)
        .advertise_pre_auth_limit(false)
        .start()
        .await
        .unwrap();
    let client = connect(&emulator, Environment::Sandbox).await;
    let mut ready = client.clone().ready().await.unwrap();
    let (first, mut first_body) = open_stream(&mut ready, &Req::voip());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = Req::voip().send(&client).await.unwrap_err();
    assert_eq!(
        refused.reason(),
        Some(h2::Reason::REFUSED_STREAM),
        "{refused:?}"
    );
    first_body
        .send_data(Bytes::from_static(b"{}"), true)
        .unwrap();
    assert_eq!(common::read(first).await.unwrap().status, 200);

    let mut ready = client.clone().ready().await.unwrap();
    let (a, mut a_body) = open_stream(&mut ready, &Req::voip());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
    a_body.send_data(Bytes::from_static(b"{}"), true).unwrap();
    assert_eq!(common::read(a).await.unwrap().status, 200);
}

#[tokio::test]
async fn failed_authentication_lets_the_next_stream_through() {
    let emulator = start().await;
    let client = connect(&emulator, Environment::Sandbox).await;
    Req::voip()
        .without("authorization")
        .send(&client)
        .await
        .unwrap()
        .assert_reason(403, Reason::MissingProviderToken);
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
}

#[tokio::test]
async fn h2c_listeners_serve_cleartext_http2() {
    let emulator = common::builder().h2c(true).start().await.unwrap();
    let addr = emulator
        .h2c_addr(Environment::Sandbox)
        .expect("h2c enabled");
    assert!(addr.ip().is_loopback());
    let client = common::connect_h2c(addr).await;
    let reply = Req::voip().send(&client).await.unwrap();
    assert_eq!(reply.status, 200);
    assert!(reply.header("apns-unique-id").is_some());

    let production = emulator.h2c_addr(Environment::Production).unwrap();
    let client = common::connect_h2c(production).await;
    Req::voip()
        .send(&client)
        .await
        .unwrap()
        .assert_reason(400, Reason::BadDeviceToken);
}

#[tokio::test]
async fn h2c_is_off_by_default() {
    let emulator = start().await;
    assert_eq!(emulator.h2c_addr(Environment::Sandbox), None);
}

#[tokio::test]
async fn ca_is_written_to_the_named_file_and_verifies_the_server() {
    let dir = std::env::temp_dir().join(format!("pushtrace-emulator-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ca.pem");
    let emulator = common::builder().ca_pem_path(&path).start().await.unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written, emulator.ca_pem());
    assert_eq!(emulator.ca_pem_path(), Some(path.as_path()));
    let client = common::connect_tls(emulator.addr(Environment::Sandbox), &written).await;
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn client_that_does_not_trust_the_ca_fails_the_handshake() {
    let emulator = start().await;
    let other = common::builder().start().await.unwrap();
    let addr = emulator.addr(Environment::Sandbox);
    let result = tokio::spawn({
        let pem = other.ca_pem().to_owned();
        async move { common::connect_tls(addr, &pem).await }
    })
    .await;
    assert!(result.is_err(), "a foreign CA must not verify the server");
}

async fn wait_for(limit: &mut tokio::sync::watch::Receiver<usize>, want: usize) {
    let reached = tokio::time::timeout(Duration::from_secs(5), limit.wait_for(|v| *v == want))
        .await
        .is_ok();
    let now = *limit.borrow();
    assert!(reached, "MAX_CONCURRENT_STREAMS never became {want}: {now}");
}

#[tokio::test]
async fn settings_advertise_one_stream_until_the_first_valid_token_then_the_limit() {
    let emulator = common::builder()
        .max_concurrent_streams(250)
        .start()
        .await
        .unwrap();
    let (client, mut limit) =
        common::connect_watching(emulator.addr(Environment::Sandbox), emulator.ca_pem()).await;
    wait_for(&mut limit, 1).await;
    // A rejected token does not raise it.
    Req::voip()
        .without("authorization")
        .send(&client)
        .await
        .unwrap()
        .assert_reason(403, Reason::MissingProviderToken);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(*limit.borrow(), 1);
    // A valid token does, even when the push itself is refused.
    Req::voip()
        .set("apns-priority", "7")
        .send(&client)
        .await
        .unwrap()
        .assert_reason(400, Reason::BadPriority);
    wait_for(&mut limit, 250).await;
    // The connection keeps working (the client's ACK of the new SETTINGS was absorbed).
    for _ in 0..3 {
        assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
    }
}

#[tokio::test]
async fn settings_change_also_works_over_h2c_and_with_many_streams() {
    let emulator = common::builder().h2c(true).start().await.unwrap();
    let addr = emulator.h2c_addr(Environment::Sandbox).unwrap();
    let (client, mut limit) = common::connect_h2c_watching(addr).await;
    wait_for(&mut limit, 1).await;
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
    wait_for(&mut limit, 1000).await;
    let emulator_rate_free = common::builder()
        .h2c(true)
        .per_token_rate(None)
        .start()
        .await
        .unwrap();
    let addr = emulator_rate_free.h2c_addr(Environment::Sandbox).unwrap();
    let (client, _limit) = common::connect_h2c_watching(addr).await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move { Req::voip().send(&client).await }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().status, 200);
    }
    assert_eq!(emulator_rate_free.accepted().len(), 50);
    drop(emulator);
}
