//! SWIM membership on the simulated network: joins converge, crashes are detected,
//! loss and jitter cause no false deaths, partitions heal, leaves stick, restarts rejoin,
//! and a seed replays bit for bit. Each failure prints its seed.

#[macro_use]
mod harness;

use harness::{millis, node_id, secs, NetConfig, Sim};
use lattice_gossip::engine::{Config, Event, MemberState};

fn lan() -> NetConfig {
    NetConfig::default()
}

fn all(n: usize) -> Vec<usize> {
    (0..n).collect()
}

fn converged_cluster(n: usize, seed: u64, net: NetConfig) -> Sim {
    let mut sim = Sim::new(n, seed, Config::default(), net);
    sim.join_all_via_first(millis(50));
    let took = sim.run_until_converged(&all(n), secs(30));
    check!(
        sim,
        took.is_some(),
        "{n} nodes did not converge after joining via one seed"
    );
    sim
}

#[test]
fn joins_via_one_seed_converge() {
    for seed in [1, 2, 3] {
        let n = 20;
        let mut sim = Sim::new(n, seed, Config::default(), lan());
        sim.join_all_via_first(millis(20));
        let took = sim.run_until_converged(&all(n), secs(20));
        check!(
            sim,
            took.is_some(),
            "not converged within 20 s of the last join"
        );
        check!(sim, took.unwrap() < secs(5), "slow convergence: {:?}", took);
    }
}

#[test]
fn crashed_node_is_declared_dead_everywhere_within_bound() {
    for seed in [11, 12] {
        let n = 10;
        let mut sim = converged_cluster(n, seed, lan());
        let crashed = 3;
        let crash_at = sim.now;
        sim.crash(crashed);
        // Detection (≤ 2n periods round-robin) + suspicion (≤ 6 × 4 s without
        // confirmations; confirmations from n − 1 probers shrink it) + gossip.
        sim.run_for(secs(40));
        for i in (0..n).filter(|&i| i != crashed) {
            let downs = sim.events_at(
                i,
                |e| matches!(e, Event::MemberDown { id, .. } if *id == node_id(crashed)),
            );
            check!(
                sim,
                !downs.is_empty(),
                "node {i} never declared {crashed} dead"
            );
            let after = downs[0] - crash_at;
            check!(sim, after <= secs(40), "node {i} took {after:?}");
            let state = sim.view(i).get(&node_id(crashed)).copied();
            check!(
                sim,
                matches!(state, Some(MemberState::Dead) | None),
                "node {i} sees {state:?} (dead, or reaped after reap_after)"
            );
        }
        let nacks: u64 = (0..n)
            .filter(|&i| sim.is_up(i))
            .map(|i| sim.engine(i).stats().nacks_received)
            .sum();
        check!(
            sim,
            nacks > 0,
            "relays never nacked the probes of the crashed node"
        );
        let unhealthy = (0..n)
            .filter(|&i| sim.is_up(i) && sim.engine(i).health_score() > 0)
            .count();
        check!(
            sim,
            unhealthy == 0,
            "{unhealthy} healthy nodes blame themselves"
        );
    }
}

#[test]
fn no_false_deaths_under_loss_and_jitter() {
    let seed = 21;
    let n = 5;
    let net = NetConfig {
        latency: millis(5),
        jitter: millis(40),
        loss: 0.05,
    };
    let mut sim = converged_cluster(n, seed, net);
    sim.run_for(secs(300));
    let downs = sim
        .log
        .iter()
        .filter(|r| matches!(r.event, Event::MemberDown { .. }));
    check!(sim, downs.count() == 0, "false deaths under 5% loss");
    check!(sim, sim.all_see_alive(&all(n)), "not all alive at the end");
}

#[test]
fn partition_heals_into_one_membership() {
    for (seed, partition_secs) in [(31, 45), (32, 120)] {
        let n = 10;
        let mut sim = converged_cluster(n, seed, lan());
        let halves: Vec<u8> = (0..n).map(|i| u8::from(i >= n / 2)).collect();
        sim.partition(&halves);
        sim.run_for(secs(partition_secs));
        let view = sim.view(0);
        check!(
            sim,
            view.get(&node_id(n - 1)) != Some(&MemberState::Alive),
            "the other half still looks alive after {partition_secs} s"
        );
        sim.heal();
        let took = sim.run_until_converged(&all(n), secs(60));
        check!(
            sim,
            took.is_some(),
            "no single membership 60 s after a {partition_secs} s partition"
        );
    }
}

