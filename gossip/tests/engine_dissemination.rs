//! Payload dissemination on the simulated network: every live node gets every payload
//! once, or rarely (well under one in a thousand) not at all, without loss, and nearly
//! all of them (never twice) under loss; the rest is anti-entropy's job in the node core.
//! Each failure prints its seed.

#[macro_use]
mod harness;

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use harness::{millis, secs, NetConfig, Sim};
use lattice_gossip::engine::{Config, Event};

/// Deliveries per (node, payload id).
fn deliveries(sim: &Sim) -> BTreeMap<(usize, [u8; 16]), usize> {
    let mut counts = BTreeMap::new();
    for r in &sim.log {
        if let Event::Payload { id, .. } = &r.event {
            *counts.entry((r.node, *id)).or_insert(0) += 1;
        }
    }
    counts
}

fn payload_id(k: u64) -> [u8; 16] {
    let mut id = [0; 16];
    id[..8].copy_from_slice(&k.to_be_bytes());
    id
}

/// `n` nodes with `config` that joined through the first and see each other alive.
fn converged(n: usize, seed: u64, config: Config) -> Sim {
    let mut sim = Sim::new(n, seed, config, NetConfig::default());
    sim.join_all_via_first(millis(10));
    let live: Vec<usize> = (0..n).collect();
    let took = sim.run_until_converged(&live, secs(20));
    check!(sim, took.is_some(), "cluster did not converge");
    sim
}

/// `n` converged nodes broadcast `count` payloads from random origins, 50 ms apart.
fn broadcast_run(n: usize, seed: u64, net: NetConfig, count: u64) -> (Sim, Vec<usize>) {
    let mut sim = converged(n, seed, Config::default());
    sim.net = net;
    let mut origins = Vec::new();
    for k in 0..count {
        let origin = (seed.wrapping_mul(31).wrapping_add(k * 7) % n as u64) as usize;
        origins.push(origin);
        sim.broadcast(origin, payload_id(k), format!("payload {k}").into_bytes());
        sim.run_for(millis(50));
    }
    sim.run_for(secs(5));
    (sim, origins)
}

/// Without loss, a node gets a payload once or, rarely, not at all: offers stop once a
/// payload's echoes say it is widespread, and a node that no holder happened to pick is
/// left to anti-entropy (the node core's job). The module doc promises that this leaves
/// well under one node in a thousand without it: on these seeds, 5 of 23,200 deliveries.
#[test]
fn every_node_gets_every_payload_once_and_almost_none_miss_without_loss() {
    let (n, count) = (30, 40);
    let (mut expected, mut missed) = (0, Vec::new());
    for seed in 1..=20 {
        let (sim, origins) = broadcast_run(n, seed, NetConfig::default(), count);
        let counts = deliveries(&sim);
        for (k, &origin) in origins.iter().enumerate() {
            for node in (0..n).filter(|&node| node != origin) {
                expected += 1;
                let got = counts
                    .get(&(node, payload_id(k as u64)))
                    .copied()
                    .unwrap_or(0);
                check!(sim, got <= 1, "node {node} got payload {k} {got} times");
                if got == 0 {
                    missed.push((seed, node, k));
                }
            }
        }
    }
    assert!(
        missed.len() * 1_000 < expected,
        "{} of {expected} deliveries missed (seed, node, payload): {missed:?}",
        missed.len()
    );
}

/// Once copies and offers of a payload keep coming back, nearly every node holds it:
/// nodes stop offering it early, and all but a few nodes still get it, never twice. (In
/// about one seed in ten, 1 to 4 of the 1,980 deliveries are missed, measured over
/// seeds 1 to 150; anti-entropy in the node layer repairs those.)
#[test]
fn echoes_stop_the_offers_of_a_widespread_payload() {
    let (n, count, seed) = (100, 20, 23);
    let run = |echoes_max: u32| {
        let config = Config {
            payload_echoes_max: NonZeroU32::new(echoes_max).unwrap(),
            ..Config::default()
        };
        let mut sim = converged(n, seed, config);
        let offered = |sim: &Sim| -> u64 {
            (0..n)
                .map(|i| sim.engine(i).stats().payload_ids_offered)
                .sum()
        };
        let before = offered(&sim);
        for k in 0..count {
            sim.broadcast((k as usize * 7) % n, payload_id(k), vec![3; 100]);
            sim.run_for(millis(50));
        }
        sim.run_for(secs(5));
        let counts = deliveries(&sim);
        let expected = count as usize * (n - 1);
        check!(
            sim,
            counts.len() * 400 >= expected * 399 && counts.values().all(|&c| c == 1),
            "{} deliveries of {count} payloads to {} nodes (echoes_max {echoes_max})",
            counts.len(),
            n - 1
        );
        offered(&sim) - before
    };
    let (stopped, unlimited) = (run(Config::default().payload_echoes_max.get()), run(1024));
    assert!(
        stopped * 10 < unlimited * 7,
        "{stopped} ids offered with the default echo limit, {unlimited} without (seed {seed})"
    );
}

