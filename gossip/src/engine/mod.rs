//! The membership and dissemination engine: SWIM with Lifeguard and phi-accrual, as a
//! sans-IO state machine.
//!
//! # Driving it
//!
//! Inputs are method calls that carry `now`, a monotonic [`Duration`] since an origin the
//! driver picks: [`Engine::join`], [`Engine::leave`], [`Engine::handle_message`],
//! [`Engine::handle_timeout`], [`Engine::broadcast`]. Outputs are pulled:
//! [`Engine::poll_transmit`] (messages, each marked [`Kind::Datagram`] or
//! [`Kind::Stream`]), [`Engine::poll_event`] (membership changes, new payloads,
//! anti-entropy partners) and [`Engine::poll_timeout`] (when to call `handle_timeout`
//! next). The engine never reads a clock and draws all randomness from the seed given to
//! [`Engine::new`], so a driver that replays inputs replays outputs bit for bit.
//!
//! # Protocol
//!
//! - **SWIM** (Das et al. 2002). Each protocol period the node pings one member, going
//!   round-robin through a shuffled list (new members are inserted at random positions).
//!   No ack within the direct timeout: `indirect_checks` members are asked to ping it
//!   (`PingReq`). No ack, direct or relayed, by the end of the period: the member becomes
//!   *suspect*. A suspect that does not refute (by raising its incarnation) within the
//!   suspicion timeout is declared *dead*. Membership news is piggybacked on every
//!   message, each item at most `retransmit_mult × ⌈log10(n + 1)⌉` times (never news
//!   that a member is alive to that member itself), and also sent every
//!   `gossip_interval` to `gossip_nodes` random members while any is pending.
//! - **Metadata** ([`Engine::set_meta`]) rides on a member's alive news. A node that
//!   knows a member only from the member's own messages (which carry none) asks it once
//!   with its metadata-less record, and the member answers with its own record; so
//!   metadata does not wait for a push–pull when the news of it went elsewhere. Only a
//!   node with metadata of its own asks.
//! - **Lifeguard** (Dadgar et al. 2018), switchable with [`Config::lifeguard`]: local
//!   health awareness (a score raised by missed acks without matching nacks and by
//!   refutations, lowered by acks; the probe interval and timeouts are multiplied by
//!   `score + 1`, at most `awareness_max`), relays answer `Nack` when the target is silent,
//!   suspicion timeouts start at `suspicion_max_timeout_mult × min` and shrink towards
//!   `min` as independent suspicions arrive (`max − (max − min)·log(C+1)/log(K+1)`), and
//!   every message to a suspect carries its suspicion so it can refute at once.
//! - **phi-accrual** (Hayashibara et al. 2004). Each member has two estimators over a
//!   window of `phi_window_samples`: one of *heartbeat* inter-arrival times (any message
//!   received from the member counts; arrivals closer than `gossip_interval` coalesce),
//!   whose phi of the current silence is what [`MemberInfo::phi`] reports; and one of
//!   *ack delays* of our direct pings. **How phi and SWIM combine:** the direct probe
//!   timeout for a member is the delay at which the ack-delay estimator's phi would cross
//!   `phi_threshold`, clamped to `[probe_timeout, probe_interval]` (just `probe_timeout`
//!   until 3 acks were measured), then multiplied by the Lifeguard health multiplier. The
//!   protocol period is extended if needed to leave the indirect probe a full
//!   (scaled) `probe_timeout`. So a member with slow but steady acks is not sent to
//!   indirect probing, and eventual suspicion, by a timeout sized for fast members; phi
//!   never declares anything dead by itself: suspicion and death stay SWIM's decisions.
//! - **Joining, healing, reaping.** [`Engine::join`] sends the seeds a full membership
//!   sync (push–pull); a seed answers with its own. Every `push_pull_interval` the node
//!   does the same with a random live member, repairing news that gossip lost; a node
//!   that knows no live member contacts a seed every protocol period. Every `rejoin_interval` one dead member
//!   and one seed that is not a live member are sent a sync too, so failed joins are
//!   retried and the two halves of a healed partition find each other: each side learns
//!   that the other declared it dead (a dead record about a live member is taken as a
//!   suspicion only) and refutes, and the refutations spread. A member dead or left for
//!   `reap_after` is reaped; its `(id, incarnation)` is kept for `tombstone_ttl`, and only
//!   news with a higher incarnation (which only the member itself creates, by refuting)
//!   brings it back, so stale gossip never resurrects a dead or left member. A member
//!   that sends us a message while we hold it dead, left or suspect is told so in our
//!   next message to it, and refutes.
//! - **Dissemination.** [`Engine::broadcast`] pushes a payload whole at once to
//!   `gossip_nodes` random live members; each node that finds it new delivers it once
//!   ([`Event::Payload`]). Each node pushes a payload for
//!   `payload_rounds_mult × ⌈log10(n + 1)⌉` gossip rounds: whole in the first (at once at
//!   the origin, in the next round elsewhere), then only its id; a member offered an id it
//!   has not seen asks for the payload (`Want`) and gets it whole. Each round, the node's
//!   `gossip_nodes` members get one message each with every payload and id they are not
//!   known to hold, so a node's messages per round stay at the fanout however many
//!   payloads are in flight. While the node knows no live member the rounds are not
//!   spent, so a payload broadcast while alone or cut off spreads once members appear.
//!   A single whole push per node ("infect and die") misses about e^(−fanout) of the
//!   nodes (5% at fanout 3); the offers bring that to well under one node in a thousand,
//!   and anti-entropy (the node core's job) repairs the rest. Once `payload_echoes_max`
//!   copies and offers of a payload have come back to a node, nearly all hold it, and
//!   the node stops pushing it before its rounds are done (counter-based stopping, as
//!   in Demers et al.'s rumor mongering): most offers of the last rounds reached only
//!   holders. Duplicates are dropped by a FIFO set of `seen_payloads_max` ids.
//! - **Stale suspicions.** Each gossip round the node reminds one member it holds
//!   suspect, in turn and each at most once per protocol period, of the suspicion; a
//!   node told that it is suspect or dead, at any incarnation, answers the sender at once
//!   (its message shows its current incarnation); and a member we hold suspect or dead
//!   that sends us a message is told so at once. So a suspicion whose refutation missed
//!   this node ends within about a protocol period instead of its timeout.
//!
//! Every queue is bounded (transmits, events, payloads in count and bytes, seen ids,
//! relays, members, tombstones) and every message size is checked before decoding.

