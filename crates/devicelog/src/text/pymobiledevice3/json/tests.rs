use std::sync::Arc;

use proptest::prelude::*;
use pushtrace_model::Level;

use super::*;
use crate::detect::detect_text;
use crate::filter::RecordFilter;
use crate::text::all;
use crate::text::testing::{KILLED, apsd_and_anywhere, clock, exercise, kept, parse, parse_with};

/// What `format_json_line` of pymobiledevice3/cli/syslog.py prints for the entries of its own
/// tests (tests/cli/test_syslog.py: `test_format_json_line_with_label`, then `_create_syslog_entry`
/// as in `test_format_json_line_handles_null_label` and `…_preserves_unicode`), by the function
/// at HEAD (62e2957a) and, last, at e4674617, the commit that added it (before `procid`,
/// `thread_id`, the UUIDs and `mach_timestamp`). Each line is the function's output, run.
const LINES: &str = r#"{"pid": 42, "procid": 42, "thread_id": 4321, "timestamp": "2026-04-18T10:15:32.123456", "level": "ERROR", "image_name": "/p/App", "image_offset": 16, "image_uuid": "016e54e1-6f01-3644-941d-5073a6134a7b", "process_image_uuid": "7870bc32-030d-3497-80eb-d80b2de7dfaf", "filename": "/p/App", "mach_timestamp": 135126255336423432, "message": "hello", "label": {"subsystem": "com.foo.bar", "category": "cat"}}
{"pid": 123, "procid": null, "thread_id": null, "timestamp": "2024-01-01T00:00:00", "level": "INFO", "image_name": "/usr/libexec/test-process", "image_offset": 0, "image_uuid": null, "process_image_uuid": null, "filename": "/usr/libexec/test-process", "mach_timestamp": null, "message": "plain", "label": null}
{"pid": 123, "procid": null, "thread_id": null, "timestamp": "2024-01-01T00:00:00", "level": "INFO", "image_name": "/usr/libexec/test-process", "image_offset": 0, "image_uuid": null, "process_image_uuid": null, "filename": "/usr/libexec/test-process", "mach_timestamp": null, "message": "hello 🚀 мир", "label": null}
{"pid": 42, "timestamp": "2026-04-18T10:15:32.123456", "level": "ERROR", "image_name": "/p/App", "image_offset": 16, "filename": "/p/App", "message": "hello", "label": {"subsystem": "com.foo.bar", "category": "cat"}}
"#;

/// The first lines of testdata case 210 (apsd's keep-alive, a PushKit line logged inside an app
/// by its framework), whose wordings that case cites.
const CASE_210: &str = r#"{"pid": 97, "procid": 97, "thread_id": 2461, "timestamp": "2026-07-09T20:11:02.118402", "level": "NOTICE", "image_name": "/System/Library/PrivateFrameworks/ApplePushService.framework/ApplePushService", "image_offset": 48102, "image_uuid": "3e27193c-82cd-12df-48e4-914ffbd33ab3", "process_image_uuid": "f55cc9b6-3b73-1b5b-9c70-2fc857ec22a7", "filename": "/System/Library/PrivateFrameworks/ApplePushService.framework/apsd", "mach_timestamp": 135126255336423432, "message": "<APSCourierConnectionManager: 0x10300a1b0 production>: [ExplicitKA] Sending keep alive message with delayed response interval 30 via conn: <APSTCPStream: 0x10300d4e0> onInterface: WWAN. reason: timer fired. Connected on 1 interfaces. Current link quality: 80", "label": {"subsystem": "com.apple.apsd", "category": "courier"}}
"#;

