//! The statistics of `pushtrace fleet` against scipy, statsmodels, numpy and ruptures.
//!
//! `testdata/fleet/reference/statistics.json` was written by `make_reference.py` beside it
//! (versions pinned there). Tolerance: 1e-9 relative for p-values above 1e-300, far looser
//! than the ~1e-13 both sides achieve, yet tight enough to catch the usual shortcuts (a
//! Numerical-Recipes erfc misses by 1e-7, plain log-gamma differences at n = 10⁷ by ~1e-8);
//! below 1e-300 both must be below 1e-300 (subnormal digits are noise). Fisher: 1e-12 of the
//! 60-digit mpmath value, and 1e-8 of scipy's, whose Boost hypergeometric functions are off by
//! up to 2e-9 on tables of ~10 million (the mpmath value shows ours is the accurate one there).
//! Intervals and ratios: 1e-12 relative plus 1e-15 absolute (for bounds at 0).

use pushtrace_fleet::onset::binomial_pelt;
use pushtrace_fleet::stats::{benjamini_hochberg, chi_squared, fisher_exact, risk_ratio, wilson};
use serde_json::Value;

fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/fleet/reference/statistics.json"
    );
    let text = std::fs::read_to_string(path).expect("reference JSON present");
    serde_json::from_str(&text).expect("reference JSON parses")
}

fn cases<'a>(reference: &'a Value, name: &str) -> &'a Vec<Value> {
    reference[name].as_array().expect("array of cases")
}

fn number(value: &Value) -> f64 {
    value.as_f64().expect("number")
}

fn count(value: &Value) -> u64 {
    value.as_u64().expect("count")
}

fn table(case: &Value) -> [u64; 4] {
    let t = &case["table"];
    [
        count(&t[0][0]),
        count(&t[0][1]),
        count(&t[1][0]),
        count(&t[1][1]),
    ]
}

fn assert_p(actual: f64, expected: f64, what: &str) {
    assert_p_within(actual, expected, 1e-9, what);
}

fn assert_p_within(actual: f64, expected: f64, relative: f64, what: &str) {
    if expected > 1e-300 {
        assert!(
            (actual - expected).abs() <= relative * expected,
            "{what}: {actual:e} vs reference {expected:e}"
        );
    } else {
        assert!(
            actual <= 1e-300,
            "{what}: {actual:e} vs reference {expected:e}"
        );
    }
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= 1e-12 * expected.abs() + 1e-15,
        "{what}: {actual:e} vs reference {expected:e}"
    );
}

#[test]
fn wilson_matches_statsmodels() {
    let reference = reference();
    for case in cases(&reference, "wilson") {
        let interval = wilson(count(&case["successes"]), count(&case["trials"]));
        assert_close(interval.low, number(&case["low"]), &format!("{case} low"));
        assert_close(
            interval.high,
            number(&case["high"]),
            &format!("{case} high"),
        );
    }
}

#[test]
fn fisher_exact_matches_scipy() {
    let reference = reference();
    for case in cases(&reference, "fisher_exact") {
        let [a, b, c, d] = table(case);
        let p = fisher_exact(a, b, c, d);
        let what = case["table"].to_string();
        assert_p_within(
            p,
            number(&case["p_exact"]),
            1e-12,
            &format!("{what} (mpmath)"),
        );
        assert_p_within(p, number(&case["p"]), 1e-8, &format!("{what} (scipy)"));
    }
}

#[test]
fn chi_squared_matches_scipy() {
    let reference = reference();
    for case in cases(&reference, "chi_squared") {
        let [a, b, c, d] = table(case);
        let result = chi_squared(a, b, c, d);
        assert_close(
            result.statistic,
            number(&case["statistic"]),
            &case["table"].to_string(),
        );
        assert_p(result.p, number(&case["p"]), &case["table"].to_string());
    }
}

#[test]
fn benjamini_hochberg_matches_statsmodels() {
    let reference = reference();
    for case in cases(&reference, "benjamini_hochberg") {
        let p: Vec<f64> = case["p"]
            .as_array()
            .expect("p")
            .iter()
            .map(number)
            .collect();
        let q = benjamini_hochberg(&p);
        let expected: Vec<f64> = case["q"]
            .as_array()
            .expect("q")
            .iter()
            .map(number)
            .collect();
        assert_eq!(q.len(), expected.len());
        for (actual, expected) in q.iter().zip(&expected) {
            assert_close(*actual, *expected, &format!("BH of {p:?}"));
        }
    }
}

#[test]
fn risk_ratio_matches_numpy_katz_interval() {
    let reference = reference();
    for case in cases(&reference, "risk_ratio") {
        let result = risk_ratio(
            count(&case["failures_in"]),
            count(&case["total_in"]),
            count(&case["failures_out"]),
            count(&case["total_out"]),
        )
        .expect("defined");
        assert_close(
            result.ratio,
            number(&case["ratio"]),
            &format!("{case} ratio"),
        );
        assert_close(
            result.interval.low,
            number(&case["low"]),
            &format!("{case} low"),
        );
        assert_close(
            result.interval.high,
            number(&case["high"]),
            &format!("{case} high"),
        );
        assert_eq!(result.corrected, case["corrected"].as_bool().expect("bool"));
    }
}

#[test]
fn binomial_pelt_matches_ruptures() {
    let reference = reference();
    let pelt_cases = cases(&reference, "binomial_pelt");
    assert!(pelt_cases.len() >= 10);
    for case in pelt_cases {
        let column = |name: &str| -> Vec<u64> {
            case[name]
                .as_array()
                .expect("series")
                .iter()
                .map(count)
                .collect()
        };
        let changes = binomial_pelt(
            &column("failures"),
            &column("attempts"),
            number(&case["penalty"]),
            case["min_segment"].as_u64().expect("min_segment") as usize,
        )
        .expect("valid series");
        let expected: Vec<usize> = column("changes").into_iter().map(|c| c as usize).collect();
        assert_eq!(changes, expected, "{}", case["name"]);
    }
}
