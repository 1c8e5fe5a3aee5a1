//! ES256 provider tokens: signing them for a client, verifying them for the emulator.
//!
//! A provider token (`docs/reference/apns.md` §2.1) is a compact JWT: header
//! `{"alg":"ES256","kid":"<10-char key ID>"}`, claims `{"iss":"<10-char team ID>","iat":<epoch
//! seconds>}`, signed with the team's `.p8` key (ECDSA P-256 with SHA-256) and sent as
//! `authorization: bearer <JWT>`. APNs rejects a token whose `iat` is more than one hour old with
//! 403 `ExpiredProviderToken`; a sender should mint a new one no more than once every 20 minutes
//! and no less than once every 60 ([`MIN_REFRESH_SECS`], [`MAX_AGE_SECS`]).
//!
//! The signature is the JWS form: the raw 64 bytes `r || s`, big-endian, not DER (RFC 7518
//! §3.4).
//!
//! # Verifying, and how the four 403 reasons are told apart
//!
//! [`KeyRing`] maps key IDs to a [`ProviderKey`] (team ID, public key, environments, optional
//! related key). [`KeyRing::verify`] takes the token, a [`VerifyContext`] (which environment the
//! connection is for, and the key ID of the connection's first push, if any) and `now`, and
//! answers [`Claims`] or a [`JwtError`] whose [`JwtError::reason`] is the APNs reason:
//!
//! | check, in order | failure |
//! |---|---|
//! | header present, `bearer ` prefix ([`KeyRing::verify_authorization`]) | `MissingProviderToken` |
//! | three base64url parts, JSON header and claims, `alg` = `ES256`, string `kid` and `iss`, integer `iat` | `InvalidProviderToken` |
//! | `kid` known to the key ring | `InvalidProviderToken` (nothing to verify the signature with) |
//! | signature verifies with that key | `InvalidProviderToken` |
//! | `iss` is the key's team | `InvalidProviderToken` |
//! | the key is valid in the connection's environment | `BadEnvironmentKeyIdInToken` |
//! | the connection has no key yet, or `kid` is that key or its related key | `UnrelatedKeyIdInToken` |
//! | `iat` not more than 3600 s in the past | `ExpiredProviderToken` |
//! | `iat` not more than 3600 s in the future | `InvalidProviderToken` ("within one hour of now") |
//!
//! `TooManyProviderTokenUpdates` (a new token within 20 minutes on one connection) is connection
//! state and belongs to the emulator's connection, which can compare [`Claims::issued_at`].

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePublicKey as _, LineEnding};
use serde::Serialize;

mod verify;

pub use verify::{
    Claims, Environment, InvalidToken, JwtError, JwtPart, KeyRing, KeyScope, ProviderKey,
    VerifyContext,
};

/// A token whose `iat` is older than this many seconds is `ExpiredProviderToken` (§2.1).
pub const MAX_AGE_SECS: u64 = 3600;
/// APNs refuses a new token on the same connection sooner than this (§2.1,
/// `TooManyProviderTokenUpdates`).
pub const MIN_REFRESH_SECS: u64 = 20 * 60;
/// Longest token the verifier reads; a real one is about 200 bytes, and APNs's observed header
/// list limit is 8000 bytes (§1.4).
pub const MAX_TOKEN_LEN: usize = 8000;

/// The `.p8` signing key of an APNs auth key (ECDSA P-256). Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SigningKey {
    inner: p256::ecdsa::SigningKey,
}

/// The public half of a signing key, for verification.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    inner: p256::ecdsa::VerifyingKey,
}

/// A key that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not a PKCS#8 PEM P-256 private key.
    #[error(
        "not a PKCS#8 PEM EC P-256 private key ({0}); an APNs AuthKey_<KEYID>.p8 file starts with \
         -----BEGIN PRIVATE KEY-----"
    )]
    PrivateKey(String),
    /// Not an SPKI PEM P-256 public key.
    #[error("not a PEM EC P-256 public key ({0}); expected -----BEGIN PUBLIC KEY-----")]
    PublicKey(String),
}

impl SigningKey {
    /// Reads the text of an `AuthKey_<KEYID>.p8` file: a PKCS#8 PEM EC P-256 private key.
    pub fn from_p8_pem(text: &str) -> Result<SigningKey, KeyError> {
        p256::ecdsa::SigningKey::from_pkcs8_pem(text.trim())
            .map(|inner| SigningKey { inner })
            .map_err(|e| KeyError::PrivateKey(e.to_string()))
    }

