//! The emulator's soak run (`benches/emulator_soak.sh`): one process serves an emulator, another
//! sends it pushes over TLS + HTTP/2 and pages through its admin API, reading the server's
//! resident memory from `/proc` as it goes.
//!
//! ```text
//! emulator_soak serve <dir> [--max-records N]     # writes <dir>/serve.json, runs until killed
//! emulator_soak drive <dir> [--pushes N] [--connections C] [--window W]
//! ```
//!
//! The emulator is the library's, with its defaults but for the per-token rate limit (off: the
//! run sends far more than 100 pushes per 10 s to each of its 100 devices).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use h2::client::SendRequest;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use pushtrace_apns::{DeviceToken, Environment, ProviderKey, ProviderToken, SigningKey};
use pushtrace_emulator::{AdminOptions, AdminToken, Emulator, Settings, TokenSource};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::task::JoinSet;

const TEST_P8: &str = include_str!("../../apns/testdata/test-AuthKey.p8");
const KEY_ID: &str = "TESTKEY001";
const TEAM_ID: &str = "TESTTEAM01";
const TOPIC: &str = "com.acme.call.voip";
const DEVICES: u64 = 100;
const ADMIN_SECRET: &str = "soak-admin-token-0123456789";

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode), Some(dir)) = (args.first(), args.get(1)) else {
        return Err(
            "usage: emulator_soak serve|drive <dir> [options] (see the file's docs)".into(),
        );
    };
    let dir = PathBuf::from(dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match mode.as_str() {
        "serve" => runtime.block_on(serve(&dir, option(&args, "--max-records")?)),
        "drive" => runtime.block_on(drive(
            &dir,
            option(&args, "--pushes")?.unwrap_or(200_000),
            option(&args, "--connections")?.unwrap_or(4),
            option(&args, "--window")?.unwrap_or(200),
        )),
        other => Err(format!("unknown mode {other:?}; use serve or drive").into()),
    }
}

fn option(args: &[String], name: &str) -> Result<Option<usize>, Failure> {
    let Some(at) = args.iter().position(|a| a == name) else {
        return Ok(None);
    };
    let value = args.get(at + 1).ok_or(format!("{name} needs a number"))?;
    Ok(Some(value.parse().map_err(|_| {
        format!("{name} {value:?} is not a number")
    })?))
}

fn device(n: u64) -> DeviceToken {
    DeviceToken::parse(&format!("{:064x}", n + 1)).expect("64 hex digits")
}

async fn serve(dir: &Path, max_records: Option<usize>) -> Result<(), Failure> {
    let key = SigningKey::from_p8_pem(TEST_P8)?;
    let mut settings = Settings {
        per_token_rate: None,
        ..Settings::default()
    };
    if let Some(max) = max_records {
        settings.delivery_log_max_records = (max > 0).then_some(max);
    }
    let mut builder = Emulator::builder()
        .key(KEY_ID, ProviderKey::new(TEAM_ID, key.verifying_key()))
        .settings(settings)
        .ca_pem_path(dir.join("ca.pem"))
        .admin(AdminOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: AdminToken::new(ADMIN_SECRET, TokenSource::Generated)?,
        });
    for n in 0..DEVICES {
        builder = builder.device(Environment::Sandbox, TOPIC, device(n));
    }
    let emulator = builder.start().await?;
    let info = json!({
        "pid": std::process::id(),
        "sandbox": emulator.addr(Environment::Sandbox).to_string(),
        "admin": emulator.admin_addr().map(|a| a.to_string()),
        "max_records": emulator.settings().delivery_log_max_records,
    });
    // Written whole, then renamed, so the driver never reads half a file.
    std::fs::write(dir.join("serve.json.tmp"), info.to_string())?;
    std::fs::rename(dir.join("serve.json.tmp"), dir.join("serve.json"))?;
    std::future::pending::<()>().await;
    Ok(())
}

/// Resident memory of a process from `/proc/<pid>/status`, KiB: (now, peak).
fn rss_kib(pid: u64) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

async fn connect(addr: &str, ca_pem: &str) -> Result<SendRequest<Bytes>, Failure> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let tls = connector
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    let (client, connection) = h2::client::handshake(tls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// One push; its status.
async fn push(client: SendRequest<Bytes>, authorization: Arc<str>, n: u64) -> Result<u16, Failure> {
    let payload = format!(
        r#"{{"aps":{{}},"push_id":"soak-{n:08}","call_id":"call-{n:08}","caller":"Ann Example","receipt_token":"rt-{n:016x}"}}"#
    );
    let request = http::Request::builder()
        .method("POST")
        .uri(format!(
            "https://localhost/3/device/{}",
            device(n % DEVICES)
        ))
        .header("authorization", authorization.as_ref())
        .header("apns-push-type", "voip")
        .header("apns-topic", TOPIC)
        .header("apns-priority", "10")
        .header("apns-expiration", "0")
        .body(())?;
    let mut client = client.ready().await?;
    let (response, mut body) = client.send_request(request, false)?;
    body.send_data(Bytes::from(payload), true)?;
    let (parts, mut answer) = response.await?.into_parts();
    while let Some(chunk) = answer.data().await {
        let chunk = chunk?;
        let _ = answer.flow_control().release_capacity(chunk.len());
    }
    Ok(parts.status.as_u16())
}

/// Sends pushes `from..to` on one connection, `window` at a time; how many were answered 200.
async fn send_range(
    client: SendRequest<Bytes>,
    authorization: Arc<str>,
    from: u64,
    to: u64,
    window: usize,
) -> Result<u64, Failure> {
    // The first push alone: until a valid token, a connection takes one stream at a time.
    let mut accepted =
        u64::from(push(client.clone(), Arc::clone(&authorization), from).await? == 200);
    let mut inflight = JoinSet::new();
    for n in from + 1..to {
        if inflight.len() >= window
            && let Some(done) = inflight.join_next().await
        {
            accepted += u64::from(done?? == 200);
        }
        inflight.spawn(push(client.clone(), Arc::clone(&authorization), n));
    }
    while let Some(done) = inflight.join_next().await {
        accepted += u64::from(done?? == 200);
    }
    Ok(accepted)
}

/// Pages through one admin list with `limit=1000`: (items, pages, largest page in bytes,
/// distinct `apns_id`s).
async fn page_through(
    admin: &Client<HttpConnector, Empty<Bytes>>,
    base: &str,
    list: &str,
) -> Result<(usize, usize, usize, usize), Failure> {
    let (mut items, mut pages, mut largest) = (0, 0, 0);
    let mut ids = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let mut uri = format!("{base}/v1/{list}?limit=1000");
        if let Some(after) = &after {
            uri.push_str(&format!("&after={after}"));
        }
        let request = http::Request::get(uri)
            .header("authorization", format!("Bearer {ADMIN_SECRET}"))
            .body(Empty::new())?;
        let response = admin.request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            return Err(format!("GET /v1/{list}: {status}").into());
        }
        largest = largest.max(bytes.len());
        let page: Value = serde_json::from_slice(&bytes)?;
        let got = page[list].as_array().ok_or("no list in the answer")?;
        items += got.len();
        ids.extend(
            got.iter()
                .filter_map(|i| i["apns_id"].as_str().map(str::to_owned)),
        );
        pages += 1;
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return Ok((items, pages, largest, ids.len())),
        }
    }
}

