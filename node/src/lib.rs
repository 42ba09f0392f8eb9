//! lattice-node: one node's replica — its durable store, write path, delta log, and the
//! session tokens that give clients read-your-writes across nodes.
//!
//! - [`store`]: the [`Store`](store::Store) trait, [`SledStore`](store::SledStore) on
//!   disk and [`MemStore`](store::MemStore) in memory (with a crash model);
//! - [`Replica`]: the sans-IO core — local writes (validated, stamped by the HLC, given
//!   dots, logged, acknowledged after a group-commit sync), remote records (validated,
//!   applied idempotently), write receipts that make client retries apply once, catch-up
//!   and snapshots for peers, log pruning, restart;
//! - [`SessionToken`]: a session's causal past as a compact URL-safe string;
//! - [`runtime`]: the thread that owns a replica and group-commits its writes;
//! - [`SyncMessage`]: anti-entropy between two replicas (digest, records, snapshots);
//! - [`NodeCore`]: the replica and the gossip engine as one sans-IO state machine;
//!   [`NodeMeta`]: what a node announces about itself (its HTTP address).
//!
//! It sits on lattice-crdt (the data types) and lattice-gossip (membership), and under
//! the HTTP API and the simulator.

#![deny(missing_docs)]

mod core;
mod key;
mod log;
mod meta;
mod replica;
pub mod runtime;
pub mod store;
mod sync;
mod token;

pub use core::{
    Channel, CommitConfig, FrameError, NodeConfig, NodeCore, NodeEvent, NodeStats, PruneConfig,
    Readiness, EVENTS_MAX,
};
pub use key::{validate_key, KeyError, KEY_BYTES_MAX};
pub use log::{LogRecord, RecordError};
pub use meta::NodeMeta;
pub use replica::{
    Applied, ApplyError, CatchUp, Changes, Read, ReadError, Replica, ReplicaConfig, Retry,
    SnapshotPage, Synced, Ticket, WriteError, Written,
};
pub use sync::{SyncError, SyncLimits, SyncMessage, SyncOutcome};
pub use token::{SessionToken, TokenError, TOKEN_CHARS_MAX};
