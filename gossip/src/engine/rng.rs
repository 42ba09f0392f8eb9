//! The engine's only source of randomness: a small seeded generator (SplitMix64). It is
//! public so the simulator and the test harnesses draw from the same generator.
//!
//! Written here rather than taken from a crate so that a seed replays bit for bit across
//! dependency upgrades; it needs to be fast and well mixed, not unpredictable (peers are
//! authenticated by mutual TLS, so nobody gains by guessing probe targets).

use std::collections::BTreeMap;
use std::time::Duration;

/// A seeded pseudo-random generator (SplitMix64, Steele et al. 2014).
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; `n` must not be zero (multiply-shift, bias below 2^-32 for
    /// any `n` the engine uses).
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "Rng::below(0)");
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A duration in `[0, d)` (zero for a zero `d`), at nanosecond resolution.
    pub fn duration_below(&mut self, d: Duration) -> Duration {
        let nanos = d.as_nanos().min(u128::from(u64::MAX)) as u64;
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.next_u64() % nanos)
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// Up to `k` distinct items of `items`, in random order.
    pub fn sample<T: Clone>(&mut self, items: &[T], k: usize) -> Vec<T> {
        let picks = self.sample_indices(items.len(), k);
        picks.into_iter().map(|i| items[i].clone()).collect()
    }

    /// The indices [`sample`](Rng::sample) would pick from `n` items, in its order,
    /// without copying the items: a partial Fisher–Yates shuffle that records only
    /// its swaps.
    pub fn sample_indices(&mut self, n: usize, k: usize) -> Vec<usize> {
        let k = k.min(n);
        let mut moved: BTreeMap<usize, usize> = BTreeMap::new();
        let mut picks = Vec::with_capacity(k);
        for i in 0..k {
            let j = i + self.below(n - i);
            let at = |p: usize, moved: &BTreeMap<usize, usize>| *moved.get(&p).unwrap_or(&p);
            let (here, there) = (at(i, &moved), at(j, &moved));
            moved.insert(j, here);
            picks.push(there);
        }
        picks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_indices_are_those_of_a_full_shuffle() {
        for seed in 0..200 {
            let (n, k) = (seed as usize % 17, seed as usize % 5);
            let mut full = Rng::new(seed);
            let mut pool: Vec<usize> = (0..n).collect();
            for i in 0..k.min(n) {
                let j = i + full.below(n - i);
                pool.swap(i, j);
            }
            pool.truncate(k.min(n));
            let sparse = Rng::new(seed).sample_indices(n, k);
            assert_eq!(sparse, pool, "seed {seed}, {k} of {n}");
        }
    }

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert!((0..100).all(|_| a.next_u64() == b.next_u64()));
    }

    #[test]
    fn below_stays_in_range_and_sample_is_distinct() {
        let mut rng = Rng::new(1);
        assert!((0..1000).all(|_| rng.below(7) < 7));
        let picked = rng.sample(&[1, 2, 3, 4, 5], 3);
        assert_eq!(picked.len(), 3);
        let mut sorted = picked.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 3);
        assert_eq!(rng.sample(&[1, 2], 5).len(), 2);
    }
}
