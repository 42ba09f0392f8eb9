//! SWIM's failure detector: one probe per protocol period, indirect probes through
//! relays, and the relay side of indirect probing.

use std::collections::BTreeSet;
use std::time::Duration;

use lattice_crdt::NodeId;

use super::message::Body;
use super::{Address, Engine, Timer};

/// Ack delays measured before the phi-adaptive timeout replaces `probe_timeout`.
const ACK_SAMPLES_MIN: usize = 3;

/// A relay nacks after this fraction of `probe_timeout`, so that the nack reaches the
/// requester before its indirect phase (a full `probe_timeout`) ends (memberlist uses
/// the same 80%).
const NACK_AFTER_FRACTION: f64 = 0.8;

/// The probe of the current protocol period.
#[derive(Clone, Debug)]
pub(crate) struct Probe {
    target: NodeId,
    seq: u32,
    sent_at: Duration,
    acked: bool,
    nacks_expected: u32,
    nacks: u32,
}

/// An indirect probe this node runs for another member.
#[derive(Clone, Debug)]
pub(crate) struct Relay<A> {
    requester: NodeId,
    requester_addr: A,
    requester_seq: u32,
    target: NodeId,
}

impl<A: Address> Engine<A> {
    /// Starts the next protocol period: pings the next member in the round-robin order.
    pub(super) fn start_probe(&mut self) {
        let period = self.scaled(self.config.probe_interval);
        let Some((target, addr)) = self.next_probe_target() else {
            self.retry_seed_when_alone();
            self.timers.set(Timer::ProbeEnd, self.now + period);
            return;
        };
        let seq = self.next_seq();
        self.send(addr, Some(target), Body::Ping { seq });
        self.stats.probes += 1;
        let direct = self.direct_timeout(target);
        let indirect = self.scaled(self.config.probe_timeout);
        self.timers.set(Timer::ProbeDirect, self.now + direct);
        self.timers
            .set(Timer::ProbeEnd, self.now + period.max(direct + indirect));
        self.probe = Some(Probe {
            target,
            seq,
            sent_at: self.now,
            acked: false,
            nacks_expected: 0,
            nacks: 0,
        });
    }

    /// With nobody to probe, a node that has seeds contacts one each protocol period
    /// (its join was lost, or everyone else is gone), instead of waiting for the slower
    /// `rejoin_interval`.
    fn retry_seed_when_alone(&mut self) {
        if self.phase != super::Phase::Running || self.seeds.is_empty() {
            return;
        }
        let seed = self.seeds[self.rng.below(self.seeds.len())].clone();
        self.send_sync(seed, None, false);
    }

    /// `d` stretched by local health (Lifeguard), or `d` with Lifeguard off.
    fn scaled(&self, d: Duration) -> Duration {
        if self.config.lifeguard {
            self.awareness.scale(d)
        } else {
            d
        }
    }

    /// The next reachable member in the shuffled order, reshuffling at the end of a round.
    fn next_probe_target(&mut self) -> Option<(NodeId, A)> {
        for _ in 0..2 {
            while let Some(&id) = self.probe_order.get(self.probe_next) {
                self.probe_next += 1;
                if let Some(m) = self.members.get(&id).filter(|m| m.is_reachable()) {
                    return Some((id, m.addr.clone()));
                }
            }
            let mut order: Vec<NodeId> = self.index.reachable().to_vec();
            self.rng.shuffle(&mut order);
            self.probe_order = order;
            self.probe_next = 0;
        }
        None
    }

    /// How long to wait for the direct ack of `target`: where the phi of its ack delays
    /// crosses `phi_threshold`, within `[probe_timeout, probe_interval]`, scaled by health.
    fn direct_timeout(&self, target: NodeId) -> Duration {
        let c = &self.config;
        let adaptive = self
            .members
            .get(&target)
            .filter(|m| m.ack_delay.len() >= ACK_SAMPLES_MIN)
            .and_then(|m| m.ack_delay.elapsed_at_phi(c.phi_threshold));
        let base = adaptive.map_or(c.probe_timeout, |t| {
            t.clamp(c.probe_timeout, c.probe_interval)
        });
        self.scaled(base)
    }

