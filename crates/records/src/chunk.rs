//! Cuts a (decompressed) text stream into chunks that end on record boundaries, each with the
//! line it starts on, so that chunks can be parsed on any thread with exact line numbers while
//! only a few chunks are in memory.
//!
//! JSONL records end at a line feed. CSV records end at a line feed outside quotes; a small
//! state machine that follows the csv crate's quoting rules (a quote opens a quoted field only
//! at the start of a field; `""` inside it is a quote) finds those line feeds, so a quoted line
//! break never splits a record. A record longer than [`MAX_RECORD_BYTES`] without an end (a
//! JSONL file without line feeds, a CSV quote never closed) is handed out as an overlong piece
//! (its first bytes only) and the reader resumes at the next line feed: memory stays bounded.

use std::io::{self, Read};

/// The longest record read (a JSONL line, a CSV record). A push record with its attributes is a
/// few hundred bytes.
pub const MAX_RECORD_BYTES: usize = crate::jsonl::MAX_LINE_BYTES;

/// Bytes kept of an overlong record, to quote it.
const OVERLONG_HEAD: usize = 256;

/// A run of whole records, or the head of one overlong record.
#[derive(Debug)]
pub(crate) struct Chunk {
    /// 0-based order of the chunk in the input.
    pub index: u64,
    /// 1-based line of its first byte.
    pub first_line: u64,
    pub bytes: Vec<u8>,
    /// The bytes are the head of a record longer than [`MAX_RECORD_BYTES`].
    pub overlong: bool,
}

/// Where the CSV scanner is, as csv reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scan {
    /// At the start of a field (or of a record).
    FieldStart,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: the field's end, or the first of `""`.
    AfterQuote,
}

pub(crate) struct Chunker<R> {
    input: R,
    csv: bool,
    size: usize,
    pending: Vec<u8>,
    /// CSV: bytes of `pending` scanned, the state there, and the last record end found.
    scanned: usize,
    state: Scan,
    /// Line of `pending[0]`.
    line: u64,
    index: u64,
    /// Line feeds handed out, and the last byte of the input: the input's line count.
    newlines: u64,
    last: Option<u8>,
    eof: bool,
}

impl<R: Read> Chunker<R> {
    pub fn new(input: R, csv: bool, size: usize) -> Self {
        Chunker {
            input,
            csv,
            size: size.max(1),
            pending: Vec::new(),
            scanned: 0,
            state: Scan::FieldStart,
            line: 1,
            index: 0,
            newlines: 0,
            last: None,
            eof: false,
        }
    }

