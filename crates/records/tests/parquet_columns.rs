//! The column path (flat, typed Parquet files) reads what the contract's serde rules read: the
//! same rows written as JSONL give the same records and the same bad rows, across batches and
//! row groups; columns the caller did not ask for are neither read nor checked.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{
    ConvertedType, LogicalType, Repetition, TimeUnit, TimestampType, Type as Physical,
};
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use pushtrace_model::PushRecord;
use pushtrace_records::{Collect, ReadSummary, RecordReader, RowLocation};
use serde_json::{Map, Value, json};

type Rows = Vec<Vec<Cell>>;

/// One cell as written: a typed value or null.
#[derive(Clone, Debug)]
enum Cell {
    Null,
    Int(i64),
    Bool(bool),
    Bytes(Vec<u8>),
}

struct Column {
    name: &'static str,
    physical: Physical,
    logical: Option<LogicalType>,
    converted: ConvertedType,
}

fn columns() -> Vec<Column> {
    let micros = LogicalType::Timestamp(TimestampType {
        is_adjusted_to_u_t_c: true,
        unit: TimeUnit::MICROS,
    });
    let millis = LogicalType::Timestamp(TimestampType {
        is_adjusted_to_u_t_c: true,
        unit: TimeUnit::MILLIS,
    });
    let nanos = LogicalType::Timestamp(TimestampType {
        is_adjusted_to_u_t_c: false,
        unit: TimeUnit::NANOS,
    });
    let col = |name, physical, logical: Option<LogicalType>, converted| Column {
        name,
        physical,
        logical,
        converted,
    };
    vec![
        col(
            "sent_at",
            Physical::INT64,
            Some(micros),
            ConvertedType::NONE,
        ),
        col(
            "received_at",
            Physical::INT64,
            Some(millis),
            ConvertedType::NONE,
        ),
        col(
            "reported_at",
            Physical::INT64,
            Some(nanos),
            ConvertedType::NONE,
        ),
        // A plain INT64 time: epoch milliseconds, as in JSON.
        col("deadline", Physical::INT64, None, ConvertedType::NONE),
        col("apns_status", Physical::INT32, None, ConvertedType::NONE),
        col("priority", Physical::INT32, None, ConvertedType::NONE),
        col("expiration", Physical::INT64, None, ConvertedType::NONE),
        col("must_report", Physical::BOOLEAN, None, ConvertedType::NONE),
        col("device", Physical::BYTE_ARRAY, None, ConvertedType::UTF8),
        col("push_id", Physical::BYTE_ARRAY, None, ConvertedType::NONE),
        col(
            "attr.carrier",
            Physical::BYTE_ARRAY,
            None,
            ConvertedType::UTF8,
        ),
        col("attr.build", Physical::INT64, None, ConvertedType::NONE),
        col("attr.beta", Physical::BOOLEAN, None, ConvertedType::NONE),
    ]
}

const SENT: i64 = 1_779_288_420_000; // 2026-05-20T14:47:00Z, epoch ms

/// A good row, varied by `i`.
fn good(i: i64) -> Vec<Cell> {
    let sent = SENT + i * 1000;
    vec![
        Cell::Int(sent * 1000 + i % 7 * 1000),
        if i % 5 == 0 {
            Cell::Null
        } else {
            Cell::Int(sent + 300 + i % 90)
        },
        if i % 3 == 0 {
            Cell::Int((sent + 900) * 1_000_000 + 123_456)
        } else {
            Cell::Null
        },
        Cell::Int(sent + 30_000),
        if i % 11 == 0 {
            Cell::Null
        } else {
            Cell::Int([200, 410, 400][(i % 3) as usize])
        },
        Cell::Int(10),
        Cell::Int(sent / 1000 + 30),
        if i % 2 == 0 {
            Cell::Bool(true)
        } else {
            Cell::Null
        },
        Cell::Bytes(format!("{:064x}", i % 97).into_bytes()),
        Cell::Bytes(format!("push-{i}").into_bytes()),
        if i % 13 == 0 {
            Cell::Null
        } else {
            Cell::Bytes(["Verizon", "T-Mobile", "Jio"][(i % 3) as usize].into())
        },
        Cell::Int(26_000 + i % 4),
        Cell::Bool(i % 4 == 0),
    ]
}

/// Rows each of which the fast conversion must hand to the contract's rules, with the field
/// the contract names (or `None`: the row is good after all).
fn odd_rows() -> Vec<(Vec<Cell>, Option<&'static str>)> {
    let with = |i: i64, column: usize, cell: Cell| {
        let mut row = good(i);
        row[column] = cell;
        row
    };
    vec![
        (with(1, 0, Cell::Null), Some("sent_at")),
        // Seconds given as milliseconds: 1973 and before.
        (with(2, 0, Cell::Int(1_779_288_420 * 1000)), Some("sent_at")),
        (with(3, 1, Cell::Int(-5)), Some("received_at")),
        (with(4, 4, Cell::Int(999)), Some("apns_status")),
        (with(5, 5, Cell::Int(300)), Some("priority")),
        (with(6, 6, Cell::Int(SENT + 30_000)), Some("expiration")),
        (with(7, 8, Cell::Bytes(vec![0xff, 0xfe])), Some("device")),
        // Not UTF-8 in an attribute: kept, with replacement characters, as the row path does.
        (with(8, 10, Cell::Bytes(vec![b'A', 0xff])), None),
        // Microseconds with a fraction of a millisecond.
        (with(9, 0, Cell::Int(SENT * 1000 + 1)), None),
    ]
}

