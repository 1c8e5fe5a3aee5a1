//! [`LogReader`]: open any input, detect its format, read it and return records in time order.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use flate2::read::MultiGzDecoder;
use pushtrace_model::LogRecord;

use crate::archive::{ExtractLimit, logarchive, sysdiagnose};
use crate::clock::LocalClock;
use crate::detect::{SAMPLE_BYTES, detect, detect_stream};
use crate::error::ReadError;
use crate::filter::RecordFilter;
use crate::format::{Format, Requirements};
use crate::sort::{DEFAULT_SORT_MEMORY, RecordSorter, SortedRecords};
use crate::sorted_lines::{
    BlockBuilder, LineFormatter, LineOutput, LineSorter, SortedLines, SpareBlocks,
};
use crate::summary::{KeptTally, ReadSummary};
use crate::text::floor::PendingFloor;
use crate::text::pipeline::{CountingReader, TextRun};
use crate::text::{self, TextFormat};

/// Receives the progress of a long read (the CLI draws a bar from it).
pub trait Progress {
    /// A stage starts; `total` is in bytes when known.
    fn begin(&mut self, stage: &str, total: Option<u64>);
    /// `done` bytes of the stage's total have been processed.
    fn advance_to(&mut self, done: u64);
    fn end(&mut self);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&mut self, _stage: &str, _total: Option<u64>) {}
    fn advance_to(&mut self, _done: u64) {}
    fn end(&mut self) {}
}

/// Receives what a read keeps, in input order.
pub(crate) trait Keep {
    fn record(&mut self, record: LogRecord);

    /// No record still to come is earlier than `time` (UTC microseconds).
    fn floor(&mut self, _time: i64) {}

    /// Whether the kept lines pile up: floors would let them be written.
    fn holds_many(&self) -> bool {
        false
    }

    /// Lines formatted where their records were parsed, after the records so far.
    fn block(&mut self, block: BlockBuilder);

    /// Where blocks come back once their lines are written, to be filled again.
    fn spare_blocks(&self) -> Option<SpareBlocks> {
        None
    }
}

/// The sorter a read feeds: records, or formatted lines ([`LogReaderBuilder::lines`]), and the
/// first error of either (the read goes on to its end; the error is returned then).
struct Sorters<'a> {
    records: &'a mut RecordSorter,
    lines: Option<&'a mut LineSorter>,
    failed: Option<ReadError>,
}

impl Keep for Sorters<'_> {
    fn record(&mut self, record: LogRecord) {
        if self.failed.is_some() {
            return;
        }
        let pushed = match &mut self.lines {
            Some(lines) => lines.push(record),
            None => self.records.push(record),
        };
        if let Err(e) = pushed {
            self.failed = Some(e);
        }
    }

    fn floor(&mut self, time: i64) {
        if self.failed.is_none()
            && let Some(lines) = &mut self.lines
            && let Err(e) = lines.floor(time)
        {
            self.failed = Some(e);
        }
    }

    fn holds_many(&self) -> bool {
        self.lines.as_ref().is_some_and(|lines| lines.holds_many())
    }

    fn spare_blocks(&self) -> Option<SpareBlocks> {
        self.lines.as_ref().map(|lines| lines.spare_blocks())
    }

    fn block(&mut self, block: BlockBuilder) {
        if self.failed.is_some() {
            return;
        }
        let pushed = match &mut self.lines {
            Some(lines) => lines.push_block(block),
            None => Err(ReadError::Output {
                source: std::io::Error::other(
                    "formatted lines reached a read that does not format (this is a bug: please report it)",
                ),
            }),
        };
        if let Err(e) = pushed {
            self.failed = Some(e);
        }
    }
}

/// A finished read: the records in time order and the account of what was read.
pub struct LogRead {
    /// The records, unless the reader formats them ([`LogReaderBuilder::lines`]): then none.
    pub records: SortedRecords,
    /// The formatted records in time order, when the reader formats them.
    pub lines: Option<SortedLines>,
    pub summary: ReadSummary,
}

/// Reads iPhone logs in any supported format. Build one with [`LogReader::builder`].
#[derive(Clone, Debug)]
pub struct LogReader {
    format: Option<Format>,
    clock: LocalClock,
    filter: RecordFilter,
    strict: bool,
    sort_memory: usize,
    threads: usize,
    max_extract: ExtractLimit,
    lines: Option<Lines>,
}

/// The formatter of [`LogReaderBuilder::lines`] and the output of
/// [`LogReaderBuilder::write_lines_to`], opaque to `Debug`.
#[derive(Clone)]
struct Lines {
    formatter: LineFormatter,
    out: Option<LineOutput>,
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lines(..)")
    }
}

