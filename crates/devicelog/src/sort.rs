//! Time order with bounded memory: an external merge sort of records.
//!
//! Exports are not time-ordered (`log show` prints rows microseconds out of order; a logarchive
//! interleaves its Persist, Special and Signpost files), so every read sorts. Records collect in
//! memory up to a budget; beyond it, the batch is sorted and written to a temporary file as a
//! run, and the output merges the runs. Memory therefore stays near the budget plus one record
//! per run, whatever the input size. Ties keep input order (the key includes the arrival index),
//! so output is deterministic. Runs use a compact binary encoding ([`run_format`]): a spill is
//! written and read back once, so it must cost little next to parsing the input.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Seek};
use std::sync::Arc;

use pushtrace_model::LogRecord;

use crate::error::ReadError;

/// Default memory for records held before a run is spilled to disk.
pub const DEFAULT_SORT_MEMORY: usize = 64 << 20;
/// Approximate bytes a record costs besides its strings.
const RECORD_OVERHEAD: usize = std::mem::size_of::<LogRecord>() + 16;

type Key = (i64, u64);

/// Collects records and hands them back in time order.
pub struct RecordSorter {
    budget: usize,
    held: Vec<(Key, LogRecord)>,
    held_bytes: usize,
    runs: Vec<File>,
    next_index: u64,
}

impl RecordSorter {
    pub fn new(budget: usize) -> RecordSorter {
        RecordSorter {
            budget: budget.max(1 << 20),
            held: Vec::new(),
            held_bytes: 0,
            runs: Vec::new(),
            next_index: 0,
        }
    }

    pub fn push(&mut self, record: LogRecord) -> Result<(), ReadError> {
        let key = (record.at.utc_micros(), self.next_index);
        self.next_index += 1;
        self.held_bytes += record.heap_size() + RECORD_OVERHEAD;
        self.held.push((key, record));
        if self.held_bytes >= self.budget {
            self.spill().map_err(|source| ReadError::Spill { source })?;
        }
        Ok(())
    }

    /// Runs written to disk so far.
    pub fn spilled_runs(&self) -> usize {
        self.runs.len()
    }

    fn spill(&mut self) -> io::Result<()> {
        self.held.sort_unstable_by_key(|(key, _)| *key);
        let file = tempfile::tempfile()?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        for ((_, index), record) in self.held.drain(..) {
            run_format::write(&mut writer, index, &record)?;
        }
        let mut file = writer.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        self.runs.push(file);
        self.held_bytes = 0;
        Ok(())
    }

    /// The records in time order.
    pub fn finish(mut self) -> Result<SortedRecords, ReadError> {
        self.held.sort_unstable_by_key(|(key, _)| *key);
        let mut merge = Merge {
            runs: Vec::new(),
            heap: BinaryHeap::new(),
            memory: self.held.into_iter(),
            memory_head: None,
        };
        for file in self.runs {
            merge
                .runs
                .push((BufReader::with_capacity(256 << 10, file), Vec::new()));
        }
        for run in 0..merge.runs.len() {
            merge
                .refill(run)
                .map_err(|source| ReadError::Spill { source })?;
        }
        merge.memory_head = merge.memory.next();
        Ok(SortedRecords { merge })
    }
}

/// An iterator over sorted records; reading a spilled run can fail, hence the `Result`.
pub struct SortedRecords {
    merge: Merge,
}

struct Merge {
    /// Each run's reader, with the file names it has decoded (shared, as in memory).
    runs: Vec<(BufReader<File>, Vec<Arc<str>>)>,
    /// The next record of each run, smallest key on top.
    heap: BinaryHeap<Reverse<HeapEntry>>,
    memory: std::vec::IntoIter<(Key, LogRecord)>,
    memory_head: Option<(Key, LogRecord)>,
}

struct HeapEntry {
    key: Key,
    run: usize,
    record: LogRecord,
}

