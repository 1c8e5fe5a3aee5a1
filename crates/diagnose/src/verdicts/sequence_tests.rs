//! Lines and pushes in sequence: a retry racing the first push of its call, a call of another
//! provider tracked after the arrival, a later push closing the watch on an expired one, apsd
//! closing a failed attempt, and a connected stretch running through a line that names no
//! interface, another app's push after the push was due, a log that left apsd out, and what
//! APNs's token answers say.

use pushtrace_model::{Cause, EventKind, Outcome, PushRecord, Recovery};

use super::tests::{arrived, at, connected, event, options, policy, push, reconnecting, timeline};
use super::{diagnose, diagnose_all};

fn reported(time: &str) -> pushtrace_model::DeviceEvent {
    event(
        time,
        "Comera",
        EventKind::CallReported {
            bundle: None,
            call: None,
        },
    )
}

/// apsd finds no interface to connect on: the connection is down from `time`.
fn no_usable_interface(time: &str) -> pushtrace_model::DeviceEvent {
    event(
        time,
        "apsd",
        EventKind::ApnsConnectSkipped {
            reason: "no usable interface".into(),
            connected_interfaces: Some(0),
            wwan_usable: Some(false),
            wifi_usable: Some(false),
            retry_in_s: None,
        },
    )
}

fn retry(sent: &str) -> PushRecord {
    let mut p = push(sent);
    p.push_id = Some("p-2".into());
    p
}

#[test]
fn a_report_before_the_arrival_is_an_earlier_pushs_and_does_not_clear_a_kill() {
    // The first push arrives and is reported; the retry arrives 0.5 s after the report, is not
    // reported, and PushKit kills the app.
    let t = timeline(
        vec![
            connected("10:00:00.000"),
            arrived("10:00:30.100"),
            reported("10:00:33.600"),
            arrived("10:00:34.100"),
            event(
                "10:00:35.000",
                "Comera",
                EventKind::AppKilledForNotReporting,
            ),
        ],
        "09:59:00",
        "10:05:00",
    );
    let pushes = [push("10:00:30.000"), retry("10:00:34.000")];
    let v = diagnose_all(&pushes, &t, &options());
    assert_eq!((v[0].outcome, v[0].cause), (Outcome::OnTime, Cause::None));
    assert_eq!(
        (v[1].outcome, v[1].cause),
        (Outcome::DeliveredNotReported, Cause::AppNotReporting),
        "{:#?}",
        v[1]
    );
    assert!(
        v[1].evidence
            .iter()
            .all(|e| e.event.at != at("10:00:33.600"))
    );
}

#[test]
fn a_call_callservicesd_tracks_for_another_provider_is_not_the_apps_report() {
    // With private data shown, callservicesd's tracked call names its provider: a cellular call
    // starting right after the push's arrival does not clear PushKit's kill; the app's own does.
    let verdict = |provider: &str| {
        let tracked = event(
            "10:00:31.000",
            "callservicesd",
            EventKind::CallReported {
                bundle: Some(provider.into()),
                call: None,
            },
        );
        let t = timeline(
            vec![
                connected("10:00:00.000"),
                arrived("10:00:30.100"),
                tracked,
                event(
                    "10:00:35.000",
                    "Comera",
                    EventKind::AppKilledForNotReporting,
                ),
            ],
            "09:59:00",
            "10:05:00",
        );
        let v = diagnose(&push("10:00:30.000"), &t, &options());
        (v.outcome, v.cause)
    };
    assert_eq!(
        verdict("com.apple.coretelephony"),
        (Outcome::DeliveredNotReported, Cause::AppNotReporting)
    );
    assert_eq!(verdict("com.acme.call"), (Outcome::OnTime, Cause::None));
}

#[test]
fn an_expiration_0_push_is_expired_once_the_next_push_arrives_after_the_return() {
    // Back at 10:01:00; the log ends 3 s later, too soon by itself to say nothing came, but the
    // app's next push (sent later) was delivered on the return: APNs kept nothing else.
    let down = no_usable_interface("10:00:00.000");
    let t = timeline(
        vec![
            down,
            reconnecting("10:01:00.000"),
            connected("10:01:01.000"),
            arrived("10:01:01.500"),
        ],
        "09:59:00",
        "10:01:04",
    );
    let mut first = push("10:00:20.000");
    first.expiration = Some(0);
    let mut cancel = retry("10:00:55.000");
    cancel.expiration = Some(0);
    let v = diagnose_all(&[first.clone(), cancel], &t, &options());
    assert_eq!(
        (v[0].outcome, v[0].cause),
        (Outcome::NotDelivered, Cause::ExpiredWhileOffline),
        "{}",
        v[0].explanation
    );
    assert_eq!(v[1].arrived_at, Some(at("10:01:01.500")));

    // Alone, the same push and log cannot tell expired from not yet delivered.
    let t = timeline(
        vec![
            no_usable_interface("10:00:00.000"),
            reconnecting("10:01:00.000"),
            connected("10:01:01.000"),
        ],
        "09:59:00",
        "10:01:04",
    );
    let v = diagnose(&first, &t, &options());
    assert_eq!(v.cause, Cause::DeviceOfflineRadio);
}

