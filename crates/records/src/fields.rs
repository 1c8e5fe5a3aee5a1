//! What went wrong in one record, said in terms of the contract: the field at fault and a
//! message that says what to do, with a did-you-mean for a misspelt field name.
//!
//! Every form (a JSONL line, a CSV row, a Parquet row) ends in the one serde definition of
//! [`PushRecord`], so the messages here are shared by all of them.

use pushtrace_model::{PushRecord, suggest};

/// Why one record could not be read: the field at fault, when one is, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// The field at fault (`received_at`, `attrs.carrier`, `attr.os_version`).
    pub field: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl RowError {
    pub fn new(field: Option<String>, message: impl Into<String>) -> Self {
        RowError {
            field,
            message: message.into(),
        }
    }
}

/// Turns a deserialization error into the field at fault and a message that says what to do.
pub(crate) fn field_error(path: &serde_path_to_error::Path, message: String) -> RowError {
    let path = path.to_string();
    let mut field = (path != "." && !path.contains('?')).then_some(path);
    if let Some(name) = quoted_after(&message, "missing field `") {
        let message = format!(
            "missing: `{name}` is required (when the server sent the push: RFC 3339 with an \
             offset, or epoch milliseconds)"
        );
        return RowError::new(Some(name), message);
    }
    if let Some(name) = quoted_after(&message, "unknown field `") {
        let hint = match closest_field(&name) {
            Some(known) => format!("did you mean `{known}`? "),
            None => String::new(),
        };
        let message = format!(
            "`{name}` is not a push record field: {hint}extra data goes under `attrs` \
             (docs/formats.md, \"Push records\")"
        );
        return RowError::new(Some(name), message);
    }
    if let Some(name) = quoted_after(&message, "duplicate field `") {
        field = Some(name);
    }
    RowError::new(field, message)
}

fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    Some(rest[..rest.find('`')?].to_string())
}

/// The contract field closest to a misspelt name ([`pushtrace_model::suggest::closest`]).
pub fn closest_field(name: &str) -> Option<&'static str> {
    suggest::closest(name, PushRecord::FIELDS)
}

/// What a column that is not a contract field should be instead (CSV and Parquet share it).
pub(crate) fn unknown_column(name: &str) -> String {
    let hint = closest_field(name)
        .map(|known| format!("did you mean `{known}`? Or "))
        .unwrap_or_default();
    format!(
        "column `{name}` is not a push record field: {hint}name it `attr.{name}` to keep it as \
         an attribute (docs/formats.md, \"Push records\")"
    )
}

/// serde_json's message without its "at line 1 column N", which counts within one record.
pub(crate) fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&suffix) {
        Some(message) if error.line() > 0 => format!("{message} (column {})", error.column()),
        _ => text,
    }
}

/// A JSON object deserialized as a record by the contract's own rules, the field named on error.
pub(crate) fn record_from_object(
    object: serde_json::Map<String, serde_json::Value>,
) -> Result<PushRecord, RowError> {
    serde_path_to_error::deserialize(serde_json::Value::Object(object))
        .map_err(|e| field_error(e.path(), json_message(e.inner())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_fields_get_a_suggestion() {
        assert_eq!(closest_field("recieved_at"), Some("received_at"));
        assert_eq!(closest_field("sentat"), Some("sent_at"));
        assert_eq!(closest_field("carrier"), None);
    }

    #[test]
    fn unknown_columns_say_how_to_keep_them() {
        let why = unknown_column("recieved_at");
        assert!(why.contains("did you mean `received_at`"), "{why}");
        assert!(unknown_column("carrier").contains("name it `attr.carrier`"));
    }
}
