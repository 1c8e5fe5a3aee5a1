//! The seed incident's verdicts (issue 6's acceptance), and one test per taxonomy cause on a
//! timeline built in the test.

use std::path::Path;
use std::time::Duration;

use pushtrace_devicelog::rules::RuleSet;
use pushtrace_devicelog::timeline::{DeviceTimeline, TimelineBuilder, build};
use pushtrace_devicelog::{LocalClock, LogReader, NoProgress, Zone};
use pushtrace_model::{
    Cause, Confidence, DeviceEvent, EventKind, EvidenceRole, Origin, Outcome, PolicyStage,
    PushRecord, Recovery, Timestamp,
};

use super::{DiagnoseOptions, diagnose};

pub(super) fn at(text: &str) -> Timestamp {
    Timestamp::parse(&format!("2026-05-20 {text}+0300")).unwrap()
}

pub(super) fn push(sent: &str) -> PushRecord {
    let mut push = PushRecord::new(at(sent));
    push.push_id = Some("p-1".into());
    push.responded_at = Some(Timestamp::new(
        at(sent).utc_micros() + 84_000,
        at(sent).offset(),
    ));
    push.apns_status = Some(200);
    push.topic = Some("com.acme.call.voip".into());
    push.priority = Some(10);
    push
}

fn seed() -> DeviceTimeline {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed-incident/device-log.txt");
    let clock = LocalClock {
        date: Some((2026, 5, 20)),
        zone: Some(Zone::parse("+03:00").unwrap()),
    };
    let read = LogReader::builder()
        .clock(clock)
        .build()
        .read(&path, &mut NoProgress)
        .unwrap();
    build(
        read.records,
        read.summary.span,
        &RuleSet::embedded().unwrap(),
        &[],
        None,
    )
    .unwrap()
    .timeline
}

#[test]
fn seed_push_with_a_receipt_is_late_by_3_min_5_s_for_the_abandoned_reconnect() {
    let mut p = push("17:47:00.000");
    p.received_at = Some(at("17:50:05.000"));
    let v = diagnose(&p, &seed(), &DiagnoseOptions::default());
    assert_eq!(v.outcome, Outcome::Late, "{v:#?}");
    assert_eq!(v.latency, Some(Duration::from_secs(185)));
    assert_eq!(v.cause, Cause::ReconnectAbandonedPowerPolicy);
    assert_eq!(v.confidence, Confidence::High);
    assert_eq!(v.recovery, Some(Recovery::IncomingCellularCallWake));
    assert!(v.explanation.contains("3 min 5 s"), "{}", v.explanation);
    assert!(
        v.explanation
            .contains("ended at 17:50:04.028 +03:00 (incoming cellular call wake)"),
        "{}",
        v.explanation
    );
    let cited: Vec<String> = v
        .evidence
        .iter()
        .map(|e| e.event.at.time_of_day_millis())
        .collect();
    for line in ["17:46:01.330", "17:48:41.248", "17:50:04.028"] {
        assert!(
            cited.contains(&line.to_string()),
            "{line} not cited: {cited:?}"
        );
    }
    assert!(
        v.evidence
            .iter()
            .all(|e| e.role != EvidenceRole::Contradicts)
    );
    assert!(
        v.evidence
            .windows(2)
            .all(|w| w[0].event.at <= w[1].event.at)
    );
}

#[test]
fn seed_push_without_a_receipt_is_not_called_delivered_and_is_less_sure() {
    // With `apns-expiration: 0`, as in examples/seed-incident/pushes.jsonl: the log ends half a
    // second after the wake, too soon to call it expired.
    let mut p = push("17:47:00.000");
    p.expiration = Some(0);
    let v = diagnose(&p, &seed(), &DiagnoseOptions::default());
    assert_ne!(v.outcome, Outcome::Late);
    assert_ne!(v.outcome, Outcome::OnTime);
    assert_eq!(v.outcome, Outcome::NotDelivered);
    assert_eq!(v.cause, Cause::ReconnectAbandonedPowerPolicy);
    assert_eq!(v.confidence, Confidence::Medium);
    assert_eq!(v.latency, None);
}

#[test]
fn seed_push_before_the_log_is_unknown_saying_what_the_log_covers() {
    let v = diagnose(&push("17:40:00.000"), &seed(), &DiagnoseOptions::default());
    assert_eq!((v.outcome, v.cause), (Outcome::Unknown, Cause::Unknown));
    assert!(
        v.explanation.contains("17:45:59.562") && v.explanation.contains("17:50:04.598"),
        "{}",
        v.explanation
    );
}

// ---- one timeline per cause -------------------------------------------------------------------

pub(super) fn event(time: &str, process: &str, kind: EventKind) -> DeviceEvent {
    DeviceEvent {
        at: at(time),
        process: process.into(),
        pid: None,
        kind,
        rule: "test".into(),
        source: Origin::Line {
            file: "test.log".into(),
            line: 1,
        },
        raw: String::new(),
    }
}

pub(super) fn timeline(events: Vec<DeviceEvent>, from: &str, to: &str) -> DeviceTimeline {
    let mut builder = TimelineBuilder::new();
    builder.observe(at(from));
    for e in events {
        builder.push(e);
    }
    builder.observe(at(to));
    builder.finish()
}

