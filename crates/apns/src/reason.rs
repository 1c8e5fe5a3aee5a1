//! Every `reason` APNs answers with, its HTTP status, and what a sender should do about it.
//!
//! The table is `docs/reference/apns.md` §1.7 (Apple's current A-RESP table), row for row. The
//! same JSON body arrives in error responses and in the debug data of a `GOAWAY` frame (§1.5, §3);
//! [`ErrorBody::parse`] reads both.

use std::fmt;

/// When a push rejected with a given reason may be sent again (docs/reference/apns.md §1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retry {
    /// Never resend this push. Apple's six: `BadDeviceToken`, `DeviceTokenNotForTopic`,
    /// `Forbidden`, `ExpiredToken`, `Unregistered`, `PayloadTooLarge`.
    Never,
    /// Resend only once the cause is fixed: a request bug, a configuration error, a provider
    /// token to regenerate (`ExpiredProviderToken`) or a connection to reopen
    /// (`UnrelatedKeyIdInToken`, `IdleTimeout`). [`Reason::action`] says which.
    AfterFix,
    /// Resend later with back-off: 5xx (Apple: after 15 minutes), `TooManyRequests`, and
    /// `TooManyProviderTokenUpdates` (the connection stays unusable until time passes).
    Backoff,
}

impl Retry {
    /// The classification for a status when the reason is unknown: 5xx and 429 back off, 410
    /// never retries, every other status waits for a fix.
    pub fn for_status(status: u16) -> Retry {
        match status {
            410 => Retry::Never,
            429 | 500..=599 => Retry::Backoff,
            _ => Retry::AfterFix,
        }
    }
}

macro_rules! reasons {
    ($( $variant:ident, $status:literal, $retry:ident, $meaning:literal, $action:literal; )*) => {
        /// A `reason` string from an APNs error body (docs/reference/apns.md §1.7).
        ///
        /// Unknown strings are kept in [`Reason::Other`]: a new code from Apple is data, not an
        /// error.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum Reason {
            $(
                #[doc = concat!("`", stringify!($variant), "` (", stringify!($status), "): ", $meaning, ".")]
                $variant,
            )*
            /// A reason string not in the reference table, kept as received.
            Other(String),
        }

        impl Reason {
            /// Every known reason, in the order of the reference table.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            /// The exact string in the JSON body.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Reason::$variant => stringify!($variant),)*
                    Reason::Other(s) => s,
                }
            }

            /// The reason for a wire string; unknown strings become [`Reason::Other`].
            pub fn parse(text: &str) -> Reason {
                match text {
                    $(stringify!($variant) => Reason::$variant,)*
                    other => Reason::Other(other.to_owned()),
                }
            }

            /// The HTTP status APNs sends with this reason; `None` for [`Reason::Other`].
            pub fn status(&self) -> Option<u16> {
                match self {
                    $(Reason::$variant => Some($status),)*
                    Reason::Other(_) => None,
                }
            }

            /// Apple's meaning, summarised in one line.
            pub fn meaning(&self) -> &'static str {
                match self {
                    $(Reason::$variant => $meaning,)*
                    Reason::Other(_) => "reason not in Apple's table",
                }
            }

            /// What a sender should do, in one line (Apple's rule where it gives one, else the
            /// reference's inference).
            pub fn action(&self) -> &'static str {
                match self {
                    $(Reason::$variant => $action,)*
                    Reason::Other(_) => "unknown reason: classify by the HTTP status",
                }
            }

            /// When the push may be resent; `None` for [`Reason::Other`] (use
            /// [`Retry::for_status`] with the response's status).
            pub fn retry(&self) -> Option<Retry> {
                match self {
                    $(Reason::$variant => Some(Retry::$retry),)*
                    Reason::Other(_) => None,
                }
            }
        }
    };
}

