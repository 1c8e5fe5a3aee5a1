//! The founding incident, simulated: its log reads back through `diagnose` with the true cause,
//! and every message the lab writes is one the catalogue understands.

use std::path::{Path, PathBuf};

use pushtrace_devicelog::rules::RuleSet;
use pushtrace_devicelog::timeline::build;
use pushtrace_devicelog::{Format, LocalClock, LogReader, NoProgress};
use pushtrace_diagnose::{DiagnoseOptions, PushReader, diagnose};
use pushtrace_lab::log::{Message, NOISE};
use pushtrace_lab::scenario::Interface;
use pushtrace_lab::{LogFormat, RunOptions, Scenario, simulate_device, write_run};
use pushtrace_model::{Cause, Outcome};

fn scenario(name: &str) -> Scenario {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name);
    Scenario::load(&path).unwrap()
}

#[test]
fn the_founding_incident_keeps_its_timeline() {
    let sc = scenario("founding-incident.toml");
    let run = simulate_device(&sc, 0, true);
    let offset = sc.fleet.start.offset();
    let mut out = Vec::new();
    pushtrace_lab::log::write_syslog(&mut out, &run.log, offset, "Comera").unwrap();
    let text = String::from_utf8(out).unwrap();
    for line in [
        "2026-05-20 17:45:59.562000+0300  localhost symptomsd[81]: New RRC 0 when previous 1 from pdp_ip0",
        "2026-05-20 17:46:01.206000+0300  localhost CommCenter[104]: #I Mapping the registration state to kRegisteredHome",
        "2026-05-20 17:46:01.330000+0300  localhost apsd[112]: (libnetwork.dylib) [com.apple.network:connection] [C138 IPv4#b71cac13:5223 ready parent-flow",
        "2026-05-20 17:48:08.057000+0300  localhost apsd[112]: [com.apple.apsd:power] Powerd has requested assertion activity update",
        "2026-05-20 17:48:41.248000+0300  localhost powerd[63]: (libIOKit.dylib) [com.apple.powerd:assertions] Sending com.apple.powerd.assertionpolicy 3",
        "2026-05-20 17:48:41.250000+0300  localhost apsd[112]: [com.apple.apsd:power] Update assertion policy 3",
        "2026-05-20 17:48:42.669000+0300  localhost kernel[0]: [com.apple.xnu.net.necp:necp] necp_process_defunct_list: necp_update_client abort nexus error (2) for pid 1518 Comera",
        "2026-05-20 17:50:04.028000+0300  localhost powerd[63]: (libIOKit.dylib) [com.apple.powerd:assertions] Process CommCenter.104 Created SystemIsActive",
        "2026-05-20 17:50:04.494000+0300  localhost powerd[63]: (libIOKit.dylib) [com.apple.powerd:assertions] Sending com.apple.powerd.assertionpolicy 0",
        "2026-05-20 17:50:04.598000+0300  localhost apsd[112]: [com.apple.apsd:power] Update assertion policy 0",
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    let push = &run.pushes[0];
    let record = run.record(&sc, push);
    assert_eq!(
        record.sent_at.to_string(),
        "2026-05-20T17:47:00.000000+03:00"
    );
    assert_eq!(
        record.received_at.map(|t| t.to_string()).as_deref(),
        Some("2026-05-20T17:50:05.000000+03:00")
    );
    assert_eq!(
        (push.outcome, push.cause),
        (Outcome::Late, Cause::ReconnectAbandonedPowerPolicy)
    );
    assert!(push.rang && push.stale_ring);
}

#[test]
fn diagnose_finds_the_true_cause_in_the_written_log() {
    let sc = scenario("founding-incident.toml");
    let dir = tempfile::tempdir().unwrap();
    let written = write_run(&sc, &RunOptions::default(), dir.path()).unwrap();
    let pushes = PushReader::builder().build().read(&written.pushes).unwrap();
    let truth = simulate_device(&sc, 0, false).pushes;
    assert_eq!(pushes.pushes.len(), truth.len());
    let truth_file = std::fs::read_to_string(&written.truth).unwrap();
    assert_eq!(
        truth_file,
        "{\"push_id\":\"lab-000000-1\",\"call_id\":\"call-lab-000000-1\",\"attempt\":1,\
         \"device\":\"lab-000000\",\"outcome\":\"late\",\"cause\":\"reconnect_abandoned_power_policy\",\"rang\":true,\"stale_ring\":true,\
         \"missed_call_notice\":false}\n"
    );
    assert_eq!(
        pushes.pushes[0].record.push_id.as_deref(),
        Some("lab-000000-1")
    );
    let log = written.logs.join("lab-000000.log");
    let read = LogReader::builder()
        .build()
        .read(&log, &mut NoProgress)
        .unwrap();
    let rules = RuleSet::embedded().unwrap();
    let timeline = build(
        read.records,
        read.summary.span,
        &rules,
        &["Comera".to_string()],
        None,
    )
    .unwrap()
    .timeline;
    for (push, truth) in pushes.pushes.iter().zip(&truth) {
        let verdict = diagnose(&push.record, &timeline, &DiagnoseOptions::default());
        assert_eq!(verdict.cause, truth.cause, "{}", verdict.explanation);
        assert_eq!(verdict.outcome, truth.outcome, "{}", verdict.explanation);
    }
}

#[test]
fn every_message_is_read_by_its_catalogue_rule() {
    let rules = RuleSet::embedded().unwrap();
    let messages = [
        Message::RrcIdle,
        Message::RrcConnected,
        Message::Registered,
        Message::RegistrationLost,
        Message::KeepAliveSent(Interface::Cellular),
        Message::KeepAliveSent(Interface::Wifi),
        Message::PathSatisfied(Interface::Cellular),
        Message::PathSatisfied(Interface::Wifi),
        Message::Connected(Interface::Wifi),
        Message::ConnectionClosed(Interface::Cellular),
        Message::ConnectTimeout(Interface::Cellular),
        Message::KeepAliveFailed(Interface::Wifi),
        Message::ActivityUpdate,
        Message::PolicySent(3),
        Message::PolicyApplied(0),
        Message::Activity { active: true },
        Message::Activity { active: false },
        Message::Display { on: true },
        Message::Display { on: false },
        Message::CallWake,
        Message::NecpDefunct {
            pid: 1518,
            process: "Comera".into(),
        },
        Message::PushReceived {
            topic: "com.acme.call.voip".into(),
            interface: Interface::Cellular,
            priority: 10,
        },
        Message::VoipToApp {
            bundle: "com.acme.call".into(),
            topic: "com.acme.call.voip".into(),
        },
        Message::CallReported {
            uuid: "745FF3D3-FBA9-4793-95F4-3DD3FF67A7C0".into(),
        },
        Message::AppKilled,
        Message::InternetSharing,
        Message::VoipBlocked {
            bundle: "com.acme.call".into(),
        },
    ];
    for message in messages {
        let mut text = String::new();
        message.write(&mut text);
        let rule = rules
            .rules()
            .iter()
            .find(|r| Some(r.spec.id.as_str()) == message.rule())
            .unwrap_or_else(|| panic!("no rule {:?}", message.rule()));
        assert_eq!(
            rule.spec.process,
            message.process("*").replace("Comera", "*")
        );
        assert!(
            matches!(rule.kind_of(&text), Some(Ok(_))),
            "{} does not read {text:?}",
            rule.spec.id
        );
    }
}

#[test]
fn a_bad_scenario_names_the_file_and_field() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/mixed-fleet.toml"),
    )
    .unwrap();
    let err = Scenario::parse(&text.replace("priority = 10", "priority = 7"), "x.toml")
        .unwrap_err()
        .to_string();
    assert_eq!(err, "x.toml: `calls.priority`: APNs accepts 10, 5 or 1");
    let err = Scenario::parse(&text.replace("\"20s\"", "\"20 seconds\""), "x.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("x.toml: ") && err.contains("\"2m40s\""),
        "{err}"
    );
    assert!(err.contains("docs/lab.md"), "{err}");
    let err = Scenario::parse(
        &text.replace("weak_share = 0.3", "weak_share = 30"),
        "x.toml",
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "x.toml: `cellular.weak_share`: 30 is not a share: use 0 to 1"
    );
}

