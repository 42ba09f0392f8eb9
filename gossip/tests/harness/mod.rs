//! A deterministic in-memory network for engines: virtual time, seeded loss, latency
//! with jitter, partitions, crashes and restarts, CPU stalls (a stalled node handles no
//! input and no timer until it wakes, then runs its overdue timers and its backlog). One seed fixes
//! everything; failures print it (STYLE.md 10).
//!
//! Shared by the engine tests and `examples/figures.rs` (through `#[path]`).

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Duration;

use lattice_crdt::NodeId;
use lattice_gossip::engine::{Config, Engine, Event, MemberState};

/// Fails with the seed that reproduces the run.
macro_rules! check {
    ($sim:expr, $cond:expr, $($fmt:tt)+) => {
        let ok: bool = $cond;
        if !ok {
            panic!("[seed {}] {}", $sim.seed, format!($($fmt)+));
        }
    };
}

/// The network's behaviour.
#[derive(Clone, Debug)]
pub(crate) struct NetConfig {
    /// One-way latency before jitter.
    pub(crate) latency: Duration,
    /// Uniform extra delay in `[0, jitter)`.
    pub(crate) jitter: Duration,
    /// Chance that a message is lost, in `[0, 1]`.
    pub(crate) loss: f64,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            latency: Duration::from_millis(2),
            jitter: Duration::from_millis(3),
            loss: 0.0,
        }
    }
}

/// The harness's own randomness (the engine's generator, seeded apart from the engines').
#[derive(Clone, Debug)]
pub(crate) struct SimRng(lattice_gossip::engine::Rng);

impl SimRng {
    pub(crate) fn new(seed: u64) -> Self {
        SimRng(lattice_gossip::engine::Rng::new(seed))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Flight {
    at: Duration,
    seq: u64,
    from: u32,
    to: u32,
    bytes: Vec<u8>,
}

/// One simulated node.
#[derive(Debug)]
pub(crate) struct SimNode {
    pub(crate) engine: Option<Engine<u32>>,
    pub(crate) stalled_until: Duration,
    backlog: Vec<(u32, Vec<u8>)>,
    deadline: Option<Duration>,
    restarts: u64,
}

/// An event with when and where it happened.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub(crate) at: Duration,
    pub(crate) node: usize,
    pub(crate) event: Event<u32>,
}

/// The simulated cluster.
pub(crate) struct Sim {
    pub(crate) seed: u64,
    pub(crate) now: Duration,
    pub(crate) net: NetConfig,
    pub(crate) config: Config,
    pub(crate) nodes: Vec<SimNode>,
    pub(crate) log: Vec<Record>,
    /// Messages handed to the network (for message-rate figures).
    pub(crate) messages: u64,
    /// When messages were sent to crashed nodes, and to which (first probes of a crash).
    pub(crate) sends_to_down: Vec<(Duration, u32)>,
    rng: SimRng,
    flights: BinaryHeap<Reverse<Flight>>,
    seq: u64,
    groups: Vec<u8>,
}

/// Node index `i`'s id.
pub(crate) fn node_id(i: usize) -> NodeId {
    NodeId::new(i as u64 + 1).unwrap()
}

/// The index of node id `id`.
pub(crate) fn index_of(id: NodeId) -> usize {
    id.get() as usize - 1
}

/// Most messages a stalled node buffers.
const BACKLOG_MAX: usize = 10_000;

impl Sim {
    /// `n` engines, not yet started.
    pub(crate) fn new(n: usize, seed: u64, config: Config, net: NetConfig) -> Sim {
        let mut sim = Sim {
            seed,
            now: Duration::ZERO,
            net,
            config,
            nodes: Vec::new(),
            log: Vec::new(),
            messages: 0,
            sends_to_down: Vec::new(),
            rng: SimRng::new(seed),
            flights: BinaryHeap::new(),
            seq: 0,
            groups: vec![0; n],
        };
        for i in 0..n {
            let engine = sim.fresh_engine(i, 0);
            sim.nodes.push(SimNode {
                engine: Some(engine),
                stalled_until: Duration::ZERO,
                backlog: Vec::new(),
                deadline: None,
                restarts: 0,
            });
        }
        sim
    }

