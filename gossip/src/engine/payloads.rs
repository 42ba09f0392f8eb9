//! Payload bookkeeping for dissemination: the bounded set of ids already seen, and the
//! bounded queue of payloads still being pushed.
//!
//! Both are consulted for every payload and every payload id a message carries, so both
//! find an id by hashing, not by scanning.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use lattice_crdt::NodeId;
use rustc_hash::{FxHashMap, FxHashSet};

/// Most members remembered per payload as already holding it: enough to spare the
/// sender and the members it pushed to, in one cache line, scanned for every id
/// offered or received. In a large cluster a random pick rarely lands on a holder
/// anyway; in a small one this is most of the members.
const HOLDERS_MAX: usize = 8;

/// Ids of payloads already seen, forgetting the oldest beyond a capacity (FIFO).
#[derive(Clone, Debug)]
pub(crate) struct SeenSet {
    order: VecDeque<[u8; 16]>,
    ids: FxHashSet<[u8; 16]>,
    capacity: usize,
}

impl SeenSet {
    /// An empty set of at most `capacity` ids.
    pub(crate) fn new(capacity: usize) -> SeenSet {
        SeenSet {
            order: VecDeque::new(),
            ids: FxHashSet::default(),
            capacity: capacity.max(1),
        }
    }

    /// Records `id`; true if it was not seen (or was already forgotten).
    pub(crate) fn insert(&mut self, id: [u8; 16]) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        true
    }

    /// Whether `id` was seen (and not forgotten).
    pub(crate) fn contains(&self, id: &[u8; 16]) -> bool {
        self.ids.contains(id)
    }
}

/// A payload being pushed.
#[derive(Clone, Debug)]
pub(crate) struct Hot {
    pub(crate) id: [u8; 16],
    pub(crate) hops: u16,
    /// Shared with the copies pushed and the one delivered.
    pub(crate) bytes: Arc<[u8]>,
    pub(crate) rounds_left: u32,
    /// Not pushed yet: its first round sends it whole; later rounds send only its id.
    pub(crate) whole: bool,
    /// Members known to hold it (they sent it to us, or we sent it to them).
    pub(crate) holders: Holders,
    /// `payload_echoes_max` copies and offers of it came back: nearly every member
    /// holds it (counted in the queue's index, see [`HotQueue::echo`]).
    pub(crate) widespread: bool,
}

impl Hot {
    /// Notes that `member` holds the payload (bounded; forgetting only costs a resend).
    pub(crate) fn add_holder(&mut self, member: NodeId) {
        if self.holders.contains(&member) {
            return;
        }
        if let Some(free) = self.holders.0.iter_mut().find(|slot| slot.is_none()) {
            *free = Some(member);
        }
    }
}

/// Members known to hold a payload, at most [`HOLDERS_MAX`], kept inline (no pointer
/// to chase) and found by a scan; free slots are `None`, after the taken ones.
#[derive(Clone, Debug, Default)]
pub(crate) struct Holders([Option<NodeId>; HOLDERS_MAX]);

impl Holders {
    /// Whether `member` is known to hold the payload.
    pub(crate) fn contains(&self, member: &NodeId) -> bool {
        self.0.contains(&Some(*member))
    }

    fn len(&self) -> usize {
        self.0.iter().take_while(|slot| slot.is_some()).count()
    }

    /// Whether no member can be added any more.
    fn is_full(&self) -> bool {
        self.0[HOLDERS_MAX - 1].is_some()
    }

    fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.0.iter().map_while(|slot| *slot)
    }
}

/// Index slot bit: the payload's rounds are done.
const DONE: u64 = 1;
/// Index slot bit: the payload's holders are full (they only grow).
const FULL: u64 = 1 << 1;
/// Index slot: where the echo count starts, and its largest value (it saturates).
const ECHOES_SHIFT: u32 = 2;
const ECHOES_MAX: u64 = (1 << 11) - 1;
/// Index slot: where the payload's number starts.
const NUMBER_SHIFT: u32 = 13;

/// The position in the queue of the payload whose index slot is `slot`, with `first`
/// the number of the oldest.
fn position(slot: u64, first: u64) -> usize {
    ((slot >> NUMBER_SHIFT) - first) as usize
}

