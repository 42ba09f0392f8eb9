//! Node lifecycle and I/O: start, crash, restart, pause, frames, timers, group commit,
//! and the faults of the schedule.

use std::time::Duration;

use lattice_crdt::{NodeId, NTP64};
use lattice_gossip::engine::Event;
use lattice_node::store::MemStore;
use lattice_node::{NodeCore, NodeEvent, Replica, ReplicaConfig};

use super::{Crash, Ev, Simulation};
use crate::fault::Fault;
use crate::rng::Rng;
use crate::timeline::{MemberEvent, MemberState};

/// The node id of node index `i`.
pub(super) fn node_id(i: usize) -> NodeId {
    NodeId::new(i as u64 + 1).expect("non-zero")
}

impl Simulation {
    pub(super) fn wall(&self, i: usize) -> NTP64 {
        self.nodes[i].clock.wall(self.now)
    }

    pub(super) fn running(&self, i: usize) -> bool {
        self.nodes[i].core.is_some() && !self.nodes[i].paused
    }

    /// Starts node `i` from its store (a fresh store the first time).
    pub(super) fn restart(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if node.core.is_some() {
            return;
        }
        let store = node
            .store
            .take()
            .unwrap_or_else(|| MemStore::with_pool(node_id(i), self.records.clone()));
        let replica = Replica::open(store, ReplicaConfig::default())
            .expect("a MemStore reopens after a crash");
        let seed = Rng::new(self.options.seed ^ ((i as u64) << 32) ^ node.epoch).next_u64();
        let mut core = NodeCore::new(replica, i as u32, self.config.clone(), seed);
        let seeds: Vec<u32> = (0..self.options.nodes.min(3) as u32)
            .filter(|&s| s as usize != i)
            .collect();
        core.join(self.now, &seeds);
        node.core = Some(core);
        node.paused = false;
        node.disturbed_at = self.now;
        node.declared_dead = 0;
        if let Some(c) = self.crashes.iter_mut().rev().find(|c| c.node == i) {
            c.restarted = true;
        }
        self.trace
            .event(10, &[self.now.as_nanos() as u64, i as u64]);
        self.flush(i);
    }

    /// Crashes node `i`: everything not synced is lost; pending writes fail.
    fn crash(&mut self, i: usize) -> Option<()> {
        let node = &mut self.nodes[i];
        let core = node.core.take()?;
        node.crashed_stats.push((core.stats(), core.gossip_stats()));
        let mut store = core.into_replica().into_store();
        store.crash();
        node.store = Some(store);
        node.epoch += 1;
        node.paused = false;
        node.inbox.clear();
        node.timer_at = None;
        node.sync_queued = None;
        let failed = std::mem::take(&mut node.pending);
        self.suspected.retain(|(observer, _), _| *observer != i);
        self.crashes.push(Crash {
            node: i,
            at: self.now,
            restarted: false,
            detected: None,
        });
        self.trace.event(
            11,
            &[self.now.as_nanos() as u64, i as u64, failed.len() as u64],
        );
        for p in failed {
            self.counters.lost_unacked += 1;
            self.session_failed(p.session);
        }
        Some(())
    }

    fn resume(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if !node.paused {
            return;
        }
        node.paused = false;
        node.disturbed_at = self.now;
        node.timer_at = None;
        let inbox = std::mem::take(&mut node.inbox);
        self.trace.event(
            12,
            &[self.now.as_nanos() as u64, i as u64, inbox.len() as u64],
        );
        for (from, bytes) in inbox {
            self.deliver(from, i, bytes);
        }
        let (now, wall) = (self.now, self.wall(i));
        if let Some(core) = self.nodes[i].core.as_mut() {
            core.handle_timeout(now, wall);
        }
        self.flush(i);
    }

    pub(super) fn deliver(&mut self, from: usize, to: usize, bytes: Vec<u8>) {
        self.trace
            .event(1, &[self.now.as_nanos() as u64, from as u64, to as u64]);
        self.trace.bytes(&bytes);
        let node = &mut self.nodes[to];
        if node.core.is_none() {
            return;
        }
        if node.paused {
            node.inbox.push((from, bytes));
            return;
        }
        let (now, wall) = (self.now, self.wall(to));
        let core = self.nodes[to].core.as_mut().expect("running");
        // The simulated network knows who sent each frame, as mutual TLS does for a
        // real node: frames arrive authenticated as their sender.
        let result = core.handle_authenticated_frame(now, wall, from as u32, node_id(from), &bytes);
        if let Err(e) = result {
            let reason = e.to_string();
            self.trace.event(2, &[reason.len() as u64]);
            self.counters
                .first_refusal
                .get_or_insert_with(|| format!("a frame from node {from} at node {to}: {reason}"));
        }
        self.flush(to);
    }