pub(super) fn connected(time: &str) -> DeviceEvent {
    event(
        time,
        "apsd",
        EventKind::ApnsDataReceived {
            interface: Some("en0".into()),
            length: Some(120),
            connected_interfaces: Some(1),
        },
    )
}

pub(super) fn reconnecting(time: &str) -> DeviceEvent {
    event(
        time,
        "apsd",
        EventKind::ApnsPathSatisfied {
            interface: Some("pdp_ip0".into()),
            radio: Some("lte".into()),
            port: Some(5223),
            connection: None,
        },
    )
}

pub(super) fn policy(time: &str, level: u8) -> DeviceEvent {
    event(
        time,
        "powerd",
        EventKind::PowerPolicy {
            level,
            stage: PolicyStage::Sent,
        },
    )
}

pub(super) fn arrived(time: &str) -> DeviceEvent {
    event(
        time,
        "apsd",
        EventKind::PushReceived {
            filter: "enabled".into(),
            topic: Some("com.acme.call.voip".into()),
            interface: Some("en0".into()),
            priority: Some(10),
        },
    )
}

pub(super) fn options() -> DiagnoseOptions {
    DiagnoseOptions::default()
}

#[test]
fn on_time_from_the_arrival_line() {
    let t = timeline(
        vec![connected("10:00:00.000"), arrived("10:00:01.200")],
        "09:59:00",
        "10:05:00",
    );
    let v = diagnose(&push("10:00:01.000"), &t, &options());
    // No callservicesd line and not the app's: a kill for not reporting would not show.
    assert_eq!(
        (v.outcome, v.cause, v.confidence),
        (Outcome::OnTime, Cause::None, Confidence::Medium)
    );
    assert!(v.explanation.contains("callservicesd"), "{}", v.explanation);
    assert_eq!(v.latency, Some(Duration::from_millis(200)));
    assert_eq!(v.arrived_at, Some(at("10:00:01.200")));

    let mut builder = TimelineBuilder::new();
    builder.observe(at("09:59:00.000"));
    builder.observe_record(&pushtrace_model::LogRecord::new(
        at("09:59:30.000"),
        "callservicesd",
        "anything",
        Origin::Line {
            file: "test.log".into(),
            line: 2,
        },
    ));
    builder.push(connected("10:00:00.000"));
    builder.push(arrived("10:00:01.200"));
    builder.observe(at("10:05:00.000"));
    let v = diagnose(&push("10:00:01.000"), &builder.finish(), &options());
    assert_eq!(v.confidence, Confidence::High, "{}", v.explanation);
}

/// The radio idle from 10:00, apsd reconnecting, the user's unlock at 10:02.
fn radio_down_until_unlock() -> Vec<DeviceEvent> {
    vec![
        event(
            "10:00:00.000",
            "symptomsd",
            EventKind::RrcState {
                interface: Some("pdp_ip0".into()),
                state: 0,
                previous: Some(1),
            },
        ),
        reconnecting("10:00:01.000"),
        event(
            "10:02:00.000",
            "powerd",
            EventKind::DisplayState {
                display_off: false,
                hid_active: Some(true),
            },
        ),
    ]
}

#[test]
fn device_offline_radio_when_apns_is_down_across_the_send() {
    let t = timeline(radio_down_until_unlock(), "09:59:00", "10:05:00");
    let mut p = push("10:00:30.000");
    p.received_at = Some(at("10:02:01.000"));
    let v = diagnose(&p, &t, &options());
    assert_eq!(
        (v.outcome, v.cause),
        (Outcome::Late, Cause::DeviceOfflineRadio)
    );
    assert_eq!(v.recovery, Some(Recovery::UserUnlockOrDisplayOn));
}

#[test]
fn reconnect_abandoned_power_policy_needs_policy_3_before_any_connection() {
    let t = timeline(
        vec![reconnecting("10:00:00.000"), policy("10:01:00.000", 3)],
        "09:59:00",
        "10:05:00",
    );
    let mut p = push("10:00:30.000");
    p.received_at = Some(at("10:04:00.000"));
    let v = diagnose(&p, &t, &options());
    assert_eq!(v.cause, Cause::ReconnectAbandonedPowerPolicy);
    assert_eq!(v.recovery, Some(Recovery::NoneSeen));
}

#[test]
fn power_deferred_for_a_non_waking_push_while_connected_and_restricted() {
    let t = timeline(
        vec![connected("10:00:00.000"), policy("10:00:10.000", 3)],
        "09:59:00",
        "10:05:00",
    );
    let mut p = push("10:00:30.000");
    p.priority = Some(5);
    p.received_at = Some(at("10:03:00.000"));
    let v = diagnose(&p, &t, &options());
    assert_eq!((v.outcome, v.cause), (Outcome::Late, Cause::PowerDeferred));
}

#[test]
fn a_record_without_its_priority_takes_it_from_apsds_arrival_line() {
    let mut late = arrived("10:03:00.000");
    if let EventKind::PushReceived { priority, .. } = &mut late.kind {
        *priority = Some(5);
    }
    let t = timeline(
        vec![connected("10:00:00.000"), policy("10:00:10.000", 3), late],
        "09:59:00",
        "10:05:00",
    );
    let mut p = push("10:00:30.000");
    p.priority = None;
    let v = diagnose(&p, &t, &options());
    assert_eq!(
        (v.outcome, v.cause),
        (Outcome::Late, Cause::PowerDeferred),
        "{}",
        v.explanation
    );
    assert!(
        v.explanation.contains("apsd's arrival line gives 5"),
        "{}",
        v.explanation
    );

    // A priority-10 arrival line does not make it one APNs held.
    let t = timeline(
        vec![
            connected("10:00:00.000"),
            policy("10:00:10.000", 3),
            arrived("10:03:00.000"),
        ],
        "09:59:00",
        "10:05:00",
    );
    let v = diagnose(&p, &t, &options());
    assert_ne!(v.cause, Cause::PowerDeferred, "{}", v.explanation);
}

