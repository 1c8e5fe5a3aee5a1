//! The column path. A Parquet file whose columns are plainly typed (what DuckDB, Spark,
//! ClickHouse, BigQuery and pandas write for a table of push records, with `attr.<name>` columns
//! or one `attrs` MAP or LIST of {key, value}) is read a batch of rows at a time, column by
//! column, with the parquet crate's typed column readers, and each row fills one record that is
//! reused for the next: no row object, no JSON, no allocation per row once the attribute names
//! are known. Columns the caller did not ask for
//! ([`RecordReaderBuilder::fields`](crate::RecordReaderBuilder::fields)) are not decoded.
//!
//! A value the fast conversion does not take as is (a time before 1973, a status of 999, bytes
//! that are not UTF-8, a row without `sent_at`) sends its row through the JSON object and the
//! contract's serde rules that the row path uses, so a bad row reads the same on either path.

use parquet::basic::{ConvertedType, LogicalType, TimeUnit, TimestampType, Type as Physical};
use parquet::file::reader::FileReader;
use parquet::schema::types::{ColumnDescriptor, SchemaDescriptor};
use pushtrace_model::{
    PushRecord, Timestamp, expiration_seconds, http_status, push_time_from_micros,
    push_time_from_millis,
};
use serde_json::{Map, Value};

mod batch;
mod pairs;

use super::schema::{Col, Kind};
use super::{GroupRead, column_error, millis};
use crate::csv::merge_attrs;
use crate::error::ReadError;
use crate::fields::{RowError, record_from_object};
use crate::format;
use crate::sink::RecordSink;
use crate::summary::Tally;
use batch::{Batch, Cell, Cursor, Reader};
use pairs::{PairsShape, fill_pairs, pairs_object};

/// Rows decoded per column before they are put together: small enough that a worker's buffers
/// stay in the hundreds of kilobytes, large enough that a call per column costs nothing.
const BATCH_ROWS: usize = 4096;

/// Which field of the record a column fills.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    SentAt,
    QueuedAt,
    ApnsTimestamp,
    RespondedAt,
    ReceivedAt,
    ReportedAt,
    Deadline,
    Priority,
    ApnsStatus,
    Expiration,
    MustReport,
    PushId,
    CallId,
    Device,
    Topic,
    PushType,
    ApnsReason,
    ApnsId,
    ApnsUniqueId,
    Attr(String),
    /// Every attribute, from an `attrs` MAP or LIST.
    AttrsPairs,
}

impl Target {
    fn of(col: &Col) -> Option<Target> {
        Some(match &col.kind {
            Kind::Attr(name) => Target::Attr(name.clone()),
            _ => match col.name.as_str() {
                "sent_at" => Target::SentAt,
                "queued_at" => Target::QueuedAt,
                "apns_timestamp" => Target::ApnsTimestamp,
                "responded_at" => Target::RespondedAt,
                "received_at" => Target::ReceivedAt,
                "reported_at" => Target::ReportedAt,
                "deadline" => Target::Deadline,
                "priority" => Target::Priority,
                "apns_status" => Target::ApnsStatus,
                "expiration" => Target::Expiration,
                "must_report" => Target::MustReport,
                "push_id" => Target::PushId,
                "call_id" => Target::CallId,
                "device" => Target::Device,
                "topic" => Target::Topic,
                "push_type" => Target::PushType,
                "apns_reason" => Target::ApnsReason,
                "apns_id" => Target::ApnsId,
                "apns_unique_id" => Target::ApnsUniqueId,
                _ => return None,
            },
        })
    }

