//! `pushtrace emulator` as a user runs it: the real binary, its `--json` line, a real push over
//! TLS + HTTP/2 with the printed CA and authorization, the admin API over HTTP/1.1, Ctrl-C.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};

fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/emulator.toml")
}

/// The running binary; killed if a test fails before it stops it.
struct Running {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
            .arg("emulator")
            .args(args)
            // A token from the environment of whoever runs the tests must not leak in.
            .env_remove("PUSHTRACE_EMULATOR_ADMIN_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pushtrace runs");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Running { child, stdout }
    }

    fn json(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| {
            let mut stderr = String::new();
            let _ = self
                .child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr);
            panic!("no JSON line ({e}): {line:?}, stderr: {stderr}")
        })
    }

    /// Ctrl-C, then the exit status and stderr.
    fn interrupt(mut self) -> (Option<i32>, String) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let code = self.child.wait().unwrap().code();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (code, stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request to the admin API with its token; status and JSON body.
fn admin(info: &Value, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let addr = info["admin"]["addr"].as_str().unwrap().parse().unwrap();
    let token = info["admin"]["token"].as_str().unwrap();
    support::http(
        addr,
        method,
        path,
        &[("Authorization", &format!("Bearer {token}"))],
        body.map(|b| b.to_string()).as_deref(),
    )
}

/// What the emulator answered a push.
struct Reply {
    status: u16,
    unique_id: Option<String>,
    body: String,
}

/// The printed example request (with `expiration` instead of 0 when given), sent over TLS +
/// HTTP/2 trusting only the printed CA.
fn push(info: &Value, expiration: Option<&str>) -> Reply {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ca = std::fs::read(info["ca_path"].as_str().unwrap()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&ca) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let example = &info["example"];
        let environment = info["device"]["environment"].as_str().unwrap();
        let addr = info[environment]["addr"].as_str().unwrap();
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let (client, connection) = h2::client::handshake(tls).await.unwrap();
        tokio::spawn(connection);
        let mut request = http::Request::post(example["url"].as_str().unwrap())
            .header("authorization", example["authorization"].as_str().unwrap());
        for (name, value) in example["headers"].as_object().unwrap() {
            let value = match (name.as_str(), expiration) {
                ("apns-expiration", Some(at)) => at,
                _ => value.as_str().unwrap(),
            };
            request = request.header(name.as_str(), value);
        }
        let mut client = client.ready().await.unwrap();
        let (response, mut stream) = client
            .send_request(request.body(()).unwrap(), false)
            .unwrap();
        let body = example["body"].as_str().unwrap().to_owned();
        stream.send_data(Bytes::from(body), true).unwrap();
        let (parts, mut body) = response.await.unwrap().into_parts();
        let mut bytes = Vec::new();
        while let Some(chunk) = body.data().await {
            bytes.extend_from_slice(&chunk.unwrap());
        }
        Reply {
            status: parts.status.as_u16(),
            unique_id: parts
                .headers
                .get("apns-unique-id")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    })
}

#[test]
fn zero_config_prints_a_working_request_and_an_admin_api_and_stops_on_ctrl_c() {
    let mut running = Running::start(&["--json"]);
    let info = running.json();
    assert_eq!(info["key"]["generated"], true, "{info}");
    assert_eq!(info["device"]["sample"], true);
    assert_eq!(info["admin"]["token_source"], "generated");
    assert!(
        info["sandbox"]["addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert!(
        info["example"]["curl"]
            .as_str()
            .unwrap()
            .contains("--cacert")
    );
    let ca_path = PathBuf::from(info["ca_path"].as_str().unwrap());
    assert!(ca_path.exists());

    let reply = push(&info, None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let unique = reply.unique_id.unwrap();
    let (status, record) = admin(&info, "GET", &format!("/v1/deliveries/{unique}"), None);
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["events"][1]["category"], "Delivered to Device");

    // Offline through the admin API: a push without apns-expiration is stored.
    let token = info["device"]["token"].as_str().unwrap();
    let state = format!("/v1/devices/sandbox/{token}/state");
    let (status, answer) = admin(&info, "PUT", &state, Some(json!({"state": "offline"})));
    assert_eq!(status, 200, "{answer}");
    let far = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600)
        .to_string();
    let reply = push(&info, Some(&far));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (_, stored) = admin(&info, "GET", "/v1/deliveries?stored=true", None);
    assert!(stored["next"].is_null(), "one page: {stored}");
    let stored = stored["deliveries"].as_array().unwrap().clone();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        stored[0]["apns_unique_id"],
        reply.unique_id.unwrap().as_str()
    );
    assert_eq!(
        stored[0]["events"][1]["category"],
        "Stored - Device Offline"
    );

    let (code, stderr) = running.interrupt();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
    assert!(!ca_path.exists(), "the run's state directory is removed");
}

