//! Reading pushes files as a user has them: JSONL and CSV, plain and gzip, files and streams,
//! good and bad lines.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use pushtrace_diagnose::{PushError, PushFormat, PushRead, PushReader};

fn lenient() -> PushReader {
    PushReader::builder().build()
}

fn strict() -> PushReader {
    PushReader::builder().strict(true).build()
}

fn read(text: &str) -> PushRead {
    lenient().read_stream("pushes", text.as_bytes()).unwrap()
}

fn sent(read: &PushRead) -> Vec<String> {
    read.pushes
        .iter()
        .map(|p| p.record.sent_at.to_string())
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn seed_pushes() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed-incident/pushes.jsonl")
}

#[test]
fn the_seed_incident_pushes() {
    let read = strict().read(&seed_pushes()).unwrap();
    assert_eq!(read.summary.format, PushFormat::Jsonl);
    assert!(read.summary.detected);
    assert_eq!(read.summary.pushes, 2);
    assert_eq!(
        sent(&read),
        [
            "2026-05-20T17:40:00.000000+03:00",
            "2026-05-20T17:47:00.000000+03:00"
        ]
    );
    let late = &read.pushes[1].record;
    assert_eq!(late.topic.as_deref(), Some("com.acme.call.voip"));
    assert_eq!(late.apns_status, Some(200));
    assert_eq!(late.expiration, Some(0));
    assert_eq!(
        late.received_at.map(|t| t.to_string()).as_deref(),
        Some("2026-05-20T17:50:05.000000+03:00")
    );
    assert_eq!(read.pushes[0].record.received_at, None);
    assert!(
        read.pushes[1]
            .origin
            .to_string()
            .ends_with("pushes.jsonl:2")
    );
}

#[test]
fn jsonl_sorted_by_sent_at_across_offsets_and_units() {
    let read = read(concat!(
        "{\"push_id\":\"a\",\"sent_at\":\"2026-05-20T17:47:00+03:00\"}\r\n",
        "\n",
        "{\"push_id\":\"b\",\"sent_at\":1779288000000}\n",
        "  {\"push_id\":\"c\",\"sent_at\":\"2026-05-20T10:46:00-04:00\"}",
    ));
    let ids: Vec<_> = read
        .pushes
        .iter()
        .map(|p| (p.record.push_id.clone().unwrap(), p.origin.to_string()))
        .collect();
    // b is 14:40Z, a 14:47Z, c 14:46Z.
    assert_eq!(
        ids,
        [
            ("b".to_string(), "pushes:3".to_string()),
            ("c".to_string(), "pushes:4".to_string()),
            ("a".to_string(), "pushes:1".to_string())
        ]
    );
    assert_eq!(read.summary.lines, 4);
    assert_eq!(read.summary.blank_lines, 1);
    assert_eq!(read.summary.skipped, 0);
    // Offsets are kept for display.
    assert_eq!(read.pushes[1].record.sent_at.offset().seconds(), -4 * 3600);
}

#[test]
fn same_instant_keeps_file_order() {
    let read = read(concat!(
        "{\"push_id\":\"first\",\"sent_at\":\"2026-05-20T17:47:00+03:00\"}\n",
        "{\"push_id\":\"second\",\"sent_at\":\"2026-05-20T14:47:00Z\"}\n",
    ));
    let ids: Vec<_> = read
        .pushes
        .iter()
        .map(|p| p.record.push_id.as_deref().unwrap())
        .collect();
    assert_eq!(ids, ["first", "second"]);
}

#[test]
fn csv_with_attribute_columns_and_quotes() {
    let csv = "\u{feff}push_id,sent_at,topic,priority,apns_status,apns_reason,must_report,received_at,attr.carrier,attr.os_version\r\n\
               p1,2026-05-20T17:47:00+03:00,com.acme.call.voip,10,200,,false,1779289805000,\"Turkcell, LTE\",26.4\r\n\
               p2,1779287400000,com.acme.call.voip,10,410,Unregistered,,,,\r\n";
    let read = read(csv);
    assert_eq!(read.summary.format, PushFormat::Csv);
    assert_eq!(read.summary.pushes, 2);
    assert_eq!(read.summary.lines, 3);
    let p2 = &read.pushes[0];
    assert_eq!(p2.origin.to_string(), "pushes:3");
    assert_eq!(p2.record.apns_status, Some(410));
    assert_eq!(p2.record.apns_reason.as_deref(), Some("Unregistered"));
    assert!(p2.record.attrs.is_empty());
    let p1 = &read.pushes[1].record;
    assert_eq!(p1.priority, Some(10));
    assert_eq!(p1.must_report, Some(false));
    assert_eq!(p1.apns_reason, None);
    assert_eq!(
        p1.received_at.unwrap().to_string(),
        "2026-05-20T15:10:05.000000+00:00"
    );
    assert_eq!(p1.attrs["carrier"], "Turkcell, LTE");
    assert_eq!(p1.attrs["os_version"], "26.4");
}

