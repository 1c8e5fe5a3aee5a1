//! The receipt token: what lets a device prove that a receipt is about a push we sent it.
//!
//! Every VoIP payload carries `receipt_token`, an HMAC-SHA256 over the push id, the call id
//! and an expiry, keyed by a secret only the gateway holds. The app sends it back with its
//! receipt, so `POST /v1/receipts` needs no per-device credentials and a forged or replayed-late
//! receipt is refused without a database lookup. The token expires a while after the call's
//! deadline (late receipts are worth recording, stale ones are not).
//!
//! Format: `v1.<base64url(push_id \n call_id \n expires_ms)>.<base64url(mac)>`. The mac covers a
//! domain string and the version too, so a token cannot be reused under a future format.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

const DOMAIN: &[u8] = b"pushtrace-receipt-v1\n";
/// The shortest key accepted: 256 bits, the size of the MAC.
pub const MIN_KEY_BYTES: usize = 32;

/// The gateway's secret for receipt tokens.
pub struct ReceiptKey(hmac::Key);

impl fmt::Debug for ReceiptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReceiptKey(…)")
    }
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptClaims {
    /// The push it was issued for.
    pub push_id: String,
    /// The call of that push.
    pub call_id: String,
    /// When it stops being accepted, ms since the epoch.
    pub expires_ms: i64,
}

/// Why a token was refused. Messages never echo the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptTokenError {
    /// Not `v1.<claims>.<mac>` with base64url parts.
    #[error(
        "the receipt token is malformed: expected the `receipt_token` value from the push payload, unchanged"
    )]
    Malformed,
    /// The MAC does not match: forged, altered, or signed with another key.
    #[error(
        "the receipt token's signature does not match: it was not issued by this gateway or was altered"
    )]
    BadSignature,
    /// Past its expiry.
    #[error(
        "the receipt token expired {ago_ms} ms ago: receipts are accepted until an hour after the call's deadline"
    )]
    Expired {
        /// How long ago.
        ago_ms: i64,
    },
}

/// A key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the receipt key has {0} bytes; it needs at least {MIN_KEY_BYTES} random bytes (e.g. `head -c 32 /dev/urandom | base64`)"
)]
pub struct ShortKey(pub usize);

impl ReceiptKey {
    /// A key from secret bytes (at least [`MIN_KEY_BYTES`]).
    pub fn new(secret: &[u8]) -> Result<ReceiptKey, ShortKey> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(ShortKey(secret.len()));
        }
        Ok(ReceiptKey(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    /// A random key: receipts then only verify in this process (a restart or another instance
    /// refuses them), so `pushtrace serve` says so when it falls back to one.
    pub fn generate() -> ReceiptKey {
        let rng = ring::rand::SystemRandom::new();
        match hmac::Key::generate(hmac::HMAC_SHA256, &rng) {
            Ok(key) => ReceiptKey(key),
            // The system RNG failing is not recoverable.
            Err(_) => panic!("the system random number generator failed"),
        }
    }

    /// The token for one push.
    pub fn issue(&self, push_id: &str, call_id: &str, expires_ms: i64) -> String {
        let claims = format!("{push_id}\n{call_id}\n{expires_ms}");
        let tag = hmac::sign(&self.0, &signed_bytes(claims.as_bytes()));
        format!(
            "v1.{}.{}",
            URL_SAFE_NO_PAD.encode(claims),
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// Checks a token's signature, then its expiry against `now_ms`.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<ReceiptClaims, ReceiptTokenError> {
        let mut parts = token.split('.');
        let (Some("v1"), Some(claims), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ReceiptTokenError::Malformed);
        };
        let claims = URL_SAFE_NO_PAD
            .decode(claims)
            .map_err(|_| ReceiptTokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| ReceiptTokenError::Malformed)?;
        hmac::verify(&self.0, &signed_bytes(&claims), &tag)
            .map_err(|_| ReceiptTokenError::BadSignature)?;
        // Signed by us, so well formed unless the format changed under the same version.
        let text = String::from_utf8(claims).map_err(|_| ReceiptTokenError::Malformed)?;
        let mut fields = text.splitn(3, '\n');
        let (Some(push_id), Some(call_id), Some(expires)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(ReceiptTokenError::Malformed);
        };
        let expires_ms: i64 = expires.parse().map_err(|_| ReceiptTokenError::Malformed)?;
        if now_ms > expires_ms {
            return Err(ReceiptTokenError::Expired {
                ago_ms: now_ms - expires_ms,
            });
        }
        Ok(ReceiptClaims {
            push_id: push_id.to_owned(),
            call_id: call_id.to_owned(),
            expires_ms,
        })
    }
}

fn signed_bytes(claims: &[u8]) -> Vec<u8> {
    [DOMAIN, claims].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> ReceiptKey {
        ReceiptKey::new(&[byte; 32]).unwrap()
    }

    #[test]
    fn a_token_verifies_until_it_expires() {
        let token = key(1).issue("p-1", "c-1", 1_000);
        let claims = key(1).verify(&token, 1_000).unwrap();
        assert_eq!(claims.push_id, "p-1");
        assert_eq!(claims.call_id, "c-1");
        assert_eq!(
            key(1).verify(&token, 1_250),
            Err(ReceiptTokenError::Expired { ago_ms: 250 })
        );
    }

    #[test]
    fn forged_altered_and_foreign_tokens_are_refused() {
        let token = key(1).issue("p-1", "c-1", 1_000);
        assert_eq!(
            key(2).verify(&token, 0),
            Err(ReceiptTokenError::BadSignature)
        );
        let claims = URL_SAFE_NO_PAD.encode("p-2\nc-1\n1000");
        let tag = token.rsplit('.').next().unwrap();
        let altered = format!("v1.{claims}.{tag}");
        assert_eq!(
            key(1).verify(&altered, 0),
            Err(ReceiptTokenError::BadSignature)
        );
        for bad in ["", "v1", "v1.a", "v2.a.b", "v1.!!.b", "v1.a.b.c"] {
            assert_eq!(
                key(1).verify(bad, 0),
                Err(ReceiptTokenError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(ReceiptKey::new(&[0; 16]).unwrap_err(), ShortKey(16));
        assert!(format!("{:?}", key(1)).contains('…'));
    }
}
