//! A bounded record of what happened over simulated time, for plots: every
//! membership transition a node reported about another, and every fault applied.
//!
//! The record is a side channel: it is never folded into the trace hash, so recording
//! cannot change a run's hash. It holds at most [`MAX_TIMELINE_EVENTS`] transitions
//! and as many faults (then [`Timeline::truncated`] is set and later ones are
//! dropped).

use crate::fault::Fault;

/// At most this many membership transitions are kept per run.
pub const MAX_TIMELINE_EVENTS: usize = 65_536;

/// A member's state as one node sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MemberState {
    /// Alive (joined, refuted a suspicion, or came back).
    Alive,
    /// Missed a probe and is suspected.
    Suspect,
    /// Declared dead.
    Dead,
    /// Left gracefully.
    Left,
}

/// One membership transition: at `at_ms`, `observer` saw `observed` become `state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberEvent {
    /// Simulated time, in ms.
    pub at_ms: u64,
    /// The node (index) that reported it.
    pub observer: usize,
    /// The node (index) it is about.
    pub observed: usize,
    /// The new state.
    pub state: MemberState,
}

/// A fault as it was applied (faults of the schedule skipped after heal-all are not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultEvent {
    /// Simulated time, in ms.
    pub at_ms: u64,
    /// The fault.
    pub fault: Fault,
}

/// What one run did over time. See the module doc.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    /// Membership transitions, in time order.
    pub members: Vec<MemberEvent>,
    /// Faults applied, in time order.
    pub faults: Vec<FaultEvent>,
    /// When everything healed (end of the faulty phase), in ms.
    pub heal_at_ms: u64,
    /// When the run ended (the cluster converged), in ms.
    pub end_ms: u64,
    /// Whether transitions or faults were dropped at [`MAX_TIMELINE_EVENTS`].
    pub truncated: bool,
}

impl Timeline {
    /// Records a membership transition, unless the record is full.
    pub(crate) fn member(&mut self, event: MemberEvent) {
        if self.members.len() < MAX_TIMELINE_EVENTS {
            self.members.push(event);
        } else {
            self.truncated = true;
        }
    }

    /// Records an applied fault, unless the record is full.
    pub(crate) fn fault(&mut self, at_ms: u64, fault: Fault) {
        if self.faults.len() < MAX_TIMELINE_EVENTS {
            self.faults.push(FaultEvent { at_ms, fault });
        } else {
            self.truncated = true;
        }
    }
}