    pub(super) fn timer(&mut self, i: usize, at: Duration) {
        if self.nodes[i].timer_at != Some(at) || !self.running(i) {
            return;
        }
        self.nodes[i].timer_at = None;
        self.trace.event(3, &[self.now.as_nanos() as u64, i as u64]);
        let (now, wall) = (self.now, self.wall(i));
        if let Some(core) = self.nodes[i].core.as_mut() {
            core.handle_timeout(now, wall);
        }
        self.flush(i);
    }

    /// Sends what node `i` has to send, notes its events, and queues its timer and
    /// its next group commit.
    pub(super) fn flush(&mut self, i: usize) {
        let mut out = Vec::new();
        let mut events = Vec::new();
        let (sync_due, timeout, declared) = {
            let Some(core) = self.nodes[i].core.as_mut() else {
                return;
            };
            while let Some(t) = core.poll_transmit() {
                out.push((t.to as usize, t.bytes));
            }
            while let Some(e) = core.poll_event() {
                events.push(e);
            }
            let declared = core.gossip_stats().declared_dead;
            (core.sync_due(), core.poll_timeout(), declared)
        };
        for (to, bytes) in out {
            self.send(i, to, bytes);
        }
        // Suspicion timers are the only way a node declares a member dead itself, and a
        // call that runs timers applies no news from peers: so the "dead" events of a
        // call that raised the node's own count of declarations are all its own.
        let own = declared > self.nodes[i].declared_dead;
        self.nodes[i].declared_dead = declared;
        for e in events {
            self.note_event(i, e, own);
        }
        // A sync starts when it is due and takes the time of an fsync. One due sooner
        // than the queued one replaces it.
        let node = &mut self.nodes[i];
        if let Some(due) = sync_due.filter(|&due| node.sync_queued.is_none_or(|(q, _)| due < q)) {
            node.sync_events += 1;
            node.sync_queued = Some((due, node.sync_events));
            let (number, fsync) = (
                node.sync_events,
                Duration::from_micros(self.rng.range(1_000, 10_000)),
            );
            self.push(due.max(self.now) + fsync, Ev::Sync { node: i, number });
        }
        if let Some(t) = timeout {
            let t = t.max(self.now);
            if self.nodes[i].timer_at.is_none_or(|q| t < q) {
                self.nodes[i].timer_at = Some(t);
                self.push(t, Ev::Timer { node: i, at: t });
            }
        }
    }

    fn send(&mut self, from: usize, to: usize, bytes: Vec<u8>) {
        self.counters.messages += 1;
        self.counters.bytes += bytes.len() as u64;
        if to >= self.nodes.len() {
            return;
        }
        let delays = self.net.route(from, to);
        for delay in delays {
            self.push(
                self.now + delay,
                Ev::Deliver {
                    from,
                    to,
                    bytes: bytes.clone(),
                },
            );
        }
    }

    /// Notes a membership event of `observer` about another node: for the timeline,
    /// and, if it is `own` declaration of death, for the failure detector's figures.
    fn note_event(&mut self, observer: usize, event: NodeEvent<u32>, own: bool) {
        let event = match event {
            NodeEvent::Membership(event) => event,
            NodeEvent::Refused { from, reason } => {
                self.counters.first_refusal.get_or_insert_with(|| {
                    format!("a record from node {from} at node {observer}: {reason}")
                });
                return;
            }
        };
        let (id, state) = match event {
            Event::MemberUp { id, .. } => (id, MemberState::Alive),
            Event::MemberSuspect { id, .. } => (id, MemberState::Suspect),
            Event::MemberDown { id, .. } => (id, MemberState::Dead),
            Event::MemberLeft { id, .. } => (id, MemberState::Left),
            _ => return,
        };
        let target = id.get() as usize - 1;
        // Plot record only: not folded into the trace hash.
        self.timeline.member(MemberEvent {
            at_ms: self.now.as_millis() as u64,
            observer,
            observed: target,
            state,
        });
        let since = if state == MemberState::Suspect {
            self.suspected.insert((observer, target), self.now)
        } else {
            self.suspected.remove(&(observer, target))
        };
        if state != MemberState::Dead {
            return;
        }
        self.trace.event(
            4,
            &[self.now.as_nanos() as u64, observer as u64, target as u64],
        );
        if own {
            // The engine reports a suspicion before its own verdict; should a full event
            // queue have dropped that report, the declaration is judged at its moment.
            self.judge_declaration(observer, target, since.unwrap_or(self.now));
        }
    }

