//! End-to-end reads through `LogReader`: detection, chunking across cores, ordering, line
//! numbers and every kind of bad input.

use std::io::Write;
use std::path::{Path, PathBuf};

use pushtrace_devicelog::rules::RuleSet;
use pushtrace_devicelog::{
    Format, LocalClock, LogReader, NoProgress, ReadError, ReadSummary, RecordFilter, SkipReason,
    Zone,
};
use pushtrace_model::{LogRecord, Origin};

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn seed_clock() -> LocalClock {
    LocalClock {
        date: Some((2026, 5, 20)),
        zone: Some(Zone::parse("+03:00").unwrap()),
    }
}

fn read_all(reader: &LogReader, path: &Path) -> (Vec<LogRecord>, ReadSummary) {
    let read = reader.read(path, &mut NoProgress).unwrap();
    let records = read.records.collect::<Result<Vec<_>, _>>().unwrap();
    (records, read.summary)
}

fn line_of(record: &LogRecord) -> u64 {
    match record.origin {
        Origin::Line { line, .. } => line,
        Origin::Archive { .. } => panic!("not a text record"),
    }
}

#[test]
fn seed_digest_reads_exactly_its_twelve_rows() {
    let reader = LogReader::builder().clock(seed_clock()).build();
    let (records, summary) = read_all(&reader, &testdata("seed-incident-digest.txt"));
    assert_eq!(summary.format, Format::Digest);
    assert!(summary.detected);
    assert_eq!(records.len(), 12);
    assert_eq!(summary.records_read, 12);
    assert_eq!(summary.skipped_total(), 0, "{summary}");
    assert_eq!(
        records[0].at.to_string(),
        "2026-05-20T17:45:59.562000+03:00"
    );
    assert_eq!(
        records[11].at.to_string(),
        "2026-05-20T17:50:04.598000+03:00"
    );
    assert_eq!(records[11].message, "Update assertion policy 0");
    assert_eq!(
        records[8].message,
        "necp_process_defunct_list: necp_update_client abort nexus error (2) for pid 1518 Comera"
    );
    // The kernel row is line 26 of the digest file.
    assert_eq!(line_of(&records[8]), 26);
}

#[test]
fn digest_without_date_or_zone_says_what_to_pass() {
    let reader = LogReader::builder().build();
    let err = reader
        .read(&testdata("seed-incident-digest.txt"), &mut NoProgress)
        .err()
        .unwrap();
    assert!(matches!(err, ReadError::NeedsClock { .. }));
    let text = err.to_string();
    assert!(text.contains("--date YYYY-MM-DD and --tz"), "{text}");
    assert!(text.contains("seed-incident-digest.txt"), "{text}");
}

