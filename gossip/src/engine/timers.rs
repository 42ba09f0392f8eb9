//! Timers as data: one deadline per timer kind in a table. Setting a timer replaces its
//! previous deadline, so a stale timer can never fire (STYLE.md 4).

use std::collections::BTreeMap;
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
}

impl Timers {
    /// Arms `timer` for `at`, replacing any earlier arming.
    pub(crate) fn set(&mut self, timer: Timer, at: Duration) {
        self.deadlines.insert(timer, at);
    }

    /// Disarms `timer`.
    pub(crate) fn cancel(&mut self, timer: Timer) {
        self.deadlines.remove(&timer);
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Duration> {
        self.deadlines.values().min().copied()
    }

    /// The earliest timer due at `now`, disarmed (ties go in `Timer` order).
    pub(crate) fn pop_due(&mut self, now: Duration) -> Option<Timer> {
        let (timer, _) = self
            .deadlines
            .iter()
            .filter(|(_, at)| **at <= now)
            .min_by_key(|(timer, at)| (**at, **timer))?;
        let timer = *timer;
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