/// Payloads still being pushed, bounded in count and bytes; the oldest go first. A
/// payload whose rounds are done stays (and can still be asked for) until it is the
/// oldest.
///
/// A payload's rounds are mostly done no later than those of any payload pushed after
/// it (each round pushes them all; echoes end some early, and a payload started in a
/// smaller cluster has fewer). So the payloads with rounds left lie after a point in the
/// order, before which every payload is done, and which a push round moves on: it looks
/// only at the payloads from there, not at every one held, in a queue kept full of
/// finished payloads that can still be asked for.
#[derive(Clone, Debug)]
pub(crate) struct HotQueue {
    entries: VecDeque<Hot>,
    /// Where each payload is, and what copies and offers of it need to know: its
    /// number in the order of pushing (from bit [`NUMBER_SHIFT`] up), the copies and
    /// offers of it received (its echoes, [`ECHOES_MAX`] at most), whether its holders
    /// are full ([`FULL`]) and whether its rounds are done ([`DONE`]). A large
    /// cluster's node receives about ten copies and offers of each payload, most once
    /// its holders are full or its rounds done; the slot, which the look-up reads
    /// anyway, then answers them without a look at the payload (a cache miss each).
    index: FxHashMap<[u8; 16], u64>,
    /// The number of `entries[0]`.
    first: u64,
    /// Every payload numbered below this has no rounds left.
    active: u64,
    bytes: usize,
    count_max: usize,
    bytes_max: usize,
}

impl HotQueue {
    /// An empty queue of at most `count_max` payloads and `bytes_max` bytes.
    pub(crate) fn new(count_max: usize, bytes_max: usize) -> HotQueue {
        HotQueue {
            entries: VecDeque::new(),
            index: FxHashMap::default(),
            first: 0,
            active: 0,
            bytes: 0,
            count_max,
            bytes_max,
        }
    }

    /// Adds `hot`, evicting the oldest to stay in bounds; returns how many of those
    /// evicted still had rounds to push.
    pub(crate) fn push(&mut self, hot: Hot) -> u64 {
        let mut evicted = 0;
        while !self.entries.is_empty()
            && (self.entries.len() + 1 > self.count_max
                || self.bytes + hot.bytes.len() > self.bytes_max)
        {
            if self.pop_oldest() {
                evicted += 1;
            }
        }
        self.bytes += hot.bytes.len();
        let number = self.first + self.entries.len() as u64;
        self.index.insert(hot.id, number << NUMBER_SHIFT);
        self.entries.push_back(hot);
        evicted
    }

    /// Drops the oldest; true if it still had rounds to push.
    fn pop_oldest(&mut self) -> bool {
        let Some(old) = self.entries.pop_front() else {
            return false;
        };
        self.first += 1;
        self.active = self.active.max(self.first);
        self.bytes -= old.bytes.len();
        self.index.remove(&old.id);
        old.rounds_left > 0
    }

    /// Where payload `id` is (0 is the oldest), and whether its rounds are done.
    fn locate(&self, id: &[u8; 16]) -> Option<(usize, bool)> {
        let slot = *self.index.get(id)?;
        Some((position(slot, self.first), slot & DONE != 0))
    }

    /// The payload `id`, if it is still held, for changing.
    pub(crate) fn get_mut(&mut self, id: &[u8; 16]) -> Option<&mut Hot> {
        let (index, _) = self.locate(id)?;
        self.entries.get_mut(index)
    }

    /// A copy or an offer of payload `id` came from `sender`: `None` if the payload is
    /// not held. Unless its rounds are done, it counts as an echo, the payload is
    /// marked widespread at the `echoes_max`-th, and `sender` is noted as a holder
    /// while there is room.
    pub(crate) fn echo(&mut self, id: &[u8; 16], sender: NodeId, echoes_max: u32) -> Option<()> {
        let slot = self.index.get_mut(id)?;
        if *slot & DONE != 0 {
            return Some(());
        }
        let echoes = ((*slot >> ECHOES_SHIFT) & ECHOES_MAX)
            .saturating_add(1)
            .min(ECHOES_MAX);
        *slot = (*slot & !(ECHOES_MAX << ECHOES_SHIFT)) | (echoes << ECHOES_SHIFT);
        let reached = echoes == u64::from(echoes_max);
        if *slot & FULL != 0 && !reached {
            return Some(());
        }
        let hot = &mut self.entries[position(*slot, self.first)];
        hot.add_holder(sender);
        if hot.holders.is_full() {
            *slot |= FULL;
        }
        hot.widespread |= reached;
        Some(())
    }

