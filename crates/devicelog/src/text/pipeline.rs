//! Reads a text export on every core with bounded memory.
//!
//! One thread reads the input in blocks of [`CHUNK_BYTES`] and cuts each block just before the
//! last line that begins a record, so no record straddles two chunks. Worker threads parse
//! chunks in parallel. The calling thread takes the results back in input order, which is what
//! lets it number lines, carry midnight crossings of date-less logs from one chunk to the next
//! and report skips with their true line. A fixed pool of buffers bounds the memory in flight:
//! the reader cannot run ahead of the slowest worker by more than the pool.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use pushtrace_model::{LogRecord, Origin, Timestamp};

use super::{ChunkContext, ChunkOutput, Skip, TextFormat, excerpt};
use crate::Progress;
use crate::clock::LocalClock;
use crate::error::ReadError;
use crate::filter::RecordFilter;
use crate::summary::{ReadSummary, SkipReason};

/// Bytes read before a chunk is cut.
pub const CHUNK_BYTES: usize = 4 << 20;
/// The longest line (or multi-line record) read whole; longer ones are skipped and counted.
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// Bytes asked of the input per read call.
const READ_STEP_BYTES: usize = 256 << 10;
const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// One text input to read.
pub(crate) struct TextRun<'a> {
    pub format: &'a dyn TextFormat,
    pub file: Arc<str>,
    pub clock: &'a LocalClock,
    pub filter: &'a RecordFilter,
    pub strict: bool,
    pub threads: usize,
}

/// A chunk is `data[..len]`; the rest of `data` is initialized spare room kept for reuse.
enum Work {
    Chunk {
        seq: u64,
        data: Vec<u8>,
        len: usize,
    },
    /// A line over [`MAX_LINE_BYTES`]: `bytes` long, its start in `data[..len]`.
    LongLine {
        seq: u64,
        bytes: u64,
        data: Vec<u8>,
        len: usize,
    },
}

struct Done {
    seq: u64,
    lines: u64,
    output: ChunkOutput,
    buffer: Option<Vec<u8>>,
}

