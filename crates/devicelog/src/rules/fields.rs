//! From a rule's named captures (and constants) to a typed [`EventKind`].
//!
//! Each kind lists the fields it requires and those it may take, so a rule file is checked when
//! it is loaded: a capture that feeds no field, or a required field that nothing provides, is an
//! error naming the rule, not a silent miss at match time.

use std::collections::BTreeMap;

use pushtrace_model::{EventKind, PolicyStage, Timestamp};

/// The value a message prints when os_log redacts an argument.
pub const REDACTED: &str = "<private>";

/// Required and optional fields of each event kind, by the kind's name.
pub fn fields_of(kind: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match kind {
        "rrc_state" => (&["state"], &["interface", "previous"]),
        "cell_registration" => (&[], &["state"]),
        "apns_path_satisfied" => (&[], &["interface", "radio", "port", "connection"]),
        "apns_data_received" => (&[], &["interface", "length", "connected_interfaces"]),
        "apns_connect_skipped" => (
            &["reason"],
            &[
                "connected_interfaces",
                "wwan_usable",
                "wifi_usable",
                "retry_in_s",
            ],
        ),
        "apns_kick_wwan" => (&[], &[]),
        "apns_keep_alive" => (
            &["mode"],
            &["interface", "interval_s", "connected_interfaces"],
        ),
        "push_received" => (&["filter"], &["topic", "interface", "priority"]),
        "topic_policy_state" => (
            &[],
            &[
                "downgrade_when_locked",
                "system_locked",
                "ultra_constrained",
            ],
        ),
        "topic_downgraded" => (&["to"], &["topic"]),
        "apsd_power_assertion" => (&[], &["identifier"]),
        "assertion_activity_update" => (&[], &[]),
        "assertion_policy_config" => (&["step"], &["category", "policy"]),
        "assertion_policy_timeout" => (&[], &["assertion_id", "time", "policy_timeout"]),
        "power_policy" => (&["level", "stage"], &[]),
        "user_activity" => (&["from", "to"], &[]),
        "display_state" => (&["display_off"], &["hid_active"]),
        "call_wake" => (&["source", "assertion"], &["owner", "owner_pid"]),
        "system_assertion" => (&["action"], &["owner", "owner_pid", "name"]),
        "assertion_timeout" => (&["action"], &["process"]),
        "necp_defunct" => (&["pid"], &["process", "error"]),
        "voip_push_to_app" => (&[], &["bundle", "topic"]),
        "app_launch_for_push" => (&["stage"], &["bundle"]),
        "voip_blocked" => (&["delivered_anyway"], &["bundle"]),
        "app_killed_for_not_reporting" => (&[], &[]),
        "app_crashed" => (&[], &["reason"]),
        "app_exited" => (&[], &["bundle", "reason"]),
        "app_open_requested" => (&[], &["bundle", "from"]),
        "app_process_state" => (&[], &["bundle", "task_state", "visibility"]),
        "voip_process_assertion" => (&["action"], &["target"]),
        "internet_sharing" => (&["active"], &[]),
        "apns_connected" => (&[], &["interface"]),
        "apns_disconnected" => (&[], &["interface", "reason"]),
        "apns_connect_failed" => (&[], &["interface", "error", "code"]),
        "network_state" => (&["up"], &["interface"]),
        "call_reported" => (&[], &["bundle", "call"]),
        "wake_scheduled" => (&[], &["fire_at"]),
        _ => return None,
    })
}

/// Every kind name, for error messages.
pub const KINDS: [&str; 37] = [
    "rrc_state",
    "cell_registration",
    "apns_path_satisfied",
    "apns_data_received",
    "apns_connect_skipped",
    "apns_kick_wwan",
    "apns_keep_alive",
    "push_received",
    "topic_policy_state",
    "topic_downgraded",
    "apsd_power_assertion",
    "assertion_activity_update",
    "assertion_policy_config",
    "assertion_policy_timeout",
    "power_policy",
    "user_activity",
    "display_state",
    "call_wake",
    "system_assertion",
    "assertion_timeout",
    "necp_defunct",
    "voip_push_to_app",
    "app_launch_for_push",
    "voip_blocked",
    "app_killed_for_not_reporting",
    "app_crashed",
    "app_exited",
    "app_open_requested",
    "app_process_state",
    "voip_process_assertion",
    "internet_sharing",
    "apns_connected",
    "apns_disconnected",
    "apns_connect_failed",
    "network_state",
    "call_reported",
    "wake_scheduled",
];

/// The text values of a match: captures that participated, then the rule's constants.
pub struct Fields<'a> {
    pub values: BTreeMap<&'a str, &'a str>,
}

