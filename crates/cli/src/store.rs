//! `pushtrace store export|import|rollup`: the gateway's store as push records.
//!
//! `export` writes what the gateway traced as `PushRecord` JSONL (docs/formats.md), the input
//! `pushtrace diagnose --pushes` reads, so a late ring the gateway saw can be explained from the
//! iPhone's log. `import` loads pushes any server exported into the store; `rollup` computes a
//! day's per-cohort counts.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use pushtrace_diagnose::PushReader;
use pushtrace_model::parse_push_time;
use pushtrace_store::{Store, StoreBuilder};

#[derive(Args, Debug)]
pub struct StoreArgs {
    #[command(subcommand)]
    pub command: StoreCommand,
}

/// Where the store is.
#[derive(Args, Debug)]
pub struct StoreTarget {
    /// `pushtrace.db`, `sqlite:PATH` or `postgres://…` (the gateway config's `store`; default
    /// `pushtrace.db`). An SQLite file must exist: `pushtrace serve` creates it.
    #[arg(long, value_name = "URL", conflicts_with = "config")]
    pub store: Option<String>,
    /// PostgreSQL only: the schema (the gateway config's `store_schema`).
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    pub schema: Option<String>,
    /// Use the store of this gateway config (its `store` and `store_schema`, relative paths
    /// from the config's folder): the one `pushtrace serve --config FILE` writes.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Write the traced pushes as PushRecord JSONL (stdout or -o FILE).
    Export {
        #[command(flatten)]
        target: StoreTarget,
        /// Only this app's pushes.
        #[arg(long)]
        app: Option<String>,
        /// Only pushes queued at or after this time (RFC 3339 or epoch ms).
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Only pushes queued before this time (RFC 3339 or epoch ms).
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
        /// Write here instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Load push records (JSONL or CSV, plain or .gz; docs/formats.md) as an app's pushes.
    Import {
        #[command(flatten)]
        target: StoreTarget,
        /// The app they belong to.
        #[arg(long)]
        app: String,
        /// The pushes file.
        file: PathBuf,
    },
    /// Compute one UTC day's rollups per cohort and print them.
    Rollup {
        #[command(flatten)]
        target: StoreTarget,
        /// The day, YYYY-MM-DD (UTC).
        #[arg(long)]
        day: String,
        /// Only this app's rows.
        #[arg(long)]
        app: Option<String>,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
}

async fn open(target: &StoreTarget) -> Result<Store> {
    let (url, schema) = match &target.config {
        Some(path) => {
            let config = pushtrace_gateway::GatewayConfig::from_file(path)?;
            (config.store, config.store_schema)
        }
        None => (
            target
                .store
                .clone()
                .unwrap_or_else(|| pushtrace_gateway::config::DEFAULT_STORE.to_owned()),
            target.schema.clone(),
        ),
    };
    let shown = pushtrace_gateway::redact(&url);
    // Opening an SQLite path creates the file: a mistyped path would show an empty store (or
    // take an import) instead of the gateway's. Only `serve` creates a store.
    if let Some(path) = sqlite_file(&url)
        && !path.exists()
    {
        bail!(
            "no store at {}: pushtrace serve creates it; give the gateway's database with --store \
             PATH, or --config gateway.toml to use the store that config names",
            path.display()
        );
    }
    let opened = match &schema {
        Some(schema) => StoreBuilder::postgres(&url).schema(schema).open().await,
        None => Store::open(&url).await,
    };
    opened.with_context(|| format!("store {shown}"))
}

/// The file an SQLite store URL names (`sqlite:PATH` or a bare path); None for PostgreSQL and
/// for memory.
fn sqlite_file(url: &str) -> Option<&std::path::Path> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return None;
    }
    let path = url.strip_prefix("sqlite:").unwrap_or(url);
    (path != ":memory:").then_some(std::path::Path::new(path))
}

fn time(flag: &str, text: &Option<String>) -> Result<Option<pushtrace_model::Timestamp>> {
    text.as_deref()
        .map(|t| parse_push_time(t).map_err(|e| anyhow::anyhow!("{flag}: {e}")))
        .transpose()
}

pub fn run(args: StoreArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match args.command {
            StoreCommand::Export {
                target,
                app,
                from,
                to,
                output,
            } => {
                let (from, to) = (time("--from", &from)?, time("--to", &to)?);
                let store = open(&target).await?;
                let records = store.export_push_records(app.as_deref(), from, to).await?;
                let sink: Box<dyn Write> = match &output {
                    Some(path) => Box::new(std::fs::File::create(path).with_context(|| {
                        format!("cannot create {}", path.display())
                    })?),
                    None => Box::new(io::stdout().lock()),
                };
                let mut sink = BufWriter::new(sink);
                for record in &records {
                    serde_json::to_writer(&mut sink, record)?;
                    sink.write_all(b"\n")?;
                }
                match sink.flush() {
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                    other => other?,
                }
                eprintln!("exported {} push record(s)", records.len());
            }
            StoreCommand::Import { target, app, file } => {
                let read = PushReader::builder().build().read(&file)?;
                eprint!(
                    "{}",
                    pushtrace_model::terminal::escape_lines(&read.summary.to_string())
                );
                let records: Vec<_> = read.pushes.into_iter().map(|p| p.record).collect();
                if records.is_empty() {
                    bail!("{}: no push record to import", file.display());
                }
                let store = open(&target).await?;
                let (inserted, skipped) = store.import_push_records(&app, &records).await?;
                eprintln!(
                    "imported {inserted} push record(s) into app {app:?}; {skipped} already there (same push_id) skipped"
                );
            }
            StoreCommand::Rollup {
                target,
                day,
                app,
                json,
            } => {
                let store = open(&target).await?;
                store.rollup_day(&day).await?;
                let rows = store.rollups(app.as_deref(), &day, &day).await?;
                let mut out = io::stdout().lock();
                if json {
                    for row in &rows {
                        serde_json::to_writer(&mut out, row)?;
                        writeln!(out)?;
                    }
                } else {
                    writeln!(
                        out,
                        "{:<10} {:<12} {:<28} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}",
                        "day", "app", "cohort", "pushes", "accepted", "rejected", "received", "late", "mean"
                    )?;
                    for r in &rows {
                        let mean = r
                            .latency_ms_sum
                            .checked_div(r.received)
                            .map_or_else(|| "—".into(), |ms| format!("{ms}ms"));
                        writeln!(
                            out,
                            "{:<10} {:<12} {:<28} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}",
                            r.day,
                            r.app,
                            pushtrace_model::terminal::escape(&format!(
                                "{}={}",
                                r.cohort_key, r.cohort_value
                            )),
                            r.pushes,
                            r.accepted,
                            r.rejected,
                            r.received,
                            r.received_late,
                            mean
                        )?;
                    }
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
