use std::collections::BTreeMap;
use std::time::Duration;

use pushtrace_store::JobKind;

use super::{at, deadline_job, new_call, send_job};
use crate::harness::Harness;

const LEASE: Duration = Duration::from_secs(30);

pub async fn claims_follow_due_time_and_leases(h: &Harness) {
    let store = &h.store;
    store
        .create_call(&new_call("c1", "b1"), &[], &[])
        .await
        .unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), None);
    let late = store.add_job(&deadline_job("c1", 60)).await.unwrap();
    let second = store.add_job(&send_job("c1", "p2", 5)).await.unwrap();
    let first = store.add_job(&send_job("c1", "p1", 0)).await.unwrap();
    assert_eq!(store.pending_jobs().await.unwrap(), 3);
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(0)));

    // Nothing due yet before 0.
    assert!(
        store
            .claim_due(at(-1), "a", LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = store.claim_due(at(10), "a", LEASE, 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        [first, second]
    );
    assert_eq!(
        claimed[0].kind,
        JobKind::Send {
            push_id: "p1".into()
        }
    );
    assert_eq!(claimed[0].call_id, "c1");
    assert_eq!(claimed[0].due_at, at(0));
    assert_eq!(claimed[0].claims, 1);
    // Leased: nobody else gets them while the lease runs.
    assert!(
        store
            .claim_due(at(20), "b", LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The limit holds, and the lease expires: "b" takes over (claims counts it).
    let taken = store.claim_due(at(40), "b", LEASE, 1).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!((taken[0].id, taken[0].claims), (first, 2));
    // The old owner lost it.
    assert!(!store.complete_job(first, "a").await.unwrap());
    assert!(store.complete_job(first, "b").await.unwrap());
    assert_eq!(store.pending_jobs().await.unwrap(), 2);
    let rest = store.claim_due(at(100), "c", LEASE, 10).await.unwrap();
    assert_eq!(
        rest.iter().map(|j| j.id).collect::<Vec<_>>(),
        [second, late]
    );
    assert_eq!(rest[1].kind, JobKind::Deadline);
    // Both leased until 130: nothing can be claimed before then.
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(130)));
}

pub async fn only_the_owner_completes_or_reschedules(h: &Harness) {
    let store = &h.store;
    store
        .create_call(&new_call("c1", "b1"), &[], &[])
        .await
        .unwrap();
    let id = store.add_job(&send_job("c1", "p1", 0)).await.unwrap();
    // Not claimed: nobody owns it.
    assert!(!store.complete_job(id, "a").await.unwrap());
    assert!(!store.reschedule_job(id, "a", at(9)).await.unwrap());
    store.claim_due(at(0), "a", LEASE, 10).await.unwrap();
    assert!(!store.reschedule_job(id, "b", at(9)).await.unwrap());
    assert!(store.reschedule_job(id, "a", at(9)).await.unwrap());
    // Rescheduled: lease freed, due later.
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(9)));
    assert!(
        store
            .claim_due(at(8), "b", LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.claim_due(at(9), "b", LEASE, 10).await.unwrap();
    assert_eq!(
        (again[0].id, again[0].claims, again[0].due_at),
        (id, 2, at(9))
    );
    assert!(!store.complete_job(id, "a").await.unwrap());
    assert!(store.complete_job(id, "b").await.unwrap());
    assert!(!store.complete_job(id, "b").await.unwrap());
    assert_eq!(store.pending_jobs().await.unwrap(), 0);
    assert_eq!(store.next_due_at().await.unwrap(), None);
}

pub async fn concurrent_claimers_never_share_a_job(h: &Harness) {
    let store = &h.store;
    store
        .create_call(&new_call("c1", "b1"), &[], &[])
        .await
        .unwrap();
    let jobs: Vec<_> = (0..200)
        .map(|i| send_job("c1", &format!("p{i}"), i % 7))
        .collect();
    let mut ids = Vec::new();
    for job in &jobs {
        ids.push(store.add_job(job).await.unwrap());
    }
    let mut claimers = Vec::new();
    for claimer in 0..4 {
        let store = store.clone();
        claimers.push(tokio::spawn(async move {
            let owner = format!("instance-{claimer}");
            let mut mine = Vec::new();
            loop {
                let batch = store.claim_due(at(10), &owner, LEASE, 7).await.unwrap();
                if batch.is_empty() {
                    break;
                }
                for job in batch {
                    assert_eq!(job.claims, 1, "job {} claimed twice", job.id);
                    mine.push(job.id);
                }
                tokio::task::yield_now().await;
            }
            (owner, mine)
        }));
    }
    let mut owner_of = BTreeMap::new();
    for claimer in claimers {
        let (owner, mine) = claimer.await.unwrap();
        for id in mine {
            if let Some(other) = owner_of.insert(id, owner.clone()) {
                panic!("job {id} handed to {other} and {owner}");
            }
        }
    }
    assert_eq!(owner_of.keys().copied().collect::<Vec<_>>(), ids);
    for (id, owner) in &owner_of {
        assert!(store.complete_job(*id, owner).await.unwrap());
    }
    assert_eq!(store.pending_jobs().await.unwrap(), 0);
}

pub async fn claim_job_by_id(h: &Harness) {
    let store = &h.store;
    let created = store
        .create_call(
            &new_call("c1", "b1"),
            &[],
            &[send_job("c1", "p1", 0), deadline_job("c1", 60)],
        )
        .await
        .unwrap();
    let [send, deadline] = created.job_ids[..] else {
        panic!("two jobs expected, got {:?}", created.job_ids);
    };
    // By id, whatever its due time.
    let job = store
        .claim_job(deadline, at(0), "a", LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (job.id, job.kind, job.claims),
        (deadline, JobKind::Deadline, 1)
    );
    assert_eq!(
        store.claim_job(deadline, at(1), "b", LEASE).await.unwrap(),
        None
    );
    let job = store
        .claim_job(send, at(0), "a", LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        job.kind,
        JobKind::Send {
            push_id: "p1".into()
        }
    );
    // Claimed by id: claim_due skips it until the lease ends.
    assert!(
        store
            .claim_due(at(29), "b", LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let expired = store
        .claim_job(send, at(31), "b", LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(expired.claims, 2);
    assert_eq!(
        store.claim_job(9_999, at(0), "a", LEASE).await.unwrap(),
        None
    );
    // Racing claims of one job: one wins.
    let (x, y) = tokio::join!(
        store.claim_job(deadline, at(100), "x", LEASE),
        store.claim_job(deadline, at(100), "y", LEASE),
    );
    assert_eq!(x.unwrap().is_some() as u8 + y.unwrap().is_some() as u8, 1);
}
