//! The simulation: an event queue in virtual time driving real node cores.
//!
//! Everything happens in one thread, in the order of `(time, sequence number)`; every
//! random choice comes from generators forked from the seed; nothing reads a clock. So a
//! run is a pure function of its [`Options`] (and schedule), and its trace hash says so.

mod finish;
mod nodes;
mod sessions;

use std::collections::BTreeMap;
use std::time::Duration;

use lattice_crdt::Timestamp;
use lattice_gossip::engine::Stats as GossipStats;
use lattice_node::store::{MemStore, RecordPool};
use lattice_node::{NodeConfig, NodeCore, NodeStats};
use thiserror::Error;

use crate::check::AckedWrite;
use crate::clock::Clock;
use crate::fault::{self, Fault, Profile, Scheduled};
use crate::net::Network;
use crate::options::Options;
use crate::report::RunReport;
use crate::rng::Rng;
use crate::timeline::{self, FaultEvent, Timeline};
use crate::trace::Trace;
use crate::workload::Session;

/// How long after heal-all the cluster has to converge before the run fails.
pub const QUIET_MAX: Duration = Duration::from_secs(120);

/// How often convergence is checked during the quiet period.
const CHECK_EVERY: Duration = Duration::from_millis(100);

/// When the first faults may start: the cluster forms first.
const WARMUP: Duration = Duration::from_secs(5);

/// A checker found a violation: the run stopped.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("seed {seed}, at {at_ms} ms simulated: {message}\n  reproduce: {command}")]
pub struct Violation {
    /// The run's seed.
    pub seed: u64,
    /// Simulated time of the violation, in ms.
    pub at_ms: u64,
    /// What was violated.
    pub message: String,
    /// The command that reproduces the run.
    pub command: String,
}

/// Something due at a simulated time.
#[derive(Debug)]
enum Ev {
    /// A frame arrives.
    Deliver {
        from: usize,
        to: usize,
        bytes: Vec<u8>,
    },
    /// A node's timer may be due.
    Timer { node: usize, at: Duration },
    /// A node's group commit (ignored unless it is the node's queued one, `number`).
    Sync { node: usize, number: u64 },
    /// A session's next request.
    Session(usize),
    /// A fault of the schedule.
    Fault(Fault),
    /// End of the faulty phase: everything heals, the workload stops.
    HealAll,
    /// A convergence check of the quiet period.
    Check,
}

/// A write staged on a node and waiting for its sync.
#[derive(Debug)]
struct Pending {
    ticket: u64,
    session: usize,
    token: lattice_node::SessionToken,
    write: AckedWrite,
}

/// One simulated node: its core while running, its store while down.
#[derive(Debug)]
struct SimNode {
    core: Option<NodeCore<MemStore, u32>>,
    store: Option<MemStore>,
    clock: Clock,
    paused: bool,
    /// Frames that arrived while paused, in order.
    inbox: Vec<(usize, Vec<u8>)>,
    /// The timer event in the queue, if any.
    timer_at: Option<Duration>,
    /// The sync event in the queue, if any: when the node's sync was due, and the
    /// event's number.
    sync_queued: Option<(Duration, u64)>,
    /// Sync events queued so far.
    sync_events: u64,
    /// Raised at every crash.
    epoch: u64,
    pending: Vec<Pending>,
    /// The counters of its cores that crashed (node and gossip).
    crashed_stats: Vec<(NodeStats, GossipStats)>,
    /// The last acknowledged write's HLC timestamp (kept across restarts).
    last_timestamp: Option<Timestamp>,
    /// When it last started, restarted, paused or resumed.
    disturbed_at: Duration,
    /// Its core's count of members it declared dead itself, as of the last flush.
    declared_dead: u64,
}

/// A crash and when some node first declared the crashed node dead (itself, from its
/// own suspicion timing out).
#[derive(Debug)]
struct Crash {
    node: usize,
    at: Duration,
    restarted: bool,
    detected: Option<Duration>,
}

/// Counters of the run.
#[derive(Debug, Default)]
struct Counters {
    messages: u64,
    bytes: u64,
    reads: u64,
    not_ready: u64,
    lost_unacked: u64,
    false_dead: u64,
    dead_while_unreachable: u64,
    faults: u64,
    /// The first frame or record a node refused (the nodes count them all), for the
    /// report.
    first_refusal: Option<String>,
}

