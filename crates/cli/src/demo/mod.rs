//! `pushtrace demo`: every part of pushtrace working together on one machine, offline.
//!
//! In this one process: the APNs emulator (TLS + HTTP/2 on loopback), the call gateway on a
//! SQLite store in a temporary folder, and a fleet of simulated phones played live by the lab
//! (`pushtrace_lab::live`): the model sets each emulator device online, offline or
//! power-restricted as its phone would be, rings its calls through the gateway's HTTP API, and
//! posts its app's receipts when the emulator delivers. Then the folder: each call's timeline,
//! the phones' logs, `diagnose` reports and bundles for the failed calls, the `fleet` report,
//! and an `index.html` that links them. Everything it started (listeners, tasks, the temporary
//! folder) is gone when it returns, Ctrl-C included.

mod folder;
mod phones;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use pushtrace_apns::Environment;
use pushtrace_emulator::{EmulatorConfig, KeyConfig, ScopeName};
use pushtrace_gateway::GatewayConfig;
use pushtrace_lab::live::{self, GatewayClient, LiveHook, LiveOptions, Progress};
use serde_json::Value;

use crate::stop_signals::StopSignals;

const KEY_ID: &str = "DEMOKEY001";
const TEAM_ID: &str = "DEMOTEAM01";
const APP: &str = "acme";

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Write the demo's folder here (default: pushtrace-demo-<UTC time> in the current folder).
    /// It must not exist, or be empty.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// How long calls are rung, in seconds (5 to 600); the run then waits for the last calls'
    /// deadlines.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(5..=600))]
    pub seconds: u64,

    /// How many simulated phones (5 to 5000): four with a story, the rest ordinary.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(5..=5000))]
    pub phones: u32,

    /// Print one JSON object (the folder, counts, failed calls) instead of the summary.
    #[arg(long)]
    pub json: bool,
}

/// What the live part produced, handed to the folder writer.
pub struct Ran {
    pub devices: Arc<Vec<live::LiveDevice>>,
    pub report: live::LiveReport,
    /// Each call's gateway timeline, by the driver's client call id.
    pub timelines: Vec<(String, Value)>,
    pub records: Vec<pushtrace_model::PushRecord>,
    pub timing: phones::Timing,
    pub elapsed: Duration,
}

pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => PathBuf::from(format!(
            "pushtrace-demo-{}",
            jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S")
        )),
    };
    if std::fs::read_dir(&out).is_ok_and(|mut entries| entries.next().is_some()) {
        bail!(
            "--out {}: the folder exists and is not empty; choose a new folder or empty it",
            out.display()
        );
    }
    let work = tempfile::Builder::new()
        .prefix("pushtrace-demo-")
        .tempdir()
        .context("cannot create the demo's temporary folder")?;
    // The gateway's warnings (a 410 for the stale token, a job retried) would cut through the
    // progress lines; they go to a file the folder keeps.
    let log = work.path().join(LOG_FILE);
    crate::subscriber::init_to_file(&log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let ran: Result<Option<Ran>> = runtime.block_on(async {
        let stop = StopSignals::install()?;
        tokio::select! {
            ran = live_part(&args, work.path()) => ran.map(Some),
            _ = stop.wait() => {
                eprintln!("\nstopped: every listener and the temporary folder are removed, no folder written");
                Ok(None)
            }
        }
    });
    // Shutting the runtime down ends every task it still runs (listeners, the driver, the
    // gateway's worker): their ports close here, whatever happened.
    runtime.shutdown_timeout(Duration::from_secs(2));
    let Some(ran) = ran? else {
        drop(work);
        return Ok(ExitCode::from(130));
    };
    let written = folder::write_folder(&out, &ran)?;
    let logged = keep_log(&log, &out.join(LOG_FILE))?;
    drop(work);
    if args.json {
        let mut json = written.json(&out, &ran);
        json["log"] = serde_json::json!({
            "file": out.join(LOG_FILE).display().to_string(),
            "lines": logged,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", written.summary(&out, &ran));
        if logged > 0 {
            println!(
                "  {logged} warning line(s) logged (gateway, emulator): {}",
                out.join(LOG_FILE).display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The file of the demo's folder that holds what the libraries logged.
const LOG_FILE: &str = "warnings.log";

/// Copies the run's log into the folder; answers how many lines it holds.
fn keep_log(from: &Path, to: &Path) -> Result<usize> {
    let text = std::fs::read_to_string(from)
        .with_context(|| format!("cannot read the run's log {}", from.display()))?;
    write(to, &text)?;
    Ok(text.lines().count())
}

/// A secret for this run only: the demo's listeners are on loopback and gone when it ends.
fn secret() -> String {
    (0..4)
        .map(|_| format!("{:016x}", RandomState::new().build_hasher().finish()))
        .collect()
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

async fn live_part(args: &DemoArgs, work: &Path) -> Result<Ran> {
    let began = Instant::now();
    eprintln!(
        "pushtrace demo: {} phones, calls for {} s",
        args.phones, args.seconds
    );

    // The provider key the gateway signs with and the emulator trusts.
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| anyhow!("cannot generate the demo's ES256 key: {e}"))?;
    let key_file = work.join(format!("AuthKey_{KEY_ID}.p8"));
    write(&key_file, &pair.serialize_pem())?;
    let ca_file = work.join("emulator-ca.pem");

    let config = EmulatorConfig {
        ca_pem_path: Some(ca_file.clone()),
        keys: vec![KeyConfig {
            key_id: KEY_ID.into(),
            team_id: TEAM_ID.into(),
            key_file: key_file.clone(),
            scope: ScopeName::Both,
            related_key_id: None,
        }],
        ..EmulatorConfig::default()
    };
    let (hook, deliveries) = LiveHook::channel();
    let emulator = config
        .into_builder()
        .context("the demo's emulator config")?
        .delivery_hook(hook)
        .start()
        .await
        .context("cannot start the emulator")?;
    let apns = emulator.addr(Environment::Sandbox);
    eprintln!("  emulator  https://{apns} (sandbox)");

    let api_token = secret();
    write(&work.join("api-token"), &api_token)?;
    write(&work.join("receipt-key"), &secret())?;
    // Time to plan and register every phone before the model's first event.
    let lead = 3 + u64::from(args.phones) / 500;
    let timing = phones::Timing::new(args.seconds, start_micros(lead));
    let gateway_toml = format!(
        r#"listen = "127.0.0.1:0"
store = "{store}"
api_token_file = "{work}/api-token"
receipt_key_file = "{work}/receipt-key"
poll_interval_ms = 50

[[apps]]
name = "{APP}"
bundle_id = "{bundle}"
environment = "sandbox"
key_file = "{key}"
key_id = "{KEY_ID}"
team_id = "{TEAM_ID}"
endpoint = "https://{apns}"
ca_file = "{ca}"
max_in_flight = 1000
call_window_secs = {window}
expiration = "2592000s"
"#,
        bundle = phones::BUNDLE,
        store = work.join("gateway.db").display(),
        work = work.display(),
        key = key_file.display(),
        ca = ca_file.display(),
        window = timing.ring_window,
    );
    let gateway_path = work.join("gateway.toml");
    write(&gateway_path, &gateway_toml)?;
    let config = GatewayConfig::from_toml(&gateway_toml, &gateway_path)?;
    let gateway = pushtrace_gateway::start(&config)
        .await
        .context("cannot start the gateway")?;
    let base = format!("http://{}", gateway.addr);
    eprintln!("  gateway   {base} (SQLite in a temporary folder)");

    let devices = Arc::new(phones::plan(&timing, args.phones)?);
    let planned: usize = devices.iter().map(|d| d.run.pushes.len()).sum();
    eprintln!(
        "  phones    {} simulated, {planned} calls planned",
        devices.len()
    );

    let client = GatewayClient::new(&base, &api_token, APP);
    let options = LiveOptions {
        speed: 1.0,
        model_start: timing.start.utc_micros(),
        wall_start_ms: timing.start.utc_micros() / 1000,
        environment: Environment::Sandbox,
        caller: "demo-caller".into(),
        grace: Duration::from_secs(timing.ring_window + 2),
    };
    let progress = Arc::new(Progress::default());
    let ticker = tokio::spawn(show_progress(
        Arc::clone(&progress),
        timing.start.utc_micros() / 1000,
        args.seconds + timing.ring_window + 2,
    ));
    let report = live::run(
        &emulator,
        &client,
        deliveries,
        Arc::clone(&devices),
        &options,
        Arc::clone(&progress),
    )
    .await;
    ticker.abort();
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    let report = report?;

    eprintln!("  reading   {} call timelines", report.calls.len());
    let mut timelines = Vec::new();
    for call in &report.calls {
        if let Some(id) = &call.call_id {
            let timeline = client.call_timeline(id).await?;
            timelines.push((call.client_call_id.clone(), timeline));
        }
    }
    let records = gateway
        .engine
        .store()
        .export_push_records(Some(APP), None, None)
        .await
        .context("cannot export the gateway's push records")?;
    gateway.shutdown().await;
    emulator.shutdown();
    Ok(Ran {
        devices,
        report,
        timelines,
        records,
        timing,
        elapsed: began.elapsed(),
    })
}

/// Wall-clock µs `lead` seconds from now, on a whole millisecond: the model's start, leaving
/// time to register every phone before the first event.
fn start_micros(lead: u64) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    (now + lead as i64 * 1000) * 1000
}

/// A progress line on stderr: redrawn each second on a terminal, else one line every 5 s.
async fn show_progress(progress: Arc<Progress>, start_ms: i64, total: u64) {
    let terminal = std::io::stderr().is_terminal();
    let mut ticks = 0u64;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        ticks += 1;
        if !terminal && !ticks.is_multiple_of(5) {
            continue;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let elapsed = ((now - start_ms).max(0) / 1000) as u64;
        let read = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let line = format!(
            "  live      {elapsed:>3}/{total} s  calls {}  deliveries {}  receipts {}  state changes {}",
            read(&progress.calls),
            read(&progress.deliveries),
            read(&progress.receipts),
            read(&progress.state_changes),
        );
        if terminal {
            eprint!("\r{line}   ");
        } else {
            eprintln!("{line}");
        }
    }
}
