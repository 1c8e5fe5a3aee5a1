//! A lower bound on the times still to come in a text file, from one quick pass over it.
//!
//! Exports are nearly in time order, but not quite (`log show` rows step back now and then,
//! and two exports pasted together step back by hours), so a sorted output cannot be written
//! while the file is read unless something says how early a later record can be. A
//! [`TimeFloor`] says it: before the read, every line that starts a record has its time decoded
//! ([`TextFormat::record_time`], the parser's own decoding) on every core, and the earliest time
//! of each stretch of [`SEGMENT_BYTES`] is kept. The earliest time from a byte offset to the end
//! of the file is then a bound no later record goes below, and whatever is sorted below it can
//! be written at once. The pass reads no more than the time at the start of each line, and
//! decodes one line per second of log (a floor rounded down to the second is still a floor), so
//! it costs a fraction of the parse. It is taken only for plain files, which can be read twice,
//! and only once the kept lines would otherwise pile up ([`PendingFloor`]): a read that keeps
//! little holds its lines to the end and never pays for the second pass.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::TextFormat;
use crate::clock::LocalClock;

/// Bytes of the file summed up by one minimum.
pub(crate) const SEGMENT_BYTES: u64 = 4 << 20;
/// Bytes read per call.
const READ_BYTES: usize = 1 << 20;
/// Bytes of a line's start that are decoded: a timestamp with its zone fits many times over.
const HEAD_BYTES: usize = 64;

/// A [`TimeFloor`] of a plain file, scanned from where the read has got to the first time it is
/// asked for.
pub(crate) struct PendingFloor<'a> {
    path: PathBuf,
    format: &'a dyn TextFormat,
    clock: &'a LocalClock,
    threads: usize,
    scanned: OnceLock<TimeFloor>,
}

impl<'a> PendingFloor<'a> {
    /// `None` when the format cannot tell a record's time from its line.
    pub fn new(
        path: &Path,
        format: &'a dyn TextFormat,
        clock: &'a LocalClock,
        threads: usize,
    ) -> Option<PendingFloor<'a>> {
        format.times_records_alone().then(|| PendingFloor {
            path: path.to_path_buf(),
            format,
            clock,
            threads,
            scanned: OnceLock::new(),
        })
    }

    /// Whether the file has been scanned: from then on every chunk has its floor.
    pub fn is_scanned(&self) -> bool {
        self.scanned.get().is_some()
    }

    /// The earliest time of a record starting at `offset` or later, scanning the file from
    /// `offset` on the first call (the reader asks with offsets that only grow).
    pub fn at(&self, offset: u64) -> io::Result<i64> {
        if let Some(floor) = self.scanned.get() {
            return Ok(floor.at(offset));
        }
        let floor = TimeFloor::scan(&self.path, self.format, self.clock, self.threads, offset)?;
        Ok(self.scanned.get_or_init(|| floor).at(offset))
    }
}

/// The earliest record time from each segment of a file, from a starting offset, to its end.
#[derive(Debug)]
pub(crate) struct TimeFloor {
    /// `suffix_min[i]`: the earliest time (UTC microseconds) of a record starting in segment
    /// `i` (counted from `from`) or after it; `i64::MAX` when there is none.
    suffix_min: Vec<i64>,
    /// Where the scan started: a line start.
    from: u64,
    /// The file's length: no record starts at or past it.
    len: u64,
}

impl TimeFloor {
    /// Decodes the time of every record that starts at `from` (a line start) or later in
    /// `path`, on `threads` threads. The format must time records alone
    /// ([`TextFormat::times_records_alone`]).
    pub fn scan(
        path: &Path,
        format: &dyn TextFormat,
        clock: &LocalClock,
        threads: usize,
        from: u64,
    ) -> io::Result<TimeFloor> {
        debug_assert!(format.times_records_alone());
        let len = File::open(path)?.metadata()?.len();
        let segments = len.saturating_sub(from).div_ceil(SEGMENT_BYTES) as usize;
        let threads = threads.clamp(1, segments.max(1));
        let per_thread = segments.div_ceil(threads);
        let mut minimums = vec![i64::MAX; segments];
        std::thread::scope(|scope| {
            let parts: Vec<_> = minimums
                .chunks_mut(per_thread.max(1))
                .enumerate()
                .map(|(i, part)| {
                    let start = from + (i * per_thread) as u64 * SEGMENT_BYTES;
                    scope.spawn(move || scan_segments(path, format, clock, start, part))
                })
                .collect();
            parts.into_iter().try_for_each(|part| {
                part.join()
                    .unwrap_or_else(|_| Err(io::Error::other("a thread scanning times panicked")))
            })
        })?;
        let mut earliest = i64::MAX;
        for min in minimums.iter_mut().rev() {
            earliest = earliest.min(*min);
            *min = earliest;
        }
        Ok(TimeFloor {
            suffix_min: minimums,
            from,
            len,
        })
    }