/// Counts the bytes that pass through a reader, for progress on compressed inputs too.
pub(crate) struct CountingReader<R> {
    pub inner: R,
    pub count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl TextRun<'_> {
    /// Reads `input` to the end, passing kept records to `sink` in input order and accounting
    /// for everything in `summary`. `consumed` is the byte counter progress is shown from.
    pub fn run(
        &self,
        input: &mut (dyn Read + Send),
        consumed: &AtomicU64,
        progress: &mut dyn Progress,
        summary: &mut ReadSummary,
        sink: &mut dyn FnMut(LogRecord),
    ) -> Result<(), ReadError> {
        let threads = self.threads.max(1);
        let pool_size = threads * 2 + 2;
        let (work_tx, work_rx) = sync_channel::<Work>(pool_size);
        let (done_tx, done_rx) = sync_channel::<Done>(pool_size);
        let (pool_tx, pool_rx) = sync_channel::<Vec<u8>>(pool_size);
        for _ in 0..pool_size {
            let _ = pool_tx.send(Vec::new());
        }
        let work_rx = Mutex::new(work_rx);

        std::thread::scope(|scope| {
            let reader = scope.spawn(move || split_input(self.format, input, &pool_rx, &work_tx));
            for _ in 0..threads {
                let done_tx = done_tx.clone();
                let work_rx = &work_rx;
                scope.spawn(move || self.parse_chunks(work_rx, &done_tx));
            }
            drop(done_tx);
            let collected = self.collect(done_rx, &pool_tx, consumed, progress, summary, sink);
            let read = reader
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("reader thread panicked")));
            collected?;
            read.map_err(|e| ReadError::Io {
                path: self.file.to_string().into(),
                source: e,
            })
        })
    }

    fn parse_chunks(&self, work: &Mutex<Receiver<Work>>, done: &SyncSender<Done>) {
        let ctx = ChunkContext {
            file: &self.file,
            clock: self.clock,
            filter: self.filter,
        };
        loop {
            let next = match work.lock() {
                Ok(rx) => rx.recv(),
                Err(_) => return,
            };
            let Ok(next) = next else { return };
            let result = match next {
                Work::Chunk { seq, data, len } => {
                    let chunk = &data[..len];
                    let mut output = ChunkOutput::default();
                    self.format.parse_chunk(chunk, &ctx, &mut output);
                    let newlines = memchr::memchr_iter(b'\n', chunk).count() as u64;
                    let lines = newlines + u64::from(chunk.last().is_some_and(|b| *b != b'\n'));
                    Done {
                        seq,
                        lines,
                        output,
                        buffer: Some(data),
                    }
                }
                Work::LongLine {
                    seq,
                    bytes,
                    data,
                    len,
                } => {
                    let mut output = ChunkOutput::default();
                    let detail = format!("{} bytes: {}", bytes, excerpt(&data[..len]));
                    output.skips.push(Skip {
                        line: 1,
                        reason: SkipReason::LineTooLong,
                        detail,
                    });
                    Done {
                        seq,
                        lines: 1,
                        output,
                        buffer: Some(data),
                    }
                }
            };
            if done.send(result).is_err() {
                return;
            }
        }
    }

    /// Takes chunk results back in input order.
    fn collect(
        &self,
        done: Receiver<Done>,
        pool: &SyncSender<Vec<u8>>,
        consumed: &AtomicU64,
        progress: &mut dyn Progress,
        summary: &mut ReadSummary,
        sink: &mut dyn FnMut(LogRecord),
    ) -> Result<(), ReadError> {
        let mut waiting = BTreeMap::new();
        let mut next_seq = 0u64;
        let mut line_base = 0u64;
        let mut days = DayCarry::default();
        for result in done {
            waiting.insert(result.seq, result);
            while let Some(mut result) = waiting.remove(&next_seq) {
                next_seq += 1;
                self.account(&mut result.output, line_base, summary)?;
                days.apply(&mut result.output, summary);
                for mut record in result.output.records.drain(..) {
                    if let Origin::Line { line, .. } = &mut record.origin {
                        *line += line_base;
                    }
                    if self.filter.wants_time(record.at) {
                        summary.records_kept += 1;
                        sink(record);
                    } else {
                        summary.records_filtered += 1;
                    }
                }
                line_base += result.lines;
                if let Some(buffer) = result.buffer.take() {
                    let _ = pool.send(buffer);
                }
                progress.advance_to(consumed.load(Ordering::Relaxed));
            }
        }
        summary.lines += line_base;
        Ok(())
    }

    fn account(
        &self,
        output: &mut ChunkOutput,
        line_base: u64,
        summary: &mut ReadSummary,
    ) -> Result<(), ReadError> {
        summary.records_read += output.parsed;
        summary.records_filtered += output.filtered;
        summary.lines_ignored += output.ignored;
        summary.lossy_utf8_lines += output.lossy_utf8;
        for skip in output.skips.drain(..) {
            let origin = format!("{}:{}", self.file, skip.line + line_base);
            if self.strict {
                return Err(ReadError::Strict {
                    origin,
                    reason: skip.reason,
                    excerpt: skip.detail,
                });
            }
            summary.add_skip(skip.reason, || format!("{origin}: {}", skip.detail));
        }
        Ok(())
    }
}

/// Midnight crossings carried from chunk to chunk of a date-less log.
#[derive(Default)]
struct DayCarry {
    last: Option<i64>,
    days: i64,
}

impl DayCarry {
    fn apply(&mut self, output: &mut ChunkOutput, summary: &mut ReadSummary) {
        let Some(clock) = output.day_clock.take() else {
            return;
        };
        if let (Some(last), Some(first)) = (self.last, clock.first)
            && last - first > super::ROLLOVER_BACKSTEP_MICROS
        {
            self.days += 1;
            summary.day_rollovers += 1;
        }
        for (record, inner) in output.records.iter_mut().zip(&clock.days) {
            let shift = (self.days + *inner as i64) * MICROS_PER_DAY;
            if shift != 0 {
                record.at = Timestamp::new(record.at.utc_micros() + shift, record.at.offset());
            }
        }
        self.days += clock.crossings as i64;
        summary.day_rollovers += clock.crossings as u64;
        self.last = clock.last.or(self.last);
    }
}

