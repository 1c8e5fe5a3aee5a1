//! A real HTTP/2 client over TLS (h2 + tokio-rustls) trusting the emulator's generated CA.

#![allow(dead_code)]

pub mod admin;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use http::Request;
use pushtrace_apns::{
    DeviceToken, Environment, ErrorBody, ProviderKey, ProviderToken, Reason, SigningKey,
};
use pushtrace_emulator::{ClientCertificate, Clock, EmulatorBuilder, EmulatorHandle};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio::sync::watch;

pub const TEST_P8: &str = include_str!("../../../apns/testdata/test-AuthKey.p8");
pub const KEY_ID: &str = "TESTKEY001";
pub const TEAM_ID: &str = "TESTTEAM01";
pub const TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
pub const OTHER_TOKEN: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
pub const TOPIC: &str = "com.acme.call.voip";
pub const APNS_ID: &str = "123e4567-e89b-12d3-a456-426614174000";
/// The manual clock starts here (ms); tokens are signed at `NOW_SECS`.
pub const NOW_MS: u64 = 1_780_000_000_000;
pub const NOW_SECS: u64 = NOW_MS / 1000;

pub fn signing_key() -> SigningKey {
    SigningKey::from_p8_pem(TEST_P8).unwrap()
}

pub fn token(hex: &str) -> DeviceToken {
    DeviceToken::parse(hex).unwrap()
}

/// `authorization` for the test key, issued at `iat`.
pub fn bearer(iat: u64) -> String {
    ProviderToken::sign(&signing_key(), KEY_ID, TEAM_ID, iat)
        .unwrap()
        .authorization()
}

/// An emulator with the test key, `TOKEN` live for `TOPIC` in sandbox and a manual clock.
pub fn builder() -> EmulatorBuilder {
    pushtrace_emulator::Emulator::builder()
        .key(
            KEY_ID,
            ProviderKey::new(TEAM_ID, signing_key().verifying_key()),
        )
        .device(Environment::Sandbox, TOPIC, token(TOKEN))
        .clock(Clock::manual(NOW_MS))
}

pub async fn start() -> EmulatorHandle {
    builder().start().await.unwrap()
}

/// A TLS + ALPN h2 connection to an environment of the emulator.
pub async fn connect(emulator: &EmulatorHandle, environment: Environment) -> SendRequest<Bytes> {
    connect_tls(emulator.addr(environment), emulator.ca_pem()).await
}

pub async fn connect_tls(addr: SocketAddr, ca_pem: &str) -> SendRequest<Bytes> {
    connect_watching(addr, ca_pem).await.0
}

/// Drives a client connection and reports the server's MAX_CONCURRENT_STREAMS as the client
/// sees it.
fn drive<T>(mut connection: h2::client::Connection<T, Bytes>) -> watch::Receiver<usize>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = watch::channel(usize::MAX);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = &mut connection => break,
                _ = tokio::time::sleep(Duration::from_millis(5)) => {
                    let _ = tx.send(connection.max_concurrent_send_streams());
                }
            }
        }
    });
    rx
}

/// A TLS connection and a view of the server's stream limit.
pub async fn connect_watching(
    addr: SocketAddr,
    ca_pem: &str,
) -> (SendRequest<Bytes>, watch::Receiver<usize>) {
    try_connect(addr, ca_pem, None).await.unwrap()
}

/// A TLS connection presenting `identity` as client certificate (a certificate connection).
pub async fn connect_with_cert(
    emulator: &EmulatorHandle,
    environment: Environment,
    identity: &ClientCertificate,
) -> (SendRequest<Bytes>, watch::Receiver<usize>) {
    try_connect(
        emulator.addr(environment),
        emulator.ca_pem(),
        Some(identity),
    )
    .await
    .unwrap()
}

