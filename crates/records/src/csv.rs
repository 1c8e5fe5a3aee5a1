//! Push records as CSV: a header row of `PushRecord` field names, then one push per row.
//!
//! Attributes are columns named `attr.<name>` (one per attribute, an empty cell for "not
//! known"), which is what a spreadsheet or `COPY … TO … CSV HEADER` produces without effort;
//! a server whose attributes vary per push can instead write them as one `attrs` column holding
//! a JSON object. Unknown columns are refused at the header, where one message covers every row.
//!
//! A row is turned into the JSON object it stands for (cells typed by column) and deserialized
//! by the contract's own serde definition, so CSV and JSONL cannot drift apart. Rows are parsed
//! from in-memory chunks cut at record boundaries ([`crate::chunk`]), each with the line it
//! starts on, so chunks can be parsed on any thread and lines stay exact.

use std::collections::{HashSet, VecDeque};
use std::io::{self, Read};

use ::csv::{ErrorKind, ReaderBuilder, StringRecord, Terminator, Trim};
use pushtrace_model::PushRecord;
use serde_json::{Map, Value};

use crate::fields::{RowError, json_message, record_from_object, unknown_column};

/// What a header cell names.
#[derive(Clone, Debug)]
pub(crate) enum Column {
    Field(&'static str),
    /// `attr.<name>`
    Attr(String),
    /// A JSON object of attributes.
    Attrs,
}

impl Column {
    pub(crate) fn name(&self) -> String {
        match self {
            Column::Field(name) => name.to_string(),
            Column::Attr(name) => format!("attr.{name}"),
            Column::Attrs => "attrs".to_string(),
        }
    }

    /// What a header cell (or a Parquet column) names, or why it names nothing of the contract.
    pub(crate) fn of(name: &str) -> Result<Column, String> {
        if name.is_empty() {
            Err("a column has no name".to_string())
        } else if let Some(attr) = name.strip_prefix("attr.") {
            if attr.is_empty() {
                return Err("column `attr.` names no attribute: write `attr.<name>`".to_string());
            }
            Ok(Column::Attr(attr.to_string()))
        } else if name == "attrs" {
            Ok(Column::Attrs)
        } else if let Some(field) = PushRecord::FIELDS.into_iter().find(|f| *f == name) {
            Ok(Column::Field(field))
        } else {
            Err(unknown_column(name))
        }
    }
}

/// The reader every CSV chunk goes through: the same settings for the header and the rows.
fn reader<R: Read>(input: R) -> ::csv::Reader<LineIndex<R>> {
    ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(Trim::All)
        // Line feeds only: with CRLF as a terminator csv misplaces the start of the next
        // record; a carriage return is then trailing whitespace, trimmed with the cell.
        .terminator(Terminator::Any(b'\n'))
        .from_reader(LineIndex::new(input))
}

/// The header found at the start of the input.
#[derive(Debug)]
pub(crate) struct Header {
    pub columns: Vec<Column>,
    /// Bytes of the input up to the first row after the header.
    pub end: usize,
    /// Blank lines before it.
    pub blank_lines: u64,
}

/// Reads the header from the start of the input: `Ok(None)` when `text` holds no record yet
/// (only blank lines), `Err((line, why))` when the first record is not push record columns.
pub(crate) fn header(text: &[u8]) -> Result<Option<Header>, (u64, String)> {
    let mut reader = reader(text);
    let mut record = StringRecord::new();
    let mut blank_lines = 0;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(None),
            Ok(true) if record.len() == 1 && record[0].is_empty() => blank_lines += 1,
            Ok(true) => {
                let line = line_of(&mut reader, record.position());
                let columns = columns(&record).map_err(|why| (line, why))?;
                let end = usize::try_from(reader.position().byte()).unwrap_or(text.len());
                return Ok(Some(Header {
                    columns,
                    end: end.min(text.len()),
                    blank_lines,
                }));
            }
            Err(e) => {
                let line = line_of(&mut reader, e.position());
                return Err((line, csv_message(e.kind())));
            }
        }
    }
}

/// What the rows of one chunk gave: a record or a bad row, with the line each starts on.
pub(crate) enum Row {
    Record(Box<PushRecord>),
    Bad(RowError, String),
    Blank,
}