/// A syslog-style export larger than several chunks, with multi-line records and rows out of
/// order, read on 3 threads: every record comes back once, sorted, with its true line number.
#[test]
fn large_syslog_export_is_sorted_and_numbered_across_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = Vec::with_capacity(20 << 20);
    writeln!(text, "Timestamp                       (process)[PID]").unwrap();
    let mut expected_lines = Vec::new();
    let mut line = 2u64;
    let processes = ["apsd", "mDNSResponder", "powerd", "locationd", "kernel"];
    let count = 120_000u64;
    for i in 0..count {
        // Every 7th row is printed 3 ms early: out of order, as `log show` does.
        let micros = i * 1000 - if i % 7 == 3 { 3_000 } else { 0 } + 1_000_000;
        let (s, us) = (micros / 1_000_000, micros % 1_000_000);
        let process = processes[(i % 5) as usize];
        write!(
            text,
            "2026-05-20 17:{:02}:{:02}.{us:06}+0300  localhost {process}[{}]: (Sender) [com.apple.x:cat] row {i} {}",
            s / 60,
            s % 60,
            100 + i % 5,
            "padding ".repeat((i % 30) as usize)
        )
        .unwrap();
        text.push(b'\n');
        if process == "apsd" {
            expected_lines.push((i, line));
        }
        line += 1;
        if i % 11 == 0 {
            writeln!(text, "\tcontinued {i}").unwrap();
            line += 1;
        }
    }
    assert!(
        text.len() > 3 * pushtrace_devicelog::CHUNK_BYTES,
        "input must span several chunks"
    );
    let path = write(&dir, "big.log", &text);

    let reader = LogReader::builder()
        .threads(3)
        .filter(RecordFilter::new().processes(["apsd"]))
        .build();
    let (records, summary) = read_all(&reader, &path);
    assert_eq!(summary.format, Format::LogShowSyslog);
    assert_eq!(summary.records_read, count);
    assert_eq!(summary.records_kept, count / 5);
    assert_eq!(summary.records_filtered, count - count / 5);
    assert_eq!(summary.lines, line - 1);
    assert_eq!(summary.lines_ignored, 1);
    assert_eq!(summary.skipped_total(), 0, "{summary}");
    // The log runs from apsd's first row to a kernel row the filter refused.
    let span = summary.span.expect("a span");
    assert_eq!(span.first.to_string(), "2026-05-20T17:00:01.000000+03:00");
    assert_eq!(
        span.last.utc_micros(),
        span.first.utc_micros() + 119_999_000
    );
    assert!(records.last().unwrap().at < span.last);
    assert!(records.windows(2).all(|w| w[0].at <= w[1].at), "not sorted");
    let mut got: Vec<(u64, u64)> = records
        .iter()
        .map(|r| {
            let row: u64 = r
                .message
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse()
                .unwrap();
            (row, line_of(r))
        })
        .collect();
    got.sort();
    assert_eq!(got, expected_lines);
    let continued = records
        .iter()
        .find(|r| r.message.starts_with("row 0 "))
        .unwrap();
    assert!(
        continued.message.ends_with("\n\tcontinued 0"),
        "{:?}",
        continued.message
    );
}

#[test]
fn sorting_spills_to_disk_beyond_its_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in (0..40_000).rev() {
        text.push_str(&format!(
            "2026-05-20 17:{:02}:{:02}.{:06}+0300  localhost apsd[112]: message number {i} {}\n",
            (i / 1000) / 60,
            (i / 1000) % 60,
            (i % 1000) * 1000,
            "x".repeat(40)
        ));
    }
    let path = write(&dir, "reverse.log", text.as_bytes());
    let reader = LogReader::builder().sort_memory(1 << 20).build();
    let (records, summary) = read_all(&reader, &path);
    assert!(summary.spilled_runs >= 2, "{}", summary.spilled_runs);
    assert_eq!(records.len(), 40_000);
    assert!(records.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(records[0].message.starts_with("message number 0 "));
}

#[test]
fn time_and_message_filters() {
    let reader = LogReader::builder()
        .clock(seed_clock())
        .filter(
            RecordFilter::new()
                .since("2026-05-20T17:48:41.250+03:00".parse().unwrap())
                .until("2026-05-20T17:50:04.500+03:00".parse().unwrap())
                .grep(regex::Regex::new("policy|SystemIsActive").unwrap()),
        )
        .build();
    let (records, summary) = read_all(&reader, &testdata("seed-incident-digest.txt"));
    let messages: Vec<_> = records.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "Update assertion policy 3",
            "Process CommCenter.104 Created SystemIsActive \"com.apple.ipTelephony.sipIncoming.cell\"",
            "Sending com.apple.powerd.assertionpolicy 0",
        ]
    );
    assert_eq!(summary.records_filtered, 9);
}

#[test]
fn midnight_crossing_carries_across_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    // ~6 MiB before midnight, so the crossing falls in a later chunk than the first row.
    let filler = "y".repeat(200);
    for i in 0..30_000 {
        text.push_str(&format!(
            "23:{:02}:{:02}.{:03}  apsd  before {i} {filler}\n",
            30 + i / 1200,
            (i / 20) % 60,
            i % 20 * 50
        ));
    }
    text.push_str("00:00:01.000  apsd  after midnight\n");
    let path = write(&dir, "midnight.txt", text.as_bytes());
    let reader = LogReader::builder().clock(seed_clock()).threads(2).build();
    let (records, summary) = read_all(&reader, &path);
    assert_eq!(summary.day_rollovers, 1, "{summary}");
    let last = records.last().unwrap();
    assert_eq!(last.message, "after midnight");
    assert_eq!(last.at.to_string(), "2026-05-21T00:00:01.000000+03:00");
}