mod awareness;
mod config;
mod index;
mod member;
mod membership;
mod message;
mod output;
mod payloads;
mod periodic;
mod phi;
mod probe;
mod receive;
mod rng;
mod send;
mod suspicion;
mod timers;
mod updates;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rustc_hash::FxHashMap;
use std::fmt::Debug;
use std::time::Duration;

use lattice_crdt::NodeId;
use serde::de::DeserializeOwned;
use serde::Serialize;
use thiserror::Error;

pub use config::{Config, ConfigError};
pub use member::{MemberInfo, MemberState};
pub use message::{MessageError, META_BYTES_MAX};
pub use output::{Event, Kind, Stats, Transmit};

use awareness::Awareness;
use index::MemberIndex;
use member::Member;
use message::{Body, Update};
use payloads::{HotQueue, SeenSet};
use probe::{Probe, Relay};
pub use rng::Rng;
use timers::{Timer, Timers};
use updates::UpdateQueue;

/// What the engine needs of an address: `SocketAddr` in production, a small integer in
/// the simulator. Addresses travel in membership news, hence serde.
pub trait Address: Clone + Ord + Debug + Serialize + DeserializeOwned {}

impl<T: Clone + Ord + Debug + Serialize + DeserializeOwned> Address for T {}

/// Most seed addresses kept.
const SEEDS_MAX: usize = 64;

/// Most timers run by one `handle_timeout` call (each re-arms in the future, so this is
/// only a guard against a broken invariant spinning forever).
const TIMERS_PER_CALL_MAX: usize = 100_000;

/// Where the engine is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Created; timers start with the first input.
    Idle,
    /// A member.
    Running,
    /// Left gracefully: no probing, no forwarding, no refuting.
    Left,
}

/// Metadata longer than [`META_BYTES_MAX`] was refused.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("member metadata of {0} bytes exceeds {META_BYTES_MAX}")]
pub struct MetaTooLong(pub usize);

/// A reaped member's last known incarnation, kept to fence off stale news, and where it
/// was, so that a member reaped while it was only cut off is still retried.
#[derive(Clone, Debug)]
struct Tombstone<A> {
    incarnation: u64,
    left: bool,
    expires: Duration,
    addr: A,
    /// When we last told it that we hold it dead.
    told_at: Option<Duration>,
}

