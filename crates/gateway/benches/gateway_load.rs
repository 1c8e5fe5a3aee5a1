//! The gateway's load generator for `benches/gateway.sh`: registers one VoIP token per user,
//! then creates calls (each to its own user, so one token per call, with a random CallKit UUID
//! as the app's call id) from `--concurrency` keep-alive HTTP/1.1 connections, and reads the
//! recorded timelines back for the latency of each stage on the server's clock. Prints one JSON
//! object.
//!
//!   gateway_load --url http://127.0.0.1:8080 --token T --calls 20000 --concurrency 64
//!                [--app acme] [--sample 2000] [--register]
//!                [--watch NAME=PID]...   (CPU busy of these processes over the call phase)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

type HttpClient = Client<HttpConnector, Full<Bytes>>;

struct Args {
    url: String,
    token: String,
    app: String,
    calls: usize,
    concurrency: usize,
    sample: usize,
    register: bool,
    watch: Vec<(String, u32)>,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        token: String::new(),
        app: "acme".into(),
        calls: 10_000,
        concurrency: 64,
        sample: 2000,
        register: false,
        watch: Vec::new(),
    };
    let mut it = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value()?,
            "--token" => args.token = value()?,
            "--app" => args.app = value()?,
            "--calls" => args.calls = value()?.parse().map_err(|e| format!("--calls: {e}"))?,
            "--concurrency" => {
                args.concurrency = value()?
                    .parse()
                    .map_err(|e| format!("--concurrency: {e}"))?
            }
            "--sample" => args.sample = value()?.parse().map_err(|e| format!("--sample: {e}"))?,
            "--register" => args.register = true,
            "--watch" => {
                let text = value()?;
                let (name, pid) = text
                    .split_once('=')
                    .ok_or(format!("--watch {text}: write NAME=PID"))?;
                let pid = pid.parse().map_err(|e| format!("--watch {text}: {e}"))?;
                args.watch.push((name.to_owned(), pid));
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.url.is_empty() || args.token.is_empty() {
        return Err("--url and --token are required".into());
    }
    Ok(args)
}

/// The token of user `n`: 32 bytes, unique per user (the emulator's devices match).
fn token(n: usize) -> String {
    format!("{:064x}", n as u128 + 0x5eed_0000_0000)
}

async fn request(
    client: &HttpClient,
    args: &Args,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    let request = hyper::Request::builder()
        .method(method)
        .uri(format!("{}{path}", args.url))
        .header("authorization", format!("Bearer {}", args.token))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        )))
        .map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())?
    };
    Ok((status, value))
}

/// Runs `count` jobs over `concurrency` tasks.
async fn fan_out<F, Fut>(count: usize, concurrency: usize, job: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, job) = (Arc::clone(&next), Arc::clone(&job));
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return;
                }
                job(n).await;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// A process's user + system CPU time, clock ticks (Linux `/proc/PID/stat`, fields 14 and 15).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Clock ticks per second as `/proc` counts them (USER_HZ: 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[index])
}

fn micros_between(from: &Value, to: &Value) -> Option<f64> {
    let from: jiff::Timestamp = from.as_str()?.parse().ok()?;
    let to: jiff::Timestamp = to.as_str()?.parse().ok()?;
    Some((to.as_microsecond() - from.as_microsecond()) as f64 / 1000.0)
}

fn summary(mut values: Vec<f64>) -> Value {
    values.sort_by(f64::total_cmp);
    json!({
        "n": values.len(),
        "p50_ms": quantile(&values, 0.50),
        "p99_ms": quantile(&values, 0.99),
        "max_ms": values.last(),
    })
}