impl PartialEq for HeapEntry {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for HeapEntry {}
impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapEntry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

impl Merge {
    fn refill(&mut self, run: usize) -> io::Result<()> {
        let (reader, files) = &mut self.runs[run];
        if let Some((index, record)) = run_format::read(reader, files)? {
            let key = (record.at.utc_micros(), index);
            self.heap.push(Reverse(HeapEntry { key, run, record }));
        }
        Ok(())
    }
}

impl Iterator for SortedRecords {
    type Item = Result<LogRecord, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let merge = &mut self.merge;
        let from_disk = match (merge.heap.peek(), &merge.memory_head) {
            (None, None) => return None,
            (Some(Reverse(top)), Some((key, _))) => top.key < *key,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        if from_disk {
            let Reverse(entry) = merge.heap.pop()?;
            if let Err(source) = merge.refill(entry.run) {
                return Some(Err(ReadError::Spill { source }));
            }
            Some(Ok(entry.record))
        } else {
            let (_, record) = merge.memory_head.take()?;
            merge.memory_head = merge.memory.next();
            Some(Ok(record))
        }
    }
}

/// The encoding of a spilled run: per record, little-endian integers and length-prefixed
/// UTF-8, in field order. Private to one process and one read, so it needs no versioning.
mod run_format {
    use std::io::{self, Read, Write};
    use std::sync::Arc;

    use pushtrace_model::{Level, LogRecord, Origin, Timestamp, UtcOffset};

    const LEVELS: [Level; 6] = Level::ALL;

    pub fn write(out: &mut impl Write, index: u64, r: &LogRecord) -> io::Result<()> {
        out.write_all(&index.to_le_bytes())?;
        out.write_all(&r.at.utc_micros().to_le_bytes())?;
        out.write_all(&r.at.offset().seconds().to_le_bytes())?;
        text(out, &r.process)?;
        text(out, &r.message)?;
        optional(out, r.pid.map(u64::from))?;
        optional(out, r.thread)?;
        optional(
            out,
            r.level
                .and_then(|l| LEVELS.iter().position(|x| *x == l))
                .map(|i| i as u64),
        )?;
        for field in [&r.subsystem, &r.category, &r.sender] {
            match field {
                Some(value) => {
                    out.write_all(&[1])?;
                    text(out, value)?;
                }
                None => out.write_all(&[0])?,
            }
        }
        let (kind, file, at) = match &r.origin {
            Origin::Line { file, line } => (0u8, file, *line),
            Origin::Archive { file, entry } => (1u8, file, *entry),
        };
        out.write_all(&[kind])?;
        text(out, file)?;
        out.write_all(&at.to_le_bytes())
    }

    /// The next record of a run, or `None` at its end. `files` keeps the decoded file names so
    /// records of one file share one allocation again.
    pub fn read(
        input: &mut impl Read,
        files: &mut Vec<Arc<str>>,
    ) -> io::Result<Option<(u64, LogRecord)>> {
        let mut first = [0u8; 8];
        match input.read_exact(&mut first) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let index = u64::from_le_bytes(first);
        let micros = i64::from_le_bytes(array(input)?);
        let offset =
            UtcOffset::from_seconds(i32::from_le_bytes(array(input)?)).ok_or_else(corrupt)?;
        let process = string(input)?;
        let message = string(input)?;
        let pid = read_optional(input)?
            .map(|p| u32::try_from(p).map_err(|_| corrupt()))
            .transpose()?;
        let thread = read_optional(input)?;
        let level = read_optional(input)?
            .map(|i| LEVELS.get(i as usize).copied().ok_or_else(corrupt))
            .transpose()?;
        let mut texts = [None, None, None];
        for slot in &mut texts {
            if byte(input)? == 1 {
                *slot = Some(string(input)?);
            }
        }
        let kind = byte(input)?;
        let name = string(input)?;
        let file = match files.iter().find(|f| ***f == *name) {
            Some(file) => file.clone(),
            None => {
                let file: Arc<str> = name.into();
                files.push(file.clone());
                file
            }
        };
        let at = u64::from_le_bytes(array(input)?);
        let origin = match kind {
            0 => Origin::Line { file, line: at },
            1 => Origin::Archive { file, entry: at },
            _ => return Err(corrupt()),
        };
        let [subsystem, category, sender] = texts;
        let at = Timestamp::new(micros, offset);
        let record = LogRecord {
            at,
            process,
            pid,
            thread,
            level,
            subsystem,
            category,
            sender,
            message,
            origin,
        };
        Ok(Some((index, record)))
    }

