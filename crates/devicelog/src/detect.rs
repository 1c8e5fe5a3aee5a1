//! Which format an input is in, from its first bytes.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::archive::{logarchive, sysdiagnose};
use crate::error::ReadError;
use crate::format::Format;
use crate::text;

/// Bytes of an input looked at to detect its format.
pub(crate) const SAMPLE_BYTES: usize = 64 << 10;

/// Detects the format of a file or folder from its content.
pub fn detect(path: &Path) -> Result<Format, ReadError> {
    let meta = std::fs::metadata(path).map_err(ReadError::io(path))?;
    if meta.is_dir() {
        if logarchive::is_logarchive(path) {
            return Ok(Format::Logarchive);
        }
        if sysdiagnose::has_logarchive(path) {
            return Ok(Format::Sysdiagnose);
        }
        return Err(ReadError::UnknownFormat {
            path: path.into(),
            why: "it is a folder that is neither a .logarchive nor a sysdiagnose holding system_logs.logarchive".into(),
        });
    }
    let file = File::open(path).map_err(ReadError::io(path))?;
    let mut head = Vec::with_capacity(SAMPLE_BYTES);
    file.take(SAMPLE_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(ReadError::io(path))?;
    detect_head(&path.display().to_string(), &head)
}

/// Detects a format from the first bytes of an input: a zip or a gzipped tar is a
/// sysdiagnose; anything else (gzip looked into) is sniffed as text.
fn detect_head(name: &str, head: &[u8]) -> Result<Format, ReadError> {
    if head.is_empty() {
        return Err(ReadError::Empty { path: name.into() });
    }
    if head.starts_with(b"PK\x03\x04") {
        return Ok(Format::Sysdiagnose);
    }
    let mut text = Vec::new();
    let sample = if head.starts_with(&[0x1f, 0x8b]) {
        // The head usually ends mid-stream: decode what it holds; the truncated tail is expected.
        let _ = MultiGzDecoder::new(head)
            .take(SAMPLE_BYTES as u64)
            .read_to_end(&mut text);
        if text.is_empty() {
            return Err(ReadError::Decompress {
                path: name.into(),
                source: io::Error::new(io::ErrorKind::InvalidData, "no data could be decompressed"),
            });
        }
        &text[..]
    } else {
        head
    };
    if sample.len() > 262 && &sample[257..262] == b"ustar" {
        return Ok(Format::Sysdiagnose);
    }
    detect_text(sample).map_err(|why| ReadError::UnknownFormat {
        path: name.into(),
        why,
    })
}

/// Detects the text format of a stream; archives cannot be read from one.
pub(crate) fn detect_stream(name: &str, head: &[u8]) -> Result<Format, ReadError> {
    match detect_head(name, head)? {
        Format::Sysdiagnose => Err(ReadError::WrongFormat {
            path: name.into(),
            format: Format::Sysdiagnose,
            why: "an archive cannot be read from a stream: save it and pass its path".into(),
        }),
        format => Ok(format),
    }
}

/// Picks the text format that recognizes most of the sample.
pub(crate) fn detect_text(sample: &[u8]) -> Result<Format, String> {
    let control = sample
        .iter()
        .filter(|b| matches!(b, 0..=8 | 14..=31))
        .count();
    if control * 20 > sample.len() {
        return Err(format!(
            "it looks like binary data ({control} control bytes in the first {} bytes), not a text export",
            sample.len()
        ));
    }
    let best = text::all()
        .into_iter()
        .map(|f| (f.score(sample), f.format()))
        .fold((0, None), |best, (score, format)| {
            if score > best.0 {
                (score, Some(format))
            } else {
                best
            }
        });
    best.1.ok_or_else(|| {
        let first = text::lines(sample)
            .map(|(_, l)| l)
            .find(|l| !l.iter().all(u8::is_ascii_whitespace));
        format!(
            "no line of its first {} KiB looks like a known log format (first line: `{}`)",
            sample.len() >> 10,
            first.map(text::excerpt).unwrap_or_default()
        )
    })
}
