//! Properties of the pushes reader: what a server writes by the contract reads back the same in
//! both forms, and no input makes the reader panic.

use proptest::prelude::*;
use pushtrace_diagnose::{PushFormat, PushReader};
use pushtrace_model::{PushRecord, Timestamp, UtcOffset};

fn text() -> impl Strategy<Value = Option<String>> {
    // Commas, quotes and non-ASCII exercise CSV quoting; leading/trailing blanks are not kept
    // by CSV (cells are trimmed), so the generated text has none.
    proptest::option::of("[a-zA-Z0-9é\",.:-][a-zA-Z0-9é\",. :-]{0,10}[a-zA-Z0-9é\",.:-]")
}

fn instant() -> impl Strategy<Value = Timestamp> {
    (1_600_000_000_000_000i64..1_900_000_000_000_000, -72i32..=72).prop_map(
        |(micros, quarter_hours)| {
            Timestamp::new(
                micros,
                UtcOffset::from_seconds(quarter_hours * 900).unwrap(),
            )
        },
    )
}

prop_compose! {
    fn record()(
        ids in (text(), text(), text(), text(), text()),
        priority in proptest::option::of(prop_oneof![Just(1u8), Just(5), Just(10)]),
        expiration in proptest::option::of(0u64..2_000_000_000),
        sent_at in instant(),
        apns_status in proptest::option::of(prop_oneof![Just(200u16), Just(400), Just(410), Just(429)]),
        answer in (text(), text(), text()),
        times in (proptest::option::of(instant()), proptest::option::of(instant()),
                  proptest::option::of(instant()), proptest::option::of(instant()),
                  proptest::option::of(instant())),
        must_report in proptest::option::of(any::<bool>()),
        // CSV cells are trimmed and an empty cell is an absent value: attribute values the
        // contract keeps the same in both forms have neither.
        attrs in proptest::collection::btree_map("[a-z_]{1,8}", "[a-z]([a-zA-Z0-9 ,.é]{0,8}[a-z])?", 0..4),
    ) -> PushRecord {
        let mut push = PushRecord::new(sent_at);
        (push.push_id, push.call_id, push.device, push.topic, push.push_type) = ids;
        push.priority = priority;
        push.expiration = expiration;
        push.apns_status = apns_status;
        (push.apns_reason, push.apns_id, push.apns_unique_id) = answer;
        (push.apns_timestamp, push.responded_at, push.received_at, push.reported_at, push.deadline) = times;
        push.must_report = must_report;
        push.attrs = attrs;
        push
    }
}

/// The CSV a server would write for these records: every field column and one per attribute.
fn to_csv(records: &[PushRecord]) -> String {
    let attr_names: std::collections::BTreeSet<&String> =
        records.iter().flat_map(|r| r.attrs.keys()).collect();
    let mut header: Vec<String> = PushRecord::FIELDS
        .iter()
        .filter(|f| **f != "attrs")
        .map(|f| f.to_string())
        .collect();
    header.extend(attr_names.iter().map(|a| format!("attr.{a}")));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&header).unwrap();
    for record in records {
        let json = serde_json::to_value(record).unwrap();
        let row: Vec<String> = header
            .iter()
            .map(|column| {
                let value = match column.strip_prefix("attr.") {
                    Some(attr) => json.get("attrs").and_then(|a| a.get(attr)),
                    None => json.get(column),
                };
                match value {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                }
            })
            .collect();
        writer.write_record(&row).unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn written_records_read_back_in_sent_order(records in proptest::collection::vec(record(), 1..8)) {
        let mut expected = records.clone();
        expected.sort_by_key(|r| r.sent_at.utc_micros());
        let reader = PushReader::builder().strict(true).build();

        let jsonl: String = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        let read = reader.read_stream("p.jsonl", jsonl.as_bytes()).unwrap();
        prop_assert_eq!(read.summary.format, PushFormat::Jsonl);
        let got: Vec<_> = read.pushes.into_iter().map(|p| p.record).collect();
        prop_assert_eq!(&got, &expected);

        let csv = to_csv(&records);
        let read = reader.read_stream("p.csv", csv.as_bytes()).unwrap();
        prop_assert_eq!(read.summary.format, PushFormat::Csv);
        let got: Vec<_> = read.pushes.into_iter().map(|p| p.record).collect();
        prop_assert_eq!(&got, &expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512),
                                   format in proptest::option::of(prop_oneof![Just(PushFormat::Jsonl), Just(PushFormat::Csv)]),
                                   strict in any::<bool>()) {
        let reader = PushReader::builder().format(format).strict(strict).build();
        if let Ok(read) = reader.read_stream("fuzz", &data[..]) {
            prop_assert_eq!(read.summary.pushes as usize, read.pushes.len());
            prop_assert!(read.pushes.windows(2).all(|w| w[0].record.sent_at.utc_micros() <= w[1].record.sent_at.utc_micros()));
        }
    }

    #[test]
    fn mangled_lines_never_panic(line in "\\{\"sent_at\":[0-9\" T:+.Z-]{0,30}(,\"[a-z_.]{1,14}\":[\\[\\]{}0-9a-z\":,.-]{0,20})?\\}") {
        for reader in [PushReader::builder().build(), PushReader::builder().strict(true).build()] {
            let _ = reader.read_stream("p.jsonl", line.as_bytes());
        }
    }
}