impl<'a> Fields<'a> {
    /// A field as text; redacted and empty values are absent.
    fn text(&self, name: &str) -> Option<&'a str> {
        self.values
            .get(name)
            .copied()
            .map(str::trim)
            .filter(|v| !v.is_empty() && *v != REDACTED)
    }

    fn string(&self, name: &str) -> Option<String> {
        self.text(name).map(str::to_string)
    }

    fn required(&self, name: &str) -> Result<String, String> {
        self.string(name)
            .ok_or_else(|| format!("field `{name}` is empty or redacted"))
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, String> {
        match self.text(name) {
            None => Ok(None),
            Some(v) => {
                let digits = v.trim_end_matches(|c: char| c.is_ascii_alphabetic());
                digits
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("field `{name}` = `{v}` is not a number in range"))
            }
        }
    }

    fn required_number<T: std::str::FromStr>(&self, name: &str) -> Result<T, String> {
        self.number(name)?
            .ok_or_else(|| format!("field `{name}` is missing"))
    }

    fn hex(&self, name: &str) -> Result<u64, String> {
        let v = self
            .text(name)
            .ok_or_else(|| format!("field `{name}` is missing"))?;
        let digits = v
            .strip_prefix("0x")
            .or_else(|| v.strip_prefix("0X"))
            .unwrap_or(v);
        u64::from_str_radix(digits, 16)
            .map_err(|_| format!("field `{name}` = `{v}` is not hexadecimal"))
    }

    fn flag(&self, name: &str) -> Result<Option<bool>, String> {
        match self.text(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(None),
            Some("yes" | "1" | "true") => Ok(Some(true)),
            Some("no" | "0" | "false") => Ok(Some(false)),
            Some(other) => Err(format!(
                "field `{name}` = `{other}` is not YES/NO, 1/0 or true/false"
            )),
        }
    }

    fn required_flag(&self, name: &str) -> Result<bool, String> {
        self.flag(name)?
            .ok_or_else(|| format!("field `{name}` is missing"))
    }
}

