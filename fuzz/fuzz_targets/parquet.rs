#![no_main]
//! Feeds arbitrary bytes to the Parquet reader as a file (it reads from the footer, so it needs
//! one), on one and two workers, strict and lenient: it must answer with records or an error,
//! never panic.

use libfuzzer_sys::fuzz_target;
use pushtrace_records::{Collect, RecordFormat, RecordReader};

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("pushtrace-fuzz-{}.parquet", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    for (threads, strict) in [(1, false), (2, false), (2, true)] {
        let reader = RecordReader::builder()
            .format(Some(RecordFormat::Parquet))
            .threads(threads)
            .strict(strict)
            .build();
        match reader.read_path(&path, Collect::default, &|_| {}) {
            Ok((sink, summary)) => {
                assert_eq!(summary.rows as usize, sink.records.len());
                let _ = summary.to_string();
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