/// Parses the rows of one chunk that starts on line `first_line`, in order; `each` returns
/// false to stop.
pub(crate) fn rows(
    columns: &[Column],
    chunk: &[u8],
    first_line: u64,
    mut each: impl FnMut(u64, Row) -> bool,
) {
    let mut reader = reader(chunk);
    let mut record = StringRecord::new();
    loop {
        let (line, row) = match reader.read_record(&mut record) {
            Ok(false) => return,
            Ok(true) => {
                let line = line_of(&mut reader, record.position());
                if record.len() == 1 && record[0].is_empty() {
                    (line, Row::Blank)
                } else {
                    match row(columns, &record) {
                        Ok(push) => (line, Row::Record(Box::new(push))),
                        Err(why) => {
                            let text = record.iter().collect::<Vec<_>>().join(",");
                            (line, Row::Bad(why, text))
                        }
                    }
                }
            }
            Err(e) => {
                let line = line_of(&mut reader, e.position());
                let why = match e.kind() {
                    ErrorKind::Utf8 { err, .. } => {
                        let field = columns.get(err.field()).map(Column::name);
                        RowError::new(field, "not UTF-8 text: export the pushes as UTF-8")
                    }
                    kind => RowError::new(None, csv_message(kind)),
                };
                (line, Row::Bad(why, String::new()))
            }
        };
        if !each(first_line - 1 + line, row) {
            return;
        }
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
fn columns(record: &StringRecord) -> Result<Vec<Column>, String> {
    let mut seen = HashSet::new();
    let mut columns = Vec::with_capacity(record.len());
    for (i, name) in record.iter().enumerate() {
        if name.is_empty() {
            return Err(format!("column {} has no name", i + 1));
        }
        let column = Column::of(name)?;
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
fn row(columns: &[Column], record: &StringRecord) -> Result<PushRecord, RowError> {
    if record.len() != columns.len() {
        return Err(RowError::new(
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
            Column::Attrs => attrs_column = Some(attrs_json(cell)?),
        }
    }
    merge_attrs(&mut object, attrs, attrs_column)?;
    record_from_object(object)
}

/// An `attrs` cell: a JSON object of attributes.
pub(crate) fn attrs_json(cell: &str) -> Result<Map<String, Value>, RowError> {
    let bad = |why: String| RowError::new(Some("attrs".to_string()), why);
    match serde_json::from_str::<Value>(cell) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad("expected a JSON object of attributes".into())),
        Err(e) => Err(bad(format!("not a JSON object: {}", json_message(&e)))),
    }
}

/// Puts the `attr.<name>` columns and the `attrs` column together under `attrs`; an attribute
/// given both ways is an error.
pub(crate) fn merge_attrs(
    object: &mut Map<String, Value>,
    mut attrs: Map<String, Value>,
    attrs_column: Option<Map<String, Value>>,
) -> Result<(), RowError> {
    for (name, value) in attrs_column.into_iter().flatten() {
        if attrs.contains_key(&name) {
            return Err(RowError::new(
                Some(format!("attr.{name}")),
                format!("attribute `{name}` is given both in its column and in `attrs`"),
            ));
        }
        attrs.insert(name, value);
    }
    if !attrs.is_empty() {
        object.insert("attrs".to_string(), Value::Object(attrs));
    }
    Ok(())
}

/// A cell as the JSON value its column holds. Text that does not fit stays text, so the
/// contract's own error names the field and what it expected.
pub(crate) fn typed(field: &str, cell: &str) -> Value {
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
}

impl<R> LineIndex<R> {
    fn new(inner: R) -> Self {
        LineIndex {
            inner,
            offset: 0,
            ahead: VecDeque::new(),
            passed: 0,
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
}

impl<R: Read> Read for LineIndex<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for i in memchr::memchr_iter(b'\n', &buf[..n]) {
            self.ahead.push_back(self.offset + i as u64);
        }
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(line: &str) -> Result<Vec<Column>, String> {
        columns(&StringRecord::from(line.split(',').collect::<Vec<_>>()))
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
            let mut reader = reader(text.as_bytes());
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

    #[test]
    fn header_after_blank_lines_and_the_first_row() {
        let text = b"\n\nsent_at,topic\n1779288420000,a\n";
        let found = header(text).unwrap().unwrap();
        assert_eq!(&text[found.end..], b"1779288420000,a\n");
        assert!(header(b"\n\n").unwrap().is_none());
        assert_eq!(header(b"topic\n").unwrap_err().0, 1);
    }
}
