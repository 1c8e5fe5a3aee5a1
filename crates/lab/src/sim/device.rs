//! One simulated iPhone: its network, apsd, powerd and the app, driven by its event queue.
//!
//! The chain is the one the founding thread describes: the network breaks, apsd reconnects
//! while holding the device awake, gives up when powerd's assertion policy 3 arrives before the
//! connection is viable, the device sleeps, and a later wake with a working network (often an
//! incoming cellular call) lets apsd reconnect and APNs deliver what it stored.

use pushtrace_model::PushRecord;

use super::apns::{Reach, Stored};
use super::event::Event;
use super::queue::Queue;
use super::truth::{CallTruth, PushTruth, Waiting};

use crate::log::{LogLine, Message};
use crate::scenario::{Interface, Link, Scenario, Scripted, Span, exponential};

const DAY: f64 = 86_400e6;
const PID_APP: u32 = 1518;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Net {
    Up,
    Down,
    /// Back, but no viable APNs connection until the next wake.
    Weak,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Apsd {
    Connected,
    Connecting,
    /// No path, or waiting for the next attempt.
    Waiting,
    /// Gave up under policy 3: nothing until a wake.
    Abandoned,
}

/// What one device did over the simulation.
#[derive(Debug, Default)]
pub struct DeviceRun {
    /// `lab-000042`: the device id its push records carry.
    pub device: String,
    pub os: String,
    pub interface: &'static str,
    pub pushes: Vec<PushTruth>,
    /// The calls its pushes belong to, in order.
    pub calls: Vec<CallTruth>,
    /// Its log, when asked for.
    pub log: Vec<LogLine>,
}

impl DeviceRun {
    /// The push record of `push` as its server would export it.
    pub fn record(&self, sc: &Scenario, push: &PushTruth) -> PushRecord {
        push.record(sc, &self.device, &self.os, self.interface)
    }
}

pub(crate) struct Device<'s> {
    sc: &'s Scenario,
    /// The device's world (network, power, user, call arrivals). Pushes draw from streams of
    /// their own, derived from `seed`, so that sending strategies compared on the same seed
    /// see the same phones and the same calls.
    rng: fastrand::Rng,
    seed: u64,
    queue: Queue,
    now: i64,
    end: i64,
    logging: bool,
    run: DeviceRun,
    interface: Interface,
    must_report_os: bool,
    unregistered: bool,
    net: Net,
    apsd: Apsd,
    /// When apsd's current connection was made: its keep-alives run from here.
    connected_at: i64,
    /// Moves to the other network so far: the generation of the link's random processes.
    link_gen: u64,
    apsd_gen: u64,
    attempt: usize,
    /// A reconnect assertion is running (its generation in `assertion_gen`).
    assertion: bool,
    assertion_gen: u64,
    display_on: bool,
    display_gen: u64,
    policy: u8,
    wake_until: i64,
    lost_at: Option<i64>,
    apns_gen: u64,
    apns_noticed: bool,
    severed: bool,
    abandons: u32,
    /// APNs's store for the device: one push per topic, the call push's (`.voip`) and the
    /// fallback alert's (the bundle id).
    stored: [Option<Stored>; 2],
    waiting: Vec<Option<Waiting>>,
    app_failures: u32,
    blocked: bool,
    pushes_sent: u32,
}

