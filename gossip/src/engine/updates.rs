//! Membership updates waiting to be piggybacked, with bounded retransmission.
//!
//! One entry per member (newer news replaces older). Each message takes the entries sent
//! least often first, as many as fit; an entry is dropped after `limit` transmissions,
//! `retransmit_mult × ⌈log10(n + 1)⌉` (memberlist's `retransmitLimit`), which spreads
//! it to everyone with high probability (SWIM §4.1's λ·log n). Among entries sent
//! equally often, the one that reached that count last goes first, so fresh news leads.
//!
//! In a large cluster the queue holds news of hundreds of members and every message
//! takes dozens of them, so taking must cost little per entry taken: the entries live in
//! a slab, and each transmission count has a stack of slab slots. A message pops from
//! the stacks in count order and pushes what it took onto the next count's stack; no
//! lookup by member and no reordering. Replaced or dropped entries leave stale stack
//! items behind, skipped when met and swept out when they outnumber the live ones. Each
//! entry is kept encoded, so a message copies the bytes of what it takes rather than
//! encoding each update again for each of its transmissions.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use lattice_crdt::NodeId;
use rustc_hash::FxHashMap;
use serde::Serialize;
use smallvec::SmallVec;

use super::message::Update;

/// A queued update, encoded once: each of its transmissions copies these bytes.
#[derive(Clone, Debug)]
struct Entry {
    subject: NodeId,
    /// News that the subject is alive: never sent to the subject itself.
    alive: bool,
    /// Inline up to a size that holds most updates (one without metadata takes a dozen
    /// bytes or so): a message takes dozens of entries, and their bytes then come with
    /// the entry instead of from a heap block of their own each.
    encoded: SmallVec<[u8; 32]>,
    transmits: u32,
    /// Unique per entry: tells a stack item for this entry from a stale one for an
    /// earlier entry in the same slot.
    stamp: u64,
}

/// A stack item: the slot of an entry, and the entry's stamp when the item was made.
#[derive(Clone, Copy, Debug)]
struct Item {
    slot: u32,
    stamp: u64,
}

/// The piggyback queue.
#[derive(Clone, Debug)]
pub(crate) struct UpdateQueue<A> {
    /// The entries; `None` in free slots.
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// Each queued member's slot (looked up, never walked).
    by_member: FxHashMap<NodeId, u32>,
    /// `stacks[t]`: the entries sent `t` times, taken from the top.
    stacks: Vec<Vec<Item>>,
    /// Stack items whose entry was replaced or dropped.
    stale: usize,
    /// How many entries have each encoded size.
    sizes: BTreeMap<usize, usize>,
    next_stamp: u64,
    /// The address type of the updates it takes (it keeps them encoded).
    addr: PhantomData<fn(A)>,
}

impl<A> Default for UpdateQueue<A> {
    fn default() -> Self {
        UpdateQueue {
            slots: Vec::new(),
            free: Vec::new(),
            by_member: FxHashMap::default(),
            stacks: Vec::new(),
            stale: 0,
            sizes: BTreeMap::new(),
            next_stamp: 0,
            addr: PhantomData,
        }
    }
}

/// The retransmission limit for a cluster of `members` (this node included).
pub(crate) fn retransmit_limit(mult: u32, members: usize) -> u32 {
    let log = ((members + 1) as f64).log10().ceil().max(1.0);
    mult.saturating_mul(log as u32)
}

