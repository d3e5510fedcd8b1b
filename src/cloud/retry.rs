//! Back-off delays: capped exponential with jitter, with an injectable random source.
//!
//! The same iterator paces retries in `transport` and polling in `exec`, so both slow down the
//! same way and tests can pin the sequence with a fixed seed.

use std::time::Duration;

/// A small, seedable pseudo-random source (`SplitMix64`). Not for cryptography.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    /// A fixed sequence, for tests and reproducible runs.
    pub fn seeded(seed: u64) -> Self {
        Self(seed)
    }

    /// A sequence seeded from the process's random hasher keys and the clock.
    pub fn from_entropy() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        Self(h.finish())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }

    /// A fraction in `[0, 1)`.
    pub fn fraction(&mut self) -> f64 {
        #[expect(
            clippy::cast_precision_loss,
            reason = "53 random bits fit an f64 exactly"
        )]
        let value = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        value
    }
}

/// Capped exponential delays: `initial · factor^n`, at most `cap`, each one drawn uniformly
/// from its upper half (`d/2 + rand(d/2)`), as the official SDK paces throttled retries.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    factor: f64,
    cap: Duration,
    jitter: Option<Jitter>,
}

impl Backoff {
    /// A new sequence; `jitter: None` gives the exact capped exponential.
    pub fn new(initial: Duration, factor: f64, cap: Duration, jitter: Option<Jitter>) -> Self {
        Self {
            next: initial,
            factor,
            cap,
            jitter,
        }
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let base = self.next.min(self.cap);
        self.next = self.next.mul_f64(self.factor).min(self.cap);
        Some(match &mut self.jitter {
            None => base,
            Some(j) => base / 2 + (base / 2).mul_f64(j.fraction()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_sequence_doubles_up_to_the_cap() {
        let got: Vec<u128> = Backoff::new(
            Duration::from_millis(100),
            2.0,
            Duration::from_secs(1),
            None,
        )
        .take(6)
        .map(|d| d.as_millis())
        .collect();
        assert_eq!(got, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jittered_delays_stay_in_the_upper_half_and_repeat_per_seed() {
        let run = |seed| {
            Backoff::new(
                Duration::from_millis(500),
                2.0,
                Duration::from_secs(20),
                Some(Jitter::seeded(seed)),
            )
            .take(8)
            .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        let mut base = Duration::from_millis(500);
        for d in a {
            assert!(d >= base / 2 && d <= base, "{d:?} outside {base:?}");
            base = (base * 2).min(Duration::from_secs(20));
        }
    }
}
