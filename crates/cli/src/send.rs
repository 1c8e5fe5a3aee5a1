//! `pushtrace send`: one push through the APNs client, its answer and where the time went, so a
//! token, a key or a certificate can be checked in a second.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use pushtrace_apns::client::{
    ALTERNATIVE_PORT, Client, ClientCertificate, Credentials, Endpoint, Outcome, PRODUCTION_HOST,
    SANDBOX_HOST, SendError, SendResult, TokenSigner,
};
use pushtrace_apns::{Environment, Expiration, Notification, Priority, PushType, SigningKey};
use pushtrace_model::suggest;
use serde_json::json;

/// Exit code: APNs answered with an error.
pub const EXIT_REJECTED: u8 = 3;
/// Exit code: no answer (connection, TLS, timeout).
pub const EXIT_FAILED: u8 = 4;

#[derive(Args)]
pub struct SendArgs {
    /// The `.p8` signing key (token auth).
    #[arg(long, value_name = "FILE", required_unless_present = "cert")]
    key: Option<PathBuf>,
    /// The key's 10-character ID.
    #[arg(long, value_name = "ID", requires = "key")]
    key_id: Option<String>,
    /// Your 10-character team ID.
    #[arg(long, value_name = "ID", requires = "key")]
    team_id: Option<String>,
    /// The APNs client certificate (certificate auth): a `.p12` as Keychain Access exports it
    /// (password from `--cert-password-file` or $PUSHTRACE_CERT_PASSWORD, else empty), or a PEM
    /// with the certificate and, unless `--cert-key` is given, its key.
    #[arg(long, value_name = "FILE", conflicts_with = "key")]
    cert: Option<PathBuf>,
    /// The certificate's private key (PEM), when not in a PEM `--cert`.
    #[arg(long, value_name = "FILE", requires = "cert")]
    cert_key: Option<PathBuf>,
    /// A file whose first line is the `.p12` password.
    #[arg(long, value_name = "FILE", requires = "cert")]
    cert_password_file: Option<PathBuf>,
    /// The topic: `<bundle>.voip` for a VoIP push.
    #[arg(long)]
    topic: String,
    /// The device token (hex).
    #[arg(long)]
    token: String,
    /// The JSON payload, or `@FILE` to read it from a file.
    #[arg(long, default_value = "{}")]
    payload: String,
    /// `apns-push-type`; default `voip` for a `.voip` topic, else `alert`.
    #[arg(long, value_name = "TYPE")]
    push_type: Option<String>,
    /// `apns-priority` (10, 5 or 1); default the push type's.
    #[arg(long)]
    priority: Option<u8>,
    /// Seconds the push may wait at APNs for an offline device (0: one attempt, no storage;
    /// the default for VoIP). Other push types default to no `apns-expiration` header.
    #[arg(long, value_name = "SECONDS")]
    expiration: Option<u64>,
    /// `apns-id` to send (lowercase UUID); APNs makes one if absent.
    #[arg(long)]
    apns_id: Option<String>,
    /// `apns-collapse-id`.
    #[arg(long)]
    collapse_id: Option<String>,
    /// Apple's sandbox host (default: production).
    #[arg(long, conflicts_with = "endpoint")]
    sandbox: bool,
    /// Apple's alternative port 2197 instead of 443.
    #[arg(long, conflicts_with = "endpoint")]
    port_2197: bool,
    /// Any server instead of Apple's, e.g. the emulator: `https://127.0.0.1:PORT`. The token
    /// namespace is sandbox unless `--production`.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// With `--endpoint`: the server stands for production.
    #[arg(long, requires = "endpoint")]
    production: bool,
    /// A CA to trust besides the APNs root (the emulator prints its CA file).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: SendArgs) -> Result<ExitCode> {
    let credentials = credentials(&args)?;
    let endpoint = endpoint(&args)?;
    let notification = notification(&args)?;
    let mut builder = Client::builder(endpoint.clone(), credentials)
        .request_timeout(Duration::from_secs(args.timeout))
        .connect_timeout(Duration::from_secs(args.timeout))
        .keep_warm(false)
        .max_attempts(3);
    if let Some(path) = &args.ca {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the CA file {}", path.display()))?;
        builder = builder
            .add_ca_pem(&pem)
            .with_context(|| format!("{}: not a usable CA", path.display()))?;
    }
    let client = builder.build().context("cannot configure TLS")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut result = runtime.block_on(client.send(&notification));
    // A certificate the client does not trust fails the same way on every attempt.
    if let Outcome::Failed { error, retryable } = &mut result.outcome
        && untrusted(error).is_some()
    {
        *retryable = false;
    }
    if args.json {
        println!("{}", to_json(&result, &endpoint, &notification));
    } else {
        print_human(&result, &endpoint);
    }
    Ok(match result.outcome {
        Outcome::Accepted { .. } => ExitCode::SUCCESS,
        Outcome::Rejected { .. } => ExitCode::from(EXIT_REJECTED),
        Outcome::Failed { .. } => ExitCode::from(EXIT_FAILED),
    })
}

