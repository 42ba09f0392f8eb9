//! Three replicas that write concurrently and repair each other only through "what do
//! you lack" (catch-up records, and snapshots once logs are pruned) converge exactly.

mod common;

use common::{assert_written_relative, node, op};
use lattice_crdt::{Op, VersionVector, NTP64};
use lattice_node::store::MemStore;
use lattice_node::{CatchUp, Replica, ReplicaConfig};
use proptest::prelude::*;

const KEYS: [&str; 4] = ["a", "b", "c/1", "c/2"];
const REPLICAS: usize = 3;

#[derive(Debug, Clone)]
enum Step {
    Write {
        at: usize,
        key: usize,
        ops: Vec<Op>,
    },
    Pull {
        into: usize,
        from: usize,
        records_max: usize,
    },
    Prune {
        at: usize,
    },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        4 => (0..REPLICAS, 0..KEYS.len(), prop::collection::vec(op(), 1..3))
            .prop_map(|(at, key, ops)| Step::Write { at, key, ops }),
        3 => (0..REPLICAS, 0..REPLICAS, 1usize..4)
            .prop_map(|(into, from, records_max)| Step::Pull { into, from, records_max }),
        1 => (0..REPLICAS).prop_map(|at| Step::Prune { at }),
    ];
    prop::collection::vec(step, 1..50)
}

struct Cluster {
    replicas: Vec<Replica<MemStore>>,
    now: u64,
}

impl Cluster {
    fn new(n: usize) -> Cluster {
        let replicas = (1..=n as u64)
            .map(|i| {
                let store = MemStore::new(node(i));
                Replica::open(store, ReplicaConfig::default()).unwrap()
            })
            .collect();
        Cluster {
            replicas,
            now: 1 << 40,
        }
    }

    fn now(&mut self) -> NTP64 {
        self.now += 1 << 16;
        NTP64(self.now)
    }

    /// Pulls what `into` lacks from `from` until nothing is missing.
    fn pull(&mut self, into: usize, from: usize, records_max: usize) {
        loop {
            let vv = self.replicas[into].version_vector().clone();
            match self.replicas[from].catch_up(&vv, records_max).unwrap() {
                CatchUp::Records { records, complete } => {
                    let now = self.now();
                    for r in &records {
                        self.replicas[into].apply_remote(now, &r[..]).unwrap();
                    }
                    if complete {
                        break;
                    }
                }
                CatchUp::SnapshotNeeded => {
                    self.snapshot(into, from);
                    break;
                }
            }
        }
        let synced = self.replicas[into].sync().unwrap();
        assert_written_relative(&self.replicas[into], &synced);
    }

    fn snapshot(&mut self, into: usize, from: usize) {
        let base = self.replicas[from].version_vector().clone();
        let mut after: Option<String> = None;
        loop {
            let page = self.replicas[from]
                .snapshot_page(after.as_deref(), 2)
                .unwrap();
            let now = self.now();
            self.replicas[into]
                .apply_snapshot_page(now, &base, after.as_deref(), &page)
                .unwrap();
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        self.replicas[into].finish_snapshot(&base);
    }

    /// Prunes `at`'s log below what every replica has (the stable cut).
    fn prune(&mut self, at: usize) {
        let mut stable = VersionVector::new();
        for origin in 1..=self.replicas.len() as u64 {
            let origin = node(origin);
            let cut = self
                .replicas
                .iter()
                .map(|r| r.version_vector().prefix(origin))
                .min()
                .unwrap();
            stable.insert_range(origin, 1..=cut);
        }
        self.replicas[at].prune_log(&stable, usize::MAX).unwrap();
    }

    fn step(&mut self, step: &Step) {
        match step {
            Step::Write { at, key, ops } => {
                let now = self.now();
                let r = &mut self.replicas[*at];
                if r.write(now, KEYS[*key], ops, None).is_ok() {
                    r.sync().unwrap();
                }
            }
            Step::Pull {
                into,
                from,
                records_max,
            } if into != from => self.pull(*into, *from, *records_max),
            Step::Pull { .. } => {}
            Step::Prune { at } => self.prune(*at),
        }
    }

    fn heal(&mut self) {
        let n = self.replicas.len();
        for _ in 0..2 {
            for into in 0..n {
                for from in 0..n {
                    if into != from {
                        self.pull(into, from, 3);
                    }
                }
            }
        }
    }

    fn assert_converged(&self) {
        let first = &self.replicas[0];
        for r in &self.replicas[1..] {
            assert_eq!(
                r.version_vector(),
                first.version_vector(),
                "version vectors differ"
            );
            for key in KEYS {
                let (a, b) = (first.document(key).unwrap(), r.document(key).unwrap());
                assert_eq!(a.store(), b.store(), "document {key} differs");
                assert_eq!(a.to_json(), b.to_json());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_through_catch_up_and_snapshots(steps in steps()) {
        let mut cluster = Cluster::new(REPLICAS);
        for step in &steps {
            cluster.step(step);
        }
        cluster.heal();
        cluster.assert_converged();
        // A newcomer after pruning catches up too, by snapshot where the log is gone.
        cluster.prune(0);
        let newcomer = Replica::open(MemStore::new(node(9)), ReplicaConfig::default()).unwrap();
        cluster.replicas.push(newcomer);
        cluster.pull(REPLICAS, 0, 2);
        cluster.assert_converged();
    }
}

/// Regression: a document deleted and written again at one replica after it pulled a
/// peer's write.
#[test]
fn delete_then_rewrite_after_a_pull_converges() {
    let inc = || {
        vec![Op::Increment {
            field: "n".into(),
            by: 0,
        }]
    };
    let steps = [
        Step::Write {
            at: 1,
            key: 0,
            ops: inc(),
        },
        Step::Pull {
            into: 0,
            from: 1,
            records_max: 1,
        },
        Step::Write {
            at: 0,
            key: 0,
            ops: vec![Op::DeleteDocument],
        },
        Step::Write {
            at: 0,
            key: 0,
            ops: inc(),
        },
    ];
    let mut cluster = Cluster::new(REPLICAS);
    for step in &steps {
        cluster.step(step);
    }
    cluster.heal();
    for r in &cluster.replicas {
        eprintln!("{:?} {:?}", r.version_vector(), r.document("a").unwrap());
    }
    cluster.assert_converged();
}
