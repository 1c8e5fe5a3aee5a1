//! One push request, checked against Apple's rules before it leaves: [`NotificationBuilder`]
//! refuses what APNs would reject (and a few things it would accept but nobody means), and a
//! built [`Notification`] knows its exact `:path` and headers.
//!
//! Rules come from `docs/reference/apns.md` §1.2 (headers, topics), §1.3 (payload) and §5.5
//! (tokens). Each [`BuildError`] names the field, the rule, and the APNs reason a server would
//! answer with, when the reference knows it ([`BuildError::reason`]).

use crate::ids::{ApnsId, ApnsIdError, DeviceToken, TokenError};
use crate::push_type::{Priority, PushType, TopicRule};
use crate::reason::Reason;

/// Longest `apns-collapse-id`, in bytes (docs/reference/apns.md §1.2).
pub const MAX_COLLAPSE_ID: usize = 64;

/// The `apns-expiration` header (docs/reference/apns.md §1.2, §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Expiration {
    /// No header: APNs's storage policy applies (up to 30 days).
    #[default]
    None,
    /// `0`: one delivery attempt, no storage. What Apple tells VoIP senders to use (§5.4).
    Immediately,
    /// Store and retry until this UNIX time in **seconds** (UTC).
    At(u64),
}

impl Expiration {
    /// The header value, `None` when the header is omitted.
    pub fn header_value(self) -> Option<String> {
        match self {
            Expiration::None => None,
            Expiration::Immediately => Some("0".to_owned()),
            Expiration::At(t) => Some(t.to_string()),
        }
    }
}

/// A push request that passed every check of [`NotificationBuilder::build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    device_token: DeviceToken,
    topic: String,
    push_type: PushType,
    priority: Priority,
    expiration: Expiration,
    collapse_id: Option<String>,
    apns_id: Option<ApnsId>,
    payload: Vec<u8>,
}

impl Notification {
    /// A builder for a push of this type.
    pub fn builder(push_type: PushType) -> NotificationBuilder {
        NotificationBuilder::new(push_type)
    }

    /// The device token.
    pub fn device_token(&self) -> &DeviceToken {
        &self.device_token
    }
    /// The `apns-topic`.
    pub fn topic(&self) -> &str {
        &self.topic
    }
    /// The `apns-push-type`.
    pub fn push_type(&self) -> PushType {
        self.push_type
    }
    /// The `apns-priority` (always sent).
    pub fn priority(&self) -> Priority {
        self.priority
    }
    /// The `apns-expiration`.
    pub fn expiration(&self) -> Expiration {
        self.expiration
    }
    /// The `apns-collapse-id`, if any.
    pub fn collapse_id(&self) -> Option<&str> {
        self.collapse_id.as_deref()
    }
    /// The `apns-id`, if the sender chose one (otherwise APNs makes one).
    pub fn apns_id(&self) -> Option<ApnsId> {
        self.apns_id
    }
    /// The payload bytes (opaque to this crate; APNs expects uncompressed JSON).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The request `:path`: `/3/device/<hex token>`.
    pub fn path(&self) -> String {
        format!("/3/device/{}", self.device_token)
    }

    /// The APNs request headers, in this order: `apns-push-type`, `apns-topic`,
    /// `apns-priority`, then `apns-expiration`, `apns-collapse-id` and `apns-id` when set.
    ///
    /// Pseudo-headers (`:method POST`, `:path` from [`Notification::path`]) and
    /// `authorization` are the client's to add.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("apns-push-type", self.push_type.header_value().to_owned()),
            ("apns-topic", self.topic.clone()),
            ("apns-priority", self.priority.to_string()),
        ];
        if let Some(expiration) = self.expiration.header_value() {
            headers.push(("apns-expiration", expiration));
        }
        if let Some(collapse_id) = &self.collapse_id {
            headers.push(("apns-collapse-id", collapse_id.clone()));
        }
        if let Some(apns_id) = self.apns_id {
            headers.push(("apns-id", apns_id.to_string()));
        }
        headers
    }
}

