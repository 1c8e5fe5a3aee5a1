use proptest::prelude::*;

use super::*;
use crate::detect::detect_text;
use crate::text::all;
use crate::text::testing::{KILLED, apsd_and_anywhere, clock, exercise, kept, parse, parse_with};

/// Lines of `format_line` (pymobiledevice3/cli/syslog.py) as its own tests build them
/// (tests/cli/test_syslog.py: `datetime(2024, 1, 1, 0, 0, 0)`, image = process, level INFO),
/// then the format filled with `--label`: callservicesd's line and its subsystem and category
/// as `log show` prints them in https://developer.apple.com/forums/thread/799024, and
/// SpringBoard's FrontBoard open request of ms-intune-app-sdk-ios#137 with `--image-offset`.
const LINES: &str = "\
2024-01-01 00:00:00 test-process{test-process}[123] <INFO>: keep this line
2025-08-29 16:21:19.348953 callservicesd{TelephonyUtilities}[112] <NOTICE>: Successfully launched application with bundle identifier <bundle id> [com.apple.calls.callservicesd][Default]
2025-08-29 16:21:20.000001 SpringBoard{FrontBoard+0x2a1c4}[62] <USER_ACTION>: [FBSystemService] Received request to open \"com.example.voip\"
";

#[test]
fn fields_of_each_shape() {
    let out = parse(&Pymobiledevice3, LINES, clock("2026-01-01", "+02:00"));
    assert!(out.skips.is_empty(), "{:?}", out.skips);
    let r = &out.records;
    assert_eq!(r.len(), 3);
    // No fraction when the microseconds are 0: the time is exact, not missing.
    assert_eq!(r[0].at.to_string(), "2024-01-01T00:00:00.000000+02:00");
    assert_eq!(
        (r[0].process.as_str(), r[0].pid, r[0].sender.as_deref()),
        ("test-process", Some(123), None)
    );
    assert_eq!(r[0].level, Some(Level::Info));
    assert_eq!(r[0].message, "keep this line");
    assert_eq!(r[1].at.to_string(), "2025-08-29T16:21:19.348953+02:00");
    assert_eq!(r[1].sender.as_deref(), Some("TelephonyUtilities"));
    assert_eq!(r[1].level, Some(Level::Default));
    assert_eq!(
        r[1].message,
        "Successfully launched application with bundle identifier <bundle id>"
    );
    assert_eq!(
        r[1].subsystem.as_deref(),
        Some("com.apple.calls.callservicesd")
    );
    assert_eq!(r[1].category.as_deref(), Some("Default"));
    assert_eq!(r[2].sender.as_deref(), Some("FrontBoard"));
    assert_eq!(r[2].level, Some(Level::Default));
    assert_eq!(r[2].subsystem, None);
    let line = LINES.lines().nth(1).unwrap().as_bytes();
    assert_eq!(
        Pymobiledevice3.record_time(line, &clock("2026-01-01", "+02:00")),
        Some(r[1].at.utc_micros())
    );
}

#[test]
fn continuation_lines_banner_colours_and_label_on_the_last_line() {
    // `Waiting for "START" ...` is the tool's --start-after notice (tests/cli/test_syslog.py);
    // the colours are click.style's (green time, magenta process, cyan pid).
    let text = "Waiting for \"START\" ...\n\
\x1b[32m2024-01-01 00:00:00.250000\x1b[0m \x1b[35mcallservicesd\x1b[0m{\x1b[35mTelephonyUtilities\x1b[0m}[\x1b[36m112\x1b[0m] <\x1b[37mNOTICE\x1b[0m>: \x1b[37mReceived incoming APS message\n{\n    callUUID = 1;\n\
} [com.apple.calls.callservicesd][Default]\x1b[0m\n\
2024-01-01 00:00:01 apsd{apsd}[83] <DEBUG>: message ending in brackets [a b][c]\n";
    assert_eq!(detect_text(text.as_bytes()), Ok(Format::Pymobiledevice3));
    let out = parse(&Pymobiledevice3, text, clock("2024-01-01", "Europe/Paris"));
    assert!(out.skips.is_empty(), "{:?}", out.skips);
    assert_eq!(out.ignored, 1);
    let r = &out.records;
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].process, "callservicesd");
    assert_eq!(
        r[0].message,
        "Received incoming APS message\n{\n    callUUID = 1;\n}"
    );
    assert_eq!(
        r[0].subsystem.as_deref(),
        Some("com.apple.calls.callservicesd")
    );
    assert_eq!(r[0].at.to_string(), "2024-01-01T00:00:00.250000+01:00");
    assert_eq!(r[0].origin.to_string(), "test.log:2");
    // A space inside the first bracket: not a label.
    assert_eq!(r[1].message, "message ending in brackets [a b][c]");
    assert_eq!(r[1].subsystem, None);
    assert_eq!(r[1].level, Some(Level::Debug));
}

