//! `log show --style json` and `--style ndjson`: the unified log's event dictionaries.
//!
//! ```text
//! json:   [{
//!           "traceID" : 1158816569950212,
//!           "eventMessage" : "cert[2]: AnchorTrusted =(leaf)[force]> 0",
//!           "backtrace" : {
//!             "frames" : [ … ]
//!           },
//!           "processImagePath" : "\/usr\/libexec\/trustd",
//!           "timestamp" : "2018-02-14 21:33:12.356682+0100",
//!           …
//!         },{
//!           …
//!         }]
//! ndjson: {"traceID":…,"eventMessage":"…","timestamp":"2023-02-23 10:44:02.761747+0100",…}
//!         {"count":5467,"finished":1}
//! ```
//!
//! `log` pretty-prints the array with the top-level objects joined by a `},{` line at column 0
//! and nested objects (`backtrace`, `source`) indented, so a chunk can be cut before any line
//! that opens a top-level object and every object parsed on its own. The ndjson trailer (a
//! dictionary with `finished`) is not an event and is counted as ignored. Sources:
//! `docs/formats.md`, `docs/reference/ios-logs.md` §1.4.

use std::borrow::Cow;
use std::fmt;

use pushtrace_model::{Level, LogRecord};
use serde::Deserialize;
use serde::de::{self, IgnoredAny};

use super::timestamp::{date_time_prefix, trim_start};
use super::{ChunkContext, ChunkOutput, TextFormat, lines};
use crate::format::{Format, Requirements};
use crate::image::{sender_of, short_name};
use crate::summary::SkipReason;

pub(crate) struct LogShowJson;
pub(crate) struct LogShowNdjson;

/// A JSON string borrowed from the input when it has no escapes; `null` reads as empty.
#[derive(Debug, Default)]
pub(super) struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or null")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text::default())
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Text<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The string, or `None` when empty.
    pub fn non_empty(self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.0.into_owned())
    }
}

/// Decodes one JSON value that fills `bytes`; invalid UTF-8 is replaced (and counted) and the
/// value decoded again from the repaired text held in `repaired`.
pub(super) fn decode<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    repaired: &'a mut Option<String>,
    out: &mut ChunkOutput,
) -> Result<T, serde_json::Error> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(e) if std::str::from_utf8(bytes).is_ok() => Err(e),
        Err(_) => {
            out.lossy_utf8 += 1;
            let text = repaired.insert(String::from_utf8_lossy(bytes).into_owned());
            serde_json::from_str(text)
        }
    }
}

/// The fields of an event dictionary we use; the others (`backtrace`, `source`, UUIDs…) are
/// skipped by the parser without being built.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow, default)]
    timestamp: Option<Text<'a>>,
    #[serde(borrow, default, rename = "messageType")]
    message_type: Option<Text<'a>>,
    #[serde(borrow, default, rename = "eventMessage")]
    message: Text<'a>,
    #[serde(borrow, default)]
    subsystem: Text<'a>,
    #[serde(borrow, default)]
    category: Text<'a>,
    #[serde(borrow, default, rename = "processImagePath")]
    process: Text<'a>,
    #[serde(borrow, default, rename = "senderImagePath")]
    sender: Text<'a>,
    #[serde(default, rename = "processID")]
    pid: Option<u64>,
    #[serde(default, rename = "threadID")]
    thread: Option<u64>,
    /// Only the ndjson trailer has it.
    #[serde(default)]
    finished: Option<IgnoredAny>,
}

/// Lines `log` prints before the events.
/// A line of a JSON array written one event per line (`[`, `{…},`, `{…}`, `]`: what tools that
/// re-save an export as an array write) as the event alone.
fn array_item(line: &[u8]) -> &[u8] {
    line.strip_suffix(b",").map_or(line, trim)
}

fn is_preamble(line: &[u8]) -> bool {
    line.starts_with(b"Filtering the log data") || line.starts_with(b"Skipping info and debug")
}

