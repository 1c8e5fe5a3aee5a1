//! What a send gives back: Pushy's tri-state result (accepted / rejected with reason and
//! timestamp / failed before an answer), with the time spent in each stage.

use std::fmt;
use std::time::Duration;

use crate::{ApnsId, Reason};

/// The answer to one push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// APNs answered 200: accepted (not delivered: docs/reference/apns.md §4.1, §7).
    Accepted {
        /// The `apns-id` APNs answered (ours, echoed, or one it made).
        apns_id: ApnsId,
        /// `apns-unique-id`, sandbox only: the key of the Push Notifications Console's
        /// delivery log.
        apns_unique_id: Option<ApnsId>,
    },
    /// APNs answered with an error status and reason.
    Rejected {
        /// The `apns-id` of the answer, when it carried one.
        apns_id: Option<ApnsId>,
        /// The HTTP status.
        status: u16,
        /// The reason (from the JSON body; [`Reason::Other`] for one not in Apple's table).
        reason: Reason,
        /// For 410: when the token became invalid, ms since the epoch.
        timestamp_ms: Option<u64>,
    },
    /// No answer: the push may or may not have reached APNs.
    Failed {
        /// What went wrong.
        error: SendError,
        /// Whether sending again can help. Check [`SendError::may_have_been_processed`] too:
        /// after a timeout or a lost connection APNs may already have the push.
        retryable: bool,
    },
}

impl Outcome {
    /// A short label: `accepted`, `rejected` or `failed`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Accepted { .. } => "accepted",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Failed { .. } => "failed",
        }
    }

    /// The reason of a rejection.
    pub fn reason(&self) -> Option<&Reason> {
        match self {
            Outcome::Rejected { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// Why a push got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// TCP connect, TLS handshake or HTTP/2 handshake failed.
    #[error("could not connect to {endpoint}: {message}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// The cause.
        message: String,
    },
    /// No answer within the request timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection ended before the answer, after the request may have been read.
    #[error("the connection was lost after the request was sent: {0}")]
    ConnectionLost(String),
    /// The server refused the stream without processing it (`REFUSED_STREAM`, or above a
    /// GOAWAY's last-stream-id) more times than the client resends.
    #[error("the server did not process the request: {0}")]
    NotProcessed(String),
    /// An HTTP/2 protocol error.
    #[error("HTTP/2 error: {0}")]
    Protocol(String),
    /// The client was shut down.
    #[error("the client is shut down")]
    Closed,
}

impl SendError {
    /// Whether APNs may have accepted the push although no answer came: resending may ring
    /// twice.
    pub fn may_have_been_processed(&self) -> bool {
        matches!(
            self,
            SendError::Timeout(_) | SendError::ConnectionLost(_) | SendError::Protocol(_)
        )
    }
}

/// Where the time of one send went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timings {
    /// Waiting for an in-flight slot (back-pressure) and for a stream the server allows.
    pub queue: Duration,
    /// Getting a connection: zero on a warm one; TCP connect, TLS and HTTP/2 handshakes (or
    /// waiting for another send's) on a cold one.
    pub connect: Duration,
    /// From the request's headers leaving to the answer's end, last attempt.
    pub round_trip: Duration,
    /// The whole send, all attempts.
    pub total: Duration,
}

/// One push's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// The answer.
    pub outcome: Outcome,
    /// The time per stage.
    pub timings: Timings,
    /// Attempts made (resends after `REFUSED_STREAM`, GOAWAY or `ExpiredProviderToken`).
    pub attempts: u32,
    /// The connection (a number unique in this process) and HTTP/2 stream of the last attempt,
    /// for tracing (docs/reference/apns.md §7).
    pub connection_id: Option<u64>,
    /// See [`SendResult::connection_id`].
    pub stream_id: Option<u32>,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Accepted {
                apns_id,
                apns_unique_id,
            } => {
                write!(f, "accepted (apns-id {apns_id}")?;
                if let Some(unique) = apns_unique_id {
                    write!(f, ", apns-unique-id {unique}")?;
                }
                f.write_str(")")
            }
            Outcome::Rejected {
                status,
                reason,
                timestamp_ms,
                ..
            } => {
                write!(f, "rejected: {status} {reason} ({})", reason.meaning())?;
                if let Some(ts) = timestamp_ms {
                    write!(f, ", token invalid since {ts} ms")?;
                }
                Ok(())
            }
            Outcome::Failed { error, retryable } => {
                write!(f, "failed: {error}")?;
                if *retryable {
                    f.write_str(" (retryable)")?;
                }
                Ok(())
            }
        }
    }
}