/// Why [`NotificationBuilder::build`] refused a push. Each variant names the field
/// ([`BuildError::field`]) and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// No device token was given.
    #[error("device token (:path): missing; call .device_token(hex)")]
    MissingDeviceToken,
    /// The device token is not hex bytes.
    #[error("device token (:path) {token:?}: {error}; expected the token as hex bytes")]
    DeviceToken {
        /// The token as given.
        token: String,
        /// The rule it broke.
        error: TokenError,
    },
    /// No topic was given.
    #[error("apns-topic: missing; call .topic(…) with the bundle ID plus the {push_type} suffix")]
    MissingTopic {
        /// The push type, for the message.
        push_type: PushType,
    },
    /// The topic is empty or holds spaces or control characters.
    #[error("apns-topic {topic:?}: must be non-empty printable ASCII without spaces")]
    MalformedTopic {
        /// The topic as given.
        topic: String,
    },
    /// The topic does not fit the push type (docs/reference/apns.md §1.2).
    #[error("apns-topic {topic:?} does not fit apns-push-type {push_type}: {rule}")]
    TopicMismatch {
        /// The push type.
        push_type: PushType,
        /// The topic as given.
        topic: String,
        /// The rule, in words (e.g. `a voip push needs the topic <bundle ID>.voip`).
        rule: String,
    },
    /// The priority is not allowed for the push type (docs/reference/apns.md §1.2).
    #[error(
        "apns-priority {priority} is not allowed for apns-push-type {push_type}: allowed {allowed}"
    )]
    PriorityNotAllowed {
        /// The push type.
        push_type: PushType,
        /// The priority given.
        priority: Priority,
        /// The allowed values, e.g. "5".
        allowed: String,
    },
    /// `Expiration::At` lies before `now`.
    #[error(
        "apns-expiration {at} is in the past (now {now}): use Expiration::Immediately (0) for \
         one attempt, or a future UNIX time in seconds"
    )]
    ExpirationInPast {
        /// The expiration given.
        at: u64,
        /// The `now` given to `build`.
        now: u64,
    },
    /// The collapse id is empty, too long, or holds control characters.
    #[error("apns-collapse-id ({len} bytes): must be 1 to 64 bytes without control characters")]
    BadCollapseId {
        /// Its length in bytes.
        len: usize,
    },
    /// The apns-id is not a lowercase canonical UUID.
    #[error("apns-id: {0}")]
    BadApnsId(#[from] ApnsIdError),
    /// The payload is empty.
    #[error("payload: empty; APNs refuses an empty body (PayloadEmpty)")]
    PayloadEmpty,
    /// The payload is over the type's limit (docs/reference/apns.md §1.3).
    #[error("payload: {size} bytes is over the {max}-byte limit of {push_type} pushes")]
    PayloadTooLarge {
        /// The push type.
        push_type: PushType,
        /// Payload size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
}

impl BuildError {
    /// The request field the error is about: `:path`, a header name, or `payload`.
    pub fn field(&self) -> &'static str {
        match self {
            BuildError::MissingDeviceToken | BuildError::DeviceToken { .. } => ":path",
            BuildError::MissingTopic { .. }
            | BuildError::MalformedTopic { .. }
            | BuildError::TopicMismatch { .. } => "apns-topic",
            BuildError::PriorityNotAllowed { .. } => "apns-priority",
            BuildError::ExpirationInPast { .. } => "apns-expiration",
            BuildError::BadCollapseId { .. } => "apns-collapse-id",
            BuildError::BadApnsId(_) => "apns-id",
            BuildError::PayloadEmpty | BuildError::PayloadTooLarge { .. } => "payload",
        }
    }

    /// The reason APNs answers for the same request, when the reference documents one.
    ///
    /// `None` for rules APNs does not document a reason for (topic/type mismatch and
    /// `background` with priority 10 are "an error" without a named reason, §8) and for our own
    /// rules (an expiration in the past is accepted by APNs as "already expired").
    pub fn reason(&self) -> Option<Reason> {
        match self {
            BuildError::MissingDeviceToken => Some(Reason::MissingDeviceToken),
            BuildError::DeviceToken { .. } => Some(Reason::BadDeviceToken),
            BuildError::MissingTopic { .. } => Some(Reason::MissingTopic),
            BuildError::MalformedTopic { .. } => Some(Reason::BadTopic),
            BuildError::BadCollapseId { .. } => Some(Reason::BadCollapseId),
            BuildError::BadApnsId(_) => Some(Reason::BadMessageId),
            BuildError::PayloadEmpty => Some(Reason::PayloadEmpty),
            BuildError::PayloadTooLarge { .. } => Some(Reason::PayloadTooLarge),
            BuildError::TopicMismatch { .. }
            | BuildError::PriorityNotAllowed { .. }
            | BuildError::ExpirationInPast { .. } => None,
        }
    }
}

