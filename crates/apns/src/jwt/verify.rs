//! The verifier side: the key ring the emulator checks provider tokens against, and the APNs
//! reason of each failure (the order of checks is in the parent module's docs).

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier as _;

use super::{MAX_AGE_SECS, MAX_TOKEN_LEN, VerifyingKey};
use crate::reason::Reason;

/// The APNs environment a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// `api.sandbox.push.apple.com`.
    Sandbox,
    /// `api.push.apple.com`.
    Production,
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
        })
    }
}

/// Where a key may be used: team-scoped keys made since 2025 are limited to one environment;
/// older keys work in both (§2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyScope {
    /// Sandbox only.
    Sandbox,
    /// Production only.
    Production,
    /// Both environments.
    Both,
}

impl KeyScope {
    /// Whether the key may be used in `environment`.
    pub fn allows(self, environment: Environment) -> bool {
        matches!(
            (self, environment),
            (KeyScope::Both, _)
                | (KeyScope::Sandbox, Environment::Sandbox)
                | (KeyScope::Production, Environment::Production)
        )
    }
}

/// What the verifier knows about one key ID.
#[derive(Debug, Clone)]
pub struct ProviderKey {
    /// The team the key belongs to: the token's `iss` must equal it.
    pub team_id: String,
    /// The public key.
    pub key: VerifyingKey,
    /// The environments it is valid in.
    pub scope: KeyScope,
    /// The one key a topic-specific key may be related to (§2.1): a connection bound to either
    /// accepts the other without `UnrelatedKeyIdInToken`.
    pub related_key_id: Option<String>,
}

impl ProviderKey {
    /// A key valid in both environments, with no related key.
    pub fn new(team_id: impl Into<String>, key: VerifyingKey) -> ProviderKey {
        ProviderKey {
            team_id: team_id.into(),
            key,
            scope: KeyScope::Both,
            related_key_id: None,
        }
    }

    /// The same key limited to `scope`.
    pub fn with_scope(mut self, scope: KeyScope) -> ProviderKey {
        self.scope = scope;
        self
    }

    /// The same key with a related key ID.
    pub fn with_related_key(mut self, key_id: impl Into<String>) -> ProviderKey {
        self.related_key_id = Some(key_id.into());
        self
    }
}

/// The connection a token arrives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyContext<'a> {
    /// The connection's environment.
    pub environment: Environment,
    /// The `kid` of the first push on this connection; `None` before the first push.
    pub connection_key_id: Option<&'a str>,
}

impl VerifyContext<'_> {
    /// A fresh connection in `environment`.
    pub fn new(environment: Environment) -> VerifyContext<'static> {
        VerifyContext {
            environment,
            connection_key_id: None,
        }
    }
}

/// The claims of a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `kid`.
    pub key_id: String,
    /// `iss`.
    pub team_id: String,
    /// `iat`, UNIX seconds.
    pub issued_at: u64,
}

/// Which part of a JWT an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtPart {
    /// The JOSE header.
    Header,
    /// The claims.
    Claims,
    /// The signature.
    Signature,
}

impl fmt::Display for JwtPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JwtPart::Header => "header",
            JwtPart::Claims => "claims",
            JwtPart::Signature => "signature",
        })
    }
}

