//! The one error type of the archive readers: every variant names the file, says what went
//! wrong and what the user can do about it.

use std::io;
use std::path::PathBuf;

use super::limit::{ByteSize, LimitOrigin};

/// Why a sysdiagnose or logarchive could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{} is not a logarchive: it has no tracev3 files (Persist/, Special/, Signpost/, HighVolume/ or logdata.LiveData.tracev3); pass the system_logs.logarchive folder or the whole sysdiagnose",
        path.display()
    )]
    NotALogarchive { path: PathBuf },
    #[error(
        "{} has no timesync/*.timesync files, so log times cannot be computed; copy the whole .logarchive folder again (or the whole sysdiagnose)",
        path.display()
    )]
    NoTimesync { path: PathBuf },
    #[error(
        "{} is truncated or not a gzip file ({source}); re-copy the sysdiagnose from the iPhone and try again",
        path.display()
    )]
    Gzip {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{} is truncated or not a tar archive ({source}); re-copy the sysdiagnose from the iPhone and try again",
        path.display()
    )]
    Tar {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{} is truncated or not a valid zip file ({source}); re-copy the sysdiagnose and try again",
        path.display()
    )]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error(
        "no system_logs.logarchive inside {}; is this a sysdiagnose? Pass the sysdiagnose_….tar.gz taken on the iPhone, its extracted folder, or a .logarchive folder",
        path.display()
    )]
    NoLogarchive { path: PathBuf },
    #[error(
        "{} is neither a folder nor a .tar.gz/.tgz/.tar/.zip sysdiagnose; pass the sysdiagnose archive, its extracted folder or a .logarchive folder",
        path.display()
    )]
    UnsupportedInput { path: PathBuf },
    #[error(
        "cannot extract {entry} from {} into a temporary folder: {source}; check free disk space in the temporary directory (TMPDIR)",
        archive.display()
    )]
    Extract {
        archive: PathBuf,
        entry: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "{} expands past {limit} when extracted ({origin}; stopped at {entry}): pass a larger --max-extract (e.g. --max-extract 40G) if the disk can take it, or extract the archive yourself and pass the extracted folder",
        archive.display()
    )]
    TooLarge {
        archive: PathBuf,
        entry: String,
        limit: ByteSize,
        origin: LimitOrigin,
    },
}

impl ArchiveError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> ArchiveError {
        ArchiveError::Io {
            path: path.into(),
            source,
        }
    }
}
