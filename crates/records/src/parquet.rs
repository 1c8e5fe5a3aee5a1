//! Push records as Parquet, the export of BigQuery, Snowflake, Spark, ClickHouse and DuckDB.
//!
//! Columns are named like the CSV header: the contract's field names, `attr.<name>` columns,
//! or one `attrs` column (a MAP<string, string>, a LIST<STRUCT<key, value>> as BigQuery
//! exports a repeated record, or a JSON string). The schema is checked once, before any row:
//! an unknown column or a column of a type the field cannot hold stops the read with one
//! message naming the column, its Parquet type and what is accepted.
//!
//! Row groups are read in parallel, one at a time per worker, on one of two paths (no arrow:
//! see docs/architecture.md for the build cost). A file of plainly typed columns, what
//! warehouses export for a table with `attr.<name>` columns or an `attrs` MAP or LIST, takes the
//! column path ([`columns`]): typed column readers, one reused record, only the columns asked
//! for. Any other (an `attrs` JSON string, times as text, UUIDs, INT96) takes the row path:
//! each row becomes the JSON object it stands for and goes through the contract's serde
//! definition, like a CSV row, with the crate's row API. Only (physical, annotation) pairs that API
//! converts are let through the schema check: others are refused, not decoded.

mod columns;
mod schema;

use std::fs::File;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::channel;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};
use pushtrace_model::{PushRecord, Timestamp};
use serde_json::{Map, Value};

use crate::csv::{attrs_json, merge_attrs, typed};
use crate::error::{BadRow, ReadError, RowLocation};
use crate::fields::{RowError, record_from_object};
use crate::format::{self, RecordFormat};
use crate::reader::{RecordReader, finish};
use crate::sink::RecordSink;
use crate::summary::{ReadSummary, Tally};

use schema::{Col, Kind, Unit};

pub(crate) fn read<S: RecordSink>(
    options: &RecordReader,
    path: &Path,
    name: &str,
    file: File,
    make_sink: impl Fn() -> S + Sync,
    progress: &dyn Fn(u64),
) -> Result<(S, ReadSummary), ReadError> {
    let reader = open(file).map_err(|why| ReadError::NotParquet {
        path: name.to_string(),
        why,
    })?;
    let schema_descr = reader.metadata().file_metadata().schema_descr();
    let cols = schema::columns(name, schema_descr)?;
    let plan = columns::Plan::of(&cols, schema_descr, |field| options.wants(field));
    let groups = reader.num_row_groups();
    let mut summary = ReadSummary::new(name, RecordFormat::Parquet, false, false);
    summary.detected = options_detected(options);
    let next = AtomicUsize::new(0);
    let stop_at = AtomicU64::new(u64::MAX);
    let failure = Mutex::new(None::<ReadError>);
    let (done, finished) = channel::<u64>();
    let threads = options.threads().min(groups.max(1));
    let work = |done: std::sync::mpsc::Sender<u64>| {
        let mut sink = make_sink();
        let mut tally = Tally::new(keep(options));
        // A reader of its own: clones of one `File` share its offset, and the row API seeks
        // and reads, so two workers on one descriptor read each other's bytes.
        let own = match File::open(path).map(open) {
            Ok(Ok(own)) => own,
            Ok(Err(why)) => {
                let e = ReadError::NotParquet {
                    path: name.to_string(),
                    why,
                };
                if let Ok(mut slot) = failure.lock() {
                    slot.get_or_insert(e);
                }
                return (sink, tally);
            }
            Err(source) => {
                if let Ok(mut slot) = failure.lock() {
                    slot.get_or_insert(ReadError::Io {
                        path: name.to_string(),
                        source,
                    });
                }
                return (sink, tally);
            }
        };
        loop {
            let group = next.fetch_add(1, Ordering::Relaxed);
            if group >= groups || group as u64 > stop_at.load(Ordering::Relaxed) {
                break;
            }
            // The parquet crate panics on some corrupt row groups (60: "column start and
            // length should not be negative", an assert in its bit reader): this group's
            // data error, not a crash of the caller.
            let at = GroupRead {
                reader: &own,
                name,
                cols: &cols,
                group,
                strict: options.strict(),
            };
            let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &plan {
                Some(plan) => plan.read_group(&at, &mut sink, &mut tally),
                None => read_group(&at, &mut sink, &mut tally),
            }));
            let result = read.unwrap_or_else(|_| {
                Err(ReadError::ParquetData {
                    path: name.to_string(),
                    group,
                    why: "the Parquet decoder failed on this row group".to_string(),
                })
            });
            match result {
                Ok(true) => {}
                Ok(false) => {
                    stop_at.fetch_min(group as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    if let Ok(mut slot) = failure.lock() {
                        slot.get_or_insert(e);
                    }
                    stop_at.fetch_min(0, Ordering::Relaxed);
                    break;
                }
            }
            let size = reader.metadata().row_group(group).compressed_size();
            let _ = done.send(u64::try_from(size).unwrap_or(0));
        }
        (sink, tally)
    };
    let (sink, tally) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let done = done.clone();
                scope.spawn(|| work(done))
            })
            .collect();
        drop(done);
        let mut bytes = 0;
        for size in finished {
            bytes += size;
            progress(bytes);
        }
        let mut merged: Option<(S, Tally)> = None;
        for worker in workers {
            let (sink, tally) = match worker.join() {
                Ok(done) => done,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            merged = Some(match merged {
                None => (sink, tally),
                Some((mut all, mut all_tally)) => {
                    all.merge(sink);
                    all_tally.merge(tally);
                    (all, all_tally)
                }
            });
        }
        merged.unwrap_or_else(|| (make_sink(), Tally::new(0)))
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    summary.bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    finish(summary, sink, tally)
}