/// A leave is seen as one everywhere, and the leaver never comes back. Pinned seed 41:
/// node 7 missed every transmission of the leave, probed the crashed leaver and held it
/// suspect, still 14 s after the leave (so did a node in 33 of seeds 201 to 1,200 at
/// 7 s); now a node that knows of a leave tells one that shows it missed it. In 10 of
/// those seeds a node still holds the leaver alive at 7 s, not having probed it yet; at
/// 14 s none is left.
#[test]
fn left_node_is_seen_left_and_never_resurrected() {
    let seed = 41;
    let n = 8;
    let mut sim = converged_cluster(n, seed, lan());
    let leaver = 2;
    sim.leave(leaver);
    sim.run_for(secs(2));
    sim.crash(leaver);
    sim.run_for(secs(5));
    for i in (0..n).filter(|&i| i != leaver) {
        let state = sim.view(i).get(&node_id(leaver)).copied();
        check!(
            sim,
            state == Some(MemberState::Left),
            "node {i} sees the leaver as {state:?}"
        );
    }
    sim.run_for(secs(60));
    for i in (0..n).filter(|&i| i != leaver) {
        let state = sim.view(i).get(&node_id(leaver)).copied();
        check!(
            sim,
            state.is_none(),
            "node {i} still holds the leaver as {state:?} after reaping"
        );
        let ups = sim.events_at(
            i,
            |e| matches!(e, Event::MemberUp { id, .. } if *id == node_id(leaver)),
        );
        check!(
            sim,
            ups.len() == 1,
            "node {i} saw the leaver come up {} times",
            ups.len()
        );
    }
    check!(
        sim,
        sim.all_see_alive(&[0, 1, 3, 4, 5, 6, 7]),
        "the rest are not all alive"
    );
}

#[test]
fn restarted_node_rejoins_with_a_higher_incarnation() {
    let seed = 51;
    let n = 6;
    let mut sim = converged_cluster(n, seed, lan());
    sim.crash(4);
    sim.run_for(secs(25));
    check!(
        sim,
        sim.view(0).get(&node_id(4)) == Some(&MemberState::Dead),
        "crash not detected"
    );
    sim.restart(4, &[0]);
    let took = sim.run_until_converged(&all(n), secs(20));
    check!(sim, took.is_some(), "restarted node not alive everywhere");
    check!(
        sim,
        sim.engine(4).incarnation() > 0,
        "it had to refute its death"
    );
}

#[test]
fn restarted_node_rejoins_after_being_reaped() {
    let seed = 52;
    let n = 6;
    let mut sim = converged_cluster(n, seed, lan());
    sim.crash(2);
    sim.run_for(secs(60));
    check!(
        sim,
        !sim.view(0).contains_key(&node_id(2)),
        "crashed node not reaped"
    );
    sim.restart(2, &[0]);
    let took = sim.run_until_converged(&all(n), secs(20));
    check!(
        sim,
        took.is_some(),
        "restarted node not alive everywhere after its reaping"
    );
}

#[test]
fn stalled_node_recovers() {
    let seed = 61;
    let n = 8;
    let mut sim = converged_cluster(n, seed, lan());
    sim.stall(5, secs(3));
    sim.run_for(secs(30));
    check!(
        sim,
        sim.all_see_alive(&all(n)),
        "not all alive after a 3 s stall"
    );
}

#[test]
fn same_seed_replays_bit_for_bit() {
    let run = |seed| {
        let net = NetConfig {
            loss: 0.05,
            ..lan()
        };
        let mut sim = converged_cluster(8, seed, net);
        sim.crash(2);
        sim.broadcast(1, [7; 16], b"hello".to_vec());
        sim.run_for(secs(30));
        let stats: Vec<_> = (0..8)
            .filter(|&i| sim.is_up(i))
            .map(|i| sim.engine(i).stats())
            .collect();
        let log: Vec<String> = sim
            .log
            .iter()
            .map(|r| format!("{:?}{}{:?}", r.at, r.node, r.event))
            .collect();
        (stats, log, sim.messages)
    };
    assert!(run(71) == run(71), "seed 71 did not replay identically");
}

/// Many seeds and sizes through join, loss, partition, heal, crash and restart.
/// `cargo test --release -p lattice-gossip --test engine_membership -- --ignored`
#[test]
#[ignore = "long: a sweep of 150 seeds"]
fn sweep_join_partition_crash_restart() {
    for seed in 1000..1150u64 {
        let n = 5 + (seed % 40) as usize;
        let everyone = all(n);
        let net = NetConfig {
            latency: millis(5),
            jitter: millis(40),
            loss: 0.05,
        };
        let mut sim = Sim::new(n, seed, Config::default(), net);
        sim.join_all_via_first(millis(30));
        check!(
            sim,
            sim.run_until_converged(&everyone, secs(60)).is_some(),
            "join"
        );
        sim.run_for(secs(60));
        let downs = sim
            .log
            .iter()
            .filter(|r| matches!(r.event, Event::MemberDown { .. }));
        check!(sim, downs.count() == 0, "false death under 5% loss");
        let halves: Vec<u8> = (0..n).map(|i| u8::from(i % 2 == 0)).collect();
        sim.partition(&halves);
        sim.run_for(secs(20 + (seed % 4) * 150));
        sim.heal();
        check!(
            sim,
            sim.run_until_converged(&everyone, secs(60)).is_some(),
            "heal"
        );
        let victim = 1 + (seed as usize % (n - 1));
        sim.crash(victim);
        sim.run_for(secs(45));
        for i in (0..n).filter(|&i| i != victim) {
            let state = sim.view(i).get(&node_id(victim)).copied();
            check!(
                sim,
                matches!(state, Some(MemberState::Dead) | None),
                "crash seen as {state:?}"
            );
        }
        sim.restart(victim, &[0]);
        check!(
            sim,
            sim.run_until_converged(&everyone, secs(60)).is_some(),
            "restart"
        );
    }
}

