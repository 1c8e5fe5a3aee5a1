//! Conformance: the emulator driven by two APNs clients nobody on this project wrote, `aioapns`
//! (PyPI) and `@parse/node-apn` (npm), through their public APIs with token auth.
//!
//! `tests/conformance/setup.sh` installs both (pinned) under the target directory; this test
//! runs it first and fails with its message when it cannot (no Python, Node or registry). Each
//! client runs as a subprocess on a JSON job (`tests/conformance/*_client.*`) and prints one JSON
//! line per case with the status, reason, timestamp and `apns-id` *as the library reported
//! them*; the test asserts each exactly. So a mismatch means the emulator answered something a
//! real client reads differently from APNs's documented answer, or a library mis-reads APNs.
//!
//! Per client: a valid VoIP push (checked in the emulator's log too) and one request per error
//! class the library can express (400, 403 invalid and expired token, 410, 413, 429). What a
//! library cannot send is said where its case would be.

mod common;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{KEY_ID, TEAM_ID, TOKEN, TOPIC, signing_key, token};
use p256::elliptic_curve::Generate as _;
use pushtrace_apns::{Environment, Priority, ProviderKey, PushType, Reason, SigningKey};
use pushtrace_emulator::{
    Clock, Device, Emulator, EmulatorBuilder, EmulatorHandle, Fault, FaultRule, RateLimit,
};
use serde_json::{Value, json};

/// A token nobody registered.
const UNKNOWN_TOKEN: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
/// A token unregistered a day before the test runs ([`unregistered_at_ms`]).
const UNREGISTERED_TOKEN: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// A token that only the per-token rate cases use, so the other cases do not count towards it.
const RATE_TOKEN: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
/// Pushes per token the emulator accepts per hour in these tests.
const RATE: u32 = 3;
/// How long one client run may take (it connects once and sends a dozen requests).
const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// The two clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Aioapns,
    NodeApn,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Aioapns => "aioapns",
            Client::NodeApn => "@parse/node-apn",
        }
    }

    /// The command that runs this client on `job`, with the installed packages on its path.
    fn command(self, installed: &Path, job: &Path) -> Command {
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
        let mut command = match self {
            Client::Aioapns => {
                let mut c = Command::new("python3");
                c.arg(scripts.join("aioapns_client.py"))
                    .env("PYTHONPATH", installed.join("python"))
                    .env("PYTHONDONTWRITEBYTECODE", "1");
                c
            }
            Client::NodeApn => {
                let mut c = Command::new("node");
                c.arg(scripts.join("node_apn_client.js"))
                    .env("NODE_PATH", installed.join("node/node_modules"));
                c
            }
        };
        command.arg(job);
        command
    }
}

/// Where setup.sh installs the clients: `<target dir>/conformance`, the directory `.ci/test-setup`'s
/// call without arguments uses too.
fn install_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("conformance")
}

/// Runs setup.sh once per test process; a failure fails every test with the installer's words.
fn installed() -> &'static Path {
    static SETUP: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = SETUP.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/setup.sh");
        let dir = install_dir();
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
                "{} failed ({}); the conformance tests need aioapns and @parse/node-apn \
                 installed. Its output:\n{}{}",
                script.display(),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    });
    match result {
        Ok(dir) => dir,
        Err(message) => panic!("{message}"),
    }
}

/// A case as the client scripts read it: the request to make, through the library's own API.
fn case(name: &str, token: &str, topic: &str) -> Value {
    json!({
        "name": name,
        "token": token,
        "topic": topic,
        "push_type": "voip",
        "priority": 10,
        "expiration": 0,
        "payload": {"call_id": "c-1", "caller": "Ann"},
    })
}

fn with(mut case: Value, field: &str, value: Value) -> Value {
    case[field] = value;
    case
}

/// What the library must report for a case.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expect {
    status: u16,
    reason: Option<String>,
    timestamp: Option<u64>,
}

fn ok() -> Expect {
    Expect {
        status: 200,
        reason: None,
        timestamp: None,
    }
}

fn rejected(reason: Reason) -> Expect {
    Expect {
        status: reason.status().expect("a rejection reason has a status"),
        reason: Some(reason.as_str().to_owned()),
        timestamp: None,
    }
}

/// What one client run reported for one case.
#[derive(Debug)]
struct Reported {
    line: Value,
}