impl<'s> Device<'s> {
    pub(crate) fn new(sc: &'s Scenario, index: u32, logging: bool) -> Device<'s> {
        // One stream per device from the fleet seed: the result does not depend on threads.
        let seed = sc.fleet.seed ^ (u64::from(index) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = fastrand::Rng::with_seed(seed);
        let interface = pick(&mut rng, &sc.fleet.interfaces).value;
        let os = pick(&mut rng, &sc.fleet.os).value.clone();
        let must_report_os = crate::scenario::os_version(&os).is_ok_and(|v| v >= (26, 4));
        let unregistered = rng.f64() < sc.fleet.unregistered_share;
        let start = sc.fleet.start.utc_micros();
        let display_on = sc.powerd.display_on_at_start;
        Device {
            sc,
            rng,
            seed,
            queue: Queue::default(),
            now: start,
            end: sc.end_micros(),
            logging,
            run: DeviceRun {
                device: format!("lab-{index:06}"),
                os,
                interface: interface.as_str(),
                ..DeviceRun::default()
            },
            interface,
            must_report_os,
            unregistered,
            net: Net::Up,
            apsd: Apsd::Connected,
            connected_at: start,
            link_gen: 0,
            apsd_gen: 0,
            attempt: 0,
            assertion: false,
            assertion_gen: 0,
            display_on,
            display_gen: 0,
            policy: if display_on { 0 } else { 3 },
            wake_until: start,
            lost_at: None,
            apns_gen: 0,
            apns_noticed: false,
            severed: false,
            abandons: 0,
            stored: [None; 2],
            waiting: Vec::new(),
            app_failures: 0,
            blocked: false,
            pushes_sent: 0,
        }
    }

    /// Runs to the end of the scenario; `script` applies to this device.
    pub(crate) fn run(mut self, script: bool) -> DeviceRun {
        // The log opens on the state the phone starts in, so a reader need not guess it.
        self.log(0, Message::Connected(self.interface));
        if self.interface == Interface::Hotspot {
            self.log(0, Message::InternetSharing);
        }
        for event in [
            Event::NextOutage { link: 0 },
            Event::NextSilentDrop { link: 0 },
            Event::NextUserSession,
            Event::NextCellularCall,
            Event::NextCall,
            Event::NextSwitch { link: 0 },
            Event::NextHandover,
        ] {
            self.handle(event);
        }
        let every = self.sc.powerd.scheduled_wake_every;
        if every > Span::ZERO {
            self.queue
                .push(self.now + every.micros(), Event::ScheduledWake);
        }
        if script {
            for s in &self.sc.script {
                let event = match *s {
                    Scripted::Outage { duration, weak, .. } => {
                        Event::OutageStart { duration, weak }
                    }
                    Scripted::Switch { .. } => Event::Switch,
                    Scripted::Handover { .. } => Event::Handover,
                    Scripted::SilentDrop { .. } => Event::SilentDrop,
                    Scripted::CellularCall { .. } => Event::CellularCall,
                    Scripted::User { duration, .. } => Event::UserSession { duration },
                    Scripted::Call { .. } => Event::Call,
                };
                self.queue.push(s.at().utc_micros(), event);
            }
        }
        while let Some((at, event)) = self.queue.pop_until(self.end) {
            self.now = at;
            self.handle(event);
        }
        self.log_keepalives(self.end);
        // The log is taken at the window's end: a real one has lines of its busy processes up
        // to that moment, so a push due before then is inside what the log covers.
        self.log_at(
            self.end - 1,
            Message::Noise(crate::log::noise::closing_line()),
        );
        self.finish();
        self.run.log.sort_by_key(|l| l.at);
        self.run
    }

    fn link(&self) -> &'s Link {
        match self.interface {
            Interface::Wifi => &self.sc.wifi,
            Interface::Cellular | Interface::Hotspot => &self.sc.cellular,
        }
    }

    fn log(&mut self, after: i64, message: Message) {
        self.log_at(self.now + after, message);
    }

    fn log_at(&mut self, at: i64, message: Message) {
        if self.logging {
            let pid = match (&message, message.process("app")) {
                (Message::Noise(line), _) => line.pid,
                (_, "symptomsd") => 81,
                (_, "CommCenter") => 104,
                (_, "apsd") => 112,
                (_, "powerd") => 63,
                (_, "kernel") => 0,
                (_, "callservicesd") => 143,
                (_, "dasd") => 98,
                _ => PID_APP,
            };
            self.run.log.push(LogLine { at, pid, message });
        }
    }

    /// The next arrival of a Poisson process of `per_day`, if it falls before the end.
    fn next_arrival(&mut self, per_day: f64, event: Event) {
        if per_day > 0.0 {
            let at = self.now + (exponential(&mut self.rng) * DAY / per_day) as i64;
            if at < self.end {
                self.queue.push(at, event);
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::NextOutage { link: epoch } if epoch == self.link_gen => {
                let link = self.link();
                if self.now > self.sc.fleet.start.utc_micros() {
                    let duration = link.outage.sample(&mut self.rng);
                    let weak = self.rng.f64() < link.weak_share;
                    self.handle(Event::OutageStart { duration, weak });
                }
                self.next_arrival(link.outages_per_day, Event::NextOutage { link: epoch });
            }
            // A move restarts the link's processes itself, this one included.
            Event::NextSwitch { link } if link == self.link_gen => {
                let moved = self.now > self.sc.fleet.start.utc_micros() && self.switch();
                if !moved {
                    self.next_arrival(self.link().switches_per_day, Event::NextSwitch { link });
                }
            }
            Event::NextHandover => {
                if self.now > self.sc.fleet.start.utc_micros() {
                    self.handle(Event::Handover);
                }
                self.next_arrival(self.sc.cellular.handovers_per_day, Event::NextHandover);
            }
            Event::NextSilentDrop { link } if link == self.link_gen => {
                if self.now > self.sc.fleet.start.utc_micros() {
                    self.handle(Event::SilentDrop);
                }
                let rate = self.link().silent_drops_per_day;
                self.next_arrival(rate, Event::NextSilentDrop { link });
            }
            Event::NextUserSession => {
                if self.now > self.sc.fleet.start.utc_micros() {
                    let duration = self.sc.powerd.user_session.sample(&mut self.rng);
                    self.handle(Event::UserSession { duration });
                }
                self.next_arrival(self.sc.powerd.user_sessions_per_day, Event::NextUserSession);
            }
            Event::NextCellularCall => {
                if self.now > self.sc.fleet.start.utc_micros() {
                    self.handle(Event::CellularCall);
                }
                self.next_arrival(
                    self.sc.powerd.cellular_calls_per_day,
                    Event::NextCellularCall,
                );
            }
            Event::NextCall => {
                if self.now > self.sc.fleet.start.utc_micros() {
                    self.handle(Event::Call);
                }
                self.next_arrival(self.sc.calls.per_day, Event::NextCall);
            }
            Event::ScheduledWake => {
                // A timer wake changes nothing on a phone that is already awake.
                if self.dark() {
                    self.wake(self.sc.powerd.wake_hold);
                }
                let every = self.sc.powerd.scheduled_wake_every;
                self.queue
                    .push(self.now + every.micros(), Event::ScheduledWake);
            }
            Event::OutageStart { duration, weak } => self.outage(duration, weak),
            Event::Switch => {
                self.switch();
            }
            // A handover on a working cellular link: the radio drops to idle as it changes
            // cell and CommCenter maps the registration again; apsd's connection survives.
            Event::Handover if self.interface != Interface::Wifi && self.net == Net::Up => {
                self.log(0, Message::RrcIdle);
                self.log(self.sc.cellular.back_after.micros(), Message::Registered);
            }
            Event::OutageEnd { weak } => {
                self.net = if weak { Net::Weak } else { Net::Up };
                let link = self.link();
                if self.interface != Interface::Wifi {
                    self.log(link.back_after.micros(), Message::Registered);
                }
                let at = self.now + link.back_after.micros() + link.path_after.micros();
                self.queue.push(at, Event::PathSatisfied);
            }
            Event::PathSatisfied if self.net != Net::Down => {
                self.log(0, Message::PathSatisfied(self.interface));
                self.attempt = 0;
                self.connect();
            }
            Event::ConnectDone { epoch } if epoch == self.apsd_gen => self.connect_done(),
            Event::Retry { epoch } if epoch == self.apsd_gen => self.connect(),
            Event::ActivityUpdate { epoch } if epoch == self.assertion_gen && self.assertion => {
                self.log(0, Message::ActivityUpdate);
            }
            Event::AssertionTimeout { epoch } if epoch == self.assertion_gen && self.assertion => {
                self.abandon();
            }
            Event::UserSession { duration } => {
                if !self.display_on {
                    self.log(0, Message::Activity { active: true });
                    self.log(0, Message::Display { on: true });
                }
                self.display_on = true;
                self.display_gen += 1;
                self.set_policy(0);
                self.recover();
                let off = duration.micros() + self.sc.powerd.display_idle.micros();
                self.queue.push(
                    self.now + off,
                    Event::DisplayOff {
                        epoch: self.display_gen,
                    },
                );
            }
            Event::DisplayOff { epoch } if epoch == self.display_gen => {
                self.display_on = false;
                self.log(0, Message::Activity { active: false });
                self.log(0, Message::Display { on: false });
                self.schedule_restrict();
            }
            Event::Restrict { epoch }
                if epoch == self.display_gen && self.dark() && !self.assertion =>
            {
                self.set_policy(3);
            }
            // A call reaches only a phone whose radio is up (its wakes are the successes).
            Event::CellularCall if self.net != Net::Down => {
                self.log(0, Message::CallWake);
                self.wake(self.sc.powerd.wake_hold);
            }
            Event::ApnsNotices { epoch } if epoch == self.apns_gen => self.apns_noticed = true,
            Event::SilentDrop if self.apsd == Apsd::Connected && !self.severed => {
                // The next keep-alive goes out on schedule and is never answered.
                self.severed = true;
                let every = self.sc.keepalive(self.interface).micros();
                let next = self.connected_at + ((self.now - self.connected_at) / every + 1) * every;
                let epoch = self.apsd_gen;
                let fails = next + self.sc.apsd.keepalive_timeout.micros();
                self.queue.push(fails, Event::KeepAliveFails { epoch });
            }
            Event::KeepAliveFails { epoch } if epoch == self.apsd_gen => {
                self.log(0, Message::KeepAliveFailed(self.interface));
                self.severed = false;
                self.lose_connection();
                self.attempt = 0;
                self.connect();
            }
            Event::Call => self.call(),
            Event::Resend { call } => self.resend(call),
            Event::CallEnds { call } => self.call_ends(call),
            Event::AppOutcome { push } => self.app_outcome(push),
            _ => {}
        }
    }

    /// The network goes away. On cellular the radio drops to RRC idle and CommCenter loses
    /// registration; RRC idle alone is ordinary churn, the registration loss is the outage.
    fn outage(&mut self, duration: Span, weak: bool) {
        if self.net == Net::Down {
            return;
        }
        self.lose_connection();
        self.net = Net::Down;
        match self.interface {
            Interface::Wifi => self.log(0, Message::ConnectionClosed(self.interface)),
            _ => {
                self.log(0, Message::RrcIdle);
                self.log(0, Message::RegistrationLost);
            }
        }
        self.queue
            .push(self.now + duration.micros(), Event::OutageEnd { weak });
    }

    /// The phone moves to the other network: apsd's connection on the old interface closes
    /// and it connects on the new one once its path is satisfied; the network's random
    /// processes restart at the new one's rates (they are memoryless, so nothing is lost). A
    /// phone sharing its connection stays on cellular; one whose network is down stays where
    /// it is. Says whether it moved.
    fn switch(&mut self) -> bool {
        if self.interface == Interface::Hotspot || self.net == Net::Down {
            return false;
        }
        if self.apsd == Apsd::Connected {
            self.log(0, Message::ConnectionClosed(self.interface));
        }
        self.lose_connection();
        self.interface = match self.interface {
            Interface::Wifi => Interface::Cellular,
            _ => Interface::Wifi,
        };
        self.net = Net::Up;
        let link = self.link();
        let at = self.now + link.path_after.micros();
        self.queue.push(at, Event::PathSatisfied);
        self.link_gen += 1;
        let epoch = self.link_gen;
        self.next_arrival(link.outages_per_day, Event::NextOutage { link: epoch });
        self.next_arrival(
            link.silent_drops_per_day,
            Event::NextSilentDrop { link: epoch },
        );
        self.next_arrival(link.switches_per_day, Event::NextSwitch { link: epoch });
        true
    }

    /// apsd's keep-alives on the connection it holds, from when it was made until `until`
    /// (its loss or the window's end). Only the log needs them: no queue event is spent on
    /// them, and a silent drop is found from the same schedule. On cellular each one wakes
    /// the radio, which drops back to RRC idle after its inactivity timer: ordinary churn.
    fn log_keepalives(&mut self, until: i64) {
        if !self.logging || self.apsd != Apsd::Connected {
            return;
        }
        let every = self.sc.keepalive(self.interface).micros();
        let cellular = self.interface != Interface::Wifi;
        let idle = self.sc.cellular.rrc_idle_after.micros();
        let mut at = self.connected_at + every;
        while at < until {
            if cellular {
                self.log_at(at, Message::RrcConnected);
            }
            self.log_at(at, Message::KeepAliveSent(self.interface));
            if cellular && at + idle < until {
                self.log_at(at + idle, Message::RrcIdle);
            }
            at += every;
        }
    }

    /// apsd's connection is gone; APNs finds out only when its side times out.
    fn lose_connection(&mut self) {
        self.log_keepalives(self.now);
        if self.apsd == Apsd::Connected {
            self.lost_at = Some(self.now);
            self.apns_gen += 1;
            self.apns_noticed = false;
            let notice = self.sc.apns.notices_loss_after.micros();
            self.queue.push(
                self.now + notice,
                Event::ApnsNotices {
                    epoch: self.apns_gen,
                },
            );
        }
        if self.apsd != Apsd::Abandoned {
            self.apsd = Apsd::Waiting;
        }
        self.apsd_gen += 1;
        self.severed = false;
    }

    fn dark(&self) -> bool {
        !self.display_on && self.now >= self.wake_until
    }

    /// apsd starts an attempt; on a dark device it holds an assertion that powerd honours for a
    /// while only.
    fn connect(&mut self) {
        if self.net == Net::Down || self.apsd == Apsd::Connected {
            return;
        }
        if self.apsd == Apsd::Abandoned && self.dark() {
            return;
        }
        self.apsd = Apsd::Connecting;
        self.apsd_gen += 1;
        let took = match self.net {
            Net::Up => self.sc.apsd.connect.sample(&mut self.rng),
            _ => self.sc.apsd.connect_timeout,
        };
        self.queue.push(
            self.now + took.micros(),
            Event::ConnectDone {
                epoch: self.apsd_gen,
            },
        );
        if self.dark() && !self.assertion {
            // The assertion holds the device awake: policy 0 without powerd saying so (the
            // founding incident's log shows none), until powerd sends policy 3.
            self.policy = 0;
            self.assertion = true;
            self.assertion_gen += 1;
            let p = &self.sc.powerd;
            let timeout = self.now + p.reconnect_assertion_timeout.micros();
            let epoch = self.assertion_gen;
            self.queue.push(
                timeout - p.activity_update_lead.micros(),
                Event::ActivityUpdate { epoch },
            );
            self.queue.push(timeout, Event::AssertionTimeout { epoch });
        }
    }

    fn connect_done(&mut self) {
        if self.net == Net::Up {
            self.apsd = Apsd::Connected;
            self.connected_at = self.now;
            self.log(0, Message::Connected(self.interface));
            if self.interface == Interface::Hotspot {
                self.log(0, Message::InternetSharing);
            }
            self.apns_gen += 1;
            self.lost_at = None;
            self.attempt = 0;
            self.assertion = false;
            self.schedule_restrict();
            self.deliver_stored();
        } else {
            self.log(0, Message::ConnectTimeout(self.interface));
            self.apsd = Apsd::Waiting;
            let backoff = &self.sc.apsd.backoff;
            let wait = backoff[self.attempt.min(backoff.len() - 1)];
            self.attempt += 1;
            self.apsd_gen += 1;
            self.queue.push(
                self.now + wait.micros(),
                Event::Retry {
                    epoch: self.apsd_gen,
                },
            );
        }
    }

    /// powerd's policy 3 arrives before the connection is viable: apsd gives up, the app's
    /// sockets are defuncted, the device sleeps.
    fn abandon(&mut self) {
        self.assertion = false;
        self.set_policy(3);
        self.log(2_000, Message::Activity { active: false });
        self.log(2_000, Message::Display { on: false });
        self.log(
            1_421_000,
            Message::NecpDefunct {
                pid: PID_APP,
                process: self.sc.app.process.clone(),
            },
        );
        self.apsd = Apsd::Abandoned;
        self.apsd_gen += 1;
        self.abandons += 1;
    }

    fn set_policy(&mut self, policy: u8) {
        if self.policy == policy {
            return;
        }
        self.policy = policy;
        self.log(0, Message::PolicySent(policy));
        let applied = if policy == 0 { 104_000 } else { 2_000 };
        self.log(applied, Message::PolicyApplied(policy));
        if policy == 0 {
            self.deliver_stored();
        }
    }

    fn schedule_restrict(&mut self) {
        if self.dark() {
            let at = self.now + self.sc.powerd.restrict_after.micros();
            self.queue.push(
                at,
                Event::Restrict {
                    epoch: self.display_gen,
                },
            );
        }
    }

    /// A call or timer wake: policy 0 for `hold`, and a working network for apsd.
    fn wake(&mut self, hold: Span) {
        self.wake_until = self.wake_until.max(self.now + hold.micros());
        if self.policy == 3 {
            self.policy = 0;
            self.log(466_000, Message::PolicySent(0));
            self.log(570_000, Message::PolicyApplied(0));
        }
        self.recover();
        // Policy 3 returns once the wake is over, unless the display or an assertion holds.
        if !self.display_on {
            let at = self.wake_until + self.sc.powerd.restrict_after.micros();
            self.queue.push(
                at,
                Event::Restrict {
                    epoch: self.display_gen,
                },
            );
        }
    }

    /// After a wake, a weak link works again and an abandoned apsd retries.
    fn recover(&mut self) {
        if self.net == Net::Weak {
            self.net = Net::Up;
        }
        if matches!(self.apsd, Apsd::Abandoned | Apsd::Waiting) && self.net == Net::Up {
            self.apsd = Apsd::Waiting;
            self.attempt = 0;
            // apsd retries once powerd's policy 0 reached it.
            let applied = self.now + 570_000;
            self.apsd_gen += 1;
            self.queue.push(
                applied,
                Event::Retry {
                    epoch: self.apsd_gen,
                },
            );
        }
    }

    fn reach(&self) -> Reach {
        match self.apsd {
            Apsd::Connected if self.severed => Reach::Severed,
            Apsd::Connected if self.policy == 3 => Reach::PowerRestricted,
            Apsd::Connected => Reach::Online,
            _ if self.lost_at.is_some() && !self.apns_noticed => Reach::Unnoticed,
            _ => Reach::Offline,
        }
    }
}

mod call;
mod push;

fn pick<'a, T>(
    rng: &mut fastrand::Rng,
    list: &'a [crate::scenario::Weighted<T>],
) -> &'a crate::scenario::Weighted<T> {
    let total: f64 = list.iter().map(|w| w.weight).sum();
    let mut x = rng.f64() * total;
    for w in list {
        if x < w.weight {
            return w;
        }
        x -= w.weight;
    }
    &list[list.len() - 1]
}
