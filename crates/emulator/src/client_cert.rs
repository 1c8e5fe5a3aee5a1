//! Provider (client) certificates issued by the emulator's CA, shaped like Apple's "Apple Push
//! Notification service SSL" certificates so that certificate connections can be tested without
//! Apple: [`EmulatorHandle::issue_client_certificate`](crate::EmulatorHandle::issue_client_certificate).
//!
//! An issued certificate carries what APNs reads (see `cert_auth`): subject `UID` = the bundle ID,
//! `CN` = `Apple Push Services: <bundle>` (or "Apple Development IOS Push Services: …" /
//! "Apple Production IOS Push Services: …" for a one-environment certificate, the names of
//! Apple's older certificates), `OU` = the team ID when given, the environment extensions
//! (1.2.840.113635.100.6.3.1 development, …3.2 production, value `NULL`), and the topics
//! extension (…3.6) listing `<bundle>` (`app`), `<bundle>.voip` (`voip`),
//! `<bundle>.complication` (`complication`) and any extra topics, each followed by its
//! description; extended key usage `clientAuth`. The key is ECDSA P-256 (Apple issues RSA 2048;
//! nothing here depends on the key type).
//!
//! Model choice: Apple does not document the description of a topic other than those three; an
//! extra topic is described by its suffix after the bundle ID (`voip-ptt` for
//! `<bundle>.voip-ptt`), or `topic` when it does not start with the bundle ID.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    CertificateParams, CertifiedIssuer, CustomExtension, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose,
};
use x509_cert::der::asn1::Utf8StringRef;
use x509_cert::der::{Any, Encode};

use crate::StartError;
use crate::cert_auth::{DEVELOPMENT, PRODUCTION, TOPICS, UID};

/// How long an issued certificate is valid by default (Apple's push certificates: a year).
const DEFAULT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// How far back the default validity starts, so that small clock skews do not matter.
const BACKDATE: Duration = Duration::from_secs(3600);

/// The environments a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertEnvironments {
    /// Development (sandbox) only.
    Sandbox,
    /// Production only.
    Production,
    /// Both ("Sandbox & Production", Apple's kind since 2015). The default.
    #[default]
    Both,
}

/// What to put in a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificateRequest {
    /// The app's bundle ID: subject `UID` and the base topic.
    pub bundle_id: String,
    /// Topics listed after Apple's three (`<bundle>`, `.voip`, `.complication`).
    pub extra_topics: Vec<String>,
    /// Where the certificate may be used.
    pub environments: CertEnvironments,
    /// Include the topics extension (default `true`). Without it the certificate has a single
    /// topic, its `UID`, like Apple's pre-2015 certificates.
    pub topics_extension: bool,
    /// The team ID, put in the subject's `OU` as Apple does.
    pub team_id: Option<String>,
    /// Start of validity (default: an hour ago, by the system clock).
    pub not_before: SystemTime,
    /// End of validity (default: a year from now, by the system clock). TLS checks it against
    /// the system clock, not the emulator's [`Clock`](crate::Clock).
    pub not_after: SystemTime,
}

impl ClientCertificateRequest {
    /// A "Sandbox & Production" certificate for `bundle_id` with Apple's three topics.
    pub fn new(bundle_id: impl Into<String>) -> Self {
        let now = SystemTime::now();
        ClientCertificateRequest {
            bundle_id: bundle_id.into(),
            extra_topics: Vec::new(),
            environments: CertEnvironments::Both,
            topics_extension: true,
            team_id: None,
            not_before: now.checked_sub(BACKDATE).unwrap_or(now),
            not_after: now + DEFAULT_VALIDITY,
        }
    }

    /// Where the certificate may be used.
    pub fn environments(mut self, environments: CertEnvironments) -> Self {
        self.environments = environments;
        self
    }

    /// One more topic in the topics extension.
    pub fn extra_topic(mut self, topic: impl Into<String>) -> Self {
        self.extra_topics.push(topic.into());
        self
    }

    /// No topics extension: the `UID` is the only topic.
    pub fn without_topics_extension(mut self) -> Self {
        self.topics_extension = false;
        self
    }

    /// The team ID (subject `OU`).
    pub fn team_id(mut self, team_id: impl Into<String>) -> Self {
        self.team_id = Some(team_id.into());
        self
    }

    /// The validity period.
    pub fn validity(mut self, not_before: SystemTime, not_after: SystemTime) -> Self {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }

    /// The topics and their descriptions, in Apple's order.
    fn topics(&self) -> Vec<(String, &str)> {
        let bundle = &self.bundle_id;
        let mut topics = vec![
            (bundle.clone(), "app"),
            (format!("{bundle}.voip"), "voip"),
            (format!("{bundle}.complication"), "complication"),
        ];
        for extra in &self.extra_topics {
            let kind = extra
                .strip_prefix(bundle.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                .filter(|suffix| !suffix.is_empty())
                .unwrap_or("topic");
            topics.push((extra.clone(), kind));
        }
        topics
    }
}

/// An issued certificate and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The private key, PKCS#8 PEM (`PRIVATE KEY`).
    pub key_pem: String,
}

impl ClientCertificate {
    /// Certificate then key in one PEM text, the form `curl --cert` and most clients read.
    pub fn identity_pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.key_pem)
    }
}

/// Why a client certificate could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    /// A topic (the bundle ID or an extra topic) cannot be sent as `apns-topic`.
    #[error(
        "topic {0:?} cannot be a certificate topic: give a non-empty printable ASCII name without spaces, like com.acme.call"
    )]
    Topic(String),
    /// The validity period is empty or before 1970.
    #[error("the validity period is empty or before 1970: not_after must be after not_before")]
    Validity,
    /// Certificate generation failed.
    #[error("could not make the client certificate: {0}")]
    Certificate(String),
}

