//! Pearson's chi-squared test of a 2×2 table with Yates' continuity correction.

use serde::{Deserialize, Serialize};

use super::special::chi_squared_1df_survival;

/// The Yates-corrected Pearson statistic (1 degree of freedom) and its p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChiSquared {
    pub statistic: f64,
    pub p: f64,
}

/// Chi-squared test of independence of the table `[[a, b], [c, d]]` as
/// `scipy.stats.chi2_contingency(table, correction=True)`: each observed count moves toward its
/// expected count by ½ (or by the whole gap when that is smaller), then Σ (o − e)² / e, and
/// p = P(χ²₁ > statistic) computed to ~1e-14 relative even far below 1e-100.
///
/// scipy refuses a table with an empty row or column (an expected count of 0); here it is
/// "no evidence of a difference": statistic 0, p = 1.
pub fn chi_squared(a: u64, b: u64, c: u64, d: u64) -> ChiSquared {
    let rows = [a + b, c + d];
    let columns = [a + c, b + d];
    let total = a + b + c + d;
    if rows.contains(&0) || columns.contains(&0) {
        return ChiSquared {
            statistic: 0.0,
            p: 1.0,
        };
    }
    let observed = [[a, b], [c, d]];
    let mut statistic = 0.0;
    for (row, observed_row) in observed.iter().enumerate() {
        for (column, &count) in observed_row.iter().enumerate() {
            // Exact integer product, one rounding: the expected count as numpy computes it.
            let expected =
                (u128::from(rows[row]) * u128::from(columns[column])) as f64 / total as f64;
            let count = count as f64;
            let gap = expected - count;
            let corrected = count + gap.abs().min(0.5) * gap.signum();
            statistic += (corrected - expected) * (corrected - expected) / expected;
        }
    }
    ChiSquared {
        statistic,
        p: chi_squared_1df_survival(statistic),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yates_correction_and_empty_margins() {
        // [[10, 20], [30, 40]]: expected [[12, 18], [28, 42]], |o − e| = 2 → 1.5 after Yates.
        let result = chi_squared(10, 20, 30, 40);
        let expected = 1.5f64.powi(2) * (1.0 / 12.0 + 1.0 / 18.0 + 1.0 / 28.0 + 1.0 / 42.0);
        assert!((result.statistic - expected).abs() < 1e-12);
        assert_eq!(
            chi_squared(0, 0, 3, 4),
            ChiSquared {
                statistic: 0.0,
                p: 1.0
            }
        );
        // A table equal to its expectation up to less than ½ has statistic 0.
        assert_eq!(chi_squared(5, 5, 5, 6).statistic, 0.0);
    }
}