/// A whole-cluster simulation run. See the module doc.
#[derive(Debug)]
pub struct Simulation {
    options: Options,
    profile: Profile,
    config: NodeConfig,
    now: Duration,
    queue: BTreeMap<(Duration, u64), Ev>,
    seq: u64,
    /// Whether `run_with_progress` was called.
    ran: bool,
    net: Network,
    nodes: Vec<SimNode>,
    /// The log records the nodes' stores share (each record is held once).
    records: RecordPool,
    sessions: Vec<Session>,
    rng: Rng,
    trace: Trace,
    acked: Vec<AckedWrite>,
    crashes: Vec<Crash>,
    /// Since when each (observer, member) pair has been suspect, while it is.
    suspected: BTreeMap<(usize, usize), Duration>,
    counters: Counters,
    quiet: bool,
    heal_at: Duration,
    converged_at: Option<Duration>,
    /// When every node first saw every other node alive after heal-all.
    members_converged_at: Option<Duration>,
    /// The node that did not see every other alive at the last membership check.
    members_lagging: usize,
    /// A node that leaves at heal-all ([`Simulation::fabricate_leave`]).
    leaves_at_heal: Option<usize>,
    /// What happened over time, for plots; never folded into `trace`.
    timeline: Timeline,
}

impl Simulation {
    /// A run of `options` with the fault schedule drawn from the seed.
    pub fn new(options: Options) -> Simulation {
        let mut rng = Rng::new(options.seed);
        let profile = Profile::draw(&options, &mut rng);
        let start = WARMUP.min(options.duration / 4);
        let schedule = fault::schedule(
            &profile,
            options.nodes,
            start,
            options.duration,
            &mut rng.fork(),
        );
        Simulation::build(options, profile, schedule, rng)
    }

    /// A run of `options` with this fault schedule (the profile is still drawn from the
    /// seed; faults after `options.duration` are ignored).
    pub fn with_schedule(options: Options, schedule: Vec<Scheduled>) -> Simulation {
        let mut rng = Rng::new(options.seed);
        let profile = Profile::draw(&options, &mut rng);
        Simulation::build(options, profile, schedule, rng)
    }

    fn build(
        options: Options,
        profile: Profile,
        schedule: Vec<Scheduled>,
        mut rng: Rng,
    ) -> Simulation {
        assert!(options.nodes >= 1, "a cluster has at least one node");
        let net = Network::new(options.nodes, &profile, rng.fork());
        let mut clocks = rng.fork();
        let nodes = (0..options.nodes)
            .map(|_| SimNode::new(&profile, &mut clocks))
            .collect();
        let mut config = NodeConfig::default();
        if profile.log_retain_dots < config.prune.retain_dots {
            config.prune.retain_dots = profile.log_retain_dots;
            config.prune.interval = Duration::from_secs(1);
        }
        // The plot's observer, from the faults the run will apply: those up to heal-all.
        // (The queue applies them by time, then in schedule order.)
        let mut planned: Vec<&Scheduled> = schedule
            .iter()
            .filter(|s| s.at <= options.duration)
            .collect();
        planned.sort_by_key(|s| s.at);
        let planned: Vec<FaultEvent> = planned
            .into_iter()
            .map(|s| FaultEvent {
                at_ms: s.at.as_millis() as u64,
                fault: s.fault.clone(),
            })
            .collect();
        let heal_at_ms = options.duration.as_millis() as u64;
        let timeline = Timeline {
            observer: timeline::observer(&planned, heal_at_ms, options.nodes),
            ..Timeline::default()
        };
        let mut sim = Simulation {
            config,
            now: Duration::ZERO,
            queue: BTreeMap::new(),
            seq: 0,
            ran: false,
            net,
            nodes,
            records: RecordPool::new(),
            sessions: Vec::new(),
            rng: rng.fork(),
            trace: Trace::default(),
            acked: Vec::new(),
            crashes: Vec::new(),
            suspected: BTreeMap::new(),
            counters: Counters::default(),
            quiet: false,
            heal_at: options.duration,
            converged_at: None,
            members_converged_at: None,
            leaves_at_heal: None,
            members_lagging: 0,
            timeline,
            profile,
            options,
        };
        for s in schedule {
            sim.push(s.at, Ev::Fault(s.fault));
        }
        sim.push(sim.options.duration, Ev::HealAll);
        sim
    }

