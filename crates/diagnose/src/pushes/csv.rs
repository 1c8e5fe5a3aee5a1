//! Pushes as CSV: a header row of `PushRecord` field names, then one push per row.
//!
//! Attributes are columns named `attr.<name>` (one per attribute, an empty cell for "not
//! known"), which is what a spreadsheet or `COPY … TO … CSV HEADER` produces without effort;
//! a server whose attributes vary per push can instead write them as one `attrs` column holding
//! a JSON object. Unknown columns are refused at the header, where one message covers every row.

use std::collections::{HashSet, VecDeque};
use std::io::{self, Read};

use ::csv::{ErrorKind, ReaderBuilder, StringRecord, Terminator, Trim};
use pushtrace_model::PushRecord;
use serde_json::{Map, Value};

use super::{Collector, Failure, closest_field, field_error, json_message};

/// What a header cell names.
#[derive(Debug)]
enum Column {
    Field(&'static str),
    /// `attr.<name>`
    Attr(String),
    /// A JSON object of attributes.
    Attrs,
}

impl Column {
    fn name(&self) -> String {
        match self {
            Column::Field(name) => name.to_string(),
            Column::Attr(name) => format!("attr.{name}"),
            Column::Attrs => "attrs".to_string(),
        }
    }
}

pub(super) fn read(input: impl Read, out: &mut Collector) -> Result<(), Failure> {
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(Trim::All)
        // Line feeds only: with CRLF as a terminator csv misplaces the start of the next
        // record; a carriage return is then trailing whitespace, trimmed with the cell.
        .terminator(Terminator::Any(b'\n'))
        .from_reader(LineIndex::new(input));
    let result = read_rows(&mut reader, out);
    out.summary.lines = reader.get_ref().lines();
    result
}

fn read_rows<R: Read>(
    reader: &mut ::csv::Reader<LineIndex<R>>,
    out: &mut Collector,
) -> Result<(), Failure> {
    let mut record = StringRecord::new();
    let columns = match next_record(reader, &mut record, out) {
        Ok(true) => {
            let line = line_of(reader, record.position());
            header(&record).map_err(|why| out.header_error(line, why))?
        }
        Ok(false) => return Err(out.header_error(1, "no header row".to_string()).into()),
        Err(e) => {
            let line = line_of(reader, e.position());
            return match e.into_kind() {
                ErrorKind::Io(e) => Err(Failure::Io(e)),
                kind => Err(out.header_error(line, csv_message(&kind)).into()),
            };
        }
    };
    loop {
        match next_record(reader, &mut record, out) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = line_of(reader, record.position());
                match row(&columns, &record) {
                    Ok(push) => out.push(line, push),
                    Err(why) => {
                        let text = record.iter().collect::<Vec<_>>().join(",");
                        out.bad(line, why, &text)?;
                    }
                }
            }
            Err(e) => {
                let line = line_of(reader, e.position());
                match e.into_kind() {
                    ErrorKind::Io(e) => return Err(Failure::Io(e)),
                    ErrorKind::Utf8 { err, .. } => {
                        let field = columns.get(err.field()).map(Column::name);
                        let why = "not UTF-8 text: export the pushes as UTF-8".to_string();
                        out.bad(line, (field, why), "")?;
                    }
                    kind => out.bad(line, (None, csv_message(&kind)), "")?,
                }
            }
        }
    }
}

/// The next record that is not a blank line (csv skips empty lines itself, but a lone carriage
/// return reads as one empty cell).
fn next_record<R: Read>(
    reader: &mut ::csv::Reader<LineIndex<R>>,
    record: &mut StringRecord,
    out: &mut Collector,
) -> Result<bool, ::csv::Error> {
    loop {
        let more = reader.read_record(record)?;
        if more && record.len() == 1 && record[0].is_empty() {
            out.summary.blank_lines += 1;
            continue;
        }
        return Ok(more);
    }
}

