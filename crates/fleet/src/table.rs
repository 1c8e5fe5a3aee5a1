//! The pushes of a fleet, held compactly in memory for counting: 14 bytes a push.
//!
//! Every question a report asks (a cohort's daily rate, the counts of every combination of
//! three attribute values, the devices behind a cohort's failures) is a scan of a few arrays,
//! so the pushes are kept as columns of small integers: the day, the push's *key* (its tuple of
//! attribute values, interned: a fleet has far fewer distinct tuples than pushes), its outcome,
//! its device (interned) and its latency's sketch bucket. Attribute values are dictionary codes,
//! code 0 meaning "absent". Records are turned into rows by one [`Table`] per reading thread;
//! [`Table::merge`] folds the threads' tables into one, re-coding what each thread interned.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use pushtrace_model::PushRecord;

use crate::cohort::HOUR;
use crate::outcome::{Outcome, OutcomeRules};
use crate::sketch;

/// Values kept apart per attribute; the rest are counted as [`OTHER`]. A cohort smaller than
/// 1/500 of an attribute's pushes cannot pass the support floors anyway, and an attribute with
/// thousands of values (a user id put in `attrs`) is not a cohort.
pub const MAX_VALUES: usize = 500;

/// Bits a code takes in a packed key: codes go up to [`MAX_VALUES`] + 1.
const CODE_BITS: u32 = 9;
const _: () = assert!(MAX_VALUES < (1 << CODE_BITS) - 1);

/// Attributes whose codes fit in one `u128` key.
const PACKED_ATTRIBUTES: usize = (u128::BITS / CODE_BITS) as usize;

/// A key's codes in one integer, each at its attribute's place, when there are few enough.
/// Keys hold no trailing zeros, so two keys pack alike only when they are equal.
fn pack(codes: &[u16]) -> Option<u128> {
    if codes.len() > PACKED_ATTRIBUTES {
        return None;
    }
    Some(
        codes
            .iter()
            .enumerate()
            .fold(0u128, |packed, (place, &code)| {
                packed | (u128::from(code) << (place as u32 * CODE_BITS))
            }),
    )
}

/// The value standing for an attribute's values past [`MAX_VALUES`].
pub const OTHER: &str = "(other)";

/// Row marker: no receipt, so no latency.
pub(crate) const NO_LATENCY: u16 = u16::MAX;
/// Row marker: the record names no device.
pub(crate) const NO_DEVICE: u32 = u32::MAX;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The table's maps hash with foldhash, fixed-seeded: every push looks up its attribute values,
/// key and device, and SipHash (the standard default, made against flooding by untrusted keys,
/// which a local analysis does not face) was a third of the time spent adding a push.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// One attribute's values, coded from 1 in the order first seen.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dictionary {
    values: Vec<Box<str>>,
    codes: FastMap<Box<str>, u16>,
    other: Option<u16>,
}

impl Dictionary {
    fn code(&mut self, value: &str) -> u16 {
        if let Some(&code) = self.codes.get(value) {
            return code;
        }
        if self.values.len() >= MAX_VALUES {
            return *self.other.get_or_insert_with(|| {
                self.values.push(OTHER.into());
                self.values.len() as u16
            });
        }
        self.values.push(value.into());
        let code = self.values.len() as u16;
        self.codes.insert(value.into(), code);
        code
    }

    /// The value of a code (codes start at 1).
    pub(crate) fn value(&self, code: u16) -> &str {
        &self.values[usize::from(code) - 1]
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    pub(crate) fn overflowed(&self) -> bool {
        self.other.is_some()
    }

    #[cfg(test)]
    fn lookup(&self, value: &str) -> Option<u16> {
        if value == OTHER {
            return self.other;
        }
        self.codes.get(value).copied()
    }
}

/// The pushes of a fleet as columns. Build one per reading thread with [`Table::new`], feed it
/// records with [`Table::add`], and [`Table::merge`] them.
#[derive(Clone, Debug)]
pub struct Table {
    rules: OutcomeRules,
    names: Vec<Box<str>>,
    name_index: FastMap<Box<str>, usize>,
    pub(crate) dictionaries: Vec<Dictionary>,
    /// Interned keys: `keys[k]` holds key `k`'s code per attribute (shorter when attributes
    /// were discovered after it was interned: missing trailing codes are 0).
    keys: Vec<Box<[u16]>>,
    /// Keys of up to [`PACKED_ATTRIBUTES`] attributes, packed into one integer: no slice to
    /// compare on every push.
    packed_key_index: FastMap<u128, u32>,
    /// Longer keys.
    key_index: FastMap<Box<[u16]>, u32>,
    device_ids: HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>,
    device_hashes: Vec<u64>,
    pub(crate) day: Vec<u16>,
    pub(crate) key: Vec<u32>,
    pub(crate) outcome: Vec<u8>,
    pub(crate) device: Vec<u32>,
    pub(crate) latency: Vec<u16>,
    /// The [`HOUR`] attribute's code (hour + 1), kept out of the key: with it, nearly every
    /// push would have a key of its own.
    pub(crate) hour: Vec<u8>,
    /// Records whose `sent_at` falls outside the days a row can hold (1970–2149).
    pub(crate) out_of_range: u64,
    /// Only pushes sent in `[from, to)` (UTC µs) are kept; the others are counted here.
    window: (Option<i64>, Option<i64>),
    pub(crate) outside_window: u64,
    scratch: Vec<u16>,
}

impl Table {
    /// The record fields a table reads (the rest of a record is not looked at): what a columnar
    /// reader needs to decode.
    pub const FIELDS: [&str; 6] = [
        "sent_at",
        "apns_status",
        "received_at",
        "deadline",
        "device",
        "attrs",
    ];

