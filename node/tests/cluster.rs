//! Whole nodes (replica + gossip engine) on a deterministic in-memory network: virtual
//! time, seeded loss and latency, partitions, crashes and restarts. Every write made
//! anywhere reaches every node, across partitions after they heal and after restarts;
//! what dissemination loses, anti-entropy repairs. Each failure prints its seed.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::node;
use lattice_crdt::{Json, JsonLimits, Op, NTP64};
use lattice_gossip::engine::{Rng, Transmit};
use lattice_node::store::{MemStore, Store};
use lattice_node::{
    CommitConfig, NodeConfig, NodeCore, NodeEvent, Replica, ReplicaConfig, EVENTS_MAX,
};

/// A frame in flight.
struct Flight {
    at: Duration,
    from: usize,
    to: usize,
    bytes: Vec<u8>,
}

struct Net {
    nodes: Vec<Option<NodeCore<MemStore, usize>>>,
    stores: Vec<Option<MemStore>>,
    flights: Vec<Flight>,
    now: Duration,
    rng: Rng,
    loss_percent: u64,
    /// Nodes in different groups cannot talk (all in group 0 when healed).
    group: Vec<u8>,
    writes: BTreeMap<String, i64>,
    config: NodeConfig,
}

impl Net {
    fn new(n: usize, seed: u64, loss_percent: u64) -> Net {
        Net::with_config(n, seed, loss_percent, NodeConfig::default())
    }

    fn with_config(n: usize, seed: u64, loss_percent: u64, config: NodeConfig) -> Net {
        let mut net = Net {
            nodes: (0..n).map(|_| None).collect(),
            stores: (0..n)
                .map(|i| Some(MemStore::new(node(i as u64 + 1))))
                .collect(),
            flights: Vec::new(),
            now: Duration::ZERO,
            rng: Rng::new(seed),
            loss_percent,
            group: vec![0; n],
            writes: BTreeMap::new(),
            config,
        };
        for i in 0..n {
            net.start(i);
        }
        net
    }

    fn wall(&self) -> NTP64 {
        NTP64::from(Duration::from_secs(1_700_000_000) + self.now)
    }

    fn start(&mut self, i: usize) {
        let store = self.stores[i].take().expect("a stopped node has its store");
        let replica = Replica::open(store, ReplicaConfig::default()).unwrap();
        let mut core = NodeCore::new(replica, i, self.config.clone(), self.rng.next_u64());
        let seeds: Vec<usize> = if i == 0 { vec![] } else { vec![0] };
        core.join(self.now, &seeds);
        self.nodes[i] = Some(core);
        self.flush(i);
    }

    /// Crashes node `i`: it loses everything not synced and stops until restarted.
    fn crash(&mut self, i: usize) {
        let core = self.nodes[i].take().expect("running");
        let mut store = core.into_replica().into_store();
        store.crash();
        self.stores[i] = Some(store);
    }

    /// Syncs node `i` and sends what it has to send.
    fn flush(&mut self, i: usize) {
        let Some(core) = self.nodes[i].as_mut() else {
            return;
        };
        if core.needs_sync() {
            core.sync(self.now).unwrap();
        }
        while let Some(Transmit { to, bytes, .. }) = core.poll_transmit() {
            let latency = Duration::from_millis(1 + self.rng.next_u64() % 20);
            self.flights.push(Flight {
                at: self.now + latency,
                from: i,
                to,
                bytes,
            });
        }
    }

    fn write(&mut self, i: usize, key: &str, by: i64) {
        let wall = self.wall();
        let core = self.nodes[i].as_mut().expect("running");
        let ops = [Op::Increment {
            field: "n".into(),
            by,
        }];
        core.write(wall, key, &ops, None).unwrap();
        core.sync(self.now).unwrap();
        *self.writes.entry(key.to_owned()).or_default() += by;
        self.flush(i);
    }

