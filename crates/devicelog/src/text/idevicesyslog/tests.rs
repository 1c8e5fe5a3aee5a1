use proptest::prelude::*;

use super::*;
use crate::detect::detect_text;
use crate::text::all;
use crate::text::testing::{KILLED, apsd_and_anywhere, clock, exercise, kept, parse, parse_with};

/// syslog_relay through idevicesyslog 1.2.0, device name after the time: pushbots/phonegap#77
/// (https://github.com/pushbots/phonegap/issues/77), quoted.
const RELAY_WITH_DEVICE: &str = "\
Jul  4 13:26:05 iPhone-de-Sergi apsd(PersistentConnection)[83] <Notice>: 2018-07-04 13:26:05 +0200 apsd[83]: copyTokenForDomain push.apple.com (null)
Jul  4 13:26:05 iPhone-de-Sergi apsd(PersistentConnection)[83] <Notice>: 2018-07-04 13:26:05 +0200 apsd[83]: copyAppSpecificTokensWithDomain - push.apple.com for topic com.haikumedia.deka account E2888852-2A05-4F89-AD44-C5420F6D74C9,ffffffa6ffffff9447196f6b63ffffffab33ffffffbc2affffff9b185b7dffffffab79395d7a
";

/// os_trace_relay through idevicesyslog 1.4.0: mobiletoly/kmpertrace,
/// `kmpertrace-cli/src/test/kotlin/dev/goquick/kmpertrace/cli/IdeviceSyslogLineProcessorTest.kt`,
/// quoted; its payload gives the same instant in UTC (06:39:46.970278Z), so the capture's
/// host was at -05:00.
const OSTRACE: &str = "Dec 15 01:39:46.970278 SampleApp(SampleApp.debug.dylib)[10612] <Notice>: 🔍 Hello |{ ts=2025-12-15T06:39:46.970278Z lvl=debug }|\n";

#[test]
fn relay_lines_with_the_device_name() {
    let out = parse(
        &Idevicesyslog,
        RELAY_WITH_DEVICE,
        clock("2018-07-04", "+02:00"),
    );
    assert!(out.skips.is_empty(), "{:?}", out.skips);
    let r = &out.records;
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].process, "apsd");
    assert_eq!(r[0].pid, Some(83));
    assert_eq!(r[0].sender.as_deref(), Some("PersistentConnection"));
    assert_eq!(r[0].level, Some(Level::Default));
    assert_eq!(
        r[0].message,
        "2018-07-04 13:26:05 +0200 apsd[83]: copyTokenForDomain push.apple.com (null)"
    );
    // Whole seconds stay whole: the line's own copy of the time says +0200, as --tz does.
    assert_eq!(r[0].at.to_string(), "2018-07-04T13:26:05.000000+02:00");
    assert_eq!(r[1].origin.to_string(), "test.log:2");
}

#[test]
fn ostrace_lines_keep_microseconds_and_the_image() {
    let out = parse(&Idevicesyslog, OSTRACE, clock("2025-12-15", "-05:00"));
    assert!(out.skips.is_empty(), "{:?}", out.skips);
    let r = &out.records[0];
    assert_eq!(r.process, "SampleApp");
    assert_eq!(r.sender.as_deref(), Some("SampleApp.debug.dylib"));
    assert_eq!(r.pid, Some(10612));
    assert_eq!(
        r.at.utc_micros(),
        pushtrace_model::Timestamp::parse("2025-12-15T06:39:46.970278Z")
            .unwrap()
            .utc_micros()
    );
    assert!(r.message.starts_with("🔍 Hello"));
    let line = OSTRACE.trim_end().as_bytes();
    assert_eq!(
        Idevicesyslog.record_time(line, &clock("2025-12-15", "-05:00")),
        Some(r.at.utc_micros())
    );
}