/// Why a token is `InvalidProviderToken`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidToken {
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("token is {len} bytes, over the {MAX_TOKEN_LEN}-byte limit")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Not three dot-separated parts.
    #[error("not a compact JWT: expected header.claims.signature, found {parts} part(s)")]
    NotThreeParts {
        /// How many parts there were.
        parts: usize,
    },
    /// A part is not unpadded base64url.
    #[error("JWT {0} is not unpadded base64url")]
    Base64(JwtPart),
    /// The header or claims is not a JSON object.
    #[error("JWT {part} is not a JSON object: {detail}")]
    NotJson {
        /// Header or claims.
        part: JwtPart,
        /// The parser's message.
        detail: String,
    },
    /// `alg` is missing or not `ES256`.
    #[error("JWT alg is {found:?}; APNs accepts only \"ES256\"")]
    Alg {
        /// The `alg` found, if it was a string.
        found: Option<String>,
    },
    /// A required field is missing or of the wrong type.
    #[error("JWT {part} field {field:?} is missing or not {expected}")]
    Field {
        /// Header or claims.
        part: JwtPart,
        /// `kid`, `iss` or `iat`.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
    },
    /// The signature is not 64 bytes `r || s`, or r or s is out of range.
    #[error("JWT signature is {len} bytes; ES256 needs 64 bytes r||s in range")]
    SignatureForm {
        /// Decoded length.
        len: usize,
    },
    /// No key with this `kid`.
    #[error("no key with kid {key_id:?}")]
    UnknownKeyId {
        /// The `kid`.
        key_id: String,
    },
    /// The signature does not verify with the key.
    #[error("JWT signature does not verify with key {key_id:?}")]
    Signature {
        /// The `kid`.
        key_id: String,
    },
    /// `iss` is not the key's team.
    #[error("JWT iss {found:?} is not the team {expected:?} of key {key_id:?}")]
    TeamMismatch {
        /// The `kid`.
        key_id: String,
        /// The key's team.
        expected: String,
        /// The `iss`.
        found: String,
    },
    /// `iat` more than an hour ahead of `now`.
    #[error("JWT iat {issued_at} is more than {MAX_AGE_SECS} s after now ({now})")]
    IssuedInFuture {
        /// The `iat`.
        issued_at: u64,
        /// `now`.
        now: u64,
    },
}

/// A provider token APNs would refuse; [`JwtError::reason`] is the 403 reason it answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// No `authorization: bearer …` header.
    #[error("missing provider token: expected an `authorization: bearer <JWT>` header")]
    Missing,
    /// Malformed, wrong algorithm, unknown key, bad signature or wrong team.
    #[error("invalid provider token: {0}")]
    Invalid(#[from] InvalidToken),
    /// `iat` is more than an hour old.
    #[error(
        "expired provider token: iat {issued_at} is {} s before now ({now}), over {MAX_AGE_SECS} s; \
         sign a new one",
        now.saturating_sub(*issued_at)
    )]
    Expired {
        /// The `iat`.
        issued_at: u64,
        /// `now`.
        now: u64,
    },
    /// The key ID differs from (and is not related to) the key of the connection's first push.
    #[error(
        "key ID {key_id:?} is unrelated to key {connection_key_id:?} of this connection's first \
         push; use a new connection per key"
    )]
    UnrelatedKeyId {
        /// The token's `kid`.
        key_id: String,
        /// The connection's key.
        connection_key_id: String,
    },
    /// The key is not valid in the connection's environment.
    #[error("key ID {key_id:?} is not valid in the {environment} environment")]
    BadEnvironmentKeyId {
        /// The token's `kid`.
        key_id: String,
        /// The connection's environment.
        environment: Environment,
    },
}

impl JwtError {
    /// The APNs reason (all are status 403).
    pub fn reason(&self) -> Reason {
        match self {
            JwtError::Missing => Reason::MissingProviderToken,
            JwtError::Invalid(_) => Reason::InvalidProviderToken,
            JwtError::Expired { .. } => Reason::ExpiredProviderToken,
            JwtError::UnrelatedKeyId { .. } => Reason::UnrelatedKeyIdInToken,
            JwtError::BadEnvironmentKeyId { .. } => Reason::BadEnvironmentKeyIdInToken,
        }
    }
}

/// The keys a verifier trusts, by key ID.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: HashMap<String, ProviderKey>,
}

impl KeyRing {
    /// An empty key ring.
    pub fn new() -> KeyRing {
        KeyRing::default()
    }

    /// Adds or replaces a key; returns the previous one.
    pub fn insert(&mut self, key_id: impl Into<String>, key: ProviderKey) -> Option<ProviderKey> {
        self.keys.insert(key_id.into(), key)
    }

    /// Removes a key (a revoked key); returns it.
    pub fn remove(&mut self, key_id: &str) -> Option<ProviderKey> {
        self.keys.remove(key_id)
    }

    /// The key with this ID.
    pub fn get(&self, key_id: &str) -> Option<&ProviderKey> {
        self.keys.get(key_id)
    }

