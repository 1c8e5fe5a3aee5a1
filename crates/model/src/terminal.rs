//! Text from input files made safe to print on a terminal.
//!
//! A log line, a push id or a bad line quoted in a summary is whatever the file held: an `ESC ]`
//! in it would set the terminal's title, an `ESC [2J` would clear the screen, a bidi override
//! would show the text in another order than it is. Human-readable output passes such text
//! through [`escape`] (or [`escape_lines`] for a whole report) on its way to the terminal; the
//! types keep the exact text, and JSON output carries it unchanged.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every character a terminal acts on shown as `\u{1b}`: C0 controls (tab and line
/// feed too, so a field stays on its line), DEL, C1 controls and the bidi overrides and isolates
/// (U+202A–U+202E, U+2066–U+2069). Everything else, backslashes included, is unchanged;
/// borrowed when there is nothing to escape.
///
/// ```
/// use pushtrace_model::terminal::escape;
///
/// assert_eq!(escape("apsd: \u{1b}]0;pwned\u{7}"), "apsd: \\u{1b}]0;pwned\\u{7}");
/// ```
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_keeping(text, false)
}

/// [`escape`], keeping line feeds: for a whole rendered report, and for a multi-line log message
/// printed as the continuation lines its format has.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    escape_keeping(text, true)
}

fn escape_keeping(text: &str, newlines: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| is_unsafe(c) && !(newlines && c == '\n');
    // Every unsafe character starts with one of these bytes (C1 is 0xC2 0x80–0x9F, the bidi
    // controls 0xE2 0x80/0x81 …), so clean text, nearly all of it, is one pass over bytes.
    let maybe =
        |b: &u8| matches!(b, 0x00..=0x1f | 0x7f | 0xc2 | 0xe2) && !(newlines && *b == b'\n');
    if !text.as_bytes().iter().any(maybe) || !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for text in [
            "",
            "apsd[94]: Received incoming push",
            r"path C:\logs\a — “quoted” é 日本 🙂",
        ] {
            assert!(matches!(escape(text), Cow::Borrowed(t) if t == text));
            assert!(matches!(escape_lines(text), Cow::Borrowed(t) if t == text));
        }
        assert!(matches!(escape_lines("two\nlines"), Cow::Borrowed(_)));
    }

    #[test]
    fn c0_controls_are_escaped() {
        assert_eq!(
            escape("a\u{1b}]0;pwned\u{7}b\u{1b}[2J"),
            "a\\u{1b}]0;pwned\\u{7}b\\u{1b}[2J"
        );
        assert_eq!(escape("\0\t\n\r"), "\\u{0}\\u{9}\\u{a}\\u{d}");
        assert_eq!(escape_lines("a\r\nb\tc\n"), "a\\u{d}\nb\\u{9}c\n");
    }

    #[test]
    fn del_and_c1_controls_are_escaped() {
        assert_eq!(escape("a\u{7f}b"), "a\\u{7f}b");
        // U+009B is the one-character CSI some terminals accept in place of `ESC [`.
        assert_eq!(escape("\u{80}\u{9b}2J\u{9f}"), "\\u{80}\\u{9b}2J\\u{9f}");
        // Neighbours sharing the lead byte 0xC2 are text.
        assert!(matches!(escape("\u{a0}©"), Cow::Borrowed(_)));
    }

    #[test]
    fn bidi_overrides_and_isolates_are_escaped() {
        assert_eq!(escape("id \u{202e}cba\u{202c}"), "id \\u{202e}cba\\u{202c}");
        for c in [
            '\u{202a}', '\u{202b}', '\u{202d}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ] {
            assert_eq!(escape(&c.to_string()), format!("\\u{{{:x}}}", u32::from(c)));
        }
        // Neighbours sharing the lead byte 0xE2 are text.
        assert!(matches!(escape("a – b … ‘c’ €"), Cow::Borrowed(_)));
    }
}
