use pushtrace_store::{AttemptAnswer, Rollup, StoreError};

use super::{at, attempt, attrs, receipt};
use crate::harness::Harness;

fn answer(status: Option<u16>) -> AttemptAnswer {
    AttemptAnswer {
        responded_at: at(2),
        apns_status: status,
        apns_reason: status
            .filter(|s| *s != 200)
            .map(|_| "Unregistered".to_string()),
        apns_id: None,
        apns_unique_id: None,
        apns_timestamp: None,
        error: status.is_none().then(|| "timed out".to_string()),
    }
}

/// Four pushes of acme on 2026-05-20, one of another app, one the next day.
async fn seed(h: &Harness) {
    let store = &h.store;
    let pushes = [
        (
            "p1",
            "acme",
            0,
            &[("os_version", "26.4"), ("model", "A")][..],
            Some(200),
        ),
        (
            "p2",
            "acme",
            0,
            &[("os_version", "26.4"), ("model", "B")][..],
            Some(410),
        ),
        (
            "p3",
            "acme",
            0,
            &[("os_version", "18.0"), ("model", "A")][..],
            None,
        ),
        ("p4", "acme", 0, &[("os_version", "26.4")][..], Some(200)),
        (
            "p5",
            "acme",
            86_400,
            &[("os_version", "26.4")][..],
            Some(200),
        ),
        ("p6", "other", 0, &[][..], Some(200)),
    ];
    for (push_id, app, queued, pairs, status) in pushes {
        let mut a = attempt(push_id, None, "t1", queued);
        a.app = app.into();
        a.attrs = attrs(pairs);
        store.insert_attempt(&a).await.unwrap();
        store.mark_sent(push_id, at(queued + 1)).await.unwrap();
        store.record_answer(push_id, &answer(status)).await.unwrap();
    }
    // p1 reached the app 2 s after it was sent (device clock), p4 68 s after and late.
    store.record_receipt(&receipt("p1", None, 4)).await.unwrap();
    let mut late = receipt("p4", None, 70);
    late.late = true;
    store.record_receipt(&late).await.unwrap();
}

fn row(key: &str, value: &str, counts: [u64; 7]) -> Rollup {
    Rollup {
        day: "2026-05-20".into(),
        app: "acme".into(),
        cohort_key: key.into(),
        cohort_value: value.into(),
        pushes: counts[0],
        accepted: counts[1],
        rejected: counts[2],
        failed: counts[3],
        received: counts[4],
        received_late: counts[5],
        latency_ms_sum: counts[6],
    }
}

pub async fn rollup_counts_per_cohort(h: &Harness) {
    let store = &h.store;
    seed(h).await;
    assert_eq!(store.rollup_day("2026-05-20").await.unwrap(), 6);
    let acme = store
        .rollups(Some("acme"), "2026-05-20", "2026-05-20")
        .await
        .unwrap();
    assert_eq!(
        acme,
        vec![
            row("all", "all", [4, 2, 1, 1, 2, 1, 70_000]),
            row("model", "A", [2, 1, 0, 1, 1, 0, 2_000]),
            row("model", "B", [1, 0, 1, 0, 0, 0, 0]),
            row("os_version", "18.0", [1, 0, 0, 1, 0, 0, 0]),
            row("os_version", "26.4", [3, 2, 1, 0, 2, 1, 70_000]),
        ]
    );
    let all = store
        .rollups(None, "2026-05-01", "2026-05-31")
        .await
        .unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!((all[5].app.as_str(), all[5].pushes), ("other", 1));
    // The next day is separate.
    assert_eq!(store.rollup_day("2026-05-21").await.unwrap(), 2);
    let both = store
        .rollups(Some("acme"), "2026-05-20", "2026-05-21")
        .await
        .unwrap();
    assert_eq!(both.len(), 7);
    assert_eq!(both[5].day, "2026-05-21");
    assert!(
        store
            .rollups(Some("acme"), "2026-06-01", "2026-06-30")
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn rollup_day_replaces_and_validates(h: &Harness) {
    let store = &h.store;
    seed(h).await;
    store.rollup_day("2026-05-20").await.unwrap();
    // More pushes arrive; recomputing replaces, never adds to, the day's rows.
    let mut extra = attempt("p7", None, "t2", 10);
    extra.attrs = attrs(&[("carrier", "Orange")]);
    store.insert_attempt(&extra).await.unwrap();
    assert_eq!(store.rollup_day("2026-05-20").await.unwrap(), 7);
    let acme = store
        .rollups(Some("acme"), "2026-05-20", "2026-05-20")
        .await
        .unwrap();
    assert_eq!(acme[0], row("all", "all", [5, 2, 1, 2, 2, 1, 70_000]));
    assert_eq!(acme[1], row("carrier", "Orange", [1, 0, 0, 1, 0, 0, 0]));
    // A day without pushes clears the day.
    assert_eq!(store.rollup_day("2026-01-01").await.unwrap(), 0);
    for bad in ["2026-13-01", "20260520", "yesterday"] {
        let err = store.rollup_day(bad).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");
    }
    assert!(store.rollups(None, "2026-05-20", "soon").await.is_err());
}
