use pushtrace_model::PushRecord;
use pushtrace_store::AttemptAnswer;

use super::{at, attempt, attrs, new_call, receipt};
use crate::harness::Harness;

fn full(push_id: &str, sent: i64) -> PushRecord {
    let mut r = PushRecord::new(at(sent));
    r.push_id = Some(push_id.into());
    r.call_id = Some("remote-call".into());
    r.device = Some("a1b2c3".into());
    r.topic = Some("com.acme.call.voip".into());
    r.push_type = Some("voip".into());
    r.priority = Some(10);
    r.expiration = Some(0);
    r.queued_at = Some(at(sent - 1));
    r.apns_status = Some(200);
    r.apns_id = Some("8d1f0a30-0000-4000-8000-000000000001".into());
    r.apns_unique_id = Some("u-1".into());
    r.responded_at = Some(at(sent + 1));
    r.received_at = Some(at(sent + 2));
    r.reported_at = Some(at(sent + 3));
    r.must_report = Some(true);
    r.deadline = Some(at(sent + 60));
    r.attrs = attrs(&[("os_version", "26.4"), ("carrier", "Orange")]);
    r
}

pub async fn export_import_round_trip(h: &Harness) {
    let store = &h.store;
    let mut rejected = full("r-2", 10);
    rejected.apns_status = Some(410);
    rejected.apns_reason = Some("Unregistered".into());
    rejected.apns_timestamp = Some(at(-50));
    rejected.received_at = None;
    rejected.reported_at = None;
    rejected.must_report = None;
    // Only sent_at known: absent fields must come back absent, not "" or 0.
    let bare = PushRecord::new(at(20));
    let records = vec![full("r-1", 0), rejected, bare];
    assert_eq!(
        store.import_push_records("acme", &records).await.unwrap(),
        (3, 0)
    );

    let exported = store
        .export_push_records(Some("acme"), None, None)
        .await
        .unwrap();
    assert_eq!(exported.len(), 3);
    assert_eq!(exported[..2], records[..2]);
    let generated = exported[2].push_id.clone().unwrap();
    assert!(generated.starts_with("import-2-"), "{generated}");
    let mut bare_back = records[2].clone();
    bare_back.push_id = Some(generated);
    assert_eq!(exported[2], bare_back);
    // Importing the export again changes nothing.
    assert_eq!(
        store.import_push_records("acme", &exported).await.unwrap(),
        (0, 3)
    );

    // The imported receipt is a receipt like any other.
    let (attempt_back, receipt_back) = store
        .token_history("acme", "a1b2c3", 10)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(attempt_back.push_id, "r-1");
    assert!(receipt_back.is_some_and(|r| !r.late && r.device_received_at == Some(at(2))));
}

pub async fn import_skips_existing_push_ids(h: &Harness) {
    let store = &h.store;
    // A push the gateway made: its export reads the call's deadline and the receipt.
    store
        .create_call(
            &new_call("c1", "b1"),
            &[
                attempt("g-1", Some("c1"), "t1", 100),
                attempt("g-2", Some("c1"), "t2", 100),
            ],
            &[],
        )
        .await
        .unwrap();
    store.mark_sent("g-1", at(101)).await.unwrap();
    let answer = AttemptAnswer {
        responded_at: at(102),
        apns_status: Some(200),
        apns_reason: None,
        apns_id: Some("id-1".into()),
        apns_unique_id: None,
        apns_timestamp: None,
        error: None,
    };
    store.record_answer("g-1", &answer).await.unwrap();
    let mut got = receipt("g-1", Some("c1"), 104);
    got.device_received_at = None;
    store.record_receipt(&got).await.unwrap();
    let mut other_app = full("x-1", 100);
    other_app.call_id = None;
    other_app.queued_at = None;
    store
        .import_push_records("other", &[other_app])
        .await
        .unwrap();

    let exported = store
        .export_push_records(Some("acme"), None, None)
        .await
        .unwrap();
    assert_eq!(exported.len(), 2);
    let g1 = &exported[0];
    assert_eq!(g1.push_id.as_deref(), Some("g-1"));
    assert_eq!(g1.device.as_deref(), Some("t1"));
    assert_eq!(g1.sent_at, at(101));
    assert_eq!(g1.apns_status, Some(200));
    // No device clock in the receipt: the server's arrival time stands in.
    assert_eq!(g1.received_at, Some(at(104)));
    assert_eq!(g1.deadline, Some(at(60)));
    // Never sent: sent_at is when it was queued.
    assert_eq!(exported[1].sent_at, at(100));
    assert_eq!(exported[1].received_at, None);

    // Time window [from, to) and app filter.
    assert_eq!(
        store
            .export_push_records(None, None, None)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        store
            .export_push_records(None, Some(at(100)), Some(at(101)))
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(
        store
            .export_push_records(None, Some(at(101)), None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .export_push_records(Some("acme"), None, Some(at(100)))
            .await
            .unwrap()
            .is_empty()
    );

    // Importing a push_id that exists skips it, whatever it says.
    let mut clash = full("g-1", 500);
    clash.apns_status = Some(500);
    let fresh = full("n-1", 600);
    assert_eq!(
        store
            .import_push_records("acme", &[clash, fresh])
            .await
            .unwrap(),
        (1, 1)
    );
    assert_eq!(
        store.attempt("g-1").await.unwrap().unwrap().apns_status,
        Some(200)
    );
}