fn credentials(args: &SendArgs) -> Result<Credentials> {
    if let Some(cert) = &args.cert {
        let bytes = std::fs::read(cert)
            .with_context(|| format!("cannot read the certificate {}", cert.display()))?;
        let is_pem = bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'-');
        let certificate = if is_pem {
            let pem = String::from_utf8_lossy(&bytes).into_owned();
            let key_pem = match &args.cert_key {
                Some(path) => std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the certificate key {}", path.display())
                })?,
                None => pem.clone(),
            };
            ClientCertificate::from_pem(&pem, &key_pem)
        } else {
            if args.cert_key.is_some() {
                bail!(
                    "{} is a PKCS#12 file, which holds its own key: drop --cert-key",
                    cert.display()
                );
            }
            ClientCertificate::from_pkcs12(&bytes, &cert_password(args)?)
        }
        .with_context(|| format!("{}: not a usable client certificate", cert.display()))?;
        return Ok(Credentials::Certificate(certificate));
    }
    let Some(path) = &args.key else {
        bail!("give --key (with --key-id and --team-id) or --cert");
    };
    let (Some(key_id), Some(team_id)) = (&args.key_id, &args.team_id) else {
        bail!(
            "--key needs --key-id and --team-id (both 10 characters, from the developer account)"
        );
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key file {}", path.display()))?;
    let key = SigningKey::from_p8_pem(&text).with_context(|| {
        format!(
            "{}: not an APNs .p8 key (PKCS#8 PEM, \"BEGIN PRIVATE KEY\")",
            path.display()
        )
    })?;
    let signer = TokenSigner::new(key, key_id, team_id)
        .context("--key-id and --team-id must be Apple's 10-character IDs")?;
    Ok(Credentials::Token(Arc::new(signer)))
}

/// The `.p12` password: from a file or the environment, never from the command line (where
/// other users of the host could read it), and never printed.
fn cert_password(args: &SendArgs) -> Result<String> {
    if let Some(path) = &args.cert_password_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the password file {}", path.display()))?;
        return Ok(text.lines().next().unwrap_or_default().to_owned());
    }
    Ok(std::env::var(CERT_PASSWORD_ENV).unwrap_or_default())
}

/// Where `send` looks for a `.p12` password when no file is given.
pub const CERT_PASSWORD_ENV: &str = "PUSHTRACE_CERT_PASSWORD";

fn endpoint(args: &SendArgs) -> Result<Endpoint> {
    if let Some(url) = &args.endpoint {
        return custom_endpoint(url, args.production);
    }
    let endpoint = if args.sandbox {
        Endpoint::sandbox()
    } else {
        Endpoint::production()
    };
    Ok(if args.port_2197 {
        endpoint.with_port(ALTERNATIVE_PORT)
    } else {
        endpoint
    })
}

/// `--endpoint URL`, whose tokens are production's with `--production`, else sandbox's.
fn custom_endpoint(url: &str, production: bool) -> Result<Endpoint> {
    let environment = if production {
        Environment::Production
    } else {
        Environment::Sandbox
    };
    let endpoint = Endpoint::url(url, environment)?;
    // Apple's hosts take only their own environment's tokens, whatever --production says.
    let apple = match endpoint.host() {
        PRODUCTION_HOST => Some(Environment::Production),
        SANDBOX_HOST => Some(Environment::Sandbox),
        _ => None,
    };
    Ok(match apple {
        Some(environment) if environment != endpoint.environment() => {
            Endpoint::url(url, environment)?
        }
        _ => endpoint,
    })
}