reasons! {
    BadCollapseId, 400, AfterFix, "the apns-collapse-id is longer than 64 bytes", "bug: fix, do not resend as is";
    BadDeviceToken, 400, Never, "the device token is invalid, or from the other environment", "don't retry; check the sandbox/production match and mark the token bad";
    BadExpirationDate, 400, AfterFix, "the apns-expiration is invalid", "bug: fix the header";
    BadMessageId, 400, AfterFix, "the apns-id is invalid", "bug: send a lowercase canonical UUID";
    BadPriority, 400, AfterFix, "the apns-priority is invalid", "bug: send 10, 5 or 1";
    BadTopic, 400, AfterFix, "the apns-topic is invalid", "configuration error: fix the topic";
    DeviceTokenNotForTopic, 400, Never, "the device token does not match the topic", "don't retry; the token belongs to another app or topic";
    DuplicateHeaders, 400, AfterFix, "a header was repeated", "bug: send each header once";
    IdleTimeout, 400, AfterFix, "idle timeout", "connection-level event: reconnect and resend";
    InvalidPushType, 400, AfterFix, "the apns-push-type is invalid", "bug: send a documented push type";
    MissingDeviceToken, 400, AfterFix, "no device token in :path", "bug: put the token in the path";
    MissingTopic, 400, AfterFix, "the apns-topic is required but absent", "bug: send apns-topic";
    PayloadEmpty, 400, AfterFix, "the body is empty", "bug: send a JSON payload";
    TopicDisallowed, 400, AfterFix, "pushing to this topic is not allowed", "configuration error: check the key or certificate topics";
    BadCertificate, 403, AfterFix, "the certificate is invalid", "configuration error: alert";
    BadCertificateEnvironment, 403, AfterFix, "the certificate is for the wrong environment", "configuration error: use the certificate of this environment";
    ExpiredProviderToken, 403, AfterFix, "the provider token (JWT) is stale", "make a new provider token and resend once";
    Forbidden, 403, Never, "the action is not allowed", "don't retry";
    InvalidProviderToken, 403, AfterFix, "the provider token (JWT) is invalid or its signature cannot be verified", "configuration error: check key, key ID and team ID; alert";
    MissingProviderToken, 403, AfterFix, "no certificate and no usable authorization header", "bug: send authorization: bearer <JWT>";
    UnrelatedKeyIdInToken, 403, AfterFix, "the JWT key ID is unrelated to the key used on the first push of this connection", "open a new connection for this key";
    BadEnvironmentKeyIdInToken, 403, AfterFix, "the JWT key ID does not match the environment", "configuration error: use a key of this environment";
    BadPath, 404, AfterFix, "the :path is invalid", "bug: POST /3/device/<token>";
    MethodNotAllowed, 405, AfterFix, "the :method is not POST", "bug: use POST";
    ExpiredToken, 410, Never, "the device token has expired", "don't retry; drop the token";
    Unregistered, 410, Never, "the device token is no longer active for the topic", "don't retry; drop the token if it was registered at or before the timestamp";
    PayloadTooLarge, 413, Never, "the payload is too large", "don't retry; shrink the payload";
    TooManyProviderTokenUpdates, 429, Backoff, "the provider token changed too often (at most once per 20 minutes)", "stop minting; reuse the cached token, wait before using the connection";
    TooManyRequests, 429, Backoff, "too many consecutive requests to one device token", "retry after a delay";
    InternalServerError, 500, Backoff, "APNs internal error", "retry later with back-off (Apple: after 15 minutes)";
    ServiceUnavailable, 503, Backoff, "the service is unavailable", "retry later with back-off (Apple: after 15 minutes)";
    Shutdown, 503, Backoff, "the APNs server is shutting down", "retry later with back-off; for a live call, reconnect now";
}

impl Reason {
    /// Whether APNs counts this rejection as an error condition that slows the connection: every
    /// rejection except a 410 (docs/reference/apns.md §1.7).
    pub fn counts_as_error(&self) -> bool {
        self.status() != Some(410)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Reason {
    fn from(text: &str) -> Self {
        Reason::parse(text)
    }
}

/// The JSON body of an APNs error response or `GOAWAY` frame:
/// `{"reason":"Unregistered","timestamp":1700000000000}` (docs/reference/apns.md §1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    /// The `reason` string.
    pub reason: Reason,
    /// `timestamp` in milliseconds since the epoch: when APNs confirmed the token was no longer
    /// valid for the topic. Apple sends it only with status 410.
    pub timestamp_ms: Option<u64>,
}

/// Why an error body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorBodyError {
    /// The body is not a JSON object.
    #[error("APNs error body is not a JSON object: {0}")]
    NotJson(String),
    /// The object has no string `reason`.
    #[error("APNs error body has no string \"reason\" field")]
    MissingReason,
    /// `timestamp` is present but not a non-negative integer of milliseconds.
    #[error("APNs error body \"timestamp\" is not a non-negative integer of milliseconds: {0}")]
    BadTimestamp(String),
}

