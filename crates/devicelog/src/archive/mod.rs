//! Binary log archives: `.logarchive` folders and the sysdiagnoses that carry them.

mod entry;
mod error;
mod limit;
pub(crate) mod logarchive;
mod parallel;
pub(crate) mod sysdiagnose;
mod temp_folder;

pub use error::ArchiveError;
pub use limit::{ByteSize, ExtractLimit, LimitOrigin, ParseSizeError};
pub use temp_folder::remove_temp_folders;
