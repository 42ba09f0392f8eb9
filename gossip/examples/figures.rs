//! Measures the engine on the simulated network and prints a table of figures:
//! failure detection times against SWIM's expectations, false deaths with and without
//! Lifeguard, message load per node as the cluster grows, and payload dissemination
//! rounds against push gossip's log2 n + ln n.
//!
//! `cargo run --release -p lattice-gossip --example figures` (under a minute).

#[allow(unused_macros)]
#[path = "../tests/harness/mod.rs"]
mod harness;

use std::time::Duration;

use harness::{index_of, millis, node_id, secs, NetConfig, Sim, SimRng};
use lattice_gossip::engine::{Config, Event};

fn main() {
    println!("lattice-gossip engine figures (simulated network, seeded; defaults: LAN profile)\n");
    detection(20, 100);
    detection(50, 40);
    false_positives();
    message_load();
    dissemination();
}

/// A converged cluster of `n` on `net`.
fn cluster(n: usize, seed: u64, config: Config, net: NetConfig) -> Sim {
    let mut sim = Sim::new(n, seed, config, NetConfig::default());
    sim.join_all_via_first(millis(10));
    let all: Vec<usize> = (0..n).collect();
    assert!(
        sim.run_until_converged(&all, secs(60)).is_some(),
        "seed {seed}: no convergence"
    );
    sim.net = net;
    sim
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

fn percentile(xs: &[f64], p: f64) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted.get(rank).copied().unwrap_or(f64::NAN)
}

/// One crash: (first probe, first suspicion, everyone declared dead), in seconds.
fn one_crash(n: usize, seed: u64) -> (f64, f64, f64) {
    let mut sim = cluster(n, seed, Config::default(), NetConfig::default());
    let mut rng = SimRng::new(seed);
    sim.run_for(millis(1000 + rng.below(1000)));
    let victim = 1 + rng.below(n as u64 - 1) as usize;
    let at = sim.now;
    sim.crash(victim);
    sim.run_for(secs(60));
    let probe = sim
        .sends_to_down
        .iter()
        .find(|(t, to)| *t >= at && *to as usize == victim);
    let about = |e: &Event<u32>, down: bool| match e {
        Event::MemberSuspect { id, .. } => !down && index_of(*id) == victim,
        Event::MemberDown { id, .. } => down && index_of(*id) == victim,
        _ => false,
    };
    let suspect = sim
        .log
        .iter()
        .find(|r| r.at >= at && about(&r.event, false));
    let everyone = (0..n).filter(|&i| i != victim).map(|i| {
        sim.events_at(i, |e| about(e, true))
            .first()
            .copied()
            .unwrap_or(secs(3600))
    });
    let s = |d: Duration| (d - at).as_secs_f64();
    (
        probe.map_or(f64::NAN, |p| s(p.0)),
        suspect.map_or(f64::NAN, |r| s(r.at)),
        everyone.max().map_or(f64::NAN, s),
    )
}

fn detection(n: usize, trials: u64) {
    let runs: Vec<(f64, f64, f64)> = (0..trials).map(|t| one_crash(n, 100 + t)).collect();
    let col = |f: fn(&(f64, f64, f64)) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
    let (probe, suspect, all) = (col(|r| r.0), col(|r| r.1), col(|r| r.2));
    let e = std::f64::consts::E;
    println!(
        "1{}. Crash detection, n = {n}, {trials} crashes, no loss (1 protocol period = 1 s)",
        if n < 30 { "a" } else { "b" }
    );
    println!("   {:<44} {:>8} {:>8}", "", "mean", "p99");
    let row = |name: &str, xs: &[f64]| {
        println!(
            "   {name:<44} {:>8.2} {:>8.2}",
            mean(xs),
            percentile(xs, 99.0)
        )
    };
    row("crash -> first probe of it (periods)", &probe);
    row("crash -> first suspicion (periods)", &suspect);
    row("crash -> every node declared it dead (s)", &all);
    println!(
        "   SWIM (random targets): e/(e-1) = {:.2} whole periods, counting the crash's own;",
        e / (e - 1.0)
    );
    println!(
        "   from the crash instant that is about e/(e-1) - 0.5 = {:.2}. Suspicion comes at the",
        e / (e - 1.0) - 0.5
    );
    println!("   end of that probe's period (+1); death after the suspicion timeout (>= 4 s).\n");
}

/// Faults injected every second of a false-positive scenario.
#[derive(Clone, Copy)]
enum Fault {
    /// None beyond loss.
    Quiet,
    /// Every 5 s a random node freezes for 0.5 s up to `max_ms`.
    Stalls { max_ms: u64 },
    /// Nodes 0 and 1 are degraded: frozen 300-950 ms of every second (CPU starvation).
    Degraded,
}

/// Counts (false deaths seen, suspicions raised, refutations) in one 600 s run of 10 nodes.
fn scenario(lifeguard: bool, fault: Fault, loss: f64, seed: u64) -> (u64, u64, u64) {
    let n = 10;
    let config = Config {
        lifeguard,
        ..Config::default()
    };
    let net = NetConfig {
        latency: millis(5),
        jitter: millis(30),
        loss,
    };
    let mut sim = cluster(n, seed, config, net);
    let mut rng = SimRng::new(seed ^ 0xABCD);
    let start = sim.log.len();
    for second in 0..600u64 {
        match fault {
            Fault::Quiet => {}
            Fault::Stalls { max_ms } if second % 5 == 0 => {
                let node = rng.below(n as u64) as usize;
                sim.stall(node, millis(500 + rng.below(max_ms - 500)));
            }
            Fault::Stalls { .. } => {}
            Fault::Degraded => {
                for node in [0, 1] {
                    sim.stall(node, millis(300 + rng.below(650)));
                }
            }
        }
        sim.run_for(secs(1));
    }
    let deaths = sim.log[start..]
        .iter()
        .filter(|r| matches!(r.event, Event::MemberDown { .. }))
        .count();
    let stats = (0..n).map(|i| sim.engine(i).stats());
    let (sus, refute) = stats.fold((0, 0), |(s, r), st| (s + st.suspicions, r + st.refutations));
    (deaths as u64, sus, refute)
}