    /// Sets register `r` of `key` to `value` on node `i` with its clock an hour ahead of
    /// the others' (beyond any max drift), syncs and sends.
    fn write_an_hour_ahead(&mut self, i: usize, key: &str, value: u64) {
        let ahead = NTP64::from(Duration::from_secs(1_700_000_000 + 3600) + self.now);
        let value = Json::from_value(&serde_json::json!(value), &JsonLimits::default()).unwrap();
        let ops = [Op::Set {
            field: "r".into(),
            value,
        }];
        let now = self.now;
        let writer = self.nodes[i].as_mut().expect("running");
        writer.write(ahead, key, &ops, None).unwrap();
        writer.sync(now).unwrap();
        self.flush(i);
    }

    /// Runs the network for `span` of virtual time.
    fn run(&mut self, span: Duration) {
        let end = self.now + span;
        while self.now < end {
            self.now += Duration::from_millis(5);
            self.deliver_due();
            for i in 0..self.nodes.len() {
                let (now, wall) = (self.now, self.wall());
                if let Some(core) = self.nodes[i].as_mut() {
                    if core.poll_timeout().is_some_and(|t| t <= now) {
                        core.handle_timeout(now, wall);
                    }
                }
                self.flush(i);
            }
        }
    }

    fn deliver_due(&mut self) {
        let now = self.now;
        let (due, later): (Vec<_>, Vec<_>) = self.flights.drain(..).partition(|f| f.at <= now);
        self.flights = later;
        for f in due {
            let lost = self.rng.next_u64() % 100 < self.loss_percent;
            if lost || self.group[f.from] != self.group[f.to] {
                continue;
            }
            let wall = self.wall();
            if let Some(core) = self.nodes[f.to].as_mut() {
                let _ = core.handle_frame(now, wall, f.from, &f.bytes);
            }
        }
    }

    /// Every running node holds exactly the sum of all acknowledged increments.
    fn converged(&self) -> Result<(), String> {
        for (i, core) in self.nodes.iter().enumerate() {
            let Some(core) = core else { continue };
            for (key, total) in &self.writes {
                let read = core.read(key, None).unwrap();
                let seen = read.view.map_or(0, |v| v["n"].as_i64().unwrap());
                if seen != *total {
                    let members: Vec<_> = core.members().map(|m| (m.id, m.state)).collect();
                    return Err(format!(
                        "node {i} sees {key} = {seen}, not {total}; stats {:?}; members {members:?}",
                        core.stats()
                    ));
                }
            }
        }
        Ok(())
    }
}

fn check(seed: u64, result: Result<(), String>) {
    if let Err(e) = result {
        panic!("seed {seed}: {e}");
    }
}

#[test]
fn every_write_reaches_every_node_under_loss() {
    for seed in 0..4 {
        let mut net = Net::new(5, seed, 5);
        net.run(Duration::from_secs(5));
        for k in 0..40 {
            net.write(k % 5, &format!("doc-{}", k % 7), 1 + k as i64);
            net.run(Duration::from_millis(50));
        }
        net.run(Duration::from_secs(10));
        check(seed, net.converged());
    }
}

#[test]
fn a_partition_heals_and_both_sides_writes_meet() {
    for seed in 10..13 {
        let mut net = Net::new(6, seed, 0);
        net.run(Duration::from_secs(5));
        for i in 3..6 {
            net.group[i] = 1;
        }
        for k in 0..30 {
            net.write(k % 6, "shared", 1);
            net.run(Duration::from_millis(100));
        }
        net.group = vec![0; 6];
        net.run(Duration::from_secs(30));
        check(seed, net.converged());
    }
}

/// Steps `net` 5 ms at a time, delivering frames but syncing no node, until node `i`
/// has something staged; returns when that was.
fn until_staged(net: &mut Net, i: usize) -> Duration {
    for _ in 0..400 {
        net.now += Duration::from_millis(5);
        net.deliver_due();
        let core = net.nodes[i].as_ref().expect("running");
        if core.needs_sync() {
            return net.now;
        }
    }
    panic!("node {i} never received the record");
}

