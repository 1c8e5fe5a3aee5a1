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

use super::floor::PendingFloor;
use super::{ChunkContext, ChunkLines, ChunkOutput, MICROS_PER_DAY, Skip, TextFormat, excerpt};
use crate::Progress;
use crate::clock::{LocalClock, Zone};
use crate::error::ReadError;
use crate::filter::RecordFilter;
use crate::read::Keep;
use crate::sorted_lines::{LineFormatter, SpareBlocks};
use crate::summary::{KeptTally, ReadSummary, SkipReason};

/// Bytes read before a chunk is cut.
pub const CHUNK_BYTES: usize = 4 << 20;
/// The longest line (or multi-line record) read whole; longer ones are skipped and counted.
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// Bytes asked of the input per read call, growing with what the buffer holds.
const MIN_READ_BYTES: usize = 64 << 10;
const MAX_READ_BYTES: usize = 1 << 20;

/// One text input to read.
pub(crate) struct TextRun<'a> {
    pub format: &'a dyn TextFormat,
    pub file: Arc<str>,
    pub clock: &'a LocalClock,
    pub filter: &'a RecordFilter,
    pub strict: bool,
    pub threads: usize,
    /// When set, each chunk's records are followed by the floor of the times after it, once the
    /// sink holds many lines (the floor is scanned then, from where the read has got to).
    pub floor: Option<&'a PendingFloor<'a>>,
    /// When set, the records are formatted as lines in the threads that parse them. Only for
    /// records that need nothing from the chunks before them but their line numbers: a format
    /// that dates every record ([`TextFormat::times_records_alone`]), read without a named
    /// zone (whose repeated hour is carried from chunk to chunk).
    pub lines: Option<LineFormatter>,
    /// Blocks already written, filled again by [`TextRun::lines`].
    pub spare: Option<SpareBlocks>,
    /// The bytes of the last chunk's formatted lines: the next chunk's room, so that a block
    /// is sized once (growing one copies it; reserving a chunk's worth for a share of it holds
    /// memory for nothing).
    pub line_bytes: AtomicU64,
}

/// A chunk is `data[..len]`; the rest of `data` is initialized spare room kept for reuse.
/// `end` is the input offset just past it.
enum Work {
    Chunk {
        seq: u64,
        end: u64,
        /// The lines before the chunk, and in it.
        line_base: u64,
        lines: u64,
        data: Vec<u8>,
        len: usize,
    },
    /// A line over [`MAX_LINE_BYTES`]: `bytes` long, its start in `data[..len]`.
    LongLine {
        seq: u64,
        end: u64,
        bytes: u64,
        data: Vec<u8>,
        len: usize,
    },
}

