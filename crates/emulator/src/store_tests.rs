//! Unit tests of the store: explicit times, no server.

use pushtrace_apns::{ApnsId, DeviceToken, Environment, Priority, PushType};

use super::*;

const T0: u64 = 1_000_000;
const DAY: u64 = 24 * 60 * 60 * 1000;
const SANDBOX: Environment = Environment::Sandbox;

fn token() -> DeviceToken {
    DeviceToken::parse("aabb").unwrap()
}

fn push(n: u8, topic: &str, at: u64, expiration: Option<u64>) -> AcceptedPush {
    AcceptedPush {
        environment: SANDBOX,
        apns_id: ApnsId::from_bytes([n; 16]),
        unique_id: None,
        token: token(),
        topic: topic.into(),
        push_type: Some(PushType::Voip),
        priority: Priority::Immediate,
        expiration,
        collapse_id: None,
        payload_len: 2,
        payload: bytes::Bytes::from_static(b"{}"),
        received_at_ms: at,
    }
}

fn live(_: Environment, _: &DeviceToken, _: &str, _: u64) -> Lookup {
    Lookup::Active
}

fn cats(store: &Store, record: usize) -> Vec<Category> {
    nth(store, record).categories()
}

fn nth(store: &Store, record: usize) -> &DeliveryRecord {
    store.records().nth(record).expect("no such record")
}

use Category::*;

#[test]
fn online_push_is_delivered_at_once() {
    let mut store = Store::new(0, Vec::new());
    let mut out = Vec::new();
    store.receive(push(1, "a", T0, Some(0)), &mut out);
    assert_eq!(cats(&store, 0), [Received, Delivered]);
    assert_eq!(out.len(), 1);
    assert!(!out[0].from_storage);
    assert_eq!(out[0].delivered_at_ms, T0);
}

#[test]
fn one_slot_per_topic_newer_replaces_older_and_arrival_order_is_kept() {
    let mut store = Store::new(0, Vec::new());
    let mut out = Vec::new();
    store.set_state(SANDBOX, &token(), DeviceState::Offline, T0, &mut out);
    store.receive(push(1, "b", T0, None), &mut out);
    store.receive(push(2, "a", T0 + 1, None), &mut out);
    store.receive(push(3, "b", T0 + 2, None), &mut out);
    assert_eq!(
        cats(&store, 0),
        [Received, StoredDeviceOffline, DiscardedReplaced]
    );
    assert_eq!(store.stored().len(), 2);
    store.set_state(SANDBOX, &token(), DeviceState::Online, T0 + 10, &mut out);
    let ids: Vec<u8> = out.iter().map(|d| d.push.apns_id.as_bytes()[0]).collect();
    assert_eq!(ids, [2, 3]);
    assert!(
        out.iter()
            .all(|d| d.from_storage && d.delivered_at_ms == T0 + 10)
    );
    assert!(store.stored().is_empty());
    assert_eq!(store.counts()[&DiscardedReplaced], 1);
    assert_eq!(store.counts()[&DeliveredFromStorage], 2);
}

#[test]
fn expiry_is_min_of_header_and_30_days_and_zero_is_never_stored() {
    let mut store = Store::new(0, Vec::new());
    let mut out = Vec::new();
    store.set_state(SANDBOX, &token(), DeviceState::Offline, T0, &mut out);
    store.receive(push(1, "zero", T0, Some(0)), &mut out);
    let in_10s = (T0 + 10_000) / 1000;
    store.receive(push(2, "short", T0, Some(in_10s)), &mut out);
    store.receive(push(3, "far", T0, Some((T0 + 365 * DAY) / 1000)), &mut out);
    store.receive(push(4, "none", T0, None), &mut out);
    store.receive(push(5, "past", T0, Some(1)), &mut out);
    assert_eq!(cats(&store, 0), [Received, DiscardedExpired]);
    assert_eq!(cats(&store, 4), [Received, DiscardedExpired]);
    store.advance(T0 + 9_999, &live, &mut out);
    assert_eq!(store.stored().len(), 3);
    store.advance(T0 + 10_000, &live, &mut out);
    assert_eq!(
        cats(&store, 1),
        [Received, StoredDeviceOffline, DiscardedExpired]
    );
    assert_eq!(nth(&store, 1).events[2].at_ms, T0 + 10_000);
    store.advance(T0 + 30 * DAY - 1, &live, &mut out);
    assert_eq!(store.stored().len(), 2);
    // Processed late: the event carries the due time.
    store.advance(T0 + 31 * DAY, &live, &mut out);
    assert!(store.stored().is_empty());
    assert_eq!(nth(&store, 2).events[2].at_ms, T0 + 30 * DAY);
    assert_eq!(nth(&store, 3).events[2].at_ms, T0 + 30 * DAY);
    assert!(out.is_empty());
    assert_eq!(store.counts()[&DiscardedExpired], 5);
}

