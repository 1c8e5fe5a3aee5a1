//! Injected faults over real TLS: 500/503 answers, GOAWAY with JSON debug data and a chosen
//! last-stream-id, the stream-limit violation GOAWAY, the 2016 drop-to-1 mode, idle close, a bare
//! disconnect and added latency. GOAWAY frames are read with a small frame-level client, because
//! `h2`'s client does not expose a received GOAWAY's last-stream-id.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{NOW_SECS, Req, TOKEN, TOPIC, bearer, connect, connect_watching, start};
use pushtrace_apns::{Environment, ErrorBody, Reason};
use pushtrace_emulator::{
    EmulatorHandle, ExcessStreams, Fault, FaultRule, Latency, MAX_STREAMS_VIOLATED, PROTOCOL_ERROR,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

const HEADERS: u8 = 0x1;
const DATA: u8 = 0x0;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

/// A frame-level HTTP/2 client: sends HEADERS/DATA it encodes itself (HPACK literals, no
/// Huffman), ACKs SETTINGS and PINGs, and hands every other frame to the test.
struct RawClient {
    tls: TlsStream<TcpStream>,
    buffer: Vec<u8>,
}

impl RawClient {
    async fn connect(emulator: &EmulatorHandle) -> RawClient {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(emulator.ca_pem().as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(emulator.addr(Environment::Sandbox))
            .await
            .unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        let mut client = RawClient {
            tls,
            buffer: Vec::new(),
        };
        client.send(SETTINGS, 0, 0, &[]).await;
        client
    }

    async fn send(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let len = (payload.len() as u32).to_be_bytes();
        let mut frame = vec![len[1], len[2], len[3], kind, flags];
        frame.extend_from_slice(&stream.to_be_bytes());
        frame.extend_from_slice(payload);
        self.tls.write_all(&frame).await.unwrap();
        self.tls.flush().await.unwrap();
    }

    /// HEADERS for `req` on `stream`; the body follows with [`RawClient::body`].
    async fn headers(&mut self, stream: u32, req: &Req) {
        let mut block = Vec::new();
        let path = req.path.clone();
        let pseudo = [
            (":method", req.method.to_owned()),
            (":scheme", "https".to_owned()),
            (":path", path),
            (":authority", "localhost".to_owned()),
        ];
        for (name, value) in pseudo
            .iter()
            .map(|(n, v)| (*n, v.as_str()))
            .chain(req.headers.iter().map(|(n, v)| (*n, v.as_str())))
        {
            block.push(0x00); // literal without indexing, new name
            hpack_string(&mut block, name.as_bytes());
            hpack_string(&mut block, value.as_bytes());
        }
        self.send(HEADERS, END_HEADERS, stream, &block).await;
    }

    async fn body(&mut self, stream: u32, body: &[u8]) {
        self.send(DATA, END_STREAM, stream, body).await;
    }

    /// The next frame that is not a SETTINGS or PING (those are acknowledged), or `None` at the
    /// end of the connection.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            while self.buffer.len() >= 9 {
                let len = (usize::from(self.buffer[0]) << 16)
                    | (usize::from(self.buffer[1]) << 8)
                    | usize::from(self.buffer[2]);
                if self.buffer.len() < 9 + len {
                    break;
                }
                let frame = Frame {
                    kind: self.buffer[3],
                    flags: self.buffer[4],
                    stream: u32::from_be_bytes(self.buffer[5..9].try_into().unwrap()) & 0x7fff_ffff,
                    payload: self.buffer[9..9 + len].to_vec(),
                };
                self.buffer.drain(..9 + len);
                match frame.kind {
                    SETTINGS if frame.flags & ACK == 0 => self.send(SETTINGS, ACK, 0, &[]).await,
                    SETTINGS => {}
                    PING if frame.flags & ACK == 0 => {
                        self.send(PING, ACK, 0, &frame.payload).await;
                    }
                    _ => return Some(frame),
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match tokio::time::timeout(Duration::from_secs(10), self.tls.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return None,
                Ok(Ok(n)) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(_) => panic!("no frame from the emulator in 10 s"),
            }
        }
    }

    /// Frames until the GOAWAY: (last-stream-id, error code, debug data, frames before it).
    async fn until_goaway(&mut self) -> (u32, u32, Vec<u8>, Vec<Frame>) {
        let mut before = Vec::new();
        while let Some(frame) = self.next().await {
            if frame.kind == GOAWAY {
                let p = &frame.payload;
                let last = u32::from_be_bytes(p[0..4].try_into().unwrap()) & 0x7fff_ffff;
                let code = u32::from_be_bytes(p[4..8].try_into().unwrap());
                return (last, code, p[8..].to_vec(), before);
            }
            before.push(frame);
        }
        panic!("the connection ended without a GOAWAY; frames: {before:?}");
    }
}

/// An HPACK string literal (RFC 7541 §5.2) without Huffman coding.
fn hpack_string(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut len = bytes.len();
    if len < 127 {
        out.push(len as u8);
    } else {
        out.push(127);
        len -= 127;
        while len >= 128 {
            out.push((len % 128) as u8 | 0x80);
            len /= 128;
        }
        out.push(len as u8);
    }
    out.extend_from_slice(bytes);
}

/// The `:status` of a response HEADERS frame from the emulator (always a literal or an indexed
/// status in h2's encoding: the static table's 200/400/... entries or a literal).
fn is_response_on(frame: &Frame, stream: u32) -> bool {
    frame.kind == HEADERS && frame.stream == stream
}

#[tokio::test]
async fn a_503_fault_answers_with_its_reason_and_does_not_accept_the_push() {
    let emulator = common::builder()
        .fault(
            FaultRule::always(Fault::Status {
                reason: Reason::ServiceUnavailable,
            })
            .times(1),
        )
        .start()
        .await
        .unwrap();
    let client = connect(&emulator, Environment::Sandbox).await;
    let reply = Req::voip().send(&client).await.unwrap();
    reply.assert_reason(503, Reason::ServiceUnavailable);
    assert!(emulator.accepted().is_empty());
    // `times = 1`: the next request goes through, on the same connection.
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
    assert_eq!(emulator.faults()[0].fired, 1);
}

#[tokio::test]
async fn status_faults_follow_topic_filters_and_can_be_changed_at_run_time() {
    let emulator = start().await;
    let client = connect(&emulator, Environment::Sandbox).await;
    emulator
        .set_faults(vec![
            FaultRule::always(Fault::Status {
                reason: Reason::InternalServerError,
            })
            .topic("com.other.app.voip"),
            FaultRule::always(Fault::Status {
                reason: Reason::Shutdown,
            })
            .environment(Environment::Production),
        ])
        .unwrap();
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
    let other = Req::voip().set("apns-topic", "com.other.app.voip");
    other
        .send(&client)
        .await
        .unwrap()
        .assert_reason(500, Reason::InternalServerError);

    emulator
        .add_fault(FaultRule::always(Fault::Status {
            reason: Reason::Shutdown,
        }))
        .unwrap();
    Req::voip()
        .send(&client)
        .await
        .unwrap()
        .assert_reason(503, Reason::Shutdown);
    // Injected answers do not count towards the connection's error budget.
    for _ in 0..150 {
        assert_eq!(Req::voip().send(&client).await.unwrap().status, 503);
    }
    emulator.clear_faults();
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
    assert!(
        emulator
            .set_faults(vec![FaultRule::always(Fault::Disconnect).probability(-1.0)])
            .is_err()
    );
}

#[tokio::test]
async fn goaway_fault_carries_json_reason_and_the_chosen_last_stream_id() {
    let emulator = start().await;
    let mut raw = RawClient::connect(&emulator).await;
    let req = Req::voip();
    raw.headers(1, &req).await;
    raw.body(1, &req.body).await;
    let answer = raw.next().await.unwrap();
    assert!(is_response_on(&answer, 1), "{answer:?}");

    emulator
        .set_faults(vec![FaultRule::always(Fault::Goaway {
            reason: Reason::Shutdown,
            last_stream_id: None,
            error_code: 0,
        })])
        .unwrap();
    raw.headers(3, &req).await;
    raw.body(3, &req.body).await;
    let (last, code, debug, before) = raw.until_goaway().await;
    assert_eq!(last, 1, "stream 3 was not processed");
    assert_eq!(code, 0);
    assert_eq!(
        ErrorBody::parse(&debug).unwrap().reason,
        Reason::Shutdown,
        "{}",
        String::from_utf8_lossy(&debug)
    );
    assert!(before.is_empty(), "{before:?}");
    // Stream 3 is then reset as unprocessed; nothing answers it; the connection ends.
    let mut rest = Vec::new();
    while let Some(frame) = raw.next().await {
        assert_ne!(frame.kind, GOAWAY, "a second GOAWAY: {frame:?}");
        rest.push(frame);
    }
    assert!(
        rest.iter()
            .all(|f| f.kind == RST_STREAM && f.stream == 3 && f.payload == [0, 0, 0, 7]),
        "{rest:?}"
    );
    assert_eq!(emulator.accepted().len(), 1);
}

#[tokio::test]
async fn goaway_fault_with_an_explicit_last_stream_id_and_error_code() {
    let emulator = common::builder()
        .fault(FaultRule::always(Fault::Goaway {
            reason: Reason::InternalServerError,
            last_stream_id: Some(0),
            error_code: 2,
        }))
        .start()
        .await
        .unwrap();
    let mut raw = RawClient::connect(&emulator).await;
    let req = Req::voip();
    raw.headers(1, &req).await;
    raw.body(1, &req.body).await;
    let (last, code, debug, _) = raw.until_goaway().await;
    assert_eq!((last, code), (0, 2));
    assert_eq!(debug, br#"{"reason":"InternalServerError"}"#);
    assert!(emulator.accepted().is_empty());
}

#[tokio::test]
async fn over_the_acknowledged_limit_apns_mode_answers_with_the_violation_goaway() {
    let emulator = common::builder()
        .excess_streams(ExcessStreams::Goaway)
        .start()
        .await
        .unwrap();
    let mut raw = RawClient::connect(&emulator).await;
    // Let the server's SETTINGS (MAX_CONCURRENT_STREAMS = 1 before a valid token) arrive and be
    // acknowledged: a PING round trip orders it.
    raw.send(PING, 0, 0, &[0; 8]).await;
    let pong = raw.next().await.unwrap();
    assert_eq!((pong.kind, pong.flags), (PING, ACK));
    let req = Req::voip();
    raw.headers(1, &req).await; // stays open: no body yet
    raw.headers(3, &req).await; // a second stream over the limit of 1
    let (last, code, debug, _) = raw.until_goaway().await;
    assert_eq!(code, PROTOCOL_ERROR);
    assert_eq!(debug, MAX_STREAMS_VIOLATED.as_bytes());
    assert_eq!(last, 0, "nothing was processed");
}

#[tokio::test]
async fn the_2016_mode_drops_the_limit_to_1_after_a_rejection_and_restores_it() {
    let emulator = common::builder()
        .drop_limit_after_rejection(true)
        .max_concurrent_streams(500)
        .start()
        .await
        .unwrap();
    let (client, mut limit) =
        connect_watching(emulator.addr(Environment::Sandbox), emulator.ca_pem()).await;
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
    wait_for(&mut limit, 500).await;
    let unknown = Req::voip().path(format!("/3/device/{}", "ab".repeat(32)));
    unknown
        .send(&client)
        .await
        .unwrap()
        .assert_reason(400, Reason::BadDeviceToken);
    wait_for(&mut limit, 1).await;
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
    wait_for(&mut limit, 500).await;
}

async fn wait_for(limit: &mut tokio::sync::watch::Receiver<usize>, value: usize) {
    tokio::time::timeout(Duration::from_secs(5), limit.wait_for(|v| *v == value))
        .await
        .unwrap_or_else(|_| panic!("the client never saw MAX_CONCURRENT_STREAMS = {value}"))
        .unwrap();
}

#[tokio::test]
async fn an_idle_connection_is_closed_with_goaway_idle_timeout() {
    let emulator = common::builder()
        .idle_timeout(Some(Duration::from_millis(300)))
        .start()
        .await
        .unwrap();
    let mut raw = RawClient::connect(&emulator).await;
    let req = Req::voip();
    raw.headers(1, &req).await;
    raw.body(1, &req.body).await;
    let answered = Instant::now();
    assert!(is_response_on(&raw.next().await.unwrap(), 1));
    let (last, code, debug, _) = raw.until_goaway().await;
    assert!(answered.elapsed() >= Duration::from_millis(300));
    assert_eq!((last, code), (1, 0));
    assert_eq!(debug, br#"{"reason":"IdleTimeout"}"#);
}

#[tokio::test]
async fn a_disconnect_fault_closes_the_connection_without_goaway_or_answer() {
    let emulator = common::builder()
        .fault(FaultRule::always(Fault::Disconnect).times(1))
        .start()
        .await
        .unwrap();
    let mut raw = RawClient::connect(&emulator).await;
    let req = Req::voip();
    raw.headers(1, &req).await;
    raw.body(1, &req.body).await;
    assert_eq!(raw.next().await, None);
    // The next connection works.
    let client = connect(&emulator, Environment::Sandbox).await;
    assert_eq!(Req::voip().send(&client).await.unwrap().status, 200);
}

#[tokio::test]
async fn latency_delays_the_answer_not_the_acceptance() {
    let emulator = common::builder()
        .latency(Latency::Fixed { ms: 250 })
        .start()
        .await
        .unwrap();
    let client = connect(&emulator, Environment::Sandbox).await;
    let sent = Instant::now();
    let reply = Req::voip()
        .set("authorization", bearer(NOW_SECS))
        .send(&client)
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    assert!(
        sent.elapsed() >= Duration::from_millis(250),
        "{:?}",
        sent.elapsed()
    );
    let accepted = emulator.accepted();
    assert_eq!(
        (accepted[0].token.to_string(), accepted[0].topic.as_str()),
        (TOKEN.to_owned(), TOPIC)
    );

    emulator.set_latency(None).unwrap();
    assert_eq!(emulator.latency(), None);
    assert!(
        emulator
            .set_latency(Some(Latency::Uniform {
                min_ms: 5,
                max_ms: 1
            }))
            .is_err()
    );
}
