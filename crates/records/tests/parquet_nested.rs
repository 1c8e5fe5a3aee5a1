//! An `attrs` MAP or LIST<STRUCT<key, value>> (what DuckDB, Spark and BigQuery export) reads the
//! same on the column path as on the row path: the same records and the same bad rows, whatever
//! nodes of the shape the writer made optional, across batches, pages and row groups.
//!
//! The row path is the parquet crate's own reading of the levels; a file takes it here because it
//! carries one more column, `queued_at` as text and always null, that the column path leaves to
//! it. So the levels this test writes by hand are checked against an independent reader.

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

/// An attribute value as written.
#[derive(Clone, Debug)]
enum Value {
    Text(Vec<u8>),
    Int(i64),
    Bool(bool),
}

/// One entry of a row's `attrs`: `None` is a null LIST element.
type Entry = Option<(Option<Vec<u8>>, Option<Value>)>;

#[derive(Clone, Debug)]
struct Row {
    sent_at: Option<i64>,
    device: String,
    attrs: Option<Vec<Entry>>,
}

/// How the `attrs` column is laid out.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// `optional group attrs (MAP) { repeated group key_value { required key; optional value } }`
    Map,
    /// The same with `attrs` required (never null).
    RequiredMap,
    /// `optional group attrs (LIST) { repeated group list { optional group element { optional
    /// key; optional value } } }`: the three-level LIST of the Parquet spec, BigQuery's export.
    List3,
    /// `optional group attrs (LIST) { repeated group entry { optional key; optional value } }`.
    List2,
}

impl Shape {
    fn attrs_optional(self) -> bool {
        !matches!(self, Shape::RequiredMap)
    }
    fn element_optional(self) -> bool {
        matches!(self, Shape::List3)
    }
    fn key_optional(self) -> bool {
        matches!(self, Shape::List3 | Shape::List2)
    }
}

const SENT: i64 = 1_779_288_420_000_000; // 2026-05-20T14:47:00Z, epoch µs

fn entry(key: &str, value: Option<Value>) -> Entry {
    Some((Some(key.as_bytes().to_vec()), value))
}

/// A good row, varied by `i`: maps of different sizes and key sets, null values, empty and null
/// maps, keys in no particular order.
fn good(i: i64, value: fn(i64) -> Value, shape: Shape) -> Row {
    let mut attrs = vec![
        entry("os_version", Some(value(i % 3))),
        entry("carrier", (i % 7 != 0).then(|| value(10 + i % 2))),
        entry("build", Some(value(i))),
    ];
    if i % 4 == 0 {
        attrs.push(entry("region", Some(value(42))));
        attrs.swap(0, 3);
    }
    if i % 9 == 0 {
        attrs.truncate(1);
    }
    let attrs = match i % 50 {
        10 => Some(Vec::new()),
        20 if shape.attrs_optional() => None,
        _ => Some(attrs),
    };
    Row {
        sent_at: Some(SENT + i * 1_000_000),
        device: format!("{:064x}", i % 97),
        attrs,
    }
}

/// Rows the column path must hand to the contract's rules; some are bad, some good after all.
fn odd(shape: Shape, value: fn(i64) -> Value) -> Vec<Row> {
    let base = |attrs: Vec<Entry>| Row {
        sent_at: Some(SENT),
        device: "ab".repeat(32),
        attrs: Some(attrs),
    };
    let mut rows = vec![
        // A key twice: bad.
        base(vec![
            entry("carrier", Some(value(1))),
            entry("carrier", Some(value(2))),
        ]),
        // A key twice, once with a null value: good (a null value is "not known").
        base(vec![
            entry("carrier", None),
            entry("carrier", Some(value(2))),
        ]),
        // A key that is not UTF-8: kept with replacement characters.
        base(vec![Some((Some(vec![b'k', 0xff]), Some(value(3))))]),
        // No sent_at: bad, whatever the attributes.
        Row {
            sent_at: None,
            ..base(vec![entry("carrier", Some(value(1)))])
        },
    ];
    if shape.key_optional() {
        // An attribute without a key: bad.
        rows.push(base(vec![
            entry("a", Some(value(1))),
            Some((None, Some(value(2)))),
        ]));
    }
    if shape.element_optional() {
        // A null element where a {key, value} struct belongs: bad.
        rows.push(base(vec![entry("a", Some(value(1))), None]));
    }
    rows
}

