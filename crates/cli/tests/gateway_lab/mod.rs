//! A lab for the gateway's end-to-end tests: the real `pushtrace emulator` in its own process
//! (playing APNs and, through its delivery hook, the app on each simulated device) and the real
//! `pushtrace serve` in another, on SQLite or on PostgreSQL, talking over loopback.
//!
//! Each lab has its own folder (configs, keys, the SQLite file) and, on PostgreSQL, its own
//! schema, so labs run in parallel. PostgreSQL is the local server (`PUSHTRACE_TEST_POSTGRES`
//! overrides the URL); when it is not running the tests fail and say how to start it.

#![allow(dead_code)] // each test file uses a different part of the lab

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::http;

pub const API_TOKEN: &str = "lab-api-token-0123456789";
pub const BUNDLE: &str = "com.acme.call";
pub const VOIP_TOPIC: &str = "com.acme.call.voip";

/// Which store the gateway writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_url() -> String {
    std::env::var("PUSHTRACE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Fails (never skips) when PostgreSQL is not reachable.
pub fn require_postgres() {
    let url = postgres_url();
    let hostport = url
        .rsplit('@')
        .next()
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("127.0.0.1:5432")
        .to_owned();
    if TcpStream::connect_timeout(
        &hostport
            .parse()
            .unwrap_or_else(|_| "127.0.0.1:5432".parse().unwrap()),
        Duration::from_secs(2),
    )
    .is_err()
    {
        panic!(
            "PostgreSQL is not reachable at {hostport} ({url}): these tests need it. Start it (`pg_ctlcluster 15 main start`, or `.ci/test-setup` does it) or set PUSHTRACE_TEST_POSTGRES"
        );
    }
}

/// A device in the emulator: a token, its topic, and whether it is reachable at start.
#[derive(Debug, Clone)]
pub struct Device {
    pub token: String,
    pub topic: String,
    pub state: &'static str,
    pub unregistered_at_ms: Option<u64>,
}

impl Device {
    pub fn voip(n: u8, state: &'static str) -> Device {
        Device {
            token: token(n, 0xa0),
            topic: VOIP_TOPIC.into(),
            state,
            unregistered_at_ms: None,
        }
    }

    pub fn alert(n: u8, state: &'static str) -> Device {
        Device {
            token: token(n, 0xb0),
            topic: BUNDLE.into(),
            state,
            unregistered_at_ms: None,
        }
    }
}

/// A 32-byte token in hex, distinct per (n, kind).
pub fn token(n: u8, kind: u8) -> String {
    let mut bytes = [kind; 32];
    bytes[0] = n;
    bytes[31] = n;
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What to start.
pub struct LabSpec {
    pub backend: Backend,
    pub devices: Vec<Device>,
    /// Extra emulator config (faults, latency), TOML.
    pub emulator_extra: String,
    /// Extra fields for the app's section, TOML (`call_window_secs = 2` …).
    pub app_extra: String,
    /// A second app, `(name, bundle id)`, with the same key and endpoint.
    pub second_app: Option<(&'static str, &'static str)>,
}

impl LabSpec {
    pub fn new(backend: Backend) -> LabSpec {
        LabSpec {
            backend,
            devices: Vec::new(),
            emulator_extra: String::new(),
            app_extra: String::new(),
            second_app: None,
        }
    }
}

/// A process killed when dropped.
pub struct Process {
    pub child: Child,
    pub stdout: BufReader<ChildStdout>,
    /// Its stderr, in a file: the gateway logs a line per failed push and per call, and a pipe
    /// nobody reads fills up and blocks it mid-test.
    pub stderr: PathBuf,
}

impl Process {
    fn spawn(args: &[&str], dir: &Path) -> Process {
        static SPAWNED: AtomicUsize = AtomicUsize::new(0);
        let stderr = dir.join(format!(
            "{}-{}.stderr",
            args[0],
            SPAWNED.fetch_add(1, Ordering::Relaxed)
        ));
        let mut child = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
            .args(args)
            .current_dir(dir)
            .env_remove("PUSHTRACE_EMULATOR_ADMIN_TOKEN")
            .env_remove("PUSHTRACE_API_TOKEN")
            .env_remove("PUSHTRACE_RECEIPT_KEY")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("pushtrace runs");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Process {
            child,
            stdout,
            stderr,
        }
    }

    /// The `--json` line printed once serving.
    fn json_line(&mut self, what: &str) -> Value {
        let mut line = String::new();
        let _ = self.stdout.read_line(&mut line);
        serde_json::from_str(&line).unwrap_or_else(|e| {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
            panic!("{what} printed no JSON line ({e}): {line:?}\nstderr: {stderr}")
        })
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The running lab.
pub struct Lab {
    pub dir: tempfile::TempDir,
    pub emulator: Process,
    pub emulator_info: Value,
    pub gateway: Process,
    pub gateway_addr: SocketAddr,
    pub gateway_config: PathBuf,
    pub schema: Option<String>,
    pub backend: Backend,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn key_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../apns/testdata/test-AuthKey.p8")
}

impl Lab {
    pub fn start(spec: LabSpec) -> Lab {
        if spec.backend == Backend::Postgres {
            require_postgres();
        }
        let dir = tempfile::tempdir().unwrap();
        let gateway_port = free_port();
        let mut emulator_toml = format!(
            "sandbox_addr = \"127.0.0.1:0\"\nproduction_addr = \"127.0.0.1:0\"\nadmin_addr = \"127.0.0.1:0\"\n\
             ca_pem_path = \"{ca}\"\ndelivery_hook_url = \"http://127.0.0.1:{gateway_port}/v1/receipts\"\n\
             delivery_hook_body = \"app\"\nper_token_requests = 100000\n{extra}\n\
             [[keys]]\nkey_id = \"TESTKEY001\"\nteam_id = \"TESTTEAM01\"\nkey_file = \"{key}\"\nscope = \"both\"\n",
            ca = dir.path().join("emulator-ca.pem").display(),
            extra = spec.emulator_extra,
            key = key_file().display(),
        );
        for device in &spec.devices {
            emulator_toml.push_str(&format!(
                "\n[[devices]]\nenvironment = \"sandbox\"\ntopic = \"{}\"\ntoken = \"{}\"\nstate = \"{}\"\n",
                device.topic, device.token, device.state
            ));
            if let Some(at) = device.unregistered_at_ms {
                emulator_toml.push_str(&format!("unregistered_at_ms = {at}\n"));
            }
        }
        let emulator_config = dir.path().join("emulator.toml");
        std::fs::write(&emulator_config, emulator_toml).unwrap();
        let mut emulator = Process::spawn(
            &[
                "emulator",
                "--config",
                emulator_config.to_str().unwrap(),
                "--json",
            ],
            dir.path(),
        );
        let emulator_info = emulator.json_line("pushtrace emulator");
        let apns_addr = emulator_info["sandbox"]["addr"]
            .as_str()
            .unwrap()
            .to_owned();

        let schema =
            (spec.backend == Backend::Postgres).then(|| format!("gw_{:016x}", fastrand::u64(..)));
        let store = match spec.backend {
            Backend::Sqlite => format!(
                "store = \"{}\"\n",
                dir.path().join("pushtrace.db").display()
            ),
            Backend::Postgres => format!(
                "store = \"{}\"\nstore_schema = \"{}\"\n",
                postgres_url(),
                schema.as_deref().unwrap()
            ),
        };
        std::fs::write(dir.path().join("api-token"), API_TOKEN).unwrap();
        std::fs::write(
            dir.path().join("receipt-key"),
            "lab-receipt-key-0123456789abcdef0123456789",
        )
        .unwrap();
        let gateway_toml = format!(
            "listen = \"127.0.0.1:{gateway_port}\"\n{store}api_token_file = \"api-token\"\nreceipt_key_file = \"receipt-key\"\n\
             poll_interval_ms = 50\njob_lease_ms = 3000\n\n\
             [[apps]]\nname = \"acme\"\nbundle_id = \"{BUNDLE}\"\nenvironment = \"sandbox\"\n\
             key_file = \"{key}\"\nkey_id = \"TESTKEY001\"\nteam_id = \"TESTTEAM01\"\n\
             endpoint = \"https://{apns_addr}\"\nca_file = \"emulator-ca.pem\"\n{app_extra}\n\
             [apps.retry]\nmax_attempts = 5\nfirst_backoff_ms = 50\nmax_backoff_ms = 400\n",
            key = key_file().display(),
            app_extra = spec.app_extra,
        );
        let gateway_toml = match spec.second_app {
            None => gateway_toml,
            Some((name, bundle)) => format!(
                "{gateway_toml}\n[[apps]]\nname = \"{name}\"\nbundle_id = \"{bundle}\"\nenvironment = \"sandbox\"\n\
                 key_file = \"{key}\"\nkey_id = \"TESTKEY001\"\nteam_id = \"TESTTEAM01\"\n\
                 endpoint = \"https://{apns_addr}\"\nca_file = \"emulator-ca.pem\"\n",
                key = key_file().display(),
            ),
        };
        let gateway_config = dir.path().join("gateway.toml");
        std::fs::write(&gateway_config, gateway_toml).unwrap();
        let (gateway, gateway_addr) = start_gateway(&gateway_config, dir.path());
        Lab {
            dir,
            emulator,
            emulator_info,
            gateway,
            gateway_addr,
            gateway_config,
            schema,
            backend: spec.backend,
        }
    }

    /// A second gateway instance on the same store (and secrets): PostgreSQL only.
    pub fn start_second_gateway(&self) -> (Process, SocketAddr) {
        let text = std::fs::read_to_string(&self.gateway_config).unwrap();
        let port = free_port();
        let second = text.replacen(
            &format!("listen = \"{}\"", self.gateway_addr),
            &format!("listen = \"127.0.0.1:{port}\"\ninstance = \"second\""),
            1,
        );
        assert_ne!(second, text, "the config names its listen address");
        let path = self.dir.path().join("gateway-2.toml");
        std::fs::write(&path, second).unwrap();
        start_gateway(&path, self.dir.path())
    }

    /// `kill -9` the gateway and start it again on the same config and store.
    pub fn restart_gateway_after_kill9(&mut self) {
        self.gateway.kill9();
        let (gateway, addr) = start_gateway(&self.gateway_config, self.dir.path());
        self.gateway = gateway;
        self.gateway_addr = addr;
    }

    /// `pushtrace store export` of the lab's store: one JSON value per line.
    pub fn export_push_records(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.gateway_config).unwrap();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} = \"")))
                .map(|rest| rest.trim_end_matches('"').to_owned())
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_pushtrace"));
        command.args(["store", "export", "--store", &field("store").unwrap()]);
        if let Some(schema) = field("store_schema") {
            command.args(["--schema", &schema]);
        }
        let output = command.output().expect("pushtrace runs");
        assert!(
            output.status.success(),
            "store export failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// A request to the gateway with the API token.
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        http(
            self.gateway_addr,
            method,
            path,
            &[("Authorization", &format!("Bearer {API_TOKEN}"))],
            body.map(|b| b.to_string()).as_deref(),
        )
    }

    /// A request to the emulator's admin API.
    pub fn emulator_admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let addr: SocketAddr = self.emulator_info["admin"]["addr"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let token = self.emulator_info["admin"]["token"].as_str().unwrap();
        http(
            addr,
            method,
            path,
            &[("Authorization", &format!("Bearer {token}"))],
            body.map(|b| b.to_string()).as_deref(),
        )
    }

    pub fn set_device_state(&self, token: &str, state: &str) {
        let (status, body) = self.emulator_admin(
            "PUT",
            &format!("/v1/devices/sandbox/{token}/state"),
            Some(json!({ "state": state })),
        );
        assert_eq!(status, 200, "{body}");
    }

    pub fn register(&self, user: &str, token: &str, kind: &str) {
        self.register_for("acme", user, token, kind);
    }

    pub fn register_for(&self, app: &str, user: &str, token: &str, kind: &str) {
        let (status, body) = self.api(
            "PUT",
            &format!("/v1/apps/{app}/tokens/{token}"),
            Some(json!({ "user": user, "kind": kind, "attrs": { "os_version": "26.4" } })),
        );
        assert!(status == 201 || status == 200, "{status} {body}");
    }

    pub fn call(&self, client_call_id: &str, callee: &str) -> Value {
        let (status, body) = self.api(
            "POST",
            "/v1/apps/acme/calls",
            Some(json!({ "call_id": client_call_id, "caller": "Ann", "callee": callee })),
        );
        assert_eq!(status, 201, "{body}");
        body
    }

    pub fn timeline(&self, call_id: &str) -> Value {
        let (status, body) = self.api("GET", &format!("/v1/calls/{call_id}"), None);
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Polls the call's timeline until `done` holds (or panics after `limit`).
    pub fn wait_for(&self, call_id: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let timeline = self.timeline(call_id);
            if done(&timeline) {
                return timeline;
            }
            if start.elapsed() > limit {
                panic!("call {call_id} did not get there within {limit:?}: {timeline:#}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.gateway.kill9();
        if let Some(schema) = &self.schema {
            // Best effort: a schema left behind only costs disk.
            let _ = Command::new("psql")
                .args([
                    &postgres_url(),
                    "-qc",
                    &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn start_gateway(config: &Path, dir: &Path) -> (Process, SocketAddr) {
    let mut gateway = Process::spawn(
        &["serve", "--config", config.to_str().unwrap(), "--json"],
        dir,
    );
    let info = gateway.json_line("pushtrace serve");
    let addr = info["addr"].as_str().unwrap().parse().unwrap();
    (gateway, addr)
}
