//! What one entry of the `macos-unifiedlogs` crate becomes: a [`LogRecord`] whose process is
//! resolved (from the catalog's main image when the crate left it empty), whose level and time
//! are `log show`'s, kept or dropped by the reader's filter. Runs on the parsing threads, so it
//! needs nothing but shared references.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use macos_unifiedlogs::cache::MemoryStringCache;
use macos_unifiedlogs::timesync::TimesyncBoot;
use macos_unifiedlogs::traits::StringCache;
use macos_unifiedlogs::unified_log::{LogData, LogType, UnifiedLogData};
use pushtrace_model::{Level, LogRecord, Origin, Timestamp};

use super::provider::ArchiveFiles;
use crate::image::{sender_of, short_name};
use crate::summary::LogSpan;

pub(super) type Cache = MemoryStringCache<
    Arc<std::sync::RwLock<HashMap<String, Arc<macos_unifiedlogs::uuidtext::UUIDText>>>>,
    Arc<std::sync::RwLock<HashMap<String, Arc<macos_unifiedlogs::dsc::SharedCacheStrings>>>>,
>;

/// What every chunk of an archive is built and converted with; shared by the parsing threads.
pub(super) struct Shared<'a> {
    pub provider: ArchiveFiles,
    /// The crate's string cache (uuidtext, dsc), behind its own locks.
    pub cache: Cache,
    pub timesync: HashMap<String, TimesyncBoot>,
    pub keep: &'a (dyn Fn(&str, &str) -> bool + Sync),
    /// Process image basename by main UUID, for entries the crate left without a process.
    image_names: Mutex<HashMap<String, Option<String>>>,
}

/// One chunk's entries as records, before the reader numbers them.
#[derive(Default)]
pub(super) struct Converted {
    /// Entries the crate produced, kept or not.
    pub entries: u64,
    pub unrendered: u64,
    /// Kept records; their `Origin::Archive::entry` is the entry's position in the chunk.
    pub kept: Vec<LogRecord>,
    /// The earliest and latest instant of the entries, kept or not.
    pub span: Option<LogSpan>,
}

impl<'a> Shared<'a> {
    pub fn new(
        provider: ArchiveFiles,
        timesync: HashMap<String, TimesyncBoot>,
        keep: &'a (dyn Fn(&str, &str) -> bool + Sync),
    ) -> Self {
        Shared {
            provider,
            cache: MemoryStringCache::default(),
            timesync,
            keep,
            image_names: Mutex::new(HashMap::new()),
        }
    }

    /// Turns the entries the crate built from `chunk` (of the file named `file`) into records.
    pub fn convert(
        &self,
        file: &Arc<str>,
        chunk: &UnifiedLogData,
        entries: Vec<LogData>,
    ) -> Converted {
        let mut out = Converted {
            entries: entries.len() as u64,
            ..Converted::default()
        };
        let mut pids: Option<HashMap<u64, Option<String>>> = None;
        for (position, entry) in entries.into_iter().enumerate() {
            if is_unrendered(&entry) {
                out.unrendered += 1;
            }
            let at = Timestamp::from_utc_micros(entry_micros(entry.time));
            out.span = Some(LogSpan::widen(out.span, at));
            let unresolved =
                entry.process.is_empty() || entry.process.starts_with("Failed to get path string");
            let resolved = if unresolved {
                let pids = pids.get_or_insert_with(|| main_uuids_by_pid(chunk));
                self.image_name(pids.get(&entry.pid).and_then(Option::as_deref))
            } else {
                None
            };
            let process = match &resolved {
                Some(name) => name.as_str(),
                None if unresolved => "",
                None => short_name(&entry.process),
            };
            if !(self.keep)(process, &entry.message) {
                continue;
            }
            let process = process.to_string();
            out.kept
                .push(to_record(entry, process, file, position as u64));
        }
        out
    }

