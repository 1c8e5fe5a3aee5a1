//! How much extracting a sysdiagnose may write to disk, and the sizes people write it in.
//!
//! A sysdiagnose is compressed, and its headers declare sizes nobody checks: a 1 MB archive can
//! expand to gigabytes. Extraction therefore counts what it actually writes against a
//! [`Budget`] and stops past it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The default ceiling: far above a real sysdiagnose's logarchive (a few hundred MB to 2 GB).
const DEFAULT_CEILING: u64 = 20 << 30;
/// Free space the default leaves on the temporary filesystem for everything else.
const FREE_MARGIN: u64 = 1 << 30;
/// What one extracted file or folder costs besides its bytes: a block on most filesystems, so
/// an archive of millions of empty files cannot exhaust inodes under a byte-only budget.
pub(crate) const ENTRY_COST: u64 = 4096;

/// How much extracting one archive may write to disk: the bytes written, plus 4 KiB for every
/// file and folder created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExtractLimit {
    /// The free space of the temporary directory's filesystem less 1 GiB, at most 20 GiB,
    /// measured when extraction starts.
    #[default]
    FreeSpace,
    /// At most this many bytes (`--max-extract`).
    Bytes(u64),
}

impl ExtractLimit {
    /// The byte budget for extracting into `dir`, and where it comes from (for messages).
    pub(crate) fn budget(self, dir: &Path) -> Budget {
        let origin = match self {
            ExtractLimit::Bytes(bytes) => return Budget::new(bytes, LimitOrigin::Given),
            ExtractLimit::FreeSpace => match free_space(dir) {
                Some(free) if free.saturating_sub(FREE_MARGIN) < DEFAULT_CEILING => {
                    LimitOrigin::FreeSpace {
                        dir: dir.parent().unwrap_or(dir).to_path_buf(),
                        free,
                    }
                }
                _ => LimitOrigin::Ceiling,
            },
        };
        let max = match &origin {
            LimitOrigin::FreeSpace { free, .. } => free.saturating_sub(FREE_MARGIN),
            _ => DEFAULT_CEILING,
        };
        Budget::new(max, origin)
    }
}

/// Free bytes an unprivileged process may use on the filesystem holding `dir`.
///
/// Through `rustix` (already in the build as `tempfile`'s dependency): a safe `statvfs`, where
/// `libc` would need `unsafe` and is not a dependency of ours.
#[cfg(unix)]
fn free_space(dir: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Elsewhere the default is the fixed ceiling alone.
#[cfg(not(unix))]
fn free_space(_dir: &Path) -> Option<u64> {
    None
}

/// Why the budget is what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitOrigin {
    /// Given by the caller (`--max-extract`).
    Given,
    /// The default, from the free space of the filesystem holding `dir`.
    FreeSpace { dir: PathBuf, free: u64 },
    /// The default's fixed ceiling.
    Ceiling,
}

impl fmt::Display for LimitOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitOrigin::Given => write!(f, "the limit given with --max-extract"),
            LimitOrigin::FreeSpace { dir, free } => write!(
                f,
                "the default: the {} free in {} less {}",
                ByteSize(*free),
                dir.display(),
                ByteSize(FREE_MARGIN)
            ),
            LimitOrigin::Ceiling => write!(f, "the default ceiling"),
        }
    }
}

/// Bytes an extraction has written, against its maximum.
#[derive(Debug)]
pub(crate) struct Budget {
    pub(crate) max: u64,
    pub(crate) origin: LimitOrigin,
    used: u64,
}

impl Budget {
    fn new(max: u64, origin: LimitOrigin) -> Budget {
        Budget {
            max,
            origin,
            used: 0,
        }
    }

    /// Takes `bytes` from the budget, or returns false (taking nothing) when they do not fit.
    pub(crate) fn take(&mut self, bytes: u64) -> bool {
        match self.used.checked_add(bytes) {
            Some(used) if used <= self.max => {
                self.used = used;
                true
            }
            _ => false,
        }
    }
}

/// A byte count read and shown as people write it: `750000`, `500M`, `1.5G`. `K`, `M`, `G`
/// and `T` (optionally followed by `B` or `iB`, any case) are powers of 1024.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

const UNITS: [(&str, u64); 4] = [
    ("T", 1 << 40),
    ("G", 1 << 30),
    ("M", 1 << 20),
    ("K", 1 << 10),
];

impl FromStr for ByteSize {
    type Err = ParseSizeError;

