//! Captures of `pymobiledevice3 syslog live --format json`: one JSON object per line.
//!
//! ```text
//! {"pid": 42, "procid": 42, "thread_id": 4321, "timestamp": "2026-04-18T10:15:32.123456", "level": "ERROR", "image_name": "/p/App", "image_offset": 16, "image_uuid": "016e54e1-…", "process_image_uuid": "7870bc32-…", "filename": "/p/App", "mach_timestamp": 135126255336423432, "message": "hello", "label": {"subsystem": "com.foo.bar", "category": "cat"}}
//! {"pid": 123, "timestamp": "2024-01-01T00:00:00", "level": "INFO", "image_name": "/usr/libexec/test-process", "image_offset": 0, "filename": "/usr/libexec/test-process", "message": "plain", "label": null}
//! ```
//!
//! The line is `format_json_line` of `pymobiledevice3/cli/syslog.py`
//! (https://github.com/doronz88/pymobiledevice3, added by commit e4674617 in April 2026): a
//! `json.dumps(…, ensure_ascii=False)` of the `SyslogEntry` the text capture formats
//! ([`super`]), printed with `print` and, with `-o FILE`, to the file as well. The first form
//! above is written since commit ce39a947 (June 2026, `procid`, `thread_id`, the UUIDs and
//! `mach_timestamp` added); the second before it.
//!
//! Decisions:
//! - `timestamp` is `datetime.fromtimestamp(…).isoformat()` (`services/os_trace.py`): the local
//!   time **of the computer that ran the tool**, no zone (`--tz` names it), and no fraction when
//!   the microseconds are 0 (exact, not missing). A time with an offset, which no version
//!   writes, is read with it.
//! - `filename` is the process's image path and names the process (its last component, as the
//!   text capture's `posixpath.basename`); `image_name` is the sender's, kept when it is not
//!   the process. `level` is a `SyslogLogLevel` name, read as the text capture reads it.
//!   `label` is `null` or `{"subsystem", "category"}`. `procid`, `image_offset`, the UUIDs and
//!   `mach_timestamp` are not used.
//! - A line that is not one JSON object, or lacks `timestamp` or `filename`, is skipped as bad
//!   JSON with its line; blank lines are ignored. The tool prints nothing else on this stream
//!   (its `--start-after` notice is text mode only).

use pushtrace_model::{CivilDateTime, LogRecord, UtcOffset};
use serde::Deserialize;

use super::level;
use crate::format::{Format, Requirements};
use crate::image::{sender_of, short_name};
use crate::summary::SkipReason;
use crate::text::json::{Text, decode};
use crate::text::timestamp::date_time_prefix;
use crate::text::{ChunkContext, ChunkOutput, TextFormat, lines};

pub(crate) struct Pymobiledevice3Json;

/// The fields of a line we use; the others are skipped by the parser without being built.
#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(default)]
    pid: Option<u64>,
    #[serde(default)]
    thread_id: Option<u64>,
    #[serde(borrow, default)]
    timestamp: Option<Text<'a>>,
    #[serde(borrow, default)]
    level: Text<'a>,
    #[serde(borrow, default)]
    image_name: Text<'a>,
    #[serde(borrow, default)]
    filename: Text<'a>,
    #[serde(borrow, default)]
    message: Text<'a>,
    #[serde(borrow, default)]
    label: Option<Label<'a>>,
}

#[derive(Deserialize)]
struct Label<'a> {
    #[serde(borrow, default)]
    subsystem: Text<'a>,
    #[serde(borrow, default)]
    category: Text<'a>,
}

/// Only the time, to see whether a capture's lines carry a zone.
#[derive(Deserialize)]
struct Stamp<'a> {
    #[serde(borrow, default)]
    timestamp: Option<Text<'a>>,
}

