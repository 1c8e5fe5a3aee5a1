//! Certificate (mTLS) connections over real TLS (docs/reference/apns.md §2.2, §1.2 `apns-topic`):
//! client certificates issued like Apple's, topics from the certificate, the environment check,
//! foreign and expired certificates, and the stream limit advertised at once.

mod common;

use std::time::{Duration, SystemTime};

use common::{OTHER_TOKEN, Req, TOKEN, TOPIC, connect_with_cert, token, try_connect};
use pushtrace_apns::{Environment, Reason};
use pushtrace_emulator::{
    CertEnvironments, ClientCertificate, ClientCertificateRequest, EmulatorHandle,
};

/// The bundle whose `.voip` topic is `TOPIC`.
const BUNDLE: &str = "com.acme.call";

fn issue(emulator: &EmulatorHandle, request: ClientCertificateRequest) -> ClientCertificate {
    emulator.issue_client_certificate(&request).unwrap()
}

fn assert_accepted(reply: &common::Reply) {
    let body = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 200, "{body}");
}

async fn start() -> EmulatorHandle {
    common::start().await
}

/// A request on a connection that must have been refused: the error, whichever step shows it.
async fn refused(emulator: &EmulatorHandle, identity: &ClientCertificate) -> String {
    let attempt = async {
        let (client, _limit) = try_connect(
            emulator.addr(Environment::Sandbox),
            emulator.ca_pem(),
            Some(identity),
        )
        .await?;
        let reply = Req::voip()
            .without("authorization")
            .send(&client)
            .await
            .map_err(|e| format!("request: {e}"))?;
        Err::<String, String>(format!("answered {}", reply.status))
    };
    match tokio::time::timeout(Duration::from_secs(5), attempt).await {
        Ok(Err(error)) if !error.starts_with("answered") => error,
        other => panic!("the connection was not refused: {other:?}"),
    }
}

#[tokio::test]
async fn a_certificate_connection_sends_a_voip_push_without_authorization() {
    let emulator = start().await;
    let identity = issue(&emulator, ClientCertificateRequest::new(BUNDLE));
    let (client, _) = connect_with_cert(&emulator, Environment::Sandbox, &identity).await;
    let reply = Req::voip()
        .without("authorization")
        .send(&client)
        .await
        .unwrap();
    assert_accepted(&reply);
    let log = emulator.accepted();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].topic, TOPIC);
    assert_eq!(log[0].token, token(TOKEN));
}

#[tokio::test]
async fn authorization_is_ignored_on_a_certificate_connection() {
    let emulator = start().await;
    let identity = issue(&emulator, ClientCertificateRequest::new(BUNDLE));
    let (client, _) = connect_with_cert(&emulator, Environment::Sandbox, &identity).await;
    let garbage = Req::voip().set("authorization", "bearer a.b.c");
    assert_eq!(garbage.send(&client).await.unwrap().status, 200);
    // A valid token does not make another topic allowed either.
    Req::voip()
        .set("apns-topic", "com.other.app.voip")
        .send(&client)
        .await
        .unwrap()
        .assert_reason(400, Reason::TopicDisallowed);
}

#[tokio::test]
async fn a_topic_outside_the_certificate_is_topic_disallowed() {
    let emulator = start().await;
    let identity = issue(&emulator, ClientCertificateRequest::new("com.other.app"));
    let (client, _) = connect_with_cert(&emulator, Environment::Sandbox, &identity).await;
    let reply = Req::voip()
        .without("authorization")
        .send(&client)
        .await
        .unwrap();
    reply.assert_reason(400, Reason::TopicDisallowed);
    assert!(emulator.accepted().is_empty());
}

#[tokio::test]
async fn an_extra_topic_of_the_certificate_is_allowed() {
    let emulator = common::builder()
        .device(
            Environment::Sandbox,
            "com.acme.call.voip-ptt",
            token(OTHER_TOKEN),
        )
        .start()
        .await
        .unwrap();
    let identity = issue(
        &emulator,
        ClientCertificateRequest::new(BUNDLE).extra_topic("com.acme.call.voip-ptt"),
    );
    let (client, _) = connect_with_cert(&emulator, Environment::Sandbox, &identity).await;
    let ptt = Req::voip()
        .without("authorization")
        .path(format!("/3/device/{OTHER_TOKEN}"))
        .set("apns-push-type", "pushtotalk")
        .set("apns-topic", "com.acme.call.voip-ptt");
    let reply = ptt.send(&client).await.unwrap();
    assert_accepted(&reply);
}

#[tokio::test]
async fn a_missing_topic_with_a_multi_topic_certificate_is_missing_topic() {
    let emulator = start().await;
    let identity = issue(&emulator, ClientCertificateRequest::new(BUNDLE));
    let (client, _) = connect_with_cert(&emulator, Environment::Sandbox, &identity).await;
    Req::voip()
        .without("authorization")
        .without("apns-topic")
        .send(&client)
        .await
        .unwrap()
        .assert_reason(400, Reason::MissingTopic);
}