#[test]
fn gzip_text_is_read_and_truncated_gzip_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read(testdata("seed-incident-digest.txt")).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&plain.repeat(50)).unwrap();
    let gz = encoder.finish().unwrap();
    let path = write(&dir, "digest.txt.gz", &gz);
    let reader = LogReader::builder().clock(seed_clock()).build();
    let (records, summary) = read_all(&reader, &path);
    assert_eq!(summary.format, Format::Digest);
    assert_eq!(records.len(), 600);

    let cut = write(&dir, "cut.txt.gz", &gz[..gz.len() / 2]);
    let err = reader.read(&cut, &mut NoProgress).err().unwrap();
    assert!(matches!(err, ReadError::Decompress { .. }), "{err:?}");
    assert!(err.to_string().contains("truncated or corrupt"), "{err}");
}

#[test]
fn bad_inputs_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let reader = LogReader::builder().clock(seed_clock()).build();

    let empty = write(&dir, "empty.log", b"");
    let err = reader.read(&empty, &mut NoProgress).err().unwrap();
    assert!(err.to_string().contains("is empty"), "{err}");

    let garbage: Vec<u8> = (0..70_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let binary = write(&dir, "garbage.bin", &garbage);
    let err = reader.read(&binary, &mut NoProgress).err().unwrap();
    assert!(err.to_string().contains("binary data"), "{err}");
    assert!(err.to_string().contains("--format"), "{err}");

    let prose = write(&dir, "notes.txt", b"Dear diary,\nthe phone did not ring.\n");
    let err = reader.read(&prose, &mut NoProgress).err().unwrap();
    assert!(matches!(err, ReadError::UnknownFormat { .. }), "{err:?}");
    assert!(err.to_string().contains("Dear diary"), "{err}");

    let missing = dir.path().join("nope.log");
    let err = reader.read(&missing, &mut NoProgress).err().unwrap();
    assert!(err.to_string().contains("nope.log"), "{err}");

    let folder = tempfile::tempdir().unwrap();
    let err = reader.read(folder.path(), &mut NoProgress).err().unwrap();
    assert!(
        err.to_string()
            .contains("neither a .logarchive nor a sysdiagnose"),
        "{err}"
    );
}

#[test]
fn long_lines_invalid_utf8_and_strict_mode() {
    let dir = tempfile::tempdir().unwrap();
    let good = "2026-05-20 17:48:41.248002+0300  localhost powerd[63]: Sending com.apple.powerd.assertionpolicy 3\n";
    let mut bytes = good.as_bytes().to_vec();
    // A 20 MB line with no newline inside: longer than MAX_LINE_BYTES.
    bytes.extend(std::iter::repeat_n(b'z', 20 << 20));
    bytes.push(b'\n');
    bytes.extend_from_slice(
        b"2026-05-20 17:48:41.250000+0300  localhost apsd[112]: caf\xc3\xa9 \xff\xfe bytes\n",
    );
    bytes.extend_from_slice(b"2026-05-20 17:48:41.260000+0300  localhost apsd pid missing\n");
    bytes.extend_from_slice(good.replace("41.248002", "41.270000").as_bytes());
    let path = write(&dir, "messy.log", &bytes);

    let reader = LogReader::builder().build();
    let (records, summary) = read_all(&reader, &path);
    assert_eq!(records.len(), 3, "{summary}");
    assert_eq!(records[1].message, "café \u{fffd}\u{fffd} bytes");
    assert_eq!(summary.lossy_utf8_lines, 1);
    assert_eq!(summary.lines, 5);
    let too_long = &summary.skipped[&SkipReason::LineTooLong];
    assert_eq!(too_long.count, 1);
    assert!(
        too_long.examples[0].starts_with(&format!("{}:2: 20971520 bytes", path.display())),
        "{:?}",
        too_long.examples
    );
    let malformed = &summary.skipped[&SkipReason::Malformed];
    assert!(
        malformed.examples[0].contains("messy.log:4"),
        "{:?}",
        malformed.examples
    );
    assert_eq!(line_of(&records[2]), 5);

    let strict = LogReader::builder().strict(true).build();
    let err = strict.read(&path, &mut NoProgress).err().unwrap();
    assert!(matches!(err, ReadError::Strict { .. }), "{err:?}");
    assert!(err.to_string().contains("messy.log:2"), "{err}");
}

