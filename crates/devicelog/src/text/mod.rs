//! Text exports: one [`TextFormat`] per style, and the parallel pipeline that feeds them.
//!
//! A text format answers three questions: does a line look like mine (detection), does a line
//! begin a record (so the input can be cut into chunks that start on a record and be parsed on
//! every core), and what records does a chunk hold. Everything else (reading, decompression,
//! line numbers, midnight crossings, time filters, progress) is shared in [`pipeline`].

use std::borrow::Cow;
use std::sync::Arc;

use pushtrace_model::{LogRecord, Origin, Timestamp};

use crate::anywhere::Hits;
use crate::clock::LocalClock;
use crate::filter::RecordFilter;
use crate::format::{Format, Requirements};
use crate::sorted_lines::{BlockBuilder, LineFormatter, SpareBlocks};
use crate::summary::{KeptTally, LogSpan, SkipReason};

mod ansi;
pub(crate) mod console;
pub(crate) mod digest;
pub(crate) mod floor;
pub(crate) mod idevicesyslog;
pub(crate) mod json;
pub(crate) mod log_show;
pub(crate) mod pipeline;
pub(crate) mod pymobiledevice3;
mod timestamp;
pub(crate) mod unifiedlog_export;

/// One text export style.
pub(crate) trait TextFormat: Sync {
    fn format(&self) -> Format;

    /// Strictly recognizes a line of this format; used to detect the format from a sample.
    fn sniff(&self, line: &[u8]) -> bool;

    /// How strongly the start of an input looks like this format: by default, the number of
    /// its first non-empty lines that [`TextFormat::sniff`] recognizes. Formats whose records
    /// span lines by design (a JSON array) look at the sample as a whole instead.
    fn score(&self, sample: &[u8]) -> usize {
        lines(sample)
            .take(200)
            .filter(|(_, line)| self.sniff(line))
            .count()
    }

    /// Cheaply tells whether a line begins a record. Chunks are cut only before such lines, so
    /// a multi-line record is never split between two workers.
    fn starts_record(&self, line: &[u8]) -> bool;

    /// What the lines lack; `sample` is the start of the input, for formats whose lines may or
    /// may not carry a zone.
    fn requirements(&self, sample: &[u8]) -> Requirements;

    /// The time (UTC microseconds) [`TextFormat::parse_chunk`] gives the record that `line`
    /// starts, computed the same way but without parsing the rest of the record; `None` when
    /// the line has no time of its own. Lets [`floor::TimeFloor`] bound the times still to come
    /// in a file, so that sorted output can be written while the file is read. By default
    /// `None` for every line: formats whose times need more than their line (date-less logs,
    /// whose midnight crossings are carried from chunk to chunk) do not stream.
    fn record_time(&self, _line: &[u8], _clock: &LocalClock) -> Option<i64> {
        None
    }

    /// Whether [`TextFormat::record_time`] gives the time of every record this format parses.
    fn times_records_alone(&self) -> bool {
        false
    }

    /// Whether `line` names the same second as `decoded`, a line [`TextFormat::record_time`]
    /// decoded: lets [`floor::TimeFloor`] decode one line per second of a busy log. `false`
    /// when unsure.
    fn same_second(&self, _decoded: &[u8], _line: &[u8]) -> bool {
        false
    }

    /// Parses a chunk of whole records into `out`. Line numbers are 1-based within the chunk;
    /// the pipeline adds the chunk's base.
    fn parse_chunk(&self, chunk: &[u8], ctx: &ChunkContext<'_>, out: &mut ChunkOutput);

    /// Whether a message stands in the chunk as it was logged, so the filter's anywhere
    /// literals can be searched in the raw chunk ([`ChunkContext::hits`]). Formats that escape
    /// messages (JSON, CSV) or re-join wrapped lines (digests) test the decoded message instead.
    fn raw_messages(&self) -> bool {
        true
    }
}

/// What every chunk parser is given.
pub(crate) struct ChunkContext<'a> {
    pub file: &'a Arc<str>,
    pub clock: &'a LocalClock,
    pub filter: &'a RecordFilter,
    /// Where the filter's anywhere literals occur in the chunk (none for formats without
    /// [`TextFormat::raw_messages`]).
    pub hits: Hits,
}

