//! One member as this node sees it, and SWIM's rule for which news about it wins.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use lattice_crdt::NodeId;
use serde::{Deserialize, Serialize};

use super::phi::PhiAccrual;
use super::suspicion::Suspicion;

/// What this node believes about a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MemberState {
    /// Answering probes (or not yet found unresponsive).
    Alive,
    /// Missed a probe; declared dead unless it refutes within the suspicion timeout.
    Suspect,
    /// Did not refute in time. Retried now and then; comes back by refuting.
    Dead,
    /// Said it was leaving. Not probed, not retried.
    Left,
}

/// A member as reported by [`Engine::members`](super::Engine::members).
#[derive(Clone, Debug, PartialEq)]
pub struct MemberInfo<A> {
    /// The member's node id.
    pub id: NodeId,
    /// Where it is reached.
    pub addr: A,
    /// What this node believes about it.
    pub state: MemberState,
    /// The member's incarnation: raised by the member itself to refute suspicion.
    pub incarnation: u64,
    /// phi-accrual suspicion level of its silence towards this node: 0 when it was
    /// heard from as often as usual, 8 or more when the silence is very unusual. 0 until
    /// it has been heard from directly twice.
    pub phi: f64,
    /// What the member announces about itself ([`Engine::set_meta`](super::Engine::set_meta));
    /// empty until this node has heard it.
    pub meta: Vec<u8>,
}

/// Whether a member last told `told_at` that we hold it suspect or dead was told within
/// `period` before `now` (members and tombstones alike).
pub(crate) fn told_within(told_at: Option<Duration>, period: Duration, now: Duration) -> bool {
    told_at.is_some_and(|at| now < at + period)
}

/// A member in the table. Every piece of membership news about it is compared with its
/// state and incarnation, which are kept inline in the table's slot; the rest is boxed
/// (and reached through `Deref`), so that an empty slot of the table stays small and news
/// that changes nothing reads one slot, not a box as well.
#[derive(Clone, Debug)]
pub(crate) struct Member<A> {
    pub(crate) state: MemberState,
    pub(crate) incarnation: u64,
    body: Box<MemberBody<A>>,
}

/// What the table keeps of a member besides its state and incarnation.
#[derive(Clone, Debug)]
pub(crate) struct MemberBody<A> {
    pub(crate) id: NodeId,
    pub(crate) addr: A,
    /// What it announces about itself.
    pub(crate) meta: Vec<u8>,
    /// When `state` last changed (for reaping).
    pub(crate) since: Duration,
    /// Present while `state` is `Suspect`.
    pub(crate) suspicion: Option<Suspicion>,
    /// When we last told it that we hold it suspect or dead, or that we lack its
    /// metadata.
    pub(crate) told_at: Option<Duration>,
    /// Whether we asked it for its metadata (once, while we hold none of it).
    pub(crate) meta_asked: bool,
    /// Inter-arrival times of messages from the member.
    pub(crate) heartbeat: PhiAccrual,
    /// Ack delays of our direct probes of the member.
    pub(crate) ack_delay: PhiAccrual,
}

impl<A> Member<A> {
    /// A member in `state` at `incarnation`.
    pub(crate) fn new(state: MemberState, incarnation: u64, body: MemberBody<A>) -> Self {
        Member {
            state,
            incarnation,
            body: Box::new(body),
        }
    }

    /// All but its state and incarnation.
    pub(crate) fn into_body(self) -> MemberBody<A> {
        *self.body
    }
}

impl<A> Deref for Member<A> {
    type Target = MemberBody<A>;

    fn deref(&self) -> &MemberBody<A> {
        &self.body
    }
}

impl<A> DerefMut for Member<A> {
    fn deref_mut(&mut self) -> &mut MemberBody<A> {
        &mut self.body
    }
}

impl<A: Clone> Member<A> {
    /// The member as an [`MemberInfo`] at `now`.
    pub(crate) fn info(&self, now: Duration) -> MemberInfo<A> {
        MemberInfo {
            id: self.id,
            addr: self.addr.clone(),
            state: self.state,
            incarnation: self.incarnation,
            phi: self.heartbeat.phi_now(now),
            meta: self.meta.clone(),
        }
    }

    /// Whether we told it within `period` before `now` that we hold it suspect or dead.
    pub(crate) fn told_within(&self, period: Duration, now: Duration) -> bool {
        told_within(self.told_at, period, now)
    }

    /// Whether it should be probed and gossiped to.
    pub(crate) fn is_reachable(&self) -> bool {
        matches!(self.state, MemberState::Alive | MemberState::Suspect)
    }
}

/// Whether news `(new, new_inc)` about a member replaces what we hold, `(old, old_inc)`.
///
/// SWIM's order with explicit leaves: a higher incarnation wins; at the same
/// incarnation Left > Dead > Suspect > Alive, so a member can only come back by raising
/// its incarnation (refuting), and stale news can never resurrect it.
pub(crate) fn supersedes(new: MemberState, new_inc: u64, old: MemberState, old_inc: u64) -> bool {
    if new_inc != old_inc {
        return new_inc > old_inc;
    }
    rank(new) > rank(old)
}

fn rank(state: MemberState) -> u8 {
    match state {
        MemberState::Alive => 0,
        MemberState::Suspect => 1,
        MemberState::Dead => 2,
        MemberState::Left => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::MemberState::*;
    use super::*;

    #[test]
    fn precedence() {
        assert!(supersedes(Alive, 2, Dead, 1));
        assert!(!supersedes(Alive, 1, Dead, 1));
        assert!(!supersedes(Alive, 1, Suspect, 1));
        assert!(supersedes(Suspect, 1, Alive, 1));
        assert!(!supersedes(Suspect, 1, Suspect, 1));
        assert!(supersedes(Dead, 1, Suspect, 1));
        assert!(supersedes(Left, 1, Dead, 1));
        assert!(!supersedes(Dead, 1, Left, 1));
        assert!(!supersedes(Left, 0, Alive, 1));
    }
}
