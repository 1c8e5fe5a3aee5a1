//! Time order for records that are only going to be printed: formatted on every core, sorted as
//! bytes.
//!
//! When most of a log is kept (a real export keeps 30–45 % of its lines for the push set),
//! building, sorting, spilling and printing [`LogRecord`]s one by one on one thread costs more
//! than parsing them on every core. A reader built with
//! [`LogReaderBuilder::lines`](crate::LogReaderBuilder::lines) instead hands the kept records,
//! in batches, to formatting threads. Each thread turns its batch into one block of output bytes
//! with a key (time, arrival index) per line, sorts the block's lines only when they are out of
//! order (exports are nearly ordered, so most blocks are not) and lays them out in order. A
//! gathering thread holds the blocks. When the reader can bound the times still to come (a
//! floor, see `text/floor.rs`), the gathering thread writes every held line below the floor to
//! the output at once, so on a nearly ordered file only the last few blocks are held and
//! nothing touches the disk. Without a floor, or when the held lines outgrow the sort budget
//! anyway, it merges them into a run on disk. The output merges the runs and the blocks still
//! held, copying whole stretches of a block at once while no other source has an earlier line:
//! on a nearly ordered input that is most of the output. The key is the one
//! [`RecordSorter`](crate::RecordSorter) sorts by, so the bytes are the same as formatting its
//! records in order.

mod gather;
mod merge;

use std::fs::File;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use pushtrace_model::LogRecord;

use crate::error::ReadError;
use gather::{Gathered, ToGather, gather_blocks};
use merge::{Source, merge};

/// Turns one record into its output bytes (appended to the buffer, with its line end).
pub type LineFormatter = Arc<dyn Fn(&LogRecord, &mut Vec<u8>) + Send + Sync>;

/// Where lines are written while the input is still read; the caller writes the rest to it
/// afterwards ([`LogReaderBuilder::write_lines_to`](crate::LogReaderBuilder::write_lines_to)).
pub type LineOutput = Arc<Mutex<dyn Write + Send>>;

/// Records handed to a formatting thread at once: enough to make the hand-over cheap, few
/// enough that the batches in flight stay a few MiB.
const BATCH_RECORDS: usize = 4096;
/// Runs merged at once; past this many, the runs are merged into one first, so the open files
/// and their read buffers stay bounded whatever the input size.
const MAX_RUNS: usize = 64;

/// A line's sort key: time in UTC microseconds, then arrival order.
type Key = (i64, u64);

/// One formatted batch, its lines laid out in key order: line `i` is
/// `bytes[ends[i - 1]..ends[i]]`. Its records arrived as `first`, `first + 1`, ….
struct Block {
    first: u64,
    keys: Vec<Key>,
    ends: Vec<usize>,
    bytes: Vec<u8>,
}

impl Block {
    fn start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { self.ends[i - 1] }
    }

    /// Lays the lines out in key order; `order` is scratch space. A block in order (exports
    /// nearly always are, within a batch) is left as it is.
    fn put_in_order(&mut self, order: &mut Vec<u32>) {
        if self.keys.is_sorted() {
            return;
        }
        order.clear();
        order.extend(0..self.keys.len() as u32);
        order.sort_unstable_by_key(|&i| self.keys[i as usize]);
        let mut bytes = Vec::with_capacity(self.bytes.len());
        let mut ends = Vec::with_capacity(self.ends.len());
        for &i in order.iter() {
            let i = i as usize;
            bytes.extend_from_slice(&self.bytes[self.start(i)..self.ends[i]]);
            ends.push(bytes.len());
        }
        self.keys.sort_unstable();
        self.bytes = bytes;
        self.ends = ends;
    }

    fn memory(&self) -> usize {
        self.bytes.capacity() + self.keys.capacity() * 16 + self.ends.capacity() * 8
    }
}

/// Lines formatted in the thread that parsed their records, as they are kept: the record's text
/// is still in the cache there, and no record crosses threads. Text readers whose records
/// need nothing from the chunks before them (dated formats) format this way;
/// [`LineSorter::push_block`] takes the result, in input order.
pub(crate) struct BlockBuilder {
    formatter: LineFormatter,
    block: Block,
}