impl ErrorBody {
    /// A body with a reason and no timestamp.
    pub fn new(reason: Reason) -> ErrorBody {
        ErrorBody {
            reason,
            timestamp_ms: None,
        }
    }

    /// Reads the JSON body. Unknown reasons become [`Reason::Other`]; other fields are ignored;
    /// `timestamp` is optional and, when present and not `null`, must be an integer.
    pub fn parse(body: &[u8]) -> Result<ErrorBody, ErrorBodyError> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| ErrorBodyError::NotJson(e.to_string()))?;
        let object = value
            .as_object()
            .ok_or_else(|| ErrorBodyError::NotJson(format!("found {}", json_kind(&value))))?;
        let reason = object
            .get("reason")
            .and_then(|r| r.as_str())
            .ok_or(ErrorBodyError::MissingReason)?;
        let timestamp_ms = match object.get("timestamp") {
            None | Some(serde_json::Value::Null) => None,
            Some(t) => Some(
                t.as_u64()
                    .ok_or_else(|| ErrorBodyError::BadTimestamp(t.to_string()))?,
            ),
        };
        Ok(ErrorBody {
            reason: Reason::parse(reason),
            timestamp_ms,
        })
    }

    /// The body as APNs writes it: `{"reason":"…"}` or `{"reason":"…","timestamp":…}`.
    pub fn to_json(&self) -> String {
        let reason = serde_json::Value::String(self.reason.as_str().to_owned());
        match self.timestamp_ms {
            Some(t) => format!("{{\"reason\":{reason},\"timestamp\":{t}}}"),
            None => format!("{{\"reason\":{reason}}}"),
        }
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference table (§1.7), copied independently of the macro above.
    const TABLE: &[(u16, &str)] = &[
        (400, "BadCollapseId"),
        (400, "BadDeviceToken"),
        (400, "BadExpirationDate"),
        (400, "BadMessageId"),
        (400, "BadPriority"),
        (400, "BadTopic"),
        (400, "DeviceTokenNotForTopic"),
        (400, "DuplicateHeaders"),
        (400, "IdleTimeout"),
        (400, "InvalidPushType"),
        (400, "MissingDeviceToken"),
        (400, "MissingTopic"),
        (400, "PayloadEmpty"),
        (400, "TopicDisallowed"),
        (403, "BadCertificate"),
        (403, "BadCertificateEnvironment"),
        (403, "ExpiredProviderToken"),
        (403, "Forbidden"),
        (403, "InvalidProviderToken"),
        (403, "MissingProviderToken"),
        (403, "UnrelatedKeyIdInToken"),
        (403, "BadEnvironmentKeyIdInToken"),
        (404, "BadPath"),
        (405, "MethodNotAllowed"),
        (410, "ExpiredToken"),
        (410, "Unregistered"),
        (413, "PayloadTooLarge"),
        (429, "TooManyProviderTokenUpdates"),
        (429, "TooManyRequests"),
        (500, "InternalServerError"),
        (503, "ServiceUnavailable"),
        (503, "Shutdown"),
    ];

    #[test]
    fn every_reason_round_trips_status_and_wire_string() {
        assert_eq!(Reason::ALL.len(), TABLE.len());
        for (reason, (status, wire)) in Reason::ALL.iter().zip(TABLE) {
            assert_eq!(reason.as_str(), *wire);
            assert_eq!(reason.status(), Some(*status), "{wire}");
            assert_eq!(&Reason::parse(wire), reason);
            assert!(!reason.meaning().is_empty());
            assert!(!reason.action().is_empty());
            let body = ErrorBody::new(reason.clone());
            assert_eq!(ErrorBody::parse(body.to_json().as_bytes()), Ok(body));
        }
    }

    #[test]
    fn retry_classification_follows_apple() {
        let never = [
            "BadDeviceToken",
            "DeviceTokenNotForTopic",
            "Forbidden",
            "ExpiredToken",
            "Unregistered",
            "PayloadTooLarge",
        ];
        let backoff = [
            "TooManyRequests",
            "TooManyProviderTokenUpdates",
            "InternalServerError",
            "ServiceUnavailable",
            "Shutdown",
        ];
        for reason in Reason::ALL {
            let expected = if never.contains(&reason.as_str()) {
                Retry::Never
            } else if backoff.contains(&reason.as_str()) {
                Retry::Backoff
            } else {
                Retry::AfterFix
            };
            assert_eq!(reason.retry(), Some(expected), "{reason}");
        }
        assert_eq!(Reason::ExpiredProviderToken.retry(), Some(Retry::AfterFix));
        assert_eq!(Retry::for_status(503), Retry::Backoff);
        assert_eq!(Retry::for_status(410), Retry::Never);
        assert_eq!(Retry::for_status(400), Retry::AfterFix);
        assert!(!Reason::Unregistered.counts_as_error());
        assert!(Reason::BadDeviceToken.counts_as_error());
    }

    #[test]
    fn parses_bodies() {
        assert_eq!(
            ErrorBody::parse(br#"{"reason":"Unregistered","timestamp":1700000000123}"#),
            Ok(ErrorBody {
                reason: Reason::Unregistered,
                timestamp_ms: Some(1_700_000_000_123)
            })
        );
        assert_eq!(
            ErrorBody::parse(br#"{"reason":"BadDeviceToken"}"#),
            Ok(ErrorBody::new(Reason::BadDeviceToken))
        );
        assert_eq!(
            ErrorBody::parse(br#"{"reason":"SomethingNew","timestamp":null,"x":1}"#),
            Ok(ErrorBody::new(Reason::Other("SomethingNew".into())))
        );
        let other = Reason::parse("SomethingNew");
        assert_eq!(other.status(), None);
        assert_eq!(other.retry(), None);
        assert_eq!(
            ErrorBody::parse(br#"{"timestamp":1}"#),
            Err(ErrorBodyError::MissingReason)
        );
        assert_eq!(
            ErrorBody::parse(br#"{"reason":7}"#),
            Err(ErrorBodyError::MissingReason)
        );
        assert!(matches!(
            ErrorBody::parse(br#"{"reason":"Unregistered","timestamp":-4}"#),
            Err(ErrorBodyError::BadTimestamp(_))
        ));
        assert!(matches!(
            ErrorBody::parse(br#"{"reason":"Unregistered","timestamp":"17"}"#),
            Err(ErrorBodyError::BadTimestamp(_))
        ));
        assert!(matches!(
            ErrorBody::parse(b"[]"),
            Err(ErrorBodyError::NotJson(_))
        ));
        assert!(matches!(
            ErrorBody::parse(b""),
            Err(ErrorBodyError::NotJson(_))
        ));
        let body = ErrorBody {
            reason: Reason::Unregistered,
            timestamp_ms: Some(5),
        };
        assert_eq!(body.to_json(), r#"{"reason":"Unregistered","timestamp":5}"#);
        let odd = ErrorBody::new(Reason::Other("a\"b".into()));
        assert_eq!(ErrorBody::parse(odd.to_json().as_bytes()), Ok(odd));
    }

    proptest! {
        #[test]
        fn error_body_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = ErrorBody::parse(&bytes);
        }

        #[test]
        fn error_body_parser_never_panics_on_json_like_text(
            reason in ".{0,40}",
            ts in proptest::option::of(any::<i128>()),
        ) {
            let reason_json = serde_json::Value::String(reason.clone());
            let text = match ts {
                Some(t) => format!("{{\"reason\":{reason_json},\"timestamp\":{t}}}"),
                None => format!("{{\"reason\":{reason_json}}}"),
            };
            let parsed = ErrorBody::parse(text.as_bytes());
            if let Ok(body) = parsed {
                prop_assert_eq!(body.reason.as_str(), reason.as_str());
            }
        }
    }
}
