//! A logarchive's chunks parsed and built on every core, giving the sink the same records in
//! the same order, with the same entry numbers and the same damage reports, as the crate's
//! sequential loop in [`super::logarchive`].
//!
//! The crate's iterator returns a tracev3 file one *chunk* at a time: a catalog with the
//! chunksets that follow it (the first also carries the file's header). Its state between two
//! chunks is only the remaining bytes and the header, so a file is split here at its catalog
//! chunks ([`plan`]) and each piece is given to a worker with the header, which decompresses
//! it, builds its entries (`build_log`, most of the time) and converts them to records. The
//! calling thread takes the results in file and chunk order, numbers and emits them.
//!
//! # Oversize strings
//!
//! An entry whose message is too long for its chunk refers to an *oversize* string by
//! (data ref, first proc id, second proc id). The sequential loop carries every chunk's oversize
//! strings to the next chunk and file, its own first, so an entry resolves to the newest chunk
//! at or before its own that holds the key (the first such string in that chunk). A worker
//! sees only its own chunk. Two ways to give it the others were measured on the real archive
//! (`testdata/unifiedlog-macos-plaso.logarchive`, docs/performance.md): a pre-pass that
//! decompresses every chunk once to collect its oversize strings costs the whole iterator again
//! (137 ms of 977 ms of CPU, 14 %), while entries that refer to an earlier chunk's string are
//! rare (there: 5 references, all to the entry's own chunk, none to an earlier one). So the
//! fix-up is taken: a worker checks the keys its entries refer to against its own strings
//! before building; a chunk that needs an earlier string is built on the calling thread, in
//! order, with its own strings followed by the earlier ones it refers to, looked up in an index
//! that holds, per key, the newest chunk's string. Lookups are by key, so that list resolves as
//! the carried one does; the deferred entries are retried at the end with the whole index.
//!
//! # Damage
//!
//! Anything the split cannot be sure to cut as the iterator does (an unknown chunk tag, a size
//! past the end, a catalog the crate cannot parse, a panic while parsing) ends the parallel
//! reading of that file: from that chunk on it is read by the sequential loop on this thread,
//! which says what is wrong exactly as it does for a sequential read.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

use macos_unifiedlogs::iterator::UnifiedLogIterator;
use macos_unifiedlogs::unified_log::UnifiedLogData;

use super::entry::{Converted, Shared};
use super::logarchive::{HEADER_CHUNK_TAG, Panics, Reader};

const CATALOG_CHUNK_TAG: u32 = 0x600b;
const CHUNKSET_CHUNK_TAG: u32 = 0x600d;
const PREAMBLE_BYTES: usize = 16;
/// Chunks handed out and not yet emitted, per thread: enough to keep every core busy while one
/// chunk is slow, few enough that memory stays a few chunks' worth (a chunk is ≤ a few MiB
/// decompressed).
const CHUNKS_IN_FLIGHT_PER_THREAD: usize = 4;

/// (data ref, first proc id, second proc id): what an entry names its oversize string by.
type Key = (u32, u64, u32);

/// Per key, the string the carried list would resolve it to: the newest chunk's, the first
/// within that chunk. (The crate does not export the string's type: lists of them travel in a
/// `UnifiedLogData`'s `oversize`.)
#[derive(Default)]
struct OversizeIndex {
    strings: UnifiedLogData,
    at: HashMap<Key, usize>,
}

impl OversizeIndex {
    /// Adds one chunk's own strings (`own.oversize`), after every earlier chunk's.
    fn add(&mut self, own: UnifiedLogData) {
        let keys: Vec<Key> = keys_of(&own).collect();
        // Backwards, so the chunk's first string of a key is the one that stays.
        for (key, string) in keys.into_iter().zip(own.oversize).rev() {
            match self.at.get(&key) {
                Some(&i) => self.strings.oversize[i] = string,
                None => {
                    self.at.insert(key, self.strings.oversize.len());
                    self.strings.oversize.push(string);
                }
            }
        }
    }

