//! One push through the pool: slot, connection, request, answer, and the resends the protocol
//! makes safe (not processed; expired provider token once).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use tokio::time::Instant;

use super::credentials::Credentials;
use super::goaway_tap::Goaway;
use super::lock;
use super::metrics::SendObserver;
use super::outcome::{Outcome, SendError, SendResult, Timings};
use super::pool::{Lease, Pool};
use crate::{ApnsId, ErrorBody, Notification, ProviderToken, Reason};

pub(crate) struct Sender {
    pub(crate) pool: Pool,
    pub(crate) credentials: Credentials,
    pub(crate) request_timeout: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) observer: Option<Arc<dyn SendObserver>>,
    pub(crate) last_goaway: Mutex<Option<Goaway>>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

/// How one attempt ended.
enum Attempt {
    Answer {
        status: u16,
        apns_id: Option<ApnsId>,
        unique_id: Option<ApnsId>,
        body: Vec<u8>,
    },
    /// Safe to send again: the server says it did not process the stream.
    NotProcessed(String),
    Failed(SendError),
}

impl Sender {
    pub(crate) fn last_goaway(&self) -> Option<Goaway> {
        lock(&self.last_goaway).clone()
    }

    pub(crate) async fn send(&self, notification: &Notification) -> SendResult {
        let started = Instant::now();
        let mut timings = Timings::default();
        let mut ids = (None, None);
        let result = self
            .send_timed(notification, started, &mut timings, &mut ids)
            .await;
        timings.total = started.elapsed();
        let result = SendResult {
            outcome: result.0,
            timings,
            attempts: result.1,
            connection_id: ids.0,
            stream_id: ids.1,
        };
        if let Some(observer) = &self.observer {
            observer.observe(notification.push_type(), &result);
        }
        result
    }

    async fn send_timed(
        &self,
        notification: &Notification,
        started: Instant,
        timings: &mut Timings,
        ids: &mut (Option<u64>, Option<u32>),
    ) -> (Outcome, u32) {
        let _permit = match self.pool.permit().await {
            Ok(permit) => permit,
            Err(error) => {
                return (
                    Outcome::Failed {
                        error,
                        retryable: false,
                    },
                    0,
                );
            }
        };
        timings.queue = started.elapsed();
        let body = Bytes::copy_from_slice(notification.payload());
        let mut refreshed = false;
        let mut not_processed = String::new();
        for attempt in 1..=self.max_attempts {
            let deadline = Instant::now() + self.request_timeout;
            let lease = match self.pool.acquire(deadline).await {
                Ok(lease) => lease,
                Err(error) => {
                    let retryable = !matches!(error, SendError::Closed);
                    return (Outcome::Failed { error, retryable }, attempt);
                }
            };
            timings.connect += lease.connect;
            timings.queue += lease.waited;
            *ids = (Some(lease.connection.id), None);
            let token = match &self.credentials {
                Credentials::Token(signer) => Some(signer.current()),
                Credentials::Certificate(_) => None,
            };
            let request = match self.request(notification, token.as_ref()) {
                Ok(request) => request,
                Err(error) => {
                    return (
                        Outcome::Failed {
                            error,
                            retryable: false,
                        },
                        attempt,
                    );
                }
            };
            let sent = Instant::now();
            let answer = tokio::time::timeout_at(
                deadline,
                self.exchange(&lease, request, body.clone(), &mut ids.1),
            )
            .await;
            timings.round_trip = sent.elapsed();
            let answer = match answer {
                Ok(answer) => answer,
                Err(_) => {
                    // No answer in time: maybe a half-dead connection; check it now.
                    lease.connection.check();
                    return (
                        Outcome::Failed {
                            error: SendError::Timeout(self.request_timeout),
                            retryable: true,
                        },
                        attempt,
                    );
                }
            };
            drop(lease);
            match answer {
                Attempt::Answer {
                    status,
                    apns_id,
                    unique_id,
                    body,
                } => {
                    if status == 200 {
                        let apns_id = apns_id.or(notification.apns_id());
                        return match apns_id {
                            Some(apns_id) => (
                                Outcome::Accepted {
                                    apns_id,
                                    apns_unique_id: unique_id,
                                },
                                attempt,
                            ),
                            None => (
                                Outcome::Failed {
                                    error: SendError::Protocol(
                                        "200 without an apns-id header".into(),
                                    ),
                                    retryable: false,
                                },
                                attempt,
                            ),
                        };
                    }
                    let parsed = ErrorBody::parse(&body).ok();
                    let reason = parsed
                        .as_ref()
                        .map(|b| b.reason.clone())
                        .unwrap_or_else(|| {
                            Reason::Other(format!("HTTP {status} without a JSON reason"))
                        });
                    if reason == Reason::ExpiredProviderToken
                        && !refreshed
                        && let (Credentials::Token(signer), Some(token)) =
                            (&self.credentials, &token)
                        && attempt < self.max_attempts
                    {
                        refreshed = true;
                        if signer.replace_expired(token) {
                            continue;
                        }
                    }
                    return (
                        Outcome::Rejected {
                            apns_id,
                            status,
                            reason,
                            timestamp_ms: parsed.and_then(|b| b.timestamp_ms),
                        },
                        attempt,
                    );
                }
                Attempt::NotProcessed(why) => not_processed = why,
                Attempt::Failed(error) => {
                    return (
                        Outcome::Failed {
                            error,
                            retryable: true,
                        },
                        attempt,
                    );
                }
            }
        }
        (
            Outcome::Failed {
                error: SendError::NotProcessed(not_processed),
                retryable: true,
            },
            self.max_attempts,
        )
    }

