//! A [`LogRecord`] as one line of JSON, written by hand: the bytes `serde_json` writes for it,
//! at a fraction of the cost.
//!
//! `pushtrace logs --json` writes one record per kept line, millions per export, and there the
//! serializer is the largest cost: `serde_json` escapes strings one byte at a time and reaches
//! each field through the `Serialize` machinery. Messages are almost always plain text, so this
//! writer checks eight bytes at a time for anything to escape and copies clean stretches whole.
//! The output is byte for byte `serde_json::to_writer`'s (a property test holds the two
//! together), so readers of the schema see no difference.

use crate::record::{LogRecord, Origin};
use crate::time::RFC3339_BYTES;

impl LogRecord {
    /// Appends the record as `serde_json` writes it (compact, fields in declaration order,
    /// absent options left out), without a line end.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"at\":");
        let mut buf = [0u8; RFC3339_BYTES];
        match self.at.rfc3339_bytes(&mut buf) {
            Some(()) => {
                out.push(b'"');
                out.extend_from_slice(&buf);
                out.push(b'"');
            }
            None => string(out, &self.at.to_string()),
        }
        out.extend_from_slice(b",\"process\":");
        string(out, &self.process);
        if let Some(pid) = self.pid {
            out.extend_from_slice(b",\"pid\":");
            number(out, u64::from(pid));
        }
        if let Some(thread) = self.thread {
            out.extend_from_slice(b",\"thread\":");
            number(out, thread);
        }
        if let Some(level) = self.level {
            out.extend_from_slice(b",\"level\":");
            string(out, level.as_str());
        }
        for (key, value) in [
            (&b",\"subsystem\":"[..], &self.subsystem),
            (b",\"category\":", &self.category),
            (b",\"sender\":", &self.sender),
        ] {
            if let Some(value) = value {
                out.extend_from_slice(key);
                string(out, value);
            }
        }
        out.extend_from_slice(b",\"message\":");
        string(out, &self.message);
        out.extend_from_slice(b",\"origin\":{\"kind\":");
        let (kind, file, key, n) = match &self.origin {
            Origin::Line { file, line } => ("\"line\"", file, &b",\"line\":"[..], *line),
            Origin::Archive { file, entry } => ("\"archive\"", file, &b",\"entry\":"[..], *entry),
        };
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b",\"file\":");
        string(out, file);
        out.extend_from_slice(key);
        number(out, n);
        out.extend_from_slice(b"}}");
    }
}

fn number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A JSON string with `serde_json`'s escapes: `\"`, `\\`, the five short control escapes and
/// `\u00XX` (lowercase) for the other bytes below 0x20; everything else as is.
fn string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut clean = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(word) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
            if !needs_escape(word) {
                i += 8;
                continue;
            }
        }
        let end = (i + 8).min(bytes.len());
        for (at, &byte) in bytes.iter().enumerate().take(end).skip(i) {
            if byte < 0x20 || byte == b'"' || byte == b'\\' {
                out.extend_from_slice(&bytes[clean..at]);
                escape(out, byte);
                clean = at + 1;
            }
        }
        i = end;
    }
    out.extend_from_slice(&bytes[clean..]);
    out.push(b'"');
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes is below 0x20, a quote or a backslash (exact: the classic
/// has-zero-byte and has-less-than tests of "Bit Twiddling Hacks").
fn needs_escape(word: u64) -> bool {
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    (below_space
        | has_zero(word ^ (ONES * u64::from(b'"')))
        | has_zero(word ^ (ONES * u64::from(b'\\'))))
        != 0
}

/// Appends the escape of `byte`, a quote, a backslash or a byte below 0x20.
fn escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0a => b'n',
        0x0c => b'f',
        0x0d => b'r',
        _ => {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::record::Level;
    use crate::time::{Timestamp, UtcOffset};

    fn serde_bytes(record: &LogRecord) -> Vec<u8> {
        serde_json::to_vec(record).unwrap()
    }

    fn written(record: &LogRecord) -> Vec<u8> {
        let mut out = Vec::new();
        record.write_json(&mut out);
        out
    }

    #[test]
    fn every_field_and_escape_as_serde_writes_them() {
        let mut record = LogRecord::new(
            Timestamp::new(
                1_779_287_159_562_000,
                UtcOffset::from_seconds(-34_200).unwrap(),
            ),
            "Café",
            "quote \" backslash \\ tab \t nl \n cr \r bs \u{8} ff \u{c} nul \0 esc \u{1b} del \u{7f} é 🚀",
            Origin::Archive {
                file: Arc::from("logdata/Persist/0000000000000001.tracev3"),
                entry: u64::MAX,
            },
        );
        record.pid = Some(u32::MAX);
        record.thread = Some(0x1a2b);
        record.level = Some(Level::Fault);
        record.subsystem = Some("com.apple.apsd".into());
        record.category = Some("\"quoted\"".into());
        record.sender = Some("libnetwork.dylib".into());
        assert_eq!(
            String::from_utf8(written(&record)).unwrap(),
            String::from_utf8(serde_bytes(&record)).unwrap()
        );
    }

    fn level() -> impl Strategy<Value = Option<Level>> {
        prop::option::of(prop::sample::select(Level::ALL.to_vec()))
    }

    proptest! {
        #[test]
        fn the_same_bytes_as_serde_json(
            micros in -62_135_596_800_000_000i64..253_402_300_799_999_999,
            offset in -64_800i32..=64_800,
            process in any::<String>(),
            message in "(\\PC|[\\x00-\\x1f\"\\\\\\x7f]){0,40}",
            pid in any::<Option<u32>>(),
            thread in any::<Option<u64>>(),
            level in level(),
            subsystem in any::<Option<String>>(),
            category in any::<Option<String>>(),
            sender in any::<Option<String>>(),
            line in any::<u64>(),
            archive in any::<bool>(),
        ) {
            let at = Timestamp::new(micros, UtcOffset::from_seconds(offset / 60 * 60).unwrap());
            let file: Arc<str> = Arc::from("logs/device \"1\".log");
            let origin = if archive {
                Origin::Archive { file, entry: line }
            } else {
                Origin::Line { file, line }
            };
            let mut record = LogRecord::new(at, process, message, origin);
            record.pid = pid;
            record.thread = thread;
            record.level = level;
            record.subsystem = subsystem;
            record.category = category;
            record.sender = sender;
            prop_assert_eq!(written(&record), serde_bytes(&record));
        }
    }
}