fn is_topic(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic())
}

fn oid_arcs(oid: &x509_cert::der::asn1::ObjectIdentifier) -> Vec<u64> {
    oid.arcs().map(u64::from).collect()
}

fn timestamp(at: SystemTime) -> Result<time::OffsetDateTime, IssueError> {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| IssueError::Validity)?
        .as_secs();
    let secs = i64::try_from(secs).map_err(|_| IssueError::Validity)?;
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(|_| IssueError::Validity)
}

/// The DER value of the topics extension: `SEQUENCE { topic, SEQUENCE { description }, ... }`.
pub(crate) fn topics_extension(topics: &[(String, &str)]) -> Result<Vec<u8>, IssueError> {
    let der_error = |e: x509_cert::der::Error| IssueError::Certificate(e.to_string());
    let mut items = Vec::with_capacity(topics.len() * 2);
    for (topic, kind) in topics {
        items.push(
            Any::encode_from(&Utf8StringRef::new(topic.as_str()).map_err(der_error)?)
                .map_err(der_error)?,
        );
        let description = vec![Utf8StringRef::new(*kind).map_err(der_error)?];
        items.push(Any::encode_from(&description).map_err(der_error)?);
    }
    items.to_der().map_err(der_error)
}

/// Issues a client certificate signed by `ca`.
pub(crate) fn issue(
    ca: &CertifiedIssuer<'static, KeyPair>,
    request: &ClientCertificateRequest,
) -> Result<ClientCertificate, IssueError> {
    let topics = request.topics();
    if let Some((bad, _)) = topics.iter().find(|(topic, _)| !is_topic(topic)) {
        return Err(IssueError::Topic(bad.clone()));
    }
    let not_before = timestamp(request.not_before)?;
    let not_after = timestamp(request.not_after)?;
    if not_after <= not_before {
        return Err(IssueError::Validity);
    }
    let cert_error = |e: rcgen::Error| IssueError::Certificate(e.to_string());
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    let bundle = &request.bundle_id;
    let (sandbox, production, prefix) = match request.environments {
        CertEnvironments::Sandbox => (true, false, "Apple Development IOS Push Services"),
        CertEnvironments::Production => (false, true, "Apple Production IOS Push Services"),
        CertEnvironments::Both => (true, true, "Apple Push Services"),
    };
    let name = &mut params.distinguished_name;
    name.push(DnType::CustomDnType(oid_arcs(&UID)), bundle.as_str());
    name.push(DnType::CommonName, format!("{prefix}: {bundle}"));
    if let Some(team) = &request.team_id {
        name.push(DnType::OrganizationalUnitName, team.as_str());
    }
    params.not_before = not_before;
    params.not_after = not_after;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let null = vec![0x05, 0x00];
    if sandbox {
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &oid_arcs(&DEVELOPMENT),
                null.clone(),
            ));
    }
    if production {
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &oid_arcs(&PRODUCTION),
                null,
            ));
    }
    if request.topics_extension {
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &oid_arcs(&TOPICS),
                topics_extension(&topics)?,
            ));
    }
    let key = KeyPair::generate().map_err(cert_error)?;
    let cert = params.signed_by(&key, ca).map_err(cert_error)?;
    Ok(ClientCertificate {
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
    })
}

/// Issues a certificate at start and writes certificate and key to `path`.
pub(crate) fn write(
    ca: &CertifiedIssuer<'static, KeyPair>,
    request: &ClientCertificateRequest,
    path: &Path,
) -> Result<(), StartError> {
    let error = |message: String| StartError::ClientCertificate {
        path: path.to_owned(),
        message,
    };
    let issued = issue(ca, request).map_err(|e| error(e.to_string()))?;
    std::fs::write(path, issued.identity_pem()).map_err(|e| {
        error(format!(
            "cannot write it: {e}; check the directory exists and is writable"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca() -> CertifiedIssuer<'static, KeyPair> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
    }

    #[test]
    fn extra_topics_are_described_by_their_suffix() {
        let request = ClientCertificateRequest::new("a.b")
            .extra_topic("a.b.voip-ptt")
            .extra_topic("x.y");
        let topics = request.topics();
        assert_eq!(topics[3], ("a.b.voip-ptt".to_owned(), "voip-ptt"));
        assert_eq!(topics[4], ("x.y".to_owned(), "topic"));
    }

    #[test]
    fn bad_requests_are_refused_with_the_reason() {
        let ca = ca();
        let error = issue(&ca, &ClientCertificateRequest::new("com acme")).unwrap_err();
        assert_eq!(error, IssueError::Topic("com acme".into()));
        assert!(error.to_string().contains("without spaces"), "{error}");
        let now = SystemTime::now();
        let backwards = ClientCertificateRequest::new("a.b").validity(now, now);
        assert_eq!(issue(&ca, &backwards).unwrap_err(), IssueError::Validity);
    }

    #[test]
    fn the_subject_names_the_bundle_like_apple() {
        let issued = issue(
            &ca(),
            &ClientCertificateRequest::new("com.acme.call")
                .environments(CertEnvironments::Sandbox)
                .team_id("TESTTEAM01"),
        )
        .unwrap();
        let cert =
            <x509_cert::Certificate as x509_cert::der::Decode>::from_der(&issued.cert_der).unwrap();
        let subject = cert.tbs_certificate().subject().to_string();
        assert!(
            subject.contains("CN=Apple Development IOS Push Services: com.acme.call"),
            "{subject}"
        );
        assert!(subject.contains("OU=TESTTEAM01"), "{subject}");
        assert!(issued.identity_pem().contains("PRIVATE KEY"));
        assert!(issued.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
