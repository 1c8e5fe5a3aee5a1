//! Simulated device-days per second: `cargo run --release -p pushtrace-lab --example sim_speed
//! -- [scenario] [devices] [days] [threads]` (defaults: scenarios/mixed-fleet.toml, 100000,
//! 30, 2). Prints one line of figures; `benches/lab.sh` runs it.

use std::path::PathBuf;
use std::time::Instant;

use pushtrace_lab::scenario::Span;
use pushtrace_lab::{Scenario, run_fleet};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scenarios/mixed-fleet.toml"
        ))
    });
    let number = |i: usize, default: u64| -> u64 {
        args.get(i).map_or(default, |a| {
            a.parse().unwrap_or_else(|_| {
                eprintln!("argument {} (`{a}`) must be a whole number", i + 1);
                std::process::exit(2)
            })
        })
    };
    let mut scenario = match Scenario::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2)
        }
    };
    scenario.fleet.devices = number(1, 100_000) as u32;
    scenario.fleet.duration = Span(number(2, 30) as i64 * 86_400_000_000);
    let threads = number(3, 2) as usize;
    let started = Instant::now();
    let summary = run_fleet(&scenario, threads, false, |_| {});
    let secs = started.elapsed().as_secs_f64();
    println!(
        "devices={} days={} threads={threads} seconds={secs:.2} device_days_per_s={:.0} \
         pushes={} rang={} stale_rings={} causes={:?}",
        summary.devices,
        number(2, 30),
        summary.device_days / secs,
        summary.pushes,
        summary.rang,
        summary.stale_rings,
        summary.by_cause
    );
}
