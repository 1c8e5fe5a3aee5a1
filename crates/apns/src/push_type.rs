//! The `apns-push-type` header: which push types exist, which topic each one needs, which
//! priorities it may use and how large its payload may be.
//!
//! Every rule here comes from `docs/reference/apns.md` §1.2 (push types and topics) and §1.3
//! (payload sizes). Where the reference gives no rule, the type says so
//! ([`TopicRule::Unspecified`]) rather than inventing one.

use std::fmt;
use std::str::FromStr;

/// The value of the `apns-priority` header (docs/reference/apns.md §1.2).
///
/// Omitting the header means [`Priority::Immediate`]; the builder always sends it explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// `1`: put power first and do not wake the device.
    PowerFirst,
    /// `5`: send with the device's power state in mind.
    ConservePower,
    /// `10`: send immediately.
    Immediate,
}

impl Priority {
    /// Every value APNs accepts; anything else is 400 `BadPriority`.
    pub const ALL: [Priority; 3] = [
        Priority::Immediate,
        Priority::ConservePower,
        Priority::PowerFirst,
    ];

    /// The number written in the header.
    pub fn value(self) -> u8 {
        match self {
            Priority::PowerFirst => 1,
            Priority::ConservePower => 5,
            Priority::Immediate => 10,
        }
    }

    /// The priority for a header value, `None` for anything but `10`, `5` and `1`.
    pub fn from_value(value: u8) -> Option<Priority> {
        match value {
            1 => Some(Priority::PowerFirst),
            5 => Some(Priority::ConservePower),
            10 => Some(Priority::Immediate),
            _ => None,
        }
    }

    /// Parses a header value exactly as written (`"10"`, `"5"`, `"1"`).
    pub fn parse(text: &str) -> Option<Priority> {
        match text {
            "1" => Some(Priority::PowerFirst),
            "5" => Some(Priority::ConservePower),
            "10" => Some(Priority::Immediate),
            _ => None,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value())
    }
}

/// How the `apns-topic` of a push type relates to the app's bundle ID (docs/reference/apns.md
/// §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicRule {
    /// The topic is the bundle ID itself (`alert`, `background`).
    BundleId,
    /// The topic is the bundle ID followed by this suffix (for example `.voip`).
    Suffix(&'static str),
    /// The reference states no topic rule for this type (`mdm`, `widgets`, `controls`): any
    /// well-formed topic is accepted.
    Unspecified,
}

/// The value of the `apns-push-type` header.
///
/// The set is exactly Apple's current list (docs/reference/apns.md §1.2): alert, background,
/// complication, controls, fileprovider, liveactivity, location, mdm, pushtotalk, voip, widgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PushType {
    /// `alert`: a notification shown to the user.
    Alert,
    /// `background`: a silent content update.
    Background,
    /// `complication`: a watchOS complication update.
    Complication,
    /// `controls`: a Control Center control update.
    Controls,
    /// `fileprovider`: a File Provider extension signal.
    FileProvider,
    /// `liveactivity`: a Live Activity update.
    LiveActivity,
    /// `location`: a location query (token authentication only).
    Location,
    /// `mdm`: a device-management wake-up.
    Mdm,
    /// `pushtotalk`: a Push to Talk push.
    PushToTalk,
    /// `voip`: a PushKit VoIP push: an incoming call.
    Voip,
    /// `widgets`: a widget reload.
    Widgets,
}

/// Payload limit of every push type but `voip` (docs/reference/apns.md §1.3).
pub const MAX_PAYLOAD: usize = 4096;
/// Payload limit of `voip` pushes (docs/reference/apns.md §1.3, §5.4).
pub const MAX_VOIP_PAYLOAD: usize = 5120;

const IMMEDIATE_OR_CONSERVE: &[Priority] = &[Priority::Immediate, Priority::ConservePower];
const CONSERVE_ONLY: &[Priority] = &[Priority::ConservePower];

impl PushType {
    /// Every push type, in header-value order.
    pub const ALL: [PushType; 11] = [
        PushType::Alert,
        PushType::Background,
        PushType::Complication,
        PushType::Controls,
        PushType::FileProvider,
        PushType::LiveActivity,
        PushType::Location,
        PushType::Mdm,
        PushType::PushToTalk,
        PushType::Voip,
        PushType::Widgets,
    ];