#[test]
fn format_override_is_used_and_wrong_overrides_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "x.log",
        b"2026-05-20 17:48:41.248002+0300  localhost powerd[63]: hi\n",
    );
    let reader = LogReader::builder()
        .format(Some(Format::LogShowSyslog))
        .build();
    let (records, summary) = read_all(&reader, &path);
    assert!(!summary.detected);
    assert_eq!(records.len(), 1);

    let as_digest = LogReader::builder()
        .format(Some(Format::Digest))
        .clock(seed_clock())
        .build();
    let (records, summary) = read_all(&as_digest, &path);
    assert!(records.is_empty());
    assert_eq!(summary.skipped[&SkipReason::Malformed].count, 1);

    let as_archive = LogReader::builder()
        .format(Some(Format::Logarchive))
        .build();
    let err = as_archive.read(&path, &mut NoProgress).err().unwrap();
    assert!(
        err.to_string().contains("not a folder with tracev3 files"),
        "{err}"
    );
}

/// Adds `dir` to an archive under `prefix`, file by file, sorted for a stable layout.
fn walk(dir: &Path, prefix: &str, add: &mut dyn FnMut(&str, &Path)) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = format!("{prefix}/{}", path.file_name().unwrap().to_string_lossy());
        if path.is_dir() {
            walk(&path, &name, add);
        } else {
            add(&name, &path);
        }
    }
}

#[test]
fn sysdiagnose_tar_gz_and_zip_are_detected_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = testdata("unifiedlog-macos-plaso.logarchive");
    let top = "sysdiagnose_2026.05.20_17-55-00+0300_iPhone-OS_iPhone_23F79";

    let tgz = dir.path().join(format!("{top}.tar.gz"));
    let encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&tgz).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(encoder);
    tar.append_path_with_name(
        testdata("seed-incident-digest.txt"),
        format!("{top}/ps.txt"),
    )
    .unwrap();
    walk(
        &fixture,
        &format!("{top}/system_logs.logarchive"),
        &mut |name, path| {
            tar.append_path_with_name(path, name).unwrap();
        },
    );
    tar.into_inner().unwrap().finish().unwrap();

    let zip_path = dir.path().join(format!("{top}.zip"));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    walk(
        &fixture,
        &format!("{top}/system_logs.logarchive"),
        &mut |name, path| {
            zip.start_file(name, options).unwrap();
            zip.write_all(&std::fs::read(path).unwrap()).unwrap();
        },
    );
    zip.finish().unwrap();

    let reader = LogReader::builder()
        .filter(RecordFilter::new().processes(["kernel"]))
        .build();
    for archive in [&tgz, &zip_path] {
        let (records, summary) = read_all(&reader, archive);
        assert_eq!(summary.format, Format::Sysdiagnose, "{}", archive.display());
        assert_eq!(
            summary.inner.as_deref(),
            Some(format!("{top}/system_logs.logarchive").as_str())
        );
        assert_eq!(summary.records_read, 97_610);
        assert_eq!(summary.unrendered, 45_759);
        assert_eq!(records[0].message, "kprintf initialized\n");
        assert!(records.iter().all(|r| r.process == "kernel"));
        assert!(records.windows(2).all(|w| w[0].at <= w[1].at));
    }

    let cut = write(&dir, "cut.tar.gz", &std::fs::read(&tgz).unwrap()[..200_000]);
    let err = reader.read(&cut, &mut NoProgress).err().unwrap();
    assert!(matches!(err, ReadError::Archive(_)), "{err:?}");
    assert!(err.to_string().contains("cut.tar.gz"), "{err}");
}

