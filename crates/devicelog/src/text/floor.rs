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
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::TextFormat;
use crate::clock::LocalClock;

/// Bytes of the file summed up by one minimum.
pub(crate) const SEGMENT_BYTES: u64 = 4 << 20;
/// Maps start on multiples of this: every page size in use (4, 16 and 64 KiB) divides it.
const MAP_ALIGN: u64 = 64 << 10;
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
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let segments = len.saturating_sub(from).div_ceil(SEGMENT_BYTES) as usize;
        let mut minimums = vec![i64::MAX; segments];
        if segments > 0 {
            let threads = threads.clamp(1, segments);
            let per_thread = segments.div_ceil(threads);
            let file = &file;
            std::thread::scope(|scope| {
                let parts: Vec<_> = minimums
                    .chunks_mut(per_thread)
                    .enumerate()
                    .map(|(i, part)| {
                        let start = from + (i * per_thread) as u64 * SEGMENT_BYTES;
                        scope.spawn(move || scan_segments(file, len, format, clock, start, part))
                    })
                    .collect();
                parts.into_iter().try_for_each(|part| {
                    part.join().unwrap_or_else(|_| {
                        Err(io::Error::other("a thread scanning times panicked"))
                    })
                })
            })?;
        }
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
/// in the segments from byte `start` of `file` (`len` bytes) on, one per entry of
/// [`SEGMENT_BYTES`]. Each segment is mapped on its own, so the pass holds a few MiB of the
/// file at a time whatever its size.
fn scan_segments(
    file: &File,
    len: u64,
    format: &dyn TextFormat,
    clock: &LocalClock,
    start: u64,
    minimums: &mut [i64],
) -> io::Result<()> {
    // The last line decoded and its second: a busy log has hundreds of lines per second.
    let mut decoded: Vec<u8> = Vec::with_capacity(HEAD_BYTES);
    let mut second: Option<i64> = None;
    for (i, slot) in minimums.iter_mut().enumerate() {
        let segment = start + i as u64 * SEGMENT_BYTES;
        let segment_end = (segment + SEGMENT_BYTES).min(len);
        // From the byte before the segment (a line starts at `segment` only after a line end)
        // to the last head that starts in it, on a boundary every page size divides.
        let map_from = segment.saturating_sub(1) / MAP_ALIGN * MAP_ALIGN;
        let map_to = (segment_end + HEAD_BYTES as u64).min(len);
        // SAFETY: the map is read only, and only while this loop turn runs. A file cut shorter
        // meanwhile would fault the read (as it would ripgrep's, which maps files the same
        // way); exports are written once, before they are read. A map spares the copy a read
        // makes of every byte, which was most of this pass's cost.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(map_from)
                .len((map_to - map_from) as usize)
                .map(file)?
        };
        let data: &[u8] = &map;
        let local = |at: u64| (at - map_from) as usize;
        let mut note = |line_at: usize| {
            let head = &data[line_at..data.len().min(line_at + HEAD_BYTES)];
            let line = memchr::memchr(b'\n', head).map_or(head, |n| &head[..n]);
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
                *slot = (*slot).min(time);
            }
        };
        if segment == 0 && !data.is_empty() {
            note(0);
        }
        let from = local(segment.saturating_sub(1));
        let to = local(segment_end);
        for newline in memchr::memchr_iter(b'\n', &data[from..to]) {
            let line_at = from + newline + 1;
            if line_at >= local(segment) && line_at < to {
                note(line_at);
            }
        }
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