#[test]
fn fields_of_each_version() {
    let out = parse(&Pymobiledevice3Json, LINES, clock("2026-01-01", "+02:00"));
    assert!(out.skips.is_empty(), "{:?}", out.skips);
    let r = &out.records;
    assert_eq!(r.len(), 4);
    assert_eq!(r[0].at.to_string(), "2026-04-18T10:15:32.123456+02:00");
    assert_eq!(
        (r[0].process.as_str(), r[0].pid, r[0].thread),
        ("App", Some(42), Some(4321))
    );
    assert_eq!(r[0].level, Some(Level::Error));
    assert_eq!(r[0].sender, None);
    assert_eq!(r[0].subsystem.as_deref(), Some("com.foo.bar"));
    assert_eq!(r[0].category.as_deref(), Some("cat"));
    assert_eq!(r[0].message, "hello");
    // No fraction when the microseconds are 0: the time is exact, not missing.
    assert_eq!(r[1].at.to_string(), "2024-01-01T00:00:00.000000+02:00");
    assert_eq!(
        (r[1].process.as_str(), r[1].pid, r[1].thread),
        ("test-process", Some(123), None)
    );
    assert_eq!(r[1].level, Some(Level::Info));
    assert_eq!(
        (r[1].subsystem.as_deref(), r[1].category.as_deref()),
        (None, None)
    );
    assert_eq!(r[2].message, "hello 🚀 мир");
    assert_eq!(r[2].origin.to_string(), "test.log:3");
    // The first version's shape.
    assert_eq!(r[3].at, r[0].at);
    assert_eq!((r[3].pid, r[3].thread), (Some(42), None));
    assert_eq!(r[3].subsystem.as_deref(), Some("com.foo.bar"));
    assert_eq!(r[3].origin.to_string(), "test.log:4");

    let out = parse(
        &Pymobiledevice3Json,
        CASE_210,
        clock("2026-07-09", "Europe/Lisbon"),
    );
    let r = &out.records[0];
    assert_eq!(r.at.to_string(), "2026-07-09T20:11:02.118402+01:00");
    assert_eq!(r.process, "apsd");
    assert_eq!(r.sender.as_deref(), Some("ApplePushService"));
    assert_eq!(r.level, Some(Level::Default));
    assert_eq!(r.category.as_deref(), Some("courier"));
}

#[test]
fn escapes_levels_and_labels() {
    // `json.dumps` escapes a message's newlines, quotes, tabs, backslashes and control
    // characters (this line is format_json_line's output for such a message); `USER_ACTION`
    // (`SyslogLogLevel`, services/os_trace.py) is a message of level default, as in text mode.
    let text = r#"{"pid": 123, "procid": null, "thread_id": null, "timestamp": "2024-01-01T00:00:00", "level": "INFO", "image_name": "/usr/libexec/test-process", "image_offset": 0, "image_uuid": null, "process_image_uuid": null, "filename": "/usr/libexec/test-process", "mach_timestamp": null, "message": "line one\nline \"two\"\ttab \\ back \u001b[31m", "label": null}
{"pid": 62, "timestamp": "2024-01-01T00:00:01.5", "level": "USER_ACTION", "image_name": "", "image_offset": 0, "filename": "/System/Library/CoreServices/SpringBoard.app/SpringBoard", "message": "m", "label": {"subsystem": "com.apple.SpringBoard", "category": ""}}
{"pid": 62, "timestamp": "2024-01-01T00:00:02", "level": "VERBOSE", "image_name": "/usr/lib/libobjc.A.dylib", "image_offset": 0, "filename": "/x/SpringBoard", "message": "unknown level", "label": null}
"#;
    let out = parse(&Pymobiledevice3Json, text, clock("2024-01-01", "Z"));
    assert!(out.skips.is_empty(), "{:?}", out.skips);
    let r = &out.records;
    assert_eq!(
        r[0].message,
        "line one\nline \"two\"\ttab \\ back \u{1b}[31m"
    );
    assert_eq!(r[1].level, Some(Level::Default));
    assert_eq!(r[1].at.to_string(), "2024-01-01T00:00:01.500000+00:00");
    assert_eq!(r[1].sender, None);
    assert_eq!(r[1].subsystem.as_deref(), Some("com.apple.SpringBoard"));
    assert_eq!(r[1].category, None);
    assert_eq!(r[2].level, None);
    assert_eq!(r[2].sender.as_deref(), Some("libobjc.A.dylib"));
}

#[test]
fn bad_lines_are_skipped_with_their_line() {
    let good = LINES.lines().nth(1).unwrap();
    let text = [
        good,
        "",
        "not json at all",
        &good[..good.len() / 2],
        &good.replace("\"timestamp\": \"2024-01-01T00:00:00\", ", ""),
        &good.replace("\"/usr/libexec/test-process\", \"mach", "null, \"mach"),
        &good.replace("2024-01-01T00:00:00", "2024-02-30T00:00:00"),
        &good.replace("2024-01-01T00:00:00", "2024-01-01T00:00:00 local"),
        &good.replace("\"plain\"", "42"),
        "[1, 2]",
        &good.replace("\"pid\": 123", "\"pid\": -1"),
        good,
    ]
    .join("\n");
    let out = parse(&Pymobiledevice3Json, &text, clock("2024-01-01", "Z"));
    let reasons: Vec<_> = out.skips.iter().map(|s| (s.line, s.reason)).collect();
    assert_eq!(
        reasons,
        [
            (3, SkipReason::BadJson),
            (4, SkipReason::BadJson),
            (5, SkipReason::BadJson),
            (6, SkipReason::BadJson),
            (7, SkipReason::BadTimestamp),
            (8, SkipReason::BadTimestamp),
            (9, SkipReason::BadJson),
            (10, SkipReason::BadJson),
            (11, SkipReason::BadJson),
        ]
    );
    assert_eq!(out.ignored, 1);
    let lines: Vec<_> = out.records.iter().map(|r| r.origin.to_string()).collect();
    assert_eq!(lines, ["test.log:1", "test.log:12"]);
    assert!(out.skips[0].detail.starts_with("not json"));
}