    pub fn new(rules: OutcomeRules) -> Table {
        let mut table = Table {
            rules,
            names: Vec::new(),
            name_index: FastMap::default(),
            dictionaries: Vec::new(),
            keys: Vec::new(),
            packed_key_index: FastMap::default(),
            key_index: FastMap::default(),
            device_ids: HashMap::default(),
            device_hashes: Vec::new(),
            day: Vec::new(),
            key: Vec::new(),
            outcome: Vec::new(),
            device: Vec::new(),
            latency: Vec::new(),
            hour: Vec::new(),
            out_of_range: 0,
            window: (None, None),
            outside_window: 0,
            scratch: Vec::new(),
        };
        table.attribute(HOUR);
        // Codes 1–24 are the hours 00–23 in every table, so merging needs no re-coding.
        for hour in HOURS {
            table.dictionaries[0].code(hour);
        }
        table
    }

    /// Keeps only pushes sent at or after `from` and before `to` (UTC µs).
    pub fn with_window(mut self, from: Option<i64>, to: Option<i64>) -> Table {
        self.window = (from, to);
        self
    }

    /// Records left out: sent outside the window asked for, or outside 1970–2149.
    pub fn left_out(&self) -> (u64, u64) {
        (self.outside_window, self.out_of_range)
    }

    pub fn rules(&self) -> &OutcomeRules {
        &self.rules
    }

    /// Pushes held.
    pub fn len(&self) -> usize {
        self.day.len()
    }

    pub fn is_empty(&self) -> bool {
        self.day.is_empty()
    }

    /// Attribute names, [`HOUR`] first, then in the order first seen.
    pub fn attributes(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|n| &**n)
    }

    /// Attributes that had more than [`MAX_VALUES`] values (the rest counted as [`OTHER`]).
    pub fn capped_attributes(&self) -> Vec<&str> {
        self.names
            .iter()
            .zip(&self.dictionaries)
            .filter(|(_, d)| d.overflowed())
            .map(|(n, _)| &**n)
            .collect()
    }

