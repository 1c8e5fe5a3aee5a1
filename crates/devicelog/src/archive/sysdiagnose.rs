//! Finds the `system_logs.logarchive` of a sysdiagnose.
//!
//! iOS writes `sysdiagnose_<date>_iPhone-OS_iPhone_<build>.tar.gz`; people also pass it zipped
//! again, or extracted. For archives only the logarchive subtree is extracted, streaming, into a
//! temporary folder that lives as long as the [`LocatedArchive`]. Entry names are never trusted:
//! only plain path components are joined under the temporary folder (no `..`, no absolute
//! paths, no symlinks or hard links are created), so nothing is written outside it. What is
//! written is counted against an [`ExtractLimit`], whatever the headers declare.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use flate2::read::MultiGzDecoder;

use super::ArchiveError;
use super::limit::{Budget, ByteSize, ENTRY_COST, ExtractLimit};
use super::logarchive::is_logarchive;
use super::temp_folder::TempFolder;

/// The logarchive inside every sysdiagnose.
const LOGARCHIVE_NAME: &str = "system_logs.logarchive";
/// How deep below the archive root (or the folder given) `system_logs.logarchive` may sit:
/// at most this many folders above it (usually one, `sysdiagnose_<…>/`).
const MAX_DEPTH: usize = 4;
const COPY_BUFFER: usize = 256 * 1024;

/// A logarchive found inside a sysdiagnose; holds the temporary extraction directory (if any) alive.
#[derive(Debug)]
pub struct LocatedArchive {
    path: PathBuf,
    inner_name: String,
    _temp: Option<TempFolder>,
}

impl LocatedArchive {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// where it was found, for messages, e.g. "sysdiagnose_2026.05.20_…/system_logs.logarchive"
    pub fn inner_name(&self) -> &str {
        &self.inner_name
    }
}

/// `input` is a sysdiagnose `.tar.gz` / `.tgz` / `.zip`, or an extracted sysdiagnose folder.
/// Finds `system_logs.logarchive` inside (any depth up to 4, the usual layout is `sysdiagnose_<...>/system_logs.logarchive/`),
/// extracting ONLY that subtree into a temp dir for archives (stream the tar; never load the whole archive in memory).
/// `progress(done_compressed_bytes, total_compressed_bytes)` while extracting; extraction stops
/// with [`ArchiveError::TooLarge`] when it would write more than `limit` allows.
pub fn locate_logarchive(
    input: &Path,
    limit: ExtractLimit,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<LocatedArchive, ArchiveError> {
    let metadata = std::fs::metadata(input).map_err(|e| ArchiveError::io(input, e))?;
    if metadata.is_dir() {
        return locate_in_folder(input);
    }
    let mut magic = [0u8; 262];
    let mut file = File::open(input).map_err(|e| ArchiveError::io(input, e))?;
    let read = read_up_to(&mut file, &mut magic).map_err(|e| ArchiveError::io(input, e))?;
    let magic = &magic[..read];
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let total = metadata.len();
    if magic.starts_with(b"PK\x03\x04")
        || magic.starts_with(b"PK\x05\x06")
        || name.ends_with(".zip")
    {
        extract_zip(input, limit, total, progress)
    } else if magic.starts_with(&[0x1f, 0x8b]) || name.ends_with(".gz") || name.ends_with(".tgz") {
        extract_tar(input, true, limit, total, progress)
    } else if magic.get(257..262) == Some(b"ustar") || name.ends_with(".tar") {
        extract_tar(input, false, limit, total, progress)
    } else {
        Err(ArchiveError::UnsupportedInput {
            path: input.to_path_buf(),
        })
    }
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Whether a folder is an extracted sysdiagnose: it holds `system_logs.logarchive` within
/// the search depth (used to detect the format without extracting anything).
pub fn has_logarchive(dir: &Path) -> bool {
    dir.is_dir() && locate_in_folder(dir).is_ok()
}

/// An extracted sysdiagnose, or the logarchive folder itself.
fn locate_in_folder(input: &Path) -> Result<LocatedArchive, ArchiveError> {
    let display_root = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| input.display().to_string());
    if is_logarchive(input) {
        return Ok(LocatedArchive {
            path: input.to_path_buf(),
            inner_name: display_root,
            _temp: None,
        });
    }
    // Breadth first, sorted, without following symlinks: the shallowest match wins.
    let mut level = vec![(input.to_path_buf(), display_root)];
    for _ in 0..=MAX_DEPTH {
        let mut next = Vec::new();
        for (dir, shown) in level {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut children: Vec<_> = entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name())
                .collect();
            children.sort();
            for child in children {
                let path = dir.join(&child);
                let shown = format!("{shown}/{}", child.to_string_lossy());
                if child == LOGARCHIVE_NAME {
                    return Ok(LocatedArchive {
                        path,
                        inner_name: shown,
                        _temp: None,
                    });
                }
                next.push((path, shown));
            }
        }
        level = next;
    }
    Err(ArchiveError::NoLogarchive {
        path: input.to_path_buf(),
    })
}