#[test]
fn csv_and_jsonl_read_the_same_record() {
    let jsonl = r#"{"push_id":"p","call_id":"c","device":"d","topic":"t.voip","push_type":"voip","priority":5,"expiration":1779288480,"sent_at":"2026-05-20T17:47:00.5+03:00","apns_status":200,"apns_id":"8f1e6a52-3c4d-4e5f-9a0b-1c2d3e4f5a6b","apns_unique_id":"u","apns_timestamp":1779288000000,"responded_at":"2026-05-20T17:47:00.6+03:00","received_at":"2026-05-20T17:50:05+03:00","reported_at":"2026-05-20T17:50:05.1+03:00","must_report":true,"deadline":"2026-05-20T17:48:00+03:00","attrs":{"region":"TR","rssi":-87}}"#;
    let csv = "push_id,call_id,device,topic,push_type,priority,expiration,sent_at,apns_status,apns_reason,apns_id,apns_unique_id,apns_timestamp,responded_at,received_at,reported_at,must_report,deadline,attr.region,attrs\n\
               p,c,d,t.voip,voip,5,1779288480,2026-05-20T17:47:00.5+03:00,200,,8f1e6a52-3c4d-4e5f-9a0b-1c2d3e4f5a6b,u,1779288000000,2026-05-20T17:47:00.6+03:00,2026-05-20T17:50:05+03:00,2026-05-20T17:50:05.1+03:00,TRUE,2026-05-20T17:48:00+03:00,TR,\"{\"\"rssi\"\":-87}\"\n";
    let a = read(jsonl);
    let b = read(csv);
    assert_eq!(a.summary.skipped, 0, "{}", a.summary);
    assert_eq!(b.summary.skipped, 0, "{}", b.summary);
    assert_eq!(a.pushes[0].record, b.pushes[0].record);
    assert_eq!(a.pushes[0].record.attrs["rssi"], "-87");
}

#[test]
fn gzip_files_and_streams() {
    let plain = std::fs::read(seed_pushes()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pushes.jsonl.gz");
    std::fs::write(&path, gzip(&plain)).unwrap();
    let read = strict().read(&path).unwrap();
    assert!(read.summary.gzip);
    assert_eq!(read.summary.pushes, 2);

    let csv = gzip(b"sent_at,topic\n2026-05-20T17:47:00+03:00,com.acme.call.voip\n");
    let read = strict().read_stream("<stdin>", &csv[..]).unwrap();
    assert_eq!(read.summary.format, PushFormat::Csv);
    assert_eq!(read.pushes[0].origin.to_string(), "<stdin>:2");

    let mut truncated = gzip(&plain.repeat(50));
    truncated.truncate(truncated.len() / 2);
    let err = lenient().read_stream("cut.gz", &truncated[..]).unwrap_err();
    assert!(matches!(err, PushError::Decompress { .. }), "{err}");
    assert!(err.to_string().contains("truncated or corrupt"), "{err}");
}

const BAD: &str = concat!(
    "{\"push_id\":\"ok1\",\"sent_at\":\"2026-05-20T17:47:00+03:00\"}\n",
    "{\"push_id\":\"no time\"}\n",
    "{\"sent_at\":\"2026-05-20T17:47:00+03:00\",\"received_at\":\"17:50:05\"}\n",
    "{\"sent_at\":1779288420000,\"recieved_at\":1779288605000}\n",
    "{\"sent_at\":1779288420000,\"priority\":\"high\"}\n",
    "{\"sent_at\":1779288420000,\"attrs\":{\"radio\":{\"rat\":\"lte\"}}}\n",
    "{\"sent_at\":1779288420\n",
    "[1,2]\n",
    "{\"push_id\":\"ok2\",\"sent_at\":1779288420000}\n",
);

#[test]
fn strict_names_file_line_and_field() {
    let err = strict()
        .read_stream("pushes.jsonl", BAD.as_bytes())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pushes.jsonl:2: field `sent_at`: missing: `sent_at` is required (when the server sent \
         the push: RFC 3339 with an offset, or epoch milliseconds) (--strict stops at the first \
         bad line; without it bad lines are skipped and counted): `{\"push_id\":\"no time\"}`"
    );
}