    fn fresh_engine(&self, i: usize, restarts: u64) -> Engine<u32> {
        let mut seeder = SimRng::new(
            self.seed ^ (i as u64).wrapping_mul(0x1234_5678_9ABC_DEF1) ^ restarts << 40,
        );
        Engine::new(node_id(i), i as u32, self.config.clone(), seeder.next_u64())
    }

    /// Node 0 founds the cluster; the others join through it, `stagger` apart.
    pub(crate) fn join_all_via_first(&mut self, stagger: Duration) {
        self.join(0, &[]);
        for i in 1..self.nodes.len() {
            self.run_for(stagger);
            self.join(i, &[0]);
        }
    }

    pub(crate) fn join(&mut self, i: usize, seeds: &[u32]) {
        let now = self.now;
        if let Some(e) = self.nodes[i].engine.as_mut() {
            e.join(now, seeds);
        }
        self.drain(i);
    }

    pub(crate) fn leave(&mut self, i: usize) {
        let now = self.now;
        if let Some(e) = self.nodes[i].engine.as_mut() {
            e.leave(now);
        }
        self.drain(i);
    }

    pub(crate) fn broadcast(&mut self, i: usize, id: [u8; 16], bytes: Vec<u8>) {
        let now = self.now;
        if let Some(e) = self.nodes[i].engine.as_mut() {
            e.broadcast(now, id, bytes);
        }
        self.drain(i);
    }

    /// Stops node `i` (its state is lost; messages to it vanish).
    pub(crate) fn crash(&mut self, i: usize) {
        self.nodes[i].engine = None;
        self.nodes[i].backlog.clear();
        self.nodes[i].deadline = None;
    }

    /// Starts a fresh engine for node `i` (same id and address, incarnation 0) that joins
    /// through `seeds`.
    pub(crate) fn restart(&mut self, i: usize, seeds: &[u32]) {
        self.nodes[i].restarts += 1;
        let engine = self.fresh_engine(i, self.nodes[i].restarts);
        self.nodes[i].engine = Some(engine);
        self.nodes[i].stalled_until = Duration::ZERO;
        self.join(i, seeds);
    }

    /// Node `i` handles nothing for `d` (a GC pause, a stuck disk, an overloaded host).
    pub(crate) fn stall(&mut self, i: usize, d: Duration) {
        self.nodes[i].stalled_until = self.now + d;
    }

    /// Nodes in different groups cannot reach each other.
    pub(crate) fn partition(&mut self, groups: &[u8]) {
        self.groups = groups.to_vec();
    }

    pub(crate) fn heal(&mut self) {
        self.groups = vec![0; self.nodes.len()];
    }

    pub(crate) fn is_up(&self, i: usize) -> bool {
        self.nodes[i].engine.is_some()
    }

    pub(crate) fn engine(&self, i: usize) -> &Engine<u32> {
        self.nodes[i].engine.as_ref().expect("node is up")
    }

    pub(crate) fn engine_mut(&mut self, i: usize) -> &mut Engine<u32> {
        self.nodes[i].engine.as_mut().expect("node is up")
    }

    /// What node `i` believes about each member.
    pub(crate) fn view(&self, i: usize) -> BTreeMap<NodeId, MemberState> {
        self.engine(i).members().map(|m| (m.id, m.state)).collect()
    }

    /// Whether every node in `nodes` sees every other one alive.
    pub(crate) fn all_see_alive(&self, nodes: &[usize]) -> bool {
        nodes.iter().all(|&i| {
            let view = self.view(i);
            nodes
                .iter()
                .filter(|&&j| j != i)
                .all(|&j| view.get(&node_id(j)) == Some(&MemberState::Alive))
        })
    }

    /// Runs until `all_see_alive(nodes)` or `limit` passes; the time it took, if it did.
    pub(crate) fn run_until_converged(
        &mut self,
        nodes: &[usize],
        limit: Duration,
    ) -> Option<Duration> {
        let start = self.now;
        let step = Duration::from_millis(100);
        while self.now < start + limit {
            if self.all_see_alive(nodes) {
                return Some(self.now - start);
            }
            self.run_for(step);
        }
        self.all_see_alive(nodes).then(|| self.now - start)
    }