    /// Appends to `chunk`'s strings the ones of `keys` it holds.
    fn lend(&self, keys: &HashSet<Key>, chunk: &mut UnifiedLogData) {
        for key in keys {
            if let Some(&i) = self.at.get(key) {
                chunk.oversize.push(self.strings.oversize[i].clone());
            }
        }
    }

    /// The carried list of the sequential loop, in the order it would resolve keys (which for
    /// unique keys is any order).
    fn into_list(self) -> UnifiedLogData {
        self.strings
    }

    /// The index of a carried list (its first string of a key wins).
    fn from_list(list: UnifiedLogData) -> Self {
        let mut index = OversizeIndex::default();
        index.add(list);
        index
    }
}

fn keys_of(list: &UnifiedLogData) -> impl Iterator<Item = Key> + '_ {
    list.oversize.iter().map(|string| {
        (
            string.data_ref_index,
            string.first_proc_id,
            string.second_proc_id,
        )
    })
}

/// Only the oversize strings of a chunk, taken out of it.
fn own_strings(chunk: &mut UnifiedLogData) -> UnifiedLogData {
    UnifiedLogData {
        oversize: std::mem::take(&mut chunk.oversize),
        ..UnifiedLogData::default()
    }
}

/// The oversize keys a chunk's entries refer to. The crate resolves the non-activity data ref
/// of log and signpost entries; the signpost's own field is counted too, to be safe.
fn referenced_keys(chunk: &UnifiedLogData) -> HashSet<Key> {
    let mut keys = HashSet::new();
    for catalog in &chunk.catalog_data {
        for preamble in &catalog.firehose {
            for entry in &preamble.public_data {
                for data_ref in [
                    entry.firehose_non_activity.data_ref_value,
                    entry.firehose_signpost.data_ref_value,
                ] {
                    if data_ref != 0 {
                        keys.insert((
                            data_ref,
                            preamble.first_number_proc_id,
                            preamble.second_number_proc_id,
                        ));
                    }
                }
            }
        }
    }
    keys
}

/// How a tracev3 file splits into the chunks the crate's iterator returns one by one.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    /// The header chunk (with its padding).
    header: Range<usize>,
    /// Each from a catalog chunk to the next; the last to the end of the file.
    chunks: Vec<Range<usize>>,
    /// Where the sequential loop takes over, when the file cannot be cut to the end.
    tail: Option<usize>,
}

fn padding_8(size: u64) -> u64 {
    (8 - (size & 7)) & 7
}

/// Cuts `data` (starting with a header chunk) at its catalog chunks, or `None` when not even
/// the first chunk can be cut surely.
fn plan(data: &[u8]) -> Option<Plan> {
    let mut header = None;
    let mut chunks = Vec::new();
    let mut start: Option<usize> = None;
    let mut at = 0usize;
    while data.len() - at >= PREAMBLE_BYTES {
        let tag = u32::from_le_bytes(data[at..at + 4].try_into().ok()?);
        let size = u64::from_le_bytes(data[at + 8..at + 16].try_into().ok()?);
        let next = usize::try_from(size.checked_add(padding_8(size))?)
            .ok()
            .and_then(|n| n.checked_add(at + PREAMBLE_BYTES))
            .filter(|&next| next <= data.len());
        let known = match tag {
            HEADER_CHUNK_TAG => at == 0,
            CATALOG_CHUNK_TAG => header.is_some(),
            CHUNKSET_CHUNK_TAG => start.is_some(),
            _ => false,
        };
        let Some(next) = next.filter(|_| known) else {
            // From the chunk being cut, the iterator's own handling of the damage must run.
            let start = start?;
            return Some(Plan {
                header: header?,
                chunks,
                tail: Some(start),
            });
        };
        if tag == HEADER_CHUNK_TAG {
            header = Some(0..next);
        } else if tag == CATALOG_CHUNK_TAG {
            if let Some(start) = start {
                chunks.push(start..at);
            }
            start = Some(at);
        }
        at = next;
    }
    // Fewer than 16 bytes left: the iterator drops them after the last chunk, as it does here.
    chunks.push(start?..data.len());
    Some(Plan {
        header: header?,
        chunks,
        tail: None,
    })
}

