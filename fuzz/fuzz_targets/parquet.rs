#![no_main]
//! Feeds arbitrary bytes to the Parquet reader as a file (it reads from the footer, so it needs
//! one), on one and two workers, strict and lenient: it must answer with records or an error,
//! never panic.
//!
//! The parquet crate still panics on some corrupt files (an `assert!` in its bit reader, "column
//! start and length should not be negative" in its metadata), and `pushtrace-records` catches
//! those panics and reports the file or row group as unreadable. libfuzzer-sys's panic hook
//! aborts on every panic, caught or not, so this target replaces it (see `quiet_caught_panics`):
//! a caught panic becomes the reader's error, and a panic that escapes the reader still aborts
//! the process, which libFuzzer reports as a crash (checked with an input that panicked on
//! purpose: "deadly signal", the input saved as a crash artifact).

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, Once};

use libfuzzer_sys::fuzz_target;
use pushtrace_records::{Collect, RecordFormat, RecordReader};

/// Where the panics of the current input happened, for the report of one that escapes.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Replaces libfuzzer-sys's hook (default hook, then `abort`, installed before the first
/// input) with one that only notes where the panic happened. Without it every panic the
/// reader catches inside the parquet crate would abort the run as a crash. With it a panic
/// that unwinds out of the reader is still a crash: the body runs inside libfuzzer-sys's
/// `extern "C" fn rust_fuzzer_test_input`, which a panic cannot unwind through (the runtime
/// aborts there), and behind that `LLVMFuzzerTestOneInput` (`test_input_wrap`) runs it under
/// `catch_unwind` and calls `abort` on `Err` (libfuzzer-sys 0.4.13, src/lib.rs). The body
/// prints the noted places first, since by then the stack is unwound.
fn quiet_caught_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        panic::set_hook(Box::new(|info| {
            let place = info.location().map_or_else(String::new, |l| l.to_string());
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if let Ok(mut panics) = PANICS.lock()
                && panics.len() < 16
            {
                panics.push(format!("{place}: {message}"));
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    quiet_caught_panics();
    if let Ok(mut panics) = PANICS.lock() {
        panics.clear();
    }
    if let Err(escaped) = panic::catch_unwind(AssertUnwindSafe(|| read(data))) {
        if let Ok(panics) = PANICS.lock() {
            eprintln!("a panic escaped the Parquet reader; panics of this input: {panics:#?}");
        }
        panic::resume_unwind(escaped);
    }
});

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
