//! The node core: one replica and one gossip engine joined into a single sans-IO state
//! machine, driven alike by the production runtime and the simulator.
//!
//! Every frame a node sends starts with a channel byte: [`Channel::Gossip`] frames go to
//! the membership engine, [`Channel::Sync`] frames carry anti-entropy
//! ([`SyncMessage`]). The core wires the two together:
//!
//! - writes are staged in the replica; after [`NodeCore::sync`] makes them durable, each
//!   write's log record is broadcast through the engine (its first dot is the dedup id).
//!   [`NodeCore::sync_due`] tells the driver when to sync: at once for a local write,
//!   within [`CommitConfig::peer_delay`] for changes from peers, which are durable at
//!   their origins already;
//! - a payload the engine delivers is a log record from a peer: the replica applies it
//!   (idempotently; a duplicate changes nothing);
//! - when the engine picks an anti-entropy partner, the core sends it a digest, and
//!   answers digests, records and snapshot pages from peers, so whatever dissemination
//!   lost is repaired and restarted nodes catch up.
//!
//! Two clocks come in with every input: `now` (monotonic, for the engine's timers) and
//! `wall` (NTP64 wall-clock time, for the replica's HLC).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use lattice_crdt::{codec, Dot, NodeId, Op, VersionVector, NTP64};
use lattice_gossip::engine::{
    Address, Config as GossipConfig, Engine, Event, Kind, MemberInfo, MemberState, MetaTooLong,
    Transmit,
};
use thiserror::Error;

use crate::meta::NodeMeta;
use crate::replica::{Read, ReadError, Replica, ReplicaConfig, Retry, Synced, WriteError, Written};
use crate::store::{Store, StoreError};
use crate::sync::{SyncError, SyncLimits, SyncMessage};
use crate::token::SessionToken;

/// The first byte of every frame between nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Channel {
    /// Membership and dissemination, for the gossip engine.
    Gossip = 0,
    /// Anti-entropy between replicas.
    Sync = 1,
}

/// Settings of a node core.
#[derive(Clone, Debug, Default)]
pub struct NodeConfig {
    /// The replica's settings.
    pub replica: ReplicaConfig,
    /// The membership engine's settings.
    pub gossip: GossipConfig,
    /// Bounds on anti-entropy answers.
    pub sync: SyncLimits,
    /// When the delta log is pruned.
    pub prune: PruneConfig,
    /// When staged changes are made durable.
    pub commit: CommitConfig,
}

/// When staged changes are made durable (see [`NodeCore::sync_due`]).
#[derive(Clone, Copy, Debug)]
pub struct CommitConfig {
    /// How long changes that no client waits for (records from peers, anti-entropy
    /// repairs, pruning, expired receipts) may stay staged before a sync is due
    /// (default 100 ms). A local write is due at once, and its sync takes them along.
    /// A node that mostly takes in other nodes' writes then syncs a few times a second
    /// instead of once per record; what a crash loses of them is durable at their
    /// origins and comes back by anti-entropy. The runtime also syncs at once when a
    /// read waits for durability or someone follows the node's changes.
    pub peer_delay: Duration,
    /// Bytes of such changes past which a sync is due at once (default 1 MiB): a bound
    /// on what they hold in memory.
    pub peer_bytes_max: usize,
}

impl Default for CommitConfig {
    fn default() -> Self {
        CommitConfig {
            peer_delay: Duration::from_millis(100),
            peer_bytes_max: 1 << 20,
        }
    }
}

/// When the delta log is pruned (see [`NodeCore::handle_timeout`]).
#[derive(Clone, Copy, Debug)]
pub struct PruneConfig {
    /// How often the node prunes (default 10 s).
    pub interval: Duration,
    /// Log records deleted per pass, at most (default 4,096): each pass is one batch.
    pub records_per_pass: usize,
    /// Per origin, how many of the latest dots stay in the log whatever the members
    /// hold (default 1,000,000): offline clients (`changes_since`) and members that
    /// were away catch up from the log within this; beyond it they need a snapshot or
    /// a fresh listing. The log then takes about this many records per writing node.
    pub retain_dots: u64,
}

impl Default for PruneConfig {
    fn default() -> Self {
        PruneConfig {
            interval: Duration::from_secs(10),
            records_per_pass: 4096,
            retain_dots: 1_000_000,
        }
    }
}

