//! What several of the CLI's test files need: the built binary run on the repository's test
//! data, a plain HTTP/1.1 request to a server under test (the emulator's admin API, the
//! gateway), and the pinned third-party tools a test installs under the target directory before
//! it runs them.

#![allow(dead_code)] // each test file uses a different part

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use serde_json::Value;

/// A file of the repository's `testdata/`.
pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

/// The built `pushtrace` with `args`, run to its end.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .args(args)
        .output()
        .expect("pushtrace runs")
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One HTTP/1.1 request (`Connection: close`): status and JSON body (`null` when empty).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, Value) {
    try_http(addr, method, path, headers, body)
        .unwrap_or_else(|e| panic!("{method} {path} to {addr}: {e}"))
}

/// [`http`], with connection errors returned (a gateway that is down refuses).
pub fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, Value)> {
    let (status, body) = try_http_text(addr, method, path, headers, body)?;
    let json = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body)
            .map_err(|e| std::io::Error::other(format!("not JSON ({e}): {body:?}")))?
    };
    Ok((status, json))
}

/// One HTTP/1.1 request: status and body as text. `Content-Type: application/json` unless the
/// headers name another.
pub fn try_http_text(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let body = body.unwrap_or("");
    let mut stream = TcpStream::connect(addr)?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let broken = || std::io::Error::other(format!("not an HTTP answer: {answer:?}"));
    let (head, body) = answer.split_once("\r\n\r\n").ok_or_else(broken)?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(broken)?;
    Ok((status, body.to_owned()))
}

/// `<target dir>/<name>`: where an installer script puts its tools, and where `.ci/test-setup`'s call of
/// the same script (without arguments) installs them too.
pub fn install_dir(name: &str) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join(name)
}

/// Runs the installer `script` (relative to the crate) into [`install_dir`]`(name)` once per test
/// process and returns that folder; when it fails, every caller fails with its output and with
/// what the test `needs` (never a skip).
pub fn installed(script: &str, name: &str, needs: &str) -> PathBuf {
    static DONE: Mutex<Option<HashMap<String, Result<PathBuf, String>>>> = Mutex::new(None);
    let mut done = DONE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let result = done
        .get_or_insert_with(HashMap::new)
        .entry(script.to_owned())
        .or_insert_with(|| {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
            let dir = install_dir(name);
            let output = Command::new("bash")
                .arg(&script)
                .arg(&dir)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("could not run bash {}: {e}", script.display()))?;
            if output.status.success() {
                Ok(dir)
            } else {
                Err(format!(
                    "{} failed ({}); this test needs {needs}. Its output:\n{}{}",
                    script.display(),
                    output.status,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ))
            }
        })
        .clone();
    drop(done);
    result.unwrap_or_else(|message| panic!("{message}"))
}

/// Runs the browser check `script` (`tests/browser/…`, playwright-core driving Debian's chromium
/// headless and offline) on `page`, keeps its screenshot as `screenshot` beside the installed
/// packages so a person can look at what the browser saw, and returns the JSON it printed.
/// Fails, never skips, without chromium (`PUSHTRACE_CHROMIUM` points elsewhere) or node.
pub fn browser_check(script: &str, page: &Path, screenshot: &str) -> Value {
    let chromium = std::env::var_os("PUSHTRACE_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        chromium.is_file(),
        "{} not found: this test opens a page in Debian's chromium. Install it \
         (apt-get install -y chromium) or point PUSHTRACE_CHROMIUM at a chromium binary",
        chromium.display()
    );
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        node,
        "`node` is not on PATH: this test drives chromium with playwright-core; install Node.js >= 20"
    );
    let modules = installed(
        "tests/browser/setup.sh",
        "browser",
        "playwright-core installed",
    )
    .join("node_modules");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let out = Command::new("node")
        .arg(&script)
        .arg(page)
        .arg(install_dir("browser").join(screenshot))
        .arg(&chromium)
        .arg(&modules)
        .output()
        .expect("node runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert!(
        out.status.success(),
        "the browser check failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{} printed no JSON ({e}): {}",
            script.display(),
            text(&out.stdout)
        )
    })
}
