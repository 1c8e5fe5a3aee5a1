//! Certificates made at start: a throwaway CA and a server certificate it signs for
//! `localhost`, `127.0.0.1`, `::1` and Apple's two host names, served with ALPN `h2` only.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

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
    pub(crate) server_config: Arc<rustls::ServerConfig>,
}

fn cert_error(e: rcgen::Error) -> StartError {
    StartError::Certificate(e.to_string())
}

pub(crate) fn generate() -> Result<Tls, StartError> {
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
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| StartError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Tls {
        ca_pem: ca.pem(),
        server_config: Arc::new(config),
    })
}