fn write(path: &Path, shape: Shape, value_type: Physical, force_row_path: bool, groups: &[&[Row]]) {
    let key = Type::primitive_type_builder("key", Physical::BYTE_ARRAY)
        .with_repetition(if shape.key_optional() {
            Repetition::OPTIONAL
        } else {
            Repetition::REQUIRED
        })
        .build()
        .unwrap();
    let mut value =
        Type::primitive_type_builder("value", value_type).with_repetition(Repetition::OPTIONAL);
    if value_type == Physical::BYTE_ARRAY {
        value = value.with_converted_type(ConvertedType::UTF8);
    }
    let pair = vec![Arc::new(key), Arc::new(value.build().unwrap())];
    let attrs_repetition = if shape.attrs_optional() {
        Repetition::OPTIONAL
    } else {
        Repetition::REQUIRED
    };
    let attrs = match shape {
        Shape::Map | Shape::RequiredMap => Type::group_type_builder("attrs")
            .with_repetition(attrs_repetition)
            .with_logical_type(Some(LogicalType::Map))
            .with_fields(vec![Arc::new(
                Type::group_type_builder("key_value")
                    .with_repetition(Repetition::REPEATED)
                    .with_fields(pair)
                    .build()
                    .unwrap(),
            )]),
        Shape::List3 => Type::group_type_builder("attrs")
            .with_repetition(attrs_repetition)
            .with_logical_type(Some(LogicalType::List))
            .with_fields(vec![Arc::new(
                Type::group_type_builder("list")
                    .with_repetition(Repetition::REPEATED)
                    .with_fields(vec![Arc::new(
                        Type::group_type_builder("element")
                            .with_repetition(Repetition::OPTIONAL)
                            .with_fields(pair)
                            .build()
                            .unwrap(),
                    )])
                    .build()
                    .unwrap(),
            )]),
        Shape::List2 => Type::group_type_builder("attrs")
            .with_repetition(attrs_repetition)
            .with_logical_type(Some(LogicalType::List))
            .with_fields(vec![Arc::new(
                Type::group_type_builder("entry")
                    .with_repetition(Repetition::REPEATED)
                    .with_fields(pair)
                    .build()
                    .unwrap(),
            )]),
    };
    let sent_at = Type::primitive_type_builder("sent_at", Physical::INT64)
        .with_repetition(Repetition::OPTIONAL)
        .with_logical_type(Some(LogicalType::Timestamp(TimestampType {
            is_adjusted_to_u_t_c: true,
            unit: TimeUnit::MICROS,
        })));
    let device = Type::primitive_type_builder("device", Physical::BYTE_ARRAY)
        .with_repetition(Repetition::REQUIRED)
        .with_converted_type(ConvertedType::UTF8);
    let mut fields = vec![
        Arc::new(sent_at.build().unwrap()),
        Arc::new(device.build().unwrap()),
        Arc::new(attrs.build().unwrap()),
    ];
    if force_row_path {
        let queued_at = Type::primitive_type_builder("queued_at", Physical::BYTE_ARRAY)
            .with_repetition(Repetition::OPTIONAL)
            .with_converted_type(ConvertedType::UTF8);
        fields.push(Arc::new(queued_at.build().unwrap()));
    }
    let schema = Arc::new(
        Type::group_type_builder("pushes")
            .with_fields(fields)
            .build()
            .unwrap(),
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_data_page_row_count_limit(700)
            .build(),
    );
    let mut writer = SerializedFileWriter::new(File::create(path).unwrap(), schema, props).unwrap();
    for rows in groups {
        let mut group = writer.next_row_group().unwrap();
        let mut leaf = 0;
        while let Some(mut column) = group.next_column().unwrap() {
            write_leaf(column.untyped(), leaf, shape, rows);
            column.close().unwrap();
            leaf += 1;
        }
        group.close().unwrap();
    }
    writer.close().unwrap();
}

/// One leaf's levels and values, the Dremel way: leaf 0 `sent_at`, 1 `device`, 2 the key, 3 the
/// value, 4 `queued_at`.
fn write_leaf(writer: &mut ColumnWriter<'_>, leaf: usize, shape: Shape, rows: &[Row]) {
    let (mut defs, mut reps) = (Vec::new(), Vec::new());
    let mut texts: Vec<ByteArray> = Vec::new();
    let mut ints: Vec<i64> = Vec::new();
    let mut bools: Vec<bool> = Vec::new();
    let defined = i16::from(shape.attrs_optional());
    let element = defined + 1 + i16::from(shape.element_optional());
    for row in rows {
        match leaf {
            0 => {
                defs.push(i16::from(row.sent_at.is_some()));
                ints.extend(row.sent_at);
            }
            1 => texts.push(ByteArray::from(row.device.as_bytes().to_vec())),
            4 => defs.push(0),
            _ => match &row.attrs {
                None => {
                    defs.push(0);
                    reps.push(0);
                }
                Some(entries) if entries.is_empty() => {
                    defs.push(defined);
                    reps.push(0);
                }
                Some(entries) => {
                    for (j, entry) in entries.iter().enumerate() {
                        reps.push(i16::from(j > 0));
                        let Some((key, value)) = entry else {
                            defs.push(element - 1);
                            continue;
                        };
                        if leaf == 2 {
                            defs.push(element + i16::from(shape.key_optional() && key.is_some()));
                            texts.extend(key.clone().map(ByteArray::from));
                            continue;
                        }
                        defs.push(element + i16::from(value.is_some()));
                        match value {
                            Some(Value::Text(t)) => texts.push(ByteArray::from(t.clone())),
                            Some(Value::Int(n)) => ints.push(*n),
                            Some(Value::Bool(b)) => bools.push(*b),
                            None => {}
                        }
                    }
                }
            },
        }
    }
    let defs = (leaf != 1).then_some(&defs[..]);
    let reps = (leaf == 2 || leaf == 3).then_some(&reps[..]);
    match writer {
        ColumnWriter::Int64ColumnWriter(w) => w.write_batch(&ints, defs, reps).map(drop),
        ColumnWriter::BoolColumnWriter(w) => w.write_batch(&bools, defs, reps).map(drop),
        ColumnWriter::ByteArrayColumnWriter(w) => w.write_batch(&texts, defs, reps).map(drop),
        _ => unreachable!("the test writes three physical types"),
    }
    .unwrap();
}

