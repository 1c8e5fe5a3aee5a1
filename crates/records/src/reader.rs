//! The reader: opens a file or a stream, finds gzip and the format, and streams its records to
//! the caller's sinks on worker threads, a few chunks in flight whatever the file's size.
//!
//! The caller's thread reads and decompresses (one stream cannot be inflated in parallel) and
//! cuts the text into chunks at record ends ([`crate::chunk`]); `threads` workers parse them,
//! each into its own sink. A bounded channel keeps memory at about `3 × threads + 2` chunks.
//! Parquet files are read by row group on the same workers ([`crate::parquet`]).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};

use flate2::read::MultiGzDecoder;
use pushtrace_model::PushRecord;

use crate::chunk::{Chunk, Chunker, MAX_RECORD_BYTES};
use crate::csv::{self, Column, Row};
use crate::error::{BadRow, ReadError, RowLocation};
use crate::fields::RowError;
use crate::format::{self, PARQUET_MAGIC, RecordFormat};
use crate::jsonl;
use crate::sink::RecordSink;
use crate::summary::{ReadSummary, Tally};

/// Bytes of the (decompressed) input looked at to detect the format.
const SAMPLE_BYTES: u64 = 64 << 10;

/// Chunk size: large enough that handing a chunk to a worker costs nothing next to parsing it.
const DEFAULT_CHUNK_BYTES: usize = 1 << 20;

/// Reads push record files. Build one with [`RecordReader::builder`].
#[derive(Clone, Debug)]
pub struct RecordReader {
    format: Option<RecordFormat>,
    strict: bool,
    threads: usize,
    max_bad_samples: usize,
    chunk_bytes: usize,
    fields: Option<Vec<String>>,
}

impl Default for RecordReader {
    fn default() -> Self {
        RecordReader {
            format: None,
            strict: false,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_bad_samples: 5,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            fields: None,
        }
    }
}

/// Configures a [`RecordReader`].
#[derive(Clone, Debug, Default)]
pub struct RecordReaderBuilder {
    reader: RecordReader,
}

impl RecordReaderBuilder {
    /// Reads as this format instead of detecting it.
    pub fn format(mut self, format: Option<RecordFormat>) -> Self {
        self.reader.format = format;
        self
    }

    /// Stops at the first bad row (in file order) instead of skipping and counting it.
    pub fn strict(mut self, strict: bool) -> Self {
        self.reader.strict = strict;
        self
    }

    /// Worker threads that parse (default: the available cores). 1 parses on the caller's
    /// thread, records in file order into one sink.
    pub fn threads(mut self, threads: usize) -> Self {
        self.reader.threads = threads.max(1);
        self
    }

    /// How many bad rows the summary quotes (the first in file order); all are counted.
    pub fn max_bad_samples(mut self, n: usize) -> Self {
        self.reader.max_bad_samples = n;
        self
    }

    /// Bytes of text per chunk handed to a worker (default 1 MiB). Tests make it tiny to put
    /// chunk ends everywhere; memory is a few chunks per thread.
    pub fn chunk_bytes(mut self, bytes: usize) -> Self {
        self.reader.chunk_bytes = bytes.max(1);
        self
    }

    /// The fields the caller looks at (the contract's names, `attrs` for every attribute;
    /// `sent_at` is always read). A Parquet file's other columns are then neither decoded nor
    /// checked, and those fields stay empty in the records: the cost of a columnar file is the
    /// columns read. Text formats parse every field whatever this says. Default: all fields.
    pub fn fields<'a>(mut self, fields: impl IntoIterator<Item = &'a str>) -> Self {
        self.reader.fields = Some(fields.into_iter().map(str::to_string).collect());
        self
    }

    pub fn build(self) -> RecordReader {
        self.reader
    }
}

