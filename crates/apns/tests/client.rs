//! The client against the emulator over real TLS: each outcome, JWT reuse and refresh,
//! `REFUSED_STREAM`, GOAWAY mid-flight, a connection that dies while idle, the stream limit
//! dropping to 1, and back-pressure.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pushtrace_apns::client::{
    Client, ClientBuilder, Credentials, Endpoint, Outcome, SendError, TokenSigner,
};
use pushtrace_apns::{
    DeviceToken, Environment, Expiration, Notification, ProviderKey, PushType, Reason, SigningKey,
};
use pushtrace_emulator::{
    Clock, Device, Emulator, EmulatorBuilder, EmulatorHandle, ExcessStreams, Fault, FaultRule,
    Latency,
};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

const P8: &str = include_str!("../testdata/test-AuthKey.p8");
const KEY_ID: &str = "TESTKEY001";
const TEAM_ID: &str = "TESTTEAM01";
const TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const GONE: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const BUNDLE: &str = "com.acme.call";
const NOW_MS: u64 = 1_780_000_000_000;
const NOW_SECS: u64 = NOW_MS / 1000;

fn key() -> SigningKey {
    SigningKey::from_p8_pem(P8).unwrap()
}

fn emulator() -> EmulatorBuilder {
    Emulator::builder()
        .key(KEY_ID, ProviderKey::new(TEAM_ID, key().verifying_key()))
        .device(
            Environment::Sandbox,
            format!("{BUNDLE}.voip"),
            DeviceToken::parse(TOKEN).unwrap(),
        )
        .device_entry(
            Device::new(
                Environment::Sandbox,
                format!("{BUNDLE}.voip"),
                DeviceToken::parse(GONE).unwrap(),
            )
            .unregistered_at(NOW_MS - 86_400_000),
        )
        .clock(Clock::manual(NOW_MS))
        .per_token_rate(None)
}

/// A signer whose clock the test moves (UNIX seconds).
fn signer(now: &Arc<AtomicU64>) -> Arc<TokenSigner> {
    let now = Arc::clone(now);
    Arc::new(
        TokenSigner::new(key(), KEY_ID, TEAM_ID)
            .unwrap()
            .clock(Arc::new(move || now.load(Ordering::SeqCst))),
    )
}

fn client_to(url: &str, emulator: &EmulatorHandle, signer: Arc<TokenSigner>) -> ClientBuilder {
    Client::builder(
        Endpoint::url(url, Environment::Sandbox).unwrap(),
        Credentials::Token(signer),
    )
    .add_ca_pem(emulator.ca_pem())
    .unwrap()
}

fn client(emulator: &EmulatorHandle, now: &Arc<AtomicU64>) -> ClientBuilder {
    let url = format!(
        "https://127.0.0.1:{}",
        emulator.addr(Environment::Sandbox).port()
    );
    client_to(&url, emulator, signer(now))
}

