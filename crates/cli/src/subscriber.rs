//! Where the libraries' `tracing` events go: stderr, as text or JSON lines, filtered by level.
//!
//! Every verb but `serve` writes warnings and errors as text (a job the gateway will retry, a
//! receipt the emulator's hook lost). `serve` takes format and level from its config's `[log]`
//! section, because an on-call engineer reads its log, or a pipeline parses it. `RUST_LOG`,
//! when set, replaces the level either way, with tracing's filter syntax
//! (`info,pushtrace_gateway::webhooks=debug`). `demo` writes them to a file of its folder: its
//! progress lines are the console's.

use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use pushtrace_gateway::logging::{LogConfig, LogFormat};
use tracing_subscriber::EnvFilter;

/// The variable whose filter replaces the configured level.
const FILTER_ENV: &str = "RUST_LOG";

/// Warnings and errors as text, or what `RUST_LOG` asks for.
pub fn init_default() -> Result<()> {
    init(LogFormat::Text, "warn")
}

/// The gateway's `[log]` section, or `RUST_LOG` for the level.
pub fn init_from(config: &LogConfig) -> Result<()> {
    init(config.format, &config.level)
}

/// Warnings and errors as text into `path` (created or truncated), or what `RUST_LOG` asks for.
pub fn init_to_file(path: &Path) -> Result<()> {
    let file = std::fs::File::create(path)
        .with_context(|| format!("cannot create the log file {}", path.display()))?;
    let _ = tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(filter("warn")?)
        .try_init();
    Ok(())
}

fn filter(level: &str) -> Result<EnvFilter> {
    Ok(match std::env::var(FILTER_ENV) {
        Ok(directives) if !directives.trim().is_empty() => {
            match EnvFilter::builder().parse(&directives) {
                Ok(filter) => filter,
                Err(e) => bail!(
                    "{FILTER_ENV}={directives:?} is not a tracing filter ({e}); write a level \
                     (warn, info, debug…) or directives such as info,pushtrace_gateway=debug, \
                     or unset it"
                ),
            }
        }
        _ => EnvFilter::new(level),
    })
}

fn init(format: LogFormat, level: &str) -> Result<()> {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter(level)?);
    // A second call (a test running two verbs in one process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        // One object a line with the event's fields at the top level beside timestamp, level,
        // target and message: what log pipelines (Loki, Datadog, jq) index without a mapping.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
    Ok(())
}
