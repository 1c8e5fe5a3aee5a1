//! Store and forward end to end over TLS + HTTP/2, with a manual clock: device states, one
//! stored push per topic, expiration, the schedule, unregistration, the delivery log, counts and
//! the delivery hook.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{NOW_MS, NOW_SECS, Reply, Req, TOKEN, TOPIC, bearer, send_once, token};
use pushtrace_apns::{ApnsId, Environment};
use pushtrace_emulator::{
    Category, Clock, Delivery, DeliveryRecord, DeviceState, EmulatorConfig, EmulatorHandle,
};

use Category::*;

const SANDBOX: Environment = Environment::Sandbox;
const OTHER_TOPIC: &str = "com.acme.video.voip";
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The common emulator plus a second topic for `TOKEN`, with a hook recording deliveries.
async fn start() -> (EmulatorHandle, Arc<Mutex<Vec<Delivery>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let emulator = common::builder()
        .device(SANDBOX, OTHER_TOPIC, token(TOKEN))
        .delivery_hook(move |d: &Delivery| sink.lock().unwrap().push(d.clone()))
        .start()
        .await
        .unwrap();
    (emulator, seen)
}

/// A VoIP push with apns-id `n`, `expiration` (`None`: no header) and a token valid at `now`.
fn push(n: u8, topic: &str, expiration: Option<u64>, now_ms: u64) -> Req {
    let req = Req::voip()
        .set("apns-id", id(n).to_string())
        .set("apns-topic", topic)
        .set("authorization", bearer(now_ms / 1000));
    match expiration {
        Some(at) => req.set("apns-expiration", at.to_string()),
        None => req.without("apns-expiration"),
    }
}

fn id(n: u8) -> ApnsId {
    ApnsId::parse(&format!("{n:08x}-0000-4000-8000-000000000000")).unwrap()
}

async fn send(emulator: &EmulatorHandle, req: &Req) -> Reply {
    let reply = send_once(emulator, req).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply
}

fn record(emulator: &EmulatorHandle, n: u8) -> DeliveryRecord {
    emulator.delivery_record(&id(n)).expect("a record")
}

fn events(record: &DeliveryRecord) -> Vec<(u64, Category)> {
    record
        .events
        .iter()
        .map(|e| (e.at_ms - NOW_MS, e.category))
        .collect()
}

#[tokio::test]
async fn online_push_is_delivered_at_once_logged_by_unique_id_and_hooked() {
    let (emulator, seen) = start().await;
    let reply = send(&emulator, &push(1, TOPIC, Some(0), NOW_MS)).await;
    let unique = ApnsId::parse(reply.header("apns-unique-id").unwrap()).unwrap();
    let by_unique = emulator.delivery_record(&unique).unwrap();
    assert_eq!(by_unique, record(&emulator, 1));
    assert_eq!(by_unique.unique_id, Some(unique));
    assert_eq!(by_unique.token, token(TOKEN));
    assert_eq!(events(&by_unique), [(0, Received), (0, Delivered)]);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].push.apns_id, id(1));
    assert_eq!(seen[0].delivered_at_ms, NOW_MS);
    assert!(!seen[0].from_storage);
}

#[tokio::test]
async fn offline_push_is_stored_and_delivered_from_storage_when_the_device_comes_online() {
    let (emulator, seen) = start().await;
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Offline);
    assert_eq!(
        emulator.device_state(SANDBOX, &token(TOKEN)),
        DeviceState::Offline
    );
    send(&emulator, &push(1, TOPIC, None, NOW_MS)).await;
    assert_eq!(
        events(&record(&emulator, 1)),
        [(0, Received), (0, StoredDeviceOffline)]
    );
    assert_eq!(emulator.stored().len(), 1);
    assert!(emulator.advance(Duration::from_secs(3600)));
    assert!(seen.lock().unwrap().is_empty());

    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Online);
    assert_eq!(
        events(&record(&emulator, 1)),
        [
            (0, Received),
            (0, StoredDeviceOffline),
            (3_600_000, DeliveredFromStorage)
        ]
    );
    assert!(emulator.stored().is_empty());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].from_storage);
    assert_eq!(seen[0].delivered_at_ms, NOW_MS + 3_600_000);
    assert_eq!(seen[0].push.received_at_ms, NOW_MS);
}

#[tokio::test]
async fn a_newer_push_for_the_same_topic_replaces_the_stored_one() {
    let (emulator, seen) = start().await;
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Offline);
    send(&emulator, &push(1, TOPIC, None, NOW_MS)).await;
    emulator.advance(Duration::from_secs(1));
    send(&emulator, &push(2, TOPIC, None, NOW_MS + 1000)).await;
    assert_eq!(
        events(&record(&emulator, 1)),
        [
            (0, Received),
            (0, StoredDeviceOffline),
            (1000, DiscardedReplaced)
        ]
    );
    assert_eq!(emulator.stored(), vec![record(&emulator, 2)]);
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Online);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].push.apns_id, id(2));
}

