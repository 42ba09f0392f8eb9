//! A bounded record of what happened over simulated time, for plots: every fault
//! applied, and every membership transition that one node, the run's *observer*,
//! reported about another.
//!
//! The observer is chosen before the run, from the fault schedule: the node it leaves
//! up the longest, whose view is the plot's. Only its view is kept: in a
//! cluster of n nodes every node first sees every other join, n² transitions, so a
//! record of every node's view would fill with joins above a few hundred nodes (1,000
//! nodes: a million) and keep none of the faults the plot is for.
//!
//! The record is a side channel: it is never folded into the trace hash, so recording
//! cannot change a run's hash. It holds at most [`MAX_TIMELINE_EVENTS`] transitions
//! and as many faults (then [`Timeline::truncated`] is set and later ones are
//! dropped).

use std::collections::BTreeMap;

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
    /// The node whose view `members` records (see the module doc).
    pub observer: usize,
    /// The observer's membership transitions, in time order.
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
    /// Records a membership transition if it is the observer's, unless the record is
    /// full.
    pub(crate) fn member(&mut self, event: MemberEvent) {
        if event.observer != self.observer {
            return;
        }
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

/// Intervals `[start, end)` in ms.
pub(crate) type Spans = Vec<(u64, u64)>;

/// One node's own fault intervals.
#[derive(Default)]
pub(crate) struct NodeFaults {
    pub(crate) crashed: Spans,
    pub(crate) paused: Spans,
    /// `(start, end, one_way)`.
    pub(crate) partitioned: Vec<(u64, u64, bool)>,
    /// `(at, by_ms)`.
    pub(crate) jumps: Vec<(u64, i64)>,
}

/// Each node's own fault intervals from `faults` (in time order); whatever is still
/// open at `heal_at_ms` ends there.
pub(crate) fn node_faults(faults: &[FaultEvent], heal_at_ms: u64, nodes: usize) -> Vec<NodeFaults> {
    let mut out: Vec<NodeFaults> = (0..nodes).map(|_| NodeFaults::default()).collect();
    let mut crashed: BTreeMap<usize, u64> = BTreeMap::new();
    let mut paused: BTreeMap<usize, u64> = BTreeMap::new();
    let mut parts: BTreeMap<u32, (u64, Vec<bool>, bool)> = BTreeMap::new();
    for f in faults {
        match &f.fault {
            Fault::Crash(i) => {
                let i = i % nodes;
                if let Some(p) = paused.remove(&i) {
                    out[i].paused.push((p, f.at_ms));
                }
                crashed.entry(i).or_insert(f.at_ms);
            }
            Fault::Restart(i) => {
                if let Some(c) = crashed.remove(&(i % nodes)) {
                    out[i % nodes].crashed.push((c, f.at_ms));
                }
            }
            Fault::Pause(i) if !crashed.contains_key(&(i % nodes)) => {
                paused.entry(i % nodes).or_insert(f.at_ms);
            }
            Fault::Pause(_) => {}
            Fault::Resume(i) => {
                if let Some(p) = paused.remove(&(i % nodes)) {
                    out[i % nodes].paused.push((p, f.at_ms));
                }
            }
            Fault::Partition { id, side, one_way } if side.len() == nodes => {
                parts.insert(*id, (f.at_ms, side.clone(), *one_way));
            }
            Fault::Partition { .. } => {}
            Fault::Heal { id } => {
                if let Some((start, side, one_way)) = parts.remove(id) {
                    for (i, _) in side.iter().enumerate().filter(|(_, &s)| s) {
                        out[i].partitioned.push((start, f.at_ms, one_way));
                    }
                }
            }
            Fault::ClockJump(i, ms) => out[i % nodes].jumps.push((f.at_ms, *ms)),
        }
    }
    // Heal-all ends whatever is still open.
    let heal = heal_at_ms;
    for (i, c) in crashed {
        out[i].crashed.push((c, heal));
    }
    for (i, p) in paused {
        out[i].paused.push((p, heal));
    }
    for (start, side, one_way) in parts.into_values() {
        for (i, _) in side.iter().enumerate().filter(|(_, &s)| s) {
            out[i].partitioned.push((start, heal, one_way));
        }
    }
    out
}

/// The node whose view a run records: the one that `faults` (in time order, heal-all at
/// `heal_at_ms`) leave up the longest, the lowest such index on a tie.
pub(crate) fn observer(faults: &[FaultEvent], heal_at_ms: u64, nodes: usize) -> usize {
    let down =
        |f: &NodeFaults| -> u64 { f.crashed.iter().chain(&f.paused).map(|(a, b)| b - a).sum() };
    node_faults(faults, heal_at_ms, nodes)
        .iter()
        .enumerate()
        .min_by_key(|&(i, f)| (down(f), i))
        .map_or(0, |(i, _)| i)
}