impl RecordReader {
    pub fn builder() -> RecordReaderBuilder {
        RecordReaderBuilder::default()
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    pub fn strict(&self) -> bool {
        self.strict
    }

    pub fn format(&self) -> Option<RecordFormat> {
        self.format
    }

    pub fn max_bad_samples(&self) -> usize {
        self.max_bad_samples
    }

    /// Whether the caller asked for this field ([`RecordReaderBuilder::fields`]).
    pub fn wants(&self, field: &str) -> bool {
        field == "sent_at"
            || self
                .fields
                .as_ref()
                .is_none_or(|fields| fields.iter().any(|f| f == field))
    }

    /// Reads a file: JSONL or CSV (plain or gzip) or Parquet. `progress` is called on the
    /// caller's thread with the bytes of the file read so far.
    pub fn read_path<S: RecordSink>(
        &self,
        path: &Path,
        make_sink: impl Fn() -> S + Sync,
        progress: &dyn Fn(u64),
    ) -> Result<(S, ReadSummary), ReadError> {
        let name = path.display().to_string();
        let io = |source| ReadError::Io {
            path: name.clone(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let mut magic = [0u8; 4];
        let n = read_up_to(&mut file, &mut magic).map_err(io)?;
        let parquet = &magic[..n] == PARQUET_MAGIC;
        if parquet && matches!(self.format, None | Some(RecordFormat::Parquet))
            || self.format == Some(RecordFormat::Parquet)
        {
            return crate::parquet::read(self, path, &name, file, make_sink, progress);
        }
        let file = Cursor::new(magic[..n].to_vec()).chain(file);
        self.read_stream(&name, file, make_sink, progress)
    }

    /// Reads JSONL or CSV (plain or gzip) from a stream (standard input, a test's bytes);
    /// `name` stands for the file in messages. Parquet needs [`RecordReader::read_path`].
    pub fn read_stream<S: RecordSink>(
        &self,
        name: &str,
        input: impl Read + Send,
        make_sink: impl Fn() -> S + Sync,
        progress: &dyn Fn(u64),
    ) -> Result<(S, ReadSummary), ReadError> {
        let io = |source| ReadError::Io {
            path: name.to_string(),
            source,
        };
        let bytes = Arc::new(AtomicU64::new(0));
        let mut raw = BufReader::new(Counted {
            inner: input,
            bytes: bytes.clone(),
        });
        let head = fill(&mut raw).map_err(io)?;
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        if head.starts_with(PARQUET_MAGIC) || self.format == Some(RecordFormat::Parquet) {
            return Err(ReadError::ParquetNeedsFile {
                path: name.to_string(),
            });
        }
        let mut input: Box<dyn Read + '_> = if gzip {
            Box::new(MultiGzDecoder::new(raw))
        } else {
            Box::new(raw)
        };
        let text_error = |source: io::Error| {
            if gzip {
                ReadError::Decompress {
                    path: name.to_string(),
                    source,
                }
            } else {
                ReadError::Io {
                    path: name.to_string(),
                    source,
                }
            }
        };
        let mut sample = Vec::new();
        input
            .by_ref()
            .take(SAMPLE_BYTES)
            .read_to_end(&mut sample)
            .map_err(text_error)?;
        // Spreadsheets on Windows start CSV exports with a byte-order mark.
        if sample.starts_with(b"\xef\xbb\xbf") {
            sample.drain(..3);
        }
        if sample.iter().all(u8::is_ascii_whitespace) && (sample.len() as u64) < SAMPLE_BYTES {
            return Err(ReadError::Empty {
                path: name.to_string(),
            });
        }
        let (format, detected) = match self.format {
            Some(format) => (format, false),
            None => {
                let format =
                    format::detect_text(&sample).map_err(|why| ReadError::UnknownFormat {
                        path: name.to_string(),
                        why,
                    })?;
                (format, true)
            }
        };
        let mut summary = ReadSummary::new(name, format, detected, gzip);
        let csv = format == RecordFormat::Csv;
        let mut chunker = Chunker::new(Cursor::new(sample).chain(input), csv, self.chunk_bytes);
        let mut first = None;
        let mut columns = Vec::new();
        if csv {
            let (found, rest) = header(name, &mut chunker).map_err(|e| match e {
                HeaderFailure::Io(e) => text_error(e),
                HeaderFailure::Read(e) => e,
            })?;
            summary.blank_lines += found.blank_lines;
            columns = found.columns;
            first = Some(rest);
        }
        let text = Text {
            file: name,
            csv: csv.then_some(&columns[..]),
            strict: self.strict,
            keep: self.max_bad_samples,
            stop_at: AtomicU64::new(u64::MAX),
        };
        let mut next = || -> io::Result<Option<Chunk>> {
            let chunk = match first.take() {
                Some(chunk) => Some(chunk),
                None => chunker.next_chunk()?,
            };
            progress(bytes.load(Ordering::Relaxed));
            Ok(chunk)
        };
        let (sink, tally) = if self.threads <= 1 {
            let mut sink = make_sink();
            let mut tally = Tally::new(self.max_bad_samples);
            while let Some(chunk) = next().map_err(text_error)? {
                text.parse(&chunk, &mut sink, &mut tally);
                if text.stopped() {
                    break;
                }
            }
            (sink, tally)
        } else {
            self.on_workers(&text, &mut next, &make_sink)
                .map_err(text_error)?
        };
        summary.bytes = bytes.load(Ordering::Relaxed);
        summary.lines = chunker.lines();
        finish(summary, sink, tally)
    }

    /// Hands the chunks to `threads` workers through a bounded channel and merges their sinks.
    fn on_workers<S: RecordSink>(
        &self,
        text: &Text<'_>,
        next: &mut dyn FnMut() -> io::Result<Option<Chunk>>,
        make_sink: &(impl Fn() -> S + Sync),
    ) -> io::Result<(S, Tally)> {
        let (send, receive) = sync_channel::<Chunk>(self.threads * 2);
        let receive = Mutex::new(receive);
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..self.threads)
                .map(|_| scope.spawn(|| text.work(&receive, make_sink)))
                .collect();
            let mut failed = None;
            loop {
                match next() {
                    Ok(Some(chunk)) => {
                        if text.stopped() || send.send(chunk).is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            drop(send);
            let mut merged: Option<(S, Tally)> = None;
            for worker in workers {
                let (sink, tally) = match worker.join() {
                    Ok(done) => done,
                    Err(panic) => std::panic::resume_unwind(panic),
                };
                merged = Some(match merged {
                    None => (sink, tally),
                    Some((mut all, mut all_tally)) => {
                        all.merge(sink);
                        all_tally.merge(tally);
                        (all, all_tally)
                    }
                });
            }
            match failed {
                Some(e) => Err(e),
                None => Ok(merged.unwrap_or_else(|| (make_sink(), Tally::new(0)))),
            }
        })
    }
}

/// The end of every read: the counts into the summary, or the strict read's first bad row.
pub(crate) fn finish<S>(
    mut summary: ReadSummary,
    sink: S,
    tally: Tally,
) -> Result<(S, ReadSummary), ReadError> {
    if let Some(row) = tally.stopped {
        return Err(ReadError::Strict { row });
    }
    summary.rows = tally.rows;
    summary.bad = tally.bad;
    summary.blank_lines += tally.blank_lines;
    summary.samples = tally.samples;
    Ok((sink, summary))
}

/// How the chunks of one text read are parsed, shared by the workers.
struct Text<'a> {
    file: &'a str,
    /// The CSV header's columns; `None` for JSONL.
    csv: Option<&'a [Column]>,
    strict: bool,
    keep: usize,
    /// A strict read: the lowest chunk a bad row was found in. Later chunks are not parsed,
    /// earlier ones are, so the error is the first bad row of the file.
    stop_at: AtomicU64,
}

impl Text<'_> {
    fn stopped(&self) -> bool {
        self.stop_at.load(Ordering::Relaxed) != u64::MAX
    }

