use std::sync::Arc;
use std::time::Duration;

use pushtrace_model::{Timestamp, UtcOffset};
use pushtrace_store::{Backend, CallState, JobKind, StoreError};

use super::{at, attempt, deadline_job, new_call, send_job};
use crate::harness::Harness;

pub async fn create_call_stores_call_attempts_and_jobs_once(h: &Harness) {
    let store = &h.store;
    let call = new_call("c1", "backend-1");
    let attempts = [
        attempt("p1", Some("c1"), "t1", 0),
        attempt("p2", Some("c1"), "t2", 0),
    ];
    let jobs = [
        send_job("c1", "p1", 0),
        send_job("c1", "p2", 0),
        deadline_job("c1", 60),
    ];
    let created = store.create_call(&call, &attempts, &jobs).await.unwrap();
    assert!(created.created);
    assert_eq!(created.job_ids.len(), 3);
    assert_eq!(created.call.state, CallState::Ringing);
    assert_eq!(created.call.state_at, call.created_at);
    assert_eq!(created.call.attrs["room"], "7");
    assert_eq!(store.call("c1").await.unwrap(), Some(created.call.clone()));
    assert_eq!(
        store.call_by_client_id("acme", "backend-1").await.unwrap(),
        Some(created.call.clone())
    );
    assert_eq!(
        store.attempts_for_call("c1").await.unwrap(),
        attempts.to_vec()
    );
    assert_eq!(store.pending_jobs().await.unwrap(), 3);

    // Again with another call id and more work: the first call, nothing added.
    let mut retry = new_call("c1-retry", "backend-1");
    retry.caller = "someone else".into();
    let again = store
        .create_call(
            &retry,
            &[attempt("p9", Some("c1-retry"), "t1", 1)],
            &[deadline_job("c1-retry", 60)],
        )
        .await
        .unwrap();
    assert!(!again.created);
    assert!(again.job_ids.is_empty());
    assert_eq!(again.call, created.call);
    assert_eq!(store.pending_jobs().await.unwrap(), 3);
    assert_eq!(store.attempt("p9").await.unwrap(), None);
    assert_eq!(store.call("c1-retry").await.unwrap(), None);

    // The same client call id in another app is another call.
    let mut other = new_call("c2", "backend-1");
    other.app = "other".into();
    assert!(store.create_call(&other, &[], &[]).await.unwrap().created);
    assert_eq!(store.call("nope").await.unwrap(), None);
}

pub async fn create_call_is_all_or_nothing(h: &Harness) {
    let store = &h.store;
    store
        .insert_attempt(&attempt("taken", None, "t1", 0))
        .await
        .unwrap();
    let err = store
        .create_call(
            &new_call("c1", "b1"),
            &[
                attempt("fresh", Some("c1"), "t1", 0),
                attempt("taken", Some("c1"), "t2", 0),
            ],
            &[deadline_job("c1", 60)],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    assert_eq!(store.call("c1").await.unwrap(), None);
    assert_eq!(store.attempt("fresh").await.unwrap(), None);
    assert_eq!(store.pending_jobs().await.unwrap(), 0);
    // A job naming another (unknown) call fails the whole call too.
    let err = store
        .create_call(
            &new_call("c2", "b2"),
            &[],
            &[deadline_job("c2", 60), deadline_job("ghost", 60)],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    assert_eq!(store.call("c2").await.unwrap(), None);
    // Then the same request, corrected, creates it.
    let ok = store
        .create_call(
            &new_call("c2", "b2"),
            &[],
            &[deadline_job("c2", 60), deadline_job("c2", 61)],
        )
        .await
        .unwrap();
    assert!(ok.created);
    assert!(ok.job_ids[0] < ok.job_ids[1]);
}

pub async fn concurrent_duplicates_create_one_call(h: &Harness) {
    let store = Arc::new(h.store.clone());
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let call_id = format!("c-{i}");
            let push_id = format!("p-{i}");
            store
                .create_call(
                    &new_call(&call_id, "same-client-id"),
                    &[attempt(&push_id, Some(&call_id), "t1", 0)],
                    &[send_job(&call_id, &push_id, 0), deadline_job(&call_id, 60)],
                )
                .await
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap().unwrap());
    }
    let winners: Vec<_> = results.iter().filter(|r| r.created).collect();
    assert_eq!(winners.len(), 1, "exactly one create wins");
    let winner = &winners[0].call;
    for result in &results {
        assert_eq!(&result.call, winner);
        assert_eq!(result.job_ids.is_empty(), !result.created);
    }
    assert_eq!(store.pending_jobs().await.unwrap(), 2);
    assert_eq!(
        store
            .attempts_for_call(&winner.call_id)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Many creates at once (one batch on PostgreSQL): each request gets its own call and its own
/// jobs, duplicates resolve to one call, and a faulty request fails alone.
pub async fn concurrent_creates_answer_each_its_own(h: &Harness) {
    let store = &h.store;
    store
        .insert_attempt(&attempt("taken", None, "t1", 0))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let call_id = format!("c-{i:02}");
            // Four requests share a client call id; one reuses a stored push id.
            let client_id = if i % 10 == 3 {
                "dup".to_string()
            } else {
                format!("b-{i:02}")
            };
            let push_id = if i == 7 {
                "taken".to_string()
            } else {
                format!("p-{i:02}")
            };
            let created = store
                .create_call_claiming(
                    &new_call(&call_id, &client_id),
                    &[attempt(&push_id, Some(&call_id), "t1", 0)],
                    &[send_job(&call_id, &push_id, 0), deadline_job(&call_id, 60)],
                    "a",
                    Duration::from_secs(30),
                )
                .await;
            (i, call_id, created)
        }));
    }
    let mut owner_of = std::collections::HashMap::new();
    let mut dup_winners = 0;
    for task in tasks {
        let (i, call_id, created) = task.await.unwrap();
        if i == 7 {
            assert!(
                matches!(created, Err(StoreError::Invalid { .. })),
                "{created:?}"
            );
            continue;
        }
        let created = created.unwrap();
        if i % 10 == 3 {
            assert_eq!(created.call.client_call_id, "dup");
            if !created.created {
                assert!(created.job_ids.is_empty());
                continue;
            }
            dup_winners += 1;
        }
        assert!(created.created, "{i}");
        assert_eq!(created.call.call_id, call_id);
        assert_eq!(created.job_ids.len(), 2, "{i}");
        for (n, id) in created.job_ids.iter().enumerate() {
            owner_of.insert(*id, (call_id.clone(), n));
        }
    }
    assert_eq!(dup_winners, 1);
    assert_eq!(store.call("c-07").await.unwrap(), None);
    assert_eq!(store.pending_jobs().await.unwrap(), 2 * 36);
    // Every job id answered belongs to its call, in the order given (the send, then the
    // deadline); the send jobs were created claimed until their lease (30 s) lapses.
    assert!(
        store
            .claim_due(at(20), "z", Duration::from_secs(30), 100)
            .await
            .unwrap()
            .is_empty()
    );
    let jobs = store
        .claim_due(at(100), "z", Duration::from_secs(30), 100)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 2 * 36);
    for job in jobs {
        let (call_id, n) = &owner_of[&job.id];
        assert_eq!(&job.call_id, call_id);
        assert_eq!(matches!(job.kind, JobKind::Deadline), *n == 1, "{job:?}");
    }
}

