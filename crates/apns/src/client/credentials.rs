//! How the client proves who it is: a provider token shared by every connection of a pool, or a
//! TLS client certificate (docs/reference/apns.md §2).
//!
//! One token per signing key, cached (docs/reference/apns.md §7: "cache one token per key, shared
//! fleet-wide"): every request of every connection carries the same `authorization` until the
//! token is [`TokenSigner::refresh_after`] old (default 50 minutes, kept within Apple's 20–55
//! minute window), so no connection ever sees its token change more often than once per 20
//! minutes (APNs's `TooManyProviderTokenUpdates` rule). On `ExpiredProviderToken` the pool
//! replaces the token that failed, once, and resends.

use super::lock;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{MIN_REFRESH_SECS, ProviderToken, SignError, SigningKey};

/// UNIX seconds, as the token's `iat` should read them.
pub type UnixClock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock in UNIX seconds.
pub fn system_clock() -> UnixClock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    })
}

/// Signs and caches the provider token of one key.
pub struct TokenSigner {
    key: SigningKey,
    key_id: String,
    team_id: String,
    refresh_after: u64,
    clock: UnixClock,
    current: Mutex<Option<ProviderToken>>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("key_id", &self.key_id)
            .field("team_id", &self.team_id)
            .field("refresh_after", &self.refresh_after)
            .finish_non_exhaustive()
    }
}

/// Default token lifetime before a new one is signed (Apple: refresh between 20 and 60 minutes;
/// peers use 50–55).
pub const DEFAULT_REFRESH_AFTER: Duration = Duration::from_secs(50 * 60);
/// The longest [`TokenSigner::refresh_after`] allowed, leaving five minutes before APNs's hour.
pub const MAX_REFRESH_AFTER: Duration = Duration::from_secs(55 * 60);

impl TokenSigner {
    /// A signer for `key` under Apple's 10-character key and team IDs (checked now, so a typo
    /// fails before the first push).
    pub fn new(key: SigningKey, key_id: &str, team_id: &str) -> Result<TokenSigner, SignError> {
        // Signing once validates both IDs.
        ProviderToken::sign(&key, key_id, team_id, 0)?;
        Ok(TokenSigner {
            key,
            key_id: key_id.to_owned(),
            team_id: team_id.to_owned(),
            refresh_after: DEFAULT_REFRESH_AFTER.as_secs(),
            clock: system_clock(),
            current: Mutex::new(None),
        })
    }

    /// How old a token may get before a new one is signed; clamped to 20–55 minutes.
    pub fn refresh_after(mut self, age: Duration) -> TokenSigner {
        self.refresh_after = age
            .as_secs()
            .clamp(MIN_REFRESH_SECS, MAX_REFRESH_AFTER.as_secs());
        self
    }

    /// The clock for `iat` (default: the system clock).
    pub fn clock(mut self, clock: UnixClock) -> TokenSigner {
        self.clock = clock;
        self
    }

    /// The `kid`.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The `iss`.
    pub fn team_id(&self) -> &str {
        &self.team_id
    }

    /// The token to send now: the cached one, or a new one when it is too old.
    pub fn current(&self) -> ProviderToken {
        let now = (self.clock)();
        let mut current = lock(&self.current);
        match &*current {
            Some(token) if token.age(now) < self.refresh_after && token.issued_at() <= now => {
                token.clone()
            }
            _ => {
                let token = self.sign(now);
                *current = Some(token.clone());
                token
            }
        }
    }

    /// APNs called `failed` expired: sign a new one unless another request already did. Returns
    /// whether the next [`TokenSigner::current`] differs from `failed`.
    pub fn replace_expired(&self, failed: &ProviderToken) -> bool {
        let now = (self.clock)();
        let mut current = lock(&self.current);
        if current.as_ref().is_some_and(|t| t != failed) {
            return true;
        }
        let token = self.sign(now);
        let changed = token != *failed;
        *current = Some(token);
        changed
    }

    fn sign(&self, now: u64) -> ProviderToken {
        // The IDs were checked in `new`, and signing with a valid key cannot fail otherwise.
        match ProviderToken::sign(&self.key, &self.key_id, &self.team_id, now) {
            Ok(token) => token,
            Err(e) => unreachable!("IDs checked at construction: {e}"),
        }
    }
}

/// A TLS client certificate for certificate-based auth (docs/reference/apns.md §2.2): the
/// certificate chain and its private key, DER.
#[derive(Debug, Clone)]
pub struct ClientCertificate {
    pub(crate) chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    pub(crate) key: Arc<rustls::pki_types::PrivateKeyDer<'static>>,
}

/// A certificate or key file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// No certificate in the PEM text.
    #[error("no CERTIFICATE block found in the PEM; give the APNs certificate (and its chain)")]
    NoCertificate,
    /// No private key in the PEM text.
    #[error(
        "no PRIVATE KEY block found in the PEM; give the certificate's key (PKCS#8, RSA or EC)"
    )]
    NoKey,
    /// The PEM could not be parsed.
    #[error("the PEM cannot be read: {0}")]
    Pem(String),
    /// The PKCS#12 file could not be opened.
    #[error(
        "the PKCS#12 (.p12) file cannot be opened: {0}; check the password (an empty one is tried when none is given) and that the file is a .p12 export"
    )]
    Pkcs12(String),
}

