//! `pushtrace send` as a user runs it, against an emulator started by the test.

use std::path::{Path, PathBuf};
use std::process::Output;

use pushtrace_apns::{DeviceToken, Environment, ProviderKey, SigningKey};
use pushtrace_emulator::{Device, Emulator, EmulatorHandle};

const KEY_ID: &str = "TESTKEY001";
const TEAM_ID: &str = "TESTTEAM01";
const TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const TOPIC: &str = "com.acme.call.voip";

fn p8() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../apns/testdata/test-AuthKey.p8")
}

async fn emulator(dir: &Path) -> EmulatorHandle {
    let key = SigningKey::from_p8_pem(&std::fs::read_to_string(p8()).unwrap()).unwrap();
    Emulator::builder()
        .key(KEY_ID, ProviderKey::new(TEAM_ID, key.verifying_key()))
        .device(
            Environment::Sandbox,
            TOPIC,
            DeviceToken::parse(TOKEN).unwrap(),
        )
        .ca_pem_path(dir.join("ca.pem"))
        .start()
        .await
        .unwrap()
}

/// Runs the binary off the runtime's threads, which keep serving the emulator.
async fn send(extra: &[&str]) -> Output {
    send_in_zone(extra, "UTC").await
}

/// [`send`] with the machine's time zone (`TZ`) set.
async fn send_in_zone(extra: &[&str], zone: &str) -> Output {
    let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
    let zone = zone.to_owned();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pushtrace"))
            .arg("send")
            .args(&extra)
            .env("TZ", zone)
            .output()
            .expect("pushtrace runs")
    })
    .await
    .unwrap()
}

