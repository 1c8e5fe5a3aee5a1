//! Console.app copies: what people paste into issues and forums after selecting rows in
//! Console and choosing Copy.
//!
//! ```text
//! default⇥12:04:25.185867 +0530⇥apsd⇥Created power assertion {identifier: APSCourier(tcpStream:dataReceived:)}
//! default⇥15:41:58.273272-0700⇥runningboardd⇥Acquiring assertion targeting …
//! standard⇥15:26:17.097152+0100⇥Spotlight⇥…
//! default⇥08:00:54.231144-0600⇥SpringBoard⇥FrontBoard⇥…
//! 18:29:14.281522+0200⇥runningboardd⇥Acquiring assertion …
//! error 17:24:12.757893-0800  apsd  Task <…> HTTP load failed …
//! ```
//!
//! A row is the visible columns separated by TABs (or, once pasted, by runs of spaces): an
//! optional type word, localized (`default`, `standard`, `Fehler`…), the time of day with
//! microseconds and the zone glued (`-0700`), spaced (` +0530`) or absent, the process, an
//! optional library column, and the message. Rows carry no date and no pid: `--date` (and
//! `--tz` when the zone is absent) supply them. Lines that do not begin a row continue the
//! message above (Console indents them with a TAB); they are joined with `\n` without their
//! indentation. Sources: `docs/formats.md`, `docs/reference/ios-logs.md` §1.5.
//!
//! Decisions:
//! - A type word Console prints but [`Level::from_word`] does not know (another language) is
//!   still a row, of level [`Level::Default`] (the model's rule for unknown Console words); a
//!   row without a type column has no level.
//! - A library column is read only from TAB-separated rows with at least two columns after the
//!   process, when the first of them is a bare image name (letters, digits, `.`, `_`, `-`,
//!   `+`): that is how a copy with the Library column shown looks, while a message that happens
//!   to hold a TAB stays whole. Space-separated rows cannot tell a library from the first word
//!   of a message, so they have none.
//! - The time must have exactly six fraction digits: forum digests trim to milliseconds and
//!   belong to `digest.rs`.

use pushtrace_model::{Level, LogRecord, TimeOfDay, UtcOffset, parse_time_prefix};

use super::timestamp::{micros_of_day, offset_prefix, trim_start};
use super::{ChunkContext, ChunkOutput, DayClock, RefusedEnds, TextFormat, lines};
use crate::format::{Format, Requirements};
use crate::summary::SkipReason;

pub(crate) struct ConsoleCopy;

/// The columns of a row.
#[derive(Debug)]
struct Row<'a> {
    ty: Option<&'a [u8]>,
    time: TimeOfDay,
    offset: Option<UtcOffset>,
    process: &'a [u8],
    library: Option<&'a [u8]>,
    message: &'a [u8],
}

/// `HH:MM:SS.ffffff` (exactly six fraction digits) at the start of `bytes`.
fn console_time(bytes: &[u8]) -> Option<(TimeOfDay, &[u8])> {
    if bytes.len() < 15 || bytes[8] != b'.' || bytes.get(15).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let (time, rest) = parse_time_prefix(bytes)?;
    (rest.len() + 15 == bytes.len()).then_some((time, rest))
}

/// Whether the text before the time can be Console's type column: one or two words (`par
/// défaut`), no digits, no colon.
fn is_type_word(ty: &[u8]) -> bool {
    !ty.is_empty()
        && ty.len() <= 24
        && !ty
            .iter()
            .any(|b| b.is_ascii_digit() || matches!(b, b':' | b'\t'))
        && ty.iter().filter(|b| **b == b' ').count() <= 1
}

/// A bare image name, as the Library column shows it (`FrontBoard`, `libnetwork.dylib`).
fn is_image_name(field: &[u8]) -> bool {
    !field.is_empty()
        && field.len() <= 64
        && field
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
}

fn is_blank(byte: Option<&u8>) -> bool {
    matches!(byte, None | Some(b' ' | b'\t'))
}