    /// Judges `declarer`'s own declaration that `target` is dead, after suspecting it
    /// since `since`: a detection if the target is down, a false death if it was
    /// running, unpaused and not partitioned from the declarer (either way) the whole
    /// time, and otherwise a death the declarer had reason for.
    fn judge_declaration(&mut self, declarer: usize, target: usize, since: Duration) {
        let t = &self.nodes[target];
        if t.core.is_none() {
            if let Some(c) = self.crashes.iter_mut().rev().find(|c| c.node == target) {
                c.detected.get_or_insert(self.now);
            }
            return;
        }
        let undisturbed = !t.paused
            && t.disturbed_at < since
            && !self.net.separated_since(declarer, target, since);
        if undisturbed {
            self.counters.false_dead += 1;
        } else {
            self.counters.dead_while_unreachable += 1;
        }
    }

    /// A node's group commit: sync, then acknowledge what it covered.
    pub(super) fn sync_event(&mut self, i: usize, number: u64) -> Result<(), String> {
        if self.nodes[i].sync_queued.map(|(_, n)| n) != Some(number) {
            return Ok(());
        }
        self.nodes[i].sync_queued = None;
        if self.nodes[i].paused {
            return Ok(()); // resume() flushes, which queues a new sync
        }
        self.sync_now(i)
    }

    /// Syncs node `i` now and acknowledges the writes the sync covered.
    pub(super) fn sync_now(&mut self, i: usize) -> Result<(), String> {
        let now = self.now;
        let Some(core) = self.nodes[i].core.as_mut() else {
            return Ok(());
        };
        if !core.needs_sync() {
            return Ok(());
        }
        let synced = core
            .sync(now)
            .map_err(|e| format!("node {i}: MemStore sync failed: {e}"))?;
        self.nodes[i].sync_queued = None; // nothing staged: a queued sync has no work
        let through = synced.durable_through.unwrap_or(0);
        let pending = std::mem::take(&mut self.nodes[i].pending);
        let (done, rest): (Vec<_>, Vec<_>) = pending.into_iter().partition(|p| p.ticket <= through);
        self.nodes[i].pending = rest;
        self.trace.event(
            5,
            &[now.as_nanos() as u64, i as u64, through, done.len() as u64],
        );
        for p in done {
            self.acknowledge(i, p)?;
        }
        self.flush(i);
        Ok(())
    }

    pub(super) fn fault(&mut self, fault: Fault) {
        if self.quiet {
            return;
        }
        self.counters.faults += 1;
        self.trace
            .event(6, &[self.now.as_nanos() as u64, self.counters.faults]);
        // Plot record only: not folded into the trace hash.
        self.timeline
            .fault(self.now.as_millis() as u64, fault.clone());
        let n = self.nodes.len();
        match fault {
            Fault::Partition { id, side, one_way } if side.len() == n => {
                self.net.partition(id, side, one_way, self.now);
            }
            Fault::Partition { .. } => {}
            Fault::Heal { id } => self.net.heal(id, self.now),
            Fault::Crash(i) => {
                let _ = self.crash(i % n);
            }
            Fault::Restart(i) => self.restart(i % n),
            Fault::Pause(i) => {
                let node = &mut self.nodes[i % n];
                if node.core.is_some() {
                    node.paused = true;
                    node.disturbed_at = self.now;
                }
            }
            Fault::Resume(i) => self.resume(i % n),
            Fault::ClockJump(i, ms) => self.nodes[i % n].clock.jump(ms),
        }
    }

    /// End of the faulty phase: every node runs, clocks are corrected, the network
    /// heals, the workload stops; convergence checks begin.
    pub(super) fn heal_all(&mut self) {
        self.quiet = true;
        self.heal_at = self.now;
        self.net.heal_all(self.now);
        self.trace.event(7, &[self.now.as_nanos() as u64]);
        for i in 0..self.nodes.len() {
            self.nodes[i].clock.correct();
            self.restart(i);
            self.resume(i);
        }
        if let Some(i) = self.leaves_at_heal {
            if let Some(core) = self.nodes[i].core.as_mut() {
                core.leave(self.now);
            }
            self.flush(i);
        }
        self.push(self.now + super::CHECK_EVERY, Ev::Check);
    }
}