#[test]
fn anywhere_literals_keep_an_unknown_process() {
    let text = format!(
        "2024-01-01 00:00:00.100000 apsd{{}}[83] <NOTICE>: wanted\n\
2024-01-01 00:00:00.200000 Comera{{Comera}}[910] <ERROR>: {KILLED}\n\
2024-01-01 00:00:00.300000 Comera{{Comera}}[910] <NOTICE>: dropped\n"
    );
    let out = parse_with(
        &Pymobiledevice3,
        &text,
        clock("2024-01-01", "Z"),
        &apsd_and_anywhere(),
    );
    assert!(out.skips.is_empty(), "{:?}", out.skips);
    assert_eq!(kept(&out), [("apsd", "wanted"), ("Comera", KILLED)]);
    assert_eq!((out.parsed, out.filtered), (3, 1));
}

#[test]
fn other_formats_are_not_pymobiledevice3_and_it_is_no_other() {
    for line in [
        "2026-10-06 10:41:02.207 Df tccd[75697:5a8b53a] [com.apple.TCC:access] AUTHREQ",
        "2023-05-26 13:42:44.136082+0200  localhost kernel[0]: (Sandbox) Sandbox: deny(1)",
        "2024-01-01 00:00:00+0200 apsd{}[83] <NOTICE>: a zone is never printed",
        "2024-01-01 00:00:00 apsd{}[83] <notice>: lower case level",
        "2024-01-01 00:00:00 apsd{}[x] <NOTICE>: bad pid",
        "2024-01-01 00:00:00 {}[83] <NOTICE>: no process",
        "Jul  4 13:26:05 iPhone apsd(PersistentConnection)[83] <Notice>: idevicesyslog",
    ] {
        assert!(!Pymobiledevice3.sniff(line.as_bytes()), "{line}");
    }
    for line in LINES.lines() {
        for format in all() {
            if format.format() != Format::Pymobiledevice3 {
                assert!(
                    !format.sniff(line.as_bytes()),
                    "{} took {line}",
                    format.format()
                );
            }
        }
    }
    assert_eq!(detect_text(LINES.as_bytes()), Ok(Format::Pymobiledevice3));
    assert_eq!(
        Pymobiledevice3.requirements(LINES.as_bytes()),
        Requirements {
            date: false,
            zone: true
        }
    );
}

#[test]
fn labels_and_offsets() {
    assert_eq!(without_offset(b"UIKitCore+0x1a2b"), b"UIKitCore");
    assert_eq!(without_offset(b"libc++.1.dylib"), b"libc++.1.dylib");
    assert_eq!(without_offset(b"a+0x"), b"a+0x");
    assert_eq!(
        split_label(b"m [s][c]"),
        (&b"m"[..], Some((&b"s"[..], &b"c"[..])))
    );
    assert_eq!(
        split_label(b"m [s][]"),
        (&b"m"[..], Some((&b"s"[..], &b""[..])))
    );
    assert_eq!(split_label(b"[s][c]"), (&b"[s][c]"[..], None));
    assert_eq!(split_label(b"m [][c]"), (&b"m [][c]"[..], None));
    assert_eq!(split_label(b"m ]"), (&b"m ]"[..], None));
}

fn run(bytes: &[u8]) {
    exercise(&Pymobiledevice3, bytes, &clock("2026-05-20", "+03:00"));
}

const PIECES: [&str; 15] = [
    "2024-01-01 ",
    "00:00:00",
    ".250000",
    " ",
    "apsd",
    "{",
    "}",
    "+0x1a",
    "[83]",
    " <NOTICE>: ",
    "[s]",
    "[c]",
    "\n",
    "\x1b[32m",
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