/// A cell as the JSON the row path builds for it (times in epoch milliseconds).
fn json_of(column: &Column, cell: &Cell) -> Option<Value> {
    Some(match cell {
        Cell::Null => return None,
        Cell::Bool(b) => Value::Bool(*b),
        // Not UTF-8: an attribute keeps it with replacement characters; a text field refuses it,
        // as it refuses a number.
        Cell::Bytes(bytes)
            if !column.name.starts_with("attr.") && std::str::from_utf8(bytes).is_err() =>
        {
            json!(0)
        }
        Cell::Bytes(bytes) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        Cell::Int(v) => match column.logical {
            Some(LogicalType::Timestamp(TimestampType { unit, .. })) => {
                let micros = match unit {
                    TimeUnit::MILLIS => i128::from(*v) * 1000,
                    TimeUnit::MICROS => i128::from(*v),
                    TimeUnit::NANOS => i128::from(v.div_euclid(1000)),
                };
                if micros % 1000 == 0 {
                    json!(micros / 1000)
                } else {
                    json!(micros as f64 / 1000.0)
                }
            }
            _ => json!(v),
        },
    })
}

fn jsonl_of(rows: &[Vec<Cell>]) -> String {
    let columns = columns();
    let mut out = String::new();
    for row in rows {
        let mut object = Map::new();
        let mut attrs = Map::new();
        for (column, cell) in columns.iter().zip(row) {
            let Some(value) = json_of(column, cell) else {
                continue;
            };
            match column.name.strip_prefix("attr.") {
                Some(name) => {
                    let text = match value {
                        Value::String(text) => text,
                        other => other.to_string(),
                    };
                    attrs.insert(name.to_string(), Value::String(text));
                }
                None => {
                    object.insert(column.name.to_string(), value);
                }
            }
        }
        if !attrs.is_empty() {
            object.insert("attrs".to_string(), Value::Object(attrs));
        }
        out.push_str(&Value::Object(object).to_string());
        out.push('\n');
    }
    out
}

fn write_parquet(path: &Path, groups: &[&[Vec<Cell>]]) {
    let columns = columns();
    let fields = columns
        .iter()
        .map(|c| {
            let mut builder = Type::primitive_type_builder(c.name, c.physical)
                .with_repetition(Repetition::OPTIONAL);
            if c.logical.is_some() {
                builder = builder.with_logical_type(c.logical.clone());
            } else {
                builder = builder.with_converted_type(c.converted);
            }
            Arc::new(builder.build().unwrap())
        })
        .collect();
    let schema = Arc::new(
        Type::group_type_builder("pushes")
            .with_fields(fields)
            .build()
            .unwrap(),
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_data_page_row_count_limit(1000)
            .build(),
    );
    let mut writer = SerializedFileWriter::new(File::create(path).unwrap(), schema, props).unwrap();
    for rows in groups {
        let mut group = writer.next_row_group().unwrap();
        let mut index = 0;
        while let Some(mut column) = group.next_column().unwrap() {
            let cells: Vec<&Cell> = rows.iter().map(|r| &r[index]).collect();
            let defs: Vec<i16> = cells
                .iter()
                .map(|c| i16::from(!matches!(c, Cell::Null)))
                .collect();
            match column.untyped() {
                ColumnWriter::Int64ColumnWriter(w) => {
                    let values: Vec<i64> = cells
                        .iter()
                        .filter_map(|c| match c {
                            Cell::Int(v) => Some(*v),
                            _ => None,
                        })
                        .collect();
                    w.write_batch(&values, Some(&defs), None).unwrap();
                }
                ColumnWriter::Int32ColumnWriter(w) => {
                    let values: Vec<i32> = cells
                        .iter()
                        .filter_map(|c| match c {
                            Cell::Int(v) => Some(i32::try_from(*v).unwrap()),
                            _ => None,
                        })
                        .collect();
                    w.write_batch(&values, Some(&defs), None).unwrap();
                }
                ColumnWriter::BoolColumnWriter(w) => {
                    let values: Vec<bool> = cells
                        .iter()
                        .filter_map(|c| match c {
                            Cell::Bool(b) => Some(*b),
                            _ => None,
                        })
                        .collect();
                    w.write_batch(&values, Some(&defs), None).unwrap();
                }
                ColumnWriter::ByteArrayColumnWriter(w) => {
                    let values: Vec<ByteArray> = cells
                        .iter()
                        .filter_map(|c| match c {
                            Cell::Bytes(b) => Some(ByteArray::from(b.clone())),
                            _ => None,
                        })
                        .collect();
                    w.write_batch(&values, Some(&defs), None).unwrap();
                }
                _ => unreachable!("the test writes four physical types"),
            }
            column.close().unwrap();
            index += 1;
        }
        group.close().unwrap();
    }
    writer.close().unwrap();
}

