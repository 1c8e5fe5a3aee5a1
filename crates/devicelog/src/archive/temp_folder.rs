//! Temporary extraction folders that a signal handler can remove: [`remove_temp_folders`].
//!
//! A [`TempFolder`] is removed on drop, which covers errors and panics (unwinding). A signal
//! ends the process without unwinding, so every live folder is also listed in a process-wide
//! registry; the binary's handler calls [`remove_temp_folders`] and exits. Files and folders
//! are created inside a [`TempFolder`] only while holding the registry's lock, so a removal
//! never races an extraction recreating what it just removed.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tempfile::TempDir;

struct Registry {
    folders: Vec<PathBuf>,
    /// Set once [`remove_temp_folders`] ran: the process is about to exit, nothing more is
    /// created.
    closed: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    folders: Vec::new(),
    closed: false,
});

fn registry() -> MutexGuard<'static, Registry> {
    // A panic while holding the lock leaves the list as valid as it was.
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

fn closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::Interrupted,
        "the process is stopping and has removed its temporary folders",
    )
}

/// A temporary folder, removed on drop and by [`remove_temp_folders`].
#[derive(Debug)]
pub(crate) struct TempFolder {
    /// `None` only while dropping.
    temp: Option<TempDir>,
}

impl TempFolder {
    /// Creates `<TMPDIR>/<prefix>XXXXXX` and registers it.
    pub(crate) fn new(prefix: &str) -> io::Result<TempFolder> {
        let mut registry = registry();
        if registry.closed {
            return Err(closed());
        }
        let temp = tempfile::Builder::new().prefix(prefix).tempdir()?;
        registry.folders.push(temp.path().to_path_buf());
        Ok(TempFolder { temp: Some(temp) })
    }

    pub(crate) fn path(&self) -> &Path {
        match &self.temp {
            Some(temp) => temp.path(),
            None => unreachable!("a TempFolder is used after its drop; this is a bug"),
        }
    }

    /// Runs `create` (which makes a file or folder inside this one) unless the process is
    /// removing its temporary folders.
    pub(crate) fn create<T>(&self, create: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        let registry = registry();
        if registry.closed {
            return Err(closed());
        }
        create()
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        // Removed while holding the lock, so a handler exiting meanwhile waits for the removal
        // to finish instead of cutting it short.
        let mut registry = registry();
        if let Some(temp) = self.temp.take() {
            registry.folders.retain(|path| path != temp.path());
            drop(temp);
        }
    }
}

/// Removes every temporary folder this process's readers hold, and makes further extraction
/// fail. For a signal handler about to exit: nothing is removed twice, nothing is created after.
pub fn remove_temp_folders() {
    let mut registry = registry();
    registry.closed = true;
    for path in registry.folders.drain(..) {
        let _ = std::fs::remove_dir_all(&path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_while_alive() {
        let folder = TempFolder::new("pushtrace-test-").expect("created");
        let path = folder.path().to_path_buf();
        assert!(registry().folders.contains(&path));
        folder
            .create(|| std::fs::create_dir(path.join("inside")))
            .expect("inside");
        drop(folder);
        assert!(!path.exists());
        assert!(!registry().folders.contains(&path));
    }
}
