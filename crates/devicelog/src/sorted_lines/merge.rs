//! The k-way merge of sorted blocks and runs, and the run encoding on disk.
//!
//! A run is, per line: time (i64), arrival index (u64), byte length (u32), all little-endian,
//! then the line's bytes. It is private to one process and one read, so it needs no versioning.
//!
//! The merge takes the source with the earliest line and copies from it every line earlier than
//! the next source's first one before it looks at the heap again: a nearly ordered input is
//! mostly long stretches of one block, copied as one slice.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};

use super::{Block, Key};

const HEADER_BYTES: usize = 20;

pub(super) enum Source {
    Memory { block: Block, next: usize },
    Disk(DiskRun),
}

pub(super) struct DiskRun {
    reader: BufReader<File>,
    /// The next line's key and length, read ahead.
    head: Option<(Key, usize)>,
    scratch: Vec<u8>,
}

impl Source {
    pub fn memory(block: Block) -> Source {
        Source::Memory { block, next: 0 }
    }

    /// A source with no lines and no memory.
    pub fn empty() -> Source {
        Source::Memory {
            block: Block::empty(),
            next: 0,
        }
    }

    pub fn disk(file: File) -> io::Result<Source> {
        let mut run = DiskRun {
            reader: BufReader::with_capacity(256 << 10, file),
            head: None,
            scratch: Vec::new(),
        };
        run.advance()?;
        Ok(Source::Disk(run))
    }

    /// Drops the lines before `from` (a source is sorted, so they come first); returns how
    /// many.
    pub fn skip_before(&mut self, from: i64) -> io::Result<u64> {
        match self {
            Source::Memory { block, next } => {
                let skip = block.keys[*next..].partition_point(|(time, _)| *time < from);
                *next += skip;
                Ok(skip as u64)
            }
            Source::Disk(run) => {
                let mut skipped = 0;
                while let Some(((time, _), len)) = run.head
                    && time < from
                {
                    io::copy(&mut (&mut run.reader).take(len as u64), &mut io::sink())?;
                    run.advance()?;
                    skipped += 1;
                }
                Ok(skipped)
            }
        }
    }

    /// Bytes held in memory (a block's whole size until it is done).
    pub fn held_bytes(&self) -> usize {
        match self {
            Source::Memory { block, .. } => block.memory(),
            Source::Disk(run) => run.reader.capacity() + run.scratch.capacity(),
        }
    }

    pub fn key(&self) -> Option<Key> {
        match self {
            Source::Memory { block, next } => block.keys.get(*next).copied(),
            Source::Disk(run) => run.head.map(|(key, _)| key),
        }
    }

    /// Copies lines to `out` while their key is below `bound` (at least one line); returns how
    /// many.
    fn copy_below(
        &mut self,
        bound: Option<Key>,
        out: &mut dyn Write,
        headers: bool,
    ) -> io::Result<u64> {
        let below = |key: Key| bound.is_none_or(|b| key < b);
        match self {
            Source::Memory { block, next } => {
                let from = *next;
                let mut to = from + 1;
                while to < block.keys.len() && below(block.keys[to]) {
                    to += 1;
                }
                if headers {
                    for i in from..to {
                        let line = block.line(i);
                        write_header(out, block.keys[i], line.len())?;
                        out.write_all(line)?;
                    }
                } else {
                    block.stretches(from, to, |bytes| out.write_all(bytes))?;
                }
                *next = to;
                Ok((to - from) as u64)
            }
            Source::Disk(run) => {
                let mut copied = 0;
                loop {
                    let Some((key, len)) = run.head else {
                        return Ok(copied);
                    };
                    run.scratch.resize(len, 0);
                    run.reader.read_exact(&mut run.scratch)?;
                    if headers {
                        write_header(out, key, len)?;
                    }
                    out.write_all(&run.scratch)?;
                    copied += 1;
                    run.advance()?;
                    match run.head {
                        Some((key, _)) if below(key) => {}
                        _ => return Ok(copied),
                    }
                }
            }
        }
    }
}

impl DiskRun {
    fn advance(&mut self) -> io::Result<()> {
        let mut header = [0u8; HEADER_BYTES];
        match self.reader.read_exact(&mut header[..1]) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.head = None;
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        self.reader.read_exact(&mut header[1..])?;
        let time = i64::from_le_bytes(header[..8].try_into().expect("8 bytes"));
        let index = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(header[16..].try_into().expect("4 bytes"));
        self.head = Some(((time, index), len as usize));
        Ok(())
    }
}

fn write_header(out: &mut dyn Write, (time, index): Key, len: usize) -> io::Result<()> {
    let len = u32::try_from(len).map_err(|_| io::Error::other("a formatted line over 4 GiB"))?;
    let mut header = [0u8; HEADER_BYTES];
    header[..8].copy_from_slice(&time.to_le_bytes());
    header[8..16].copy_from_slice(&index.to_le_bytes());
    header[16..].copy_from_slice(&len.to_le_bytes());
    out.write_all(&header)
}

/// Writes the lines of every source to `out` in key order, up to (not including) `limit`
/// when given; with `headers`, as a run. Returns the number of lines written. A source that is
/// done is handed to `done` (to be freed or reused) as soon as it is, and left empty.
pub(super) fn merge(
    sources: &mut [Source],
    out: &mut dyn Write,
    headers: bool,
    limit: Option<Key>,
    done: &mut dyn FnMut(Source),
) -> io::Result<u64> {
    let below = |key: Key| limit.is_none_or(|limit| key < limit);
    let mut heap: BinaryHeap<Reverse<(Key, usize)>> = sources
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.key()
                .filter(|&key| below(key))
                .map(|key| Reverse((key, i)))
        })
        .collect();
    let mut written = 0;
    while let Some(Reverse((_, i))) = heap.pop() {
        let next = heap.peek().map(|Reverse((key, _))| *key);
        let bound = match (next, limit) {
            (Some(next), Some(limit)) => Some(next.min(limit)),
            (next, limit) => next.or(limit),
        };
        let source = &mut sources[i];
        written += source.copy_below(bound, out, headers)?;
        match source.key() {
            Some(key) if below(key) => heap.push(Reverse((key, i))),
            Some(_) => {}
            None => done(std::mem::replace(&mut sources[i], Source::empty())),
        }
    }
    Ok(written)
}
