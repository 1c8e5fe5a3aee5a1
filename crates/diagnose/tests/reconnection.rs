//! How an outage's cause is told apart when the log does not show the connection at the send:
//! a connection found dead while the network worked (`network_path_suspect`), a reconnection
//! the display-off policy did not stop (`device_offline_radio`), one it did
//! (`reconnect_abandoned_power_policy`), and an expiry judged at apsd's reconnection rather than
//! at a path that led to none. Each log is `log show --style syslog` text written to a file and
//! read the way a user's would be, with catalogue wording (rules/ios.toml).

use std::io::Write;

use pushtrace_devicelog::rules::RuleSet;
use pushtrace_devicelog::timeline::{DeviceTimeline, build};
use pushtrace_devicelog::{LogReader, NoProgress};
use pushtrace_diagnose::{DiagnoseOptions, diagnose};
use pushtrace_model::{Cause, Confidence, EvidenceRole, Outcome, PushRecord, Timestamp, Verdict};

const CONNECTED: &str = "apsd[112]: <APSCourierConnectionManager: 0x1036e3710; production>: Connected to courier 18-courier.push.apple.com (17.57.144.12) connection: <APSCourierConnection: 0x9451043c0> usingPackedFormat YES secureHandshakeEnabled YES onInterface:";
const KEEPALIVE_FAILED: &str = "apsd[112]: <APSCourierConnectionManager: 0x10300a1b0 production>: Keep-alive response timer fired onInterface NonCellular. Keep-alive failed. Connected on 0 interfaces. Current link quality: 100";
const CONNECT_TIMEOUT: &str = "apsd[112]: <APSCourierConnectionManager: 0x10300a1b0 production>: Connection establish timer fired. Connection failed onInterface WWAN. Connected on 0 interfaces. Current link quality: 40";
const PATH_LTE: &str = "apsd[112]: (libnetwork.dylib) [C138 IPv4#b71cac13:5223 ready parent-flow (satisfied (Path is satisfied), interface: pdp_ip0[lte], scoped, ipv4, ipv6, dns, expensive, uses cell, LQM: good)] event: path:satisfied_change @594.391s";
const RRC_IDLE: &str = "symptomsd[81]: New RRC 0 when previous 1 from pdp_ip0";
const REGISTERED: &str = "CommCenter[104]: #I Mapping the registration state to kRegisteredHome";
const ACTIVITY_UPDATE: &str = "apsd[112]: Powerd has requested assertion activity update";
const PUSH_RECEIVED: &str = "apsd[112]: <APSCourier: 0x10300c3d0 production>: Received message for enabled topic 'com.acme.call.voip' onInterface: WWAN with payload '<private>' with priority 10 for device token: YES isProxyMessage: NO, apsd current QOS: USER_INITIATED";
const TO_APP: &str = "callservicesd[143]: Received incoming APS message from application with bundle identifier com.acme.call and topic com.acme.call.voip";

fn policy(level: u8) -> [String; 2] {
    [
        format!("powerd[63]: (libIOKit.dylib) Sending com.apple.powerd.assertionpolicy {level}"),
        format!("apsd[112]: Update assertion policy {level}"),
    ]
}

fn display(on: bool) -> String {
    let (a, b) = if on { (1, 0) } else { (0, 1) };
    format!("powerd[63]: hidActive:{a} displayOff:{b} assertionActivityValid:{a}")
}

fn connected(interface: &str) -> String {
    format!("{CONNECTED} {interface}")
}

