//! `pushtrace fleet`: what happened to every push a service sent, and what makes the failing
//! ones different. The counting and the statistics live in `pushtrace-fleet`; this module
//! reads the inputs (files, a store, an aggregates file), draws progress and writes the reports.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget};
use pushtrace_fleet::{
    Aggregates, AnalysisOptions, BuildOptions, OutcomeRules, Report, Table, aggregates_file,
    analyze, build,
};
use pushtrace_model::parse_push_time;
use pushtrace_records::{ReadSummary, RecordReader};

use crate::clock_args::parse_duration;
use crate::progress::{bytes_style, spinner};

#[derive(Args, Debug)]
pub struct FleetArgs {
    /// Push record files: JSONL or CSV (plain or .gz) or Parquet (docs/formats.md); `-` reads
    /// standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Read the gateway's store instead: `pushtrace.db`, `sqlite:PATH` or `postgres://…`.
    /// With PostgreSQL the counting runs inside the database and only aggregates leave it.
    #[arg(long, value_name = "URL", conflicts_with = "aggregates")]
    pub store: Option<String>,
    /// PostgreSQL only: the store's schema.
    #[arg(long, value_name = "NAME", requires = "store")]
    pub schema: Option<String>,
    /// Only this app's pushes (with --store).
    #[arg(long, requires = "store")]
    pub app: Option<String>,
    /// Only pushes sent at or after this time (RFC 3339, or a date: 2026-03-01).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Only pushes sent before this time.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Read an aggregates file (docs/fleet.md) a warehouse or `--write-aggregates` wrote.
    #[arg(long, value_name = "FILE", conflicts_with = "files")]
    pub aggregates: Option<PathBuf>,
    /// Also write the aggregates this run counted, for another run or another engine.
    #[arg(long, value_name = "FILE")]
    pub write_aggregates: Option<PathBuf>,
    /// For a push without a deadline: a receipt this soon after the send is on time.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub on_time_within: String,
    /// Count pushes APNs accepted and no receipt came back for as failures (receipts are lossy:
    /// off by default).
    #[arg(long)]
    pub no_receipt_is_failure: bool,
    /// A cohort needs at least this share of all failures to be tested.
    #[arg(long, value_name = "SHARE", default_value_t = 0.005)]
    pub min_support: f64,
    /// … and at least this many failures.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub min_failures: u64,
    /// Largest combination of attribute values compared (1 to 3; 1 counts single values only,
    /// the fastest run).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub max_combination: u8,
    /// … and at least this many distinct failing devices.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub min_devices: u64,
    /// Smallest risk ratio (cohort vs the rest) reported.
    #[arg(long, value_name = "RATIO", default_value_t = 1.5)]
    pub min_risk_ratio: f64,
    /// False discovery rate (Benjamini–Hochberg).
    #[arg(long, value_name = "RATE", default_value_t = 0.05)]
    pub fdr: f64,
    /// Print the report as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Write the report as Markdown (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write the report as one self-contained HTML file with charts.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Stop at the first bad record instead of skipping and counting it.
    #[arg(long)]
    pub strict: bool,
    /// No progress bars.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: FleetArgs) -> Result<ExitCode> {
    let rules = OutcomeRules {
        on_time_within_micros: parse_duration("--on-time-within", &args.on_time_within)?,
        no_receipt_is_failure: args.no_receipt_is_failure,
    };
    check_share("--min-support", args.min_support)?;
    check_share("--fdr", args.fdr)?;
    if !(args.min_risk_ratio.is_finite() && args.min_risk_ratio >= 1.0) {
        bail!(
            "--min-risk-ratio {}: expected a ratio of 1 or more",
            args.min_risk_ratio
        );
    }
    let build_options = BuildOptions {
        min_support: args.min_support,
        min_failures: args.min_failures,
        max_combination: usize::from(args.max_combination),
    };
    let from = args
        .from
        .as_deref()
        .map(|t| instant("--from", t))
        .transpose()?;
    let to = args.to.as_deref().map(|t| instant("--to", t)).transpose()?;
    let mut notes = Vec::new();
    let aggregates = if let Some(path) = &args.aggregates {
        if from.is_some() || to.is_some() {
            bail!("--from/--to cannot narrow an aggregates file: its days are already counted");
        }
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        aggregates_file::read(&path.display().to_string(), BufReader::new(file))?
    } else if let Some(url) = &args.store {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // Counted inside PostgreSQL: only aggregates leave the database.
            let spinner = spinner(args.quiet, "counting in PostgreSQL");
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let aggregates = runtime.block_on(async {
                let mut client =
                    pushtrace_fleet::pushdown::connect(url, args.schema.as_deref()).await?;
                pushtrace_fleet::pushdown::aggregate_postgres(
                    &mut client,
                    args.app.as_deref(),
                    from,
                    to,
                    &rules,
                    &build_options,
                )
                .await
            })?;
            spinner.finish_and_clear();
            aggregates
        } else {
            let table = store_table(url, args.app.as_deref(), from, to, rules)?;
            counted(&table, &build_options, &mut notes, args.quiet)
        }
    } else {
        if args.files.is_empty() {
            bail!(
                "no input: give push record files (JSONL, CSV or Parquet), --store URL, or \
                 --aggregates FILE (see `pushtrace fleet --help`)"
            );
        }
        let table = read_files(&args, rules, from, to, &mut notes)?;
        counted(&table, &build_options, &mut notes, args.quiet)
    };
    if let Some(path) = &args.write_aggregates {
        let mut out = BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        );
        aggregates_file::write(&aggregates, &mut out)
            .and_then(|()| out.flush())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let options = AnalysisOptions {
        min_devices: args.min_devices,
        min_risk_ratio: args.min_risk_ratio,
        fdr: args.fdr,
        ..AnalysisOptions::default()
    };
    let spinner = spinner(args.quiet, "analysing");
    let mut report = analyze(&aggregates, &options);
    spinner.finish_and_clear();
    report.notes.extend(notes);
    write_reports(&args, &report)?;
    Ok(ExitCode::SUCCESS)
}