/// Builds a [`Notification`]; [`NotificationBuilder::build`] checks every rule.
///
/// ```
/// use pushtrace_apns::{Expiration, Notification, PushType};
///
/// let push = Notification::builder(PushType::Voip)
///     .device_token("a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90")
///     .topic("com.acme.call.voip")
///     .expiration(Expiration::Immediately)
///     .apns_id("123e4567-e89b-12d3-a456-426614174000")
///     .payload(br#"{"call_id":"c-1","caller":"Ann"}"#.to_vec())
///     .build(1_780_000_000)
///     .unwrap();
/// assert_eq!(push.headers()[0], ("apns-push-type", "voip".to_string()));
/// ```
#[derive(Debug, Clone)]
pub struct NotificationBuilder {
    push_type: PushType,
    device_token: Option<String>,
    topic: Option<String>,
    bundle_id: Option<String>,
    priority: Option<Priority>,
    expiration: Expiration,
    collapse_id: Option<String>,
    apns_id: Option<String>,
    payload: Vec<u8>,
}

impl NotificationBuilder {
    /// A builder for a push of this type; priority defaults to
    /// [`PushType::default_priority`], expiration to [`Expiration::None`].
    pub fn new(push_type: PushType) -> NotificationBuilder {
        NotificationBuilder {
            push_type,
            device_token: None,
            topic: None,
            bundle_id: None,
            priority: None,
            expiration: Expiration::None,
            collapse_id: None,
            apns_id: None,
            payload: Vec::new(),
        }
    }

    /// The device token as hex (either case).
    pub fn device_token(mut self, hex: impl Into<String>) -> Self {
        self.device_token = Some(hex.into());
        self
    }

    /// The `apns-topic`, e.g. `com.acme.call.voip`.
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// Declares the app's bundle ID: the topic must then be exactly
    /// [`PushType::topic_for_bundle`], and a topic can be left unset to take that value.
    ///
    /// Without it, the builder checks the suffix alone, and refuses an `alert` or `background`
    /// topic that ends in another type's suffix (`com.acme.call.voip`). A bundle ID that itself
    /// ends in such a suffix must be declared here.
    pub fn bundle_id(mut self, bundle_id: impl Into<String>) -> Self {
        self.bundle_id = Some(bundle_id.into());
        self
    }

    /// The `apns-priority`.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = Some(priority);
        self
    }

    /// The `apns-expiration`.
    pub fn expiration(mut self, expiration: Expiration) -> Self {
        self.expiration = expiration;
        self
    }

    /// The `apns-collapse-id` (at most 64 bytes).
    pub fn collapse_id(mut self, collapse_id: impl Into<String>) -> Self {
        self.collapse_id = Some(collapse_id.into());
        self
    }

    /// The `apns-id` as text (lowercase canonical UUID).
    pub fn apns_id(mut self, apns_id: impl Into<String>) -> Self {
        self.apns_id = Some(apns_id.into());
        self
    }

    /// The `apns-id` from an already valid [`ApnsId`].
    pub fn apns_id_value(mut self, apns_id: ApnsId) -> Self {
        self.apns_id = Some(apns_id.to_string());
        self
    }

    /// The payload: opaque bytes, normally uncompressed JSON.
    pub fn payload(mut self, payload: impl Into<Vec<u8>>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Checks every rule and returns the notification.
    ///
    /// `now` is the current UNIX time in seconds; it is used only to refuse an
    /// [`Expiration::At`] in the past. Checks run in request order: token, topic, priority,
    /// expiration, collapse id, apns-id, payload; the first failure is returned.
    pub fn build(self, now: u64) -> Result<Notification, BuildError> {
        let push_type = self.push_type;
        let raw_token = self.device_token.ok_or(BuildError::MissingDeviceToken)?;
        let device_token =
            DeviceToken::parse(&raw_token).map_err(|error| BuildError::DeviceToken {
                token: raw_token.clone(),
                error,
            })?;

        let topic = match (self.topic, &self.bundle_id) {
            (Some(topic), _) => topic,
            (None, Some(bundle)) => push_type
                .topic_for_bundle(bundle)
                .ok_or(BuildError::MissingTopic { push_type })?,
            (None, None) => return Err(BuildError::MissingTopic { push_type }),
        };
        check_topic(push_type, &topic, self.bundle_id.as_deref())?;

        let priority = self.priority.unwrap_or(push_type.default_priority());
        if !push_type.allows_priority(priority) {
            let allowed: Vec<String> = push_type
                .allowed_priorities()
                .iter()
                .map(|p| p.to_string())
                .collect();
            return Err(BuildError::PriorityNotAllowed {
                push_type,
                priority,
                allowed: allowed.join(", "),
            });
        }

        if let Expiration::At(at) = self.expiration
            && at < now
        {
            return Err(BuildError::ExpirationInPast { at, now });
        }

        if let Some(collapse_id) = &self.collapse_id
            && (collapse_id.is_empty()
                || collapse_id.len() > MAX_COLLAPSE_ID
                || collapse_id.chars().any(char::is_control))
        {
            return Err(BuildError::BadCollapseId {
                len: collapse_id.len(),
            });
        }

        let apns_id = self.apns_id.as_deref().map(ApnsId::parse).transpose()?;

        if self.payload.is_empty() {
            return Err(BuildError::PayloadEmpty);
        }
        let max = push_type.max_payload();
        if self.payload.len() > max {
            return Err(BuildError::PayloadTooLarge {
                push_type,
                size: self.payload.len(),
                max,
            });
        }

        Ok(Notification {
            device_token,
            topic,
            push_type,
            priority,
            expiration: self.expiration,
            collapse_id: self.collapse_id,
            apns_id,
            payload: self.payload,
        })
    }
}

