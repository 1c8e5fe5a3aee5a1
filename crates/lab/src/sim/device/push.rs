//! The pushes of one device: sent, answered, stored or delivered, reported or not, and why.

use pushtrace_model::{Cause, Outcome, PushRecord, Timestamp};

use super::{Apsd, Device};
use crate::log::Message;
use crate::scenario::Expiration;
use crate::sim::apns::{Reach, Stored, expires_at};
use crate::sim::truth::{PushTruth, Waiting};

impl Device<'_> {
    fn stamp(&self, micros: i64) -> Timestamp {
        Timestamp::new(micros, self.sc.fleet.start.offset())
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.rng.u64(..), self.rng.u64(..));
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    pub(super) fn send(&mut self) {
        let sc = self.sc;
        let calls = &sc.calls;
        self.pushes_sent += 1;
        let answer = calls.apns_answer.sample(&mut self.rng).micros();
        let deadline = self.now + calls.ring_window.micros();
        let expiration = match calls.expiration {
            Expiration::Zero => 0,
            Expiration::Deadline => (deadline / 1_000_000) as u64,
            Expiration::Max => {
                ((self.now + super::super::apns::MAX_STORAGE_MICROS) / 1_000_000) as u64
            }
        };
        let mut attrs = std::collections::BTreeMap::new();
        attrs.insert("os_version".to_string(), self.os.clone());
        attrs.insert("interface".to_string(), self.interface.as_str().to_string());
        let index = self.run.pushes.len();
        let record = PushRecord {
            push_id: Some(format!("{}-{}", self.run.device, self.pushes_sent)),
            call_id: Some(format!("call-{}-{}", self.run.device, self.pushes_sent)),
            device: Some(self.run.device.clone()),
            topic: Some(format!("{}.voip", sc.app.bundle)),
            push_type: Some("voip".into()),
            priority: Some(calls.priority),
            expiration: Some(expiration),
            queued_at: None,
            sent_at: self.stamp(self.now),
            apns_status: Some(200),
            apns_reason: None,
            apns_id: Some(self.uuid()),
            apns_unique_id: None,
            apns_timestamp: None,
            responded_at: Some(self.stamp(self.now + answer)),
            received_at: None,
            reported_at: None,
            must_report: None,
            deadline: Some(self.stamp(deadline)),
            attrs,
        };
        let mut truth = PushTruth {
            record,
            outcome: Outcome::NotDelivered,
            cause: Cause::Unknown,
            rang: false,
            stale_ring: false,
            missed_call_notice: false,
        };
        self.waiting.push(None);
        if self.unregistered {
            truth.record.apns_status = Some(410);
            truth.record.apns_reason = Some("Unregistered".into());
            truth.record.apns_timestamp = Some(sc.fleet.start);
            truth.outcome = Outcome::Rejected;
            truth.cause = Cause::TokenInvalid;
            self.run.pushes.push(truth);
            return;
        }
        self.run.pushes.push(truth);
        let waking = calls.priority == 10;
        let reach = self.reach();
        if reach.reaches(waking) {
            self.deliver(index);
            return;
        }
        let abandons = if self.apsd == Apsd::Abandoned {
            self.abandons.saturating_sub(1)
        } else {
            self.abandons
        };
        let waiting = match reach {
            Reach::PowerRestricted => Waiting::PowerRestricted,
            _ => Waiting::Offline { abandons },
        };
        self.waiting[index] = Some(waiting);
        let held = match reach {
            Reach::Severed => {
                self.run.pushes[index].cause = Cause::NetworkPathSuspect;
                return;
            }
            Reach::Unnoticed => None,
            _ if expiration == 0 => {
                self.run.pushes[index].cause = Cause::ExpiredWhileOffline;
                return;
            }
            _ => expires_at(self.now, expiration),
        };
        let stored = Stored {
            push: index,
            waking,
            expires_at: held,
        };
        if let Some(old) = self.stored.replace(stored) {
            // One stored push per device and topic: the older is discarded.
            self.settle_undelivered(old);
        }
    }

    /// APNs delivers what it holds, if the device can now receive it.
    pub(super) fn deliver_stored(&mut self) {
        let Some(stored) = self.stored else { return };
        if stored.expires_at.is_some_and(|at| at <= self.now) {
            self.stored = None;
            self.settle_undelivered(stored);
            return;
        }
        if self.reach().reaches(stored.waking) {
            self.stored = None;
            self.deliver(stored.push);
        }
    }

    /// A push that will never arrive: expired, replaced, or still held at the end.
    fn settle_undelivered(&mut self, stored: Stored) {
        let expired = stored.expires_at.is_some_and(|at| at <= self.now);
        let cause = if expired {
            Cause::ExpiredWhileOffline
        } else {
            self.waiting_cause(stored.push)
        };
        self.run.pushes[stored.push].cause = cause;
    }

    fn waiting_cause(&self, push: usize) -> Cause {
        self.waiting[push].map_or(Cause::Unknown, |w| {
            w.cause(self.abandons, self.apsd == Apsd::Abandoned)
        })
    }

    fn deliver(&mut self, push: usize) {
        let sc = self.sc;
        let topic = format!("{}.voip", sc.app.bundle);
        self.log(
            0,
            Message::PushReceived {
                topic: topic.clone(),
                interface: self.interface,
                priority: sc.calls.priority,
            },
        );
        let handoff = sc.app.handoff.micros();
        self.log(
            handoff / 2,
            Message::VoipToApp {
                bundle: sc.app.bundle.clone(),
                topic,
            },
        );
        let received = self.now + handoff;
        let latency = received - self.run.pushes[push].record.sent_at.utc_micros();
        let late_cause = self.waiting_cause(push);
        let deadline = self.run.pushes[push]
            .record
            .deadline
            .map_or(i64::MAX, |d| d.utc_micros());
        let late = received > deadline;
        let stamp = self.stamp(received);
        let truth = &mut self.run.pushes[push];
        truth.cause = if late { late_cause } else { Cause::None };
        if self.blocked {
            self.log(
                handoff,
                Message::VoipBlocked {
                    bundle: sc.app.bundle.clone(),
                },
            );
            let truth = &mut self.run.pushes[push];
            truth.outcome = Outcome::DeliveredNotReported;
            truth.cause = Cause::VoipBlocked;
            return;
        }
        truth.record.received_at = Some(stamp);
        if self.must_report_os {
            let must = latency <= sc.app.must_report_within.micros();
            truth.record.must_report = Some(must);
            if !must && sc.app.honours_must_report {
                truth.missed_call_notice = true;
                truth.outcome = if late { Outcome::Late } else { Outcome::OnTime };
                return;
            }
        }
        self.queue.push(received, super::Event::AppOutcome { push });
    }

    /// The app reports within its delay, or iOS kills it (and blocks it after repeats).
    pub(super) fn app_outcome(&mut self, push: usize) {
        let app = &self.sc.app;
        let delay = app.report.sample(&mut self.rng).micros();
        let fails = self.rng.f64() < app.fails_to_report || delay > app.kill_after.micros();
        if fails {
            self.log(app.kill_after.micros(), Message::AppKilled);
            self.app_failures += 1;
            self.blocked = self.app_failures >= app.blocked_after;
            let truth = &mut self.run.pushes[push];
            truth.outcome = Outcome::DeliveredNotReported;
            truth.cause = Cause::AppNotReporting;
            return;
        }
        self.app_failures = 0;
        let uuid = self.uuid().to_uppercase();
        self.log(delay, Message::CallReported { uuid });
        let reported = self.now + delay;
        let stamp = self.stamp(reported);
        let truth = &mut self.run.pushes[push];
        truth.record.reported_at = Some(stamp);
        truth.rang = true;
        let deadline = truth.record.deadline.map_or(i64::MAX, |d| d.utc_micros());
        truth.stale_ring = reported > deadline;
        truth.outcome = if truth.cause == Cause::None {
            Outcome::OnTime
        } else {
            Outcome::Late
        };
    }

    /// What is still held at the end was never delivered.
    pub(super) fn finish(&mut self) {
        if let Some(stored) = self.stored.take() {
            self.settle_undelivered(stored);
        }
    }
}
