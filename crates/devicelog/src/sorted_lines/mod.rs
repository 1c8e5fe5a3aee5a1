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
//! gathering thread holds blocks up to the sort budget and, beyond it, merges them into a run on
//! disk. The output merges the runs and the blocks still held, copying whole stretches of a
//! block at once while no other source has an earlier line: on a nearly ordered input that is
//! most of the output. The key is the one [`RecordSorter`](crate::RecordSorter) sorts by, so the
//! bytes are the same as formatting its records in order.

mod merge;

use std::fs::File;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use pushtrace_model::LogRecord;

use crate::error::ReadError;
use merge::{Source, merge};

/// Turns one record into its output bytes (appended to the buffer, with its line end).
pub type LineFormatter = Arc<dyn Fn(&LogRecord, &mut Vec<u8>) + Send + Sync>;

/// Records handed to a formatting thread at once: enough to make the hand-over cheap, few
/// enough that the batches in flight stay a few MiB.
const BATCH_RECORDS: usize = 4096;
/// Runs merged at once; past this many, the runs are merged into one first, so the open files
/// and their read buffers stay bounded whatever the input size.
const MAX_RUNS: usize = 64;

/// A line's sort key: time in UTC microseconds, then arrival order.
type Key = (i64, u64);

/// One formatted batch, its lines laid out in key order: line `i` is
/// `bytes[ends[i - 1]..ends[i]]`.
struct Block {
    keys: Vec<Key>,
    ends: Vec<usize>,
    bytes: Vec<u8>,
}

impl Block {
    fn start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { self.ends[i - 1] }
    }

    fn memory(&self) -> usize {
        self.bytes.capacity() + self.keys.capacity() * 16 + self.ends.capacity() * 8
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
    gather: Option<JoinHandle<io::Result<Gathered>>>,
}

/// What the gathering thread holds at the end.
struct Gathered {
    runs: Vec<File>,
    blocks: Vec<Block>,
    spilled: usize,
}

impl LineSorter {
    pub fn new(formatter: LineFormatter, budget: usize, threads: usize) -> LineSorter {
        let threads = threads.max(1);
        let (work_tx, work_rx) = sync_channel::<(u64, Vec<LogRecord>)>(threads * 2);
        let (block_tx, block_rx) = sync_channel::<Block>(threads * 2);
        let (empty_tx, empty_rx) = sync_channel::<Vec<LogRecord>>(threads * 4);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let workers = (0..threads)
            .map(|_| {
                let work_rx = Arc::clone(&work_rx);
                let block_tx = block_tx.clone();
                let empty_tx = empty_tx.clone();
                let formatter = Arc::clone(&formatter);
                std::thread::spawn(move || {
                    format_batches(&work_rx, &block_tx, &empty_tx, &*formatter)
                })
            })
            .collect();
        drop(block_tx);
        let budget = budget.max(1 << 20);
        let gather = std::thread::spawn(move || gather_blocks(block_rx, budget));
        LineSorter {
            batch: Vec::with_capacity(BATCH_RECORDS),
            next_index: 0,
            work: Some(work_tx),
            empty: empty_rx,
            workers,
            gather: Some(gather),
        }
    }

    pub fn push(&mut self, record: LogRecord) -> Result<(), ReadError> {
        self.batch.push(record);
        if self.batch.len() >= BATCH_RECORDS {
            self.send_batch()?;
        }
        Ok(())
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
        let mut panicked = false;
        for worker in self.workers.drain(..) {
            panicked |= worker.join().is_err();
        }
        let source = match self.gather.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
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
        let mut panicked = false;
        for worker in self.workers.drain(..) {
            panicked |= worker.join().is_err();
        }
        let gathered = match self.gather.take().map(JoinHandle::join) {
            Some(Ok(result)) => result.map_err(|source| ReadError::Spill { source })?,
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
            blocks: gathered.blocks,
            spilled: gathered.spilled,
            lines: self.next_index,
        })
    }
}

impl Drop for LineSorter {
    fn drop(&mut self) {
        // A read that failed midway: let the threads see the closed channel and end.
        self.work = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        if let Some(gather) = self.gather.take() {
            let _ = gather.join();
        }
    }
}

/// A formatting thread: batch in, block out, the emptied batch back.
fn format_batches(
    work: &Mutex<Receiver<(u64, Vec<LogRecord>)>>,
    blocks: &SyncSender<Block>,
    empty: &SyncSender<Vec<LogRecord>>,
    formatter: &(dyn Fn(&LogRecord, &mut Vec<u8>) + Send + Sync),
) {
    let mut order: Vec<u32> = Vec::new();
    loop {
        let next = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((first, mut batch)) = next else { return };
        let mut block = Block {
            keys: Vec::with_capacity(batch.len()),
            ends: Vec::with_capacity(batch.len()),
            bytes: Vec::with_capacity(batch.len() * 256),
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
        // Freeing the records here spreads that work over the formatting threads too.
        batch.clear();
        let _ = empty.try_send(batch);
        if blocks.send(block).is_err() {
            return;
        }
    }
}

/// The gathering thread: holds blocks up to `budget` bytes and merges them into runs beyond.
fn gather_blocks(blocks: Receiver<Block>, budget: usize) -> io::Result<Gathered> {
    let mut gathered = Gathered {
        runs: Vec::new(),
        blocks: Vec::new(),
        spilled: 0,
    };
    let mut held = 0;
    for block in blocks {
        held += block.memory();
        gathered.blocks.push(block);
        if held < budget {
            continue;
        }
        let mut sources: Vec<Source> = gathered.blocks.drain(..).map(Source::memory).collect();
        if gathered.runs.len() >= MAX_RUNS {
            for run in gathered.runs.drain(..) {
                sources.push(Source::disk(run)?);
            }
        }
        let file = tempfile::tempfile()?;
        let mut writer = io::BufWriter::with_capacity(1 << 20, file);
        merge(sources, &mut writer, true)?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        gathered.runs.push(rewound(file)?);
        gathered.spilled += 1;
        held = 0;
    }
    Ok(gathered)
}

fn rewound(mut file: File) -> io::Result<File> {
    use std::io::Seek;
    file.rewind()?;
    Ok(file)
}

/// Formatted lines in time order, ready to be written out.
pub struct SortedLines {
    runs: Vec<File>,
    blocks: Vec<Block>,
    spilled: usize,
    lines: u64,
}

impl SortedLines {
    /// Lines to be written.
    pub fn len(&self) -> u64 {
        self.lines
    }

    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// Times the held lines were merged into a run on disk.
    pub fn spilled_runs(&self) -> usize {
        self.spilled
    }

    /// Writes the lines in time order, leaving out those of records before `from` (UTC
    /// microseconds); returns how many were left out.
    pub fn write_to(self, out: &mut dyn Write, from: Option<i64>) -> io::Result<u64> {
        let mut sources: Vec<Source> = self.blocks.into_iter().map(Source::memory).collect();
        for run in self.runs {
            sources.push(Source::disk(run)?);
        }
        let mut skipped = 0;
        if let Some(from) = from {
            for source in &mut sources {
                skipped += source.skip_before(from)?;
            }
        }
        merge(sources, out, false)?;
        Ok(skipped)
    }
}
