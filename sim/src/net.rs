//! The simulated network: per-link latency and jitter, loss, duplication, reordering,
//! and partitions. It only decides the fate of each message; the simulator's event
//! queue carries it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::fault::Profile;
use crate::rng::Rng;

/// The links between nodes and how they misbehave right now.
#[derive(Debug)]
pub(crate) struct Network {
    nodes: usize,
    /// Base latency of each link (from, to), in µs: the profile's latency ± 50%.
    link_us: Vec<u64>,
    jitter_us: u64,
    loss_percent: u64,
    duplicate_percent: u64,
    reorder_percent: u64,
    /// Active partitions by id: (side, one_way).
    partitions: BTreeMap<u32, (Vec<bool>, bool)>,
    /// Healed partitions: when, and their sides.
    healed: Vec<(Duration, Vec<bool>)>,
    rng: Rng,
}

impl Network {
    /// A network of `nodes` shaped by `profile`.
    pub(crate) fn new(nodes: usize, profile: &Profile, mut rng: Rng) -> Network {
        let base = profile.latency_ms * 1_000;
        let link_us = (0..nodes * nodes)
            .map(|_| (base / 2 + rng.below(base + 1)).max(100))
            .collect();
        Network {
            nodes,
            link_us,
            jitter_us: profile.jitter_ms * 1_000,
            loss_percent: profile.loss_percent,
            duplicate_percent: profile.duplicate_percent,
            reorder_percent: profile.reorder_percent,
            partitions: BTreeMap::new(),
            healed: Vec::new(),
            rng,
        }
    }

    /// The delays after which copies of a message from `from` to `to` arrive: none if
    /// it is lost or cut off, two if duplicated.
    pub(crate) fn route(&mut self, from: usize, to: usize) -> Vec<Duration> {
        if self.blocked(from, to) || self.rng.percent(self.loss_percent) {
            return Vec::new();
        }
        let copies = if self.rng.percent(self.duplicate_percent) {
            2
        } else {
            1
        };
        (0..copies).map(|_| self.delay(from, to)).collect()
    }

    fn delay(&mut self, from: usize, to: usize) -> Duration {
        let mut us = self.link_us[from * self.nodes + to];
        if self.jitter_us > 0 {
            us += self.rng.below(self.jitter_us + 1);
            if self.rng.percent(self.reorder_percent) {
                us += self.rng.below(10 * self.jitter_us + 1);
            }
        }
        Duration::from_micros(us)
    }

    /// Whether a partition drops messages from `from` to `to`.
    pub(crate) fn blocked(&self, from: usize, to: usize) -> bool {
        self.partitions
            .values()
            .any(|(side, one_way)| side[from] != side[to] && (!one_way || side[from]))
    }

    /// Starts partition `id` at `now` (ending an earlier one with the same id).
    pub(crate) fn partition(&mut self, id: u32, side: Vec<bool>, one_way: bool, now: Duration) {
        assert_eq!(
            side.len(),
            self.nodes,
            "a partition names every node's side"
        );
        self.heal(id, now);
        self.partitions.insert(id, (side, one_way));
    }

    /// Whether a partition, one-way or not, has stood between `a` and `b` at any time
    /// from `since` until now.
    pub(crate) fn separated_since(&self, a: usize, b: usize, since: Duration) -> bool {
        let active = self.partitions.values().map(|(side, _)| side);
        let recent = self.healed.iter().filter(|(at, _)| *at >= since);
        active
            .chain(recent.map(|(_, side)| side))
            .any(|side| side[a] != side[b])
    }

    /// Ends partition `id` at `now`.
    pub(crate) fn heal(&mut self, id: u32, now: Duration) {
        if let Some((side, _)) = self.partitions.remove(&id) {
            self.healed.push((now, side));
        }
    }

    /// Ends every partition at `now` and stops loss, duplication and reordering
    /// (latency and jitter stay): the network of the quiet period.
    pub(crate) fn heal_all(&mut self, now: Duration) {
        let ids: Vec<u32> = self.partitions.keys().copied().collect();
        for id in ids {
            self.heal(id, now);
        }
        self.loss_percent = 0;
        self.duplicate_percent = 0;
        self.reorder_percent = 0;
    }
}
