//! Time order with bounded memory: an external merge sort of records.
//!
//! Exports are not time-ordered (`log show` prints rows microseconds out of order; a logarchive
//! interleaves its Persist, Special and Signpost files), so every read sorts. Records collect in
//! memory up to a budget; beyond it, the batch is sorted and written to a temporary file as a
//! run, and the output merges the runs. Memory therefore stays near the budget plus one record
//! per run, whatever the input size. Ties keep input order (the key includes the arrival index),
//! so output is deterministic.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};

use pushtrace_model::LogRecord;

use crate::error::ReadError;

/// Default memory for records held before a run is spilled to disk.
pub const DEFAULT_SORT_MEMORY: usize = 128 << 20;
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
            write!(writer, "{index}\t")?;
            serde_json::to_writer(&mut writer, &record)?;
            writer.write_all(b"\n")?;
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
            merge.runs.push(BufReader::with_capacity(256 << 10, file));
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
    runs: Vec<BufReader<File>>,
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
        let mut line = String::new();
        if self.runs[run].read_line(&mut line)? == 0 {
            return Ok(());
        }
        let (index, json) = line
            .trim_end()
            .split_once('\t')
            .ok_or_else(|| io::Error::other("corrupt sort run: no index"))?;
        let index: u64 = index
            .parse()
            .map_err(|_| io::Error::other("corrupt sort run: bad index"))?;
        let record: LogRecord = serde_json::from_str(json)?;
        let key = (record.at.utc_micros(), index);
        self.heap.push(Reverse(HeapEntry { key, run, record }));
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