#[test]
fn lenient_skips_and_counts_with_reasons() {
    let read = lenient()
        .read_stream("pushes.jsonl", BAD.as_bytes())
        .unwrap();
    let ids: Vec<_> = read
        .pushes
        .iter()
        .map(|p| p.record.push_id.as_deref().unwrap())
        .collect();
    assert_eq!(ids, ["ok1", "ok2"]);
    assert_eq!(read.summary.skipped, 7);
    let examples: Vec<String> = read
        .summary
        .skipped_examples
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(examples.len(), 5, "only the first few are kept");
    assert!(examples[0].starts_with("pushes.jsonl:2: field `sent_at`: missing"));
    assert!(
        examples[1].starts_with(
            "pushes.jsonl:3: field `received_at`: `17:50:05` is not an RFC 3339 time with an \
             offset (2026-05-20T17:47:00+03:00) or epoch milliseconds (column 63)"
        ),
        "{}",
        examples[1]
    );
    assert!(
        examples[1].contains("epoch milliseconds"),
        "{}",
        examples[1]
    );
    assert!(
        examples[2].starts_with(
            "pushes.jsonl:4: field `recieved_at`: `recieved_at` is not a push record field: did \
             you mean `received_at`?"
        ),
        "{}",
        examples[2]
    );
    assert!(
        examples[3].starts_with("pushes.jsonl:5: field `priority`: invalid type: string \"high\""),
        "{}",
        examples[3]
    );
    assert!(
        examples[4].starts_with("pushes.jsonl:6: field `attrs.radio`: invalid type: map"),
        "{}",
        examples[4]
    );
    let summary = read.summary.to_string();
    assert!(summary.contains("7 bad lines skipped"), "{summary}");
    assert!(
        summary.contains("10 lines") || summary.contains("9 lines"),
        "{summary}"
    );
}

#[test]
fn bad_csv_rows_and_headers() {
    let csv = "sent_at,priority,must_report,attr.carrier,attrs\n\
               2026-05-20T17:47:00+03:00,10,true,Turkcell,\n\
               2026-05-20T17:47:00,10,,,\n\
               2026-05-20T17:47:00+03:00,ten,,,\n\
               2026-05-20T17:47:00+03:00,10,maybe,,\n\
               2026-05-20T17:47:00+03:00,10,,Turkcell,\"{\"\"carrier\"\":\"\"Vodafone\"\"}\"\n\
               2026-05-20T17:47:00+03:00,10\n\
               ,10,,,\n";
    let read = lenient().read_stream("pushes.csv", csv.as_bytes()).unwrap();
    assert_eq!(read.summary.pushes, 1);
    assert_eq!(read.summary.skipped, 6);
    let examples: Vec<String> = read
        .summary
        .skipped_examples
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        examples[0]
            .starts_with("pushes.csv:3: field `sent_at`: `2026-05-20T17:47:00` has no UTC offset"),
        "{}",
        examples[0]
    );
    assert!(
        examples[1].starts_with("pushes.csv:4: field `priority`"),
        "{}",
        examples[1]
    );
    assert!(
        examples[2].starts_with("pushes.csv:5: field `must_report`"),
        "{}",
        examples[2]
    );
    assert!(
        examples[3]
            .starts_with("pushes.csv:6: field `attr.carrier`: attribute `carrier` is given both"),
        "{}",
        examples[3]
    );
    assert!(
        examples[4].starts_with("pushes.csv:7: 2 cells where the header has 5 columns"),
        "{}",
        examples[4]
    );

    let err = strict()
        .read_stream(
            "pushes.csv",
            "sent_at,carrier\n1779288420000,x\n".as_bytes(),
        )
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "pushes.csv:1: bad CSV header: column `carrier` is not a push record field"
        ),
        "{err}"
    );
    assert!(err.to_string().contains("`attr.carrier`"), "{err}");
}

