//! `pushtrace lab`: run a scenario of the lab's model and write its pushes, logs and truth;
//! score `diagnose` against a written run; compare sending strategies on the same fleet. The
//! model, the simulator and the statistics live in `pushtrace-lab`; this module parses
//! arguments, draws progress and prints.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pushtrace_lab::scenario::Span;
use pushtrace_lab::{
    FleetSummary, LogFormat, RunOptions, Scenario, Score, Strategy, Written, compare, score,
    write_run_with_progress,
};

use crate::progress::spinner;

#[derive(Args, Debug)]
pub struct LabArgs {
    #[command(subcommand)]
    pub command: LabCommand,
}

#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// Simulate a scenario and write its push records, the phones' logs and the ground truth.
    Run(RunArgs),
    /// Run `diagnose` over a written run and set its causes against the truth.
    Score(ScoreArgs),
    /// The same phones and calls under several sending strategies, side by side.
    Compare(CompareArgs),
}

/// What a scenario can be told from the command line.
#[derive(Args, Debug)]
pub struct ScenarioArgs {
    /// A scenario file (docs/lab.md), or a bundled scenario: founding-incident, mixed-fleet.
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    /// Simulate this many phones instead of the scenario's count.
    #[arg(long, value_name = "N")]
    pub devices: Option<u32>,
    /// Simulate this many days instead of the scenario's duration.
    #[arg(long, value_name = "D")]
    pub days: Option<f64>,
    /// Use this random seed instead of the scenario's.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Threads to simulate on (default: every core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

impl ScenarioArgs {
    fn load(&self) -> Result<Scenario> {
        let mut sc = Scenario::find(&self.scenario)?;
        if let Some(devices) = self.devices {
            if devices == 0 {
                bail!("--devices 0: simulate at least one phone");
            }
            sc.fleet.devices = devices;
        }
        if let Some(days) = self.days {
            if !(days > 0.0 && days <= 366.0) {
                bail!("--days {days}: give a number of days above 0, at most 366");
            }
            sc.fleet.duration = Span::from_secs_f64(days * 86_400.0);
            if sc
                .script
                .iter()
                .any(|s| s.at().utc_micros() >= sc.end_micros())
            {
                bail!(
                    "--days {days} ends the run before the scenario's scripted events: give more \
                     days"
                );
            }
        }
        if let Some(seed) = self.seed {
            sc.fleet.seed = seed;
        }
        Ok(sc)
    }

    fn threads(&self) -> usize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// The folder to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The form of the phones' logs.
    #[arg(long, value_enum, default_value = "syslog")]
    pub format: FormatArg,
    /// The share of log lines that are noise from chatty processes (0 to 0.99; a real log's is
    /// about 0.69).
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    pub noise: f64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    /// `log show --style syslog`
    Syslog,
    /// `log show` (default style)
    Default,
    /// `log show --style ndjson`
    Ndjson,
    /// `log show --style json`
    Json,
    /// A Console.app copy
    Console,
}

impl FormatArg {
    fn format(self) -> LogFormat {
        match self {
            FormatArg::Syslog => LogFormat::Syslog,
            FormatArg::Default => LogFormat::Default,
            FormatArg::Ndjson => LogFormat::Ndjson,
            FormatArg::Json => LogFormat::Json,
            FormatArg::Console => LogFormat::Console,
        }
    }
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// A folder `pushtrace lab run --out` wrote.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Print the score as JSON (the matrix, per-cause precision and recall, every
    /// disagreement).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// A strategy: NAME=KEY=VALUE,… with expiration=0|deadline|30d, priority=10|5|1,
    /// retry=off|10s|5s/10s/20s (resend when no receipt came this long after the last push;
    /// a schedule's last wait repeats),
    /// fallback=on|off (the missed-call alert). Repeat for each; unset keys keep the
    /// scenario's values. Default: a set answering the founding thread's questions.
    #[arg(long = "strategy", value_name = "NAME=SPEC")]
    pub strategies: Vec<String>,
    /// A strategies file: [[strategy]] tables with a name and any of expiration, priority,
    /// retry, fallback (docs/strategies.md). Its strategies run first, then any --strategy.
    #[arg(long = "strategies", value_name = "FILE")]
    pub strategies_file: Option<PathBuf>,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: LabArgs) -> Result<ExitCode> {
    match args.command {
        LabCommand::Run(args) => run_scenario(args),
        LabCommand::Score(args) => run_score(args),
        LabCommand::Compare(args) => run_compare(args),
    }
}

/// A bar counting simulated phones on stderr; hidden when stderr is not a terminal.
fn device_bar(total: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} phones {per_sec} eta {eta}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(message);
    bar
}