/// Reads the footer. The parquet crate's footer decoder can panic on corrupt metadata (57 did,
/// found by fuzz/fuzz_targets/parquet.rs: `unwrap`s in its thrift reader; 60 answers errors for
/// those files, the guard stays); such a file is "not readable", not a crash of the caller.
fn open(file: File) -> Result<SerializedFileReader<File>, String> {
    std::panic::catch_unwind(|| SerializedFileReader::new(file))
        .map_err(|_| "its footer (the metadata) cannot be decoded".to_string())?
        .map_err(|e| e.to_string())
}

fn options_detected(options: &RecordReader) -> bool {
    options.format().is_none()
}

fn keep(options: &RecordReader) -> usize {
    options.max_bad_samples()
}

/// The read of one row group, on either path: where it is, and what a bad row does.
struct GroupRead<'a> {
    reader: &'a SerializedFileReader<File>,
    name: &'a str,
    cols: &'a [Col],
    group: usize,
    strict: bool,
}

impl GroupRead<'_> {
    /// The group cannot be decoded: its data error.
    fn data_error(&self, why: impl ToString) -> ReadError {
        ReadError::ParquetData {
            path: self.name.to_string(),
            group: self.group,
            why: why.to_string(),
        }
    }

    fn at(&self, row: usize) -> RowLocation {
        RowLocation::Row {
            group: self.group,
            row: row as u64,
        }
    }

    /// Counts a bad row; `false` when the read is strict and stops here.
    fn bad_row(&self, tally: &mut Tally, row: usize, why: RowError, excerpt: String) -> bool {
        let bad = BadRow {
            file: self.name.to_string(),
            at: self.at(row),
            field: why.field,
            message: why.message,
            excerpt,
        };
        if self.strict {
            tally.stop(bad);
            return false;
        }
        tally.bad(bad);
        true
    }
}

/// Reads one row group into the sink through the row API; `Ok(false)` when a strict read met a
/// bad row.
fn read_group<S: RecordSink>(
    at: &GroupRead<'_>,
    sink: &mut S,
    tally: &mut Tally,
) -> Result<bool, ReadError> {
    let rows = at
        .reader
        .get_row_group(at.group)
        .map_err(|e| at.data_error(e))?;
    for (i, row) in rows
        .get_row_iter(None)
        .map_err(|e| at.data_error(e))?
        .enumerate()
    {
        let row = row.map_err(|e| at.data_error(e))?;
        match record(at.cols, &row) {
            Ok(record) => {
                tally.rows += 1;
                sink.record(&record, at.at(i));
            }
            Err(why) => {
                if !at.bad_row(tally, i, why, format::excerpt(&row.to_string())) {
                    return Ok(false);
                }
            }
        }
    }
    Ok(true)
}

