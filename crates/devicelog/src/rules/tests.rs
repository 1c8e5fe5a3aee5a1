//! The catalogue checks itself: every rule carries the exact documented messages it must read
//! (`examples`) and their `<private>`-redacted forms (`redacted`); each must be matched by that
//! rule first — not shadowed by an earlier one — and convert into its event.

use super::*;
use pushtrace_model::{EventKind, Origin, Timestamp};

pub(super) fn record(process: &str, message: &str) -> LogRecord {
    let origin = Origin::Line {
        file: "test".into(),
        line: 1,
    };
    LogRecord::new(Timestamp::from_utc_micros(0), process, message, origin)
}

/// The process a rule's examples are logged by (`*` rules: an app's own process).
fn process_of(rule: &Rule) -> &str {
    if rule.spec.process == ANY_PROCESS {
        "Comera"
    } else {
        &rule.spec.process
    }
}

fn check(set: &RuleSet, rule: &Rule, message: &str) -> Result<(), String> {
    let mut r = record(process_of(rule), message);
    r.subsystem = rule.spec.subsystem.clone();
    r.category = rule.spec.category.clone();
    match set.first_match(&r) {
        None => Err(format!(
            "rule {} does not match its example {message:?}",
            rule.spec.id
        )),
        Some((first, _)) if first.spec.id != rule.spec.id => Err(format!(
            "example {message:?} of {} is taken by the earlier rule {}",
            rule.spec.id, first.spec.id
        )),
        Some((_, Err(why))) => Err(format!(
            "rule {} matches {message:?} but {why}",
            rule.spec.id
        )),
        Some((_, Ok(kind))) if kind.name() != rule.spec.event => Err(format!(
            "rule {} produced {} instead of {}",
            rule.spec.id,
            kind.name(),
            rule.spec.event
        )),
        Some(_) => Ok(()),
    }
}

