//! How the server's sending strategy meets APNs's store on one scripted phone: a resend
//! replaces the push APNs holds (one per device and topic), an `apns-expiration` ends it, and
//! the missed-call fallback is an alert held in a slot of its own.
//!
//! The phone is the founding incident's, with its script replaced: a plain (not weak) outage
//! from 17:20:00 for `outage`, a call at 17:20:10 (deadline 17:21:10), nothing else. APNs
//! notices the lost connection at once, so what it cannot deliver it stores or drops by the
//! push's expiration.

use std::path::Path;

use pushtrace_lab::scenario::{Expiration, Retry, Scripted, Span};
use pushtrace_lab::{Scenario, Strategy, compare, simulate_device};
use pushtrace_model::{Cause, Outcome, Timestamp};

fn at(time: &str) -> Timestamp {
    Timestamp::parse(&format!("2026-05-20T{time}+03:00")).unwrap()
}

fn phone(outage: &str, expiration: Expiration, retry: &str, fallback: bool) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/founding-incident.toml");
    let mut sc = Scenario::load(&path).unwrap();
    sc.apns.notices_loss_after = Span::ZERO;
    sc.calls.expiration = expiration;
    sc.calls.retry_after = Retry::parse(retry).unwrap();
    sc.calls.fallback = fallback;
    sc.script = vec![
        Scripted::Outage {
            at: at("17:20:00"),
            duration: Span::parse(outage).unwrap(),
            weak: false,
        },
        Scripted::Call { at: at("17:20:10") },
    ];
    sc
}

#[test]
fn a_resend_replaces_the_stored_push_and_the_last_one_expires_at_the_deadline() {
    // Back at 17:21:40, after the deadline: resends at +10 s … +50 s (the next would not go out
    // before the deadline), each replacing the one APNs held; the last expires at the deadline.
    let run = simulate_device(&phone("100s", Expiration::Deadline, "10s", false), 0, false);
    assert_eq!(run.calls.len(), 1);
    assert_eq!(run.calls[0].pushes, 6);
    assert_eq!(run.pushes.len(), 6);
    for p in &run.pushes[..5] {
        assert_eq!(p.outcome, Outcome::NotDelivered, "{p:?}");
        assert_eq!(p.cause, Cause::DeviceOfflineRadio, "replaced: {p:?}");
    }
    assert_eq!(run.pushes[5].cause, Cause::ExpiredWhileOffline);
    assert!(run.pushes.iter().all(|p| p.received_at.is_none()));
    assert!(!run.calls[0].rang_in_time && !run.calls[0].stale_ring);
}

#[test]
fn a_long_expiration_rings_after_the_caller_gave_up_once_only() {
    // The same, with 30 days: APNs still holds the last resend when the phone is back, and the
    // phone rings for a call that ended 30 s before. The five earlier pushes were replaced.
    let run = simulate_device(&phone("100s", Expiration::Max, "10s", false), 0, false);
    let received: Vec<_> = run
        .pushes
        .iter()
        .filter(|p| p.received_at.is_some())
        .collect();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].attempt, 6);
    assert_eq!(received[0].outcome, Outcome::Late);
    assert!(received[0].stale_ring);
    assert!(run.calls[0].stale_ring && !run.calls[0].rang_in_time);
}

#[test]
fn a_resend_after_the_phone_is_back_rings_a_call_expiration_0_lost() {
    // Back at 17:20:30: expiration 0 drops the pushes sent while the phone is away (never
    // stored); the resend at 17:20:40 finds it connected.
    let once = simulate_device(&phone("30s", Expiration::Zero, "0s", false), 0, false);
    assert_eq!(once.pushes.len(), 1);
    assert_eq!(once.pushes[0].cause, Cause::ExpiredWhileOffline);
    assert!(!once.calls[0].rang_in_time);

    let retried = simulate_device(&phone("30s", Expiration::Zero, "10s", false), 0, false);
    assert_eq!(retried.calls[0].pushes, 4);
    let causes: Vec<Cause> = retried.pushes.iter().map(|p| p.cause).collect();
    assert_eq!(
        causes,
        [
            Cause::ExpiredWhileOffline,
            Cause::ExpiredWhileOffline,
            Cause::ExpiredWhileOffline,
            Cause::None
        ]
    );
    assert!(retried.calls[0].rang_in_time);
    assert!(retried.calls[0].receipt_at.is_some());
}