fn check_share(flag: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && (0.0..=1.0).contains(&value)) {
        bail!("{flag} {value}: expected a share between 0 and 1");
    }
    Ok(())
}

/// A time bound: RFC 3339, the log form, or a UTC date (`2026-03-01` = its midnight).
fn instant(flag: &str, text: &str) -> Result<i64> {
    if text.len() == 10
        && let Ok(day) = pushtrace_fleet::aggregates_file::parse_day(text)
    {
        return Ok(i64::from(day) * 86_400_000_000);
    }
    parse_push_time(text).map(|t| t.utc_micros()).map_err(|e| {
        anyhow::anyhow!(
            "{flag} {text}: {e}; expected a date (2026-03-01) or a time (2026-03-01T12:00:00Z)"
        )
    })
}

fn counted(
    table: &Table,
    options: &BuildOptions,
    notes: &mut Vec<String>,
    quiet: bool,
) -> Aggregates {
    let (outside, out_of_range) = table.left_out();
    if outside > 0 {
        notes.push(format!(
            "{outside} pushes sent outside --from/--to were left out"
        ));
    }
    if out_of_range > 0 {
        notes.push(format!(
            "{out_of_range} pushes with sent_at outside 1970–2149 were left out"
        ));
    }
    for attribute in table.capped_attributes() {
        notes.push(format!(
            "attribute {attribute} has more than {} values: the rarest are counted together as {}",
            pushtrace_fleet::table::MAX_VALUES,
            pushtrace_fleet::table::OTHER
        ));
    }
    let spinner = spinner(quiet, "counting cohorts");
    let aggregates = build::aggregate(table, options);
    spinner.finish_and_clear();
    aggregates
}

fn read_files(
    args: &FleetArgs,
    rules: OutcomeRules,
    from: Option<i64>,
    to: Option<i64>,
    notes: &mut Vec<String>,
) -> Result<Table> {
    let reader = RecordReader::builder()
        .strict(args.strict)
        .fields(Table::FIELDS)
        .build();
    let total: u64 = args
        .files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok().map(|m| m.len()))
        .sum();
    let bar = if args.quiet || total == 0 {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(bytes_style())
    };
    bar.set_message("reading");
    let make = || Table::new(rules).with_window(from, to);
    let mut table: Option<Table> = None;
    let mut done = 0u64;
    for path in &args.files {
        let progress = |bytes: u64| bar.set_position(done + bytes);
        let (read, summary) = if path == Path::new("-") {
            reader.read_stream("<stdin>", io::stdin(), make, &progress)
        } else {
            reader.read_path(path, make, &progress)
        }?;
        done += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        report_bad_rows(&summary, notes);
        match &mut table {
            Some(t) => t.merge(read),
            None => table = Some(read),
        }
    }
    bar.finish_and_clear();
    Ok(table.unwrap_or_else(make))
}

/// Bad rows are never silent: each file's count and first examples go to stderr, and the
/// count into the report's notes.
fn report_bad_rows(summary: &ReadSummary, notes: &mut Vec<String>) {
    if summary.bad == 0 {
        return;
    }
    eprint!(
        "{}",
        pushtrace_model::terminal::escape_lines(&summary.to_string())
    );
    notes.push(format!(
        "{}: {} bad rows skipped (not valid push records), {} read",
        summary.input, summary.bad, summary.rows
    ));
}

/// The gateway's SQLite store, read into a table through the store's export.
fn store_table(
    url: &str,
    app: Option<&str>,
    from: Option<i64>,
    to: Option<i64>,
    rules: OutcomeRules,
) -> Result<Table> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let path = url.strip_prefix("sqlite:").unwrap_or(url);
    if !Path::new(path).exists() {
        bail!(
            "--store {url}: no such SQLite database; give the path of the gateway's store \
             (its config's `store`) or a postgres:// URL"
        );
    }
    let records = runtime.block_on(async {
        let store = pushtrace_store::Store::open(url).await?;
        store
            .export_push_records(
                app,
                from.map(pushtrace_model::Timestamp::from_utc_micros),
                to.map(pushtrace_model::Timestamp::from_utc_micros),
            )
            .await
    })?;
    let mut table = Table::new(rules);
    for record in &records {
        table.add(record);
    }
    Ok(table)
}

fn write_reports(args: &FleetArgs, report: &Report) -> Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, report)?;
        writeln!(out)?;
    } else if args.markdown.as_deref() != Some(Path::new("-")) {
        out.write_all(pushtrace_fleet::text_report::render_text(report).as_bytes())?;
    }
    if let Some(path) = &args.markdown {
        let text = pushtrace_fleet::markdown_report::render_markdown(report);
        if path == Path::new("-") {
            out.write_all(text.as_bytes())?;
        } else {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    }
    if let Some(path) = &args.html {
        let html = pushtrace_fleet::html_report::render_html(report);
        std::fs::write(path, html).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    out.flush()?;
    Ok(())
}