#[tokio::test]
async fn a_missing_topic_with_a_single_topic_certificate_is_its_subject() {
    let alerts = "com.acme.alerts";
    let emulator = common::builder()
        .device(Environment::Sandbox, alerts, token(OTHER_TOKEN))
        .start()
        .await
        .unwrap();
    let identity = issue(
        &emulator,
        ClientCertificateRequest::new(alerts).without_topics_extension(),
    );
    let (client, _) = connect_with_cert(&emulator, Environment::Sandbox, &identity).await;
    let alert = Req::voip()
        .without("authorization")
        .without("apns-topic")
        .path(format!("/3/device/{OTHER_TOKEN}"))
        .set("apns-push-type", "alert")
        .body(br#"{"aps":{"alert":"hi"}}"#.to_vec());
    let reply = alert.send(&client).await.unwrap();
    assert_accepted(&reply);
    assert_eq!(emulator.accepted()[0].topic, alerts);
    // A certificate whose one topic (its subject) is a `.voip` topic: a VoIP push needs neither
    // apns-topic nor apns-push-type (the type follows from the defaulted topic).
    let voip_only = issue(
        &emulator,
        ClientCertificateRequest::new(TOPIC).without_topics_extension(),
    );
    let (client, _) = connect_with_cert(&emulator, Environment::Sandbox, &voip_only).await;
    let bare = Req::voip()
        .without("authorization")
        .without("apns-topic")
        .without("apns-push-type");
    let reply = bare.send(&client).await.unwrap();
    assert_accepted(&reply);
    let pushed = &emulator.accepted()[1];
    assert_eq!(pushed.topic, TOPIC);
    assert_eq!(pushed.push_type, None);
    // Its only topic is the subject: the VoIP topic is not in it.
    let identity = issue(
        &emulator,
        ClientCertificateRequest::new(BUNDLE).without_topics_extension(),
    );
    let (client, _) = connect_with_cert(&emulator, Environment::Sandbox, &identity).await;
    Req::voip()
        .without("authorization")
        .send(&client)
        .await
        .unwrap()
        .assert_reason(400, Reason::TopicDisallowed);
}

#[tokio::test]
async fn a_certificate_for_the_other_environment_is_bad_certificate_environment() {
    let emulator = common::builder()
        .device(Environment::Production, TOPIC, token(OTHER_TOKEN))
        .start()
        .await
        .unwrap();
    let sandbox_only = issue(
        &emulator,
        ClientCertificateRequest::new(BUNDLE).environments(CertEnvironments::Sandbox),
    );
    let (production, _) =
        connect_with_cert(&emulator, Environment::Production, &sandbox_only).await;
    let to_production = Req::voip()
        .without("authorization")
        .path(format!("/3/device/{OTHER_TOKEN}"));
    to_production
        .send(&production)
        .await
        .unwrap()
        .assert_reason(403, Reason::BadCertificateEnvironment);
    // The same certificate works in sandbox.
    let (sandbox, _) = connect_with_cert(&emulator, Environment::Sandbox, &sandbox_only).await;
    let reply = Req::voip()
        .without("authorization")
        .send(&sandbox)
        .await
        .unwrap();
    assert_eq!(reply.status, 200);

    let production_only = issue(
        &emulator,
        ClientCertificateRequest::new(BUNDLE).environments(CertEnvironments::Production),
    );
    let (sandbox, _) = connect_with_cert(&emulator, Environment::Sandbox, &production_only).await;
    Req::voip()
        .without("authorization")
        .send(&sandbox)
        .await
        .unwrap()
        .assert_reason(403, Reason::BadCertificateEnvironment);
    let (production, _) =
        connect_with_cert(&emulator, Environment::Production, &production_only).await;
    assert_eq!(to_production.send(&production).await.unwrap().status, 200);
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_fails_the_handshake() {
    let emulator = start().await;
    let other = start().await;
    let foreign = issue(&other, ClientCertificateRequest::new(BUNDLE));
    let error = refused(&emulator, &foreign).await;
    assert!(!error.is_empty());
    assert!(emulator.accepted().is_empty());
}

#[tokio::test]
async fn an_expired_certificate_fails_the_handshake() {
    let emulator = start().await;
    let day = Duration::from_secs(24 * 3600);
    let now = SystemTime::now();
    let expired = issue(
        &emulator,
        ClientCertificateRequest::new(BUNDLE).validity(now - 400 * day, now - day),
    );
    refused(&emulator, &expired).await;
}

#[tokio::test]
async fn a_configured_client_ca_is_trusted() {
    // Another emulator's CA stands for the user's own CA, given through the config file.
    let users_ca = start().await;
    let dir = std::env::temp_dir().join(format!("pushtrace-client-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("client-ca.pem");
    std::fs::write(&path, users_ca.ca_pem()).unwrap();
    let config: pushtrace_emulator::EmulatorConfig = serde_json::from_str(&format!(
        r#"{{"client_ca_file": {:?}, "devices": [{{"environment": "sandbox",
            "topic": "{TOPIC}", "token": "{TOKEN}"}}]}}"#,
        path.to_str().unwrap()
    ))
    .unwrap();
    let emulator = config
        .into_builder()
        .unwrap()
        .clock(pushtrace_emulator::Clock::manual(common::NOW_MS))
        .start()
        .await
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let identity = issue(&users_ca, ClientCertificateRequest::new(BUNDLE));
    let (client, _) = connect_with_cert(&emulator, Environment::Sandbox, &identity).await;
    let reply = Req::voip()
        .without("authorization")
        .send(&client)
        .await
        .unwrap();
    assert_accepted(&reply);
    // Its own certificates still work too.
    let own = issue(&emulator, ClientCertificateRequest::new(BUNDLE));
    let (client, _) = connect_with_cert(&emulator, Environment::Sandbox, &own).await;
    let reply = Req::voip()
        .without("authorization")
        .send(&client)
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
}