/// Reads a row, or `None` for a line that does not begin one (a continuation).
fn row(line: &[u8]) -> Option<Row<'_>> {
    let first = *line.first()?;
    if first == b' ' || first == b'\t' {
        return None;
    }
    // The type column, if any, ends where the time begins (after a TAB or a space).
    let (ty, time_at) = if first.is_ascii_digit() {
        (None, 0)
    } else {
        let limit = line.len().min(32);
        let at = (1..limit).find(|&i| {
            matches!(line[i - 1], b' ' | b'\t')
                && line[i].is_ascii_digit()
                && console_time(&line[i..]).is_some()
        })?;
        let ty = line[..at].trim_ascii_end();
        if !is_type_word(ty) {
            return None;
        }
        (Some(ty), at)
    };
    let (time, rest) = console_time(&line[time_at..])?;
    // The zone: glued (`-0700`) or after one space (` +0530`), then a column separator.
    let (offset, rest) = match rest.first() {
        Some(b'+' | b'-' | b'Z') => {
            let (offset, after) = offset_prefix(rest);
            if offset.is_none() || !is_blank(after.first()) {
                return None;
            }
            (offset, after)
        }
        Some(b' ') if matches!(rest.get(1), Some(b'+' | b'-')) => match offset_prefix(&rest[1..]) {
            (Some(offset), after) if is_blank(after.first()) => (Some(offset), after),
            _ => (None, rest),
        },
        _ => (None, rest),
    };
    let tabbed = rest.first() == Some(&b'\t');
    if !is_blank(rest.first()) || rest.is_empty() {
        return None;
    }
    let (process, library, message) = if tabbed {
        let rest = &rest[1..];
        let (process, after) = match memchr::memchr(b'\t', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        match memchr::memchr(b'\t', after) {
            Some(i) if is_image_name(&after[..i]) => (process, Some(&after[..i]), &after[i + 1..]),
            _ => (process, None, after),
        }
    } else {
        let rest = trim_start(rest);
        let end = memchr::memchr2(b' ', b'\t', rest).unwrap_or(rest.len());
        (&rest[..end], None, trim_start(&rest[end..]))
    };
    if process.is_empty() || process.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    Some(Row {
        ty,
        time,
        offset,
        process,
        library,
        message,
    })
}

/// A row whose continuation lines may still follow.
struct Pending<'c> {
    number: u64,
    line: &'c [u8],
    row: Row<'c>,
    parts: Vec<&'c [u8]>,
    days: u32,
    /// Its process is refused: it is read only if its message holds an anywhere literal,
    /// which is known once its continuation lines are in.
    by_message: bool,
}

impl TextFormat for ConsoleCopy {
    fn format(&self) -> Format {
        Format::Console
    }

    fn sniff(&self, line: &[u8]) -> bool {
        row(line).is_some()
    }

    fn starts_record(&self, line: &[u8]) -> bool {
        let first = line.first();
        first.is_some_and(|b| !matches!(b, b' ' | b'\t')) && row(line).is_some()
    }

    fn requirements(&self, sample: &[u8]) -> Requirements {
        let zoneless = lines(sample)
            .take(200)
            .filter_map(|(_, line)| row(line))
            .any(|row| row.offset.is_none());
        Requirements {
            date: true,
            zone: zoneless,
        }
    }

    fn parse_chunk(&self, chunk: &[u8], ctx: &ChunkContext<'_>, out: &mut ChunkOutput) {
        let mut clock = DayClock::default();
        let mut refused = RefusedEnds::default();
        let mut pending: Option<Pending<'_>> = None;
        // Blank lines since the last line of the pending row: part of its message only if
        // another continuation line follows.
        let mut blanks = 0u64;
        // The last row was dropped by the process filter: its continuation lines go with it.
        let mut dropped = false;
        for (number, line) in lines(chunk) {
            if let Some(next) = row(line) {
                flush(ctx, out, &mut clock, &mut refused, pending.take());
                out.ignored += std::mem::take(&mut blanks);
                let days = clock.observe(micros_of_day(next.time));
                let wanted = ctx.filter.wants_process(next.process);
                dropped = !wanted && !ctx.may_hold_literal();
                if dropped {
                    refused.note(out, line, days);
                } else {
                    pending = Some(Pending {
                        number,
                        line,
                        row: next,
                        parts: Vec::new(),
                        days,
                        by_message: !wanted,
                    });
                }
            } else if line.iter().all(u8::is_ascii_whitespace) {
                blanks += 1;
            } else if let Some(p) = pending.as_mut() {
                p.parts
                    .extend(std::iter::repeat_n(&b""[..], blanks as usize));
                blanks = 0;
                p.parts.push(trim_start(line));
            } else if dropped {
                blanks = 0;
            } else {
                out.ignored += std::mem::take(&mut blanks);
                out.skip(number, SkipReason::OrphanContinuation, line);
            }
        }
        flush(ctx, out, &mut clock, &mut refused, pending.take());
        out.ignored += blanks;
        out.day_clock = Some(clock);
        refused.finish(out, |line| {
            let row = row(line)?;
            let at = ctx.clock.time_of_day(row.time, row.offset).ok()?;
            Some(at.utc_micros())
        });
    }
}

