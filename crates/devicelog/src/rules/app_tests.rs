//! The app's side of a push in the catalogue: its CallKit report as callservicesd tracks it, and
//! its death — its own last words and the system seeing its process end.

use super::tests::{kind_of, record};
use super::*;
use pushtrace_model::EventKind;

#[test]
fn an_apps_death_is_read_from_its_own_crash_line_and_from_the_system_seeing_it_end() {
    let set = RuleSet::embedded().unwrap();
    let crashed = |reason: &str| EventKind::AppCrashed {
        reason: Some(reason.into()),
    };
    // Swift's runtime, today's wording (file:line: prefix: message) and Swift 4–5.3's.
    assert_eq!(
        kind_of(
            &set,
            "Hatif",
            "Hatif/PushHandler.swift:88: Fatal error: Unexpectedly found nil while unwrapping an Optional value"
        ),
        crashed("Unexpectedly found nil while unwrapping an Optional value")
    );
    assert_eq!(
        kind_of(
            &set,
            "BSText",
            "Fatal error: Unexpectedly found nil while unwrapping an Optional value: file BSText/BSTextView.swift, line 1147"
        ),
        crashed(
            "Unexpectedly found nil while unwrapping an Optional value: file BSText/BSTextView.swift, line 1147"
        )
    );
    // Swift 3 and earlier: a lowercase prefix at the start of the message, with or without the
    // file and line.
    assert_eq!(
        kind_of(
            &set,
            "FaceDetection",
            "fatal error: unexpectedly found nil while unwrapping an Optional value"
        ),
        crashed("unexpectedly found nil while unwrapping an Optional value")
    );
    assert_eq!(
        kind_of(
            &set,
            "Acme",
            "fatal error: Index out of range: file /Users/dev/Acme/PushHandler.swift, line 88"
        ),
        crashed("Index out of range: file /Users/dev/Acme/PushHandler.swift, line 88")
    );
    // Another program's "fatal error:" inside its own text is not the Swift runtime's line.
    assert!(
        set.event(&record("Comera", "sqlite: fatal error: disk I/O"))
            .is_none()
    );
    // "Fatal error" inside other text is not the runtime's line.
    assert!(
        set.event(&record("Comera", "no Fatal error: here"))
            .is_none()
    );
    // An uncaught exception is a crash, unless it is PushKit's kill (read first, as the kill).
    assert_eq!(
        kind_of(
            &set,
            "Jeonhwa",
            "*** Terminating app due to uncaught exception 'NSInvalidArgumentException', reason: 'attempt to insert nil object from objects[1]'"
        ),
        crashed(
            "'NSInvalidArgumentException', reason: 'attempt to insert nil object from objects[1]'"
        )
    );
    assert_eq!(
        kind_of(
            &set,
            "Jeonhwa",
            "*** Terminating app due to uncaught exception 'NSInternalInconsistencyException', reason: 'Killing app because it never posted an incoming call to the system after receiving a PushKit VoIP push.'"
        ),
        EventKind::AppKilledForNotReporting
    );
    // The system's side: FrontBoard and runningboardd name the app whose process ended.
    assert_eq!(
        kind_of(
            &set,
            "SpringBoard",
            "[application<com.acme.call>:796] Process exited: <FBProcessExitContext; watchdog (\"watchdog provision violated\")>."
        ),
        EventKind::AppExited {
            bundle: Some("com.acme.call".into()),
            reason: Some(
                "<FBProcessExitContext; watchdog (\"watchdog provision violated\")>".into()
            ),
        }
    );
    // FrontBoard marks the process not running as it exits; other task states are not an exit.
    for proem in [
        "[application<com.acme.call>:796]",
        "[app<com.acme.call>:2455]",
    ] {
        assert_eq!(
            kind_of(
                &set,
                "SpringBoard",
                &format!("{proem} Setting process task state to: Not Running")
            ),
            EventKind::AppExited {
                bundle: Some("com.acme.call".into()),
                reason: Some("task state Not Running".into()),
            }
        );
    }
    assert!(
        set.event(&record(
            "SpringBoard",
            "[application<com.acme.call>:796] Setting process task state to: Running"
        ))
        .is_none()
    );
    assert_eq!(
        kind_of(
            &set,
            "runningboardd",
            "[application<com.acme.call>:432] termination reported by launchd (2, 10, 10)"
        ),
        EventKind::AppExited {
            bundle: Some("com.acme.call".into()),
            reason: Some("termination reported by launchd (2, 10, 10)".into()),
        }
    );
}

#[test]
fn ios_12_callservicesd_tracking_a_call_is_read_as_the_report() {
    let set = RuleSet::embedded().unwrap();
    assert_eq!(
        kind_of(&set, "callservicesd", "Started tracking call: <private>"),
        EventKind::CallReported {
            bundle: None,
            call: None
        }
    );
    // With private data shown, the call's provider: the app's (its team ID dropped), or Apple's
    // cellular provider, which is no app's report.
    let tracked = |provider: &str| {
        kind_of(
            &set,
            "callservicesd",
            &format!(
                "Started tracking call: <CSDProviderCall 0x10b3a4c00 p={provider} aPI=(null) initr=(null) crs=(null) …>"
            ),
        )
    };
    for (provider, bundle) in [
        ("A1B2C3D4E5.com.acme.call", "com.acme.call"),
        ("com.acme.call", "com.acme.call"),
        ("com.apple.coretelephony", "com.apple.coretelephony"),
    ] {
        assert_eq!(
            tracked(provider),
            EventKind::CallReported {
                bundle: Some(bundle.into()),
                call: None
            }
        );
    }
    // Its twin at the end of a call is not a report.
    assert!(
        set.event(&record("callservicesd", "Stopped tracking call: <private>"))
            .is_none()
    );
}