struct Done {
    seq: u64,
    end: u64,
    lines: u64,
    output: ChunkOutput,
    buffer: Vec<u8>,
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
    ///
    /// An input that fits in one chunk (a paste, a Console copy) is parsed on the calling
    /// thread: starting threads would cost more than the parse.
    pub fn run(
        &self,
        input: &mut (dyn Read + Send),
        consumed: &AtomicU64,
        progress: &mut dyn Progress,
        summary: &mut ReadSummary,
        sink: &mut dyn Keep,
    ) -> Result<(), ReadError> {
        let io_error = |source| ReadError::Io {
            path: self.file.to_string().into(),
            source,
        };
        let mut first = Vec::new();
        let mut len = 0;
        let mut read = 0u64;
        let eof = fill(input, &mut first, &mut len, CHUNK_BYTES, &mut read).map_err(io_error)?;
        let mut collector = Collector::default();
        if eof {
            let done = self.parse_work(Work::Chunk {
                seq: 0,
                end: read,
                line_base: 0,
                lines: line_count(&first[..len]),
                data: first,
                len,
            });
            collector.accept(self, done, summary, sink)?;
            progress.advance_to(consumed.load(Ordering::Relaxed));
            summary.lines += collector.line_base;
            return Ok(());
        }
        first.truncate(len);

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
            let reader = scope
                .spawn(move || split_input(self.format, input, first, read, &pool_rx, &work_tx));
            for _ in 0..threads {
                let done_tx = done_tx.clone();
                let work_rx = &work_rx;
                scope.spawn(move || self.parse_chunks(work_rx, &done_tx));
            }
            drop(done_tx);
            // Results arrive in any order; they are taken back in input order.
            let mut waiting = BTreeMap::new();
            let mut next_seq = 0u64;
            let mut collected = Ok(());
            for result in done_rx {
                waiting.insert(result.seq, result);
                while let Some(result) = waiting.remove(&next_seq) {
                    next_seq += 1;
                    match collector.accept(self, result, summary, sink) {
                        Ok(buffer) => {
                            let _ = pool_tx.send(buffer);
                        }
                        Err(e) => {
                            collected = Err(e);
                            break;
                        }
                    }
                    progress.advance_to(consumed.load(Ordering::Relaxed));
                }
                if collected.is_err() {
                    // Dropping the receivers stops the reader and the workers.
                    break;
                }
            }
            drop(pool_tx);
            if collected.is_err() {
                // The reader may be blocked handing over a chunk: take chunks until it sees the
                // pool closed and stops (workers stop at their next result).
                if let Ok(rx) = work_rx.lock() {
                    while rx.recv().is_ok() {}
                }
            }
            summary.lines += collector.line_base;
            let read = reader
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("reader thread panicked")));
            collected?;
            read.map_err(io_error)
        })
    }

    fn parse_chunks(&self, work: &Mutex<Receiver<Work>>, done: &SyncSender<Done>) {
        loop {
            let next = match work.lock() {
                Ok(rx) => rx.recv(),
                Err(_) => return,
            };
            let Ok(next) = next else { return };
            if done.send(self.parse_work(next)).is_err() {
                return;
            }
        }
    }

    fn parse_work(&self, work: Work) -> Done {
        let mut output = ChunkOutput::default();
        match work {
            Work::Chunk {
                seq,
                end,
                line_base,
                lines,
                data,
                len,
            } => {
                let chunk = &data[..len];
                output.lines = self.lines.as_ref().map(|formatter| {
                    let room = self.line_bytes.load(Ordering::Relaxed) as usize * 9 / 8;
                    ChunkLines::new(
                        formatter.clone(),
                        line_base,
                        room.min(2 * len),
                        self.spare.as_ref(),
                    )
                });
                // One pass over the whole chunk, rather than one search per dropped line.
                let hits = if self.format.raw_messages() {
                    self.filter.anywhere_hits(chunk)
                } else {
                    Default::default()
                };
                let ctx = ChunkContext {
                    file: &self.file,
                    clock: self.clock,
                    filter: self.filter,
                    hits,
                };
                self.format.parse_chunk(chunk, &ctx, &mut output);
                if let Some(lines) = &mut output.lines {
                    let bytes = lines.block.finish();
                    self.line_bytes.store(bytes as u64, Ordering::Relaxed);
                }
                Done {
                    seq,
                    end,
                    lines,
                    output,
                    buffer: data,
                }
            }
            Work::LongLine {
                seq,
                end,
                bytes,
                data,
                len,
            } => {
                let detail = format!("{} bytes: {}", bytes, excerpt(&data[..len]));
                output.skips.push(Skip {
                    line: 1,
                    reason: SkipReason::LineTooLong,
                    detail,
                });
                Done {
                    seq,
                    end,
                    lines: 1,
                    output,
                    buffer: data,
                }
            }
        }
    }
}

/// What the in-order collector carries from one chunk to the next.
#[derive(Default)]
struct Collector {
    line_base: u64,
    days: DayCarry,
    folds: FoldCarry,
}

impl Collector {
    /// Accounts for one chunk's result and passes its records on; returns the buffer.
    fn accept(
        &mut self,
        run: &TextRun<'_>,
        mut result: Done,
        summary: &mut ReadSummary,
        sink: &mut dyn Keep,
    ) -> Result<Vec<u8>, ReadError> {
        let output = &mut result.output;
        summary.records_read += output.parsed;
        summary.records_filtered += output.filtered;
        summary.lines_ignored += output.ignored;
        summary.lossy_utf8_lines += output.lossy_utf8;
        for skip in output.skips.drain(..) {
            let origin = format!("{}:{}", run.file, skip.line + self.line_base);
            if run.strict {
                return Err(ReadError::Strict {
                    origin,
                    reason: skip.reason,
                    excerpt: skip.detail,
                });
            }
            summary.add_skip(skip.reason, || format!("{origin}: {}", skip.detail));
        }
        self.days.apply(output, summary);
        if let Some(span) = output.refused_span {
            summary.covers_span(span);
        }
        if let Some(lines) = output.lines.take() {
            summary.add_kept(lines.tally);
            sink.block(lines.block);
        }
        let mut tally = KeptTally::default();
        for mut record in output.records.drain(..) {
            if let Origin::Line { line, .. } = &mut record.origin {
                *line += self.line_base;
            }
            self.folds.apply(run.clock.zone.as_ref(), &mut record);
            if tally.admit(&record, run.filter) {
                sink.record(record);
            }
        }
        summary.add_kept(tally);
        if let Some(floor) = run.floor
            && (floor.is_scanned() || sink.holds_many())
        {
            let time = floor.at(result.end).map_err(|source| ReadError::Io {
                path: run.file.to_string().into(),
                source,
            })?;
            sink.floor(time);
        }
        self.line_base += result.lines;
        Ok(result.buffer)
    }
}