#[test]
fn an_arrival_after_the_return_is_the_push_sent_over_the_live_connection() {
    // The first push (expiration 0) is sent while the connection is down; the connection is back
    // at 10:00:31, the retry is sent at 10:00:36 and one push arrives 0.2 s later, inside both
    // pushes' windows: it is the retry's (a push held over the outage comes on the reconnect).
    let t = timeline(
        vec![
            event(
                "10:00:00.000",
                "apsd",
                EventKind::ApnsDisconnected {
                    interface: None,
                    reason: Some("stream end".into()),
                },
            ),
            reconnecting("10:00:30.000"),
            connected("10:00:31.000"),
            arrived("10:00:36.200"),
        ],
        "09:59:00",
        "10:02:00",
    );
    // One call, one deadline: both pushes are due by 10:01:05.
    let mut first = push("10:00:20.000");
    first.expiration = Some(0);
    first.deadline = Some(at("10:01:05.000"));
    let mut second = retry("10:00:36.000");
    second.deadline = first.deadline;
    let v = diagnose_all(&[first, second], &t, &options());
    assert_eq!(v[1].arrived_at, Some(at("10:00:36.200")), "{:#?}", v[1]);
    assert_eq!((v[1].outcome, v[1].cause), (Outcome::OnTime, Cause::None));
    assert_eq!(v[0].arrived_at, None, "{}", v[0].explanation);
    assert_eq!(v[0].outcome, Outcome::NotDelivered, "{}", v[0].explanation);
}

#[test]
fn apsd_closing_a_failed_attempt_does_not_end_the_reconnection_policy_3_abandons() {
    // Path satisfied, the attempt times out and apsd closes it; policy 3 follows; the push is
    // sent; only the display coming on lets apsd connect.
    let t = timeline(
        vec![
            reconnecting("10:00:00.000"),
            event(
                "10:00:30.000",
                "apsd",
                EventKind::ApnsConnectFailed {
                    interface: Some("WWAN".into()),
                    error: Some("connection establish timer fired".into()),
                    code: None,
                },
            ),
            event(
                "10:00:30.004",
                "apsd",
                EventKind::ApnsDisconnected {
                    interface: Some("WWAN".into()),
                    reason: Some("connection failure".into()),
                },
            ),
            policy("10:00:36.000", 3),
            event(
                "10:06:00.000",
                "powerd",
                EventKind::DisplayState {
                    display_off: false,
                    hid_active: Some(true),
                },
            ),
            connected("10:06:02.000"),
            arrived("10:06:02.500"),
        ],
        "09:59:00",
        "10:08:00",
    );
    let v = diagnose(&push("10:01:00.000"), &t, &options());
    assert_eq!(
        (v.outcome, v.cause, v.recovery),
        (
            Outcome::Late,
            Cause::ReconnectAbandonedPowerPolicy,
            Some(Recovery::UserUnlockOrDisplayOn)
        ),
        "{}",
        v.explanation
    );

    // A connection that was up and then lost is an outage, not an attempt.
    let t = timeline(
        vec![
            connected("10:00:00.000"),
            event(
                "10:00:30.004",
                "apsd",
                EventKind::ApnsDisconnected {
                    interface: Some("WWAN".into()),
                    reason: Some("connection failure".into()),
                },
            ),
            policy("10:00:36.000", 3),
            connected("10:06:02.000"),
            arrived("10:06:02.500"),
        ],
        "09:59:00",
        "10:08:00",
    );
    let v = diagnose(&push("10:01:00.000"), &t, &options());
    assert_eq!(v.cause, Cause::DeviceOfflineRadio, "{}", v.explanation);
}

#[test]
fn a_push_line_without_interface_does_not_cut_the_connected_stretch() {
    // Another app's push, dropped for an unknown topic hash, names no interface; the ack after
    // the send is still cited as the connection alive after it.
    let hash = event(
        "10:00:30.300",
        "apsd",
        EventKind::PushReceived {
            filter: "unknown".into(),
            topic: Some("5decd488a42449c0510375f5219b1fdfca0a2ac9".into()),
            interface: None,
            priority: None,
        },
    );
    let t = timeline(
        vec![connected("10:00:00.000"), hash, connected("10:02:00.000")],
        "09:59:00",
        "10:05:00",
    );
    let v = diagnose(&push("10:00:30.000"), &t, &options());
    assert_eq!(
        (v.outcome, v.cause),
        (Outcome::NotDelivered, Cause::NetworkPathSuspect)
    );
    let cited: Vec<_> = v.evidence.iter().map(|e| e.event.at).collect();
    assert!(cited.contains(&at("10:02:00.000")), "{cited:?}");
    assert!(!cited.contains(&at("10:00:30.300")), "{cited:?}");
}

fn other_app_push(time: &str, interface: &str) -> pushtrace_model::DeviceEvent {
    event(
        time,
        "apsd",
        EventKind::PushReceived {
            filter: "enabled".into(),
            topic: Some("net.whatsapp.WhatsApp.voip".into()),
            interface: Some(interface.into()),
            priority: Some(10),
        },
    )
}

