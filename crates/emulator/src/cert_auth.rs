//! Certificate (mTLS) connections: what a verified client certificate allows, read the way APNs
//! reads an Apple push certificate, and the per-request checks that replace the JWT on such a
//! connection (docs/reference/apns.md §1.2 `apns-topic`, §2.2, §1.7).
//!
//! What is read from the certificate (the verified end-entity certificate the client presented):
//!
//! - the subject's `UID` (0.9.2342.19200300.100.1.1): the app's bundle ID, the default topic;
//! - extension 1.2.840.113635.100.6.3.6, the topics: a `SEQUENCE` that alternates a topic string
//!   and a `SEQUENCE` of strings describing it (`app`, `voip`, `complication`), as in
//!   `SEQUENCE { "com.acme", SEQUENCE { "app" }, "com.acme.voip", SEQUENCE { "voip" }, ... }`.
//!   Every string element directly in the outer sequence is a topic; the descriptions are not
//!   needed (Pushy's `TopicUtil` reads it the same way);
//!   Extension …3.4, which Apple's doc also names as a place of the VoIP topic, is not read: its
//!   layout is not documented anywhere we found. A certificate whose subject `UID` is itself a
//!   `.voip` topic is covered by the `UID` rule;
//! - extensions 1.2.840.113635.100.6.3.1 (development, i.e. sandbox) and
//!   1.2.840.113635.100.6.3.2 (production), whose value is an ASN.1 `NULL`: their presence marks
//!   the environments the certificate is for ("Sandbox & Production" certificates carry both).
//!
//! The rules, per request, after the request line (the place of the JWT check):
//!
//! | case | answer |
//! |---|---|
//! | the certificate has no topic (no `UID`, no topics extension) or no environment extension, or the extension does not parse | 403 `BadCertificate` |
//! | the certificate is not for this listener's environment | 403 `BadCertificateEnvironment` |
//! | `apns-topic` omitted, certificate with one topic | that topic is used (Apple: "the certificate's Subject") |
//! | `apns-topic` omitted, certificate with several topics | 400 `MissingTopic` (at the builder's step, as for a token connection) |
//! | `apns-topic` not among the certificate's topics | 400 `TopicDisallowed` |
//!
//! `authorization` is ignored on a certificate connection (docs/reference/apns.md §1.2: "ignored
//! when the connection uses a client certificate"): a request that carries one is judged by the
//! certificate alone, whether the token is valid or not.
//!
//! The `MissingTopic` rule is Apple's (docs/reference/apns.md §1.2 and §1.7: the header is required
//! "for certificates with several topics; otherwise the certificate subject is the default").
//!
//! Model choices: Apple names no reason for a topic outside the certificate. The emulator answers
//! `TopicDisallowed` ("pushing to this topic is not allowed"), which providers report from APNs
//! when their certificate's topic differs from `apns-topic` (a third-party observation, e.g.
//! jazzband/django-push-notifications issue 424); Pushy's mock server answers `BadTopic`, which
//! Apple defines as an invalid `apns-topic` value. A certificate that is verified but has no
//! APNs meaning (no topic or no environment) could only be refused at the TLS level by APNs,
//! which trusts only Apple's CA; the emulator accepts the handshake and answers `BadCertificate`
//! on every request, which is easier to see in a test than a failed handshake.

use std::borrow::Cow;

use http::{HeaderMap, HeaderValue};
use pushtrace_apns::{Environment, Reason};
use x509_cert::Certificate;
use x509_cert::der::asn1::{Ia5StringRef, ObjectIdentifier, PrintableStringRef, Utf8StringRef};
use x509_cert::der::{Any, Decode, Tag, Tagged};
use x509_cert::ext::pkix::name::DirectoryString;

/// The subject attribute `UID` (RFC 4519 `uid`), where Apple puts the bundle ID.
pub(crate) const UID: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.1");
/// Apple's extension marking a development (sandbox) push certificate.
pub(crate) const DEVELOPMENT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113635.100.6.3.1");
/// Apple's extension marking a production push certificate.
pub(crate) const PRODUCTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113635.100.6.3.2");
/// Apple's extension listing the certificate's topics.
pub(crate) const TOPICS: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113635.100.6.3.6");

/// Why a verified certificate cannot be read as a push certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CertError {
    /// The DER does not parse as an X.509 certificate.
    #[error("not an X.509 certificate: {0}")]
    Der(String),
    /// The topics extension is not a sequence of strings and descriptions.
    #[error("the topics extension (1.2.840.113635.100.6.3.6) does not parse: {0}")]
    Topics(String),
    /// Neither a `UID` nor a topics extension.
    #[error("the certificate names no topic (no subject UID, no topics extension)")]
    NoTopic,
    /// Neither environment extension.
    #[error("the certificate has neither the development nor the production extension")]
    NoEnvironment,
}