    fn time<'r>(&self, record: &'r mut PushRecord) -> Option<&'r mut Option<Timestamp>> {
        Some(match self {
            Target::QueuedAt => &mut record.queued_at,
            Target::ApnsTimestamp => &mut record.apns_timestamp,
            Target::RespondedAt => &mut record.responded_at,
            Target::ReceivedAt => &mut record.received_at,
            Target::ReportedAt => &mut record.reported_at,
            Target::Deadline => &mut record.deadline,
            _ => return None,
        })
    }

    fn text<'r>(&self, record: &'r mut PushRecord) -> Option<&'r mut Option<String>> {
        Some(match self {
            Target::PushId => &mut record.push_id,
            Target::CallId => &mut record.call_id,
            Target::Device => &mut record.device,
            Target::Topic => &mut record.topic,
            Target::PushType => &mut record.push_type,
            Target::ApnsReason => &mut record.apns_reason,
            Target::ApnsId => &mut record.apns_id,
            Target::ApnsUniqueId => &mut record.apns_unique_id,
            _ => return None,
        })
    }
}

/// What an INT64 time column counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scale {
    Millis,
    Micros,
    Nanos,
    /// A plain integer: epoch milliseconds, as a JSON number would be.
    EpochMillis,
}

/// One column the path reads: where it goes and how its values are decoded.
#[derive(Debug)]
struct Slot {
    /// Index of the top-level column.
    column: usize,
    /// Index of its leaf (of the key leaf, for an `attrs` MAP or LIST).
    leaf: usize,
    target: Target,
    scale: Scale,
    /// Where the key and value leaves of an `attrs` MAP or LIST are, and what its levels mean.
    pairs: Option<PairsShape>,
}

/// The columns a file is read through, or `None` when a column the caller wants is not plainly
/// typed (a time as text, a UUID, an INT96, a map of non-text keys): such a file takes the row
/// path.
#[derive(Debug)]
pub(super) struct Plan {
    slots: Vec<Slot>,
    /// The attribute slots in the order of their names: the order of a record's `attrs`.
    attrs_by_name: Vec<usize>,
    /// The slot of an `attrs` MAP or LIST, when the file has one.
    pairs: Option<usize>,
}

/// An integer column read as the number it holds.
fn plain_integer(leaf: &ColumnDescriptor) -> bool {
    matches!(
        (leaf.physical_type(), leaf.converted_type()),
        (Physical::INT32, ConvertedType::NONE | ConvertedType::INT_32)
            | (Physical::INT64, ConvertedType::NONE | ConvertedType::INT_64)
    ) && !matches!(leaf.logical_type_ref(), Some(LogicalType::Timestamp(_)))
}

/// A BYTE_ARRAY column of text.
fn string(leaf: &ColumnDescriptor) -> bool {
    leaf.physical_type() == Physical::BYTE_ARRAY
        && matches!(
            leaf.converted_type(),
            ConvertedType::NONE | ConvertedType::UTF8 | ConvertedType::ENUM | ConvertedType::JSON
        )
}

/// An attribute's value the path decodes: text, a plain integer or a boolean.
fn attr_value(leaf: &ColumnDescriptor) -> bool {
    string(leaf) || plain_integer(leaf) || leaf.physical_type() == Physical::BOOLEAN
}

/// What an INT64 time column counts; `None` for times the path leaves to the row path.
fn time_scale(leaf: &ColumnDescriptor) -> Option<Scale> {
    if leaf.physical_type() != Physical::INT64 {
        return None;
    }
    Some(match (leaf.logical_type_ref(), leaf.converted_type()) {
        (Some(LogicalType::Timestamp(TimestampType { unit, .. })), _) => match unit {
            TimeUnit::MILLIS => Scale::Millis,
            TimeUnit::MICROS => Scale::Micros,
            TimeUnit::NANOS => Scale::Nanos,
        },
        (_, ConvertedType::TIMESTAMP_MILLIS) => Scale::Millis,
        (_, ConvertedType::TIMESTAMP_MICROS) => Scale::Micros,
        _ if plain_integer(leaf) => Scale::EpochMillis,
        _ => return None,
    })
}