#[test]
fn member_metadata_reaches_everyone_and_changes_spread() {
    let n = 6;
    let seed = 31;
    let mut sim = Sim::new(n, seed, Config::default(), lan());
    let meta = |i: usize, v: u8| format!("node {i} v{v}").into_bytes();
    for i in 0..n {
        sim.engine_mut(i).set_meta(meta(i, 1)).unwrap();
    }
    sim.join_all_via_first(millis(50));
    let took = sim.run_until_converged(&all(n), secs(30));
    check!(sim, took.is_some(), "not converged");
    sim.run_for(secs(5));
    let seen = |sim: &Sim, i: usize, j: usize| {
        let member = sim.engine(i).members().find(|m| m.id == node_id(j));
        member.map(|m| m.meta)
    };
    for i in 0..n {
        for j in (0..n).filter(|&j| j != i) {
            check!(
                sim,
                seen(&sim, i, j) == Some(meta(j, 1)),
                "{i} lacks {j}'s metadata"
            );
        }
    }
    let before = sim.engine(2).incarnation();
    sim.engine_mut(2).set_meta(meta(2, 2)).unwrap();
    assert_eq!(
        sim.engine(2).incarnation(),
        before + 1,
        "a change raises the incarnation"
    );
    sim.run_for(secs(10));
    for i in (0..n).filter(|&i| i != 2) {
        check!(
            sim,
            seen(&sim, i, 2) == Some(meta(2, 2)),
            "{i} missed node 2's new metadata"
        );
    }
    let too_long = vec![0; lattice_gossip::engine::META_BYTES_MAX + 1];
    assert!(sim.engine_mut(2).set_meta(too_long).is_err());
    assert_eq!(sim.engine(2).members().count(), n - 1);
}

/// Every member of a small cluster knows every other's metadata soon after the joins,
/// whatever their timing. Regression: a joiner's news goes out only four times at this
/// size, and went to the joiner itself (in its seed's answers) and back to the seed (on
/// the joiner's own messages), so a third node knew the joiner only from its own
/// messages, which carry no metadata, until a push-pull 30 to 60 s later (seed 1283, 3
/// nodes, 500 ms apart; a `lattice serve` test caught it). News that a member is alive
/// is no longer sent to it, and a node that lacks a member's metadata asks it once.
#[test]
fn small_clusters_know_each_others_metadata_whatever_the_join_timing() {
    let pinned = [(1283, 3, 500), (1373, 3, 10), (2554, 3, 500), (147, 6, 100)];
    let swept = (0..200u64)
        .flat_map(|seed| [0, 10, 100, 500].map(|stagger| (seed, 3 + (seed % 4) as usize, stagger)));
    let meta = |i: usize| format!("node {i}").into_bytes();
    for (seed, n, stagger) in pinned.into_iter().chain(swept) {
        let mut sim = Sim::new(n, seed, Config::default(), lan());
        for i in 0..n {
            sim.engine_mut(i).set_meta(meta(i)).unwrap();
        }
        sim.join_all_via_first(millis(stagger));
        sim.run_for(secs(5));
        for i in 0..n {
            for j in (0..n).filter(|&j| j != i) {
                let seen = sim.engine(i).members().find(|m| m.id == node_id(j));
                check!(
                    sim,
                    seen.is_some_and(|m| m.meta == meta(j)),
                    "{n} nodes joined {stagger} ms apart: {i} lacks {j}'s metadata"
                );
            }
        }
    }
}

#[test]
fn suspicions_of_a_short_cut_end_soon_after_it_heals() {
    // Cut off for less than a suspicion timeout, a third of the nodes and the others
    // suspect each other, and the gossip of those suspicions dies out in the cut. Each suspect is told
    // of its suspicion within a protocol period of the heal and refutes (or shows the
    // incarnation it already refuted at): nobody waits for a suspicion to time out.
    for seed in [29, 31, 37] {
        let n = 40;
        let mut sim = Sim::new(n, seed, Config::default(), NetConfig::default());
        sim.join_all_via_first(millis(10));
        let all: Vec<usize> = (0..n).collect();
        let took = sim.run_until_converged(&all, secs(20));
        check!(sim, took.is_some(), "cluster did not converge");
        sim.run_for(secs(5));
        let mut groups = vec![0; n];
        groups[..n / 3].fill(1);
        sim.partition(&groups);
        sim.run_for(millis(3_500));
        let suspected = (0..n).any(|i| sim.view(i).values().any(|s| *s != MemberState::Alive));
        check!(sim, suspected, "the cut raised no suspicion");
        sim.heal();
        let took = sim.run_until_converged(&all, secs(30));
        check!(
            sim,
            took.is_some_and(|t| t <= secs(3)),
            "all saw all alive {took:?} after the heal"
        );
    }
}
