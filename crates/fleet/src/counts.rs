//! Pushes counted by outcome: the one aggregate every figure of a report is made of.

use serde::{Deserialize, Serialize};

use crate::outcome::{Outcome, OutcomeRules};

/// How many pushes ended in each [`Outcome`]. Adds up exactly, so any cohort or period is the
/// sum of its parts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Counts {
    pub on_time: u64,
    pub late: u64,
    pub no_receipt: u64,
    pub rejected: u64,
    pub not_sent: u64,
}

impl Counts {
    pub fn add(&mut self, outcome: Outcome, n: u64) {
        *self.slot(outcome) += n;
    }

    fn slot(&mut self, outcome: Outcome) -> &mut u64 {
        match outcome {
            Outcome::OnTime => &mut self.on_time,
            Outcome::Late => &mut self.late,
            Outcome::NoReceipt => &mut self.no_receipt,
            Outcome::Rejected => &mut self.rejected,
            Outcome::NotSent => &mut self.not_sent,
        }
    }

    pub fn get(&self, outcome: Outcome) -> u64 {
        match outcome {
            Outcome::OnTime => self.on_time,
            Outcome::Late => self.late,
            Outcome::NoReceipt => self.no_receipt,
            Outcome::Rejected => self.rejected,
            Outcome::NotSent => self.not_sent,
        }
    }

    pub fn merge(&mut self, other: &Counts) {
        for outcome in Outcome::ALL {
            self.add(outcome, other.get(outcome));
        }
    }

    /// `self − other`, for "the cohort outside a sub-cohort". Saturates: the caller passes a
    /// part of `self`.
    pub fn minus(&self, other: &Counts) -> Counts {
        let mut out = *self;
        for outcome in Outcome::ALL {
            *out.slot(outcome) = self.get(outcome).saturating_sub(other.get(outcome));
        }
        out
    }

    pub fn attempts(&self) -> u64 {
        Outcome::ALL.iter().map(|&o| self.get(o)).sum()
    }

    pub fn failures(&self, rules: &OutcomeRules) -> u64 {
        Outcome::ALL
            .iter()
            .filter(|&&o| rules.is_failure(o))
            .map(|&o| self.get(o))
            .sum()
    }

    /// Pushes whose fate is known under `rules`: every push, less those without a receipt
    /// when a missing receipt is not a failure (they are neither failures nor successes).
    pub fn judged(&self, rules: &OutcomeRules) -> u64 {
        if rules.no_receipt_is_failure {
            self.attempts()
        } else {
            self.attempts() - self.no_receipt
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_and_judged_follow_the_rules() {
        let mut c = Counts::default();
        c.add(Outcome::OnTime, 90);
        c.add(Outcome::Late, 4);
        c.add(Outcome::NoReceipt, 3);
        c.add(Outcome::Rejected, 2);
        c.add(Outcome::NotSent, 1);
        let mut rules = OutcomeRules::default();
        assert_eq!(c.attempts(), 100);
        assert_eq!(c.failures(&rules), 7);
        assert_eq!(c.judged(&rules), 97);
        rules.no_receipt_is_failure = true;
        assert_eq!(c.failures(&rules), 10);
        assert_eq!(c.judged(&rules), 100);
        let part = Counts {
            on_time: 10,
            late: 1,
            ..Counts::default()
        };
        assert_eq!(c.minus(&part).attempts(), 89);
    }
}
