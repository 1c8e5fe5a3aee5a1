//! Waiting for Ctrl-C (or SIGTERM on Unix): how the long-running verbs (`emulator`, `serve`)
//! end cleanly.

use anyhow::{Context, Result};

/// Ctrl-C, or SIGTERM on Unix. Installed before anything is printed, so a script that sends
/// SIGINT as soon as it has read the addresses stops the emulator cleanly rather than killing it.
#[cfg(unix)]
pub struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl StopSignals {
    pub fn install() -> Result<StopSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?,
            terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    pub async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

#[cfg(not(unix))]
pub struct StopSignals(tokio::signal::windows::CtrlC);

#[cfg(not(unix))]
impl StopSignals {
    pub fn install() -> Result<StopSignals> {
        Ok(StopSignals(
            tokio::signal::windows::ctrl_c().context("cannot listen for Ctrl-C")?,
        ))
    }

    pub async fn wait(mut self) {
        self.0.recv().await;
    }
}
