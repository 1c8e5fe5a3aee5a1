//! The three line styles of `log show` / `log stream`: default, syslog and compact.
//!
//! ```text
//! default: 2023-08-20 19:30:45.919414+0300 0x956  Default  0x0  180  0  airportd: (IO80211) [com.apple.WiFiManager:] Driver …
//! syslog:  2023-05-26 13:42:44.136082+0200  localhost kernel[0]: (Sandbox) Sandbox: sandbox-exec(41398) deny(1) …
//! compact: 2026-10-06 10:41:02.207 Df tccd[75697:5a8b53a] [com.apple.TCC:access] AUTHREQ_PROMPTING: …
//! ```
//!
//! All three end in the same tail: an optional `(sender)`, an optional `[subsystem:category]`
//! and the message, whose further lines carry no timestamp. Sources: `docs/formats.md`.

use pushtrace_model::{Level, LogRecord};

use super::decimal;
use super::timestamp::{date_time_prefix, same_second, trim_start};
use super::{
    ChunkContext, ChunkOutput, DecodedLine, RefusedEnds, TextFormat, for_each_record, join_message,
};
use crate::clock::LocalClock;
use crate::format::{Format, Requirements};
use crate::summary::SkipReason;

pub(crate) struct DefaultStyle;
pub(crate) struct SyslogStyle;
pub(crate) struct CompactStyle;

/// The cheap shape test shared by the three styles: `YYYY-MM-DD HH:MM:SS` at the start.
#[inline]
fn is_dated(line: &[u8]) -> bool {
    line.len() >= 19
        && line[0].is_ascii_digit()
        && line[4] == b'-'
        && line[7] == b'-'
        && line[10] == b' '
        && line[13] == b':'
        && line[16] == b':'
}

/// The time the three styles give a record: its line's date and time, in the line's offset or
/// else the clock's zone (`parse_chunk` decodes it with the same two calls).
fn dated_time(line: &[u8], clock: &LocalClock) -> Option<i64> {
    if !is_dated(line) {
        return None;
    }
    let (civil, offset, _) = date_time_prefix(line)?;
    clock
        .with_zone(civil, offset)
        .ok()
        .map(|at| at.utc_micros())
}

/// Lines `log show` prints around the records: column headers, the filter echo, footers.
fn is_preamble(line: &[u8]) -> bool {
    const PREFIXES: [&[u8]; 6] = [
        b"Timestamp ",
        b"Filtering the log data",
        b"Skipping info and debug",
        b"Log      - ",
        b"Activity - ",
        b"--------",
    ];
    PREFIXES.iter().any(|p| line.starts_with(p))
}

/// The parts of a line after the process column.
struct Tail<'a> {
    sender: Option<&'a [u8]>,
    subsystem: Option<&'a [u8]>,
    category: Option<&'a [u8]>,
    message: &'a [u8],
}

/// Splits `(sender) [subsystem:category] message`; both prefixes are optional and recognized
/// only in their exact shape (no spaces inside), so a message that starts with a bracket stays
/// whole.
fn split_tail(mut tail: &[u8]) -> Tail<'_> {
    let mut sender = None;
    if tail.first() == Some(&b'(')
        && let Some(end) = memchr::memchr2(b')', b' ', tail)
        && tail[end] == b')'
        && matches!(tail.get(end + 1), Some(b' ') | None)
    {
        sender = Some(&tail[1..end]);
        tail = tail.get(end + 2..).unwrap_or_default();
    }
    let (mut subsystem, mut category) = (None, None);
    if tail.first() == Some(&b'[')
        && let Some(end) = memchr::memchr2(b']', b' ', tail)
        && tail[end] == b']'
        && matches!(tail.get(end + 1), Some(b' ') | None)
        && let Some(colon) = memchr::memchr(b':', &tail[1..end])
    {
        let inner = &tail[1..end];
        subsystem = Some(&inner[..colon]).filter(|s| !s.is_empty());
        category = Some(&inner[colon + 1..]).filter(|s| !s.is_empty());
        tail = tail.get(end + 2..).unwrap_or_default();
    }
    Tail {
        sender,
        subsystem,
        category,
        message: tail,
    }
}

