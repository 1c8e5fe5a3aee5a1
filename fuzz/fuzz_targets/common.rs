//! Shared by every target: read `data` as one text format, as `pushtrace logs - --format F` would.

use pushtrace_devicelog::{Format, LocalClock, LogReader, NoProgress, Zone};

pub fn read_as(format: Option<Format>, data: &[u8]) {
    let clock = LocalClock { date: Some((2026, 5, 20)), zone: Zone::parse("+03:00").ok() };
    // Small sort memory so fuzzing also exercises spilled runs; one thread keeps runs repeatable.
    let reader = LogReader::builder().format(format).clock(clock).sort_memory(1 << 20).threads(1).build();
    if let Ok(read) = reader.read_stream("fuzz", data, &mut NoProgress) {
        for record in read.records {
            let _ = record.map(|r| r.syslog_line());
        }
    }
}