/// Configures a [`LogReader`].
#[derive(Clone, Debug)]
pub struct LogReaderBuilder {
    reader: LogReader,
}

impl LogReaderBuilder {
    /// Reads as this format instead of detecting it.
    pub fn format(mut self, format: Option<Format>) -> Self {
        self.reader.format = format;
        self
    }

    /// The date and zone for formats whose lines lack them.
    pub fn clock(mut self, clock: LocalClock) -> Self {
        self.reader.clock = clock;
        self
    }

    pub fn filter(mut self, filter: RecordFilter) -> Self {
        self.reader.filter = filter;
        self
    }

    /// Turns skipped lines into an error.
    pub fn strict(mut self, strict: bool) -> Self {
        self.reader.strict = strict;
        self
    }

    /// Memory for records before sorting spills runs to temporary files.
    pub fn sort_memory(mut self, bytes: usize) -> Self {
        self.reader.sort_memory = bytes;
        self
    }

    /// Parser threads for text inputs and logarchives (default: one per core).
    pub fn threads(mut self, threads: usize) -> Self {
        self.reader.threads = threads.max(1);
        self
    }

    /// How much extracting a sysdiagnose archive may write to disk (default: from the free
    /// space of the temporary directory, see [`ExtractLimit::FreeSpace`]).
    pub fn max_extract(mut self, limit: ExtractLimit) -> Self {
        self.reader.max_extract = limit;
        self
    }

    /// Formats every kept record with `formatter` (on every core) and sorts the formatted
    /// lines instead of the records: for a caller that only prints them, this is much cheaper
    /// when many records are kept. The result is in [`LogRead::lines`]; [`LogRead::records`]
    /// is then empty. The lines come out in the order the records would.
    pub fn lines(mut self, formatter: LineFormatter) -> Self {
        let out = self.reader.lines.take().and_then(|lines| lines.out);
        self.reader.lines = Some(Lines { formatter, out });
        self
    }

    /// With [`LogReaderBuilder::lines`]: writes the lines that are already in their final
    /// place to `out` while the file is still read, when the input allows it (a plain file in
    /// a format whose lines carry their own time: a quick first pass over the file bounds the
    /// times still to come, see `text/floor.rs`). The rest is in [`LogRead::lines`] at the
    /// end, to be written after what was written here. On inputs that do not allow it, nothing
    /// is written during the read. A read that fails midway may have written some lines.
    pub fn write_lines_to(mut self, out: LineOutput) -> Self {
        if let Some(lines) = &mut self.reader.lines {
            lines.out = Some(out);
        }
        self
    }

    pub fn build(self) -> LogReader {
        self.reader
    }
}

impl LogReader {
    pub fn builder() -> LogReaderBuilder {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        LogReaderBuilder {
            reader: LogReader {
                format: None,
                clock: LocalClock::default(),
                filter: RecordFilter::default(),
                strict: false,
                sort_memory: DEFAULT_SORT_MEMORY,
                threads,
                max_extract: ExtractLimit::default(),
                lines: None,
            },
        }
    }

    /// The format of `path`: the one given to the builder, or detected from its content.
    /// The flag is true when it was detected.
    pub fn format_of(&self, path: &Path) -> Result<(Format, bool), ReadError> {
        match self.format {
            Some(format) => Ok((format, false)),
            None => detect(path).map(|f| (f, true)),
        }
    }

    /// Reads `path` to the end and returns its records in time order.
    pub fn read(&self, path: &Path, progress: &mut dyn Progress) -> Result<LogRead, ReadError> {
        let (format, detected) = self.format_of(path)?;
        self.read_as(path, format, detected, progress)
    }

    /// Reads `path` as `format`, as found by [`LogReader::format_of`] (`detected` says whether
    /// it was detected, for the summary): for a caller that shows the format before a long read
    /// without detecting it twice.
    pub fn read_as(
        &self,
        path: &Path,
        format: Format,
        detected: bool,
        progress: &mut dyn Progress,
    ) -> Result<LogRead, ReadError> {
        let name = path.display().to_string();
        let floor = self.time_floor(path, format)?;
        self.collect(
            &name,
            format,
            detected,
            floor.is_some(),
            |summary, sink| match format {
                Format::Logarchive => self.read_archive(path, None, progress, summary, sink),
                Format::Sysdiagnose => {
                    progress.begin("extracting", None);
                    let located = sysdiagnose::locate_logarchive(
                        path,
                        self.max_extract,
                        &mut |done, total| {
                            progress.begin("extracting", Some(total));
                            progress.advance_to(done);
                        },
                    )?;
                    progress.end();
                    summary.inner = Some(located.inner_name().to_string());
                    self.read_archive(located.path(), Some(path), progress, summary, sink)
                }
                _ => {
                    if path.is_dir() {
                        return Err(ReadError::WrongFormat {
                            path: path.into(),
                            format,
                            why: "it is a folder".into(),
                        });
                    }
                    let file = File::open(path).map_err(ReadError::io(path))?;
                    let total = file.metadata().map(|m| m.len()).ok();
                    self.read_text(
                        &name,
                        format,
                        Box::new(file),
                        (total, floor.as_ref()),
                        progress,
                        summary,
                        sink,
                    )
                }
            },
        )
    }

