//! The hybrid logical clock: lattice's update rule over uhlc's types.
//!
//! A timestamp is `(time, node)`: `time` is an NTP64 instant that stays close to the
//! physical clock but never goes backwards, `node` breaks ties, so the order is total.
//! The clock never reads a clock itself: every call takes `now` from its caller.

use std::time::Duration;

use thiserror::Error;
use uhlc::{Timestamp, NTP64};

use crate::NodeId;

/// The default bound on how far a remote timestamp may run ahead of the local clock.
pub const MAX_DRIFT_DEFAULT: Duration = Duration::from_millis(500);

/// Why a remote timestamp was refused. The clock is unchanged in every case.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HlcError {
    /// The remote timestamp is further ahead of `now` than the configured maximum drift.
    #[error(
        "timestamp {:?} ahead of the local clock; the maximum drift is {:?} (the writer's clock runs ahead, or this one behind)",
        Duration::from_nanos(*ahead_ns),
        Duration::from_nanos(*max_drift_ns)
    )]
    DriftExceeded {
        /// The refused timestamp's time, in NTP64 units.
        remote: NTP64,
        /// How far ahead of `now` it is, in nanoseconds.
        ahead_ns: u64,
        /// The configured bound, in nanoseconds.
        max_drift_ns: u64,
    },
    /// The timestamp's id is not a lattice node id.
    #[error("timestamp id {0} is not a lattice node id")]
    ForeignId(uhlc::ID),
}

/// A hybrid logical clock owned by one node.
///
/// Invariant: every timestamp [`tick`](Hlc::tick) returns is strictly greater than every
/// timestamp this clock returned or [`observe`](Hlc::observe)d before, whatever `now` says.
#[derive(Debug, Clone)]
pub struct Hlc {
    node: NodeId,
    last: NTP64,
    max_drift: NTP64,
}

impl Hlc {
    /// A clock for `node` that refuses remote timestamps more than `max_drift` ahead.
    pub fn new(node: NodeId, max_drift: Duration) -> Hlc {
        Hlc::resume(node, max_drift, NTP64(0))
    }

    /// A clock that resumes after a restart: it never returns a time at or below
    /// `high_water`, the last time the previous incarnation returned or observed.
    pub fn resume(node: NodeId, max_drift: Duration, high_water: NTP64) -> Hlc {
        Hlc {
            node,
            last: high_water,
            max_drift: NTP64::from(max_drift),
        }
    }

    /// The node this clock stamps for.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The high-water mark: the largest time returned or observed so far. Persist it to
    /// [`resume`](Hlc::resume) after a restart.
    pub fn high_water(&self) -> NTP64 {
        self.last
    }

    /// A new timestamp for a local event at physical time `now`.
    ///
    /// # Panics
    /// If the clock's time has reached `u64::MAX` NTP64 units (the year 2106), which
    /// [`observe`](Hlc::observe)'s drift bound keeps remote input from causing.
    pub fn tick(&mut self, now: NTP64) -> Timestamp {
        let next = self.last.0.checked_add(1).expect("HLC time exhausted");
        self.last = NTP64(now.0.max(next));
        Timestamp::new(self.last, self.node.to_uhlc())
    }

    /// Takes in a timestamp received from another node at physical time `now`, so the
    /// next local tick is greater than it.
    pub fn observe(&mut self, remote: &Timestamp, now: NTP64) -> Result<(), HlcError> {
        self.check(remote, now)?;
        self.last = self.last.max(*remote.get_time());
        Ok(())
    }

    /// Checks a remote timestamp without taking it in: the validation half of
    /// [`observe`](Hlc::observe).
    pub fn check(&self, remote: &Timestamp, now: NTP64) -> Result<(), HlcError> {
        if NodeId::from_uhlc(remote.get_id()).is_none() {
            return Err(HlcError::ForeignId(*remote.get_id()));
        }
        let time = *remote.get_time();
        let limit = NTP64(now.0.saturating_add(self.max_drift.0));
        if time > limit {
            return Err(HlcError::DriftExceeded {
                remote: time,
                ahead_ns: NTP64(time.0 - now.0).as_nanos(),
                max_drift_ns: self.max_drift.as_nanos(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u64) -> NodeId {
        NodeId::new(n).unwrap()
    }

    #[test]
    fn ticks_strictly_increase_when_the_wall_clock_stalls_or_goes_back() {
        let mut hlc = Hlc::new(node(1), MAX_DRIFT_DEFAULT);
        let a = hlc.tick(NTP64(1000));
        let b = hlc.tick(NTP64(1000));
        let c = hlc.tick(NTP64(10));
        assert!(a < b && b < c, "{a:?} {b:?} {c:?}");
        let d = hlc.tick(NTP64(5000));
        assert_eq!(*d.get_time(), NTP64(5000));
    }

    #[test]
    fn observing_a_remote_time_moves_the_next_tick_past_it() {
        let mut a = Hlc::new(node(1), Duration::from_secs(1));
        let mut b = Hlc::new(node(2), Duration::from_secs(1));
        let now = NTP64::from(Duration::from_secs(100));
        let ahead = NTP64::from(Duration::from_millis(100_500));
        let remote = a.tick(ahead);
        b.observe(&remote, now).unwrap();
        assert!(b.tick(now) > remote);
    }

    #[test]
    fn a_remote_time_beyond_the_drift_bound_is_refused_and_changes_nothing() {
        let mut a = Hlc::new(node(1), Duration::from_secs(10));
        let mut b = Hlc::new(node(2), Duration::from_millis(100));
        let now = NTP64::from(Duration::from_secs(100));
        let remote = a.tick(NTP64::from(Duration::from_secs(101)));
        let before = b.high_water();
        let err = b.observe(&remote, now).unwrap_err();
        assert!(matches!(err, HlcError::DriftExceeded { .. }), "{err}");
        assert_eq!(b.high_water(), before);
        // Said in time units a person reads, not as raw clock words.
        let said = err.to_string();
        assert!(
            said.starts_with("timestamp 1s ahead of the local clock; the maximum drift is 100ms"),
            "{said}"
        );
    }

    #[test]
    fn resume_never_goes_below_the_high_water_mark() {
        let mut hlc = Hlc::new(node(1), MAX_DRIFT_DEFAULT);
        let last = hlc.tick(NTP64(9_000));
        let mut resumed = Hlc::resume(node(1), MAX_DRIFT_DEFAULT, hlc.high_water());
        assert!(resumed.tick(NTP64(1)) > last);
    }
}
