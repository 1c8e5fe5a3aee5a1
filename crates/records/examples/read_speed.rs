//! Times a read of a push records file into a counting sink: the reader's own cost, without a
//! caller's work. `cargo run --release -p pushtrace-records --example read_speed -- FILE [THREADS]`

use std::path::PathBuf;
use std::time::Instant;

use pushtrace_records::{Count, RecordReader};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: read_speed FILE [THREADS]");
        std::process::exit(2);
    };
    let mut builder = RecordReader::builder();
    if let Some(threads) = args.next().and_then(|t| t.parse().ok()) {
        builder = builder.threads(threads);
    }
    let reader = builder.build();
    let start = Instant::now();
    match reader.read_path(&path, Count::default, &|_| {}) {
        Ok((count, summary)) => {
            let seconds = start.elapsed().as_secs_f64();
            println!(
                "{}: {} ({} threads): {} records, {} bad, {:.1} MB in {seconds:.2} s: {:.0} records/s, {:.0} MB/s",
                summary.input,
                summary.format,
                reader.threads(),
                count.0,
                summary.bad,
                summary.bytes as f64 / 1e6,
                count.0 as f64 / seconds,
                summary.bytes as f64 / 1e6 / seconds
            );
            for sample in &summary.samples {
                println!("  {sample}");
            }
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
