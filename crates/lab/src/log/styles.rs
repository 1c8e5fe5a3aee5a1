//! The other forms a device log reaches pushtrace in: `log show`'s default style, `--style
//! ndjson` and `--style json`, and a Console.app copy, each printed the way the real tool prints
//! it (`docs/formats.md`), so the readers of `pushtrace-devicelog` read them as they would a
//! user's.

use std::fmt::Write as _;
use std::io::{self, Write};

use pushtrace_model::{Timestamp, UtcOffset};
use serde::Serialize;

use super::{LogLine, Message, write_syslog};

/// The form a run's device logs are written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `log show --style syslog`.
    #[default]
    Syslog,
    /// `log show` with no style: the header row, then thread, type, activity, pid and TTL
    /// columns.
    Default,
    /// `log show --style ndjson`: one event per line, then the `finished` trailer.
    Ndjson,
    /// `log show --style json`: one pretty-printed array.
    Json,
    /// A Console.app copy: type, time of day with its offset, process and message, TAB
    /// separated. It carries no date: read it with the run's start date (`--date`), and it
    /// crosses midnight only where two lines are less than a day apart.
    Console,
}

impl LogFormat {
    pub const ALL: [LogFormat; 5] = [
        LogFormat::Syslog,
        LogFormat::Default,
        LogFormat::Ndjson,
        LogFormat::Json,
        LogFormat::Console,
    ];

    /// The file extension a run gives its logs.
    pub fn extension(self) -> &'static str {
        match self {
            LogFormat::Syslog | LogFormat::Default => "log",
            LogFormat::Ndjson => "ndjson",
            LogFormat::Json => "json",
            LogFormat::Console => "txt",
        }
    }
}

/// Writes `lines` (in time order) in `format`, in the zone `offset`; `app` is the app's process
/// name.
pub fn write_log(
    out: &mut impl Write,
    format: LogFormat,
    lines: &[LogLine],
    offset: UtcOffset,
    app: &str,
) -> io::Result<()> {
    match format {
        LogFormat::Syslog => write_syslog(out, lines, offset, app),
        LogFormat::Default => write_default(out, lines, offset, app),
        LogFormat::Ndjson => write_ndjson(out, lines, offset, app),
        LogFormat::Json => write_json(out, lines, offset, app),
        LogFormat::Console => write_console(out, lines, offset, app),
    }
}

/// A thread id per process: `log show` prints the logging thread, and a daemon's lines come
/// from a few threads; one per process is enough for the readers, which only carry it.
fn thread(pid: u32) -> u64 {
    0x3a0 + u64::from(pid) * 0x1f1
}

