//! The network around apsd: a cellular outage is CommCenter losing registration (RRC idle is
//! the radio's churn), keep-alives on their schedule find a silently dropped connection, a
//! handover keeps the connection, a move between Wi-Fi and cellular reconnects on the new
//! interface, and a phone's log covers the scenario's whole window.

use std::path::Path;

use pushtrace_lab::log::{LogLine, Message};
use pushtrace_lab::scenario::{Interface, Scripted, Span, Weighted};
use pushtrace_lab::{DeviceRun, Scenario, simulate_device};
use pushtrace_model::{Cause, Outcome, Timestamp};

/// The founding incident's phone, every random process off, with `script` instead of its own.
fn phone(interface: Interface, script: Vec<Scripted>) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/founding-incident.toml");
    let mut sc = Scenario::load(&path).unwrap();
    sc.fleet.interfaces = vec![Weighted {
        value: interface,
        weight: 1.0,
    }];
    sc.script = script;
    sc
}

fn at(time: &str) -> Timestamp {
    Timestamp::parse(&format!("2026-05-20T{time}+03:00")).unwrap()
}

fn micros(time: &str) -> i64 {
    at(time).utc_micros()
}

fn syslog(sc: &Scenario, run: &DeviceRun) -> String {
    let mut out = Vec::new();
    pushtrace_lab::log::write_syslog(&mut out, &run.log, sc.fleet.start.offset(), "Comera")
        .unwrap();
    String::from_utf8(out).unwrap()
}

fn times(run: &DeviceRun, wanted: impl Fn(&Message) -> bool) -> Vec<i64> {
    run.log
        .iter()
        .filter(|l| wanted(&l.message))
        .map(|l: &LogLine| l.at)
        .collect()
}

