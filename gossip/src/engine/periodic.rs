//! Rounds on timers: gossip (updates and payload pushes, reaping), anti-entropy partner
//! choice, and rejoin attempts that retry seeds and heal partitions.

use lattice_crdt::NodeId;

use super::message::{Body, WirePayload};
use super::payloads::Hot;
use super::{Address, Engine, Event, MemberState, Phase, Timer};

/// Bytes of message header reserved next to a payload (envelope, ids, lengths).
const PAYLOAD_OVERHEAD_BYTES: usize = 64;

impl<A: Address> Engine<A> {
    /// Every `gossip_interval`: reap, spread pending updates, push payloads.
    pub(super) fn gossip_round(&mut self) {
        self.reap();
        self.gossip_updates();
        for index in 0..self.hot.len() {
            self.push_round(index);
        }
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

    /// Every `anti_entropy_interval`: names a random live member.
    pub(super) fn anti_entropy_round(&mut self) {
        let alive = self.alive();
        if let Some(peer) = self.rng.sample(&alive, 1).pop() {
            self.emit(Event::AntiEntropy { peer });
        }
        let next = self.now + self.config.anti_entropy_interval;
        self.timers.set(Timer::AntiEntropy, next);
    }

    /// Every `rejoin_interval`: a full sync with one dead member and one seed that is not
    /// a live member, so failed joins are retried and partitions heal.
    pub(super) fn rejoin_round(&mut self) {
        let dead: Vec<(NodeId, A)> = self
            .members
            .values()
            .filter(|m| m.state == MemberState::Dead)
            .map(|m| (m.id, m.addr.clone()))
            .collect();
        if let Some((id, addr)) = self.rng.sample(&dead, 1).pop() {
            self.send_sync(addr, Some(id), false);
        }
        let live_addrs: Vec<A> = self.reachable().into_iter().map(|(_, a)| a).collect();
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
        let alive = self.alive();
        if let Some((id, addr)) = self.rng.sample(&alive, 1).pop() {
            self.send_sync(addr, Some(id), false);
        }
        let next = self.now + self.config.push_pull_interval;
        self.timers.set(Timer::PushPull, next);
    }

    /// Starts disseminating a payload from this node.
    pub(super) fn start_broadcast(&mut self, id: [u8; 16], bytes: Vec<u8>) {
        if self.phase == Phase::Left {
            return;
        }
        if bytes.len() + PAYLOAD_OVERHEAD_BYTES > self.config.stream_bytes_max {
            self.stats.payloads_too_large += 1;
            return;
        }
        if !self.seen.insert(id) {
            return;
        }
        self.stats.payloads_broadcast += 1;
        self.start_pushing(id, 0, bytes, None);
    }

    /// A payload from `sender`: deliver it if new, then push it on.
    pub(super) fn receive_payload(&mut self, sender: NodeId, payload: WirePayload) {
        if !self.seen.insert(payload.id) {
            self.stats.payload_duplicates += 1;
            if let Some(hot) = self.hot.get_mut(&payload.id) {
                hot.add_holder(sender);
            }
            return;
        }
        self.stats.payloads_delivered += 1;
        let hops = payload.hops.saturating_add(1);
        self.emit(Event::Payload {
            id: payload.id,
            bytes: payload.bytes.clone(),
            hops,
        });
        if self.phase != Phase::Left {
            self.start_pushing(payload.id, hops, payload.bytes, Some(sender));
        }
    }

    fn start_pushing(&mut self, id: [u8; 16], hops: u16, bytes: Vec<u8>, sender: Option<NodeId>) {
        let log = ((self.cluster_size() + 1) as f64).log10().ceil().max(1.0) as u32;
        let mut hot = Hot {
            id,
            hops,
            bytes,
            rounds_left: self.config.payload_rounds_mult.get() * log,
            holders: Default::default(),
        };
        if let Some(sender) = sender {
            hot.add_holder(sender);
        }
        self.stats.payloads_evicted += self.hot.push(hot);
        if let Some(index) = self.hot.newest() {
            self.push_round(index);
        }
        self.hot.retire_finished();
    }

    /// One push of payload `index` to `gossip_nodes` live members not known to hold it.
    /// With no live member at all (alone, or cut off), the round is not spent: the payload
    /// waits, within the queue's bounds, for members to appear.
    fn push_round(&mut self, index: usize) {
        let nobody_alive = self.index.alive().is_empty();
        let hot = self.hot.at_mut(index);
        if hot.rounds_left == 0 || nobody_alive {
            return;
        }
        hot.rounds_left -= 1;
        let holders = hot.holders.clone();
        let targets = self.sample_alive_except(&holders, self.config.gossip_nodes.get() as usize);
        for (id, addr) in targets {
            let hot = self.hot.at_mut(index);
            hot.add_holder(id);
            let payload = WirePayload {
                id: hot.id,
                hops: hot.hops,
                bytes: hot.bytes.clone(),
            };
            self.send(addr, Some(id), Body::Payloads(vec![payload]));
            self.stats.payloads_sent += 1;
        }
    }
}