impl ChunkContext<'_> {
    pub fn origin(&self, line: u64) -> Origin {
        Origin::Line {
            file: self.file.clone(),
            line,
        }
    }

    /// Whether a record of `process` whose message is `first` and the lines `rest` (slices of
    /// the chunk, raw) is read: its process is wanted or its message holds an anywhere literal.
    #[inline]
    pub fn wants(&self, process: &[u8], first: &[u8], rest: &[&[u8]]) -> bool {
        self.filter.wants_process(process) || self.holds_literal(first, rest)
    }

    /// Whether some anywhere literal occurs in the chunk: if not, a line of a refused process
    /// can be dropped at once.
    #[inline]
    pub fn may_hold_literal(&self) -> bool {
        !self.hits.is_empty()
    }

    /// Whether an anywhere literal lies inside the message `first` + `rest` (slices of the
    /// chunk): a needle found in the chunk lies inside, and the message holds a literal itself.
    #[inline]
    pub fn holds_literal(&self, first: &[u8], rest: &[&[u8]]) -> bool {
        let parts = || std::iter::once(first).chain(rest.iter().copied());
        self.may_hold_literal()
            && parts().any(|part| self.hits.inside(part))
            && parts().any(|part| self.filter.wants_anywhere(part))
    }
}

/// A skipped line, with a short excerpt for the summary.
#[derive(Debug)]
pub(crate) struct Skip {
    pub line: u64,
    pub reason: SkipReason,
    pub detail: String,
}

/// Records and counts of one chunk.
#[derive(Debug, Default)]
pub(crate) struct ChunkOutput {
    pub records: Vec<LogRecord>,
    pub skips: Vec<Skip>,
    /// Records parsed (kept or filtered out).
    pub parsed: u64,
    /// Records dropped by the process or message filter.
    pub filtered: u64,
    /// Lines that are not records by design.
    pub ignored: u64,
    pub lossy_utf8: u64,
    /// For formats without dates: the chunk's first and last time of day (µs since midnight),
    /// and for each record the midnight crossings inside the chunk before it.
    pub day_clock: Option<DayClock>,
    /// The earliest and latest instant (UTC µs) of the records the process filter refused
    /// that the format timed ([`RefusedEnds`]): the log runs on past its last kept record, and
    /// the read says how far. Date-less formats add the chunk's own midnight crossings.
    pub refused_span: Option<LogSpan>,
    /// When the read formats its records as lines and the format's records need nothing from
    /// earlier chunks: the kept records, formatted as they are kept, instead of `records`.
    pub lines: Option<ChunkLines>,
}

/// A chunk's kept records as formatted lines, with what the summary needs of them.
#[derive(Debug)]
pub(crate) struct ChunkLines {
    /// The chunk's first line number in the input, less one.
    line_base: u64,
    pub block: BlockBuilder,
    pub tally: KeptTally,
}

impl ChunkLines {
    /// `bytes` is the room the lines are expected to take (the last chunk's, say).
    pub fn new(
        formatter: LineFormatter,
        line_base: u64,
        bytes: usize,
        spare: Option<&SpareBlocks>,
    ) -> ChunkLines {
        ChunkLines {
            line_base,
            block: BlockBuilder::new(formatter, bytes, spare),
            tally: KeptTally::default(),
        }
    }

    /// Numbers the record in the whole input, applies the time filter and formats it.
    fn take(&mut self, filter: &RecordFilter, mut record: LogRecord) {
        if let Origin::Line { line, .. } = &mut record.origin {
            *line += self.line_base;
        }
        if self.tally.admit(&record, filter) {
            self.block.push(&record);
        }
    }
}

/// The first and last record of a chunk that the process filter refused, kept raw so that only
/// their two times are decoded: they bound what the chunk covers (exports are nearly in time
/// order), while decoding the time of every refused record would cost as much as keeping it.
#[derive(Default)]
pub(crate) struct RefusedEnds<'c> {
    first: Option<(&'c [u8], u32)>,
    last: Option<(&'c [u8], u32)>,
}

impl<'c> RefusedEnds<'c> {
    /// Counts a refused record that begins with `bytes`, after `days` midnight crossings inside
    /// the chunk (0 for dated formats).
    #[inline]
    pub fn note(&mut self, out: &mut ChunkOutput, bytes: &'c [u8], days: u32) {
        out.filtered_early();
        if self.first.is_none() {
            self.first = Some((bytes, days));
        } else {
            self.last = Some((bytes, days));
        }
    }

    /// Decodes the two times with `time` (UTC µs of a record on the chunk's first day).
    pub fn finish(self, out: &mut ChunkOutput, time: impl Fn(&[u8]) -> Option<i64>) {
        for (bytes, days) in [self.first, self.last].into_iter().flatten() {
            if let Some(at) = time(bytes) {
                out.widen_refused(at + i64::from(days) * MICROS_PER_DAY);
            }
        }
    }
}

pub(crate) const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// The times of day seen in a chunk of a date-less log, so the pipeline can carry midnight
/// crossings across chunks parsed in parallel.
#[derive(Debug, Default)]
pub(crate) struct DayClock {
    pub first: Option<i64>,
    pub last: Option<i64>,
    /// Crossings inside the chunk before each kept record (parallel to `records`).
    pub days: Vec<u32>,
    pub crossings: u32,
}

/// A time of day that goes back by more than this is taken as the next day.
pub(crate) const ROLLOVER_BACKSTEP_MICROS: i64 = 12 * 3600 * 1_000_000;

impl DayClock {
    /// Notes the time of day of the next record (kept or not) and returns the crossings so far.
    pub fn observe(&mut self, micros_of_day: i64) -> u32 {
        if let Some(last) = self.last
            && last - micros_of_day > ROLLOVER_BACKSTEP_MICROS
        {
            self.crossings += 1;
        }
        self.first.get_or_insert(micros_of_day);
        self.last = Some(micros_of_day);
        self.crossings
    }
}

/// A record's first line, checked for UTF-8 once; see [`ChunkOutput::text_of`].
pub(crate) struct DecodedLine<'b> {
    bytes: &'b [u8],
    text: Option<&'b str>,
}

