//! Captures of libimobiledevice's `idevicesyslog`, the live log of an iPhone read over USB from
//! Linux, Windows or a Mac.
//!
//! ```text
//! Jul  4 13:26:05 iPhone-de-Sergi apsd(PersistentConnection)[83] <Notice>: 2018-07-04 13:26:05 +0200 apsd[83]: copyTokenForDomain push.apple.com (null)
//! Mar  4 17:42:55 callservicesd(TelephonyUtilities)[112] <Notice>: Successfully opened application
//! Dec 15 01:39:46.970278 SampleApp(SampleApp.debug.dylib)[10612] <Notice>: 🔍 Hello |{ ts=2025-12-15T06:39:46.970278Z lvl=debug }|
//! [connected:00008030-001A35E02E38802E]
//! ```
//!
//! Three generations print the same tail, `process(image)[pid] <Level>: message`, after a
//! syslog time `Mmm dd HH:MM:SS` (English month, day padded with a space; Windows builds do
//! not pad):
//! - up to 1.2.0 (2015), the `com.apple.syslog_relay` lines as the iPhone sends them, with the
//!   device name after the time;
//! - 1.3.0 (2020) and `--syslog-relay` since, the same lines without the device name, coloured on
//!   a terminal;
//! - 1.4.0 (2025) on iOS 9 and later, lines it builds from `com.apple.os_trace_relay`: time with
//!   microseconds (`strftime("%b %e %H:%M:%S")` then `.%06u`), the image only when it is not
//!   the process, levels `Notice`, `Info`, `Debug`, `Error`, `Fault` or `Unknown`. Windows
//!   builds print `%#d` (no padding) into the same fixed-size buffer and write the fraction at
//!   offset 15: on days 1 to 9 it lands past the string's end, so those lines have whole seconds.
//!
//! Sources: `tools/idevicesyslog.c` of https://github.com/libimobiledevice/libimobiledevice at
//! tags 1.2.0, 1.3.0 and 1.4.0 (`syslog_callback`, `ostrace_syslog_callback`); the first line
//! is quoted from pushbots/phonegap#77, the second fills the 1.3.0 shape, the third is quoted
//! from mobiletoly/kmpertrace's tests (see `docs/formats.md`).
//!
//! Decisions:
//! - The lines carry no year and no zone: the year comes from `--date` (any day of the
//!   capture), each line taking the year that puts its month and day within six months of that
//!   day, so a capture crossing New Year keeps going forward; the zone comes from `--tz`. The
//!   time is read on the line alone, so records are placed without carrying state from line to
//!   line (the file is read in parallel chunks).
//! - A device name is read only on lines with whole seconds (syslog_relay), as the first of two
//!   words before `(image)[pid]`; os_trace_relay lines never print one, and keep a process name
//!   with a space whole.
//! - Levels: the unified-log words map as everywhere; syslog's `Warning` (what `NSLog` logged at
//!   before iOS 10) is `default`, `Critical`, `Alert` and `Emergency` are `fault`; `Unknown` and
//!   any other word give no level.
//! - Lines that do not begin a record continue the message above, joined with `\n` as they are.
//!   The tool's own `[connected:UDID]` / `[disconnected:UDID]` lines are ignored.
//! - Colour codes are removed first ([`super::ansi`]).

use pushtrace_model::{CivilDateTime, Level, LogRecord, TimeOfDay, parse_time_prefix};

use super::{
    ChunkContext, ChunkOutput, RefusedEnds, TextFormat, ansi, decimal, for_each_record,
    join_message,
};
use crate::clock::LocalClock;
use crate::format::{Format, Requirements};
use crate::summary::SkipReason;

pub(crate) struct Idevicesyslog;

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// The syslog time at the start of a line.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stamp {
    month: u8,
    day: u8,
    time: TimeOfDay,
    /// Printed with a fraction (os_trace_relay) rather than whole seconds (syslog_relay).
    fraction: bool,
}