/// Keys every line of every version has, and no other export's lines: `log show`'s json styles
/// name images `processImagePath`/`senderImagePath`, `unifiedlog_iterator` `process`/`library`.
/// Inside a JSON string every `"` is escaped, so a message cannot hold one of these.
const KEYS: [&[u8]; 5] = [
    b"\"timestamp\":",
    b"\"level\":",
    b"\"image_name\":",
    b"\"image_offset\":",
    b"\"filename\":",
];

/// A naive `isoformat()` time (`YYYY-MM-DDTHH:MM:SS[.ffffff]`), or one with an offset.
fn instant(stamp: &str) -> Option<(CivilDateTime, Option<UtcOffset>)> {
    let (civil, offset, rest) = date_time_prefix(stamp.as_bytes())?;
    rest.is_empty().then_some((civil, offset))
}

impl Pymobiledevice3Json {
    fn parse_line(&self, ctx: &ChunkContext<'_>, out: &mut ChunkOutput, number: u64, line: &[u8]) {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            out.ignored += 1;
            return;
        }
        let mut repaired = None;
        let Ok(entry) = decode::<Entry<'_>>(trimmed, &mut repaired, out) else {
            return out.skip(number, SkipReason::BadJson, line);
        };
        let Some(stamp) = entry
            .timestamp
            .filter(|_| !entry.filename.as_str().is_empty())
        else {
            return out.skip(number, SkipReason::BadJson, line);
        };
        let at = || {
            let (civil, offset) = instant(stamp.as_str())?;
            ctx.clock.with_zone(civil, offset).ok()
        };
        let path = entry.filename.as_str();
        if !ctx
            .filter
            .wants_process_or_message(path.as_bytes(), entry.message.as_str().as_bytes())
        {
            // The line is decoded whole already: its time costs little more.
            return out.filtered_early_at(at().map(|at| at.utc_micros()));
        }
        let Some(at) = at() else {
            return out.skip(number, SkipReason::BadTimestamp, line);
        };
        let process = short_name(path);
        let sender = sender_of(entry.image_name.as_str(), process);
        let mut record = LogRecord::new(
            at,
            process,
            entry.message.0.into_owned(),
            ctx.origin(number),
        );
        record.pid = entry.pid.and_then(|p| u32::try_from(p).ok());
        record.thread = entry.thread_id;
        record.level = level(entry.level.as_str().as_bytes());
        record.sender = sender;
        if let Some(label) = entry.label {
            record.subsystem = label.subsystem.non_empty();
            record.category = label.category.non_empty();
        }
        out.keep(ctx, record);
    }
}

impl TextFormat for Pymobiledevice3Json {
    fn format(&self) -> Format {
        Format::Pymobiledevice3Json
    }

    fn sniff(&self, line: &[u8]) -> bool {
        let line = line.trim_ascii();
        line.starts_with(b"{\"")
            && line.ends_with(b"}")
            && KEYS
                .iter()
                .all(|key| memchr::memmem::find(line, key).is_some())
    }

    fn starts_record(&self, _line: &[u8]) -> bool {
        // One object per line (`json.dumps` escapes a message's newlines).
        true
    }

    /// A zone unless the first time of the sample carries an offset (the tool writes none).
    fn requirements(&self, sample: &[u8]) -> Requirements {
        let offset = lines(sample)
            .take(200)
            .filter_map(|(_, line)| serde_json::from_slice::<Stamp<'_>>(line.trim_ascii()).ok())
            .find_map(|stamp| instant(stamp.timestamp?.as_str()))
            .and_then(|(_, offset)| offset);
        Requirements {
            date: false,
            zone: offset.is_none(),
        }
    }

    fn raw_messages(&self) -> bool {
        false
    }

    fn parse_chunk(&self, chunk: &[u8], ctx: &ChunkContext<'_>, out: &mut ChunkOutput) {
        for (number, line) in lines(chunk) {
            self.parse_line(ctx, out, number, line);
        }
    }
}

#[cfg(test)]
mod tests;
