//! Duration distributions: how long an outage, a user session or a CallKit report takes.

use serde::Deserialize;

use super::span::Span;

/// A distribution of durations, written as one of
/// `{ fixed = "2s" }`, `{ uniform = ["1s", "5s"] }`, `{ exponential = "10m" }` (the mean) or
/// `{ lognormal = { median = "20s", sigma = 1.2 } }`.
///
/// Log-normal is the usual shape of outage and session lengths: most short, a long tail.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Dist {
    Fixed(Span),
    Uniform([Span; 2]),
    Exponential(Span),
    Lognormal { median: Span, sigma: f64 },
}

impl Dist {
    /// One draw.
    pub fn sample(&self, rng: &mut fastrand::Rng) -> Span {
        match *self {
            Dist::Fixed(s) => s,
            Dist::Uniform([a, b]) => Span(a.0 + ((b.0 - a.0) as f64 * rng.f64()) as i64),
            Dist::Exponential(mean) => Span((mean.0 as f64 * exponential(rng)) as i64),
            Dist::Lognormal { median, sigma } => {
                Span((median.0 as f64 * (sigma * normal(rng)).exp()).min(1e14) as i64)
            }
        }
    }

    /// Why the parameters make no sense, if they don't.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            Dist::Uniform([a, b]) if b < a => Err(format!(
                "uniform [{a}, {b}]: the second bound must not be below the first"
            )),
            Dist::Lognormal { sigma, .. } if !(0.0..=5.0).contains(&sigma) => Err(format!(
                "lognormal sigma {sigma}: use a value between 0 and 5 (1 spreads a median of 20s \
                 to roughly 7s–55s)"
            )),
            _ => Ok(()),
        }
    }
}

/// A unit-mean exponential draw.
pub fn exponential(rng: &mut fastrand::Rng) -> f64 {
    // 1 - f64() is in (0, 1]: the logarithm stays finite.
    -(1.0 - rng.f64()).ln()
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut fastrand::Rng) -> f64 {
    let u = 1.0 - rng.f64();
    let v = rng.f64();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lognormal_has_its_median() {
        let d = Dist::Lognormal {
            median: Span::parse("20s").unwrap(),
            sigma: 1.0,
        };
        let mut rng = fastrand::Rng::with_seed(1);
        let mut draws: Vec<i64> = (0..20_001).map(|_| d.sample(&mut rng).0).collect();
        draws.sort_unstable();
        let median = draws[10_000] as f64 / 1e6;
        assert!((18.0..22.0).contains(&median), "{median}");
    }

    #[test]
    fn an_exponential_has_its_mean() {
        let d = Dist::Exponential(Span::parse("10m").unwrap());
        let mut rng = fastrand::Rng::with_seed(2);
        let mean = (0..20_000)
            .map(|_| d.sample(&mut rng).secs_f64())
            .sum::<f64>()
            / 20_000.0;
        assert!((570.0..630.0).contains(&mean), "{mean}");
    }
}