/// The 1-based line a record starts on. The csv crate's own line count is off after blank
/// lines, so lines are counted here from the record's byte offset.
fn line_of<R: Read>(
    reader: &mut ::csv::Reader<LineIndex<R>>,
    position: Option<&::csv::Position>,
) -> u64 {
    match position {
        Some(p) => reader.get_mut().line_at(p.byte()),
        None => 0,
    }
}

fn csv_message(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::Utf8 { .. } => "not UTF-8 text: export the pushes as UTF-8".to_string(),
        other => format!("not a CSV row: {other:?}"),
    }
}

/// The columns of the header row, or why it cannot be read as push record columns.
fn header(record: &StringRecord) -> Result<Vec<Column>, String> {
    let mut seen = HashSet::new();
    let mut columns = Vec::with_capacity(record.len());
    for (i, name) in record.iter().enumerate() {
        let column = if name.is_empty() {
            return Err(format!("column {} has no name", i + 1));
        } else if let Some(attr) = name.strip_prefix("attr.") {
            if attr.is_empty() {
                return Err("column `attr.` names no attribute: write `attr.<name>`".to_string());
            }
            Column::Attr(attr.to_string())
        } else if name == "attrs" {
            Column::Attrs
        } else if let Some(field) = PushRecord::FIELDS.into_iter().find(|f| *f == name) {
            Column::Field(field)
        } else {
            let hint = closest_field(name)
                .map(|known| format!("did you mean `{known}`? Or "))
                .unwrap_or_default();
            return Err(format!(
                "column `{name}` is not a push record field: {hint}name it `attr.{name}` to keep \
                 it as an attribute (docs/formats.md, \"Push records\")"
            ));
        };
        if !seen.insert(name) {
            return Err(format!("column `{name}` appears twice"));
        }
        columns.push(column);
    }
    if !seen.contains("sent_at") {
        return Err(
            "no `sent_at` column: every push needs the time the server sent it".to_string(),
        );
    }
    Ok(columns)
}

/// One row as the JSON object it stands for, deserialized by the contract's own rules.
fn row(columns: &[Column], record: &StringRecord) -> Result<PushRecord, (Option<String>, String)> {
    if record.len() != columns.len() {
        return Err((
            None,
            format!(
                "{} cells where the header has {} columns (a comma inside a value needs quotes)",
                record.len(),
                columns.len()
            ),
        ));
    }
    let mut object = Map::new();
    let mut attrs = Map::new();
    let mut attrs_column = None;
    for (column, cell) in columns.iter().zip(record.iter()) {
        if cell.is_empty() {
            continue;
        }
        match column {
            Column::Field(name) => {
                object.insert(name.to_string(), typed(name, cell));
            }
            Column::Attr(name) => {
                attrs.insert(name.clone(), Value::String(cell.to_string()));
            }
            Column::Attrs => {
                let bad = |why: String| (Some("attrs".to_string()), why);
                match serde_json::from_str::<Value>(cell) {
                    Ok(Value::Object(map)) => attrs_column = Some(map),
                    Ok(_) => return Err(bad("expected a JSON object of attributes".into())),
                    Err(e) => {
                        return Err(bad(format!("not a JSON object: {}", json_message(&e))));
                    }
                }
            }
        }
    }
    for (name, value) in attrs_column.into_iter().flatten() {
        if attrs.contains_key(&name) {
            return Err((
                Some(format!("attr.{name}")),
                format!("attribute `{name}` is given both in its column and in `attrs`"),
            ));
        }
        attrs.insert(name, value);
    }
    if !attrs.is_empty() {
        object.insert("attrs".to_string(), Value::Object(attrs));
    }
    serde_path_to_error::deserialize(Value::Object(object))
        .map_err(|e| field_error(e.path(), json_message(e.inner())))
}