impl BlockBuilder {
    pub fn new(formatter: LineFormatter, bytes: usize) -> BlockBuilder {
        BlockBuilder {
            formatter,
            block: Block {
                first: 0,
                keys: Vec::new(),
                ends: Vec::new(),
                bytes: Vec::with_capacity(bytes),
            },
        }
    }

    pub fn push(&mut self, record: &LogRecord) {
        let block = &mut self.block;
        block
            .keys
            .push((record.at.utc_micros(), block.keys.len() as u64));
        (self.formatter)(record, &mut block.bytes);
        block.ends.push(block.bytes.len());
    }

    /// Sorts the lines by time, in the parsing thread; returns the bytes they take.
    pub fn finish(&mut self) -> usize {
        self.block.put_in_order(&mut Vec::new());
        self.block.bytes.len()
    }
}

impl std::fmt::Debug for BlockBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockBuilder")
            .field("lines", &self.block.keys.len())
            .finish_non_exhaustive()
    }
}

/// Takes records in arrival order and formats and sorts them on `threads` threads.
pub(crate) struct LineSorter {
    batch: Vec<LogRecord>,
    next_index: u64,
    work: Option<SyncSender<(u64, Vec<LogRecord>)>>,
    /// Emptied batches come back, so their capacity is reused.
    empty: Receiver<Vec<LogRecord>>,
    workers: Vec<JoinHandle<()>>,
    gather: Option<JoinHandle<Result<Gathered, ReadError>>>,
    /// Blocks formatted elsewhere ([`LineSorter::push_block`]) and, when the lines are written
    /// during the read, floors go straight to the gathering thread.
    to_gather: Option<SyncSender<ToGather>>,
    streams: bool,
    /// The last floor sent: no record may come below it.
    floor: i64,
    /// Bytes the gathering thread holds, as it last counted them, and its budget.
    held: Arc<AtomicUsize>,
    budget: usize,
    /// Bytes of the blocks pushed whole ([`LineSorter::push_block`]): all held until a floor
    /// is sent, and known here before the gathering thread has counted them.
    pushed: usize,
}

impl LineSorter {
    /// With `out`, lines below the floors given to [`LineSorter::floor`] are written to it
    /// during the read.
    pub fn new(
        formatter: LineFormatter,
        budget: usize,
        threads: usize,
        out: Option<LineOutput>,
    ) -> LineSorter {
        let threads = threads.max(1);
        let (work_tx, work_rx) = sync_channel::<(u64, Vec<LogRecord>)>(threads * 2);
        let (block_tx, block_rx) = sync_channel::<ToGather>(threads * 2);
        let (empty_tx, empty_rx) = sync_channel::<Vec<LogRecord>>(threads * 4);
        let (spent_tx, spent_rx) = sync_channel::<Block>(threads * 2);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let spent_rx = Arc::new(Mutex::new(spent_rx));
        let workers = (0..threads)
            .map(|_| {
                let work_rx = Arc::clone(&work_rx);
                let block_tx = block_tx.clone();
                let empty_tx = empty_tx.clone();
                let formatter = Arc::clone(&formatter);
                let spent_rx = Arc::clone(&spent_rx);
                std::thread::spawn(move || {
                    format_batches(&work_rx, &block_tx, &empty_tx, &spent_rx, &*formatter)
                })
            })
            .collect();
        let streams = out.is_some();
        let to_gather = Some(block_tx.clone());
        drop(block_tx);
        let budget = budget.max(1 << 20);
        let held = Arc::new(AtomicUsize::new(0));
        let gauge = Arc::clone(&held);
        let gather =
            std::thread::spawn(move || gather_blocks(block_rx, budget, out, spent_tx, &gauge));
        LineSorter {
            batch: Vec::with_capacity(BATCH_RECORDS),
            next_index: 0,
            work: Some(work_tx),
            empty: empty_rx,
            workers,
            gather: Some(gather),
            to_gather,
            streams,
            floor: i64::MIN,
            held,
            budget,
            pushed: 0,
        }
    }