/// Why a frame from a peer was dropped. Counted; nothing else changed, except that a
/// `Records` answer may have been applied in part (each record whole or not at all).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame is empty or names no known channel.
    #[error("frame with unknown channel")]
    Channel,
    /// The gossip engine refused the frame.
    #[error("gossip frame: {0}")]
    Gossip(String),
    /// The anti-entropy message was refused.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

/// Something the driver or the application should know.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeEvent<A> {
    /// Membership changed.
    Membership(Event<A>),
    /// A record that dissemination brought from a peer was refused; nothing changed.
    /// (A refused frame is the caller's error from the call that handed it over.)
    Refused {
        /// The peer that handed the record over (not necessarily its origin).
        from: A,
        /// Why.
        reason: String,
    },
}

/// Counters of what the core did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Records received by dissemination and new here.
    pub deltas_applied: u64,
    /// Records received by dissemination that were already here.
    pub deltas_duplicate: u64,
    /// Records broadcast after a local write became durable.
    pub deltas_sent: u64,
    /// Records applied by anti-entropy (repairs).
    pub repairs: u64,
    /// Anti-entropy exchanges started.
    pub exchanges: u64,
    /// Frames dropped as malformed or refused.
    pub frames_refused: u64,
    /// Records brought by dissemination that the replica refused (each also a
    /// [`NodeEvent::Refused`]).
    pub records_refused: u64,
    /// Log records pruned.
    pub records_pruned: u64,
    /// Syncs that made staged changes durable (group commits).
    pub syncs: u64,
    /// Events not queued because [`EVENTS_MAX`] were waiting.
    pub events_dropped: u64,
}

/// A node: replica plus membership. See the module doc.
#[derive(Debug)]
pub struct NodeCore<S, A> {
    replica: Replica<S>,
    gossip: Engine<A>,
    limits: SyncLimits,
    prune: PruneConfig,
    /// When the next pruning pass is due.
    next_prune: Duration,
    outbox: VecDeque<Transmit<A>>,
    events: VecDeque<NodeEvent<A>>,
    stats: NodeStats,
    commit: CommitConfig,
    /// Whether anything is staged.
    dirty: bool,
    /// Whether a local write is staged (a sync is due at once).
    urgent: bool,
    /// Since when changes from peers (or the node's own housekeeping) are staged, and
    /// how many bytes of them.
    peer_since: Option<Duration>,
    peer_bytes: usize,
    /// When the next sweep of expired write receipts is due.
    next_receipt_sweep: Duration,
    /// When each peer was last asked for what a waiting session lacks.
    pulled: BTreeMap<NodeId, Duration>,
    /// Whether [`join`](NodeCore::join) was given seeds.
    seeded: bool,
    /// Each peer's last anti-entropy digest, as it came (the version vector in it,
    /// encoded): read only by pruning passes and the lag figures, and in a large cluster
    /// a tenth of the memory of the decoded vector (which has an entry per origin), per
    /// peer. Kept as received, a digest costs a copy instead of an encoding.
    peer_digests: BTreeMap<NodeId, Vec<u8>>,
    /// Whether a peer has answered one of our digests in full since this core started.
    caught_up: bool,
}

/// Whether a node is ready for clients: see [`NodeCore::readiness`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// It was started without seeds, or some other member is alive.
    pub joined: bool,
    /// It holds everything some live peer held when they last compared, or it knows of
    /// no other member at all (the first node of a cluster).
    pub caught_up: bool,
}

impl Readiness {
    /// Joined and caught up.
    pub fn is_ready(&self) -> bool {
        self.joined && self.caught_up
    }
}

/// How often one peer is asked again for what waiting sessions lack.
const PULL_INTERVAL: Duration = Duration::from_millis(100);

/// How often the core sweeps expired write receipts, and how many it looks at each time.
const RECEIPT_SWEEP_PERIOD: Duration = Duration::from_secs(1);
const RECEIPT_SWEEP_LEN: usize = 256;

/// Most events that may wait in [`NodeCore::poll_event`]; beyond it they are counted
/// ([`NodeStats::events_dropped`]) and dropped, so a driver that polls seldom, or a peer
/// sending refused records in bulk, costs a counter, not memory.
pub const EVENTS_MAX: usize = 4096;

