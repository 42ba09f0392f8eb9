//! Lifeguard's local health awareness (arXiv 1707.00788, §IV-A; memberlist's
//! `awareness.go`): a node that misses acks and nacks, or has to refute suspicions of
//! itself, is probably the slow one, so it waits longer before suspecting others.

use std::time::Duration;

/// A health score in `0..max`; 0 is healthy. Timeouts are multiplied by `score + 1`.
#[derive(Clone, Debug)]
pub(crate) struct Awareness {
    score: u32,
    max: u32,
}

impl Awareness {
    /// A healthy node whose multiplier never exceeds `max`.
    pub(crate) fn new(max: u32) -> Awareness {
        Awareness {
            score: 0,
            max: max.max(1),
        }
    }

    /// Moves the score by `delta`, staying in `0..max`.
    pub(crate) fn apply(&mut self, delta: i64) {
        let score = (i64::from(self.score) + delta).clamp(0, i64::from(self.max) - 1);
        self.score = score as u32;
    }

    /// The current score.
    pub(crate) fn score(&self) -> u32 {
        self.score
    }

    /// `d` stretched by the current health: `d × (score + 1)`.
    pub(crate) fn scale(&self, d: Duration) -> Duration {
        d.saturating_mul(self.score + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_both_ways() {
        let mut a = Awareness::new(8);
        a.apply(-3);
        assert_eq!(a.score(), 0);
        a.apply(100);
        assert_eq!(a.score(), 7);
        assert_eq!(a.scale(Duration::from_secs(1)), Duration::from_secs(8));
    }
}