impl<A: Serialize> UpdateQueue<A> {
    /// Queues `update`, replacing queued news about the same member.
    pub(crate) fn push(&mut self, update: Update<A>) {
        let (id, alive) = (update.subject(), matches!(update, Update::Alive { .. }));
        if let Some(slot) = self.by_member.remove(&id) {
            self.drop_entry(slot);
            self.sweep_if_stale();
        }
        let encoded =
            postcard::to_extend(&update, SmallVec::new()).expect("engine messages always encode");
        let bytes = encoded.len();
        let stamp = self.stamp();
        let entry = Entry {
            subject: id,
            alive,
            encoded,
            transmits: 0,
            stamp,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(entry);
                slot
            }
            None => {
                self.slots.push(Some(entry));
                (self.slots.len() - 1) as u32
            }
        };
        self.by_member.insert(id, slot);
        *self.sizes.entry(bytes).or_default() += 1;
        self.stack(0).push(Item { slot, stamp });
    }

    /// Whether anything waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_member.is_empty()
    }

    /// Takes updates for one message to `to`: `fits(count, bytes)` says whether `count`
    /// updates of `bytes` in total still fit; it must stay false for larger counts and
    /// sizes. Counts a transmission for each and drops those that reached `limit`.
    /// Returns how many it took and their encodings, one after the other (as a message
    /// carries them).
    ///
    /// News that `to` itself is alive stays for other messages: the member knows, and a
    /// transmission spent on it is one the rest of the cluster does not get. In a
    /// three-node cluster, where news goes out four times, a joiner's news could
    /// otherwise go only to the joiner (in its seed's answers) and back to the seed (on
    /// the joiner's own messages), and the third node never learn its metadata. Doubts
    /// about `to` (suspect, dead) still go to it: it refutes them.
    pub(crate) fn take(
        &mut self,
        limit: u32,
        to: Option<NodeId>,
        fits: impl Fn(usize, usize) -> bool,
    ) -> (usize, Vec<u8>) {
        let Some(&smallest) = self.sizes.keys().next() else {
            return (0, Vec::new());
        };
        let (mut taken, mut moved, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
        let mut full = false;
        for stack in &mut self.stacks {
            while let Some(item) = stack.pop() {
                let Some(entry) = live(&self.slots, item) else {
                    self.stale -= 1;
                    continue;
                };
                if !fits(moved.len() + 1, taken.len() + smallest) {
                    stack.push(item);
                    full = true; // no entry left fits
                    break;
                }
                let about_to = entry.alive && Some(entry.subject) == to;
                if about_to || !fits(moved.len() + 1, taken.len() + entry.encoded.len()) {
                    skipped.push(item);
                    continue;
                }
                taken.extend_from_slice(&entry.encoded);
                moved.push(item);
            }
            stack.extend(skipped.drain(..).rev());
            trim(stack);
            if full {
                break;
            }
        }
        // Onto the next count's stacks, the first taken last: it stays the first taken.
        let count = moved.len();
        for item in moved.into_iter().rev() {
            self.count_transmit(item, limit);
        }
        self.sweep_if_stale();
        (count, taken)
    }

    /// Counts a transmission of the entry of `item` (just taken off its stack), dropping
    /// it at `limit`.
    fn count_transmit(&mut self, item: Item, limit: u32) {
        let entry = self.slots[item.slot as usize]
            .as_mut()
            .expect("a taken item is live");
        entry.transmits += 1;
        if entry.transmits >= limit {
            let id = entry.subject;
            self.by_member.remove(&id);
            self.free_slot(item.slot);
            return;
        }
        let transmits = entry.transmits as usize;
        self.stack(transmits).push(item);
    }

    /// Drops the entry in `slot`, whose stack item stays behind, stale.
    fn drop_entry(&mut self, slot: u32) {
        self.free_slot(slot);
        self.stale += 1;
    }

    fn free_slot(&mut self, slot: u32) {
        if let Some(entry) = self.slots[slot as usize].take() {
            let bytes = entry.encoded.len();
            if let Some(count) = self.sizes.get_mut(&bytes) {
                *count -= 1;
                if *count == 0 {
                    self.sizes.remove(&bytes);
                }
            }
            self.free.push(slot);
        }
    }

    fn stamp(&mut self) -> u64 {
        self.next_stamp += 1;
        self.next_stamp
    }

    fn stack(&mut self, transmits: usize) -> &mut Vec<Item> {
        if self.stacks.len() <= transmits {
            self.stacks.resize_with(transmits + 1, Vec::new);
        }
        &mut self.stacks[transmits]
    }

    /// Sweeps stale items out once they outnumber the live entries (amortized: each
    /// sweep is paid for by as many replacements).
    fn sweep_if_stale(&mut self) {
        if self.stale <= self.by_member.len() + 64 {
            return;
        }
        let slots = &self.slots;
        for stack in &mut self.stacks {
            stack.retain(|item| live(slots, *item).is_some());
            trim(stack);
        }
        self.stale = 0;
    }
}

/// Gives back the room of a stack that has shrunk well below its peak: news of a whole
/// cluster joining at once fills the stacks, which then hold a few dozen items for
/// hours. Amortized: the room given back took as many pushes to fill.
fn trim(stack: &mut Vec<Item>) {
    if stack.capacity() > 4 * stack.len() + 256 {
        stack.shrink_to(2 * stack.len());
    }
}