#[tokio::main]
async fn main() {
    let args = match args() {
        Ok(args) => Arc::new(args),
        Err(e) => {
            eprintln!("gateway_load: {e}");
            std::process::exit(2);
        }
    };
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.concurrency)
        .build_http();

    if args.register {
        let started = Instant::now();
        let (c, a) = (client.clone(), Arc::clone(&args));
        fan_out(args.calls, args.concurrency, move |n| {
            let (c, a) = (c.clone(), Arc::clone(&a));
            async move {
                let path = format!("/v1/apps/{}/tokens/{}", a.app, token(n));
                let body = json!({ "user": format!("user-{n}"), "kind": "voip", "attrs": { "model": "iPhone17,1" } });
                match request(&c, &a, "PUT", &path, Some(body)).await {
                    Ok((200 | 201, _)) => {}
                    other => panic!("registering user-{n}: {other:?}"),
                }
            }
        })
        .await;
        eprintln!(
            "registered {} tokens in {:?}",
            args.calls,
            started.elapsed()
        );
    }

    let ids = Arc::new(std::sync::Mutex::new(vec![String::new(); args.calls]));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::with_capacity(args.calls)));
    let failures = Arc::new(AtomicUsize::new(0));
    let ticks_before: Vec<Option<u64>> =
        args.watch.iter().map(|(_, pid)| cpu_ticks(*pid)).collect();
    let started = Instant::now();
    {
        let (c, a, ids, latencies, failures) = (
            client.clone(),
            Arc::clone(&args),
            Arc::clone(&ids),
            Arc::clone(&latencies),
            Arc::clone(&failures),
        );
        fan_out(args.calls, args.concurrency, move |n| {
            let (c, a, ids, latencies, failures) = (
                c.clone(),
                Arc::clone(&a),
                Arc::clone(&ids),
                Arc::clone(&latencies),
                Arc::clone(&failures),
            );
            async move {
                let body = json!({
                    "call_id": callkit_uuid(),
                    "caller": "bench",
                    "callee": format!("user-{n}"),
                });
                let sent = Instant::now();
                let path = format!("/v1/apps/{}/calls", a.app);
                match request(&c, &a, "POST", &path, Some(body)).await {
                    Ok((201, value)) => {
                        latencies
                            .lock()
                            .unwrap()
                            .push(sent.elapsed().as_secs_f64() * 1000.0);
                        ids.lock().unwrap()[n] =
                            value["call"]["call_id"].as_str().unwrap_or("").to_owned();
                    }
                    other => {
                        if failures.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("first failed call: {other:?}");
                        }
                    }
                }
            }
        })
        .await;
    }
    let elapsed = started.elapsed();
    let busy: serde_json::Map<String, Value> = args
        .watch
        .iter()
        .zip(&ticks_before)
        .map(|((name, pid), before)| {
            let share = before.zip(cpu_ticks(*pid)).map(|(b, a)| {
                (a.saturating_sub(b)) as f64 / TICKS_PER_SECOND / elapsed.as_secs_f64()
            });
            (name.clone(), json!(share))
        })
        .collect();
    let created = args.calls - failures.load(Ordering::Relaxed);

    // Read back a sample of the timelines once every sampled push has its answer.
    let ids = ids.lock().unwrap().clone();
    let step = (ids.len() / args.sample.max(1)).max(1);
    let sampled: Vec<String> = ids
        .iter()
        .step_by(step)
        .filter(|id| !id.is_empty())
        .cloned()
        .collect();
    let mut to_wire = Vec::new();
    let mut to_answer = Vec::new();
    let mut accepted = 0;
    for id in &sampled {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, timeline) =
                request(&client, &args, "GET", &format!("/v1/calls/{id}"), None)
                    .await
                    .unwrap_or((0, Value::Null));
            let push = &timeline["pushes"][0];
            if status == 200 && !push["responded_at"].is_null() {
                if let Some(ms) = micros_between(&push["queued_at"], &push["sent_at"]) {
                    to_wire.push(ms);
                }
                if let Some(ms) = micros_between(&push["queued_at"], &push["responded_at"]) {
                    to_answer.push(ms);
                }
                accepted += usize::from(push["apns_status"] == 200);
                break;
            }
            if Instant::now() > deadline {
                eprintln!("call {id}: no APNs answer recorded within 30 s: {timeline}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let latencies = latencies.lock().unwrap().clone();
    println!(
        "{}",
        json!({
            "calls": args.calls,
            "created": created,
            "failed": failures.load(Ordering::Relaxed),
            "seconds": elapsed.as_secs_f64(),
            "calls_per_second": created as f64 / elapsed.as_secs_f64(),
            "concurrency": args.concurrency,
            "create_request": summary(latencies),
            "accepted_to_wire": summary(to_wire),
            "create_to_apns_answer": summary(to_answer),
            "sampled": sampled.len(),
            "sampled_accepted": accepted,
            "cpu_busy": busy,
        })
    );
}

/// A call id as calling apps make them: the UUID the app hands CallKit, random (NSUUID is a
/// v4, and its `uuidString` is upper case). Random ids land anywhere in the store's index of
/// client call ids, as real ones do.
fn callkit_uuid() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .expect("the system random number generator failed");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    pushtrace_apns::ApnsId::from_bytes(b)
        .to_string()
        .to_uppercase()
}