#[test]
fn the_shapes_of_each_generation() {
    // Filled from the format strings of tools/idevicesyslog.c (libimobiledevice), with messages
    // of CSDVoIPApplicationController (callservicesd) and of twilio/voice-quickstart-ios#152
    // (kernel, a Console row): 1.3.0 drops the device name; 1.4.0 prints the image only when it
    // is not the process, and `Unknown` for levels it has no word for; Windows builds print the
    // day unpadded (`%#d`) and then, on days 1 to 9, lose the fraction (it is written at a fixed
    // offset past the string's end); old syslog lines may have no level (`powerd[63]: Wake …`,
    // insanj/Bluepicker#3).
    let text = "\
Mar  4 17:42:55 callservicesd(TelephonyUtilities)[112] <Notice>: Successfully opened application
Jan  3 09:15:02.000417 kernel[0] <Notice>: Sandbox: MobileMail(1847) deny(1) iokit-get-properties AdapterDetails
Jan 3 09:15:02 callservicesd[112] <Unknown>: user action
Jan 13 09:15:02.200000 apsd[83] <Fault>: fault
Mar 31 19:11:34 Mikes-iPhone powerd[63]: Wake [CDNVA]  : Using BATT (Charge:78%)
Mar 31 19:11:35 Mikes-iPhone MobileSMS[220] <Warning>: NSLog line
";
    let out = parse(&Idevicesyslog, text, clock("2026-03-01", "+01:00"));
    assert!(out.skips.is_empty(), "{:?}", out.skips);
    let r = &out.records;
    assert_eq!(r.len(), 6);
    assert_eq!(
        (r[0].process.as_str(), r[0].sender.as_deref()),
        ("callservicesd", Some("TelephonyUtilities"))
    );
    assert_eq!(r[0].message, "Successfully opened application");
    assert_eq!(
        (r[1].process.as_str(), r[1].pid, r[1].sender.as_deref()),
        ("kernel", Some(0), None)
    );
    assert_eq!(r[1].at.to_string(), "2026-01-03T09:15:02.000417+01:00");
    assert_eq!(r[2].level, None);
    assert_eq!(r[2].at.to_string(), "2026-01-03T09:15:02.000000+01:00");
    assert_eq!(r[3].level, Some(Level::Fault));
    assert_eq!(r[3].at.to_string(), "2026-01-13T09:15:02.200000+01:00");
    assert_eq!((r[4].process.as_str(), r[4].level), ("powerd", None));
    assert_eq!(r[4].message, "Wake [CDNVA]  : Using BATT (Charge:78%)");
    assert_eq!(r[5].level, Some(Level::Default));
}

#[test]
fn continuation_lines_banners_and_colours() {
    // NativeScript/nativescript-cli, test/services/ios-log-filter.ts: a message whose stack
    // trace continues on lines without a time. The banners are idevicesyslog's own
    // (`[connected:%s]`, `[disconnected:%s]`); the colours are libimobiledevice-glue's.
    let text = "[connected:00008030-001A35E02E38802E]\n\
\x1b[0;37mMay 24 15:54:52 \x1b[1;36mNativeScript250\x1b[0;36m(NativeScript)[356] \x1b[0;32m<Notice>:\x1b[0;37m CONSOLE ERROR file:///app/tns_modules/@angular/core/bundles/core.umd.js:3478:36: resolvePromise@file:///app/tns_modules/nativescript-angular/zone-js/dist/zone-nativescript.js:416:40\x1b[0m\n\
resolvePromise@file:///app/tns_modules/nativescript-angular/zone-js/dist/zone-nativescript.js:401:31\n\
promiseReactionJob@[native code]\n\
May 24 15:54:52 Dragons-iPhone apsd(PersistentConnection)[90] <Notice>: 2017-05-24 15:54:52 +0300 apsd[90]: <PCDispatchTimer: 0x156ad240> performing call back\n\
[disconnected:00008030-001A35E02E38802E]\n";
    assert_eq!(detect_text(text.as_bytes()), Ok(Format::Idevicesyslog));
    let out = parse(&Idevicesyslog, text, clock("2017-05-24", "+03:00"));
    assert!(out.skips.is_empty(), "{:?}", out.skips);
    assert_eq!(out.ignored, 2);
    let r = &out.records;
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].process, "NativeScript250");
    assert_eq!(r[0].sender.as_deref(), Some("NativeScript"));
    assert!(r[0].message.ends_with(":416:40\nresolvePromise@file:///app/tns_modules/nativescript-angular/zone-js/dist/zone-nativescript.js:401:31\npromiseReactionJob@[native code]"), "{}", r[0].message);
    assert_eq!(r[0].origin.to_string(), "test.log:2");
    assert_eq!(r[1].process, "apsd");
    assert_eq!(r[1].origin.to_string(), "test.log:5");
}