fn check_topic(
    push_type: PushType,
    topic: &str,
    bundle_id: Option<&str>,
) -> Result<(), BuildError> {
    if topic.is_empty() || !topic.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(BuildError::MalformedTopic {
            topic: topic.to_owned(),
        });
    }
    let mismatch = |rule: String| BuildError::TopicMismatch {
        push_type,
        topic: topic.to_owned(),
        rule,
    };
    if let Some(bundle) = bundle_id {
        return match push_type.topic_for_bundle(bundle) {
            Some(expected) if expected != topic => Err(mismatch(format!(
                "for bundle ID {bundle:?} a {push_type} push needs the topic {expected:?}"
            ))),
            _ => Ok(()),
        };
    }
    match push_type.topic_rule() {
        TopicRule::Suffix(suffix) => {
            let bundle = topic.strip_suffix(suffix);
            match bundle {
                Some(b) if !b.is_empty() && !b.ends_with('.') => Ok(()),
                _ => Err(mismatch(format!(
                    "a {push_type} push needs the topic <bundle ID>{suffix}"
                ))),
            }
        }
        TopicRule::BundleId => {
            let other = PushType::ALL
                .into_iter()
                .filter_map(|t| t.topic_suffix().map(|s| (t, s)))
                .find(|(_, s)| topic.ends_with(s));
            match other {
                Some((other, suffix)) => Err(mismatch(format!(
                    "a {push_type} push needs the bare bundle ID, and {suffix:?} is the suffix \
                     of {other} topics (declare .bundle_id(…) if the bundle ID really ends so)"
                ))),
                None => Ok(()),
            }
        }
        TopicRule::Unspecified => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
    const NOW: u64 = 1_780_000_000;
    const ID: &str = "123e4567-e89b-12d3-a456-426614174000";

    fn voip() -> NotificationBuilder {
        Notification::builder(PushType::Voip)
            .device_token(TOKEN)
            .topic("com.acme.call.voip")
            .payload(br#"{"call_id":"c-1"}"#.to_vec())
    }

    fn alert() -> NotificationBuilder {
        Notification::builder(PushType::Alert)
            .device_token(TOKEN)
            .topic("com.acme.call")
            .payload(br#"{"aps":{"alert":"Missed call"}}"#.to_vec())
    }

    fn err(builder: NotificationBuilder) -> BuildError {
        match builder.build(NOW) {
            Ok(n) => panic!("expected a refusal, built {n:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn valid_voip_push_has_exact_headers_and_path() {
        let n = voip()
            .expiration(Expiration::Immediately)
            .apns_id(ID)
            .collapse_id("call-c-1")
            .build(NOW)
            .unwrap();
        assert_eq!(n.path(), format!("/3/device/{TOKEN}"));
        assert_eq!(
            n.headers(),
            vec![
                ("apns-push-type", "voip".to_string()),
                ("apns-topic", "com.acme.call.voip".to_string()),
                ("apns-priority", "10".to_string()),
                ("apns-expiration", "0".to_string()),
                ("apns-collapse-id", "call-c-1".to_string()),
                ("apns-id", ID.to_string()),
            ]
        );
        assert_eq!(n.payload(), br#"{"call_id":"c-1"}"#);
        assert_eq!(n.apns_id().map(|i| i.to_string()).as_deref(), Some(ID));
    }

    #[test]
    fn valid_alert_push_with_minimal_headers() {
        let n = alert()
            .priority(Priority::ConservePower)
            .expiration(Expiration::At(NOW + 30))
            .build(NOW)
            .unwrap();
        assert_eq!(
            n.headers(),
            vec![
                ("apns-push-type", "alert".to_string()),
                ("apns-topic", "com.acme.call".to_string()),
                ("apns-priority", "5".to_string()),
                ("apns-expiration", (NOW + 30).to_string()),
            ]
        );
        let bare = alert().build(NOW).unwrap();
        assert_eq!(bare.headers().len(), 3);
        assert_eq!(bare.expiration(), Expiration::None);
    }

    #[test]
    fn background_defaults_to_priority_5_and_refuses_10() {
        let b = Notification::builder(PushType::Background)
            .device_token(TOKEN)
            .topic("com.acme.call")
            .payload(br#"{"aps":{"content-available":1}}"#.to_vec());
        assert_eq!(
            b.clone().build(NOW).unwrap().priority(),
            Priority::ConservePower
        );
        let e = err(b.priority(Priority::Immediate));
        assert!(matches!(e, BuildError::PriorityNotAllowed { .. }), "{e}");
        assert_eq!(e.field(), "apns-priority");
        assert!(e.to_string().contains("allowed 5"), "{e}");
    }

    #[test]
    fn token_rules() {
        assert_eq!(
            err(voip().device_token("")).reason(),
            Some(Reason::BadDeviceToken)
        );
        let e = err(voip().device_token("abz0"));
        assert!(
            matches!(
                &e,
                BuildError::DeviceToken {
                    error: TokenError::NotHex {
                        position: 2,
                        found: 'z'
                    },
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.field(), ":path");
        let e = err(voip().device_token("abc"));
        assert!(matches!(
            &e,
            BuildError::DeviceToken {
                error: TokenError::OddLength { digits: 3 },
                ..
            }
        ));
        let e = err(Notification::builder(PushType::Voip)
            .topic("a.voip")
            .payload(b"{}".to_vec()));
        assert_eq!(e, BuildError::MissingDeviceToken);
        assert_eq!(e.reason(), Some(Reason::MissingDeviceToken));
        // Any whole number of bytes; uppercase normalised.
        let n = voip().device_token("ABCDEF0123").build(NOW).unwrap();
        assert_eq!(n.device_token().as_str(), "abcdef0123");
        assert_eq!(n.device_token().byte_len(), 5);
        assert_eq!(
            DeviceToken::from_bytes(&[0xab, 0x01]).unwrap().as_str(),
            "ab01"
        );
        assert_eq!(DeviceToken::from_bytes(&[]), None);
    }

    #[test]
    fn topic_rules() {
        let e = err(voip().topic("com.acme.call"));
        assert!(
            matches!(
                e,
                BuildError::TopicMismatch {
                    push_type: PushType::Voip,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("<bundle ID>.voip"), "{e}");
        assert_eq!(e.reason(), None);
        assert!(matches!(
            err(voip().topic(".voip")),
            BuildError::TopicMismatch { .. }
        ));
        assert!(matches!(
            err(voip().topic("com.acme.voip-ptt")),
            BuildError::TopicMismatch { .. }
        ));
        // alert to a VoIP topic: the reverse direction.
        let e = err(alert().topic("com.acme.call.voip"));
        assert!(
            matches!(
                e,
                BuildError::TopicMismatch {
                    push_type: PushType::Alert,
                    ..
                }
            ),
            "{e}"
        );
        // …unless the bundle ID really ends in .voip.
        alert()
            .topic("com.acme.voip")
            .bundle_id("com.acme.voip")
            .build(NOW)
            .unwrap();
        // With a bundle ID the topic is exact, and may be derived.
        let e = err(voip().bundle_id("com.other"));
        assert!(e.to_string().contains("\"com.other.voip\""), "{e}");
        let n = Notification::builder(PushType::PushToTalk)
            .device_token(TOKEN)
            .bundle_id("com.acme.call")
            .payload(b"{}".to_vec())
            .build(NOW)
            .unwrap();
        assert_eq!(n.topic(), "com.acme.call.voip-ptt");
        let e = err(voip().topic("com.acme call.voip"));
        assert!(matches!(e, BuildError::MalformedTopic { .. }));
        assert_eq!(e.reason(), Some(Reason::BadTopic));
        let e = err(Notification::builder(PushType::Voip)
            .device_token(TOKEN)
            .payload(b"{}".to_vec()));
        assert_eq!(
            e,
            BuildError::MissingTopic {
                push_type: PushType::Voip
            }
        );
        assert_eq!(e.reason(), Some(Reason::MissingTopic));
        // Every suffixed type accepts its own suffix.
        for t in PushType::ALL {
            let Some(topic) = t.topic_for_bundle("com.acme.call") else {
                continue;
            };
            Notification::builder(t)
                .device_token(TOKEN)
                .topic(topic)
                .payload(b"{}".to_vec())
                .build(NOW)
                .unwrap_or_else(|e| panic!("{t}: {e}"));
        }
    }

    #[test]
    fn payload_limits() {
        for (t, topic, max) in [
            (PushType::Alert, "com.acme.call", 4096),
            (PushType::Voip, "com.acme.call.voip", 5120),
        ] {
            let b = Notification::builder(t).device_token(TOKEN).topic(topic);
            b.clone().payload(vec![b'x'; max]).build(NOW).unwrap();
            let e = err(b.payload(vec![b'x'; max + 1]));
            assert_eq!(
                e,
                BuildError::PayloadTooLarge {
                    push_type: t,
                    size: max + 1,
                    max
                }
            );
            assert_eq!(e.reason(), Some(Reason::PayloadTooLarge));
            assert_eq!(e.field(), "payload");
        }
        let e = err(voip().payload(Vec::new()));
        assert_eq!(e, BuildError::PayloadEmpty);
        assert_eq!(e.reason(), Some(Reason::PayloadEmpty));
    }

    #[test]
    fn collapse_id_rules() {
        voip().collapse_id("x".repeat(64)).build(NOW).unwrap();
        let e = err(voip().collapse_id("x".repeat(65)));
        assert_eq!(e, BuildError::BadCollapseId { len: 65 });
        assert_eq!(e.reason(), Some(Reason::BadCollapseId));
        // 64 bytes, not 64 characters.
        let e = err(voip().collapse_id("é".repeat(33)));
        assert_eq!(e, BuildError::BadCollapseId { len: 66 });
        assert!(matches!(
            err(voip().collapse_id("")),
            BuildError::BadCollapseId { .. }
        ));
        assert!(matches!(
            err(voip().collapse_id("a\r\nb")),
            BuildError::BadCollapseId { .. }
        ));
    }

    #[test]
    fn apns_id_rules() {
        for bad in [
            "123E4567-E89B-12D3-A456-426614174000",
            "123e4567e89b12d3a456426614174000",
            "123e4567-e89b-12d3-a456-42661417400",
            "123e4567-e89b-12d3-a456-4266141740000",
            "123e4567-e89b-12d3-a456_426614174000",
            "g23e4567-e89b-12d3-a456-426614174000",
            "{23e4567-e89b-12d3-a456-42661417400}",
            "",
        ] {
            let e = err(voip().apns_id(bad));
            assert!(matches!(e, BuildError::BadApnsId(_)), "{bad}: {e}");
            assert_eq!(e.reason(), Some(Reason::BadMessageId));
            assert_eq!(e.field(), "apns-id");
        }
        let id = ApnsId::parse(ID).unwrap();
        assert_eq!(id.to_string(), ID);
        assert_eq!(ApnsId::from_bytes(*id.as_bytes()), id);
        assert_eq!(
            ApnsId::from_bytes([0xff; 16]).to_string(),
            "ffffffff-ffff-ffff-ffff-ffffffffffff"
        );
        let n = voip().apns_id_value(id).build(NOW).unwrap();
        assert_eq!(n.apns_id(), Some(id));
    }

    #[test]
    fn expiration_rules() {
        voip().expiration(Expiration::At(NOW)).build(NOW).unwrap();
        let e = err(voip().expiration(Expiration::At(NOW - 1)));
        assert_eq!(
            e,
            BuildError::ExpirationInPast {
                at: NOW - 1,
                now: NOW
            }
        );
        assert_eq!(e.field(), "apns-expiration");
        assert_eq!(Expiration::Immediately.header_value().as_deref(), Some("0"));
        assert_eq!(Expiration::None.header_value(), None);
    }
}