#[test]
fn power_restriction_defers_only_non_waking_pushes() {
    let mut store = Store::new(0, Vec::new());
    let mut out = Vec::new();
    store.set_state(
        SANDBOX,
        &token(),
        DeviceState::PowerRestricted,
        T0,
        &mut out,
    );
    store.receive(push(1, "voip", T0, None), &mut out);
    let mut background = push(2, "app", T0, None);
    background.priority = Priority::ConservePower;
    store.receive(background, &mut out);
    assert_eq!(cats(&store, 0), [Received, Delivered]);
    assert_eq!(cats(&store, 1), [Received, StoredPowerConsiderations]);
    store.set_state(SANDBOX, &token(), DeviceState::Online, T0 + 5, &mut out);
    assert_eq!(
        cats(&store, 1),
        [Received, StoredPowerConsiderations, DeliveredFromStorage]
    );
}

#[test]
fn schedule_and_expiry_apply_in_time_order() {
    let schedule = vec![
        ScheduleEntry {
            at_ms: T0 + 20_000,
            environment: SANDBOX,
            token: token(),
            state: DeviceState::Online,
        },
        ScheduleEntry {
            at_ms: T0 + 1_000,
            environment: SANDBOX,
            token: token(),
            state: DeviceState::Offline,
        },
    ];
    let mut store = Store::new(0, schedule);
    let mut out = Vec::new();
    store.advance(T0 + 1_000, &live, &mut out);
    assert_eq!(store.state(SANDBOX, &token()), DeviceState::Offline);
    store.receive(
        push(1, "a", T0 + 2_000, Some((T0 + 10_000) / 1000)),
        &mut out,
    );
    store.receive(
        push(2, "b", T0 + 2_000, Some((T0 + 30_000) / 1000)),
        &mut out,
    );
    // One call far ahead: "a" expires at +10 s, before the device comes back at +20 s.
    store.advance(T0 + 60_000, &live, &mut out);
    assert_eq!(
        cats(&store, 0),
        [Received, StoredDeviceOffline, DiscardedExpired]
    );
    assert_eq!(
        cats(&store, 1),
        [Received, StoredDeviceOffline, DeliveredFromStorage]
    );
    assert_eq!(out[0].delivered_at_ms, T0 + 20_000);
    assert_eq!(store.state(SANDBOX, &token()), DeviceState::Online);
}

#[test]
fn unregistration_discards_stored_and_pending_pushes() {
    let mut store = Store::new(500, Vec::new());
    let mut out = Vec::new();
    store.set_state(SANDBOX, &token(), DeviceState::Offline, T0, &mut out);
    store.receive(push(1, "a", T0, None), &mut out);
    let gone = |_: Environment, _: &DeviceToken, _: &str, now: u64| {
        if now >= T0 + 100 {
            Lookup::Unregistered(T0 + 100)
        } else {
            Lookup::Active
        }
    };
    store.set_state(
        SANDBOX,
        &token(),
        DeviceState::Online,
        T0 + 50,
        &mut Vec::new(),
    );
    // Online again: "a" was delivered from storage; store another one while offline.
    store.set_state(SANDBOX, &token(), DeviceState::Offline, T0 + 60, &mut out);
    store.receive(push(2, "a", T0 + 60, None), &mut out);
    store.receive(push(3, "b", T0 + 60, Some(0)), &mut out);
    store.advance(T0 + 1_000, &gone, &mut out);
    assert_eq!(
        cats(&store, 1),
        [
            Received,
            StoredDeviceOffline,
            DiscardedTokenUnregisteredFromStorage
        ]
    );
    assert_eq!(nth(&store, 1).events[2].at_ms, T0 + 100);
    assert_eq!(cats(&store, 2), [Received, DiscardedTokenUnregistered]);
    assert_eq!(nth(&store, 2).events[1].at_ms, T0 + 560);
}