impl<'b> DecodedLine<'b> {
    pub fn new(bytes: &'b [u8]) -> DecodedLine<'b> {
        DecodedLine {
            bytes,
            text: std::str::from_utf8(bytes).ok(),
        }
    }
}

impl ChunkOutput {
    pub fn skip(&mut self, line: u64, reason: SkipReason, text: &[u8]) {
        self.skips.push(Skip {
            line,
            reason,
            detail: excerpt(text),
        });
    }

    /// Decodes a line, replacing invalid UTF-8 and counting it.
    pub fn text<'b>(&mut self, bytes: &'b [u8]) -> Cow<'b, str> {
        // `from_utf8` checks a word at a time; the lossy decoder walks chunks of valid text
        // byte by byte, which costs more on the millions of lines that are valid.
        match std::str::from_utf8(bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => {
                self.lossy_utf8 += 1;
                String::from_utf8_lossy(bytes)
            }
        }
    }

    /// Decodes `part` of a line decoded whole with [`DecodedLine::new`]: the check was paid once
    /// for the line instead of once per field (five checks per record were 7 % of the CPU of a
    /// read that keeps every line). A line that is not UTF-8 is decoded field by field.
    pub fn text_of<'b>(&mut self, line: &DecodedLine<'b>, part: &'b [u8]) -> Cow<'b, str> {
        let start = (part.as_ptr() as usize).wrapping_sub(line.bytes.as_ptr() as usize);
        match line
            .text
            .and_then(|text| text.get(start..start.checked_add(part.len())?))
        {
            Some(text) => Cow::Borrowed(text),
            None => self.text(part),
        }
    }

    /// Applies the message filter and keeps the record.
    pub fn keep(&mut self, ctx: &ChunkContext<'_>, record: LogRecord) -> bool {
        self.parsed += 1;
        if ctx.filter.wants_fields(&record) {
            match &mut self.lines {
                Some(lines) => lines.take(ctx.filter, record),
                None => self.records.push(record),
            }
            true
        } else {
            self.filtered += 1;
            false
        }
    }

    /// Counts a record dropped by the process filter before it was built.
    pub fn filtered_early(&mut self) {
        self.parsed += 1;
        self.filtered += 1;
    }

    /// Counts a record dropped by the process filter whose time (UTC µs) was decoded anyway
    /// (formats that decode a whole event before they can filter it).
    pub fn filtered_early_at(&mut self, at: Option<i64>) {
        self.filtered_early();
        if let Some(at) = at {
            self.widen_refused(at);
        }
    }

    fn widen_refused(&mut self, at: i64) {
        self.refused_span = Some(LogSpan::widen(
            self.refused_span,
            Timestamp::from_utc_micros(at),
        ));
    }
}

/// Parses ASCII decimal digits (at most 19, so it fits a `u64`); `None` for anything else.
pub(crate) fn decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 19 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0')),
    )
}

/// The first 120 characters of a line, for messages.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(480)]);
    let mut out: String = text.chars().take(120).collect();
    if out.len() < text.len() || bytes.len() > 480 {
        out.push('…');
    }
    out
}

/// The lines of a chunk with their 1-based numbers, without `\n` or `\r\n`.
pub(crate) fn lines(chunk: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let mut rest = chunk;
    let mut number = 0u64;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        number += 1;
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        Some((number, line.strip_suffix(b"\r").unwrap_or(line)))
    })
}