impl Reported {
    fn expect(&self) -> Expect {
        Expect {
            status: self.line["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(0),
            reason: self.line["reason"].as_str().map(str::to_owned),
            timestamp: self.line["timestamp"].as_u64(),
        }
    }

    fn apns_id(&self) -> Option<&str> {
        self.line["apns_id"].as_str()
    }
}

/// The job every client run gets: where the emulator is, the CA to trust, the provider key.
struct Job {
    port: u16,
    ca_file: PathBuf,
    key_file: PathBuf,
    key_id: &'static str,
    team_id: &'static str,
}

impl Job {
    fn for_emulator(emulator: &EmulatorHandle, dir: &Path) -> Job {
        let ca_file = dir.join("emulator-ca.pem");
        std::fs::write(&ca_file, emulator.ca_pem()).unwrap();
        Job {
            port: emulator.addr(Environment::Sandbox).port(),
            ca_file,
            key_file: Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../apns/testdata/test-AuthKey.p8"),
            key_id: KEY_ID,
            team_id: TEAM_ID,
        }
    }

    /// Runs `client` on `cases` and answers its report per case, in order. Fails (with the
    /// client's stderr) when it exits with an error, runs past [`RUN_TIMEOUT`] or does not
    /// report every case.
    async fn run(&self, client: Client, dir: &Path, cases: &[Value]) -> Vec<Reported> {
        let job = json!({
            "host": "127.0.0.1",
            "port": self.port,
            "ca_file": self.ca_file,
            "key_file": self.key_file,
            "key_id": self.key_id,
            "team_id": self.team_id,
            "cases": cases,
        });
        let job_file = dir.join(format!("job-{}.json", cases.len()));
        std::fs::write(&job_file, serde_json::to_vec_pretty(&job).unwrap()).unwrap();
        let command = client.command(installed(), &job_file);
        let (stdout, stderr) = tokio::task::spawn_blocking(move || run_bounded(command))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{}: {e}", client.name()));
        let lines: Vec<Value> = stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!(
                        "{}: not a JSON line ({e}): {l}\nstderr:\n{stderr}",
                        client.name()
                    )
                })
            })
            .collect();
        assert_eq!(
            lines.len(),
            cases.len(),
            "{}: reported {} of {} cases\nstdout:\n{stdout}\nstderr:\n{stderr}",
            client.name(),
            lines.len(),
            cases.len()
        );
        for (line, case) in lines.iter().zip(cases) {
            assert_eq!(
                line["name"],
                case["name"],
                "{}: out of order",
                client.name()
            );
            assert!(
                line.get("error").is_none_or(Value::is_null) || line["status"].is_u64(),
                "{}: case {} raised instead of reporting a status: {}\nstderr:\n{stderr}",
                client.name(),
                case["name"],
                line["error"]
            );
        }
        lines.into_iter().map(|line| Reported { line }).collect()
    }
}