#[test]
fn a_cellular_connection_is_down_once_its_registration_is_lost() {
    let on = |time: &str, interface: &str| {
        event(
            time,
            "apsd",
            EventKind::ApnsKeepAlive {
                mode: "explicit".into(),
                interface: Some(interface.into()),
                interval_s: None,
                connected_interfaces: Some(1),
            },
        )
    };
    let registration = |time: &str, state: &str| {
        event(
            time,
            "CommCenter",
            EventKind::CellRegistration {
                state: Some(state.into()),
            },
        )
    };
    let story = |interface: &str| {
        timeline(
            vec![
                on("10:00:00.000", interface),
                registration("10:01:00.000", "kSearching"),
                registration("10:05:00.000", "kRegisteredHome"),
                arrived("10:05:01.000"),
            ],
            "09:59:00",
            "10:10:00",
        )
    };
    let mut p = push("10:02:00.000");
    p.deadline = Some(at("10:02:30.000"));
    let v = diagnose(&p, &story("WWAN"), &options());
    assert_eq!(
        (v.outcome, v.cause, v.recovery),
        (
            Outcome::Late,
            Cause::DeviceOfflineRadio,
            Some(Recovery::NetworkChange)
        ),
        "{}",
        v.explanation
    );
    assert!(
        v.explanation.contains("registration was lost at"),
        "{}",
        v.explanation
    );
    // The same loss under a Wi-Fi connection says nothing about that connection.
    let v = diagnose(&p, &story("NonCellular"), &options());
    assert_ne!(v.cause, Cause::DeviceOfflineRadio, "{}", v.explanation);
}

#[test]
fn back_before_it_was_due_then_abandoned_under_policy_3_is_the_abandoned_reconnection() {
    let down = event(
        "10:00:00.000",
        "apsd",
        EventKind::ApnsDisconnected {
            interface: Some("WWAN".into()),
            reason: None,
        },
    );
    let wake = event(
        "10:08:00.000",
        "powerd",
        EventKind::DisplayState {
            display_off: false,
            hid_active: Some(true),
        },
    );
    let story = |back: &str| {
        timeline(
            vec![
                down.clone(),
                reconnecting(back),
                policy("10:02:00.000", 3),
                wake.clone(),
                arrived("10:08:02.000"),
            ],
            "09:59:00",
            "10:10:00",
        )
    };
    let mut p = push("10:00:30.000");
    p.deadline = Some(at("10:01:30.000"));
    // The network back at 10:01, before the deadline: the outage alone did not make it late.
    let v = diagnose(&p, &story("10:01:00.000"), &options());
    assert_eq!(
        (v.outcome, v.cause),
        (Outcome::Late, Cause::ReconnectAbandonedPowerPolicy),
        "{}",
        v.explanation
    );
    assert!(
        v.explanation.contains("not the outage, made it late"),
        "{}",
        v.explanation
    );
    // Back only after it was due: the outage made it late, whatever came after.
    let v = diagnose(&p, &story("10:01:45.000"), &options());
    assert_eq!(v.cause, Cause::DeviceOfflineRadio, "{}", v.explanation);
}

#[test]
fn a_delivery_long_after_the_expiry_is_another_pushs_not_a_late_arrival() {
    // Down across the send, back at 10:02, and the app's topic arrives again hours later: APNs
    // stored nothing past 10:01:30, so that line is a later push's (the set holds only this
    // one, as when a support engineer passes the failing push alone).
    let events = |arrival: &str| {
        let mut events = radio_down_until_unlock();
        events.extend([connected("10:02:01.000"), arrived(arrival)]);
        events
    };
    let mut p = push("10:00:30.000");
    p.deadline = Some(at("10:01:30.000"));
    p.expiration = Some(u64::try_from(at("10:01:30.000").utc_micros() / 1_000_000).unwrap());
    let hours_later = timeline(events("13:00:00.000"), "09:59:00", "13:05:00");
    let v = diagnose(&p, &hours_later, &options());
    assert_eq!(
        (v.outcome, v.cause),
        (Outcome::NotDelivered, Cause::ExpiredWhileOffline),
        "{}",
        v.explanation
    );
    assert_eq!(v.arrived_at, None);
    // The line is in the log: the verdict says when it came and why it is not this push's.
    assert!(
        v.explanation.contains("13:00:00.000")
            && v.explanation.contains("too late to be this push"),
        "{}",
        v.explanation
    );

    // Within minutes of the expiry it may still be this push (Apple: expiry is best effort).
    let minutes_later = timeline(events("10:02:02.000"), "09:59:00", "13:05:00");
    let v = diagnose(&p, &minutes_later, &options());
    assert_eq!(
        (v.outcome, v.cause),
        (Outcome::Late, Cause::DeviceOfflineRadio),
        "{}",
        v.explanation
    );
    assert_eq!(v.arrived_at, Some(at("10:02:02.000")));
}

