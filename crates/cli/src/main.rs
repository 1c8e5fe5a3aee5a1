//! `pushtrace`: find out why the phone didn't ring.
//!
//! The binary only parses arguments, draws progress and formats output; each verb's logic lives
//! in a library crate (`pushtrace-devicelog` for `logs` and `timeline`, `pushtrace-emulator`
//! for `emulator`, `pushtrace-gateway` for `serve`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// The unified-log parser allocates and frees several strings per entry; glibc malloc spent a
// third of an archive read consolidating and unlinking chunks (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod clock_args;
mod demo;
mod diagnose;
mod emulator;
mod fleet;
mod input;
mod lab;
mod log_styles;
mod logs;
mod progress;
mod send;
mod serve;
mod stop_signals;
mod store;
mod subscriber;
mod temp_cleanup;
mod timeline;

/// Find out why the phone didn't ring: read, trace and explain iOS VoIP pushes.
#[derive(Parser)]
#[command(name = "pushtrace", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read an iPhone log in any format and print its records in time order.
    Logs(logs::LogsArgs),
    /// Rebuild what the iPhone was doing (APNs, power, display, radio…) from its log, with
    /// every key line explained and what is not known said so.
    Timeline(timeline::TimelineArgs),
    /// For every push a server sent, what the iPhone's log says happened to it: outcome, cause,
    /// confidence and the log lines it rests on.
    Diagnose(diagnose::DiagnoseArgs),
    /// Run the APNs emulator (HTTP/2 over TLS, exact reasons, store and forward, admin API)
    /// until Ctrl-C, and print how to send it a push.
    Emulator(emulator::EmulatorArgs),
    /// Send one push to APNs (or the emulator) and show the answer and where the time went.
    Send(send::SendArgs),
    /// Run the call gateway: ring users' iPhones, trace every push, take receipts, retry
    /// inside the call window, send the missed-call alert.
    Serve(serve::ServeArgs),
    /// For every push a service sent: outcomes and latency per cohort, what makes the failing
    /// pushes different, and when it started.
    Fleet(fleet::FleetArgs),
    /// The gateway's store: export traced pushes as push records (for `diagnose --pushes`),
    /// import pushes another server sent, compute daily rollups per cohort.
    Store(store::StoreArgs),
    /// The lab: simulate phones, networks and calls with ground truth (`run`), score
    /// `diagnose` against it (`score`), compare sending strategies on the same fleet (`compare`).
    Lab(lab::LabArgs),
    /// See every part working together, offline: the emulator, the gateway and a few hundred
    /// simulated phones ring calls for 30 s, then one folder holds the calls' timelines, the
    /// failed calls' diagnoses and the fleet report (index.html).
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The libraries log through `tracing`; the binary says where (`subscriber`). `serve` sets
    // its log up from its config, once read; `demo` into its folder, once made.
    let logging = match cli.command {
        Command::Serve(_) | Command::Demo(_) => Ok(()),
        _ => subscriber::init_default(),
    };
    let result = logging.and_then(|()| match cli.command {
        Command::Logs(args) => logs::run(args),
        Command::Timeline(args) => timeline::run(args),
        Command::Diagnose(args) => diagnose::run(args),
        Command::Emulator(args) => emulator::run(args),
        Command::Send(args) => send::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Store(args) => store::run(args),
        Command::Fleet(args) => fleet::run(args),
        Command::Lab(args) => lab::run(args),
        Command::Demo(args) => demo::run(args),
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            // Errors quote the input (a bad line, a file name inside an archive).
            eprintln!(
                "error: {}",
                pushtrace_model::terminal::escape_lines(&message(&error))
            );
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line. Library errors already name their cause in their
/// message (so they read whole on their own); a cause is added only when it says something new.
fn message(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
