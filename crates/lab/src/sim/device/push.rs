//! The pushes of one device: sent, answered, stored or delivered, reported or not, and why.

use pushtrace_model::{Cause, Outcome};

use super::call::{ALERT, VOIP};
use super::{Apsd, Device, Event};
use crate::log::Message;
use crate::sim::apns::{Reach, Stored, expires_at};
use crate::sim::truth::{PushTruth, Waiting};

impl Device<'_> {
    /// Sends a push of call `call`: its first, or a resend.
    pub(super) fn send(&mut self, call: u32) {
        let sc = self.sc;
        let calls = &sc.calls;
        self.pushes_sent += 1;
        let c = &mut self.run.calls[call as usize];
        c.pushes += 1;
        let attempt = c.pushes;
        let deadline = c.deadline;
        let mut rng = self.push_rng(call, attempt, 0);
        let answer = calls.apns_answer.sample(&mut rng).micros();
        let mut truth = PushTruth {
            seq: self.pushes_sent,
            call,
            attempt,
            sent_at: self.now,
            responded_at: self.now + answer,
            deadline,
            status: 200,
            received_at: None,
            reported_at: None,
            must_report: None,
            id_bits: (rng.u64(..), rng.u64(..)),
            outcome: Outcome::NotDelivered,
            cause: Cause::Unknown,
            rang: false,
            stale_ring: false,
            missed_call_notice: false,
        };
        let index = self.run.pushes.len();
        self.waiting.push(None);
        if self.unregistered {
            // A 410 is final: the server resends nothing to this token.
            truth.status = 410;
            truth.outcome = Outcome::Rejected;
            truth.cause = Cause::TokenInvalid;
            self.run.pushes.push(truth);
            return;
        }
        self.run.pushes.push(truth);
        if let Some(wait) = calls.retry_after.after(attempt)
            && self.now + wait.micros() < deadline
        {
            self.queue
                .push(self.now + wait.micros(), Event::Resend { call });
        }
        let expiration = self.run.pushes[index].expiration(calls.expiration);
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
            Reach::Severed => Waiting::Severed,
            _ => Waiting::Offline { abandons },
        };
        self.waiting[index] = Some(waiting);
        let held = match reach {
            // Written to a connection that is dead, whichever side died: the attempt goes on
            // over the phone's next connection (`Reach::Unnoticed`).
            Reach::Unnoticed | Reach::Severed => None,
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
        if let Some(old) = self.stored[VOIP].replace(stored) {
            // One stored push per device and topic: the older is discarded.
            self.settle_undelivered(old);
        }
    }

    /// A random stream of its own for push `attempt` of call `call` (`salt` tells the server's
    /// draws from the app's): the same in every strategy that sends that push.
    pub(super) fn push_rng(&self, call: u32, attempt: u32, salt: u64) -> fastrand::Rng {
        let key = (u64::from(call) << 24 | u64::from(attempt) << 2 | salt) + 1;
        fastrand::Rng::with_seed(
            self.seed ^ key.wrapping_mul(0xD1B5_4A32_D192_ED03).rotate_left(29),
        )
    }

    /// APNs delivers what it holds, if the device can now receive it.
    pub(super) fn deliver_stored(&mut self) {
        for topic in [VOIP, ALERT] {
            let Some(stored) = self.stored[topic] else {
                continue;
            };
            if stored.expires_at.is_some_and(|at| at <= self.now) {
                self.stored[topic] = None;
                if topic == VOIP {
                    self.settle_undelivered(stored);
                }
            } else if self.reach().reaches(stored.waking) {
                self.stored[topic] = None;
                if topic == VOIP {
                    self.deliver(stored.push);
                } else {
                    self.show_fallback(stored.push as u32);
                }
            }
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
        self.waiting[push].map_or(Cause::Unknown, |w| w.cause(self.abandons))
    }

    fn deliver(&mut self, push: usize) {
        let sc = self.sc;
        let handoff = sc.app.handoff.micros();
        if self.logging {
            let topic = format!("{}.voip", sc.app.bundle);
            self.log(
                0,
                Message::PushReceived {
                    topic: topic.clone(),
                    interface: self.interface,
                    priority: sc.calls.priority,
                },
            );
            let bundle = sc.app.bundle.clone();
            self.log(handoff / 2, Message::VoipToApp { bundle, topic });
        }
        let received = self.now + handoff;
        let latency = received - self.run.pushes[push].sent_at;
        let late_cause = self.waiting_cause(push);
        let deadline = self.run.pushes[push].deadline;
        let late = received > deadline;
        let truth = &mut self.run.pushes[push];
        truth.cause = if late { late_cause } else { Cause::None };
        let call = truth.call as usize;
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
        truth.received_at = Some(received);
        if self.must_report_os {
            let must = latency <= sc.app.must_report_within.micros();
            truth.must_report = Some(must);
            if !must && sc.app.honours_must_report {
                truth.missed_call_notice = true;
                truth.outcome = if late { Outcome::Late } else { Outcome::OnTime };
                self.run.calls[call].missed_call_notice = true;
                self.receipt(call, received);
                return;
            }
        }
        self.receipt(call, received);
        self.queue.push(received, Event::AppOutcome { push });
    }

    /// The app reports within its delay, or iOS kills it (and blocks it after repeats).
    pub(super) fn app_outcome(&mut self, push: usize) {
        let app = &self.sc.app;
        let (call, attempt) = (self.run.pushes[push].call, self.run.pushes[push].attempt);
        let mut rng = self.push_rng(call, attempt, 1);
        let delay = app.report.sample(&mut rng).micros();
        let fails = rng.f64() < app.fails_to_report || delay > app.kill_after.micros();
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
        if self.logging {
            // The app's call UUID; taken from the push so the random stream does not depend on
            // whether logs are kept.
            let uuid = self.run.pushes[push].apns_id().to_uppercase();
            self.log(delay, Message::CallReported { uuid });
        }
        let reported = self.now + delay;
        let truth = &mut self.run.pushes[push];
        truth.reported_at = Some(reported);
        truth.rang = true;
        let deadline = truth.deadline;
        truth.stale_ring = reported > deadline;
        truth.outcome = if truth.cause == Cause::None {
            Outcome::OnTime
        } else {
            Outcome::Late
        };
        let stale = truth.stale_ring;
        let call = &mut self.run.calls[call as usize];
        if stale {
            call.stale_ring = true;
        } else {
            call.rang_in_time = true;
        }
    }

    /// What is still held at the end was never delivered.
    pub(super) fn finish(&mut self) {
        if let Some(stored) = self.stored[VOIP].take() {
            self.settle_undelivered(stored);
        }
    }
}
