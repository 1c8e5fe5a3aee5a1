//! Waiting for Ctrl-C (or SIGTERM on Unix): how the long-running verbs (`emulator`, `serve`)
//! end cleanly, and how a read removes its extraction folder (`temp_cleanup`).

use anyhow::{Context, Result};

/// The signal that came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Ctrl-C (SIGINT).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Stop {
    /// The status a shell reports for a process the signal ended: 128 + its number.
    pub fn exit_code(self) -> i32 {
        match self {
            Stop::Interrupt => 130,
            Stop::Terminate => 143,
        }
    }

    /// The signal's name, as `kill -l` and logs write it.
    pub fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "SIGINT",
            Stop::Terminate => "SIGTERM",
        }
    }
}

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

    pub async fn wait(mut self) -> Stop {
        tokio::select! {
            _ = self.interrupt.recv() => Stop::Interrupt,
            _ = self.terminate.recv() => Stop::Terminate,
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

    pub async fn wait(mut self) -> Stop {
        self.0.recv().await;
        Stop::Interrupt
    }
}