    /// Reads a text export (plain or gzip) from a stream, e.g. standard input or a paste.
    /// `name` stands for the file in line references. Archives need [`LogReader::read`].
    pub fn read_stream(
        &self,
        name: &str,
        input: impl Read + Send,
        progress: &mut dyn Progress,
    ) -> Result<LogRead, ReadError> {
        let mut input = BufReader::with_capacity(SAMPLE_BYTES, input);
        let head = input.fill_buf().map_err(ReadError::io(name))?.to_vec();
        let (format, detected) = match self.format {
            Some(format) => (format, false),
            None => (detect_stream(name, &head)?, true),
        };
        self.collect(name, format, detected, false, |summary, sink| {
            self.read_text(
                name,
                format,
                Box::new(input),
                (None, None),
                progress,
                summary,
                sink,
            )
        })
    }

    /// The bound on the times still to come in `path`, when its lines are to be written during
    /// the read and it is a plain (not compressed) text file; scanned only when needed.
    fn time_floor(
        &self,
        path: &Path,
        format: Format,
    ) -> Result<Option<PendingFloor<'_>>, ReadError> {
        let streams = self.lines.as_ref().is_some_and(|lines| lines.out.is_some());
        let Some(parser) = text::for_format(format).filter(|_| streams) else {
            return Ok(None);
        };
        if !path.is_file() {
            return Ok(None);
        }
        let mut magic = [0u8; 2];
        let mut file = File::open(path).map_err(ReadError::io(path))?;
        if file.read_exact(&mut magic).is_err() || magic == [0x1f, 0x8b] {
            return Ok(None);
        }
        Ok(PendingFloor::new(path, parser, &self.clock, self.threads))
    }

    /// Runs one read into the sorter and returns the sorted records with the summary. With
    /// `streams`, the line sorter writes its lines during the read as the floors of the times
    /// to come allow.
    fn collect(
        &self,
        name: &str,
        format: Format,
        detected: bool,
        streams: bool,
        read: impl FnOnce(&mut ReadSummary, &mut dyn Keep) -> Result<(), ReadError>,
    ) -> Result<LogRead, ReadError> {
        let mut summary = ReadSummary::new(name.to_string(), format, detected);
        let mut sorter = RecordSorter::new(self.sort_memory);
        let mut line_sorter = self.lines.as_ref().map(|lines| {
            let out = lines.out.clone().filter(|_| streams);
            LineSorter::new(lines.formatter.clone(), self.sort_memory, self.threads, out)
        });
        let mut sink = Sorters {
            records: &mut sorter,
            lines: line_sorter.as_mut(),
            failed: None,
        };
        read(&mut summary, &mut sink)?;
        if let Some(e) = sink.failed {
            return Err(e);
        }
        let lines = line_sorter.map(LineSorter::finish).transpose()?;
        summary.spilled_runs = match &lines {
            Some(lines) => lines.spilled_runs() as u64,
            None => sorter.spilled_runs() as u64,
        };
        Ok(LogRead {
            records: sorter.finish()?,
            lines,
            summary,
        })
    }

    /// Reads a text export; `input` is the raw stream (gzip is recognized and decompressed).
    #[allow(clippy::too_many_arguments)]
    fn read_text<'i>(
        &self,
        name: &str,
        format: Format,
        input: Box<dyn Read + Send + 'i>,
        (total, floor): (Option<u64>, Option<&PendingFloor<'_>>),
        progress: &mut dyn Progress,
        summary: &mut ReadSummary,
        sink: &mut dyn Keep,
    ) -> Result<(), ReadError> {
        let parser = text::for_format(format).ok_or_else(|| ReadError::WrongFormat {
            path: name.into(),
            format,
            why: "it is an archive format, which needs a file or folder path".into(),
        })?;
        let consumed = Arc::new(AtomicU64::new(0));
        let counted = CountingReader {
            inner: input,
            count: consumed.clone(),
        };
        // Only to peek at the gzip magic: reads larger than its capacity bypass it.
        let mut raw = BufReader::with_capacity(SAMPLE_BYTES, counted);
        let gzip = raw
            .fill_buf()
            .map_err(ReadError::io(name))?
            .starts_with(&[0x1f, 0x8b]);
        let mut input: Box<dyn Read + Send + 'i> = if gzip {
            Box::new(BufReader::with_capacity(1 << 20, MultiGzDecoder::new(raw)))
        } else {
            Box::new(raw)
        };
        let mut buffered = BufReader::with_capacity(SAMPLE_BYTES, &mut input);
        let sample = match buffered.fill_buf() {
            Ok(sample) => sample.to_vec(),
            Err(source) if gzip => {
                return Err(ReadError::Decompress {
                    path: name.into(),
                    source,
                });
            }
            Err(source) => {
                return Err(ReadError::Io {
                    path: name.into(),
                    source,
                });
            }
        };
        if sample.is_empty() {
            return Err(ReadError::Empty { path: name.into() });
        }
        self.check_clock(name, parser, &sample)?;
        let run = TextRun {
            format: parser,
            file: name.into(),
            clock: &self.clock,
            filter: &self.filter,
            strict: self.strict,
            threads: self.threads,
            floor,
            lines: self
                .lines
                .as_ref()
                .filter(|_| parser.times_records_alone() && self.clock.zone.is_none())
                .map(|lines| lines.formatter.clone()),
            spare: sink.spare_blocks(),
            line_bytes: AtomicU64::new(0),
        };
        progress.begin("reading", total);
        let result = run.run(&mut buffered, &consumed, progress, summary, sink);
        progress.end();
        match result {
            Err(ReadError::Io { source, .. }) if gzip && is_corrupt_gzip(&source) => {
                Err(ReadError::Decompress {
                    path: name.into(),
                    source,
                })
            }
            other => other,
        }
    }

    fn check_clock(
        &self,
        name: &str,
        parser: &dyn TextFormat,
        sample: &[u8],
    ) -> Result<(), ReadError> {
        let Requirements { date, zone } = parser.requirements(sample);
        let missing_date = date && self.clock.date.is_none();
        let missing_zone = zone && self.clock.zone.is_none();
        let (missing, flags) = match (missing_date, missing_zone) {
            (false, false) => return Ok(()),
            (true, true) => (
                "date and no time zone",
                "--date YYYY-MM-DD and --tz (e.g. +03:00 or Europe/Istanbul)",
            ),
            (true, false) => ("date", "--date YYYY-MM-DD (the day of the first line)"),
            (false, true) => (
                "time zone",
                // Most tools that print times without a zone print them in the zone of the
                // computer they run on (`log show`, Console, pymobiledevice3, idevicesyslog from
                // 1.3), which need not be the phone's; the phone's own syslog lines (idevicesyslog
                // up to 1.2) carry its zone.
                "--tz (e.g. +03:00 or Europe/Istanbul), the zone the times were printed in (the computer's that made the export or capture; the phone's for the phone's own syslog lines)",
            ),
        };
        Err(ReadError::NeedsClock {
            path: name.into(),
            format: parser.format(),
            missing,
            flags,
        })
    }

    fn read_archive(
        &self,
        dir: &Path,
        outer: Option<&Path>,
        progress: &mut dyn Progress,
        summary: &mut ReadSummary,
        sink: &mut dyn Keep,
    ) -> Result<(), ReadError> {
        if !dir.is_dir() || !logarchive::is_logarchive(dir) {
            return Err(ReadError::WrongFormat {
                path: outer.unwrap_or(dir).into(),
                format: Format::Logarchive,
                why: "it is not a folder with tracev3 files (Persist/, Special/, Signpost/, timesync/)".into(),
            });
        }
        let filter = &self.filter;
        let keep = |process: &str, message: &str| {
            filter.wants_process_or_message(process.as_bytes(), message.as_bytes())
        };
        let mut filtered = 0u64;
        let mut tally = KeptTally::default();
        progress.begin("reading", None);
        let stats = logarchive::read_logarchive(
            dir,
            self.threads,
            &keep,
            &mut |done, total| {
                progress.begin("reading", Some(total));
                progress.advance_to(done);
            },
            &mut |mut record| {
                // Archives store UTC; show it in the device's zone when --tz names it.
                if let Some(zone) = &self.clock.zone {
                    record.at = zone.show(record.at);
                }
                if !filter.wants_fields(&record) {
                    filtered += 1;
                } else if tally.admit(&record, filter) {
                    sink.record(record);
                }
            },
        )?;
        progress.end();
        summary.add_kept(tally);
        summary.records_read += stats.entries;
        summary.records_filtered += stats.entries - stats.kept + filtered;
        summary.unrendered += stats.unrendered;
        summary.unreadable_files.extend(stats.unreadable_files);
        if let Some(span) = stats.span {
            summary.covers_span(match &self.clock.zone {
                Some(zone) => span.shown_in(zone),
                None => span,
            });
        }
        Ok(())
    }
}

fn is_corrupt_gzip(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
    )
}