    pub(crate) fn attribute_count(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn attribute_index(&self, name: &str) -> Option<usize> {
        self.name_index.get(name).copied()
    }

    pub(crate) fn name(&self, attribute: usize) -> &str {
        &self.names[attribute]
    }

    pub(crate) fn key_count(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn key_codes(&self, key: u32) -> &[u16] {
        &self.keys[key as usize]
    }

    pub(crate) fn device_count(&self) -> usize {
        self.device_hashes.len()
    }

    fn attribute(&mut self, name: &str) -> usize {
        if let Some(&i) = self.name_index.get(name) {
            return i;
        }
        self.names.push(name.into());
        self.dictionaries.push(Dictionary::default());
        self.name_index.insert(name.into(), self.names.len() - 1);
        self.names.len() - 1
    }

    /// Adds one push.
    pub fn add(&mut self, record: &PushRecord) {
        let sent = record.sent_at;
        let micros = sent.utc_micros();
        if self.window.0.is_some_and(|from| micros < from)
            || self.window.1.is_some_and(|to| micros >= to)
        {
            self.outside_window += 1;
            return;
        }
        let day = sent.utc_micros().div_euclid(MICROS_PER_DAY);
        let Ok(day) = u16::try_from(day) else {
            self.out_of_range += 1;
            return;
        };
        let judged = self.rules.judge(record);
        let mut codes = std::mem::take(&mut self.scratch);
        codes.clear();
        codes.resize(self.names.len(), 0);
        let hour = sent.local().hour % 24 + 1;
        for (name, value) in &record.attrs {
            if name == HOUR {
                continue;
            }
            let attribute = self.attribute(name);
            if attribute >= codes.len() {
                codes.resize(attribute + 1, 0);
            }
            codes[attribute] = self.dictionaries[attribute].code(value);
        }
        while codes.last() == Some(&0) {
            codes.pop();
        }
        let key = self.intern_key(&codes);
        self.scratch = codes;
        let device = record
            .device
            .as_deref()
            .map_or(NO_DEVICE, |d| self.device_id(device_hash(d)));
        self.day.push(day);
        self.key.push(key);
        self.outcome.push(judged.outcome as u8);
        self.device.push(device);
        self.latency
            .push(judged.latency_micros.map_or(NO_LATENCY, sketch::bucket_of));
        self.hour.push(hour);
    }

    fn intern_key(&mut self, codes: &[u16]) -> u32 {
        if let Some(packed) = pack(codes) {
            let next = self.keys.len() as u32;
            let k = *self.packed_key_index.entry(packed).or_insert(next);
            if k == next {
                self.keys.push(codes.into());
            }
            return k;
        }
        if let Some(&k) = self.key_index.get(codes) {
            return k;
        }
        let k = self.keys.len() as u32;
        self.keys.push(codes.into());
        self.key_index.insert(codes.into(), k);
        k
    }

    fn device_id(&mut self, hash: u64) -> u32 {
        let next = self.device_hashes.len() as u32;
        let id = *self.device_ids.entry(hash).or_insert(next);
        if id == next {
            self.device_hashes.push(hash);
        }
        id
    }

    /// Folds `other` (another thread's pushes) into `self`.
    pub fn merge(&mut self, other: Table) {
        let attribute_map: Vec<usize> = other.names.iter().map(|n| self.attribute(n)).collect();
        let code_maps: Vec<Vec<u16>> = other
            .dictionaries
            .iter()
            .zip(&attribute_map)
            .map(|(dictionary, &mine)| {
                let mut map = vec![0u16];
                map.extend(
                    dictionary
                        .values
                        .iter()
                        .map(|v| self.dictionaries[mine].code(v)),
                );
                map
            })
            .collect();
        let mut codes = Vec::new();
        let key_map: Vec<u32> = other
            .keys
            .iter()
            .map(|theirs| {
                codes.clear();
                codes.resize(self.names.len(), 0);
                for (attribute, &code) in theirs.iter().enumerate() {
                    codes[attribute_map[attribute]] = code_maps[attribute][usize::from(code)];
                }
                while codes.last() == Some(&0) {
                    codes.pop();
                }
                self.intern_key(&codes)
            })
            .collect();
        let device_map: Vec<u32> = other
            .device_hashes
            .iter()
            .map(|&h| self.device_id(h))
            .collect();
        self.day.extend_from_slice(&other.day);
        self.key
            .extend(other.key.iter().map(|&k| key_map[k as usize]));
        self.outcome.extend_from_slice(&other.outcome);
        self.device.extend(other.device.iter().map(|&d| {
            if d == NO_DEVICE {
                NO_DEVICE
            } else {
                device_map[d as usize]
            }
        }));
        self.latency.extend_from_slice(&other.latency);
        self.hour.extend_from_slice(&other.hour);
        self.out_of_range += other.out_of_range;
        self.outside_window += other.outside_window;
    }

    /// Whether row `row` fails under the table's rules.
    pub(crate) fn fails(&self, row: usize) -> bool {
        Outcome::from_index(self.outcome[row]).is_some_and(|o| self.rules.is_failure(o))
    }

    pub(crate) fn row_outcome(&self, row: usize) -> Outcome {
        Outcome::from_index(self.outcome[row]).unwrap_or(Outcome::NotSent)
    }

    /// The first and last day (days since 1970-01-01, UTC) holding a push.
    pub fn day_range(&self) -> Option<(u16, u16)> {
        let first = *self.day.iter().min()?;
        let last = *self.day.iter().max()?;
        Some((first, last))
    }
}

impl pushtrace_records::RecordSink for Table {
    fn record(&mut self, record: &PushRecord, _at: pushtrace_records::RowLocation) {
        self.add(record);
    }

    fn merge(&mut self, other: Table) {
        Table::merge(self, other);
    }
}

const HOURS: [&str; 24] = [
    "00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15",
    "16", "17", "18", "19", "20", "21", "22", "23",
];

/// A fixed hash of a device id: 1 M devices collide with probability ~3·10⁻⁸, and 8 bytes per
/// device beat keeping the 64-character tokens. foldhash's quality variant: a full 64-bit hash.
fn device_hash(device: &str) -> u64 {
    foldhash::quality::FixedState::default().hash_one(device)
}

/// The device map's keys are already hashes.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_keys_keep_each_code_in_its_place() {
        assert_ne!(pack(&[0, 5]), pack(&[0, 0, 5]));
        assert_ne!(pack(&[0, 5, 1]), pack(&[0, 1, 5]));
        assert_eq!(pack(&[0, 511, 3]), Some((511 << 9) | (3 << 18)));
        assert!(pack(&[1; PACKED_ATTRIBUTES]).is_some());
        assert_eq!(pack(&[1; PACKED_ATTRIBUTES + 1]), None);
    }