fn hex(bytes: &[u8]) -> Option<u64> {
    let digits = bytes.strip_prefix(b"0x").unwrap_or(bytes);
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// Splits off the next whitespace-separated token.
fn token(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let bytes = trim_start(bytes);
    if bytes.is_empty() {
        return None;
    }
    let end = memchr::memchr2(b' ', b'\t', bytes).unwrap_or(bytes.len());
    Some((&bytes[..end], &bytes[end..]))
}

/// `process[pid]:` (syslog) — returns the process, the pid and the rest after `]: `. A line
/// whose pid was cut out (`localhost apsd: …`, as people trim lines they post, and as a record
/// without a pid is written back) gives the process alone: its first word, ending in `:`.
fn process_pid_colon(rest: &[u8]) -> Option<(&[u8], Option<u32>, &[u8])> {
    let first_word = memchr::memchr2(b' ', b'\t', rest).unwrap_or(rest.len());
    if let Some(process) = rest[..first_word].strip_suffix(b":")
        && !process.is_empty()
        && !process.ends_with(b"]")
    {
        let after = &rest[first_word..];
        return Some((process, None, after.strip_prefix(b" ").unwrap_or(after)));
    }
    // A loop over `]` rather than `memmem::find(rest, b"]:")`, which builds a searcher per call.
    let close = memchr::memchr_iter(b']', rest).find(|&i| rest.get(i + 1) == Some(&b':'))?;
    let open = memchr::memrchr(b'[', &rest[..close])?;
    let pid = decimal(&rest[open + 1..close])?;
    let after = &rest[close + 2..];
    Some((
        &rest[..open],
        Some(u32::try_from(pid).ok()?),
        after.strip_prefix(b" ").unwrap_or(after),
    ))
}

/// Builds the record from the common parts and the continuation lines.
#[allow(clippy::too_many_arguments)]
fn finish(
    ctx: &ChunkContext<'_>,
    out: &mut ChunkOutput,
    number: u64,
    line: &[u8],
    at: Result<pushtrace_model::Timestamp, String>,
    process: &[u8],
    tail: &[u8],
    continuation: &[&[u8]],
    fill: impl FnOnce(&mut LogRecord),
) {
    let at = match at {
        Ok(at) => at,
        Err(_) => return out.skip(number, SkipReason::BadTimestamp, line),
    };
    let tail = split_tail(tail);
    let decoded = DecodedLine::new(line);
    let first = out.text_of(&decoded, tail.message);
    let message = join_message(out, first, continuation, "\n");
    let process = out.text_of(&decoded, process).into_owned();
    let mut record = LogRecord::new(at, process, message, ctx.origin(number));
    let mut field = |part: Option<&[u8]>| part.map(|part| out.text_of(&decoded, part).into_owned());
    record.sender = field(tail.sender);
    record.subsystem = field(tail.subsystem);
    record.category = field(tail.category);
    fill(&mut record);
    out.keep(ctx, record);
}

impl TextFormat for SyslogStyle {
    fn format(&self) -> Format {
        Format::LogShowSyslog
    }

    fn sniff(&self, line: &[u8]) -> bool {
        let Some((_, Some(_), rest)) = date_time_prefix(line) else {
            return false;
        };
        let Some(rest) = rest.strip_prefix(b"  ") else {
            return false;
        };
        let Some((_host, rest)) = token(rest) else {
            return false;
        };
        process_pid_colon(trim_start(rest)).is_some()
    }

    fn starts_record(&self, line: &[u8]) -> bool {
        is_dated(line)
    }

    fn record_time(&self, line: &[u8], clock: &LocalClock) -> Option<i64> {
        dated_time(line, clock)
    }

    fn times_records_alone(&self) -> bool {
        true
    }

    fn same_second(&self, decoded: &[u8], line: &[u8]) -> bool {
        same_second(decoded, line)
    }

    fn requirements(&self, _sample: &[u8]) -> Requirements {
        Requirements::default()
    }

    fn parse_chunk(&self, chunk: &[u8], ctx: &ChunkContext<'_>, out: &mut ChunkOutput) {
        let mut refused = RefusedEnds::default();
        for_each_record(
            self,
            chunk,
            out,
            is_preamble,
            |out, number, line, continuation| {
                // The process is found first, past the timestamp's first space, so the filter
                // drops most lines before their timestamp is decoded.
                let after_stamp = memchr::memchr(b' ', &line[19..]).map(|i| &line[19 + i..]);
                let Some((_host, rest)) = after_stamp.and_then(token) else {
                    return out.skip(number, SkipReason::Malformed, line);
                };
                let Some((process, pid, tail)) = process_pid_colon(trim_start(rest)) else {
                    return out.skip(number, SkipReason::Malformed, line);
                };
                if !ctx.wants(process, tail, continuation) {
                    return refused.note(out, line, 0);
                }
                let Some((civil, offset, _)) = date_time_prefix(line) else {
                    return out.skip(number, SkipReason::BadTimestamp, line);
                };
                let at = ctx.clock.with_zone(civil, offset);
                finish(
                    ctx,
                    out,
                    number,
                    line,
                    at,
                    process,
                    tail,
                    continuation,
                    |r| r.pid = pid,
                );
            },
        );
        refused.finish(out, |line| dated_time(line, ctx.clock));
    }
}

impl TextFormat for DefaultStyle {
    fn format(&self) -> Format {
        Format::LogShowDefault
    }

    fn sniff(&self, line: &[u8]) -> bool {
        let Some((_, Some(_), rest)) = date_time_prefix(line) else {
            return false;
        };
        let Some((thread, rest)) = token(rest) else {
            return false;
        };
        let Some((_ty, rest)) = token(rest) else {
            return false;
        };
        let Some((activity, rest)) = token(rest) else {
            return false;
        };
        let Some((pid, _)) = token(rest) else {
            return false;
        };
        thread.starts_with(b"0x") && activity.starts_with(b"0x") && decimal(pid).is_some()
    }

    fn starts_record(&self, line: &[u8]) -> bool {
        is_dated(line)
    }

    fn record_time(&self, line: &[u8], clock: &LocalClock) -> Option<i64> {
        dated_time(line, clock)
    }

    fn times_records_alone(&self) -> bool {
        true
    }

    fn same_second(&self, decoded: &[u8], line: &[u8]) -> bool {
        same_second(decoded, line)
    }

    fn requirements(&self, _sample: &[u8]) -> Requirements {
        Requirements::default()
    }

    fn parse_chunk(&self, chunk: &[u8], ctx: &ChunkContext<'_>, out: &mut ChunkOutput) {
        let mut refused = RefusedEnds::default();
        for_each_record(
            self,
            chunk,
            out,
            is_preamble,
            |out, number, line, continuation| {
                let Some((civil, offset, rest)) = date_time_prefix(line) else {
                    return out.skip(number, SkipReason::BadTimestamp, line);
                };
                let fields = (|| {
                    let (thread, rest) = token(rest)?;
                    let (ty, rest) = token(rest)?;
                    let (_activity, rest) = token(rest)?;
                    let (pid, rest) = token(rest)?;
                    let (_ttl, rest) = token(rest)?;
                    let rest = trim_start(rest);
                    let colon = memchr::memchr_iter(b':', rest)
                        .find(|&i| matches!(rest.get(i + 1), Some(b' ') | None))?;
                    let tail = rest.get(colon + 2..).unwrap_or_default();
                    Some((hex(thread), ty, decimal(pid), &rest[..colon], tail))
                })();
                let Some((thread, ty, pid, process, tail)) = fields else {
                    return out.skip(number, SkipReason::Malformed, line);
                };
                if !ctx.wants(process, tail, continuation) {
                    return refused.note(out, line, 0);
                }
                let level = std::str::from_utf8(ty)
                    .ok()
                    .map(|t| Level::from_word(t).unwrap_or(Level::Other));
                let at = ctx.clock.with_zone(civil, offset);
                finish(
                    ctx,
                    out,
                    number,
                    line,
                    at,
                    process,
                    tail,
                    continuation,
                    |r| {
                        r.thread = thread;
                        r.pid = pid.and_then(|p| u32::try_from(p).ok());
                        r.level = level;
                    },
                );
            },
        );
        refused.finish(out, |line| dated_time(line, ctx.clock));
    }
}

/// `process[pid:tid]` (compact) — returns process, pid, thread and the rest.
fn process_pid_tid(rest: &[u8]) -> Option<(&[u8], u32, u64, &[u8])> {
    let close = memchr::memchr(b']', rest)?;
    let open = memchr::memrchr(b'[', &rest[..close])?;
    let inner = &rest[open + 1..close];
    let colon = memchr::memchr(b':', inner)?;
    let pid = u32::try_from(decimal(&inner[..colon])?).ok()?;
    let tid = hex(&inner[colon + 1..])?;
    let after = &rest[close + 1..];
    Some((
        &rest[..open],
        pid,
        tid,
        after.strip_prefix(b" ").unwrap_or(after),
    ))
}

impl TextFormat for CompactStyle {
    fn format(&self) -> Format {
        Format::LogShowCompact
    }

    fn sniff(&self, line: &[u8]) -> bool {
        let Some((_, None, rest)) = date_time_prefix(line) else {
            return false;
        };
        // Milliseconds, then a one- or two-letter type padded to two columns.
        if line.get(19) != Some(&b'.') || line.get(23) != Some(&b' ') || rest.len() < 4 {
            return false;
        }
        let ty = &rest[1..3];
        ty[0].is_ascii_alphabetic() && process_pid_tid(&rest[4..]).is_some()
    }

    fn starts_record(&self, line: &[u8]) -> bool {
        is_dated(line)
    }

    fn record_time(&self, line: &[u8], clock: &LocalClock) -> Option<i64> {
        dated_time(line, clock)
    }

    fn times_records_alone(&self) -> bool {
        true
    }

    fn same_second(&self, decoded: &[u8], line: &[u8]) -> bool {
        same_second(decoded, line)
    }

    fn requirements(&self, _sample: &[u8]) -> Requirements {
        Requirements {
            date: false,
            zone: true,
        }
    }

    fn parse_chunk(&self, chunk: &[u8], ctx: &ChunkContext<'_>, out: &mut ChunkOutput) {
        let mut refused = RefusedEnds::default();
        for_each_record(
            self,
            chunk,
            out,
            is_preamble,
            |out, number, line, continuation| {
                let Some((civil, offset, rest)) = date_time_prefix(line) else {
                    return out.skip(number, SkipReason::BadTimestamp, line);
                };
                let parts = (rest.len() >= 4 && rest[0] == b' ')
                    .then(|| {
                        let ty = std::str::from_utf8(&rest[1..3]).ok()?;
                        let (process, pid, tid, tail) = process_pid_tid(&rest[4..])?;
                        Some((ty.trim(), process, pid, tid, tail))
                    })
                    .flatten();
                let Some((ty, process, pid, tid, tail)) = parts else {
                    return out.skip(number, SkipReason::Malformed, line);
                };
                if !ctx.wants(process, tail, continuation) {
                    return refused.note(out, line, 0);
                }
                let level = Level::from_word(ty).unwrap_or(Level::Other);
                let at = ctx.clock.with_zone(civil, offset);
                finish(
                    ctx,
                    out,
                    number,
                    line,
                    at,
                    process,
                    tail,
                    continuation,
                    |r| {
                        r.pid = Some(pid);
                        r.thread = Some(tid);
                        r.level = Some(level);
                    },
                );
            },
        );
        refused.finish(out, |line| dated_time(line, ctx.clock));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::LocalClock;
    use crate::filter::RecordFilter;
    use crate::text::testing::{KILLED, apsd_and_anywhere, clock, kept, parse, parse_with};

    // Rows follow the public examples cited in docs/formats.md §log show.
    const SYSLOG: &str = "Timestamp                       (process)[PID]\n\
2023-05-26 13:42:44.136082+0200  localhost kernel[0]: (Sandbox) Sandbox: sandbox-exec(41398) deny(1) file-read-data /etc/hosts\n\
2026-05-20 17:48:41.250113+0300  localhost apsd[112]: (IOKit) [com.apple.iokit:assertions] Update assertion policy 3\n\
2026-05-20 17:48:41.248002+0300  localhost powerd[63]: Sending com.apple.powerd.assertionpolicy 3\n\
2026-05-20 17:50:04.028000+0300  localhost powerd[63]: Process CommCenter.104 Created SystemIsActive\n\
\"com.apple.ipTelephony.sipIncoming.cell\"\n";

    #[test]
    fn fields_cut_from_a_line_decoded_once_keep_their_non_ascii_text() {
        // Decoded once per line, then cut at the fields' byte offsets (DecodedLine): the cuts
        // fall between characters however wide they are.
        let text = "2026-05-20 17:48:41.250113+0300  localhost Café[7]: (Bibliothèque) [com.exemple.café:réseau] Appel entrant reçu\nsuite à la ligne\n";
        let out = parse(&SyslogStyle, text, LocalClock::default());
        assert_eq!(out.lossy_utf8, 0);
        let r = &out.records[0];
        assert_eq!(r.process, "Café");
        assert_eq!(r.sender.as_deref(), Some("Bibliothèque"));
        assert_eq!(r.subsystem.as_deref(), Some("com.exemple.café"));
        assert_eq!(r.category.as_deref(), Some("réseau"));
        assert_eq!(r.message, "Appel entrant reçu\nsuite à la ligne");
    }

    #[test]
    fn syslog_style_fields_and_continuations() {
        let out = parse(&SyslogStyle, SYSLOG, LocalClock::default());
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        assert_eq!(out.ignored, 1);
        let r = &out.records;
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].process, "kernel");
        assert_eq!(r[0].pid, Some(0));
        assert_eq!(r[0].sender.as_deref(), Some("Sandbox"));
        assert_eq!(
            r[0].message,
            "Sandbox: sandbox-exec(41398) deny(1) file-read-data /etc/hosts"
        );
        assert_eq!(r[1].subsystem.as_deref(), Some("com.apple.iokit"));
        assert_eq!(r[1].category.as_deref(), Some("assertions"));
        assert_eq!(r[1].message, "Update assertion policy 3");
        assert_eq!(r[1].at.to_string(), "2026-05-20T17:48:41.250113+03:00");
        assert_eq!(
            r[3].message,
            "Process CommCenter.104 Created SystemIsActive\n\"com.apple.ipTelephony.sipIncoming.cell\""
        );
        assert_eq!(r[3].origin.to_string(), "test.log:5");
        assert!(SyslogStyle.sniff(SYSLOG.lines().nth(1).unwrap().as_bytes()));
        assert!(!DefaultStyle.sniff(SYSLOG.lines().nth(1).unwrap().as_bytes()));
    }

    #[test]
    fn bracketed_message_is_not_a_subsystem() {
        let line = "2026-05-20 17:46:01.330000+0300  localhost apsd[112]: [C138 IPv4#b71cac13:5223 ready parent-flow (satisfied (Path is satisfied), interface: pdp_ip0[lte])] event: path:satisfied_change @594.391s\n";
        let out = parse(&SyslogStyle, line, LocalClock::default());
        assert_eq!(out.records[0].subsystem, None);
        assert!(
            out.records[0]
                .message
                .starts_with("[C138 IPv4#b71cac13:5223 ready")
        );
    }

    // pymobiledevice3#540 and BlockBlock#1 (docs/formats.md).
    const DEFAULT: &str = "Filtering the log data using \"process == \\\"airportd\\\"\"\n\
Timestamp                       Thread     Type        Activity             PID    TTL  \n\
2023-08-20 19:30:45.919414+0300 0x956      Default     0x0                  180    0    airportd: (IO80211) [com.apple.WiFiManager:] Driver Discovery: received driver availability notification\n\
2023-08-20 19:30:45.918670+0300 0x956      Info        0x0                  180    0    airportd: Multi-line message\n\
second line\n\
2023-08-20 19:30:46.000001+0300 0x1a2b     Error       0x4f2                63     0    powerd: (IOKit) hidActive:0 displayOff:1 assertionActivityValid:0\n\
--------------------------------------------------------------------------------------------------------------------\n\
Log      - Default:          1, Info:                1, Debug:             0, Error:          1, Fault:          0\n\
Activity - Create:           0, Transition:          0, Actions:           0\n";

    #[test]
    fn default_style_columns() {
        let out = parse(&DefaultStyle, DEFAULT, LocalClock::default());
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        assert_eq!(out.ignored, 5);
        let r = &out.records;
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].thread, Some(0x956));
        assert_eq!(r[0].level, Some(Level::Default));
        assert_eq!(r[0].pid, Some(180));
        assert_eq!(r[0].sender.as_deref(), Some("IO80211"));
        assert_eq!(r[0].subsystem.as_deref(), Some("com.apple.WiFiManager"));
        assert_eq!(r[0].category, None);
        assert_eq!(
            r[0].message,
            "Driver Discovery: received driver availability notification"
        );
        assert_eq!(r[1].message, "Multi-line message\nsecond line");
        assert_eq!(r[2].level, Some(Level::Error));
        assert_eq!(r[2].process, "powerd");
        assert!(DefaultStyle.sniff(DEFAULT.lines().nth(2).unwrap().as_bytes()));
    }

    #[test]
    fn anywhere_literals_keep_an_unknown_process_in_every_style() {
        // The kill in the app's process is kept, on its first line or a continuation line; the
        // app's other lines are not.
        let syslog = format!(
            "2026-05-20 17:48:41.248002+0300  localhost apsd[112]: wanted\n\
             2026-05-20 17:48:41.249002+0300  localhost Comera[3072]: (PushKit) {KILLED}\n\
             2026-05-20 17:48:41.250002+0300  localhost Comera[3072]: Reporting an incoming call to CallKit\n\
             2026-05-20 17:48:41.251002+0300  localhost Comera[3072]: *** Terminating app\n\
             reason: '{KILLED}'\n"
        );
        let default = format!(
            "2026-05-20 17:48:41.248002+0300 0x956      Default     0x0                  112    0    apsd: wanted\n\
             2026-05-20 17:48:41.249002+0300 0x956      Default     0x0                  3072   0    Comera: (PushKit) {KILLED}\n\
             2026-05-20 17:48:41.250002+0300 0x956      Default     0x0                  3072   0    Comera: Reporting an incoming call to CallKit\n\
             2026-05-20 17:48:41.251002+0300 0x956      Error       0x0                  3072   0    Comera: *** Terminating app\n\
             reason: '{KILLED}'\n"
        );
        let compact = format!(
            "2026-05-20 17:48:41.248 Df apsd[112:5a8b53a] wanted\n\
             2026-05-20 17:48:41.249 Df Comera[3072:5a8b53b] {KILLED}\n\
             2026-05-20 17:48:41.250 Df Comera[3072:5a8b53b] Reporting an incoming call to CallKit\n\
             2026-05-20 17:48:41.251 E  Comera[3072:5a8b53b] *** Terminating app\n\
             reason: '{KILLED}'\n"
        );
        let filter = apsd_and_anywhere();
        let styles: [(&dyn TextFormat, &String); 3] = [
            (&SyslogStyle, &syslog),
            (&DefaultStyle, &default),
            (&CompactStyle, &compact),
        ];
        for (style, text) in styles {
            let out = parse_with(style, text, clock("2026-05-20", "+03:00"), &filter);
            let name = style.format().name();
            assert!(out.skips.is_empty(), "{name}: {:?}", out.skips);
            let kept = kept(&out);
            assert_eq!(kept.len(), 3, "{name}: {kept:?}");
            assert_eq!(kept[0], ("apsd", "wanted"), "{name}");
            assert_eq!(kept[1], ("Comera", KILLED), "{name}");
            assert_eq!(kept[2].0, "Comera", "{name}");
            assert!(
                kept[2].1.ends_with(&format!("reason: '{KILLED}'")),
                "{name}"
            );
            assert_eq!((out.parsed, out.filtered), (4, 1), "{name}");
        }
        // Without the literals the app's lines are all dropped.
        let apsd = RecordFilter::new().processes(["apsd"]);
        let out = parse_with(&SyslogStyle, &syslog, LocalClock::default(), &apsd);
        assert_eq!(kept(&out), [("apsd", "wanted")]);
    }

    const COMPACT: &str = "Timestamp               Ty Process[PID:TID]\n\
2026-10-06 10:41:02.207 Df tccd[75697:5a8b53a] [com.apple.TCC:access] AUTHREQ_PROMPTING: msgID=75697.1\n\
2026-01-01 07:17:32.677 E  syspolicyd[527:85cf08] [com.apple.syspolicy.exec:default] Unable to initialize qtn_proc\n";

    #[test]
    fn compact_style_needs_a_zone() {
        assert!(CompactStyle.requirements(b"").zone);
        let out = parse(&CompactStyle, COMPACT, clock("2026-01-01", "-07:00"));
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        let r = &out.records;
        assert_eq!(r[0].level, Some(Level::Default));
        assert_eq!(r[0].thread, Some(0x5a8b53a));
        assert_eq!(r[0].at.to_string(), "2026-10-06T10:41:02.207000-07:00");
        assert_eq!(r[1].level, Some(Level::Error));
        assert_eq!(r[1].process, "syspolicyd");
        assert!(CompactStyle.sniff(COMPACT.lines().nth(2).unwrap().as_bytes()));
        assert!(!SyslogStyle.sniff(COMPACT.lines().nth(2).unwrap().as_bytes()));
    }

    #[test]
    fn syslog_line_without_its_pid() {
        // How people post trimmed lines, and how a record without a pid is written back.
        let text = "2026-06-30 18:28:02.005000+0200  localhost apsd: <APSCourierConnectionManager: 0x10300a1b0 production>: [ExplicitKA] Sent keepalive\n\
2026-06-30 18:28:03.000000+0200  localhost kernel[0]: (Sandbox) deny(1)\n";
        assert!(SyslogStyle.sniff(text.lines().next().unwrap().as_bytes()));
        let out = parse(&SyslogStyle, text, LocalClock::default());
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        let r = &out.records;
        assert_eq!((r[0].process.as_str(), r[0].pid), ("apsd", None));
        assert!(
            r[0].message
                .starts_with("<APSCourierConnectionManager: 0x10300a1b0")
        );
        assert_eq!((r[1].process.as_str(), r[1].pid), ("kernel", Some(0)));
    }

    #[test]
    fn malformed_rows_are_skipped_with_their_line() {
        let text = "2026-05-20 17:48:41.248002+0300  localhost powerd without a pid\n\
2026-13-20 17:48:41.248002+0300  localhost powerd[63]: month 13\n";
        let out = parse(&SyslogStyle, text, LocalClock::default());
        assert!(out.records.is_empty());
        let reasons: Vec<_> = out.skips.iter().map(|s| (s.line, s.reason)).collect();
        assert_eq!(
            reasons,
            [(1, SkipReason::Malformed), (2, SkipReason::BadTimestamp)]
        );
    }
}