/// One row as the JSON object it stands for, deserialized by the contract's rules.
fn record(cols: &[Col], row: &Row) -> Result<PushRecord, RowError> {
    let mut object = Map::new();
    let mut attrs = Map::new();
    let mut attrs_column = None;
    for (col, (_, field)) in cols.iter().zip(row.get_column_iter()) {
        if matches!(field, Field::Null) {
            continue;
        }
        let bad = |what: String| column_error(col, what);
        match &col.kind {
            Kind::Time(unit) => {
                let value = match (field, unit) {
                    (Field::TimestampMillis(ms), _) => millis(i128::from(*ms) * 1000),
                    (Field::TimestampMicros(us), _) => millis(i128::from(*us)),
                    (Field::Long(ns), Unit::Nanos) => millis(i128::from(ns.div_euclid(1000))),
                    (Field::Long(v), _) => Value::from(*v),
                    (Field::Str(text), _) => Value::String(text.clone()),
                    (other, _) => return Err(bad(format!("{other} is not a time"))),
                };
                object.insert(col.name.clone(), value);
            }
            Kind::Int => {
                let value = match integer(field) {
                    Some(n) => n,
                    None => match field {
                        Field::Str(text) => match typed(&col.name, text.trim()) {
                            Value::String(_) if col.name != "expiration" => {
                                return Err(bad(format!("`{text}` is not a whole number")));
                            }
                            value => value,
                        },
                        other => return Err(bad(format!("{other} is not a whole number"))),
                    },
                };
                object.insert(col.name.clone(), value);
            }
            Kind::Bool => {
                let value = match field {
                    Field::Bool(b) => Value::Bool(*b),
                    Field::Str(text) => typed("must_report", text.trim()),
                    other => return Err(bad(format!("{other} is not true or false"))),
                };
                object.insert(col.name.clone(), value);
            }
            Kind::Text => {
                let text = match field {
                    Field::Str(text) => text.clone(),
                    Field::Bytes(bytes) if col.uuid && bytes.len() == 16 => uuid(bytes.data()),
                    Field::Bytes(bytes) => match std::str::from_utf8(bytes.data()) {
                        Ok(text) => text.to_string(),
                        Err(_) => return Err(bad("not UTF-8 text".to_string())),
                    },
                    other => return Err(bad(format!("{other} is not text"))),
                };
                object.insert(col.name.clone(), Value::String(text));
            }
            Kind::Attr(attr) => {
                if let Some(text) = text_of(field) {
                    attrs.insert(attr.clone(), Value::String(text));
                }
            }
            Kind::AttrsJson => match field {
                Field::Str(text) => attrs_column = Some(attrs_json(text)?),
                other => return Err(bad(format!("{other} is not a JSON object"))),
            },
            Kind::AttrsMap => {
                let Field::MapInternal(map) = field else {
                    return Err(bad(format!("{field} is not a map")));
                };
                let mut found = Map::new();
                for (key, value) in map.entries() {
                    pair(&mut found, key, value).map_err(bad)?;
                }
                attrs_column = Some(found);
            }
            Kind::AttrsList => {
                let Field::ListInternal(list) = field else {
                    return Err(bad(format!("{field} is not a list")));
                };
                let mut found = Map::new();
                // The row API reads a two-level LIST (its repeated group is the struct itself,
                // as the spec's backward-compatibility rules say) as a list of one-struct
                // lists: those are the entries.
                let elements = list.elements().iter().flat_map(|element| match element {
                    Field::ListInternal(inner) => inner.elements().iter().collect::<Vec<_>>(),
                    other => vec![other],
                });
                for element in elements {
                    let Field::Group(entry) = element else {
                        return Err(bad(format!("{element} is not a {{key, value}} struct")));
                    };
                    let mut key = &Field::Null;
                    let mut value = &Field::Null;
                    for (name, field) in entry.get_column_iter() {
                        match name.as_str() {
                            "key" => key = field,
                            "value" => value = field,
                            _ => {}
                        }
                    }
                    pair(&mut found, key, value).map_err(bad)?;
                }
                attrs_column = Some(found);
            }
        }
    }
    merge_attrs(&mut object, attrs, attrs_column)?;
    record_from_object(object)
}

/// A value its column's field cannot take: what it is, the column's type, what is accepted.
fn column_error(col: &Col, what: String) -> RowError {
    RowError::new(
        Some(col.name.clone()),
        format!(
            "{what}: the column is {} in this file; accepted: {}",
            col.parquet_type,
            col.kind.accepted()
        ),
    )
}

/// One attribute of an `attrs` map or list: a text key, a primitive value (null: not known).
pub(super) fn pair(
    found: &mut Map<String, Value>,
    key: &Field,
    value: &Field,
) -> Result<(), String> {
    let Some(key) = text_of(key) else {
        return Err("an attribute without a key".to_string());
    };
    if let Some(value) = text_of(value)
        && found.insert(key.clone(), Value::String(value)).is_some()
    {
        return Err(format!("attribute `{key}` appears twice"));
    }
    Ok(())
}

/// Epoch microseconds as the contract's epoch milliseconds (a fraction for the microseconds).
fn millis(micros: i128) -> Value {
    if micros % 1000 == 0 {
        i64::try_from(micros / 1000).map_or(Value::Null, Value::from)
    } else {
        Value::from(micros as f64 / 1000.0)
    }
}

fn integer(field: &Field) -> Option<Value> {
    Some(match field {
        Field::Byte(n) => Value::from(*n),
        Field::Short(n) => Value::from(*n),
        Field::Int(n) => Value::from(*n),
        Field::Long(n) => Value::from(*n),
        Field::UByte(n) => Value::from(*n),
        Field::UShort(n) => Value::from(*n),
        Field::UInt(n) => Value::from(*n),
        Field::ULong(n) => Value::from(*n),
        _ => return None,
    })
}

/// An attribute value as text: text as is, numbers and booleans as written, times in RFC 3339.
fn text_of(field: &Field) -> Option<String> {
    Some(match field {
        Field::Null => return None,
        Field::Str(text) => text.clone(),
        Field::Bytes(bytes) => String::from_utf8_lossy(bytes.data()).into_owned(),
        Field::Bool(b) => b.to_string(),
        Field::Float(x) => x.to_string(),
        Field::Double(x) => x.to_string(),
        Field::TimestampMillis(ms) => {
            Timestamp::from_utc_micros(ms.saturating_mul(1000)).to_string()
        }
        Field::TimestampMicros(us) => Timestamp::from_utc_micros(*us).to_string(),
        other => match integer(other) {
            Some(n) => n.to_string(),
            None => other.to_string(),
        },
    })
}

/// A 16-byte UUID column as its usual lower-case text, the form APNs answers.
fn uuid(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
