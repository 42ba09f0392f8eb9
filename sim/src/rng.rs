//! The simulator's only source of randomness: the engine's SplitMix64, seeded once per run.

/// The gossip engine's SplitMix64 generator, with the draws the simulator needs.
#[derive(Clone, Debug)]
pub(crate) struct Rng(lattice_gossip::engine::Rng);

impl Rng {
    /// A generator started at `seed`.
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(lattice_gossip::engine::Rng::new(seed))
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        self.next_u64() % n
    }

    /// A number in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub(crate) fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// An independent generator for a sub-task, so that adding draws in one place does
    /// not shift every other draw of the run.
    pub(crate) fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}
