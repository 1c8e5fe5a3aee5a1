//! Captures of `pymobiledevice3 syslog live`, the live log of an iPhone read over USB (or a
//! network tunnel) through `com.apple.os_trace_relay`.
//!
//! ```text
//! 2023-01-19 13:04:37.123456 SpringBoard{FrontBoard}[62] <NOTICE>: [FBSystemService] Received request to open "com.example.voip"
//! 2023-01-19 13:04:38 apsd{}[83] <INFO>: a time of whole seconds prints no fraction
//! 2023-01-19 13:04:39.000001 callservicesd{TelephonyUtilities+0x1a2b}[112] <ERROR>: with --image-offset
//! 2023-01-19 13:04:40.500000 apsd{}[83] <NOTICE>: with --label [com.apple.apsd][connection]
//! ```
//!
//! The line is `format_line` of `pymobiledevice3/cli/syslog.py`
//! (https://github.com/doronz88/pymobiledevice3):
//! `{timestamp} {process_name}{{{image_name}{image_offset_str}}}[{pid}] <{level}>: {message}`,
//! then ` {label}` (`[subsystem][category]`) with `--label`. The timestamp is
//! `str(datetime.fromtimestamp(…))`: the local time **of the computer that ran the tool**, no
//! zone, and no fraction at all when the microseconds are 0. Levels are the names of
//! `SyslogLogLevel` (`pymobiledevice3/services/os_trace.py`): `NOTICE`, `INFO`, `DEBUG`,
//! `USER_ACTION`, `ERROR`, `FAULT`. On a terminal the fields are coloured, and `-o FILE` writes
//! the same coloured line to the file.
//!
//! Decisions:
//! - The zone comes from `--tz` (the capturing computer's); the date is on the line.
//! - `process{image}`: the image, without a `+0x…` offset, becomes the sender unless it is empty
//!   or the process itself. `USER_ACTION` is a message of level `default`.
//! - A record's last line ending in ` [subsystem][category]` (no spaces in the subsystem,
//!   no brackets in either) is read as the `--label` suffix; a message ending so on its own is
//!   indistinguishable, and rare.
//! - Lines that do not begin a record continue the message above (the tool prints a message's
//!   own newlines as they are). The `Waiting for "…" ...` line of `--start-after` is ignored.
//! - Colour codes are removed first ([`super::ansi`]).
//!
//! `--format json` prints the same entries as JSON lines instead: [`json`].

use pushtrace_model::{CivilDateTime, Level, LogRecord};

use super::timestamp::date_time_prefix;
use super::{
    ChunkContext, ChunkOutput, RefusedEnds, TextFormat, ansi, decimal, for_each_record,
    join_message,
};
use crate::clock::LocalClock;
use crate::format::{Format, Requirements};
use crate::summary::SkipReason;

pub(crate) mod json;

pub(crate) struct Pymobiledevice3;

/// The fields of a line that begins a record.
#[derive(Debug)]
struct Row<'a> {
    civil: CivilDateTime,
    process: &'a [u8],
    image: &'a [u8],
    pid: u32,
    level: &'a [u8],
    message: &'a [u8],
}

/// Reads a line that begins a record; `None` for anything else (a continuation line).
fn row(line: &[u8]) -> Option<Row<'_>> {
    if line.len() < 20 || line[4] != b'-' || line[10] != b' ' {
        return None;
    }
    let (civil, offset, rest) = date_time_prefix(line)?;
    if offset.is_some() {
        return None;
    }
    let rest = rest.strip_prefix(b" ")?;
    let open = memchr::memchr(b'{', rest)?;
    let process = &rest[..open];
    if process.is_empty() || process[0] == b' ' {
        return None;
    }
    let close = open + 1 + memchr::memchr(b'}', &rest[open + 1..])?;
    let image = without_offset(&rest[open + 1..close]);
    let after = rest[close + 1..].strip_prefix(b"[")?;
    let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
    let pid = u32::try_from(decimal(&after[..digits])?).ok()?;
    let after = after[digits..].strip_prefix(b"] <")?;
    let end = after.iter().take(16).position(|b| *b == b'>')?;
    let level = &after[..end];
    if level.is_empty() || !level.iter().all(|b| b.is_ascii_uppercase() || *b == b'_') {
        return None;
    }
    let message = after[end + 1..].strip_prefix(b":")?;
    Some(Row {
        civil,
        process,
        image,
        pid,
        level,
        message: message.strip_prefix(b" ").unwrap_or(message),
    })
}

