//! `LogReaderBuilder::lines`: records formatted on every core and sorted as bytes must print
//! exactly what formatting the sorted records one by one prints, on the real fixtures and on
//! inputs that are out of order and spill to disk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pushtrace_devicelog::{LineFormatter, LocalClock, LogReader, NoProgress, RecordFilter, Zone};
use pushtrace_model::LogRecord;

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

fn json(record: &LogRecord, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, record).unwrap();
    out.push(b'\n');
}

fn formatter() -> LineFormatter {
    Arc::new(json)
}

/// The output the simple way: the records as the reader sorts them, formatted one by one, and
/// the same records put back in input order and stably sorted by time here.
fn reference(
    reader: &LogReader,
    path: &Path,
    input_order: impl Fn(&LogRecord) -> (String, u64),
) -> Vec<u8> {
    let read = reader.read(path, &mut NoProgress).unwrap();
    assert!(read.lines.is_none());
    let records: Vec<LogRecord> = read.records.collect::<Result<_, _>>().unwrap();
    let mut resorted = records.clone();
    resorted.sort_by_key(&input_order);
    resorted.sort_by_key(|r| r.at.utc_micros());
    assert!(
        records == resorted,
        "the reader's order is not a stable time sort of the input"
    );
    let mut out = Vec::new();
    for record in &records {
        json(record, &mut out);
    }
    out
}

fn lines(reader: &LogReader, path: &Path, from: Option<i64>) -> (Vec<u8>, u64, u64) {
    let read = reader.read(path, &mut NoProgress).unwrap();
    assert_eq!(
        read.records.count(),
        0,
        "records are formatted, not returned"
    );
    let lines = read.lines.expect("lines were asked for");
    let count = lines.len();
    let mut out = Vec::new();
    let skipped = lines.write_to(&mut out, from).unwrap();
    (out, count, skipped)
}

fn line_order(record: &LogRecord) -> (String, u64) {
    match &record.origin {
        pushtrace_model::Origin::Line { file, line } => (file.to_string(), *line),
        pushtrace_model::Origin::Archive { .. } => panic!("not a text record"),
    }
}

#[test]
fn the_real_logarchive_prints_the_same_bytes() {
    let path = testdata("unifiedlog-macos-plaso.logarchive");
    for budget in [64 << 20, 1 << 20] {
        let plain = LogReader::builder().sort_memory(budget).build();
        // An archive's arrival order is the crate's; the records sorter's stable order is the
        // reference here, checked against the origin order within each file.
        let read = plain.read(&path, &mut NoProgress).unwrap();
        let records: Vec<LogRecord> = read.records.collect::<Result<_, _>>().unwrap();
        assert!(
            records
                .windows(2)
                .all(|w| w[0].at.utc_micros() <= w[1].at.utc_micros())
        );
        let mut expected = Vec::new();
        for record in &records {
            json(record, &mut expected);
        }
        let formatted = LogReader::builder()
            .sort_memory(budget)
            .lines(formatter())
            .build();
        let (got, count, _) = lines(&formatted, &path, None);
        assert_eq!(count, 97_610);
        assert!(got == expected, "budget {budget}: the bytes differ");
    }
}

#[test]
fn the_seed_digest_prints_the_same_bytes() {
    let clock = LocalClock {
        date: Some((2026, 5, 20)),
        zone: Some(Zone::parse("+03:00").unwrap()),
    };
    let path = testdata("seed-incident-digest.txt");
    let plain = LogReader::builder().clock(clock.clone()).build();
    let expected = reference(&plain, &path, line_order);
    let formatted = LogReader::builder().clock(clock).lines(formatter()).build();
    let (got, count, _) = lines(&formatted, &path, None);
    assert_eq!(count, 12);
    assert_eq!(
        String::from_utf8(got).unwrap(),
        String::from_utf8(expected).unwrap()
    );
}

/// A syslog export of `count` rows, nearly ordered as `log show` prints (every 7th row 3 ms
/// early), with runs of rows in the same microsecond (ties keep input order) and one stretch
/// far out of order.
fn shuffled_export(count: u64) -> Vec<u8> {
    let mut text = Vec::new();
    writeln!(text, "Timestamp                       (process)[PID]").unwrap();
    let processes = ["apsd", "mDNSResponder", "powerd", "kernel"];
    for i in 0..count {
        let mut micros = (i / 3) * 1000 + 20_000_000;
        if i % 7 == 3 {
            micros -= 3_000;
        }
        if (20_000..20_500).contains(&i) {
            micros -= 10_000_000;
        }
        let (s, us) = (micros / 1_000_000, micros % 1_000_000);
        writeln!(
            text,
            "2026-05-20 17:{:02}:{:02}.{us:06}+0300  localhost {}[{}]: row {i} {}",
            (s / 60) % 60,
            s % 60,
            processes[(i % 4) as usize],
            100 + i % 4,
            "padding ".repeat((i % 13) as usize)
        )
        .unwrap();
    }
    text
}

#[test]
fn out_of_order_input_spilled_to_disk_prints_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.log");
    std::fs::write(&path, shuffled_export(150_000)).unwrap();
    let filter = RecordFilter::new().processes(["apsd", "powerd", "kernel"]);
    let plain = LogReader::builder().filter(filter.clone()).build();
    let expected = reference(&plain, &path, line_order);
    assert!(
        expected.len() > 8 << 20,
        "the kept lines must exceed the 1 MiB budget"
    );
    for threads in [1, 3] {
        let formatted = LogReader::builder()
            .filter(filter.clone())
            .sort_memory(1 << 20)
            .threads(threads)
            .lines(formatter())
            .build();
        let read = formatted.read(&path, &mut NoProgress).unwrap();
        assert!(
            read.summary.spilled_runs >= 2,
            "{}",
            read.summary.spilled_runs
        );
        let (got, count, skipped) = lines(&formatted, &path, None);
        assert_eq!(count, 112_500);
        assert_eq!(skipped, 0);
        assert!(got == expected, "{threads} threads: the bytes differ");
    }
}