    /// The fault profile of this run.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Records a write as acknowledged that no node ever made, so that the checkers
    /// must report it lost. Only for testing the checkers.
    pub fn fabricate_acked_write(&mut self) {
        let origin = lattice_crdt::NodeId::new(1).expect("non-zero");
        self.acked.push(AckedWrite {
            node: 0,
            key: crate::workload::KEYS[0].to_owned(),
            ops: vec![lattice_crdt::Op::Increment {
                field: "n".into(),
                by: 1,
            }],
            first: lattice_crdt::Dot::new(origin, 1 << 40),
            context: lattice_crdt::VersionVector::new(),
            timestamp: None,
        });
    }

    /// Makes node `node` leave the cluster gracefully at heal-all, so that the
    /// membership checker must report it. Only for testing the checkers.
    pub fn fabricate_leave(&mut self, node: usize) {
        self.leaves_at_heal = Some(node);
    }

    /// Runs to the end: the faulty phase, heal-all, and the quiet period until the
    /// cluster converges; then the final checkers.
    pub fn run(mut self) -> Result<RunReport, Violation> {
        self.run_with_progress(&mut |_, _| {})
    }

    /// Like [`run`](Simulation::run), calling `progress(now, duration)` about once per
    /// simulated second. Borrows the simulation so that a caller about to exit may skip
    /// freeing it (a 1,000-node cluster is millions of small allocations, over a second
    /// to free). A simulation runs once: a second call panics.
    pub fn run_with_progress(
        &mut self,
        progress: &mut dyn FnMut(Duration, Duration),
    ) -> Result<RunReport, Violation> {
        assert!(!self.ran, "a simulation runs once");
        self.ran = true;
        self.start();
        let mut next_progress = Duration::from_secs(1);
        while !self.converged() {
            let Some(((at, _), ev)) = self.queue.pop_first() else {
                break;
            };
            self.now = at;
            if at >= next_progress {
                progress(at, self.options.duration);
                next_progress = at + Duration::from_secs(1);
            }
            if let Err(message) = self.handle(ev) {
                return Err(self.violation(message));
            }
        }
        self.finish().map_err(|m| self.violation(m))
    }

    fn violation(&self, message: String) -> Violation {
        Violation {
            seed: self.options.seed,
            at_ms: self.now.as_millis() as u64,
            message,
            command: self.options.command(),
        }
    }

    fn push(&mut self, at: Duration, ev: Ev) {
        self.seq += 1;
        self.queue.insert((at, self.seq), ev);
    }

    fn start(&mut self) {
        for i in 0..self.nodes.len() {
            self.restart(i);
        }
        let count = self.options.session_count();
        for s in 0..count {
            self.sessions.push(Session::new(s % self.options.nodes));
            let at = Duration::from_millis(1_000 + self.rng.below(1_000));
            self.push(at, Ev::Session(s));
        }
    }

    fn handle(&mut self, ev: Ev) -> Result<(), String> {
        match ev {
            Ev::Deliver { from, to, bytes } => self.deliver(from, to, bytes),
            Ev::Timer { node, at } => self.timer(node, at),
            Ev::Sync { node, number } => return self.sync_event(node, number),
            Ev::Session(s) => return self.session_step(s),
            Ev::Fault(fault) => self.fault(fault),
            Ev::HealAll => self.heal_all(),
            Ev::Check => return self.check_converged(),
        }
        Ok(())
    }
}

impl SimNode {
    fn new(profile: &Profile, rng: &mut Rng) -> SimNode {
        let signed = |rng: &mut Rng, max: u64| {
            let v = rng.range(0, max) as i64;
            if rng.percent(50) {
                v
            } else {
                -v
            }
        };
        let offset_us = signed(rng, profile.offset_ms_max) * 1_000;
        let drift_ppm = signed(rng, profile.drift_ppm_max);
        SimNode {
            core: None,
            store: None,
            clock: Clock::new(offset_us, drift_ppm),
            paused: false,
            inbox: Vec::new(),
            timer_at: None,
            sync_queued: None,
            sync_events: 0,
            epoch: 0,
            pending: Vec::new(),
            crashed_stats: Vec::new(),
            last_timestamp: None,
            disturbed_at: Duration::ZERO,
            declared_dead: 0,
        }
    }
}