#[test]
fn records_from_peers_wait_for_the_commit_delay_and_a_local_write_takes_them_along() {
    let delay = CommitConfig::default().peer_delay;
    let mut net = Net::new(2, 3, 0);
    net.run(Duration::from_secs(3));
    net.write(0, "k", 1); // synced and pushed to node 1
    let staged_at = until_staged(&mut net, 1);
    let (wall, now) = (net.wall(), net.now);
    let core = net.nodes[1].as_mut().expect("running");
    assert_eq!(
        core.sync_due(),
        Some(staged_at + delay),
        "due after the delay"
    );
    let inc = [Op::Increment {
        field: "n".into(),
        by: 2,
    }];
    core.write(wall, "k", &inc, None).unwrap();
    assert_eq!(
        core.sync_due(),
        Some(Duration::ZERO),
        "a local write is due at once"
    );
    core.sync(now).unwrap();
    assert_eq!(core.sync_due(), None);
    net.crash(1);
    net.start(1);
    let read = net.nodes[1].as_ref().unwrap().read("k", None).unwrap();
    assert_eq!(
        read.view.unwrap()["n"],
        3,
        "the peer's record was made durable with the write"
    );

    // Past the byte bound, the record from a peer is due at once.
    let config = NodeConfig {
        commit: CommitConfig {
            peer_bytes_max: 1,
            ..CommitConfig::default()
        },
        ..NodeConfig::default()
    };
    let mut net = Net::with_config(2, 3, 0, config);
    net.run(Duration::from_secs(3));
    net.write(0, "k", 1);
    until_staged(&mut net, 1);
    let core = net.nodes[1].as_ref().expect("running");
    assert_eq!(core.sync_due(), Some(Duration::ZERO));
}

#[test]
fn a_restarted_node_catches_up() {
    for seed in 20..23 {
        let mut net = Net::new(4, seed, 0);
        net.run(Duration::from_secs(5));
        net.write(3, "a", 5);
        net.run(Duration::from_secs(1));
        net.crash(3);
        for k in 0..20 {
            net.write(k % 3, "a", 1);
            net.write(k % 3, "b", 2);
            net.run(Duration::from_millis(50));
        }
        net.start(3);
        net.run(Duration::from_secs(15));
        check(seed, net.converged());
    }
}

#[test]
fn anti_entropy_repairs_what_dissemination_lost() {
    for seed in 30..33 {
        // Heavy loss: dissemination alone misses deltas; anti-entropy must fill the gaps.
        let mut net = Net::new(4, seed, 30);
        net.run(Duration::from_secs(5));
        for k in 0..40 {
            net.write(k % 4, "lossy", 1);
            net.run(Duration::from_millis(20));
        }
        net.loss_percent = 0;
        net.run(Duration::from_secs(20));
        check(seed, net.converged());
    }
}

#[test]
fn replication_lag_shows_what_a_member_lacked_and_falls_to_zero() {
    let seed = 40;
    let mut net = Net::new(3, seed, 0);
    net.run(Duration::from_secs(5));
    // Node 2 is cut off briefly (not long enough to be declared dead) while node 0
    // writes; the first digests after the heal show the gap, the repairs close it.
    net.group[2] = 1;
    for _ in 0..4 {
        net.write(0, "lagging", 1);
    }
    net.run(Duration::from_millis(300));
    net.group[2] = 0;
    let mut peak = 0;
    for _ in 0..400 {
        net.run(Duration::from_millis(25));
        let lag = net.nodes[0].as_mut().unwrap().replication_lag();
        let of_2 = lag.iter().find(|(id, _)| *id == node(3)).map(|(_, d)| *d);
        peak = peak.max(of_2.unwrap_or(0));
    }
    check(seed, net.converged());
    assert_eq!(
        peak, 4,
        "seed {seed}: the lag never showed the 4 missing writes"
    );
    let lag = net.nodes[0].as_mut().unwrap().replication_lag();
    assert_eq!(lag, [(node(2), 0), (node(3), 0)], "seed {seed}");
}