#[test]
fn the_fallback_alert_is_stored_apart_from_the_call_push() {
    // No receipt by the deadline: the alert goes out then and waits in its own slot; the call
    // push (30 days) waits in the `.voip` slot. Both arrive when the phone is back.
    let run = simulate_device(&phone("100s", Expiration::Max, "0s", true), 0, false);
    let call = &run.calls[0];
    let fallback = call.fallback.expect("a fallback was sent");
    assert_eq!(fallback.sent_at, call.deadline);
    let shown = fallback.shown_at.expect("the fallback was shown");
    assert!(shown > call.deadline);
    assert!(run.pushes[0].received_at.is_some(), "the call push too");
    assert!(call.stale_ring);
    assert!(call.fallback_saved());

    // A receipt before the deadline means no fallback at all.
    let rang = simulate_device(&phone("5s", Expiration::Max, "0s", true), 0, false);
    assert!(rang.calls[0].rang_in_time);
    assert_eq!(rang.calls[0].fallback, None);
}

#[test]
fn a_fallback_alert_past_its_expiration_is_never_shown() {
    let mut sc = phone("100s", Expiration::Zero, "0s", true);
    sc.calls.fallback_expiration = Span::parse("10s").unwrap();
    let run = simulate_device(&sc, 0, false);
    let fallback = run.calls[0].fallback.expect("a fallback was sent");
    assert_eq!(fallback.shown_at, None);
    assert!(!run.calls[0].fallback_saved());

    sc.calls.fallback_expiration = Span::parse("1d").unwrap();
    let run = simulate_device(&sc, 0, false);
    assert!(run.calls[0].fallback_saved());
}

#[test]
fn strategies_compared_see_the_same_calls() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/mixed-fleet.toml");
    let mut sc = Scenario::load(&path).unwrap();
    sc.fleet.devices = 40;
    sc.fleet.duration = Span::parse("7d").unwrap();
    let strategies: Vec<Strategy> = [
        "zero=expiration=0",
        "max=expiration=30d",
        "zero+retry=expiration=0,retry=10s",
        "zero+fallback=expiration=0,fallback=on",
    ]
    .iter()
    .map(|s| Strategy::parse(s).unwrap())
    .collect();
    let result = compare(&sc, &strategies, 2, &|| {});
    let calls: Vec<u64> = result.strategies.iter().map(|s| s.calls).collect();
    assert!(calls[0] > 500, "{calls:?}");
    assert!(calls.iter().all(|&c| c == calls[0]), "{calls:?}");
    let [zero, max, retry, fallback] = &result.strategies[..] else {
        unreachable!()
    };
    assert!(zero.stale_rings.count <= max.stale_rings.count);
    assert!(retry.rang_in_time.count >= zero.rang_in_time.count);
    assert!(retry.pushes_per_call.mean > 1.0);
    // The fallback changes nothing for the call push: same rings, same misses.
    assert_eq!(fallback.rang_in_time, zero.rang_in_time);
    // Sent for the calls with no receipt by the deadline: some of the missed ones.
    let c = &fallback.counts;
    assert!(
        c.fallbacks_sent > 0 && c.fallbacks_sent <= fallback.missed.count,
        "{c:?}"
    );
    assert!(c.fallback_saves <= c.fallbacks_shown && c.fallbacks_shown <= c.fallbacks_sent);
    assert_eq!(zero.counts.fallbacks_sent, 0);
}

#[test]
fn a_bad_strategy_says_what_to_write() {
    let err = Strategy::parse("x=expiration=1h").unwrap_err().to_string();
    assert!(err.contains("use 0, deadline or 30d"), "{err}");
    let err = Strategy::parse("x=retry=200ms").unwrap_err().to_string();
    assert!(err.contains("no sooner than 1s"), "{err}");
    let err = Strategy::parse("x=colour=red").unwrap_err().to_string();
    assert!(err.contains("unknown key `colour`"), "{err}");
    let err = Strategy::parse("nothing").unwrap_err().to_string();
    assert!(err.contains("NAME=KEY=VALUE"), "{err}");
}
