//! The exports of Mandiant's `unifiedlog_iterator` (macos-unifiedlogs): `--format jsonl` and
//! `--format csv`.
//!
//! ```text
//! jsonl: {"subsystem":"com.apple.apsd","thread_id":4242,"pid":112,"euid":501,"library":"/usr/lib/libnetwork.dylib",…,
//!         "time":1.7792896e18,"category":"connection","event_type":"Log","log_type":"Default",
//!         "process":"/System/Library/PrivateFrameworks/ApplePushService.framework/apsd",…,
//!         "message":"…","timestamp":"2026-05-20T14:46:01.330000000Z",…}
//! csv:   Timestamp,Event Type,Log Type,Subsystem,Thread ID,PID,EUID,Library,Library UUID,Activity ID,Parent Activity ID,Category,Process,Process UUID,Message,Raw Message,Boot UUID,System Timezone Name
//!        2026-05-20T14:46:01.330Z,Log,Default,com.apple.apsd,4242,112,501,/usr/lib/libnetwork.dylib,…
//! ```
//!
//! A JSON line is the crate's `LogData` (src/unified_log.rs): `time` is nanoseconds since the
//! epoch as an `f64`, `timestamp` the same instant in RFC 3339 with nanoseconds and `Z`. The
//! CSV (examples/unifiedlog_iterator/src/main.rs) writes the instant with milliseconds
//! (`SecondsFormat::Millis`, `Z`); releases before 0.6 had no `Parent Activity ID` column, so a
//! row of 17 fields is read in that older order. Both are UTC; a record is shown in `--tz`, else
//! in the device's zone that each row names (`timezone_name`), as the phone showed its times.
//! `process` and `library` are full image paths; the record keeps their last component, as
//! `log show` prints them.

use pushtrace_model::{Level, LogRecord, Timestamp, UtcOffset};
use serde::Deserialize;

use super::decimal;
use super::json::{Text, decode};
use super::timestamp::{date_time_prefix, trim_start};
use super::{ChunkContext, ChunkOutput, TextFormat, lines};
use crate::clock::{LocalClock, Zone};
use crate::format::{Format, Requirements};
use crate::image::{sender_of, short_name, short_name_bytes};
use crate::summary::SkipReason;

pub(crate) struct Jsonl;
pub(crate) struct Csv;

/// The fields of a `LogData` line we use.
#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow, default)]
    subsystem: Text<'a>,
    #[serde(default)]
    thread_id: Option<u64>,
    #[serde(default)]
    pid: Option<u64>,
    #[serde(borrow, default)]
    library: Text<'a>,
    #[serde(default)]
    time: Option<f64>,
    #[serde(borrow, default)]
    category: Text<'a>,
    #[serde(borrow, default)]
    log_type: Text<'a>,
    #[serde(borrow, default)]
    process: Text<'a>,
    #[serde(borrow, default)]
    message: Text<'a>,
    #[serde(borrow, default)]
    timestamp: Option<Text<'a>>,
    #[serde(borrow, default)]
    timezone_name: Text<'a>,
}

/// The zone a record's instant is shown in: `--tz` when given, else the device's own zone,
/// which the export names on each row (`timezone_name`, `System Timezone Name`: an IANA name),
/// so that times read as the phone showed them. Looked up once per run of rows naming it.
#[derive(Default)]
struct ShownZone {
    name: Vec<u8>,
    zone: Option<Zone>,
}

impl ShownZone {
    fn show(&mut self, clock: &LocalClock, name: &[u8], at: Timestamp) -> Timestamp {
        let zone = match &clock.zone {
            Some(zone) => Some(zone),
            None => {
                if name != self.name.as_slice() {
                    self.name = name.to_vec();
                    self.zone = std::str::from_utf8(name)
                        .ok()
                        .filter(|name| name.contains('/'))
                        .and_then(|name| Zone::parse(name).ok());
                }
                self.zone.as_ref()
            }
        };
        zone.map_or(at, |zone| zone.show(at))
    }
}

/// Nanoseconds since the epoch (an `f64`, so only ~0.25 µs precise today) to microseconds.
fn from_nanos(time: f64) -> Option<Timestamp> {
    let micros = (time / 1000.0).round();
    (micros.is_finite() && micros.abs() < 4e17).then(|| Timestamp::from_utc_micros(micros as i64))
}