    /// Lines of the input handed out so far (a last line without a line feed counts).
    pub fn lines(&self) -> u64 {
        self.newlines + u64::from(self.last.is_some_and(|b| b != b'\n'))
    }

    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        loop {
            if !self.csv {
                // A JSONL line longer than the limit is a bad line, even when its end was read.
                let end = memchr::memchr(b'\n', &self.pending);
                if end.unwrap_or(self.pending.len()) > MAX_RECORD_BYTES {
                    return self.overlong(end).map(Some);
                }
            }
            if let Some(cut) = self.cut() {
                return Ok(Some(self.hand_out(cut, false)));
            }
            if self.eof {
                if self.pending.is_empty() {
                    return Ok(None);
                }
                let all = self.pending.len();
                return Ok(Some(self.hand_out(all, false)));
            }
            if self.pending.len() > MAX_RECORD_BYTES {
                return self.overlong(None).map(Some);
            }
            self.fill()?;
        }
    }

    /// Reads up to one chunk size more into `pending`.
    fn fill(&mut self) -> io::Result<()> {
        let start = self.pending.len();
        self.pending.resize(start + self.size.max(8 << 10), 0);
        let n = loop {
            match self.input.read(&mut self.pending[start..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.pending.truncate(start);
                    return Err(e);
                }
                Ok(n) => break n,
            }
        };
        self.pending.truncate(start + n);
        self.eof = n == 0;
        Ok(())
    }

    /// Where to end the next chunk: the last record end within the chunk size, else the first
    /// after it; `None` when `pending` holds no record end yet, or too little to make a chunk.
    fn cut(&mut self) -> Option<usize> {
        if self.pending.len() < self.size && !self.eof {
            return None;
        }
        if !self.csv {
            let within = &self.pending[..self.size.min(self.pending.len())];
            return match memchr::memrchr(b'\n', within) {
                Some(i) => Some(i + 1),
                None => memchr::memchr(b'\n', &self.pending[within.len()..])
                    .map(|i| within.len() + i + 1),
            };
        }
        let mut last = None;
        let mut i = self.scanned;
        while i < self.pending.len() {
            let b = self.pending[i];
            i += 1;
            self.state = match (self.state, b) {
                (Scan::Quoted, b'"') => Scan::AfterQuote,
                (Scan::Quoted, _) => Scan::Quoted,
                (Scan::AfterQuote, b'"') => Scan::Quoted,
                (Scan::FieldStart, b'"') => Scan::Quoted,
                (_, b'\n') => {
                    last = Some(i);
                    if i >= self.size {
                        self.scanned = i;
                        self.state = Scan::FieldStart;
                        break;
                    }
                    Scan::FieldStart
                }
                (_, b',') => Scan::FieldStart,
                _ => Scan::Unquoted,
            };
            self.scanned = i;
        }
        let cut = last?;
        // The scan resumes after the cut, at the start of a record.
        if cut < self.scanned {
            self.scanned = cut;
            self.state = Scan::FieldStart;
        }
        Some(cut)
    }

    fn hand_out(&mut self, cut: usize, overlong: bool) -> Chunk {
        let rest = self.pending.split_off(cut);
        let bytes = std::mem::replace(&mut self.pending, rest);
        self.scanned -= self.scanned.min(cut);
        let newlines = memchr::memchr_iter(b'\n', &bytes).count() as u64;
        if let Some(&b) = bytes.last() {
            self.last = Some(b);
        }
        let chunk = Chunk {
            index: self.index,
            first_line: self.line,
            bytes,
            overlong,
        };
        self.index += 1;
        self.newlines += newlines;
        self.line += newlines;
        chunk
    }

    /// The record at the start of `pending` has no end within the limit: hands out its head and
    /// skips to the next line feed.
    fn overlong(&mut self, end: Option<usize>) -> io::Result<Chunk> {
        let mut head = match end {
            Some(end) => {
                let rest = self.pending.split_off(end + 1);
                std::mem::replace(&mut self.pending, rest)
            }
            None => std::mem::take(&mut self.pending),
        };
        head.truncate(OVERLONG_HEAD);
        let chunk = Chunk {
            index: self.index,
            first_line: self.line,
            bytes: head,
            overlong: true,
        };
        self.index += 1;
        if end.is_some() {
            self.newlines += 1;
            self.line += 1;
            self.last = Some(b'\n');
            self.scanned = 0;
            return Ok(chunk);
        }
        self.last = Some(0);
        loop {
            self.fill()?;
            if self.eof {
                break;
            }
            if let Some(i) = memchr::memchr(b'\n', &self.pending) {
                self.pending.drain(..=i);
                self.newlines += 1;
                self.line += 1;
                self.last = Some(b'\n');
                break;
            }
            self.pending.clear();
        }
        self.scanned = 0;
        self.state = Scan::FieldStart;
        Ok(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(text: &str, csv: bool, size: usize) -> Vec<(u64, String)> {
        let mut chunker = Chunker::new(text.as_bytes(), csv, size);
        let mut out = Vec::new();
        while let Some(chunk) = chunker.next_chunk().unwrap() {
            out.push((chunk.first_line, String::from_utf8(chunk.bytes).unwrap()));
        }
        out
    }

    #[test]
    fn lines_end_chunks() {
        assert_eq!(
            chunks("a\nbb\nccc\nd", false, 4),
            [
                (1, "a\n".to_string()),
                (2, "bb\n".to_string()),
                (3, "ccc\n".to_string()),
                (4, "d".to_string())
            ]
        );
        assert_eq!(chunks("a\nbb\n", false, 100), [(1, "a\nbb\n".to_string())]);
    }

    #[test]
    fn quoted_line_breaks_stay_in_their_record() {
        let text = "h,i\n\"x\ny\",2\n\"a\"\"\n\",3\nz\"q\n,4\n";
        let got = chunks(text, true, 1);
        assert_eq!(
            got,
            [
                (1, "h,i\n".to_string()),
                (2, "\"x\ny\",2\n".to_string()),
                (4, "\"a\"\"\n\",3\n".to_string()),
                (6, "z\"q\n".to_string()),
                (7, ",4\n".to_string()),
            ]
        );
        let joined: String = got.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn an_overlong_line_is_cut_and_skipped() {
        let long = "x".repeat(MAX_RECORD_BYTES + 10);
        let text = format!("a\n{long}\nb\n");
        let mut chunker = Chunker::new(text.as_bytes(), false, 2);
        let mut got = Vec::new();
        while let Some(chunk) = chunker.next_chunk().unwrap() {
            got.push((chunk.first_line, chunk.overlong, chunk.bytes.len()));
        }
        assert_eq!(
            got,
            [(1, false, 2), (2, true, OVERLONG_HEAD), (3, false, 2)]
        );
        assert_eq!(chunker.lines(), 3);
    }
}
