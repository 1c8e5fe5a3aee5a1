//! The statistics of cohort comparison: how sure a failure rate is (Wilson), whether a cohort
//! fails differently from the rest (Fisher exact or chi-squared on the 2×2 table, risk ratio),
//! and how to keep many such tests honest (Benjamini–Hochberg).
//!
//! Every function is pure and reproduces a named reference implementation (scipy, statsmodels)
//! to about 1e-12 relative, so a report computed here can be checked in a notebook. The
//! reference values live in `testdata/fleet/reference/statistics.json`.

mod chi_squared;
mod fisher;
mod multiple;
mod proportion;
mod special;

pub use chi_squared::{ChiSquared, chi_squared};
pub use fisher::fisher_exact;
pub use multiple::benjamini_hochberg;
pub use proportion::{Interval, RiskRatio, Z_95, risk_ratio, wilson};
pub use special::chi_squared_1df_survival;

use serde::{Deserialize, Serialize};

/// Which test [`two_by_two`] chose for a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestMethod {
    Fisher,
    ChiSquared,
}

/// The p-value of a 2×2 table and the test that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Test {
    pub method: TestMethod,
    pub p: f64,
}

/// Two-sided test of independence for the table `[[a, b], [c, d]]`.
///
/// Cochran's rule: when any expected count is below 5 the chi-squared approximation to the
/// statistic's distribution is poor (it overstates significance for sparse cells), so the exact
/// Fisher test is used; otherwise the Yates-corrected chi-squared test, which is accurate there
/// and costs O(1) whatever the counts. Fisher itself is also cheap here, but keeping the classic
/// rule makes the choice recognisable in a report and matches what analysts expect.
/// A table with an empty row or column has no expected counts to speak of: Fisher, p = 1.
pub fn two_by_two(a: u64, b: u64, c: u64, d: u64) -> Test {
    let n = a as f64 + b as f64 + c as f64 + d as f64;
    let rows = [a as f64 + b as f64, c as f64 + d as f64];
    let columns = [a as f64 + c as f64, b as f64 + d as f64];
    let sparse = n == 0.0
        || rows
            .iter()
            .any(|row| columns.iter().any(|column| row * column / n < 5.0));
    if sparse {
        Test {
            method: TestMethod::Fisher,
            p: fisher_exact(a, b, c, d),
        }
    } else {
        Test {
            method: TestMethod::ChiSquared,
            p: chi_squared(a, b, c, d).p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_tables_go_to_fisher_and_large_ones_to_chi_squared() {
        let sparse = two_by_two(3, 100, 1, 200);
        assert_eq!(sparse.method, TestMethod::Fisher);
        assert_eq!(sparse.p, fisher_exact(3, 100, 1, 200));
        let large = two_by_two(300, 10_000, 200, 20_000);
        assert_eq!(large.method, TestMethod::ChiSquared);
        assert_eq!(large.p, chi_squared(300, 10_000, 200, 20_000).p);
        assert_eq!(two_by_two(0, 0, 0, 0).p, 1.0);
    }
}