#[test]
fn expired_while_offline_when_the_device_came_back_and_nothing_arrived() {
    let down = event(
        "10:00:00.000",
        "apsd",
        EventKind::ApnsConnectSkipped {
            reason: "no usable interface".into(),
            connected_interfaces: Some(0),
            wwan_usable: Some(false),
            wifi_usable: Some(false),
            retry_in_s: None,
        },
    );
    let back = event(
        "10:02:00.000",
        "powerd",
        EventKind::DisplayState {
            display_off: false,
            hid_active: Some(true),
        },
    );
    let t = timeline(
        vec![down.clone(), back, connected("10:02:01.000")],
        "09:59:00",
        "10:05:00",
    );
    let mut p = push("10:00:30.000");
    p.expiration = Some(0);
    let v = diagnose(&p, &t, &options());
    assert_eq!(
        (v.outcome, v.cause),
        (Outcome::NotDelivered, Cause::ExpiredWhileOffline)
    );

    // Never came back within the log: expired or late cannot be told apart.
    let t = timeline(vec![down], "09:59:00", "10:05:00");
    let v = diagnose(&p, &t, &options());
    assert_eq!(
        (v.outcome, v.cause),
        (Outcome::NotDelivered, Cause::DeviceOfflineRadio)
    );
}

#[test]
fn network_path_suspect_when_connected_throughout_and_nothing_arrives() {
    let t = timeline(
        vec![connected("10:00:00.000"), connected("10:02:00.000")],
        "09:59:00",
        "10:05:00",
    );
    let v = diagnose(&push("10:00:30.000"), &t, &options());
    assert_eq!(
        (v.outcome, v.cause),
        (Outcome::NotDelivered, Cause::NetworkPathSuspect)
    );
}

#[test]
fn app_not_reporting_and_voip_blocked_after_delivery() {
    let killed = timeline(
        vec![
            connected("10:00:00.000"),
            arrived("10:00:31.000"),
            event(
                "10:00:36.000",
                "Comera",
                EventKind::AppKilledForNotReporting,
            ),
        ],
        "09:59:00",
        "10:05:00",
    );
    let v = diagnose(&push("10:00:30.000"), &killed, &options());
    assert_eq!(
        (v.outcome, v.cause),
        (Outcome::DeliveredNotReported, Cause::AppNotReporting)
    );

    let blocked = timeline(
        vec![
            connected("10:00:00.000"),
            arrived("10:00:31.000"),
            event(
                "10:00:31.500",
                "callservicesd",
                EventKind::VoipBlocked {
                    bundle: Some("com.acme.call".into()),
                    delivered_anyway: false,
                },
            ),
        ],
        "09:59:00",
        "10:05:00",
    );
    let v = diagnose(&push("10:00:30.000"), &blocked, &options());
    assert_eq!(v.cause, Cause::VoipBlocked);
}

#[test]
fn rejections_need_no_log() {
    let empty = timeline(Vec::new(), "09:59:00", "10:05:00");
    let mut p = push("10:00:30.000");
    p.apns_status = Some(410);
    p.apns_reason = Some("Unregistered".into());
    let v = diagnose(&p, &empty, &options());
    assert_eq!(
        (v.outcome, v.cause),
        (Outcome::Rejected, Cause::TokenInvalid)
    );
    p.apns_status = Some(413);
    p.apns_reason = Some("PayloadTooLarge".into());
    assert_eq!(diagnose(&p, &empty, &options()).cause, Cause::ApnsRejected);
}

#[test]
fn provider_delay_when_apns_was_slow_and_the_device_connected() {
    let t = timeline(vec![connected("10:00:00.000")], "09:59:00", "10:05:00");
    let mut p = push("10:00:30.000");
    p.responded_at = Some(at("10:00:45.000"));
    p.received_at = Some(at("10:00:46.000"));
    let v = diagnose(&p, &t, &options());
    assert_eq!((v.outcome, v.cause), (Outcome::Late, Cause::ProviderDelay));
}

#[test]
fn unknown_when_the_log_ends_too_soon_or_says_nothing_of_apns() {
    let short = timeline(vec![connected("10:00:00.000")], "09:59:00", "10:00:31");
    let v = diagnose(&push("10:00:30.000"), &short, &options());
    assert_eq!((v.outcome, v.cause), (Outcome::Unknown, Cause::Unknown));
    assert!(v.explanation.contains("ends at"), "{}", v.explanation);

    let silent = timeline(Vec::new(), "09:59:00", "10:05:00");
    let mut p = push("10:00:30.000");
    p.received_at = Some(at("10:03:00.000"));
    let v = diagnose(&p, &silent, &options());
    assert_eq!(
        (v.outcome, v.cause, v.confidence),
        (Outcome::Late, Cause::Unknown, Confidence::Low)
    );
}

#[test]
fn conflicting_evidence_is_shown_and_lowers_confidence() {
    // Reconnecting, then a connection, then policy 3: the device was reachable before the
    // policy change, so "abandoned" does not hold; the connection is cited against it.
    let t = timeline(
        vec![
            reconnecting("10:00:00.000"),
            connected("10:00:40.000"),
            policy("10:01:00.000", 3),
        ],
        "09:59:00",
        "10:05:00",
    );
    let mut p = push("10:00:30.000");
    p.received_at = Some(at("10:04:00.000"));
    let v = diagnose(&p, &t, &options());
    assert_ne!(v.cause, Cause::ReconnectAbandonedPowerPolicy);
    assert!(
        v.evidence
            .iter()
            .any(|e| e.role == EvidenceRole::Contradicts),
        "{v:#?}"
    );
    assert!(v.confidence < Confidence::High);
}

