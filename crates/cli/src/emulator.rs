//! `pushtrace emulator`: run the APNs emulator until Ctrl-C, and say how to reach it.
//!
//! The binary's share of the work: read the TOML config (paths in it are relative to the file),
//! fill in what a zero-config run needs (a throwaway ES256 key trusted under a dev key id and
//! a sample VoIP device, written next to the CA in a per-run state directory), start the
//! emulator, and print its addresses, the CA path, the admin API and a ready `curl` request
//! whose provider token is signed here. Everything else is `pushtrace-emulator`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};

use crate::stop_signals::StopSignals;
use clap::Args;
use pushtrace_apns::{Environment, MAX_AGE_SECS, ProviderToken, SigningKey};
use pushtrace_emulator::{
    DeviceConfig, EmulatorConfig, EmulatorHandle, EnvironmentName, KeyConfig, ScopeName,
    TokenSource,
};
use serde_json::{Value, json};

/// The key id and team id the throwaway key is trusted under (10 characters each, as Apple's).
const DEV_KEY_ID: &str = "EMULATOR01";
const DEV_TEAM_ID: &str = "EMULATORTM";
/// The sample device's topic when the config has no device.
const SAMPLE_TOPIC: &str = "com.example.pushtrace.voip";

#[derive(Args, Debug)]
pub struct EmulatorArgs {
    /// The emulator's TOML config (fields in docs/emulator.md; paths in it are relative to the
    /// file). Without it: both environments and the admin API on 127.0.0.1, random ports, a
    /// throwaway key and one sample device.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print one JSON object (addresses, CA path, admin API, example request) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The key the example request is signed with.
struct ExampleKey {
    key_id: String,
    team_id: String,
    signing: SigningKey,
    p8_path: PathBuf,
    generated: bool,
}

/// The device the example request goes to.
struct ExampleDevice {
    environment: Environment,
    topic: String,
    token: String,
    sample: bool,
}

pub fn run(args: EmulatorArgs) -> Result<ExitCode> {
    let state_dir = std::env::temp_dir().join(format!("pushtrace-emulator-{}", std::process::id()));
    std::fs::create_dir_all(&state_dir).with_context(|| {
        format!(
            "cannot create the state directory {}; set TMPDIR to a writable directory",
            state_dir.display()
        )
    })?;
    let result = serve(&args, &state_dir);
    // The state directory holds only what this run made (CA, throwaway key).
    let _ = std::fs::remove_dir_all(&state_dir);
    result.map(|()| ExitCode::SUCCESS)
}

fn serve(args: &EmulatorArgs, state_dir: &Path) -> Result<()> {
    let mut config = match &args.config {
        Some(path) => read_config(path)?,
        None => EmulatorConfig::default(),
    };
    let ca_path = config
        .ca_pem_path
        .get_or_insert_with(|| state_dir.join("ca.pem"))
        .clone();
    let device = example_device(&mut config)?;
    let key = example_key(&mut config, state_dir, device.environment)?;
    let config_name = args.config.as_ref().map_or_else(
        || "the default config".to_owned(),
        |p| p.display().to_string(),
    );
    let builder = config
        .into_builder()
        .with_context(|| format!("{config_name} cannot be used"))?;

    // One worker per core the process may run on (tokio's default follows the CPU affinity), so
    // an emulator pinned to one core does not switch between workers on it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let emulator = builder
            .start()
            .await
            .context("the emulator could not start")?;
        let stop = StopSignals::install()?;
        let report = Report::new(&emulator, &ca_path, key.as_ref(), &device)?;
        let mut out = std::io::stdout().lock();
        if args.json {
            writeln!(out, "{}", report.json)?;
        } else {
            out.write_all(report.text.as_bytes())?;
        }
        out.flush()?;
        drop(out);
        stop.wait().await;
        emulator.shutdown();
        eprintln!("pushtrace emulator: stopped");
        anyhow::Ok(())
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}

/// Reads and parses the config, with the line and column of a TOML error, and makes its
/// relative paths relative to the file.
fn read_config(path: &Path) -> Result<EmulatorConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    let mut config: EmulatorConfig = toml::from_str(&text).map_err(|error| {
        let place = error.span().map_or_else(String::new, |span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!(", line {line}, column {column}")
        });
        anyhow!(
            "config {}{place}: {}{}; the fields are listed in docs/emulator.md",
            path.display(),
            error.message().trim_end(),
            pushtrace_model::suggest::serde_hint(error.message())
        )
    })?;
    let base = path.parent().unwrap_or(Path::new(""));
    let relative = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    };
    for key in &mut config.keys {
        relative(&mut key.key_file);
    }
    if let Some(p) = &mut config.ca_pem_path {
        relative(p);
    }
    if let Some(p) = &mut config.admin_token_file {
        relative(p);
    }
    Ok(config)
}

