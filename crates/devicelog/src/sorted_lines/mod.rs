//! Time order for records that are only going to be printed: formatted on every core, sorted as
//! bytes.
//!
//! When most of a log is kept (a real export keeps 30–45 % of its lines for the push set),
//! building, sorting, spilling and printing [`LogRecord`]s one by one on one thread costs more
//! than parsing them on every core. A reader built with
//! [`LogReaderBuilder::lines`](crate::LogReaderBuilder::lines) instead hands the kept records,
//! in batches, to formatting threads. Each thread turns its batch into one block of output bytes
//! with a key (time, arrival index) per line, formatted in key order. Dated text formats go
//! further: their parsing threads format each chunk's kept records as they parse them
//! ([`BlockBuilder`]), in arrival order, and a block whose keys are out of order records where
//! each line lies rather than copying the lines into order (exports are nearly ordered, so a
//! few lines are out of place). A gathering thread holds the blocks. When the reader can bound the times still to come (a
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

/// One formatted batch. Its keys are in order; its lines are laid out in key order too unless
/// `order` says otherwise. Line `j` of the layout is `bytes[ends[j - 1]..ends[j]]`. Its records
/// arrived as `first`, `first + 1`, ….
struct Block {
    first: u64,
    keys: Vec<Key>,
    ends: Vec<usize>,
    bytes: Vec<u8>,
    /// Empty when the layout is in key order; else the layout line of each key, in key order.
    order: Vec<u32>,
}

impl Block {
    fn empty() -> Block {
        Block {
            first: 0,
            keys: Vec::new(),
            ends: Vec::new(),
            bytes: Vec::new(),
            order: Vec::new(),
        }
    }

    /// Where the line of key `i` is laid out.
    fn position(&self, i: usize) -> usize {
        if self.order.is_empty() {
            i
        } else {
            self.order[i] as usize
        }
    }

    /// The bytes of laid-out lines `from..to`.
    fn laid_out(&self, from: usize, to: usize) -> &[u8] {
        let start = if from == 0 { 0 } else { self.ends[from - 1] };
        &self.bytes[start..self.ends[to - 1]]
    }

    /// The line of key `i`.
    fn line(&self, i: usize) -> &[u8] {
        let at = self.position(i);
        self.laid_out(at, at + 1)
    }

    /// Calls `f` with the lines of keys `from..to` in key order, as few slices as the layout
    /// allows: one when it is in order, a few more per line out of place.
    fn stretches(
        &self,
        from: usize,
        to: usize,
        mut f: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        if self.order.is_empty() {
            return f(self.laid_out(from, to));
        }
        let mut i = from;
        while i < to {
            let start = self.position(i);
            let mut end = start + 1;
            i += 1;
            while i < to && self.position(i) == end {
                end += 1;
                i += 1;
            }
            f(self.laid_out(start, end))?;
        }
        Ok(())
    }

    /// Sorts the keys of lines formatted in arrival order (whose keys count from 0) and says
    /// where each one's line is, rather than copying the lines: exports are nearly ordered, so
    /// the few lines out of place cost a few more slices when the block is written.
    fn put_in_order(&mut self) {
        self.order.clear();
        if self.keys.is_sorted() {
            return;
        }
        // The stable sort finds the long ordered runs of a nearly ordered block and merges
        // them; the keys are distinct, so it orders them as an unstable sort would.
        self.keys.sort();
        self.order
            .extend(self.keys.iter().map(|&(_, index)| index as u32));
    }