#[test]
fn strict_stops_early_in_a_large_input_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let row = "2026-05-20 17:48:41.248002+0300  localhost powerd[63]: Sending com.apple.powerd.assertionpolicy 3\n";
    let mut text = String::from("this line is not a record\n");
    text.push_str(&row.repeat(300_000));
    let path = write(&dir, "strict.log", text.as_bytes());
    let reader = LogReader::builder()
        .strict(true)
        .threads(2)
        .format(Some(Format::LogShowSyslog))
        .build();
    let err = reader.read(&path, &mut NoProgress).err().unwrap();
    assert!(err.to_string().contains("strict.log:1"), "{err}");
}

/// PushKit's kill, logged inside the app (rules/ios.toml, `pushkit.killed_not_reported`).
const KILLED: &str = "Killing app because it never posted an incoming call to the system after receiving a PushKit VoIP push.";

#[test]
fn pushkit_lines_of_any_process_are_kept_across_chunks_and_named_in_the_summary() {
    // Several chunks, so the pipeline's parallel path and its per-chunk search run; the kills
    // are in the app's process, which the filter does not name.
    let mut text = String::new();
    let mut n = 0u64;
    let mut line = |text: &mut String, process: &str, message: &str| {
        n += 1;
        let (s, us) = (n / 1_000_000, n % 1_000_000);
        text.push_str(&format!(
            "2026-05-20 17:{:02}:{:02}.{us:06}+0300  localhost {process}[3072]: {message}\n",
            s / 60,
            s % 60
        ));
    };
    for i in 0..120_000 {
        line(
            &mut text,
            "locationd",
            "a noise line that pads the export to a few chunks",
        );
        if i % 20_000 == 7 {
            line(&mut text, "Comera", KILLED);
            line(&mut text, "Comera", "Reporting an incoming call to CallKit");
            line(&mut text, "apsd", "wanted");
        }
    }
    line(
        &mut text,
        "Signal",
        &format!("*** Terminating app, reason: '{KILLED}'"),
    );
    assert!(text.len() > 2 * pushtrace_devicelog::CHUNK_BYTES);
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "syslog.log", text.as_bytes());
    let rules = RuleSet::embedded().unwrap();
    let filter = rules.read_filter(["apsd"]);
    let reader = LogReader::builder()
        .filter(filter.clone())
        .threads(2)
        .build();
    let (records, summary) = read_all(&reader, &path);
    let by_process = |p: &str| records.iter().filter(|r| r.process == p).count();
    assert_eq!((by_process("apsd"), by_process("Comera")), (6, 6));
    assert_eq!(by_process("Signal"), 1);
    assert_eq!(by_process("locationd"), 0);
    assert!(
        records
            .iter()
            .all(|r| r.process != "Comera" || r.message == KILLED)
    );
    assert_eq!(
        summary
            .kept_by_message
            .iter()
            .map(|(p, n)| (p.as_str(), *n))
            .collect::<Vec<_>>(),
        [("Comera", 6), ("Signal", 1)]
    );
    assert_eq!(summary.kept_by_message_total(), 7);
    assert_eq!(summary.records_kept, 13);
    assert!(
        summary
            .to_string()
            .contains("7 kept from other processes for their message"),
        "{summary}"
    );
    // The time filter still applies to them.
    let until = records[0].at;
    let reader = LogReader::builder().filter(filter.until(until)).build();
    let (records, summary) = read_all(&reader, &path);
    assert_eq!(records.len(), 1);
    assert_eq!(summary.kept_by_message_total(), 1);
    // Without the literals, the app's lines are dropped and the summary says nothing of them.
    let reader = LogReader::builder()
        .filter(
            RecordFilter::new()
                .processes(rules.processes())
                .processes(["apsd"]),
        )
        .build();
    let (records, summary) = read_all(&reader, &path);
    assert_eq!(records.len(), 6);
    assert!(summary.kept_by_message.is_empty());
    assert!(!summary.to_string().contains("for their message"));
}