impl Plan {
    pub(super) fn of(
        cols: &[Col],
        schema: &SchemaDescriptor,
        wanted: impl Fn(&str) -> bool,
    ) -> Option<Plan> {
        let mut slots = Vec::new();
        for (column, col) in cols.iter().enumerate() {
            let field = match &col.kind {
                Kind::Attr(_) | Kind::AttrsJson | Kind::AttrsMap | Kind::AttrsList => "attrs",
                _ => col.name.as_str(),
            };
            if field != "sent_at" && !wanted(field) {
                continue;
            }
            let mut leaves =
                (0..schema.num_columns()).filter(|&l| schema.get_column_root_idx(l) == column);
            if matches!(col.kind, Kind::AttrsMap | Kind::AttrsList) {
                let shape = PairsShape::of(schema, column)?;
                slots.push(Slot {
                    column,
                    leaf: shape.key,
                    target: Target::AttrsPairs,
                    scale: Scale::EpochMillis,
                    pairs: Some(shape),
                });
                continue;
            }
            let leaf = leaves.next()?;
            let flat = schema.column(leaf);
            if leaves.next().is_some()
                || flat.max_rep_level() != 0
                || flat.path().parts().len() != 1
            {
                return None;
            }
            let scale = match &col.kind {
                Kind::Time(_) => time_scale(&flat)?,
                Kind::Int if plain_integer(&flat) => Scale::EpochMillis,
                Kind::Bool if flat.physical_type() == Physical::BOOLEAN => Scale::EpochMillis,
                Kind::Text if string(&flat) && !col.uuid => Scale::EpochMillis,
                Kind::Attr(_) if attr_value(&flat) => Scale::EpochMillis,
                _ => return None,
            };
            slots.push(Slot {
                column,
                leaf,
                target: Target::of(col)?,
                scale,
                pairs: None,
            });
        }
        let mut attrs_by_name: Vec<usize> = (0..slots.len())
            .filter(|&i| matches!(slots[i].target, Target::Attr(_)))
            .collect();
        let pairs = slots.iter().position(|s| s.target == Target::AttrsPairs);
        // Attributes given both ways take the row path, which names the clash.
        if pairs.is_some() && !attrs_by_name.is_empty() {
            return None;
        }
        attrs_by_name.sort_by(|&a, &b| match (&slots[a].target, &slots[b].target) {
            (Target::Attr(a), Target::Attr(b)) => a.cmp(b),
            _ => std::cmp::Ordering::Equal,
        });
        Some(Plan {
            slots,
            attrs_by_name,
            pairs,
        })
    }

