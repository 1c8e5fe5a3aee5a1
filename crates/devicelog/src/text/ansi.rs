//! Terminal colour codes in captures of live-log tools.
//!
//! `idevicesyslog` colours its lines when it writes to a terminal (or with `--colors`), and
//! `pymobiledevice3 syslog live -o FILE` writes to the file the same coloured line it prints on
//! a terminal. A capture saved through `script`, a terminal's "save output" or such a file keeps
//! the escape sequences; they are removed before the lines are read. Only CSI sequences
//! (`ESC [ parameters final-byte`, which covers SGR colours) are emitted by those tools; any
//! other `ESC` is dropped alone.

use std::borrow::Cow;

use super::{ChunkContext, ChunkOutput};

const ESC: u8 = 0x1b;

/// Parses `chunk` with `parse` once its colour codes are removed. The anywhere literals are
/// looked for again in the cleaned text, where the records are cut from: a colour code may
/// have split one.
pub(crate) fn parse_uncoloured(
    chunk: &[u8],
    ctx: &ChunkContext<'_>,
    out: &mut ChunkOutput,
    parse: impl FnOnce(&[u8], &ChunkContext<'_>, &mut ChunkOutput),
) {
    match strip(chunk) {
        Cow::Borrowed(chunk) => parse(chunk, ctx, out),
        Cow::Owned(clean) => {
            let ctx = ChunkContext {
                file: ctx.file,
                clock: ctx.clock,
                filter: ctx.filter,
                hits: ctx.filter.anywhere_hits(&clean),
            };
            parse(&clean, &ctx, out)
        }
    }
}

/// Whether `bytes` holds an escape byte at all (the common case is a plain file: no copy).
#[inline]
pub(crate) fn has_escapes(bytes: &[u8]) -> bool {
    memchr::memchr(ESC, bytes).is_some()
}

/// `bytes` without its CSI escape sequences. Line ends are kept, so line numbers do not move.
pub(crate) fn strip(bytes: &[u8]) -> Cow<'_, [u8]> {
    if !has_escapes(bytes) {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = memchr::memchr(ESC, rest) {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at + 1..];
        if rest.first() == Some(&b'[') {
            // Parameter and intermediate bytes (0x20..=0x3f), then one final byte (0x40..=0x7e).
            // A sequence cut short by a line end stops there and keeps the line end.
            let params = rest[1..]
                .iter()
                .take_while(|b| (0x20..=0x3f).contains(*b))
                .count();
            let end = 1 + params;
            rest = match rest.get(end) {
                Some(b) if (0x40..=0x7e).contains(b) => &rest[end + 1..],
                _ => &rest[end..],
            };
        }
    }
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_removed_and_plain_text_is_not_copied() {
        // libimobiledevice-glue termcolors (FG_LIGHT_GRAY, FG_BRIGHT_CYAN, COLOR_RESET) around
        // an idevicesyslog line; click.style around a pymobiledevice3 timestamp.
        let coloured = b"\x1b[0;37mJul  4 13:26:05.000123 \x1b[1;36mapsd\x1b[0;36m[83]\x1b[0m \x1b[0;32m<Notice>:\x1b[0m hi\n\x1b[32m2023-01-19 13:04:37\x1b[0m x";
        assert_eq!(
            &*strip(coloured),
            b"Jul  4 13:26:05.000123 apsd[83] <Notice>: hi\n2023-01-19 13:04:37 x"
        );
        assert!(matches!(strip(b"plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn cut_or_odd_sequences_never_eat_a_line_end() {
        assert_eq!(&*strip(b"a\x1b[3\nb"), b"a\nb");
        assert_eq!(&*strip(b"a\x1b"), b"a");
        assert_eq!(&*strip(b"a\x1bXb"), b"aXb");
        assert_eq!(&*strip(b"\x1b[\x1b[0m"), b"");
    }
}
