//! The lines the simulated iPhone logs, worded exactly as the catalogue (`rules/ios.toml`) that
//! `diagnose` reads them with: each variant names the rule it must match, and a test checks it.

use std::fmt::Write;

use crate::scenario::Interface;

/// One message a daemon (or the app) logs.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// symptomsd: the radio drops to RRC idle (its inactivity timer, a handover, an outage).
    RrcIdle,
    /// symptomsd: the radio goes RRC connected to carry data.
    RrcConnected,
    /// CommCenter: registered (again, after an outage or a handover).
    Registered,
    /// CommCenter: registration lost, searching for a network (a cellular outage begins).
    RegistrationLost,
    /// apsd: its path to APNs is usable again.
    PathSatisfied(Interface),
    /// apsd: connected to the courier.
    Connected(Interface),
    /// apsd: the connection closed (the network went away).
    ConnectionClosed(Interface),
    /// apsd: a connection attempt timed out.
    ConnectTimeout(Interface),
    /// apsd: a keep-alive sent on the courier connection.
    KeepAliveSent(Interface),
    /// apsd: the keep-alive went unanswered (a silently dropped connection is found).
    KeepAliveFailed(Interface),
    /// apsd: powerd is about to change the assertion policy.
    ActivityUpdate,
    /// powerd sends a policy, apsd applies it.
    PolicySent(u8),
    PolicyApplied(u8),
    /// powerd: user activity and display state.
    Activity {
        active: bool,
    },
    Display {
        on: bool,
    },
    /// powerd: an incoming cellular call wakes the system.
    CallWake,
    /// kernel: the app's sockets are defuncted as the device sleeps.
    NecpDefunct {
        pid: u32,
        process: String,
    },
    /// apsd: a push for an enabled topic arrived.
    PushReceived {
        topic: String,
        interface: Interface,
        priority: u8,
    },
    /// callservicesd: the push is for this app.
    VoipToApp {
        bundle: String,
        topic: String,
    },
    /// The app's CallKit report (CXProvider, logged in the app's process).
    CallReported {
        uuid: String,
    },
    /// callservicesd: the app did not report in time.
    AppKilled,
    /// dasd: Personal Hotspot is on.
    InternetSharing,
    /// callservicesd: iOS no longer launches the app for VoIP pushes.
    VoipBlocked {
        bundle: String,
    },
    /// A line of a process that logs a lot and says nothing the catalogue reads (`noise.rs`).
    Noise(&'static super::noise::NoiseLine),
}