    /// The payload `id` if it is held and its rounds may not be done.
    pub(crate) fn get_if_pushing(&self, id: &[u8; 16]) -> Option<&Hot> {
        let (index, done) = self.locate(id)?;
        self.entries.get(index).filter(|_| !done)
    }

    /// Ends the rounds of the payload at `index` (0 is the oldest).
    pub(crate) fn finish(&mut self, index: usize) {
        let hot = &mut self.entries[index];
        hot.rounds_left = 0;
        if let Some(slot) = self.index.get_mut(&hot.id) {
            *slot |= DONE;
        }
    }

    /// The members known to hold every payload at `indices`.
    pub(crate) fn held_by_all(&self, indices: &[usize]) -> BTreeSet<NodeId> {
        let holders = |i: usize| &self.entries[i].holders;
        let Some(fewest) = indices.iter().map(|&i| holders(i)).min_by_key(|h| h.len()) else {
            return BTreeSet::new();
        };
        let mut common: Vec<NodeId> = fewest.iter().collect();
        for &i in indices {
            if common.is_empty() {
                break;
            }
            common.retain(|id| holders(i).contains(id));
        }
        common.into_iter().collect()
    }

    /// The payload at `index` (0 is the oldest).
    pub(crate) fn at_mut(&mut self, index: usize) -> &mut Hot {
        &mut self.entries[index]
    }

    /// The indices from the oldest payload that may have rounds left to the newest:
    /// every payload before them has none.
    pub(crate) fn maybe_pushing(&self) -> std::ops::Range<usize> {
        (self.active - self.first) as usize..self.entries.len()
    }

    /// Moves past the payloads at the start of [`maybe_pushing`](Self::maybe_pushing)
    /// whose rounds are done.
    pub(crate) fn skip_finished(&mut self) {
        while self
            .entries
            .get((self.active - self.first) as usize)
            .is_some_and(|h| h.rounds_left == 0)
        {
            self.active += 1;
        }
    }

