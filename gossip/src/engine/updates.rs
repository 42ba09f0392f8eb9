//! Membership updates waiting to be piggybacked, with bounded retransmission.
//!
//! One entry per member (newer news replaces older). Each message takes the entries sent
//! least often first, as many as fit; an entry is dropped after `limit` transmissions,
//! `retransmit_mult × ⌈log10(n + 1)⌉` (memberlist's `retransmitLimit`), which spreads
//! it to everyone with high probability (SWIM §4.1's λ·log n).

use std::collections::BTreeMap;

use lattice_crdt::NodeId;
use serde::Serialize;

use super::message::{encoded_len, Update};

#[derive(Clone, Debug)]
struct Queued<A> {
    update: Update<A>,
    bytes: usize,
    transmits: u32,
    /// Insertion order, to prefer fresher news among equally sent ones.
    order: u64,
}

/// The piggyback queue.
#[derive(Clone, Debug)]
pub(crate) struct UpdateQueue<A> {
    entries: BTreeMap<NodeId, Queued<A>>,
    next_order: u64,
}

impl<A> Default for UpdateQueue<A> {
    fn default() -> Self {
        UpdateQueue {
            entries: BTreeMap::new(),
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
        let queued = Queued {
            update,
            bytes,
            transmits: 0,
            order: self.next_order,
        };
        self.entries.insert(queued.update.subject(), queued);
    }

    /// Whether anything waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Takes updates for one message: `fits(count, bytes)` says whether `count` updates
    /// of `bytes` in total still fit. Counts a transmission for each and drops those
    /// that reached `limit`.
    pub(crate) fn take(
        &mut self,
        limit: u32,
        fits: impl Fn(usize, usize) -> bool,
    ) -> Vec<Update<A>> {
        let mut order: Vec<(u32, std::cmp::Reverse<u64>, NodeId)> = self
            .entries
            .iter()
            .map(|(id, q)| (q.transmits, std::cmp::Reverse(q.order), *id))
            .collect();
        order.sort_unstable();
        let (mut taken, mut bytes) = (Vec::new(), 0);
        for (_, _, id) in order {
            let q = &self.entries[&id];
            if !fits(taken.len() + 1, bytes + q.bytes) {
                continue;
            }
            bytes += q.bytes;
            taken.push(q.update.clone());
            self.count_transmit(id, limit);
        }
        taken
    }

    fn count_transmit(&mut self, id: NodeId, limit: u32) {
        if let Some(q) = self.entries.get_mut(&id) {
            q.transmits += 1;
            if q.transmits >= limit {
                self.entries.remove(&id);
            }
        }
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