#[test]
fn a_dateless_log_covers_the_refused_rows_after_midnight() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let filler = "y".repeat(200);
    for i in 0..30_000 {
        let process = if i % 3 == 0 { "apsd" } else { "kernel" };
        text.push_str(&format!(
            "23:{:02}:{:02}.{:03}  {process}  before {i} {filler}\n",
            30 + i / 1200,
            (i / 20) % 60,
            i % 20 * 50
        ));
    }
    text.push_str("00:00:01.000  apsd  after midnight\n");
    text.push_str("00:03:07.250  kernel  the log runs on\n");
    let path = write(&dir, "quiet-end.txt", text.as_bytes());
    let reader = LogReader::builder()
        .clock(seed_clock())
        .threads(2)
        .filter(RecordFilter::new().processes(["apsd"]))
        .build();
    let (records, summary) = read_all(&reader, &path);
    assert_eq!(summary.day_rollovers, 1, "{summary}");
    assert_eq!(records.last().unwrap().message, "after midnight");
    let span = summary.span.expect("a span");
    assert_eq!(span.first.to_string(), "2026-05-20T23:30:00.000000+03:00");
    assert_eq!(
        span.last.with_offset(span.first.offset()).to_string(),
        "2026-05-21T00:03:07.250000+03:00"
    );
}

#[test]
fn a_zoneless_log_across_the_fall_back_hour_reads_its_second_pass_an_hour_later() {
    let dir = tempfile::tempdir().unwrap();
    let text = "\
Timestamp               Ty Process[PID:TID]
2026-11-01 01:40:00.100 Df apsd[108:1a2] [com.apple.apsd:connection] first pass
2026-11-01 01:55:04.750 Df kernel[0:5] refused, first pass
2026-11-01 01:59:59.000 Df apsd[108:1a2] [com.apple.apsd:connection] last of the first pass
2026-11-01 01:00:04.402 Df apsd[108:1a2] [com.apple.apsd:connection] second pass
2026-11-01 01:20:00.214 Df apsd[108:1a2] [com.apple.apsd:connection] still the second pass
2026-11-01 02:05:00.000 Df apsd[108:1a2] [com.apple.apsd:connection] after the fold
";
    let path = write(&dir, "fold.log", text.as_bytes());
    let reader = LogReader::builder()
        .clock(LocalClock {
            date: None,
            zone: Some(Zone::parse("America/Chicago").unwrap()),
        })
        .filter(RecordFilter::new().processes(["apsd"]))
        .build();
    let (records, summary) = read_all(&reader, &path);
    assert_eq!(summary.format, Format::LogShowCompact);
    let times: Vec<String> = records.iter().map(|r| r.at.to_string()).collect();
    assert_eq!(
        times,
        [
            "2026-11-01T01:40:00.100000-05:00",
            "2026-11-01T01:59:59.000000-05:00",
            "2026-11-01T01:00:04.402000-06:00",
            "2026-11-01T01:20:00.214000-06:00",
            "2026-11-01T02:05:00.000000-06:00",
        ]
    );
}

#[test]
fn logarchive_keeps_lines_of_any_process_by_their_message() {
    let filter = RecordFilter::new()
        .processes(["apsd"])
        .anywhere(["Location services are disabled; stopping routine"]);
    let reader = LogReader::builder().filter(filter).build();
    let (records, summary) = read_all(&reader, &testdata("unifiedlog-macos-plaso.logarchive"));
    let locationd: Vec<_> = records
        .iter()
        .filter(|r| r.process == "locationd")
        .collect();
    assert_eq!(locationd.len(), 3);
    assert!(
        locationd
            .iter()
            .all(|r| r.message.contains("Location services are disabled"))
    );
    assert_eq!(records.len() - locationd.len(), 873, "every apsd record");
    assert_eq!(
        summary.kept_by_message.get("locationd").copied(),
        Some(3),
        "{summary}"
    );
    assert_eq!(summary.records_kept, 876);
    assert_eq!(summary.records_filtered, summary.records_read - 876);
    // The archive's span counts every entry, refused ones too.
    let everything = LogReader::builder().build();
    let (all, _) = read_all(&everything, &testdata("unifiedlog-macos-plaso.logarchive"));
    let span = summary.span.expect("a span");
    assert_eq!(span.first, all.first().unwrap().at);
    assert_eq!(span.last, all.last().unwrap().at);
    assert!(records.last().unwrap().at <= span.last);
}
