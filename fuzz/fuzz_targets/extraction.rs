#![no_main]
//! Feeds arbitrary bytes as a sysdiagnose archive (tar.gz, tar or zip, as the magic says) to
//! the reader's real extraction path, `LogReader::read` as `sysdiagnose` with a 256 KiB
//! `max_extract`, then reads whatever logarchive came out. It must answer records or an error,
//! never panic, and:
//!
//! - never write more file bytes than the budget (measured on disk at every progress report
//!   of the extraction and once it is done);
//! - never write outside its temporary folder: the process's `TMPDIR` is a folder of this
//!   target's own, empty again after each input, and nothing appears in the working
//!   directory or beside the archive;
//! - remove its temporary folder on the way out, success or error.
//!
//! macos-unifiedlogs panics on some corrupt files and the reader catches those panics, so this
//! target replaces libfuzzer-sys's aborting panic hook (`caught_panics.rs`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pushtrace_devicelog::{ExtractLimit, Format, LogReader, Progress};

#[path = "caught_panics.rs"]
mod caught_panics;

const BUDGET: u64 = 256 * 1024;

/// This target's folders: `tmp` (its `TMPDIR`) and `in` (the archive), and what the working
/// directory held before the first input (libFuzzer's own corpus paths are relative to it, so
/// it stays where it is). Set once, before any extraction.
struct Folders {
    tmp: PathBuf,
    input: PathBuf,
    cwd: Vec<PathBuf>,
}

fn folders() -> &'static Folders {
    static FOLDERS: OnceLock<Folders> = OnceLock::new();
    FOLDERS.get_or_init(|| {
        let root =
            std::env::temp_dir().join(format!("pushtrace-fuzz-extraction-{}", std::process::id()));
        let folders = Folders {
            tmp: root.join("tmp"),
            input: root.join("in"),
            cwd: entries(Path::new(".")),
        };
        for dir in [&folders.tmp, &folders.input] {
            std::fs::create_dir_all(dir).expect("the target's folders");
        }
        // SAFETY: set once, before any thread of ours reads the environment (libFuzzer runs
        // inputs on one thread, and this runs before the first extraction).
        unsafe { std::env::set_var("TMPDIR", &folders.tmp) };
        folders
    })
}

fuzz_target!(|data: &[u8]| caught_panics::run("the sysdiagnose reader", || read(data)));

fn read(data: &[u8]) {
    let folders = folders();
    // No extension: the kind is read from the magic bytes, as for a renamed download.
    let archive = folders.input.join("sysdiagnose");
    std::fs::write(&archive, data).expect("the archive written");
    let reader = LogReader::builder()
        .format(Some(Format::Sysdiagnose))
        .max_extract(ExtractLimit::Bytes(BUDGET))
        .threads(1)
        .sort_memory(1 << 20)
        .build();
    let mut watch = Watch {
        tmp: &folders.tmp,
        worst: 0,
    };
    match reader.read(&archive, &mut watch) {
        Ok(read) => {
            for record in read.records {
                let _ = record.map(|r| r.syslog_line());
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    let worst = watch.worst;
    assert!(
        worst <= BUDGET,
        "extraction wrote {worst} bytes of files, over its budget of {BUDGET}"
    );
    assert_eq!(
        entries(&folders.tmp),
        Vec::<PathBuf>::new(),
        "left in TMPDIR"
    );
    assert_eq!(
        entries(Path::new(".")),
        folders.cwd,
        "written in the working directory"
    );
    assert_eq!(
        entries(&folders.input),
        vec![archive.clone()],
        "written beside the archive"
    );
}

/// Measures the file bytes under `tmp` whenever the reader reports progress. Assertions wait
/// until the read has returned: a panic here could be caught by the reader as a parser's.
struct Watch<'a> {
    tmp: &'a Path,
    worst: u64,
}

impl Watch<'_> {
    fn measure(&mut self) {
        self.worst = self.worst.max(file_bytes(self.tmp));
    }
}

impl Progress for Watch<'_> {
    fn begin(&mut self, _stage: &str, _total: Option<u64>) {
        self.measure();
    }

    fn advance_to(&mut self, _done: u64) {
        self.measure();
    }

    fn end(&mut self) {
        self.measure();
    }
}

fn file_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        match entry.file_type() {
            Ok(t) if t.is_dir() => total += file_bytes(&entry.path()),
            Ok(_) => total += entry.metadata().map_or(0, |m| m.len()),
            Err(_) => {}
        }
    }
    total
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}