    fn request(
        &self,
        notification: &Notification,
        token: Option<&ProviderToken>,
    ) -> Result<Request<()>, SendError> {
        let endpoint = &self.pool.0.endpoint;
        let mut request = Request::builder().method("POST").uri(format!(
            "{}{}",
            endpoint.base(),
            notification.path()
        ));
        if let Some(token) = token {
            request = request.header("authorization", token.authorization());
        }
        for (name, value) in notification.headers() {
            request = request.header(name, value);
        }
        request
            .body(())
            .map_err(|e| SendError::Protocol(format!("request not built: {e}")))
    }

    /// One request and its whole answer on the leased connection.
    async fn exchange(
        &self,
        lease: &Lease,
        request: Request<()>,
        body: Bytes,
        stream: &mut Option<u32>,
    ) -> Attempt {
        let connection = &lease.connection;
        let mut sender = match connection.sender().ready().await {
            Ok(sender) => sender,
            Err(e) => return self.classify(connection, None, e),
        };
        let (response, mut send_body) = match sender.send_request(request, body.is_empty()) {
            Ok(pair) => pair,
            Err(e) => return self.classify(connection, None, e),
        };
        let stream_id = u32::from(response.stream_id());
        *stream = Some(stream_id);
        if !body.is_empty()
            && let Err(e) = send_body.send_data(body, true)
        {
            return self.classify(connection, Some(stream_id), e);
        }
        let response = match response.await {
            Ok(response) => response,
            Err(e) => return self.classify(connection, Some(stream_id), e),
        };
        let (parts, mut recv) = response.into_parts();
        let mut data = Vec::new();
        while let Some(chunk) = recv.data().await {
            match chunk {
                Ok(chunk) => {
                    let _ = recv.flow_control().release_capacity(chunk.len());
                    if data.len() < 64 * 1024 {
                        data.extend_from_slice(&chunk);
                    }
                }
                Err(e) => return self.classify(connection, Some(stream_id), e),
            }
        }
        let id = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| ApnsId::parse(v).ok())
        };
        Attempt::Answer {
            status: parts.status.as_u16(),
            apns_id: id("apns-id"),
            unique_id: id("apns-unique-id"),
            body: data,
        }
    }

    /// Whether a stream error means "not processed, send again" (RFC 9113 §8.7: `REFUSED_STREAM`;
    /// §6.8: above the GOAWAY's last-stream-id) or "no answer, maybe processed".
    fn classify(
        &self,
        connection: &super::connection::Connection,
        stream_id: Option<u32>,
        error: h2::Error,
    ) -> Attempt {
        let goaway = connection.goaway();
        if let Some(goaway) = &goaway {
            *lock(&self.last_goaway) = Some(goaway.clone());
        }
        let describe = |what: &str| match &goaway {
            Some(g) => format!("{what} (GOAWAY: {})", g.debug_text()),
            None => format!("{what}: {error}"),
        };
        if error.reason() == Some(h2::Reason::REFUSED_STREAM) && error.is_remote() {
            return Attempt::NotProcessed("REFUSED_STREAM".into());
        }
        match (stream_id, &goaway) {
            // Never opened: the connection was already going away or closed.
            (None, _) => Attempt::NotProcessed(describe("stream not opened")),
            (Some(id), Some(g)) if id > g.last_stream_id => {
                Attempt::NotProcessed(describe("above the GOAWAY's last-stream-id"))
            }
            _ if error.is_io() || error.is_go_away() => {
                Attempt::Failed(SendError::ConnectionLost(describe("connection ended")))
            }
            _ => Attempt::Failed(SendError::Protocol(error.to_string())),
        }
    }
}
