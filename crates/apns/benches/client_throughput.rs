//! Throughput of the APNs client against a server in another process (the emulator), run by
//! `benches/apns.sh`. Not a criterion benchmark: it sends a fixed number of real pushes and prints
//! one JSON line (notifications/s and round-trip percentiles).
//!
//! ```text
//! cargo bench -p pushtrace-apns --bench client_throughput -- \
//!     --endpoint https://127.0.0.1:PORT --ca CA.pem --key AuthKey.p8 --key-id K --team-id T \
//!     --topic com.example.app.voip --token HEX [--count 100000] [--connections 1] \
//!     [--in-flight 1000] [--payload-bytes 1024] [--warmup 2000]
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pushtrace_apns::client::{Client, Credentials, Endpoint, Outcome, TokenSigner};
use pushtrace_apns::{Environment, Expiration, Notification, PushType, SigningKey};

// The same allocator as the `pushtrace` binary, which is what users run this client in.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Err(error) = run() {
        eprintln!("client_throughput: {error}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut flags = HashMap::new();
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let name = flag
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {flag:?}"))?;
        let value = iter
            .next()
            .ok_or_else(|| format!("--{name} needs a value"))?;
        flags.insert(name.to_owned(), value.clone());
    }
    let get = |name: &str| {
        flags
            .get(name)
            .cloned()
            .ok_or_else(|| format!("--{name} is required"))
    };
    let number = |name: &str, default: usize| -> Result<usize, String> {
        flags.get(name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("--{name}: {v:?} is not a number"))
        })
    };
    let count = number("count", 100_000)?;
    let connections = number("connections", 1)?;
    let in_flight = number("in-flight", 1000 * connections)?;
    let payload_bytes = number("payload-bytes", 1024)?;
    let warmup = number("warmup", 2000)?;

    let endpoint =
        Endpoint::url(&get("endpoint")?, Environment::Sandbox).map_err(|e| e.to_string())?;
    let ca = std::fs::read_to_string(get("ca")?).map_err(|e| format!("--ca: {e}"))?;
    let p8 = std::fs::read_to_string(get("key")?).map_err(|e| format!("--key: {e}"))?;
    let key = SigningKey::from_p8_pem(&p8).map_err(|e| format!("--key: {e}"))?;
    let signer =
        TokenSigner::new(key, &get("key-id")?, &get("team-id")?).map_err(|e| e.to_string())?;
    let topic = get("topic")?;
    let token = get("token")?;
    // A 1 KiB JSON payload by default (the benchmark protocol of docs/performance.md, after
    // Pushy's).
    let filler = "x".repeat(payload_bytes.saturating_sub(40));
    let payload = format!(r#"{{"aps":{{}},"call_id":"c-1","pad":"{filler}"}}"#);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let client = Client::builder(endpoint, Credentials::Token(Arc::new(signer)))
            .add_ca_pem(&ca)
            .map_err(|e| e.to_string())?
            .connections(connections)
            .max_in_flight(in_flight)
            .build()
            .map_err(|e| e.to_string())?;
        client.warm_up().await.map_err(|e| e.to_string())?;
        let push = Notification::builder(PushType::Voip)
            .device_token(token.as_str())
            .topic(topic.as_str())
            .expiration(Expiration::Immediately)
            .payload(payload.into_bytes())
            .build(0)
            .map_err(|e| e.to_string())?;
        let push = Arc::new(push);
        if warmup > 0 {
            burst(&client, &push, warmup, in_flight).await;
        }
        let started = Instant::now();
        let results = burst(&client, &push, count, in_flight).await;
        let elapsed = started.elapsed();
        let mut round_trips: Vec<Duration> = results.iter().map(|r| r.1).collect();
        round_trips.sort();
        let accepted = results.iter().filter(|r| r.0 == "accepted").count();
        let failed = results.iter().filter(|r| r.0 == "failed").count();
        let pct = |q: f64| {
            let i = ((round_trips.len() as f64 * q).ceil() as usize).clamp(1, round_trips.len()) - 1;
            round_trips[i].as_micros()
        };
        println!(
            r#"{{"client":"pushtrace","count":{count},"connections":{connections},"seconds":{:.3},"per_second":{:.0},"accepted":{accepted},"rejected":{},"failed":{failed},"p50_us":{},"p99_us":{}}}"#,
            elapsed.as_secs_f64(),
            count as f64 / elapsed.as_secs_f64(),
            count - accepted - failed,
            pct(0.5),
            pct(0.99),
        );
        Ok(())
    })
}

/// Sends `count` pushes with at most `in_flight` outstanding; (outcome label, round trip) each.
async fn burst(
    client: &Client,
    push: &Arc<Notification>,
    count: usize,
    in_flight: usize,
) -> Vec<(&'static str, Duration)> {
    let workers = in_flight.min(count).max(1);
    let per_worker = count / workers;
    let extra = count % workers;
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let client = client.clone();
            let push = Arc::clone(push);
            let n = per_worker + usize::from(w < extra);
            tokio::spawn(async move {
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    let result = client.send(&push).await;
                    let label = match result.outcome {
                        Outcome::Accepted { .. } => "accepted",
                        Outcome::Rejected { .. } => "rejected",
                        Outcome::Failed { .. } => "failed",
                    };
                    out.push((label, result.timings.round_trip));
                }
                out
            })
        })
        .collect();
    let mut all = Vec::with_capacity(count);
    for task in tasks {
        if let Ok(part) = task.await {
            all.extend(part);
        }
    }
    all
}