/// An RFC 3339 instant; without an offset it is UTC, as the iterator always writes.
fn parse_instant(text: &[u8]) -> Option<Timestamp> {
    let (civil, offset, rest) = date_time_prefix(text)?;
    if !trim_start(rest).is_empty() {
        return None;
    }
    civil.at_offset(offset.unwrap_or(UtcOffset::UTC)).ok()
}

/// The level of a `LogType`: the five message levels, `Other` for activities, signposts,
/// state dumps and losses.
fn level(log_type: &str) -> Level {
    Level::from_word(log_type).unwrap_or(Level::Other)
}

impl TextFormat for Jsonl {
    fn format(&self) -> Format {
        Format::UnifiedlogJsonl
    }

    fn sniff(&self, line: &[u8]) -> bool {
        let line = trim_start(line);
        line.starts_with(b"{\"")
            && line.trim_ascii_end().ends_with(b"}")
            && memchr::memmem::find(line, b"\"log_type\":").is_some()
            && memchr::memmem::find(line, b"\"event_type\":").is_some()
    }

    fn starts_record(&self, _line: &[u8]) -> bool {
        // One `LogData` per line: any line boundary is a record boundary.
        true
    }

    fn requirements(&self, _sample: &[u8]) -> Requirements {
        Requirements::default()
    }

    fn raw_messages(&self) -> bool {
        false
    }

    fn parse_chunk(&self, chunk: &[u8], ctx: &ChunkContext<'_>, out: &mut ChunkOutput) {
        let mut shown = ShownZone::default();
        for (number, line) in lines(chunk) {
            let trimmed = line.trim_ascii();
            if trimmed.is_empty() {
                out.ignored += 1;
                continue;
            }
            let mut repaired = None;
            let data = match decode::<Data<'_>>(trimmed, &mut repaired, out) {
                Ok(data) => data,
                Err(_) => {
                    out.skip(number, SkipReason::BadJson, line);
                    continue;
                }
            };
            let at = match (data.time, &data.timestamp) {
                (Some(time), _) => Some(from_nanos(time)),
                (None, Some(stamp)) => Some(parse_instant(stamp.as_str().as_bytes())),
                (None, None) => None,
            };
            if !ctx.filter.wants_process_or_message(
                data.process.as_str().as_bytes(),
                data.message.as_str().as_bytes(),
            ) {
                // The line is decoded whole already: its time costs little more.
                out.filtered_early_at(at.flatten().map(|at| at.utc_micros()));
                continue;
            }
            let Some(at) = at else {
                out.skip(number, SkipReason::BadJson, line);
                continue;
            };
            let Some(at) = at else {
                out.skip(number, SkipReason::BadTimestamp, line);
                continue;
            };
            let at = shown.show(ctx.clock, data.timezone_name.as_str().as_bytes(), at);
            let process = short_name(data.process.as_str());
            let sender = sender_of(data.library.as_str(), process);
            let mut record =
                LogRecord::new(at, process, data.message.0.into_owned(), ctx.origin(number));
            record.pid = data.pid.and_then(|p| u32::try_from(p).ok());
            record.thread = data.thread_id;
            record.level = Some(level(data.log_type.as_str()));
            record.subsystem = data.subsystem.non_empty();
            record.category = data.category.non_empty();
            record.sender = sender;
            out.keep(ctx, record);
        }
    }
}

const HEADER_START: &[u8] = b"Timestamp,Event Type,Log Type,";

/// Whether a line begins a CSV row: `YYYY-MM-DDTHH:MM:SS[.fff]Z,EventType,LogType,`. The
/// shape is strict so that a line inside a quoted multi-line message is not taken for a row.
fn row_start(line: &[u8]) -> bool {
    if line.len() < 24 || line[10] != b'T' || !line[0].is_ascii_digit() {
        return false;
    }
    let Some((_, _, rest)) = date_time_prefix(line) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(b",") else {
        return false;
    };
    // Event type and log type: one word each (`Log,Default`, `Activity,Create`).
    let mut words = rest.splitn(3, |b| *b == b',');
    let is_word = |w: Option<&[u8]>| {
        w.is_some_and(|w| !w.is_empty() && w.iter().all(u8::is_ascii_alphanumeric))
    };
    is_word(words.next()) && is_word(words.next()) && words.next().is_some()
}

/// Column positions of the fields we use, by row length.
struct Columns {
    /// `System Timezone Name`, the last column.
    zone: usize,
    category: usize,
    process: usize,
    message: usize,
}

