//! The device registry: which tokens exist, per environment and topic, and since when a token is
//! no longer valid (docs/reference/apns.md §6 item 6), plus the log of accepted pushes.

use std::collections::HashMap;

use pushtrace_apns::{ApnsId, DeviceToken, Environment, Priority, PushType};

/// A device token the emulator knows, as registered through [`crate::EmulatorBuilder::device`]
/// or [`crate::EmulatorHandle::register_device`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The environment the token was issued in; the other environment answers `BadDeviceToken`.
    pub environment: Environment,
    /// The exact `apns-topic` the token is for (a PushKit token: `<bundle>.voip`).
    pub topic: String,
    /// The token.
    pub token: DeviceToken,
    /// When APNs stopped considering the token valid for the topic (ms since the epoch); from then
    /// on pushes get 410 `Unregistered` with this `timestamp`.
    pub unregistered_at_ms: Option<u64>,
}

impl Device {
    /// A live device.
    pub fn new(environment: Environment, topic: impl Into<String>, token: DeviceToken) -> Device {
        Device {
            environment,
            topic: topic.into(),
            token,
            unregistered_at_ms: None,
        }
    }

    /// The same device, unregistered at `at_ms`.
    pub fn unregistered_at(mut self, at_ms: u64) -> Device {
        self.unregistered_at_ms = Some(at_ms);
        self
    }
}

/// What the registry says about a (token, topic) in one environment at one time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Not known in this environment: `BadDeviceToken`.
    Unknown,
    /// Known, but for other topics only: `DeviceTokenNotForTopic`.
    OtherTopic,
    /// Unregistered since this time: 410 `Unregistered`.
    Unregistered(u64),
    /// Live.
    Active,
}

/// Tokens by environment, token and topic.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    tokens: HashMap<(Environment, DeviceToken), HashMap<String, Option<u64>>>,
}

impl Registry {
    pub(crate) fn insert(&mut self, device: Device) {
        self.tokens
            .entry((device.environment, device.token))
            .or_default()
            .insert(device.topic, device.unregistered_at_ms);
    }

    /// Every (token, topic), sorted by environment, token and topic.
    pub(crate) fn devices(&self) -> Vec<Device> {
        let mut all: Vec<Device> = self
            .tokens
            .iter()
            .flat_map(|((environment, token), topics)| {
                topics.iter().map(|(topic, at)| Device {
                    environment: *environment,
                    topic: topic.clone(),
                    token: token.clone(),
                    unregistered_at_ms: *at,
                })
            })
            .collect();
        all.sort_by(|a, b| {
            let key = |d: &Device| {
                (
                    d.environment == Environment::Production,
                    d.token.to_string(),
                    d.topic.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        all
    }

    /// Whether a token is known in an environment (for any topic).
    pub(crate) fn knows(&self, environment: Environment, token: &DeviceToken) -> bool {
        self.tokens.contains_key(&(environment, token.clone()))
    }

    pub(crate) fn lookup(
        &self,
        environment: Environment,
        token: &DeviceToken,
        topic: &str,
        now_ms: u64,
    ) -> Lookup {
        let Some(topics) = self.tokens.get(&(environment, token.clone())) else {
            return Lookup::Unknown;
        };
        match topics.get(topic) {
            None => Lookup::OtherTopic,
            Some(Some(at)) if *at <= now_ms => Lookup::Unregistered(*at),
            Some(_) => Lookup::Active,
        }
    }
}

/// One push the emulator accepted (answered 200), as tests read it from
/// [`crate::EmulatorHandle::accepted`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedPush {
    /// The environment (listener) it arrived on.
    pub environment: Environment,
    /// The `apns-id` answered (echoed or generated).
    pub apns_id: ApnsId,
    /// The `apns-unique-id` answered: sandbox only.
    pub unique_id: Option<ApnsId>,
    /// The device token from `:path`.
    pub token: DeviceToken,
    /// `apns-topic`.
    pub topic: String,
    /// `apns-push-type`; `None` when the header was omitted (allowed outside watchOS).
    pub push_type: Option<PushType>,
    /// `apns-priority`, 10 when omitted.
    pub priority: Priority,
    /// `apns-expiration` in UNIX seconds; `None` when omitted.
    pub expiration: Option<u64>,
    /// `apns-collapse-id`.
    pub collapse_id: Option<String>,
    /// Payload size in bytes.
    pub payload_len: usize,
    /// The payload.
    pub payload: bytes::Bytes,
    /// When it was received, ms since the epoch (the emulator's clock).
    pub received_at_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(hex: &str) -> DeviceToken {
        DeviceToken::parse(hex).unwrap()
    }

    #[test]
    fn lookup_tells_unknown_other_topic_unregistered_and_active() {
        let mut registry = Registry::default();
        registry.insert(Device::new(Environment::Sandbox, "a.voip", token("aa")));
        registry
            .insert(Device::new(Environment::Sandbox, "b.voip", token("bb")).unregistered_at(50));
        let sandbox = Environment::Sandbox;
        assert_eq!(
            registry.lookup(sandbox, &token("aa"), "a.voip", 0),
            Lookup::Active
        );
        assert_eq!(
            registry.lookup(sandbox, &token("aa"), "b.voip", 0),
            Lookup::OtherTopic
        );
        assert_eq!(
            registry.lookup(Environment::Production, &token("aa"), "a.voip", 0),
            Lookup::Unknown
        );
        assert_eq!(
            registry.lookup(sandbox, &token("bb"), "b.voip", 49),
            Lookup::Active
        );
        assert_eq!(
            registry.lookup(sandbox, &token("bb"), "b.voip", 50),
            Lookup::Unregistered(50)
        );
    }
}
