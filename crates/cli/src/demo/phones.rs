//! The demo's phones: a few hundred ordinary ones and four with a story (a radio outage, the
//! founding incident's abandoned reconnect, an app that fails to report until iOS blocks it, a
//! stale token), as lab scenarios whose times are fractions of the run so any length plays
//! every story.

use anyhow::{Context, Result};
use pushtrace_lab::Scenario;
use pushtrace_lab::live::{LiveDevice, plan_device};
use pushtrace_model::{Timestamp, UtcOffset};

/// The calling app every phone runs (the gateway's app `acme`).
pub const BUNDLE: &str = "com.acme.call";
pub const PROCESS: &str = "Comera";

/// A phone with a story: its name, what the demo does to it, and the cause family a
/// diagnosis of its failed call should find.
pub struct Story {
    pub name: &'static str,
    pub what: &'static str,
    pub expected: &'static [&'static str],
}

pub const STORIES: [Story; 4] = [
    Story {
        name: "outage-1",
        what: "a Wi-Fi outage while a call rings: the push waits at APNs and arrives after the caller gave up",
        expected: &["device_offline_radio"],
    },
    Story {
        name: "asleep-1",
        what: "the founding incident: a handover on a weak link, apsd gives up under powerd's policy 3, an incoming cellular call wakes the phone later",
        expected: &["reconnect_abandoned_power_policy", "device_offline_radio"],
    },
    Story {
        name: "app-failing-1",
        what: "the app never reports its calls to CallKit: iOS kills it twice, then stops launching it for VoIP pushes",
        expected: &["app_not_reporting", "voip_blocked"],
    },
    Story {
        name: "stale-token-1",
        what: "a token the phone no longer has: APNs answers 410 Unregistered",
        expected: &["token_invalid"],
    },
];

/// The demo's run length and its derived times.
pub struct Timing {
    pub seconds: u64,
    pub start: Timestamp,
    /// The calls' ring window, whole seconds (the gateway's `window_secs`).
    pub ring_window: u64,
}

impl Timing {
    pub fn new(seconds: u64, start_micros: i64) -> Timing {
        let offset = UtcOffset::from_seconds(0).expect("UTC is an offset");
        Timing {
            seconds,
            start: Timestamp::new(start_micros, offset),
            ring_window: (seconds * 8 / 30).max(2),
        }
    }

    /// `share` of the run, as a duration the scenario reads.
    fn part(&self, share: f64) -> String {
        format!(
            "{}ms",
            ((self.seconds as f64 * 1000.0 * share).round() as u64).max(1)
        )
    }

    /// The time `share` of the run after its start.
    fn at(&self, share: f64) -> String {
        let micros = (self.seconds as f64 * 1e6 * share).round() as i64;
        Timestamp::new(self.start.utc_micros() + micros, self.start.offset()).to_string()
    }

    /// A rate that gives `per_run` events per phone over the run (the scenario counts per day).
    fn per_run(&self, per_run: f64) -> f64 {
        per_run * 86_400.0 / self.seconds as f64
    }
}

/// The scenario text shared by every phone, with the parts that differ given.
fn scenario(t: &Timing, name: &str, devices: u32, body: &Overrides) -> String {
    // Long enough for the ordinary app's slowest report, short enough that the failing app's
    // kills land between its calls.
    let kill_ms = (t.seconds * 100).max(1000);
    format!(
        r#"[fleet]
name = "{name}"
devices = {devices}
duration = "{duration}"
start = "{start}"
seed = 20261204
os = [{{ value = "26.4", weight = 0.6 }}, {{ value = "18.5", weight = 0.4 }}]
interfaces = [{interfaces}]
unregistered_share = {unregistered}

[cellular]
outages_per_day = {outages}
outage = {{ uniform = ["{outage_min}", "{outage_max}"] }}
back_after = "{back}"
path_after = "124ms"
weak_share = {weak}

[wifi]
outages_per_day = {outages}
outage = {{ uniform = ["{outage_min}", "{outage_max}"] }}
back_after = "{back}"
path_after = "100ms"
weak_share = 0

[apsd]
connect = {{ fixed = "300ms" }}
connect_timeout = "10m"
backoff = ["{backoff}"]
keepalive = "29m"

[powerd]
display_on_at_start = false
user_sessions_per_day = {sessions}
user_session = {{ uniform = ["{session_min}", "{session_max}"] }}
display_idle = "{idle}"
restrict_after = "{idle}"
reconnect_assertion_timeout = "{assertion}"
activity_update_lead = "{lead}"
cellular_calls_per_day = 0
wake_hold = "{hold}"

[app]
bundle = "{BUNDLE}"
process = "{PROCESS}"
handoff = "102ms"
report = {{ uniform = ["50ms", "400ms"] }}
fails_to_report = {fails}
kill_after = "{kill_ms}ms"
blocked_after = 2
must_report_within = "10s"
honours_must_report = true

[calls]
per_day = {calls}
ring_window = "{window}s"
expiration = "max"
priority = 10
apns_answer = {{ fixed = "50ms" }}
{script}"#,
        duration = t.part(1.0),
        start = t.start,
        interfaces = body.interfaces,
        unregistered = body.unregistered,
        outages = body.outages,
        outage_min = t.part(0.05),
        outage_max = t.part(0.3),
        back = t.part(0.02),
        weak = body.weak,
        backoff = t.part(0.05),
        sessions = body.sessions,
        session_min = t.part(0.05),
        session_max = t.part(0.2),
        idle = t.part(0.1),
        assertion = t.part(0.15),
        lead = t.part(0.05),
        hold = t.part(0.2),
        fails = body.fails,
        calls = body.calls,
        window = t.ring_window,
        script = body.script,
    )
}