fn args<'a>(emulator: &EmulatorHandle, dir: &'a Path, url: &'a mut String) -> Vec<String> {
    *url = format!(
        "https://127.0.0.1:{}",
        emulator.addr(Environment::Sandbox).port()
    );
    vec![
        "--key".into(),
        p8().display().to_string(),
        "--key-id".into(),
        KEY_ID.into(),
        "--team-id".into(),
        TEAM_ID.into(),
        "--topic".into(),
        TOPIC.into(),
        "--endpoint".into(),
        url.clone(),
        "--ca".into(),
        dir.join("ca.pem").display().to_string(),
        "--payload".into(),
        r#"{"call_id":"c-1"}"#.into(),
    ]
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn an_accepted_push_prints_ids_and_timings() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = emulator(dir.path()).await;
    let mut url = String::new();
    let mut argv = args(&emulator, dir.path(), &mut url);
    argv.extend(["--token".into(), TOKEN.into(), "--json".into()]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = send(&argv).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = json(&out);
    assert_eq!(result["outcome"], "accepted");
    assert_eq!(result["push_type"], "voip");
    let accepted = emulator.accepted();
    assert_eq!(result["apns_id"], accepted[0].apns_id.to_string());
    assert_eq!(
        accepted[0].expiration,
        Some(0),
        "VoIP defaults to apns-expiration: 0"
    );
    assert!(result["apns_unique_id"].is_string());
    assert!(result["timings_ms"]["connect"].as_f64().unwrap() > 0.0);

    // Human output says what accepted means.
    let argv: Vec<&str> = argv.iter().copied().filter(|a| *a != "--json").collect();
    let out = send(&argv).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("accepted (apns-id "), "{text}");
    assert!(text.contains("not that the device got it"), "{text}");
    // ... and cites a page that ships with the repository.
    assert!(text.contains("(docs/reference/apns.md §4.1, §7)"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejection_exits_3_with_reason_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = emulator(dir.path()).await;
    let mut url = String::new();
    let mut argv = args(&emulator, dir.path(), &mut url);
    let unknown = "ab".repeat(32);
    argv.extend(["--token".into(), unknown]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = send(&argv).await;
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("rejected: 400 BadDeviceToken"), "{text}");
    assert!(text.contains("what to do: "), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_server_exits_4_and_bad_input_exits_1_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = emulator(dir.path()).await;
    let mut url = String::new();
    let base = args(&emulator, dir.path(), &mut url);
    drop(emulator);

    let mut argv = base.clone();
    argv.extend([
        "--token".into(),
        TOKEN.into(),
        "--timeout".into(),
        "2".into(),
        "--json".into(),
    ]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = send(&argv).await;
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(json(&out)["outcome"], "failed");

    let mut argv = base.clone();
    argv.extend(["--token".into(), "xyz".into()]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = send(&argv).await;
    assert_eq!(out.status.code(), Some(1));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("token"), "{error}");

    let mut argv: Vec<String> = base.clone();
    argv[1] = "/nonexistent/AuthKey.p8".into();
    argv.extend(["--token".into(), TOKEN.into()]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = send(&argv).await;
    assert_eq!(out.status.code(), Some(1));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("/nonexistent/AuthKey.p8"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_p12_with_the_wrong_password_is_refused_naming_the_file() {
    let p12 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../apns/testdata/client-cert-aes.p12");
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "wrong\n").unwrap();
    let p12 = p12.display().to_string();
    let password = password.display().to_string();
    let argv = [
        "--cert",
        &p12,
        "--cert-password-file",
        &password,
        "--topic",
        TOPIC,
        "--token",
        TOKEN,
        "--endpoint",
        "https://127.0.0.1:9",
    ];
    let out = send(&argv).await;
    assert_eq!(out.status.code(), Some(1));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("client-cert-aes.p12") && error.contains("password"),
        "{error}"
    );
    assert!(
        !error.contains("wrong"),
        "the password is never printed: {error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_ca_says_to_pass_ca_and_is_not_retryable() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = emulator(dir.path()).await;
    let mut url = String::new();
    let mut argv = args(&emulator, dir.path(), &mut url);
    // Without the emulator's CA: only Apple's roots are trusted.
    let ca = argv.iter().position(|a| a == "--ca").unwrap();
    argv.drain(ca..ca + 2);
    argv.extend(["--token".into(), TOKEN.into()]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = send(&argv).await;
    assert_eq!(out.status.code(), Some(4));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("failed: "), "{text}");
    assert!(!text.contains("retryable"), "{text}");
    assert!(
        text.contains("what to do: ") && text.contains("pass --ca FILE"),
        "{text}"
    );
    assert!(
        text.contains(&format!("to custom endpoint {url} (sandbox tokens): ")),
        "{text}"
    );

    let mut argv = argv.clone();
    argv.push("--json");
    let result = json(&send(&argv).await);
    assert_eq!(result["retryable"], false);
    assert!(
        result["action"].as_str().unwrap().contains("--ca"),
        "{result}"
    );
    assert_eq!(
        result["endpoint_label"],
        format!("custom endpoint {url} (sandbox tokens)")
    );
    assert!(emulator.accepted().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_410_prints_when_the_token_stopped_being_valid_as_a_date() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_p8_pem(&std::fs::read_to_string(p8()).unwrap()).unwrap();
    let gone = "cd".repeat(32);
    // 2026-05-20 14:47:00 UTC.
    let at_ms = 1_779_288_420_000;
    let emulator = Emulator::builder()
        .key(KEY_ID, ProviderKey::new(TEAM_ID, key.verifying_key()))
        .device_entry(
            Device::new(
                Environment::Sandbox,
                TOPIC,
                DeviceToken::parse(&gone).unwrap(),
            )
            .unregistered_at(at_ms),
        )
        .ca_pem_path(dir.path().join("ca.pem"))
        .start()
        .await
        .unwrap();
    let mut url = String::new();
    let mut argv = args(&emulator, dir.path(), &mut url);
    argv.extend(["--token".into(), gone]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = send_in_zone(&argv, "Europe/Istanbul").await;
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("rejected: 410 Unregistered"), "{text}");
    assert!(
        text.contains(
            "the token is no longer valid since 2026-05-20 14:47:00.000 UTC, \
             2026-05-20 17:47:00.000 +03:00 local (timestamp 1779288420000 ms)"
        ),
        "{text}"
    );
    // On a UTC machine there is no second clock to show.
    let out = send_in_zone(&argv, "UTC").await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("since 2026-05-20 14:47:00.000 UTC (timestamp 1779288420000 ms)"),
        "{text}"
    );

    let mut argv = argv.clone();
    argv.push("--json");
    let result = json(&send(&argv).await);
    assert_eq!(result["timestamp_ms"], at_ms);
    assert_eq!(
        result["unregistered_since"],
        "2026-05-20 14:47:00.000 UTC (timestamp 1779288420000 ms)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_misspelt_push_type_gets_a_suggestion() {
    let argv = [
        "--key",
        &p8().display().to_string(),
        "--key-id",
        KEY_ID,
        "--team-id",
        TEAM_ID,
        "--topic",
        TOPIC,
        "--token",
        TOKEN,
        "--endpoint",
        "https://127.0.0.1:9",
        "--push-type",
        "viop",
    ]
    .map(str::to_owned);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = send(&argv).await;
    assert_eq!(out.status.code(), Some(1));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("(did you mean `voip`?)"), "{error}");
}
