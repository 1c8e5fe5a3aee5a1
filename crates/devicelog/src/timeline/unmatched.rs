//! Lines from watched processes that no rule understood, grouped by message shape, so the
//! catalogue can grow from real logs (`pushtrace timeline --unmatched`).

use std::collections::HashMap;
use std::sync::LazyLock;

use pushtrace_model::{LogRecord, Origin};
use regex::Regex;
use serde::Serialize;

/// Shapes longer than this are cut: the start of a message is what identifies its format string.
const SHAPE_CHARS: usize = 160;

const HEX_MARK: &str = "\u{1}";

/// A message shape and how often it occurred.
#[derive(Clone, Debug, Serialize)]
pub struct Shape {
    pub process: String,
    pub shape: String,
    pub count: u64,
    /// The first message of this shape, and where it is.
    pub example: String,
    pub origin: Origin,
}

/// Groups unmatched messages.
#[derive(Default)]
pub struct Unmatched {
    groups: HashMap<(String, String), Shape>,
}

/// The message with its variable parts replaced: UUIDs, addresses, hex and decimal numbers.
pub fn shape(message: &str) -> String {
    static PATTERNS: LazyLock<[(Regex, &str); 4]> = LazyLock::new(|| {
        let compile =
            |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("built-in pattern {p}: {e}"));
        [
            (
                compile(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
                "<uuid>",
            ),
            // A digit-free stand-in, so the decimal pass below leaves it alone.
            (compile(r"(?i)\b0x[0-9a-f]+\b"), HEX_MARK),
            (
                compile(
                    r"(?i)\b(?:[0-9a-f]*[0-9][0-9a-f]*[a-f][0-9a-f]*|[0-9a-f]*[a-f][0-9a-f]*[0-9][0-9a-f]*)\b",
                ),
                "<hex>",
            ),
            (compile(r"\d+(?:\.\d+)?"), "#"),
        ]
    });
    let first_line = message.lines().next().unwrap_or_default();
    let mut shaped = first_line.to_string();
    for (pattern, replacement) in PATTERNS.iter() {
        shaped = pattern.replace_all(&shaped, *replacement).into_owned();
    }
    shaped = shaped.replace(HEX_MARK, "0x#");
    if shaped.chars().count() > SHAPE_CHARS {
        shaped = shaped.chars().take(SHAPE_CHARS).collect::<String>() + "…";
    }
    shaped
}

impl Unmatched {
    pub fn add(&mut self, record: &LogRecord) {
        let key = (record.process.clone(), shape(&record.message));
        self.groups
            .entry(key)
            .or_insert_with_key(|(process, shape)| Shape {
                process: process.clone(),
                shape: shape.clone(),
                count: 0,
                example: record
                    .message
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                origin: record.origin.clone(),
            })
            .count += 1;
    }

    /// The shapes, most frequent first (ties by process and shape, for stable output).
    pub fn shapes(self) -> Vec<Shape> {
        let mut shapes: Vec<Shape> = self.groups.into_values().collect();
        shapes.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| (&a.process, &a.shape).cmp(&(&b.process, &b.shape)))
        });
        shapes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_parts_collapse_into_one_shape() {
        assert_eq!(
            shape("New RRC 0 when previous 1 from pdp_ip0"),
            "New RRC # when previous # from pdp_ip#"
        );
        assert_eq!(
            shape("Task <935C1BA3-256B-907B-5BF3-28D01FD8C6E1>.<153> resuming, qos(0x19)"),
            "Task <<uuid>>.<#> resuming, qos(0x#)"
        );
        assert_eq!(
            shape("[C138 IPv4#b71cac13:5223 ready"),
            shape("[C140 IPv4#0a2d99f1:443 ready")
        );
    }
}