/// One chunk for a worker.
struct Job {
    seq: u64,
    bytes: Vec<u8>,
    /// The file's header chunk, in `header`.
    header: Arc<UnifiedLogData>,
    evidence: String,
    file_name: Arc<str>,
}

/// What a worker made of a chunk.
enum Outcome {
    Built {
        converted: Converted,
        missing: UnifiedLogData,
        own: UnifiedLogData,
    },
    /// Its entries refer to oversize strings it does not hold: built in order, on this thread.
    NeedsEarlier(UnifiedLogData),
    BuildPanicked {
        message: String,
        own: UnifiedLogData,
    },
    /// Not cut as the iterator would cut it (or the parser panicked): read sequentially.
    Irregular,
}

fn work(shared: &Shared, job: Job) -> Outcome {
    let Job {
        bytes,
        header,
        evidence,
        file_name,
        ..
    } = job;
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        let mut chunks = UnifiedLogIterator {
            data: bytes,
            header: header.header.clone(),
            evidence,
        };
        chunks.next().filter(|_| chunks.data.is_empty())
    }));
    // One catalog, parsed: else the iterator would have merged this chunk with the next.
    let Ok(Some(mut chunk)) = parsed else {
        return Outcome::Irregular;
    };
    if chunk.header.is_empty() || chunk.catalog_data.len() != 1 {
        return Outcome::Irregular;
    }
    let own_keys: HashSet<Key> = keys_of(&chunk).collect();
    if !referenced_keys(&chunk).is_subset(&own_keys) {
        return Outcome::NeedsEarlier(chunk);
    }
    let built = shared.build(&chunk, true);
    let own = own_strings(&mut chunk);
    match built {
        Ok((entries, missing)) => Outcome::Built {
            converted: shared.convert(&file_name, &chunk, entries),
            missing,
            own,
        },
        Err(message) => Outcome::BuildPanicked { message, own },
    }
}

/// What the calling thread waits for, in order.
enum Pending {
    Chunk {
        seq: u64,
        file: usize,
        /// The chunk's number in its file (the iterator's count).
        index: u64,
        offset: usize,
        data: Arc<Vec<u8>>,
        header: Arc<UnifiedLogData>,
        evidence: String,
    },
    FileEnd {
        file: usize,
        done_bytes: u64,
    },
}

/// The calling thread's side: takes the outcomes in order and applies them to the reader.
struct Orderer<'r, 's, 'a> {
    reader: &'r mut Reader<'s, 'a>,
    index: OversizeIndex,
    pending: VecDeque<Pending>,
    arrived: HashMap<u64, Outcome>,
    outcomes: Receiver<(u64, Outcome)>,
    /// The file whose remaining chunks the sequential loop has read.
    taken_over: Option<usize>,
    panics: Panics,
    total_bytes: u64,
}