/// A cell as the JSON value its column holds. Text that does not fit stays text, so the
/// contract's own error names the field and what it expected.
fn typed(field: &str, cell: &str) -> Value {
    match field {
        "priority" | "apns_status" => cell
            .parse::<i64>()
            .map_or_else(|_| Value::String(cell.to_string()), Value::from),
        "must_report" => match cell.to_ascii_lowercase().as_str() {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => Value::String(cell.to_string()),
        },
        _ => Value::String(cell.to_string()),
    }
}

/// Counts the lines of the input as csv reads it, so that a record's byte offset can be turned
/// into its line. Only the line feeds csv has read ahead but not yet reached are held.
struct LineIndex<R> {
    inner: R,
    /// Bytes read so far.
    offset: u64,
    /// Offsets of line feeds not yet passed by [`LineIndex::line_at`].
    ahead: VecDeque<u64>,
    /// Line feeds before the last offset asked for.
    passed: u64,
    newlines: u64,
    last: Option<u8>,
}

impl<R> LineIndex<R> {
    fn new(inner: R) -> Self {
        LineIndex {
            inner,
            offset: 0,
            ahead: VecDeque::new(),
            passed: 0,
            newlines: 0,
            last: None,
        }
    }

    /// The line of the record csv says starts at `offset`. csv puts the start of a record that
    /// follows blank lines at the first of them, so line feeds right at the offset are blank
    /// lines passed over; offsets only grow as records are read.
    fn line_at(&mut self, mut offset: u64) -> u64 {
        while let Some(&newline) = self.ahead.front() {
            if newline > offset {
                break;
            }
            if newline == offset {
                offset += 1;
            }
            self.ahead.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }

    /// Lines of the input read so far (a last line without a line feed counts).
    fn lines(&self) -> u64 {
        self.newlines + u64::from(self.last.is_some_and(|b| b != b'\n'))
    }
}

impl<R: Read> Read for LineIndex<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                self.ahead.push_back(self.offset + i as u64);
                self.newlines += 1;
            }
        }
        self.offset += n as u64;
        if n > 0 {
            self.last = Some(buf[n - 1]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(line: &str) -> Result<Vec<Column>, String> {
        header(&StringRecord::from(line.split(',').collect::<Vec<_>>()))
    }

    #[test]
    fn header_rules() {
        assert!(header_of("sent_at,topic,attr.carrier,attrs").is_ok());
        let why = header_of("sent_at,carrier").unwrap_err();
        assert!(why.contains("name it `attr.carrier`"), "{why}");
        let why = header_of("sent_at,recieved_at").unwrap_err();
        assert!(why.contains("did you mean `received_at`"), "{why}");
        assert!(header_of("topic").unwrap_err().contains("no `sent_at`"));
        assert!(
            header_of("sent_at,topic,topic")
                .unwrap_err()
                .contains("twice")
        );
        assert!(
            header_of("sent_at,attr.")
                .unwrap_err()
                .contains("attr.<name>")
        );
    }

    #[test]
    fn lines_of_lf_crlf_and_blank_line_files() {
        for (text, want) in [
            ("a,b\r\n1,2\r\n3,4\r\n", [1, 2, 3]),
            ("a,b\n1,2\n3,4", [1, 2, 3]),
            ("a,b\n\n1,2\r\n\r\n3,4\n", [1, 3, 5]),
            ("a,b\n\n\n1,2\n\n\n\n3,4", [1, 4, 8]),
            ("a,b\n\"x\ny\",2\n3,4\n", [1, 2, 4]),
        ] {
            let mut reader = ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .trim(Trim::All)
                .terminator(Terminator::Any(b'\n'))
                .from_reader(LineIndex::new(text.as_bytes()));
            let mut record = StringRecord::new();
            let mut lines = Vec::new();
            while reader.read_record(&mut record).unwrap() {
                if record.len() == 1 && record[0].is_empty() {
                    continue;
                }
                let position = record.position().cloned();
                lines.push(line_of(&mut reader, position.as_ref()));
            }
            assert_eq!(lines, want, "{text:?}");
        }
    }
}
