//! The peer of `pushtrace logs ARCHIVE.logarchive` in the benchmark (`benches/logs.sh`): a bare
//! loop over the `macos-unifiedlogs` crate's own API, the way its documentation (lib.rs and
//! `parser::build_log`) and its `unifiedlog_iterator` example drive it, with no rendering,
//! filtering, sorting or output of entries. It prints how many entries the crate produced.
//!
//! ```text
//! cargo build --release -p pushtrace-devicelog --example unifiedlog_bare_loop
//! target/release/examples/unifiedlog_bare_loop testdata/unifiedlog-macos-plaso.logarchive
//! ```

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use macos_unifiedlogs::cache::MemoryStringCache;
use macos_unifiedlogs::filesystem::LogarchiveProvider;
use macos_unifiedlogs::iterator::UnifiedLogIterator;
use macos_unifiedlogs::parser::{build_log, collect_timesync};
use macos_unifiedlogs::traits::{FileProvider, SourceFile};
use macos_unifiedlogs::unified_log::UnifiedLogData;

fn empty_log_data() -> UnifiedLogData {
    UnifiedLogData {
        header: Vec::new(),
        catalog_data: Vec::new(),
        oversize: Vec::new(),
        evidence: String::new(),
    }
}

fn main() -> ExitCode {
    let Some(archive) = std::env::args_os().nth(1) else {
        eprintln!("usage: unifiedlog_bare_loop PATH.logarchive");
        return ExitCode::from(2);
    };
    let archive = Path::new(&archive);
    if !archive.is_dir() {
        eprintln!(
            "unifiedlog_bare_loop: {} is not a directory (expected a .logarchive)",
            archive.display()
        );
        return ExitCode::from(2);
    }

    let provider = LogarchiveProvider::new(archive);
    let cache = MemoryStringCache::default();
    let timesync = match collect_timesync(&provider) {
        Ok(timesync) => timesync,
        Err(err) => {
            eprintln!(
                "unifiedlog_bare_loop: cannot read the timesync files of {}: {err:?}",
                archive.display()
            );
            return ExitCode::FAILURE;
        }
    };

    // Oversize strings may be referenced by entries of a later chunk (or a later file), so they
    // are carried from chunk to chunk; entries whose strings were not found yet are kept and
    // retried once every file has been read.
    let mut oversize = empty_log_data();
    let mut missing: Vec<UnifiedLogData> = Vec::new();
    let mut entries: usize = 0;

    for mut source in provider.tracev3_files() {
        let path = source.source_path().to_string();
        if Path::new(&path)
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("._"))
        {
            continue;
        }
        let mut data = Vec::new();
        if let Err(err) = source.reader().read_to_end(&mut data) {
            eprintln!("unifiedlog_bare_loop: cannot read {path}: {err}");
            continue;
        }
        let chunks = UnifiedLogIterator {
            data,
            header: Vec::new(),
            evidence: path,
        };
        for mut chunk in chunks {
            chunk.oversize.append(&mut oversize.oversize);
            let (logs, missing_logs) = build_log(&chunk, &provider, &cache, &timesync, true);
            entries += logs.len();
            oversize.oversize = chunk.oversize;
            if !(missing_logs.catalog_data.is_empty()
                && missing_logs.header.is_empty()
                && missing_logs.oversize.is_empty())
            {
                missing.push(missing_logs);
            }
        }
    }

    for mut leftover in missing {
        leftover.oversize.clone_from(&oversize.oversize);
        let (logs, _) = build_log(&leftover, &provider, &cache, &timesync, false);
        entries += logs.len();
    }

    println!("{entries}");
    ExitCode::SUCCESS
}
