#![no_main]
//! Feeds arbitrary bytes to the Parquet reader as a file (it reads from the footer, so it needs
//! one), on one and two workers, strict and lenient: it must answer with records or an error,
//! never panic.
//!
//! The parquet crate still panics on some corrupt files (an `assert!` in its bit reader, "column
//! start and length should not be negative" in its metadata), and `pushtrace-records` catches
//! those panics and reports the file or row group as unreadable. libfuzzer-sys's panic hook
//! aborts on every panic, caught or not, so this target replaces it (`caught_panics.rs`):
//! a caught panic becomes the reader's error, and a panic that escapes the reader still aborts
//! the process, which libFuzzer reports as a crash (checked with an input that panicked on
//! purpose: "deadly signal", the input saved as a crash artifact).

use libfuzzer_sys::fuzz_target;
use pushtrace_records::{Collect, RecordFormat, RecordReader};

#[path = "caught_panics.rs"]
mod caught_panics;

fuzz_target!(|data: &[u8]| caught_panics::run("the Parquet reader", || read(data)));

fn read(data: &[u8]) {
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
}
