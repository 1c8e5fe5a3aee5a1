//! The gateway end to end, as the issue asks: the real `pushtrace serve` and the real
//! `pushtrace emulator` in their own processes, the emulator's delivery hook playing the app
//! and posting receipts. Every scenario runs on SQLite and on PostgreSQL.

mod gateway_lab;
mod support;

use std::time::Duration;

use gateway_lab::{API_TOKEN, Backend, Device, Lab, LabSpec};
use serde_json::{Value, json};
use support::http;

fn pushes_of_type<'a>(timeline: &'a Value, push_type: &str) -> Vec<&'a Value> {
    timeline["pushes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["push_type"] == push_type)
        .collect()
}

/// Whether the call's event log has `kind`. Tests wait on events: the engine appends one after
/// the writes it reports, and the timeline reads events first.
fn has_event(timeline: &Value, kind: &str) -> bool {
    timeline["events"]
        .as_array()
        .is_some_and(|events| events.iter().any(|e| e["kind"] == kind))
}

fn on_time_call_is_delivered_and_traced(backend: Backend) {
    let phone = Device::voip(1, "online");
    let mut spec = LabSpec::new(backend);
    spec.devices = vec![phone.clone()];
    let lab = Lab::start(spec);
    lab.register("alice", &phone.token, "voip");

    let created = lab.call("backend-call-1", "alice");
    assert_eq!(created["created"], true);
    assert_eq!(created["pushes"].as_array().unwrap().len(), 1);
    let call_id = created["call"]["call_id"].as_str().unwrap().to_owned();

    let timeline = lab.wait_for(&call_id, Duration::from_secs(10), |t| {
        has_event(t, "receipt.on_time")
    });
    assert_eq!(timeline["call"]["state"], "delivered", "{timeline:#}");
    let push = &timeline["pushes"][0];
    assert_eq!(push["apns_status"], 200);
    assert_eq!(
        push["apns_id"], push["push_id"],
        "the push id is the apns-id"
    );
    assert_eq!(push["expiration"], 0, "Apple's VoIP advice by default");
    for stamp in ["queued_at", "sent_at", "responded_at"] {
        assert!(push[stamp].is_string(), "{stamp} recorded: {push:#}");
    }
    let receipt = &timeline["receipts"][0];
    assert_eq!(receipt["late"], false);
    assert_eq!(receipt["must_report"], true);
    assert!(receipt["reported_at"].is_string());

    // The backend can find it by its own id.
    let (status, by_client_id) = lab.api("GET", "/v1/apps/acme/calls/backend-call-1", None);
    assert_eq!(status, 200, "{by_client_id}");
    assert_eq!(by_client_id["call"]["call_id"], call_id.as_str());
    assert_eq!(by_client_id["pushes"], timeline["pushes"]);

    // The same backend call id again: the first call, nothing new sent.
    let (status, again) = lab.api(
        "POST",
        "/v1/apps/acme/calls",
        Some(json!({ "call_id": "backend-call-1", "caller": "Ann", "callee": "alice" })),
    );
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["created"], false);
    assert_eq!(again["call"]["call_id"], call_id.as_str());

    // At the deadline a delivered call stays delivered: no missed-call alert.
    lab.api("POST", &format!("/v1/calls/{call_id}/answered"), None);
    let (status, history) = lab.api(
        "GET",
        &format!("/v1/apps/acme/tokens/{}/pushes", phone.token),
        None,
    );
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["pushes"].as_array().unwrap().len(), 1);
    assert!(history["pushes"][0]["receipt"].is_object());

    // What the gateway traced, as push records `diagnose --pushes` reads.
    let exported = lab.export_push_records();
    assert_eq!(exported.len(), 1, "{exported:?}");
    let record = &exported[0];
    assert_eq!(record["call_id"], call_id.as_str());
    assert_eq!(record["device"], phone.token.as_str());
    assert_eq!(record["apns_status"], 200);
    assert_eq!(record["push_type"], "voip");
    for field in ["sent_at", "responded_at", "received_at", "deadline"] {
        assert!(record[field].is_string(), "{field}: {record}");
    }

    let (status, metrics) =
        support::try_http_text(lab.gateway_addr, "GET", "/metrics", &[], None).unwrap();
    assert_eq!(status, 200);
    assert!(
        metrics.contains("pushtrace_receipts_total{result=\"on_time\"} 1"),
        "{metrics}"
    );
}

