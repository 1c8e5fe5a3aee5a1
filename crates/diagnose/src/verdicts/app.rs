//! Which process is the app: the log names it by itself.
//!
//! PushKit's lines ("Killing app because it never posted an incoming call…") are logged in the
//! app's own process, whose name the push record does not give. SpringBoard's process-state lines
//! (`<SBApplicationProcessState: …; pid: 3072; …>`), runningboardd's assertion lines and the
//! exit lines of FrontBoard and runningboardd (`application<com.acme.call>:1958`) tie a bundle
//! id to the pid launched for it, and the kernel's NECP lines tie a pid to its process name; a
//! line of that pid or name is the app's.

use std::collections::{BTreeMap, BTreeSet};

use pushtrace_devicelog::timeline::DeviceTimeline;
use pushtrace_model::{DeviceEvent, EventKind};

/// Bundle ids (lower-cased: SpringBoard prints `Com.Courtbuddy.Courtbuddy`) and the pids and
/// process names the log ties to them.
#[derive(Debug, Default)]
pub(crate) struct AppIndex {
    pids: BTreeMap<String, BTreeSet<u32>>,
    names: BTreeMap<u32, String>,
}

/// Whose line a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The log ties it to the app.
    App,
    /// The log ties it to another app.
    Other,
    /// Nothing ties it to any app.
    Unknown,
}

impl AppIndex {
    pub fn new(timeline: &DeviceTimeline) -> AppIndex {
        let mut index = AppIndex::default();
        for event in &timeline.events {
            match &event.kind {
                EventKind::AppProcessState {
                    bundle: Some(bundle),
                    ..
                } => {
                    if let Some(pid) = number_after(&event.raw, "pid: ") {
                        index.add(bundle, pid);
                    }
                }
                EventKind::VoipProcessAssertion { .. } | EventKind::AppExited { .. } => {
                    if let Some((bundle, pid)) = application_pid(&event.raw) {
                        index.add(bundle, pid);
                    }
                }
                EventKind::NecpDefunct {
                    pid,
                    process: Some(name),
                    ..
                } => {
                    index.names.insert(*pid, name.clone());
                }
                _ => {}
            }
        }
        index
    }

    fn add(&mut self, bundle: &str, pid: u32) {
        self.pids
            .entry(bundle.to_ascii_lowercase())
            .or_default()
            .insert(pid);
    }

    /// Whether `event` was logged by the app `bundle` (or the process `--app` named).
    pub fn owner(&self, event: &DeviceEvent, bundle: Option<&str>, process: Option<&str>) -> Owner {
        if process.is_some_and(|p| p == event.process) {
            return Owner::App;
        }
        let ours = bundle.map(str::to_ascii_lowercase);
        let pid = event
            .pid
            .or_else(|| self.pid_of_name(&event.process, ours.as_deref()));
        let Some(pid) = pid else {
            return Owner::Unknown;
        };
        let mut owners = self
            .pids
            .iter()
            .filter(|(_, pids)| pids.contains(&pid))
            .map(|(b, _)| b.as_str());
        match owners.next() {
            None => Owner::Unknown,
            Some(b) if Some(b) == ours.as_deref() => Owner::App,
            Some(_) => Owner::Other,
        }
    }

    /// A pid the log ties to this process name, preferring one of the app's own.
    fn pid_of_name(&self, name: &str, bundle: Option<&str>) -> Option<u32> {
        let mut candidates = self
            .names
            .iter()
            .filter(|(_, n)| n.as_str() == name)
            .map(|(pid, _)| *pid);
        let ours = bundle.and_then(|b| self.pids.get(b));
        let first = candidates.next()?;
        std::iter::once(first)
            .chain(candidates)
            .find(|pid| ours.is_some_and(|p| p.contains(pid)))
            .or(Some(first))
    }
}

/// The number after `marker` (`pid: 3072;` → 3072).
fn number_after(text: &str, marker: &str) -> Option<u32> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let digits: &str = &rest[..rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len())];
    digits.parse().ok()
}

/// `application<com.acme.call>:1958` → (`com.acme.call`, 1958).
fn application_pid(text: &str) -> Option<(&str, u32)> {
    let start = text.find("application<")? + "application<".len();
    let rest = &text[start..];
    let end = rest.find(">:")?;
    let pid = number_after(&rest[end..], ">:")?;
    Some((&rest[..end], pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_read_from_springboard_and_runningboardd_lines() {
        assert_eq!(
            number_after(
                "<SBApplicationProcessState: 0x281a5ea00; pid: 3072; taskState: Suspended>",
                "pid: "
            ),
            Some(3072)
        );
        assert_eq!(
            application_pid(
                "Invalidating assertion 32-143-27197 (target:[application<com.acme.call>:1958]) from originator"
            ),
            Some(("com.acme.call", 1958))
        );
        assert_eq!(application_pid("application<xxxx> to application<"), None);
    }
}
