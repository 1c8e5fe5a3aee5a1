//! Fisher's exact test for a 2×2 table, two-sided, as scipy computes it.
//!
//! With the margins fixed, the top-left cell is hypergeometric. The two-sided p-value sums the
//! probabilities of every table no more likely than the observed one. The hypergeometric
//! probabilities are log-concave, so "no more likely" is a lower tail plus an upper tail, each
//! found by a binary search and summed outward from its inner end until the rest cannot matter.
//! The cost is O(log n + width of the tails that contribute), not O(n): a table of 10 million
//! pushes with a small margin sums a handful of terms.

use super::special::ln_hypergeometric_pmf;

/// Probabilities within this relative distance of the observed table's count as "equally
/// likely", so that ties (symmetric tables) survive rounding. scipy 1.17 uses 1e-14 for its
/// Boost-computed probabilities; ours are accurate to ~1e-14 so 1e-7 keeps exact ties tied,
/// and no two distinct hypergeometric probabilities of a test table lie that close without
/// being equal (checked against scipy in the reference fixtures).
const RELATIVE_TIE: f64 = 1e-7;

/// The hypergeometric distribution of the top-left cell given the table's margins.
struct Margins {
    population: u64,
    successes: u64,
    draws: u64,
    lowest: u64,
    highest: u64,
}

impl Margins {
    fn ln_pmf(&self, x: u64) -> f64 {
        ln_hypergeometric_pmf(x, self.population, self.successes, self.draws)
    }

    /// pmf(x + 1) / pmf(x).
    fn ratio_up(&self, x: u64) -> f64 {
        let failures = self.population - self.successes;
        ((self.successes - x) as f64 * (self.draws - x) as f64)
            / ((x + 1) as f64 * (failures + x + 1 - self.draws) as f64)
    }

    /// Sum of pmf(y) for y from `start` outward (downward when `downward`) to the support's end.
    fn tail(&self, start: u64, downward: bool) -> f64 {
        let ln_start = self.ln_pmf(start);
        // Terms relative to pmf(start); log-concavity makes successive ratios shrink, so once
        // term · r / (1 − r) is negligible the remaining terms are too.
        let mut sum = 1.0_f64;
        let mut term = 1.0_f64;
        let mut x = start;
        loop {
            let ratio = if downward {
                if x == self.lowest {
                    break;
                }
                1.0 / self.ratio_up(x - 1)
            } else {
                if x == self.highest {
                    break;
                }
                self.ratio_up(x)
            };
            term *= ratio;
            sum += term;
            x = if downward { x - 1 } else { x + 1 };
            if term == 0.0 || (ratio < 1.0 && term * ratio / (1.0 - ratio) < sum * 1e-17) {
                break;
            }
        }
        (ln_start + sum.ln()).exp()
    }
}

/// Two-sided p-value of Fisher's exact test for the table `[[a, b], [c, d]]`, as
/// `scipy.stats.fisher_exact(table, alternative="two-sided")`: the total probability, with the
/// margins fixed, of the tables at most as likely as the observed one. A table with an empty
/// row or column has p = 1. Relative accuracy about 1e-12 for p above 1e-300.
pub fn fisher_exact(a: u64, b: u64, c: u64, d: u64) -> f64 {
    let successes = a + c;
    let failures = b + d;
    let draws = a + b;
    let population = successes + failures;
    if successes == 0 || failures == 0 || draws == 0 || c + d == 0 {
        return 1.0;
    }
    let margins = Margins {
        population,
        successes,
        draws,
        lowest: draws.saturating_sub(failures),
        highest: draws.min(successes),
    };
    let mode = ((u128::from(draws) + 1) * (u128::from(successes) + 1)
        / (u128::from(population) + 2)) as u64;
    let ln_observed = margins.ln_pmf(a);
    let ln_mode = margins.ln_pmf(mode);
    let ln_threshold = ln_observed + RELATIVE_TIE.ln_1p();
    if ln_mode <= ln_threshold {
        return 1.0;
    }
    let p = if a < mode {
        // Upper side: the first y above the mode whose probability is at most the observed.
        let (mut low, mut high) = (mode, margins.highest);
        if margins.ln_pmf(high) > ln_threshold {
            return margins.tail(a, true).min(1.0);
        }
        while low < high {
            let middle = low + (high - low) / 2;
            if margins.ln_pmf(middle) <= ln_threshold {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        margins.tail(a, true) + margins.tail(low, false)
    } else {
        // Lower side: the last y below the mode whose probability is at most the observed.
        let (mut low, mut high) = (margins.lowest, mode);
        if margins.ln_pmf(low) > ln_threshold {
            return margins.tail(a, false).min(1.0);
        }
        while low < high {
            let middle = low + (high - low).div_ceil(2);
            if margins.ln_pmf(middle) <= ln_threshold {
                low = middle;
            } else {
                high = middle - 1;
            }
        }
        margins.tail(a, false) + margins.tail(low, true)
    };
    p.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct sum over the whole support, for small tables.
    fn brute_force(a: u64, b: u64, c: u64, d: u64) -> f64 {
        let margins = Margins {
            population: a + b + c + d,
            successes: a + c,
            draws: a + b,
            lowest: (a + b).saturating_sub(b + d),
            highest: (a + b).min(a + c),
        };
        let observed = margins.ln_pmf(a).exp();
        (margins.lowest..=margins.highest)
            .map(|x| margins.ln_pmf(x).exp())
            .filter(|&p| p <= observed * (1.0 + RELATIVE_TIE))
            .sum::<f64>()
            .min(1.0)
    }

    #[test]
    fn matches_a_direct_sum_on_every_small_table() {
        for a in 0..9 {
            for b in 0..9 {
                for c in 0..9 {
                    for d in 0..9 {
                        if a + c == 0 || b + d == 0 || a + b == 0 || c + d == 0 {
                            continue;
                        }
                        let fast = fisher_exact(a, b, c, d);
                        let slow = brute_force(a, b, c, d);
                        assert!(
                            (fast - slow).abs() <= 1e-12 * slow,
                            "[[{a},{b}],[{c},{d}]]: {fast} vs {slow}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn classic_tea_tasting_value() {
        // Fisher's lady tasting tea: [[3,1],[1,3]] → p = 34/70.
        assert!((fisher_exact(3, 1, 1, 3) - 34.0 / 70.0).abs() < 1e-15);
        assert_eq!(fisher_exact(0, 0, 5, 5), 1.0);
        assert_eq!(fisher_exact(2, 2, 2, 2), 1.0);
    }

    #[test]
    fn ten_million_pushes_with_a_small_margin_is_fast_and_finite() {
        let started = std::time::Instant::now();
        let p = fisher_exact(12, 3, 40_000, 9_960_000);
        assert!(p > 0.0 && p < 1e-20, "{p}");
        let balanced = fisher_exact(5_000, 4_995_000, 6_000, 4_994_000);
        assert!(balanced > 0.0 && balanced < 1e-15, "{balanced}");
        assert!(started.elapsed().as_millis() < 500);
    }
}