fn offline_device_gets_the_missed_call_alert_after_the_window(backend: Backend) {
    let phone = Device::voip(2, "offline");
    let alert = Device::alert(2, "online");
    let mut spec = LabSpec::new(backend);
    spec.devices = vec![phone.clone(), alert.clone()];
    spec.app_extra = "call_window_secs = 2\n".into();
    let lab = Lab::start(spec);
    lab.register("bob", &phone.token, "voip");
    lab.register("bob", &alert.token, "alert");

    let created = lab.call("backend-call-2", "bob");
    let call_id = created["call"]["call_id"].as_str().unwrap().to_owned();
    let timeline = lab.wait_for(&call_id, Duration::from_secs(10), |t| {
        pushes_of_type(t, "alert")
            .first()
            .is_some_and(|a| a["apns_status"] == 200)
    });
    assert_eq!(timeline["call"]["state"], "missed");
    // APNs accepted the VoIP push (accepted is not delivered), and nothing reached the app.
    assert_eq!(pushes_of_type(&timeline, "voip")[0]["apns_status"], 200);
    assert!(timeline["receipts"].as_array().unwrap().is_empty());
    let alert_push = pushes_of_type(&timeline, "alert")[0];
    assert_eq!(alert_push["topic"], gateway_lab::BUNDLE);
    assert_eq!(alert_push["collapse_id"], call_id.as_str());
    assert!(
        timeline["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "call.missed"),
        "{timeline:#}"
    );
}

fn device_back_online_after_the_window_is_a_late_receipt(backend: Backend) {
    let phone = Device::voip(3, "offline");
    let mut spec = LabSpec::new(backend);
    spec.devices = vec![phone.clone()];
    // APNs keeps the push for 5 minutes: longer than the call.
    spec.app_extra = "call_window_secs = 1\nexpiration = \"300s\"\n".into();
    let lab = Lab::start(spec);
    lab.register("carol", &phone.token, "voip");
    let created = lab.call("backend-call-3", "carol");
    let call_id = created["call"]["call_id"].as_str().unwrap().to_owned();
    lab.wait_for(&call_id, Duration::from_secs(10), |t| {
        t["call"]["state"] == "missed"
    });

    lab.set_device_state(&phone.token, "online");
    let timeline = lab.wait_for(&call_id, Duration::from_secs(10), |t| {
        has_event(t, "receipt.late")
    });
    assert_eq!(timeline["receipts"][0]["late"], true, "{timeline:#}");
    assert_eq!(
        timeline["call"]["state"], "missed",
        "a late receipt does not undo the miss"
    );
    assert!(
        timeline["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "receipt.late")
    );
}

fn unregistered_token_is_invalidated_unless_registered_again_after(backend: Backend) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // Gone an hour ago, but the user registered it with us since: keep it.
    let mut reregistered = Device::voip(4, "online");
    reregistered.unregistered_at_ms = Some(now_ms - 3_600_000);
    let gone_later = Device::voip(5, "online");
    let erins_alerts = Device::alert(5, "online");
    let mut spec = LabSpec::new(backend);
    spec.devices = vec![
        reregistered.clone(),
        gone_later.clone(),
        erins_alerts.clone(),
    ];
    let lab = Lab::start(spec);
    lab.register("dave", &reregistered.token, "voip");
    lab.register("erin", &gone_later.token, "voip");
    lab.register("erin", &erins_alerts.token, "alert");
    // APNs learns erin's token is gone after we registered it.
    let (status, body) = lab.emulator_admin(
        "DELETE",
        &format!(
            "/v1/devices/sandbox/{}/{}",
            gone_later.token,
            gateway_lab::VOIP_TOPIC
        ),
        None,
    );
    assert!(status == 200 || status == 204, "{status} {body}");

    for (client_id, user, token, invalidated) in [
        ("backend-call-4a", "dave", &reregistered.token, false),
        ("backend-call-4b", "erin", &gone_later.token, true),
    ] {
        let created = lab.call(client_id, user);
        let call_id = created["call"]["call_id"].as_str().unwrap().to_owned();
        // The only device refused it: the call fails at once, long before its 60 s deadline.
        let timeline = lab.wait_for(&call_id, Duration::from_secs(10), |t| {
            has_event(t, "call.failed")
        });
        assert_eq!(timeline["call"]["state"], "failed", "{timeline:#}");
        assert!(
            has_event(&timeline, "token.invalidated") || has_event(&timeline, "token.kept"),
            "{timeline:#}"
        );
        let voip = pushes_of_type(&timeline, "voip");
        assert_eq!(voip.len(), 1, "410 is never retried");
        assert_eq!(voip[0]["apns_status"], 410, "{timeline:#}");
        assert_eq!(voip[0]["apns_reason"], "Unregistered");
        assert!(voip[0]["apns_timestamp"].is_string());
        // Erin's phone gets the missed-call alert now; dave has no alert token.
        let alerts = pushes_of_type(&timeline, "alert").len();
        assert_eq!(alerts, usize::from(user == "erin"), "{timeline:#}");
        let (_, history) = lab.api("GET", &format!("/v1/apps/acme/tokens/{token}/pushes"), None);
        assert_eq!(
            history["token"]["invalidated_at"].is_string(),
            invalidated,
            "{user}: {history:#}"
        );
    }
    // Erin has no active VoIP token now: the next call says nothing can ring, and fails.
    let created = lab.call("backend-call-4c", "erin");
    assert!(created["pushes"].as_array().unwrap().is_empty());
    assert_eq!(created["call"]["state"], "failed", "{created:#}");
    assert!(
        created["warning"]
            .as_str()
            .unwrap()
            .contains("no active VoIP token")
    );
}

fn cancelled_call_gets_no_alert(backend: Backend) {
    let phone = Device::voip(6, "offline");
    let alert = Device::alert(6, "online");
    let mut spec = LabSpec::new(backend);
    spec.devices = vec![phone.clone(), alert.clone()];
    spec.app_extra = "call_window_secs = 1\n".into();
    let lab = Lab::start(spec);
    lab.register("frank", &phone.token, "voip");
    lab.register("frank", &alert.token, "alert");
    let created = lab.call("backend-call-6", "frank");
    let call_id = created["call"]["call_id"].as_str().unwrap().to_owned();
    let (status, cancelled) = lab.api("POST", &format!("/v1/calls/{call_id}/cancel"), None);
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");
    // Past the deadline and a few polls: still cancelled, no alert.
    std::thread::sleep(Duration::from_millis(1800));
    let timeline = lab.timeline(&call_id);
    assert_eq!(timeline["call"]["state"], "cancelled");
    assert!(
        pushes_of_type(&timeline, "alert").is_empty(),
        "{timeline:#}"
    );
    // Answering a cancelled call is a conflict, cancelling again is not.
    let (status, body) = lab.api("POST", &format!("/v1/calls/{call_id}/answered"), None);
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("cancelled"));
    let (status, _) = lab.api("POST", &format!("/v1/calls/{call_id}/cancel"), None);
    assert_eq!(status, 200);
}