/// Builds the event of `kind` from a match's fields.
pub fn build(kind: &str, f: &Fields<'_>) -> Result<EventKind, String> {
    Ok(match kind {
        "rrc_state" => EventKind::RrcState {
            interface: f.string("interface"),
            state: f.required_number("state")?,
            previous: f.number("previous")?,
        },
        "cell_registration" => EventKind::CellRegistration {
            state: f.string("state"),
        },
        "apns_path_satisfied" => EventKind::ApnsPathSatisfied {
            interface: f.string("interface"),
            radio: f.string("radio"),
            port: f.number("port")?,
            connection: f.string("connection"),
        },
        "apns_data_received" => EventKind::ApnsDataReceived {
            interface: f.string("interface"),
            length: f.number("length")?,
            connected_interfaces: f.number("connected_interfaces")?,
        },
        "apns_connect_skipped" => EventKind::ApnsConnectSkipped {
            reason: f.required("reason")?,
            connected_interfaces: f.number("connected_interfaces")?,
            wwan_usable: f.flag("wwan_usable")?,
            wifi_usable: f.flag("wifi_usable")?,
            retry_in_s: f.number("retry_in_s")?,
        },
        "apns_kick_wwan" => EventKind::ApnsKickWwan,
        "apns_keep_alive" => EventKind::ApnsKeepAlive {
            mode: f.required("mode")?,
            interface: f.string("interface"),
            interval_s: f.number("interval_s")?,
            connected_interfaces: f.number("connected_interfaces")?,
        },
        "push_received" => EventKind::PushReceived {
            filter: f.required("filter")?,
            topic: f.string("topic"),
            interface: f.string("interface"),
            priority: f.number("priority")?,
        },
        "topic_policy_state" => EventKind::TopicPolicyState {
            downgrade_when_locked: f.flag("downgrade_when_locked")?,
            system_locked: f.flag("system_locked")?,
            ultra_constrained: f.flag("ultra_constrained")?,
        },
        "topic_downgraded" => EventKind::TopicDowngraded {
            topic: f.string("topic"),
            to: f.required("to")?,
        },
        "apsd_power_assertion" => EventKind::ApsdPowerAssertion {
            identifier: f.string("identifier"),
        },
        "assertion_activity_update" => EventKind::AssertionActivityUpdate,
        "assertion_policy_config" => EventKind::AssertionPolicyConfig {
            step: f.required("step")?,
            category: f.string("category"),
            policy: f.string("policy"),
        },
        "assertion_policy_timeout" => EventKind::AssertionPolicyTimeout {
            assertion_id: f.string("assertion_id"),
            time: f.number("time")?,
            policy_timeout: f.number("policy_timeout")?,
        },
        "power_policy" => EventKind::PowerPolicy {
            level: f.required_number("level")?,
            stage: match f.required("stage")?.as_str() {
                "sent" => PolicyStage::Sent,
                "applied" => PolicyStage::Applied,
                other => {
                    return Err(format!(
                        "field `stage` = `{other}`: expected sent or applied"
                    ));
                }
            },
        },
        "user_activity" => EventKind::UserActivity {
            from: f.hex("from")?,
            to: f.hex("to")?,
        },
        "display_state" => EventKind::DisplayState {
            display_off: f.required_flag("display_off")?,
            hid_active: f.flag("hid_active")?,
        },
        "call_wake" => EventKind::CallWake {
            source: f.required("source")?,
            owner: f.string("owner"),
            owner_pid: f.number("owner_pid")?,
            assertion: f.required("assertion")?,
        },
        "system_assertion" => EventKind::SystemAssertion {
            action: f.required("action")?,
            owner: f.string("owner"),
            owner_pid: f.number("owner_pid")?,
            name: f.string("name"),
        },
        "assertion_timeout" => EventKind::AssertionTimeout {
            action: f.required("action")?,
            process: f.string("process"),
        },
        "necp_defunct" => EventKind::NecpDefunct {
            pid: f.required_number("pid")?,
            process: f.string("process"),
            error: f.number("error")?,
        },
        "voip_push_to_app" => EventKind::VoipPushToApp {
            bundle: f.string("bundle"),
            topic: f.string("topic"),
        },
        "app_launch_for_push" => EventKind::AppLaunchForPush {
            stage: f.required("stage")?,
            bundle: f.string("bundle"),
        },
        "voip_blocked" => EventKind::VoipBlocked {
            bundle: f.string("bundle"),
            delivered_anyway: f.required_flag("delivered_anyway")?,
        },
        "app_killed_for_not_reporting" => EventKind::AppKilledForNotReporting,
        "app_crashed" => EventKind::AppCrashed {
            reason: f.string("reason"),
        },
        "app_exited" => EventKind::AppExited {
            bundle: f.string("bundle"),
            reason: f.string("reason"),
        },
        "app_open_requested" => EventKind::AppOpenRequested {
            bundle: f.string("bundle"),
            from: f.string("from"),
        },
        "app_process_state" => EventKind::AppProcessState {
            bundle: f.string("bundle"),
            task_state: f.string("task_state"),
            visibility: f.string("visibility"),
        },
        "voip_process_assertion" => EventKind::VoipProcessAssertion {
            action: f.required("action")?,
            target: f.string("target"),
        },
        "internet_sharing" => EventKind::InternetSharing {
            active: f.required_flag("active")?,
        },
        "apns_connected" => EventKind::ApnsConnected {
            interface: f.string("interface"),
        },
        "apns_disconnected" => EventKind::ApnsDisconnected {
            interface: f.string("interface"),
            reason: f.string("reason"),
        },
        "apns_connect_failed" => EventKind::ApnsConnectFailed {
            interface: f.string("interface"),
            error: f.string("error"),
            code: f.number("code")?,
        },
        "network_state" => EventKind::NetworkState {
            interface: f.string("interface"),
            up: f.required_flag("up")?,
        },
        "call_reported" => EventKind::CallReported {
            bundle: f.string("bundle"),
            call: f.string("call"),
        },
        "wake_scheduled" => EventKind::WakeScheduled {
            fire_at: f
                .text("fire_at")
                .map(|t| Timestamp::parse(t).map_err(|e| format!("field `fire_at` = `{t}`: {e}")))
                .transpose()?,
        },
        other => return Err(format!("unknown event kind `{other}`")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_fields_and_builds_from_them() {
        for kind in KINDS {
            let (required, optional) = fields_of(kind).unwrap();
            let sample = |name: &str| match name {
                "stage" => "sent",
                "from" | "to" if kind == "user_activity" => "0x1",
                "display_off"
                | "hid_active"
                | "delivered_anyway"
                | "active"
                | "up"
                | "wwan_usable"
                | "wifi_usable"
                | "downgrade_when_locked"
                | "system_locked"
                | "ultra_constrained" => "NO",
                "state" if kind == "rrc_state" => "0",
                "level"
                | "pid"
                | "port"
                | "priority"
                | "error"
                | "length"
                | "interval_s"
                | "previous"
                | "owner_pid"
                | "time"
                | "policy_timeout"
                | "code"
                | "retry_in_s"
                | "connected_interfaces" => "1",
                "fire_at" => "2018-03-26 16:15:06 -0700",
                _ => "x",
            };
            let values = required
                .iter()
                .chain(optional)
                .map(|n| (*n, sample(n)))
                .collect();
            let built = build(kind, &Fields { values }).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(built.name(), kind);
        }
    }

    #[test]
    fn redacted_values_are_absent_not_invented() {
        let values = [
            ("filter", "enabled"),
            ("topic", "<private>"),
            ("priority", "10"),
        ]
        .into_iter()
        .collect();
        let event = build("push_received", &Fields { values }).unwrap();
        assert_eq!(
            event,
            EventKind::PushReceived {
                filter: "enabled".into(),
                topic: None,
                interface: None,
                priority: Some(10)
            }
        );
    }
}
