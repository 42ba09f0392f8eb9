//! Proptest over fault schedules: any mix of partitions, crashes, restarts, pauses and
//! clock jumps at any times, on 3–5 nodes, and every checker still passes after heal.

use std::time::Duration;

use lattice_sim::fault::{Fault, Scheduled};
use lattice_sim::{Faults, Options, Simulation};
use proptest::prelude::*;

const SECS: u64 = 12;

fn fault(nodes: usize) -> impl Strategy<Value = Fault> {
    let node = 0..nodes;
    prop_oneof![
        (
            prop::collection::vec(any::<bool>(), nodes),
            any::<bool>(),
            1u32..4
        )
            .prop_map(|(side, one_way, id)| Fault::Partition { id, side, one_way }),
        (1u32..4).prop_map(|id| Fault::Heal { id }),
        node.clone().prop_map(Fault::Crash),
        node.clone().prop_map(Fault::Restart),
        node.clone().prop_map(Fault::Pause),
        node.clone().prop_map(Fault::Resume),
        (node, -400i64..400).prop_map(|(n, ms)| Fault::ClockJump(n, ms)),
    ]
}

fn case() -> impl Strategy<Value = (usize, u64, Vec<Scheduled>)> {
    (3usize..=5, any::<u64>()).prop_flat_map(|(nodes, seed)| {
        let scheduled = (0..SECS * 1_000, fault(nodes)).prop_map(|(ms, fault)| Scheduled {
            at: Duration::from_millis(ms),
            fault,
        });
        (
            Just(nodes),
            Just(seed),
            prop::collection::vec(scheduled, 0..24),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_fault_schedule_keeps_every_invariant((nodes, seed, mut schedule) in case()) {
        schedule.sort_by_key(|s| s.at);
        let options = Options {
            nodes,
            seed,
            duration: Duration::from_secs(SECS),
            faults: Faults::parse("loss,skew").unwrap(),
            swarm: false,
            sessions: None,
        };
        if let Err(v) = Simulation::with_schedule(options, schedule.clone()).run() {
            prop_assert!(false, "{v}\nschedule: {schedule:?}");
        }
    }
}