/// What an Apple-style push certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PushCertificate {
    /// The subject's `UID` (the bundle ID).
    pub(crate) uid: Option<String>,
    /// The topics the certificate allows: those of the extension, then the `UID` if the extension
    /// does not list it; no duplicates.
    pub(crate) topics: Vec<String>,
    /// Carries the development extension.
    pub(crate) sandbox: bool,
    /// Carries the production extension.
    pub(crate) production: bool,
}

impl PushCertificate {
    /// Reads a certificate (DER).
    pub(crate) fn from_der(der: &[u8]) -> Result<PushCertificate, CertError> {
        let cert = Certificate::from_der(der).map_err(|e| CertError::Der(e.to_string()))?;
        let tbs = cert.tbs_certificate();
        let uid = tbs
            .subject()
            .by_oid::<DirectoryString>(UID)
            .ok()
            .flatten()
            .map(String::from);
        let mut topics = Vec::new();
        let (mut sandbox, mut production) = (false, false);
        for extension in tbs.extensions().map(Vec::as_slice).unwrap_or_default() {
            if extension.extn_id == DEVELOPMENT {
                sandbox = true;
            } else if extension.extn_id == PRODUCTION {
                production = true;
            } else if extension.extn_id == TOPICS {
                topics = parse_topics(extension.extn_value.as_bytes())?;
            }
        }
        if let Some(uid) = &uid
            && !topics.contains(uid)
        {
            topics.push(uid.clone());
        }
        if topics.is_empty() {
            return Err(CertError::NoTopic);
        }
        if !sandbox && !production {
            return Err(CertError::NoEnvironment);
        }
        Ok(PushCertificate {
            uid,
            topics,
            sandbox,
            production,
        })
    }

    fn allows(&self, environment: Environment) -> bool {
        match environment {
            Environment::Sandbox => self.sandbox,
            Environment::Production => self.production,
        }
    }
}

/// The topics of extension 1.2.840.113635.100.6.3.6: the string elements of its sequence.
fn parse_topics(value: &[u8]) -> Result<Vec<String>, CertError> {
    let error = |e: x509_cert::der::Error| CertError::Topics(e.to_string());
    let items = Vec::<Any>::from_der(value).map_err(error)?;
    let mut topics: Vec<String> = Vec::new();
    for item in &items {
        let text = match item.tag() {
            Tag::Utf8String => item
                .decode_as::<Utf8StringRef<'_>>()
                .map_err(error)?
                .as_str(),
            Tag::PrintableString => item
                .decode_as::<PrintableStringRef<'_>>()
                .map_err(error)?
                .as_str(),
            Tag::Ia5String => item
                .decode_as::<Ia5StringRef<'_>>()
                .map_err(error)?
                .as_str(),
            // The description of the topic before it (`SEQUENCE { "voip" }`).
            _ => continue,
        };
        if !topics.iter().any(|t| t == text) {
            topics.push(text.to_owned());
        }
    }
    Ok(topics)
}

/// A connection authenticated by a verified client certificate.
#[derive(Debug, Clone)]
pub(crate) struct CertConnection {
    certificate: Result<PushCertificate, CertError>,
}

impl CertConnection {
    /// From the end-entity certificate the client presented (already verified by rustls).
    pub(crate) fn from_der(der: &[u8]) -> CertConnection {
        CertConnection {
            certificate: PushCertificate::from_der(der),
        }
    }

    /// Step 4 on a certificate connection: the certificate is usable here.
    pub(crate) fn authenticate(&self, environment: Environment) -> Result<(), Reason> {
        match &self.certificate {
            Err(_) => Err(Reason::BadCertificate),
            Ok(cert) if !cert.allows(environment) => Err(Reason::BadCertificateEnvironment),
            Ok(_) => Ok(()),
        }
    }