fn voip_to_app(time: &str, bundle: &str, topic: Option<&str>) -> DeviceEvent {
    event(
        time,
        "callservicesd",
        EventKind::VoipPushToApp {
            bundle: Some(bundle.into()),
            topic: topic.map(Into::into),
        },
    )
}

fn received_for(time: &str, topic: &str) -> DeviceEvent {
    event(
        time,
        "apsd",
        EventKind::PushReceived {
            filter: "enabled".into(),
            topic: Some(topic.into()),
            interface: Some("en0".into()),
            priority: Some(10),
        },
    )
}

#[test]
fn another_apps_push_line_is_not_this_pushs_arrival() {
    let t = timeline(
        vec![
            connected("10:00:00.000"),
            received_for("10:00:01.200", "net.whatsapp.WhatsApp.voip"),
            voip_to_app("10:00:01.300", "net.whatsapp.WhatsApp", None),
        ],
        "09:59:00",
        "10:05:00",
    );
    // The push is for com.acme.call.voip: WhatsApp's lines do not deliver it.
    let v = diagnose(&push("10:00:01.000"), &t, &options());
    assert_eq!(v.outcome, Outcome::NotDelivered, "{v:?}");

    // Its own lines do, whether they name the topic or only the bundle.
    for own in [
        received_for("10:00:01.500", "com.acme.call.voip"),
        voip_to_app("10:00:01.500", "com.acme.call", None),
    ] {
        let mut events = t.events.clone();
        events.push(own);
        let t = timeline(events, "09:59:00", "10:05:00");
        let v = diagnose(&push("10:00:01.000"), &t, &options());
        assert_eq!(v.outcome, Outcome::OnTime, "{v:?}");
        assert_eq!(v.latency, Some(Duration::from_millis(500)));
    }
}

#[test]
fn app_picks_the_topic_of_a_push_record_without_one() {
    let t = timeline(
        vec![
            connected("10:00:00.000"),
            received_for("10:00:01.200", "net.whatsapp.WhatsApp.voip"),
            received_for("10:00:02.000", "com.acme.call.voip"),
        ],
        "09:59:00",
        "10:05:00",
    );
    let mut p = push("10:00:01.000");
    p.topic = None;
    // Without --app any push line may be it: the first one, WhatsApp's.
    let v = diagnose(&p, &t, &options());
    assert_eq!(v.latency, Some(Duration::from_millis(200)));
    // With --app com.acme.call only the app's own topics count.
    let with_app = DiagnoseOptions {
        app: Some("com.acme.call".into()),
        ..options()
    };
    let v = diagnose(&p, &t, &with_app);
    assert_eq!(v.latency, Some(Duration::from_millis(1000)));
    // A longer bundle id sharing the prefix is another app.
    let prefix = DiagnoseOptions {
        app: Some("com.acme.cal".into()),
        ..options()
    };
    let v = diagnose(&p, &t, &prefix);
    assert_eq!(v.outcome, Outcome::NotDelivered, "{v:?}");
}

// ---- issue 12: one test per class of error ----------------------------------------------------

fn redacted_arrival(time: &str) -> DeviceEvent {
    event(
        time,
        "apsd",
        EventKind::PushReceived {
            filter: "enabled".into(),
            topic: None,
            interface: Some("en0".into()),
            priority: Some(10),
        },
    )
}

fn kill(time: &str, process: &str, pid: Option<u32>) -> DeviceEvent {
    let mut e = event(time, process, EventKind::AppKilledForNotReporting);
    e.pid = pid;
    e
}

fn with_raw(mut e: DeviceEvent, raw: &str) -> DeviceEvent {
    e.raw = raw.into();
    e
}

#[test]
fn class_1_a_log_starting_after_the_send_still_shows_the_arrival() {
    let t = timeline(
        vec![
            arrived("10:00:01.900"),
            voip_to_app("10:00:01.930", "com.acme.call", None),
        ],
        "10:00:01.300",
        "10:03:00",
    );
    let v = diagnose(&push("10:00:01.000"), &t, &options());
    assert_eq!(
        (v.outcome, v.cause),
        (Outcome::OnTime, Cause::None),
        "{}",
        v.explanation
    );
    // A receipt decides even where the log says nothing.
    let mut p = push("09:00:00.000");
    p.received_at = Some(at("09:00:01.000"));
    let v = diagnose(&p, &t, &options());
    assert_eq!(v.outcome, Outcome::OnTime, "{}", v.explanation);
    // Without either, a push sent before the log, due before it starts, is unknown.
    let v = diagnose(&push("09:00:00.000"), &t, &options());
    assert_eq!(v.outcome, Outcome::Unknown);
    assert!(
        v.explanation.contains("delivery window"),
        "{}",
        v.explanation
    );
}