#[test]
fn invalid_utf8_is_replaced_and_counted() {
    let good = LINES.lines().nth(1).unwrap().replace("plain", "<FF>");
    let bytes: Vec<u8> = good
        .replace("<FF>", "\u{1}")
        .bytes()
        .map(|b| if b == 1 { 0xff } else { b })
        .collect();
    let file: Arc<str> = "t".into();
    let filter = RecordFilter::new();
    let clock = clock("2024-01-01", "Z");
    let ctx = ChunkContext {
        file: &file,
        clock: &clock,
        filter: &filter,
        hits: Default::default(),
    };
    let mut out = ChunkOutput::default();
    Pymobiledevice3Json.parse_chunk(&bytes, &ctx, &mut out);
    assert!(out.skips.is_empty(), "{:?}", out.skips);
    assert_eq!(out.records[0].message, "\u{FFFD}");
    assert_eq!(out.lossy_utf8, 1);
}

#[test]
fn the_zone_is_the_computers_and_needed_unless_printed() {
    assert_eq!(
        Pymobiledevice3Json.requirements(LINES.as_bytes()),
        Requirements {
            date: false,
            zone: true
        }
    );
    // No version prints an offset; one would be used, and no --tz asked for.
    let with_offset = LINES.replace("T10:15:32.123456", "T10:15:32.123456+01:00");
    assert_eq!(
        Pymobiledevice3Json.requirements(with_offset.as_bytes()),
        Requirements::default()
    );
    let out = parse(&Pymobiledevice3Json, &with_offset, clock("2026-01-01", "Z"));
    assert_eq!(
        out.records[0].at.to_string(),
        "2026-04-18T10:15:32.123456+01:00"
    );
    assert_eq!(
        out.records[1].at.to_string(),
        "2024-01-01T00:00:00.000000+00:00"
    );
}

#[test]
fn anywhere_literals_keep_an_unknown_process() {
    let line = |path: &str, message: &str| {
        format!(
            r#"{{"pid": 910, "timestamp": "2024-01-01T00:00:00.100000", "level": "NOTICE", "image_name": "{path}", "image_offset": 0, "filename": "{path}", "message": "{message}", "label": null}}"#
        )
    };
    let app = "/private/var/containers/Bundle/Application/0A/Comera.app/Comera";
    let text = [
        line(
            "/System/Library/PrivateFrameworks/ApplePushService.framework/apsd",
            "wanted",
        ),
        line(app, KILLED),
        line(app, "dropped"),
    ]
    .join("\n");
    let out = parse_with(
        &Pymobiledevice3Json,
        &text,
        clock("2024-01-01", "Z"),
        &apsd_and_anywhere(),
    );
    assert!(out.skips.is_empty(), "{:?}", out.skips);
    assert_eq!(kept(&out), [("apsd", "wanted"), ("Comera", KILLED)]);
    assert_eq!((out.parsed, out.filtered), (3, 1));
    assert!(out.refused_span.is_some());
}

