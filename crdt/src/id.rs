//! Node identities and dots: the names of events.

use std::fmt;
use std::num::NonZeroU64;

use serde::{Deserialize, Serialize};

/// A node's stable identity in the cluster. Never zero.
///
/// It is also the `ID` of the node's hybrid logical clock, so HLC timestamps of
/// different nodes never tie.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(NonZeroU64);

impl NodeId {
    /// Wraps a non-zero number; `None` for zero.
    pub const fn new(id: u64) -> Option<NodeId> {
        match NonZeroU64::new(id) {
            Some(id) => Some(NodeId(id)),
            None => None,
        }
    }

    /// The number behind this id.
    pub const fn get(self) -> u64 {
        self.0.get()
    }

    /// This id as a uhlc clock id.
    pub fn to_uhlc(self) -> uhlc::ID {
        uhlc::ID::from(self.0)
    }

    /// The node id behind a uhlc clock id, if it is one lattice made (at most 8 bytes).
    pub fn from_uhlc(id: &uhlc::ID) -> Option<NodeId> {
        let bytes = id.to_le_bytes();
        if bytes[8..].iter().any(|b| *b != 0) {
            return None;
        }
        let mut low = [0u8; 8];
        low.copy_from_slice(&bytes[..8]);
        NodeId::new(u64::from_le_bytes(low))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One event: the `seq`-th write made at node `origin` (sequence numbers start at 1).
///
/// Dots order by origin, then sequence number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dot {
    /// The node that made the write.
    pub origin: NodeId,
    /// The write's position in `origin`'s own history, from 1.
    pub seq: u64,
}

impl Dot {
    /// The dot of the `seq`-th write of `origin`.
    pub const fn new(origin: NodeId, seq: u64) -> Dot {
        Dot { origin, seq }
    }

    /// The dot `n` writes after this one at the same origin, or `None` on overflow.
    pub fn advance(self, n: u64) -> Option<Dot> {
        Some(Dot::new(self.origin, self.seq.checked_add(n)?))
    }
}

impl fmt::Debug for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}:{}", self.origin, self.seq)
    }
}