/// One node's membership and dissemination state machine. See the module doc.
#[derive(Debug)]
pub struct Engine<A> {
    id: NodeId,
    addr: A,
    config: Config,
    incarnation: u64,
    /// What this node announces about itself ([`Engine::set_meta`]).
    meta: Vec<u8>,
    phase: Phase,
    /// The latest `now` seen.
    now: Duration,
    rng: Rng,
    /// The member table: looked up for every piggybacked update, so a hash table.
    /// Iterated only through `sorted_members`. A slot holds a member's state and
    /// incarnation and boxes the rest: a table of 1,000 has 2,048 slots, and an empty
    /// slot then takes 32 bytes instead of a member's 330.
    members: FxHashMap<NodeId, Member<A>>,
    /// Which members are reachable and since when the others are down, kept by
    /// [`Engine::emit`].
    index: MemberIndex,
    tombstones: BTreeMap<NodeId, Tombstone<A>>,
    seeds: Vec<A>,
    probe_order: Vec<NodeId>,
    /// The message being handled said this node is suspect, dead or left.
    doubted: bool,
    /// The message being handled showed its sender holds this node's record without
    /// its metadata (or with other metadata) at its incarnation.
    unheard: bool,
    /// The member whose next message from us carries our own record, because it showed
    /// it lacks our metadata.
    announce_to: Option<NodeId>,
    /// A member we know left that the message being handled showed its sender to hold
    /// as not left (news of it alive, suspect or dead, or a request to probe it).
    behind_on: Option<NodeId>,
    /// The member whose next message from us carries our record that a member left
    /// (the second field), because it showed it had missed the leave.
    correct: Option<(NodeId, NodeId)>,
    /// Whether a member's full membership (a sync, asked for or not) has come in since
    /// this node started. Until one does, the node asks the members it hears from for
    /// one (see [`Engine::ask_for_sync`]).
    synced: bool,
    /// When this node last asked for a sync while it has had none: when it joined, or
    /// when it last asked a member it heard from.
    sync_asked_at: Option<Duration>,
    /// Members this node holds suspect, to remind in turn while they stay so.
    suspects: VecDeque<NodeId>,
    /// The member held dead that was last reminded of it, where the next reminder
    /// starts looking.
    dead_reminded: Option<NodeId>,
    probe_next: usize,
    probe: Option<Probe>,
    next_seq: u32,
    relays: BTreeMap<u32, Relay<A>>,
    awareness: Awareness,
    updates: UpdateQueue<A>,
    /// Ids of the payloads seen. A payload in `hot` was seen whether or not `seen`
    /// still remembers it (it may be configured smaller), so ids are looked up in `hot`
    /// first: the one look most copies and offers need.
    seen: SeenSet,
    hot: HotQueue,
    timers: Timers,
    transmits: VecDeque<Transmit<A>>,
    events: VecDeque<Event<A>>,
    stats: Stats,
}

