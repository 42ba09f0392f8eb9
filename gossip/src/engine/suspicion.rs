//! Lifeguard's suspicion timeout: it starts long and shrinks as other members
//! independently confirm the suspicion (arXiv 1707.00788, §IV-B; memberlist's
//! `suspicion.go`).
//!
//! `timeout(C) = max(min, max − (max − min) · log(C + 1) / log(K + 1))` for `C` of the `K`
//! expected confirmations. With `K = 0` (too few members to confirm), or with Lifeguard
//! off, the timeout is `min`, as in plain SWIM.

use std::time::Duration;

use lattice_crdt::NodeId;
use smallvec::SmallVec;

/// How long a member may stay suspect, and who has confirmed the suspicion.
#[derive(Clone, Debug)]
pub(crate) struct Suspicion {
    started: Duration,
    min: Duration,
    max: Duration,
    expected: u32,
    /// The first suspector, then each member that confirmed: at most `expected + 1`
    /// (the default expects 2), kept inline and scanned. Most suspect news is a copy of
    /// news already applied, which looks here only to find its sender listed.
    confirmed_by: SmallVec<[NodeId; 3]>,
}

impl Suspicion {
    /// A suspicion raised at `started` by `first` (who does not count as a
    /// confirmation), expecting `expected` confirmations.
    pub(crate) fn new(
        started: Duration,
        first: NodeId,
        expected: u32,
        min: Duration,
        max: Duration,
    ) -> Suspicion {
        let mut confirmed_by = SmallVec::new();
        confirmed_by.push(first);
        Suspicion {
            started,
            min,
            max: max.max(min),
            expected,
            confirmed_by,
        }
    }

    /// Whether a confirmation by `from` would be new and counted.
    pub(crate) fn would_confirm(&self, from: NodeId) -> bool {
        self.confirmations() < self.expected && !self.confirmed_by.contains(&from)
    }

    /// Records an independent confirmation by `from`; true if it is new and counted
    /// (so the suspicion should be gossiped again and its deadline moved).
    pub(crate) fn confirm(&mut self, from: NodeId) -> bool {
        if !self.would_confirm(from) {
            return false;
        }
        self.confirmed_by.push(from);
        true
    }

    /// Confirmations so far (not counting the first suspector).
    pub(crate) fn confirmations(&self) -> u32 {
        (self.confirmed_by.len() as u32).saturating_sub(1)
    }

    /// The timeout for the current number of confirmations.
    pub(crate) fn timeout(&self) -> Duration {
        if self.expected == 0 {
            return self.min;
        }
        let c = f64::from(self.confirmations());
        let k = f64::from(self.expected);
        let fraction = ((c + 1.0).ln() / (k + 1.0).ln()).clamp(0.0, 1.0);
        let span = self.max.saturating_sub(self.min).as_secs_f64();
        self.max
            .saturating_sub(Duration::from_secs_f64(span * fraction))
            .max(self.min)
    }

    /// When the member is declared dead unless it refutes first.
    pub(crate) fn deadline(&self) -> Duration {
        self.started + self.timeout()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u64) -> NodeId {
        NodeId::new(n).unwrap()
    }

    #[test]
    fn shrinks_from_max_to_min_with_confirmations() {
        let s = Duration::from_secs;
        let mut sus = Suspicion::new(s(100), node(1), 3, s(4), s(24));
        assert_eq!(sus.deadline(), s(124));
        assert!(
            !sus.confirm(node(1)),
            "the first suspector is not a confirmation"
        );
        assert!(sus.confirm(node(2)));
        let one = sus.timeout();
        assert!(one < s(24) && one > s(4), "{one:?}");
        assert!(sus.confirm(node(3)));
        assert!(sus.confirm(node(4)));
        assert_eq!(sus.timeout(), s(4));
        assert!(!sus.confirm(node(5)), "no more than expected");
    }

    #[test]
    fn no_expected_confirmations_means_min() {
        let s = Duration::from_secs;
        let sus = Suspicion::new(s(0), node(1), 0, s(4), s(24));
        assert_eq!(sus.timeout(), s(4));
    }
}
