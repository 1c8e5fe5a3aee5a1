//! Certificates made at start: a throwaway CA and a server certificate it signs for
//! `localhost`, `127.0.0.1`, `::1` and Apple's two host names, served with ALPN `h2` only.
//!
//! The listeners ask for a client certificate but do not require one (rustls
//! `WebPkiClientVerifier::allow_unauthenticated`): a client that sends none is a token
//! connection; one that sends a certificate chaining to the emulator's CA or to a configured
//! client CA is a certificate connection (`cert_auth`); one that sends any other certificate
//! (unknown issuer, expired by the system clock, no `clientAuth` usage) fails the handshake, as a
//! certificate not issued by Apple fails against APNs.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::StartError;

/// The names the server certificate is valid for.
pub const SERVER_NAMES: [&str; 5] = [
    "localhost",
    "127.0.0.1",
    "::1",
    "api.sandbox.push.apple.com",
    "api.push.apple.com",
];

/// The generated CA and the rustls configuration of the listeners.
pub(crate) struct Tls {
    pub(crate) ca_pem: String,
    /// The CA, kept to issue client certificates.
    pub(crate) ca: Arc<CertifiedIssuer<'static, KeyPair>>,
    pub(crate) server_config: Arc<rustls::ServerConfig>,
}

fn cert_error(e: rcgen::Error) -> StartError {
    StartError::Certificate(e.to_string())
}

/// The emulator's CA and every certificate of the `client_cas` PEM texts.
fn client_roots(
    ca: &CertificateDer<'static>,
    client_cas: &[String],
) -> Result<RootCertStore, StartError> {
    let ca_error = |index: usize, message: String| {
        StartError::ClientCa(format!("client CA PEM #{}: {message}", index + 1))
    };
    let mut roots = RootCertStore::empty();
    roots
        .add(ca.clone())
        .map_err(|e| StartError::Tls(e.to_string()))?;
    for (index, pem) in client_cas.iter().enumerate() {
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| ca_error(index, e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| ca_error(index, format!("not a usable CA certificate: {e}")))?;
            found += 1;
        }
        if found == 0 {
            return Err(ca_error(
                index,
                "holds no CERTIFICATE block; give the CA certificate in PEM".into(),
            ));
        }
    }
    Ok(roots)
}

pub(crate) fn generate(client_cas: &[String]) -> Result<Tls, StartError> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "pushtrace emulator CA (test only)");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().map_err(cert_error)?;
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(cert_error)?;

    let names: Vec<String> = SERVER_NAMES.iter().map(|s| (*s).to_owned()).collect();
    let mut params = CertificateParams::new(names).map_err(cert_error)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "pushtrace emulator");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().map_err(cert_error)?;
    let cert = params.signed_by(&key, &ca).map_err(cert_error)?;

    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone(), ca.der().clone()];
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = client_roots(ca.der(), client_cas)?;
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .allow_unauthenticated()
            .build()
            .map_err(|e| StartError::Tls(e.to_string()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key_der)
        .map_err(|e| StartError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Tls {
        ca_pem: ca.pem(),
        ca: Arc::new(ca),
        server_config: Arc::new(config),
    })
}
