//! Why a push was sent (`PushPurpose`) is kept on every write path, and the end-of-call pushes
//! stay out of what measures rings (the export and the rollups).

use pushtrace_store::{CallEffects, CallState, JobKind, NewEvent, NewJob, PushPurpose, PushType};

use super::{at, attempt, new_call, send_job};
use crate::harness::Harness;

pub async fn purposes_are_kept_and_end_pushes_left_out_of_ring_measures(h: &Harness) {
    let store = &h.store;
    let ring = attempt("ring", Some("c1"), "t1", 0);
    assert_eq!(ring.purpose, Some(PushPurpose::Ring));
    store
        .create_call(
            &new_call("c1", "client-1"),
            &[ring],
            &[send_job("c1", "ring", 0)],
        )
        .await
        .unwrap();
    store.mark_sent("ring", at(1)).await.unwrap();

    // The answer queues an end push (VoIP) and one background push in its own transaction.
    let mut end_voip = attempt("end-voip", Some("c1"), "t2", 5);
    end_voip.purpose = Some(PushPurpose::End);
    let mut end_background = attempt("end-bg", Some("c1"), "t3", 5);
    end_background.purpose = Some(PushPurpose::End);
    end_background.push_type = PushType::Background;
    end_background.topic = "com.acme.call".into();
    end_background.priority = 5;
    let effects = CallEffects {
        events: vec![NewEvent {
            at: at(5),
            call_id: Some("c1".into()),
            push_id: None,
            kind: "call.answered".into(),
            detail: serde_json::Value::Null,
        }],
        attempts: vec![end_voip, end_background],
        jobs: ["end-voip", "end-bg"]
            .into_iter()
            .map(|push_id| NewJob {
                call_id: "c1".into(),
                kind: JobKind::Send {
                    push_id: push_id.into(),
                },
                due_at: at(5),
            })
            .collect(),
        webhook: None,
    };
    let moved = store
        .transition_call_with(
            "c1",
            &[CallState::Ringing],
            CallState::Answered,
            at(5),
            &effects,
        )
        .await
        .unwrap()
        .expect("the call moves");
    assert_eq!(moved.job_ids.len(), 2);

    // A push imported from another server says nothing about why it was sent.
    let mut imported = attempt("imported", None, "t4", 6);
    imported.purpose = None;
    store.insert_attempt(&imported).await.unwrap();
    let mut missed = attempt("missed", Some("c1"), "t5", 7);
    missed.purpose = Some(PushPurpose::MissedCall);
    missed.push_type = PushType::Alert;
    store.insert_attempt(&missed).await.unwrap();

    let kept: Vec<(String, Option<PushPurpose>, PushType)> = store
        .attempts_for_call("c1")
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.push_id, a.purpose, a.push_type))
        .collect();
    assert_eq!(
        kept,
        [
            ("ring".into(), Some(PushPurpose::Ring), PushType::Voip),
            (
                "end-bg".into(),
                Some(PushPurpose::End),
                PushType::Background
            ),
            ("end-voip".into(), Some(PushPurpose::End), PushType::Voip),
            (
                "missed".into(),
                Some(PushPurpose::MissedCall),
                PushType::Alert
            ),
        ]
    );
    let imported = store.attempt("imported").await.unwrap().unwrap();
    assert_eq!(imported.purpose, None);

    let exported: Vec<String> = store
        .export_push_records(Some("acme"), None, None)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.push_id)
        .collect();
    assert_eq!(exported, ["ring", "imported", "missed"]);

    store.rollup_day("2026-05-20").await.unwrap();
    let rollups = store
        .rollups(Some("acme"), "2026-05-20", "2026-05-20")
        .await
        .unwrap();
    let all = rollups
        .iter()
        .find(|r| r.cohort_key == "all")
        .expect("an all/all row");
    assert_eq!(all.pushes, 3, "{rollups:#?}");
}
