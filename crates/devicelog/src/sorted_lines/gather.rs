//! The gathering thread: holds the formatted blocks, writes out what the floors allow, and
//! spills runs to disk beyond the sort budget.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{self, Seek};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

use super::merge::{Source, merge};
use super::{Block, LineOutput, MAX_RUNS};
use crate::error::ReadError;

/// What the gathering thread receives.
pub(super) enum ToGather {
    /// A formatted batch, from a formatting thread.
    Block(Block),
    /// From the reading thread, after the batches of its first `lines` records: no record
    /// still to come is earlier than `time` (UTC microseconds).
    Floor { lines: u64, time: i64 },
}

/// What the gathering thread holds at the end.
pub(super) struct Gathered {
    pub runs: Vec<File>,
    /// The lines not yet written, each source sorted.
    pub held: Vec<Source>,
    pub spilled: usize,
    /// Lines written to the output during the read.
    pub written: u64,
}

/// Which batches have arrived: blocks come from several formatting threads, so a floor applies
/// only once every block before it is in.
#[derive(Default)]
struct Arrivals {
    /// Every record before this index is in a block that has arrived.
    complete: u64,
    /// Blocks that arrived ahead of an earlier one: first index → records.
    ahead: BTreeMap<u64, u64>,
}

impl Arrivals {
    fn arrived(&mut self, first: u64, records: u64) {
        self.ahead.insert(first, records);
        while let Some(records) = self.ahead.remove(&self.complete) {
            self.complete += records;
        }
    }
}

/// Holds blocks; writes the lines below each floor to `out` once the blocks before the floor
/// are in, and hands the blocks written to `spent` for reuse; beyond `budget` bytes held,
/// merges them into a run on disk and stops writing (the lines left then go out at the end,
/// after those written). `gauge` shows the bytes held to the reading thread.
pub(super) fn gather_blocks(
    inbox: Receiver<ToGather>,
    budget: usize,
    mut out: Option<LineOutput>,
    spent: SyncSender<Block>,
    gauge: &AtomicUsize,
) -> Result<Gathered, ReadError> {
    let spill_error = |source| ReadError::Spill { source };
    let mut gathered = Gathered {
        runs: Vec::new(),
        held: Vec::new(),
        spilled: 0,
        written: 0,
    };
    let mut arrivals = Arrivals::default();
    let mut floors: VecDeque<(u64, i64)> = VecDeque::new();
    let mut held = 0;
    for message in inbox {
        match message {
            ToGather::Block(block) => {
                arrivals.arrived(block.first, block.keys.len() as u64);
                held += block.memory();
                gathered.held.push(Source::memory(block));
            }
            ToGather::Floor { lines, time } => floors.push_back((lines, time)),
        }
        if let Some(output) = &out {
            let mut floor = None;
            while let Some(&(lines, time)) = floors.front()
                && lines <= arrivals.complete
            {
                floor = Some(time);
                floors.pop_front();
            }
            if let Some(time) = floor {
                gathered.written += write_below(&mut gathered.held, output, time, &spent)?;
                held = gathered.held.iter().map(Source::held_bytes).sum();
            }
        }
        gauge.store(held, Ordering::Relaxed);
        if held < budget {
            continue;
        }
        // The floors do not keep up (an input far out of order): sort on disk from here on.
        out = None;
        floors.clear();
        let mut sources = std::mem::take(&mut gathered.held);
        if gathered.runs.len() >= MAX_RUNS {
            for run in gathered.runs.drain(..) {
                sources.push(Source::disk(run).map_err(spill_error)?);
            }
        }
        let file = tempfile::tempfile().map_err(spill_error)?;
        let mut writer = io::BufWriter::with_capacity(1 << 20, file);
        merge(&mut sources, &mut writer, true, None, &mut drop).map_err(spill_error)?;
        let mut file = writer
            .into_inner()
            .map_err(|e| spill_error(e.into_error()))?;
        file.rewind().map_err(spill_error)?;
        gathered.runs.push(file);
        gathered.spilled += 1;
        held = 0;
        gauge.store(held, Ordering::Relaxed);
    }
    Ok(gathered)
}

/// Writes the held lines up to `time` (included) in order and hands the blocks written whole
/// to `spent` (or frees them when it is full); returns the lines written.
fn write_below(
    held: &mut Vec<Source>,
    output: &LineOutput,
    time: i64,
    spent: &SyncSender<Block>,
) -> Result<u64, ReadError> {
    let limit = time.checked_add(1).map(|next| (next, 0));
    let mut out = output.lock().map_err(|_| ReadError::Output {
        source: io::Error::other("a thread writing the output panicked"),
    })?;
    let mut done = |source: Source| {
        if let Source::Memory { block, .. } = source {
            let _ = spent.try_send(block);
        }
    };
    let written = merge(held, &mut *out, false, limit, &mut done)
        .map_err(|source| ReadError::Output { source })?;
    held.retain(|source| source.key().is_some());
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_floor_waits_for_the_blocks_before_it() {
        let mut arrivals = Arrivals::default();
        arrivals.arrived(4096, 4096);
        assert_eq!(arrivals.complete, 0);
        arrivals.arrived(0, 4096);
        assert_eq!(arrivals.complete, 8192);
        arrivals.arrived(8192, 10);
        assert_eq!(arrivals.complete, 8202);
    }
}
