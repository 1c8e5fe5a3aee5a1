//! `pushtrace logs --style`: records written as `log show` writes them, so its output reads
//! like (and reads back as) the export people know; `--json` keeps pushtrace's own schema.

use std::io::{self, Write};

use clap::ValueEnum;
use pushtrace_model::{Level, LogRecord, terminal};

/// The output styles of `log show --style`, and pushtrace's NDJSON schema (`--json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Style {
    /// log show's default columns: timestamp, thread, type, activity, PID, TTL, then the message.
    Default,
    /// `date time+zone  localhost process[pid]: message` (pushtrace's text output before --style).
    Syslog,
    /// Milliseconds, no zone, a two-letter type, process[pid:tid].
    Compact,
    /// A JSON array of log show's event objects (eventMessage, processImagePath, …).
    Json,
    /// One log show event object per line, then log show's `{"count":N,"finished":1}` trailer.
    Ndjson,
    /// pushtrace's LogRecord schema, one per line (docs/formats.md); what `--json` gives.
    #[value(skip)]
    Records,
}

/// Writes records one by one in a style, with the style's header and trailer.
pub struct StyleWriter {
    style: Style,
    written: u64,
    line: String,
    /// The JSON of the `Records` style, reused from record to record.
    json: Vec<u8>,
}

impl StyleWriter {
    pub fn new(style: Style) -> StyleWriter {
        StyleWriter {
            style,
            written: 0,
            line: String::with_capacity(512),
            json: Vec::new(),
        }
    }

    /// The header `log show` prints before the records of the default and compact styles.
    pub fn begin(&mut self, out: &mut impl Write) -> io::Result<()> {
        match self.style {
            Style::Default => writeln!(
                out,
                "Timestamp                       Thread     Type        Activity             PID    TTL  "
            ),
            Style::Compact => writeln!(out, "Timestamp               Ty Process[PID:TID]"),
            _ => Ok(()),
        }
    }

    pub fn record(&mut self, out: &mut impl Write, record: &LogRecord) -> io::Result<()> {
        use std::fmt::Write as _;
        self.line.clear();
        let line = &mut self.line;
        match self.style {
            Style::Records => {
                let mut json = std::mem::take(&mut self.json);
                json.clear();
                record.write_json(&mut json);
                json.push(b'\n');
                let written = out.write_all(&json);
                self.json = json;
                written?;
                self.written += 1;
                return Ok(());
            }
            // A multi-line message keeps its continuation lines, so the text reads back in its
            // style; every other control character is shown escaped.
            Style::Syslog => line.push_str(&record.syslog_line()),
            Style::Default => {
                let thread = format!("{:#x}", record.thread.unwrap_or(0));
                let _ = write!(
                    line,
                    "{} {thread:<10} {:<11} {:<20} {:<6} {:<4} {}: ",
                    record.at.log_style(),
                    type_word(record.level),
                    "0x0",
                    record.pid.unwrap_or(0),
                    0,
                    record.process,
                );
                tail(line, record);
            }
            Style::Compact => {
                // log show's compact time: milliseconds and no zone, in the record's own offset.
                let stamp = record.at.log_style();
                let _ = write!(
                    line,
                    "{} {:<2} {}[{}:{:x}] ",
                    &stamp[..23],
                    type_code(record.level),
                    record.process,
                    record.pid.unwrap_or(0),
                    record.thread.unwrap_or(0),
                );
                if record.subsystem.is_some() || record.category.is_some() {
                    let _ = write!(
                        line,
                        "[{}:{}] ",
                        record.subsystem.as_deref().unwrap_or(""),
                        record.category.as_deref().unwrap_or("")
                    );
                }
                line.push_str(record.message.trim_end_matches(['\n', '\r']));
            }
            Style::Ndjson => {
                event(line, record, "", ":");
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
                self.written += 1;
                return Ok(());
            }
            Style::Json => {
                out.write_all(if self.written == 0 { b"[" } else { b"," })?;
                event(line, record, "\n  ", " : ");
                out.write_all(line.as_bytes())?;
                self.written += 1;
                return Ok(());
            }
        }
        out.write_all(terminal::escape_lines(line).as_bytes())?;
        out.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }

    /// Closes the json array; writes ndjson's trailer.
    pub fn end(&mut self, out: &mut impl Write) -> io::Result<()> {
        match self.style {
            Style::Json if self.written == 0 => writeln!(out, "[]"),
            Style::Json => writeln!(out, "]"),
            Style::Ndjson => writeln!(out, "{{\"count\":{},\"finished\":1}}", self.written),
            _ => Ok(()),
        }
    }
}

/// `(sender) [subsystem:category] message`, as the default and syslog styles end.
fn tail(line: &mut String, record: &LogRecord) {
    use std::fmt::Write as _;
    if let Some(sender) = &record.sender {
        let _ = write!(line, "({sender}) ");
    }
    if record.subsystem.is_some() || record.category.is_some() {
        let _ = write!(
            line,
            "[{}:{}] ",
            record.subsystem.as_deref().unwrap_or(""),
            record.category.as_deref().unwrap_or("")
        );
    }
    line.push_str(record.message.trim_end_matches(['\n', '\r']));
}

/// The default style's Type column. A record whose source had no level (a digest) shows
/// Default: the column cannot be left empty.
fn type_word(level: Option<Level>) -> &'static str {
    match level {
        Some(Level::Debug) => "Debug",
        Some(Level::Info) => "Info",
        Some(Level::Error) => "Error",
        Some(Level::Fault) => "Fault",
        Some(Level::Other) => "Activity",
        Some(Level::Default) | None => "Default",
    }
}

fn type_code(level: Option<Level>) -> &'static str {
    match level {
        Some(Level::Debug) => "Db",
        Some(Level::Info) => "I",
        Some(Level::Error) => "E",
        Some(Level::Fault) => "F",
        Some(Level::Other) => "A",
        Some(Level::Default) | None => "Df",
    }
}

/// One event object of log show's json styles. pushtrace keeps the image's name, not its path,
/// so `processImagePath` and `senderImagePath` hold the name (their last component, which is
/// what readers take from them); keys pushtrace has no value for are left out, never invented.
fn event(line: &mut String, record: &LogRecord, indent: &str, colon: &str) {
    use std::fmt::Write as _;
    let text = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let mut fields: Vec<(&str, String)> = Vec::with_capacity(12);
    fields.push(("timestamp", text(&record.at.log_style())));
    match record.level {
        Some(Level::Other) => fields.push(("eventType", text("activityCreateEvent"))),
        level => {
            fields.push(("eventType", text("logEvent")));
            fields.push(("messageType", text(type_word(level))));
        }
    }
    fields.push(("eventMessage", text(&record.message)));
    fields.push(("subsystem", text(record.subsystem.as_deref().unwrap_or(""))));
    fields.push(("category", text(record.category.as_deref().unwrap_or(""))));
    fields.push(("processImagePath", text(&record.process)));
    fields.push((
        "senderImagePath",
        text(record.sender.as_deref().unwrap_or(&record.process)),
    ));
    if let Some(pid) = record.pid {
        fields.push(("processID", pid.to_string()));
    }
    if let Some(thread) = record.thread {
        fields.push(("threadID", thread.to_string()));
    }
    line.push('{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let _ = write!(line, "{indent}\"{key}\"{colon}{value}");
    }
    if !indent.is_empty() {
        line.push('\n');
    }
    line.push('}');
}