fn voip(token: &str) -> Notification {
    Notification::builder(PushType::Voip)
        .device_token(token)
        .bundle_id(BUNDLE)
        .expiration(Expiration::Immediately)
        .payload(br#"{"call_id":"c-1"}"#.to_vec())
        .build(NOW_SECS)
        .unwrap()
}

fn clock_at_start() -> Arc<AtomicU64> {
    Arc::new(AtomicU64::new(NOW_SECS))
}

#[tokio::test]
async fn accepted_then_rejected_then_410_with_timings_on_a_warm_connection() {
    let emulator = emulator().start().await.unwrap();
    let client = client(&emulator, &clock_at_start()).build().unwrap();

    let first = client.send(&voip(TOKEN)).await;
    let Outcome::Accepted {
        apns_id,
        apns_unique_id,
    } = &first.outcome
    else {
        panic!("{first:?}");
    };
    assert!(apns_unique_id.is_some(), "sandbox answers apns-unique-id");
    assert_eq!(emulator.accepted()[0].apns_id, *apns_id);
    assert!(first.timings.connect > Duration::ZERO, "cold: {first:?}");
    assert_eq!(first.attempts, 1);

    let unknown = "ab".repeat(32);
    let second = client.send(&voip(&unknown)).await;
    assert_eq!(second.timings.connect, Duration::ZERO, "warm: {second:?}");
    assert_eq!(second.connection_id, first.connection_id);
    assert_eq!(second.stream_id, Some(3));
    assert!(
        matches!(
            &second.outcome,
            Outcome::Rejected {
                status: 400,
                reason: Reason::BadDeviceToken,
                timestamp_ms: None,
                ..
            }
        ),
        "{second:?}"
    );

    let gone = client.send(&voip(GONE)).await;
    assert!(
        matches!(
            &gone.outcome,
            Outcome::Rejected { status: 410, reason: Reason::Unregistered, timestamp_ms: Some(t), .. }
                if *t == NOW_MS - 86_400_000
        ),
        "{gone:?}"
    );
}

#[tokio::test]
async fn a_server_that_is_not_there_fails_retryably_and_fast() {
    let emulator = emulator().start().await.unwrap();
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let client = client_to(&url, &emulator, signer(&clock_at_start()))
        .build()
        .unwrap();
    let result = client.send(&voip(TOKEN)).await;
    match &result.outcome {
        Outcome::Failed {
            error: SendError::Connect { .. },
            retryable: true,
        } => {}
        other => panic!("{other:?}"),
    }
    assert!(!result.outcome.to_string().is_empty());
    // The slot now backs off: the next send fails at once instead of hammering the port.
    let again = client.send(&voip(TOKEN)).await;
    assert!(matches!(again.outcome, Outcome::Failed { .. }));
    assert!(again.timings.total < Duration::from_millis(50), "{again:?}");
}

#[tokio::test]
async fn one_token_serves_every_connection_and_is_refreshed_after_50_minutes() {
    let emulator = emulator().start().await.unwrap();
    let now = clock_at_start();
    let client = client(&emulator, &now).connections(3).build().unwrap();
    client.warm_up().await.unwrap();
    let sends: Vec<_> = (0..30)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.send(&voip(TOKEN)).await })
        })
        .collect();
    let mut connections = std::collections::BTreeSet::new();
    for send in sends {
        let result = send.await.unwrap();
        assert!(
            matches!(result.outcome, Outcome::Accepted { .. }),
            "{result:?}"
        );
        connections.insert(result.connection_id);
    }
    assert!(
        connections.len() > 1,
        "spread over the pool: {connections:?}"
    );

    // 51 minutes on both clocks: a new token, accepted on the same connections (the
    // 20-minute rule holds).
    now.fetch_add(51 * 60, Ordering::SeqCst);
    emulator.clock().advance(Duration::from_secs(51 * 60));
    for _ in 0..6 {
        let result = client.send(&voip(TOKEN)).await;
        assert!(
            matches!(result.outcome, Outcome::Accepted { .. }),
            "{result:?}"
        );
        assert_eq!(result.attempts, 1);
    }
}

#[tokio::test]
async fn expired_provider_token_is_replaced_once_and_the_push_resent() {
    let emulator = emulator().start().await.unwrap();
    let now = clock_at_start();
    let client = client(&emulator, &now).build().unwrap();
    assert!(matches!(
        client.send(&voip(TOKEN)).await.outcome,
        Outcome::Accepted { .. }
    ));
    // The server's clock runs 31 minutes ahead of ours: our 30-minute-old token is over an
    // hour old for it.
    emulator.clock().advance(Duration::from_secs(61 * 60));
    now.fetch_add(30 * 60, Ordering::SeqCst);
    let result = client.send(&voip(TOKEN)).await;
    assert!(
        matches!(result.outcome, Outcome::Accepted { .. }),
        "{result:?}"
    );
    assert_eq!(result.attempts, 2);

    // When the new token is no better (same clock, same iat), the rejection is returned
    // after one retry, not looped on.
    emulator.clock().advance(Duration::from_secs(2 * 3600));
    let result = client.send(&voip(TOKEN)).await;
    assert!(
        matches!(
            &result.outcome,
            Outcome::Rejected {
                status: 403,
                reason: Reason::ExpiredProviderToken,
                ..
            }
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn streams_reset_with_refused_stream_are_resent() {
    // A GOAWAY saying nothing was processed (last-stream-id 0): the emulator resets the stream
    // with REFUSED_STREAM, and it is sent again on a new connection.
    let emulator = emulator()
        .fault(
            FaultRule::always(Fault::Goaway {
                reason: Reason::Shutdown,
                last_stream_id: Some(0),
                error_code: 0,
            })
            .times(1),
        )
        .start()
        .await
        .unwrap();
    let client = client(&emulator, &clock_at_start()).build().unwrap();
    let sends: Vec<_> = (0..5)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.send(&voip(TOKEN)).await })
        })
        .collect();
    let mut resent = 0;
    for send in sends {
        let result = send.await.unwrap();
        assert!(
            matches!(result.outcome, Outcome::Accepted { .. }),
            "{result:?}"
        );
        resent += result.attempts - 1;
    }
    // Before the first valid token the server allows one stream, so the first push is the one
    // refused; the others wait for the new connection.
    assert!(resent >= 1);
    assert_eq!(emulator.accepted().len(), 5, "each push accepted once");
}

