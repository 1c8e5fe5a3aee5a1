"""Reference values for the statistics of `pushtrace fleet` (crates/fleet: stats, onset).

Writes statistics.json next to this file. The Rust tests in crates/fleet/tests/statistics.rs
compare against it. Re-run only when adding cases:

    python3 -m venv /tmp/fleet-reference
    /tmp/fleet-reference/bin/pip install numpy==2.4.6 scipy==1.17.1 statsmodels==0.15.0 ruptures==1.1.10 mpmath==1.4.1
    /tmp/fleet-reference/bin/python testdata/fleet/reference/make_reference.py

Pinned: numpy 2.4.6, scipy 1.17.1, statsmodels 0.15.0, ruptures 1.1.10, mpmath 1.4.1 (asserted).

Fisher cases carry two values: scipy's `p` and `p_exact`, the same sum computed with 60-digit
mpmath log-gamma. scipy's Boost hypergeometric functions lose about 1e-9 relative on tables of
~10 million, so the Rust test holds its own result to 1e-12 of `p_exact` and 1e-8 of `p`.
"""

import json
import math
import pathlib

import mpmath
import numpy as np
import ruptures as rpt
import scipy
import scipy.stats
import statsmodels
from ruptures.exceptions import NotEnoughPoints
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

PINNED = {"numpy": "2.4.6", "scipy": "1.17.1", "statsmodels": "0.15.0", "ruptures": "1.1.10",
          "mpmath": "1.4.1"}
ACTUAL = {
    "numpy": np.__version__,
    "scipy": scipy.__version__,
    "statsmodels": statsmodels.__version__,
    "ruptures": rpt.__version__.lstrip("v"),
    "mpmath": mpmath.__version__,
}
assert ACTUAL == PINNED, f"pinned versions {PINNED}, found {ACTUAL}"

Z_95 = 1.959963984540054


def wilson_cases():
    counts = [(0, 1), (1, 1), (0, 10), (1, 10), (5, 10), (3, 1000), (0, 1_000_000),
              (17, 2_345), (999, 1000), (123_456, 10_000_000), (1, 10_000_000), (50, 100)]
    cases = []
    for successes, trials in counts:
        low, high = proportion_confint(successes, trials, alpha=0.05, method="wilson")
        cases.append({"successes": successes, "trials": trials, "low": float(low), "high": float(high)})
    return cases


def exact_fisher(a, b, c, d):
    """Σ of the hypergeometric probabilities ≤ the observed one's (× (1 + 1e-7) for ties)."""
    mpmath.mp.dps = 60
    lg = mpmath.loggamma
    successes, draws, population = a + c, a + b, a + b + c + d
    failures = population - successes
    if 0 in (a + b, c + d, a + c, b + d):
        return 1.0

    def ln_pmf(x):
        return (lg(successes + 1) - lg(x + 1) - lg(successes - x + 1) + lg(failures + 1)
                - lg(draws - x + 1) - lg(failures - draws + x + 1) - lg(population + 1)
                + lg(draws + 1) + lg(population - draws + 1))

    threshold = ln_pmf(a) + mpmath.log(1 + mpmath.mpf("1e-7"))
    total = mpmath.mpf(0)
    for x in range(max(0, draws - failures), min(draws, successes) + 1):
        value = ln_pmf(x)
        if value <= threshold:
            total += mpmath.exp(value)
    return float(min(total, 1))


def fisher_cases():
    tables = [
        [[3, 1], [1, 3]], [[1, 9], [11, 3]], [[0, 5], [5, 0]], [[10, 10], [10, 10]],
        [[7, 2], [3, 8]], [[2, 7], [8, 2]], [[5, 0], [0, 5]], [[1, 0], [0, 1]],
        [[8, 2], [1, 5]], [[20, 380], [5, 395]], [[12, 3], [40_000, 9_960_000]],
        [[0, 15], [40_000, 9_960_000]], [[30, 0], [9_000, 9_991_000]],
        [[5_000, 4_995_000], [6_000, 4_994_000]], [[1_200, 48_800], [900, 49_100]],
        [[400, 100], [100, 400]], [[900, 100], [100, 900]], [[3, 7_000_000], [40, 3_000_000]],
        [[250, 9_999_750], [1, 99_999]], [[2, 500], [1, 10_000_000]], [[60, 40], [40, 60]],
        [[10, 20], [30, 40]], [[100, 1], [1, 100]], [[1, 2], [3, 4]], [[18, 2], [2, 18]],
        [[3_000, 10_000], [1_000, 12_000]],
    ]
    cases = []
    for table in tables:
        result = scipy.stats.fisher_exact(table, alternative="two-sided")
        exact = exact_fisher(table[0][0], table[0][1], table[1][0], table[1][1])
        cases.append({"table": table, "p": float(result.pvalue), "p_exact": exact})
    return cases


def chi_squared_cases():
    tables = [
        [[10, 20], [30, 40]], [[300, 10_000], [200, 20_000]], [[5, 5], [5, 6]],
        [[50, 50], [30, 70]], [[5_000, 100_000], [2_000, 100_000]],
        [[12_000, 1_000_000], [6_000, 1_000_000]], [[40_000, 60_000], [10_000, 90_000]],
        [[123, 4_567], [89, 4_321]], [[1_000, 9_000], [1_050, 8_950]],
        [[20_000, 30_000], [60_000, 20_000]],
    ]
    cases = []
    for table in tables:
        result = scipy.stats.chi2_contingency(np.array(table), correction=True)
        cases.append({"table": table, "statistic": float(result.statistic), "p": float(result.pvalue)})
    return cases


