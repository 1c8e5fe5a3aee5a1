//! Writes a synthetic fleet of push records as JSONL (gzip when the file name ends in `.gz`),
//! for benchmarks and for trying `pushtrace fleet` on data that looks like a real service's.
//!
//! ```text
//! cargo run --release -p pushtrace-fleet --example fleet_generate -- \
//!     --pushes 10000000 --devices 1000000 --days 90 --seed 1 --planted --out fleet.jsonl.gz
//! ```
//!
//! `--planted` (the default) plants the effects of `FleetSpec::planted()`, `--null` none;
//! `--out -` writes to standard output. What was written (records, bytes, seconds) goes to
//! standard error, with the planted effects.

use std::fs::File;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Instant;

use pushtrace_fleet::synthetic::{FleetSpec, write_jsonl};

const USAGE: &str = "usage: fleet_generate [--pushes N] [--devices N] [--days N] [--seed N] \
                     [--start YYYY-MM-DD] [--planted|--null] --out FILE[.gz]|-";

struct Args {
    spec: FleetSpec,
    out: String,
}

fn parse() -> Result<Args, String> {
    let mut spec = FleetSpec::planted();
    let mut planted = true;
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        let number = |name: &str, text: String| {
            text.parse::<u64>()
                .map_err(|_| format!("{name}: `{text}` is not a whole number\n{USAGE}"))
        };
        match flag.as_str() {
            "--pushes" => spec.pushes = number("--pushes", value("--pushes")?)?,
            "--devices" => {
                spec.devices = u32::try_from(number("--devices", value("--devices")?)?)
                    .map_err(|_| "--devices: at most 4294967295".to_string())?
            }
            "--days" => {
                spec.days = u32::try_from(number("--days", value("--days")?)?)
                    .map_err(|_| "--days: at most 4294967295".to_string())?
            }
            "--seed" => spec.seed = number("--seed", value("--seed")?)?,
            "--start" => {
                let text = value("--start")?;
                spec.start = pushtrace_model::parse_date(&text)
                    .map_err(|_| format!("--start: `{text}` is not a date YYYY-MM-DD"))?;
            }
            "--planted" => planted = true,
            "--null" => planted = false,
            "--out" => out = Some(value("--out")?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if !planted {
        spec.effects.clear();
    }
    let out = out.ok_or_else(|| format!("--out is required\n{USAGE}"))?;
    Ok(Args { spec, out })
}

/// Counts the bytes that reach the file (compressed ones for `.gz`).
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn run(args: &Args) -> io::Result<(u64, u64)> {
    let sink: Box<dyn Write> =
        if args.out == "-" {
            Box::new(io::stdout().lock())
        } else {
            Box::new(File::create(&args.out).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create {}: {e}", args.out))
            })?)
        };
    let mut counting = Counting {
        inner: sink,
        bytes: 0,
    };
    let records = if args.out.ends_with(".gz") {
        let mut gz = flate2::write::GzEncoder::new(&mut counting, flate2::Compression::fast());
        let n = write_jsonl(&args.spec, &mut gz)?;
        gz.finish()?;
        n
    } else {
        write_jsonl(&args.spec, &mut counting)?
    };
    counting.flush()?;
    Ok((records, counting.bytes))
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    match run(&args) {
        Ok((records, bytes)) => {
            let seconds = started.elapsed().as_secs_f64();
            let spec = &args.spec;
            eprintln!(
                "wrote {records} records, {bytes} bytes to {} in {seconds:.1} s ({:.0} records/s); \
                 {} devices, {} days from {:04}-{:02}-{:02}, seed {}",
                args.out,
                records as f64 / seconds,
                spec.devices,
                spec.days,
                spec.start.0,
                spec.start.1,
                spec.start.2,
                spec.seed,
            );
            for effect in &spec.effects {
                eprintln!("planted: {effect:?}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fleet_generate: {e}");
            ExitCode::FAILURE
        }
    }
}