fn false_positives() {
    println!("2. False positives: 10 nodes, 600 s, nobody crashes, jitter 5-35 ms; sums over 3");
    println!("   seeds. A death = one node's MemberDown event about a live (if frozen) member.");
    println!(
        "   {:<36} {:>9} {:>13} {:>11} {:>12}",
        "scenario", "lifeguard", "false deaths", "suspicions", "refutations"
    );
    let cases = [
        (
            "stalls <= 3.5 s, 1% loss",
            Fault::Stalls { max_ms: 3500 },
            0.01,
        ),
        (
            "stalls <= 8 s, 1% loss",
            Fault::Stalls { max_ms: 8000 },
            0.01,
        ),
        ("2 degraded nodes, 1% loss", Fault::Degraded, 0.01),
        ("2 degraded nodes, 10% loss", Fault::Degraded, 0.10),
        ("20% loss", Fault::Quiet, 0.20),
    ];
    for (name, fault, loss) in cases {
        for lifeguard in [false, true] {
            let mut total = (0, 0, 0);
            for seed in 0..3 {
                let (d, s, r) = scenario(lifeguard, fault, loss, 200 + seed);
                total = (total.0 + d, total.1 + s, total.2 + r);
            }
            let on = if lifeguard { "on" } else { "off" };
            println!(
                "   {name:<36} {on:>9} {:>13} {:>11} {:>12}",
                total.0, total.1, total.2
            );
        }
    }
    println!("   (a member frozen longer than the suspicion timeout, >= 4 s here, is rightly");
    println!(
        "   declared dead either way; Lifeguard guards against slow nodes' false accusations)\n"
    );
}

fn message_load() {
    println!("3. Load in steady state (no loss, 60 s after convergence)");
    println!(
        "   {:>6} {:>22} {:>22}",
        "n", "messages/node/period", "bytes/node/period"
    );
    for n in [5, 20, 100] {
        let mut sim = cluster(n, 300 + n as u64, Config::default(), NetConfig::default());
        sim.run_for(secs(10));
        let totals = |sim: &Sim| {
            (0..n)
                .map(|i| sim.engine(i).stats())
                .fold((0, 0), |(m, b), s| (m + s.messages_sent, b + s.bytes_sent))
        };
        let before = totals(&sim);
        sim.run_for(secs(60));
        let after = totals(&sim);
        let per = |x: u64| x as f64 / n as f64 / 60.0;
        println!(
            "   {n:>6} {:>22.2} {:>22.1}",
            per(after.0 - before.0),
            per(after.1 - before.1)
        );
    }
    println!();
}

/// For each of `count` payloads: (rounds = most hops to any node, ms until all had it).
fn payload_rounds(n: usize, count: u64) -> Vec<(f64, f64)> {
    let mut sim = cluster(n, 400 + n as u64, Config::default(), NetConfig::default());
    let mut out = Vec::new();
    for k in 0..count {
        let start = sim.log.len();
        let at = sim.now;
        let mut id = [0; 16];
        id[..8].copy_from_slice(&k.to_be_bytes());
        sim.broadcast((k as usize * 7) % n, id, vec![0; 200]);
        sim.run_for(secs(3));
        let got: Vec<(u16, Duration)> = sim.log[start..]
            .iter()
            .filter_map(|r| match &r.event {
                Event::Payload { id: pid, hops, .. } if *pid == id => Some((*hops, r.at)),
                _ => None,
            })
            .collect();
        if got.len() == n - 1 {
            let hops = got.iter().map(|g| g.0).max().unwrap_or(0);
            let last = got.iter().map(|g| g.1).max().unwrap_or(at);
            out.push((f64::from(hops), (last - at).as_secs_f64() * 1000.0));
        }
    }
    out
}

fn dissemination() {
    println!("4. Dissemination (fanout 3, no loss, latency 2-5 ms; 60 payloads per n)");
    println!(
        "   {:>6} {:>10} {:>10} {:>10} {:>18} {:>14}",
        "n", "reached", "rounds p50", "p99", "1.5(log2 n+ln n)", "ms to all p50"
    );
    for n in [5, 20, 100] {
        let count = 60;
        let runs = payload_rounds(n, count);
        let rounds: Vec<f64> = runs.iter().map(|r| r.0).collect();
        let ms: Vec<f64> = runs.iter().map(|r| r.1).collect();
        let bound = 1.5 * ((n as f64).log2() + (n as f64).ln());
        println!(
            "   {n:>6} {:>10} {:>10.0} {:>10.0} {:>18.1} {:>14.1}",
            format!("{}/{count}", runs.len()),
            percentile(&rounds, 50.0),
            percentile(&rounds, 99.0),
            bound,
            percentile(&ms, 50.0)
        );
    }
    let _ = node_id(0);
}
