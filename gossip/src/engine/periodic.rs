//! Rounds on timers: gossip (updates and payload pushes, reaping, reminders to members
//! held suspect or dead), anti-entropy partner choice, and rejoin attempts that retry
//! seeds and heal partitions.

use std::sync::Arc;

use lattice_crdt::NodeId;

use super::message::{Body, WirePayload};
use super::payloads::Hot;
use super::receive::PAYLOAD_IDS_PER_MESSAGE_MAX;
use super::updates::retransmit_limit;
use super::{Address, Engine, Event, MemberState, Phase, Timer};

/// Most bytes of a message around its body: version, sender, address, incarnation,
/// recipient, tags and lengths.
const ENVELOPE_BYTES_MAX: usize = 80;

/// Most bytes of a payload on the wire besides its own: id, hops, length.
const PAYLOAD_FRAMING_BYTES: usize = 24;

/// Bytes of one payload id on the wire.
const PAYLOAD_ID_BYTES: usize = 16;

impl<A: Address> Engine<A> {
    /// Every `gossip_interval`: reap, spread pending updates, remind a member held
    /// suspect or else one held dead, push payloads.
    pub(super) fn gossip_round(&mut self) {
        self.reap();
        self.gossip_updates();
        if !self.remind_a_suspect() {
            self.remind_a_dead_member();
        }
        self.push_payloads(false);
        self.hot.retire_finished();
        let next = self.now + self.config.gossip_interval;
        self.timers.set(Timer::Gossip, next);
    }

    /// Sends pending membership updates to `gossip_nodes` random reachable members.
    pub(super) fn gossip_updates(&mut self) {
        if self.updates.is_empty() {
            return;
        }
        let targets = self.sample_reachable(self.config.gossip_nodes.get() as usize);
        for (id, addr) in targets {
            if self.updates.is_empty() {
                break;
            }
            self.send(addr, Some(id), Body::Gossip);
        }
    }

    /// Tells one member this node holds suspect, in turn, that it is suspected
    /// (Lifeguard's buddy system, made sure of): unless it was told within the last
    /// protocol period, it gets a message carrying its suspicion, and a member that is
    /// alive refutes, or answers with the incarnation it already refuted at. Otherwise a
    /// suspicion that reached this node while the refutation did not would last its whole
    /// timeout (up to `suspicion_max_timeout_mult` times the minimum, 72 s at 1,000
    /// members) on this node alone: round-robin probing comes back to a member only once
    /// every `n` protocol periods. At most one such message per gossip round; returns
    /// whether it sent one.
    pub(super) fn remind_a_suspect(&mut self) -> bool {
        for _ in 0..self.suspects.len() {
            let Some(id) = self.suspects.pop_front() else {
                return false;
            };
            let Some(m) = self.members.get(&id) else {
                continue;
            };
            if m.state != MemberState::Suspect {
                continue;
            }
            self.suspects.push_back(id);
            if !m.told_within(self.config.probe_interval, self.now) {
                let addr = m.addr.clone();
                self.send(addr, Some(id), Body::Gossip);
                return true;
            }
        }
        false
    }

    /// In a gossip round without a suspect to remind: tells the next member held dead
    /// (in id order after the last one told, each at most once per protocol period) that
    /// it is held dead. One declared dead while it was only cut off or paused refutes at
    /// once, as a reminded suspect does; otherwise a node that missed the refutation
    /// while it went round (cut off then, and the news stops after its retransmissions)
    /// holds a live member dead until a rejoin round happens to pick it among all the
    /// dead, or a push-pull: 10 to 30 s. memberlist gossips to the dead for the same
    /// reason. A member really dead costs each node a lost datagram per protocol period
    /// at most, until it is reaped (`reap_after`).
    pub(super) fn remind_a_dead_member(&mut self) {
        use std::ops::Bound::{Excluded, Unbounded};
        let down = self.index.down_since();
        let after = self.dead_reminded.map_or(Unbounded, Excluded);
        let next = down
            .range((after, Unbounded))
            .chain(down.range(..))
            .filter_map(|(id, _)| self.members.get(id))
            .find(|m| {
                m.state == MemberState::Dead && !m.told_within(self.config.probe_interval, self.now)
            })
            .map(|m| (m.id, m.addr.clone()));
        if let Some((id, addr)) = next {
            self.dead_reminded = Some(id);
            self.send(addr, Some(id), Body::Gossip);
        }
    }

    /// Every `anti_entropy_interval`: names a random live member.
    pub(super) fn anti_entropy_round(&mut self) {
        if let Some(peer) = self.sample_alive(1).pop() {
            self.emit(Event::AntiEntropy { peer });
        }
        let next = self.now + self.config.anti_entropy_interval;
        self.timers.set(Timer::AntiEntropy, next);
    }

