//! The APNs provider API protocol: push types, every reason code, validated notifications and
//! ES256 provider tokens, and the HTTP/2 [`client`] that sends them.
//!
//! # Brief overview
//!
//! A [`NotificationBuilder`] collects one push (device token, topic, [`PushType`], [`Priority`],
//! [`Expiration`], collapse id, `apns-id`, payload bytes) and its `build(now)` refuses anything
//! APNs would reject, naming the field and the rule ([`BuildError`]). A built [`Notification`]
//! gives the exact `:path` and headers to send. A [`ProviderToken`] is the ES256 JWT signed with
//! the team's `.p8` [`SigningKey`] that goes in `authorization: bearer …`; the emulator checks it
//! with a [`KeyRing`], whose [`JwtError`]s map to APNs's 403 reasons. Whatever APNs answers is a
//! [`Reason`] (from an [`ErrorBody`]) with its status, meaning and [`Retry`] class.
//!
//! Facts come from `docs/reference/apns.md` (§1 provider API, §2 authentication,
//! §7 what a sender must do); each module cites its sections.
//!
//! ```
//! use p256::elliptic_curve::Generate as _;
//! use p256::pkcs8::{EncodePrivateKey as _, LineEnding};
//! use pushtrace_apns::{
//!     Environment, Expiration, KeyRing, Notification, ProviderKey, ProviderToken, PushType,
//!     SigningKey, VerifyContext,
//! };
//!
//! let now = 1_780_000_000; // UNIX seconds: the caller's clock, never a hidden one
//!
//! // A VoIP call push as Apple asks for it: <bundle>.voip, priority 10, expiration 0.
//! let push = Notification::builder(PushType::Voip)
//!     .device_token("a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90")
//!     .bundle_id("com.acme.call") // topic becomes com.acme.call.voip
//!     .expiration(Expiration::Immediately)
//!     .apns_id("123e4567-e89b-12d3-a456-426614174000")
//!     .payload(br#"{"call_id":"c-1","caller":"Ann"}"#.to_vec())
//!     .build(now)?;
//! assert_eq!(push.path(), "/3/device/a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90");
//! assert_eq!(push.headers()[1], ("apns-topic", "com.acme.call.voip".to_string()));
//!
//! // A throwaway key in the .p8 format (PKCS#8 PEM), then a provider token.
//! let p8 = p256::ecdsa::SigningKey::generate().to_pkcs8_pem(LineEnding::LF)?;
//! let key = SigningKey::from_p8_pem(&p8)?;
//! let token = ProviderToken::sign(&key, "ABC123DEFG", "DEF123GHIJ", now)?;
//!
//! // The emulator's side: trust the key for that team, verify the header.
//! let mut keys = KeyRing::new();
//! keys.insert("ABC123DEFG", ProviderKey::new("DEF123GHIJ", key.verifying_key()));
//! let context = VerifyContext::new(Environment::Sandbox);
//! let claims = keys.verify_authorization(Some(&token.authorization()), &context, now + 60)?;
//! assert_eq!(claims.team_id, "DEF123GHIJ");
//!
//! // Two hours later the same token is what APNs calls ExpiredProviderToken.
//! let late = keys.verify(token.as_str(), &context, now + 7200).unwrap_err();
//! assert_eq!(late.reason().as_str(), "ExpiredProviderToken");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod client;
mod ids;
mod jwt;
mod notification;
mod push_type;
mod reason;

pub use ids::{ApnsId, ApnsIdError, DeviceToken, TokenError};
pub use jwt::{
    Claims, Environment, InvalidToken, JwtError, JwtPart, KeyError, KeyRing, KeyScope,
    MAX_AGE_SECS, MAX_TOKEN_LEN, MIN_REFRESH_SECS, ProviderKey, ProviderToken, SignError,
    SigningKey, VerifyContext, VerifyingKey,
};
pub use notification::{
    BuildError, Expiration, MAX_COLLAPSE_ID, Notification, NotificationBuilder,
};
pub use push_type::{
    MAX_PAYLOAD, MAX_VOIP_PAYLOAD, Priority, PushType, TopicRule, UnknownPushType,
};
pub use reason::{ErrorBody, ErrorBodyError, Reason, Retry};
