//! The writes of the gateway's hot path: a call created with its first jobs already claimed,
//! "on the wire", and the answer written with the end of its job (batched on PostgreSQL).

use std::time::Duration;

use pushtrace_store::{AttemptAnswer, StoreError};

use super::{at, attempt, deadline_job, new_call, send_job};
use crate::harness::Harness;

const LEASE: Duration = Duration::from_secs(30);

fn answer(status: u16, responded: i64) -> AttemptAnswer {
    AttemptAnswer {
        responded_at: at(responded),
        apns_status: Some(status),
        apns_reason: None,
        apns_id: Some(format!("apns-{responded}")),
        apns_unique_id: None,
        apns_timestamp: None,
        error: None,
    }
}

pub async fn create_call_claiming_claims_only_what_is_due(h: &Harness) {
    let store = &h.store;
    let created = store
        .create_call_claiming(
            &new_call("c1", "b1"),
            &[attempt("p1", Some("c1"), "t1", 0)],
            &[send_job("c1", "p1", 0), deadline_job("c1", 60)],
            "a",
            LEASE,
        )
        .await
        .unwrap();
    assert!(created.created);
    let [send, deadline] = created.job_ids[..] else {
        panic!("two job ids: {:?}", created.job_ids);
    };
    // The send job is "a"'s until its lease (from the call's creation) lapses.
    assert!(
        store
            .claim_due(at(10), "b", LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .claim_job(send, at(10), "b", LEASE)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(30)));
    // Past the lease another instance takes it over, as after any claim.
    let taken = store.claim_due(at(31), "b", LEASE, 10).await.unwrap();
    assert_eq!(
        taken.iter().map(|j| (j.id, j.claims)).collect::<Vec<_>>(),
        [(send, 2)]
    );
    assert!(!store.complete_job(send, "a").await.unwrap());
    // The deadline was left free.
    let due = store.claim_due(at(60), "a", LEASE, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|j| (j.id, j.claims)).collect::<Vec<_>>(),
        [(deadline, 1)]
    );
    // A duplicate claims nothing.
    let again = store
        .create_call_claiming(
            &new_call("c2", "b1"),
            &[],
            &[send_job("c2", "p2", 0)],
            "a",
            LEASE,
        )
        .await
        .unwrap();
    assert!(!again.created && again.job_ids.is_empty());
    assert_eq!(store.pending_jobs().await.unwrap(), 2);
}

pub async fn finish_push_answers_and_completes_together(h: &Harness) {
    let store = &h.store;
    let created = store
        .create_call_claiming(
            &new_call("c1", "b1"),
            &[attempt("p1", Some("c1"), "t1", 0)],
            &[send_job("c1", "p1", 0)],
            "a",
            LEASE,
        )
        .await
        .unwrap();
    let job = created.job_ids[0];
    store.mark_sent("p1", at(1)).await.unwrap();
    // Not the owner: the answer is kept, the job is not its to end.
    assert!(
        !store
            .finish_push("p1", &answer(200, 2), job, "b")
            .await
            .unwrap()
    );
    assert_eq!(store.pending_jobs().await.unwrap(), 1);
    assert!(
        store
            .finish_push("p1", &answer(200, 3), job, "a")
            .await
            .unwrap()
    );
    assert_eq!(store.pending_jobs().await.unwrap(), 0);
    let stored = store.attempt("p1").await.unwrap().unwrap();
    assert_eq!(stored.sent_at, Some(at(1)));
    assert_eq!(stored.responded_at, Some(at(3)));
    assert_eq!(stored.apns_status, Some(200));
    assert_eq!(stored.apns_id.as_deref(), Some("apns-3"));

    // An unknown push is refused and its job stays.
    let other = store.add_job(&send_job("c1", "p9", 0)).await.unwrap();
    assert!(
        store
            .claim_job(other, at(5), "a", LEASE)
            .await
            .unwrap()
            .is_some()
    );
    let refused = store.finish_push("p9", &answer(200, 6), other, "a").await;
    assert!(
        matches!(&refused, Err(StoreError::Invalid { what, .. }) if what == "push_id"),
        "{refused:?}"
    );
    assert!(matches!(
        store.mark_sent("p9", at(6)).await,
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(store.pending_jobs().await.unwrap(), 1);
}

/// Many at once (one batch on PostgreSQL): each caller hears of its own row, a bad one fails
/// alone.
pub async fn concurrent_push_writes_fail_alone(h: &Harness) {
    let store = &h.store;
    let attempts: Vec<_> = (0..48)
        .map(|n| attempt(&format!("p-{n:02}"), Some("c1"), "t1", 0))
        .collect();
    let jobs: Vec<_> = (0..48)
        .map(|n| send_job("c1", &format!("p-{n:02}"), 0))
        .collect();
    let created = store
        .create_call_claiming(&new_call("c1", "b1"), &attempts, &jobs, "a", LEASE)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for (n, job) in created.job_ids.iter().copied().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            // Every eighth names a push that does not exist.
            let id = if n % 8 == 0 {
                format!("missing-{n}")
            } else {
                format!("p-{n:02}")
            };
            let sent = store.mark_sent(&id, at(1)).await;
            let finished = store.finish_push(&id, &answer(200, 2), job, "a").await;
            (n, sent.is_ok(), finished.ok())
        }));
    }
    for task in tasks {
        let (n, sent, finished) = task.await.unwrap();
        if n % 8 == 0 {
            assert!(!sent && finished.is_none(), "{n}");
        } else {
            assert!(sent && finished == Some(true), "{n}");
        }
    }
    assert_eq!(store.pending_jobs().await.unwrap(), 6);
    let stored = store.attempts_for_call("c1").await.unwrap();
    let answered = stored.iter().filter(|a| a.responded_at.is_some()).count();
    let sent = stored.iter().filter(|a| a.sent_at == Some(at(1))).count();
    assert_eq!((answered, sent), (42, 42));
}