fn run_scenario(args: RunArgs) -> Result<ExitCode> {
    let sc = args.scenario.load()?;
    let options = RunOptions {
        threads: args.scenario.threads(),
        format: args.format.format(),
        noise: args.noise,
    };
    let bar = device_bar(u64::from(sc.fleet.devices), "simulating");
    let written = write_run_with_progress(&sc, &options, &args.out, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let Some(summary) = &written.summary else {
        bail!("the run wrote no summary");
    };
    if args.json {
        let json = serde_json::json!({
            "scenario": sc.fleet.name,
            "devices": summary.devices,
            "device_days": summary.device_days,
            "pushes": summary.pushes,
            "rang": summary.rang,
            "stale_rings": summary.stale_rings,
            "missed_call_notices": summary.missed_call_notices,
            "by_outcome": summary.by_outcome,
            "by_cause": summary.by_cause,
            "calls": summary.calls,
            "files": {
                "pushes": written.pushes,
                "truth": written.truth,
                "calls": written.calls,
                "logs": written.logs,
                "run": args.out.join("run.json"),
            },
            "format": pushtrace_lab::format_name(written.format),
        });
        emit(&(serde_json::to_string_pretty(&json)? + "\n"))?;
    } else {
        let mut text = String::new();
        print_run(&mut text, &sc, summary, &written, &args.out)?;
        emit(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_run(
    o: &mut String,
    sc: &Scenario,
    s: &FleetSummary,
    written: &Written,
    out: &std::path::Path,
) -> std::fmt::Result {
    writeln!(
        o,
        "{}: {} {} x {}, {} calls, {} pushes",
        sc.fleet.name,
        s.devices,
        if s.devices == 1 { "phone" } else { "phones" },
        sc.fleet.duration,
        s.calls.calls,
        s.pushes
    )?;
    let c = &s.calls;
    let share = |n: u64| 100.0 * n as f64 / c.calls.max(1) as f64;
    writeln!(
        o,
        "calls: {} rang in time ({:.2} %), {} missed, {} stale rings, {} missed-call notices by \
         the app, {} fallback alerts shown",
        c.rang_in_time,
        share(c.rang_in_time),
        c.missed(),
        c.stale_rings,
        c.missed_call_notices,
        c.fallbacks_shown
    )?;
    writeln!(o, "pushes by true cause:")?;
    for (cause, n) in &s.by_cause {
        writeln!(
            o,
            "  {cause:<34} {n:>9}  {:>6.2} %",
            100.0 * *n as f64 / s.pushes.max(1) as f64
        )?;
    }
    writeln!(o, "written to {}:", out.display())?;
    writeln!(
        o,
        "  {}  push records (diagnose --pushes, fleet)",
        written.pushes.display()
    )?;
    writeln!(
        o,
        "  {}  true outcome and cause per push",
        written.truth.display()
    )?;
    writeln!(o, "  {}  what became of each call", written.calls.display())?;
    writeln!(
        o,
        "  {}/  each phone's log ({})",
        written.logs.display(),
        pushtrace_lab::format_name(written.format)
    )?;
    writeln!(
        o,
        "score diagnose against the truth: pushtrace lab score {}",
        out.display()
    )?;
    Ok(())
}

fn run_score(args: ScoreArgs) -> Result<ExitCode> {
    let written = Written::open(&args.dir)?;
    let bar = spinner(args.json, "reading the logs and diagnosing every push");
    let result = score(&written).with_context(|| format!("scoring {}", args.dir.display()))?;
    bar.finish_and_clear();
    if args.json {
        emit(&(serde_json::to_string_pretty(&result)? + "\n"))?;
    } else {
        let mut text = String::new();
        print_score(&mut text, &result)?;
        emit(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_score(o: &mut String, score: &Score) -> std::fmt::Result {
    writeln!(o, "{score}")?;
    writeln!(o)?;
    writeln!(
        o,
        "{:<34} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "cause", "true", "diagnosed", "agree", "precision", "recall"
    )?;
    let mut causes: Vec<_> = score.causes.iter().map(|c| c.cause).collect();
    causes.extend(score.diagnosed.iter().map(|c| c.cause));
    causes.sort();
    causes.dedup();
    let pct = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{:.1} %", x * 100.0));
    for cause in causes {
        let truth = score.causes.iter().find(|c| c.cause == cause);
        let diagnosed = score.diagnosed.iter().find(|c| c.cause == cause);
        writeln!(
            o,
            "{:<34} {:>9} {:>9} {:>9} {:>9} {:>9}",
            cause.as_str(),
            truth.map_or(0, |c| c.total),
            diagnosed.map_or(0, |c| c.total),
            truth.map_or(0, |c| c.agree),
            pct(diagnosed.map(|c| c.accuracy)),
            pct(truth.map(|c| c.accuracy)),
        )?;
    }
    writeln!(o)?;
    if score.alerts > 0 {
        writeln!(
            o,
            "{} missed-call alerts not scored: diagnose gives an alert no ring verdict, and the \
             truth gives it no cause (calls.jsonl says which were shown).",
            score.alerts
        )?;
    }
    writeln!(
        o,
        "agreement {:.1} % ({} of {} pushes). This checks that the lab's model and diagnose agree \
         on logs the model wrote; it says nothing of real phones.",
        score.accuracy * 100.0,
        score.agree,
        score.total
    )?;
    Ok(())
}

fn run_compare(args: CompareArgs) -> Result<ExitCode> {
    let sc = args.scenario.load()?;
    let mut strategies = match &args.strategies_file {
        Some(path) => Strategy::load_file(path)?,
        None => Vec::new(),
    };
    for spec in &args.strategies {
        strategies.push(Strategy::parse(spec)?);
    }
    if strategies.is_empty() {
        strategies = Strategy::defaults();
    }
    let mut names: Vec<&str> = strategies.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!(
            "two strategies are named `{}`: give each its own name",
            w[0]
        );
    }
    let total = u64::from(sc.fleet.devices) * strategies.len() as u64;
    let bar = device_bar(total, "simulating");
    if args.json {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let comparison = compare(&sc, &strategies, args.scenario.threads(), &|| bar.inc(1));
    bar.finish_and_clear();
    if args.json {
        emit(&(serde_json::to_string_pretty(&comparison)? + "\n"))?;
    } else {
        emit(&format!(
            "{comparison}\nA model's answer, not a measurement of real phones: the rates rest on \
             the scenario's assumptions (docs/lab.md, docs/strategies.md).\n"
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints `text`; a reader that went away (`| head`) is not an error.
fn emit(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