    pub(crate) fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Processes every delivery, wake-up and timer up to `until`, in time order.
    pub(crate) fn run_until(&mut self, until: Duration) {
        loop {
            let flight_at = self.flights.peek().map(|Reverse(f)| f.at);
            let node_at = self.next_node_time();
            let next = match (flight_at, node_at) {
                (Some(f), Some((n, _))) => f.min(n),
                (Some(f), None) => f,
                (None, Some((n, _))) => n,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if flight_at == Some(next) {
                let Reverse(flight) = self.flights.pop().expect("peeked");
                self.deliver(flight);
            } else if let Some((_, i)) = node_at {
                self.wake(i);
            }
        }
        self.now = self.now.max(until);
    }

    /// The earliest timer or stall end among running nodes.
    fn next_node_time(&self) -> Option<(Duration, usize)> {
        let mut best: Option<(Duration, usize)> = None;
        for (i, node) in self.nodes.iter().enumerate() {
            if node.engine.is_none() {
                continue;
            }
            let at = if node.stalled_until > self.now {
                Some(node.stalled_until)
            } else {
                node.deadline
            };
            if let Some(at) = at {
                if best.is_none_or(|(b, _)| at < b) {
                    best = Some((at, i));
                }
            }
        }
        best
    }

    fn deliver(&mut self, flight: Flight) {
        let to = flight.to as usize;
        let node = &mut self.nodes[to];
        if node.engine.is_none() {
            return;
        }
        if node.stalled_until > self.now {
            if node.backlog.len() < BACKLOG_MAX {
                node.backlog.push((flight.from, flight.bytes));
            }
            return;
        }
        let now = self.now;
        let engine = node.engine.as_mut().expect("checked");
        let _ = engine.handle_message(now, flight.from, &flight.bytes);
        self.drain(to);
    }

    /// Runs node `i`'s due timers; after a stall, then its backlog. Timers first is the
    /// pessimistic order for a frozen process: timeouts that passed during the stall fire
    /// before the acks and refutations waiting in its socket buffer are read.
    fn wake(&mut self, i: usize) {
        let now = self.now;
        let backlog = std::mem::take(&mut self.nodes[i].backlog);
        let engine = self.nodes[i]
            .engine
            .as_mut()
            .expect("only running nodes wake");
        engine.handle_timeout(now);
        for (from, bytes) in backlog {
            let _ = engine.handle_message(now, from, &bytes);
        }
        self.drain(i);
    }

    /// Takes node `i`'s transmits onto the network and its events into the log.
    fn drain(&mut self, i: usize) {
        let now = self.now;
        let Some(engine) = self.nodes[i].engine.as_mut() else {
            return;
        };
        let mut out = Vec::new();
        while let Some(t) = engine.poll_transmit() {
            out.push(t);
        }
        while let Some(event) = engine.poll_event() {
            self.log.push(Record {
                at: now,
                node: i,
                event,
            });
        }
        self.nodes[i].deadline = engine.poll_timeout();
        for t in out {
            self.send(i as u32, t.to, t.bytes);
        }
    }

    fn send(&mut self, from: u32, to: u32, bytes: Vec<u8>) {
        self.messages += 1;
        if self.nodes[to as usize].engine.is_none() && self.sends_to_down.len() < 100_000 {
            self.sends_to_down.push((self.now, to));
        }
        if self.groups[from as usize] != self.groups[to as usize] || self.rng.unit() < self.net.loss
        {
            return;
        }
        let jitter_ns = self.net.jitter.as_nanos() as u64;
        let delay = self.net.latency + Duration::from_nanos(self.rng.below(jitter_ns.max(1)));
        self.seq += 1;
        let flight = Flight {
            at: self.now + delay,
            seq: self.seq,
            from,
            to,
            bytes,
        };
        self.flights.push(Reverse(flight));
    }

    /// Times at which `observer` logged an event matching `pred`.
    pub(crate) fn events_at(
        &self,
        observer: usize,
        pred: impl Fn(&Event<u32>) -> bool,
    ) -> Vec<Duration> {
        self.log
            .iter()
            .filter(|r| r.node == observer && pred(&r.event))
            .map(|r| r.at)
            .collect()
    }
}

/// Seconds.
pub(crate) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Milliseconds.
pub(crate) fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}
