//! What happened to one push, decided once for every report (`docs/fleet.md`, "Outcomes").
//!
//! A push is judged from its record alone: APNs's answer, the app's receipt and the moment the
//! push stopped being useful (the call's deadline, else `sent_at` plus `on_time_within`).
//! Receipts are lossy — a phone can ring and its receipt never arrive — so a push APNs accepted
//! and no receipt came back for is [`Outcome::NoReceipt`], reported apart, and counted as a
//! failure only when the user asks ([`OutcomeRules::no_receipt_is_failure`]).

use pushtrace_model::PushRecord;
use serde::{Deserialize, Serialize};

/// The five outcomes of a push, in the order reports list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The app's receipt came by the call's deadline.
    OnTime,
    /// The receipt came after the deadline: the phone rang (if at all) after the caller gave up.
    Late,
    /// APNs accepted the push (200) and no receipt came back: delivered or not, nobody knows.
    NoReceipt,
    /// APNs refused the push (any status but 200).
    Rejected,
    /// APNs never answered: the push was not sent, or the connection failed before an answer.
    NotSent,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::OnTime,
        Outcome::Late,
        Outcome::NoReceipt,
        Outcome::Rejected,
        Outcome::NotSent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::OnTime => "on_time",
            Outcome::Late => "late",
            Outcome::NoReceipt => "no_receipt",
            Outcome::Rejected => "rejected",
            Outcome::NotSent => "not_sent",
        }
    }

    /// Words for a person.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::OnTime => "on time",
            Outcome::Late => "late",
            Outcome::NoReceipt => "no receipt",
            Outcome::Rejected => "rejected by APNs",
            Outcome::NotSent => "not sent",
        }
    }

    pub(crate) fn from_index(index: u8) -> Option<Outcome> {
        Outcome::ALL.get(usize::from(index)).copied()
    }
}

/// Default for a push without a deadline: the gateway's default call window.
pub const DEFAULT_ON_TIME_WITHIN_MICROS: i64 = 60_000_000;

/// How pushes are judged. One value is used for a whole run so every figure agrees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeRules {
    /// For a push without `deadline`: a receipt this long after `sent_at` is still on time.
    pub on_time_within_micros: i64,
    /// Count [`Outcome::NoReceipt`] as a delivery failure (off by default: receipts are lossy).
    pub no_receipt_is_failure: bool,
}

impl Default for OutcomeRules {
    fn default() -> Self {
        OutcomeRules {
            on_time_within_micros: DEFAULT_ON_TIME_WITHIN_MICROS,
            no_receipt_is_failure: false,
        }
    }
}

/// A push judged: its outcome and, when a receipt came, how long it took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judged {
    pub outcome: Outcome,
    /// `received_at − sent_at` in µs, 0 when the device's clock puts the receipt before the
    /// send (skew, not time travel).
    pub latency_micros: Option<u64>,
}

impl OutcomeRules {
    pub fn judge(&self, record: &PushRecord) -> Judged {
        let sent = record.sent_at.utc_micros();
        let latency_micros = record
            .received_at
            .map(|r| u64::try_from(r.utc_micros().saturating_sub(sent)).unwrap_or(0));
        let outcome = match (record.apns_status, record.received_at) {
            (None, None) => Outcome::NotSent,
            (Some(status), None) if status != 200 => Outcome::Rejected,
            (Some(_), None) => Outcome::NoReceipt,
            // A receipt proves delivery whatever the recorded answer (an answer lost to a
            // broken connection after APNs took the push).
            (_, Some(received)) => {
                let by = record.deadline.map_or_else(
                    || sent.saturating_add(self.on_time_within_micros),
                    |d| d.utc_micros(),
                );
                if received.utc_micros() <= by {
                    Outcome::OnTime
                } else {
                    Outcome::Late
                }
            }
        };
        Judged {
            outcome,
            latency_micros,
        }
    }

    /// Whether an outcome counts against delivery.
    pub fn is_failure(&self, outcome: Outcome) -> bool {
        match outcome {
            Outcome::OnTime => false,
            Outcome::NoReceipt => self.no_receipt_is_failure,
            Outcome::Late | Outcome::Rejected | Outcome::NotSent => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushtrace_model::Timestamp;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn record(status: Option<u16>, received: Option<&str>, deadline: Option<&str>) -> PushRecord {
        let mut r = PushRecord::new(at("2026-05-20T17:00:00Z"));
        r.apns_status = status;
        r.received_at = received.map(at);
        r.deadline = deadline.map(at);
        r
    }

    #[test]
    fn outcomes_follow_the_answer_the_receipt_and_the_deadline() {
        let rules = OutcomeRules::default();
        let judge = |s, r, d| rules.judge(&record(s, r, d)).outcome;
        assert_eq!(judge(None, None, None), Outcome::NotSent);
        assert_eq!(judge(Some(410), None, None), Outcome::Rejected);
        assert_eq!(judge(Some(200), None, None), Outcome::NoReceipt);
        let deadline = Some("2026-05-20T17:00:30Z");
        assert_eq!(
            judge(Some(200), Some("2026-05-20T17:00:30Z"), deadline),
            Outcome::OnTime
        );
        assert_eq!(
            judge(Some(200), Some("2026-05-20T17:00:31Z"), deadline),
            Outcome::Late
        );
        // Without a deadline the default window (60 s) decides.
        assert_eq!(
            judge(Some(200), Some("2026-05-20T17:00:59Z"), None),
            Outcome::OnTime
        );
        assert_eq!(
            judge(Some(200), Some("2026-05-20T17:01:01Z"), None),
            Outcome::Late
        );
        // A receipt with no recorded answer is still a delivery.
        assert_eq!(
            judge(None, Some("2026-05-20T17:00:01Z"), None),
            Outcome::OnTime
        );
    }

    #[test]
    fn latency_is_clamped_at_zero_for_skewed_clocks() {
        let rules = OutcomeRules::default();
        let j = rules.judge(&record(Some(200), Some("2026-05-20T16:59:59Z"), None));
        assert_eq!(j.latency_micros, Some(0));
        let j = rules.judge(&record(Some(200), Some("2026-05-20T17:00:00.250Z"), None));
        assert_eq!(j.latency_micros, Some(250_000));
    }

    #[test]
    fn no_receipt_is_a_failure_only_when_asked() {
        let mut rules = OutcomeRules::default();
        assert!(!rules.is_failure(Outcome::NoReceipt));
        assert!(rules.is_failure(Outcome::Late));
        rules.no_receipt_is_failure = true;
        assert!(rules.is_failure(Outcome::NoReceipt));
        assert!(!rules.is_failure(Outcome::OnTime));
    }
}