    /// The headers with `apns-topic` filled in from a one-topic certificate when omitted.
    pub(crate) fn with_default_topic<'h>(&self, headers: &'h HeaderMap) -> Cow<'h, HeaderMap> {
        let single = match &self.certificate {
            Ok(cert) if cert.topics.len() == 1 => &cert.topics[0],
            _ => return Cow::Borrowed(headers),
        };
        if headers.contains_key("apns-topic") {
            return Cow::Borrowed(headers);
        }
        let Ok(value) = HeaderValue::from_str(single) else {
            return Cow::Borrowed(headers);
        };
        let mut owned = headers.clone();
        owned.insert("apns-topic", value);
        Cow::Owned(owned)
    }

    /// The push's topic is one of the certificate's.
    pub(crate) fn check_topic(&self, topic: &str) -> Result<(), Reason> {
        match &self.certificate {
            Ok(cert) if cert.topics.iter().any(|t| t == topic) => Ok(()),
            Ok(_) => Err(Reason::TopicDisallowed),
            Err(_) => Err(Reason::BadCertificate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_cert::{CertEnvironments, ClientCertificateRequest, issue};

    fn ca() -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap()
    }

    fn der_of(request: &ClientCertificateRequest) -> Vec<u8> {
        let issued = issue(&ca(), request).unwrap();
        issued.cert_der
    }

    #[test]
    fn apples_layout_gives_three_topics_and_the_environments() {
        let der = der_of(&ClientCertificateRequest::new("com.acme.call"));
        let cert = PushCertificate::from_der(&der).unwrap();
        assert_eq!(cert.uid.as_deref(), Some("com.acme.call"));
        assert_eq!(
            cert.topics,
            [
                "com.acme.call",
                "com.acme.call.voip",
                "com.acme.call.complication"
            ]
        );
        assert!(cert.sandbox && cert.production);

        let sandbox = der_of(
            &ClientCertificateRequest::new("com.acme.call")
                .environments(CertEnvironments::Sandbox)
                .extra_topic("com.acme.call.voip-ptt"),
        );
        let cert = PushCertificate::from_der(&sandbox).unwrap();
        assert!(cert.sandbox && !cert.production);
        assert_eq!(cert.topics.len(), 4);
        assert_eq!(cert.topics[3], "com.acme.call.voip-ptt");
    }

    #[test]
    fn the_topics_extension_matches_apples_encoding_byte_for_byte() {
        // The layout Apple's certificates carry (as decoded by the Erlang `apns_cert` module):
        // SEQUENCE { UTF8 "a.b", SEQUENCE { UTF8 "app" }, UTF8 "a.b.voip", SEQUENCE { UTF8 "voip" } }
        let apple: &[u8] = &[
            0x30, 0x1e, 0x0c, 0x03, b'a', b'.', b'b', 0x30, 0x05, 0x0c, 0x03, b'a', b'p', b'p',
            0x0c, 0x08, b'a', b'.', b'b', b'.', b'v', b'o', b'i', b'p', 0x30, 0x06, 0x0c, 0x04,
            b'v', b'o', b'i', b'p',
        ];
        assert_eq!(parse_topics(apple).unwrap(), ["a.b", "a.b.voip"]);
        let ours = crate::client_cert::topics_extension(&[
            ("a.b".into(), "app"),
            ("a.b.voip".into(), "voip"),
        ])
        .unwrap();
        assert_eq!(ours, apple);
    }

    #[test]
    fn a_malformed_topics_extension_is_an_error_not_a_panic() {
        assert!(matches!(
            parse_topics(&[0x30, 0x05, 0x0c]),
            Err(CertError::Topics(_))
        ));
        assert!(matches!(
            parse_topics(&[0x04, 0x00]),
            Err(CertError::Topics(_))
        ));
        assert!(matches!(parse_topics(&[]), Err(CertError::Topics(_))));
        assert!(matches!(
            PushCertificate::from_der(b"not a certificate"),
            Err(CertError::Der(_))
        ));
    }

    #[test]
    fn a_legacy_certificate_has_only_its_uid_as_topic() {
        let der =
            der_of(&ClientCertificateRequest::new("com.acme.call").without_topics_extension());
        let cert = PushCertificate::from_der(&der).unwrap();
        assert_eq!(cert.topics, ["com.acme.call"]);

        let connection = CertConnection::from_der(&der);
        let headers = HeaderMap::new();
        let filled = connection.with_default_topic(&headers);
        assert_eq!(filled.get("apns-topic").unwrap(), "com.acme.call");
        assert_eq!(
            connection.check_topic("com.acme.call.voip"),
            Err(Reason::TopicDisallowed)
        );
    }

    #[test]
    fn environment_and_topic_rules() {
        let der = der_of(
            &ClientCertificateRequest::new("com.acme.call")
                .environments(CertEnvironments::Production),
        );
        let connection = CertConnection::from_der(&der);
        assert_eq!(connection.authenticate(Environment::Production), Ok(()));
        assert_eq!(
            connection.authenticate(Environment::Sandbox),
            Err(Reason::BadCertificateEnvironment)
        );
        // Several topics: nothing is filled in, the builder answers MissingTopic.
        let headers = HeaderMap::new();
        assert!(matches!(
            connection.with_default_topic(&headers),
            Cow::Borrowed(_)
        ));
        assert_eq!(connection.check_topic("com.acme.call.voip"), Ok(()));
        assert_eq!(
            connection.check_topic("com.other.voip"),
            Err(Reason::TopicDisallowed)
        );
    }

    #[test]
    fn a_certificate_without_apns_meaning_is_bad_certificate() {
        let plain = rcgen::CertificateParams::new(vec!["client".to_owned()])
            .unwrap()
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap();
        let connection = CertConnection::from_der(plain.der());
        assert_eq!(
            connection.authenticate(Environment::Sandbox),
            Err(Reason::BadCertificate)
        );
        assert_eq!(
            PushCertificate::from_der(plain.der()),
            Err(CertError::NoTopic)
        );
    }
}