/// The plain components of an archive entry name, or `None` when it tries to leave the
/// extraction folder (`..`, a Windows prefix). Leading `/` and `.` components are dropped.
fn safe_components(path: &Path) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts)
}

/// Index of `system_logs.logarchive` among the first components of an entry name.
fn logarchive_index(parts: &[String]) -> Option<usize> {
    parts
        .iter()
        .take(MAX_DEPTH + 1)
        .position(|p| p == LOGARCHIVE_NAME)
}

/// Writes the logarchive's entries under a temporary folder, within a budget.
struct Extractor {
    archive: PathBuf,
    temp: TempFolder,
    /// The components up to and including `system_logs.logarchive`.
    prefix: Option<Vec<String>>,
    budget: Budget,
}

impl Extractor {
    fn new(archive: &Path, limit: ExtractLimit) -> Result<Extractor, ArchiveError> {
        let temp =
            TempFolder::new("pushtrace-sysdiagnose-").map_err(|source| ArchiveError::Extract {
                archive: archive.to_path_buf(),
                entry: LOGARCHIVE_NAME.to_string(),
                source,
            })?;
        let budget = limit.budget(temp.path());
        Ok(Extractor {
            archive: archive.to_path_buf(),
            temp,
            prefix: None,
            budget,
        })
    }

    /// Counts `bytes` about to be written for `entry`, or stops the extraction.
    fn spend(&mut self, bytes: u64, entry: &str) -> Result<(), ArchiveError> {
        if self.budget.take(bytes) {
            return Ok(());
        }
        Err(ArchiveError::TooLarge {
            archive: self.archive.clone(),
            entry: entry.to_string(),
            limit: ByteSize(self.budget.max),
            origin: self.budget.origin.clone(),
        })
    }

    /// The destination of entry `name` inside the temp dir, if it belongs to the logarchive.
    fn destination(&mut self, name: &Path) -> Option<PathBuf> {
        let parts = safe_components(name)?;
        let rest = match &self.prefix {
            Some(prefix) => parts.strip_prefix(prefix.as_slice())?,
            None => {
                let index = logarchive_index(&parts)?;
                self.prefix = Some(parts[..=index].to_vec());
                &parts[index + 1..]
            }
        };
        let mut path = self.temp.path().join(LOGARCHIVE_NAME);
        path.extend(rest);
        Some(path)
    }

    /// Creates the folder of a folder entry (`entry`) or of a file entry's parent.
    fn create_dir(&mut self, dir: &Path, entry: &str) -> Result<(), ArchiveError> {
        if dir.is_dir() {
            return Ok(());
        }
        self.spend(ENTRY_COST, entry)?;
        self.temp
            .create(|| std::fs::create_dir_all(dir))
            .map_err(|source| self.extract_error(entry, source))
    }

    fn extract_error(&self, entry: &str, source: io::Error) -> ArchiveError {
        ArchiveError::Extract {
            archive: self.archive.clone(),
            entry: entry.to_string(),
            source,
        }
    }

