//! What can happen to a simulated device. Events that a later change makes moot carry the
//! generation of the state they were scheduled for and are dropped when it has moved on.

use crate::scenario::Span;

#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// Arrivals of the random processes: each schedules its successor. Those of the network
    /// the phone is on carry the generation of that network (`link`): a move to the other one
    /// restarts them at its rates.
    NextOutage {
        link: u64,
    },
    NextSilentDrop {
        link: u64,
    },
    NextUserSession,
    NextCellularCall,
    NextCall,
    ScheduledWake,
    NextSwitch {
        link: u64,
    },
    NextHandover,
    /// The network goes away.
    OutageStart {
        duration: Span,
        weak: bool,
    },
    /// The phone moves to the other network (Wi-Fi ↔ cellular).
    Switch,
    /// A cell handover that keeps the connection.
    Handover,
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
    /// A middlebox forgets the connection; apsd finds out when its next keep-alive goes
    /// unanswered.
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