fn bad_and_forged_receipts_are_refused(backend: Backend) {
    let phone = Device::voip(7, "online");
    let mut spec = LabSpec::new(backend);
    spec.devices = vec![phone.clone()];
    let lab = Lab::start(spec);
    lab.register("gina", &phone.token, "voip");
    let created = lab.call("backend-call-7", "gina");
    let call_id = created["call"]["call_id"].as_str().unwrap().to_owned();
    let push_id = created["pushes"][0]["push_id"].as_str().unwrap().to_owned();
    lab.wait_for(&call_id, Duration::from_secs(10), |t| {
        has_event(t, "receipt.on_time")
    });
    let post = |body: &str, content_type: &str| {
        http(
            lab.gateway_addr,
            "POST",
            "/v1/receipts",
            &[("Content-Type", content_type)],
            Some(body),
        )
    };
    let receipt = |token: &str, push: &str| {
        json!({
            "push_id": push,
            "receipt_token": token,
            "device_received_at": "2026-11-24T10:00:00Z",
        })
        .to_string()
    };
    // Forged: a well-formed token signed with another key.
    let forged = "v1.cC0xCmMtMQoxOTk5OTk5OTk5OTk5.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let (status, body) = post(&receipt(forged, "p-1"), "application/json");
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["field"], "receipt_token");
    // Not a token at all.
    let (status, body) = post(&receipt("hello", &push_id), "application/json");
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().unwrap().contains("malformed"));
    // Malformed JSON, a missing field, a bad time, the wrong content type.
    let (status, body) = post("{\"push_id\":", "application/json");
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(
        &json!({ "push_id": push_id }).to_string(),
        "application/json",
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("receipt_token"),
        "{body}"
    );
    let (status, body) = post(&receipt("x", &push_id), "text/plain");
    assert_eq!(status, 415, "{body}");
    // The receipt the emulator posted counted once; no forged one was recorded.
    let timeline = lab.timeline(&call_id);
    assert_eq!(timeline["receipts"].as_array().unwrap().len(), 1);
}