    /// Copies one file; read errors become `read_error(e)`, write errors [`ArchiveError::Extract`].
    fn write_file(
        &mut self,
        dest: &Path,
        entry: &str,
        reader: &mut dyn Read,
        read_error: &dyn Fn(io::Error) -> ArchiveError,
        after_chunk: &mut dyn FnMut(),
    ) -> Result<(), ArchiveError> {
        if let Some(parent) = dest.parent() {
            self.create_dir(parent, entry)?;
        }
        self.spend(ENTRY_COST, entry)?;
        let mut out = self
            .temp
            .create(|| File::create(dest))
            .map_err(|e| self.extract_error(entry, e))?;
        let mut buf = vec![0u8; COPY_BUFFER];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(e)),
            };
            // What the decompressor yields, not what the header declares.
            self.spend(n as u64, entry)?;
            out.write_all(&buf[..n])
                .map_err(|e| self.extract_error(entry, e))?;
            after_chunk();
        }
        Ok(())
    }

    fn finish(self) -> Result<LocatedArchive, ArchiveError> {
        let Some(prefix) = self.prefix else {
            return Err(ArchiveError::NoLogarchive { path: self.archive });
        };
        let path = self.temp.path().join(LOGARCHIVE_NAME);
        // A logarchive made only of folder entries still gets its folder.
        std::fs::create_dir_all(&path).map_err(|source| ArchiveError::Extract {
            archive: self.archive.clone(),
            entry: prefix.join("/"),
            source,
        })?;
        Ok(LocatedArchive {
            path,
            inner_name: prefix.join("/"),
            _temp: Some(self.temp),
        })
    }
}

/// Counts the compressed bytes read from the archive file, and remembers whether the
/// decompressor failed (to tell a bad gzip from a bad tar).
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

struct FailureFlag<R> {
    inner: R,
    failed: Rc<Cell<bool>>,
}

impl<R: Read> Read for FailureFlag<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if e.kind() != io::ErrorKind::Interrupted {
                self.failed.set(true);
            }
        })
    }
}

fn extract_tar(
    input: &Path,
    gzip: bool,
    limit: ExtractLimit,
    total: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<LocatedArchive, ArchiveError> {
    let file = File::open(input).map_err(|e| ArchiveError::io(input, e))?;
    let count = Rc::new(Cell::new(0u64));
    let gzip_failed = Rc::new(Cell::new(false));
    let counted = Counting {
        inner: io::BufReader::with_capacity(COPY_BUFFER, file),
        count: Rc::clone(&count),
    };
    let stream: Box<dyn Read> = if gzip {
        Box::new(FailureFlag {
            inner: MultiGzDecoder::new(counted),
            failed: Rc::clone(&gzip_failed),
        })
    } else {
        Box::new(counted)
    };
    let error = |source: io::Error| {
        if gzip_failed.get() {
            ArchiveError::Gzip {
                path: input.to_path_buf(),
                source,
            }
        } else {
            ArchiveError::Tar {
                path: input.to_path_buf(),
                source,
            }
        }
    };

    let mut extractor = Extractor::new(input, limit)?;
    let mut archive = tar::Archive::new(stream);
    let entries = archive.entries().map_err(error)?;
    for entry in entries {
        let mut entry = entry.map_err(error)?;
        progress(count.get(), total);
        let Ok(name) = entry.path().map(|p| p.into_owned()) else {
            continue;
        };
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            continue; // symlinks, hard links, devices: never recreated
        }
        let Some(dest) = extractor.destination(&name) else {
            continue;
        };
        let shown = name.to_string_lossy().into_owned();
        if kind.is_dir() {
            extractor.create_dir(&dest, &shown)?;
        } else {
            extractor.write_file(&dest, &shown, &mut entry, &error, &mut || {
                progress(count.get(), total)
            })?;
        }
    }
    // Tar stops at its end marker; reading on to the end also checks the gzip trailer (CRC),
    // so a sysdiagnose damaged at its very end is reported rather than half-trusted.
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(error)?;
    progress(count.get(), total);
    extractor.finish()
}