    /// Whether the held lines have reached three quarters of the sort budget: without floors
    /// from here on, they would soon go to disk. The last quarter leaves room for what is on
    /// its way to the gathering thread (a few blocks) while the floor is taken.
    pub fn holds_many(&self) -> bool {
        let held = self.held.load(Ordering::Relaxed);
        let held = if self.floor == i64::MIN {
            held.max(self.pushed)
        } else {
            held
        };
        held >= self.budget / 4 * 3
    }

    pub fn push(&mut self, record: LogRecord) -> Result<(), ReadError> {
        self.check_floor(record.at.utc_micros())?;
        self.batch.push(record);
        if self.batch.len() >= BATCH_RECORDS {
            self.send_batch()?;
        }
        Ok(())
    }

    /// Takes lines formatted where they were parsed, after the records pushed so far.
    pub fn push_block(&mut self, builder: BlockBuilder) -> Result<(), ReadError> {
        let mut block = builder.block;
        let Some(&(earliest, _)) = block.keys.first() else {
            return Ok(());
        };
        self.check_floor(earliest)?;
        if !self.batch.is_empty() {
            self.send_batch()?;
        }
        block.first = self.next_index;
        for key in &mut block.keys {
            key.1 += block.first;
        }
        self.next_index += block.keys.len() as u64;
        self.pushed += block.memory();
        match self
            .to_gather
            .as_ref()
            .map(|tx| tx.send(ToGather::Block(block)))
        {
            Some(Ok(())) => Ok(()),
            _ => Err(self.stop()),
        }
    }

    /// Lines after a record's place may have been written already when it is below the floor.
    fn check_floor(&self, time: i64) -> Result<(), ReadError> {
        if time >= self.floor {
            return Ok(());
        }
        let at = pushtrace_model::Timestamp::new(time, pushtrace_model::UtcOffset::UTC);
        Err(ReadError::Output {
            source: io::Error::other(format!(
                "a record at {at} came after the reader said none would be earlier than {} \
                 (this is a bug: please report it; --last avoids writing during the read)",
                pushtrace_model::Timestamp::new(self.floor, pushtrace_model::UtcOffset::UTC)
            )),
        })
    }

    /// No record still to come is earlier than `time` (UTC microseconds): with an output, the
    /// lines up to it can be written.
    pub fn floor(&mut self, time: i64) -> Result<(), ReadError> {
        if !self.streams || time <= self.floor {
            return Ok(());
        }
        if !self.batch.is_empty() {
            self.send_batch()?;
        }
        self.floor = time;
        let floor = ToGather::Floor {
            lines: self.next_index,
            time,
        };
        match self.to_gather.as_ref().map(|tx| tx.send(floor)) {
            Some(Ok(())) => Ok(()),
            _ => Err(self.stop()),
        }
    }

    fn send_batch(&mut self) -> Result<(), ReadError> {
        let next = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH_RECORDS));
        let batch = std::mem::replace(&mut self.batch, next);
        let first = self.next_index;
        self.next_index += batch.len() as u64;
        let sent = self.work.as_ref().map(|work| work.send((first, batch)));
        match sent {
            Some(Ok(())) => Ok(()),
            // A thread stopped: its error comes out of `finish`.
            _ => Err(self.stop()),
        }
    }

    /// Joins every thread; the error of the one that failed first, or a generic one.
    fn stop(&mut self) -> ReadError {
        self.work = None;
        self.to_gather = None;
        let mut panicked = false;
        for worker in self.workers.drain(..) {
            panicked |= worker.join().is_err();
        }
        let source = match self.gather.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => return e,
            Some(Err(_)) => io::Error::other("the thread that sorts formatted lines panicked"),
            _ if panicked => io::Error::other("a thread formatting records panicked"),
            _ => io::Error::other("the formatting threads stopped early"),
        };
        ReadError::Spill { source }
    }

    /// The formatted lines in time order.
    pub fn finish(mut self) -> Result<SortedLines, ReadError> {
        if !self.batch.is_empty() {
            self.send_batch()?;
        }
        self.work = None;
        self.to_gather = None;
        let mut panicked = false;
        for worker in self.workers.drain(..) {
            panicked |= worker.join().is_err();
        }
        let gathered = match self.gather.take().map(JoinHandle::join) {
            Some(Ok(result)) => result?,
            _ => {
                return Err(ReadError::Spill {
                    source: io::Error::other("the thread that sorts formatted lines panicked"),
                });
            }
        };
        if panicked {
            return Err(ReadError::Spill {
                source: io::Error::other("a thread formatting records panicked"),
            });
        }
        Ok(SortedLines {
            runs: gathered.runs,
            held: gathered.held,
            spilled: gathered.spilled,
            written: gathered.written,
            lines: self.next_index,
        })
    }
}