fn notification(args: &SendArgs) -> Result<Notification> {
    let payload = match args.payload.strip_prefix('@') {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read the payload file {path}"))?
        }
        None => args.payload.clone().into_bytes(),
    };
    serde_json::from_slice::<serde_json::Value>(&payload).context(
        "the payload is not JSON (APNs needs a JSON object; use @FILE to read it from a file)",
    )?;
    let push_type = match &args.push_type {
        Some(text) => text.parse::<PushType>().map_err(|e| {
            let names = PushType::ALL.iter().map(|t| t.header_value());
            anyhow::anyhow!("--push-type: {e}{}", suggest::hint(text, names))
        })?,
        None if args.topic.ends_with(".voip") => PushType::Voip,
        None => PushType::Alert,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut builder = Notification::builder(push_type)
        .device_token(args.token.as_str())
        .topic(args.topic.as_str())
        .payload(payload);
    if let Some(priority) = args.priority {
        let priority = Priority::from_value(priority)
            .ok_or_else(|| anyhow::anyhow!("--priority must be 10, 5 or 1, not {priority}"))?;
        builder = builder.priority(priority);
    }
    let expiration = match args.expiration {
        Some(0) => Expiration::Immediately,
        Some(seconds) => Expiration::At(now + seconds),
        None if push_type == PushType::Voip => Expiration::Immediately,
        None => Expiration::None,
    };
    builder = builder.expiration(expiration);
    if let Some(id) = &args.apns_id {
        builder = builder.apns_id(id.as_str());
    }
    if let Some(collapse) = &args.collapse_id {
        builder = builder.collapse_id(collapse.as_str());
    }
    Ok(builder.build(now)?)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Where the push went, as a person names it: Apple's sandbox or production on the usual or the
/// alternative port, or any other server by its URL (whose tokens are the environment's given).
fn endpoint_label(endpoint: &Endpoint) -> String {
    let apple = match endpoint.host() {
        PRODUCTION_HOST => Some("production"),
        SANDBOX_HOST => Some("sandbox"),
        _ => None,
    };
    match (apple, endpoint.port(), endpoint.is_tls()) {
        (Some(environment), 443, true) => {
            format!("Apple's {environment} ({}:443)", endpoint.host())
        }
        (Some(environment), ALTERNATIVE_PORT, true) => format!(
            "Apple's {environment} ({}:{ALTERNATIVE_PORT}, the alternative port)",
            endpoint.host()
        ),
        _ => format!(
            "custom endpoint {} ({} tokens)",
            endpoint.base(),
            endpoint.environment()
        ),
    }
}

/// What to do about a server certificate the client refused, or `None` for any other failure.
fn untrusted(error: &SendError) -> Option<&'static str> {
    let SendError::Connect { message, .. } = error else {
        return None;
    };
    if message.contains("UnknownIssuer") || message.contains("unknown issuer") {
        Some(
            "the server's certificate is signed by a CA this machine does not trust: pass --ca \
             FILE with that CA's PEM (the emulator prints its CA file); resending will not help",
        )
    } else if message.contains("invalid peer certificate") {
        Some(
            "the server's certificate failed verification: check the --endpoint host name, or \
             pass --ca FILE with the CA that signed it; resending will not help",
        )
    } else {
        None
    }
}

/// A 410's `timestamp` (epoch ms): the date in UTC, and on this machine's clock when its zone
/// is known and is not UTC.
fn unregistered_since(ms: u64) -> String {
    let Ok(at) = i64::try_from(ms)
        .map_err(drop)
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).map_err(drop))
    else {
        return format!("timestamp {ms} ms (not a date)");
    };
    let utc = at.strftime("%Y-%m-%d %H:%M:%S%.3f UTC");
    let local = jiff::tz::TimeZone::try_system()
        .ok()
        .map(|zone| at.to_zoned(zone))
        .filter(|zoned| zoned.offset().seconds() != 0)
        .map(|zoned| format!(", {} local", zoned.strftime("%Y-%m-%d %H:%M:%S%.3f %:z")))
        .unwrap_or_default();
    format!("{utc}{local} (timestamp {ms} ms)")
}

