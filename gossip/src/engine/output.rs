//! What the engine hands to its driver: messages to send, events, counters.

use std::sync::Arc;

use lattice_crdt::NodeId;

/// How a message should travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Small, loss-tolerant (probes, acks, gossip): a QUIC datagram; at most
    /// `datagram_bytes_max` bytes.
    Datagram,
    /// Bulk (payloads, membership sync): a reliable stream; at most `stream_bytes_max`.
    Stream,
}

/// A message for the driver to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit<A> {
    /// Where to.
    pub to: A,
    /// The encoded message, to be handed unchanged to the peer's
    /// [`Engine::handle_message`](super::Engine::handle_message).
    pub bytes: Vec<u8>,
    /// How to send it.
    pub kind: Kind,
}

/// Something the application (the node core) should know.
///
/// Membership events form, per member, a log of state changes: replaying them gives the
/// state [`Engine::members`](super::Engine::members) reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Event<A> {
    /// A member became alive: joined, refuted a suspicion, came back from dead, or
    /// changed address.
    MemberUp {
        /// The member.
        id: NodeId,
        /// Its address.
        addr: A,
    },
    /// A member missed a probe and is suspected.
    MemberSuspect {
        /// The member.
        id: NodeId,
        /// Its address.
        addr: A,
    },
    /// A member was declared dead.
    MemberDown {
        /// The member.
        id: NodeId,
        /// Its address.
        addr: A,
    },
    /// A member left gracefully.
    MemberLeft {
        /// The member.
        id: NodeId,
        /// Its address.
        addr: A,
    },
    /// A dead or left member was forgotten.
    MemberReaped {
        /// The member.
        id: NodeId,
        /// Its address.
        addr: A,
    },
    /// A disseminated payload new to this node: deliver it once.
    Payload {
        /// The dedup id the broadcaster chose.
        id: [u8; 16],
        /// The payload (shared with the copy this node pushes on).
        bytes: Arc<[u8]>,
        /// Transmissions it took to get here from the broadcaster (1 = directly).
        hops: u16,
        /// The member that handed it over (its broadcaster only when `hops` is 1), and
        /// its address: the one to name should the payload be refused.
        from: (NodeId, A),
    },
    /// Time for anti-entropy with this live member.
    AntiEntropy {
        /// The partner's id and address.
        peer: (NodeId, A),
    },
}

/// Counters since the engine was created. All only grow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Messages handed to the driver.
    pub messages_sent: u64,
    /// Bytes handed to the driver.
    pub bytes_sent: u64,
    /// Messages received (valid or not).
    pub messages_received: u64,
    /// Bytes received (valid or not).
    pub bytes_received: u64,
    /// Membership updates piggybacked on the messages received and checked (news or
    /// not: each is compared with the member table).
    pub updates_received: u64,
    /// Messages refused by `handle_message`.
    pub malformed_dropped: u64,
    /// Messages not queued because the transmit queue was full.
    pub transmits_dropped: u64,
    /// Events not queued because the event queue was full.
    pub events_dropped: u64,
    /// Direct probes sent.
    pub probes: u64,
    /// Indirect probe requests sent.
    pub indirect_probes: u64,
    /// Nacks received from indirect probers.
    pub nacks_received: u64,
    /// Suspicions this node raised itself.
    pub suspicions: u64,
    /// Suspicions of this node it refuted.
    pub refutations: u64,
    /// Members this node declared dead by suspicion timeout.
    pub declared_dead: u64,
    /// Payloads broadcast from here.
    pub payloads_broadcast: u64,
    /// Payloads received that were new here (and delivered).
    pub payloads_delivered: u64,
    /// Whole payload copies pushed to peers (first pushes and forwards).
    pub payloads_sent: u64,
    /// Payload ids offered to peers (a payload's rounds after its first).
    pub payload_ids_offered: u64,
    /// Whole payload copies sent because a peer asked for an offered id.
    pub payloads_pulled: u64,
    /// Payloads received that were already seen.
    pub payload_duplicates: u64,
    /// Payloads that stopped early because the push queue was full.
    pub payloads_evicted: u64,
    /// Payloads too large for one stream message, left to anti-entropy.
    pub payloads_too_large: u64,
    /// Members not added because `members_max` was reached.
    pub members_refused: u64,
    /// Full syncs asked of a member heard from because none had come in since start
    /// (the join reached no seed).
    pub syncs_asked: u64,
}