impl Message {
    /// The catalogue rule this message is written for; noise is written for none.
    pub fn rule(&self) -> Option<&'static str> {
        Some(match self {
            Message::RrcIdle | Message::RrcConnected => "symptomsd.rrc_state",
            Message::Registered | Message::RegistrationLost => "commcenter.registration",
            Message::PathSatisfied(_) => "apsd.path_satisfied",
            Message::Connected(_) => "apsd.connected_to_courier",
            Message::ConnectionClosed(_) => "apsd.connection_closed",
            Message::ConnectTimeout(_) => "apsd.connect_establish_timeout",
            Message::KeepAliveSent(_) => "apsd.keepalive_sent",
            Message::KeepAliveFailed(_) => "apsd.keepalive_response_timeout",
            Message::ActivityUpdate => "apsd.assertion_activity_update",
            Message::PolicySent(_) => "powerd.policy_sent",
            Message::PolicyApplied(_) => "apsd.policy_applied",
            Message::Activity { .. } => "powerd.user_activity",
            Message::Display { .. } => "powerd.display_state",
            Message::CallWake => "powerd.call_wake",
            Message::NecpDefunct { .. } => "kernel.necp_defunct",
            Message::PushReceived { .. } => "apsd.push_received_enabled",
            Message::VoipToApp { .. } => "callservicesd.voip_push_received",
            Message::CallReported { .. } => "cxprovider.report_new_incoming_call",
            Message::AppKilled => "callservicesd.killing_voip_app",
            Message::VoipBlocked { .. } => "callservicesd.voip_blocked",
            Message::InternetSharing => "dasd.internet_sharing_active",
            Message::Noise(_) => return None,
        })
    }

    /// The process that logs it (`app` for the app's own lines).
    pub fn process<'a>(&self, app: &'a str) -> &'a str {
        match self {
            Message::RrcIdle | Message::RrcConnected => "symptomsd",
            Message::Registered | Message::RegistrationLost => "CommCenter",
            Message::ActivityUpdate
            | Message::PolicyApplied(_)
            | Message::PathSatisfied(_)
            | Message::Connected(_)
            | Message::ConnectionClosed(_)
            | Message::ConnectTimeout(_)
            | Message::KeepAliveSent(_)
            | Message::KeepAliveFailed(_)
            | Message::PushReceived { .. } => "apsd",
            Message::PolicySent(_)
            | Message::Activity { .. }
            | Message::Display { .. }
            | Message::CallWake => "powerd",
            Message::NecpDefunct { .. } => "kernel",
            Message::InternetSharing => "dasd",
            Message::VoipToApp { .. } | Message::AppKilled | Message::VoipBlocked { .. } => {
                "callservicesd"
            }
            Message::CallReported { .. } => app,
            Message::Noise(line) => line.process,
        }
    }

    /// The library that logged it, when it is not the process's own image: the `(sender)`
    /// of the text styles and the `senderImagePath` of json.
    pub fn sender(&self) -> Option<&'static str> {
        match self {
            Message::PathSatisfied(_) => Some("/usr/lib/libnetwork.dylib"),
            Message::PolicySent(_) | Message::CallWake => Some("/usr/lib/libIOKit.dylib"),
            Message::CallReported { .. } => {
                Some("/System/Library/Frameworks/CallKit.framework/CallKit")
            }
            Message::Noise(line) => line.sender,
            _ => None,
        }
    }

    /// The `os_log` subsystem and category, empty when the message is not logged through a
    /// handle (then `log show` prints no `[…]`).
    pub fn subsystem(&self) -> (&'static str, &'static str) {
        match self {
            Message::PathSatisfied(_) => ("com.apple.network", "connection"),
            Message::Connected(_)
            | Message::ConnectionClosed(_)
            | Message::ConnectTimeout(_)
            | Message::KeepAliveSent(_)
            | Message::KeepAliveFailed(_)
            | Message::PushReceived { .. } => ("com.apple.apsd", "connection"),
            Message::ActivityUpdate | Message::PolicyApplied(_) => ("com.apple.apsd", "power"),
            Message::PolicySent(_)
            | Message::Activity { .. }
            | Message::Display { .. }
            | Message::CallWake => ("com.apple.powerd", "assertions"),
            Message::NecpDefunct { .. } => ("com.apple.xnu.net.necp", "necp"),
            Message::VoipToApp { .. } | Message::AppKilled | Message::VoipBlocked { .. } => {
                ("com.apple.calls.callservicesd", "Default")
            }
            Message::Noise(line) => line.subsystem,
            _ => ("", ""),
        }
    }

    /// The `log show` type column. The lab's own messages are all at the default level (NECP
    /// logs its abort as an error except for ENOENT, 2, the errno the lab writes).
    pub fn level(&self) -> &'static str {
        match self {
            Message::Noise(line) => line.level,
            _ => "Default",
        }
    }

    /// Appends the message text to `out`.
    pub fn write(&self, out: &mut String) {
        let _ = match self {
            Message::RrcIdle => write!(out, "New RRC 0 when previous 1 from pdp_ip0"),
            // The observed idle line's format, the other way round (docs/lab.md, Log messages).
            Message::RrcConnected => write!(out, "New RRC 1 when previous 0 from pdp_ip0"),
            Message::Registered => {
                write!(out, "#I Mapping the registration state to kRegisteredHome")
            }
            // The observed registration line with CommCenter's state for a lost network
            // (docs/lab.md, Log messages).
            Message::RegistrationLost => {
                write!(out, "#I Mapping the registration state to kSearching")
            }
            Message::PathSatisfied(i) => {
                let (name, traits) = match i {
                    Interface::Wifi => ("en0", "ipv4, ipv6, dns"),
                    _ => ("pdp_ip0[lte]", "ipv4, ipv6, dns, expensive, uses cell"),
                };
                write!(
                    out,
                    "[C138 IPv4#b71cac13:5223 ready parent-flow (satisfied (Path is satisfied), \
                     interface: {name}, scoped, {traits}, LQM: good)] event: \
                     path:satisfied_change @594.391s"
                )
            }
            Message::Connected(i) => write!(
                out,
                "<APSCourierConnectionManager: 0x1036e3710; production>: Connected to courier \
                 18-courier.push.apple.com (17.57.144.12) connection: <APSCourierConnection: \
                 0x9451043c0> usingPackedFormat YES secureHandshakeEnabled YES onInterface: {}",
                apsd_interface(*i)
            ),
            Message::ConnectionClosed(i) => {
                write!(out, "Connection closed production {}", apsd_interface(*i))
            }
            Message::ConnectTimeout(i) => write!(
                out,
                "<APSCourierConnectionManager: 0x10300a1b0 production>: Connection establish \
                 timer fired. Connection failed onInterface {}. Connected on 0 interfaces. \
                 Current link quality: 40",
                apsd_interface(*i)
            ),
            // Observed (`<private>` filled in, docs/lab.md): the keep-alive apsd sends on its
            // timer; the iOS 18.2 format string of `_performKeepAliveOnInterface` still.
            Message::KeepAliveSent(i) => write!(
                out,
                "<APSCourierConnectionManager: 0x10300a1b0 production>: Sending keep alive \
                 message via conn: <APSCourierConnection: 0x9451043c0> onInterface: {}. \
                 Connected on 1 interfaces. Current link quality: 100",
                apsd_interface(*i)
            ),
            Message::KeepAliveFailed(i) => write!(
                out,
                "<APSCourierConnectionManager: 0x10300a1b0 production>: Keep-alive response \
                 timer fired onInterface {}. Keep-alive failed. Connected on 0 interfaces. \
                 Current link quality: 100",
                apsd_interface(*i)
            ),
            Message::ActivityUpdate => {
                write!(out, "Powerd has requested assertion activity update")
            }
            Message::PolicySent(p) => write!(out, "Sending com.apple.powerd.assertionpolicy {p}"),
            Message::PolicyApplied(p) => write!(out, "Update assertion policy {p}"),
            Message::Activity { active } => {
                let (from, to) = if *active { (0, 1) } else { (1, 0) };
                write!(
                    out,
                    "Activity changes from 0x{from} to 0x{to}. UseActiveState:{to}"
                )
            }
            Message::Display { on } => write!(
                out,
                "hidActive:{} displayOff:{} assertionActivityValid:{}",
                u8::from(*on),
                u8::from(!*on),
                u8::from(*on)
            ),
            Message::CallWake => write!(
                out,
                "Process CommCenter.104 Created SystemIsActive \
                 \"com.apple.ipTelephony.sipIncoming.cell\""
            ),
            Message::NecpDefunct { pid, process } => write!(
                out,
                "necp_process_defunct_list: necp_update_client abort nexus error (2) for pid \
                 {pid} {process}"
            ),
            Message::PushReceived {
                topic,
                interface,
                priority,
            } => write!(
                out,
                "<APSCourier: 0x10300c3d0 production>: Received message for enabled topic \
                 '{topic}' onInterface: {} with payload '{{\"aps\":{{}}}}' with priority \
                 {priority} for device token: YES isProxyMessage: NO, apsd current QOS: \
                 USER_INITIATED",
                apsd_interface(*interface)
            ),
            Message::VoipToApp { bundle, topic } => write!(
                out,
                "Received incoming APS message from application with bundle identifier {bundle} \
                 and topic {topic}"
            ),
            Message::CallReported { uuid } => write!(
                out,
                "Provider <CXProvider 0x281d2c0a0> was asked to report a new incoming call with \
                 UUID: {uuid} update: <CXCallUpdate 0x283f1c000 hasVideo=0>"
            ),
            Message::InternetSharing => write!(out, "InternetSharingActive = 1"),
            Message::AppKilled => {
                write!(
                    out,
                    "Killing VoIP app because it failed to post an incoming call in time."
                )
            }
            Message::VoipBlocked { bundle } => write!(
                out,
                "Application {bundle} will not be launched because it failed to report an \
                 incoming call too many times (or repeatedly crashed.)"
            ),
            Message::Noise(line) => out.write_str(line.text),
        };
    }
}

/// apsd's names for its two interfaces.
fn apsd_interface(interface: Interface) -> &'static str {
    match interface {
        Interface::Wifi => "NonCellular",
        Interface::Cellular | Interface::Hotspot => "WWAN",
    }
}