/// The reader thread: fills pooled buffers and cuts them before a record start.
///
/// Pooled buffers keep their initialized length between uses (`Read::read` needs initialized
/// bytes), so a reused buffer is not zeroed again; `len` says how much of it is this chunk.
fn split_input(
    format: &dyn TextFormat,
    input: &mut (dyn Read + Send),
    pool: &Receiver<Vec<u8>>,
    work: &SyncSender<Work>,
) -> io::Result<()> {
    let mut seq = 0u64;
    let mut carry: Vec<u8> = Vec::new();
    let mut eof = false;
    while !eof {
        let Ok(mut buf) = pool.recv() else {
            return Ok(());
        };
        let mut len = take_carry(&mut buf, &mut carry);
        let mut target = CHUNK_BYTES;
        loop {
            eof = fill(input, &mut buf, &mut len, target)?;
            if eof {
                break;
            }
            if let Some(cut) = last_record_start(format, &buf[..len]) {
                carry.extend_from_slice(&buf[cut..len]);
                len = cut;
                break;
            }
            if len < MAX_LINE_BYTES {
                target = (target * 2).min(MAX_LINE_BYTES + CHUNK_BYTES);
                continue;
            }
            // No record starts in 16 MiB: cut at the last line end, or skip an endless line.
            if let Some(end) = memchr::memrchr(b'\n', &buf[..len]) {
                carry.extend_from_slice(&buf[end + 1..len]);
                len = end + 1;
                break;
            }
            let (bytes, rest) = discard_line(input, len as u64)?;
            let head = len.min(256);
            if work
                .send(Work::LongLine {
                    seq,
                    bytes,
                    data: buf,
                    len: head,
                })
                .is_err()
            {
                return Ok(());
            }
            seq += 1;
            let Some(rest) = rest else {
                eof = true;
                len = 0;
                buf = Vec::new();
                break;
            };
            carry = rest;
            buf = match pool.recv() {
                Ok(b) => b,
                Err(_) => return Ok(()),
            };
            len = take_carry(&mut buf, &mut carry);
            target = CHUNK_BYTES;
        }
        if len > 0 {
            if work
                .send(Work::Chunk {
                    seq,
                    data: buf,
                    len,
                })
                .is_err()
            {
                return Ok(());
            }
            seq += 1;
        }
    }
    Ok(())
}

/// Moves the carried-over start of the next record to the front of `buf`; returns its length.
fn take_carry(buf: &mut Vec<u8>, carry: &mut Vec<u8>) -> usize {
    if buf.len() < carry.len() {
        buf.resize(carry.len(), 0);
    }
    buf[..carry.len()].copy_from_slice(carry);
    let len = carry.len();
    carry.clear();
    len
}

/// Reads until `buf[..len]` holds `target` bytes; returns true at end of input.
fn fill(
    input: &mut (dyn Read + Send),
    buf: &mut Vec<u8>,
    len: &mut usize,
    target: usize,
) -> io::Result<bool> {
    while *len < target {
        // Grow in steps so a small input does not pay for zeroing a whole chunk.
        let want = target.min(*len + READ_STEP_BYTES);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        let n = loop {
            match input.read(&mut buf[*len..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            return Ok(true);
        }
        *len += n;
    }
    Ok(false)
}

/// Drops the rest of an over-long line. Returns its total length and, when a newline ended
/// it, the bytes read after that newline (the start of the next line, which must not be lost).
fn discard_line(
    input: &mut (dyn Read + Send),
    mut bytes: u64,
) -> io::Result<(u64, Option<Vec<u8>>)> {
    let mut scratch = vec![0u8; 64 << 10];
    loop {
        let n = match input.read(&mut scratch) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok((bytes, None));
        }
        if let Some(i) = memchr::memchr(b'\n', &scratch[..n]) {
            return Ok((bytes + i as u64, Some(scratch[i + 1..n].to_vec())));
        }
        bytes += n as u64;
    }
}

/// The offset of the last complete line in `buf` that begins a record, if it is not the first.
fn last_record_start(format: &dyn TextFormat, buf: &[u8]) -> Option<usize> {
    let mut line_end = memchr::memrchr(b'\n', buf)?;
    for newline in memchr::memrchr_iter(b'\n', &buf[..line_end]) {
        let start = newline + 1;
        if format.starts_record(&buf[start..line_end]) {
            return Some(start);
        }
        line_end = newline;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::log_show::SyslogStyle;

    #[test]
    fn cuts_before_a_record_start_only() {
        let buf = b"2026-05-20 17:48:41.248002+0300  localhost powerd[63]: a\ncontinued\n2026-05-20 17:48:41.249002+0300  localhost powerd[63]: b\nmore\n2026-05-";
        let cut = last_record_start(&SyslogStyle, buf).unwrap();
        assert!(buf[cut..].starts_with(b"2026-05-20 17:48:41.249"));
    }
}
