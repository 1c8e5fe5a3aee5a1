//! Reading the pushes a server sent: a pushes file (JSONL or CSV of
//! [`PushRecord`](pushtrace_model::PushRecord), plain or gzip) or the `--push TIME[,apns-id]`
//! shorthand.
//!
//! A pushes file is small next to a device log (one line per push, not per log message) and is
//! joined whole with the timeline, so it is read into memory, checked line by line and sorted by
//! `sent_at`, without the parallel pipeline and external sort `devicelog` needs. Both forms go
//! through the one serde definition of the contract in `model`: a CSV row is turned into the
//! JSON object it stands for (cells typed by column) and deserialized like a JSONL line, so the
//! two cannot drift apart. `serde_path_to_error` names the field of a bad value.

mod arg;
mod csv;
mod error;
mod format;
mod jsonl;
mod summary;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::Path;
use std::sync::Arc;

use flate2::read::MultiGzDecoder;
use pushtrace_model::{Origin, PushRecord};
use serde::Serialize;

pub use arg::push_from_arg;
pub use error::{LineError, PushArgError, PushError};
pub use format::PushFormat;
pub use summary::PushSummary;

/// Bytes of the (decompressed) input looked at to detect the format.
const SAMPLE_BYTES: u64 = 64 << 10;

/// One push as read, with the line it came from so a verdict can cite it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Push {
    pub record: PushRecord,
    /// `file:line` of the JSONL line or CSV row, or `--push:N` for the Nth shorthand.
    pub origin: Origin,
}

/// A finished read: the pushes in `sent_at` order and the account of the read.
#[derive(Debug)]
pub struct PushRead {
    pub pushes: Vec<Push>,
    pub summary: PushSummary,
}

/// Reads pushes files. Build one with [`PushReader::builder`]; like the log reader it skips
/// and counts bad lines unless made strict.
#[derive(Clone, Debug, Default)]
pub struct PushReader {
    format: Option<PushFormat>,
    strict: bool,
}

/// Configures a [`PushReader`].
#[derive(Clone, Debug, Default)]
pub struct PushReaderBuilder {
    reader: PushReader,
}

impl PushReaderBuilder {
    /// Reads as this format instead of detecting it.
    pub fn format(mut self, format: Option<PushFormat>) -> Self {
        self.reader.format = format;
        self
    }

    /// Stops at the first bad line instead of skipping and counting it.
    pub fn strict(mut self, strict: bool) -> Self {
        self.reader.strict = strict;
        self
    }

    pub fn build(self) -> PushReader {
        self.reader
    }
}

impl PushReader {
    pub fn builder() -> PushReaderBuilder {
        PushReaderBuilder::default()
    }