/// The first configured `.p8` key valid in `environment`, or (no keys at all) a throwaway one,
/// trusted and written to the state directory.
fn example_key(
    config: &mut EmulatorConfig,
    state_dir: &Path,
    environment: Environment,
) -> Result<Option<ExampleKey>> {
    if config.keys.is_empty() {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| anyhow!("cannot generate a throwaway ES256 key: {e}"))?;
        let pem = pair.serialize_pem();
        let p8_path = state_dir.join(format!("AuthKey_{DEV_KEY_ID}.p8"));
        std::fs::write(&p8_path, &pem)
            .with_context(|| format!("cannot write {}", p8_path.display()))?;
        let signing = SigningKey::from_p8_pem(&pem)
            .map_err(|e| anyhow!("the generated key does not read back as .p8: {e}"))?;
        config.keys.push(KeyConfig {
            key_id: DEV_KEY_ID.to_owned(),
            team_id: DEV_TEAM_ID.to_owned(),
            key_file: p8_path.clone(),
            scope: ScopeName::Both,
            related_key_id: None,
        });
        return Ok(Some(ExampleKey {
            key_id: DEV_KEY_ID.to_owned(),
            team_id: DEV_TEAM_ID.to_owned(),
            signing,
            p8_path,
            generated: true,
        }));
    }
    // A key file that is only a public key cannot sign: the example then has no token.
    let valid = |scope: ScopeName| match scope {
        ScopeName::Both => true,
        ScopeName::Sandbox => environment == Environment::Sandbox,
        ScopeName::Production => environment == Environment::Production,
    };
    Ok(config
        .keys
        .iter()
        .filter(|k| valid(k.scope))
        .find_map(|key| {
            let text = std::fs::read_to_string(&key.key_file).ok()?;
            let signing = SigningKey::from_p8_pem(&text).ok()?;
            Some(ExampleKey {
                key_id: key.key_id.clone(),
                team_id: key.team_id.clone(),
                signing,
                p8_path: key.key_file.clone(),
                generated: false,
            })
        }))
}

/// A live VoIP device from the config (sandbox first), or a sample one added to it.
fn example_device(config: &mut EmulatorConfig) -> Result<ExampleDevice> {
    let live = |d: &&DeviceConfig| d.unregistered_at_ms.is_none();
    let pick = config
        .devices
        .iter()
        .filter(live)
        .filter(|d| d.topic.ends_with(".voip"))
        .min_by_key(|d| d.environment != EnvironmentName::Sandbox)
        .or_else(|| config.devices.iter().find(live));
    if let Some(device) = pick {
        return Ok(ExampleDevice {
            environment: device.environment.into(),
            topic: device.topic.clone(),
            token: device.token.clone(),
            sample: false,
        });
    }
    let mut bytes = [0u8; 32];
    random_bytes(&mut bytes)?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    config.devices.push(DeviceConfig {
        environment: EnvironmentName::Sandbox,
        topic: SAMPLE_TOPIC.to_owned(),
        token: token.clone(),
        unregistered_at_ms: None,
        state: None,
    });
    Ok(ExampleDevice {
        environment: Environment::Sandbox,
        topic: SAMPLE_TOPIC.to_owned(),
        token,
        sample: true,
    })
}

/// Random bytes from the system CSPRNG, through rustls's ring provider (as the emulator's ids).
fn random_bytes(bytes: &mut [u8]) -> Result<()> {
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(bytes)
        .map_err(|_| anyhow!("the system random number generator failed"))
}

/// What is printed, as text and as JSON.
struct Report {
    text: String,
    json: Value,
}