fn read(reader: &RecordReader, path: &Path) -> (Vec<(PushRecord, RowLocation)>, ReadSummary) {
    let (sink, summary) = reader
        .read_path(path, Collect::default, &|_| {})
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (sink.into_sorted(), summary)
}

/// 6,000 rows in two groups, the odd rows across the first batch's end and spread in the second.
fn rows(value: fn(i64) -> Value, shape: Shape) -> (Vec<Row>, Vec<Row>) {
    let mut first: Vec<Row> = (0..4200).map(|i| good(i, value, shape)).collect();
    let mut second: Vec<Row> = (4200..6000).map(|i| good(i, value, shape)).collect();
    for (n, row) in odd(shape, value).into_iter().enumerate() {
        first.insert(4093 + n * 2, row.clone());
        second.insert(n * 300, row);
    }
    (first, second)
}

fn same_on_both_paths(shape: Shape, value_type: Physical, value: fn(i64) -> Value) {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = rows(value, shape);
    let columns = dir.path().join("columns.parquet");
    let row_path = dir.path().join("rows.parquet");
    write(&columns, shape, value_type, false, &[&first, &second]);
    write(&row_path, shape, value_type, true, &[&first, &second]);
    for threads in [1, 2] {
        let reader = RecordReader::builder()
            .threads(threads)
            .max_bad_samples(100)
            .build();
        let (want, want_summary) = read(&reader, &row_path);
        let (got, got_summary) = read(&reader, &columns);
        assert_eq!(
            got_summary.rows,
            6000 + 2 * 2,
            "{shape:?}: two odd rows are good, twice"
        );
        assert_eq!(
            (got_summary.rows, got_summary.bad),
            (want_summary.rows, want_summary.bad),
            "{shape:?}"
        );
        assert_eq!(got.len(), want.len());
        for ((a, at_a), (b, at_b)) in got.iter().zip(&want) {
            assert_eq!((a, at_a), (b, at_b), "{shape:?}");
        }
        let bad = |s: &ReadSummary| {
            s.samples
                .iter()
                .map(|b| (b.at, b.field.clone(), b.message.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(bad(&got_summary), bad(&want_summary), "{shape:?}");
        // The column path read it: its excerpts are the JSON objects of the contract, where the
        // row path shows the row as the parquet crate prints it.
        assert!(
            got_summary
                .samples
                .iter()
                .all(|b| b.excerpt.starts_with("{\"")),
            "{:?}",
            got_summary.samples
        );
        assert!(
            want_summary
                .samples
                .iter()
                .all(|b| !b.excerpt.starts_with("{\""))
        );
    }
    // What the attributes read as.
    let reader = RecordReader::builder().build();
    let (got, _) = read(&reader, &columns);
    let attrs = |i: usize| {
        got[i]
            .0
            .attrs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let v = |i| text_of(value(i));
    assert_eq!(
        attrs(1),
        format!("build={},carrier={},os_version={}", v(1), v(11), v(1))
    );
    assert_eq!(attrs(7), format!("build={},os_version={}", v(7), v(1)));
    assert_eq!(attrs(10), "");
}

fn text_of(value: Value) -> String {
    match value {
        Value::Text(t) => String::from_utf8(t).unwrap(),
        Value::Int(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
    }
}

#[test]
fn a_map_of_text_reads_the_same_on_both_paths() {
    same_on_both_paths(Shape::Map, Physical::BYTE_ARRAY, |i| {
        Value::Text(format!("b{}", i % 5).into_bytes())
    });
}

#[test]
fn a_required_map_reads_the_same_on_both_paths() {
    same_on_both_paths(Shape::RequiredMap, Physical::BYTE_ARRAY, |i| {
        Value::Text(format!("b{}", i % 3).into_bytes())
    });
}

#[test]
fn a_three_level_list_of_structs_reads_the_same_on_both_paths() {
    same_on_both_paths(Shape::List3, Physical::INT64, |i| {
        Value::Int(26_000 + i % 4)
    });
}

#[test]
fn a_two_level_list_of_structs_reads_the_same_on_both_paths() {
    same_on_both_paths(Shape::List2, Physical::BOOLEAN, |i| Value::Bool(i % 2 == 0));
}
