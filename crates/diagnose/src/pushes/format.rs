//! The two forms of a pushes file diagnose reads; detection and parsing are
//! `pushtrace-records`'s.

use std::fmt;
use std::str::FromStr;

use pushtrace_records::RecordFormat;
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

impl From<PushFormat> for RecordFormat {
    fn from(format: PushFormat) -> Self {
        match format {
            PushFormat::Jsonl => RecordFormat::Jsonl,
            PushFormat::Csv => RecordFormat::Csv,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