/// A line of each other JSON export, as their readers' tests quote them: `log show --style
/// ndjson` (the trailer of macadmins/osquery-extension#120, an iOS powerd record),
/// `unifiedlog_iterator --format jsonl` (`LogData` of mandiant/macos-UnifiedLogs), `log show
/// --style json` (its array), a push record (docs/formats.md), and a text capture's line.
const OTHERS: [(&str, Option<Format>); 6] = [
    (
        r#"{"traceID":1,"eventMessage":"Sending com.apple.powerd.assertionpolicy 3","eventType":"logEvent","subsystem":"com.apple.powerd","category":"assertions","threadID":99,"processImagePath":"\/usr\/sbin\/powerd","senderImagePath":"\/usr\/lib\/libIOKit.dylib","timestamp":"2026-05-20 17:48:41.248002+0300","messageType":"Info","processID":63}
{"count":5467,"finished":1}
"#,
        Some(Format::LogShowNdjson),
    ),
    (
        r#"{"subsystem":"com.apple.apsd","thread_id":4242,"pid":112,"euid":501,"library":"/System/Library/PrivateFrameworks/ApplePushService.framework/ApplePushService","library_uuid":"A1","activity_id":0,"parent_activity_id":0,"time":1.779288361330123e18,"category":"connection","event_type":"Log","log_type":"Default","process":"/System/Library/PrivateFrameworks/ApplePushService.framework/apsd","process_uuid":"B2","message":"Connection established","raw_message":"%{public}@","boot_uuid":"C3","timezone_name":"","message_entries":[],"timestamp":"2026-05-20T14:46:01.330123000Z","message_flags":[],"evidence":"Persist/0000000000000001.tracev3"}
"#,
        Some(Format::UnifiedlogJsonl),
    ),
    (
        "[{\n  \"traceID\" : 1,\n  \"eventMessage\" : \"hfs: mounted\",\n  \"processImagePath\" : \"\\/kernel\",\n  \"timestamp\" : \"2025-07-27 15:31:22.695081-0400\",\n  \"messageType\" : \"Error\"\n}]\n",
        Some(Format::LogShowJson),
    ),
    (
        r#"{"push_id":"seed-1747","call_id":"call-1747","topic":"com.acme.call.voip","push_type":"voip","priority":10,"expiration":0,"sent_at":"2026-05-20T17:47:00.000+03:00","apns_status":200}
"#,
        None,
    ),
    (
        "2025-08-29 16:21:19.348953 callservicesd{TelephonyUtilities}[112] <NOTICE>: Successfully launched application\n",
        Some(Format::Pymobiledevice3),
    ),
    (
        // A JSON line whose message quotes this format's keys, escaped as json.dumps escapes them.
        r#"{"traceID":2,"eventMessage":"{\"timestamp\": 1, \"level\": 2, \"image_name\": 3, \"image_offset\": 4, \"filename\": 5}","processImagePath":"\/usr\/libexec\/x","timestamp":"2026-05-20 17:48:41.248002+0300","messageType":"Default"}
"#,
        Some(Format::LogShowNdjson),
    ),
];

#[test]
fn detection_tells_it_from_the_other_json_exports() {
    assert_eq!(
        detect_text(LINES.as_bytes()),
        Ok(Format::Pymobiledevice3Json)
    );
    assert_eq!(
        detect_text(CASE_210.as_bytes()),
        Ok(Format::Pymobiledevice3Json)
    );
    for line in LINES.lines().chain(CASE_210.lines()) {
        assert!(Pymobiledevice3Json.sniff(line.as_bytes()), "{line}");
        for format in all() {
            if format.format() != Format::Pymobiledevice3Json {
                assert!(
                    !format.sniff(line.as_bytes()),
                    "{} took {line}",
                    format.format()
                );
            }
        }
    }
    for (sample, format) in OTHERS {
        assert_eq!(Pymobiledevice3Json.score(sample.as_bytes()), 0, "{sample}");
        assert_eq!(detect_text(sample.as_bytes()).ok(), format, "{sample}");
    }
}

fn run(bytes: &[u8]) {
    exercise(&Pymobiledevice3Json, bytes, &clock("2026-05-20", "+03:00"));
}

const PIECES: [&str; 16] = [
    "{",
    "}",
    "\"pid\": 123, ",
    "\"pid\": 1e99, ",
    "\"thread_id\": 18446744073709551616, ",
    "\"timestamp\": \"2024-01-01T00:00:00\", ",
    "\"timestamp\": \"2024-01-01T00:00:00.5+01:00\", ",
    "\"level\": \"NOTICE\", ",
    "\"image_name\": \"/p/App\", ",
    "\"filename\": \"/p/App\", ",
    "\"message\": \"a\\nb\\u001b\", ",
    "\"label\": {\"subsystem\": \"s\", \"category\": null}",
    "\"label\": null",
    "\"",
    "\n",
    "é",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        run(&bytes);
    }

    #[test]
    fn arbitrary_lines_never_panic(picks in proptest::collection::vec(0..PIECES.len(), 0..60)) {
        let text: String = picks.iter().map(|i| PIECES[*i]).collect();
        run(text.as_bytes());
    }
}
