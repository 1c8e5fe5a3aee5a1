//! SplitMix64 for the unit tests' simulated data: a few lines of deterministic randomness
//! without a dependency. (The generator in `synthetic` has its own, whose draws are part of the
//! benchmark files' byte-for-byte contract.)

pub(crate) struct Random(pub(crate) u64);

impl Random {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    pub(crate) fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Binomial(n, p): exact by geometric gaps between failures when few are expected,
    /// normal approximation (error far below the effects tested) otherwise.
    pub(crate) fn binomial(&mut self, n: u64, p: f64) -> u64 {
        if n as f64 * p < 50.0 {
            let mut count = 0;
            let mut position = 0.0;
            loop {
                position += (self.uniform().ln() / (1.0 - p).ln()).floor() + 1.0;
                if position > n as f64 {
                    return count;
                }
                count += 1;
            }
        }
        let mean = n as f64 * p;
        let draw = mean + (mean * (1.0 - p)).sqrt() * self.normal();
        draw.round().clamp(0.0, n as f64) as u64
    }
}