    /// Wraps a `p256` key (for keys generated in tests).
    pub fn from_p256(inner: p256::ecdsa::SigningKey) -> SigningKey {
        SigningKey { inner }
    }

    /// The public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            inner: *self.inner.verifying_key(),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<secret>)")
    }
}

impl VerifyingKey {
    /// Reads a PEM public key (`-----BEGIN PUBLIC KEY-----`, SPKI).
    pub fn from_public_pem(text: &str) -> Result<VerifyingKey, KeyError> {
        p256::ecdsa::VerifyingKey::from_public_key_pem(text.trim())
            .map(|inner| VerifyingKey { inner })
            .map_err(|e| KeyError::PublicKey(e.to_string()))
    }

    /// The public key of a `.p8` private key.
    pub fn from_p8_pem(text: &str) -> Result<VerifyingKey, KeyError> {
        SigningKey::from_p8_pem(text).map(|k| k.verifying_key())
    }

    /// The key as SPKI PEM.
    pub fn to_public_pem(&self) -> Result<String, KeyError> {
        self.inner
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError::PublicKey(e.to_string()))
    }
}

impl From<&SigningKey> for VerifyingKey {
    fn from(key: &SigningKey) -> Self {
        key.verifying_key()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let point = self.inner.to_sec1_point(true);
        let hex: String = point
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        write!(f, "VerifyingKey({hex})")
    }
}

/// A key ID or team ID that is not 10 ASCII letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The key ID (`kid`) is malformed.
    #[error("key ID {0:?}: must be the 10-character Key ID of the .p8 key (letters and digits)")]
    KeyId(String),
    /// The team ID (`iss`) is malformed.
    #[error("team ID {0:?}: must be the 10-character Team ID (letters and digits)")]
    TeamId(String),
}

fn is_apple_id(text: &str) -> bool {
    text.len() == 10 && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[derive(Serialize)]
struct HeaderOut<'a> {
    alg: &'a str,
    kid: &'a str,
}

#[derive(Serialize)]
struct ClaimsOut<'a> {
    iss: &'a str,
    iat: u64,
}

/// A signed provider token (compact JWT). `Debug` shows key, team and time, not the token:
/// it is a bearer credential for an hour.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderToken {
    jwt: String,
    key_id: String,
    team_id: String,
    issued_at: u64,
}

impl ProviderToken {
    /// Signs `{"alg":"ES256","kid":key_id}.{"iss":team_id,"iat":issued_at}`.
    ///
    /// Key and team IDs must be Apple's 10-character IDs (§2.1).
    pub fn sign(
        key: &SigningKey,
        key_id: &str,
        team_id: &str,
        issued_at: u64,
    ) -> Result<ProviderToken, SignError> {
        if !is_apple_id(key_id) {
            return Err(SignError::KeyId(key_id.to_owned()));
        }
        if !is_apple_id(team_id) {
            return Err(SignError::TeamId(team_id.to_owned()));
        }
        let header = HeaderOut {
            alg: "ES256",
            kid: key_id,
        };
        let claims = ClaimsOut {
            iss: team_id,
            iat: issued_at,
        };
        let mut jwt = String::with_capacity(200);
        jwt.push_str(&URL_SAFE_NO_PAD.encode(json_bytes(&header)));
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(json_bytes(&claims)));
        let signature: p256::ecdsa::Signature = key.inner.sign(jwt.as_bytes());
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        Ok(ProviderToken {
            jwt,
            key_id: key_id.to_owned(),
            team_id: team_id.to_owned(),
            issued_at,
        })
    }

    /// The compact JWT.
    pub fn as_str(&self) -> &str {
        &self.jwt
    }

    /// The `authorization` header value: `bearer <JWT>`.
    pub fn authorization(&self) -> String {
        format!("bearer {}", self.jwt)
    }

    /// The `kid`.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The `iss`.
    pub fn team_id(&self) -> &str {
        &self.team_id
    }

    /// The `iat`, UNIX seconds.
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// Seconds since `iat` at `now` (0 if `iat` is in the future).
    pub fn age(&self, now: u64) -> u64 {
        now.saturating_sub(self.issued_at)
    }
}

impl fmt::Debug for ProviderToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderToken")
            .field("key_id", &self.key_id)
            .field("team_id", &self.team_id)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

fn json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing a struct of strings and integers cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
mod tests;