/// Groups a chunk into records for formats whose records are a first line plus continuation
/// lines. `ignore` marks lines that are not part of any record (headers, trailers); a
/// continuation before any record is skipped as an orphan.
pub(crate) fn for_each_record<'c>(
    format: &(impl TextFormat + ?Sized),
    chunk: &'c [u8],
    out: &mut ChunkOutput,
    ignore: impl Fn(&[u8]) -> bool,
    mut on_record: impl FnMut(&mut ChunkOutput, u64, &'c [u8], &[&'c [u8]]),
) {
    let mut first: Option<(u64, &'c [u8])> = None;
    let mut continuation: Vec<&'c [u8]> = Vec::new();
    for (number, line) in lines(chunk) {
        if format.starts_record(line) {
            if let Some((n, l)) = first.take() {
                on_record(out, n, l, &continuation);
            }
            continuation.clear();
            first = Some((number, line));
        } else if ignore(line) {
            out.ignored += 1;
        } else if first.is_some() {
            continuation.push(line);
        } else if line.iter().all(u8::is_ascii_whitespace) {
            out.ignored += 1;
        } else {
            out.skip(number, SkipReason::OrphanContinuation, line);
        }
    }
    if let Some((n, l)) = first {
        on_record(out, n, l, &continuation);
    }
}

/// Joins a first line's message, decoded, with its continuation lines, as the original message
/// had them.
pub(crate) fn join_message(
    out: &mut ChunkOutput,
    first: Cow<'_, str>,
    continuation: &[&[u8]],
    sep: &str,
) -> String {
    let mut message = first.into_owned();
    for line in continuation {
        message.push_str(sep);
        message.push_str(&out.text(line));
    }
    message
}

/// The text formats in the order detection tries them (most specific first).
pub(crate) fn all() -> [&'static dyn TextFormat; 12] {
    [
        &json::LogShowJson,
        &json::LogShowNdjson,
        &unifiedlog_export::Jsonl,
        &unifiedlog_export::Csv,
        &log_show::DefaultStyle,
        &log_show::SyslogStyle,
        &log_show::CompactStyle,
        &pymobiledevice3::Pymobiledevice3,
        &pymobiledevice3::json::Pymobiledevice3Json,
        &idevicesyslog::Idevicesyslog,
        &console::ConsoleCopy,
        &digest::Digest,
    ]
}

pub(crate) fn for_format(format: Format) -> Option<&'static dyn TextFormat> {
    all().into_iter().find(|f| f.format() == format)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Runs one format over a string, as the pipeline would, for unit tests.
    use super::*;

    pub fn parse(format: &dyn TextFormat, text: &str, clock: LocalClock) -> ChunkOutput {
        parse_with(format, text, clock, &RecordFilter::new())
    }

    /// Parses with a filter, searching the chunk for its anywhere literals as the pipeline does.
    pub fn parse_with(
        format: &dyn TextFormat,
        text: &str,
        clock: LocalClock,
        filter: &RecordFilter,
    ) -> ChunkOutput {
        let file: Arc<str> = "test.log".into();
        let chunk = text.as_bytes();
        let ctx = ChunkContext {
            file: &file,
            clock: &clock,
            filter,
            hits: if format.raw_messages() {
                filter.anywhere_hits(chunk)
            } else {
                Default::default()
            },
        };
        let mut out = ChunkOutput::default();
        format.parse_chunk(chunk, &ctx, &mut out);
        out
    }

    /// Runs every entry point of `format` over `bytes`: the never-panic property tests of each
    /// reader.
    pub fn exercise(format: &dyn TextFormat, bytes: &[u8], clock: &LocalClock) {
        let file: Arc<str> = "p".into();
        let filter = RecordFilter::new();
        let ctx = ChunkContext {
            file: &file,
            clock,
            filter: &filter,
            hits: Default::default(),
        };
        let mut out = ChunkOutput::default();
        format.parse_chunk(bytes, &ctx, &mut out);
        let _ = (format.score(bytes), format.requirements(bytes));
        for (_, line) in lines(bytes) {
            let _ = (
                format.sniff(line),
                format.starts_record(line),
                format.record_time(line, clock),
            );
        }
    }

    /// PushKit's kill as logged inside the app (rules/ios.toml, `pushkit.killed_not_reported`).
    pub const KILLED: &str = "Killing app because it never posted an incoming call to the system after receiving a PushKit VoIP push.";

    /// apsd, and the lines of any process that hold a literal of the embedded `*` rules, as
    /// `pushtrace logs --push-set` reads them.
    pub fn apsd_and_anywhere() -> RecordFilter {
        let rules = crate::rules::RuleSet::embedded().unwrap();
        RecordFilter::new()
            .processes(["apsd"])
            .anywhere(rules.anywhere_literals())
    }

    /// The process and message of each kept record.
    pub fn kept(out: &ChunkOutput) -> Vec<(&str, &str)> {
        out.records
            .iter()
            .map(|r| (r.process.as_str(), r.message.as_str()))
            .collect()
    }

    pub fn clock(date: &str, tz: &str) -> LocalClock {
        LocalClock {
            date: Some(pushtrace_model::parse_date(date).unwrap()),
            zone: Some(crate::clock::Zone::parse(tz).unwrap()),
        }
    }
}