/// `UIKitCore+0x1a2b` → `UIKitCore` (`--image-offset`).
fn without_offset(image: &[u8]) -> &[u8] {
    match memchr::memrchr(b'+', image) {
        Some(plus)
            if image[plus + 1..].starts_with(b"0x")
                && image.len() > plus + 3
                && image[plus + 3..].iter().all(u8::is_ascii_hexdigit) =>
        {
            &image[..plus]
        }
        _ => image,
    }
}

/// A `--label` suffix: the subsystem and the category.
type Label<'a> = (&'a [u8], &'a [u8]);

/// Splits a trailing ` [subsystem][category]` (`--label`) off the last line of a record.
fn split_label(text: &[u8]) -> (&[u8], Option<Label<'_>>) {
    let Some(body) = text.strip_suffix(b"]") else {
        return (text, None);
    };
    let Some(mid) = memchr::memrchr(b'[', body) else {
        return (text, None);
    };
    let category = &body[mid + 1..];
    let Some(head) = body[..mid].strip_suffix(b"]") else {
        return (text, None);
    };
    let Some(open) = memchr::memrchr(b'[', head) else {
        return (text, None);
    };
    let subsystem = &head[open + 1..];
    let Some(message) = head[..open].strip_suffix(b" ") else {
        return (text, None);
    };
    let clean = |field: &[u8], spaces: bool| {
        !field
            .iter()
            .any(|b| matches!(b, b'[' | b']') || (!spaces && *b == b' '))
    };
    if subsystem.is_empty() || !clean(subsystem, false) || !clean(category, true) {
        return (text, None);
    }
    (message, Some((subsystem, category)))
}

fn level(word: &[u8]) -> Option<Level> {
    match word {
        b"USER_ACTION" => Some(Level::Default),
        _ => Level::from_word(std::str::from_utf8(word).ok()?),
    }
}

/// The `--start-after` notice the tool prints before any record.
fn is_banner(line: &[u8]) -> bool {
    line.starts_with(b"Waiting for \"")
}

impl Pymobiledevice3 {
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
                let at = match ctx.clock.with_zone(row.civil, None) {
                    Ok(at) => at,
                    Err(_) => return out.skip(number, SkipReason::BadTimestamp, line),
                };
                let (message, label) = match continuation.split_last() {
                    Some((last, middle)) => {
                        let (last, label) = split_label(last);
                        let mut parts = middle.to_vec();
                        parts.push(last);
                        let first = out.text(row.message);
                        (join_message(out, first, &parts, "\n"), label)
                    }
                    None => {
                        let (first, label) = split_label(row.message);
                        let first = out.text(first);
                        (join_message(out, first, &[], "\n"), label)
                    }
                };
                let process = out.text(row.process).into_owned();
                let mut record = LogRecord::new(at, process, message, ctx.origin(number));
                record.pid = Some(row.pid);
                record.level = level(row.level);
                record.sender = Some(row.image)
                    .filter(|image| !image.is_empty() && *image != row.process)
                    .map(|image| out.text(image).into_owned());
                if let Some((subsystem, category)) = label {
                    record.subsystem = Some(out.text(subsystem).into_owned());
                    record.category =
                        Some(out.text(category).into_owned()).filter(|c| !c.is_empty());
                }
                out.keep(ctx, record);
            },
        );
        refused.finish(out, |line| self.record_time(line, ctx.clock));
    }
}

impl TextFormat for Pymobiledevice3 {
    fn format(&self) -> Format {
        Format::Pymobiledevice3
    }

    fn sniff(&self, line: &[u8]) -> bool {
        row(&ansi::strip(line)).is_some()
    }

    fn starts_record(&self, line: &[u8]) -> bool {
        row(&ansi::strip(line)).is_some()
    }

    fn requirements(&self, _sample: &[u8]) -> Requirements {
        Requirements {
            date: false,
            zone: true,
        }
    }

    fn record_time(&self, line: &[u8], clock: &LocalClock) -> Option<i64> {
        let line = ansi::strip(line);
        let (civil, None, _) = date_time_prefix(&line)? else {
            return None;
        };
        clock.with_zone(civil, None).ok().map(|at| at.utc_micros())
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