fn print_human(result: &SendResult, endpoint: &Endpoint) {
    println!("{}", result.outcome);
    match &result.outcome {
        Outcome::Rejected {
            reason,
            timestamp_ms,
            ..
        } => {
            if let Some(ms) = timestamp_ms {
                println!(
                    "the token is no longer valid since {}",
                    unregistered_since(*ms)
                );
            }
            println!("what to do: {}", reason.action());
        }
        Outcome::Failed { error, .. } => {
            if let Some(action) = untrusted(error) {
                println!("what to do: {action}");
            }
        }
        Outcome::Accepted { .. } => {}
    }
    let t = &result.timings;
    println!(
        "to {}: connect {:.1} ms, round trip {:.1} ms, total {:.1} ms ({} attempt{})",
        endpoint_label(endpoint),
        ms(t.connect),
        ms(t.round_trip),
        ms(t.total),
        result.attempts,
        if result.attempts == 1 { "" } else { "s" }
    );
    if matches!(result.outcome, Outcome::Accepted { .. }) {
        println!(
            "accepted means APNs took it, not that the device got it (docs/reference/apns.md §4.1, §7)"
        );
    }
}

fn to_json(result: &SendResult, endpoint: &Endpoint, push: &Notification) -> serde_json::Value {
    let t = &result.timings;
    let mut out = json!({
        "outcome": result.outcome.label(),
        "endpoint": endpoint.base(),
        "endpoint_label": endpoint_label(endpoint),
        "environment": endpoint.environment().to_string(),
        "topic": push.topic(),
        "push_type": push.push_type().header_value(),
        "attempts": result.attempts,
        "connection_id": result.connection_id,
        "stream_id": result.stream_id,
        "timings_ms": {
            "queue": ms(t.queue),
            "connect": ms(t.connect),
            "round_trip": ms(t.round_trip),
            "total": ms(t.total),
        },
    });
    match &result.outcome {
        Outcome::Accepted {
            apns_id,
            apns_unique_id,
        } => {
            out["status"] = json!(200);
            out["apns_id"] = json!(apns_id.to_string());
            out["apns_unique_id"] = json!(apns_unique_id.map(|u| u.to_string()));
        }
        Outcome::Rejected {
            apns_id,
            status,
            reason,
            timestamp_ms,
        } => {
            out["status"] = json!(status);
            out["reason"] = json!(reason.as_str());
            out["meaning"] = json!(reason.meaning());
            out["action"] = json!(reason.action());
            out["timestamp_ms"] = json!(timestamp_ms);
            out["unregistered_since"] = json!(timestamp_ms.map(unregistered_since));
            out["apns_id"] = json!(apns_id.map(|a| a.to_string()));
        }
        Outcome::Failed { error, retryable } => {
            out["error"] = json!(error.to_string());
            out["retryable"] = json!(retryable);
            out["action"] = json!(untrusted(error));
            out["may_have_been_processed"] = json!(error.may_have_been_processed());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_follows_the_host_and_port() {
        let label = |e: Endpoint| endpoint_label(&e);
        assert_eq!(
            label(Endpoint::sandbox()),
            "Apple's sandbox (api.sandbox.push.apple.com:443)"
        );
        assert_eq!(
            label(Endpoint::production().with_port(ALTERNATIVE_PORT)),
            "Apple's production (api.push.apple.com:2197, the alternative port)"
        );
        // Apple's host named by URL takes its own environment, whatever --production says.
        let apple = custom_endpoint("https://api.push.apple.com:2197", false).unwrap();
        assert_eq!(apple.environment(), Environment::Production);
        assert_eq!(
            label(apple),
            "Apple's production (api.push.apple.com:2197, the alternative port)"
        );
        let odd_port = custom_endpoint("https://api.sandbox.push.apple.com:8443", false).unwrap();
        assert_eq!(
            label(odd_port),
            "custom endpoint https://api.sandbox.push.apple.com:8443 (sandbox tokens)"
        );
        let emulator = custom_endpoint("https://127.0.0.1:4443", true).unwrap();
        assert_eq!(
            label(emulator),
            "custom endpoint https://127.0.0.1:4443 (production tokens)"
        );
    }

    #[test]
    fn a_410_timestamp_reads_as_a_date() {
        let text = unregistered_since(1_779_288_420_000);
        assert!(
            text.starts_with("2026-05-20 14:47:00.000 UTC")
                && text.ends_with("(timestamp 1779288420000 ms)"),
            "{text}"
        );
        assert_eq!(
            unregistered_since(u64::MAX),
            format!("timestamp {} ms (not a date)", u64::MAX)
        );
    }
}
