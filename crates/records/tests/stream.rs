//! The streaming reader on text: chunk ends everywhere, exact lines with two workers, gzip,
//! strict reads, and every row counted.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use pushtrace_records::{Collect, ReadError, RecordReader, RowLocation};

fn jsonl(n: u64, bad_every: u64) -> String {
    let mut text = String::new();
    for i in 1..=n {
        if i % bad_every == 0 {
            text.push_str(&format!("{{\"sent_at\":\"x{i}\"}}\n"));
        } else if i % 7 == 0 {
            text.push_str("  \r\n");
        } else {
            text.push_str(&format!(
                "{{\"sent_at\":{},\"push_id\":\"p{i}\",\"attrs\":{{\"os_version\":\"26.{i}\"}}}}\r\n",
                1_779_288_420_000u64 + i
            ));
        }
    }
    text
}

fn read(
    reader: &RecordReader,
    text: &[u8],
) -> (Vec<(String, RowLocation)>, pushtrace_records::ReadSummary) {
    let (sink, summary) = reader
        .read_stream("pushes.jsonl", text, Collect::default, &|_| {})
        .unwrap();
    let records = sink
        .into_sorted()
        .into_iter()
        .map(|(r, at)| (r.push_id.unwrap_or_default(), at))
        .collect();
    (records, summary)
}

#[test]
fn chunk_ends_everywhere_keep_lines_exact() {
    let text = jsonl(300, 13);
    let one = RecordReader::builder()
        .threads(1)
        .max_bad_samples(100)
        .build();
    let (want, want_summary) = read(&one, text.as_bytes());
    assert!(want_summary.bad > 0 && want_summary.rows > 200);
    for chunk in [1, 7, 64, 1000] {
        let two = RecordReader::builder()
            .threads(2)
            .chunk_bytes(chunk)
            .max_bad_samples(100)
            .build();
        let (got, summary) = read(&two, text.as_bytes());
        assert_eq!(got, want, "chunk {chunk}");
        assert_eq!(summary.rows, want_summary.rows);
        assert_eq!(summary.bad, want_summary.bad);
        assert_eq!(summary.blank_lines, want_summary.blank_lines);
        assert_eq!(summary.lines, 300);
        assert_eq!(summary.samples, want_summary.samples, "chunk {chunk}");
    }
    // Each record sits on the line its push_id names.
    for (id, at) in &want {
        assert_eq!(*at, RowLocation::Line(id[1..].parse().unwrap()));
    }
    let lines: Vec<_> = want_summary.samples.iter().map(|s| s.at).collect();
    let expected: Vec<_> = (1..=300u64)
        .filter(|i| i % 13 == 0)
        .map(RowLocation::Line)
        .collect();
    assert_eq!(lines, expected);
    assert_eq!(want_summary.samples[0].field.as_deref(), Some("sent_at"));
    assert!(
        want_summary.samples[0]
            .to_string()
            .starts_with("pushes.jsonl:13: field `sent_at`")
    );
}

#[test]
fn samples_are_the_first_bad_rows_whatever_the_worker() {
    let text = jsonl(400, 5);
    let reader = RecordReader::builder().threads(2).chunk_bytes(50).build();
    let (_, summary) = read(&reader, text.as_bytes());
    let lines: Vec<_> = summary.samples.iter().map(|s| s.at).collect();
    assert_eq!(lines, [5, 10, 15, 20, 25].map(RowLocation::Line));
    assert_eq!(summary.bad, 80);
}

#[test]
fn gzip_reads_the_same() {
    let text = jsonl(200, 11);
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let reader = RecordReader::builder().threads(2).chunk_bytes(100).build();
    let (plain, plain_summary) = read(&reader, text.as_bytes());
    let (unzipped, summary) = read(&reader, &gz);
    assert!(summary.gzip && !plain_summary.gzip);
    assert_eq!(unzipped, plain);
    assert_eq!(summary.bytes, gz.len() as u64);
    let truncated = &gz[..gz.len() / 2];
    let e = reader
        .read_stream("cut.jsonl.gz", truncated, Collect::default, &|_| {})
        .unwrap_err();
    assert!(matches!(e, ReadError::Decompress { .. }), "{e}");
}

#[test]
fn strict_stops_at_the_first_bad_row_in_file_order() {
    let text = jsonl(500, 97);
    for chunk in [10, 333, 1 << 20] {
        let reader = RecordReader::builder()
            .threads(2)
            .strict(true)
            .chunk_bytes(chunk)
            .build();
        let e = reader
            .read_stream("pushes.jsonl", text.as_bytes(), Collect::default, &|_| {})
            .unwrap_err();
        let ReadError::Strict { row } = &e else {
            panic!("{e}")
        };
        assert_eq!(row.at, RowLocation::Line(97), "chunk {chunk}");
        assert!(e.to_string().contains("x97"), "{e}");
    }
}

#[test]
fn csv_with_quoted_line_breaks_across_chunks() {
    let mut text = String::from("\npush_id,sent_at,attr.note,attrs\n");
    let mut want = Vec::new();
    let mut line = 3;
    for i in 1..=60u64 {
        let note = if i % 4 == 0 {
            "\"two\nlines, \"\"quoted\"\"\""
        } else {
            "plain"
        };
        if i % 9 == 0 {
            text.push_str(&format!("p{i},not a time,{note},\n"));
        } else {
            text.push_str(&format!(
                "p{i},{},{note},\"{{\"\"carrier\"\":\"\"c{i}\"\"}}\"\n",
                1_779_288_420_000u64 + i
            ));
            want.push((format!("p{i}"), RowLocation::Line(line)));
        }
        line += 1 + u64::from(i % 4 == 0);
    }
    for (threads, chunk) in [(1, 1 << 20), (2, 1), (2, 17), (2, 200)] {
        let reader = RecordReader::builder()
            .threads(threads)
            .chunk_bytes(chunk)
            .build();
        let (sink, summary) = reader
            .read_stream("pushes.csv", text.as_bytes(), Collect::default, &|_| {})
            .unwrap();
        let records = sink.into_sorted();
        let got: Vec<_> = records
            .iter()
            .map(|(r, at)| (r.push_id.clone().unwrap(), *at))
            .collect();
        assert_eq!(got, want, "threads {threads} chunk {chunk}");
        assert_eq!(summary.bad, 6);
        assert_eq!(summary.samples[0].at, RowLocation::Line(13));
        assert_eq!(records[3].0.attrs["note"], "two\nlines, \"quoted\"");
        assert_eq!(records[0].0.attrs["carrier"], "c1");
    }
}

#[test]
fn parquet_needs_a_file() {
    let reader = RecordReader::builder().build();
    let e = reader
        .read_stream("-", &b"PAR1\0\0\0\0"[..], Collect::default, &|_| {})
        .unwrap_err();
    assert!(matches!(e, ReadError::ParquetNeedsFile { .. }), "{e}");
    assert!(e.to_string().contains("not standard input"), "{e}");
}
