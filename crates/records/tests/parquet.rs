//! Parquet files written by DuckDB and pyarrow (testdata/records/make_parquet.py) read to the
//! same records as the equivalent JSONL; bad files and bad rows are named.

use std::path::PathBuf;

use pushtrace_model::PushRecord;
use pushtrace_records::{Collect, ReadError, ReadSummary, RecordFormat, RecordReader, RowLocation};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/records")
        .join(name)
}

fn read(
    name: &str,
    threads: usize,
) -> Result<(Vec<(PushRecord, RowLocation)>, ReadSummary), ReadError> {
    let reader = RecordReader::builder().threads(threads).build();
    reader
        .read_path(&fixture(name), Collect::default, &|_| {})
        .map(|(sink, summary)| (sink.into_sorted(), summary))
}

fn reference() -> Vec<PushRecord> {
    let (records, summary) = read("pushes.jsonl", 1).unwrap();
    assert_eq!((summary.rows, summary.bad), (4, 0));
    records.into_iter().map(|(r, _)| r).collect()
}

#[test]
fn every_export_shape_reads_like_the_jsonl() {
    let want = reference();
    for name in [
        "duckdb_map.parquet",
        "duckdb_flat.parquet",
        "bigquery_list.parquet",
        "json_attrs_lz4.parquet",
    ] {
        for threads in [1, 2] {
            let (records, summary) = read(name, threads).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(summary.format, RecordFormat::Parquet);
            assert_eq!((summary.rows, summary.bad), (4, 0), "{name}");
            let got: Vec<_> = records.iter().map(|(r, _)| r.clone()).collect();
            assert_eq!(got, want, "{name}");
        }
    }
    let (records, _) = read("bigquery_list.parquet", 2).unwrap();
    let at: Vec<_> = records.iter().map(|(_, at)| *at).collect();
    assert_eq!(
        at,
        [(0, 0), (0, 1), (1, 0), (1, 1)].map(|(group, row)| RowLocation::Row { group, row })
    );
}

#[test]
fn rows_without_sent_at_are_counted_with_their_place() {
    let (records, summary) = read("no_sent_at.parquet", 2).unwrap();
    assert_eq!((records.len(), summary.bad), (2, 2));
    let first = &summary.samples[0];
    assert_eq!(first.at, RowLocation::Row { group: 0, row: 1 });
    assert_eq!(first.field.as_deref(), Some("sent_at"));
    assert!(
        first
            .to_string()
            .contains("no_sent_at.parquet: row group 0, row 1: field `sent_at`"),
        "{first}"
    );
    let strict = RecordReader::builder().strict(true).build();
    let e = strict
        .read_path(&fixture("no_sent_at.parquet"), Collect::default, &|_| {})
        .unwrap_err();
    assert!(
        matches!(&e, ReadError::Strict { row } if row.at == RowLocation::Row { group: 0, row: 1 }),
        "{e}"
    );
}

#[test]
fn a_column_of_the_wrong_type_is_named_with_what_is_accepted() {
    let e = read("wrong_sent_at.parquet", 1).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, ReadError::ParquetColumn { .. }), "{text}");
    assert!(
        text.contains("column `sent_at`") && text.contains("DOUBLE") && text.contains("TIMESTAMP"),
        "{text}"
    );

    let (records, summary) = read("status_text.parquet", 1).unwrap();
    assert_eq!((records.len(), summary.bad), (1, 1));
    let bad = &summary.samples[0];
    assert_eq!(bad.field.as_deref(), Some("apns_status"));
    assert!(
        bad.message.contains("`OK` is not a whole number") && bad.message.contains("BYTE_ARRAY"),
        "{bad}"
    );

    let e = read("unknown_column.parquet", 1).unwrap_err();
    assert!(e.to_string().contains("name it `attr.carrier`"), "{e}");
}

#[test]
fn truncated_or_not_parquet_is_one_clear_error() {
    let e = read("truncated.parquet", 2).unwrap_err();
    assert!(matches!(e, ReadError::NotParquet { .. }), "{e}");
    assert!(e.to_string().contains("truncated.parquet"), "{e}");
    let forced = RecordReader::builder()
        .format(Some(RecordFormat::Parquet))
        .build();
    let e = forced
        .read_path(&fixture("pushes.jsonl"), Collect::default, &|_| {})
        .unwrap_err();
    assert!(matches!(e, ReadError::NotParquet { .. }), "{e}");
}

#[test]
fn a_footer_the_parquet_crate_panics_on_is_not_readable() {
    // Found by fuzz/fuzz_targets/parquet.rs: parquet 57's thrift decoder unwrapped a None on
    // it; parquet 60 answers an error, which must still be NotParquet.
    let e = read("fuzz_footer_panic.parquet", 2).unwrap_err();
    assert!(matches!(e, ReadError::NotParquet { .. }), "{e}");
}

#[test]
fn a_row_group_the_parquet_crate_panics_on_is_a_data_error() {
    // Found by fuzz/fuzz_targets/parquet.rs: parquet 60 still panics reading its row group 0
    // ("column start and length should not be negative"); the reader catches it.
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz_row_group_panic.parquet");
    let read = |threads| {
        RecordReader::builder()
            .threads(threads)
            .build()
            .read_path(&path, Collect::default, &|_| {})
            .unwrap_err()
    };
    let e = read(1);
    assert!(matches!(e, ReadError::ParquetData { group: 0, .. }), "{e}");
    assert!(e.to_string().contains("the Parquet decoder failed"), "{e}");
    // Two workers: whichever bad row group is met first is reported (group 1 is bad too).
    let e = read(2);
    assert!(matches!(e, ReadError::ParquetData { .. }), "{e}");
}