fn read(reader: &RecordReader, path: &Path) -> (Vec<(PushRecord, RowLocation)>, ReadSummary) {
    let (sink, summary) = reader
        .read_path(path, Collect::default, &|_| {})
        .unwrap_or_else(|e| panic!("{e}"));
    (sink.into_sorted(), summary)
}

/// The rows of the file: 9,000 good rows in two groups (batches end inside both) with the odd
/// rows spread through them.
fn rows() -> (Rows, Rows, Vec<Option<&'static str>>) {
    let mut first: Vec<Vec<Cell>> = (0..5000).map(good).collect();
    let mut second: Vec<Vec<Cell>> = (5000..9000).map(good).collect();
    let mut expected = Vec::new();
    for (n, (row, field)) in odd_rows().into_iter().enumerate() {
        let at = 4090 + n * 3; // across the first batch's end
        first.insert(at, row.clone());
        second.insert(n * 400, row);
        expected.push(field);
    }
    (first, second, expected)
}

#[test]
fn typed_columns_read_as_the_same_rows_in_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second, _) = rows();
    let parquet = dir.path().join("pushes.parquet");
    write_parquet(&parquet, &[&first, &second]);
    let all: Vec<Vec<Cell>> = first.iter().chain(&second).cloned().collect();
    let jsonl = dir.path().join("pushes.jsonl");
    std::fs::write(&jsonl, jsonl_of(&all)).unwrap();

    for threads in [1, 2] {
        let reader = RecordReader::builder().threads(threads).build();
        let (want, want_summary) = read(&reader, &jsonl);
        let (got, got_summary) = read(&reader, &parquet);
        assert_eq!(
            (got_summary.rows, got_summary.bad),
            (want_summary.rows, want_summary.bad)
        );
        assert_eq!(got_summary.bad, 2 * 7, "seven odd rows are bad, twice");
        let records = |rows: &[(PushRecord, RowLocation)]| {
            rows.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>()
        };
        assert_eq!(records(&got), records(&want));
        // The same rows are bad, for the same field.
        let fields = |s: &ReadSummary| {
            s.samples
                .iter()
                .map(|b| b.field.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(fields(&got_summary), fields(&want_summary));
        let first_bad = &got_summary.samples[0];
        assert_eq!(
            first_bad.at,
            RowLocation::Row {
                group: 0,
                row: 4090
            }
        );
        assert!(first_bad.message.contains("missing"), "{first_bad}");
    }
}

#[test]
fn bad_values_read_with_the_contracts_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second, expected) = rows();
    let parquet = dir.path().join("pushes.parquet");
    write_parquet(&parquet, &[&first, &second]);
    let reader = RecordReader::builder()
        .threads(2)
        .max_bad_samples(100)
        .build();
    let (_, summary) = read(&reader, &parquet);
    let in_first: Vec<_> = summary
        .samples
        .iter()
        .filter(|b| matches!(b.at, RowLocation::Row { group: 0, .. }))
        .collect();
    let bad_fields: Vec<_> = expected.iter().flatten().copied().collect();
    let got: Vec<_> = in_first
        .iter()
        .map(|b| b.field.as_deref().unwrap())
        .collect();
    assert_eq!(got, bad_fields);
    let message = |field: &str| {
        in_first
            .iter()
            .find(|b| b.field.as_deref() == Some(field))
            .unwrap()
            .message
            .clone()
    };
    assert!(message("sent_at").contains("missing"));
    assert!(message("received_at").contains("before 1970"));
    assert!(message("apns_status").contains("999 is not an HTTP status"));
    assert!(message("expiration").contains("looks like milliseconds"));
    assert!(message("device").contains("not UTF-8"));
    assert!(
        message("device").contains("BYTE_ARRAY"),
        "{}",
        message("device")
    );
}

#[test]
fn columns_not_asked_for_are_neither_read_nor_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second, _) = rows();
    let parquet = dir.path().join("pushes.parquet");
    write_parquet(&parquet, &[&first, &second]);
    let reader = RecordReader::builder()
        .fields(["apns_status", "received_at", "deadline", "device", "attrs"])
        .build();
    let (records, summary) = read(&reader, &parquet);
    // Bad priority and expiration no longer count: those columns are not read.
    assert_eq!(summary.bad, 2 * 5);
    assert_eq!(records.len() as u64, summary.rows);
    let (push, _) = &records[0];
    assert_eq!(push.push_id, None);
    assert_eq!(push.priority, None);
    assert_eq!(push.must_report, None);
    assert!(push.device.is_some() && push.received_at.is_none() && !push.attrs.is_empty());
    let (push, _) = &records[1];
    assert!(push.received_at.is_some() && push.deadline.is_some());
}