#[test]
fn class_2_a_pushkit_kill_in_an_unnamed_process_is_the_apps_and_another_apps_is_not() {
    let delivery = vec![
        arrived("10:00:01.000"),
        voip_to_app("10:00:01.030", "com.acme.call", Some("com.acme.call.voip")),
    ];
    let mut events = delivery.clone();
    events.push(kill("10:00:06.000", "Runner", Some(1958)));
    let t = timeline(events, "09:59:00", "10:05:00");
    let v = diagnose(&push("10:00:00.500"), &t, &options());
    assert_eq!(
        (v.outcome, v.cause, v.confidence),
        (
            Outcome::DeliveredNotReported,
            Cause::AppNotReporting,
            Confidence::High
        ),
        "{}",
        v.explanation
    );
    // The log ties pid 1958 to another app: its kill says nothing about ours.
    let mut events = delivery;
    events.push(with_raw(
        event(
            "09:59:30.000",
            "SpringBoard",
            EventKind::AppProcessState {
                bundle: Some("net.whatsapp.WhatsApp".into()),
                task_state: Some("Running".into()),
                visibility: Some("Background".into()),
            },
        ),
        "Application process state changed for net.whatsapp.WhatsApp: <SBApplicationProcessState: 0x1; pid: 1958; taskState: Running; visibility: Background>",
    ));
    events.sort_by_key(|e| e.at);
    events.push(kill("10:00:06.000", "WhatsApp", Some(1958)));
    let t = timeline(events, "09:59:00", "10:05:00");
    let v = diagnose(&push("10:00:00.500"), &t, &options());
    assert_eq!(v.outcome, Outcome::OnTime, "{}", v.explanation);
}

#[test]
fn class_2_on_time_is_not_high_when_the_apps_side_is_not_in_the_log() {
    let t = timeline(vec![arrived("10:00:01.000")], "09:59:00", "10:05:00");
    let v = diagnose(&push("10:00:00.500"), &t, &options());
    assert_eq!(
        (v.outcome, v.confidence),
        (Outcome::OnTime, Confidence::Medium)
    );
    assert!(
        v.explanation.contains("would not show"),
        "{}",
        v.explanation
    );
}

#[test]
fn class_3_one_delivery_is_one_pushs_and_a_redacted_one_is_inferred() {
    // Two pushes, one arrival line: the first push sent gets it, the second is not seen.
    let t = timeline(
        vec![
            connected("10:00:00.000"),
            arrived("10:00:02.000"),
            connected("10:02:00.000"),
        ],
        "09:59:00",
        "10:05:00",
    );
    let (mut a, mut b) = (push("10:00:01.000"), push("10:00:01.500"));
    a.push_id = Some("a".into());
    b.push_id = Some("b".into());
    let verdicts = super::diagnose_all([&a, &b], &t, &options());
    assert_eq!(verdicts[0].outcome, Outcome::OnTime);
    assert_eq!(
        verdicts[1].outcome,
        Outcome::NotDelivered,
        "{}",
        verdicts[1].explanation
    );

    // A redacted apsd line followed by callservicesd naming another app is that app's.
    let t = timeline(
        vec![
            connected("10:00:00.000"),
            redacted_arrival("10:00:02.000"),
            voip_to_app("10:00:02.020", "net.whatsapp.WhatsApp", None),
            connected("10:02:00.000"),
        ],
        "09:59:00",
        "10:05:00",
    );
    let v = diagnose(&push("10:00:01.000"), &t, &options());
    assert_eq!(v.outcome, Outcome::NotDelivered, "{}", v.explanation);

    // A redacted line nothing names is taken, but as inferred: said, and less sure.
    let t = timeline(
        vec![connected("10:00:00.000"), redacted_arrival("10:00:02.000")],
        "09:59:00",
        "10:05:00",
    );
    let v = diagnose(&push("10:00:01.000"), &t, &options());
    assert_eq!(v.outcome, Outcome::OnTime);
    assert!(v.confidence < Confidence::High);
    assert!(
        v.explanation.contains("not shown to be"),
        "{}",
        v.explanation
    );
}

#[test]
fn class_4_time_lost_before_apns_is_provider_delay_whatever_the_device_did() {
    let offline = timeline(
        vec![event(
            "09:59:30.000",
            "apsd",
            EventKind::ApnsConnectSkipped {
                reason: "no usable interface".into(),
                connected_interfaces: Some(0),
                wwan_usable: Some(false),
                wifi_usable: Some(false),
                retry_in_s: None,
            },
        )],
        "09:59:00",
        "10:05:00",
    );
    // Sent after its own deadline: it sat in the sender's queue.
    let mut p = push("10:01:00.000");
    p.queued_at = Some(at("10:00:00.000"));
    p.deadline = Some(at("10:00:45.000"));
    let v = diagnose(&p, &offline, &options());
    assert_eq!(v.cause, Cause::ProviderDelay, "{}", v.explanation);
    assert!(
        v.explanation.contains("sender's queue"),
        "{}",
        v.explanation
    );
    // APNs answered after the deadline.
    let mut p = push("10:00:00.000");
    p.responded_at = Some(at("10:00:41.000"));
    p.deadline = Some(at("10:00:30.000"));
    let v = diagnose(&p, &offline, &options());
    assert_eq!(v.cause, Cause::ProviderDelay, "{}", v.explanation);
    assert!(!v.explanation.contains("yet"), "{}", v.explanation);
}