    /// Drops the oldest payloads while their rounds are done.
    pub(crate) fn retire_finished(&mut self) {
        while self.entries.front().is_some_and(|h| h.rounds_left == 0) {
            self.pop_oldest();
        }
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.first += self.entries.len() as u64;
        self.active = self.first;
        self.entries.clear();
        self.index.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hot(n: u8, len: usize) -> Hot {
        Hot {
            id: [n; 16],
            hops: 0,
            bytes: vec![0; len].into(),
            rounds_left: 1,
            whole: true,
            holders: Holders::default(),
            widespread: false,
        }
    }

    #[test]
    fn seen_set_forgets_oldest() {
        let mut seen = SeenSet::new(2);
        assert!(seen.insert([1; 16]));
        assert!(!seen.insert([1; 16]));
        assert!(seen.contains(&[1; 16]));
        assert!(seen.insert([2; 16]));
        assert!(seen.insert([3; 16]));
        assert!(!seen.contains(&[1; 16]));
        assert!(seen.insert([1; 16]), "forgotten, so new again");
    }

    #[test]
    fn hot_queue_is_bounded() {
        let mut q = HotQueue::new(2, 100);
        assert_eq!(q.push(hot(1, 10)), 0);
        assert_eq!(q.push(hot(2, 10)), 0);
        assert_eq!(q.push(hot(3, 10)), 1);
        assert!(q.get_mut(&[1; 16]).is_none());
        assert_eq!(q.get_mut(&[3; 16]).map(|h| h.id), Some([3; 16]));
        assert_eq!(q.push(hot(4, 95)), 2);
        assert_eq!(q.entries.len(), 1);
        assert_eq!(q.get_mut(&[4; 16]).map(|h| h.bytes.len()), Some(95));
        q.at_mut(0).rounds_left = 0;
        q.retire_finished();
        assert_eq!(q.entries.len(), 0);
        assert!(q.get_mut(&[4; 16]).is_none());
    }

    #[test]
    fn held_by_all_is_the_intersection_of_holders() {
        let id = |n: u64| NodeId::new(n).unwrap();
        let mut q = HotQueue::new(8, 1000);
        for (n, members) in [
            (1, vec![1, 2, 3, 4]),
            (2, vec![4, 2, 9]),
            (3, vec![2, 4, 5, 6]),
        ] {
            let mut h = hot(n, 10);
            for m in members {
                h.add_holder(id(m));
                h.add_holder(id(m));
            }
            q.push(h);
        }
        assert_eq!(q.at_mut(1).holders.len(), 3, "each member once");
        assert_eq!(q.held_by_all(&[0, 1, 2]), BTreeSet::from([id(2), id(4)]));
        assert_eq!(q.held_by_all(&[0, 2]), BTreeSet::from([id(2), id(4)]));
        assert_eq!(q.held_by_all(&[0]), (1..=4).map(id).collect());
        assert!(q.held_by_all(&[]).is_empty());
        let mut full = hot(4, 10);
        for m in 1..=HOLDERS_MAX as u64 + 5 {
            full.add_holder(id(m));
        }
        assert_eq!(full.holders.len(), HOLDERS_MAX, "bounded");
        assert!(full.holders.contains(&id(HOLDERS_MAX as u64)));
        assert!(!full.holders.contains(&id(HOLDERS_MAX as u64 + 1)));
    }

    #[test]
    fn push_rounds_look_from_the_oldest_payload_with_rounds_left() {
        let mut q = HotQueue::new(3, 1000);
        for n in 1..=3 {
            q.push(hot(n, 10));
        }
        assert_eq!(q.maybe_pushing(), 0..3);
        q.at_mut(1).rounds_left = 0;
        q.skip_finished();
        assert_eq!(q.maybe_pushing(), 0..3, "the oldest still has rounds");
        q.at_mut(0).rounds_left = 0;
        q.skip_finished();
        assert_eq!(q.maybe_pushing(), 2..3, "both finished ones are passed");
        q.push(hot(4, 10));
        assert_eq!(
            q.maybe_pushing(),
            1..3,
            "the oldest left: the same payloads"
        );
        q.push(hot(5, 10));
        q.push(hot(6, 10));
        assert_eq!(q.maybe_pushing(), 0..3, "the point left with them");
        q.clear();
        assert!(q.maybe_pushing().is_empty());
        q.push(hot(7, 10));
        assert_eq!(q.maybe_pushing(), 0..1);
    }

    #[test]
    fn a_finished_payload_is_held_but_not_looked_at() {
        let mut q = HotQueue::new(8, 1000);
        for n in 1..=2 {
            q.push(hot(n, 10));
        }
        q.finish(0);
        let sender = NodeId::new(9).unwrap();
        assert_eq!(q.at_mut(0).rounds_left, 0);
        assert_eq!(q.echo(&[1; 16], sender, 1), Some(()));
        assert!(
            !q.at_mut(0).widespread && q.at_mut(0).holders.len() == 0,
            "not counted"
        );
        assert!(q.get_if_pushing(&[1; 16]).is_none());
        assert!(q.get_mut(&[1; 16]).is_some(), "it can still be asked for");
        assert!(q.get_if_pushing(&[2; 16]).is_some());
        assert_eq!(q.echo(&[3; 16], sender, 1), None);
        q.retire_finished();
        assert_eq!(q.echo(&[1; 16], sender, 1), None, "retired");
    }

    #[test]
    fn echoes_are_counted_in_the_index() {
        let id = |n: u64| NodeId::new(n).unwrap();
        let mut q = HotQueue::new(8, 1000);
        q.push(hot(1, 10));
        for m in 1..=HOLDERS_MAX as u64 + 2 {
            assert_eq!(q.echo(&[1; 16], id(m), 12), Some(()));
            assert!(!q.at_mut(0).widespread, "{m} echoes of 12");
        }
        assert_eq!(
            q.at_mut(0).holders.len(),
            HOLDERS_MAX,
            "holders noted while room"
        );
        assert_eq!(q.echo(&[1; 16], id(1), 12), Some(()));
        assert!(!q.at_mut(0).widespread);
        assert_eq!(q.echo(&[1; 16], id(2), 12), Some(()));
        assert!(q.at_mut(0).widespread, "the 12th echo");
    }

    #[test]
    fn finished_payloads_wait_for_the_older_ones() {
        let mut q = HotQueue::new(8, 1000);
        for n in 1..=3 {
            q.push(hot(n, 10));
        }
        q.at_mut(1).rounds_left = 0;
        q.retire_finished();
        assert_eq!(q.entries.len(), 3, "the oldest still pushes");
        assert!(
            q.get_mut(&[2; 16]).is_some(),
            "and the finished one can be asked for"
        );
        q.at_mut(0).rounds_left = 0;
        q.retire_finished();
        assert_eq!(q.entries.len(), 1);
        assert_eq!(q.get_mut(&[3; 16]).map(|h| h.id), Some([3; 16]));
    }
}