    #[test]
    fn keys_with_absent_attributes_stay_apart() {
        // carrier only, then os_version only, with the same code: two keys, not one.
        let mut table = Table::new(OutcomeRules::default());
        table.add(&push(
            "a",
            "2026-05-20T10:00:00Z",
            &[("carrier", "X")],
            Some(200),
        ));
        table.add(&push(
            "a",
            "2026-05-20T10:00:00Z",
            &[("os_version", "X")],
            Some(200),
        ));
        assert_eq!(table.key_count(), 2);
        assert_ne!(table.key[0], table.key[1]);
        // And more attributes than a packed key holds.
        let many: Vec<(String, String)> = (0..20)
            .map(|i| (format!("a{i:02}"), "v".to_string()))
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        table.add(&push("b", "2026-05-20T10:00:00Z", &many, Some(200)));
        table.add(&push("c", "2026-05-20T11:00:00Z", &many, Some(200)));
        assert_eq!(table.key_count(), 3);
        assert_eq!(table.key[2], table.key[3]);
    }
    use pushtrace_model::Timestamp;

    fn push(device: &str, sent: &str, attrs: &[(&str, &str)], status: Option<u16>) -> PushRecord {
        let mut r = PushRecord::new(Timestamp::parse(sent).unwrap());
        r.device = Some(device.to_string());
        r.apns_status = status;
        r.attrs = attrs
            .iter()
            .map(|(a, v)| (a.to_string(), v.to_string()))
            .collect();
        r
    }

    #[test]
    fn merged_tables_agree_with_one_table() {
        let records = [
            push(
                "a",
                "2026-05-20T17:00:00Z",
                &[("os_version", "26.1")],
                Some(200),
            ),
            push(
                "b",
                "2026-05-21T08:00:00+02:00",
                &[("carrier", "Orange")],
                None,
            ),
            push(
                "a",
                "2026-05-21T09:00:00Z",
                &[("carrier", "Orange"), ("os_version", "26.2")],
                Some(410),
            ),
        ];
        let mut whole = Table::new(OutcomeRules::default());
        records.iter().for_each(|r| whole.add(r));
        let mut first = Table::new(OutcomeRules::default());
        let mut second = Table::new(OutcomeRules::default());
        first.add(&records[0]);
        second.add(&records[1]);
        second.add(&records[2]);
        first.merge(second);
        type Row = (u16, Vec<(String, String)>, u8, u32);
        let describe = |t: &Table| -> Vec<Row> {
            (0..t.len())
                .map(|row| {
                    let key = t.key[row];
                    let attrs = (0..t.attribute_count())
                        .filter_map(|a| {
                            let code = if a == 0 {
                                u16::from(t.hour[row])
                            } else {
                                t.key_codes(key).get(a).copied().unwrap_or(0)
                            };
                            (code != 0).then(|| {
                                (
                                    t.name(a).to_string(),
                                    t.dictionaries[a].value(code).to_string(),
                                )
                            })
                        })
                        .collect::<Vec<_>>();
                    let mut attrs = attrs;
                    attrs.sort();
                    (t.day[row], attrs, t.outcome[row], t.device[row])
                })
                .collect()
        };
        assert_eq!(describe(&whole), describe(&first));
        assert_eq!(first.device_count(), 2);
        // The hour is the sender's wall clock: 08:00 at +02:00.
        assert_eq!(describe(&first)[1].1[1], ("hour".into(), "08".into()));
    }

    #[test]
    fn an_attribute_past_its_value_limit_counts_the_rest_as_other() {
        let mut table = Table::new(OutcomeRules::default());
        for i in 0..MAX_VALUES + 10 {
            let user = i.to_string();
            table.add(&push(
                "d",
                "2026-05-20T17:00:00Z",
                &[("user", &user)],
                Some(200),
            ));
        }
        let user = table.attribute_index("user").unwrap();
        assert!(table.dictionaries[user].overflowed());
        assert_eq!(table.dictionaries[user].len(), MAX_VALUES + 1);
        assert_eq!(
            table.dictionaries[user].value(table.dictionaries[user].lookup(OTHER).unwrap()),
            OTHER
        );
    }
}
