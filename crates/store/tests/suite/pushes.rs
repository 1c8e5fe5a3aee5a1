use pushtrace_store::{AttemptAnswer, NewEvent, ReceiptInsert, StoreError};
use serde_json::json;

use super::{at, attempt, new_call, receipt};
use crate::harness::Harness;

pub async fn attempt_lifecycle(h: &Harness) {
    let store = &h.store;
    store
        .create_call(&new_call("c1", "b1"), &[], &[])
        .await
        .unwrap();
    let mut first = attempt("p-b", Some("c1"), "t1", 0);
    first.collapse_id = Some("c1".into());
    first.expiration = 1_779_271_260;
    store.insert_attempt(&first).await.unwrap();
    let mut retry = attempt("p-a", Some("c1"), "t1", 3);
    retry.attempt = 2;
    store.insert_attempt(&retry).await.unwrap();
    // Same queued_at: ordered by push_id.
    let twin = attempt("p-0", Some("c1"), "t2", 0);
    store.insert_attempt(&twin).await.unwrap();

    store.mark_sent("p-b", at(1)).await.unwrap();
    let answer = AttemptAnswer {
        responded_at: at(2),
        apns_status: Some(410),
        apns_reason: Some("Unregistered".into()),
        apns_id: Some("8d1f0a30-0000-4000-8000-000000000001".into()),
        apns_unique_id: Some("u-1".into()),
        apns_timestamp: Some(at(-100)),
        error: None,
    };
    store.record_answer("p-b", &answer).await.unwrap();
    let failed = AttemptAnswer {
        responded_at: at(4),
        apns_status: None,
        apns_reason: None,
        apns_id: None,
        apns_unique_id: None,
        apns_timestamp: None,
        error: Some("connection reset".into()),
    };
    store.record_answer("p-a", &failed).await.unwrap();

    let stored = store.attempt("p-b").await.unwrap().unwrap();
    let mut expected = first.clone();
    expected.sent_at = Some(at(1));
    expected.responded_at = Some(at(2));
    expected.apns_status = Some(410);
    expected.apns_reason = answer.apns_reason.clone();
    expected.apns_id = answer.apns_id.clone();
    expected.apns_unique_id = answer.apns_unique_id.clone();
    expected.apns_timestamp = Some(at(-100));
    assert_eq!(stored, expected);
    let ids: Vec<String> = store
        .attempts_for_call("c1")
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.push_id)
        .collect();
    assert_eq!(ids, ["p-0", "p-b", "p-a"]);
    let retried = store.attempt("p-a").await.unwrap().unwrap();
    assert_eq!(retried.attempt, 2);
    assert_eq!(retried.error.as_deref(), Some("connection reset"));
    assert_eq!(retried.apns_status, None);
    assert_eq!(store.attempt("nope").await.unwrap(), None);

    // An attempt outside any call (e.g. a test push) is allowed.
    store
        .insert_attempt(&attempt("solo", None, "t9", 5))
        .await
        .unwrap();
    assert_eq!(store.attempt("solo").await.unwrap().unwrap().call_id, None);
}

pub async fn unknown_push_ids_are_refused_clearly(h: &Harness) {
    let store = &h.store;
    let err = store.mark_sent("ghost", at(1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("ghost"), "{err}");
    let err = store
        .record_receipt(&receipt("ghost", None, 3))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("no such push attempt"), "{err}");
    store
        .insert_attempt(&attempt("p1", None, "t1", 0))
        .await
        .unwrap();
    let err = store
        .insert_attempt(&attempt("p1", None, "t1", 0))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already stored"), "{err}");
    let err = store
        .add_job(&super::deadline_job("no-call", 1))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such call"), "{err}");
}

pub async fn second_receipt_is_a_duplicate(h: &Harness) {
    let store = &h.store;
    store
        .create_call(
            &new_call("c1", "b1"),
            &[
                attempt("p1", Some("c1"), "t1", 0),
                attempt("p2", Some("c1"), "t2", 0),
            ],
            &[],
        )
        .await
        .unwrap();
    let first = receipt("p1", Some("c1"), 3);
    assert_eq!(
        store.record_receipt(&first).await.unwrap(),
        ReceiptInsert::Recorded
    );
    let mut second = receipt("p1", Some("c1"), 9);
    second.late = true;
    assert_eq!(
        store.record_receipt(&second).await.unwrap(),
        ReceiptInsert::Duplicate
    );
    let mut late = receipt("p2", Some("c1"), 70);
    late.late = true;
    late.device_received_at = None;
    late.must_report = Some(false);
    late.app_state = None;
    assert_eq!(
        store.record_receipt(&late).await.unwrap(),
        ReceiptInsert::Recorded
    );
    assert_eq!(
        store.receipts_for_call("c1").await.unwrap(),
        vec![first, late]
    );
    assert!(store.receipts_for_call("c-none").await.unwrap().is_empty());
}