impl<A: Address> Engine<A> {
    /// A node `id` reachable at `addr`, with all randomness drawn from `rng_seed`.
    ///
    /// # Panics
    ///
    /// If `config` is invalid ([`Config::validate`]); use [`Engine::try_new`] to get
    /// the error instead.
    pub fn new(id: NodeId, addr: A, config: Config, rng_seed: u64) -> Self {
        match Self::try_new(id, addr, config, rng_seed) {
            Ok(engine) => engine,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`Engine::new`], but returns an invalid config as an error.
    pub fn try_new(
        id: NodeId,
        addr: A,
        config: Config,
        rng_seed: u64,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Engine {
            id,
            addr,
            incarnation: 0,
            meta: Vec::new(),
            phase: Phase::Idle,
            now: Duration::ZERO,
            rng: Rng::new(rng_seed),
            members: FxHashMap::default(),
            index: MemberIndex::default(),
            tombstones: BTreeMap::new(),
            seeds: Vec::new(),
            probe_order: Vec::new(),
            synced: false,
            sync_asked_at: None,
            suspects: VecDeque::new(),
            dead_reminded: None,
            doubted: false,
            unheard: false,
            announce_to: None,
            behind_on: None,
            correct: None,
            probe_next: 0,
            probe: None,
            next_seq: 0,
            relays: BTreeMap::new(),
            awareness: Awareness::new(config.awareness_max.get()),
            updates: UpdateQueue::default(),
            seen: SeenSet::new(config.seen_payloads_max),
            hot: HotQueue::new(config.payload_queue_max, config.payload_queue_bytes_max),
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            config,
        })
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// This node's address.
    pub fn addr(&self) -> &A {
        &self.addr
    }

    /// This node's incarnation (raised each time it refutes a suspicion).
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Sets what this node announces about itself to every member (its
    /// [`MemberInfo::meta`] elsewhere), for instance the address of a service it runs.
    /// Set it before [`join`](Engine::join); a change afterwards raises the incarnation so
    /// that it spreads like a refutation. Refused, changing nothing, beyond
    /// [`META_BYTES_MAX`] bytes.
    pub fn set_meta(&mut self, meta: Vec<u8>) -> Result<(), MetaTooLong> {
        if meta.len() > META_BYTES_MAX {
            return Err(MetaTooLong(meta.len()));
        }
        self.meta = meta;
        if self.phase != Phase::Idle {
            self.incarnation = self.incarnation.saturating_add(1);
            self.updates.push(self.self_update());
        }
        Ok(())
    }

    /// Lifeguard's local health score: 0 is healthy; timeouts are multiplied by
    /// `score + 1`.
    pub fn health_score(&self) -> u32 {
        self.awareness.score()
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Joins the cluster through `seeds` (their addresses; this node's own is ignored).
    /// With no seeds the node starts a cluster of its own and waits to be contacted.
    /// Seeds that do not answer are retried every `rejoin_interval` for as long as they
    /// are not live members. No effect after [`Engine::leave`].
    pub fn join(&mut self, now: Duration, seeds: &[A]) {
        self.enter(now);
        if self.phase == Phase::Left {
            return;
        }
        for seed in seeds {
            if *seed != self.addr && !self.seeds.contains(seed) && self.seeds.len() < SEEDS_MAX {
                self.seeds.push(seed.clone());
            }
        }
        self.updates.push(self.self_update());
        let contacts: Vec<A> = seeds
            .iter()
            .filter(|s| **s != self.addr)
            .take(SEEDS_MAX)
            .cloned()
            .collect();
        if !contacts.is_empty() {
            self.sync_asked_at = Some(self.now);
        }
        for seed in contacts {
            self.send_sync(seed, None, false);
        }
    }

    /// Leaves gracefully: tells `gossip_nodes` members at once and keeps gossiping the
    /// news on later `handle_timeout` calls (keep driving the engine for a few gossip
    /// intervals before dropping it). Others then see this node as
    /// [`MemberState::Left`]. Stops probing, forwarding and anti-entropy; final.
    pub fn leave(&mut self, now: Duration) {
        self.enter(now);
        if self.phase == Phase::Left {
            return;
        }
        self.phase = Phase::Left;
        self.probe = None;
        self.hot.clear();
        for timer in [
            Timer::ProbeDirect,
            Timer::ProbeEnd,
            Timer::AntiEntropy,
            Timer::Rejoin,
        ] {
            self.timers.cancel(timer);
        }
        self.updates.push(Update::Left {
            id: self.id,
            incarnation: self.incarnation,
        });
        self.gossip_updates();
    }

    /// Handles one message from `from` (the transport's peer address; replies go there).
    ///
    /// # Errors
    ///
    /// Bytes that are not a valid message are refused with a [`MessageError`]: counted
    /// in [`Stats::malformed_dropped`], nothing else changed. Never panics.
    pub fn handle_message(
        &mut self,
        now: Duration,
        from: A,
        bytes: &[u8],
    ) -> Result<(), MessageError> {
        self.handle_checked(now, from, None, bytes)
    }

    /// [`handle_message`](Engine::handle_message) from a peer whose transport proved it
    /// is node `peer` (its certificate names it): a message claiming another sender is
    /// refused with [`MessageError::Impostor`], so no cluster member can speak for
    /// another.
    pub fn handle_authenticated(
        &mut self,
        now: Duration,
        from: A,
        peer: NodeId,
        bytes: &[u8],
    ) -> Result<(), MessageError> {
        self.handle_checked(now, from, Some(peer), bytes)
    }

    fn handle_checked(
        &mut self,
        now: Duration,
        from: A,
        peer: Option<NodeId>,
        bytes: &[u8],
    ) -> Result<(), MessageError> {
        self.stats.messages_received += 1;
        self.stats.bytes_received += bytes.len() as u64;
        let checked = self.decode(bytes).and_then(|envelope| match peer {
            Some(peer) if envelope.sender != peer => Err(MessageError::Impostor {
                claimed: envelope.sender,
                certified: peer,
            }),
            _ => Ok(envelope),
        });
        let envelope = match checked {
            Ok(envelope) => envelope,
            Err(e) => {
                self.stats.malformed_dropped += 1;
                return Err(e);
            }
        };
        self.enter(now);
        self.receive(from, envelope);
        Ok(())
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.enter(now);
        for _ in 0..TIMERS_PER_CALL_MAX {
            match self.timers.pop_due(self.now) {
                Some(timer) => self.fire(timer),
                None => return,
            }
        }
    }

    /// Disseminates `payload` under the dedup key `id` (a payload whose id this node has
    /// seen is ignored). It is not delivered back to this node. A payload too large for
    /// one stream message (`stream_bytes_max` minus about 100 bytes) is not sent at all and
    /// is counted in [`Stats::payloads_too_large`]: anti-entropy carries it instead.
    /// No effect after [`Engine::leave`].
    pub fn broadcast(&mut self, now: Duration, id: [u8; 16], payload: Vec<u8>) {
        self.enter(now);
        self.start_broadcast(id, payload.into());
    }

    /// Whether this node is still pushing payload `id`: it broadcast or received it less
    /// than its dissemination rounds ago, so the members that lack it should have it
    /// within those rounds. Anti-entropy leaves such payloads to dissemination.
    pub fn is_pushing(&self, id: &[u8; 16]) -> bool {
        self.hot
            .get_if_pushing(id)
            .is_some_and(|hot| hot.rounds_left > 0)
    }

    /// Whether this node is still pushing payload `id` to `member`: it
    /// [is pushing](Engine::is_pushing) it and does not know `member` to hold it. The
    /// members it sent the payload to, or got it from, are never pushed it again; if
    /// one of them still lacks it (the message was lost, or a crash lost the payload),
    /// anti-entropy has to send it.
    pub fn is_pushing_to(&self, id: &[u8; 16], member: NodeId) -> bool {
        self.hot
            .get_if_pushing(id)
            .is_some_and(|hot| hot.rounds_left > 0 && !hot.holders.contains(&member))
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit<A>> {
        let transmit = self.transmits.pop_front()?;
        self.stats.messages_sent += 1;
        self.stats.bytes_sent += transmit.bytes.len() as u64;
        Some(transmit)
    }

    /// When [`Engine::handle_timeout`] should next be called; `None` before the first
    /// input.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.timers.next()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event<A>> {
        self.events.pop_front()
    }

    /// The ids of the members held alive or suspect, sorted: what [`members`](Engine::members)
    /// would list in those states, without building each member's record.
    pub fn reachable_ids(&self) -> &[NodeId] {
        self.debug_check_index();
        self.index.reachable()
    }

    /// The other members this node knows of (not itself), by id, with phi as of the
    /// latest input.
    pub fn members(&self) -> impl Iterator<Item = MemberInfo<A>> + '_ {
        let members = self.sorted_members().into_iter();
        members.map(|m| m.info(self.now))
    }

    /// The member at `addr` (the lowest id, should several share it), found by a scan
    /// of the table without sorting it: for every frame whose sender is known only by
    /// address.
    pub fn member_at(&self, addr: &A) -> Option<NodeId> {
        self.members
            .values()
            .filter(|m| m.addr == *addr)
            .map(|m| m.id)
            .min()
    }

    /// The member table in id order: whatever the table's iteration order is (it may
    /// differ between platforms), nothing that shapes a run depends on it.
    fn sorted_members(&self) -> Vec<&Member<A>> {
        let mut members: Vec<&Member<A>> = self.members.values().collect();
        members.sort_unstable_by_key(|m| m.id);
        members
    }

    /// One member, if known.
    pub fn member(&self, id: NodeId) -> Option<MemberInfo<A>> {
        self.members.get(&id).map(|m| m.info(self.now))
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Notes `now` and, on the first input, starts the timers (with random phases, so
    /// nodes started together do not probe in lockstep).
    fn enter(&mut self, now: Duration) {
        self.now = self.now.max(now);
        if self.phase != Phase::Idle {
            return;
        }
        self.phase = Phase::Running;
        let c = &self.config;
        let (probe, gossip) = (c.probe_interval, c.gossip_interval);
        let (anti_entropy, rejoin) = (c.anti_entropy_interval, c.rejoin_interval);
        let first_probe = self.now + self.rng.duration_below(probe);
        self.timers.set(Timer::ProbeEnd, first_probe);
        let first_gossip = self.now + self.rng.duration_below(gossip);
        self.timers.set(Timer::Gossip, first_gossip);
        let first_exchange = self.now + anti_entropy + self.rng.duration_below(anti_entropy);
        self.timers.set(Timer::AntiEntropy, first_exchange);
        let first_rejoin = self.now + rejoin + self.rng.duration_below(rejoin);
        self.timers.set(Timer::Rejoin, first_rejoin);
        let push_pull = self.config.push_pull_interval;
        let first_push_pull = self.now + push_pull + self.rng.duration_below(push_pull);
        self.timers.set(Timer::PushPull, first_push_pull);
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::ProbeDirect => self.probe_indirectly(),
            Timer::ProbeEnd => {
                self.finish_probe();
                self.start_probe();
            }
            Timer::Gossip => self.gossip_round(),
            Timer::AntiEntropy => self.anti_entropy_round(),
            Timer::Rejoin => self.rejoin_round(),
            Timer::PushPull => self.push_pull_round(),
            Timer::Suspicion(id) => self.suspicion_expired(id),
            Timer::Relay(seq) => self.relay_expired(seq),
        }
    }

    /// This node's own alive record.
    fn self_update(&self) -> Update<A> {
        Update::Alive {
            id: self.id,
            addr: self.addr.clone(),
            incarnation: self.incarnation,
            meta: self.meta.clone(),
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_seq
    }

    /// `k` random reachable members, as `self.rng.sample` would pick them from the
    /// reachable members (in id order), looking up only the picked members.
    fn sample_reachable(&mut self, k: usize) -> Vec<(NodeId, A)> {
        self.debug_check_index();
        let reachable = self.index.reachable();
        let picks = self.rng.sample_indices(reachable.len(), k);
        let ids = picks.into_iter().map(|i| reachable[i]);
        ids.map(|id| (id, self.members[&id].addr.clone())).collect()
    }

    /// `k` random alive members (see [`sample_alive_except`](Engine::sample_alive_except)).
    fn sample_alive(&mut self, k: usize) -> Vec<(NodeId, A)> {
        self.sample_alive_except(&BTreeSet::new(), k)
    }

    /// `k` random alive members not in `skip`, as `self.rng.sample` would pick them
    /// from the alive members (in id order) less `skip`, looking up only the picked
    /// members: a round that names one partner must not touch every member's entry,
    /// which at 1,000 members is a cache miss each.
    fn sample_alive_except(&mut self, skip: &BTreeSet<NodeId>, k: usize) -> Vec<(NodeId, A)> {
        self.debug_check_index();
        let alive = self.index.alive();
        let skipped: Vec<usize> = skip
            .iter()
            .filter_map(|id| alive.binary_search(id).ok())
            .collect();
        let picks = self.rng.sample_indices(alive.len() - skipped.len(), k);
        let at = |mut i: usize| {
            // The i-th alive member not skipped: step over the skipped ones up to it.
            for &s in &skipped {
                if s <= i {
                    i += 1;
                }
            }
            alive[i]
        };
        let ids: Vec<NodeId> = picks.into_iter().map(at).collect();
        ids.into_iter()
            .map(|id| (id, self.members[&id].addr.clone()))
            .collect()
    }

    /// Cluster size estimate for the log-scaled limits: reachable members plus this node.
    fn cluster_size(&self) -> usize {
        self.debug_check_index();
        self.index.reachable().len() + 1
    }

    /// In debug builds, checks that the index follows the member table.
    fn debug_check_index(&self) {
        if cfg!(debug_assertions) {
            let members = self.sorted_members();
            let reachable = members.iter().filter(|m| m.is_reachable());
            let alive = members.iter().filter(|m| m.state == MemberState::Alive);
            let down = members.iter().filter(|m| !m.is_reachable());
            let down: BTreeMap<NodeId, Duration> = down.map(|m| (m.id, m.since)).collect();
            assert!(
                self.index.reachable().iter().eq(reachable.map(|m| &m.id))
                    && self.index.alive().iter().eq(alive.map(|m| &m.id))
                    && self.index.down_since() == &down,
                "a member changed state without an event"
            );
        }
    }

    /// Queues `event` for the application (counted and dropped if the queue is full).
    fn emit(&mut self, event: Event<A>) {
        self.index.note(&event, self.now);
        if self.events.len() >= self.config.event_queue_max {
            self.stats.events_dropped += 1;
        } else {
            self.events.push_back(event);
        }
    }

    fn body_kind(body: &Body<A>) -> Kind {
        match body {
            Body::Push { .. } | Body::Want(_) | Body::Sync { .. } => Kind::Stream,
            _ => Kind::Datagram,
        }
    }
}