/// A certificate and key read back from one PEM file.
fn read_identity(path: &std::path::Path) -> ClientCertificate {
    use rustls::pki_types::pem::PemObject as _;
    let text = std::fs::read_to_string(path).unwrap();
    let cert = rustls::pki_types::CertificateDer::from_pem_slice(text.as_bytes()).unwrap();
    let key_start = text.find("-----BEGIN PRIVATE KEY-----").unwrap();
    ClientCertificate {
        cert_pem: text[..key_start].to_owned(),
        cert_der: cert.to_vec(),
        key_pem: text[key_start..].to_owned(),
    }
}

#[tokio::test]
async fn client_certificates_named_in_the_config_file_are_written_at_start() {
    let dir = std::env::temp_dir().join(format!("pushtrace-client-cert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let both = dir.join("both.pem");
    let production = dir.join("production.pem");
    let config: pushtrace_emulator::EmulatorConfig = serde_json::from_str(&format!(
        r#"{{"devices": [{{"environment": "sandbox", "topic": "{TOPIC}", "token": "{TOKEN}"}}],
            "client_certificates": [
              {{"bundle_id": "{BUNDLE}", "identity_file": {both:?}}},
              {{"bundle_id": "{BUNDLE}", "identity_file": {production:?},
                "environment": "production", "team_id": "TESTTEAM01"}}
            ]}}"#
    ))
    .unwrap();
    let emulator = config
        .into_builder()
        .unwrap()
        .clock(pushtrace_emulator::Clock::manual(common::NOW_MS))
        .start()
        .await
        .unwrap();
    let both = read_identity(&both);
    let production = read_identity(&production);
    std::fs::remove_dir_all(&dir).unwrap();

    let (client, _) = connect_with_cert(&emulator, Environment::Sandbox, &both).await;
    let reply = Req::voip()
        .without("authorization")
        .send(&client)
        .await
        .unwrap();
    assert_accepted(&reply);
    let (client, _) = connect_with_cert(&emulator, Environment::Sandbox, &production).await;
    Req::voip()
        .without("authorization")
        .send(&client)
        .await
        .unwrap()
        .assert_reason(403, Reason::BadCertificateEnvironment);
}

#[tokio::test]
async fn an_unwritable_client_certificate_file_is_a_clear_start_error() {
    let error = common::builder()
        .write_client_certificate(
            ClientCertificateRequest::new(BUNDLE),
            "/nonexistent-dir/client.pem",
        )
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("/nonexistent-dir/client.pem") && error.contains("writable"),
        "{error}"
    );
}

#[tokio::test]
async fn a_trusted_certificate_without_apns_extensions_is_bad_certificate() {
    // A plain client certificate from a CA the user trusts: no UID, no topics, no environment.
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "some client");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let plain = ClientCertificate {
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
    };

    let emulator = common::builder()
        .client_ca_pem(ca.pem())
        .start()
        .await
        .unwrap();
    let (client, _) = connect_with_cert(&emulator, Environment::Sandbox, &plain).await;
    // Even with a valid provider token: the certificate decides.
    Req::voip()
        .send(&client)
        .await
        .unwrap()
        .assert_reason(403, Reason::BadCertificate);
}

#[tokio::test]
async fn a_bad_client_ca_is_a_clear_start_error() {
    let error = common::builder()
        .client_ca_pem("not a certificate")
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("client CA") && error.contains("CERTIFICATE"),
        "{error}"
    );
}

#[tokio::test]
async fn a_certificate_connection_advertises_the_full_stream_limit_at_once() {
    let emulator = common::builder()
        .max_concurrent_streams(250)
        .per_token_rate(None)
        .start()
        .await
        .unwrap();
    let identity = issue(&emulator, ClientCertificateRequest::new(BUNDLE));
    let (client, mut limit) = connect_with_cert(&emulator, Environment::Sandbox, &identity).await;
    // The first SETTINGS the client sees, before any request.
    let first = tokio::time::timeout(Duration::from_secs(5), limit.wait_for(|v| *v != usize::MAX))
        .await
        .expect("no SETTINGS from the server")
        .map(|v| *v)
        .unwrap();
    assert_eq!(first, 250);
    // And no one-stream gate: many streams at once, none authenticated by a token.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            Req::voip().without("authorization").send(&client).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().status, 200);
    }
    assert_eq!(emulator.accepted().len(), 20);
    assert_eq!(*limit.borrow(), 250);
}
