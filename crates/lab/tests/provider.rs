//! Time lost on the server's side: the provider's delay before a push goes out
//! (`calls.provider_delay`), and the app's receipt lost or late on its way back
//! (`calls.receipt_lost_share`, `calls.receipt_delay`), which the server's resends and fallback
//! go by.
//!
//! The phone is the founding incident's, online all along (its script replaced by one call at
//! 17:20:10, deadline 17:21:10).

use std::path::Path;

use pushtrace_lab::scenario::{Dist, Retry, Scripted, Span};
use pushtrace_lab::{RunOptions, Scenario, score, simulate_device, write_run};
use pushtrace_model::{Cause, Outcome, Timestamp};

fn phone() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/founding-incident.toml");
    let mut sc = Scenario::load(&path).unwrap();
    let at = Timestamp::parse("2026-05-20T17:20:10+03:00").unwrap();
    sc.script = vec![Scripted::Call { at }];
    sc
}

fn fixed(text: &str) -> Option<Dist> {
    Some(Dist::Fixed(Span::parse(text).unwrap()))
}

#[test]
fn a_push_queued_past_the_deadline_is_late_by_the_provider_and_diagnose_agrees() {
    let mut sc = phone();
    sc.calls.provider_delay = fixed("70s");
    let run = simulate_device(&sc, 0, false);
    let p = &run.pushes[0];
    assert_eq!(p.sent_at - p.queued_at, 70_000_000);
    assert_eq!((p.outcome, p.cause), (Outcome::Late, Cause::ProviderDelay));
    assert!(p.stale_ring && !run.calls[0].rang_in_time);
    let record = run.record(&sc, p);
    assert_eq!(
        record.sent_at.utc_micros() - record.queued_at.unwrap().utc_micros(),
        70_000_000
    );

    let dir = tempfile::tempdir().unwrap();
    let written = write_run(&sc, &RunOptions::default(), dir.path()).unwrap();
    let result = score(&written).unwrap();
    assert_eq!(
        result.matrix[&Cause::ProviderDelay][&Cause::ProviderDelay],
        1,
        "{result}"
    );

    // A short delay changes nothing but the record's queue time.
    sc.calls.provider_delay = fixed("5s");
    let run = simulate_device(&sc, 0, false);
    assert_eq!(run.pushes[0].cause, Cause::None);
    assert!(run.calls[0].rang_in_time);
    let record = run.record(&sc, &run.pushes[0]);
    assert!(record.queued_at.is_some());
    sc.calls.provider_delay = None;
    let run = simulate_device(&sc, 0, false);
    assert_eq!(
        run.record(&sc, &run.pushes[0]).queued_at,
        None,
        "sent as queued"
    );
}

#[test]
fn a_lost_receipt_sends_resends_and_the_fallback_to_a_phone_that_rang() {
    let mut sc = phone();
    sc.calls.retry_after = Retry::parse("10s").unwrap();
    sc.calls.fallback = true;
    let run = simulate_device(&sc, 0, false);
    assert_eq!(run.pushes.len(), 1, "the receipt came: no resend");
    assert!(run.calls[0].fallback.is_none());

    sc.calls.receipt_lost_share = 1.0;
    let run = simulate_device(&sc, 0, false);
    let call = &run.calls[0];
    assert!(call.rang_in_time, "the phone rang all the same");
    assert_eq!(
        run.pushes.len(),
        6,
        "resent at +10 s … +50 s: the server heard nothing"
    );
    assert!(
        call.fallback.is_some(),
        "and the missed-call alert follows a call that rang"
    );
    let record = run.record(&sc, &run.pushes[0]);
    assert_eq!(
        (record.received_at, record.reported_at, record.must_report),
        (None, None, None)
    );
    assert!(
        run.pushes[0].received_at.is_some(),
        "the truth keeps the delivery"
    );

    // The receipt is only late: one resend goes out before it arrives.
    sc.calls.receipt_lost_share = 0.0;
    sc.calls.receipt_delay = fixed("15s");
    let run = simulate_device(&sc, 0, false);
    assert_eq!(run.pushes.len(), 2);
    assert!(run.calls[0].fallback.is_none());
}

#[test]
fn diagnose_finds_the_delivery_in_the_log_when_the_receipt_is_lost() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/mixed-fleet.toml");
    let mut sc = Scenario::load(&path).unwrap();
    sc.fleet.devices = 10;
    sc.fleet.duration = Span::parse("2d").unwrap();
    sc.calls.receipt_lost_share = 0.5;
    let dir = tempfile::tempdir().unwrap();
    let written = write_run(&sc, &RunOptions::default(), dir.path()).unwrap();
    let pushes = std::fs::read_to_string(&written.pushes).unwrap();
    let without = pushes
        .lines()
        .filter(|l| l.contains("\"apns_status\":200") && !l.contains("received_at"))
        .count();
    assert!(without > 20, "{without}");
    let result = score(&written).unwrap();
    let none = &result.matrix[&Cause::None];
    assert!(none[&Cause::None] > 40, "{result}");
}