impl Orderer<'_, '_, '_> {
    /// Applies the oldest pending item, waiting for its outcome.
    fn settle_one(&mut self, progress: &mut dyn FnMut(u64, u64)) {
        let Some(item) = self.pending.pop_front() else {
            return;
        };
        match item {
            Pending::FileEnd { file, done_bytes } => {
                if self.taken_over != Some(file) {
                    let panics = std::mem::take(&mut self.panics);
                    self.reader.report_panics(file, &panics);
                }
                self.panics = Panics::default();
                progress(done_bytes, self.total_bytes);
            }
            Pending::Chunk {
                seq,
                file,
                index,
                offset,
                data,
                header,
                evidence,
            } => {
                let outcome = loop {
                    if let Some(outcome) = self.arrived.remove(&seq) {
                        break outcome;
                    }
                    // A worker only stops when the job channel closes, after this loop.
                    let Ok((at, outcome)) = self.outcomes.recv() else {
                        return;
                    };
                    self.arrived.insert(at, outcome);
                };
                if self.taken_over == Some(file) {
                    return;
                }
                self.apply(file, index, outcome, || {
                    let bytes = data[offset..].to_vec();
                    UnifiedLogIterator {
                        data: bytes,
                        header: header.header.clone(),
                        evidence,
                    }
                });
            }
        }
    }

    fn apply(
        &mut self,
        file: usize,
        index: u64,
        outcome: Outcome,
        rest_of_file: impl FnOnce() -> UnifiedLogIterator,
    ) {
        match outcome {
            Outcome::Built {
                converted,
                missing,
                own,
            } => {
                self.reader.emit(file, converted);
                self.reader.defer(file, missing);
                self.index.add(own);
            }
            Outcome::NeedsEarlier(mut chunk) => {
                let own = UnifiedLogData {
                    oversize: chunk.oversize.clone(),
                    ..UnifiedLogData::default()
                };
                self.index.lend(&referenced_keys(&chunk), &mut chunk);
                match self.reader.shared.build(&chunk, true) {
                    Ok((entries, missing)) => {
                        let name = Arc::clone(&self.reader.names[file]);
                        let converted = self.reader.shared.convert(&name, &chunk, entries);
                        self.reader.emit(file, converted);
                        self.reader.defer(file, missing);
                    }
                    Err(message) => self.count_panic(index, message),
                }
                self.index.add(own);
            }
            Outcome::BuildPanicked { message, own } => {
                self.count_panic(index, message);
                self.index.add(own);
            }
            Outcome::Irregular => {
                self.reader.oversize = std::mem::take(&mut self.index).into_list();
                let panics = std::mem::take(&mut self.panics);
                self.reader.read_chunks(file, rest_of_file(), index, panics);
                let carried = std::mem::take(&mut self.reader.oversize);
                self.index = OversizeIndex::from_list(carried);
                self.taken_over = Some(file);
            }
        }
    }

    fn count_panic(&mut self, index: u64, message: String) {
        if self.panics.0 == 0 {
            self.panics.1 = format!("chunk {index}: {message}");
        }
        self.panics.0 += 1;
    }

    fn settle_all(&mut self, progress: &mut dyn FnMut(u64, u64)) {
        while !self.pending.is_empty() {
            self.settle_one(progress);
        }
    }

    /// Reads a whole file with the sequential loop, after everything before it.
    fn read_sequentially(
        &mut self,
        file: usize,
        path: &std::path::Path,
        data: std::io::Result<Vec<u8>>,
        progress: &mut dyn FnMut(u64, u64),
        done_bytes: u64,
    ) {
        self.settle_all(progress);
        if let Some(chunks) = self.reader.open(file, path, data) {
            self.reader.oversize = std::mem::take(&mut self.index).into_list();
            self.reader.read_chunks(file, chunks, 0, Panics::default());
            let carried = std::mem::take(&mut self.reader.oversize);
            self.index = OversizeIndex::from_list(carried);
        }
        progress(done_bytes, self.total_bytes);
    }
}