struct Overrides {
    interfaces: &'static str,
    unregistered: f64,
    outages: f64,
    weak: f64,
    fails: f64,
    calls: f64,
    sessions: f64,
    script: String,
}

fn quiet(script: String, interfaces: &'static str) -> Overrides {
    Overrides {
        interfaces,
        unregistered: 0.0,
        outages: 0.0,
        weak: 0.0,
        fails: 0.0,
        calls: 0.0,
        sessions: 0.0,
        script,
    }
}

fn event(t: &Timing, share: f64, what: &str) -> String {
    format!("\n[[script]]\nat = \"{}\"\n{what}\n", t.at(share))
}

const CELLULAR: &str = r#"{ value = "cellular", weight = 1 }"#;
const WIFI: &str = r#"{ value = "wifi", weight = 1 }"#;

/// Every phone of the demo, planned: the stories first, then `phones - 4` ordinary phones.
pub fn plan(t: &Timing, phones: u32) -> Result<Vec<LiveDevice>> {
    let window = t.ring_window as f64 / t.seconds as f64;
    let outage = quiet(
        event(
            t,
            0.1,
            &format!(
                "event = \"outage\"\nduration = \"{}\"\nweak = false",
                t.part(0.5)
            ),
        ) + &event(t, 0.2, "event = \"call\""),
        WIFI,
    );
    let wake = (0.42 + window + 0.1).min(0.95);
    let asleep = quiet(
        event(
            t,
            0.05,
            &format!(
                "event = \"outage\"\nduration = \"{}\"\nweak = true",
                t.part(0.05)
            ),
        ) + &event(t, 0.42, "event = \"call\"")
            + &event(t, wake, "event = \"cellular_call\""),
        CELLULAR,
    );
    let mut failing = quiet(
        event(t, 0.1, "event = \"call\"")
            + &event(t, 0.35, "event = \"call\"")
            + &event(t, 0.6, "event = \"call\""),
        WIFI,
    );
    failing.fails = 1.0;
    let mut stale = quiet(event(t, 0.3, "event = \"call\""), WIFI);
    stale.unregistered = 1.0;
    let ordinary = Overrides {
        interfaces: r#"{ value = "wifi", weight = 0.55 }, { value = "cellular", weight = 0.4 }, { value = "hotspot", weight = 0.05 }"#,
        unregistered: 0.0,
        outages: t.per_run(0.03),
        weak: 0.3,
        fails: 0.0,
        calls: t.per_run(1.0),
        sessions: t.per_run(0.5),
        script: String::new(),
    };

    let mut devices = Vec::new();
    for (story, overrides) in STORIES.iter().zip([outage, asleep, failing, stale]) {
        let text = scenario(t, story.name, 1, &overrides);
        let parsed = Scenario::parse(&text, story.name)
            .with_context(|| format!("the demo's scenario for {}", story.name))?;
        devices.push(plan_device(&parsed, 0, story.name));
    }
    let others = phones.saturating_sub(STORIES.len() as u32);
    let text = scenario(t, "demo-fleet", others.max(1), &ordinary);
    let parsed = Scenario::parse(&text, "demo-fleet").context("the demo's fleet scenario")?;
    for index in 0..others {
        devices.push(plan_device(
            &parsed,
            index,
            &format!("phone-{:04}", index + 1),
        ));
    }
    Ok(devices)
}