fn trim(bytes: &[u8]) -> &[u8] {
    let bytes = trim_start(bytes);
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// Turns one event into a record (or counts it as the trailer, or skips it).
fn emit(ctx: &ChunkContext<'_>, out: &mut ChunkOutput, event: Event<'_>, number: u64, line: &[u8]) {
    let Some(stamp) = event.timestamp else {
        if event.finished.is_some() {
            out.ignored += 1;
        } else {
            out.skip(number, SkipReason::BadJson, line);
        }
        return;
    };
    let path = event.process.as_str();
    // The decoded message: in the raw chunk, JSON escapes may hide a literal (`\/`).
    let at = || match date_time_prefix(stamp.as_str().as_bytes()) {
        Some((civil, offset, _)) => ctx.clock.with_zone(civil, offset),
        None => Err(String::new()),
    };
    if !ctx
        .filter
        .wants_process_or_message(path.as_bytes(), event.message.as_str().as_bytes())
    {
        // The event is decoded whole already: its time costs little more.
        return out.filtered_early_at(at().ok().map(|at| at.utc_micros()));
    }
    let at = at();
    let Ok(at) = at else {
        return out.skip(number, SkipReason::BadTimestamp, line);
    };
    let process = short_name(path);
    let sender = sender_of(event.sender.as_str(), process);
    let mut record = LogRecord::new(
        at,
        process,
        event.message.0.into_owned(),
        ctx.origin(number),
    );
    record.pid = event.pid.and_then(|p| u32::try_from(p).ok());
    record.thread = event.thread;
    // Activities, signposts and loss events carry no messageType.
    record.level = Some(
        event
            .message_type
            .and_then(|t| Level::from_word(t.as_str()))
            .unwrap_or(Level::Other),
    );
    record.subsystem = event.subsystem.non_empty();
    record.category = event.category.non_empty();
    record.sender = sender;
    out.keep(ctx, record);
}

/// Whether a line opens a top-level object of the array: `[{`, `},{` or `{` at column 0 as
/// `log` prints them, or a lone `{` indented by at most four spaces as `jq` and Python print
/// them (nested objects open on their key's line, and array elements nest deeper).
fn opens_object(line: &[u8]) -> bool {
    if line.starts_with(b"[{") {
        return true;
    }
    let indent = line.iter().take_while(|b| **b == b' ').count();
    match trim(&line[indent..]) {
        b"{" => indent <= 4,
        b"},{" | b"}, {" | b"[ {" => indent == 0,
        _ => false,
    }
}

/// The key lines of a pretty-printed event that detection looks for.
const KEYS: [&[u8]; 5] = [
    b"\"eventMessage\"",
    b"\"messageType\"",
    b"\"traceID\"",
    b"\"processImagePath\"",
    b"\"machTimestamp\"",
];

fn has_event_key(line: &[u8]) -> bool {
    let line = trim_start(line);
    line.first() == Some(&b'"') && KEYS.iter().any(|k| line.starts_with(k))
}

impl TextFormat for LogShowJson {
    fn format(&self) -> Format {
        Format::LogShowJson
    }

    fn sniff(&self, line: &[u8]) -> bool {
        line.starts_with(b"[{") || has_event_key(line)
    }

    /// The array opens (after `log`'s preamble) with `[` and an object, and event keys follow.
    fn score(&self, sample: &[u8]) -> usize {
        let mut meaningful = lines(sample)
            .map(|(_, l)| trim(l))
            .filter(|l| !l.is_empty() && !is_preamble(l));
        let opens = match meaningful.next() {
            Some(b"[") => meaningful.next().is_some_and(|l| l.starts_with(b"{")),
            Some(first) => first.starts_with(b"[{") || first.starts_with(b"[ {"),
            None => false,
        };
        if !opens
            || !lines(sample)
                .take(200)
                .any(|(_, l)| has_event_key(l) || l.starts_with(b"[{\""))
        {
            return 0;
        }
        // Every line of the sample belongs to the array: outscore any line-by-line format.
        lines(sample).take(200).count()
    }

    fn starts_record(&self, line: &[u8]) -> bool {
        opens_object(line)
    }

    fn requirements(&self, _sample: &[u8]) -> Requirements {
        Requirements::default()
    }

    fn raw_messages(&self) -> bool {
        false
    }

    fn parse_chunk(&self, chunk: &[u8], ctx: &ChunkContext<'_>, out: &mut ChunkOutput) {
        // Each group runs from a line that opens an object to the next such line.
        let base = chunk.as_ptr() as usize;
        let mut group: Option<(u64, usize)> = None;
        for (number, line) in lines(chunk) {
            let start = line.as_ptr() as usize - base;
            if opens_object(line) {
                if let Some((n, s)) = group.take() {
                    parse_group(ctx, out, chunk, n, s, Some(start));
                }
                group = Some((number, start));
            } else if group.is_none() {
                let t = trim(line);
                if t.is_empty() || is_preamble(t) || matches!(t, b"[" | b"]" | b"[]") {
                    out.ignored += 1;
                } else {
                    out.skip(number, SkipReason::BadJson, line);
                }
            }
        }
        if let Some((n, s)) = group {
            parse_group(ctx, out, chunk, n, s, None);
        }
    }
}

/// Parses the objects of one group: `chunk[start..next]`, where `next` is the start of the
/// next group (whose leading `}` closes this group's object) or the end of the chunk.
fn parse_group(
    ctx: &ChunkContext<'_>,
    out: &mut ChunkOutput,
    chunk: &[u8],
    number: u64,
    start: usize,
    next: Option<usize>,
) {
    let mut from = start;
    // A `},{` line: its `}` closed the previous group's object.
    let lead = trim_start(&chunk[start..]);
    if lead.first() == Some(&b'}') {
        from = chunk.len() - lead.len() + 1;
    }
    let end = match next {
        Some(next) => {
            let lead = trim_start(&chunk[next..]);
            if lead.first() == Some(&b'}') {
                chunk.len() - lead.len() + 1
            } else {
                next
            }
        }
        None => chunk.len(),
    };
    let slice = &chunk[from..end.max(from)];
    let line_of =
        |pos: usize| number + memchr::memchr_iter(b'\n', &chunk[start..from + pos]).count() as u64;
    let text_of = |pos: usize| {
        let at = from + pos;
        let begin = memchr::memrchr(b'\n', &chunk[..at]).map_or(0, |i| i + 1);
        let stop = memchr::memchr(b'\n', &chunk[at..]).map_or(chunk.len(), |i| at + i);
        &chunk[begin..stop]
    };
    let mut pos = 0;
    loop {
        while pos < slice.len()
            && matches!(
                slice[pos],
                b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[' | b']'
            )
        {
            pos += 1;
        }
        if pos >= slice.len() {
            return;
        }
        let (line, text) = (line_of(pos), text_of(pos));
        if slice[pos] != b'{' {
            return out.skip(line, SkipReason::BadJson, text);
        }
        let rest = &slice[pos..];
        let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<Event<'_>>();
        match stream.next() {
            Some(Ok(event)) => {
                pos += stream.byte_offset();
                emit(ctx, out, event, line, text);
            }
            Some(Err(e)) => {
                // The last object of a chunk lacks the `}` that opens the next chunk's `},{`;
                // text that is not UTF-8 is repaired. Either way the group ends here.
                let mut owned;
                if e.is_eof() && next.is_none() {
                    owned = rest.to_vec();
                    owned.push(b'}');
                } else if std::str::from_utf8(rest).is_err() {
                    out.lossy_utf8 += 1;
                    owned = String::from_utf8_lossy(rest).into_owned().into_bytes();
                } else {
                    return out.skip(line, SkipReason::BadJson, text);
                }
                let mut stream =
                    serde_json::Deserializer::from_slice(&owned).into_iter::<Event<'_>>();
                match stream.next() {
                    Some(Ok(event)) => emit(ctx, out, event, line, text),
                    _ => out.skip(line, SkipReason::BadJson, text),
                }
                return;
            }
            None => return,
        }
    }
}

impl TextFormat for LogShowNdjson {
    fn format(&self) -> Format {
        Format::LogShowNdjson
    }

    fn sniff(&self, line: &[u8]) -> bool {
        let line = array_item(trim(line));
        line.starts_with(b"{\"")
            && line.ends_with(b"}")
            && (KEYS.iter().any(|k| memchr::memmem::find(line, k).is_some())
                || (line.len() < 64 && memchr::memmem::find(line, b"\"finished\"").is_some()))
    }

    fn starts_record(&self, _line: &[u8]) -> bool {
        // One event per line: any line boundary is a record boundary.
        true
    }

    fn requirements(&self, _sample: &[u8]) -> Requirements {
        Requirements::default()
    }

    fn raw_messages(&self) -> bool {
        false
    }

    fn parse_chunk(&self, chunk: &[u8], ctx: &ChunkContext<'_>, out: &mut ChunkOutput) {
        for (number, line) in lines(chunk) {
            let t = array_item(trim(line));
            if t.is_empty() || is_preamble(t) || t == b"[" || t == b"]" {
                out.ignored += 1;
                continue;
            }
            let mut repaired = None;
            match decode::<Event<'_>>(t, &mut repaired, out) {
                Ok(event) => emit(ctx, out, event, number, line),
                Err(_) => out.skip(number, SkipReason::BadJson, line),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::clock::LocalClock;
    use crate::filter::RecordFilter;
    use crate::text::testing::exercise;
    use crate::text::testing::{KILLED, apsd_and_anywhere, kept, parse, parse_with};

    // The shape `log show --style json` prints: libyal/dtformats scripts/unified_logging.py,
    // which reproduces it (`[{`, `},{`, `}]`), and the records quoted in
    // https://github.com/EC-DIGIT-CSIRC/sysdiagnose/blob/main/tests/test_parsers_logarchive.py and
    // https://github.com/EC-DIGIT-CSIRC/sysdiagnose/blob/b2f66ba08f52fa328e4db0d291d7d7886f225447/analyzers/sysdiagnose-timeliner.py
    // (iPhone `wifid` record, docs/reference/ios-logs.md §1.4).
    const ARRAY: &str = r#"Filtering the log data using "process == \"wifid\""
[{
  "traceID" : 1158816569950212,
  "eventMessage" : "__WiFiDeviceManagerScanPreviousNetworkChannel: scan request failed\nsecond line",
  "eventType" : "logEvent",
  "source" : null,
  "formatString" : "%{public}s",
  "activityIdentifier" : 0,
  "subsystem" : "com.apple.WiFiPolicy",
  "category" : "",
  "threadID" : 500795,
  "senderImageUUID" : "452AEEAF-04BA-3FCA-83C8-16F162D87321",
  "backtrace" : {
    "frames" : [
      {
        "imageOffset" : 28940,
        "imageUUID" : "452AEEAF-04BA-3FCA-83C8-16F162D87321"
      }
    ]
  },
  "bootUUID" : "2DF74FE0-4876-43B0-828B-F285FA4D42F5",
  "processImagePath" : "\/usr\/sbin\/wifid",
  "timestamp" : "2023-02-23 10:44:02.761747+0100",
  "senderImagePath" : "\/System\/Library\/PrivateFrameworks\/WiFiPolicy.framework\/WiFiPolicy",
  "machTimestamp" : 3208860279380,
  "messageType" : "Default",
  "processImageUUID" : "F972AB5A-6713-3F33-8675-E87C631497F6",
  "processID" : 50,
  "senderProgramCounter" : 28940,
  "parentActivityIdentifier" : 0,
  "timezoneName" : ""
},{
  "traceID" : 176338472796164,
  "eventMessage" : "hfs: mounted Firefox on device disk4s3",
  "eventType" : "logEvent",
  "subsystem" : "",
  "category" : "",
  "threadID" : 597794,
  "processImagePath" : "\/kernel",
  "senderImagePath" : "\/kernel",
  "timestamp" : "2025-07-27 15:31:22.695081-0400",
  "messageType" : "Error",
  "processID" : 0
},{
  "traceID" : 1,
  "eventType" : "activityCreateEvent",
  "eventMessage" : "Activity: com.apple.apsd.connection",
  "subsystem" : "com.apple.apsd",
  "category" : "connection",
  "threadID" : 42,
  "processImagePath" : "\/System\/Library\/PrivateFrameworks\/ApplePushService.framework\/apsd",
  "senderImagePath" : "\/System\/Library\/PrivateFrameworks\/ApplePushService.framework\/apsd",
  "timestamp" : "2026-05-20 17:46:01.330000+0300",
  "processID" : 112
}]"#;

    #[test]
    fn array_of_three_objects() {
        let out = parse(&LogShowJson, ARRAY, LocalClock::default());
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        assert_eq!(out.ignored, 1);
        let r = &out.records;
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].process, "wifid");
        assert_eq!(r[0].pid, Some(50));
        assert_eq!(r[0].thread, Some(500795));
        assert_eq!(r[0].level, Some(Level::Default));
        assert_eq!(r[0].subsystem.as_deref(), Some("com.apple.WiFiPolicy"));
        assert_eq!(r[0].category, None);
        assert_eq!(r[0].sender.as_deref(), Some("WiFiPolicy"));
        assert_eq!(
            r[0].message,
            "__WiFiDeviceManagerScanPreviousNetworkChannel: scan request failed\nsecond line"
        );
        assert_eq!(r[0].at.to_string(), "2023-02-23T10:44:02.761747+01:00");
        assert_eq!(r[0].origin.to_string(), "test.log:2");
        assert_eq!(r[1].process, "kernel");
        assert_eq!(r[1].sender, None);
        assert_eq!(r[1].pid, Some(0));
        assert_eq!(r[1].level, Some(Level::Error));
        assert_eq!(r[1].at.to_string(), "2025-07-27T15:31:22.695081-04:00");
        assert_eq!(r[1].origin.to_string(), "test.log:32");
        assert_eq!(r[2].process, "apsd");
        assert_eq!(r[2].level, Some(Level::Other));
        assert_eq!(r[2].category.as_deref(), Some("connection"));
        assert_eq!(r[2].origin.to_string(), "test.log:44");
    }

    #[test]
    fn array_is_detected_and_cut_between_objects() {
        assert!(LogShowJson.score(ARRAY.as_bytes()) > 40);
        assert_eq!(LogShowNdjson.score(ARRAY.as_bytes()), 0);
        let starts: Vec<_> = ARRAY
            .lines()
            .enumerate()
            .filter(|(_, l)| LogShowJson.starts_record(l.as_bytes()))
            .map(|(i, _)| i + 1)
            .collect();
        assert_eq!(starts, [2, 32, 44]);
        // Cut before the second `},{` as the pipeline would: both halves parse on their own.
        let cut = ARRAY.find("},{\n  \"traceID\" : 1,").unwrap();
        let first = parse(&LogShowJson, &ARRAY[..cut], LocalClock::default());
        let second = parse(&LogShowJson, &ARRAY[cut..], LocalClock::default());
        assert!(
            first.skips.is_empty() && second.skips.is_empty(),
            "{:?} {:?}",
            first.skips,
            second.skips
        );
        assert_eq!((first.records.len(), second.records.len()), (2, 1));
        assert_eq!(second.records[0].process, "apsd");
    }

    #[test]
    fn jq_style_array_and_minified_array() {
        let jq = "[\n  {\n    \"timestamp\": \"2023-02-23 10:44:02.761747+0100\",\n    \"processImagePath\": \"/usr/sbin/wifid\",\n    \"eventMessage\": \"a\"\n  },\n  {\n    \"timestamp\": \"2023-02-23 10:44:03.000000+0100\",\n    \"processImagePath\": \"/usr/sbin/wifid\",\n    \"eventMessage\": \"b\"\n  }\n]\n";
        assert!(LogShowJson.score(jq.as_bytes()) > 0);
        let out = parse(&LogShowJson, jq, LocalClock::default());
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        assert_eq!(
            out.records
                .iter()
                .map(|r| r.message.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(out.records[1].origin.to_string(), "test.log:7");
        let minified = r#"[{"timestamp":"2023-02-23 10:44:02.761747+0100","eventMessage":"a"},{"timestamp":"2023-02-23 10:44:02.761748+0100","eventMessage":"b"}]"#;
        let out = parse(&LogShowJson, minified, LocalClock::default());
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        assert_eq!(out.records.len(), 2);
    }

    #[test]
    fn truncated_and_bad_objects_are_skipped() {
        let text = "[{\n  \"timestamp\" : \"2023-02-23 10:44:02.761747+0100\",\n  \"eventMessage\" : \"ok\"\n},{\n  \"timestamp\" : \"2023-02-23 10:44:02.761747+0100\",\n  \"eventMessage\" : \"broken\n},{\n  \"eventMessage\" : \"no timestamp\"\n},{\n  \"timestamp\" : \"2023-02-30 10:44:02.761747+0100\"\n},{\n  \"timestamp\" : \"2023-02-23 10:44:02.761747+0100\",\n  \"eventMessage\" : \"truncated";
        let out = parse(&LogShowJson, text, LocalClock::default());
        assert_eq!(out.records.len(), 1);
        let reasons: Vec<_> = out.skips.iter().map(|s| (s.line, s.reason)).collect();
        assert_eq!(
            reasons,
            [
                (4, SkipReason::BadJson),
                (7, SkipReason::BadJson),
                (9, SkipReason::BadTimestamp),
                (11, SkipReason::BadJson)
            ]
        );
    }

    // The trailer is quoted in https://github.com/macadmins/osquery-extension/issues/120; the
    // record is the iOS kernel record of EC-DIGIT-CSIRC/sysdiagnose tests/test_parsers_logarchive.py
    // as one line, the way ndjson prints it (docs/reference/ios-logs.md §1.4).
    const NDJSON: &str = r#"{"traceID":0,"eventMessage":"necp_process_defunct_list: necp_update_client abort nexus error (2) for pid 1518 Comera","eventType":"logEvent","source":null,"formatString":"%s","subsystem":"","category":"","threadID":2137,"processImagePath":"\/kernel","senderImagePath":"\/kernel","timestamp":"2026-05-20 17:48:42.669000+0300","messageType":"Default","processID":0,"backtrace":{"frames":[{"imageOffset":1,"imageUUID":"X"}]}}
{"traceID":1,"eventMessage":"Sending com.apple.powerd.assertionpolicy 3","eventType":"logEvent","subsystem":"com.apple.powerd","category":"assertions","threadID":99,"processImagePath":"\/usr\/sbin\/powerd","senderImagePath":"\/usr\/lib\/libIOKit.dylib","timestamp":"2026-05-20 17:48:41.248002+0300","messageType":"Info","processID":63}
{"count":5467,"finished":1}
"#;

    #[test]
    fn an_array_written_one_event_per_line_reads_as_ndjson() {
        let events: Vec<&str> = NDJSON.lines().take(2).collect();
        let text = format!("[\n  {},\n  {}\n]\n", events[0], events[1]);
        assert_eq!(
            crate::detect::detect_text(text.as_bytes()),
            Ok(Format::LogShowNdjson)
        );
        let out = parse(&LogShowNdjson, &text, LocalClock::default());
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        assert_eq!(out.records.len(), 2);
        assert_eq!(out.records[1].origin.to_string(), "test.log:3");
    }

    #[test]
    fn detection_picks_json_and_ndjson() {
        use crate::detect::detect_text;
        assert_eq!(detect_text(ARRAY.as_bytes()), Ok(Format::LogShowJson));
        assert_eq!(detect_text(NDJSON.as_bytes()), Ok(Format::LogShowNdjson));
    }

    #[test]
    fn ndjson_with_trailer() {
        assert!(NDJSON.lines().all(|l| LogShowNdjson.sniff(l.as_bytes())));
        assert_eq!(LogShowJson.score(NDJSON.as_bytes()), 0);
        let out = parse(&LogShowNdjson, NDJSON, LocalClock::default());
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        assert_eq!(out.ignored, 1);
        let r = &out.records;
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].process, "kernel");
        assert_eq!(
            r[0].message,
            "necp_process_defunct_list: necp_update_client abort nexus error (2) for pid 1518 Comera"
        );
        assert_eq!(r[0].at.to_string(), "2026-05-20T17:48:42.669000+03:00");
        assert_eq!(r[1].process, "powerd");
        assert_eq!(r[1].pid, Some(63));
        assert_eq!(r[1].thread, Some(99));
        assert_eq!(r[1].level, Some(Level::Info));
        assert_eq!(r[1].sender.as_deref(), Some("libIOKit.dylib"));
        assert_eq!(r[1].subsystem.as_deref(), Some("com.apple.powerd"));
        assert_eq!(r[1].category.as_deref(), Some("assertions"));
        assert_eq!(r[1].origin.to_string(), "test.log:2");
    }

    #[test]
    fn anywhere_literals_keep_an_unknown_process_in_json_and_ndjson() {
        let app = r"\/private\/var\/containers\/Bundle\/Application\/0A\/Comera.app\/Comera";
        let event = |process: &str, message: &str| {
            format!(
                r#"{{"timestamp":"2026-05-20 17:48:41.248002+0300","processImagePath":"{process}","eventMessage":"{message}","messageType":"Default"}}"#
            )
        };
        let events = [
            event(r"\/usr\/libexec\/apsd", "wanted"),
            event(app, KILLED),
            event(app, "Reporting an incoming call to CallKit"),
        ];
        let ndjson = events.join("\n") + "\n";
        let array = format!("[{}]\n", events.join("\n,"));
        let filter = apsd_and_anywhere();
        for (format, text) in [
            (&LogShowNdjson as &dyn TextFormat, ndjson),
            (&LogShowJson, array),
        ] {
            let out = parse_with(format, &text, LocalClock::default(), &filter);
            assert!(out.skips.is_empty(), "{:?}", out.skips);
            assert_eq!(kept(&out), [("apsd", "wanted"), ("Comera", KILLED)]);
            assert_eq!((out.parsed, out.filtered), (3, 1));
            let apsd = RecordFilter::new().processes(["apsd"]);
            let out = parse_with(format, &text, LocalClock::default(), &apsd);
            assert_eq!(kept(&out), [("apsd", "wanted")]);
        }
    }

    #[test]
    fn ndjson_garbage_and_process_filter() {
        let text = "not json at all\n{\"timestamp\":\"2026-05-20 17:48:41.248002+0300\",\"eventMessage\":\n{\"timestamp\":\"2026-05-20 17:48:41.248002+0300\",\"processImagePath\":\"/usr/sbin/powerd\",\"eventMessage\":\"x\"}\n{\"timestamp\":\"2026-05-20 17:48:41.248002+0300\",\"processImagePath\":\"/usr/libexec/apsd\",\"eventMessage\":\"<FF>\"}\n";
        let file: Arc<str> = "t".into();
        let filter = RecordFilter::new().processes(["apsd"]);
        let clock = LocalClock::default();
        let ctx = ChunkContext {
            file: &file,
            clock: &clock,
            filter: &filter,
            hits: Default::default(),
        };
        let mut out = ChunkOutput::default();
        let bytes: Vec<u8> = text
            .replace("<FF>", "\u{1}")
            .bytes()
            .map(|b| if b == 1 { 0xff } else { b })
            .collect();
        LogShowNdjson.parse_chunk(&bytes, &ctx, &mut out);
        let reasons: Vec<_> = out.skips.iter().map(|s| (s.line, s.reason)).collect();
        assert_eq!(
            reasons,
            [(1, SkipReason::BadJson), (2, SkipReason::BadJson)]
        );
        assert_eq!((out.parsed, out.filtered), (2, 1));
        assert_eq!(out.records[0].process, "apsd");
        assert_eq!(out.records[0].message, "\u{FFFD}");
        assert_eq!(out.lossy_utf8, 1);
    }

    fn run(format: &dyn TextFormat, bytes: &[u8]) {
        exercise(format, bytes, &LocalClock::default());
    }

    const PIECES: [&str; 14] = [
        "[{",
        "},{",
        "}]",
        "{",
        "}",
        "\"timestamp\" : \"2023-02-23 10:44:02.761747+0100\",",
        "\"eventMessage\" : \"a\\nb\",",
        "\"processImagePath\" : \"\\/kernel\",",
        "\"backtrace\" : {",
        "\"frames\" : [",
        "]",
        ",",
        "\"processID\" : 1e99,",
        "\"",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            run(&LogShowJson, &bytes);
            run(&LogShowNdjson, &bytes);
        }

        #[test]
        fn arbitrary_json_lines_never_panic(picks in proptest::collection::vec((0..PIECES.len(), 0..3usize), 0..40)) {
            let text: String = picks.iter().map(|(i, indent)| format!("{}{}\n", "  ".repeat(*indent), PIECES[*i])).collect();
            run(&LogShowJson, text.as_bytes());
            run(&LogShowNdjson, text.replace('\n', "").as_bytes());
        }
    }
}