/// Whether a device has the call: a receipt for any push of the call to its token, the first
/// attempt's or a retry's, and only for that call and that token.
pub async fn device_receipt_covers_every_push_of_the_call_to_the_token(h: &Harness) {
    let store = &h.store;
    store
        .create_call(&new_call("c1", "b1"), &[], &[])
        .await
        .unwrap();
    store
        .create_call(&new_call("c2", "b2"), &[], &[])
        .await
        .unwrap();
    let mut retry = attempt("p1-2", Some("c1"), "t1", 1);
    retry.attempt = 2;
    for a in [
        attempt("p1-1", Some("c1"), "t1", 0),
        retry,
        attempt("p2", Some("c1"), "t2", 0),
        attempt("p3", Some("c2"), "t1", 0),
    ] {
        store.insert_attempt(&a).await.unwrap();
    }
    assert_eq!(store.device_receipt("c1", "t1").await.unwrap(), None);

    // The retry's receipt, then the first attempt's arriving later: the first recorded wins.
    let first = receipt("p1-2", Some("c1"), 3);
    store.record_receipt(&first).await.unwrap();
    store
        .record_receipt(&receipt("p1-1", Some("c1"), 5))
        .await
        .unwrap();
    assert_eq!(store.device_receipt("c1", "t1").await.unwrap(), Some(first));
    assert_eq!(store.device_receipt("c1", "t2").await.unwrap(), None);
    assert_eq!(store.device_receipt("c2", "t1").await.unwrap(), None);
    assert_eq!(store.device_receipt("c-none", "t1").await.unwrap(), None);
}

pub async fn events_are_appended_in_order(h: &Harness) {
    let store = &h.store;
    let mut seqs = Vec::new();
    for (i, kind) in ["call.created", "push.sent", "push.answered"]
        .iter()
        .enumerate()
    {
        let event = NewEvent {
            at: at(i as i64),
            call_id: Some("c1".into()),
            push_id: (i > 0).then(|| "p1".to_string()),
            kind: kind.to_string(),
            detail: json!({"step": i, "nested": {"ok": true}, "list": [1, "two"]}),
        };
        seqs.push(store.append_event(&event).await.unwrap());
    }
    store
        .append_event(&NewEvent {
            at: at(9),
            call_id: Some("c2".into()),
            push_id: None,
            kind: "call.created".into(),
            detail: json!(null),
        })
        .await
        .unwrap();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let events = store.events_for_call("c1").await.unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs);
    assert_eq!(events[1].kind, "push.sent");
    assert_eq!(events[1].push_id.as_deref(), Some("p1"));
    assert_eq!(events[2].detail["list"][1], "two");
    assert_eq!(events[0].at, at(0));
    // The log is append-only, by the schema.
    let refused = h.execute("DELETE FROM events").await.unwrap_err();
    assert!(refused.contains("append-only"), "{refused}");
    let refused = h.execute("UPDATE events SET kind = 'x'").await.unwrap_err();
    assert!(refused.contains("append-only"), "{refused}");
    assert_eq!(store.events_for_call("c1").await.unwrap().len(), 3);
}

pub async fn token_history_is_newest_first_with_receipts(h: &Harness) {
    let store = &h.store;
    store
        .create_call(
            &new_call("c1", "b1"),
            &[attempt("p1", Some("c1"), "t1", 0)],
            &[],
        )
        .await
        .unwrap();
    store
        .create_call(
            &new_call("c2", "b2"),
            &[
                attempt("p2", Some("c2"), "t1", 100),
                attempt("p3", Some("c2"), "t2", 100),
            ],
            &[],
        )
        .await
        .unwrap();
    store
        .insert_attempt(&attempt("p4", Some("c2"), "t1", 103))
        .await
        .unwrap();
    store
        .record_receipt(&receipt("p2", Some("c2"), 101))
        .await
        .unwrap();
    let history = store.token_history("acme", "t1", 10).await.unwrap();
    let ids: Vec<(&str, bool)> = history
        .iter()
        .map(|(a, r)| (a.push_id.as_str(), r.is_some()))
        .collect();
    assert_eq!(ids, [("p4", false), ("p2", true), ("p1", false)]);
    assert_eq!(
        history[1].1.as_ref().unwrap(),
        &receipt("p2", Some("c2"), 101)
    );
    assert_eq!(store.token_history("acme", "t1", 2).await.unwrap().len(), 2);
    assert!(
        store
            .token_history("other", "t1", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Many writes at once (on SQLite they share one group-committed transaction): each failing
/// write fails alone, every other one is stored, and each caller hears its own outcome.
pub async fn concurrent_writes_fail_alone(h: &Harness) {
    let store = &h.store;
    store
        .create_call(&new_call("c1", "b1"), &[], &[])
        .await
        .unwrap();
    store
        .insert_attempt(&attempt("p-taken", Some("c1"), "t1", 0))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            // Every eighth write reuses a push id: refused.
            let id = if n % 8 == 0 {
                "p-taken".to_owned()
            } else {
                format!("p-{n:02}")
            };
            store
                .insert_attempt(&attempt(&id, Some("c1"), "t1", n))
                .await
        }));
    }
    let mut refused = 0;
    for task in tasks {
        if task.await.unwrap().is_err() {
            refused += 1;
        }
    }
    assert_eq!(refused, 8);
    let stored = store.attempts_for_call("c1").await.unwrap();
    assert_eq!(stored.len(), 1 + 56, "the taken id plus every other write");
}