/// Reads `files` (in the crate's order) with `threads` workers into `reader`; the caller retries
/// the deferred entries after.
pub(super) fn read_files(
    reader: &mut Reader,
    files: &[(PathBuf, u64)],
    threads: usize,
    progress: &mut dyn FnMut(u64, u64),
) {
    let shared = reader.shared;
    let in_flight = threads * CHUNKS_IN_FLIGHT_PER_THREAD;
    let (jobs, queue) = sync_channel::<Job>(in_flight);
    let queue = Mutex::new(queue);
    let (results, outcomes) = channel();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let results = results.clone();
            let queue = &queue;
            scope.spawn(move || {
                loop {
                    let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    let Ok(job) = job else { break };
                    let seq = job.seq;
                    if results.send((seq, work(shared, job))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(results);
        let mut orderer = Orderer {
            reader,
            index: OversizeIndex::default(),
            pending: VecDeque::new(),
            arrived: HashMap::new(),
            outcomes,
            taken_over: None,
            panics: Panics::default(),
            total_bytes: files.iter().map(|f| f.1).sum(),
        };
        let mut seq = 0u64;
        let mut done_bytes = 0u64;
        for (file, (path, size)) in files.iter().enumerate() {
            done_bytes += size;
            let data = std::fs::read(path);
            let cut = data
                .as_ref()
                .ok()
                .filter(|d| d.get(..4) == Some(&HEADER_CHUNK_TAG.to_le_bytes()[..]))
                .and_then(|d| plan(d));
            let header = cut.as_ref().and_then(|cut| {
                let bytes = data.as_ref().ok()?[cut.header.clone()].to_vec();
                catch_unwind(AssertUnwindSafe(|| {
                    let mut chunks = UnifiedLogIterator {
                        data: bytes,
                        header: Vec::new(),
                        evidence: String::new(),
                    };
                    chunks.next()
                }))
                .ok()
                .flatten()
                .filter(|chunk| !chunk.header.is_empty())
                .map(|chunk| {
                    Arc::new(UnifiedLogData {
                        header: chunk.header,
                        ..UnifiedLogData::default()
                    })
                })
            });
            let (Some(cut), Some(header), Ok(data)) = (cut, header, data.as_ref()) else {
                orderer.read_sequentially(file, path, data, progress, done_bytes);
                continue;
            };
            let evidence = path.to_string_lossy().into_owned();
            let data = Arc::new(data.clone());
            let mut offsets: Vec<(Range<usize>, bool)> =
                cut.chunks.iter().map(|r| (r.clone(), false)).collect();
            if let Some(tail) = cut.tail {
                // The sequential loop reads from there: a job that is surely irregular.
                offsets.push((tail..data.len(), true));
            }
            for (index, (range, irregular)) in offsets.into_iter().enumerate() {
                while orderer.pending.len() >= in_flight {
                    orderer.settle_one(progress);
                }
                let bytes = if irregular {
                    Vec::new()
                } else {
                    data[range.clone()].to_vec()
                };
                let job = Job {
                    seq,
                    bytes,
                    header: Arc::clone(&header),
                    evidence: evidence.clone(),
                    file_name: Arc::clone(&orderer.reader.names[file]),
                };
                if jobs.send(job).is_err() {
                    break;
                }
                orderer.pending.push_back(Pending::Chunk {
                    seq,
                    file,
                    index: index as u64,
                    offset: range.start,
                    data: Arc::clone(&data),
                    header: Arc::clone(&header),
                    evidence: evidence.clone(),
                });
                seq += 1;
            }
            orderer
                .pending
                .push_back(Pending::FileEnd { file, done_bytes });
        }
        drop(jobs);
        orderer.settle_all(progress);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(tag: u32, body: usize) -> Vec<u8> {
        let mut out = tag.to_le_bytes().to_vec();
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(body as u64).to_le_bytes());
        out.resize(
            PREAMBLE_BYTES + body + padding_8(body as u64) as usize,
            0xaa,
        );
        out
    }

    #[test]
    fn plan_cuts_at_catalogs() {
        let mut data = chunk(HEADER_CHUNK_TAG, 208);
        let header = 0..data.len();
        let first = data.len();
        data.extend(chunk(CATALOG_CHUNK_TAG, 50));
        data.extend(chunk(CHUNKSET_CHUNK_TAG, 100));
        let second = data.len();
        data.extend(chunk(CATALOG_CHUNK_TAG, 40));
        data.extend([0; 5]);
        assert_eq!(
            plan(&data),
            Some(Plan {
                header: header.clone(),
                chunks: vec![first..second, second..data.len()],
                tail: None
            })
        );
        // A chunk whose size runs past the end: the sequential loop takes over from its chunk.
        let mut damaged = data[..second].to_vec();
        damaged.extend(chunk(CATALOG_CHUNK_TAG, 40));
        damaged.extend(chunk(CHUNKSET_CHUNK_TAG, 100));
        damaged.truncate(damaged.len() - 9);
        assert_eq!(
            plan(&damaged),
            Some(Plan {
                header: header.clone(),
                chunks: std::iter::once(first..second).collect(),
                tail: Some(second)
            })
        );
        // An unknown tag in the first chunk, or no catalog after the header: not cut at all.
        let mut unknown = data[..first].to_vec();
        unknown.extend(chunk(0x6001, 8));
        assert_eq!(plan(&unknown), None);
        let mut no_catalog = data[..first].to_vec();
        no_catalog.extend(chunk(CHUNKSET_CHUNK_TAG, 8));
        assert_eq!(plan(&no_catalog), None);
    }
}
