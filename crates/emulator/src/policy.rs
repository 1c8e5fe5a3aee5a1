//! What the emulator accepts, apart from how requests reach it: APNs's checks on one push, in
//! APNs's order (`validate`), with the connection's authentication state, then the last stage
//! (`Shared::accept`). The HTTP/2 side (`connection`: streams, limits, faults, GOAWAY) hands each
//! request over as a [`RequestContext`] and writes back the [`Verdict`], as Pushy's mock server
//! hands requests to its `ValidatingPushNotificationHandler`.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::HeaderMap;
use pushtrace_apns::{
    ApnsId, Environment, ErrorBody, Expiration, MAX_AGE_SECS, MIN_REFRESH_SECS, Reason,
    VerifyContext,
};

use crate::cert_auth::CertConnection;
use crate::devices::AcceptedPush;
use crate::server::{Outcome, Shared};
use crate::sync::lock;
use crate::validate::{self, ValidPush};

/// One request as the policy sees it: what the client sent, and the ids and time the transport
/// gave it.
pub(crate) struct RequestContext<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) headers: &'a HeaderMap,
    /// `apns-id` as sent: absent, valid, or why it is not (answered only once authenticated).
    pub(crate) request_id: Option<Result<ApnsId, Reason>>,
    pub(crate) payload: Bytes,
    /// The `apns-id` answered (the client's, or a new one).
    pub(crate) apns_id: ApnsId,
    /// `apns-unique-id` (sandbox only).
    pub(crate) unique_id: Option<ApnsId>,
    pub(crate) now_ms: u64,
}

/// What the policy decided about one request.
pub(crate) struct Verdict {
    pub(crate) outcome: Outcome,
    /// This request carried the connection's first valid token: the transport lifts the
    /// one-stream rule.
    pub(crate) first_authentication: bool,
}

/// JWT state of one connection: the first key ID and the token-update rule.
#[derive(Debug, Default)]
struct Auth {
    /// `kid` of the first authenticated push.
    first_key_id: Option<String>,
    /// The token in use (the `authorization` value, trimmed), since when (ms), and its `iat`.
    token: Option<(String, u64, u64)>,
    /// `TooManyProviderTokenUpdates` until this time (ms).
    locked_until_ms: Option<u64>,
}

/// The policy of one connection: its environment and either its JWT state or the client
/// certificate it was opened with.
pub(crate) struct Policy {
    environment: Environment,
    shared: Arc<Shared>,
    auth: Mutex<Auth>,
    /// Set by the first valid token; from the start on a certificate connection.
    authenticated: AtomicBool,
    cert: Option<CertConnection>,
}

impl Policy {
    pub(crate) fn new(
        environment: Environment,
        shared: Arc<Shared>,
        cert: Option<CertConnection>,
    ) -> Policy {
        Policy {
            environment,
            shared,
            auth: Mutex::new(Auth::default()),
            authenticated: AtomicBool::new(cert.is_some()),
            cert,
        }
    }

    /// Whether a valid token (or a certificate) has authenticated the connection.
    pub(crate) fn is_authenticated(&self) -> bool {
        self.authenticated.load(Ordering::SeqCst)
    }

    /// Checks one request and, when it passes, hands it to the last stage.
    pub(crate) fn decide(&self, request: RequestContext<'_>) -> Verdict {
        let mut first_authentication = false;
        let outcome = self
            .check(request, &mut first_authentication)
            .unwrap_or_else(|reason| Outcome::Rejected(ErrorBody::new(reason)));
        Verdict {
            outcome,
            first_authentication,
        }
    }

    fn check(
        &self,
        request: RequestContext<'_>,
        first_authentication: &mut bool,
    ) -> Result<Outcome, Reason> {
        validate::check_duplicates(request.headers)?;
        let token = validate::check_request_line(request.method, request.path)?;
        match &self.cert {
            Some(cert) => cert.authenticate(self.environment)?,
            None => {
                self.authenticate(request.headers, request.now_ms)?;
                *first_authentication = !self.authenticated.swap(true, Ordering::SeqCst);
            }
        }
        let headers = match &self.cert {
            Some(cert) => cert.with_default_topic(request.headers),
            None => Cow::Borrowed(request.headers),
        };
        if let Some(Err(reason)) = request.request_id {
            return Err(reason);
        }
        let payload = request.payload;
        let ValidPush {
            notification,
            push_type_header,
        } = validate::check_push(headers.as_ref(), token, &payload)?;
        if let Some(cert) = &self.cert {
            cert.check_topic(notification.topic())?;
        }
        let expiration = match notification.expiration() {
            Expiration::None => None,
            Expiration::Immediately => Some(0),
            Expiration::At(at) => Some(at),
        };
        Ok(self.shared.accept(AcceptedPush {
            environment: self.environment,
            apns_id: request.apns_id,
            unique_id: request.unique_id,
            token: notification.device_token().clone(),
            topic: notification.topic().to_owned(),
            push_type: push_type_header,
            priority: notification.priority(),
            expiration,
            collapse_id: notification.collapse_id().map(str::to_owned),
            payload_len: payload.len(),
            payload,
            received_at_ms: request.now_ms,
        }))
    }

    /// The JWT check with the connection's state: first key ID, the 20-minute token-update
    /// rule and its lock-out (Apple's feedback F-675879 on the latter).
    fn authenticate(&self, headers: &HeaderMap, now_ms: u64) -> Result<(), Reason> {
        let mut auth = lock(&self.auth);
        if let Some(until) = auth.locked_until_ms {
            if now_ms < until {
                return Err(Reason::TooManyProviderTokenUpdates);
            }
            auth.locked_until_ms = None;
        }
        let header = match headers.get("authorization").map(|v| v.to_str()) {
            None => None,
            Some(Ok(text)) => Some(text),
            Some(Err(_)) => return Err(Reason::InvalidProviderToken),
        };
        let now_secs = now_ms / 1000;
        let text = header.unwrap_or_default().trim();
        match &auth.token {
            // Verified on this connection already: signature, key and team cannot have changed,
            // only the token's age (the same rules as `KeyRing::verify`). This keeps one ECDSA
            // check per token per connection, not one per request.
            Some((current, _, issued_at)) if !text.is_empty() && current == text => {
                if now_secs.saturating_sub(*issued_at) > MAX_AGE_SECS {
                    return Err(Reason::ExpiredProviderToken);
                }
                if issued_at.saturating_sub(now_secs) > MAX_AGE_SECS {
                    return Err(Reason::InvalidProviderToken);
                }
            }
            _ => {
                let context = VerifyContext {
                    environment: self.environment,
                    connection_key_id: auth.first_key_id.as_deref(),
                };
                let claims = self
                    .shared
                    .keys
                    .verify_authorization(header, &context, now_secs)
                    .map_err(|e| e.reason())?;
                if let Some((_, since, _)) = &auth.token
                    && now_ms.saturating_sub(*since) < MIN_REFRESH_SECS * 1000
                {
                    let lockout =
                        u64::try_from(self.shared.settings.token_update_lockout.as_millis())
                            .unwrap_or(u64::MAX);
                    auth.locked_until_ms = Some(now_ms.saturating_add(lockout));
                    return Err(Reason::TooManyProviderTokenUpdates);
                }
                auth.token = Some((text.to_owned(), now_ms, claims.issued_at));
                if auth.first_key_id.is_none() {
                    auth.first_key_id = Some(claims.key_id);
                }
            }
        }
        Ok(())
    }
}
