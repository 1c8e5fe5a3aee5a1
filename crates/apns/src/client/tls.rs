//! The client's TLS: the APNs root (docs/reference/apns.md §1.1: "USERTrust RSA Certification
//! Authority", behind both environments since February 2025), taken from Mozilla's store as
//! packaged by `webpki-roots`, plus any CA the user adds (the emulator's). Only that: a pool that
//! talks to APNs has no business trusting 150 other roots. The previous root, "AAA Certificate
//! Services" (2021), is no longer in Mozilla's store; a host still served by it needs it added with
//! [`add_pem`].

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use super::Credentials;

/// Subject common names of the APNs roots.
pub const APNS_ROOT_NAMES: [&str; 2] = [
    "USERTrust RSA Certification Authority",
    "AAA Certificate Services",
];

/// A CA file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The PEM holds no certificate or cannot be parsed.
    #[error("no usable CERTIFICATE in the CA PEM: {0}")]
    Pem(String),
    /// rustls refused the configuration.
    #[error("TLS configuration refused: {0}")]
    Config(String),
}

/// The APNs root from Mozilla's store.
pub fn apns_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.extend(
        webpki_roots::TLS_SERVER_ROOTS
            .iter()
            .filter(|anchor| {
                APNS_ROOT_NAMES
                    .iter()
                    .any(|name| contains(anchor.subject.as_ref(), name.as_bytes()))
            })
            .cloned(),
    );
    roots
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Adds every certificate of a PEM to `roots`.
pub fn add_pem(roots: &mut RootCertStore, pem: &str) -> Result<usize, TrustError> {
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| TrustError::Pem(e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| TrustError::Pem(e.to_string()))?;
        added += 1;
    }
    if added == 0 {
        return Err(TrustError::Pem("the file holds no certificate".into()));
    }
    Ok(added)
}

/// The rustls client configuration: ALPN `h2`, TLS 1.2+, the roots, and the client certificate
/// for certificate auth.
pub(crate) fn client_config(
    roots: RootCertStore,
    credentials: &Credentials,
) -> Result<Arc<rustls::ClientConfig>, TrustError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TrustError::Config(e.to_string()))?
        .with_root_certificates(roots);
    let mut config = match credentials {
        Credentials::Token(_) => builder.with_no_client_auth(),
        Credentials::Certificate(cert) => builder
            .with_client_auth_cert(cert.chain.clone(), cert.key.clone_key())
            .map_err(|e| TrustError::Config(e.to_string()))?,
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apns_root_is_in_the_store() {
        let roots = apns_roots();
        assert_eq!(roots.len(), 1, "USERTrust RSA Certification Authority");
    }

    #[test]
    fn a_pem_without_certificates_is_refused() {
        let mut roots = RootCertStore::empty();
        assert!(add_pem(&mut roots, "not a pem").is_err());
    }
}
