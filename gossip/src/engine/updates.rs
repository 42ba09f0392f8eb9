//! Membership updates waiting to be piggybacked, with bounded retransmission.
//!
//! One entry per member (newer news replaces older). Each message takes the entries sent
//! least often first, as many as fit; an entry is dropped after `limit` transmissions,
//! `retransmit_mult × ⌈log10(n + 1)⌉` (memberlist's `retransmitLimit`), which spreads
//! it to everyone with high probability (SWIM §4.1's λ·log n).
//!
//! The entries are kept in the order they are taken, with their sizes, so a message
//! walks that order only as far as something can still fit and looks up only what it
//! takes, instead of sorting the queue: in a large cluster the queue holds news of many
//! members and every message takes from it.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use lattice_crdt::NodeId;
use serde::Serialize;

use super::message::{encoded_len, Update};

/// Where an entry about a member stands (small, so that looking it up is cheap).
#[derive(Clone, Copy, Debug)]
struct Slot {
    bytes: usize,
    transmits: u32,
    /// Insertion order, to prefer fresher news among equally sent ones.
    order: u64,
}

impl Slot {
    /// Its place in the queue: least sent first, then freshest first.
    fn rank(&self, id: NodeId) -> Rank {
        (self.transmits, Reverse(self.order), id)
    }
}

/// Where an entry stands in the order of taking.
type Rank = (u32, Reverse<u64>, NodeId);

/// The piggyback queue.
#[derive(Clone, Debug)]
pub(crate) struct UpdateQueue<A> {
    /// Each queued member's slot.
    entries: BTreeMap<NodeId, Slot>,
    /// The updates in the order `take` takes them, with their encoded sizes.
    ranks: BTreeMap<Rank, (usize, Update<A>)>,
    /// How many entries have each encoded size.
    sizes: BTreeMap<usize, usize>,
    next_order: u64,
}

impl<A> Default for UpdateQueue<A> {
    fn default() -> Self {
        UpdateQueue {
            entries: BTreeMap::new(),
            ranks: BTreeMap::new(),
            sizes: BTreeMap::new(),
            next_order: 0,
        }
    }
}

/// The retransmission limit for a cluster of `members` (this node included).
pub(crate) fn retransmit_limit(mult: u32, members: usize) -> u32 {
    let log = ((members + 1) as f64).log10().ceil().max(1.0);
    mult.saturating_mul(log as u32)
}

impl<A: Clone + Serialize> UpdateQueue<A> {
    /// Queues `update`, replacing queued news about the same member.
    pub(crate) fn push(&mut self, update: Update<A>) {
        let bytes = encoded_len(&update);
        self.next_order += 1;
        let slot = Slot {
            bytes,
            transmits: 0,
            order: self.next_order,
        };
        let id = update.subject();
        self.remove(id);
        self.ranks.insert(slot.rank(id), (bytes, update));
        *self.sizes.entry(bytes).or_default() += 1;
        self.entries.insert(id, slot);
    }

    /// Drops the entry about `id`, if any.
    fn remove(&mut self, id: NodeId) {
        if let Some(old) = self.entries.remove(&id) {
            self.ranks.remove(&old.rank(id));
            self.forget_size(old.bytes);
        }
    }

    fn forget_size(&mut self, bytes: usize) {
        if let Some(count) = self.sizes.get_mut(&bytes) {
            *count -= 1;
            if *count == 0 {
                self.sizes.remove(&bytes);
            }
        }
    }

    /// Whether anything waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Takes updates for one message: `fits(count, bytes)` says whether `count` updates
    /// of `bytes` in total still fit; it must stay false for larger counts and sizes.
    /// Counts a transmission for each and drops those that reached `limit`.
    pub(crate) fn take(
        &mut self,
        limit: u32,
        fits: impl Fn(usize, usize) -> bool,
    ) -> Vec<Update<A>> {
        let Some(&smallest) = self.sizes.keys().next() else {
            return Vec::new();
        };
        let (mut taken, mut ranks, mut bytes) = (Vec::new(), Vec::new(), 0);
        for (rank, (size, update)) in &self.ranks {
            if !fits(taken.len() + 1, bytes + smallest) {
                break; // no entry left fits
            }
            if !fits(taken.len() + 1, bytes + size) {
                continue;
            }
            bytes += size;
            taken.push(update.clone());
            ranks.push(*rank);
        }
        for rank in ranks {
            self.count_transmit(rank, limit);
        }
        taken
    }

    /// Counts a transmission of the entry at `rank`, dropping it at `limit`.
    fn count_transmit(&mut self, rank: Rank, limit: u32) {
        let Some((bytes, update)) = self.ranks.remove(&rank) else {
            return;
        };
        let id = rank.2;
        let Some(slot) = self.entries.get_mut(&id) else {
            return;
        };
        if slot.transmits + 1 >= limit {
            self.entries.remove(&id);
            self.forget_size(bytes);
            return;
        }
        slot.transmits += 1;
        self.ranks.insert(slot.rank(id), (bytes, update));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(n: u64) -> Update<u32> {
        Update::Alive {
            id: NodeId::new(n).unwrap(),
            addr: n as u32,
            incarnation: 0,
            meta: Vec::new(),
        }
    }

    /// What `take` must return: every entry, least sent first, that still fits.
    fn greedy(q: &UpdateQueue<u32>, fits: impl Fn(usize, usize) -> bool) -> Vec<Update<u32>> {
        let mut all: Vec<_> = q.entries.iter().map(|(id, e)| e.rank(*id)).collect();
        all.sort();
        let (mut taken, mut bytes) = (Vec::new(), 0);
        for rank in all {
            let (size, update) = &q.ranks[&rank];
            if fits(taken.len() + 1, bytes + size) {
                bytes += size;
                taken.push(update.clone());
            }
        }
        taken
    }

    #[test]
    fn takes_what_a_greedy_pass_in_rank_order_takes() {
        let mut rng = super::super::Rng::new(11);
        for round in 0..50 {
            let mut q = UpdateQueue::default();
            for _ in 0..rng.below(40) {
                let id = NodeId::new(1 + rng.below(30) as u64).unwrap();
                let (addr, incarnation) = (rng.next_u64() as u32 >> rng.below(32), rng.below(300));
                q.push(Update::Alive {
                    id,
                    addr,
                    incarnation: incarnation as u64,
                    meta: vec![0; rng.below(4)],
                });
            }
            for _ in 0..4 {
                let room = 20 + rng.below(120);
                let fits = |count: usize, bytes: usize| count <= 12 && bytes <= room;
                let expected = greedy(&q, fits);
                assert_eq!(q.take(3, fits), expected, "round {round}, room {room}");
            }
        }
    }

    #[test]
    fn least_sent_first_and_bounded() {
        let mut q = UpdateQueue::default();
        q.push(alive(1));
        q.push(alive(2));
        let first = q.take(2, |count, _| count <= 1);
        assert_eq!(first, vec![alive(2)], "fresher first among equals");
        let second = q.take(2, |count, _| count <= 1);
        assert_eq!(second, vec![alive(1)], "then the least sent");
        q.take(2, |_, _| true);
        assert!(q.is_empty(), "each sent twice: gone");
        assert_eq!(retransmit_limit(4, 5), 4);
        assert_eq!(retransmit_limit(4, 100), 12);
    }
}