#[test]
fn class_5_a_connection_line_minutes_before_the_send_does_not_make_it_connected() {
    let t = timeline(vec![connected("09:40:00.000")], "09:39:00", "10:05:00");
    let v = diagnose(&push("10:00:00.000"), &t, &options());
    assert_eq!(v.cause, Cause::Unknown, "{}", v.explanation);
    assert!(v.explanation.contains("5 min"), "{}", v.explanation);
    // Lines on both sides of the send, nothing lost between: connected across it.
    let t = timeline(
        vec![connected("09:50:00.000"), connected("10:10:00.000")],
        "09:39:00",
        "10:15:00",
    );
    let v = diagnose(&push("10:00:00.000"), &t, &options());
    assert_eq!(v.cause, Cause::NetworkPathSuspect, "{}", v.explanation);
}

#[test]
fn class_6_the_network_coming_back_ends_a_radio_outage_and_expiry_is_named() {
    let t = timeline(
        vec![
            event(
                "09:59:30.000",
                "apsd",
                EventKind::ApnsConnectSkipped {
                    reason: "no usable interface".into(),
                    connected_interfaces: Some(0),
                    wwan_usable: Some(false),
                    wifi_usable: Some(false),
                    retry_in_s: None,
                },
            ),
            event(
                "10:02:00.000",
                "CommCenter",
                EventKind::CellRegistration {
                    state: Some("kRegisteredHome".into()),
                },
            ),
            reconnecting("10:02:01.000"),
            event(
                "10:04:00.000",
                "powerd",
                EventKind::DisplayState {
                    display_off: false,
                    hid_active: Some(true),
                },
            ),
        ],
        "09:59:00",
        "10:06:00",
    );
    let mut p = push("10:00:00.000");
    p.expiration = Some(0);
    let v = diagnose(&p, &t, &options());
    assert_eq!(
        v.recovery,
        Some(Recovery::NetworkChange),
        "{}",
        v.explanation
    );
    assert_eq!(v.recovered_at, Some(at("10:02:00.000")));
    assert_eq!(v.cause, Cause::ExpiredWhileOffline, "{}", v.explanation);
    assert!(
        v.explanation.contains("apns-expiration 0"),
        "{}",
        v.explanation
    );
}

#[test]
fn class_8_times_are_on_the_logs_clock_with_its_offset() {
    let t = timeline(vec![connected("10:00:00.000")], "09:59:00", "10:05:00");
    let mut p = push("09:40:00.000");
    p.sent_at = p.sent_at.with_offset(pushtrace_model::UtcOffset::UTC);
    let v = diagnose(&p, &t, &options());
    assert!(
        v.explanation.contains("09:40:00.000 +03:00"),
        "{}",
        v.explanation
    );
    assert!(!v.explanation.contains("06:40"), "{}", v.explanation);
}

#[test]
fn class_10_alerts_are_not_rings() {
    let mut p = push("10:00:00.000");
    assert!(super::is_ring(&p));
    p.push_type = Some("alert".into());
    assert!(!super::is_ring(&p));
}

#[test]
fn a_push_apsd_received_for_a_removed_topic_is_not_an_arrival() {
    let t = timeline(
        vec![
            connected("10:00:00.000"),
            event(
                "10:00:01.000",
                "apsd",
                EventKind::PushReceived {
                    filter: "recently_removed".into(),
                    topic: Some("com.acme.call.voip".into()),
                    interface: Some("en0".into()),
                    priority: Some(10),
                },
            ),
        ],
        "09:59:00",
        "10:05:00",
    );
    let v = diagnose(&push("10:00:00.500"), &t, &options());
    assert_eq!(
        (v.outcome, v.cause),
        (Outcome::NotDelivered, Cause::TokenInvalid),
        "{}",
        v.explanation
    );
}

#[test]
fn a_push_apsd_received_for_an_unknown_topic_hash_is_matched_by_the_sha1_of_its_topic() {
    let unknown = |hash: &str| {
        timeline(
            vec![
                connected("10:00:00.000"),
                event(
                    "10:00:01.000",
                    "apsd",
                    EventKind::PushReceived {
                        filter: "unknown".into(),
                        topic: Some(hash.into()),
                        interface: None,
                        priority: None,
                    },
                ),
                connected("10:02:00.000"),
            ],
            "09:59:00",
            "10:05:00",
        )
    };
    // SHA-1 of "com.acme.call.voip", as the courier protocol names the topic.
    let ours = unknown("E44E5620E7B41ED1B1BA935FA9EBD28B02D2AC4F");
    let v = diagnose(&push("10:00:00.500"), &ours, &options());
    assert_eq!(
        (v.outcome, v.cause),
        (Outcome::NotDelivered, Cause::TokenInvalid),
        "{}",
        v.explanation
    );
    assert!(
        v.explanation.contains("an unknown topic"),
        "{}",
        v.explanation
    );
    // Another topic's hash says nothing about this push.
    let theirs = unknown("5decd488a42449c0510375f5219b1fdfca0a2ac9");
    let v = diagnose(&push("10:00:00.500"), &theirs, &options());
    assert_ne!(v.cause, Cause::TokenInvalid, "{}", v.explanation);
}

