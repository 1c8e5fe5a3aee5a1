//! The forms of a push records file and how to tell them apart: Parquet by its `PAR1` magic,
//! JSONL and CSV by their first non-blank line.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// How a push records file is written (`docs/formats.md`, "Push records").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordFormat {
    /// One `PushRecord` JSON object per line.
    Jsonl,
    /// A header row of field names (`attr.<name>` for attributes), then one push per row.
    Csv,
    /// Apache Parquet, columns named like the CSV header (needs a file: it is read from its end).
    Parquet,
}

/// The first bytes of every Parquet file (and its last four).
pub const PARQUET_MAGIC: &[u8; 4] = b"PAR1";

impl RecordFormat {
    pub const ALL: [RecordFormat; 3] = [
        RecordFormat::Jsonl,
        RecordFormat::Csv,
        RecordFormat::Parquet,
    ];

    /// The name a `--format`-style option takes.
    pub fn name(self) -> &'static str {
        match self {
            RecordFormat::Jsonl => "jsonl",
            RecordFormat::Csv => "csv",
            RecordFormat::Parquet => "parquet",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            RecordFormat::Jsonl => "push records, JSONL",
            RecordFormat::Csv => "push records, CSV",
            RecordFormat::Parquet => "push records, Parquet",
        }
    }
}

impl fmt::Display for RecordFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for RecordFormat {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl FromStr for RecordFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown push records format `{s}`: expected jsonl, csv or parquet")
            })
    }
}

/// Detects JSONL or CSV from the start of the (decompressed) text: a first non-blank line that
/// opens a JSON object is JSONL; one with a `sent_at` column is a CSV header. Anything else is
/// refused with the reason, since a guess would turn every line into an error.
pub fn detect_text(sample: &[u8]) -> Result<RecordFormat, String> {
    if sample.starts_with(PARQUET_MAGIC) {
        return Err("it is a Parquet file (PAR1), which is read from a file, not a stream".into());
    }
    let control = sample
        .iter()
        .filter(|b| matches!(b, 0..=8 | 14..=31))
        .count();
    if control * 20 > sample.len() {
        return Err(format!(
            "it looks like binary data ({control} control bytes in the first {} bytes)",
            sample.len()
        ));
    }
    let first = sample
        .split(|b| *b == b'\n')
        .find(|line| !line.iter().all(u8::is_ascii_whitespace))
        .unwrap_or_default();
    let text = String::from_utf8_lossy(first);
    let text = text.trim();
    if text.starts_with('{') {
        return Ok(RecordFormat::Jsonl);
    }
    let has_sent_at = text
        .split(',')
        .any(|cell| cell.trim().trim_matches('"').trim() == "sent_at");
    if has_sent_at {
        return Ok(RecordFormat::Csv);
    }
    Err(format!(
        "its first line is neither a JSON object (JSONL) nor a CSV header with a `sent_at` \
         column: `{}`",
        excerpt(text)
    ))
}

/// At most 80 characters of a line, for messages.
pub fn excerpt(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(80).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_first_line() {
        assert_eq!(
            detect_text(b"\n  {\"sent_at\":1}\n"),
            Ok(RecordFormat::Jsonl)
        );
        assert_eq!(
            detect_text(b"push_id,\"sent_at\",topic\n"),
            Ok(RecordFormat::Csv)
        );
        let why = detect_text(b"hello world\n").unwrap_err();
        assert!(why.contains("`hello world`"), "{why}");
        assert!(detect_text(&[0u8; 64]).unwrap_err().contains("binary"));
        assert!(
            detect_text(b"PAR1\x15\x04")
                .unwrap_err()
                .contains("Parquet")
        );
    }

    #[test]
    fn names_parse_back() {
        for f in RecordFormat::ALL {
            assert_eq!(f.name().parse::<RecordFormat>(), Ok(f));
        }
        assert!(
            "xml"
                .parse::<RecordFormat>()
                .unwrap_err()
                .contains("jsonl, csv or parquet")
        );
    }
}
