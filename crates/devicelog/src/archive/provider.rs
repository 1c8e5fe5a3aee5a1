//! The archive's files for the `macos-unifiedlogs` crate, remembering the ones that are missing.
//!
//! The crate's string cache keeps what it loaded but not what it failed to load, so every entry
//! whose strings live in an absent file opens that file again: an archive without its shared
//! cache (`dsc/`, as `log collect` on another Mac or a trimmed sysdiagnose gives) costs one
//! failed `open` per such entry. On the real fixture that is 45,759 of 97,610 entries and a
//! fifth of the CPU of a read (docs/performance.md); here the first failure is remembered.

use std::collections::HashSet;
use std::io::{Error, ErrorKind};
use std::sync::{PoisonError, RwLock};

use macos_unifiedlogs::dsc::SharedCacheStrings;
use macos_unifiedlogs::filesystem::LogarchiveProvider;
use macos_unifiedlogs::traits::{FileProvider, SourceFile};
use macos_unifiedlogs::uuidtext::UUIDText;

pub(super) struct ArchiveFiles {
    inner: LogarchiveProvider,
    missing_uuidtext: RwLock<HashSet<String>>,
    missing_dsc: RwLock<HashSet<String>>,
}

impl ArchiveFiles {
    pub fn new(inner: LogarchiveProvider) -> Self {
        ArchiveFiles {
            inner,
            missing_uuidtext: RwLock::default(),
            missing_dsc: RwLock::default(),
        }
    }
}

/// `read(uuid)` unless it failed before for this `uuid`.
fn remembering<T>(
    missing: &RwLock<HashSet<String>>,
    uuid: &str,
    read: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    if missing
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(uuid)
    {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("{uuid} could not be read before"),
        ));
    }
    read().inspect_err(|_| {
        missing
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(uuid.to_string());
    })
}

impl FileProvider for ArchiveFiles {
    fn tracev3_files(&self) -> impl Iterator<Item = impl SourceFile> {
        self.inner.tracev3_files()
    }

    fn uuidtext_files(&self) -> impl Iterator<Item = impl SourceFile> {
        self.inner.uuidtext_files()
    }

    fn read_uuidtext(&self, uuid: &str) -> Result<UUIDText, Error> {
        remembering(&self.missing_uuidtext, uuid, || {
            self.inner.read_uuidtext(uuid)
        })
    }

    fn dsc_files(&self) -> impl Iterator<Item = impl SourceFile> {
        self.inner.dsc_files()
    }

    fn read_dsc_uuid(&self, uuid: &str) -> Result<SharedCacheStrings, Error> {
        remembering(&self.missing_dsc, uuid, || self.inner.read_dsc_uuid(uuid))
    }

    fn timesync_files(&self) -> impl Iterator<Item = impl SourceFile> {
        self.inner.timesync_files()
    }
}