#[test]
fn a_cellular_outage_loses_registration_and_rrc_idle_is_churn() {
    let sc = phone(
        Interface::Cellular,
        vec![Scripted::Outage {
            at: at("17:20:00"),
            duration: Span::parse("30s").unwrap(),
            weak: false,
        }],
    );
    let run = simulate_device(&sc, 0, true);
    let text = syslog(&sc, &run);
    for line in [
        "2026-05-20 17:20:00.000000+0300  localhost symptomsd[81]: New RRC 0 when previous 1 from pdp_ip0",
        "2026-05-20 17:20:00.000000+0300  localhost CommCenter[104]: #I Mapping the registration state to kSearching",
        "2026-05-20 17:20:30.000000+0300  localhost CommCenter[104]: #I Mapping the registration state to kRegisteredHome",
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    // Reconnected at 17:20:30.424 (path 124 ms, connect 300 ms): keep-alives every 15 min
    // from there, each waking the radio, which goes idle 10 s later.
    let connected = micros("17:20:30.424");
    let every = Span::parse("15m").unwrap().micros();
    let keepalives = times(&run, |m| matches!(m, Message::KeepAliveSent(_)));
    assert_eq!(keepalives, vec![connected + every, connected + 2 * every]);
    assert_eq!(
        times(&run, |m| *m == Message::RrcConnected),
        keepalives,
        "{text}"
    );
    let idle = times(&run, |m| *m == Message::RrcIdle);
    assert_eq!(
        idle,
        vec![
            micros("17:20:00"),
            keepalives[0] + 10_000_000,
            keepalives[1] + 10_000_000
        ]
    );
    // One registration loss: the outage, not the churn.
    assert_eq!(
        times(&run, |m| *m == Message::RegistrationLost),
        vec![micros("17:20:00")]
    );
}

#[test]
fn a_silently_dropped_connection_is_found_by_the_next_keepalive_and_its_push_arrives_after() {
    let mut sc = phone(
        Interface::Wifi,
        vec![
            Scripted::SilentDrop { at: at("17:20:00") },
            Scripted::Call { at: at("17:21:00") },
        ],
    );
    sc.wifi.keepalive = Some(Span::parse("10m").unwrap());
    let run = simulate_device(&sc, 0, true);
    let text = syslog(&sc, &run);
    // Connected since the start (17:14:56): keep-alive at 17:24:56, unanswered for 30 s.
    for line in [
        "2026-05-20 17:24:56.000000+0300  localhost apsd[112]: [com.apple.apsd:connection] <APSCourierConnectionManager: 0x10300a1b0 production>: Sending keep alive message via conn: <APSCourierConnection: 0x9451043c0> onInterface: NonCellular. Connected on 1 interfaces.",
        "2026-05-20 17:25:26.000000+0300  localhost apsd[112]: [com.apple.apsd:connection] <APSCourierConnectionManager: 0x10300a1b0 production>: Keep-alive response timer fired onInterface NonCellular. Keep-alive failed.",
        "2026-05-20 17:25:26.300000+0300  localhost apsd[112]: [com.apple.apsd:connection] <APSCourierConnectionManager: 0x1036e3710; production>: Connected to courier",
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    // The push (apns-expiration 0) written to the dead connection is not lost: the attempt
    // goes on over the next connection, as for a connection APNs had not found dead.
    let push = &run.pushes[0];
    assert_eq!(push.received_at, Some(micros("17:25:26.402")));
    assert_eq!(
        (push.outcome, push.cause),
        (Outcome::Late, Cause::NetworkPathSuspect)
    );
}

#[test]
fn a_move_to_wifi_reconnects_apsd_on_the_new_interface() {
    let sc = phone(
        Interface::Cellular,
        vec![
            Scripted::Switch { at: at("17:20:00") },
            Scripted::Call { at: at("17:21:00") },
        ],
    );
    let run = simulate_device(&sc, 0, true);
    let text = syslog(&sc, &run);
    for line in [
        "2026-05-20 17:20:00.000000+0300  localhost apsd[112]: [com.apple.apsd:connection] Connection closed production WWAN",
        "2026-05-20 17:20:00.100000+0300  localhost apsd[112]: (libnetwork.dylib) [com.apple.network:connection] [C138 IPv4#b71cac13:5223 ready parent-flow (satisfied (Path is satisfied), interface: en0,",
        "2026-05-20 17:20:00.400000+0300  localhost apsd[112]: [com.apple.apsd:connection] <APSCourierConnectionManager: 0x1036e3710; production>: Connected to courier 18-courier.push.apple.com (17.57.144.12) connection: <APSCourierConnection: 0x9451043c0> usingPackedFormat YES secureHandshakeEnabled YES onInterface: NonCellular",
        "2026-05-20 17:21:00.000000+0300  localhost apsd[112]: [com.apple.apsd:connection] <APSCourier: 0x10300c3d0 production>: Received message for enabled topic 'com.acme.call.voip' onInterface: NonCellular",
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    assert!(!text.contains("kSearching"), "a move loses no registration");
    let push = &run.pushes[0];
    assert_eq!((push.outcome, push.cause), (Outcome::OnTime, Cause::None));
    // On Wi-Fi, no radio churn after the move: keep-alives on NonCellular only.
    let after = micros("17:20:00");
    assert!(
        run.log
            .iter()
            .filter(|l| l.at > after)
            .all(|l| !matches!(l.message, Message::RrcConnected | Message::RrcIdle)),
        "{text}"
    );
}

#[test]
fn a_handover_keeps_the_connection() {
    let sc = phone(
        Interface::Cellular,
        vec![
            Scripted::Handover { at: at("17:20:00") },
            Scripted::Call {
                at: at("17:20:00.500"),
            },
        ],
    );
    let run = simulate_device(&sc, 0, true);
    let text = syslog(&sc, &run);
    for line in [
        "2026-05-20 17:20:00.000000+0300  localhost symptomsd[81]: New RRC 0 when previous 1 from pdp_ip0",
        "2026-05-20 17:20:00.000000+0300  localhost CommCenter[104]: #I Mapping the registration state to kRegisteredHome",
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    assert!(!text.contains("kSearching") && !text.contains("Connection closed"));
    let push = &run.pushes[0];
    assert_eq!(push.received_at, Some(micros("17:20:00.602")));
    assert_eq!((push.outcome, push.cause), (Outcome::OnTime, Cause::None));
}

#[test]
fn a_log_covers_the_whole_window() {
    let sc = phone(Interface::Cellular, Vec::new());
    let run = simulate_device(&sc, 0, true);
    let (first, last) = (run.log.first().unwrap(), run.log.last().unwrap());
    assert_eq!(first.at, sc.fleet.start.utc_micros());
    assert_eq!(last.at, sc.end_micros() - 1);
    assert!(matches!(last.message, Message::Noise(_)));
    // Nothing happens to this phone but its keep-alives: they run to the end.
    assert_eq!(
        times(&run, |m| matches!(m, Message::KeepAliveSent(_))).len(),
        2
    );
}

#[test]
fn handovers_and_the_radio_timer_are_refused_on_wifi() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/mixed-fleet.toml"),
    )
    .unwrap();
    let wifi = |extra: &str| {
        Scenario::parse(
            &text.replace(
                "silent_drops_per_day = 0.3",
                &format!("silent_drops_per_day = 0.3\n{extra}"),
            ),
            "x.toml",
        )
        .unwrap_err()
        .to_string()
    };
    assert!(
        wifi("handovers_per_day = 1")
            .starts_with("x.toml: `wifi.handovers_per_day`: cell handovers are cellular"),
    );
    assert!(wifi("rrc_idle_after = \"5s\"").starts_with("x.toml: `wifi.rrc_idle_after`: "));
    let err = Scenario::parse(
        &text.replace("keepalive = \"12m37s\"", "keepalive = \"0s\""),
        "x.toml",
    )
    .unwrap_err()
    .to_string();
    assert_eq!(err, "x.toml: `wifi.keepalive`: must be longer than 0s");
    let err = Scenario::parse(
        &text.replace("switches_per_day = 2\n", "switches_per_day = -1\n"),
        "x.toml",
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "x.toml: `cellular.switches_per_day`: -1 per day: use 0 to 100000"
    );
}