    /// Reads a pushes file (plain or gzip).
    pub fn read(&self, path: &Path) -> Result<PushRead, PushError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| PushError::Io {
            path: name.clone(),
            source,
        })?;
        self.read_stream(&name, file)
    }

    /// Reads pushes from a stream (standard input, a test's bytes); `name` stands for the file
    /// in line references.
    pub fn read_stream(&self, name: &str, input: impl Read) -> Result<PushRead, PushError> {
        let mut raw = BufReader::new(input);
        let gzip = fill(&mut raw)
            .map_err(|source| PushError::Io {
                path: name.to_string(),
                source,
            })?
            .starts_with(&[0x1f, 0x8b]);
        let mut input: Box<dyn Read + '_> = if gzip {
            Box::new(MultiGzDecoder::new(raw))
        } else {
            Box::new(raw)
        };
        let io_error = |source: io::Error| {
            if gzip {
                PushError::Decompress {
                    path: name.to_string(),
                    source,
                }
            } else {
                PushError::Io {
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
            .map_err(io_error)?;
        // Spreadsheets on Windows start CSV exports with a byte-order mark.
        if sample.starts_with(b"\xef\xbb\xbf") {
            sample.drain(..3);
        }
        if sample.iter().all(u8::is_ascii_whitespace) && (sample.len() as u64) < SAMPLE_BYTES {
            return Err(PushError::Empty {
                path: name.to_string(),
            });
        }
        let (format, detected) = match self.format {
            Some(format) => (format, false),
            None => {
                let format = format::detect(&sample).map_err(|why| PushError::UnknownFormat {
                    path: name.to_string(),
                    why,
                })?;
                (format, true)
            }
        };
        let stream = BufReader::new(Cursor::new(sample).chain(input));
        let mut collector = Collector {
            file: name.into(),
            strict: self.strict,
            summary: PushSummary::new(name, format, detected, gzip),
            pushes: Vec::new(),
        };
        let read = match format {
            PushFormat::Jsonl => jsonl::read(stream, &mut collector),
            PushFormat::Csv => csv::read(stream, &mut collector),
        };
        read.map_err(|e| match e {
            Failure::Io(source) => io_error(source),
            Failure::Push(e) => e,
        })?;
        let Collector {
            mut pushes,
            summary,
            ..
        } = collector;
        sort_pushes(&mut pushes);
        Ok(PushRead { pushes, summary })
    }
}

/// Sorts by `sent_at` on the UTC axis; pushes sent at the same instant keep their input order.
pub fn sort_pushes(pushes: &mut [Push]) {
    pushes.sort_by_key(|p| p.record.sent_at.utc_micros());
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

/// Why a read stopped: the input failed, or a strict read met a bad line (or a bad header).
enum Failure {
    Io(io::Error),
    Push(PushError),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

impl From<PushError> for Failure {
    fn from(e: PushError) -> Self {
        Failure::Push(e)
    }
}

/// Where the formats deliver records and bad lines: counts them and applies strictness.
struct Collector {
    file: Arc<str>,
    strict: bool,
    summary: PushSummary,
    pushes: Vec<Push>,
}

impl Collector {
    fn push(&mut self, line: u64, record: PushRecord) {
        self.summary.pushes += 1;
        self.pushes.push(Push {
            record,
            origin: Origin::Line {
                file: self.file.clone(),
                line,
            },
        });
    }

    fn bad(
        &mut self,
        line: u64,
        (field, message): (Option<String>, String),
        text: &str,
    ) -> Result<(), PushError> {
        let error = LineError {
            file: self.file.to_string(),
            line,
            field,
            message,
        };
        if self.strict {
            return Err(PushError::Strict {
                error,
                excerpt: format::excerpt(text.trim()),
            });
        }
        self.summary.skip(error);
        Ok(())
    }

    fn header_error(&self, line: u64, why: String) -> PushError {
        PushError::Header {
            path: self.file.to_string(),
            line,
            why,
        }
    }
}

/// Turns a deserialization error into the field at fault and a message that says what to do.
fn field_error(path: &serde_path_to_error::Path, message: String) -> (Option<String>, String) {
    let path = path.to_string();
    let mut field = (path != "." && !path.contains('?')).then_some(path);
    if let Some(name) = quoted_after(&message, "missing field `") {
        let message = format!(
            "missing: `{name}` is required (when the server sent the push: RFC 3339 with an \
             offset, or epoch milliseconds)"
        );
        return (Some(name), message);
    }
    if let Some(name) = quoted_after(&message, "unknown field `") {
        let hint = match closest_field(&name) {
            Some(known) => format!("did you mean `{known}`? "),
            None => String::new(),
        };
        let message = format!(
            "`{name}` is not a push record field: {hint}extra data goes under `attrs` \
             (docs/formats.md, \"Push records\")"
        );
        return (Some(name), message);
    }
    if let Some(name) = quoted_after(&message, "duplicate field `") {
        field = Some(name);
    }
    (field, message)
}

fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    Some(rest[..rest.find('`')?].to_string())
}

/// The contract field within two edits of a misspelt name.
fn closest_field(name: &str) -> Option<&'static str> {
    PushRecord::FIELDS
        .into_iter()
        .map(|field| (edit_distance(name, field), field))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, field)| field)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// serde_json's message without its "at line 1 column N", which counts within one record.
fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&suffix) {
        Some(message) if error.line() > 0 => format!("{message} (column {})", error.column()),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_fields_get_a_suggestion() {
        assert_eq!(closest_field("recieved_at"), Some("received_at"));
        assert_eq!(closest_field("sentat"), Some("sent_at"));
        assert_eq!(closest_field("carrier"), None);
    }
}
