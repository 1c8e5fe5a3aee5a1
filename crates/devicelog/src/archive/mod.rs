//! Binary log archives: `.logarchive` folders and the sysdiagnoses that carry them.

mod error;
pub(crate) mod logarchive;
pub(crate) mod sysdiagnose;

pub use error::ArchiveError;
