//! The two forms of a pushes file and how to tell them apart from their first line.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// How a pushes file is written (`docs/formats.md`, "Push records").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PushFormat {
    /// One `PushRecord` JSON object per line.
    Jsonl,
    /// A header row of field names (`attr.<name>` for attributes), then one push per row.
    Csv,
}

impl PushFormat {
    pub const ALL: [PushFormat; 2] = [PushFormat::Jsonl, PushFormat::Csv];

    /// The name a `--format`-style option takes.
    pub fn name(self) -> &'static str {
        match self {
            PushFormat::Jsonl => "jsonl",
            PushFormat::Csv => "csv",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            PushFormat::Jsonl => "push records, JSONL",
            PushFormat::Csv => "push records, CSV",
        }
    }
}

impl fmt::Display for PushFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for PushFormat {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl FromStr for PushFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PushFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown pushes format `{s}`: expected jsonl or csv"))
    }
}

/// Detects the format from the start of the (decompressed) input: a first non-blank line that
/// opens a JSON object is JSONL; one with a `sent_at` column is a CSV header. Anything else is
/// refused with the reason, since a guess would turn every line into an error.
pub(crate) fn detect(sample: &[u8]) -> Result<PushFormat, String> {
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
        return Ok(PushFormat::Jsonl);
    }
    let has_sent_at = text
        .split(',')
        .any(|cell| cell.trim().trim_matches('"').trim() == "sent_at");
    if has_sent_at {
        return Ok(PushFormat::Csv);
    }
    Err(format!(
        "its first line is neither a JSON object (JSONL) nor a CSV header with a `sent_at` \
         column: `{}`",
        excerpt(text)
    ))
}

/// At most 80 characters of a line, for messages.
pub(crate) fn excerpt(text: &str) -> String {
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
        assert_eq!(detect(b"\n  {\"sent_at\":1}\n"), Ok(PushFormat::Jsonl));
        assert_eq!(detect(b"push_id,\"sent_at\",topic\n"), Ok(PushFormat::Csv));
        let why = detect(b"hello world\n").unwrap_err();
        assert!(why.contains("`hello world`"), "{why}");
        assert!(detect(&[0u8; 64]).unwrap_err().contains("binary"));
    }

    #[test]
    fn names_parse_back() {
        for f in PushFormat::ALL {
            assert_eq!(f.name().parse::<PushFormat>(), Ok(f));
        }
        assert!(
            "xml"
                .parse::<PushFormat>()
                .unwrap_err()
                .contains("jsonl or csv")
        );
    }
}