    /// Every `rejoin_interval`: a full sync with one dead member (reaped ones included,
    /// until their tombstones expire) and one seed that is not a live member, so failed
    /// joins are retried and partitions heal. The sync carries our record of the member,
    /// so one that is alive refutes it, and the news of that brings it back everywhere.
    pub(super) fn rejoin_round(&mut self) {
        let reaped = self
            .tombstones
            .iter()
            .filter(|(_, t)| !t.left)
            .map(|(id, t)| (*id, t.addr.clone()));
        // The members down (dead or left), in id order, are indexed: no scan of the table.
        let dead: Vec<(NodeId, A)> = self
            .index
            .down_since()
            .keys()
            .filter_map(|id| self.members.get(id))
            .filter(|m| m.state == MemberState::Dead)
            .map(|m| (m.id, m.addr.clone()))
            .chain(reaped)
            .collect();
        if let Some((id, addr)) = self.rng.sample(&dead, 1).pop() {
            self.send_sync(addr, Some(id), false);
        }
        let live_addrs: Vec<&A> = self
            .members
            .values()
            .filter(|m| m.is_reachable())
            .map(|m| &m.addr)
            .collect();
        let lost_seeds: Vec<A> = self
            .seeds
            .iter()
            .filter(|s| !live_addrs.contains(s))
            .cloned()
            .collect();
        if let Some(seed) = self.rng.sample(&lost_seeds, 1).pop() {
            self.send_sync(seed, None, false);
        }
        let next = self.now + self.config.rejoin_interval;
        self.timers.set(Timer::Rejoin, next);
    }

    /// Every `push_pull_interval`: a full sync with one random live member.
    pub(super) fn push_pull_round(&mut self) {
        if let Some((id, addr)) = self.sample_alive(1).pop() {
            self.send_sync(addr, Some(id), false);
        }
        let next = self.now + self.config.push_pull_interval;
        self.timers.set(Timer::PushPull, next);
    }

    /// Starts disseminating a payload from this node: pushed whole at once.
    pub(super) fn start_broadcast(&mut self, id: [u8; 16], bytes: Arc<[u8]>) {
        if self.phase == Phase::Left {
            return;
        }
        if bytes.len() + ENVELOPE_BYTES_MAX + PAYLOAD_FRAMING_BYTES > self.config.stream_bytes_max {
            self.stats.payloads_too_large += 1;
            return;
        }
        if !self.seen.insert(id) {
            return;
        }
        self.stats.payloads_broadcast += 1;
        self.start_pushing(id, 0, bytes, None);
        self.push_payloads(true);
    }

    /// A push from `sender`: delivers the payloads new here (they are pushed on whole in
    /// the next gossip round), and asks for the offered ids not seen here.
    pub(super) fn receive_push(
        &mut self,
        sender: NodeId,
        from: A,
        payloads: Vec<WirePayload>,
        have: Vec<[u8; 16]>,
    ) {
        let echoes_max = self.config.payload_echoes_max.get();
        for payload in payloads {
            // Most copies are of payloads still held here: one look finds them.
            if self.hot.echo(&payload.id, sender, echoes_max).is_some() {
                self.stats.payload_duplicates += 1;
                continue;
            }
            if !self.seen.insert(payload.id) {
                self.stats.payload_duplicates += 1;
                continue;
            }
            self.stats.payloads_delivered += 1;
            let hops = payload.hops.saturating_add(1);
            self.emit(Event::Payload {
                id: payload.id,
                bytes: payload.bytes.clone(),
                hops,
                from: (sender, from.clone()),
            });
            if self.phase != Phase::Left {
                self.start_pushing(payload.id, hops, payload.bytes, Some(sender));
            }
        }
        let mut want = Vec::new();
        for id in have {
            if self.hot.echo(&id, sender, echoes_max).is_none() && !self.seen.contains(&id) {
                want.push(id);
            }
        }
        if !want.is_empty() {
            self.send(from, Some(sender), Body::Want(want));
        }
    }

    /// `sender` asks for payloads: sends those still held, whole.
    pub(super) fn send_wanted(&mut self, sender: NodeId, from: A, ids: Vec<[u8; 16]>) {
        let mut payloads = Vec::new();
        for id in ids {
            if let Some(hot) = self.hot.get_mut(&id) {
                hot.add_holder(sender);
                payloads.push(wire(hot));
            }
        }
        self.stats.payloads_pulled += payloads.len() as u64;
        self.send_push(from, sender, payloads, Vec::new());
    }

