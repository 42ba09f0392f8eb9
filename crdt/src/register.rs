//! The last-writer-wins register of a JSON value, ordered by HLC timestamp.
//!
//! A write replaces every value the writer had seen; writes that did not see each other
//! both stay in the store, and the register reads as the one with the largest
//! timestamp. Because a node's HLC moves past every timestamp it has seen, a write that
//! follows another causally also has the larger timestamp, so the read is always "the
//! write with the largest timestamp". Timestamps embed the node id, so they never tie.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use uhlc::{Timestamp, NTP64};

use crate::dot_store::{Causal, DotFun};
use crate::{Dot, Json, NodeId, VersionVector};

/// A value with the HLC timestamp of its write. Orders by timestamp, then value.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(into = "StampedWire", from = "StampedWire")]
pub struct Stamped {
    /// When the value was written.
    pub timestamp: Timestamp,
    /// The value written.
    pub value: Json,
}

impl PartialOrd for Stamped {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Stamped {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.timestamp, &self.value).cmp(&(other.timestamp, &other.value))
    }
}

#[derive(Serialize, Deserialize)]
struct StampedWire(u64, NodeId, Json);

impl From<Stamped> for StampedWire {
    fn from(s: Stamped) -> Self {
        let node =
            NodeId::from_uhlc(s.timestamp.get_id()).expect("lattice timestamps carry node ids");
        StampedWire(s.timestamp.get_time().0, node, s.value)
    }
}

impl From<StampedWire> for Stamped {
    fn from(StampedWire(time, node, value): StampedWire) -> Self {
        Stamped {
            timestamp: Timestamp::new(NTP64(time), node.to_uhlc()),
            value,
        }
    }
}

/// The dot store of a register: the dots of the writes no other write has replaced.
pub type RegisterStore = DotFun<Stamped>;

/// A last-writer-wins register, or a delta of one.
pub type LwwRegister = Causal<RegisterStore>;

impl RegisterStore {
    /// The winning write: the one with the largest timestamp.
    pub fn winner(&self) -> Option<&Stamped> {
        self.entries().iter().map(|(_, s)| s).max()
    }

    /// Every timestamp in the store (what a replica feeds its HLC on receipt).
    pub fn timestamps(&self) -> impl Iterator<Item = &Timestamp> + '_ {
        self.entries().iter().map(|(_, s)| &s.timestamp)
    }

    /// The delta of writing `value` at `timestamp` with the fresh dot `dot`.
    ///
    /// # Panics
    /// If `timestamp` was not made by a lattice [`Hlc`](crate::Hlc) (its id is not a
    /// node id).
    pub(crate) fn set_delta(&self, dot: Dot, timestamp: Timestamp, value: Json) -> LwwRegister {
        assert!(
            NodeId::from_uhlc(timestamp.get_id()).is_some(),
            "register timestamps come from a lattice HLC"
        );
        let mut context: VersionVector = self.entries().iter().map(|(d, _)| *d).collect();
        context.insert(dot);
        Causal {
            store: RegisterStore::single(dot, Stamped { timestamp, value }),
            context,
        }
    }
}

impl LwwRegister {
    /// The current value, if any write is live.
    pub fn value(&self) -> Option<&Json> {
        self.store.winner().map(|s| &s.value)
    }

    /// Writes `value` with the fresh dot `dot` at HLC time `timestamp` (from a lattice
    /// [`Hlc`](crate::Hlc), or this panics). Returns the delta.
    pub fn set(&mut self, dot: Dot, timestamp: Timestamp, value: Json) -> LwwRegister {
        let delta = self.store.set_delta(dot, timestamp, value);
        // Our own write replaces every entry we hold (the law suite checks this agrees
        // with joining the delta).
        self.store = delta.store.clone();
        self.context.insert(dot);
        delta
    }
}