/// A timeline from `(HH:MM:SS.mmm, message)` lines of 2026-05-20, UTC.
fn timeline(lines: &[(&str, String)]) -> DeviceTimeline {
    let mut file = tempfile::Builder::new().suffix(".log").tempfile().unwrap();
    writeln!(file, "Timestamp                       (process)[PID]").unwrap();
    for (time, message) in lines {
        writeln!(file, "2026-05-20 {time}000+0000  localhost {message}").unwrap();
    }
    file.flush().unwrap();
    let read = LogReader::builder()
        .build()
        .read(file.path(), &mut NoProgress)
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

fn at(time: &str) -> Timestamp {
    Timestamp::parse(&format!("2026-05-20 {time}+0000")).unwrap()
}

/// A push sent at `sent`, accepted, due a minute later and expiring then.
fn push(sent: &str) -> PushRecord {
    let sent_at = at(sent);
    let mut push = PushRecord::new(sent_at);
    push.push_id = Some("p-1".into());
    push.topic = Some("com.acme.call.voip".into());
    push.push_type = Some("voip".into());
    push.priority = Some(10);
    push.apns_status = Some(200);
    push.responded_at = Some(Timestamp::new(
        sent_at.utc_micros() + 120_000,
        sent_at.offset(),
    ));
    let due = Timestamp::new(sent_at.utc_micros() + 60_000_000, sent_at.offset());
    push.deadline = Some(due);
    push.expiration = Some(u64::try_from(due.utc_micros() / 1_000_000).unwrap());
    push
}

fn cites(v: &Verdict, time: &str, role: EvidenceRole) -> bool {
    v.evidence
        .iter()
        .any(|e| e.event.at == at(time) && e.role == role)
}

#[test]
fn a_keepalive_failing_on_a_working_network_after_the_send_is_the_path_not_an_outage() {
    // Connected at 08:00 on Wi-Fi and nothing since: at 09:12 the connection's state is not
    // shown. At 09:25 the keepalive goes unanswered and apsd is connected again 0.3 s later on
    // the same interface, with no network line: the phone's network worked all along.
    let t = timeline(&[
        ("08:00:00.000", connected("NonCellular")),
        ("08:40:00.000", display(false)),
        ("09:25:05.502", KEEPALIVE_FAILED.to_string()),
        ("09:25:05.824", connected("NonCellular")),
        ("10:00:00.000", display(true)),
    ]);
    let v = diagnose(&push("09:12:20.000"), &t, &DiagnoseOptions::default());
    assert_eq!(v.outcome, Outcome::NotDelivered, "{v:#?}");
    assert_eq!(v.cause, Cause::NetworkPathSuspect, "{}", v.explanation);
    assert_eq!(v.confidence, Confidence::Low);
    assert!(cites(&v, "09:25:05.502", EvidenceRole::Supports), "{v:#?}");
    assert!(cites(&v, "09:25:05.824", EvidenceRole::Supports), "{v:#?}");
    assert!(
        v.explanation.contains("found it dead at 09:25:05.502"),
        "{}",
        v.explanation
    );
}

#[test]
fn a_loss_the_phone_reconnects_from_only_after_its_network_returns_is_an_outage() {
    // The same keepalive failure, but apsd waits for the network: a path satisfied comes
    // before the connection. That is an outage the push met, not a silent drop.
    let t = timeline(&[
        ("08:00:00.000", connected("NonCellular")),
        ("09:25:05.502", KEEPALIVE_FAILED.to_string()),
        (
            "09:25:40.000",
            "apsd[112]: (libnetwork.dylib) [C139 IPv4#b71cac13:5223 ready parent-flow (satisfied (Path is satisfied), interface: en0, scoped, ipv4, ipv6, dns, LQM: good)] event: path:satisfied_change @594.391s".to_string(),
        ),
        ("09:25:40.400", connected("NonCellular")),
        ("10:00:00.000", display(true)),
    ]);
    let v = diagnose(&push("09:12:20.000"), &t, &DiagnoseOptions::default());
    assert_ne!(v.cause, Cause::NetworkPathSuspect, "{}", v.explanation);
}

#[test]
fn a_reconnection_that_connects_under_policy_3_without_a_wake_was_not_abandoned() {
    // Policy 3 has been in force since 06:46; the radio drops, the push is sent, the network
    // returns and apsd connects within a second with no wake: the policy held nothing back.
    let [sent3, applied3] = policy(3);
    let t = timeline(&[
        ("06:46:10.000", sent3),
        ("06:46:10.002", applied3),
        ("06:47:00.000", RRC_IDLE.to_string()),
        ("06:48:41.418", REGISTERED.to_string()),
        ("06:48:41.542", PATH_LTE.to_string()),
        ("06:48:42.157", connected("WWAN")),
        ("06:48:42.158", PUSH_RECEIVED.to_string()),
        ("06:48:42.207", TO_APP.to_string()),
    ]);
    let v = diagnose(&push("06:47:30.000"), &t, &DiagnoseOptions::default());
    assert_eq!(v.outcome, Outcome::Late, "{v:#?}");
    assert_eq!(v.cause, Cause::DeviceOfflineRadio, "{}", v.explanation);
    assert!(
        v.explanation.contains("did not stop apsd"),
        "{}",
        v.explanation
    );
}

#[test]
fn failed_attempts_after_the_path_are_the_reconnection_policy_3_abandons() {
    // The founding chain with apsd's attempts logged: path satisfied, attempts time out (the
    // push is sent between two of them), powerd warns, policy 3, no attempt after it, and apsd
    // connects only after powerd lifts the policy at a wake.
    let [sent3, applied3] = policy(3);
    let [sent0, applied0] = policy(0);
    let t = timeline(&[
        ("08:54:15.238", RRC_IDLE.to_string()),
        ("08:54:29.966", REGISTERED.to_string()),
        ("08:54:30.090", PATH_LTE.to_string()),
        ("08:55:15.090", CONNECT_TIMEOUT.to_string()),
        ("08:56:02.090", CONNECT_TIMEOUT.to_string()),
        ("08:56:37.090", ACTIVITY_UPDATE.to_string()),
        ("08:56:51.090", CONNECT_TIMEOUT.to_string()),
        ("08:57:10.090", sent3),
        ("08:57:10.092", applied3),
        ("08:57:10.093", display(false)),
        ("09:00:00.466", sent0),
        ("09:00:00.570", applied0),
        ("09:00:00.772", connected("WWAN")),
        ("09:00:00.773", PUSH_RECEIVED.to_string()),
        ("09:00:00.822", TO_APP.to_string()),
    ]);
    let v = diagnose(&push("08:55:26.934"), &t, &DiagnoseOptions::default());
    assert_eq!(v.outcome, Outcome::Late, "{v:#?}");
    assert_eq!(
        v.cause,
        Cause::ReconnectAbandonedPowerPolicy,
        "{}",
        v.explanation
    );
    assert!(cites(&v, "08:54:30.090", EvidenceRole::Supports), "{v:#?}");
    assert!(cites(&v, "08:57:10.090", EvidenceRole::Supports), "{v:#?}");
}

#[test]
fn attempts_going_on_under_an_old_policy_3_until_a_wake_are_not_an_abandonment() {
    // Policy 3 since 17:46; apsd keeps trying after it (17:51:38, 17:52:25) until the user
    // wakes the display, and connects 42 s later: the policy stopped nothing.
    let [sent3, applied3] = policy(3);
    let t = timeline(&[
        ("17:46:10.000", sent3),
        ("17:46:10.002", applied3),
        ("17:50:34.528", RRC_IDLE.to_string()),
        ("17:50:53.459", REGISTERED.to_string()),
        ("17:50:53.583", PATH_LTE.to_string()),
        ("17:51:38.583", CONNECT_TIMEOUT.to_string()),
        ("17:52:25.583", CONNECT_TIMEOUT.to_string()),
        ("17:52:32.100", display(true)),
        ("17:53:14.583", connected("WWAN")),
        ("17:53:14.584", PUSH_RECEIVED.to_string()),
        ("17:53:14.633", TO_APP.to_string()),
    ]);
    let v = diagnose(&push("17:51:44.023"), &t, &DiagnoseOptions::default());
    assert_eq!(v.outcome, Outcome::Late, "{v:#?}");
    assert_eq!(v.cause, Cause::DeviceOfflineRadio, "{}", v.explanation);
    assert!(
        v.explanation.contains("was still trying"),
        "{}",
        v.explanation
    );
    // The radio idle line is older than the network's return: it is not the state at the send.
    assert!(
        v.explanation
            .contains("radio idle on pdp_ip0 until the network was back at 17:50:53.459"),
        "{}",
        v.explanation
    );
    assert!(!cites(&v, "17:50:34.528", EvidenceRole::Supports), "{v:#?}");
}

#[test]
fn an_expiry_is_judged_when_apsd_connects_not_when_a_path_returns() {
    // apsd gave up under policy 3 at 22:22; the push is sent at 22:29:42, the path returns at
    // 22:30:14 but apsd does not connect until the wake at 22:45, long after the push's
    // expiration (22:30:42): it expired while the device was away.
    let [sent3, applied3] = policy(3);
    let [sent0, applied0] = policy(0);
    let [sent3b, applied3b] = policy(3);
    let t = timeline(&[
        ("22:18:00.000", RRC_IDLE.to_string()),
        ("22:18:30.000", REGISTERED.to_string()),
        ("22:18:30.100", PATH_LTE.to_string()),
        ("22:19:15.100", CONNECT_TIMEOUT.to_string()),
        ("22:21:40.000", ACTIVITY_UPDATE.to_string()),
        ("22:22:19.172", sent3),
        ("22:22:19.174", applied3),
        ("22:29:42.103", RRC_IDLE.to_string()),
        ("22:30:14.458", REGISTERED.to_string()),
        ("22:30:14.582", PATH_LTE.to_string()),
        ("22:45:00.466", sent0),
        ("22:45:00.570", applied0),
        ("22:45:00.777", connected("WWAN")),
        ("22:46:10.000", sent3b),
        ("22:46:10.002", applied3b),
    ]);
    let v = diagnose(&push("22:29:42.718"), &t, &DiagnoseOptions::default());
    assert_eq!(v.outcome, Outcome::NotDelivered, "{v:#?}");
    assert_eq!(v.cause, Cause::ExpiredWhileOffline, "{}", v.explanation);
    assert!(
        v.explanation
            .contains("expired before the device came back"),
        "{}",
        v.explanation
    );
}
