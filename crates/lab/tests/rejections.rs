//! APNs's refusals other than success, as the emulator answers them: 400 `BadDeviceToken` for
//! a token of the other environment and 410 `Unregistered` are never resent; 429
//! `TooManyRequests`, 500 and 503 are transient, and a strategy that resends sends again.
//!
//! The phone is the founding incident's, online all along (its script replaced by one call at
//! 17:20:10, deadline 17:21:10).

use std::path::Path;

use pushtrace_lab::scenario::{Retry, Scripted};
use pushtrace_lab::{LogFormat, RunOptions, Scenario, score, simulate_device, write_run};
use pushtrace_model::{Cause, Outcome, Timestamp};

fn phone(retry: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/founding-incident.toml");
    let mut sc = Scenario::load(&path).unwrap();
    sc.calls.retry_after = Retry::parse(retry).unwrap();
    sc.calls.fallback = true;
    let at = Timestamp::parse("2026-05-20T17:20:10+03:00").unwrap();
    sc.script = vec![Scripted::Call { at }];
    sc
}

#[test]
fn a_token_of_the_other_environment_is_refused_400_and_never_resent() {
    let mut sc = phone("10s");
    sc.fleet.wrong_environment_share = 1.0;
    let run = simulate_device(&sc, 0, false);
    assert_eq!(run.pushes.len(), 1, "Apple: never resend BadDeviceToken");
    let p = &run.pushes[0];
    assert_eq!(
        (p.status, p.outcome, p.cause),
        (400, Outcome::Rejected, Cause::TokenInvalid)
    );
    let record = run.record(&sc, p);
    assert_eq!(record.apns_status, Some(400));
    assert_eq!(record.apns_reason.as_deref(), Some("BadDeviceToken"));
    assert_eq!(
        record.apns_timestamp, None,
        "only a 410 carries a timestamp"
    );
    // The alert goes to a token of the same build, refused alike.
    let alert = run.calls[0].fallback.unwrap();
    assert_eq!((alert.status, alert.shown_at), (400, None));
}

#[test]
fn a_transient_refusal_is_resent_by_a_strategy_that_resends_only() {
    for (status, reason, share) in [
        (429, "TooManyRequests", 0),
        (500, "InternalServerError", 1),
        (503, "ServiceUnavailable", 2),
    ] {
        let mut sc = phone("10s");
        let mut shares = [0.0; 3];
        shares[share] = 1.0;
        sc.apns.too_many_requests_share = shares[0];
        sc.apns.internal_error_share = shares[1];
        sc.apns.unavailable_share = shares[2];
        // Every push refused: resent at +10 s … +50 s, none after the deadline.
        let run = simulate_device(&sc, 0, false);
        assert_eq!(run.pushes.len(), 6, "{reason}");
        for p in &run.pushes {
            assert_eq!((p.status, p.cause), (status, Cause::ApnsRejected), "{p:?}");
            let record = run.record(&sc, p);
            assert_eq!(record.apns_reason.as_deref(), Some(reason));
            assert_eq!(record.apns_timestamp, None);
        }
        assert!(!run.calls[0].rang_in_time);
        // The alert at the deadline is not refused (the shares are the call pushes').
        assert_eq!(run.calls[0].fallback.unwrap().status, 200);

        sc.calls.retry_after = Retry::OFF;
        let run = simulate_device(&sc, 0, false);
        assert_eq!(
            run.pushes.len(),
            1,
            "{reason}: no resend without a schedule"
        );
    }
}

#[test]
fn a_resend_after_a_transient_refusal_can_ring() {
    // Half the pushes refused: over seeds, some calls ring on their second push, which only the
    // resending strategy sends.
    let mut sc = phone("5s");
    sc.apns.unavailable_share = 0.5;
    let mut rang_on_resend = 0;
    for seed in 0..40 {
        sc.fleet.seed = seed;
        let run = simulate_device(&sc, 0, false);
        if run.pushes[0].status == 503 && run.calls[0].rang_in_time {
            assert!(run.pushes.len() >= 2);
            rang_on_resend += 1;
        }
    }
    assert!(rang_on_resend >= 5, "{rang_on_resend}");
}

#[test]
fn score_counts_the_refusals_by_their_causes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/mixed-fleet.toml");
    let mut sc = Scenario::load(&path).unwrap();
    sc.fleet.devices = 40;
    sc.fleet.duration = pushtrace_lab::scenario::Span::parse("3d").unwrap();
    sc.fleet.wrong_environment_share = 0.1;
    sc.apns.too_many_requests_share = 0.02;
    sc.apns.unavailable_share = 0.02;
    let dir = tempfile::tempdir().unwrap();
    let options = RunOptions {
        threads: 1,
        format: LogFormat::Syslog,
        noise: 0.0,
    };
    let written = write_run(&sc, &options, dir.path()).unwrap();
    let result = score(&written).unwrap();
    let rejected = &result.matrix[&Cause::ApnsRejected];
    assert!(rejected[&Cause::ApnsRejected] >= 5, "{result}");
    assert_eq!(rejected.len(), 1, "{result}");
    let token = &result.matrix[&Cause::TokenInvalid];
    assert!(token[&Cause::TokenInvalid] >= 10, "{result}");
    assert_eq!(token.len(), 1, "{result}");
    let pushes = std::fs::read_to_string(&written.pushes).unwrap();
    assert!(pushes.contains(r#""apns_status":400,"apns_reason":"BadDeviceToken""#));
    assert!(pushes.contains(r#""apns_status":429,"apns_reason":"TooManyRequests""#));
}
