//! Pushes as JSON Lines: one `PushRecord` object per line; blank lines are ignored.

use std::io::{self, BufRead};

use pushtrace_model::PushRecord;

use super::{Collector, Failure, field_error, json_message};

/// The longest line read as a record. A push record with its attributes is a few hundred bytes;
/// the bound keeps a file without newlines from being held whole in memory.
pub(crate) const MAX_LINE_BYTES: usize = 1 << 20;

pub(super) fn read(mut input: impl BufRead, out: &mut Collector) -> Result<(), Failure> {
    let mut buf = Vec::new();
    let mut line = 0u64;
    while let Some(too_long) = next_line(&mut input, &mut buf, MAX_LINE_BYTES)? {
        line += 1;
        out.summary.lines += 1;
        let text = String::from_utf8_lossy(&buf);
        if too_long {
            let why = format!(
                "line longer than {} MiB: not a push record (is the file JSONL?)",
                MAX_LINE_BYTES >> 20
            );
            out.bad(line, (None, why), &text)?;
            continue;
        }
        let Ok(text) = std::str::from_utf8(&buf) else {
            let why = "not UTF-8 text: export the pushes as UTF-8".to_string();
            out.bad(line, (None, why), &text)?;
            continue;
        };
        if text.trim().is_empty() {
            out.summary.blank_lines += 1;
            continue;
        }
        match parse(text) {
            Ok(record) => out.push(line, record),
            Err(why) => out.bad(line, why, text)?,
        }
    }
    Ok(())
}

/// One line as a record, or the field at fault and why.
pub(crate) fn parse(line: &str) -> Result<PushRecord, (Option<String>, String)> {
    // Leading blanks are left for serde_json to skip, so its columns are the file's.
    let line = line.trim_end();
    if !line.trim_start().starts_with('{') {
        return Err((
            None,
            "expected a JSON object (one push record per line)".to_string(),
        ));
    }
    let mut de = serde_json::Deserializer::from_str(line);
    let record: PushRecord = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| field_error(e.path(), json_message(e.inner())))?;
    de.end().map_err(|e| {
        let why = format!("{}: one push record per line", json_message(&e));
        (None, why)
    })?;
    Ok(record)
}

/// Reads the next line into `buf` without its line ending; `None` at the end of the input.
/// A line beyond `limit` keeps its first `limit` bytes and is flagged.
fn next_line(
    input: &mut impl BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Option<bool>> {
    buf.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let available = match input.fill_buf() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => other?,
        };
        if available.is_empty() {
            break;
        }
        any = true;
        let (content, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (i, true),
            None => (available.len(), false),
        };
        let room = limit.saturating_sub(buf.len());
        too_long |= content > room;
        buf.extend_from_slice(&available[..content.min(room)]);
        input.consume(content + usize::from(done));
        if done {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(too_long))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_endings_and_a_limit() {
        let mut input = &b"ab\r\ncdefgh\n\nlast"[..];
        let mut buf = Vec::new();
        let mut lines = Vec::new();
        while let Some(too_long) = next_line(&mut input, &mut buf, 4).unwrap() {
            lines.push((String::from_utf8(buf.clone()).unwrap(), too_long));
        }
        assert_eq!(
            lines,
            [
                ("ab".to_string(), false),
                ("cdef".to_string(), true),
                (String::new(), false),
                ("last".to_string(), false)
            ]
        );
    }

    #[test]
    fn trailing_data_after_the_object() {
        let (field, why) = parse(r#"{"sent_at":1779288420000} {"sent_at":1}"#).unwrap_err();
        assert_eq!(field, None);
        assert!(why.contains("trailing characters"), "{why}");
    }

    #[test]
    fn columns_count_from_the_start_of_the_line() {
        let (field, why) = parse(r#"   {"sent_at":"x"}"#).unwrap_err();
        assert_eq!(field.as_deref(), Some("sent_at"));
        assert!(why.ends_with("(column 17)"), "{why}");
    }
}