#[test]
fn the_log_is_pruned_below_what_every_live_member_holds_and_a_returning_node_catches_up() {
    for seed in 50..53 {
        let mut config = NodeConfig::default();
        config.prune.interval = Duration::from_secs(1);
        config.prune.retain_dots = 5;
        let mut net = Net::with_config(4, seed, 5, config);
        net.run(Duration::from_secs(5));
        net.crash(3); // dead while the others prune: it will need a snapshot
        for k in 0..60 {
            net.write(k % 3, &format!("doc-{}", k % 9), 1);
            net.run(Duration::from_millis(100));
        }
        net.run(Duration::from_secs(30));
        check(seed, net.converged());
        for i in 0..3 {
            let core = net.nodes[i].as_ref().unwrap();
            let kept = (1..=3)
                .map(|o| {
                    core.replica()
                        .store()
                        .log_range(node(o), 0, u64::MAX, 1000)
                        .unwrap()
                        .len()
                })
                .sum::<usize>();
            assert!(
                core.stats().records_pruned > 0 && kept <= 3 * 5,
                "seed {seed}: node {i} keeps {kept} of 60 records, pruned {}",
                core.stats().records_pruned
            );
        }
        net.start(3);
        net.write(3, "doc-0", 1);
        net.run(Duration::from_secs(30));
        check(seed, net.converged());
    }
}

/// A register write stamped beyond the maximum drift ahead of the receivers' clocks
/// (its writer's clock jumped an hour ahead) is refused by each of them: counted,
/// reported as an event that names the peer that handed it over and why, and not
/// applied. The writer keeps it. (A counter's increment carries no timestamp, and no
/// clock can make it refused.)
#[test]
fn a_record_stamped_too_far_ahead_is_refused_and_reported() {
    let mut net = Net::new(3, 11, 0);
    net.run(Duration::from_secs(5));
    net.write_an_hour_ahead(0, "skewed", 5);
    net.run(Duration::from_secs(10));
    let read = |core: &NodeCore<MemStore, usize>| {
        let view = core.read("skewed", None).unwrap().view;
        view.map_or(0, |v| v["r"].as_i64().unwrap())
    };
    assert_eq!(read(net.nodes[0].as_ref().unwrap()), 5);
    for i in 1..3 {
        let core = net.nodes[i].as_mut().expect("running");
        assert_eq!(read(core), 0, "node {i} applied a record an hour ahead");
        let refused = core.stats().records_refused;
        let events: Vec<NodeEvent<usize>> = std::iter::from_fn(|| core.poll_event()).collect();
        let reports: Vec<(usize, String)> = events
            .into_iter()
            .filter_map(|e| match e {
                NodeEvent::Refused { from, reason } => Some((from, reason)),
                _ => None,
            })
            .collect();
        assert!(refused >= 1, "node {i}: {:?}", core.stats());
        assert_eq!(reports.len() as u64, refused, "node {i}: one report each");
        for (from, reason) in &reports {
            assert!(*from != i && *from < 3, "node {i}: refused from {from}");
            assert!(reason.contains("ahead of the local clock"), "{reason}");
        }
    }
}

/// A driver that never polls events costs a counter, not memory: past `EVENTS_MAX`
/// waiting, events are dropped and counted. Here a writer an hour ahead makes each
/// receiver refuse more records than that.
#[test]
fn events_past_the_bound_are_counted_not_queued() {
    let mut net = Net::new(2, 12, 0);
    net.run(Duration::from_secs(5));
    let records = EVENTS_MAX + 500;
    for k in 0..records {
        net.write_an_hour_ahead(0, "skewed", k as u64);
        net.run(Duration::from_millis(5));
    }
    net.run(Duration::from_secs(5));
    let core = net.nodes[1].as_mut().expect("running");
    let stats = core.stats();
    let waiting = std::iter::from_fn(|| core.poll_event()).count();
    assert!(
        stats.records_refused > EVENTS_MAX as u64,
        "{stats:?}: the test needs more refusals than the bound"
    );
    assert_eq!(waiting, EVENTS_MAX, "{stats:?}");
    assert!(
        stats.events_dropped >= stats.records_refused - EVENTS_MAX as u64,
        "{stats:?}"
    );
}