    /// Verifies an `authorization` header value (`None` when the header is absent). The scheme
    /// word `bearer` is matched without regard to case.
    pub fn verify_authorization(
        &self,
        header: Option<&str>,
        context: &VerifyContext<'_>,
        now: u64,
    ) -> Result<Claims, JwtError> {
        let header = header.map(str::trim).unwrap_or_default();
        let token = header
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("bearer "))
            .and_then(|_| header.get(7..))
            .map(str::trim_start)
            .filter(|t| !t.is_empty())
            .ok_or(JwtError::Missing)?;
        self.verify(token, context, now)
    }

    /// Verifies a compact JWT; see the module documentation for the order of the checks.
    pub fn verify(
        &self,
        token: &str,
        context: &VerifyContext<'_>,
        now: u64,
    ) -> Result<Claims, JwtError> {
        if token.is_empty() {
            return Err(JwtError::Missing);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(InvalidToken::TooLong { len: token.len() }.into());
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [header_b64, claims_b64, signature_b64] = parts[..] else {
            return Err(InvalidToken::NotThreeParts { parts: parts.len() }.into());
        };

        let header = decode_object(header_b64, JwtPart::Header)?;
        match header.get("alg").and_then(|a| a.as_str()) {
            Some("ES256") => {}
            found => {
                return Err(InvalidToken::Alg {
                    found: found.map(str::to_owned),
                }
                .into());
            }
        }
        let key_id = header
            .get("kid")
            .and_then(|k| k.as_str())
            .ok_or(InvalidToken::Field {
                part: JwtPart::Header,
                field: "kid",
                expected: "a string",
            })?;

        let claims = decode_object(claims_b64, JwtPart::Claims)?;
        let team_id = claims
            .get("iss")
            .and_then(|i| i.as_str())
            .ok_or(InvalidToken::Field {
                part: JwtPart::Claims,
                field: "iss",
                expected: "a string",
            })?;
        let issued_at = claims
            .get("iat")
            .and_then(|i| i.as_u64())
            .ok_or(InvalidToken::Field {
                part: JwtPart::Claims,
                field: "iat",
                expected: "a non-negative integer of seconds",
            })?;

        let signature_bytes = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| InvalidToken::Base64(JwtPart::Signature))?;
        let signature = p256::ecdsa::Signature::from_slice(&signature_bytes).map_err(|_| {
            InvalidToken::SignatureForm {
                len: signature_bytes.len(),
            }
        })?;

        let key = self
            .keys
            .get(key_id)
            .ok_or_else(|| InvalidToken::UnknownKeyId {
                key_id: key_id.to_owned(),
            })?;
        let signing_input_len = header_b64.len() + 1 + claims_b64.len();
        let signing_input = token.get(..signing_input_len).unwrap_or_default();
        key.key
            .inner
            .verify(signing_input.as_bytes(), &signature)
            .map_err(|_| InvalidToken::Signature {
                key_id: key_id.to_owned(),
            })?;
        if team_id != key.team_id {
            return Err(InvalidToken::TeamMismatch {
                key_id: key_id.to_owned(),
                expected: key.team_id.clone(),
                found: team_id.to_owned(),
            }
            .into());
        }

        if !key.scope.allows(context.environment) {
            return Err(JwtError::BadEnvironmentKeyId {
                key_id: key_id.to_owned(),
                environment: context.environment,
            });
        }
        if let Some(bound) = context.connection_key_id {
            let related = key.related_key_id.as_deref() == Some(bound)
                || self
                    .keys
                    .get(bound)
                    .is_some_and(|b| b.related_key_id.as_deref() == Some(key_id));
            if bound != key_id && !related {
                return Err(JwtError::UnrelatedKeyId {
                    key_id: key_id.to_owned(),
                    connection_key_id: bound.to_owned(),
                });
            }
        }

        if now.saturating_sub(issued_at) > MAX_AGE_SECS {
            return Err(JwtError::Expired { issued_at, now });
        }
        if issued_at.saturating_sub(now) > MAX_AGE_SECS {
            return Err(InvalidToken::IssuedInFuture { issued_at, now }.into());
        }
        Ok(Claims {
            key_id: key_id.to_owned(),
            team_id: team_id.to_owned(),
            issued_at,
        })
    }
}

fn decode_object(
    part_b64: &str,
    part: JwtPart,
) -> Result<serde_json::Map<String, serde_json::Value>, InvalidToken> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part_b64)
        .map_err(|_| InvalidToken::Base64(part))?;
    match serde_json::from_slice(&bytes) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(InvalidToken::NotJson {
            part,
            detail: "not an object".to_owned(),
        }),
        Err(e) => Err(InvalidToken::NotJson {
            part,
            detail: e.to_string(),
        }),
    }
}