#[test]
fn payloads_mostly_arrive_and_never_twice_under_loss() {
    let seed = 7;
    let n = 20;
    let count = 50;
    let net = NetConfig {
        latency: millis(5),
        jitter: millis(20),
        loss: 0.05,
    };
    let (sim, origins) = broadcast_run(n, seed, net, count);
    let counts = deliveries(&sim);
    check!(
        sim,
        counts.values().all(|&c| c == 1),
        "a payload was delivered twice"
    );
    let expected = origins.len() * (n - 1);
    let ratio = counts.len() as f64 / expected as f64;
    check!(
        sim,
        ratio >= 0.995,
        "delivery ratio {ratio:.4} under 5% loss"
    );
}

#[test]
fn payload_hops_stay_logarithmic() {
    let seed = 9;
    let n = 50;
    let (sim, _) = broadcast_run(n, seed, NetConfig::default(), 10);
    let worst = sim
        .log
        .iter()
        .filter_map(|r| match r.event {
            Event::Payload { hops, .. } => Some(hops),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let bound = 1.5 * ((n as f64).log2() + (n as f64).ln());
    check!(
        sim,
        f64::from(worst) <= bound,
        "{worst} hops for n = {n} (bound {bound:.1})"
    );
}

#[test]
fn broadcast_is_bounded_and_deduplicated_at_the_origin() {
    let seed = 13;
    let mut sim = Sim::new(5, seed, Config::default(), NetConfig::default());
    sim.join_all_via_first(millis(10));
    sim.run_for(secs(3));
    sim.broadcast(0, payload_id(1), vec![1; 10]);
    sim.broadcast(0, payload_id(1), vec![1; 10]);
    let too_big = vec![0; Config::default().stream_bytes_max];
    sim.broadcast(0, payload_id(2), too_big);
    sim.run_for(secs(5));
    let stats = sim.engine(0).stats();
    check!(sim, stats.payloads_broadcast == 1, "{stats:?}");
    check!(sim, stats.payloads_too_large == 1, "{stats:?}");
    let delivered: u64 = (1..5)
        .map(|i| sim.engine(i).stats().payloads_delivered)
        .sum();
    check!(
        sim,
        delivered == 4,
        "delivered {delivered} times to 4 peers"
    );
}

#[test]
fn payload_broadcast_while_alone_spreads_once_members_appear() {
    let seed = 17;
    let mut sim = Sim::new(4, seed, Config::default(), NetConfig::default());
    sim.join(0, &[]);
    sim.run_for(secs(1));
    sim.broadcast(0, payload_id(5), b"early".to_vec());
    sim.run_for(secs(2));
    for i in 1..4 {
        sim.join(i, &[0]);
    }
    sim.run_for(secs(5));
    let counts = deliveries(&sim);
    for node in 1..4 {
        let got = counts.get(&(node, payload_id(5))).copied().unwrap_or(0);
        check!(
            sim,
            got == 1,
            "node {node} got the early payload {got} times"
        );
    }
}

/// Messages all nodes sent while `count` payloads from one origin were pushed.
fn messages_while_pushing(seed: u64, count: u64) -> (Sim, u64) {
    let n = 20;
    let mut sim = converged(n, seed, Config::default());
    sim.run_for(secs(5));
    let sent = |sim: &Sim| -> u64 { (0..n).map(|i| sim.engine(i).stats().messages_sent).sum() };
    let before = sent(&sim);
    for k in 0..count {
        sim.broadcast(0, payload_id(k), vec![7; 100]);
    }
    sim.run_for(secs(3));
    let counts = deliveries(&sim);
    check!(
        sim,
        counts.len() == count as usize * (n - 1),
        "{} deliveries of {count} payloads to {} nodes",
        counts.len(),
        n - 1
    );
    let after = sent(&sim);
    (sim, after - before)
}

#[test]
fn forwarding_stays_at_the_fanout_per_round_however_many_payloads_fly() {
    let seed = 19;
    let fanout = u64::from(Config::default().gossip_nodes.get());
    // The origin pushes each payload at once; the rest is forwarding.
    let (_, one) = messages_while_pushing(seed, 1);
    let (sim, hundred) = messages_while_pushing(seed, 100);
    let (one, hundred) = (one - fanout, hundred - 100 * fanout);
    // Forwarded one message per payload, 100 payloads would cost about 100 times as many.
    check!(
        sim,
        hundred <= one * 2,
        "{hundred} forwarding messages for 100 payloads against {one} for one"
    );
}

#[test]
fn payloads_offered_by_id_are_pulled_by_those_that_lack_them() {
    let seed = 23;
    let n = 30;
    let net = NetConfig {
        latency: millis(5),
        jitter: millis(5),
        loss: 0.15,
    };
    let (sim, origins) = broadcast_run(n, seed, net, 40);
    let counts = deliveries(&sim);
    check!(
        sim,
        counts.values().all(|&c| c == 1),
        "a payload was delivered twice"
    );
    let pulled: u64 = (0..n).map(|i| sim.engine(i).stats().payloads_pulled).sum();
    let ratio = counts.len() as f64 / (origins.len() * (n - 1)) as f64;
    // Whole pushes alone (fanout 3, 15% of messages lost) miss about e^-2.55 of the
    // nodes: about one in thirteen.
    check!(
        sim,
        pulled > 0 && ratio >= 0.99,
        "delivery ratio {ratio:.4} under 15% loss, {pulled} payloads pulled"
    );
}

#[test]
fn a_payload_is_pushing_while_its_rounds_last() {
    let seed = 29;
    let n = 10;
    let mut sim = converged(n, seed, Config::default());
    let id = payload_id(1);
    check!(
        sim,
        !sim.engine(0).is_pushing(&id),
        "pushing before the broadcast"
    );
    sim.broadcast(0, id, b"payload".to_vec());
    check!(
        sim,
        sim.engine(0).is_pushing(&id),
        "the origin is not pushing its payload"
    );
    sim.run_for(millis(250));
    let pushing = (1..n).filter(|&i| sim.engine(i).is_pushing(&id)).count();
    check!(sim, pushing > 0, "no receiver pushes the payload on");
    // Rounds: mult × ⌈log10(n + 1)⌉ = 4 at 10 nodes, 200 ms each.
    sim.run_for(secs(3));
    let pushing = (0..n).filter(|&i| sim.engine(i).is_pushing(&id)).count();
    check!(
        sim,
        pushing == 0,
        "{pushing} nodes still push after their rounds"
    );
}

#[test]
fn a_payload_is_not_pushed_again_to_the_members_known_to_hold_it() {
    let seed = 31;
    let n = 10;
    let mut sim = converged(n, seed, Config::default());
    let id = payload_id(2);
    sim.broadcast(0, id, b"payload".to_vec());
    sim.run_for(millis(250));
    let origin = sim.engine(0).id();
    // After one round only the origin's pushes have arrived: each node that has the
    // payload took it from the origin, so knows the origin holds it, and the origin
    // knows it pushed it to them.
    let receivers: Vec<usize> = (1..n).filter(|&i| sim.engine(i).is_pushing(&id)).collect();
    check!(sim, !receivers.is_empty(), "no node got the payload");
    for &i in &receivers {
        let engine = sim.engine(i);
        check!(
            sim,
            !engine.is_pushing_to(&id, origin),
            "node {i} would push the payload back to the origin"
        );
    }
    let others = (1..n).filter(|&i| sim.engine(0).is_pushing_to(&id, sim.engine(i).id()));
    check!(
        sim,
        others.count() < n - 1,
        "the origin knows none of its pushes"
    );
}