impl Drop for LineSorter {
    fn drop(&mut self) {
        // A read that failed midway: let the threads see the closed channel and end.
        self.work = None;
        self.to_gather = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        if let Some(gather) = self.gather.take() {
            let _ = gather.join();
        }
    }
}

/// A formatting thread: batch in, block out, the emptied batch back. Blocks already written
/// come back through `spent` and are filled again: a fresh block of a few MiB costs the
/// allocator new zeroed pages, and growing one costs a copy of what it holds.
fn format_batches(
    work: &Mutex<Receiver<(u64, Vec<LogRecord>)>>,
    blocks: &SyncSender<ToGather>,
    empty: &SyncSender<Vec<LogRecord>>,
    spent: &Mutex<Receiver<Block>>,
    formatter: &(dyn Fn(&LogRecord, &mut Vec<u8>) + Send + Sync),
) {
    let mut order: Vec<u32> = Vec::new();
    // Bytes per line of the last block, so a new block is sized once.
    let mut line_bytes = 256;
    loop {
        let next = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((first, mut batch)) = next else { return };
        let reused = spent.lock().ok().and_then(|rx| rx.try_recv().ok());
        let mut block = match reused {
            Some(mut block) => {
                block.first = first;
                block.keys.clear();
                block.ends.clear();
                block.bytes.clear();
                block
            }
            None => Block {
                first,
                keys: Vec::with_capacity(batch.len()),
                ends: Vec::with_capacity(batch.len()),
                bytes: Vec::with_capacity(batch.len() * line_bytes * 9 / 8),
            },
        };
        block.keys.extend(
            batch
                .iter()
                .enumerate()
                .map(|(i, record)| (record.at.utc_micros(), first + i as u64)),
        );
        // The records are formatted in key order, so a block out of order costs a sort of its
        // keys and no copy of its bytes.
        order.clear();
        order.extend(0..batch.len() as u32);
        if !block.keys.is_sorted() {
            order.sort_unstable_by_key(|&i| block.keys[i as usize]);
            block.keys.sort_unstable();
        }
        for &i in &order {
            formatter(&batch[i as usize], &mut block.bytes);
            block.ends.push(block.bytes.len());
        }
        line_bytes = (block.bytes.len() / batch.len().max(1)).max(16);
        // Freeing the records here spreads that work over the formatting threads too.
        batch.clear();
        let _ = empty.try_send(batch);
        if blocks.send(ToGather::Block(block)).is_err() {
            return;
        }
    }
}

/// Formatted lines in time order, ready to be written out.
pub struct SortedLines {
    runs: Vec<File>,
    held: Vec<Source>,
    spilled: usize,
    written: u64,
    lines: u64,
}

impl SortedLines {
    /// Lines kept, with those already written during the read.
    pub fn len(&self) -> u64 {
        self.lines
    }

    /// Lines written during the read
    /// ([`LogReaderBuilder::write_lines_to`](crate::LogReaderBuilder::write_lines_to)); the
    /// others are to be written by [`SortedLines::write_to`].
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// Times the held lines were merged into a run on disk.
    pub fn spilled_runs(&self) -> usize {
        self.spilled
    }

    /// Writes the lines not yet written in time order, leaving out those of records before
    /// `from` (UTC microseconds); returns how many were left out.
    pub fn write_to(self, out: &mut dyn Write, from: Option<i64>) -> io::Result<u64> {
        let mut sources = self.held;
        for run in self.runs {
            sources.push(Source::disk(run)?);
        }
        let mut skipped = 0;
        if let Some(from) = from {
            for source in &mut sources {
                skipped += source.skip_before(from)?;
            }
        }
        merge(&mut sources, out, false, None, &mut drop)?;
        Ok(skipped)
    }
}