async fn drive(
    dir: &Path,
    pushes: usize,
    connections: usize,
    window: usize,
) -> Result<(), Failure> {
    let info: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("serve.json"))?)?;
    let pid = info["pid"].as_u64().ok_or("no pid")?;
    let sandbox = info["sandbox"]
        .as_str()
        .ok_or("no sandbox address")?
        .to_owned();
    let base = format!(
        "http://{}",
        info["admin"].as_str().ok_or("no admin address")?
    );
    let ca_pem = std::fs::read_to_string(dir.join("ca.pem"))?;
    let now_secs = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let authorization: Arc<str> = ProviderToken::sign(
        &SigningKey::from_p8_pem(TEST_P8)?,
        KEY_ID,
        TEAM_ID,
        now_secs,
    )?
    .authorization()
    .into();
    let admin: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();

    // Resident memory, sampled every 100 ms while the run lasts.
    let peak_sampled = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak = Arc::clone(&peak_sampled);
        tokio::spawn(async move {
            loop {
                if let Some((now, _)) = rss_kib(pid) {
                    peak.fetch_max(now, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let (start_rss, _) = rss_kib(pid).ok_or("cannot read the server's /proc status")?;

    // Two halves: the second one sent while the lists are paged through.
    let started = Instant::now();
    let total = pushes as u64;
    let half = total / 2;
    let mut accepted = 0;
    let mut during = None;
    for (from, to) in [(0, half), (half, total)] {
        let mut senders = JoinSet::new();
        let per = (to - from).div_ceil(connections as u64);
        for c in 0..connections as u64 {
            let (a, b) = (from + c * per, (from + (c + 1) * per).min(to));
            if a >= b {
                continue;
            }
            let client = connect(&sandbox, &ca_pem).await?;
            senders.spawn(send_range(client, Arc::clone(&authorization), a, b, window));
        }
        if from > 0 {
            let paged = Instant::now();
            let pushes = page_through(&admin, &base, "pushes").await?;
            let deliveries = page_through(&admin, &base, "deliveries").await?;
            during = Some((pushes, deliveries, paged.elapsed()));
        }
        while let Some(done) = senders.join_next().await {
            accepted += done??;
        }
    }
    let sent_in = started.elapsed();
    let paged = Instant::now();
    let pushes_after = page_through(&admin, &base, "pushes").await?;
    let deliveries_after = page_through(&admin, &base, "deliveries").await?;
    let paged_in = paged.elapsed();
    sampler.abort();
    let (end_rss, peak_rss) = rss_kib(pid).ok_or("cannot read the server's /proc status")?;
    let peak_rss = peak_rss.max(peak_sampled.load(Ordering::Relaxed));

    let mib = |kib: u64| kib as f64 / 1024.0;
    let (during_pushes, during_deliveries, during_time) = during.ok_or("no paging ran")?;
    let report = json!({
        "pushes_sent": total,
        "accepted": accepted,
        "connections": connections,
        "window": window,
        "send_seconds": sent_in.as_secs_f64(),
        "pushes_per_second": total as f64 / sent_in.as_secs_f64(),
        "max_records": info["max_records"],
        "paged_while_sending": {
            "pushes": during_pushes.0, "pushes_pages": during_pushes.1,
            "deliveries": during_deliveries.0, "deliveries_pages": during_deliveries.1,
            "largest_page_bytes": during_pushes.2.max(during_deliveries.2),
            "seconds": during_time.as_secs_f64(),
        },
        "paged_after": {
            "pushes": pushes_after.0, "distinct_pushes": pushes_after.3, "pushes_pages": pushes_after.1,
            "deliveries": deliveries_after.0, "distinct_deliveries": deliveries_after.3,
            "deliveries_pages": deliveries_after.1,
            "largest_page_bytes": pushes_after.2.max(deliveries_after.2),
            "seconds": paged_in.as_secs_f64(),
        },
        "server_rss_mib": { "start": mib(start_rss), "end": mib(end_rss), "peak": mib(peak_rss) },
    });
    println!("{report}");
    Ok(())
}
