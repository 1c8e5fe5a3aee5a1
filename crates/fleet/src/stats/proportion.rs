//! Rates with honest uncertainty: the Wilson interval of one rate and the risk ratio of two.

use serde::{Deserialize, Serialize};

/// The two-sided 95 % standard normal quantile, Φ⁻¹(0.975), as scipy's `norm.isf(0.025)`.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// A closed interval of a rate or ratio.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// 95 % Wilson score interval of `successes / trials`, as statsmodels'
/// `proportion_confint(successes, trials, method="wilson")`.
///
/// Wilson rather than the normal ("Wald") interval because failure rates are often near 0,
/// where Wald collapses to a zero-width interval at 0 failures and covers badly for small
/// counts. No trials means nothing is known: [0, 1]. The bound at 0 successes is exactly 0 and
/// at `successes == trials` exactly 1 (the formula gives them up to ±1e-17 of rounding residue,
/// as statsmodels returns); otherwise the results agree with statsmodels to ~1e-15.
pub fn wilson(successes: u64, trials: u64) -> Interval {
    if trials == 0 {
        return Interval {
            low: 0.0,
            high: 1.0,
        };
    }
    let n = trials as f64;
    let rate = successes as f64 / n;
    let z2 = Z_95 * Z_95;
    let denominator = 1.0 + z2 / n;
    let centre = (rate + z2 / (2.0 * n)) / denominator;
    let half_width = Z_95 * (rate * (1.0 - rate) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Interval {
        low: if successes == 0 {
            0.0
        } else {
            (centre - half_width).clamp(0.0, 1.0)
        },
        high: if successes >= trials {
            1.0
        } else {
            (centre + half_width).clamp(0.0, 1.0)
        },
    }
}

/// How many times more often a cohort fails than the rest, with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RiskRatio {
    pub ratio: f64,
    pub interval: Interval,
    /// Whether ½ was added to every cell because one was zero (then `ratio` is the corrected
    /// estimate, finite and positive, rather than 0 or ∞).
    pub corrected: bool,
}

/// Risk ratio of failing inside the cohort versus outside it,
/// (failures_in / total_in) / (failures_out / total_out), with the Katz log interval
/// exp(ln RR ± z·√(1/a − 1/n₁ + 1/c − 1/n₂)).
///
/// When any of the four cells (failures and successes, in and out) is zero the log ratio or
/// its standard error is infinite, so ½ is added to each cell (Haldane–Anscombe) and
/// `corrected` says so. Undefined, hence `None`, when either group is empty or when a count of
/// failures exceeds its total (inconsistent input).
pub fn risk_ratio(
    failures_in: u64,
    total_in: u64,
    failures_out: u64,
    total_out: u64,
) -> Option<RiskRatio> {
    if total_in == 0 || total_out == 0 || failures_in > total_in || failures_out > total_out {
        return None;
    }
    let cells = [
        failures_in,
        total_in - failures_in,
        failures_out,
        total_out - failures_out,
    ];
    let corrected = cells.contains(&0);
    let shift = if corrected { 0.5 } else { 0.0 };
    let a = failures_in as f64 + shift;
    let n1 = total_in as f64 + 2.0 * shift;
    let c = failures_out as f64 + shift;
    let n2 = total_out as f64 + 2.0 * shift;
    let ratio = (a / n1) / (c / n2);
    let standard_error = (1.0 / a - 1.0 / n1 + 1.0 / c - 1.0 / n2).sqrt();
    let ln_ratio = ratio.ln();
    Some(RiskRatio {
        ratio,
        interval: Interval {
            low: (ln_ratio - Z_95 * standard_error).exp(),
            high: (ln_ratio + Z_95 * standard_error).exp(),
        },
        corrected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_contains_the_rate_and_is_never_degenerate() {
        let zero = wilson(0, 100);
        assert_eq!(zero.low, 0.0);
        assert!(zero.high > 0.03 && zero.high < 0.04, "{zero:?}");
        let all = wilson(100, 100);
        assert_eq!(all.high, 1.0);
        assert!(all.low < 1.0);
        assert_eq!(
            wilson(0, 0),
            Interval {
                low: 0.0,
                high: 1.0
            }
        );
        let half = wilson(50, 100);
        assert!((half.low + half.high - 1.0).abs() < 1e-15);
    }

    #[test]
    fn risk_ratio_is_undefined_without_a_comparison_group() {
        assert!(risk_ratio(1, 10, 0, 0).is_none());
        assert!(risk_ratio(0, 0, 1, 10).is_none());
        assert!(risk_ratio(11, 10, 1, 10).is_none());
        let rr = risk_ratio(20, 100, 10, 100).expect("defined");
        assert!((rr.ratio - 2.0).abs() < 1e-15);
        assert!(rr.interval.low < 2.0 && rr.interval.high > 2.0 && !rr.corrected);
        let zero = risk_ratio(0, 100, 10, 100).expect("defined");
        assert!(zero.corrected && zero.ratio > 0.0 && zero.interval.low > 0.0);
    }
}