fn columns(fields: usize) -> Option<Columns> {
    match fields {
        // Since 0.6: … Activity ID, Parent Activity ID, Category, Process, Process UUID, Message, …
        18 => Some(Columns {
            zone: 17,
            category: 11,
            process: 12,
            message: 14,
        }),
        // Before: no Parent Activity ID.
        17 => Some(Columns {
            zone: 16,
            category: 10,
            process: 11,
            message: 13,
        }),
        _ => None,
    }
}

fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

fn non_empty(bytes: &[u8]) -> Option<String> {
    (!bytes.is_empty()).then(|| lossy(bytes).into_owned())
}

impl TextFormat for Csv {
    fn format(&self) -> Format {
        Format::UnifiedlogCsv
    }

    fn sniff(&self, line: &[u8]) -> bool {
        line.starts_with(HEADER_START) || row_start(line)
    }

    fn starts_record(&self, line: &[u8]) -> bool {
        row_start(line) || line.starts_with(HEADER_START)
    }

    fn requirements(&self, _sample: &[u8]) -> Requirements {
        Requirements::default()
    }

    fn raw_messages(&self) -> bool {
        false
    }

    fn parse_chunk(&self, chunk: &[u8], ctx: &ChunkContext<'_>, out: &mut ChunkOutput) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(std::io::Cursor::new(chunk));
        let mut row = csv::ByteRecord::new();
        let mut shown = ShownZone::default();
        loop {
            let start = match reader.read_byte_record(&mut row) {
                Ok(false) => break,
                Ok(true) => row.position().cloned().unwrap_or_else(csv::Position::new),
                // Only I/O fails with byte records and flexible rows; a cursor does not.
                Err(_) => break,
            };
            let number = start.line();
            let at = start.byte() as usize;
            let first_line = chunk.get(at..).map_or(&b""[..], |rest| {
                &rest[..memchr::memchr(b'\n', rest).unwrap_or(rest.len())]
            });
            if row.get(0) == Some(b"Timestamp") {
                out.ignored += 1;
                continue;
            }
            let Some(cols) = columns(row.len()) else {
                if row.len() == 1 && row[0].trim_ascii().is_empty() {
                    out.ignored += 1;
                } else {
                    out.skip(number, SkipReason::BadCsv, first_line);
                }
                // A stray quote may have swallowed later rows: go on from the next row start.
                resync(&mut reader, chunk, &start);
                continue;
            };
            let process = &row[cols.process];
            // The unquoted field: quotes inside a quoted message are doubled in the raw row.
            if !ctx
                .filter
                .wants_process_or_message(process, &row[cols.message])
            {
                // A row's time is its first column: cheap next to splitting the row.
                out.filtered_early_at(parse_instant(&row[0]).map(|at| at.utc_micros()));
                continue;
            }
            let Some(at) = parse_instant(&row[0]) else {
                out.skip(number, SkipReason::BadTimestamp, first_line);
                continue;
            };
            let at = shown.show(ctx.clock, &row[cols.zone], at);
            if std::str::from_utf8(row.as_slice()).is_err() {
                out.lossy_utf8 += 1;
            }
            let process = lossy(short_name_bytes(process));
            let sender = sender_of(&lossy(&row[7]), &process);
            let mut record =
                LogRecord::new(at, process, lossy(&row[cols.message]), ctx.origin(number));
            record.pid = decimal(&row[5]).and_then(|p| u32::try_from(p).ok());
            record.thread = decimal(&row[4]);
            record.level = Some(level(&lossy(&row[2])));
            record.subsystem = non_empty(&row[3]);
            record.category = non_empty(&row[cols.category]);
            record.sender = sender;
            out.keep(ctx, record);
        }
    }
}