#[test]
fn the_example_config_is_used_as_written() {
    let config = example_config();
    let mut running = Running::start(&["--config", config.to_str().unwrap(), "--json"]);
    let info = running.json();
    assert_eq!(info["key"]["key_id"], "TESTKEY001", "{info}");
    assert_eq!(info["key"]["generated"], false);
    assert_eq!(info["device"]["sample"], false);
    assert_eq!(info["device"]["topic"], "com.acme.call.voip");
    assert!(info["sandbox"]["h2c_addr"].is_string(), "{info}");
    let reply = push(&info, None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (status, devices) = admin(&info, "GET", "/v1/devices", None);
    assert_eq!(status, 200);
    assert!(devices["next"].is_null(), "one page: {devices}");
    let devices = devices["devices"].as_array().unwrap();
    assert!(
        devices.iter().any(|d| d["state"] == "power_restricted"),
        "{devices:?}"
    );
    let (code, stderr) = running.interrupt();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn text_output_names_every_address_and_the_request() {
    let mut running = Running::start(&[]);
    let mut text = String::new();
    loop {
        let mut line = String::new();
        if running.stdout.read_line(&mut line).unwrap() == 0 || line.starts_with("See docs") {
            text.push_str(&line);
            break;
        }
        text.push_str(&line);
    }
    for needle in [
        "  sandbox     https://localhost:",
        "  production  https://localhost:",
        "  admin API   http://127.0.0.1:",
        "(generated for this run",
        "throwaway ES256 key EMULATOR01",
        "sample device registered for this run",
        "expires in 1 hour",
        "curl --http2 --cacert ",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    let (code, _) = running.interrupt();
    assert_eq!(code, Some(0));
}

#[test]
fn a_bad_config_is_refused_with_where_and_what() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
            .args(["emulator", "--config", path.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let state_dir = std::env::temp_dir().join(format!("pushtrace-emulator-{}", child.id()));
        let out = child.wait_with_output().unwrap();
        assert!(!state_dir.exists(), "{} left behind", state_dir.display());
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            path,
        )
    };

    let (code, stderr, path) = run("unknown.toml", "h2c = true\n\nport = 2197\n");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("line 3, column 1"), "{stderr}");
    assert!(stderr.contains("unknown field `port`"), "{stderr}");
    assert!(!stderr.contains("did you mean"), "{stderr}");

    let (code, stderr, _) = run("misspelt.toml", "sandbox_adr = \"127.0.0.1:0\"\n");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("unknown field `sandbox_adr`")
            && stderr.contains("(did you mean `sandbox_addr`?)"),
        "{stderr}"
    );
    let (code, stderr, _) = run(
        "variant.toml",
        "[[devices]]\nenvironment = \"sandbx\"\ntopic = \"com.acme.call.voip\"\ntoken = \"aabb\"\n",
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("(did you mean `sandbox`?)"), "{stderr}");

    let (code, stderr, _) = run(
        "key.toml",
        "[[keys]]\nkey_id = \"ABCDEFGHIJ\"\nteam_id = \"TEAMTEAM01\"\nkey_file = \"missing.p8\"\n",
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("missing.p8") && stderr.contains("ABCDEFGHIJ"),
        "{stderr}"
    );

    let (code, stderr, _) = run(
        "hook.toml",
        "delivery_hook_url = \"https://gateway/receipts\"\n",
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("must start with http://"), "{stderr}");

    let missing = dir.path().join("nowhere.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .args(["emulator", "--config", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the config file"));
}

#[test]
fn a_manual_clock_signs_the_example_by_its_time_and_moves_only_through_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("manual.toml");
    std::fs::write(&config, "manual_clock_start_ms = 1780000000000\n").unwrap();
    let mut running = Running::start(&["--config", config.to_str().unwrap(), "--json"]);
    let info = running.json();
    assert_eq!(
        info["example"]["authorization_expires_at"], "2026-05-28T21:26:40Z",
        "{info}"
    );
    let reply = push(&info, None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (_, clock) = admin(&info, "GET", "/v1/clock", None);
    assert_eq!(
        clock,
        json!({"manual": true, "now": "2026-05-28T20:26:40.000Z", "now_ms": 1_780_000_000_000_u64})
    );

    // Past the 7-day retention (and the sixteenth of it within which logs are pruned), the log
    // is empty.
    let week: u64 = 7 * 24 * 60 * 60 * 1000 * 17 / 16 + 1;
    let (status, _) = admin(
        &info,
        "POST",
        "/v1/clock/advance",
        Some(json!({"by_ms": week})),
    );
    assert_eq!(status, 200);
    let (_, log) = admin(&info, "GET", "/v1/deliveries", None);
    assert_eq!(log["deliveries"], json!([]));
    assert!(log["next"].is_null(), "{log}");
    let (code, stderr) = running.interrupt();
    assert_eq!(code, Some(0), "{stderr}");
}