#[test]
fn lines_before_a_cut_off_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.log");
    std::fs::write(&path, shuffled_export(60_000)).unwrap();
    let plain = LogReader::builder().build();
    let read = plain.read(&path, &mut NoProgress).unwrap();
    let records: Vec<LogRecord> = read.records.collect::<Result<_, _>>().unwrap();
    let from = records[records.len() / 2].at.utc_micros();
    let mut expected = Vec::new();
    let mut before = 0;
    for record in &records {
        if record.at.utc_micros() < from {
            before += 1;
        } else {
            json(record, &mut expected);
        }
    }
    let formatted = LogReader::builder()
        .sort_memory(1 << 20)
        .lines(formatter())
        .build();
    let (got, _, skipped) = lines(&formatted, &path, Some(from));
    assert_eq!(skipped, before);
    assert!(got == expected, "the bytes differ");
}

/// The bytes of a read that writes its lines as it goes ([`LogReaderBuilder::write_lines_to`]),
/// then the rest; and how many lines were written during the read.
fn streamed(reader: &LogReader, path: &Path, shared: &Arc<Mutex<Vec<u8>>>) -> (Vec<u8>, u64) {
    let read = reader.read(path, &mut NoProgress).unwrap();
    let lines = read.lines.expect("lines were asked for");
    let written = lines.written();
    let mut out = shared.lock().unwrap();
    lines.write_to(&mut *out, None).unwrap();
    (std::mem::take(&mut *out), written)
}

#[test]
fn lines_written_during_the_read_are_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.log");
    // About 40 MB: ten segments of the time floor, with the stretch far out of order in the
    // first one.
    std::fs::write(&path, shuffled_export(480_000)).unwrap();
    let filter = RecordFilter::new().processes(["apsd", "powerd", "kernel"]);
    let plain = LogReader::builder().filter(filter.clone()).build();
    let expected = reference(&plain, &path, line_order);
    for (threads, budget) in [(1, 64 << 20), (3, 64 << 20), (2, 1 << 20)] {
        let shared = Arc::new(Mutex::new(Vec::new()));
        let reader = LogReader::builder()
            .filter(filter.clone())
            .sort_memory(budget)
            .threads(threads)
            .lines(formatter())
            .write_lines_to(shared.clone())
            .build();
        let (got, written) = streamed(&reader, &path, &shared);
        if budget > 1 << 20 {
            assert_eq!(written, 360_000, "everything is written during the read");
        }
        assert!(
            got == expected,
            "{threads} threads, budget {budget}: the bytes differ"
        );
    }
}

#[test]
fn a_file_that_steps_back_by_hours_is_written_in_order() {
    // Two exports pasted together, the second one earlier: nothing of the first can be written
    // before the second is read.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pasted.log");
    let first = shuffled_export(150_000);
    let second = String::from_utf8(shuffled_export(150_000))
        .unwrap()
        .replace("2026-05-20 17:", "2026-05-20 15:");
    let mut text = first;
    text.extend_from_slice(second.as_bytes());
    std::fs::write(&path, text).unwrap();
    let plain = LogReader::builder().build();
    let expected = reference(&plain, &path, line_order);
    for budget in [64 << 20, 1 << 20] {
        let shared = Arc::new(Mutex::new(Vec::new()));
        let reader = LogReader::builder()
            .sort_memory(budget)
            .lines(formatter())
            .write_lines_to(shared.clone())
            .build();
        let (got, _) = streamed(&reader, &path, &shared);
        assert!(got == expected, "budget {budget}: the bytes differ");
    }
}

#[test]
fn a_compressed_file_is_not_written_during_the_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.log.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&shuffled_export(60_000)).unwrap();
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    let plain = LogReader::builder().build();
    let expected = reference(&plain, &path, line_order);
    let shared = Arc::new(Mutex::new(Vec::new()));
    let reader = LogReader::builder()
        .lines(formatter())
        .write_lines_to(shared.clone())
        .build();
    let (got, written) = streamed(&reader, &path, &shared);
    assert_eq!(written, 0);
    assert!(got == expected, "the bytes differ");
}

#[test]
fn the_time_floor_is_taken_only_once_the_held_lines_pile_up() {
    // About 55 MB of kept lines in 5 chunks: under three quarters of a 128 MiB budget they are
    // held to the end (no second pass over the file); with 32 MiB the floor is scanned from
    // where the read has got to once 24 MiB are held, and the rest is written during the read.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.log");
    std::fs::write(&path, shuffled_export(200_000)).unwrap();
    let plain = LogReader::builder().build();
    let expected = reference(&plain, &path, line_order);
    for (budget, writes_during_the_read) in [(128 << 20, false), (32 << 20, true)] {
        let shared = Arc::new(Mutex::new(Vec::new()));
        let reader = LogReader::builder()
            .sort_memory(budget)
            .threads(2)
            .lines(formatter())
            .write_lines_to(shared.clone())
            .build();
        let read = reader.read(&path, &mut NoProgress).unwrap();
        assert_eq!(read.summary.spilled_runs, 0, "budget {budget}");
        drop(read);
        shared.lock().unwrap().clear();
        let (got, written) = streamed(&reader, &path, &shared);
        assert_eq!(
            written > 0,
            writes_during_the_read,
            "budget {budget}: {written} written"
        );
        assert!(got == expected, "budget {budget}: the bytes differ");
    }
}