pub async fn transition_is_compare_and_set(h: &Harness) {
    let store = &h.store;
    store
        .create_call(&new_call("c1", "b1"), &[], &[])
        .await
        .unwrap();
    let ringing = [CallState::Ringing];
    let delivered = store
        .transition_call("c1", &ringing, CallState::Delivered, at(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivered.state, CallState::Delivered);
    assert_eq!(delivered.state_at, at(2));
    // No longer ringing: the CAS fails and nothing changes.
    assert_eq!(
        store
            .transition_call("c1", &ringing, CallState::Missed, at(60))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.call("c1").await.unwrap().unwrap(), delivered);
    let answered = store
        .transition_call(
            "c1",
            &[CallState::Ringing, CallState::Delivered],
            CallState::Answered,
            at(5),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (answered.state, answered.state_at),
        (CallState::Answered, at(5))
    );
    assert_eq!(
        store
            .transition_call("c1", &[], CallState::Failed, at(6))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .transition_call("nope", &ringing, CallState::Failed, at(6))
            .await
            .unwrap(),
        None
    );
    // Racing transitions out of ringing: one wins.
    store
        .create_call(&new_call("c2", "b2"), &[], &[])
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        store.transition_call("c2", &ringing, CallState::Cancelled, at(3)),
        store.transition_call("c2", &ringing, CallState::Missed, at(60)),
    );
    assert_eq!(a.unwrap().is_some() as u8 + b.unwrap().is_some() as u8, 1);
    assert_eq!("missed".parse::<CallState>().unwrap(), CallState::Missed);
    assert!(matches!(
        "lost".parse::<CallState>(),
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(
        serde_json::to_string(&CallState::Cancelled).unwrap(),
        "\"cancelled\""
    );
}

pub async fn times_come_back_as_the_same_instants_in_utc(h: &Harness) {
    let store = &h.store;
    let paris = UtcOffset::from_seconds(7200).unwrap();
    let mut call = new_call("c1", "b1");
    call.created_at = Timestamp::parse("2026-05-20T12:00:00.123456+02:00").unwrap();
    call.deadline = Timestamp::new(call.created_at.utc_micros() + 1, paris);
    let stored = store.create_call(&call, &[], &[]).await.unwrap().call;
    let read = store.call("c1").await.unwrap().unwrap();
    assert_eq!(read, stored);
    assert_eq!(read.created_at.utc_micros(), call.created_at.utc_micros());
    assert_eq!(read.created_at.offset(), UtcOffset::UTC);
    assert_eq!(read.deadline.utc_micros(), call.deadline.utc_micros());
}

/// A row the store's own writes never leave (a NULL caller, a text deadline: a hand edit) is
/// an error naming the operation on both backends, never a panic of the row reader.
pub async fn a_hand_edited_row_is_an_error_not_a_panic(h: &Harness) {
    let store = &h.store;
    store
        .create_call(&new_call("c1", "b1"), &[], &[])
        .await
        .unwrap();
    let edit = match store.backend() {
        // SQLite keeps a text the column cannot convert; PostgreSQL needs the constraint gone.
        Backend::Sqlite => "UPDATE calls SET deadline = 'tomorrow'",
        Backend::Postgres => {
            "ALTER TABLE calls ALTER COLUMN caller DROP NOT NULL; UPDATE calls SET caller = NULL"
        }
    };
    h.execute(edit).await.unwrap();
    let err = store.call("c1").await.unwrap_err();
    assert!(
        matches!(err, StoreError::Query { op: "call", .. }),
        "{err:?}"
    );
}
