//! Signing and verification, including the cross-check with PyJWT (testdata/README.md).
use super::*;
use crate::reason::Reason;
use proptest::prelude::*;

/// The committed test key (testdata/README.md): never used anywhere real.
const TEST_P8: &str = include_str!("../../testdata/test-AuthKey.p8");
const TEST_PUB: &str = include_str!("../../testdata/test-AuthKey.pub.pem");
const PYJWT_TOKEN: &str = include_str!("../../testdata/pyjwt-token.txt");
const OURS_TOKEN: &str = include_str!("../../testdata/ours-token.txt");
const PYJWT_IAT: u64 = 1_780_000_000;
const KID: &str = "TESTKEY001";
const TEAM: &str = "TESTTEAM01";
const NOW: u64 = 1_780_000_000;

fn key() -> SigningKey {
    SigningKey::from_p8_pem(TEST_P8).unwrap()
}

fn ring() -> KeyRing {
    let mut ring = KeyRing::new();
    ring.insert(KID, ProviderKey::new(TEAM, key().verifying_key()));
    ring
}

fn sandbox() -> VerifyContext<'static> {
    VerifyContext::new(Environment::Sandbox)
}

fn token(iat: u64) -> String {
    ProviderToken::sign(&key(), KID, TEAM, iat)
        .unwrap()
        .as_str()
        .to_owned()
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

fn invalid(result: Result<Claims, JwtError>) -> InvalidToken {
    match result {
        Err(JwtError::Invalid(why)) => why,
        other => panic!("expected InvalidProviderToken, got {other:?}"),
    }
}

#[test]
fn sign_then_verify_round_trip() {
    let t = ProviderToken::sign(&key(), KID, TEAM, NOW).unwrap();
    let claims = ring().verify(t.as_str(), &sandbox(), NOW + 10).unwrap();
    assert_eq!(
        claims,
        Claims {
            key_id: KID.into(),
            team_id: TEAM.into(),
            issued_at: NOW
        }
    );
    // Header and claims are exactly what the reference says.
    let mut parts = t.as_str().split('.');
    let header = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    let body = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    let sig = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    assert_eq!(header, br#"{"alg":"ES256","kid":"TESTKEY001"}"#);
    assert_eq!(body, br#"{"iss":"TESTTEAM01","iat":1780000000}"#);
    assert_eq!(sig.len(), 64, "raw r||s, not DER");
    assert_eq!(t.authorization(), format!("bearer {}", t.as_str()));
    assert_eq!(
        ring()
            .verify_authorization(Some(&t.authorization()), &sandbox(), NOW)
            .unwrap()
            .issued_at,
        NOW
    );
    assert_eq!(t.age(NOW + 5), 5);
    assert!(!format!("{t:?}").contains(t.as_str()));
    assert_eq!(format!("{:?}", key()), "SigningKey(<secret>)");
}

#[test]
fn public_pem_and_private_key_give_the_same_verifier() {
    let from_pub = VerifyingKey::from_public_pem(TEST_PUB).unwrap();
    assert_eq!(from_pub, key().verifying_key());
    assert_eq!(VerifyingKey::from_p8_pem(TEST_P8).unwrap(), from_pub);
    assert_eq!(from_pub.to_public_pem().unwrap().trim(), TEST_PUB.trim());
    assert!(matches!(
        SigningKey::from_p8_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
        Err(KeyError::PrivateKey(_))
    ));
    assert!(matches!(
        SigningKey::from_p8_pem(TEST_PUB),
        Err(KeyError::PrivateKey(_))
    ));
    assert!(matches!(
        VerifyingKey::from_public_pem(TEST_P8),
        Err(KeyError::PublicKey(_))
    ));
}

#[test]
fn sign_refuses_malformed_ids() {
    assert_eq!(
        ProviderToken::sign(&key(), "SHORT", TEAM, NOW),
        Err(SignError::KeyId("SHORT".into()))
    );
    assert_eq!(
        ProviderToken::sign(&key(), KID, "TEAM-ID-01", NOW),
        Err(SignError::TeamId("TEAM-ID-01".into()))
    );
}

#[test]
fn pyjwt_token_verifies() {
    let claims = ring()
        .verify(PYJWT_TOKEN.trim(), &sandbox(), PYJWT_IAT + 60)
        .unwrap();
    assert_eq!(claims.key_id, KID);
    assert_eq!(claims.team_id, TEAM);
    assert_eq!(claims.issued_at, PYJWT_IAT);
}

/// `ours-token.txt` was verified by PyJWT by hand (testdata/README.md); signing is
/// deterministic (RFC 6979), so producing the same bytes keeps that check valid.
#[test]
fn our_token_is_the_one_pyjwt_verified() {
    let t = ProviderToken::sign(&key(), KID, TEAM, PYJWT_IAT).unwrap();
    assert_eq!(t.as_str(), OURS_TOKEN.trim());
    ring()
        .verify(OURS_TOKEN.trim(), &sandbox(), PYJWT_IAT)
        .unwrap();
}

#[test]
fn tampered_signature_is_invalid() {
    let t = token(NOW);
    let (input, sig) = t.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
    bytes[10] ^= 0x01;
    let tampered = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&bytes));
    let err = ring().verify(&tampered, &sandbox(), NOW);
    assert_eq!(
        err.as_ref().map_err(JwtError::reason),
        Err(Reason::InvalidProviderToken)
    );
    assert_eq!(invalid(err), InvalidToken::Signature { key_id: KID.into() });
    // Tampered claims under the original signature.
    let (_, claims, _) = split3(&t);
    let forged = t.replacen(claims, &b64(r#"{"iss":"TESTTEAM01","iat":1780000001}"#), 1);
    assert!(matches!(
        invalid(ring().verify(&forged, &sandbox(), NOW)),
        InvalidToken::Signature { .. }
    ));
    // A DER signature is refused for its form.
    let der = p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).unwrap())
        .unwrap()
        .to_der();
    let with_der = format!("{input}.{}", URL_SAFE_NO_PAD.encode(der.as_bytes()));
    assert!(matches!(
        invalid(ring().verify(&with_der, &sandbox(), NOW)),
        InvalidToken::SignatureForm { .. }
    ));
}

fn split3(t: &str) -> (&str, &str, &str) {
    let mut p = t.split('.');
    (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
}

#[test]
fn wrong_alg_is_invalid() {
    let t = token(NOW);
    let (header, claims, sig) = split3(&t);
    for alg_header in [
        r#"{"alg":"HS256","kid":"TESTKEY001"}"#,
        r#"{"alg":"none","kid":"TESTKEY001"}"#,
        r#"{"kid":"TESTKEY001"}"#,
    ] {
        let forged = format!("{}.{claims}.{sig}", b64(alg_header));
        let why = invalid(ring().verify(&forged, &sandbox(), NOW));
        assert!(matches!(why, InvalidToken::Alg { .. }), "{why}");
    }
    assert!(!header.is_empty());
}

#[test]
fn unknown_kid_and_wrong_team_are_invalid() {
    let other = ProviderToken::sign(&key(), "OTHERKEY01", TEAM, NOW).unwrap();
    assert_eq!(
        invalid(ring().verify(other.as_str(), &sandbox(), NOW)),
        InvalidToken::UnknownKeyId {
            key_id: "OTHERKEY01".into()
        }
    );
    let wrong_team = ProviderToken::sign(&key(), KID, "OTHERTEAM1", NOW).unwrap();
    assert!(matches!(
        invalid(ring().verify(wrong_team.as_str(), &sandbox(), NOW)),
        InvalidToken::TeamMismatch { .. }
    ));
    // Right kid, signed by another key.
    let stranger = SigningKey::from_p256(p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap());
    let forged = ProviderToken::sign(&stranger, KID, TEAM, NOW).unwrap();
    assert!(matches!(
        invalid(ring().verify(forged.as_str(), &sandbox(), NOW)),
        InvalidToken::Signature { .. }
    ));
}

#[test]
fn age_limits() {
    // 61 minutes old: expired.
    let err = ring()
        .verify(&token(NOW - 61 * 60), &sandbox(), NOW)
        .unwrap_err();
    assert_eq!(
        err,
        JwtError::Expired {
            issued_at: NOW - 3660,
            now: NOW
        }
    );
    assert_eq!(err.reason(), Reason::ExpiredProviderToken);
    // Exactly one hour: still accepted.
    ring().verify(&token(NOW - 3600), &sandbox(), NOW).unwrap();
    // More than an hour ahead: invalid.
    assert!(matches!(
        invalid(ring().verify(&token(NOW + 3601), &sandbox(), NOW)),
        InvalidToken::IssuedInFuture { .. }
    ));
    ring().verify(&token(NOW + 60), &sandbox(), NOW).unwrap();
}

#[test]
fn malformed_tokens_are_invalid() {
    let t = token(NOW);
    let (header, claims, sig) = split3(&t);
    let cases = [
        format!("{header}.{claims}"),
        format!("{header}.{claims}.{sig}.x"),
        format!("{header}.{claims}.{sig}="),
        format!("{header}=.{claims}.{sig}"),
        format!("{header}.{claims}!.{sig}"),
        format!("{header}.{}.{sig}", b64("not json")),
        format!("{header}.{}.{sig}", b64("[1,2]")),
        format!("{header}.{}.{sig}", b64(r#"{"iss":"TESTTEAM01"}"#)),
        format!(
            "{header}.{}.{sig}",
            b64(r#"{"iss":"TESTTEAM01","iat":"1780000000"}"#)
        ),
        format!(
            "{header}.{}.{sig}",
            b64(r#"{"iss":"TESTTEAM01","iat":1.78e9}"#)
        ),
        format!("{header}.{}.{sig}", b64(r#"{"iat":1780000000}"#)),
        format!("{}.{claims}.{sig}", b64(r#"{"alg":"ES256"}"#)),
        format!("{}.{claims}.{sig}", b64(r#"{"alg":"ES256","kid":5}"#)),
        format!("{header}.{claims}.{}", b64("short")),
        format!("{header}.{claims}."),
        "x".repeat(MAX_TOKEN_LEN + 1),
        "...".to_owned(),
    ];
    for case in cases {
        let result = ring().verify(&case, &sandbox(), NOW);
        assert_eq!(
            result.as_ref().map_err(JwtError::reason),
            Err(Reason::InvalidProviderToken),
            "{case:?}: {result:?}"
        );
    }
}

#[test]
fn missing_token() {
    let r = ring();
    for header in [
        None,
        Some(""),
        Some("bearer "),
        Some("Basic abc"),
        Some("bearer"),
    ] {
        let err = r.verify_authorization(header, &sandbox(), NOW).unwrap_err();
        assert_eq!(err, JwtError::Missing, "{header:?}");
        assert_eq!(err.reason(), Reason::MissingProviderToken);
    }
    assert_eq!(r.verify("", &sandbox(), NOW), Err(JwtError::Missing));
    let t = token(NOW);
    r.verify_authorization(Some(&format!("Bearer {t}")), &sandbox(), NOW)
        .unwrap();
}

#[test]
fn environment_and_connection_binding() {
    let mut r = KeyRing::new();
    let k = key().verifying_key();
    r.insert(
        "SANDBOXK01",
        ProviderKey::new(TEAM, k.clone()).with_scope(KeyScope::Sandbox),
    );
    r.insert(
        "PRODKEY001",
        ProviderKey::new(TEAM, k.clone()).with_scope(KeyScope::Production),
    );
    r.insert(
        "TOPICKEY01",
        ProviderKey::new(TEAM, k.clone()).with_related_key("SANDBOXK01"),
    );
    r.insert("UNRELATED1", ProviderKey::new(TEAM, k));
    let sign = |kid: &str| ProviderToken::sign(&key(), kid, TEAM, NOW).unwrap();

    let prod_in_sandbox = r
        .verify(sign("PRODKEY001").as_str(), &sandbox(), NOW)
        .unwrap_err();
    assert_eq!(prod_in_sandbox.reason(), Reason::BadEnvironmentKeyIdInToken);
    let production = VerifyContext::new(Environment::Production);
    r.verify(sign("PRODKEY001").as_str(), &production, NOW)
        .unwrap();
    assert_eq!(
        r.verify(sign("SANDBOXK01").as_str(), &production, NOW)
            .unwrap_err()
            .reason(),
        Reason::BadEnvironmentKeyIdInToken
    );

    let bound = VerifyContext {
        environment: Environment::Sandbox,
        connection_key_id: Some("SANDBOXK01"),
    };
    r.verify(sign("SANDBOXK01").as_str(), &bound, NOW).unwrap();
    // The related key, either way round.
    r.verify(sign("TOPICKEY01").as_str(), &bound, NOW).unwrap();
    let bound_topic = VerifyContext {
        connection_key_id: Some("TOPICKEY01"),
        ..bound
    };
    r.verify(sign("SANDBOXK01").as_str(), &bound_topic, NOW)
        .unwrap();
    let err = r
        .verify(sign("UNRELATED1").as_str(), &bound, NOW)
        .unwrap_err();
    assert_eq!(
        err,
        JwtError::UnrelatedKeyId {
            key_id: "UNRELATED1".into(),
            connection_key_id: "SANDBOXK01".into()
        }
    );
    assert_eq!(err.reason(), Reason::UnrelatedKeyIdInToken);
    // Unknown kid stays InvalidProviderToken whatever the binding.
    let stranger = ProviderToken::sign(&key(), "NOSUCHKEY1", TEAM, NOW).unwrap();
    assert_eq!(
        r.verify(stranger.as_str(), &bound, NOW)
            .unwrap_err()
            .reason(),
        Reason::InvalidProviderToken
    );
    // A revoked key is unknown.
    r.remove("UNRELATED1");
    assert_eq!(
        r.verify(sign("UNRELATED1").as_str(), &sandbox(), NOW)
            .unwrap_err()
            .reason(),
        Reason::InvalidProviderToken
    );
}

proptest! {
    #[test]
    fn verifier_never_panics_on_strings(token in ".{0,300}", header in proptest::option::of(".{0,40}")) {
        let r = ring();
        let _ = r.verify(&token, &sandbox(), NOW);
        let _ = r.verify_authorization(header.as_deref(), &sandbox(), NOW);
    }

    #[test]
    fn verifier_never_panics_on_jwt_shaped_input(
        h in proptest::collection::vec(any::<u8>(), 0..80),
        c in proptest::collection::vec(any::<u8>(), 0..80),
        s in proptest::collection::vec(any::<u8>(), 0..80),
        iat in any::<u64>(),
        now in any::<u64>(),
    ) {
        let r = ring();
        let raw = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(&h), URL_SAFE_NO_PAD.encode(&c), URL_SAFE_NO_PAD.encode(&s));
        prop_assert!(r.verify(&raw, &sandbox(), now).is_err());
        let t = token(iat);
        let _ = r.verify(&t, &sandbox(), now);
    }

    #[test]
    fn verifier_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = ring().verify(&text, &sandbox(), NOW);
    }
}