    /// The direct ack is overdue: ask `indirect_checks` live members to probe.
    pub(super) fn probe_indirectly(&mut self) {
        let Some(probe) = self.probe.as_ref().filter(|p| !p.acked) else {
            return;
        };
        let (target, seq) = (probe.target, probe.seq);
        let Some(target_addr) = self.members.get(&target).map(|m| m.addr.clone()) else {
            return;
        };
        let relays = self.sample_alive_except(
            &BTreeSet::from([target]),
            self.config.indirect_checks.get() as usize,
        );
        for (relay, addr) in &relays {
            let body = Body::PingReq {
                seq,
                target,
                target_addr: target_addr.clone(),
            };
            self.send(addr.clone(), Some(*relay), body);
        }
        self.stats.indirect_probes += relays.len() as u64;
        if let Some(probe) = self.probe.as_mut() {
            probe.nacks_expected = relays.len() as u32;
        }
    }

    /// The protocol period is over: update local health and suspect a silent target.
    pub(super) fn finish_probe(&mut self) {
        self.timers.cancel(Timer::ProbeDirect);
        let Some(probe) = self.probe.take() else {
            return;
        };
        if self.config.lifeguard {
            self.awareness.apply(health_delta(&probe));
        }
        if probe.acked {
            return;
        }
        let Some(m) = self.members.get(&probe.target).filter(|m| m.is_reachable()) else {
            return;
        };
        let incarnation = m.incarnation;
        self.stats.suspicions += 1;
        self.apply_suspect(probe.target, incarnation, self.id);
    }

    /// A direct ack from `from` for our probe `seq`, or for a ping we relay.
    pub(super) fn on_ack(&mut self, from: NodeId, seq: u32) {
        let now = self.now;
        if let Some(probe) = self
            .probe
            .as_mut()
            .filter(|p| p.seq == seq && p.target == from)
        {
            probe.acked = true;
            let delay = now.saturating_sub(probe.sent_at);
            if let Some(m) = self.members.get_mut(&from) {
                m.ack_delay.record_sample(delay);
            }
            return;
        }
        if self.relays.get(&seq).is_some_and(|r| r.target == from) {
            let relay = self.relays.remove(&seq).expect("checked above");
            self.timers.cancel(Timer::Relay(seq));
            let body = Body::IndirectAck {
                seq: relay.requester_seq,
            };
            self.send(relay.requester_addr, Some(relay.requester), body);
        }
    }

    /// A relay reached the target of our probe `seq`.
    pub(super) fn on_indirect_ack(&mut self, seq: u32) {
        if let Some(probe) = self.probe.as_mut().filter(|p| p.seq == seq) {
            probe.acked = true;
        }
    }

    /// A relay could not reach the target of our probe `seq`, but is itself alive.
    pub(super) fn on_nack(&mut self, seq: u32) {
        if let Some(probe) = self.probe.as_mut().filter(|p| p.seq == seq) {
            probe.nacks = (probe.nacks + 1).min(probe.nacks_expected);
            self.stats.nacks_received += 1;
        }
    }

    /// `requester` asks us to probe `target` for its probe `seq`.
    pub(super) fn on_ping_req(
        &mut self,
        requester: NodeId,
        from: A,
        seq: u32,
        target: NodeId,
        target_addr: A,
    ) {
        if target == self.id {
            return self.send(from, Some(requester), Body::IndirectAck { seq });
        }
        // A request to probe a member that left: the requester missed the leave (the
        // request names no incarnation, so any leave we hold counts).
        if self.left_record(target).is_some() {
            self.note_missed_leave(target);
        }
        if self.relays.len() >= self.config.relays_max || self.phase == super::Phase::Left {
            return;
        }
        let our_seq = self.next_seq();
        self.send(target_addr, Some(target), Body::Ping { seq: our_seq });
        let relay = Relay {
            requester,
            requester_addr: from,
            requester_seq: seq,
            target,
        };
        self.relays.insert(our_seq, relay);
        let nack_after = self.config.probe_timeout.mul_f64(NACK_AFTER_FRACTION);
        self.timers
            .set(Timer::Relay(our_seq), self.now + nack_after);
    }

    /// The target of a relayed probe stayed silent: tell the requester (Lifeguard nack).
    pub(super) fn relay_expired(&mut self, seq: u32) {
        if let Some(relay) = self.relays.remove(&seq) {
            let body = Body::Nack {
                seq: relay.requester_seq,
            };
            self.send(relay.requester_addr, Some(relay.requester), body);
        }
    }
}

/// Lifeguard's health change after a probe: −1 on an ack; on a miss, +1 per expected
/// nack that did not come (+1 if no relay could be asked), since silent relays suggest
/// that the problem is here.
fn health_delta(probe: &Probe) -> i64 {
    if probe.acked {
        -1
    } else if probe.nacks_expected == 0 {
        1
    } else {
        i64::from(probe.nacks_expected - probe.nacks)
    }
}