#[test]
fn bad_csv_utf8_names_the_column() {
    let mut csv = b"sent_at,topic\n1779288420000,com.acme\n1779288420000,com.\xff\n".to_vec();
    csv.extend_from_slice(b"1779288420000,ok\n");
    let read = lenient().read_stream("pushes.csv", &csv[..]).unwrap();
    assert_eq!(read.summary.pushes, 2);
    assert_eq!(
        read.summary.skipped_examples[0].to_string(),
        "pushes.csv:3: field `topic`: not UTF-8 text: export the pushes as UTF-8"
    );
}

#[test]
fn empty_unknown_and_forced_formats() {
    let err = lenient().read_stream("e", &b"  \n\n"[..]).unwrap_err();
    assert!(matches!(err, PushError::Empty { .. }), "{err}");

    let err = lenient()
        .read_stream("notes.txt", &b"the push went out at 17:47\n"[..])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("neither a JSON object (JSONL) nor a CSV header"),
        "{err}"
    );
    assert!(err.to_string().contains("--format jsonl|csv"), "{err}");

    // Forced CSV on a header-only file: no pushes, no error.
    let read = PushReader::builder()
        .format(Some(PushFormat::Csv))
        .build()
        .read_stream("h.csv", &b"sent_at\n"[..])
        .unwrap();
    assert!(!read.summary.detected);
    assert_eq!(read.summary.pushes, 0);

    // Forced JSONL on a CSV: every line is bad, and says so.
    let read = PushReader::builder()
        .format(Some(PushFormat::Jsonl))
        .build()
        .read_stream("p.csv", &b"sent_at\n1779288420000\n"[..])
        .unwrap();
    assert_eq!(read.summary.skipped, 2);
    assert!(
        read.summary.skipped_examples[0]
            .message
            .contains("expected a JSON object")
    );

    let err = lenient()
        .read(Path::new("/nonexistent/pushes.jsonl"))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read pushes from /nonexistent/pushes.jsonl"),
        "{err}"
    );
}

#[test]
fn long_lines_are_bounded_and_skipped() {
    let mut text = String::from("{\"sent_at\":1779288420000,\"push_id\":\"");
    text.push_str(&"x".repeat(2 << 20));
    text.push_str("\"}\n{\"sent_at\":1779288420000}\n");
    let read = read(&text);
    assert_eq!(read.summary.pushes, 1);
    assert_eq!(read.summary.skipped, 1);
    assert!(
        read.summary.skipped_examples[0]
            .message
            .contains("longer than 1 MiB")
    );
}

/// The examples of `docs/formats.md`, "Push records", read as they are printed.
#[test]
fn the_documented_examples_read() {
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/formats.md"),
    )
    .unwrap();
    let section = &docs[docs.find("## Push records").unwrap()..];
    let block = |fence: &str| {
        let start = section.find(fence).unwrap() + fence.len();
        section[start..][..section[start..].find("```").unwrap()].to_string()
    };
    let json = strict()
        .read_stream("docs.jsonl", block("```json\n").as_bytes())
        .unwrap();
    assert_eq!(json.summary.format, PushFormat::Jsonl);
    assert_eq!(json.pushes.len(), 1);
    let csv = strict()
        .read_stream("docs.csv", block("```csv\n").as_bytes())
        .unwrap();
    assert_eq!(csv.summary.format, PushFormat::Csv);
    let push = &csv.pushes[0].record;
    assert_eq!(push.attrs["carrier"], "Turkcell, LTE");
    assert_eq!(push.must_report, Some(false));
    assert_eq!(
        push.received_at.unwrap().utc_micros(),
        json.pushes[0].record.received_at.unwrap().utc_micros()
    );
    // The documented error lines are the reader's own.
    let errors = block("```\npushes.jsonl:3");
    let read = lenient()
        .read_stream("pushes.jsonl", BAD.as_bytes())
        .unwrap();
    for example in &read.summary.skipped_examples[1..3] {
        assert!(
            format!("pushes.jsonl:3{errors}").contains(&example.to_string()),
            "{example}"
        );
    }
}