    /// Queues a payload for pushing: whole in its first round, by id after.
    fn start_pushing(&mut self, id: [u8; 16], hops: u16, bytes: Arc<[u8]>, sender: Option<NodeId>) {
        let rounds = retransmit_limit(self.config.payload_rounds_mult.get(), self.cluster_size());
        let mut hot = Hot {
            id,
            hops,
            bytes,
            rounds_left: rounds,
            whole: true,
            holders: Default::default(),
            widespread: false,
        };
        if let Some(sender) = sender {
            hot.add_holder(sender);
        }
        self.stats.payloads_evicted += self.hot.push(hot);
    }

    /// One push round of the payloads being pushed (only those not pushed yet if
    /// `only_new`): `gossip_nodes` random live members, none known to hold all of them,
    /// each get in one message (more if it would exceed `stream_bytes_max`) the payloads
    /// they are not known to hold: whole in a payload's first round, as ids after. So a
    /// node sends a payload whole to `gossip_nodes` members and then offers it for its
    /// remaining rounds, and its messages per round stay at the fanout however many
    /// payloads are in flight. With no live member at all (alone, or cut off), the round
    /// is not spent: the payloads wait, within the queue's bounds, for members to appear.
    pub(super) fn push_payloads(&mut self, only_new: bool) {
        let pushed: Vec<usize> = self
            .hot
            .maybe_pushing()
            .filter(|&i| {
                let hot = self.hot.at_mut(i);
                let (live, widespread) = (hot.rounds_left > 0, hot.widespread);
                let pushes = live && !widespread && (hot.whole || !only_new);
                if live && widespread {
                    self.hot.finish(i); // done, though still asked for
                }
                pushes
            })
            .collect();
        self.hot.skip_finished();
        if pushed.is_empty() || self.index.alive().is_empty() {
            return;
        }
        let holders_of_all = self.hot.held_by_all(&pushed);
        let fanout = self.config.gossip_nodes.get() as usize;
        for (id, addr) in self.sample_alive_except(&holders_of_all, fanout) {
            let (mut payloads, mut have) = (Vec::new(), Vec::new());
            for &index in &pushed {
                let hot = self.hot.at_mut(index);
                if hot.holders.contains(&id) {
                    continue;
                }
                hot.add_holder(id);
                if hot.whole {
                    payloads.push(wire(hot));
                } else {
                    have.push(hot.id);
                }
            }
            self.stats.payloads_sent += payloads.len() as u64;
            self.stats.payload_ids_offered += have.len() as u64;
            self.send_push(addr, id, payloads, have);
        }
        for &index in &pushed {
            let hot = self.hot.at_mut(index);
            hot.rounds_left -= 1;
            hot.whole = false;
            if hot.rounds_left == 0 {
                self.hot.finish(index);
            }
        }
        self.hot.skip_finished();
    }

    /// Sends `payloads` and `have` to member `id` in as few messages as fit.
    fn send_push(
        &mut self,
        addr: A,
        id: NodeId,
        payloads: Vec<WirePayload>,
        mut have: Vec<[u8; 16]>,
    ) {
        let room = self.config.stream_bytes_max - ENVELOPE_BYTES_MAX;
        let (mut batch, mut bytes) = (Vec::new(), 0);
        for payload in payloads {
            let size = payload.bytes.len() + PAYLOAD_FRAMING_BYTES;
            if bytes + size > room && !batch.is_empty() {
                let payloads = std::mem::take(&mut batch);
                self.send(
                    addr.clone(),
                    Some(id),
                    Body::Push {
                        payloads,
                        have: Vec::new(),
                    },
                );
                bytes = 0;
            }
            bytes += size;
            batch.push(payload);
        }
        // The ids ride with the last payloads as far as they fit, the rest on their own.
        let ids_room = |bytes: usize| {
            (room.saturating_sub(bytes) / PAYLOAD_ID_BYTES).min(PAYLOAD_IDS_PER_MESSAGE_MAX)
        };
        let mut payloads = batch;
        loop {
            let rest = have.split_off(have.len().min(ids_room(bytes)));
            if !payloads.is_empty() || !have.is_empty() {
                self.send(addr.clone(), Some(id), Body::Push { payloads, have });
            }
            if rest.is_empty() {
                return;
            }
            (payloads, have, bytes) = (Vec::new(), rest, 0);
        }
    }
}

/// A held payload as sent.
fn wire(hot: &Hot) -> WirePayload {
    WirePayload {
        id: hot.id,
        hops: hot.hops,
        bytes: hot.bytes.clone(),
    }
}
