//! The input formats we read, their names on the command line and what each needs to be placed
//! on the UTC axis.

use std::fmt;
use std::str::FromStr;

/// Every form an iPhone log reaches us in (`docs/formats.md` has an example of each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// A sysdiagnose: `.tar.gz`, `.zip` or an extracted folder holding `system_logs.logarchive`.
    Sysdiagnose,
    /// A `.logarchive` folder (binary tracev3), read through `macos-unifiedlogs`.
    Logarchive,
    /// `log show` default style: timestamp, thread, type, activity, pid, TTL, process: message.
    LogShowDefault,
    /// `log show --style syslog`: `timestamp  localhost process[pid]: (sender) [sub:cat] message`.
    LogShowSyslog,
    /// `log show --style compact`: `timestamp Ty process[pid:tid] …`, milliseconds, no zone.
    LogShowCompact,
    /// `log show --style json`: one array of event dictionaries.
    LogShowJson,
    /// `log show --style ndjson`: one event dictionary per line, then a `finished` trailer.
    LogShowNdjson,
    /// A Console.app copy: tab- (or space-) separated type, time, process[, library], message.
    Console,
    /// A forum digest: `HH:MM:SS.mmm  process  message`, wrapped lines, `↑` notes, `──` rules.
    Digest,
    /// `unifiedlog_iterator --format jsonl` of macos-unifiedlogs.
    UnifiedlogJsonl,
    /// `unifiedlog_iterator --format csv` of macos-unifiedlogs.
    UnifiedlogCsv,
    /// libimobiledevice's `idevicesyslog`: `Mmm dd HH:MM:SS[.ffffff] [device] process(image)[pid]
    /// <Level>: message`, no year, no zone.
    Idevicesyslog,
    /// `pymobiledevice3 syslog live`: `YYYY-MM-DD HH:MM:SS[.ffffff] process{image}[pid] <LEVEL>:
    /// message`, no zone.
    Pymobiledevice3,
    /// `pymobiledevice3 syslog live --format json`: one JSON object per line, `timestamp` a
    /// naive ISO 8601 time (no zone).
    Pymobiledevice3Json,
}

impl Format {
    pub const ALL: [Format; 14] = [
        Format::Sysdiagnose,
        Format::Logarchive,
        Format::LogShowDefault,
        Format::LogShowSyslog,
        Format::LogShowCompact,
        Format::LogShowJson,
        Format::LogShowNdjson,
        Format::Console,
        Format::Digest,
        Format::UnifiedlogJsonl,
        Format::UnifiedlogCsv,
        Format::Idevicesyslog,
        Format::Pymobiledevice3,
        Format::Pymobiledevice3Json,
    ];

    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Sysdiagnose => "sysdiagnose",
            Format::Logarchive => "logarchive",
            Format::LogShowDefault => "default",
            Format::LogShowSyslog => "syslog",
            Format::LogShowCompact => "compact",
            Format::LogShowJson => "json",
            Format::LogShowNdjson => "ndjson",
            Format::Console => "console",
            Format::Digest => "digest",
            Format::UnifiedlogJsonl => "unifiedlog-jsonl",
            Format::UnifiedlogCsv => "unifiedlog-csv",
            Format::Idevicesyslog => "idevicesyslog",
            Format::Pymobiledevice3 => "pymobiledevice3",
            Format::Pymobiledevice3Json => "pymobiledevice3-json",
        }
    }

    /// What a person would call it.
    pub fn describe(self) -> &'static str {
        match self {
            Format::Sysdiagnose => "sysdiagnose archive",
            Format::Logarchive => "unified log archive (.logarchive)",
            Format::LogShowDefault => "`log show` export, default style",
            Format::LogShowSyslog => "`log show --style syslog` export",
            Format::LogShowCompact => "`log show --style compact` export",
            Format::LogShowJson => "`log show --style json` export",
            Format::LogShowNdjson => "`log show --style ndjson` export",
            Format::Console => "Console.app copy",
            Format::Digest => "forum digest (HH:MM:SS.mmm  process  message)",
            Format::UnifiedlogJsonl => "macos-unifiedlogs `unifiedlog_iterator` JSONL export",
            Format::UnifiedlogCsv => "macos-unifiedlogs `unifiedlog_iterator` CSV export",
            Format::Idevicesyslog => "libimobiledevice `idevicesyslog` capture",
            Format::Pymobiledevice3 => "`pymobiledevice3 syslog live` capture",
            Format::Pymobiledevice3Json => "`pymobiledevice3 syslog live --format json` capture",
        }
    }

    /// Whether the format is a binary archive rather than text lines.
    pub fn is_archive(self) -> bool {
        matches!(self, Format::Sysdiagnose | Format::Logarchive)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Format {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
                format!("unknown format `{s}`: expected one of {}", names.join(", "))
            })
    }
}

/// What a format lacks on its lines and must be told by `--date` / `--tz`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requirements {
    pub date: bool,
    pub zone: bool,
}