#[test]
fn another_apps_push_is_cited_only_as_the_first_traffic_after_the_push_was_due() {
    // Sent 10:00:30, due 10:00:40 (--late-after): APNs delivering another app's push over the
    // same connection after that, before apsd's own next line, shows the connection carrying
    // pushes when this one should have come.
    let cited = |mut events: Vec<pushtrace_model::DeviceEvent>, other: &str| {
        // Each line its own (a verdict keeps one citation per line).
        for (n, e) in (1..).zip(&mut events) {
            e.source = pushtrace_model::Origin::Line {
                file: "test.log".into(),
                line: n,
            };
        }
        let t = timeline(events, "09:59:00", "10:05:00");
        let v = diagnose(&push("10:00:30.000"), &t, &options());
        assert_eq!(
            (v.outcome, v.cause),
            (Outcome::NotDelivered, Cause::NetworkPathSuspect),
            "{}",
            v.explanation
        );
        v.evidence.iter().any(|e| e.event.at == at(other))
    };
    assert!(cited(
        vec![
            connected("10:00:00.000"),
            other_app_push("10:01:10.000", "en0"),
            connected("10:02:00.000"),
        ],
        "10:01:10.000"
    ));
    // Inside the push's window it came while this one still could: not cited.
    assert!(!cited(
        vec![
            connected("10:00:00.000"),
            other_app_push("10:00:31.000", "en0"),
            connected("10:02:00.000"),
        ],
        "10:00:31.000"
    ));
    // apsd's own traffic after the due time came first: it is the nearer line.
    assert!(!cited(
        vec![
            connected("10:00:00.000"),
            connected("10:00:50.000"),
            other_app_push("10:01:10.000", "en0"),
            connected("10:02:00.000"),
        ],
        "10:01:10.000"
    ));
    // Another connection (cellular) is not the one the push should have come over.
    assert!(!cited(
        vec![
            connected("10:00:00.000"),
            connected("10:00:35.000"),
            other_app_push("10:01:10.000", "pdp_ip0"),
        ],
        "10:01:10.000"
    ));
}

#[test]
fn a_log_without_apsd_cannot_say_whether_the_push_arrived() {
    // An export of a few daemons that covers the send by minutes on both sides but left apsd
    // out: the push's absence from it says nothing.
    let mut builder = pushtrace_devicelog::timeline::TimelineBuilder::new();
    for (time, process) in [("09:58:00.000", "locationd"), ("10:04:00.000", "trustd")] {
        builder.observe_record(&pushtrace_model::LogRecord::new(
            at(time),
            process,
            "anything",
            pushtrace_model::Origin::Line {
                file: "test.log".into(),
                line: 1,
            },
        ));
    }
    let v = diagnose(&push("10:00:00.000"), &builder.finish(), &options());
    assert_eq!((v.outcome, v.cause), (Outcome::Unknown, Cause::Unknown));
    assert!(
        v.explanation.contains("no line of apsd"),
        "{}",
        v.explanation
    );

    // The same log with one keep-alive of apsd speaks for the delivery.
    let t = timeline(vec![connected("09:59:00.000")], "09:58:00", "10:04:00");
    let v = diagnose(&push("10:00:00.000"), &t, &options());
    assert_eq!(v.outcome, Outcome::NotDelivered, "{}", v.explanation);
}

#[test]
fn a_410_says_since_when_the_token_is_inactive_and_a_bad_token_names_the_environment() {
    let t = timeline(vec![connected("09:59:00.000")], "09:58:00", "10:04:00");
    let mut gone = push("10:00:00.000");
    gone.apns_status = Some(410);
    gone.apns_reason = Some("Unregistered".into());
    gone.apns_timestamp = Some(at("09:30:00.000"));
    let v = diagnose(&gone, &t, &options());
    assert_eq!(
        (v.outcome, v.cause),
        (Outcome::Rejected, Cause::TokenInvalid)
    );
    assert!(
        v.explanation
            .contains("no longer active for this topic since 09:30:00.000"),
        "{}",
        v.explanation
    );
    let mut bad = push("10:00:00.000");
    bad.apns_status = Some(400);
    bad.apns_reason = Some("BadDeviceToken".into());
    let v = diagnose(&bad, &t, &options());
    assert_eq!(v.cause, Cause::TokenInvalid);
    assert!(v.explanation.contains("sandbox"), "{}", v.explanation);
}

#[test]
fn an_alert_is_a_missed_call_alert_only_beside_a_voip_push_of_its_call() {
    let mut ring = push("10:00:00.000");
    ring.call_id = Some("c-1".into());
    let mut alert = push("10:00:30.000");
    alert.push_type = Some("alert".into());
    alert.call_id = Some("c-1".into());
    let why = super::why_not_a_ring(&alert, [&ring]);
    assert!(why.contains("missed-call alert"), "{why}");
    alert.call_id = Some("c-2".into());
    let why = super::why_not_a_ring(&alert, [&ring]);
    assert!(why.contains("could not"), "{why}");
}