#[tokio::test]
async fn stored_pushes_for_two_topics_are_both_delivered_in_arrival_order() {
    let (emulator, seen) = start().await;
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Offline);
    send(&emulator, &push(1, OTHER_TOPIC, None, NOW_MS)).await;
    send(&emulator, &push(2, TOPIC, None, NOW_MS)).await;
    assert_eq!(emulator.stored().len(), 2);
    emulator.advance(Duration::from_secs(5));
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Online);
    let order: Vec<ApnsId> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|d| d.push.apns_id)
        .collect();
    assert_eq!(order, [id(1), id(2)]);
    for n in [1, 2] {
        assert_eq!(
            record(&emulator, n).last().unwrap().category,
            DeliveredFromStorage
        );
    }
}

#[tokio::test]
async fn expiration_zero_while_offline_is_discarded_and_never_delivered() {
    let (emulator, seen) = start().await;
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Offline);
    send(&emulator, &push(1, TOPIC, Some(0), NOW_MS)).await;
    assert_eq!(
        events(&record(&emulator, 1)),
        [(0, Received), (0, DiscardedExpired)]
    );
    assert!(emulator.stored().is_empty());
    emulator.advance(Duration::from_secs(1));
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Online);
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(
        record(&emulator, 1).categories(),
        [Received, DiscardedExpired]
    );
}

#[tokio::test]
async fn expiration_zero_with_a_delay_needs_the_device_online_at_the_attempt() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let emulator = common::builder()
        .immediate_delivery_delay(Duration::from_millis(300))
        .delivery_hook(move |d: &Delivery| sink.lock().unwrap().push(d.clone()))
        .start()
        .await
        .unwrap();
    send(&emulator, &push(1, TOPIC, Some(0), NOW_MS)).await;
    send(&emulator, &push(2, TOPIC, Some(0), NOW_MS)).await;
    assert_eq!(record(&emulator, 1).categories(), [Received]);
    emulator.advance(Duration::from_millis(300));
    assert_eq!(
        events(&record(&emulator, 1)),
        [(0, Received), (300, Delivered)]
    );
    assert_eq!(
        events(&record(&emulator, 2)),
        [(0, Received), (300, Delivered)]
    );

    send(&emulator, &push(3, TOPIC, Some(0), NOW_MS + 300)).await;
    emulator.advance(Duration::from_millis(100));
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Offline);
    emulator.advance(Duration::from_millis(200));
    assert_eq!(
        events(&record(&emulator, 3)),
        [(300, Received), (600, DiscardedExpired)]
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_nonzero_expiration_that_passes_while_offline_discards_the_push() {
    let (emulator, seen) = start().await;
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Offline);
    send(&emulator, &push(1, TOPIC, Some(NOW_SECS + 60), NOW_MS)).await;
    emulator.advance(Duration::from_secs(59));
    assert_eq!(emulator.stored().len(), 1);
    emulator.advance(Duration::from_secs(2));
    assert_eq!(
        events(&record(&emulator, 1)),
        [
            (0, Received),
            (0, StoredDeviceOffline),
            (60_000, DiscardedExpired)
        ]
    );
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Online);
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn without_expiration_a_push_is_kept_30_days() {
    let (emulator, seen) = start().await;
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Offline);
    send(&emulator, &push(1, TOPIC, None, NOW_MS)).await;
    // A far expiration is capped at 30 days too.
    let year = NOW_SECS + 365 * 24 * 3600;
    send(&emulator, &push(2, OTHER_TOPIC, Some(year), NOW_MS)).await;
    emulator.advance(29 * DAY);
    assert_eq!(emulator.stored().len(), 2);
    emulator.advance(2 * DAY);
    assert!(emulator.stored().is_empty());
    let thirty_days = 30 * 24 * 3_600_000;
    for n in [1, 2] {
        assert_eq!(
            events(&record(&emulator, n)),
            [
                (0, Received),
                (0, StoredDeviceOffline),
                (thirty_days, DiscardedExpired)
            ]
        );
    }
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Online);
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_schedule_from_the_config_file_turns_the_device_offline_and_online() {
    let key_file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../apns/testdata/test-AuthKey.p8"
    );
    let text = format!(
        r#"{{
            "keys": [{{"key_id": "{}", "team_id": "{}", "key_file": "{key_file}"}}],
            "devices": [{{"environment": "sandbox", "topic": "{TOPIC}", "token": "{TOKEN}"}}],
            "schedule": [
                {{"after_ms": 1000, "environment": "sandbox", "token": "{TOKEN}",
                  "state": "offline"}},
                {{"at_ms": {}, "environment": "sandbox", "token": "{TOKEN}",
                  "state": "online"}}
            ]
        }}"#,
        common::KEY_ID,
        common::TEAM_ID,
        NOW_MS + 60_000
    );
    let config: EmulatorConfig = serde_json::from_str(&text).unwrap();
    let emulator = config
        .into_builder()
        .unwrap()
        .clock(Clock::manual(NOW_MS))
        .start()
        .await
        .unwrap();
    send(&emulator, &push(1, TOPIC, None, NOW_MS)).await;
    assert_eq!(record(&emulator, 1).categories(), [Received, Delivered]);
    emulator.advance(Duration::from_secs(1));
    assert_eq!(
        emulator.device_state(SANDBOX, &token(TOKEN)),
        DeviceState::Offline
    );
    send(&emulator, &push(2, TOPIC, None, NOW_MS + 1000)).await;
    // The request path applies due entries too: no tick needed before it.
    emulator.clock().advance(Duration::from_secs(59));
    send(&emulator, &push(3, TOPIC, None, NOW_MS + 60_000)).await;
    assert_eq!(
        events(&record(&emulator, 2)),
        [
            (1000, Received),
            (1000, StoredDeviceOffline),
            (60_000, DeliveredFromStorage)
        ]
    );
    assert_eq!(
        events(&record(&emulator, 3)),
        [(60_000, Received), (60_000, Delivered)]
    );
}