    /// The basename of the image of `main_uuid`, read from its uuidtext file (cached).
    fn image_name(&self, main_uuid: Option<&str>) -> Option<String> {
        let uuid = main_uuid?;
        let known = self
            .image_names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(uuid)
            .cloned();
        if let Some(name) = known {
            return name;
        }
        // Loaded outside the lock: two threads may both load one file, to the same name.
        let name = self
            .cache
            .get_or_load_uuidtext(uuid, &self.provider)
            .and_then(|text| image_path(&text).map(|path| short_name(&path).to_string()))
            .filter(|name| !name.is_empty());
        self.image_names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(uuid.to_string(), name.clone());
        name
    }
}

/// The image path stored after the format strings of a uuidtext file.
fn image_path(text: &macos_unifiedlogs::uuidtext::UUIDText) -> Option<String> {
    let offset: usize = text
        .entry_descriptors
        .iter()
        .map(|e| e.entry_size as usize)
        .sum();
    let rest = text.footer_data.get(offset..)?;
    let end = memchr::memchr(0, rest).unwrap_or(rest.len());
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// pid -> main image UUID of the processes of a chunk's catalogs; `None` when ambiguous.
fn main_uuids_by_pid(chunk: &UnifiedLogData) -> HashMap<u64, Option<String>> {
    let mut map: HashMap<u64, Option<String>> = HashMap::new();
    for catalog in &chunk.catalog_data {
        for info in catalog.catalog.catalog_process_info_entries.values() {
            let uuid = (!info.main_uuid.is_empty() && info.main_uuid.bytes().any(|b| b != b'0'))
                .then(|| info.main_uuid.clone());
            map.entry(u64::from(info.pid))
                .and_modify(|known| {
                    if *known != uuid {
                        *known = None;
                    }
                })
                .or_insert(uuid);
        }
    }
    map
}

/// Markers the crate puts in place of a format string it could not find (unified_log.rs,
/// chunks/firehose/message.rs of macos-unifiedlogs 0.7.0).
fn is_unrendered(entry: &LogData) -> bool {
    // `raw_message` is the format string (or the marker) except for trace entries, whose
    // message is then the formatted marker itself.
    let format = if entry.raw_message.is_empty() {
        &entry.message
    } else {
        &entry.raw_message
    };
    format == "Unknown shared string message"
        || format == "Error: Invalid shared string offset"
        || format == "Error: Invalid UUID index"
        || (format.starts_with("Error: Invalid offset ") && format.contains(" UUID "))
        || format.starts_with("Failed to get string message from ")
        || entry.message.contains("<Missing message data>")
}

fn level(log_type: LogType) -> Level {
    match log_type {
        LogType::Debug => Level::Debug,
        LogType::Info => Level::Info,
        LogType::Default => Level::Default,
        LogType::Error => Level::Error,
        LogType::Fault => Level::Fault,
        _ => Level::Other,
    }
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// An entry's `time`, Unix nanoseconds in an f64, as UTC microseconds.
fn entry_micros(time: f64) -> i64 {
    // The f64 holds today's values to ±128 ns (half a unit in the last place). Truncate to
    // microseconds like `log show`, after adding that half ulp so that …481876000 ns stored as
    // …481875968 stays .481876 rather than .481875. (In integers: adding 128.0 to the f64
    // would round again.)
    (time as i64).saturating_add(128).div_euclid(1000)
}

fn to_record(entry: LogData, process: String, file: &Arc<str>, index: u64) -> LogRecord {
    let micros = entry_micros(entry.time);
    let sender = sender_of(&entry.library, &process);
    LogRecord {
        at: Timestamp::from_utc_micros(micros),
        process,
        pid: u32::try_from(entry.pid).ok(),
        thread: Some(entry.thread_id),
        level: Some(level(entry.log_type)),
        subsystem: non_empty(entry.subsystem),
        category: non_empty(entry.category),
        sender,
        message: entry.message,
        origin: Origin::Archive {
            file: Arc::clone(file),
            entry: index,
        },
    }
}

/// The text of a caught panic.
pub(super) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_string()
    }
}
