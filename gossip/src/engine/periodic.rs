//! Rounds on timers: gossip (updates and payload pushes, reaping), anti-entropy partner
//! choice, and rejoin attempts that retry seeds and heal partitions.

use lattice_crdt::NodeId;

use super::message::{Body, WirePayload};
use super::payloads::Hot;
use super::{Address, Engine, Event, MemberState, Phase, Timer};

/// Most bytes of a message around its body: version, sender, address, incarnation,
/// recipient, tags and lengths.
const ENVELOPE_BYTES_MAX: usize = 64;

/// Most bytes of a payload on the wire besides its own: id, hops, length.
const PAYLOAD_FRAMING_BYTES: usize = 24;

impl<A: Address> Engine<A> {
    /// Every `gossip_interval`: reap, spread pending updates, push payloads.
    pub(super) fn gossip_round(&mut self) {
        self.reap();
        self.gossip_updates();
        self.push_payloads(self.hot.len());
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
            .sorted_members()
            .into_iter()
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
        if bytes.len() + ENVELOPE_BYTES_MAX + PAYLOAD_FRAMING_BYTES > self.config.stream_bytes_max {
            self.stats.payloads_too_large += 1;
            return;
        }
        if !self.seen.insert(id) {
            return;
        }
        self.stats.payloads_broadcast += 1;
        self.start_pushing(id, 0, bytes, None);
        self.push_payloads(1);
    }

    /// The payloads of one message from `sender`: delivers the new ones, then pushes them
    /// on together.
    pub(super) fn receive_payloads(&mut self, sender: NodeId, payloads: Vec<WirePayload>) {
        let mut fresh = 0;
        for payload in payloads {
            if !self.seen.insert(payload.id) {
                self.stats.payload_duplicates += 1;
                if let Some(hot) = self.hot.get_mut(&payload.id) {
                    hot.add_holder(sender);
                }
                continue;
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
                fresh += 1;
            }
        }
        self.push_payloads(fresh);
    }

    /// Queues a payload for pushing (the first round is up to the caller).
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
    }

    /// One push round of the newest `fresh` payloads being pushed (all of them from the
    /// gossip round): `gossip_nodes` random live members, none known to hold all of them,
    /// each get in one message (more if they exceed one) every payload they are not known
    /// to hold. Batching per member keeps a node's messages per round at the fanout, not
    /// at the fanout times the payloads in flight. With no live member at all (alone, or
    /// cut off), the round is not spent: the payloads wait, within the queue's bounds,
    /// for members to appear.
    pub(super) fn push_payloads(&mut self, fresh: usize) {
        let from = self.hot.len() - fresh.min(self.hot.len());
        let pushed: Vec<usize> = (from..self.hot.len())
            .filter(|&i| self.hot.at_mut(i).rounds_left > 0)
            .collect();
        if pushed.is_empty() || self.index.alive().is_empty() {
            return;
        }
        let mut holders_of_all = self.hot.at_mut(pushed[0]).holders.clone();
        for &index in &pushed[1..] {
            let holders = &self.hot.at_mut(index).holders;
            holders_of_all.retain(|id| holders.contains(id));
        }
        for &index in &pushed {
            self.hot.at_mut(index).rounds_left -= 1;
        }
        let fanout = self.config.gossip_nodes.get() as usize;
        let room = self.config.stream_bytes_max - ENVELOPE_BYTES_MAX;
        for (id, addr) in self.sample_alive_except(&holders_of_all, fanout) {
            let (mut batch, mut bytes) = (Vec::new(), 0);
            for &index in &pushed {
                let hot = self.hot.at_mut(index);
                if hot.holders.contains(&id) {
                    continue;
                }
                hot.add_holder(id);
                let size = hot.bytes.len() + PAYLOAD_FRAMING_BYTES;
                if bytes + size > room && !batch.is_empty() {
                    self.send_payloads(addr.clone(), id, std::mem::take(&mut batch));
                    bytes = 0;
                }
                bytes += size;
                let hot = self.hot.at_mut(index);
                batch.push(WirePayload {
                    id: hot.id,
                    hops: hot.hops,
                    bytes: hot.bytes.clone(),
                });
            }
            if !batch.is_empty() {
                self.send_payloads(addr, id, batch);
            }
        }
    }

    fn send_payloads(&mut self, addr: A, id: NodeId, batch: Vec<WirePayload>) {
        self.stats.payloads_sent += batch.len() as u64;
        self.send(addr, Some(id), Body::Payloads(batch));
    }
}