/// How far a line may fall behind the one before it without leaving the first instance of a
/// repeated hour: exports are in time order to within milliseconds, Console copies to seconds.
const FOLD_SLACK_MICROS: i64 = 60 * 1_000_000;

/// The hour a named `--tz` repeats when daylight saving ends, in a log without offsets: a time in
/// it resolves to its first instance ([`Zone::resolve`]). Lines are in time order, so a kept
/// line that falls back behind the one before it, into a repeated hour whose second instance
/// follows on, is in the second instance, and so is every line after it in that hour (each
/// falls behind its predecessor's second instance in turn).
#[derive(Default)]
struct FoldCarry {
    previous: Option<Timestamp>,
}

impl FoldCarry {
    fn apply(&mut self, zone: Option<&Zone>, record: &mut LogRecord) {
        if let (Some(zone), Some(previous)) = (zone, self.previous) {
            let floor = previous.utc_micros() - FOLD_SLACK_MICROS;
            if record.at.utc_micros() < floor
                && let Some(second) = zone.second_instance(record.at)
                && second.utc_micros() >= floor
            {
                record.at = second;
            }
        }
        self.previous = Some(record.at);
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
        // The refused records' span already holds the chunk's own crossings.
        if let Some(span) = &mut output.refused_span {
            *span = span.shifted(self.days * MICROS_PER_DAY);
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
    start: Vec<u8>,
    mut read: u64,
    pool: &Receiver<Vec<u8>>,
    work: &SyncSender<Work>,
) -> io::Result<()> {
    let mut seq = 0u64;
    // Counted here, in input order, so that the parsing threads number their records.
    let mut line_base = 0u64;
    // What was read before the threads started comes first.
    let mut carry: Vec<u8> = start;
    let mut eof = false;
    while !eof {
        let Ok(mut buf) = pool.recv() else {
            return Ok(());
        };
        let mut len = take_carry(&mut buf, &mut carry);
        let mut target = CHUNK_BYTES;
        loop {
            eof = fill(input, &mut buf, &mut len, target, &mut read)?;
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
            let (bytes, rest) = discard_line(input, len as u64, &mut read)?;
            let head = len.min(256);
            let end = read - rest.as_ref().map_or(0, |rest| rest.len() as u64);
            if work
                .send(Work::LongLine {
                    seq,
                    end,
                    bytes,
                    data: buf,
                    len: head,
                })
                .is_err()
            {
                return Ok(());
            }
            seq += 1;
            line_base += 1;
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
            let lines = line_count(&buf[..len]);
            let base = line_base;
            line_base += lines;
            if work
                .send(Work::Chunk {
                    seq,
                    end: read - carry.len() as u64,
                    line_base: base,
                    lines,
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

/// The lines of a chunk, the last one counted when it has no line end.
fn line_count(chunk: &[u8]) -> u64 {
    let newlines = memchr::memchr_iter(b'\n', chunk).count() as u64;
    newlines + u64::from(chunk.last().is_some_and(|b| *b != b'\n'))
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

/// Reads until `buf[..len]` holds `target` bytes, adding what it reads to `read`; returns
/// true at end of input.
fn fill(
    input: &mut (dyn Read + Send),
    buf: &mut Vec<u8>,
    len: &mut usize,
    target: usize,
    read: &mut u64,
) -> io::Result<bool> {
    while *len < target {
        // Grow in steps (64 KiB, doubling to 1 MiB) so a small input does not pay for zeroing
        // a whole chunk.
        let step = (*len).clamp(MIN_READ_BYTES, MAX_READ_BYTES);
        let want = target.min(*len + step);
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
        *read += n as u64;
    }
    Ok(false)
}

/// Drops the rest of an over-long line. Returns its total length and, when a newline ended
/// it, the bytes read after that newline (the start of the next line, which must not be lost).
fn discard_line(
    input: &mut (dyn Read + Send),
    mut bytes: u64,
    read: &mut u64,
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
        *read += n as u64;
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