    /// The earliest time of a record that starts at byte `offset` or later (it may be lower:
    /// the segment holding `offset` counts whole, and times are rounded down to the second).
    /// Before the scan's start nothing is known: `i64::MIN`.
    pub fn at(&self, offset: u64) -> i64 {
        if offset >= self.len {
            return i64::MAX;
        }
        let Some(from_start) = offset.checked_sub(self.from) else {
            return i64::MIN;
        };
        let segment = (from_start / SEGMENT_BYTES) as usize;
        self.suffix_min.get(segment).copied().unwrap_or(i64::MAX)
    }
}

/// Fills `minimums` with the earliest time (rounded down to the second) of the records starting
/// in the segments from byte `start` on (one per entry, [`SEGMENT_BYTES`] each).
fn scan_segments(
    path: &Path,
    format: &dyn TextFormat,
    clock: &LocalClock,
    start: u64,
    minimums: &mut [i64],
) -> io::Result<()> {
    let end = start + minimums.len() as u64 * SEGMENT_BYTES;
    let mut file = File::open(path)?;
    // A line starts at `start` only if the byte before it ends a line: read from there.
    let read_from = start.saturating_sub(1);
    file.seek(SeekFrom::Start(read_from))?;
    let mut input = file.take(u64::MAX);
    let mut buf = vec![0u8; READ_BYTES];
    // The bytes of the current line kept so far (at most HEAD_BYTES) and its offset.
    let mut head: Vec<u8> = Vec::with_capacity(HEAD_BYTES);
    let mut head_at: Option<u64> = (start == 0).then_some(0);
    let mut offset = read_from;
    // The last line decoded and its second: a busy log has hundreds of lines per second.
    let mut decoded: Vec<u8> = Vec::with_capacity(HEAD_BYTES);
    let mut second = None;
    let mut note = |line_at: u64, line: &[u8]| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if second.is_none() || !format.same_second(&decoded, line) {
            let Some(time) = format.record_time(line, clock) else {
                return;
            };
            second = Some(time - time.rem_euclid(1_000_000));
            decoded.clear();
            decoded.extend_from_slice(line);
        }
        if let Some(time) = second {
            let slot = &mut minimums[((line_at - start) / SEGMENT_BYTES) as usize];
            *slot = (*slot).min(time);
        }
    };
    loop {
        let n = match input.read(&mut buf[..READ_BYTES]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let data = &buf[..n];
        let mut pos = 0;
        for newline in memchr::memchr_iter(b'\n', data) {
            if let Some(at) = head_at.take() {
                let room = HEAD_BYTES - head.len();
                head.extend_from_slice(&data[pos..newline.min(pos + room)]);
                note(at, &head);
                head.clear();
            }
            pos = newline + 1;
            let next = offset + pos as u64;
            if next >= end {
                return Ok(());
            }
            if next >= start {
                head_at = Some(next);
            }
        }
        if head_at.is_some() {
            let room = HEAD_BYTES - head.len();
            head.extend_from_slice(&data[pos..n.min(pos + room)]);
        }
        offset += n as u64;
    }
    // The last line of the file, without a line end.
    if let Some(at) = head_at
        && !head.is_empty()
    {
        note(at, &head);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::log_show::SyslogStyle;
    use std::io::Write;

    fn line(time: &str, n: usize) -> String {
        format!("2026-05-20 {time}+0000  localhost apsd[112]: message {n}\n")
    }

    fn micros(time: &str) -> i64 {
        let clock = LocalClock::default();
        SyslogStyle
            .record_time(line(time, 0).as_bytes().trim_ascii_end(), &clock)
            .unwrap()
    }

    #[test]
    fn the_floor_is_the_earliest_time_from_a_segment_on() {
        // Three segments and a bit: the second steps back below the first's times, the last
        // line has no line end, continuation lines have no time.
        let mut text = String::new();
        let mut n = 0;
        let mut push = |text: &mut String, time: &str, until: u64| {
            while (text.len() as u64) < until {
                text.push_str(&line(time, n));
                text.push_str("    continued\n");
                n += 1;
            }
        };
        push(&mut text, "10:00:05.000000", SEGMENT_BYTES);
        push(&mut text, "10:00:01.000000", 2 * SEGMENT_BYTES);
        push(&mut text, "10:00:09.000000", 3 * SEGMENT_BYTES + 100);
        text.push_str(line("10:00:07.000000", 0).trim_end());
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        for threads in [1, 2, 3] {
            let floor = TimeFloor::scan(
                file.path(),
                &SyslogStyle,
                &LocalClock::default(),
                threads,
                0,
            )
            .unwrap();
            assert_eq!(floor.at(0), micros("10:00:01.000000"), "{threads} threads");
            assert_eq!(floor.at(SEGMENT_BYTES + 5), micros("10:00:01.000000"));
            assert_eq!(floor.at(2 * SEGMENT_BYTES), micros("10:00:07.000000"));
            assert_eq!(floor.at(3 * SEGMENT_BYTES), micros("10:00:07.000000"));
            assert_eq!(floor.at(text.len() as u64 - 1), micros("10:00:07.000000"));
            assert_eq!(floor.at(text.len() as u64), i64::MAX);
        }
    }

    #[test]
    fn formats_without_their_own_times_have_no_floor() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let digest = crate::text::digest::Digest;
        let clock = LocalClock::default();
        assert!(PendingFloor::new(file.path(), &digest, &clock, 2).is_none());
    }
}