#[test]
fn every_rule_reads_its_documented_messages() {
    let set = RuleSet::embedded().unwrap();
    let mut failures = Vec::new();
    for rule in set.rules() {
        if rule.spec.examples.is_empty() {
            failures.push(format!("rule {} has no example message", rule.spec.id));
        }
        for message in &rule.spec.examples {
            if let Err(e) = check(&set, rule, message) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_reads_its_redacted_variants() {
    let set = RuleSet::embedded().unwrap();
    let mut failures = Vec::new();
    for rule in set.rules() {
        for message in &rule.spec.redacted {
            if !message.contains(REDACTED) {
                failures.push(format!(
                    "redacted example of {} has no <private>: {message:?}",
                    rule.spec.id
                ));
            }
            if let Err(e) = check(&set, rule, message) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rules_with_string_captures_have_a_redacted_variant() {
    // os_log redacts %@ and %s arguments by default; numbers stay public. A rule that captures
    // a string field must show it still matches when that field reads <private>.
    let set = RuleSet::embedded().unwrap();
    // Integers (%d, %u, %llx) are public; only these captures are numbers or 0/1 flags.
    let numeric = [
        "state",
        "previous",
        "port",
        "length",
        "connected_interfaces",
        "interval_s",
        "priority",
        "level",
        "from",
        "to",
        "pid",
        "owner_pid",
        "assertion_id",
        "time",
        "policy_timeout",
        "error",
        "display_off",
        "hid_active",
        "code",
        "up",
    ];
    let missing: Vec<_> = set
        .rules()
        .iter()
        .filter(|r| {
            r.regex
                .capture_names()
                .flatten()
                .any(|n| !numeric.contains(&n))
        })
        .filter(|r| r.spec.redacted.is_empty())
        .map(|r| r.spec.id.clone())
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a redacted variant: {missing:?}"
    );
}

#[test]
fn user_rules_override_by_id_and_come_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("extra.toml");
    std::fs::write(
        &path,
        r#"
[[rule]]
id = "symptomsd.rrc_state"
process = "symptomsd"
pattern = '^RRC now (?P<state>\d) on (?P<interface>\S+)$'
event = "rrc_state"
source = "test"
examples = ["RRC now 0 on pdp_ip0"]

[[rule]]
id = "local.wifi_rrc"
process = "wifid"
pattern = '^radio (?P<state>\d) (?P<interface>en\d)$'
event = "rrc_state"
source = "test"
"#,
    )
    .unwrap();
    let set = RuleSet::with_file(&path).unwrap();
    assert_eq!(set.rules()[0].spec.id, "local.wifi_rrc");
    let overridden = set
        .rules()
        .iter()
        .find(|r| r.spec.id == "symptomsd.rrc_state")
        .unwrap();
    assert_eq!(overridden.spec.source, "test");
    assert!(
        set.event(&record(
            "symptomsd",
            "New RRC 0 when previous 1 from pdp_ip0"
        ))
        .is_none()
    );
    let event = set
        .event(&record("symptomsd", "RRC now 0 on pdp_ip0"))
        .unwrap()
        .unwrap();
    assert_eq!(event.rule, "symptomsd.rrc_state");
}

#[test]
fn bad_rules_are_refused_with_the_rule_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("event = \"banana\"", "unknown event `banana`"),
        (
            "event = \"rrc_state\"\npattern = '(?P<colour>x)'",
            "`colour` is not a field of `rrc_state`",
        ),
        (
            "event = \"power_policy\"\npattern = '(?P<level>\\d)'",
            "`power_policy` needs `stage`",
        ),
        (
            "event = \"rrc_state\"\npattern = '(?P<state>'",
            "pattern does not compile",
        ),
    ];
    for (body, expected) in cases {
        let path = dir.path().join("bad.toml");
        let pattern = if body.contains("pattern") {
            ""
        } else {
            "pattern = 'x'\n"
        };
        std::fs::write(
            &path,
            format!(
                "[[rule]]\nid = \"bad.one\"\nprocess = \"apsd\"\nsource = \"t\"\n{pattern}{body}\n"
            ),
        )
        .unwrap();
        let err = RuleSet::with_file(&path).unwrap_err().to_string();
        assert!(err.contains("bad.one") && err.contains(expected), "{err}");
    }
    let path = dir.path().join("syntax.toml");
    std::fs::write(&path, "[[rule]\nid = 1").unwrap();
    assert!(
        RuleSet::with_file(&path)
            .unwrap_err()
            .to_string()
            .contains("not a valid rules file")
    );
}

pub(super) fn kind_of(set: &RuleSet, process: &str, message: &str) -> EventKind {
    set.event(&record(process, message))
        .unwrap_or_else(|| panic!("no rule reads {message:?}"))
        .unwrap()
        .kind
}

#[test]
fn apns_connection_lines_read_interface_error_and_code() {
    let set = RuleSet::embedded().unwrap();
    assert_eq!(
        kind_of(
            &set,
            "apsd",
            "<APSCourierConnectionManager: 0x1 production>: Stream error occurred for <APSCourierConnection: 0x2> onInterface NonCellular: TLS Error Code=-9806 \"errSSLClosedAbort\""
        ),
        EventKind::ApnsConnectFailed {
            interface: Some("NonCellular".into()),
            error: Some("TLS Error Code=-9806 \"errSSLClosedAbort\"".into()),
            code: Some(-9806),
        }
    );
    assert_eq!(
        kind_of(
            &set,
            "apsd",
            "<private>: Stream error occurred for <private> onInterface WWAN: <private>"
        ),
        EventKind::ApnsConnectFailed {
            interface: Some("WWAN".into()),
            error: None,
            code: None,
        }
    );
    assert_eq!(
        kind_of(
            &set,
            "apsd",
            "Task <8328A9BD-E011-4C05-B23C-FAB986B21615>.<1> finished with error [-1003] Error Domain=NSURLErrorDomain Code=-1003 \"A server with the specified hostname could not be found.\" UserInfo={}"
        ),
        EventKind::ApnsConnectFailed {
            interface: None,
            error: Some("A server with the specified hostname could not be found.".into()),
            code: Some(-1003),
        }
    );
    assert_eq!(
        kind_of(
            &set,
            "apsd",
            "<x>: Connected to courier 1-courier.push.apple.com (17.57.146.52) connection: <c> usingPackedFormat YES secureHandshakeEnabled NO onInterface: WWAN"
        ),
        EventKind::ApnsConnected {
            interface: Some("WWAN".into())
        }
    );
    assert_eq!(
        kind_of(
            &set,
            "apsd",
            "<x> _disconnectStream for interface: NonCellular with reason: 12"
        ),
        EventKind::ApnsDisconnected {
            interface: Some("NonCellular".into()),
            reason: Some("12".into()),
        }
    );
    assert_eq!(
        kind_of(&set, "apsd", "Cellular interface is suspended"),
        EventKind::ApnsDisconnected {
            interface: Some("WWAN".into()),
            reason: Some("cellular interface suspended".into()),
        }
    );
    assert!(
        set.event(&record(
            "apsd",
            "Cellular interface is not suspended, ignore transition"
        ))
        .is_none()
    );
}

#[test]
fn observed_apsd_keepalive_and_reachability_lines_are_read() {
    let set = RuleSet::embedded().unwrap();
    assert_eq!(
        kind_of(
            &set,
            "apsd",
            "<private>: Sending keep alive message via conn: <private> onInterface: NonCellular. Connected on 1 interfaces. Current link quality: <private>"
        ),
        EventKind::ApnsKeepAlive {
            mode: "explicit".into(),
            interface: Some("NonCellular".into()),
            interval_s: None,
            connected_interfaces: Some(1),
        }
    );
    assert_eq!(
        kind_of(
            &set,
            "apsd",
            "_CFNetworkIsConnectedToInternet returning 0, flagsValid: 1, flags: 0x0"
        ),
        EventKind::NetworkState {
            interface: None,
            up: false
        }
    );
}

#[test]
fn library_callkit_reports_are_read_in_any_process_by_their_phrase() {
    let set = RuleSet::embedded().unwrap();
    assert_eq!(
        kind_of(
            &set,
            "LuckyCalls",
            "[RNCallKeep][reportNewIncomingCall] uuidString = 745ff3d3-fba9-4793-95f4-3dd3ff67a7c0"
        ),
        EventKind::CallReported {
            bundle: None,
            call: Some("745ff3d3-fba9-4793-95f4-3dd3ff67a7c0".into()),
        }
    );
    // The `*` patterns carry a fixed phrase; a bare UUID line is not a report.
    assert!(
        set.event(&record(
            "LuckyCalls",
            "uuidString = 745ff3d3-fba9-4793-95f4-3dd3ff67a7c0"
        ))
        .is_none()
    );
}

#[test]
fn observed_connected_and_older_push_wordings_are_read() {
    let set = RuleSet::embedded().unwrap();
    assert_eq!(
        kind_of(
            &set,
            "apsd",
            "<APSCourierConnectionManager: 0x1036e3710; production>: Connected to courier 18-courier.push.apple.com (17.57.144.12) connection: <APSCourierConnection: 0x9451043c0> usingPackedFormat YES secureHandshakeEnabled YES onInterface: NonCellular"
        ),
        EventKind::ApnsConnected {
            interface: Some("NonCellular".into())
        }
    );
    assert_eq!(
        kind_of(
            &set,
            "apsd",
            "<APSCourier: 0x7fdd82e43790>: Received high priority message for topic 'com.example.app.voip' with payload '<CFBasicHash 0x7fdd82c3a7a0 [0x7fff72f8d890]>{type = immutable dict, count = 2,"
        ),
        EventKind::PushReceived {
            filter: "enabled".into(),
            topic: Some("com.example.app.voip".into()),
            interface: None,
            priority: Some(10),
        }
    );
}

#[test]
fn cellular_data_context_and_newer_callservicesd_delivery_lines_are_read() {
    let set = RuleSet::embedded().unwrap();
    assert_eq!(
        kind_of(
            &set,
            "callservicesd",
            "   Data context is usable (new): YES"
        ),
        EventKind::NetworkState {
            interface: Some("WWAN".into()),
            up: true
        }
    );
    // The previous value is not a change.
    assert!(
        set.event(&record(
            "callservicesd",
            "   Data context is usable (previous): NO"
        ))
        .is_none()
    );
    assert_eq!(
        kind_of(
            &set,
            "callservicesd",
            "Successfully launched application with bundle identifier com.example.app"
        ),
        EventKind::AppLaunchForPush {
            stage: "opened".into(),
            bundle: Some("com.example.app".into()),
        }
    );
}

#[test]
fn callkit_reports_are_read_in_callservicesd_and_in_the_app() {
    let set = RuleSet::embedded().unwrap();
    let uuid = "745FF3D3-FBA9-4793-95F4-3DD3FF67A7C0";
    let reported = EventKind::CallReported {
        bundle: None,
        call: Some(uuid.into()),
    };
    assert_eq!(
        kind_of(
            &set,
            "callservicesd",
            &format!(
                "Received -[CXCallSource reportNewIncomingCallWithUUID:update:reply:] with UUID: {uuid} update: <private>"
            )
        ),
        reported
    );
    assert_eq!(
        kind_of(
            &set,
            "Comera",
            &format!(
                "Provider <private> was asked to report a new incoming call with UUID: {uuid} update: <private>"
            )
        ),
        reported
    );
    // An update of an existing call is not a new report.
    assert!(
        set.event(&record(
            "callservicesd",
            &format!("Received -[CXCallSource reportCallWithUUID:updated:reply:] with UUID: {uuid} update: <private>")
        ))
        .is_none()
    );
}

#[test]
fn only_rules_read_everywhere_keep_lines_of_any_process() {
    let rules = RuleSet::embedded().unwrap();
    let literals = rules.anywhere_literals();
    // PushKit's kill and its warning: the lines that can overturn an on-time verdict.
    let kill = "Terminating app due to uncaught exception 'NSInternalInconsistencyException', reason: 'Killing app because it never posted an incoming call to the system after receiving a PushKit VoIP push.'";
    assert!(literals.iter().any(|l| kill.contains(l)), "{literals:?}");
    // CallKeep's report is the app's report wherever the app runs: read everywhere, its own
    // needle searched in the same pass as the others.
    let report =
        "[RNCallKeep][reportNewIncomingCall] uuidString = 745ff3d3-fba9-4793-95f4-3dd3ff67a7c0";
    assert!(literals.iter().any(|l| report.contains(l)), "{literals:?}");
    // Swift's fatal error, the crash a PushKit handler most often dies of, is read everywhere
    // (a second needle); an uncaught exception that is not PushKit's kill is read with --app.
    let fatal = "Hatif/PushHandler.swift:88: Fatal error: Unexpectedly found nil while unwrapping an Optional value";
    assert!(literals.iter().any(|l| fatal.contains(l)), "{literals:?}");
    // Swift 3's lowercase wording shares that needle (`atal error: `).
    let swift3 = "fatal error: unexpectedly found nil while unwrapping an Optional value";
    assert!(literals.iter().any(|l| swift3.contains(l)), "{literals:?}");
    let exception =
        "*** Terminating app due to uncaught exception 'NSInvalidArgumentException', reason: 'nil'";
    assert!(
        !literals.iter().any(|l| exception.contains(l)),
        "{literals:?}"
    );
    assert_eq!(
        crate::anywhere::needles(&literals.iter().map(|l| l.to_string()).collect::<Vec<_>>()).len(),
        3,
        "each needle adds its hits to the one pass over the log (docs/performance.md)"
    );
}
