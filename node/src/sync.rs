//! Anti-entropy between two replicas: the messages and what a replica does with them.
//!
//! A node that wants to repair with a peer sends a [`SyncMessage::Digest`] of its
//! version vector. The peer answers with the log records the sender lacks (bounded; the
//! sender asks again while `complete` is false), or, when its log was pruned below the
//! sender's needs, with snapshot pages that the sender pulls one by one. A digest that
//! starts an exchange also tells the receiver what it lacks itself, so it sends its own
//! digest back (one that asks for no digest in return) when the sender has dots it does
//! not: one exchange repairs both directions. The serving side keeps no state per peer
//! (a snapshot's base version vector and cursor travel in the messages).
//!
//! The answer to a digest leaves out the records the caller says dissemination is still
//! pushing (the node core names those its gossip engine has not finished with): they
//! are on their way, and otherwise the periodic exchanges would fetch a second copy of
//! a good part of all fresh records. An `urgent` digest, sent for a client session
//! waiting on dots, is answered in full.

use lattice_crdt::{codec, Dot, VersionVector, NTP64};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::replica::{ApplyError, CatchUp, Replica, SnapshotPage};
use crate::store::{Store, StoreError};

/// Bounds on anti-entropy answers.
#[derive(Clone, Copy, Debug)]
pub struct SyncLimits {
    /// Log records per answer (default 256).
    pub records_max: usize,
    /// Documents per snapshot page (default 64).
    pub snapshot_docs_max: usize,
    /// Largest encoded message accepted, in bytes (default 16 MiB).
    pub message_bytes_max: usize,
}

impl Default for SyncLimits {
    fn default() -> Self {
        SyncLimits {
            records_max: 256,
            snapshot_docs_max: 64,
            message_bytes_max: 16 << 20,
        }
    }
}

/// A message of the anti-entropy exchange.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SyncMessage {
    /// "This is what I have; send me what I lack."
    Digest {
        /// The sender's version vector.
        vv: VersionVector,
        /// Records that dissemination is still pushing are wanted too (a client session
        /// waits on them); otherwise they are left out.
        urgent: bool,
        /// The start of an exchange: answer with your own digest too if this one shows
        /// dots you lack. A digest sent in answer, or to ask for more, sets it false, so
        /// that two nodes never trade digests back and forth.
        echo: bool,
    },
    /// Log records the receiver lacks.
    Records {
        /// Encoded log records.
        records: Vec<Vec<u8>>,
        /// False when more remain: the receiver digests again.
        complete: bool,
    },
    /// One page of a snapshot.
    Snapshot {
        /// The server's version vector before its first page.
        base: VersionVector,
        /// The cursor this page was read from.
        after: Option<String>,
        /// The page.
        docs: Vec<(String, Vec<u8>)>,
        /// The cursor of the next page, if any.
        next: Option<String>,
    },
    /// "Send the snapshot page after this cursor."
    SnapshotNext {
        /// The base the snapshot started from.
        base: VersionVector,
        /// The cursor.
        after: String,
    },
}

/// Why an anti-entropy message was refused. The replica may have applied a prefix of a
/// `Records` message (each record is applied or not, whole).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The bytes are not a sync message.
    #[error("undecodable sync message: {0}")]
    Decode(#[from] codec::DecodeError),
    /// A record or snapshot page was refused.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncMessage {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes a message from a peer.
    pub fn decode(bytes: &[u8], limits: &SyncLimits) -> Result<SyncMessage, SyncError> {
        Ok(codec::decode(bytes, limits.message_bytes_max)?)
    }
}

/// What handling a message produced.
#[derive(Debug, Default, PartialEq)]
pub struct SyncOutcome {
    /// Messages to send back to the peer.
    pub replies: Vec<SyncMessage>,
    /// Records applied (new to this replica).
    pub applied: usize,
}

impl<S: Store> Replica<S> {
    /// The digest that starts an exchange.
    pub fn digest(&self) -> SyncMessage {
        self.digest_of(false, true)
    }

    /// The digest that asks a peer for everything this replica lacks at once, records
    /// still being disseminated included: for a client session waiting on them.
    pub fn urgent_digest(&self) -> SyncMessage {
        self.digest_of(true, true)
    }

    fn digest_of(&self, urgent: bool, echo: bool) -> SyncMessage {
        SyncMessage::Digest {
            vv: self.version_vector().clone(),
            urgent,
            echo,
        }
    }

    /// Handles an anti-entropy message from a peer at local wall time `now`; the answer
    /// to a digest that is not urgent leaves out the records whose first dot `pushing`
    /// names. Changes are durable after the next sync.
    pub fn handle_sync(
        &mut self,
        now: NTP64,
        message: SyncMessage,
        limits: &SyncLimits,
        pushing: &dyn Fn(Dot) -> bool,
    ) -> Result<SyncOutcome, SyncError> {
        let mut out = SyncOutcome::default();
        match message {
            SyncMessage::Digest { vv, urgent, echo } => {
                let withhold: &dyn Fn(Dot) -> bool = if urgent { &|_| false } else { pushing };
                out.replies.push(self.answer_digest(&vv, limits, withhold)?);
                if echo && !self.version_vector().includes(&vv) {
                    out.replies.push(self.digest_of(false, false));
                }
            }
            SyncMessage::Records { records, complete } => {
                for record in records {
                    if self.apply_remote(now, record)? == crate::replica::Applied::New {
                        out.applied += 1;
                    }
                }
                if !complete {
                    out.replies.push(self.digest_of(false, false));
                }
            }
            SyncMessage::Snapshot {
                base,
                after,
                docs,
                next,
            } => {
                let page = SnapshotPage { docs, next };
                self.apply_snapshot_page(now, &base, after.as_deref(), &page)?;
                match page.next {
                    Some(after) => out.replies.push(SyncMessage::SnapshotNext { base, after }),
                    None => {
                        self.finish_snapshot(&base);
                        out.replies.push(self.digest_of(false, false));
                    }
                }
            }
            SyncMessage::SnapshotNext { base, after } => {
                out.replies
                    .push(self.snapshot_message(base, Some(after), limits)?);
            }
        }
        Ok(out)
    }

    fn answer_digest(
        &self,
        peer: &VersionVector,
        limits: &SyncLimits,
        withhold: &dyn Fn(Dot) -> bool,
    ) -> Result<SyncMessage, StoreError> {
        match self.catch_up_except(peer, limits.records_max, withhold)? {
            CatchUp::Records { records, complete } => {
                Ok(SyncMessage::Records { records, complete })
            }
            // The pages come from the store, so the base the peer adopts must be what
            // the store holds, not the version vector with this round's staged changes.
            CatchUp::SnapshotNeeded => self.snapshot_message(self.stored_version()?, None, limits),
        }
    }

    fn snapshot_message(
        &self,
        base: VersionVector,
        after: Option<String>,
        limits: &SyncLimits,
    ) -> Result<SyncMessage, StoreError> {
        let page = self.snapshot_page(after.as_deref(), limits.snapshot_docs_max)?;
        Ok(SyncMessage::Snapshot {
            base,
            after,
            docs: page.docs,
            next: page.next,
        })
    }
}
