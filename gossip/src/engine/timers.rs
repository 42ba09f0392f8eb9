//! Timers as data: one deadline per timer kind in a table. Setting a timer replaces its
//! previous deadline, so a stale timer can never fire (STYLE.md 4). The table is also
//! kept in deadline order, so the next deadline is found without a scan (a node of a
//! large cluster has a suspicion timer per suspect).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lattice_crdt::NodeId;

/// Everything the engine waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// The direct ack of the current probe is overdue: probe indirectly.
    ProbeDirect,
    /// The protocol period ends: judge the current probe and start the next.
    ProbeEnd,
    /// Gossip pending updates and payloads; reap; expire tombstones.
    Gossip,
    /// Name an anti-entropy partner.
    AntiEntropy,
    /// Retry a dead member and an unreachable seed.
    Rejoin,
    /// Exchange full membership with a random live member.
    PushPull,
    /// A suspect's time to refute is up.
    Suspicion(NodeId),
    /// An indirect probe we run for another member (by our ping seq) is overdue.
    Relay(u32),
}

/// The table of armed timers.
#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    deadlines: BTreeMap<Timer, Duration>,
    /// The same timers, in the order they fire.
    order: BTreeSet<(Duration, Timer)>,
}

impl Timers {
    /// Arms `timer` for `at`, replacing any earlier arming.
    pub(crate) fn set(&mut self, timer: Timer, at: Duration) {
        if let Some(old) = self.deadlines.insert(timer, at) {
            self.order.remove(&(old, timer));
        }
        self.order.insert((at, timer));
    }

    /// Disarms `timer`.
    pub(crate) fn cancel(&mut self, timer: Timer) {
        if let Some(at) = self.deadlines.remove(&timer) {
            self.order.remove(&(at, timer));
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Duration> {
        self.order.first().map(|(at, _)| *at)
    }

    /// The earliest timer due at `now`, disarmed (ties go in `Timer` order).
    pub(crate) fn pop_due(&mut self, now: Duration) -> Option<Timer> {
        let (at, timer) = *self.order.first().filter(|(at, _)| *at <= now)?;
        self.order.remove(&(at, timer));
        self.deadlines.remove(&timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_pops_in_deadline_order() {
        let s = Duration::from_secs;
        let mut t = Timers::default();
        t.set(Timer::Gossip, s(5));
        t.set(Timer::ProbeEnd, s(3));
        t.set(Timer::Gossip, s(2));
        assert_eq!(t.next(), Some(s(2)));
        assert_eq!(t.pop_due(s(1)), None);
        assert_eq!(t.pop_due(s(10)), Some(Timer::Gossip));
        assert_eq!(t.pop_due(s(10)), Some(Timer::ProbeEnd));
        assert_eq!(t.pop_due(s(10)), None);
    }
}