impl ClientCertificate {
    /// From PEM text holding the certificate (then its chain) and the private key, in one
    /// string or two (`openssl pkcs12 -in cert.p12 -nodes` prints both).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<ClientCertificate, CertificateError> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CertificateError::Pem(e.to_string()))?;
        if chain.is_empty() {
            return Err(CertificateError::NoCertificate);
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => CertificateError::NoKey,
            other => CertificateError::Pem(other.to_string()),
        })?;
        Ok(ClientCertificate {
            chain,
            key: Arc::new(key),
        })
    }
}

impl ClientCertificate {
    /// From a PKCS#12 file (`.p12`, what Keychain Access exports for an APNs certificate): its
    /// private key and that key's certificate chain. Reads modern (PBES2 with AES) and legacy
    /// (3DES, RC2-40, as older Keychain exports and `openssl -legacy` make) encryption.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<ClientCertificate, CertificateError> {
        use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let store = KeyStore::from_pkcs12(der, password, Pkcs12ImportPolicy::Strict)
            .map_err(|e| CertificateError::Pkcs12(e.to_string()))?;
        let (_alias, chain) = store.private_key_chain().ok_or(CertificateError::NoKey)?;
        let certs: Vec<CertificateDer<'static>> = chain
            .certs()
            .iter()
            .map(|c| CertificateDer::from(c.as_der().to_vec()))
            .collect();
        if certs.is_empty() {
            return Err(CertificateError::NoCertificate);
        }
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
        Ok(ClientCertificate {
            chain: certs,
            key: Arc::new(key),
        })
    }
}

/// What a pool authenticates with.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Token-based: `authorization: bearer <JWT>` on every request.
    Token(Arc<TokenSigner>),
    /// Certificate-based: a TLS client certificate, no `authorization`.
    Certificate(ClientCertificate),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    const P8: &str = include_str!("../../testdata/test-AuthKey.p8");

    #[test]
    fn one_token_is_shared_until_it_is_old_then_replaced_once() {
        let now = Arc::new(AtomicU64::new(1_000_000));
        let clock = {
            let now = Arc::clone(&now);
            Arc::new(move || now.load(Ordering::SeqCst))
        };
        let key = SigningKey::from_p8_pem(P8).unwrap();
        let signer = TokenSigner::new(key, "TESTKEY001", "TESTTEAM01")
            .unwrap()
            .clock(clock);
        let first = signer.current();
        now.fetch_add(49 * 60, Ordering::SeqCst);
        assert_eq!(signer.current(), first, "reused for 50 minutes");
        now.fetch_add(60, Ordering::SeqCst);
        let second = signer.current();
        assert_ne!(second, first);
        assert_eq!(second.issued_at(), 1_000_000 + 50 * 60);

        // Two requests fail with the same expired token: one new token, not two.
        now.fetch_add(5, Ordering::SeqCst);
        assert!(signer.replace_expired(&second));
        let third = signer.current();
        assert!(signer.replace_expired(&second), "already replaced");
        assert_eq!(signer.current(), third);
    }

    #[test]
    fn bad_ids_fail_at_construction_and_refresh_is_clamped() {
        let key = SigningKey::from_p8_pem(P8).unwrap();
        let error = TokenSigner::new(key.clone(), "short", "TESTTEAM01").unwrap_err();
        assert!(error.to_string().contains("short"), "{error}");
        let signer = TokenSigner::new(key, "TESTKEY001", "TESTTEAM01")
            .unwrap()
            .refresh_after(Duration::from_secs(5));
        assert_eq!(signer.refresh_after, MIN_REFRESH_SECS);
    }

    const CERT_PEM: &str = include_str!("../../testdata/client-cert.pem");
    const KEY_PEM: &str = include_str!("../../testdata/client-key.pem");

    #[test]
    fn pkcs12_files_modern_and_legacy_give_the_pem_s_certificate_and_key() {
        let pem = ClientCertificate::from_pem(CERT_PEM, KEY_PEM).unwrap();
        for file in [
            &include_bytes!("../../testdata/client-cert-aes.p12")[..],
            &include_bytes!("../../testdata/client-cert-legacy.p12")[..],
        ] {
            let p12 = ClientCertificate::from_pkcs12(file, "pushtrace-test").unwrap();
            assert_eq!(p12.chain, pem.chain);
            assert_eq!(p12.key.secret_der(), pem.key.secret_der());
        }
        let error = ClientCertificate::from_pkcs12(
            include_bytes!("../../testdata/client-cert-aes.p12"),
            "wrong",
        )
        .unwrap_err();
        assert!(error.to_string().contains("password"), "{error}");
        let error = ClientCertificate::from_pkcs12(b"not a p12", "").unwrap_err();
        assert!(matches!(error, CertificateError::Pkcs12(_)), "{error}");
    }

    #[test]
    fn certificates_from_pem_say_what_is_missing() {
        assert!(matches!(
            ClientCertificate::from_pem("", P8),
            Err(CertificateError::NoCertificate)
        ));
    }
}
