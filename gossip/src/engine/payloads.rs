//! Payload bookkeeping for dissemination: the bounded set of ids already seen, and the
//! bounded queue of payloads still being pushed.

use std::collections::{BTreeSet, VecDeque};

use lattice_crdt::NodeId;

/// Most members remembered per payload as already holding it.
const HOLDERS_MAX: usize = 32;

/// Ids of payloads already seen, forgetting the oldest beyond a capacity (FIFO).
#[derive(Clone, Debug)]
pub(crate) struct SeenSet {
    order: VecDeque<[u8; 16]>,
    ids: BTreeSet<[u8; 16]>,
    capacity: usize,
}

impl SeenSet {
    /// An empty set of at most `capacity` ids.
    pub(crate) fn new(capacity: usize) -> SeenSet {
        SeenSet {
            order: VecDeque::new(),
            ids: BTreeSet::new(),
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
}

/// A payload being pushed.
#[derive(Clone, Debug)]
pub(crate) struct Hot {
    pub(crate) id: [u8; 16],
    pub(crate) hops: u16,
    pub(crate) bytes: Vec<u8>,
    pub(crate) rounds_left: u32,
    /// Members known to hold it (they sent it to us, or we sent it to them).
    pub(crate) holders: BTreeSet<NodeId>,
}

impl Hot {
    /// Notes that `member` holds the payload (bounded; forgetting only costs a resend).
    pub(crate) fn add_holder(&mut self, member: NodeId) {
        if self.holders.len() < HOLDERS_MAX {
            self.holders.insert(member);
        }
    }
}

/// Payloads still being pushed, bounded in count and bytes; the oldest go first.
#[derive(Clone, Debug)]
pub(crate) struct HotQueue {
    entries: VecDeque<Hot>,
    bytes: usize,
    count_max: usize,
    bytes_max: usize,
}

impl HotQueue {
    /// An empty queue of at most `count_max` payloads and `bytes_max` bytes.
    pub(crate) fn new(count_max: usize, bytes_max: usize) -> HotQueue {
        HotQueue {
            entries: VecDeque::new(),
            bytes: 0,
            count_max,
            bytes_max,
        }
    }

    /// Adds `hot`, evicting the oldest to stay in bounds; returns how many were evicted.
    pub(crate) fn push(&mut self, hot: Hot) -> u64 {
        let mut evicted = 0;
        while !self.entries.is_empty()
            && (self.entries.len() + 1 > self.count_max
                || self.bytes + hot.bytes.len() > self.bytes_max)
        {
            self.pop_oldest();
            evicted += 1;
        }
        self.bytes += hot.bytes.len();
        self.entries.push_back(hot);
        evicted
    }

    fn pop_oldest(&mut self) {
        if let Some(old) = self.entries.pop_front() {
            self.bytes -= old.bytes.len();
        }
    }

    /// The payload `id`, if it is still being pushed.
    pub(crate) fn get_mut(&mut self, id: &[u8; 16]) -> Option<&mut Hot> {
        self.entries.iter_mut().find(|h| &h.id == id)
    }

    /// How many payloads are being pushed.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The payload at `index`.
    pub(crate) fn at_mut(&mut self, index: usize) -> &mut Hot {
        &mut self.entries[index]
    }

    /// Drops payloads with no rounds left.
    pub(crate) fn retire_finished(&mut self) {
        let mut bytes = self.bytes;
        self.entries.retain(|h| {
            let keep = h.rounds_left > 0;
            if !keep {
                bytes -= h.bytes.len();
            }
            keep
        });
        self.bytes = bytes;
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
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
            bytes: vec![0; len],
            rounds_left: 1,
            holders: BTreeSet::new(),
        }
    }

    #[test]
    fn seen_set_forgets_oldest() {
        let mut seen = SeenSet::new(2);
        assert!(seen.insert([1; 16]));
        assert!(!seen.insert([1; 16]));
        assert!(seen.insert([2; 16]));
        assert!(seen.insert([3; 16]));
        assert!(seen.insert([1; 16]), "forgotten, so new again");
    }

    #[test]
    fn hot_queue_is_bounded() {
        let mut q = HotQueue::new(2, 100);
        assert_eq!(q.push(hot(1, 10)), 0);
        assert_eq!(q.push(hot(2, 10)), 0);
        assert_eq!(q.push(hot(3, 10)), 1);
        assert!(q.get_mut(&[1; 16]).is_none());
        assert_eq!(q.push(hot(4, 95)), 2);
        assert_eq!(q.len(), 1);
        q.at_mut(0).rounds_left = 0;
        q.retire_finished();
        assert_eq!(q.len(), 0);
    }
}