/// The fields of a line that begins a record.
#[derive(Debug)]
struct Row<'a> {
    stamp: Stamp,
    process: &'a [u8],
    image: Option<&'a [u8]>,
    pid: u32,
    level: Option<&'a [u8]>,
    message: &'a [u8],
}

/// `Mmm dd HH:MM:SS[.ffffff] ` at the start of `line`; returns the rest after the space.
fn stamp(line: &[u8]) -> Option<(Stamp, &[u8])> {
    if line.len() < 15 || line[3] != b' ' {
        return None;
    }
    let month = MONTHS.iter().position(|m| line[..3] == m[..])? as u8 + 1;
    let rest = &line[4..];
    // `%e` pads the day with a space; Windows' `%#d` does not pad it at all.
    let (day, rest) = match rest {
        [b' ', d, rest @ ..] => (decimal(std::slice::from_ref(d))?, rest),
        [a, b, rest @ ..] if b.is_ascii_digit() => (decimal(&[*a, *b])?, rest),
        [d, rest @ ..] => (decimal(std::slice::from_ref(d))?, rest),
        [] => return None,
    };
    if !(1..=31).contains(&day) {
        return None;
    }
    let clock = rest.strip_prefix(b" ")?;
    // Seconds are always printed: `HH:MM:SS`.
    if clock.len() < 8 || clock[5] != b':' {
        return None;
    }
    let (time, after) = parse_time_prefix(clock)?;
    let fraction = clock.len() - after.len() > 8;
    let after = after.strip_prefix(b" ")?;
    Some((
        Stamp {
            month,
            day: day as u8,
            time,
            fraction,
        },
        after,
    ))
}

/// `[pid]` closed by `]` then a space or a colon: the first such bracket in `rest`.
fn pid_bracket(rest: &[u8]) -> Option<(usize, usize, u32)> {
    memchr::memchr_iter(b'[', rest).find_map(|open| {
        let digits = rest[open + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let close = open + 1 + digits;
        let pid = u32::try_from(decimal(&rest[open + 1..close])?).ok()?;
        (rest.get(close) == Some(&b']') && matches!(rest.get(close + 1), Some(b' ' | b':')))
            .then_some((open, close, pid))
    })
}

/// `<Word>: ` at the start of `after`: the level word and the message.
fn level_word(after: &[u8]) -> Option<(&[u8], &[u8])> {
    let inner = after.strip_prefix(b"<")?;
    let end = inner.iter().take(16).position(|b| *b == b'>')?;
    let word = &inner[..end];
    if word.is_empty() || !word.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let message = inner[end + 1..].strip_prefix(b":")?;
    Some((word, message.strip_prefix(b" ").unwrap_or(message)))
}

/// Reads a line that begins a record; `None` for anything else (a continuation line).
fn row(line: &[u8]) -> Option<Row<'_>> {
    let (stamp, rest) = stamp(line)?;
    let (open, close, pid) = pid_bracket(rest)?;
    let mut head = &rest[..open];
    if !stamp.fraction
        && let Some(space) = memchr::memchr(b' ', head)
        && !head[..space].contains(&b'(')
    {
        // syslog_relay up to 1.2.0: `device process(image)[pid]`.
        head = &head[space + 1..];
    }
    let (process, image) = match memchr::memchr(b'(', head) {
        Some(i) if head.ends_with(b")") => (&head[..i], Some(&head[i + 1..head.len() - 1])),
        _ => (head, None),
    };
    if process.is_empty() || process[0] == b' ' {
        return None;
    }
    let after = &rest[close + 1..];
    let (level, message) = if let Some(message) = after.strip_prefix(b":") {
        // Old syslog lines without a level: `powerd[63]: Wake …`.
        (None, message.strip_prefix(b" ").unwrap_or(message))
    } else {
        let (word, message) = level_word(&after[1..])?;
        (Some(word), message)
    };
    Some(Row {
        stamp,
        process,
        image: image.filter(|image| !image.is_empty() && *image != process),
        pid,
        level,
        message,
    })
}