/// The entry `item` stands for, unless the item is stale.
fn live(slots: &[Option<Entry>], item: Item) -> Option<&Entry> {
    slots[item.slot as usize]
        .as_ref()
        .filter(|entry| entry.stamp == item.stamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `take` gives for `updates`: their number and their encodings in order.
    fn wire(updates: &[Update<u32>]) -> (usize, Vec<u8>) {
        let encoded = updates
            .iter()
            .flat_map(|u| postcard::to_allocvec(u).unwrap())
            .collect();
        (updates.len(), encoded)
    }

    fn alive(n: u64) -> Update<u32> {
        Update::Alive {
            id: NodeId::new(n).unwrap(),
            addr: n as u32,
            incarnation: 0,
            meta: Vec::new(),
        }
    }

    /// The queue's rule written plainly: each entry with its count and the moment it
    /// reached that count; least sent first, then latest to reach its count first;
    /// greedy while anything fits. A message's taken entries reach their new count in
    /// reverse order of taking.
    #[derive(Default)]
    struct Model {
        entries: Vec<(Update<u32>, usize, u32, u64)>,
        clock: u64,
    }

    impl Model {
        fn push(&mut self, update: Update<u32>) {
            self.entries.retain(|e| e.0.subject() != update.subject());
            self.clock += 1;
            let bytes = super::super::message::encoded_len(&update);
            self.entries.push((update, bytes, 0, self.clock));
        }

        fn take(
            &mut self,
            limit: u32,
            to: Option<NodeId>,
            fits: impl Fn(usize, usize) -> bool,
        ) -> Vec<Update<u32>> {
            self.entries.sort_by_key(|e| (e.2, Reverse(e.3)));
            let (mut taken, mut bytes) = (Vec::new(), 0);
            for (index, e) in self.entries.iter().enumerate() {
                let about_to = matches!(e.0, Update::Alive { id, .. } if Some(id) == to);
                if !about_to && fits(taken.len() + 1, bytes + e.1) {
                    bytes += e.1;
                    taken.push(index);
                }
            }
            let updates = taken.iter().map(|&i| self.entries[i].0.clone()).collect();
            for &index in taken.iter().rev() {
                self.clock += 1;
                let e = &mut self.entries[index];
                e.2 += 1;
                e.3 = self.clock;
            }
            self.entries.retain(|e| e.2 < limit);
            updates
        }
    }

    use std::cmp::Reverse;

    #[test]
    fn takes_what_the_plain_rule_takes() {
        let mut rng = super::super::Rng::new(11);
        for round in 0..200 {
            let (mut q, mut model) = (UpdateQueue::default(), Model::default());
            let limit = 1 + rng.below(5) as u32;
            for step in 0..60 {
                if rng.below(3) > 0 {
                    let id = NodeId::new(1 + rng.below(30) as u64).unwrap();
                    let (addr, incarnation) =
                        (rng.next_u64() as u32 >> rng.below(32), rng.below(300));
                    let update = if rng.below(4) > 0 {
                        Update::Alive {
                            id,
                            addr,
                            incarnation: incarnation as u64,
                            meta: vec![0; rng.below(4)],
                        }
                    } else {
                        Update::Suspect {
                            id,
                            incarnation: incarnation as u64,
                            from: NodeId::new(1 + rng.below(30) as u64).unwrap(),
                        }
                    };
                    q.push(update.clone());
                    model.push(update);
                } else {
                    let room = 20 + rng.below(120);
                    let fits = |count: usize, bytes: usize| count <= 12 && bytes <= room;
                    let to = NodeId::new(1 + rng.below(40) as u64);
                    let expected = model.take(limit, to, fits);
                    let expected = wire(&expected);
                    assert_eq!(
                        q.take(limit, to, fits),
                        expected,
                        "round {round}, step {step}"
                    );
                }
                assert_eq!(q.is_empty(), model.entries.is_empty());
            }
        }
    }

    #[test]
    fn least_sent_first_and_bounded() {
        let mut q = UpdateQueue::default();
        q.push(alive(1));
        q.push(alive(2));
        let first = q.take(2, None, |count, _| count <= 1);
        assert_eq!(first, wire(&[alive(2)]), "fresher first among equals");
        let second = q.take(2, None, |count, _| count <= 1);
        assert_eq!(second, wire(&[alive(1)]), "then the least sent");
        q.take(2, None, |_, _| true);
        assert!(q.is_empty(), "each sent twice: gone");
        assert_eq!(retransmit_limit(4, 5), 4);
        assert_eq!(retransmit_limit(4, 100), 12);
    }

    #[test]
    fn news_that_a_member_is_alive_is_not_sent_to_it_but_its_doubts_are() {
        let mut q = UpdateQueue::default();
        q.push(alive(1));
        q.push(alive(2));
        let to_1 = q.take(1, NodeId::new(1), |_, _| true);
        assert_eq!(to_1, wire(&[alive(2)]), "member 1 knows it is alive");
        assert!(
            !q.is_empty(),
            "the news of member 1 waits for another member"
        );
        let to_3 = q.take(1, NodeId::new(3), |_, _| true);
        assert_eq!(to_3, wire(&[alive(1)]));
        assert!(q.is_empty());
        let suspect = Update::Suspect {
            id: NodeId::new(1).unwrap(),
            incarnation: 0,
            from: NodeId::new(2).unwrap(),
        };
        q.push(suspect.clone());
        let doubt = q.take(1, NodeId::new(1), |_, _| true);
        assert_eq!(doubt, wire(&[suspect]), "a suspect hears of it, to refute");
    }

    #[test]
    fn replaced_entries_are_swept() {
        let mut q = UpdateQueue::default();
        for round in 0..1_000 {
            q.push(alive(1 + round % 3));
        }
        assert!(
            q.stacks[0].len() <= 3 + 64 + 1,
            "{} items",
            q.stacks[0].len()
        );
        let all = q.take(1, None, |_, _| true);
        assert_eq!(all.0, 3);
        assert!(q.is_empty());
    }

    /// News of thousands of members at once (a cluster starting) fills the stacks; once
    /// it has been sent, their room is given back.
    #[test]
    fn stacks_give_back_their_room() {
        let mut q = UpdateQueue::default();
        for n in 1..=10_000 {
            q.push(alive(n));
        }
        let room = |q: &UpdateQueue<u32>| q.stacks.iter().map(Vec::capacity).sum::<usize>();
        assert!(room(&q) >= 10_000);
        while !q.is_empty() {
            q.take(3, None, |count, _| count <= 100);
        }
        assert!(room(&q) <= 3 * 256, "{} items of room left", room(&q));
    }
}