#[test]
fn the_year_follows_the_date_across_new_year() {
    // The same filled 1.4.0 shape on both sides of midnight, 31 December.
    let text = "\
Dec 31 23:59:59.900000 apsd[83] <Notice>: before
Jan  1 00:00:00.100000 apsd[83] <Notice>: after
";
    for date in ["2025-12-31", "2026-01-01", "2025-08-01"] {
        let out = parse(&Idevicesyslog, text, clock(date, "Z"));
        let r = &out.records;
        assert_eq!(
            r[0].at.to_string(),
            "2025-12-31T23:59:59.900000+00:00",
            "{date}"
        );
        assert_eq!(
            r[1].at.to_string(),
            "2026-01-01T00:00:00.100000+00:00",
            "{date}"
        );
    }
    assert_eq!(nearest_year((2026, 1, 1), 7, 1), 2026);
    assert_eq!(nearest_year((2026, 1, 1), 7, 5), 2025);
    // 29 February exists only in leap years: elsewhere the line is a bad timestamp.
    let out = parse(
        &Idevicesyslog,
        "Feb 29 10:00:00.000000 apsd[83] <Notice>: x\n",
        clock("2027-02-01", "Z"),
    );
    assert_eq!(out.skips[0].reason, SkipReason::BadTimestamp);
}

#[test]
fn anywhere_literals_keep_an_unknown_process() {
    // Filled 1.4.0 shape around the PushKit kill message (rules/ios.toml).
    let text = format!(
        "Jan  3 09:15:02.000417 apsd[83] <Notice>: wanted\n\
Jan  3 09:15:03.000001 Comera[910] <Error>: *** Terminating app\n\
reason: '{KILLED}'\n\
Jan  3 09:15:03.000002 Comera[910] <Notice>: dropped\n"
    );
    let out = parse_with(
        &Idevicesyslog,
        &text,
        clock("2026-01-03", "Z"),
        &apsd_and_anywhere(),
    );
    assert!(out.skips.is_empty(), "{:?}", out.skips);
    let reason = format!("*** Terminating app\nreason: '{KILLED}'");
    assert_eq!(
        kept(&out),
        [("apsd", "wanted"), ("Comera", reason.as_str())]
    );
    assert_eq!((out.parsed, out.filtered), (3, 1));
    // A literal split by colour codes is still found once they are removed.
    let coloured = "Jan  3 09:15:03.000001 Comera[910] <Error>: Killing app because it never \x1b[1mposted\x1b[0m an incoming call to the system after receiving a PushKit VoIP push.\n";
    let out = parse_with(
        &Idevicesyslog,
        coloured,
        clock("2026-01-03", "Z"),
        &apsd_and_anywhere(),
    );
    assert_eq!(kept(&out), [("Comera", KILLED)]);
}

#[test]
fn other_formats_are_not_idevicesyslog_and_it_is_no_other() {
    for line in [
        "2023-05-26 13:42:44.136082+0200  localhost kernel[0]: (Sandbox) Sandbox: deny(1)",
        "default\t12:04:25.185867 +0530\tapsd\tCreated power assertion",
        "17:48:41.248  powerd  Sending com.apple.powerd.assertionpolicy 3",
        "Jul  4 13:26:05 iPhone-de-Sergi apsd no pid here",
        "Jul 32 13:26:05 apsd[83] <Notice>: bad day",
        "Jux  4 13:26:05 apsd[83] <Notice>: bad month",
        "Jul  4 13:26 apsd[83] <Notice>: no seconds",
        "Jul  4 13:26:05 apsd[83] Notice: no brackets",
    ] {
        assert!(!Idevicesyslog.sniff(line.as_bytes()), "{line}");
    }
    for line in RELAY_WITH_DEVICE.lines().chain(OSTRACE.lines()) {
        for format in all() {
            if format.format() != Format::Idevicesyslog {
                assert!(
                    !format.sniff(line.as_bytes()),
                    "{} took {line}",
                    format.format()
                );
            }
        }
    }
    assert_eq!(
        detect_text(RELAY_WITH_DEVICE.as_bytes()),
        Ok(Format::Idevicesyslog)
    );
}

#[test]
fn needs_a_date_and_a_zone() {
    assert_eq!(
        Idevicesyslog.requirements(OSTRACE.as_bytes()),
        Requirements {
            date: true,
            zone: true
        }
    );
    let no_date = LocalClock {
        date: None,
        zone: clock("2026-01-01", "Z").zone,
    };
    let out = parse(&Idevicesyslog, OSTRACE, no_date);
    assert_eq!(out.skips[0].reason, SkipReason::BadTimestamp);
}

fn run(bytes: &[u8]) {
    exercise(&Idevicesyslog, bytes, &clock("2026-05-20", "+03:00"));
}

const PIECES: [&str; 16] = [
    "Jul",
    "Feb",
    " ",
    "  4 ",
    "29 ",
    "13:26:05",
    ".970278",
    "iPhone",
    "apsd",
    "(",
    ")",
    "[83]",
    " <Notice>:",
    ": ",
    "\n",
    "\x1b[0;32m",
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
