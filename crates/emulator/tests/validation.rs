//! One test per row of the reference table (docs/reference/apns.md §1.2, §1.3, §1.7, §6 item
//! 3): the exact `:status` and `reason`, over real TLS and HTTP/2.

mod common;

use common::{Req, TOKEN, send_once, start};
use pushtrace_apns::Reason;

async fn expect(req: Req, status: u16, reason: Reason) {
    let emulator = start().await;
    let reply = send_once(&emulator, &req).await;
    reply.assert_reason(status, reason);
    assert!(
        emulator.accepted().is_empty(),
        "a rejected push was recorded"
    );
}

#[tokio::test]
async fn method_other_than_post_is_405_method_not_allowed() {
    let mut req = Req::voip();
    req.method = "PUT";
    expect(req, 405, Reason::MethodNotAllowed).await;
}

#[tokio::test]
async fn get_is_405_method_not_allowed() {
    let mut req = Req::voip().body(Vec::new());
    req.method = "GET";
    expect(req, 405, Reason::MethodNotAllowed).await;
}

#[tokio::test]
async fn other_path_is_404_bad_path() {
    expect(
        Req::voip().path(format!("/3/devices/{TOKEN}")),
        404,
        Reason::BadPath,
    )
    .await;
}

#[tokio::test]
async fn path_without_token_is_missing_device_token() {
    expect(
        Req::voip().path("/3/device/"),
        400,
        Reason::MissingDeviceToken,
    )
    .await;
}

#[tokio::test]
async fn non_hex_token_is_bad_device_token() {
    expect(
        Req::voip().path("/3/device/not-a-token"),
        400,
        Reason::BadDeviceToken,
    )
    .await;
}

#[tokio::test]
async fn repeated_header_is_duplicate_headers() {
    let req = Req::voip().add("apns-topic", common::TOPIC);
    expect(req, 400, Reason::DuplicateHeaders).await;
}

#[tokio::test]
async fn uppercase_apns_id_is_bad_message_id() {
    let req = Req::voip().set("apns-id", "123E4567-E89B-12D3-A456-426614174000");
    expect(req, 400, Reason::BadMessageId).await;
}

#[tokio::test]
async fn non_uuid_apns_id_is_bad_message_id_and_a_new_id_is_answered() {
    let emulator = start().await;
    let reply = send_once(&emulator, &Req::voip().set("apns-id", "push-1")).await;
    reply.assert_reason(400, Reason::BadMessageId);
    let answered = reply.header("apns-id").unwrap();
    assert!(
        pushtrace_apns::ApnsId::parse(answered).is_ok(),
        "{answered}"
    );
}

#[tokio::test]
async fn non_numeric_expiration_is_bad_expiration_date() {
    expect(
        Req::voip().set("apns-expiration", "tomorrow"),
        400,
        Reason::BadExpirationDate,
    )
    .await;
}

#[tokio::test]
async fn negative_expiration_is_bad_expiration_date() {
    expect(
        Req::voip().set("apns-expiration", "-5"),
        400,
        Reason::BadExpirationDate,
    )
    .await;
}

#[tokio::test]
async fn priority_other_than_10_5_1_is_bad_priority() {
    expect(
        Req::voip().set("apns-priority", "7"),
        400,
        Reason::BadPriority,
    )
    .await;
}

#[tokio::test]
async fn background_with_priority_10_is_bad_priority() {
    let req = Req::voip()
        .set("apns-push-type", "background")
        .set("apns-topic", "com.acme.call")
        .set("apns-priority", "10");
    expect(req, 400, Reason::BadPriority).await;
}

#[tokio::test]
async fn unknown_push_type_is_invalid_push_type() {
    expect(
        Req::voip().set("apns-push-type", "call"),
        400,
        Reason::InvalidPushType,
    )
    .await;
}

#[tokio::test]
async fn missing_topic_is_missing_topic() {
    expect(Req::voip().without("apns-topic"), 400, Reason::MissingTopic).await;
}

#[tokio::test]
async fn voip_without_voip_suffix_is_bad_topic() {
    expect(
        Req::voip().set("apns-topic", "com.acme.call"),
        400,
        Reason::BadTopic,
    )
    .await;
}

#[tokio::test]
async fn voip_suffix_on_alert_is_bad_topic() {
    let req = Req::voip().set("apns-push-type", "alert");
    expect(req, 400, Reason::BadTopic).await;
}

#[tokio::test]
async fn collapse_id_over_64_bytes_is_bad_collapse_id() {
    expect(
        Req::voip().set("apns-collapse-id", "c".repeat(65)),
        400,
        Reason::BadCollapseId,
    )
    .await;
}

#[tokio::test]
async fn collapse_id_of_64_bytes_is_accepted() {
    let emulator = start().await;
    let reply = send_once(
        &emulator,
        &Req::voip().set("apns-collapse-id", "c".repeat(64)),
    )
    .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn empty_body_is_payload_empty() {
    expect(Req::voip().body(Vec::new()), 400, Reason::PayloadEmpty).await;
}

#[tokio::test]
async fn voip_payload_over_5120_is_413_payload_too_large() {
    expect(
        Req::voip().body(vec![b' '; 5121]),
        413,
        Reason::PayloadTooLarge,
    )
    .await;
}

#[tokio::test]
async fn voip_payload_of_5120_is_accepted() {
    let emulator = start().await;
    let reply = send_once(&emulator, &Req::voip().body(vec![b' '; 5120])).await;
    assert_eq!(reply.status, 200);
    assert_eq!(emulator.accepted()[0].payload_len, 5120);
}

#[tokio::test]
async fn alert_payload_over_4096_is_413_payload_too_large() {
    let emulator = common::builder()
        .device(
            pushtrace_apns::Environment::Sandbox,
            "com.acme.call",
            common::token(TOKEN),
        )
        .start()
        .await
        .unwrap();
    let alert = Req::voip()
        .set("apns-push-type", "alert")
        .set("apns-topic", "com.acme.call");
    send_once(&emulator, &alert.clone().body(vec![b' '; 4097]))
        .await
        .assert_reason(413, Reason::PayloadTooLarge);
    let ok = send_once(&emulator, &alert.body(vec![b' '; 4096])).await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn very_large_body_is_413_and_the_connection_survives() {
    let emulator = start().await;
    let client = common::connect(&emulator, pushtrace_apns::Environment::Sandbox).await;
    let big = Req::voip().body(vec![b' '; 200_000]);
    big.send(&client)
        .await
        .unwrap()
        .assert_reason(413, Reason::PayloadTooLarge);
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
}

#[tokio::test]
async fn unknown_token_is_bad_device_token() {
    expect(
        Req::voip().path(format!("/3/device/{}", common::OTHER_TOKEN)),
        400,
        Reason::BadDeviceToken,
    )
    .await;
}

#[tokio::test]
async fn token_for_another_topic_is_device_token_not_for_topic() {
    let req = Req::voip().set("apns-topic", "com.other.app.voip");
    expect(req, 400, Reason::DeviceTokenNotForTopic).await;
}
