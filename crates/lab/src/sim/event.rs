//! What can happen to a simulated device. Events that a later change makes moot carry the
//! generation of the state they were scheduled for and are dropped when it has moved on.

use crate::scenario::Span;

#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// Arrivals of the random processes: each schedules its successor.
    NextOutage,
    NextSilentDrop,
    NextUserSession,
    NextCellularCall,
    NextCall,
    ScheduledWake,
    /// The network goes away.
    OutageStart {
        duration: Span,
        weak: bool,
    },
    OutageEnd {
        weak: bool,
    },
    PathSatisfied,
    /// A connection attempt ends (succeeds on a viable link).
    ConnectDone {
        epoch: u64,
    },
    Retry {
        epoch: u64,
    },
    /// apsd's reconnect assertion: the warning, then powerd's policy 3.
    ActivityUpdate {
        epoch: u64,
    },
    AssertionTimeout {
        epoch: u64,
    },
    /// The user wakes the device for this long.
    UserSession {
        duration: Span,
    },
    DisplayOff {
        epoch: u64,
    },
    Restrict {
        epoch: u64,
    },
    CellularCall,
    /// APNs's side of a lost connection times out.
    ApnsNotices {
        epoch: u64,
    },
    /// A middlebox forgets the connection; apsd finds out at its keep-alive.
    SilentDrop,
    KeepAliveFails {
        epoch: u64,
    },
    /// A call starts: the server sends its first push.
    Call,
    /// No receipt yet for call `call`? Resend its push.
    Resend {
        call: u32,
    },
    /// Call `call`'s deadline: with no receipt, the server sends the missed-call fallback.
    CallEnds {
        call: u32,
    },
    /// The app's report (or iOS's kill) for push `push`.
    AppOutcome {
        push: usize,
    },
}
