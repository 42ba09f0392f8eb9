//! An index over the member table, kept from the membership events: which members are
//! reachable and which alive (in id order, for counting and random picks) and since
//! when the others are down (for reaping). Every change of a member's state emits an event ([`Event`]'s
//! contract), so the index follows the table without a scan; a large cluster would
//! otherwise scan its whole table for every message and every gossip round.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lattice_crdt::NodeId;

use super::Event;

/// Reachable members, and down members by the time they went down.
#[derive(Clone, Debug, Default)]
pub(crate) struct MemberIndex {
    /// Alive or suspect members, sorted.
    reachable: Vec<NodeId>,
    /// Alive members, sorted.
    alive: Vec<NodeId>,
    /// Dead or left members and when they became so.
    down_since: BTreeMap<NodeId, Duration>,
    /// The same, in time order.
    down_order: BTreeSet<(Duration, NodeId)>,
}

impl MemberIndex {
    /// Follows `event`, emitted at `now`.
    pub(crate) fn note<A>(&mut self, event: &Event<A>, now: Duration) {
        match event {
            Event::MemberUp { id, .. } => {
                self.clear_down(*id);
                insert(&mut self.reachable, *id);
                insert(&mut self.alive, *id);
            }
            Event::MemberSuspect { id, .. } => {
                self.clear_down(*id);
                insert(&mut self.reachable, *id);
                remove(&mut self.alive, *id);
            }
            Event::MemberDown { id, .. } | Event::MemberLeft { id, .. } => {
                remove(&mut self.reachable, *id);
                remove(&mut self.alive, *id);
                self.clear_down(*id);
                self.down_since.insert(*id, now);
                self.down_order.insert((now, *id));
            }
            Event::MemberReaped { id, .. } => {
                remove(&mut self.reachable, *id);
                remove(&mut self.alive, *id);
                self.clear_down(*id);
            }
            Event::Payload { .. } | Event::AntiEntropy { .. } => {}
        }
    }

    fn clear_down(&mut self, id: NodeId) {
        if let Some(since) = self.down_since.remove(&id) {
            self.down_order.remove(&(since, id));
        }
    }

    /// The reachable members, sorted.
    pub(crate) fn reachable(&self) -> &[NodeId] {
        &self.reachable
    }

    /// The alive members, sorted.
    pub(crate) fn alive(&self) -> &[NodeId] {
        &self.alive
    }

    /// Down members and since when, by id.
    pub(crate) fn down_since(&self) -> &BTreeMap<NodeId, Duration> {
        &self.down_since
    }

    /// The members down for at least `span` at `now`, sorted.
    pub(crate) fn down_for(&self, span: Duration, now: Duration) -> Vec<NodeId> {
        let Some(latest) = now.checked_sub(span) else {
            return Vec::new();
        };
        let mut due: Vec<NodeId> = self
            .down_order
            .iter()
            .take_while(|(since, _)| *since <= latest)
            .map(|(_, id)| *id)
            .collect();
        due.sort_unstable();
        due
    }
}

/// Adds `id` to the sorted `ids`.
fn insert(ids: &mut Vec<NodeId>, id: NodeId) {
    if let Err(at) = ids.binary_search(&id) {
        ids.insert(at, id);
    }
}

/// Removes `id` from the sorted `ids`.
fn remove(ids: &mut Vec<NodeId>, id: NodeId) {
    if let Ok(at) = ids.binary_search(&id) {
        ids.remove(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> NodeId {
        NodeId::new(n).unwrap()
    }

    #[test]
    fn follows_events() {
        let s = Duration::from_secs;
        let mut index = MemberIndex::default();
        for n in [3, 1, 2] {
            index.note(
                &Event::MemberUp {
                    id: id(n),
                    addr: (),
                },
                s(0),
            );
        }
        assert_eq!(index.reachable(), [id(1), id(2), id(3)]);
        index.note(
            &Event::MemberDown {
                id: id(2),
                addr: (),
            },
            s(5),
        );
        index.note(
            &Event::MemberLeft {
                id: id(3),
                addr: (),
            },
            s(7),
        );
        index.note(
            &Event::MemberSuspect {
                id: id(1),
                addr: (),
            },
            s(8),
        );
        assert_eq!(index.reachable(), [id(1)]);
        assert!(index.alive().is_empty(), "suspect is reachable, not alive");
        assert_eq!(index.down_for(s(30), s(35)), [id(2)]);
        assert_eq!(index.down_for(s(30), s(40)), [id(2), id(3)]);
        assert!(index.down_for(s(30), s(20)).is_empty());
        index.note(
            &Event::MemberReaped {
                id: id(2),
                addr: (),
            },
            s(40),
        );
        index.note(
            &Event::MemberUp {
                id: id(3),
                addr: (),
            },
            s(41),
        );
        assert!(index.down_since().is_empty());
        assert_eq!(index.reachable(), [id(1), id(3)]);
        assert_eq!(index.alive(), [id(3)]);
    }
}