/// A TLS + h2 connection, with or without a client certificate; the error of whichever step
/// failed. With TLS 1.3 a refused client certificate may only show on the first request.
pub async fn try_connect(
    addr: SocketAddr,
    ca_pem: &str,
    identity: Option<&ClientCertificate>,
) -> Result<(SendRequest<Bytes>, watch::Receiver<usize>), String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(identity) => {
            let chain = vec![CertificateDer::from(identity.cert_der.clone())];
            let key = PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").unwrap();
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (client, connection) = h2::client::handshake(tls)
        .await
        .map_err(|e| format!("h2: {e}"))?;
    Ok((client, drive(connection)))
}

/// A cleartext (prior-knowledge h2c) connection.
pub async fn connect_h2c(addr: SocketAddr) -> SendRequest<Bytes> {
    connect_h2c_watching(addr).await.0
}

pub async fn connect_h2c_watching(
    addr: SocketAddr,
) -> (SendRequest<Bytes>, watch::Receiver<usize>) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    (client, drive(connection))
}

/// What the emulator answered.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn error(&self) -> ErrorBody {
        assert_eq!(self.header("content-type"), Some("application/json"));
        ErrorBody::parse(&self.body).unwrap()
    }

    /// Asserts status and reason, checking the status is the reason's own.
    pub fn assert_reason(&self, status: u16, reason: Reason) {
        assert_eq!(
            (self.status, self.error().reason),
            (status, reason.clone()),
            "body {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(reason.status(), Some(status));
        assert!(self.header("apns-id").is_some());
    }
}

/// A request: method, path, headers (in order, repeats allowed), body.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Req {
    /// A valid VoIP push to `TOKEN` with a token issued at `NOW_SECS`.
    pub fn voip() -> Req {
        Req {
            method: "POST",
            path: format!("/3/device/{TOKEN}"),
            headers: vec![
                ("authorization", bearer(NOW_SECS)),
                ("apns-push-type", "voip".into()),
                ("apns-topic", TOPIC.into()),
                ("apns-priority", "10".into()),
                ("apns-expiration", "0".into()),
                ("apns-id", APNS_ID.into()),
            ],
            body: br#"{"call_id":"c-1","caller":"Ann"}"#.to_vec(),
        }
    }

    pub fn set(mut self, name: &'static str, value: impl Into<String>) -> Req {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.into()));
        self
    }

    pub fn add(mut self, name: &'static str, value: impl Into<String>) -> Req {
        self.headers.push((name, value.into()));
        self
    }

    pub fn without(mut self, name: &'static str) -> Req {
        self.headers.retain(|(n, _)| *n != name);
        self
    }

    pub fn path(mut self, path: impl Into<String>) -> Req {
        self.path = path.into();
        self
    }

    pub fn body(mut self, body: Vec<u8>) -> Req {
        self.body = body;
        self
    }

    pub fn request(&self) -> Request<()> {
        let mut request = Request::builder()
            .method(self.method)
            .uri(format!("https://localhost{}", self.path));
        for (name, value) in &self.headers {
            request = request.header(*name, value.as_str());
        }
        request.body(()).unwrap()
    }

    /// Sends the request and reads the whole answer.
    pub async fn send(&self, client: &SendRequest<Bytes>) -> Result<Reply, h2::Error> {
        let mut client = client.clone().ready().await?;
        let (response, mut stream) = client.send_request(self.request(), self.body.is_empty())?;
        if !self.body.is_empty() {
            stream.send_data(Bytes::copy_from_slice(&self.body), true)?;
        }
        read(response).await
    }
}

pub async fn read(response: h2::client::ResponseFuture) -> Result<Reply, h2::Error> {
    let (parts, mut body) = response.await?.into_parts();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    Ok(Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: bytes,
    })
}

/// Sends `req` on a fresh sandbox connection of `emulator`.
pub async fn send_once(emulator: &EmulatorHandle, req: &Req) -> Reply {
    let client = connect(emulator, Environment::Sandbox).await;
    req.send(&client).await.unwrap()
}