    fn work<S: RecordSink>(
        &self,
        receive: &Mutex<Receiver<Chunk>>,
        make_sink: &(impl Fn() -> S + Sync),
    ) -> (S, Tally) {
        let mut sink = make_sink();
        let mut tally = Tally::new(self.keep);
        loop {
            // A poisoned lock means another worker panicked; its panic is resumed at the join.
            let chunk = match receive.lock() {
                Ok(receive) => receive.recv(),
                Err(_) => break,
            };
            let Ok(chunk) = chunk else { break };
            if chunk.index > self.stop_at.load(Ordering::Relaxed) {
                continue;
            }
            self.parse(&chunk, &mut sink, &mut tally);
        }
        (sink, tally)
    }

    /// Parses one chunk into the sink; bad rows into the tally.
    fn parse<S: RecordSink>(&self, chunk: &Chunk, sink: &mut S, tally: &mut Tally) {
        let bad = |line: u64, why: RowError, text: &str, tally: &mut Tally| -> bool {
            let row = BadRow {
                file: self.file.to_string(),
                at: RowLocation::Line(line),
                field: why.field,
                message: why.message,
                excerpt: format::excerpt(text.trim()),
            };
            if self.strict {
                self.stop_at.fetch_min(chunk.index, Ordering::Relaxed);
                tally.stop(row);
                return false;
            }
            tally.bad(row);
            true
        };
        if chunk.overlong {
            let why = match self.csv {
                None => format!(
                    "line longer than {} MiB: not a push record (is the file JSONL?)",
                    MAX_RECORD_BYTES >> 20
                ),
                Some(_) => format!(
                    "record longer than {} MiB: not a push record (a quote never closed?)",
                    MAX_RECORD_BYTES >> 20
                ),
            };
            let text = String::from_utf8_lossy(&chunk.bytes);
            bad(chunk.first_line, RowError::new(None, why), &text, tally);
            return;
        }
        match self.csv {
            Some(columns) => {
                csv::rows(
                    columns,
                    &chunk.bytes,
                    chunk.first_line,
                    |line, row| match row {
                        Row::Record(record) => {
                            tally.rows += 1;
                            sink.record(&record, RowLocation::Line(line));
                            true
                        }
                        Row::Blank => {
                            tally.blank_lines += 1;
                            true
                        }
                        Row::Bad(why, text) => bad(line, why, &text, tally),
                    },
                )
            }
            None => {
                let body = chunk.bytes.strip_suffix(b"\n").unwrap_or(&chunk.bytes);
                if chunk.bytes.is_empty() {
                    return;
                }
                let mut start = 0;
                let ends = memchr::memchr_iter(b'\n', body).chain([body.len()]);
                for (number, end) in (chunk.first_line..).zip(ends) {
                    let raw = &body[start..end];
                    start = end + 1;
                    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                    // The fast path: a good line straight into the record (serde_json checks
                    // UTF-8 as it goes); any failure is read again below for its message.
                    // Objects only: serde would take an array for the struct's fields in order.
                    let object = raw.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
                    if let Some(Ok(record)) =
                        object.then(|| serde_json::from_slice::<PushRecord>(raw))
                    {
                        tally.rows += 1;
                        sink.record(&record, RowLocation::Line(number));
                        continue;
                    }
                    let Ok(text) = std::str::from_utf8(raw) else {
                        let why = RowError::new(None, "not UTF-8 text: export the pushes as UTF-8");
                        if !bad(number, why, &String::from_utf8_lossy(raw), tally) {
                            return;
                        }
                        continue;
                    };
                    if text.trim().is_empty() {
                        tally.blank_lines += 1;
                        continue;
                    }
                    match jsonl::parse_line(text) {
                        Ok(record) => {
                            tally.rows += 1;
                            sink.record(&record, RowLocation::Line(number));
                        }
                        Err(why) => {
                            if !bad(number, why, text, tally) {
                                return;
                            }
                        }
                    }
                }
            }
        }
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

enum HeaderFailure {
    Io(io::Error),
    Read(ReadError),
}

/// Reads chunks until the CSV header is complete; returns it and the rest of those chunks as
/// the first chunk of rows.
fn header<R: Read>(
    name: &str,
    chunker: &mut Chunker<R>,
) -> Result<(csv::Header, Chunk), HeaderFailure> {
    let bad = |line: u64, why: String| {
        HeaderFailure::Read(ReadError::Header {
            path: name.to_string(),
            line,
            why,
        })
    };
    let mut text = Vec::new();
    let mut first_line = None;
    loop {
        let Some(chunk) = chunker.next_chunk().map_err(HeaderFailure::Io)? else {
            return Err(bad(1, "no header row".to_string()));
        };
        let start = *first_line.get_or_insert(chunk.first_line);
        if chunk.overlong {
            return Err(bad(
                chunk.first_line,
                format!("header longer than {} MiB", MAX_RECORD_BYTES >> 20),
            ));
        }
        text.extend_from_slice(&chunk.bytes);
        match csv::header(&text) {
            Ok(None) => continue,
            Err((line, why)) => return Err(bad(start - 1 + line, why)),
            Ok(Some(found)) => {
                let rest = text.split_off(found.end);
                let rows = Chunk {
                    index: chunk.index,
                    first_line: start + count_newlines(&text),
                    bytes: rest,
                    overlong: false,
                };
                return Ok((found, rows));
            }
        }
    }
}

/// Counts the bytes read from the input, for progress.
struct Counted<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn fill(input: &mut impl BufRead) -> io::Result<&[u8]> {
    loop {
        match input.fill_buf() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
            Ok(_) => break,
        }
    }
    input.fill_buf()
}

fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