#[tokio::test]
async fn power_restriction_defers_low_priority_pushes_until_it_lifts() {
    let (emulator, seen) = start().await;
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::PowerRestricted);
    send(&emulator, &push(1, TOPIC, None, NOW_MS)).await;
    send(
        &emulator,
        &push(2, OTHER_TOPIC, None, NOW_MS).set("apns-priority", "5"),
    )
    .await;
    assert_eq!(record(&emulator, 1).categories(), [Received, Delivered]);
    assert_eq!(
        record(&emulator, 2).categories(),
        [Received, StoredPowerConsiderations]
    );
    emulator.advance(Duration::from_secs(10));
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Online);
    assert_eq!(
        events(&record(&emulator, 2)),
        [
            (0, Received),
            (0, StoredPowerConsiderations),
            (10_000, DeliveredFromStorage)
        ]
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_token_unregistered_while_its_push_is_stored_discards_it() {
    let (emulator, seen) = start().await;
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Offline);
    send(&emulator, &push(1, TOPIC, None, NOW_MS)).await;
    send(&emulator, &push(2, OTHER_TOPIC, None, NOW_MS)).await;
    emulator.unregister_device(SANDBOX, TOPIC, token(TOKEN), NOW_MS + 5_000);
    emulator.advance(Duration::from_secs(10));
    assert_eq!(
        events(&record(&emulator, 1)),
        [
            (0, Received),
            (0, StoredDeviceOffline),
            (5_000, DiscardedTokenUnregisteredFromStorage)
        ]
    );
    // The other topic's registration is untouched.
    assert_eq!(emulator.stored(), vec![record(&emulator, 2)]);
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Online);
    let ids: Vec<ApnsId> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|d| d.push.apns_id)
        .collect();
    assert_eq!(ids, [id(2)]);
}

#[tokio::test]
async fn counts_are_kept_per_category() {
    let (emulator, _seen) = start().await;
    send(&emulator, &push(1, TOPIC, Some(0), NOW_MS)).await;
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Offline);
    send(&emulator, &push(2, TOPIC, Some(0), NOW_MS)).await;
    send(&emulator, &push(3, TOPIC, None, NOW_MS)).await;
    send(&emulator, &push(4, TOPIC, None, NOW_MS)).await;
    send(&emulator, &push(5, OTHER_TOPIC, Some(NOW_SECS + 1), NOW_MS)).await;
    emulator.advance(Duration::from_secs(2));
    emulator.set_device_state(SANDBOX, &token(TOKEN), DeviceState::Online);
    let expected = BTreeMap::from([
        (Received, 5),
        (StoredDeviceOffline, 3),
        (Delivered, 1),
        (DeliveredFromStorage, 1),
        (DiscardedExpired, 2),
        (DiscardedReplaced, 1),
    ]);
    assert_eq!(emulator.counts(), expected);
    assert_eq!(emulator.delivery_log().len(), 5);
    assert_eq!(
        DeliveredFromStorage.to_string(),
        "Delivered to Device (From Storage)"
    );
    assert_eq!(
        StoredPowerConsiderations.label(),
        "Stored - Power Considerations"
    );
}

#[tokio::test]
async fn with_the_system_clock_a_background_task_applies_the_schedule() {
    let emulator = pushtrace_emulator::Emulator::builder()
        .device(SANDBOX, TOPIC, token(TOKEN))
        .settings(pushtrace_emulator::Settings {
            tick_interval: Duration::from_millis(5),
            ..Default::default()
        })
        .schedule_after(
            Duration::from_millis(20),
            SANDBOX,
            token(TOKEN),
            DeviceState::Offline,
        )
        .start()
        .await
        .unwrap();
    assert!(
        !emulator.advance(Duration::from_secs(1)),
        "the system clock does not move"
    );
    for _ in 0..200 {
        if emulator.device_state(SANDBOX, &token(TOKEN)) == DeviceState::Offline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the schedule was not applied within a second");
}