    /// Reads one row group into the sink; `Ok(false)` when a strict read met a bad row.
    pub(super) fn read_group<S: RecordSink>(
        &self,
        at: &GroupRead<'_>,
        sink: &mut S,
        tally: &mut Tally,
    ) -> Result<bool, ReadError> {
        let cols = at.cols;
        let data = |why: String| at.data_error(why);
        let rows_reader = at
            .reader
            .get_row_group(at.group)
            .map_err(|e| data(e.to_string()))?;
        let rows = usize::try_from(rows_reader.metadata().num_rows()).unwrap_or(0);
        let batch = |leaf: usize, repeated: bool| -> Result<Batch, ReadError> {
            let reader = rows_reader
                .get_column_reader(leaf)
                .map_err(|e| data(e.to_string()))?;
            let max_def = rows_reader
                .metadata()
                .column(leaf)
                .column_descr()
                .max_def_level();
            Ok(Batch::new(reader, max_def, repeated))
        };
        let mut columns = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            columns.push(match slot.pairs {
                None => Reader::Flat(batch(slot.leaf, false)?),
                Some(shape) => Reader::Pairs {
                    key: batch(shape.key, true)?,
                    value: Box::new(batch(shape.value, true)?),
                    shape,
                },
            });
        }
        let mut record = PushRecord::new(Timestamp::from_utc_micros(0));
        let mut cursors = vec![Cursor::default(); columns.len()];
        let mut done = 0;
        while done < rows {
            let want = BATCH_ROWS.min(rows - done);
            for (batch, slot) in columns.iter_mut().zip(&self.slots) {
                let got = batch.read(want).map_err(data)?;
                if got != want {
                    return Err(data(format!(
                        "column `{}` holds {} rows where the row group says {rows}",
                        cols[slot.column].name,
                        done + got
                    )));
                }
            }
            cursors.fill(Cursor::default());
            let mut cells = Vec::with_capacity(columns.len());
            let mut seen = Vec::new();
            for i in 0..want {
                cells.clear();
                cells.extend(
                    columns
                        .iter()
                        .zip(cursors.iter_mut())
                        .map(|(batch, cursor)| batch.cell(cursor)),
                );
                let row = done + i;
                if self.fill(&mut record, &cells, &mut seen).is_some() {
                    tally.rows += 1;
                    sink.record(&record, at.at(row));
                    continue;
                }
                // The fast conversion left this row: the contract's rules say what it is.
                match self.slow(cols, &cells) {
                    Ok(slow) => {
                        tally.rows += 1;
                        sink.record(&slow, at.at(row));
                    }
                    Err((why, excerpt)) => {
                        if !at.bad_row(tally, row, why, excerpt) {
                            return Ok(false);
                        }
                    }
                }
            }
            done += want;
        }
        Ok(true)
    }

    /// Fills the record from one row's cells; `None` when a value needs the contract's rules.
    fn fill<'a>(
        &self,
        record: &mut PushRecord,
        cells: &[Cell<'a>],
        seen: &mut Vec<&'a [u8]>,
    ) -> Option<()> {
        // The attributes: when the row has every one and so had the last (the common case),
        // the record's values are overwritten in name order without a lookup.
        if let Some(pairs) = self.pairs {
            let Cell::Pairs(row) = cells[pairs] else {
                return None;
            };
            fill_pairs(&mut record.attrs, row, seen)?;
        }
        let every = self
            .attrs_by_name
            .iter()
            .all(|&i| !matches!(cells[i], Cell::Null));
        if every && record.attrs.len() == self.attrs_by_name.len() {
            for (value, &i) in record.attrs.values_mut().zip(&self.attrs_by_name) {
                attr_text(value, cells[i])?;
            }
        } else {
            for &i in &self.attrs_by_name {
                let Target::Attr(name) = &self.slots[i].target else {
                    continue;
                };
                if matches!(cells[i], Cell::Null) {
                    record.attrs.remove(name);
                    continue;
                }
                let value = match record.attrs.get_mut(name) {
                    Some(value) => value,
                    None => record.attrs.entry(name.clone()).or_default(),
                };
                attr_text(value, cells[i])?;
            }
        }
        for (slot, cell) in self.slots.iter().zip(cells) {
            match (&slot.target, *cell) {
                (Target::SentAt, Cell::Int(v)) => record.sent_at = time(slot.scale, v)?,
                (Target::SentAt, _) => return None,
                (Target::Attr(_) | Target::AttrsPairs, _) => {}
                (Target::Priority, Cell::Null) => record.priority = None,
                (Target::Priority, Cell::Int(v)) => record.priority = Some(u8::try_from(v).ok()?),
                (Target::ApnsStatus, Cell::Null) => record.apns_status = None,
                (Target::ApnsStatus, Cell::Int(v)) => {
                    record.apns_status = Some(http_status(u16::try_from(v).ok()?).ok()?);
                }
                (Target::Expiration, Cell::Null) => record.expiration = None,
                (Target::Expiration, Cell::Int(v)) => {
                    record.expiration = Some(expiration_seconds(u64::try_from(v).ok()?).ok()?);
                }
                (Target::MustReport, Cell::Null) => record.must_report = None,
                (Target::MustReport, Cell::Bool(b)) => record.must_report = Some(b),
                (target, cell) => {
                    if let Some(field) = target.time(record) {
                        *field = match cell {
                            Cell::Null => None,
                            Cell::Int(v) => Some(time(slot.scale, v)?),
                            _ => return None,
                        };
                    } else if let Some(field) = target.text(record) {
                        match cell {
                            Cell::Null => *field = None,
                            Cell::Text(bytes) => {
                                let text = std::str::from_utf8(bytes).ok()?;
                                let field = field.get_or_insert_with(String::new);
                                field.clear();
                                field.push_str(text);
                            }
                            _ => return None,
                        }
                    } else {
                        return None;
                    }
                }
            }
        }
        Some(())
    }

    /// One row read as the row path reads it: the JSON object its cells stand for, through the
    /// contract's serde rules. On error, the excerpt is that object.
    fn slow(&self, cols: &[Col], cells: &[Cell<'_>]) -> Result<PushRecord, (RowError, String)> {
        let mut object = Map::new();
        let mut attrs = Map::new();
        let mut attrs_column = None;
        for (slot, cell) in self.slots.iter().zip(cells) {
            let col = &cols[slot.column];
            let value = match *cell {
                Cell::Null => continue,
                Cell::Pairs(row) => {
                    if !row.is_null() {
                        let found = pairs_object(row).map_err(|what| {
                            let shown = format::excerpt(&Value::Object(object.clone()).to_string());
                            (column_error(col, what), shown)
                        })?;
                        attrs_column = Some(found);
                    }
                    continue;
                }
                Cell::Bool(b) => Value::Bool(b),
                Cell::Int(v) => match (&col.kind, slot.scale) {
                    (Kind::Time(_), Scale::Millis) => millis(i128::from(v) * 1000),
                    (Kind::Time(_), Scale::Micros) => millis(i128::from(v)),
                    (Kind::Time(_), Scale::Nanos) => millis(i128::from(v.div_euclid(1000))),
                    _ => Value::from(v),
                },
                Cell::Text(bytes) => match (&col.kind, std::str::from_utf8(bytes)) {
                    (_, Ok(text)) => Value::String(text.to_string()),
                    (Kind::Attr(_), Err(_)) => {
                        Value::String(String::from_utf8_lossy(bytes).into_owned())
                    }
                    (_, Err(_)) => {
                        let why = column_error(col, "not UTF-8 text".to_string());
                        return Err((why, format::excerpt(&Value::Object(object).to_string())));
                    }
                },
            };
            match &slot.target {
                Target::Attr(name) => {
                    let text = match value {
                        Value::String(text) => text,
                        other => other.to_string(),
                    };
                    attrs.insert(name.clone(), Value::String(text));
                }
                _ => {
                    object.insert(col.name.clone(), value);
                }
            }
        }
        let excerpt = |object: &Map<String, Value>, attrs: &Map<String, Value>| {
            let mut whole = object.clone();
            if !attrs.is_empty() {
                whole.insert("attrs".to_string(), Value::Object(attrs.clone()));
            }
            format::excerpt(&Value::Object(whole).to_string())
        };
        let shown = excerpt(&object, &attrs);
        merge_attrs(&mut object, attrs, attrs_column).map_err(|why| (why, shown.clone()))?;
        record_from_object(object).map_err(|why| (why, shown))
    }
}

/// An attribute's cell written over `value`: text as is, numbers and booleans as written;
/// `None` for text that is not UTF-8 (the row path keeps it with replacement characters).
fn attr_text(value: &mut String, cell: Cell<'_>) -> Option<()> {
    value.clear();
    match cell {
        Cell::Text(bytes) => value.push_str(std::str::from_utf8(bytes).ok()?),
        Cell::Int(n) => {
            use std::fmt::Write;
            let _ = write!(value, "{n}");
        }
        Cell::Bool(b) => value.push_str(if b { "true" } else { "false" }),
        Cell::Null | Cell::Pairs(_) => return None,
    }
    Some(())
}

/// A time column's value as a push time; `None` when out of the contract's range.
fn time(scale: Scale, v: i64) -> Option<Timestamp> {
    match scale {
        Scale::Millis => push_time_from_micros(v.checked_mul(1000)?).ok(),
        Scale::Micros => push_time_from_micros(v).ok(),
        Scale::Nanos => push_time_from_micros(v.div_euclid(1000)).ok(),
        Scale::EpochMillis => push_time_from_millis(v).ok(),
    }
}
