//! `pushtrace serve --config FILE`: run the call gateway (HTTP API, call engine, worker) until
//! Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use pushtrace_gateway::GatewayConfig;
use serde_json::json;

use crate::stop_signals::StopSignals;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The gateway's config (docs/gateway.md): listen address, store, secrets, and one
    /// [[apps]] section per calling app with its .p8 key and call policy.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,

    /// Print one JSON line (address, store, instance, apps) once serving, instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let config = GatewayConfig::from_file(&args.config)?;
    crate::subscriber::init_from(&config.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let stop = StopSignals::install()?;
        let handle = pushtrace_gateway::start(&config).await?;
        let store = handle.engine.store().backend().to_string();
        let apps: Vec<_> = config
            .apps
            .iter()
            .map(|a| {
                json!({
                    "name": a.name,
                    "bundle_id": a.bundle_id,
                    "environment": a.environment.as_str(),
                    "endpoint": a.endpoint,
                })
            })
            .collect();
        if args.json {
            println!(
                "{}",
                json!({
                    "url": format!("http://{}", handle.addr),
                    "addr": handle.addr.to_string(),
                    "store": store,
                    "store_target": pushtrace_gateway::redact(&config.store),
                    "instance": handle.engine.instance(),
                    "apps": apps,
                    "ephemeral_receipt_key": handle.ephemeral_receipt_key,
                })
            );
        } else {
            println!("pushtrace gateway on http://{}", handle.addr);
            println!(
                "  store     {store} ({})",
                pushtrace_gateway::redact(&config.store)
            );
            println!("  instance  {}", handle.engine.instance());
            for app in &config.apps {
                println!(
                    "  app       {} ({}, {}) → {}",
                    app.name,
                    app.bundle_id,
                    app.environment.as_str(),
                    app.endpoint.as_deref().unwrap_or("Apple")
                );
            }
            println!("  Ctrl-C to stop");
        }
        // In the log as well as on stdout: the log is what a pipeline keeps.
        tracing::info!(
            addr = %handle.addr,
            store = %store,
            instance = %handle.engine.instance(),
            apps = config.apps.len(),
            "serving"
        );
        if handle.ephemeral_receipt_key {
            tracing::warn!(
                "no receipt key (receipt_key_file or {}): a random one is used, so receipts for pushes sent before a restart, or by another instance, will be refused",
                pushtrace_gateway::config::RECEIPT_KEY_ENV
            );
        }
        let signal = stop.wait().await;
        tracing::info!(
            signal = signal.name(),
            "stopping: no new requests; jobs and webhook deliveries in flight are taken over when their leases lapse"
        );
        let instance = handle.engine.instance().to_owned();
        handle.shutdown().await;
        tracing::info!(instance = %instance, "stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
