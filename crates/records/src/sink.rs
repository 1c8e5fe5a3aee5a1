//! Where a read delivers its records. Each worker thread fills a sink of its own, made by the
//! caller's `make_sink`; the sinks are merged when the read ends, so a sink holds whatever the
//! caller aggregates (counts, sketches, or the records themselves) without locks.

use pushtrace_model::PushRecord;

use crate::error::RowLocation;

/// Receives the records of one worker. Records of one chunk (or row group) come in file order;
/// chunks are spread over the workers, so across sinks there is no order: use the location.
///
/// A record is lent, not given: a reader may refill one record for every row (the Parquet
/// column path does, so a fleet's ten million rows cost no allocation each). A sink that keeps
/// records clones them.
pub trait RecordSink: Send + Sized {
    fn record(&mut self, record: &PushRecord, at: RowLocation);
    /// Takes in the records another worker's sink received.
    fn merge(&mut self, other: Self);
}

/// Keeps every record with its location, in file order once the read is done
/// ([`Collect::into_sorted`]): for small files and tests.
#[derive(Debug, Default)]
pub struct Collect {
    pub records: Vec<(PushRecord, RowLocation)>,
}

impl Collect {
    /// The records in the order of the file.
    pub fn into_sorted(mut self) -> Vec<(PushRecord, RowLocation)> {
        self.records.sort_by_key(|(_, at)| *at);
        self.records
    }
}

impl RecordSink for Collect {
    fn record(&mut self, record: &PushRecord, at: RowLocation) {
        self.records.push((record.clone(), at));
    }

    fn merge(&mut self, other: Self) {
        self.records.extend(other.records);
    }
}

/// Counts records: what a read costs without the caller's work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count(pub u64);

impl RecordSink for Count {
    fn record(&mut self, _record: &PushRecord, _at: RowLocation) {
        self.0 += 1;
    }

    fn merge(&mut self, other: Self) {
        self.0 += other.0;
    }
}