    /// The exact `apns-push-type` header value.
    pub fn header_value(self) -> &'static str {
        match self {
            PushType::Alert => "alert",
            PushType::Background => "background",
            PushType::Complication => "complication",
            PushType::Controls => "controls",
            PushType::FileProvider => "fileprovider",
            PushType::LiveActivity => "liveactivity",
            PushType::Location => "location",
            PushType::Mdm => "mdm",
            PushType::PushToTalk => "pushtotalk",
            PushType::Voip => "voip",
            PushType::Widgets => "widgets",
        }
    }

    /// The push type for an exact header value; `None` is what APNs answers with
    /// 400 `InvalidPushType`.
    pub fn from_header_value(value: &str) -> Option<PushType> {
        PushType::ALL
            .into_iter()
            .find(|t| t.header_value() == value)
    }

    /// How this type's topic relates to the bundle ID (docs/reference/apns.md §1.2).
    pub fn topic_rule(self) -> TopicRule {
        match self {
            PushType::Alert | PushType::Background => TopicRule::BundleId,
            PushType::Voip => TopicRule::Suffix(".voip"),
            PushType::Complication => TopicRule::Suffix(".complication"),
            PushType::FileProvider => TopicRule::Suffix(".pushkit.fileprovider"),
            PushType::Location => TopicRule::Suffix(".location-query"),
            PushType::LiveActivity => TopicRule::Suffix(".push-type.liveactivity"),
            PushType::PushToTalk => TopicRule::Suffix(".voip-ptt"),
            PushType::Mdm | PushType::Widgets | PushType::Controls => TopicRule::Unspecified,
        }
    }

    /// The topic suffix this type requires, if any.
    pub fn topic_suffix(self) -> Option<&'static str> {
        match self.topic_rule() {
            TopicRule::Suffix(suffix) => Some(suffix),
            TopicRule::BundleId | TopicRule::Unspecified => None,
        }
    }

    /// The topic for an app's bundle ID, when the reference states the rule.
    pub fn topic_for_bundle(self, bundle_id: &str) -> Option<String> {
        match self.topic_rule() {
            TopicRule::BundleId => Some(bundle_id.to_owned()),
            TopicRule::Suffix(suffix) => Some(format!("{bundle_id}{suffix}")),
            TopicRule::Unspecified => None,
        }
    }

    /// The priorities this type may be sent with.
    ///
    /// - `background`: only 5 ("priority 10 is an error", docs/reference/apns.md §1.2).
    /// - `location`: 10 or 5 (§1.2).
    /// - every other type: 10, 5 or 1. Apple documents no priority rule for `voip`; a call push
    ///   should use 10 (§7, an inference), which is [`PushType::default_priority`].
    pub fn allowed_priorities(self) -> &'static [Priority] {
        match self {
            PushType::Background => CONSERVE_ONLY,
            PushType::Location => IMMEDIATE_OR_CONSERVE,
            _ => &Priority::ALL,
        }
    }

    /// Whether `priority` is allowed for this type.
    pub fn allows_priority(self, priority: Priority) -> bool {
        self.allowed_priorities().contains(&priority)
    }

    /// The priority used when the builder is given none: 5 for `background` (an omitted header
    /// would mean 10, which is an error there), 10 for everything else.
    pub fn default_priority(self) -> Priority {
        match self {
            PushType::Background => Priority::ConservePower,
            _ => Priority::Immediate,
        }
    }

    /// The largest payload in bytes APNs accepts for this type (docs/reference/apns.md §1.3): 5120
    /// for `voip`, 4096 for every other type. Larger is 413 `PayloadTooLarge`.
    pub fn max_payload(self) -> usize {
        match self {
            PushType::Voip => MAX_VOIP_PAYLOAD,
            _ => MAX_PAYLOAD,
        }
    }
}

impl fmt::Display for PushType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header_value())
    }
}

/// An `apns-push-type` value that is not one of Apple's push types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown apns-push-type {0:?}: expected one of alert, background, complication, controls, \
     fileprovider, liveactivity, location, mdm, pushtotalk, voip, widgets"
)]
pub struct UnknownPushType(pub String);

impl FromStr for PushType {
    type Err = UnknownPushType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PushType::from_header_value(s).ok_or_else(|| UnknownPushType(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_round_trip_and_are_the_reference_set() {
        let values: Vec<&str> = PushType::ALL.iter().map(|t| t.header_value()).collect();
        assert_eq!(
            values,
            [
                "alert",
                "background",
                "complication",
                "controls",
                "fileprovider",
                "liveactivity",
                "location",
                "mdm",
                "pushtotalk",
                "voip",
                "widgets"
            ]
        );
        for t in PushType::ALL {
            assert_eq!(t.header_value().parse::<PushType>(), Ok(t));
            assert_eq!(t.to_string(), t.header_value());
        }
        assert!("VOIP".parse::<PushType>().is_err());
        assert!("".parse::<PushType>().is_err());
    }

    #[test]
    fn topic_suffixes_follow_the_reference() {
        let cases = [
            (PushType::Voip, Some("com.acme.call.voip")),
            (PushType::Complication, Some("com.acme.call.complication")),
            (
                PushType::FileProvider,
                Some("com.acme.call.pushkit.fileprovider"),
            ),
            (PushType::Location, Some("com.acme.call.location-query")),
            (
                PushType::LiveActivity,
                Some("com.acme.call.push-type.liveactivity"),
            ),
            (PushType::PushToTalk, Some("com.acme.call.voip-ptt")),
            (PushType::Alert, Some("com.acme.call")),
            (PushType::Background, Some("com.acme.call")),
            (PushType::Mdm, None),
            (PushType::Widgets, None),
            (PushType::Controls, None),
        ];
        for (t, topic) in cases {
            assert_eq!(t.topic_for_bundle("com.acme.call").as_deref(), topic, "{t}");
        }
    }

    #[test]
    fn priorities_and_payload_limits() {
        assert_eq!(
            PushType::Background.allowed_priorities(),
            &[Priority::ConservePower]
        );
        assert!(!PushType::Background.allows_priority(Priority::Immediate));
        assert!(!PushType::Location.allows_priority(Priority::PowerFirst));
        assert!(PushType::Voip.allows_priority(Priority::Immediate));
        assert_eq!(
            PushType::Background.default_priority(),
            Priority::ConservePower
        );
        assert_eq!(PushType::Voip.default_priority(), Priority::Immediate);
        assert_eq!(PushType::Voip.max_payload(), 5120);
        for t in PushType::ALL.into_iter().filter(|t| *t != PushType::Voip) {
            assert_eq!(t.max_payload(), 4096, "{t}");
            assert!(t.allows_priority(t.default_priority()), "{t}");
        }
        for p in Priority::ALL {
            assert_eq!(Priority::from_value(p.value()), Some(p));
            assert_eq!(Priority::parse(&p.to_string()), Some(p));
        }
        assert_eq!(Priority::from_value(7), None);
        assert_eq!(Priority::parse("010"), None);
    }
}