#[test]
fn a_push_to_another_device_than_the_logs_is_unknown() {
    let t = timeline(
        vec![
            connected("10:00:00.000"),
            arrived("10:00:01.000"),
            connected("10:02:00.000"),
        ],
        "09:59:00",
        "10:05:00",
    );
    let mut ours = push("10:00:00.500");
    ours.device = Some("aaaa".into());
    ours.received_at = Some(at("10:00:01.100"));
    let mut theirs = push("10:00:00.505");
    theirs.push_id = Some("p-2".into());
    theirs.device = Some("bbbb".into());
    let verdicts = super::diagnose_all([&ours, &theirs], &t, &options());
    assert_eq!(verdicts[0].outcome, Outcome::OnTime);
    assert_eq!(
        verdicts[1].outcome,
        Outcome::Unknown,
        "{}",
        verdicts[1].explanation
    );
    assert!(
        verdicts[1].explanation.contains("bbbb"),
        "{}",
        verdicts[1].explanation
    );
}

#[test]
fn a_receipt_reported_before_the_logs_own_callkit_report_is_another_devices() {
    // One call rung on two devices: the log's delivery is reported to CallKit at 10:00:01.700,
    // while the receipt of the push to "aaaa" says its app reported the call at 10:00:01.400 —
    // on the clock of the device it came from. The log is not of "aaaa".
    let report = |time: &str| {
        event(
            time,
            "Acme",
            EventKind::CallReported {
                bundle: None,
                call: None,
            },
        )
    };
    let t = timeline(
        vec![
            connected("10:00:00.000"),
            arrived("10:00:01.000"),
            report("10:00:01.700"),
            connected("10:02:00.000"),
        ],
        "09:59:00",
        "10:05:00",
    );
    let mut other = push("10:00:00.500");
    other.device = Some("aaaa".into());
    other.received_at = Some(at("10:00:01.300"));
    other.reported_at = Some(at("10:00:01.400"));
    let mut logs = push("10:00:00.505");
    logs.push_id = Some("p-2".into());
    logs.device = Some("bbbb".into());
    let verdicts = super::diagnose_all([&other, &logs], &t, &options());
    assert_eq!(verdicts[0].outcome, Outcome::OnTime);
    assert!(
        verdicts[0].evidence.is_empty(),
        "the log's delivery is not the receipt's: {:#?}",
        verdicts[0].evidence
    );
    assert_eq!(
        (verdicts[1].outcome, verdicts[1].arrived_at),
        (Outcome::OnTime, Some(at("10:00:01.000"))),
        "{}",
        verdicts[1].explanation
    );
    // The same receipt reporting at the log's report (or after it) is the log's delivery.
    other.reported_at = Some(at("10:00:01.750"));
    let verdicts = super::diagnose_all([&other, &logs], &t, &options());
    assert_eq!(
        verdicts[1].outcome,
        Outcome::Unknown,
        "{}",
        verdicts[1].explanation
    );
}

#[test]
fn a_delivery_long_before_apns_answered_is_not_the_pushs() {
    // The first push's answer took 31 s; its retry, sent 10 s in, arrives at once: the first
    // arrival is the retry's, the second (just after the slow answer) the first push's.
    let t = timeline(
        vec![
            connected("09:59:30.000"),
            arrived("10:00:10.400"),
            arrived("10:00:31.500"),
        ],
        "09:59:00",
        "10:05:00",
    );
    let mut slow = push("10:00:00.000");
    slow.responded_at = Some(at("10:00:31.380"));
    slow.deadline = Some(at("10:00:30.000"));
    let mut retry = push("10:00:10.000");
    retry.push_id = Some("p-2".into());
    let verdicts = super::diagnose_all([&slow, &retry], &t, &options());
    assert_eq!(
        (verdicts[0].outcome, verdicts[0].cause),
        (Outcome::Late, Cause::ProviderDelay),
        "{}",
        verdicts[0].explanation
    );
    assert_eq!(verdicts[1].outcome, Outcome::OnTime);
}

#[test]
fn a_path_satisfied_that_fails_at_once_is_not_the_device_coming_back() {
    let failed = |time: &str| {
        event(
            time,
            "apsd",
            EventKind::ApnsConnectFailed {
                interface: Some("NonCellular".into()),
                error: Some("Failed to validate certificate chain".into()),
                code: None,
            },
        )
    };
    let t = timeline(
        vec![
            failed("09:59:30.000"),
            reconnecting("10:02:00.000"),
            failed("10:02:00.400"),
        ],
        "09:59:00",
        "10:06:00",
    );
    let mut p = push("10:00:00.000");
    p.expiration = Some(0);
    let v = diagnose(&p, &t, &options());
    assert_eq!(v.cause, Cause::DeviceOfflineRadio, "{}", v.explanation);
    assert_eq!(v.recovery, Some(Recovery::NoneSeen), "{}", v.explanation);
}

#[test]
fn connection_lines_further_apart_than_a_keepalive_cycle_do_not_bracket_the_send() {
    let t = timeline(
        vec![connected("09:36:00.000"), connected("10:24:00.000")],
        "09:30:00",
        "10:30:00",
    );
    let v = diagnose(&push("10:00:00.000"), &t, &options());
    assert_eq!(v.cause, Cause::Unknown, "{}", v.explanation);
}

#[test]
fn an_arrival_stamped_before_the_send_says_the_device_clock_runs_behind() {
    let t = timeline(
        vec![connected("10:00:00.000"), arrived("10:00:00.200")],
        "09:59:00",
        "10:05:00",
    );
    let v = diagnose(&push("10:00:02.000"), &t, &options());
    assert_eq!(v.outcome, Outcome::OnTime, "{}", v.explanation);
    assert!(
        v.explanation
            .contains("stamped 1.8 s before it was sent (the device's clock runs behind"),
        "{}",
        v.explanation
    );
}