    /// The memory the block holds, as it counts against the sort budget: what it has written.
    /// The room it was given past that has not been touched, so it takes no memory (a block
    /// filled again has touched about as much before).
    fn memory(&self) -> usize {
        self.bytes.len() + self.keys.len() * 16 + self.ends.len() * 8 + self.order.len() * 4
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
    /// `bytes` is the room the lines are expected to take; a spare block is filled again when
    /// there is one.
    pub fn new(
        formatter: LineFormatter,
        bytes: usize,
        spare: Option<&SpareBlocks>,
    ) -> BlockBuilder {
        let block = match spare.and_then(SpareBlocks::take) {
            Some(block) if block.bytes.capacity() >= bytes => block,
            // Growing a spare block would copy its whole old capacity (the allocator does not
            // know it is empty). A new block has a little room to spare, so that the next
            // chunks, which take about as much, can fill it again.
            _ => Block {
                bytes: Vec::with_capacity(bytes + bytes / 16),
                ..Block::empty()
            },
        };
        BlockBuilder { formatter, block }
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
        self.block.put_in_order();
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

/// Blocks whose lines have been written, handed back to be filled again: a fresh block of a few
/// MiB costs the allocator new zeroed pages (the kernel's `clear_page` was 6 % of the CPU of a
/// read that keeps every line), and growing one costs a copy of what it holds.
#[derive(Clone)]
pub(crate) struct SpareBlocks(Arc<Mutex<Receiver<Block>>>);

impl SpareBlocks {
    /// A written block, emptied, if one is waiting.
    fn take(&self) -> Option<Block> {
        let mut block = self.0.lock().ok()?.try_recv().ok()?;
        block.keys.clear();
        block.ends.clear();
        block.bytes.clear();
        block.order.clear();
        Some(block)
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
    spare: SpareBlocks,
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
        let spare = SpareBlocks(Arc::new(Mutex::new(spent_rx)));
        let workers = (0..threads)
            .map(|_| {
                let work_rx = Arc::clone(&work_rx);
                let block_tx = block_tx.clone();
                let empty_tx = empty_tx.clone();
                let formatter = Arc::clone(&formatter);
                let spare = spare.clone();
                std::thread::spawn(move || {
                    format_batches(&work_rx, &block_tx, &empty_tx, &spare, &*formatter)
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
            spare,
        }
    }

    /// Where the blocks written come back, for [`BlockBuilder::new`].
    pub fn spare_blocks(&self) -> SpareBlocks {
        self.spare.clone()
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

/// A formatting thread: batch in, block out, the emptied batch back; blocks already written
/// are filled again.
fn format_batches(
    work: &Mutex<Receiver<(u64, Vec<LogRecord>)>>,
    blocks: &SyncSender<ToGather>,
    empty: &SyncSender<Vec<LogRecord>>,
    spare: &SpareBlocks,
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
        let mut block = match spare.take() {
            Some(mut block) => {
                block.first = first;
                block
            }
            None => Block {
                first,
                keys: Vec::with_capacity(batch.len()),
                ends: Vec::with_capacity(batch.len()),
                bytes: Vec::with_capacity(batch.len() * line_bytes * 9 / 8),
                order: Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(record: &LogRecord, out: &mut Vec<u8>) {
        out.extend_from_slice(record.message.as_bytes());
        out.push(b'\n');
    }

    fn record(micros: i64, message: &str) -> LogRecord {
        let at = pushtrace_model::Timestamp::new(micros, pushtrace_model::UtcOffset::UTC);
        let origin = pushtrace_model::Origin::Line {
            file: "t".into(),
            line: 1,
        };
        LogRecord::new(at, "apsd", message, origin)
    }

    fn written(block: &Block) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut slices = 0;
        block
            .stretches(0, block.keys.len(), |bytes| {
                slices += 1;
                out.extend_from_slice(bytes);
                Ok(())
            })
            .unwrap();
        (out, slices)
    }

    #[test]
    fn a_block_out_of_order_is_written_in_time_order_without_moving_its_lines() {
        let mut builder = BlockBuilder::new(Arc::new(line), 0, None);
        for (micros, message) in [(10, "a"), (20, "b"), (15, "c"), (30, "d"), (40, "e")] {
            builder.push(&record(micros, message));
        }
        builder.finish();
        let block = &builder.block;
        assert_eq!(
            block.bytes, b"a\nb\nc\nd\ne\n",
            "the layout is the arrival order"
        );
        assert_eq!(block.order, [0, 2, 1, 3, 4]);
        assert_eq!(block.line(1), b"c\n");
        // a, c, b, then d and e as one stretch.
        assert_eq!(written(block), (b"a\nc\nb\nd\ne\n".to_vec(), 4));
    }

    #[test]
    fn a_block_in_order_is_one_stretch() {
        let mut builder = BlockBuilder::new(Arc::new(line), 0, None);
        for (micros, message) in [(10, "a"), (10, "b"), (11, "c")] {
            builder.push(&record(micros, message));
        }
        builder.finish();
        assert!(builder.block.order.is_empty());
        assert_eq!(written(&builder.block), (b"a\nb\nc\n".to_vec(), 1));
    }
}