#[test]
fn a_fleet_run_is_reproducible_whatever_the_threads() {
    let mut sc = scenario("mixed-fleet.toml");
    sc.fleet.devices = 40;
    let one = pushtrace_lab::run_fleet(&sc, 1, false, |_| {});
    let two = pushtrace_lab::run_fleet(&sc, 2, false, |_| {});
    assert_eq!(one, two);
    assert!(one.pushes > 3000, "{one:?}");
    for cause in [
        "none",
        "device_offline_radio",
        "reconnect_abandoned_power_policy",
    ] {
        assert!(
            one.by_cause.get(cause).copied().unwrap_or(0) > 0,
            "{cause}: {one:?}"
        );
    }
}

#[test]
fn every_log_format_reads_back_to_the_same_timeline_and_cause() {
    let sc = scenario("founding-incident.toml");
    let rules = RuleSet::embedded().unwrap();
    let events = |format: LogFormat, noise: f64| {
        let dir = tempfile::tempdir().unwrap();
        let options = RunOptions {
            format,
            noise,
            ..RunOptions::default()
        };
        let written = write_run(&sc, &options, dir.path()).unwrap();
        let clock = LocalClock {
            date: Some(pushtrace_model::parse_date(&written.start_date).unwrap()),
            zone: None,
        };
        let log = written.log_of("lab-000000");
        let reader = LogReader::builder().clock(clock).build();
        assert_eq!(
            reader.format_of(&log).unwrap().0,
            match format {
                LogFormat::Syslog => Format::LogShowSyslog,
                LogFormat::Default => Format::LogShowDefault,
                LogFormat::Ndjson => Format::LogShowNdjson,
                LogFormat::Json => Format::LogShowJson,
                LogFormat::Console => Format::Console,
            },
            "{format:?}"
        );
        let read = reader.read(&log, &mut NoProgress).unwrap();
        assert_eq!(
            read.summary.skipped_total(),
            0,
            "{format:?}: {:?}",
            read.summary
        );
        let timeline = build(
            read.records,
            read.summary.span,
            &rules,
            &["Comera".to_string()],
            None,
        )
        .unwrap()
        .timeline;
        let score = pushtrace_lab::score(&written).unwrap();
        assert_eq!(score.agree, 1, "{format:?}: {score}");
        assert!(
            score.matrix[&Cause::ReconnectAbandonedPowerPolicy]
                .contains_key(&Cause::ReconnectAbandonedPowerPolicy)
        );
        timeline
            .events
            .into_iter()
            .map(|e| (e.at.utc_micros(), e.rule, format!("{:?}", e.kind)))
            .collect::<Vec<_>>()
    };
    let syslog = events(LogFormat::Syslog, 0.0);
    assert!(syslog.len() > 10, "{syslog:?}");
    for format in LogFormat::ALL {
        assert_eq!(events(format, 0.0), syslog, "{format:?}");
        assert_eq!(events(format, 0.69), syslog, "{format:?} with noise");
    }
}

#[test]
fn no_rule_reads_a_noise_line() {
    let rules = RuleSet::embedded().unwrap();
    for line in &NOISE {
        for rule in rules.rules() {
            assert!(
                rule.kind_of(line.text).is_none(),
                "{} reads noise {:?}",
                rule.spec.id,
                line.text
            );
        }
    }
}
