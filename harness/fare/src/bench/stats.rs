//! Percentiles of a set of samples, in milliseconds.

use serde::Serialize;

/// p50, p95, p99 and the extremes of some samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spread {
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Spread {
    /// The spread of `samples` (all zero when there are none).
    pub fn of(samples: &[f64]) -> Spread {
        if samples.is_empty() {
            return Spread::default();
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        // Nearest rank: the smallest sample with at least q of them at or below it.
        let at = |q: f64| sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        Spread { n: sorted.len(), p50: at(0.50), p95: at(0.95), p99: at(0.99), max: sorted[sorted.len() - 1] }
    }
}

#[cfg(test)]
mod tests {
    use super::Spread;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Spread::of(&samples);
        assert_eq!((s.n, s.p50, s.p95, s.p99, s.max), (100, 50.0, 95.0, 99.0, 100.0));
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!((Spread::of(&ten).p50, Spread::of(&ten).p95), (5.0, 10.0), "the rank rounds up");
        assert_eq!(Spread::of(&[7.0]).p99, 7.0);
        assert_eq!(Spread::of(&[]), Spread::default());
    }
}
