//! Shared by every target: read `data` as one text format, as `pushtrace logs - --format F` would.

use std::sync::Arc;

use pushtrace_devicelog::{Format, LineFormatter, LocalClock, LogReader, NoProgress, Zone};

pub fn read_as(format: Option<Format>, data: &[u8]) {
    let clock = LocalClock { date: Some((2026, 5, 20)), zone: Zone::parse("+03:00").ok() };
    // Small sort memory so fuzzing also exercises spilled runs; one thread keeps runs repeatable.
    let reader = LogReader::builder().format(format).clock(clock).sort_memory(1 << 20).threads(1).build();
    if let Ok(read) = reader.read_stream("fuzz", data, &mut NoProgress) {
        for record in read.records {
            let _ = record.map(|r| r.syslog_line());
        }
    }
    same_lines_formatted_where_parsed(format, data);
}

/// Without a named zone, dated formats format their lines in the parsing threads
/// (`pushtrace logs --json`): the bytes must be those of formatting the sorted records.
fn same_lines_formatted_where_parsed(format: Option<Format>, data: &[u8]) {
    let clock = LocalClock { date: Some((2026, 5, 20)), zone: None };
    let builder = || LogReader::builder().format(format).clock(clock.clone()).sort_memory(1 << 20).threads(1);
    let json: LineFormatter = Arc::new(|record, out| {
        record.write_json(out);
        out.push(b'\n');
    });
    let records = builder().build().read_stream("fuzz", data, &mut NoProgress);
    let lines = builder().lines(json).build().read_stream("fuzz", data, &mut NoProgress);
    let (Ok(records), Ok(lines)) = (records, lines) else {
        return;
    };
    let mut expected = Vec::new();
    for record in records.records {
        let Ok(record) = record else { return };
        record.write_json(&mut expected);
        expected.push(b'\n');
    }
    let mut got = Vec::new();
    if let Some(lines) = lines.lines {
        lines.write_to(&mut got, None).expect("writing to a Vec");
    }
    assert_eq!(String::from_utf8_lossy(&expected), String::from_utf8_lossy(&got));
}