fn malformed_requests_get_json_errors(backend: Backend) {
    let lab = Lab::start(LabSpec::new(backend));
    // (method, path, body, status, field named)
    type Case<'a> = (&'a str, &'a str, Option<Value>, u16, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/v1/apps/nope/calls",
            Some(json!({"call_id":"c","caller":"a","callee":"b"})),
            404,
            None,
        ),
        (
            "PUT",
            "/v1/apps/acme/tokens/not-hex",
            Some(json!({"user":"u"})),
            400,
            Some("token"),
        ),
        (
            "PUT",
            "/v1/apps/acme/tokens/aabb",
            Some(json!({"user":"u","kind":"fax"})),
            400,
            Some("kind"),
        ),
        (
            "POST",
            "/v1/apps/acme/calls",
            Some(json!({"call_id":"c","caller":"a"})),
            400,
            None,
        ),
        (
            "POST",
            "/v1/apps/acme/calls",
            Some(json!({"call_id":"c","caller":"a","callee":"b","window_secs":0})),
            400,
            Some("window_secs"),
        ),
        (
            "POST",
            "/v1/apps/acme/calls",
            Some(json!({"call_id":"c","caller":"a","callee":"b","window_secs":2.5})),
            400,
            Some("window_secs"),
        ),
        (
            "POST",
            "/v1/apps/acme/calls",
            Some(json!({"call_id":"","caller":"a","callee":"b"})),
            400,
            Some("call_id"),
        ),
        (
            "POST",
            "/v1/apps/acme/calls",
            Some(json!({"call_id":"c","caller":"a","callee":"b","colour":1})),
            400,
            None,
        ),
        ("GET", "/v1/calls/unknown-call", None, 404, None),
        ("POST", "/v1/calls/unknown-call/cancel", None, 404, None),
        (
            "GET",
            "/v1/apps/acme/tokens/aabb/pushes?limit=0",
            None,
            400,
            Some("limit"),
        ),
        ("GET", "/v1/nothing-here", None, 404, None),
        ("DELETE", "/v1/apps/acme/calls", None, 405, None),
    ];
    for (method, path, body, want, field) in cases {
        let (status, answer) = lab.api(method, path, body.clone());
        assert_eq!(status, want, "{method} {path} {body:?}: {answer}");
        assert!(answer["error"].is_string(), "{method} {path}: {answer}");
        if let Some(field) = field {
            assert_eq!(answer["field"], field, "{method} {path}: {answer}");
        }
    }
    // No token, a wrong token.
    let body = json!({"call_id":"c","caller":"a","callee":"b"}).to_string();
    for headers in [
        vec![],
        vec![("Authorization", "Bearer wrong-token-0000000000")],
    ] {
        let (status, answer) = http(
            lab.gateway_addr,
            "POST",
            "/v1/apps/acme/calls",
            &headers,
            Some(&body),
        );
        assert_eq!(status, 401, "{answer}");
    }
    let (status, health) = http(lab.gateway_addr, "GET", "/healthz", &[], None);
    assert_eq!(status, 200);
    assert_eq!(
        health["store"],
        match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    );
    let _ = API_TOKEN;
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(super::Backend::Postgres) } )*
        }
    };
}

on_both_stores!(
    on_time_call_is_delivered_and_traced,
    offline_device_gets_the_missed_call_alert_after_the_window,
    device_back_online_after_the_window_is_a_late_receipt,
    unregistered_token_is_invalidated_unless_registered_again_after,
    cancelled_call_gets_no_alert,
    bad_and_forged_receipts_are_refused,
    malformed_requests_get_json_errors,
);