#[test]
fn delayed_zero_expiration_attempt_needs_the_device_reachable_then() {
    let mut store = Store::new(500, Vec::new());
    let mut out = Vec::new();
    store.receive(push(1, "a", T0, Some(0)), &mut out);
    store.receive(push(2, "b", T0, Some(0)), &mut out);
    store.advance(T0 + 100, &live, &mut out);
    store.set_state(SANDBOX, &token(), DeviceState::Offline, T0 + 100, &mut out);
    store.advance(T0 + 499, &live, &mut out);
    assert_eq!(cats(&store, 0), [Received]);
    store.advance(T0 + 500, &live, &mut out);
    assert_eq!(cats(&store, 0), [Received, DiscardedExpired]);
    assert!(out.is_empty());

    let mut store = Store::new(500, Vec::new());
    store.receive(push(1, "a", T0, Some(0)), &mut out);
    store.advance(T0 + 500, &live, &mut out);
    assert_eq!(cats(&store, 0), [Received, Delivered]);
    assert_eq!(out[0].delivered_at_ms, T0 + 500);
}

#[test]
fn records_and_accepted_pushes_are_dropped_after_the_retention_unless_still_stored() {
    let mut store = Store::new(0, Vec::new()).with_retention(Some(7 * DAY));
    let mut out = Vec::new();
    let other = DeviceToken::parse("ccdd").unwrap();
    store.set_state(SANDBOX, &other, DeviceState::Offline, T0, &mut out);
    store.receive(push(1, "a", T0, None), &mut out);
    let mut stored = push(2, "a", T0 + 1, None);
    stored.token = other.clone();
    store.receive(stored, &mut out);
    store.receive(push(3, "a", T0 + DAY, None), &mut out);

    // Exactly 7 days after the first push's last event: kept.
    store.advance(T0 + 7 * DAY, &live, &mut out);
    assert_eq!(store.records().count(), 3);
    assert_eq!(store.accepted().count(), 3);

    // Scans run in batches, so a record goes between the retention and the retention plus a
    // sixteenth of it after its last event; the stored one stays although received as long ago.
    let slack = 7 * DAY / 16;
    store.advance(T0 + 7 * DAY + slack + 2, &live, &mut out);
    let ids: Vec<_> = store.records().map(|r| r.apns_id).collect();
    assert_eq!(
        ids,
        [ApnsId::from_bytes([2; 16]), ApnsId::from_bytes([3; 16])]
    );
    let accepted: Vec<_> = store.accepted().map(|p| p.apns_id).collect();
    assert_eq!(accepted, [ApnsId::from_bytes([3; 16])]);
    assert!(nth(&store, 0).is_stored());

    // Delivered from storage later, it gets its events and lives 7 more days from then.
    let back = T0 + 8 * DAY;
    store.set_state(SANDBOX, &other, DeviceState::Online, back, &mut out);
    assert_eq!(
        cats(&store, 0),
        [Received, StoredDeviceOffline, DeliveredFromStorage]
    );
    store.advance(back + 7 * DAY, &live, &mut out);
    assert_eq!(store.records().count(), 1);
    store.advance(back + 7 * DAY + slack + 1, &live, &mut out);
    assert_eq!(store.records().count(), 0);
    // Counts are not reduced by retention.
    assert_eq!(store.counts()[&Received], 3);
}

#[test]
fn the_count_cap_drops_the_oldest_finished_records_and_pushes_and_counts_them() {
    let mut store = Store::new(500, Vec::new()).with_max_records(Some(3));
    let mut out = Vec::new();
    // Record 0 waits for its delayed attempt: live, so the cap passes over it.
    store.receive(push(0, "a", T0, Some(0)), &mut out);
    for n in 1..=4 {
        store.receive(push(n, "b", T0 + u64::from(n), None), &mut out);
    }
    let ids: Vec<u8> = store.records().map(|r| r.apns_id.as_bytes()[0]).collect();
    assert_eq!(ids, [0, 3, 4]);
    let pushes: Vec<u8> = store.accepted().map(|p| p.apns_id.as_bytes()[0]).collect();
    assert_eq!(pushes, [2, 3, 4]);
    let dropped = store.dropped();
    assert_eq!((dropped.records_by_count, dropped.pushes_by_count), (2, 2));

    // Pages start after a number, which outlives what the cap dropped.
    let after: Vec<usize> = store.records_after(Some(1)).map(|(n, _)| n).collect();
    assert_eq!(after, [3, 4]);
    let after: Vec<usize> = store.accepted_after(Some(2)).map(|(n, _)| n).collect();
    assert_eq!(after, [3, 4]);
    assert_eq!(store.accepted_after(None).count(), 3);

    // Once attempted, record 0 is finished and the oldest: the next push drops it.
    store.advance(T0 + 500, &live, &mut out);
    store.receive(push(5, "b", T0 + 600, None), &mut out);
    let ids: Vec<u8> = store.records().map(|r| r.apns_id.as_bytes()[0]).collect();
    assert_eq!(ids, [3, 4, 5]);
    assert_eq!(store.counts()[&Received], 6);
}