fn extract_zip(
    input: &Path,
    limit: ExtractLimit,
    total: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<LocatedArchive, ArchiveError> {
    let file = File::open(input).map_err(|e| ArchiveError::io(input, e))?;
    let zip_error = |source: zip::result::ZipError| ArchiveError::Zip {
        path: input.to_path_buf(),
        source,
    };
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file)).map_err(zip_error)?;

    // The central directory lists every name: pick the shallowest logarchive first.
    let mut extractor = Extractor::new(input, limit)?;
    let best = archive
        .file_names()
        .filter_map(|name| {
            let parts = safe_components(Path::new(name))?;
            let index = logarchive_index(&parts)?;
            Some(parts[..=index].to_vec())
        })
        .min_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    let Some(prefix) = best else {
        return Err(ArchiveError::NoLogarchive {
            path: input.to_path_buf(),
        });
    };
    extractor.prefix = Some(prefix);

    let mut done = 0u64;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(zip_error)?;
        let compressed = entry.compressed_size();
        // `enclosed_name` already refuses names leaving the folder; `destination` checks again.
        if let Some(name) = entry.enclosed_name()
            && !entry.is_symlink()
            && let Some(dest) = extractor.destination(&name)
        {
            let shown = entry.name().to_string();
            if entry.is_dir() {
                extractor.create_dir(&dest, &shown)?;
            } else {
                let read_error = |e: io::Error| zip_error(zip::result::ZipError::Io(e));
                extractor.write_file(&dest, &shown, &mut entry, &read_error, &mut || {})?;
            }
        }
        done += compressed;
        progress(done.min(total), total);
    }
    extractor.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::logarchive::read_logarchive;
    use std::sync::OnceLock;
    use tempfile::TempDir;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/unifiedlog-macos-plaso.logarchive"
    );
    const TOP: &str = "sysdiagnose_2023.01.12_01-40-00+0000_macOS_test";

    /// An extracted sysdiagnose holding a subset of the fixture: Special/, timesync/, uuidtext.
    fn subset() -> &'static Path {
        static DIR: OnceLock<TempDir> = OnceLock::new();
        DIR.get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let archive = dir.path().join(TOP).join(LOGARCHIVE_NAME);
            for entry in std::fs::read_dir(FIXTURE).expect("fixture") {
                let entry = entry.expect("entry");
                let name = entry.file_name().to_string_lossy().into_owned();
                if name == "Special" || name == "timesync" || name.len() == 2 {
                    let to = archive.join(&name);
                    std::fs::create_dir_all(&to).expect("mkdir");
                    for file in std::fs::read_dir(entry.path()).expect("dir") {
                        let file = file.expect("file");
                        std::fs::copy(file.path(), to.join(file.file_name())).expect("copy");
                    }
                }
            }
            std::fs::write(dir.path().join(TOP).join("ps.txt"), "not a log").expect("write");
            dir
        })
        .path()
    }

    fn files_under(root: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    out.push(path);
                }
            }
        }
        out.sort();
        out
    }

    fn tar_gz_of(root: &Path, out: &Path) {
        let file = File::create(out).expect("create");
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        tar.append_dir_all(TOP, root.join(TOP)).expect("tar");
        tar.into_inner().expect("tar").finish().expect("gzip");
    }

    fn zip_of(root: &Path, out: &Path, extra: &[(&str, &[u8])]) {
        let mut zip = zip::ZipWriter::new(File::create(out).expect("create"));
        let options = zip::write::SimpleFileOptions::default();
        for path in files_under(root) {
            let name = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            zip.start_file(name, options).expect("start");
            zip.write_all(&std::fs::read(&path).expect("read"))
                .expect("write");
        }
        for (name, data) in extra {
            zip.start_file(*name, options).expect("start");
            zip.write_all(data).expect("write");
        }
        zip.finish().expect("finish");
    }

    fn count_entries(dir: &Path) -> u64 {
        let stats =
            read_logarchive(dir, 1, &|_, _| true, &mut |_, _| {}, &mut |_| {}).expect("readable");
        assert!(
            stats.unreadable_files.is_empty(),
            "{:?}",
            stats.unreadable_files
        );
        stats.entries
    }

    /// Special/0000000000000001.tracev3 alone.
    const SPECIAL_ENTRIES: u64 = 12_154;

    #[test]
    fn extracted_folder() {
        let found =
            locate_logarchive(subset(), ExtractLimit::default(), &mut |_, _| {}).expect("found");
        assert_eq!(found.path(), subset().join(TOP).join(LOGARCHIVE_NAME));
        assert!(
            found
                .inner_name()
                .ends_with(&format!("/{TOP}/{LOGARCHIVE_NAME}")),
            "{}",
            found.inner_name()
        );
        assert_eq!(count_entries(found.path()), SPECIAL_ENTRIES);
        // The logarchive folder itself is accepted too.
        let direct = locate_logarchive(Path::new(FIXTURE), ExtractLimit::default(), &mut |_, _| {})
            .expect("found");
        assert_eq!(direct.path(), Path::new(FIXTURE));
    }

    #[test]
    fn tar_gz_streams_only_the_logarchive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = dir.path().join("sysdiagnose.tar.gz");
        tar_gz_of(subset(), &archive);
        let mut steps = Vec::new();
        let found = locate_logarchive(&archive, ExtractLimit::default(), &mut |done, total| {
            steps.push((done, total))
        })
        .expect("found");
        assert_eq!(found.inner_name(), format!("{TOP}/{LOGARCHIVE_NAME}"));
        assert_eq!(count_entries(found.path()), SPECIAL_ENTRIES);
        assert!(
            !found
                .path()
                .parent()
                .expect("parent")
                .join("ps.txt")
                .exists()
        );
        let total = std::fs::metadata(&archive).expect("meta").len();
        assert_eq!(steps.last(), Some(&(total, total)));
        // The temporary folder goes away with the LocatedArchive.
        let extracted = found.path().to_path_buf();
        drop(found);
        assert!(!extracted.exists());
    }

    #[test]
    fn zip_is_located_and_readable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = dir.path().join("sysdiagnose.zip");
        zip_of(subset(), &archive, &[]);
        let found =
            locate_logarchive(&archive, ExtractLimit::default(), &mut |_, _| {}).expect("found");
        assert_eq!(found.inner_name(), format!("{TOP}/{LOGARCHIVE_NAME}"));
        assert_eq!(count_entries(found.path()), SPECIAL_ENTRIES);
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = dir.path().join("sysdiagnose.tar.gz");
        tar_gz_of(subset(), &archive);
        let data = std::fs::read(&archive).expect("read");
        std::fs::write(&archive, &data[..data.len() / 2]).expect("write");
        let err = locate_logarchive(&archive, ExtractLimit::default(), &mut |_, _| {}).unwrap_err();
        assert!(matches!(err, ArchiveError::Gzip { .. }), "{err}");
        assert!(
            err.to_string().contains("is truncated or not a gzip file"),
            "{err}"
        );
        assert!(err.to_string().contains("sysdiagnose.tar.gz"), "{err}");
        // Not gzip at all, under a .tar.gz name.
        std::fs::write(&archive, b"hello, this is not an archive").expect("write");
        let err = locate_logarchive(&archive, ExtractLimit::default(), &mut |_, _| {}).unwrap_err();
        assert!(matches!(err, ArchiveError::Gzip { .. }), "{err}");
    }

    #[test]
    fn zip_without_logarchive_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = dir.path().join("photos.zip");
        let mut zip = zip::ZipWriter::new(File::create(&archive).expect("create"));
        zip.start_file(
            "holiday/readme.txt",
            zip::write::SimpleFileOptions::default(),
        )
        .expect("start");
        zip.write_all(b"no logs here").expect("write");
        zip.finish().expect("finish");
        let err = locate_logarchive(&archive, ExtractLimit::default(), &mut |_, _| {}).unwrap_err();
        assert!(matches!(err, ArchiveError::NoLogarchive { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("no system_logs.logarchive inside"),
            "{err}"
        );
        let empty = tempfile::tempdir().expect("tempdir");
        let err =
            locate_logarchive(empty.path(), ExtractLimit::default(), &mut |_, _| {}).unwrap_err();
        assert!(matches!(err, ArchiveError::NoLogarchive { .. }), "{err}");
    }

    /// A tar entry written with a raw name, bypassing the builder's own path checks.
    fn raw_entry(
        tar: &mut tar::Builder<impl Write>,
        name: &str,
        kind: tar::EntryType,
        data: &[u8],
    ) {
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        if kind == tar::EntryType::Symlink {
            header.set_link_name("/etc").expect("link");
        }
        header.set_cksum();
        tar.append(&header, data).expect("append");
    }

    #[test]
    fn entries_leaving_the_folder_are_not_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let evil = format!("evil-{}", std::process::id());
        let archive = dir.path().join("evil.tar");
        {
            let mut tar = tar::Builder::new(File::create(&archive).expect("create"));
            let inside = format!("{TOP}/{LOGARCHIVE_NAME}");
            raw_entry(
                &mut tar,
                &format!("{inside}/Info.plist"),
                tar::EntryType::Regular,
                b"plist",
            );
            raw_entry(
                &mut tar,
                &format!("../{evil}"),
                tar::EntryType::Regular,
                b"x",
            );
            raw_entry(
                &mut tar,
                &format!("{inside}/../../{evil}"),
                tar::EntryType::Regular,
                b"x",
            );
            raw_entry(
                &mut tar,
                &format!("/tmp/{evil}"),
                tar::EntryType::Regular,
                b"x",
            );
            raw_entry(
                &mut tar,
                &format!("{inside}/link"),
                tar::EntryType::Symlink,
                b"",
            );
            tar.finish().expect("finish");
        }
        let found =
            locate_logarchive(&archive, ExtractLimit::default(), &mut |_, _| {}).expect("found");
        let temp = found.path().parent().expect("temp dir");
        assert!(found.path().join("Info.plist").is_file());
        assert!(!found.path().join("link").exists());
        for place in [
            temp,
            temp.parent().expect("tmp"),
            dir.path(),
            Path::new("/tmp"),
        ] {
            assert!(
                !place.join(&evil).exists(),
                "{} written",
                place.join(&evil).display()
            );
        }
        assert!(!temp.join("tmp").exists());

        let zipped = dir.path().join("evil.zip");
        zip_of(
            subset(),
            &zipped,
            &[
                (&format!("../{evil}"), b"x"),
                (&format!("{TOP}/{LOGARCHIVE_NAME}/../../{evil}"), b"x"),
            ],
        );
        let found =
            locate_logarchive(&zipped, ExtractLimit::default(), &mut |_, _| {}).expect("found");
        let temp = found.path().parent().expect("temp dir");
        for place in [temp, temp.parent().expect("tmp"), dir.path()] {
            assert!(
                !place.join(&evil).exists(),
                "{} written",
                place.join(&evil).display()
            );
        }
    }

    /// A stream of this many zeros, never held in memory.
    struct Zeros(u64);

    impl Read for Zeros {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(usize::try_from(self.0).unwrap_or(usize::MAX));
            buf[..n].fill(0);
            self.0 -= n as u64;
            Ok(n)
        }
    }

    #[test]
    fn extraction_stops_past_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inside = format!("{TOP}/{LOGARCHIVE_NAME}/Persist/0000000000000001.tracev3");
        let limit = ExtractLimit::Bytes(1 << 20);

        let tarred = dir.path().join("bomb.tar.gz");
        {
            let gz = flate2::write::GzEncoder::new(
                File::create(&tarred).expect("create"),
                flate2::Compression::fast(),
            );
            let mut tar = tar::Builder::new(gz);
            let mut header = tar::Header::new_gnu();
            header.set_size(8 << 20);
            header.set_mode(0o644);
            tar.append_data(&mut header, &inside, Zeros(8 << 20))
                .expect("append");
            tar.into_inner().expect("tar").finish().expect("gzip");
        }
        let err = locate_logarchive(&tarred, limit, &mut |_, _| {}).unwrap_err();
        assert!(matches!(err, ArchiveError::TooLarge { .. }), "{err}");
        let message = err.to_string();
        for part in [
            "bomb.tar.gz expands past 1 MiB when extracted",
            "stopped at sysdiagnose_",
            "0000000000000001.tracev3",
            "the limit given with --max-extract",
            "pass a larger --max-extract",
            "extract the archive yourself",
        ] {
            assert!(message.contains(part), "{part:?} not in {message}");
        }

        let zipped = dir.path().join("bomb.zip");
        {
            let mut zip = zip::ZipWriter::new(File::create(&zipped).expect("create"));
            zip.start_file(&inside, zip::write::SimpleFileOptions::default())
                .expect("start");
            io::copy(&mut Zeros(8 << 20), &mut zip).expect("write");
            zip.finish().expect("finish");
        }
        let err = locate_logarchive(&zipped, limit, &mut |_, _| {}).unwrap_err();
        assert!(matches!(err, ArchiveError::TooLarge { .. }), "{err}");

        // The same archive within a larger limit extracts.
        let found = locate_logarchive(&zipped, ExtractLimit::Bytes(9 << 20), &mut |_, _| {})
            .expect("within the limit");
        assert!(found.path().join("Persist").is_dir());
    }

    #[test]
    fn unsupported_input() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, "hello").expect("write");
        let err = locate_logarchive(&file, ExtractLimit::default(), &mut |_, _| {}).unwrap_err();
        assert!(
            matches!(err, ArchiveError::UnsupportedInput { .. }),
            "{err}"
        );
        let err = locate_logarchive(
            &dir.path().join("missing.tar.gz"),
            ExtractLimit::default(),
            &mut |_, _| {},
        )
        .unwrap_err();
        assert!(matches!(err, ArchiveError::Io { .. }), "{err}");
    }
}