#[tokio::test]
async fn goaway_mid_flight_resends_on_a_new_connection_and_keeps_the_reason() {
    let emulator = emulator().start().await.unwrap();
    let client = client(&emulator, &clock_at_start()).build().unwrap();
    let first = client.send(&voip(TOKEN)).await;
    assert!(matches!(first.outcome, Outcome::Accepted { .. }));
    emulator
        .set_faults(vec![
            FaultRule::always(Fault::Goaway {
                reason: Reason::Shutdown,
                last_stream_id: None,
                error_code: 0,
            })
            .times(1),
        ])
        .unwrap();
    let result = client.send(&voip(TOKEN)).await;
    assert!(
        matches!(result.outcome, Outcome::Accepted { .. }),
        "{result:?}"
    );
    assert_eq!(result.attempts, 2);
    assert_ne!(result.connection_id, first.connection_id);
    let goaway = client.last_goaway().expect("the GOAWAY is kept");
    assert_eq!(goaway.reason(), Some(Reason::Shutdown));
    assert_eq!(goaway.last_stream_id, 1);
    assert_eq!(emulator.accepted().len(), 2);
}

#[tokio::test]
async fn a_connection_closed_while_idle_is_not_used_again() {
    let emulator = emulator()
        .idle_timeout(Some(Duration::from_millis(200)))
        .start()
        .await
        .unwrap();
    let client = client(&emulator, &clock_at_start())
        .keep_warm(false)
        .build()
        .unwrap();
    let first = client.send(&voip(TOKEN)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let second = client.send(&voip(TOKEN)).await;
    assert!(
        matches!(second.outcome, Outcome::Accepted { .. }),
        "{second:?}"
    );
    assert_eq!(second.attempts, 1);
    assert_ne!(second.connection_id, first.connection_id);
    assert!(second.timings.connect > Duration::ZERO);
}

/// A TCP relay that can silently stop forwarding on the connections it has now (a NAT that
/// forgot them); later connections pass.
struct Blackhole {
    port: u16,
    /// Connections numbered below this are frozen.
    frozen_below: Arc<AtomicU64>,
    next: Arc<AtomicU64>,
}

impl Blackhole {
    async fn start(target: std::net::SocketAddr) -> Blackhole {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen_below = Arc::new(AtomicU64::new(0));
        let next = Arc::new(AtomicU64::new(0));
        let (below, counter) = (Arc::clone(&frozen_below), Arc::clone(&next));
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    return;
                };
                let Ok(outbound) = TcpStream::connect(target).await else {
                    return;
                };
                let number = counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(relay(inbound, outbound, number, Arc::clone(&below)));
            }
        });
        Blackhole {
            port,
            frozen_below,
            next,
        }
    }

    /// Every connection open now stops forwarding, silently.
    fn freeze_existing(&self) {
        self.frozen_below
            .store(self.next.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

async fn relay(a: TcpStream, b: TcpStream, number: u64, frozen_below: Arc<AtomicU64>) {
    let (ar, aw) = a.into_split();
    let (br, bw) = b.into_split();
    let pump = |mut from: tokio::net::tcp::OwnedReadHalf,
                mut to: tokio::net::tcp::OwnedWriteHalf,
                frozen_below: Arc<AtomicU64>| async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match tokio::io::AsyncReadExt::read(&mut from, &mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if number < frozen_below.load(Ordering::SeqCst) {
                continue; // swallowed: the peer never hears of it
            }
            if to.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let one = pump(ar, bw, Arc::clone(&frozen_below));
    let two = pump(br, aw, frozen_below);
    let _ = tokio::join!(one, two);
}

#[tokio::test]
async fn a_half_dead_connection_is_found_by_ping_and_replaced_before_the_next_ring() {
    let emulator = emulator().start().await.unwrap();
    let blackhole = Blackhole::start(emulator.addr(Environment::Sandbox)).await;
    let url = format!("https://127.0.0.1:{}", blackhole.port);
    let client = client_to(&url, &emulator, signer(&clock_at_start()))
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::from_millis(200))
        .request_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let first = client.send(&voip(TOKEN)).await;
    assert!(matches!(first.outcome, Outcome::Accepted { .. }));
    blackhole.freeze_existing();
    // Quiet for the ping interval, then the PING goes unanswered: dropped, and reopened in the
    // background.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let started = Instant::now();
    let second = client.send(&voip(TOKEN)).await;
    assert!(
        matches!(second.outcome, Outcome::Accepted { .. }),
        "{second:?}"
    );
    assert_ne!(second.connection_id, first.connection_id);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no wait for a timeout: {second:?}"
    );
}

#[tokio::test]
async fn the_client_follows_the_limit_down_to_1_and_back() {
    // APNs mode: a client that opens a second stream after acknowledging the limit of 1 gets
    // a GOAWAY, which would show here as resends or failures.
    let emulator = emulator()
        .drop_limit_after_rejection(true)
        .excess_streams(ExcessStreams::Goaway)
        .max_concurrent_streams(100)
        .start()
        .await
        .unwrap();
    let client = client(&emulator, &clock_at_start()).build().unwrap();
    assert!(matches!(
        client.send(&voip(TOKEN)).await.outcome,
        Outcome::Accepted { .. }
    ));
    let rejected = client.send(&voip(&"ab".repeat(32))).await;
    assert!(matches!(rejected.outcome, Outcome::Rejected { .. }));
    let sends: Vec<_> = (0..40)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.send(&voip(TOKEN)).await })
        })
        .collect();
    for send in sends {
        let result = send.await.unwrap();
        assert!(
            matches!(result.outcome, Outcome::Accepted { .. }),
            "{result:?}"
        );
    }
    assert!(client.last_goaway().is_none(), "{:?}", client.last_goaway());
}

