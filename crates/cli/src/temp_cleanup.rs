//! Ctrl-C or SIGTERM during a read removes the sysdiagnose's extraction folder before exiting.
//!
//! A signal ends the process without unwinding, so the extraction folder's drop never runs; a
//! 1 MB archive can leave gigabytes behind. [`install`] starts a thread that waits for either
//! signal, removes every folder the readers registered
//! ([`pushtrace_devicelog::remove_temp_folders`]) and exits with the status a shell gives a
//! process the signal killed (130, 143). It waits with the tokio signal streams the server
//! verbs already use ([`StopSignals`]) on a one-thread runtime of its own: the reading verbs
//! run no runtime, and a second signal crate beside tokio's would fight it over the handlers.

use std::sync::OnceLock;

use anyhow::{Context, Result};

use crate::stop_signals::StopSignals;

/// Installs the handler once per process; later calls do nothing.
pub fn install() -> Result<()> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("cannot start the runtime that listens for Ctrl-C")?;
    // Listening starts here, before the read, so a signal right after is not missed.
    let signals = {
        let _context = runtime.enter();
        StopSignals::install()?
    };
    std::thread::Builder::new()
        .name("temp-cleanup".into())
        .spawn(move || {
            let stop = runtime.block_on(signals.wait());
            pushtrace_devicelog::remove_temp_folders();
            std::process::exit(stop.exit_code());
        })
        .context("cannot start the thread that listens for Ctrl-C")?;
    let _ = INSTALLED.set(());
    Ok(())
}
