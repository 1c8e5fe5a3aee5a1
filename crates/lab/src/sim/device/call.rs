//! A call as the calling app's server runs it: the first push, a resend while no receipt came
//! (`calls.retry_after`), and at the deadline of a call with no receipt the missed-call
//! fallback, an alert push to the bundle id's topic that APNs stores apart from the call push.

use super::{Device, Event};
use crate::log::Message;
use crate::sim::apns::{Reach, Stored, expires_at};
use crate::sim::truth::{CallTruth, Fallback};

/// APNs's store slots of a device: the call push's topic (`<bundle>.voip`) and the alert's
/// (`<bundle>`).
pub(super) const VOIP: usize = 0;
pub(super) const ALERT: usize = 1;

impl Device<'_> {
    /// A call starts: its first push goes out now.
    pub(super) fn call(&mut self) {
        let index = self.run.calls.len() as u32;
        let deadline = self.now + self.sc.calls.ring_window.micros();
        self.run.calls.push(CallTruth {
            started_at: self.now,
            deadline,
            pushes: 0,
            receipt_at: None,
            rang_in_time: false,
            stale_ring: false,
            missed_call_notice: false,
            fallback: None,
        });
        self.send(index);
        if self.sc.calls.fallback {
            self.queue.push(deadline, Event::CallEnds { call: index });
        }
    }

    /// The server's receipt timer for `call` went off: resend unless the app's receipt came.
    pub(super) fn resend(&mut self, call: u32) {
        let c = &self.run.calls[call as usize];
        if c.receipt_at.is_some_and(|at| at <= self.now) || self.now >= c.deadline {
            return;
        }
        self.send(call);
    }

    /// The app was handed a push of `call` at `at` and posts its receipt.
    pub(super) fn receipt(&mut self, call: usize, at: i64) {
        let c = &mut self.run.calls[call];
        c.receipt_at = Some(c.receipt_at.map_or(at, |r| r.min(at)));
    }

    /// The deadline of `call`: with no receipt, the missed-call alert goes out, reaching the
    /// phone by the same rules as any push, as an alert of its own priority.
    pub(super) fn call_ends(&mut self, call: u32) {
        let c = &self.run.calls[call as usize];
        if c.receipt_at.is_some_and(|at| at <= self.now) {
            return;
        }
        let calls = &self.sc.calls;
        // The alert's own stream (attempt 0 is no call push's), so it moves no other draw.
        let mut rng = self.push_rng(call, 0, 2);
        let expiration = (self.now + calls.fallback_expiration.micros()) / 1_000_000;
        let sent = &mut self.run.calls[call as usize].fallback;
        *sent = Some(Fallback {
            sent_at: self.now,
            responded_at: self.now + calls.apns_answer.sample(&mut rng).micros(),
            status: if self.unregistered { 410 } else { 200 },
            expiration: expiration.max(1) as u64,
            id_bits: (rng.u64(..), rng.u64(..)),
            shown_at: None,
        });
        if self.unregistered {
            return;
        }
        let waking = calls.fallback_priority == 10;
        let reach = self.reach();
        if reach.reaches(waking) {
            self.show_fallback(call);
            return;
        }
        let held = match reach {
            // Written to a dead connection: delivered over the phone's next one.
            Reach::Unnoticed | Reach::Severed => None,
            _ => {
                let expiration = (self.now + calls.fallback_expiration.micros()) / 1_000_000;
                expires_at(self.now, expiration.max(1) as u64)
            }
        };
        // A newer alert replaces an older one still held: the older is never shown.
        self.stored[ALERT] = Some(Stored {
            push: call as usize,
            waking,
            expires_at: held,
        });
    }

    /// The phone shows the missed-call alert of `call` (no app runs: iOS displays it).
    pub(super) fn show_fallback(&mut self, call: u32) {
        if self.logging {
            let topic = self.sc.app.bundle.clone();
            self.log(
                0,
                Message::PushReceived {
                    topic,
                    interface: self.interface,
                    priority: self.sc.calls.fallback_priority,
                },
            );
        }
        if let Some(f) = &mut self.run.calls[call as usize].fallback {
            f.shown_at = Some(self.now);
        }
    }
}