fn short(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `(sender) [subsystem:category] message`, as `log show` prints the tail: the sender only when
/// it is not the process, the brackets only when a subsystem or category is set.
pub(super) fn tail(out: &mut String, message: &Message) {
    if let Some(sender) = message.sender() {
        let _ = write!(out, "({}) ", short(sender));
    }
    let (subsystem, category) = message.subsystem();
    if !subsystem.is_empty() || !category.is_empty() {
        let _ = write!(out, "[{subsystem}:{category}] ");
    }
    message.write(out);
}

fn write_default(
    out: &mut impl Write,
    lines: &[LogLine],
    offset: UtcOffset,
    app: &str,
) -> io::Result<()> {
    writeln!(
        out,
        "Timestamp                       Thread     Type        Activity             PID    TTL"
    )?;
    let mut text = String::with_capacity(256);
    for line in lines {
        text.clear();
        tail(&mut text, &line.message);
        let at = Timestamp::new(line.at, offset).log_style();
        let thread = format!("{:#x}", thread(line.pid));
        writeln!(
            out,
            "{at} {thread:<10} {:<11} {:<20} {:<6} {:<4} {}: {text}",
            line.message.level(),
            "0x0",
            line.pid,
            0,
            line.message.process(app),
        )?;
    }
    Ok(())
}

fn write_console(
    out: &mut impl Write,
    lines: &[LogLine],
    offset: UtcOffset,
    app: &str,
) -> io::Result<()> {
    let mut text = String::with_capacity(256);
    for line in lines {
        text.clear();
        line.message.write(&mut text);
        // Console shows the time of day with its zone glued: `17:45:59.562000+0300`.
        let stamp = Timestamp::new(line.at, offset).log_style();
        writeln!(
            out,
            "{}\t{}\t{}\t{text}",
            line.message.level().to_ascii_lowercase(),
            &stamp[11..],
            line.message.process(app)
        )?;
    }
    Ok(())
}

/// Where a process's image lives on iOS: `processImagePath` of the json styles.
fn image(process: &str, app: &str) -> String {
    match process {
        "kernel" => "/kernel".into(),
        "apsd" => "/System/Library/PrivateFrameworks/ApplePushService.framework/apsd".into(),
        "powerd" => "/usr/sbin/powerd".into(),
        "wifid" => "/usr/sbin/wifid".into(),
        "CommCenter" => {
            "/System/Library/Frameworks/CoreTelephony.framework/Support/CommCenter".into()
        }
        "callservicesd" => {
            "/System/Library/PrivateFrameworks/TelephonyUtilities.framework/callservicesd".into()
        }
        "SpringBoard" => "/System/Library/CoreServices/SpringBoard.app/SpringBoard".into(),
        "mediaserverd" | "backboardd" => format!("/usr/sbin/{process}"),
        p if p == app => format!(
            "/private/var/containers/Bundle/Application/6B1D2E70-3C1A-4F0B-9D3E-1A2B3C4D5E6F/{app}.app/{app}"
        ),
        p => format!("/usr/libexec/{p}"),
    }
}

/// A JSON string as `log` writes it: slashes escaped.
fn json_text(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into());
    quoted.replace('/', "\\/")
}

/// The event's keys in the order `log` prints them, each value already JSON.
fn event_fields(
    line: &LogLine,
    trace: usize,
    offset: UtcOffset,
    app: &str,
    text: &mut String,
) -> [(&'static str, String); 13] {
    text.clear();
    line.message.write(text);
    let process = image(line.message.process(app), app);
    let sender = line.message.sender().map_or(process.clone(), str::to_owned);
    let (subsystem, category) = line.message.subsystem();
    [
        ("traceID", trace.to_string()),
        ("eventMessage", json_text(text)),
        ("eventType", "\"logEvent\"".into()),
        ("source", "null".into()),
        ("formatString", "\"%{public}s\"".into()),
        ("activityIdentifier", "0".into()),
        ("subsystem", json_text(subsystem)),
        ("category", json_text(category)),
        ("threadID", thread(line.pid).to_string()),
        ("processImagePath", json_text(&process)),
        ("senderImagePath", json_text(&sender)),
        (
            "timestamp",
            json_text(&Timestamp::new(line.at, offset).log_style()),
        ),
        ("messageType", json_text(line.message.level())),
    ]
}

fn write_ndjson(
    out: &mut impl Write,
    lines: &[LogLine],
    offset: UtcOffset,
    app: &str,
) -> io::Result<()> {
    let mut text = String::with_capacity(256);
    let mut row = String::with_capacity(1024);
    for (i, line) in lines.iter().enumerate() {
        row.clear();
        row.push('{');
        for (key, value) in event_fields(line, i, offset, app, &mut text) {
            let _ = write!(row, "\"{key}\":{value},");
        }
        let _ = write!(row, "\"processID\":{}}}", line.pid);
        writeln!(out, "{row}")?;
    }
    writeln!(out, "{{\"count\":{},\"finished\":1}}", lines.len())
}

fn write_json(
    out: &mut impl Write,
    lines: &[LogLine],
    offset: UtcOffset,
    app: &str,
) -> io::Result<()> {
    let mut text = String::with_capacity(256);
    if lines.is_empty() {
        return writeln!(out, "[]");
    }
    for (i, line) in lines.iter().enumerate() {
        out.write_all(if i == 0 { b"[{\n" } else { b"},{\n" })?;
        for (key, value) in event_fields(line, i, offset, app, &mut text) {
            writeln!(out, "  \"{key}\" : {value},")?;
        }
        writeln!(out, "  \"processID\" : {}", line.pid)?;
    }
    writeln!(out, "}}]")
}
