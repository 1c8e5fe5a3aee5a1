//! Keeping many cohort tests honest: false-discovery-rate adjustment.

/// Benjamini–Hochberg adjusted p-values (q-values), in the order of `p`, exactly as
/// `statsmodels.stats.multitest.multipletests(p, method="fdr_bh")[1]`:
/// sorted ascending, qᵢ = min over j ≥ i of p₍ⱼ₎ / (j / m), capped at 1.
///
/// A cohort is a discovery at false-discovery rate α when its q ≤ α. NaN entries (no test was
/// possible) are treated as p = 1 so they count in m but are never discoveries.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let cleaned: Vec<f64> = p
        .iter()
        .map(|&value| if value.is_nan() { 1.0 } else { value })
        .collect();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| cleaned[i].total_cmp(&cleaned[j]));
    let mut adjusted = vec![0.0; m];
    let mut running_min = f64::INFINITY;
    for (rank, &index) in order.iter().enumerate().rev() {
        // Same expression as statsmodels (p / (rank / m)) so results agree to the last bit.
        let ecdf = (rank + 1) as f64 / m as f64;
        running_min = running_min.min(cleaned[index] / ecdf);
        adjusted[index] = running_min.min(1.0);
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_example_and_order_preserved() {
        let q = benjamini_hochberg(&[0.04, 0.01, 0.03, 0.5]);
        // Sorted 0.01, 0.03, 0.04, 0.5 → raw 0.04, 0.06, 0.0533, 0.5 → running minimum
        // from the largest: 0.5, 0.0533, 0.0533, 0.04.
        let expected = [0.04 / 0.75, 0.01 / 0.25, 0.04 / 0.75, 0.5];
        for (got, want) in q.iter().zip(expected) {
            assert!((got - want).abs() < 1e-15, "{q:?}");
        }
        assert!(benjamini_hochberg(&[]).is_empty());
        assert_eq!(benjamini_hochberg(&[f64::NAN, 0.5]), vec![1.0, 1.0]);
    }
}
