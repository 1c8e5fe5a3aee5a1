#![no_main]
//! Fuzzes the `--predicate` parser: any text either parses or gives an error whose column lies
//! inside it (or just past its end), and a parsed predicate evaluates without panicking.

use libfuzzer_sys::fuzz_target;
use pushtrace_devicelog::Predicate;
use pushtrace_model::{Level, LogRecord, Origin, Timestamp};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Predicate::parse(text) {
        Ok(predicate) => {
            let mut record = LogRecord::new(
                Timestamp::from_utc_micros(0),
                "apsd",
                "Connection to Courier failed: Café",
                Origin::Line {
                    file: "fuzz".into(),
                    line: 1,
                },
            );
            let _ = predicate.matches(&record);
            record.level = Some(Level::Error);
            record.pid = Some(107);
            record.subsystem = Some("com.apple.apsd".into());
            let _ = predicate.matches(&record);
            let _ = predicate.required_processes();
        }
        Err(error) => assert!(
            error.column >= 1 && error.column <= text.chars().count() + 1,
            "column {} outside a {}-character predicate",
            error.column,
            text.chars().count()
        ),
    }
});