/// After a bad row, moves the reader to the first row start after the row's first line, if
/// the row ran past it.
fn resync(reader: &mut csv::Reader<std::io::Cursor<&[u8]>>, chunk: &[u8], start: &csv::Position) {
    let from = start.byte() as usize;
    let Some(first_end) = chunk
        .get(from..)
        .and_then(|rest| memchr::memchr(b'\n', rest))
    else {
        return;
    };
    let mut offset = from + first_end + 1;
    let mut line = start.line() + 1;
    for (_, next) in lines(&chunk[offset..]) {
        if row_start(next) {
            break;
        }
        offset += next.len() + 1;
        line += 1;
    }
    let offset = offset.min(chunk.len());
    if (reader.position().byte() as usize) <= offset {
        return;
    }
    let mut position = csv::Position::new();
    position
        .set_byte(offset as u64)
        .set_line(line)
        .set_record(start.record() + 1);
    let _ = reader.seek(position);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::clock::LocalClock;
    use crate::filter::RecordFilter;
    use crate::text::testing::exercise;
    use crate::text::testing::{KILLED, apsd_and_anywhere, clock, kept, parse, parse_with};

    // Shape of `LogData` as serialized by the crate (src/unified_log.rs of
    // https://github.com/mandiant/macos-UnifiedLogs; a real line is in PR #118,
    // https://github.com/mandiant/macos-UnifiedLogs/pull/118), with push-relevant content
    // (docs/reference/ios-logs.md §1.7).
    const JSONL: &str = r#"{"subsystem":"com.apple.apsd","thread_id":4242,"pid":112,"euid":501,"library":"/System/Library/PrivateFrameworks/ApplePushService.framework/ApplePushService","library_uuid":"A1","activity_id":0,"parent_activity_id":0,"time":1.779288361330123e18,"category":"connection","event_type":"Log","log_type":"Default","process":"/System/Library/PrivateFrameworks/ApplePushService.framework/apsd","process_uuid":"B2","message":"Connection established\nwith courier","raw_message":"%{public}@","boot_uuid":"C3","timezone_name":"","message_entries":[{"message_strings":"x","item_type":34,"item_size":0}],"timestamp":"2026-05-20T14:46:01.330123000Z","message_flags":[],"evidence":"Persist/0000000000000001.tracev3"}
{"subsystem":"","thread_id":7,"pid":0,"euid":0,"library":"/kernel","library_uuid":"","activity_id":0,"parent_activity_id":0,"category":"","event_type":"Activity","log_type":"Create","process":"/kernel","process_uuid":"","message":"","raw_message":"","boot_uuid":"","timezone_name":"","message_entries":[],"timestamp":"2026-05-20T14:48:42.669000000Z","message_flags":[],"evidence":""}
{"process":"/usr/sbin/powerd","message":"no time"}
{"process":"/usr/sbin/powerd","time":"soon"
"#;

    #[test]
    fn jsonl_records() {
        assert!(JSONL.lines().take(2).all(|l| Jsonl.sniff(l.as_bytes())));
        let out = parse(&Jsonl, JSONL, LocalClock::default());
        let r = &out.records;
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].process, "apsd");
        assert_eq!(r[0].pid, Some(112));
        assert_eq!(r[0].thread, Some(4242));
        assert_eq!(r[0].level, Some(Level::Default));
        assert_eq!(r[0].subsystem.as_deref(), Some("com.apple.apsd"));
        assert_eq!(r[0].category.as_deref(), Some("connection"));
        assert_eq!(r[0].sender.as_deref(), Some("ApplePushService"));
        assert_eq!(r[0].message, "Connection established\nwith courier");
        assert_eq!(r[0].at.to_string(), "2026-05-20T14:46:01.330123+00:00");
        // Without `time`, the RFC 3339 `timestamp`.
        assert_eq!(r[1].at.to_string(), "2026-05-20T14:48:42.669000+00:00");
        assert_eq!(r[1].process, "kernel");
        assert_eq!(r[1].sender, None);
        assert_eq!(r[1].level, Some(Level::Other));
        assert_eq!(r[1].origin.to_string(), "test.log:2");
        let reasons: Vec<_> = out.skips.iter().map(|s| (s.line, s.reason)).collect();
        assert_eq!(
            reasons,
            [(3, SkipReason::BadJson), (4, SkipReason::BadJson)]
        );
    }

    #[test]
    fn times_show_in_the_zone_a_row_names_unless_tz_is_given() {
        let named = JSONL.lines().next().unwrap().replace(
            "\"timezone_name\":\"\"",
            "\"timezone_name\":\"America/Los_Angeles\"",
        );
        let out = parse(&Jsonl, &named, LocalClock::default());
        assert_eq!(
            out.records[0].at.to_string(),
            "2026-05-20T07:46:01.330123-07:00"
        );
        let out = parse(&Jsonl, &named, clock("2026-05-20", "+03:00"));
        assert_eq!(
            out.records[0].at.to_string(),
            "2026-05-20T17:46:01.330123+03:00"
        );
        let row = "2026-01-27T21:05:00.000Z,Log,Default,com.apple.apsd,2,97,0,/usr/libexec/apsd,U1,0,0,courier,/usr/libexec/apsd,U2,Connected,%s,B,Australia/Sydney\n";
        let out = parse(&Csv, row, LocalClock::default());
        assert_eq!(
            out.records[0].at.to_string(),
            "2026-01-28T08:05:00.000000+11:00"
        );
    }

    // Header and row layout of examples/unifiedlog_iterator/src/main.rs (OutputWriter), at
    // https://github.com/mandiant/macos-UnifiedLogs; the Timestamp is
    // `to_rfc3339_opts(SecondsFormat::Millis, true)`.
    const CSV: &str = "Timestamp,Event Type,Log Type,Subsystem,Thread ID,PID,EUID,Library,Library UUID,Activity ID,Parent Activity ID,Category,Process,Process UUID,Message,Raw Message,Boot UUID,System Timezone Name\n\
2026-05-20T14:48:41.248Z,Log,Default,com.apple.powerd,99,63,0,/usr/lib/libIOKit.dylib,U1,0,0,assertions,/usr/sbin/powerd,U2,Sending com.apple.powerd.assertionpolicy 3,%s,B,\n\
2026-05-20T14:50:04.028Z,Log,Info,,99,63,0,/usr/sbin/powerd,U1,0,0,,/usr/sbin/powerd,U2,\"Process CommCenter.104 Created SystemIsActive\n\
\"\"com.apple.ipTelephony.sipIncoming.cell\"\"\",%s,B,\n\
2026-05-20T14:50:04.494Z,Log,Error,com.apple.powerd,99,63\n\
garbage line\n\
2026-05-20T14:50:04.598Z,Activity,Create,,5,112,501,/usr/libexec/apsd,U1,7,0,,/usr/libexec/apsd,U2,,,B,\n";

    #[test]
    fn csv_rows_with_a_quoted_multi_line_message() {
        assert!(Csv.sniff(CSV.lines().next().unwrap().as_bytes()));
        assert!(Csv.starts_record(CSV.lines().nth(1).unwrap().as_bytes()));
        // The second line of the quoted message is not a row start.
        assert!(!Csv.starts_record(CSV.lines().nth(3).unwrap().as_bytes()));
        let out = parse(&Csv, CSV, LocalClock::default());
        assert_eq!(out.ignored, 1);
        let r = &out.records;
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].process, "powerd");
        assert_eq!(r[0].pid, Some(63));
        assert_eq!(r[0].thread, Some(99));
        assert_eq!(r[0].level, Some(Level::Default));
        assert_eq!(r[0].subsystem.as_deref(), Some("com.apple.powerd"));
        assert_eq!(r[0].category.as_deref(), Some("assertions"));
        assert_eq!(r[0].sender.as_deref(), Some("libIOKit.dylib"));
        assert_eq!(r[0].message, "Sending com.apple.powerd.assertionpolicy 3");
        assert_eq!(r[0].at.to_string(), "2026-05-20T14:48:41.248000+00:00");
        assert_eq!(r[0].origin.to_string(), "test.log:2");
        assert_eq!(
            r[1].message,
            "Process CommCenter.104 Created SystemIsActive\n\"com.apple.ipTelephony.sipIncoming.cell\""
        );
        assert_eq!(r[1].level, Some(Level::Info));
        assert_eq!(r[1].subsystem, None);
        assert_eq!(r[1].sender, None);
        assert_eq!(r[1].origin.to_string(), "test.log:3");
        assert_eq!(r[2].process, "apsd");
        assert_eq!(r[2].level, Some(Level::Other));
        assert_eq!(r[2].origin.to_string(), "test.log:7");
        let reasons: Vec<_> = out.skips.iter().map(|s| (s.line, s.reason)).collect();
        assert_eq!(reasons, [(5, SkipReason::BadCsv), (6, SkipReason::BadCsv)]);
    }

    #[test]
    fn csv_headerless_old_layout_and_runaway_quote() {
        // A chunk cut after the header, in the 17-column order of releases before 0.6, with a
        // row whose quote never closes: the rows after it are still read.
        let text = "2026-05-20T14:48:41.248Z,Log,Default,,99,63,0,/usr/sbin/powerd,U1,0,,/usr/sbin/powerd,U2,old layout,%s,B,\n\
2026-05-20T14:48:41.249Z,Log,Default,,99,63,0,/usr/sbin/powerd,U1,0,,/usr/sbin/powerd,U2,\"never closed,%s,B,\n\
2026-05-20T14:48:41.250Z,Log,Default,,99,63,0,/usr/sbin/powerd,U1,0,,/usr/sbin/powerd,U2,after,%s,B,\n\
2026-13-20T14:48:41.250Z,Log,Default,,99,63,0,/usr/sbin/powerd,U1,0,,/usr/sbin/powerd,U2,bad month,%s,B,\n";
        let out = parse(&Csv, text, LocalClock::default());
        let messages: Vec<_> = out
            .records
            .iter()
            .map(|r| (r.message.as_str(), r.origin.to_string()))
            .collect();
        assert_eq!(
            messages,
            [
                ("old layout", "test.log:1".to_string()),
                ("after", "test.log:3".to_string())
            ]
        );
        let reasons: Vec<_> = out.skips.iter().map(|s| (s.line, s.reason)).collect();
        assert_eq!(
            reasons,
            [(2, SkipReason::BadCsv), (4, SkipReason::BadTimestamp)]
        );
    }

    #[test]
    fn detection_picks_jsonl_and_csv() {
        use crate::detect::detect_text;
        assert_eq!(detect_text(JSONL.as_bytes()), Ok(Format::UnifiedlogJsonl));
        assert_eq!(detect_text(CSV.as_bytes()), Ok(Format::UnifiedlogCsv));
    }

    #[test]
    fn anywhere_literals_keep_an_unknown_process_in_jsonl_and_csv() {
        let app = "/private/var/containers/Bundle/Application/0A/Comera.app/Comera";
        let line = |process: &str, message: &str| {
            format!(
                r#"{{"pid":3072,"time":1.779288521249e18,"event_type":"Log","log_type":"Default","process":"{process}","message":"{message}"}}"#
            )
        };
        let jsonl = [
            line("/usr/libexec/apsd", "wanted"),
            line(app, KILLED),
            line(app, "Reporting an incoming call to CallKit"),
        ]
        .join("\n");
        let row = |process: &str, message: &str| {
            format!(
                "2026-05-20T14:48:41.249Z,Log,Default,,1,3072,501,{process},U1,0,0,,{process},U2,{message},%s,B,\n"
            )
        };
        // The kill as an exception line: quoted, with the quotes of `reason: '…'` kept.
        let exception = format!("\"*** Terminating app, reason: '{KILLED}'\"");
        let csv = [
            row("/usr/libexec/apsd", "wanted"),
            row(app, &exception),
            row(app, "Reporting an incoming call to CallKit"),
        ]
        .concat();
        let reason = format!("*** Terminating app, reason: '{KILLED}'");
        let filter = apsd_and_anywhere();
        let cases: [(&dyn TextFormat, &String, &str); 2] =
            [(&Jsonl, &jsonl, KILLED), (&Csv, &csv, &reason)];
        for (format, text, message) in cases {
            let out = parse_with(format, text, LocalClock::default(), &filter);
            assert!(out.skips.is_empty(), "{:?}", out.skips);
            assert_eq!(kept(&out), [("apsd", "wanted"), ("Comera", message)]);
            assert_eq!((out.parsed, out.filtered), (3, 1));
            let apsd = RecordFilter::new().processes(["apsd"]);
            let out = parse_with(format, text, LocalClock::default(), &apsd);
            assert_eq!(kept(&out), [("apsd", "wanted")]);
        }
    }

    #[test]
    fn csv_process_filter_runs_before_the_record() {
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
        Csv.parse_chunk(CSV.as_bytes(), &ctx, &mut out);
        assert_eq!((out.parsed, out.filtered, out.records.len()), (3, 2, 1));
    }

    fn run(format: &dyn TextFormat, bytes: &[u8]) {
        exercise(format, bytes, &LocalClock::default());
    }

    const PIECES: [&str; 10] = [
        "2026-05-20T14:48:41.248Z,Log,Default,",
        ",",
        "\"",
        "\"\"",
        "/usr/sbin/powerd",
        "\n",
        "x",
        "Timestamp,Event Type,Log Type,",
        "{\"time\":1e30,\"process\":\"/a\"}",
        "{\"timestamp\":\"2026-05-20T14:48:41Z\",\"log_type\":\"Fault\"}",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            run(&Jsonl, &bytes);
            run(&Csv, &bytes);
        }

        #[test]
        fn arbitrary_rows_never_panic(picks in proptest::collection::vec(0..PIECES.len(), 0..60)) {
            let text: String = picks.iter().map(|i| PIECES[*i]).collect();
            run(&Jsonl, text.as_bytes());
            run(&Csv, text.as_bytes());
        }
    }
}
