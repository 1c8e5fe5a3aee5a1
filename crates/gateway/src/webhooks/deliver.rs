//! One webhook POST: sign the body, connect (TLS for `https://`, Mozilla's roots), send over
//! HTTP/1.1, and report the status or why there was none.
//!
//! A connection per delivery: webhooks are a few per call, and a receiver's keep-alive
//! behaviour is not ours to depend on (a half-closed pooled connection would fail a delivery
//! that a new one would have made).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use ring::hmac;
use rustls::pki_types::ServerName;

/// The signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub const SIGNATURE_HEADER: &str = "Pushtrace-Signature";
/// The event's id: the receiver's idempotency key.
pub const EVENT_ID_HEADER: &str = "Pushtrace-Event-Id";
/// The event's type.
pub const EVENT_TYPE_HEADER: &str = "Pushtrace-Event-Type";

/// The header value for `body` sent at `unix_secs`.
pub fn signature(secret: &[u8], unix_secs: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(unix_secs.to_string().as_bytes());
    context.update(b".");
    context.update(body.as_bytes());
    let tag = context.sign();
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={unix_secs},v1={hex}")
}

/// Where a URL points, parsed once per app.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    tls: bool,
    host: String,
    port: u16,
    /// Path and query, at least `/`.
    path: String,
    /// `Host` header value.
    authority: String,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Target, String> {
        let (tls, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            _ => return Err(format!("{url:?} is not an http:// or https:// URL")),
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let path = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        let path = path.split('#').next().unwrap_or("/").to_owned();
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{url:?}: unclosed [ in the host"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| format!("{url:?}: bad port {p:?}"))?,
                None => default_port,
            };
            (host.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, p)) => (
                    host.to_owned(),
                    p.parse().map_err(|_| format!("{url:?}: bad port {p:?}"))?,
                ),
                None => (authority.to_owned(), default_port),
            }
        };
        if host.is_empty() {
            return Err(format!("{url:?} has no host"));
        }
        Ok(Target {
            tls,
            host,
            port,
            path,
            authority: authority.to_owned(),
        })
    }
}

/// The TLS set-up every https delivery shares.
pub(crate) fn tls_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    match config {
        Ok(mut config) => {
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(config)
        }
        // The ring provider always supports the default versions; an empty client config
        // would only fail every https delivery with a clear error.
        Err(_) => Arc::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        ),
    }
}

/// What the receiver said, or why it said nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    Status(u16),
    NoAnswer(String),
}

/// One POST of `body`; gives up after `timeout` (connect, TLS and answer together).
pub(crate) async fn post(
    target: &Target,
    tls: &Arc<rustls::ClientConfig>,
    headers: &[(&str, String)],
    body: String,
    timeout: Duration,
) -> Answer {
    match tokio::time::timeout(timeout, post_inner(target, tls, headers, body)).await {
        Ok(Ok(status)) => Answer::Status(status),
        Ok(Err(why)) => Answer::NoAnswer(why),
        Err(_) => Answer::NoAnswer(format!("no answer within {} ms", timeout.as_millis())),
    }
}

async fn post_inner(
    target: &Target,
    tls: &Arc<rustls::ClientConfig>,
    headers: &[(&str, String)],
    body: String,
) -> Result<u16, String> {
    let where_ = format!("{}:{}", target.host, target.port);
    let tcp = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("cannot connect to {where_}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let mut request = Request::post(target.path.as_str())
        .header(hyper::header::HOST, target.authority.as_str())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::USER_AGENT, "pushtrace-webhooks/1")
        .header(hyper::header::CONNECTION, "close");
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    if target.tls {
        let name = ServerName::try_from(target.host.clone())
            .map_err(|e| format!("{:?} is not a TLS server name: {e}", target.host))?;
        let stream = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {where_} failed: {e}"))?;
        exchange(TokioIo::new(stream), request, &where_).await
    } else {
        exchange(TokioIo::new(tcp), request, &where_).await
    }
}

async fn exchange<S>(io: S, request: Request<Full<Bytes>>, where_: &str) -> Result<u16, String>
where
    S: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP with {where_} failed: {e}"))?;
    let driver = tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("{where_} did not answer: {e}"))?;
    let status = response.status().as_u16();
    // Read (and drop) the body so the receiver is not cut off mid-answer; its content does
    // not matter, its length is bounded by the overall timeout.
    let _ = response.into_body().collect().await;
    driver.abort();
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Python's hmac.new(b"k" * 32, b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            signature(&[b'k'; 32], 1_700_000_000, "{}"),
            "t=1700000000,v1=0b3b35525c10b3757ffa78df69037021fc3168d8390a51a4fcb4a8d56a25b557"
        );
    }

    #[test]
    fn targets_parse_host_port_and_path() {
        let t = Target::parse("https://hooks.example.com/pushtrace?x=1").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.path.as_str()),
            (true, "hooks.example.com", 443, "/pushtrace?x=1")
        );
        let t = Target::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!((t.port, t.path.as_str()), (9000, "/"));
        let t = Target::parse("http://[::1]:8080/h").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
        assert!(Target::parse("ftp://x").is_err());
        assert!(Target::parse("http://host:notaport/").is_err());
    }
}