impl Report {
    fn new(
        emulator: &EmulatorHandle,
        ca_path: &Path,
        key: Option<&ExampleKey>,
        device: &ExampleDevice,
    ) -> Result<Report> {
        let listener = |environment| {
            let tls = emulator.addr(environment);
            let h2c = emulator.h2c_addr(environment);
            json!({
                "url": format!("https://localhost:{}", tls.port()),
                "addr": tls.to_string(),
                "h2c_addr": h2c.map(|a| a.to_string()),
            })
        };
        let admin_addr = emulator
            .admin_addr()
            .ok_or_else(|| anyhow!("the admin API did not start"))?;
        let admin_token = emulator
            .admin_token()
            .ok_or_else(|| anyhow!("the admin API has no token"))?;
        let (token_source, token_file, shown_token) = match admin_token.source() {
            TokenSource::Generated => ("generated", None, Some(admin_token.secret())),
            TokenSource::File(path) => ("file", Some(path.display().to_string()), None),
            TokenSource::Environment => ("environment", None, None),
        };

        let now = emulator.clock().now_secs();
        let authorization = key
            .map(|k| {
                ProviderToken::sign(&k.signing, &k.key_id, &k.team_id, now)
                    .map(|t| t.authorization())
                    .map_err(|e| anyhow!("cannot sign the example provider token: {e}"))
            })
            .transpose()?;
        let expires_ms = (now + MAX_AGE_SECS) * 1000;
        let expires_at = jiff::Timestamp::from_millisecond(i64::try_from(expires_ms)?)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        let port = emulator.addr(device.environment).port();
        let url = format!("https://localhost:{port}/3/device/{}", device.token);
        let body = r#"{"aps":{},"push_id":"example-1"}"#;
        let mut curl = format!(
            "curl --http2 --cacert {} \\\n  ",
            shell(&ca_path.display().to_string())
        );
        if let Some(auth) = &authorization {
            curl.push_str(&format!("-H 'authorization: {auth}' \\\n  "));
        }
        curl.push_str(&format!(
            "-H 'apns-push-type: voip' -H 'apns-topic: {}' -H 'apns-priority: 10' -H 'apns-expiration: 0' \\\n  -d '{body}' \\\n  {url}",
            device.topic
        ));

        let json = json!({
            "sandbox": listener(Environment::Sandbox),
            "production": listener(Environment::Production),
            "admin": {
                "url": format!("http://{admin_addr}"),
                "addr": admin_addr.to_string(),
                "token_source": token_source,
                "token_file": token_file,
                "token": shown_token,
            },
            "ca_path": ca_path.display().to_string(),
            "key": key.map(|k| json!({
                "key_id": k.key_id,
                "team_id": k.team_id,
                "p8_path": k.p8_path.display().to_string(),
                "generated": k.generated,
            })),
            "device": {
                "environment": device.environment.to_string(),
                "topic": device.topic,
                "token": device.token,
                "sample": device.sample,
            },
            "example": {
                "url": url,
                "authorization": authorization,
                "authorization_expires_at": authorization.as_ref().map(|_| expires_at.clone()),
                "headers": {
                    "apns-push-type": "voip",
                    "apns-topic": device.topic,
                    "apns-priority": "10",
                    "apns-expiration": "0",
                },
                "body": body,
                "curl": curl,
            },
        });

        let mut text =
            String::from("pushtrace emulator: APNs provider API running (Ctrl-C to stop)\n\n");
        for environment in [Environment::Sandbox, Environment::Production] {
            let tls = emulator.addr(environment);
            text.push_str(&format!(
                "  {:<11} https://localhost:{} ({tls})",
                environment.to_string(),
                tls.port()
            ));
            if let Some(h2c) = emulator.h2c_addr(environment) {
                text.push_str(&format!(", h2c http://{h2c}"));
            }
            text.push('\n');
        }
        text.push_str(&format!("  {:<11} http://{admin_addr}\n", "admin API"));
        match shown_token {
            Some(secret) => text.push_str(&format!(
                "  {:<11} {secret} (generated for this run; send it as `Authorization: Bearer …`)\n",
                "admin token"
            )),
            None => text.push_str(&format!(
                "  {:<11} from the {} (not printed)\n",
                "admin token",
                admin_token.source()
            )),
        }
        text.push_str(&format!(
            "  {:<11} {} (trust this CA in clients)\n",
            "CA",
            ca_path.display()
        ));
        match key {
            Some(k) if k.generated => text.push_str(&format!(
                "  {:<11} throwaway ES256 key {} (team {}) made for this run: {}\n",
                "key",
                k.key_id,
                k.team_id,
                k.p8_path.display()
            )),
            Some(k) => text.push_str(&format!(
                "  {:<11} {} (team {}) from {}\n",
                "key",
                k.key_id,
                k.team_id,
                k.p8_path.display()
            )),
            None => text.push_str(&format!(
                "  {:<11} no .p8 private key in the config: sign your own provider token\n",
                "key"
            )),
        }
        text.push_str(&format!(
            "  {:<11} {} {} {}{}\n\n",
            "device",
            device.environment,
            device.topic,
            device.token,
            if device.sample {
                " (sample device registered for this run)"
            } else {
                ""
            }
        ));
        text.push_str("A VoIP push to that device");
        if authorization.is_some() {
            text.push_str(&format!(
                " (its provider token expires in 1 hour, at {expires_at})"
            ));
        }
        text.push_str(":\n\n");
        text.push_str(&curl);
        text.push_str("\n\nSee docs/emulator.md for the admin API and the config file.\n");
        Ok(Report { text, json })
    }
}

/// Single-quotes a path for a POSIX shell when it needs it.
fn shell(text: &str) -> String {
    if text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