/// Runs a command to completion within [`RUN_TIMEOUT`]; answers its stdout and stderr, or why
/// it failed (with its stderr).
fn run_bounded(mut command: Command) -> Result<(String, String), String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start {command:?}: {e}"))?;
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    match status {
        Some(status) if status.success() => Ok((stdout, stderr)),
        Some(status) => Err(format!(
            "{command:?} exited with {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        )),
        None => Err(format!(
            "{command:?} did not finish within {RUN_TIMEOUT:?}; killed\nstdout:\n{stdout}\n\
             stderr:\n{stderr}"
        )),
    }
}

fn now_ms() -> u64 {
    Clock::System.now_ms()
}

/// When `UNREGISTERED_TOKEN` stopped being valid: yesterday by the system clock (the clients'
/// and the emulator's), to the millisecond, so the 410 `timestamp` is checked exactly.
fn unregistered_at_ms() -> u64 {
    static AT: OnceLock<u64> = OnceLock::new();
    *AT.get_or_init(|| now_ms() - 24 * 3600 * 1000)
}

/// The test key trusted, `TOKEN` live for `TOPIC`, `UNREGISTERED_TOKEN` unregistered,
/// `RATE_TOKEN` live, [`RATE`] pushes per token per hour.
fn emulator() -> EmulatorBuilder {
    Emulator::builder()
        .key(
            KEY_ID,
            ProviderKey::new(TEAM_ID, signing_key().verifying_key()),
        )
        .device(Environment::Sandbox, TOPIC, token(TOKEN))
        .device(Environment::Sandbox, TOPIC, token(RATE_TOKEN))
        .device_entry(
            Device::new(Environment::Sandbox, TOPIC, token(UNREGISTERED_TOKEN))
                .unregistered_at(unregistered_at_ms()),
        )
        .per_token_rate(Some(RateLimit {
            requests: RATE,
            window: Duration::from_secs(3600),
        }))
        // The 5xx class, injected for two topics only.
        .fault(
            FaultRule::always(Fault::Status {
                reason: Reason::ServiceUnavailable,
            })
            .topic(UNAVAILABLE_TOPIC),
        )
        .fault(
            FaultRule::always(Fault::Status {
                reason: Reason::InternalServerError,
            })
            .topic(BROKEN_TOPIC),
        )
}

/// Topics whose pushes get an injected 503 `ServiceUnavailable` / 500 `InternalServerError`.
const UNAVAILABLE_TOPIC: &str = "com.acme.unavailable.voip";
const BROKEN_TOPIC: &str = "com.acme.broken.voip";

/// One valid VoIP push, then one request per 400 reason the library can express, 410, 413,
/// 429, and injected 500 and 503; every answer checked as the library reports it, and the valid push in the emulator's
/// log and delivery log.
async fn requests(client: Client) {
    let dir = tempfile::tempdir().unwrap();
    let emulator = emulator().start().await.unwrap();
    let job = Job::for_emulator(&emulator, dir.path());

    let voip = |name: &str| case(name, TOKEN, TOPIC);
    let valid = voip("valid voip push");
    let mut cases = vec![
        (valid.clone(), ok()),
        (
            case("unknown device token", UNKNOWN_TOKEN, TOPIC),
            rejected(Reason::BadDeviceToken),
        ),
        (
            case("token of another topic", TOKEN, "com.acme.other.voip"),
            rejected(Reason::DeviceTokenNotForTopic),
        ),
        // `voip` needs the `<bundle>.voip` topic; Apple names no reason for breaking that, the
        // emulator answers BadTopic (validate.rs).
        (
            case("voip push to the bare bundle topic", TOKEN, "com.acme.call"),
            rejected(Reason::BadTopic),
        ),
        (
            with(voip("priority 7"), "priority", json!(7)),
            rejected(Reason::BadPriority),
        ),
        // Both libraries take a relative TTL or a number and send it as given: a fractional one
        // is a malformed `apns-expiration`.
        (
            with(
                with(voip("fractional expiration"), "expiration", Value::Null),
                "ttl",
                json!(30.5),
            ),
            rejected(Reason::BadExpirationDate),
        ),
        (
            with(
                voip("65-byte collapse id"),
                "collapse_id",
                json!("c".repeat(65)),
            ),
            rejected(Reason::BadCollapseId),
        ),
        (
            case("unregistered token", UNREGISTERED_TOKEN, TOPIC),
            Expect {
                timestamp: Some(unregistered_at_ms()),
                ..rejected(Reason::Unregistered)
            },
        ),
        (
            with(
                with(voip("5121-byte voip payload"), "payload", Value::Null),
                "payload_size",
                json!(5121),
            ),
            rejected(Reason::PayloadTooLarge),
        ),
        (
            with(
                with(voip("5120-byte voip payload"), "payload", Value::Null),
                "payload_size",
                json!(5120),
            ),
            ok(),
        ),
        (
            case("injected 503", TOKEN, UNAVAILABLE_TOPIC),
            rejected(Reason::ServiceUnavailable),
        ),
        (
            case("injected 500", TOKEN, BROKEN_TOPIC),
            rejected(Reason::InternalServerError),
        ),
    ];
    // An uppercase UUID (what .NET and `randomUUID().toUpperCase()` make): APNs wants the
    // lowercase canonical form. Not for aioapns: it files an error's status under the `apns-id`
    // of the response and looks it up under the one it sent, and the emulator answers an
    // invalid `apns-id` with a new UUID (the reference does not say what APNs echoes then), so
    // aioapns raises KeyError inside its protocol and the request never completes.
    if client == Client::NodeApn {
        cases.push((
            with(
                voip("uppercase apns-id"),
                "apns_id",
                json!("123E4567-E89B-12D3-A456-426614174000"),
            ),
            rejected(Reason::BadMessageId),
        ));
    }
    for n in 1..=RATE {
        cases.push((case(&format!("rate {n}"), RATE_TOKEN, TOPIC), ok()));
    }
    cases.push((
        case("rate over the limit", RATE_TOKEN, TOPIC),
        rejected(Reason::TooManyRequests),
    ));
    // Names must be unique: the scripts echo them and the test matches by position and name.
    for (i, (case, _)) in cases.iter_mut().enumerate() {
        let name = format!("{i:02} {}", case["name"].as_str().unwrap_or_default());
        case["name"] = json!(name);
    }

    let sent: Vec<Value> = cases.iter().map(|(c, _)| c.clone()).collect();
    let reported = job.run(client, dir.path(), &sent).await;
    for ((case, expect), got) in cases.iter().zip(&reported) {
        assert_eq!(
            got.expect(),
            *expect,
            "{}: case {}: reported {}",
            client.name(),
            case["name"],
            got.line
        );
    }

    // The emulator's side: the valid push, the 5120-byte one and the rate cases, in order.
    let accepted = emulator.accepted();
    assert_eq!(accepted.len(), 2 + RATE as usize, "{accepted:#?}");
    let push = &accepted[0];
    assert_eq!(push.token, token(TOKEN));
    assert_eq!(push.topic, TOPIC);
    assert_eq!(push.push_type, Some(PushType::Voip));
    assert_eq!(push.priority, Priority::Immediate);
    // Each library serialises the JSON its own way (aioapns with spaces): compare as JSON.
    let payload: Value = serde_json::from_slice(&push.payload).unwrap();
    assert_eq!(payload, valid["payload"]);
    match client {
        Client::NodeApn => assert_eq!(push.expiration, Some(0)),
        // aioapns only takes a TTL added to its own time.time(): the script asks for
        // `0 - now`, which is 0 unless the second ticked in between (then 1).
        Client::Aioapns => assert!(matches!(push.expiration, Some(0 | 1)), "{push:?}"),
    }
    assert_eq!(
        reported[0].apns_id(),
        Some(push.apns_id.to_string().as_str())
    );
    assert_eq!(accepted[1].payload_len, 5120);
    let record = emulator
        .delivery_record(&push.apns_id)
        .expect("the valid push has a delivery record");
    assert_eq!(
        (record.token.clone(), record.topic.as_str()),
        (token(TOKEN), TOPIC)
    );
    assert!(record.delivered_at_ms().is_some(), "{record:?}");
}

/// 403s: a token signed by a key the emulator does not trust, one whose `iss` is not the key's
/// team, and one older than an hour by the emulator's clock.
async fn provider_tokens(client: Client) {
    let dir = tempfile::tempdir().unwrap();
    let valid = [case("valid voip push", TOKEN, TOPIC)];

    // The emulator trusts another key under the client's key ID: the signature does not verify.
    let other = SigningKey::from_p256(p256::ecdsa::SigningKey::generate());
    let untrusting = emulator()
        .key(KEY_ID, ProviderKey::new(TEAM_ID, other.verifying_key()))
        .start()
        .await
        .unwrap();
    let job = Job::for_emulator(&untrusting, dir.path());
    let reported = job.run(client, dir.path(), &valid).await;
    assert_eq!(
        reported[0].expect(),
        rejected(Reason::InvalidProviderToken),
        "{}: untrusted key: {}",
        client.name(),
        reported[0].line
    );
    assert!(untrusting.accepted().is_empty());

    let trusting = emulator().start().await.unwrap();
    let job = Job {
        team_id: "OTHERTEAM9",
        ..Job::for_emulator(&trusting, dir.path())
    };
    let reported = job.run(client, dir.path(), &valid).await;
    assert_eq!(
        reported[0].expect(),
        rejected(Reason::InvalidProviderToken),
        "{}: wrong team: {}",
        client.name(),
        reported[0].line
    );
    assert!(trusting.accepted().is_empty());

    // Both libraries sign with iat = their system clock; the emulator's clock is two hours on.
    let later = emulator()
        .clock(Clock::manual(now_ms() + 2 * 3600 * 1000))
        .start()
        .await
        .unwrap();
    let job = Job::for_emulator(&later, dir.path());
    let reported = job.run(client, dir.path(), &valid).await;
    assert_eq!(
        reported[0].expect(),
        rejected(Reason::ExpiredProviderToken),
        "{}: expired token: {}",
        client.name(),
        reported[0].line
    );
    assert!(later.accepted().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aioapns_requests() {
    requests(Client::Aioapns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aioapns_provider_tokens() {
    provider_tokens(Client::Aioapns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_apn_requests() {
    requests(Client::NodeApn).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_apn_provider_tokens() {
    provider_tokens(Client::NodeApn).await;
}