fn flush<'c>(
    ctx: &ChunkContext<'_>,
    out: &mut ChunkOutput,
    clock: &mut DayClock,
    refused: &mut RefusedEnds<'c>,
    pending: Option<Pending<'c>>,
) {
    let Some(Pending {
        number,
        line,
        row,
        parts,
        days,
        by_message,
    }) = pending
    else {
        return;
    };
    if by_message && !ctx.holds_literal(row.message, &parts) {
        return refused.note(out, line, days);
    }
    let at = match ctx.clock.time_of_day(row.time, row.offset) {
        Ok(at) => at,
        Err(_) => return out.skip(number, SkipReason::BadTimestamp, line),
    };
    let mut message = out.text(row.message).into_owned();
    for part in parts {
        message.push('\n');
        message.push_str(&out.text(part));
    }
    let process = String::from_utf8_lossy(row.process).into_owned();
    let sender = row
        .library
        .filter(|library| *library != row.process)
        .map(|library| String::from_utf8_lossy(library).into_owned());
    let mut record = LogRecord::new(at, process, message, ctx.origin(number));
    record.level = row
        .ty
        .map(|ty| Level::from_word(&String::from_utf8_lossy(ty)).unwrap_or(Level::Default));
    record.sender = sender;
    if out.keep(ctx, record) {
        clock.days.push(days);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::clock::LocalClock;
    use crate::filter::RecordFilter;
    use crate::text::digest::Digest;
    use crate::text::testing::exercise;
    use crate::text::testing::{KILLED, apsd_and_anywhere, clock, kept, parse, parse_with};

    fn date_only(date: &str) -> LocalClock {
        LocalClock {
            date: Some(pushtrace_model::parse_date(date).unwrap()),
            zone: None,
        }
    }

    #[test]
    fn anywhere_literals_keep_an_unknown_process() {
        let text = format!(
            "default\t17:48:41.248002+0300\tapsd\twanted\n\
             default\t17:48:41.249002+0300\tComera\t{KILLED}\n\
             default\t17:48:41.250002+0300\tComera\tReporting an incoming call to CallKit\n\
             \tsecond line\n\
             error\t17:48:41.251002+0300\tComera\t*** Terminating app\n\
             \treason: '{KILLED}'\n"
        );
        let out = parse_with(
            &ConsoleCopy,
            &text,
            date_only("2026-05-20"),
            &apsd_and_anywhere(),
        );
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        let reason = format!("*** Terminating app\nreason: '{KILLED}'");
        assert_eq!(
            kept(&out),
            [
                ("apsd", "wanted"),
                ("Comera", KILLED),
                ("Comera", reason.as_str())
            ]
        );
        assert_eq!((out.parsed, out.filtered), (4, 1));
        // Day clock entries stay parallel to the kept records.
        assert_eq!(out.day_clock.unwrap().days, [0, 0, 0]);
        // Without the literals the app's lines are all dropped, continuation lines with them.
        let apsd = RecordFilter::new().processes(["apsd"]);
        let out = parse_with(&ConsoleCopy, &text, date_only("2026-05-20"), &apsd);
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        assert_eq!(kept(&out), [("apsd", "wanted")]);
    }

    #[test]
    fn glued_zone_and_multi_line_body() {
        // https://github.com/n0shake/clocker/issues/117 (glued zone); TAB-indented body lines
        // as in https://github.com/jitsi/jitsi-meet/issues/3833.
        let text = "default\t15:41:58.273272-0700\trunningboardd\tAcquiring assertion targeting [app<com.example.voip>:1518] with identifier 1518-63-2\n\
\t{\n\
\t    reason = VoIP;\n\
\n\
\t}\n\
\n";
        assert!(!ConsoleCopy.requirements(text.as_bytes()).zone);
        let out = parse(&ConsoleCopy, text, date_only("2026-05-20"));
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        let r = &out.records;
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].process, "runningboardd");
        assert_eq!(r[0].level, Some(Level::Default));
        assert_eq!(r[0].pid, None);
        assert_eq!(r[0].sender, None);
        assert_eq!(
            r[0].message,
            "Acquiring assertion targeting [app<com.example.voip>:1518] with identifier 1518-63-2\n{\nreason = VoIP;\n\n}"
        );
        assert_eq!(r[0].at.to_string(), "2026-05-20T15:41:58.273272-07:00");
        assert_eq!(r[0].origin.to_string(), "test.log:1");
        assert_eq!(out.ignored, 1);
        assert_eq!(out.day_clock.unwrap().days, [0]);
    }

    #[test]
    fn spaced_zone_localized_type_and_library_column() {
        let text = "\
default\t12:04:25.185867 +0530\tapsd\tCreated power assertion {identifier: APSCourier(tcpStream:dataReceived:)}\n\
standard\t15:26:17.097152+0100\tSpotlight\t[com.apple.spotlight:Index] query done\n\
default\t08:00:54.231144-0600\tSpringBoard\tFrontBoard\t[FBSystemService] Received request to open \"com.example.voip\"\n\
Fehler\t08:00:55.000001-0600\tSpringBoard\tSpringBoard\tno sender when library is the process\n\
predeterminado\t08:00:56.000002-0600\tcallservicesd\tmessage with\ta tab\n\
Standard-Wort\t08:00:57.000003-0600\tcallservicesd\tunknown type word\n";
        // Sources, in order: https://github.com/twilio/voice-quickstart-ios/issues/152 (spaced
        // zone), https://github.com/sfsam/Itsycal/issues/152 (`standard`),
        // https://github.com/microsoftconnect/ms-intune-app-sdk-ios/issues/137 (library column);
        // the last three rows are made up from those shapes.
        let out = parse(&ConsoleCopy, text, date_only("2026-05-20"));
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        let r = &out.records;
        assert_eq!(r.len(), 6);
        assert_eq!(r[0].process, "apsd");
        assert_eq!(
            r[0].message,
            "Created power assertion {identifier: APSCourier(tcpStream:dataReceived:)}"
        );
        assert_eq!(r[0].at.to_string(), "2026-05-20T12:04:25.185867+05:30");
        assert_eq!(r[1].level, Some(Level::Default));
        assert_eq!(r[1].process, "Spotlight");
        assert_eq!(r[1].at.to_string(), "2026-05-20T15:26:17.097152+01:00");
        assert_eq!(r[2].process, "SpringBoard");
        assert_eq!(r[2].sender.as_deref(), Some("FrontBoard"));
        assert_eq!(
            r[2].message,
            "[FBSystemService] Received request to open \"com.example.voip\""
        );
        assert_eq!(r[3].level, Some(Level::Error));
        assert_eq!(r[3].sender, None);
        assert_eq!(r[3].message, "no sender when library is the process");
        assert_eq!(r[4].level, Some(Level::Default));
        assert_eq!(r[4].sender, None);
        assert_eq!(r[4].message, "message with\ta tab");
        assert_eq!(r[5].level, Some(Level::Default));
        assert_eq!(r[5].message, "unknown type word");
        assert_eq!(r[5].origin.to_string(), "test.log:6");
    }

    #[test]
    fn absent_zone_needs_tz_and_type_column_may_be_dropped() {
        // https://github.com/BelledonneCommunications/linphone-iphone/issues/758 (no type
        // column), here also without a zone.
        let text = "18:29:14.281522\trunningboardd\tAcquiring assertion targeting [daemon<com.apple.callservicesd>:112]\n\
23:59:59.999999\tapsd\tlast before midnight\n\
00:00:00.000001\tapsd\tfirst after midnight\n";
        assert!(ConsoleCopy.requirements(text.as_bytes()).zone);
        assert!(ConsoleCopy.requirements(text.as_bytes()).date);
        let out = parse(&ConsoleCopy, text, clock("2026-05-20", "+02:00"));
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        let r = &out.records;
        assert_eq!(r[0].level, None);
        assert_eq!(r[0].process, "runningboardd");
        assert_eq!(r[0].at.to_string(), "2026-05-20T18:29:14.281522+02:00");
        let day_clock = out.day_clock.unwrap();
        assert_eq!(day_clock.days, [0, 0, 1]);
        assert_eq!(day_clock.crossings, 1);
        // Without --tz the rows cannot be placed: skipped, not guessed.
        let out = parse(&ConsoleCopy, text, date_only("2026-05-20"));
        assert_eq!(out.skips.len(), 3);
        assert!(
            out.skips
                .iter()
                .all(|s| s.reason == SkipReason::BadTimestamp)
        );
    }

    #[test]
    fn detection_picks_console_over_digest() {
        use crate::detect::detect_text;
        let console = "default\t12:04:25.185867 +0530\tapsd\tCreated power assertion\n\tcontinued\n\
error 17:24:12.757893-0800  apsd  Task <1D0E>.<1> HTTP load failed\n";
        assert_eq!(detect_text(console.as_bytes()), Ok(Format::Console));
        let digest = include_str!("../../../../testdata/seed-incident-digest.txt");
        assert_eq!(detect_text(digest.as_bytes()), Ok(Format::Digest));
    }

    #[test]
    fn tabs_turned_into_spaces() {
        // https://github.com/OneSignal/OneSignal-iOS-SDK/issues/514
        let text = "error 17:24:12.757893-0800  apsd  Task <1D0E5C4B-8A39-4F8B-9C1E-2C3A4B5C6D7E>.<1> HTTP load failed, 0/0 bytes (error code: -1009 [1:50])\n\
default 12:04:25.185867 +0530  apsd  Created power assertion\n";
        assert!(text.lines().all(|l| ConsoleCopy.sniff(l.as_bytes())));
        let out = parse(&ConsoleCopy, text, date_only("2026-05-20"));
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        let r = &out.records;
        assert_eq!(r[0].level, Some(Level::Error));
        assert_eq!(r[0].process, "apsd");
        assert_eq!(r[0].sender, None);
        assert_eq!(
            r[0].message,
            "Task <1D0E5C4B-8A39-4F8B-9C1E-2C3A4B5C6D7E>.<1> HTTP load failed, 0/0 bytes (error code: -1009 [1:50])"
        );
        assert_eq!(r[0].at.to_string(), "2026-05-20T17:24:12.757893-08:00");
        assert_eq!(r[1].at.to_string(), "2026-05-20T12:04:25.185867+05:30");
        assert_eq!(r[1].message, "Created power assertion");
    }

    #[test]
    fn digest_lines_and_other_formats_are_not_console() {
        // https://developer.apple.com/forums/thread/834530 (digest); log show syslog style.
        for line in [
            "17:48:41.248  powerd  Sending com.apple.powerd.assertionpolicy 3",
            "2023-05-26 13:42:44.136082+0200  localhost kernel[0]: (Sandbox) Sandbox: deny(1)",
            "2026-10-06 10:41:02.207 Df tccd[75697:5a8b53a] [com.apple.TCC:access] AUTHREQ",
            "Timestamp                       (process)[PID]",
            "\t18:29:14.281522+0200\trunningboardd\tindented: a continuation",
            "18:29:14.281522+02000\trunningboardd\tbad zone",
            "18:29:14.281522",
        ] {
            assert!(!ConsoleCopy.sniff(line.as_bytes()), "{line}");
        }
        assert!(ConsoleCopy.sniff(b"18:29:14.281522+0200\trunningboardd\tAcquiring assertion"));
        assert!(!Digest.sniff(b"error 17:24:12.757893-0800  apsd  Task"));
    }

    #[test]
    fn garbage_before_the_first_row_and_filtered_bodies() {
        let text = "some prose pasted first\n\
default\t15:41:58.273272-0700\tSpringBoard\tdropped\n\
\tbody of a dropped row\n\
default\t15:41:59.000000-0700\tapsd\tkept\n\
\tbody\n";
        let file: Arc<str> = "t".into();
        let filter = RecordFilter::new().processes(["apsd"]);
        let clock = date_only("2026-05-20");
        let ctx = ChunkContext {
            file: &file,
            clock: &clock,
            filter: &filter,
            hits: Default::default(),
        };
        let mut out = ChunkOutput::default();
        ConsoleCopy.parse_chunk(text.as_bytes(), &ctx, &mut out);
        let reasons: Vec<_> = out.skips.iter().map(|s| (s.line, s.reason)).collect();
        assert_eq!(reasons, [(1, SkipReason::OrphanContinuation)]);
        assert_eq!((out.parsed, out.filtered), (2, 1));
        assert_eq!(out.records[0].message, "kept\nbody");
        assert_eq!(out.records[0].origin.to_string(), "t:4");
        let day_clock = out.day_clock.unwrap();
        assert_eq!(day_clock.days, [0]);
        assert_eq!(day_clock.first, Some(micros_of_day((15, 41, 58, 273_272))));
    }

    fn run(bytes: &[u8]) {
        exercise(&ConsoleCopy, bytes, &date_only("2026-05-20"));
    }

    const PIECES: [&str; 14] = [
        "default",
        "par défaut",
        "\t",
        " ",
        "  ",
        "12:04:25.185867",
        "23:59:60.000000",
        "+0530",
        "-07:00",
        "Z",
        "apsd",
        "FrontBoard",
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
        fn arbitrary_rows_never_panic(picks in proptest::collection::vec(0..PIECES.len(), 0..60)) {
            let text: String = picks.iter().map(|i| PIECES[*i]).collect();
            run(text.as_bytes());
        }
    }
}