    fn corrupt() -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, "corrupt sort run")
    }

    fn text(out: &mut impl Write, value: &str) -> io::Result<()> {
        let len = u32::try_from(value.len()).map_err(|_| io::Error::other("message over 4 GiB"))?;
        out.write_all(&len.to_le_bytes())?;
        out.write_all(value.as_bytes())
    }

    fn optional(out: &mut impl Write, value: Option<u64>) -> io::Result<()> {
        match value {
            Some(v) => {
                out.write_all(&[1])?;
                out.write_all(&v.to_le_bytes())
            }
            None => out.write_all(&[0]),
        }
    }

    fn array<const N: usize>(input: &mut impl Read) -> io::Result<[u8; N]> {
        let mut bytes = [0u8; N];
        input.read_exact(&mut bytes)?;
        Ok(bytes)
    }

    fn byte(input: &mut impl Read) -> io::Result<u8> {
        Ok(array::<1>(input)?[0])
    }

    fn read_optional(input: &mut impl Read) -> io::Result<Option<u64>> {
        match byte(input)? {
            0 => Ok(None),
            1 => Ok(Some(u64::from_le_bytes(array(input)?))),
            _ => Err(corrupt()),
        }
    }

    fn string(input: &mut impl Read) -> io::Result<String> {
        let len = u32::from_le_bytes(array(input)?) as usize;
        let mut bytes = vec![0u8; len];
        input.read_exact(&mut bytes)?;
        String::from_utf8(bytes).map_err(|_| corrupt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use pushtrace_model::{Origin, Timestamp};

    fn record(micros: i64, line: u64) -> LogRecord {
        let origin = Origin::Line {
            file: "f".into(),
            line,
        };
        LogRecord::new(
            Timestamp::from_utc_micros(micros),
            "apsd",
            "x".repeat(200),
            origin,
        )
    }

    #[test]
    fn run_format_round_trips_every_field() {
        let mut full = record(1_700_000_000_123_456, 7);
        full.at = full
            .at
            .with_offset(pushtrace_model::UtcOffset::from_seconds(-25_200).unwrap());
        full.pid = Some(112);
        full.thread = Some(0x5a8b53a);
        full.level = Some(pushtrace_model::Level::Fault);
        full.subsystem = Some("com.apple.apsd".into());
        full.sender = Some("IOKit".into());
        full.message = "café\nsecond line".into();
        let archive = LogRecord {
            origin: Origin::Archive {
                file: "Persist/1.tracev3".into(),
                entry: 9,
            },
            ..record(5, 0)
        };
        let mut bytes = Vec::new();
        run_format::write(&mut bytes, 3, &full).unwrap();
        run_format::write(&mut bytes, 4, &archive).unwrap();
        let mut input = &bytes[..];
        let mut files = Vec::new();
        assert_eq!(
            run_format::read(&mut input, &mut files).unwrap(),
            Some((3, full))
        );
        assert_eq!(
            run_format::read(&mut input, &mut files).unwrap(),
            Some((4, archive))
        );
        assert_eq!(run_format::read(&mut input, &mut files).unwrap(), None);
        assert!(
            run_format::read(&mut &bytes[..20], &mut files).is_err(),
            "a cut run is an error"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn sorts_stably_across_spilled_runs(times in proptest::collection::vec(0i64..50, 0..30_000)) {
            // A 1 MiB budget with ~300-byte records spills every ~3,000 records.
            let mut sorter = RecordSorter::new(1 << 20);
            for (i, t) in times.iter().enumerate() {
                sorter.push(record(*t, i as u64)).unwrap();
            }
            let spilled = sorter.spilled_runs();
            prop_assert!(times.len() < 4_000 || spilled > 0, "{} records never spilled", times.len());
            let out: Vec<_> = sorter.finish().unwrap().map(Result::unwrap).collect();
            let mut expected: Vec<_> = times.iter().enumerate().map(|(i, t)| (*t, i as u64)).collect();
            expected.sort();
            let got: Vec<_> = out
                .iter()
                .map(|r| match r.origin { Origin::Line { line, .. } => (r.at.utc_micros(), line), _ => unreachable!() })
                .collect();
            prop_assert_eq!(got, expected);
        }
    }
}