    fn from_str(text: &str) -> Result<ByteSize, ParseSizeError> {
        let error = || ParseSizeError {
            text: text.to_string(),
        };
        let trimmed = text.trim();
        let upper = trimmed.to_ascii_uppercase();
        let number_end = upper
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(upper.len());
        let (number, unit) = upper.split_at(number_end);
        let unit = unit.trim_start();
        let unit = unit
            .strip_suffix("IB")
            .or_else(|| unit.strip_suffix('B'))
            .unwrap_or(unit);
        let scale = match unit {
            "" => 1,
            _ => UNITS
                .iter()
                .find(|(name, _)| *name == unit)
                .map(|&(_, scale)| scale)
                .ok_or_else(error)?,
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return Err(error());
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| error())?
        };
        let mut bytes = whole.checked_mul(scale).ok_or_else(error)?;
        if !fraction.is_empty() {
            // Exact enough for sizes: at most nine decimals, rounded down to a byte.
            if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
                return Err(error());
            }
            let digits: u64 = fraction.parse().map_err(|_| error())?;
            let part = u128::from(digits) * u128::from(scale) / 10u128.pow(fraction.len() as u32);
            bytes = bytes
                .checked_add(u64::try_from(part).map_err(|_| error())?)
                .ok_or_else(error)?;
        }
        Ok(ByteSize(bytes))
    }
}

impl fmt::Display for ByteSize {
    /// The largest unit the size reaches, with one decimal when not whole: `10 MiB`, `1.5 GiB`,
    /// `512 bytes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(&(name, scale)) = UNITS.iter().find(|&&(_, scale)| self.0 >= scale) else {
            return write!(f, "{} bytes", self.0);
        };
        if self.0.is_multiple_of(scale) {
            write!(f, "{} {name}iB", self.0 / scale)
        } else {
            write!(f, "{:.1} {name}iB", self.0 as f64 / scale as f64)
        }
    }
}

/// A size that is not a number with an optional K, M, G or T.
#[derive(Debug, thiserror::Error)]
#[error(
    "{text:?} is not a size: write a number with K, M, G or T (powers of 1024), e.g. 500M or 2G"
)]
pub struct ParseSizeError {
    text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(text: &str) -> u64 {
        text.parse::<ByteSize>().unwrap_or_else(|e| panic!("{e}")).0
    }

    #[test]
    fn sizes_people_write() {
        assert_eq!(size("750000"), 750_000);
        assert_eq!(size("500M"), 500 << 20);
        assert_eq!(size("2G"), 2 << 30);
        assert_eq!(size("2g"), 2 << 30);
        assert_eq!(size("2GB"), 2 << 30);
        assert_eq!(size("2 GiB"), 2 << 30);
        assert_eq!(size("1.5G"), 3 << 29);
        assert_eq!(size("10K"), 10 << 10);
        assert_eq!(size("1T"), 1 << 40);
        for bad in ["", "G", "1.2.3G", "-1G", "2X", "1e9", "99999999999T", "."] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad:?} accepted");
        }
        let message = "lots".parse::<ByteSize>().unwrap_err().to_string();
        assert!(message.contains("e.g. 500M or 2G"), "{message}");
    }

    #[test]
    fn sizes_shown() {
        assert_eq!(ByteSize(10 << 20).to_string(), "10 MiB");
        assert_eq!(ByteSize(3 << 29).to_string(), "1.5 GiB");
        assert_eq!(ByteSize(512).to_string(), "512 bytes");
        assert_eq!(ByteSize(20 << 30).to_string(), "20 GiB");
    }

    #[test]
    fn budget_takes_until_full() {
        let mut budget = ExtractLimit::Bytes(10).budget(Path::new("."));
        assert_eq!(budget.origin, LimitOrigin::Given);
        assert!(budget.take(6));
        assert!(!budget.take(5));
        assert!(budget.take(4));
        assert!(!budget.take(1));
        assert!(!budget.take(u64::MAX));
    }

    #[test]
    fn default_is_bounded_by_free_space_and_ceiling() {
        let dir = tempfile::tempdir().expect("tempdir");
        let budget = ExtractLimit::FreeSpace.budget(dir.path());
        assert!(budget.max <= DEFAULT_CEILING);
        if let LimitOrigin::FreeSpace { free, .. } = &budget.origin {
            assert_eq!(budget.max, free.saturating_sub(FREE_MARGIN));
            let shown = budget.origin.to_string();
            assert!(shown.starts_with("the default: the "), "{shown}");
            assert!(shown.ends_with(" less 1 GiB"), "{shown}");
        }
    }
}
