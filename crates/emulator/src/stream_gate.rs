//! The limit on concurrent streams in force on one connection, enforced by the emulator rather
//! than by `h2` because the limit changes mid-connection (1 until the first valid token, 1 after
//! a rejection in the 2016 mode) and because APNs answers a violation with a GOAWAY, which `h2`
//! cannot send (it refuses the stream instead).

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::ExcessStreams;
use crate::sync::lock;

#[derive(Debug)]
struct GateState {
    active: u32,
    limit: u32,
}

/// Counts a connection's active streams against the limit in force.
#[derive(Debug)]
pub(crate) struct StreamGate {
    state: Mutex<GateState>,
    notify: Notify,
}

/// What the gate says to a new stream.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Go on; the slot is held until the permit is dropped.
    Admitted(GatePermit),
    /// Over the limit: reset the stream with `REFUSED_STREAM`.
    Refused,
    /// Over the limit the peer has acknowledged: end the connection (APNs's GOAWAY).
    Violation,
}

/// A held slot.
#[derive(Debug)]
pub(crate) struct GatePermit(Arc<StreamGate>);

impl Drop for GatePermit {
    fn drop(&mut self) {
        lock(&self.0.state).active -= 1;
        self.0.notify.notify_waiters();
    }
}

impl StreamGate {
    pub(crate) fn new(limit: u32) -> Arc<StreamGate> {
        Arc::new(StreamGate {
            state: Mutex::new(GateState { active: 0, limit }),
            notify: Notify::new(),
        })
    }

    /// Changes the limit; waiting streams re-check.
    pub(crate) fn set_limit(&self, limit: u32) {
        lock(&self.state).limit = limit;
        self.notify.notify_waiters();
    }

    /// Streams open now.
    pub(crate) fn active(&self) -> u32 {
        lock(&self.state).active
    }

    /// Admits a new stream. With [`ExcessStreams::Goaway`], a stream over the limit is a
    /// violation only when it is also over what the peer has acknowledged (`acknowledged`): RFC
    /// 9113 §6.5.3 lets a peer use the old, higher limit until it acknowledges a lower one.
    pub(crate) async fn admit(
        self: &Arc<Self>,
        mode: ExcessStreams,
        acknowledged: impl Fn() -> u32,
    ) -> Admission {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Register before checking, so a release between the check and the wait is not lost.
            notified.as_mut().enable();
            {
                let mut state = lock(&self.state);
                let limit = match mode {
                    ExcessStreams::Goaway => state.limit.max(acknowledged()),
                    _ => state.limit,
                };
                if state.active < limit {
                    state.active += 1;
                    return Admission::Admitted(GatePermit(Arc::clone(self)));
                }
                match mode {
                    ExcessStreams::Serialize => {}
                    ExcessStreams::Refuse => return Admission::Refused,
                    ExcessStreams::Goaway => return Admission::Violation,
                }
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(admission: Admission) -> GatePermit {
        match admission {
            Admission::Admitted(permit) => permit,
            other => panic!("expected a permit, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn serialize_waits_for_a_slot_and_a_raise_lets_waiters_in() {
        let gate = StreamGate::new(1);
        let first = admitted(gate.admit(ExcessStreams::Serialize, || u32::MAX).await);
        let waiting = {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move { gate.admit(ExcessStreams::Serialize, || 1).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        gate.set_limit(2);
        let second = admitted(waiting.await.unwrap());
        assert_eq!(gate.active(), 2);
        drop((first, second));
        assert_eq!(gate.active(), 0);
    }

    #[tokio::test]
    async fn refuse_and_goaway_answer_at_once() {
        let gate = StreamGate::new(1);
        let _held = admitted(gate.admit(ExcessStreams::Refuse, || 1).await);
        assert!(matches!(
            gate.admit(ExcessStreams::Refuse, || 1).await,
            Admission::Refused
        ));
        assert!(matches!(
            gate.admit(ExcessStreams::Goaway, || 1).await,
            Admission::Violation
        ));
        // Not yet acknowledged by the peer: the old, higher limit still holds.
        let _allowed = admitted(gate.admit(ExcessStreams::Goaway, || 1000).await);
    }
}
