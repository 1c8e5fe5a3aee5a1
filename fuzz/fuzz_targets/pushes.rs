#![no_main]
//! Fuzzes the pushes reader (JSONL and CSV, detected and forced, strict and lenient) and the
//! `--push` shorthand.

use libfuzzer_sys::fuzz_target;
use pushtrace_devicelog::{LocalClock, Zone};
use pushtrace_diagnose::{PushFormat, PushReader, push_from_arg};

fuzz_target!(|data: &[u8]| {
    for format in [None, Some(PushFormat::Jsonl), Some(PushFormat::Csv)] {
        for strict in [false, true] {
            let reader = PushReader::builder().format(format).strict(strict).build();
            match reader.read_stream("fuzz", data) {
                Ok(read) => {
                    assert_eq!(read.summary.pushes as usize, read.pushes.len());
                    let _ = read.summary.to_string();
                    for push in &read.pushes {
                        let _ = (push.origin.to_string(), push.record.sent_at.to_string());
                    }
                }
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let clock = LocalClock { date: Some((2026, 5, 20)), zone: Zone::parse("+03:00").ok() };
        let _ = push_from_arg(text, 1, &clock);
    }
});