impl<S: Store, A: Address> NodeCore<S, A> {
    /// A node over `replica`, reachable at `addr`, with a seeded engine.
    pub fn new(replica: Replica<S>, addr: A, config: NodeConfig, rng_seed: u64) -> Self {
        let gossip = Engine::new(replica.node(), addr, config.gossip, rng_seed);
        NodeCore {
            replica,
            gossip,
            limits: config.sync,
            prune: config.prune,
            next_prune: config.prune.interval,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            stats: NodeStats::default(),
            commit: config.commit,
            dirty: false,
            urgent: false,
            peer_since: None,
            peer_bytes: 0,
            next_receipt_sweep: Duration::ZERO,
            pulled: BTreeMap::new(),
            seeded: false,
            caught_up: false,
            peer_digests: BTreeMap::new(),
        }
    }

    /// The replica.
    pub fn replica(&self) -> &Replica<S> {
        &self.replica
    }

    /// Hands the replica back (a restart reopens its store).
    pub fn into_replica(self) -> Replica<S> {
        self.replica
    }

    /// The members this node knows of, with their state and phi.
    pub fn members(&self) -> impl Iterator<Item = MemberInfo<A>> + '_ {
        self.gossip.members()
    }

    /// What the core did so far.
    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// What the membership engine did so far.
    pub fn gossip_stats(&self) -> lattice_gossip::engine::Stats {
        self.gossip.stats()
    }

    /// Sets what this node announces about itself (before [`join`](NodeCore::join), or
    /// later to change it).
    pub fn set_meta(&mut self, meta: &NodeMeta) -> Result<(), MetaTooLong> {
        self.gossip.set_meta(meta.encode())
    }

    /// Joins the cluster through `seeds`.
    pub fn join(&mut self, now: Duration, seeds: &[A]) {
        self.seeded |= !seeds.is_empty();
        self.gossip.join(now, seeds);
    }

    /// Whether the node has joined and caught up since it started: the first time one
    /// of its anti-entropy digests is answered in full (every record the peer had, or
    /// the last page of its snapshot). A node started without seeds that knows of no
    /// other member is both. Load balancers should send clients to ready nodes; a node
    /// that is not ready still serves, with what it has.
    pub fn readiness(&self) -> Readiness {
        let knows_others = self.gossip.members().next().is_some();
        let alive = self.gossip.members().any(|m| m.state == MemberState::Alive);
        Readiness {
            joined: !self.seeded || alive,
            caught_up: self.caught_up || (!self.seeded && !knows_others),
        }
    }

    /// Leaves the cluster gracefully.
    pub fn leave(&mut self, now: Duration) {
        self.gossip.leave(now);
    }

    /// Stages a local write (acknowledge it after [`sync`](NodeCore::sync)).
    pub fn write(
        &mut self,
        wall: NTP64,
        key: &str,
        ops: &[Op],
        session: Option<&SessionToken>,
    ) -> Result<Written, WriteError> {
        let written = self.replica.write(wall, key, ops, session)?;
        self.stage_local();
        Ok(written)
    }

    /// Stages a local write that its client may retry ([`Replica::write_once`]).
    pub fn write_once(
        &mut self,
        wall: NTP64,
        key: &str,
        ops: &[Op],
        session: Option<&SessionToken>,
        retry: &Retry,
    ) -> Result<Written, WriteError> {
        let written = self.replica.write_once(wall, key, ops, session, retry)?;
        if !written.replayed {
            self.stage_local();
        }
        Ok(written)
    }

    /// Reads a document for a session.
    pub fn read(&self, key: &str, session: Option<&SessionToken>) -> Result<Read, ReadError> {
        self.replica.read(key, session)
    }

    /// Asks peers at once for the dots of `past` this node lacks, for a session waiting
    /// on them, rather than waiting for dissemination or the next anti-entropy round:
    /// sends an urgent digest (answered with every missing record, those dissemination is
    /// still pushing included) to each live origin of the missing dots — an origin holds all its own
    /// writes — or, when none of them is live, to one live member. Each peer is asked at
    /// most once per 100 ms, so callers may call this on every round while sessions wait.
    pub fn pull(&mut self, now: Duration, past: &VersionVector) {
        let missing = self.replica.version_vector().missing_ranges(past);
        if missing.is_empty() {
            return;
        }
        let live: Vec<(NodeId, A)> = self
            .gossip
            .members()
            .filter(|m| m.state == MemberState::Alive)
            .map(|m| (m.id, m.addr))
            .collect();
        self.pulled
            .retain(|id, _| live.iter().any(|(l, _)| l == id));
        let mut targets: Vec<&(NodeId, A)> = live
            .iter()
            .filter(|(id, _)| missing.iter().any(|r| r.origin == *id))
            .collect();
        if targets.is_empty() {
            // The member asked longest ago (never asked first): a rotation.
            targets.extend(live.iter().min_by_key(|(id, _)| self.pulled.get(id)));
        }
        for (id, addr) in targets {
            if self
                .pulled
                .get(id)
                .is_some_and(|t| now < *t + PULL_INTERVAL)
            {
                continue;
            }
            self.pulled.insert(*id, now);
            let digest = self.replica.urgent_digest();
            self.send_sync(addr.clone(), &digest);
        }
    }

    /// Replication lag: for each live member that has sent this node an anti-entropy
    /// digest, how many of the dots (writes' ops) this node holds that member lacked at
    /// its last digest. Digests arrive about every `members` anti-entropy intervals, so
    /// the figure may be that old; a member catching up shows it falling.
    pub fn replication_lag(&mut self) -> Vec<(NodeId, u64)> {
        self.live_peers();
        let ours = self.replica.version_vector();
        self.peer_digests
            .iter()
            .filter_map(|(id, bytes)| Some((id, peer_digest(bytes)?)))
            .map(|(id, theirs)| {
                let lacked = theirs.missing_ranges(ours);
                let dots = lacked
                    .iter()
                    .fold(0u64, |n, r| n.saturating_add(r.last - r.first + 1));
                (*id, dots)
            })
            .collect()
    }

    /// The live (alive or suspect) members; the digests of the others are forgotten.
    fn live_peers(&mut self) -> BTreeSet<NodeId> {
        let live: BTreeSet<NodeId> = self.gossip.reachable_ids().iter().copied().collect();
        self.peer_digests.retain(|id, _| live.contains(id));
        live
    }

    /// One pruning pass (see [`handle_timeout`](NodeCore::handle_timeout)).
    fn prune_log(&mut self, now: Duration) {
        let live = self.live_peers();
        if live.iter().any(|id| !self.peer_digests.contains_key(id)) {
            return;
        }
        let ours = self.replica.version_vector();
        // Per origin of ours, the prefix every live peer and we hold.
        let mut held: Vec<(NodeId, u64)> = ours.origins().map(|o| (o, ours.prefix(o))).collect();
        for bytes in self.peer_digests.values() {
            let Some(theirs) = peer_digest(bytes) else {
                return;
            };
            for (origin, prefix) in &mut held {
                *prefix = (*prefix).min(theirs.prefix(*origin));
            }
        }
        let mut stable = VersionVector::new();
        for (origin, held) in held {
            let cut = held.min(ours.max_seq(origin).saturating_sub(self.prune.retain_dots));
            if cut > 0 {
                stable.insert_range(origin, 1..=cut);
            }
        }
        // A store error here shows again at the next write or sync, which report it.
        if let Ok(pruned) = self.replica.prune_log(&stable, self.prune.records_per_pass) {
            self.stats.records_pruned += pruned as u64;
            if pruned > 0 {
                self.stage_peer(now, 0);
            }
        }
    }

    /// Whether anything is staged that a [`sync`](NodeCore::sync) would make durable.
    pub fn needs_sync(&self) -> bool {
        self.dirty
    }

    /// When a sync is due: `None` if nothing is staged; `Duration::ZERO` (due at once)
    /// when a local write is staged or the changes from peers reached
    /// [`CommitConfig::peer_bytes_max`]; otherwise [`CommitConfig::peer_delay`] after
    /// the first change from a peer. Syncing earlier is always allowed.
    pub fn sync_due(&self) -> Option<Duration> {
        if !self.dirty {
            return None;
        }
        if self.urgent || self.peer_bytes >= self.commit.peer_bytes_max {
            return Some(Duration::ZERO);
        }
        Some(self.peer_since.map_or(Duration::ZERO, |since| {
            since.saturating_add(self.commit.peer_delay)
        }))
    }

    /// A local write was staged.
    fn stage_local(&mut self) {
        self.dirty = true;
        self.urgent = true;
    }

    /// `bytes` of changes from peers (or of housekeeping) were staged at `now`.
    fn stage_peer(&mut self, now: Duration, bytes: usize) {
        self.dirty = true;
        self.peer_since.get_or_insert(now);
        self.peer_bytes = self.peer_bytes.saturating_add(bytes);
    }

    /// Makes everything staged durable, then broadcasts the local writes it covered.
    pub fn sync(&mut self, now: Duration) -> Result<Synced, StoreError> {
        let synced = self.replica.sync()?;
        self.stats.syncs += 1;
        self.dirty = false;
        self.urgent = false;
        self.peer_since = None;
        self.peer_bytes = 0;
        for record in &synced.records {
            self.gossip
                .broadcast(now, dedup_id(record.first), record.encode());
            self.stats.deltas_sent += 1;
        }
        Ok(synced)
    }

    /// Handles a frame from `from` over a network that does not prove who sent it: the
    /// sender is taken at its word, and an anti-entropy digest is credited to the member
    /// at `from`.
    pub fn handle_frame(
        &mut self,
        now: Duration,
        wall: NTP64,
        from: A,
        frame: &[u8],
    ) -> Result<(), FrameError> {
        self.handle_frame_from(now, wall, from, None, frame)
    }

    /// Handles a frame from `from`, whose transport proved it is node `peer` (its
    /// certificate names it): gossip claiming another sender is refused, so no member
    /// can speak for another in membership.
    pub fn handle_authenticated_frame(
        &mut self,
        now: Duration,
        wall: NTP64,
        from: A,
        peer: NodeId,
        frame: &[u8],
    ) -> Result<(), FrameError> {
        self.handle_frame_from(now, wall, from, Some(peer), frame)
    }

    fn handle_frame_from(
        &mut self,
        now: Duration,
        wall: NTP64,
        from: A,
        peer: Option<NodeId>,
        frame: &[u8],
    ) -> Result<(), FrameError> {
        let result = match frame.split_first() {
            Some((&c, body)) if c == Channel::Gossip as u8 => match peer {
                None => self.gossip.handle_message(now, from, body),
                Some(peer) => self.gossip.handle_authenticated(now, from, peer, body),
            }
            .map_err(|e| FrameError::Gossip(e.to_string())),
            Some((&c, body)) if c == Channel::Sync as u8 => {
                self.handle_sync_frame(now, wall, from, peer, body)
            }
            _ => Err(FrameError::Channel),
        };
        if result.is_err() {
            self.stats.frames_refused += 1;
        }
        self.drain_gossip(now, wall);
        result
    }

    /// Runs due timers; every second, a bounded sweep of expired write receipts; and
    /// every [`PruneConfig::interval`], a pruning pass of the delta log.
    ///
    /// Pruning deletes log records whose dots every live member holds (as their last
    /// anti-entropy digests say; no pruning while a live member has sent none) and that
    /// are older than the latest [`PruneConfig::retain_dots`] of their origin. Dead
    /// members are not waited for: one that comes back, like a peer asking for pruned
    /// records, gets a snapshot.
    pub fn handle_timeout(&mut self, now: Duration, wall: NTP64) {
        self.gossip.handle_timeout(now);
        self.drain_gossip(now, wall);
        if now >= self.next_prune {
            self.next_prune = now + self.prune.interval;
            self.prune_log(now);
        }
        if now >= self.next_receipt_sweep {
            self.next_receipt_sweep = now + RECEIPT_SWEEP_PERIOD;
            // A store error here shows again at the next write or sync, which report it.
            if let Ok(expired) = self.replica.expire_receipts(wall, RECEIPT_SWEEP_LEN) {
                if expired > 0 {
                    self.stage_peer(now, 0);
                }
            }
        }
    }

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit<A>> {
        if let Some(t) = self.outbox.pop_front() {
            return Some(t);
        }
        let mut t = self.gossip.poll_transmit()?;
        t.bytes.insert(0, Channel::Gossip as u8);
        Some(t)
    }

    /// When [`handle_timeout`](NodeCore::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.gossip.poll_timeout()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<NodeEvent<A>> {
        self.events.pop_front()
    }

    fn handle_sync_frame(
        &mut self,
        now: Duration,
        wall: NTP64,
        from: A,
        peer: Option<NodeId>,
        body: &[u8],
    ) -> Result<(), FrameError> {
        let message = SyncMessage::decode(body, &self.limits)?;
        let mut asker = None;
        if let SyncMessage::Digest { vv, .. } = &message {
            asker = peer.or_else(|| self.gossip.member_at(&from));
            if let Some(sender) = asker {
                self.peer_digests.insert(sender, body.to_vec());
            }
            self.replica.note_peer_version(vv);
        }
        let complete = matches!(
            message,
            SyncMessage::Records { complete: true, .. } | SyncMessage::Snapshot { next: None, .. }
        );
        // Only records and a snapshot's last page change the version vector; records do
        // exactly when one of them is new.
        let before = matches!(message, SyncMessage::Snapshot { .. })
            .then(|| self.replica.version_vector().clone());
        let gossip = &self.gossip;
        // Records dissemination still brings the asker are left to it.
        let pushing = |first: Dot| {
            let id = dedup_id(first);
            asker.map_or_else(|| gossip.is_pushing(&id), |a| gossip.is_pushing_to(&id, a))
        };
        let outcome = self
            .replica
            .handle_sync(wall, message, &self.limits, &pushing)?;
        let changed = outcome.applied > 0
            || before.is_some_and(|before| self.replica.version_vector() != &before);
        if changed {
            self.stage_peer(now, body.len());
        }
        self.stats.repairs += outcome.applied as u64;
        self.caught_up |= complete;
        for reply in outcome.replies {
            self.send_sync(from.clone(), &reply);
        }
        Ok(())
    }

    fn send_sync(&mut self, to: A, message: &SyncMessage) {
        let mut bytes = vec![Channel::Sync as u8];
        bytes.extend(message.encode());
        self.outbox.push_back(Transmit {
            to,
            bytes,
            kind: Kind::Stream,
        });
    }

    /// Acts on what the engine reported: payloads, anti-entropy partners, membership.
    fn drain_gossip(&mut self, now: Duration, wall: NTP64) {
        while let Some(event) = self.gossip.poll_event() {
            match event {
                Event::Payload { bytes, from, .. } => self.apply_payload(now, wall, from.1, bytes),
                Event::AntiEntropy { peer } => {
                    self.stats.exchanges += 1;
                    let digest = self.replica.digest();
                    self.send_sync(peer.1, &digest);
                }
                other => self.push_event(NodeEvent::Membership(other)),
            }
        }
    }

    /// Queues `event` for [`poll_event`](NodeCore::poll_event), within [`EVENTS_MAX`].
    fn push_event(&mut self, event: NodeEvent<A>) {
        if self.events.len() >= EVENTS_MAX {
            self.stats.events_dropped += 1;
        } else {
            self.events.push_back(event);
        }
    }

    /// Applies a record that dissemination brought from `from`; one the replica refuses
    /// (malformed, too large, stamped too far ahead of this node's clock) is counted and
    /// reported as [`NodeEvent::Refused`], and changes nothing.
    fn apply_payload(&mut self, now: Duration, wall: NTP64, from: A, bytes: Arc<[u8]>) {
        let len = bytes.len();
        match self.replica.apply_remote(wall, bytes) {
            Ok(crate::replica::Applied::New) => {
                self.stats.deltas_applied += 1;
                self.stage_peer(now, len);
            }
            Ok(crate::replica::Applied::Duplicate) => self.stats.deltas_duplicate += 1,
            Err(e) => {
                self.stats.records_refused += 1;
                let reason = e.to_string();
                self.push_event(NodeEvent::Refused { from, reason });
            }
        }
    }
}

/// The dissemination id of a record: its first dot, big-endian.
fn dedup_id(first: Dot) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&first.origin.get().to_be_bytes());
    id[8..].copy_from_slice(&first.seq.to_be_bytes());
    id
}

/// The version vector of a peer's digest as [`NodeCore`] keeps it; `None` should it
/// not decode (it decoded when it came, so never), and then it counts as not received.
fn peer_digest(bytes: &[u8]) -> Option<VersionVector> {
    match codec::decode(bytes, usize::MAX).ok()? {
        SyncMessage::Digest { vv, .. } => Some(vv),
        _ => None,
    }
}