def benjamini_hochberg_cases():
    inputs = [
        [0.04, 0.01, 0.03, 0.5],
        [0.01, 0.01, 0.01, 0.2, 1.0, 1.0],
        [1.0],
        [0.0, 1e-300, 0.05, 0.05, 0.9, 0.02, 0.02],
        [0.2, 0.1, 0.3, 0.04, 0.5, 0.6, 0.0001, 0.049, 0.051, 1.0],
    ]
    return [{"p": p, "q": [float(q) for q in multipletests(p, method="fdr_bh")[1]]} for p in inputs]


def risk_ratio_cases():
    counts = [(20, 100, 10, 100), (0, 100, 10, 100), (5, 50, 0, 500), (300, 10_000, 1_200, 990_000),
              (10, 10, 5, 100), (1, 3, 2, 7), (4_000, 200_000, 30_000, 9_800_000)]
    cases = []
    for failures_in, total_in, failures_out, total_out in counts:
        cells = np.array([failures_in, total_in - failures_in, failures_out, total_out - failures_out],
                         dtype=float)
        corrected = bool((cells == 0).any())
        if corrected:
            cells = cells + 0.5
        a, b, c, d = cells
        ratio = (a / (a + b)) / (c / (c + d))
        se = np.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
        cases.append({
            "failures_in": failures_in, "total_in": total_in,
            "failures_out": failures_out, "total_out": total_out,
            "ratio": float(ratio), "low": float(np.exp(np.log(ratio) - Z_95 * se)),
            "high": float(np.exp(np.log(ratio) + Z_95 * se)), "corrected": corrected,
        })
    return cases


class BinomialCost(rpt.base.BaseCost):
    """−2 × binomial log-likelihood at the segment's MLE; signal columns: failures, attempts."""

    model = "binomial"

    def __init__(self, min_size):
        self.min_size = min_size

    def fit(self, signal):
        self.signal = signal
        self.failures = np.concatenate([[0], np.cumsum(signal[:, 0])]).astype(np.int64)
        self.attempts = np.concatenate([[0], np.cumsum(signal[:, 1])]).astype(np.int64)
        return self

    def error(self, start, end):
        if end - start < self.min_size:
            raise NotEnoughPoints
        k = float(self.failures[end] - self.failures[start])
        n = float(self.attempts[end] - self.attempts[start])
        if n == 0.0:
            return 0.0
        log_likelihood = 0.0
        if k > 0.0:
            log_likelihood += k * math.log(k / n)
        if n - k > 0.0:
            log_likelihood += (n - k) * math.log((n - k) / n)
        return -2.0 * log_likelihood


def pelt_cases():
    rng = np.random.default_rng(20240611)

    def series(rates, attempts_low, attempts_high, zero_days=()):
        attempts = rng.integers(attempts_low, attempts_high, size=len(rates))
        for day in zero_days:
            attempts[day] = 0
        failures = rng.binomial(attempts, rates)
        return [int(x) for x in failures], [int(x) for x in attempts]

    specs = [
        ("step up", [0.02] * 30 + [0.05] * 30, 5_000, 20_000, (), 25.0, 3),
        ("step down", [0.08] * 20 + [0.03] * 40, 2_000, 8_000, (), 25.0, 3),
        ("two changes", [0.01] * 25 + [0.04] * 15 + [0.015] * 30, 10_000, 30_000, (), 30.0, 3),
        ("no change", [0.03] * 60, 5_000, 20_000, (), 40.0, 3),
        ("small counts", [0.02] * 30 + [0.15] * 20, 20, 60, (), 15.0, 3),
        ("day without attempts", [0.02] * 20 + [0.06] * 20, 3_000, 6_000, (5, 20, 33), 25.0, 3),
        ("short blip needs min segment", [0.02] * 20 + [0.2] * 2 + [0.02] * 20, 2_000, 4_000, (), 20.0, 3),
        ("gradual drift", list(np.linspace(0.01, 0.05, 50)), 5_000, 10_000, (), 30.0, 5),
        ("several steps", [0.02] * 15 + [0.05] * 15 + [0.02] * 15 + [0.08] * 15, 4_000, 9_000, (), 25.0, 2),
        ("one-day segments allowed", [0.05] * 10 + [0.5] + [0.05] * 10, 500, 1_000, (), 10.0, 1),
        ("rare failures", [0.0005] * 40 + [0.003] * 20, 3_000, 5_000, (), 12.0, 3),
    ]
    cases = []
    for name, rates, low, high, zero_days, penalty, min_segment in specs:
        failures, attempts = series(rates, low, high, zero_days)
        signal = np.column_stack([failures, attempts]).astype(np.int64)
        cost = BinomialCost(min_segment)
        algorithm = rpt.Pelt(custom_cost=cost, min_size=min_segment, jump=1).fit(signal)
        breakpoints = algorithm.predict(pen=penalty)
        assert breakpoints[-1] == len(failures)
        cases.append({
            "name": name, "failures": failures, "attempts": attempts, "penalty": penalty,
            "min_segment": min_segment, "changes": [int(b) for b in breakpoints[:-1]],
        })
    return cases


def main():
    reference = {
        "generator": "testdata/fleet/reference/make_reference.py",
        "versions": ACTUAL,
        "wilson": wilson_cases(),
        "fisher_exact": fisher_cases(),
        "chi_squared": chi_squared_cases(),
        "benjamini_hochberg": benjamini_hochberg_cases(),
        "risk_ratio": risk_ratio_cases(),
        "binomial_pelt": pelt_cases(),
    }
    path = pathlib.Path(__file__).with_name("statistics.json")
    path.write_text(json.dumps(reference, indent=1) + "\n")


if __name__ == "__main__":
    main()
