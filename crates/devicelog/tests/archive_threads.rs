//! A logarchive parsed on several threads gives what the crate's sequential loop gives: the same
//! entries with the same content, the same entry numbers and the same counts, on the real
//! archive. An entry's number (`Origin::Archive { entry }`) is its place in the crate's order
//! within its file, and the reader sorts stably by time after arrival, so equal outputs with equal
//! numbers mean the entries arrived in the same order too.

use std::path::{Path, PathBuf};

use pushtrace_devicelog::{LogReader, NoProgress, PUSH_SET, RecordFilter};
use pushtrace_model::{LogRecord, Origin};

fn archive() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/unifiedlog-macos-plaso.logarchive")
}

/// The records of one read and its summary as JSON (counts, unrendered, unreadable files).
fn read(threads: usize, filter: RecordFilter) -> (Vec<LogRecord>, serde_json::Value) {
    let reader = LogReader::builder().threads(threads).filter(filter).build();
    let read = reader
        .read(&archive(), &mut NoProgress)
        .expect("the fixture reads");
    let records: Vec<LogRecord> = read.records.collect::<Result<_, _>>().expect("records");
    let summary = serde_json::to_value(&read.summary).expect("summary is JSON");
    (records, summary)
}

#[test]
fn every_entry_is_the_sequential_one() {
    let (sequential, summary) = read(1, RecordFilter::new());
    assert_eq!(sequential.len(), 97_610);
    assert_eq!(summary["records_read"], 97_610);
    for threads in [2, 3, 8] {
        let (parallel, parallel_summary) = read(threads, RecordFilter::new());
        assert_eq!(parallel.len(), sequential.len(), "{threads} threads");
        for (i, (p, s)) in parallel.iter().zip(&sequential).enumerate() {
            assert_eq!(p, s, "{threads} threads, record {i}");
        }
        assert_eq!(parallel_summary, summary, "{threads} threads");
    }
}

#[test]
fn kept_entries_keep_their_numbers() {
    let push_set = || RecordFilter::new().processes(PUSH_SET);
    let (sequential, summary) = read(1, push_set());
    let (parallel, parallel_summary) = read(2, push_set());
    assert_eq!(parallel_summary, summary);
    assert!(parallel == sequential, "the push-set records differ");
    // Numbers are those of the whole file, not of the kept records: the read skipped entries.
    let numbers: Vec<u64> = parallel
        .iter()
        .filter_map(|r| match &r.origin {
            Origin::Archive { file, entry } if file.starts_with("Persist/") => Some(*entry),
            _ => None,
        })
        .collect();
    assert!(numbers.len() > 1000);
    assert!(numbers.iter().max() > Some(&(numbers.len() as u64)));
}
