//! Extracting a sysdiagnose as a user runs it: the write limit (`--max-extract`) and the
//! temporary folder removed on every way out, signals included.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;

/// Short enough for a plain tar header's 100-byte name field.
const ENTRY: &str =
    "sysdiagnose_2026.05.20_iPhone/system_logs.logarchive/Persist/0000000000000001.tracev3";
/// One gzip member of this many zeros is written once and repeated: gzip allows members one
/// after another, so a sysdiagnose expanding to gigabytes takes milliseconds to build.
const BLOCK: usize = 16 << 20;

/// A `.tar.gz` whose one logarchive entry is `blocks` × 16 MiB of zeros (≈ 16 KB compressed
/// per block), the shape of a decompression bomb.
fn zeros_sysdiagnose(path: &Path, blocks: u64) {
    let size = blocks * BLOCK as u64;
    let mut header = tar::Header::new_gnu();
    header.set_path(ENTRY).expect("path");
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let mut out = File::create(path).expect("create");
    out.write_all(&gzip(header.as_bytes())).expect("header");
    let zeros = gzip(&vec![0u8; BLOCK]);
    for _ in 0..blocks {
        out.write_all(&zeros).expect("zeros");
    }
    // The data ends on a 512-byte boundary already; two zero blocks end the tar.
    out.write_all(&gzip(&[0u8; 1024])).expect("end");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

/// A test-owned folder given to the binary as TMPDIR, so what it leaves behind can be seen.
struct Scene {
    dir: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("tmp")).expect("tmp");
        Scene { dir }
    }

    fn archive(&self, blocks: u64) -> PathBuf {
        let path = self.dir.path().join("sysdiagnose.tar.gz");
        zeros_sysdiagnose(&path, blocks);
        path
    }

    fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    fn left_behind(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.tmp())
            .expect("tmp")
            .map(|e| e.expect("entry").path())
            .collect()
    }

    fn pushtrace(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pushtrace"));
        command.args(args).env("TMPDIR", self.tmp());
        command
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn an_archive_expanding_past_the_limit_stops_with_what_to_do_and_leaves_nothing() {
    let scene = Scene::new();
    // 256 MiB of zeros in ≈ 260 KB.
    let archive = scene.archive(16);
    let out: Output = scene
        .pushtrace(&["logs", archive.to_str().unwrap(), "--max-extract", "10M"])
        .output()
        .expect("pushtrace runs");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for part in [
        "sysdiagnose.tar.gz expands past 10 MiB when extracted",
        "stopped at sysdiagnose_2026.05.20",
        "Persist/0000000000000001.tracev3",
        "pass a larger --max-extract",
        "extract the archive yourself",
    ] {
        assert!(stderr.contains(part), "{part:?} not in {stderr}");
    }
    assert_eq!(scene.left_behind(), Vec::<PathBuf>::new());
}

#[test]
fn max_extract_is_offered_wherever_a_sysdiagnose_is_read_and_checked() {
    for verb in ["logs", "timeline", "diagnose"] {
        let out = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
            .args([verb, "--help"])
            .output()
            .expect("pushtrace runs");
        assert!(text(&out.stdout).contains("--max-extract <SIZE>"), "{verb}");
    }
    let scene = Scene::new();
    let out = scene
        .pushtrace(&["logs", "x.tar.gz", "--max-extract", "lots"])
        .output()
        .expect("pushtrace runs");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("e.g. 500M or 2G"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn sigterm_during_extraction_removes_the_folder_and_exits_143() {
    let scene = Scene::new();
    // 2 GiB of zeros; the limit bounds what a lost race could write.
    let archive = scene.archive(128);
    let mut child = scene
        .pushtrace(&["logs", archive.to_str().unwrap(), "--max-extract", "1G"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pushtrace runs");
    let started = Instant::now();
    while scene.left_behind().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no extraction folder appeared"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "pushtrace ended before extracting"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));
    assert_eq!(scene.left_behind(), Vec::<PathBuf>::new());
}