#[tokio::test]
async fn back_pressure_holds_sends_beyond_the_in_flight_bound() {
    let emulator = emulator()
        .latency(Latency::Fixed { ms: 100 })
        .start()
        .await
        .unwrap();
    let client = client(&emulator, &clock_at_start())
        .max_in_flight(2)
        .build()
        .unwrap();
    client.warm_up().await.unwrap();
    let started = Instant::now();
    let sends: Vec<_> = (0..6)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.send(&voip(TOKEN)).await })
        })
        .collect();
    let mut queued = 0;
    for send in sends {
        let result = send.await.unwrap();
        assert!(
            matches!(result.outcome, Outcome::Accepted { .. }),
            "{result:?}"
        );
        if result.timings.queue >= Duration::from_millis(90) {
            queued += 1;
        }
    }
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "three waves of two"
    );
    assert!(queued >= 4, "{queued} sends waited for a slot");
}

/// A client to the emulator's sandbox listener authenticating with `certificate`.
fn certificate_client(
    emulator: &EmulatorHandle,
    certificate: pushtrace_apns::client::ClientCertificate,
) -> Client {
    let url = format!(
        "https://127.0.0.1:{}",
        emulator.addr(Environment::Sandbox).port()
    );
    Client::builder(
        Endpoint::url(&url, Environment::Sandbox).unwrap(),
        Credentials::Certificate(certificate),
    )
    .add_ca_pem(emulator.ca_pem())
    .unwrap()
    .build()
    .unwrap()
}

#[tokio::test]
async fn certificate_auth_sends_without_a_token() {
    let emulator = emulator().start().await.unwrap();
    let issued = emulator
        .issue_client_certificate(&pushtrace_emulator::ClientCertificateRequest::new(BUNDLE))
        .unwrap();
    let certificate =
        pushtrace_apns::client::ClientCertificate::from_pem(&issued.cert_pem, &issued.key_pem)
            .unwrap();
    let client = certificate_client(&emulator, certificate);
    let result = client.send(&voip(TOKEN)).await;
    assert!(
        matches!(result.outcome, Outcome::Accepted { .. }),
        "{result:?}"
    );
    // A topic outside the certificate is refused by the server, as APNs does.
    let other = Notification::builder(PushType::Voip)
        .device_token(TOKEN)
        .bundle_id("com.other.app")
        .expiration(Expiration::Immediately)
        .payload(b"{}".to_vec())
        .build(NOW_SECS)
        .unwrap();
    let result = client.send(&other).await;
    assert!(
        matches!(
            &result.outcome,
            Outcome::Rejected {
                reason: Reason::TopicDisallowed,
                ..
            }
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_pkcs12_export_of_an_emulator_certificate_authenticates() {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    use rustls::pki_types::pem::PemObject as _;

    let emulator = emulator().start().await.unwrap();
    let issued = emulator
        .issue_client_certificate(&pushtrace_emulator::ClientCertificateRequest::new(BUNDLE))
        .unwrap();
    // Package it as Keychain Access would: one key with its certificate, password-protected.
    let key_der =
        rustls::pki_types::PrivatePkcs8KeyDer::from_pem_slice(issued.key_pem.as_bytes()).unwrap();
    let chain = PrivateKeyChain::new(
        "apns",
        PrivateKey::from_der(key_der.secret_pkcs8_der()).unwrap(),
        [Certificate::from_der(&issued.cert_der).unwrap()],
    );
    let mut store = KeyStore::new();
    store.add_entry("apns", KeyStoreEntry::PrivateKeyChain(chain));
    let p12 = store.writer("s3cret").write().unwrap();

    let certificate =
        pushtrace_apns::client::ClientCertificate::from_pkcs12(&p12, "s3cret").unwrap();
    let client = certificate_client(&emulator, certificate);
    let result = client.send(&voip(TOKEN)).await;
    assert!(
        matches!(result.outcome, Outcome::Accepted { .. }),
        "{result:?}"
    );
}
