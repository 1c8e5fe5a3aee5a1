//! Push records as JSON Lines: one `PushRecord` object per line; blank lines are ignored.
//!
//! A line is first deserialized straight into the record, the fast path for the millions of
//! good lines of a fleet export; only a line that fails is read again with
//! `serde_path_to_error`, to name the field at fault.

use pushtrace_model::PushRecord;

use crate::fields::{RowError, field_error, json_message};

/// The longest line read as a record. A push record with its attributes is a few hundred bytes;
/// the bound keeps a file without newlines from being held whole in memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// One line (without its line ending) as a record, or the field at fault and why.
pub fn parse_line(line: &str) -> Result<PushRecord, RowError> {
    // Leading blanks are left for serde_json to skip, so its columns are the file's.
    let line = line.trim_end();
    if !line.trim_start().starts_with('{') {
        return Err(RowError::new(
            None,
            "expected a JSON object (one push record per line)",
        ));
    }
    if let Ok(record) = serde_json::from_str::<PushRecord>(line) {
        return Ok(record);
    }
    let mut de = serde_json::Deserializer::from_str(line);
    let record: PushRecord = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| field_error(e.path(), json_message(e.inner())))?;
    de.end().map_err(|e| {
        let why = format!("{}: one push record per line", json_message(&e));
        RowError::new(None, why)
    })?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_data_after_the_object() {
        let e = parse_line(r#"{"sent_at":1779288420000} {"sent_at":1}"#).unwrap_err();
        assert_eq!(e.field, None);
        assert!(e.message.contains("trailing characters"), "{}", e.message);
    }

    #[test]
    fn columns_count_from_the_start_of_the_line() {
        let e = parse_line(r#"   {"sent_at":"x"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("sent_at"));
        assert!(e.message.ends_with("(column 17)"), "{}", e.message);
    }

    #[test]
    fn misspelt_field_named_with_a_suggestion() {
        let e = parse_line(r#"{"sent_at":1779288420000,"recieved_at":1}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("recieved_at"));
        assert!(
            e.message.contains("did you mean `received_at`"),
            "{}",
            e.message
        );
    }
}