/// The level a word of the tool's `<…>` column names.
fn level(word: &[u8]) -> Option<Level> {
    let word = std::str::from_utf8(word).ok()?;
    match word.to_ascii_lowercase().as_str() {
        "warning" => Some(Level::Default),
        "critical" | "alert" | "emergency" => Some(Level::Fault),
        "unknown" => None,
        other => Level::from_word(other),
    }
}

/// The tool's own lines, not the device's.
fn is_banner(line: &[u8]) -> bool {
    line.starts_with(b"[connected:") || line.starts_with(b"[disconnected")
}

/// The year that puts `month`/`day` nearest to `anchor` (within six months of it).
fn nearest_year((year, month0, day0): (i32, u8, u8), month: u8, day: u8) -> i32 {
    let offset = |y: i32| {
        ((y - year) as i64 * 372 + (month as i64 * 31 + day as i64)
            - (month0 as i64 * 31 + day0 as i64))
            .abs()
    };
    [year, year - 1, year + 1]
        .into_iter()
        .min_by_key(|y| offset(*y))
        .unwrap_or(year)
}

/// The instant of a stamp: its year from `--date`, its zone from `--tz`.
fn instant(stamp: Stamp, clock: &LocalClock) -> Result<pushtrace_model::Timestamp, String> {
    let anchor = clock
        .date
        .ok_or("the line has no year: pass --date YYYY-MM-DD (a day of the capture)")?;
    let year = nearest_year(anchor, stamp.month, stamp.day);
    clock.with_zone(
        CivilDateTime::new((year, stamp.month, stamp.day), stamp.time),
        None,
    )
}

impl Idevicesyslog {
    fn parse_clean(&self, chunk: &[u8], ctx: &ChunkContext<'_>, out: &mut ChunkOutput) {
        let mut refused = RefusedEnds::default();
        for_each_record(
            self,
            chunk,
            out,
            is_banner,
            |out, number, line, continuation| {
                let Some(row) = row(line) else {
                    return out.skip(number, SkipReason::Malformed, line);
                };
                if !ctx.wants(row.process, row.message, continuation) {
                    return refused.note(out, line, 0);
                }
                let at = match instant(row.stamp, ctx.clock) {
                    Ok(at) => at,
                    Err(_) => return out.skip(number, SkipReason::BadTimestamp, line),
                };
                let first = out.text(row.message);
                let message = join_message(out, first, continuation, "\n");
                let process = out.text(row.process).into_owned();
                let mut record = LogRecord::new(at, process, message, ctx.origin(number));
                record.pid = Some(row.pid);
                record.level = row.level.and_then(level);
                record.sender = row.image.map(|image| out.text(image).into_owned());
                out.keep(ctx, record);
            },
        );
        refused.finish(out, |line| self.record_time(line, ctx.clock));
    }
}

impl TextFormat for Idevicesyslog {
    fn format(&self) -> Format {
        Format::Idevicesyslog
    }

    fn sniff(&self, line: &[u8]) -> bool {
        row(&ansi::strip(line)).is_some()
    }

    fn starts_record(&self, line: &[u8]) -> bool {
        row(&ansi::strip(line)).is_some()
    }

    fn requirements(&self, _sample: &[u8]) -> Requirements {
        Requirements {
            date: true,
            zone: true,
        }
    }

    fn record_time(&self, line: &[u8], clock: &LocalClock) -> Option<i64> {
        let line = ansi::strip(line);
        let (stamp, _) = stamp(&line)?;
        instant(stamp, clock).ok().map(|at| at.utc_micros())
    }

    fn times_records_alone(&self) -> bool {
        true
    }

    fn parse_chunk(&self, chunk: &[u8], ctx: &ChunkContext<'_>, out: &mut ChunkOutput) {
        ansi::parse_uncoloured(chunk, ctx, out, |chunk, ctx, out| {
            self.parse_clean(chunk, ctx, out)
        });
    }
}

#[cfg(test)]
mod tests;
