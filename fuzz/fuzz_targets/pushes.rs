#![no_main]
//! Fuzzes the pushes reader (JSONL and CSV, detected and forced, strict and lenient) and the
//! `--push` shorthand; and the streaming reader of `pushtrace-records` on two workers with
//! chunk ends everywhere, which must count the same rows and bad rows as one thread.

use libfuzzer_sys::fuzz_target;
use pushtrace_devicelog::{LocalClock, Zone};
use pushtrace_diagnose::{PushFormat, PushReader, push_from_arg};
use pushtrace_records::{Count, RecordReader};

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
    let one = RecordReader::builder().threads(1).build();
    let two = RecordReader::builder().threads(2).chunk_bytes(7).build();
    let counts = |reader: &RecordReader| {
        reader
            .read_stream("fuzz", data, Count::default, &|_| {})
            .map(|(count, s)| (count.0, s.rows, s.bad, s.lines, s.blank_lines, s.samples))
            .map_err(|e| e.to_string())
    };
    assert_eq!(counts(&one), counts(&two));
    if let Ok(text) = std::str::from_utf8(data) {
        let clock = LocalClock { date: Some((2026, 5, 20)), zone: Zone::parse("+03:00").ok() };
        let _ = push_from_arg(text, 1, &clock);
    }
});
