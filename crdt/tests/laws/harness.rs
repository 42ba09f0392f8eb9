//! The simulation behind every law: three replicas, a random history, late and
//! duplicated deltas, then total delivery and the checks.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::time::Duration;

use lattice_crdt::{codec, Causal, Dot, DotStore, Hlc, NodeId, Timestamp, VersionVector, NTP64};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub(crate) const REPLICAS: usize = 3;

/// A CRDT under test: how to make its ops, apply them, read it, and model it.
pub(crate) trait Subject {
    type Store: DotStore + Serialize + DeserializeOwned;
    type Op: Debug + Clone + 'static;
    type Value: PartialEq + Debug;

    /// Random ops.
    fn op() -> BoxedStrategy<Self::Op>;
    /// How many consecutive dots the op uses.
    fn dots(_op: &Self::Op) -> u64 {
        1
    }
    /// Applies a local op; `None` when the replica refuses it (nothing changes then).
    fn apply(
        state: &mut Causal<Self::Store>,
        op: &Self::Op,
        dot: Dot,
        timestamp: Timestamp,
    ) -> Option<Causal<Self::Store>>;
    /// The HLC timestamps a delta carries (a receiving replica observes them).
    fn timestamps(_delta: &Causal<Self::Store>) -> Vec<Timestamp> {
        Vec::new()
    }
    /// What a reader sees.
    fn value(state: &Causal<Self::Store>) -> Self::Value;
    /// What the reader should see after `history`, or `None` where there is no model.
    fn model(history: &[Performed<Self::Op>]) -> Option<Self::Value>;
}

/// An op a replica performed, with its causal past.
#[derive(Debug, Clone)]
pub(crate) struct Performed<Op> {
    pub(crate) op: Op,
    pub(crate) timestamp: Timestamp,
    /// Indices (into the history) of the ops the performing replica had seen.
    pub(crate) past: BTreeSet<usize>,
}

#[derive(Debug, Clone)]
pub(crate) enum Step<Op> {
    Local { replica: usize, op: Op },
    Deliver { delta: Index, to: usize },
}

#[derive(Debug, Clone)]
pub(crate) struct Script<Op> {
    steps: Vec<Step<Op>>,
    shuffle_seed: u64,
    /// Deliveries during the history take single deltas in any order (`true`), or a
    /// delta with its whole causal past first (`false`: causal delivery, as with a
    /// full-state merge). The reference models describe causal histories, so they are
    /// checked only then; convergence and the laws are checked always.
    raw: bool,
}

pub(crate) fn script<S: Subject>() -> impl Strategy<Value = Script<S::Op>> {
    let step = prop_oneof![
        3 => (0..REPLICAS, S::op()).prop_map(|(replica, op)| Step::Local { replica, op }),
        2 => (any::<Index>(), 0..REPLICAS).prop_map(|(delta, to)| Step::Deliver { delta, to }),
    ];
    (
        prop::collection::vec(step, 1..40),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(|(steps, shuffle_seed, raw)| Script {
            steps,
            shuffle_seed,
            raw,
        })
}

struct Replica<S: Subject> {
    state: Causal<S::Store>,
    /// The same state kept as a lattice replica keeps it: relative to `applied`
    /// ([`Causal::trim_context`]), taking each delta once.
    relative: Causal<S::Store>,
    /// The dots of every delta applied.
    applied: VersionVector,
    hlc: Hlc,
    next_seq: u64,
    seen: BTreeSet<usize>,
    skew: i64,
}

struct World<S: Subject> {
    replicas: Vec<Replica<S>>,
    history: Vec<Performed<S::Op>>,
    deltas: Vec<Causal<S::Store>>,
    /// The dots each delta was made with: first and count.
    delta_dots: Vec<(Dot, u64)>,
    time: u64,
}

impl<S: Subject> Replica<S> {
    /// Takes delta `index` (made with `dots`) into the relative state, once, as a
    /// replica takes a record: only every other time is it trimmed, so some joins meet
    /// a state that lags behind the dots applied.
    fn take_relative(
        &mut self,
        index: usize,
        delta: &Causal<S::Store>,
        (first, count): (Dot, u64),
    ) {
        self.relative.join(delta.clone());
        if count > 0 {
            self.applied
                .insert_range(first.origin, first.seq..=first.seq + count - 1);
        }
        if index % 2 == 0 {
            self.relative.trim_context(&self.applied);
        }
    }
}

impl<S: Subject> World<S> {
    fn new() -> Self {
        // Clocks disagree: one runs behind, one ahead, so concurrency and skew both occur.
        let skews = [0i64, -5_000, 3_000];
        let replicas = (0..REPLICAS)
            .map(|i| Replica {
                state: Causal::default(),
                relative: Causal::default(),
                applied: VersionVector::new(),
                hlc: Hlc::new(node(i), Duration::from_secs(3600)),
                next_seq: 1,
                seen: BTreeSet::new(),
                skew: skews[i],
            })
            .collect();
        World {
            replicas,
            history: Vec::new(),
            deltas: Vec::new(),
            delta_dots: Vec::new(),
            time: 10_000,
        }
    }

    fn now(&mut self, replica: usize) -> NTP64 {
        self.time += 1_000;
        NTP64(self.time.wrapping_add_signed(self.replicas[replica].skew))
    }

    fn local(&mut self, replica: usize, op: &S::Op) {
        let now = self.now(replica);
        let r = &mut self.replicas[replica];
        let dot = Dot::new(node(replica), r.next_seq);
        let timestamp = r.hlc.tick(now);
        if let Some(delta) = S::apply(&mut r.state, op, dot, timestamp) {
            r.next_seq += S::dots(op);
            let index = self.history.len();
            r.take_relative(index, &delta, (dot, S::dots(op)));
            self.delta_dots.push((dot, S::dots(op)));
            self.history.push(Performed {
                op: op.clone(),
                timestamp,
                past: r.seen.clone(),
            });
            r.seen.insert(index);
            self.deltas.push(delta);
        }
    }

    /// Delivers delta `delta` after every delta in its causal past, oldest first.
    fn deliver_causally(&mut self, delta: usize, to: usize) {
        let past: Vec<usize> = self.history[delta].past.iter().copied().collect();
        for k in past.into_iter().chain([delta]) {
            if !self.replicas[to].seen.contains(&k) {
                self.deliver(k, to);
            }
        }
    }

    fn deliver(&mut self, delta: usize, to: usize) {
        let now = self.now(to);
        let d = self.deltas[delta].clone();
        let r = &mut self.replicas[to];
        for ts in S::timestamps(&d) {
            r.hlc.observe(&ts, now).expect("drift bound is an hour");
        }
        if !r.seen.contains(&delta) {
            r.take_relative(delta + to, &d, self.delta_dots[delta]);
        }
        r.state.join(d);
        r.seen.insert(delta);
    }
}

pub(crate) fn node(i: usize) -> NodeId {
    NodeId::new(i as u64 + 1).unwrap()
}

/// A shuffled list of every index below `n`, with about a third repeated.
fn shuffled_with_duplicates(n: usize, seed: &mut u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.extend((0..n).filter(|_| splitmix(seed) % 3 == 0));
    for i in (1..order.len()).rev() {
        let j = (splitmix(seed) % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn joined<T: DotStore>(a: &Causal<T>, b: &Causal<T>) -> Causal<T> {
    let mut out = a.clone();
    out.join(b.clone());
    out
}

fn round_trips<T: DotStore + Serialize + DeserializeOwned>(
    x: &Causal<T>,
) -> Result<(), TestCaseError> {
    let bytes = codec::encode(x);
    let back: Causal<T> = codec::decode(&bytes, usize::MAX)
        .map_err(|e| TestCaseError::fail(format!("decode of {x:?} failed: {e}")))?;
    prop_assert_eq!(&back, x);
    Ok(())
}

fn run<S: Subject>(script: &Script<S::Op>) -> World<S> {
    let mut world = World::<S>::new();
    for step in &script.steps {
        match step {
            Step::Local { replica, op } => world.local(*replica, op),
            Step::Deliver { delta, to } if !world.deltas.is_empty() => {
                let delta = delta.index(world.deltas.len());
                if script.raw {
                    world.deliver(delta, *to)
                } else {
                    world.deliver_causally(delta, *to)
                }
            }
            Step::Deliver { .. } => {}
        }
    }
    world
}

pub(crate) fn check_laws<S: Subject>(script: &Script<S::Op>) -> Result<(), TestCaseError> {
    let mut world = run::<S>(script);
    let before: Vec<Causal<S::Store>> = world.replicas.iter().map(|r| r.state.clone()).collect();
    let (a, b, c) = (&before[0], &before[1], &before[2]);
    prop_assert_eq!(joined(a, b), joined(b, a), "join is not commutative");
    prop_assert_eq!(
        joined(&joined(a, b), c),
        joined(a, &joined(b, c)),
        "join is not associative"
    );
    prop_assert_eq!(&joined(a, a), a, "join is not idempotent");
    let full = joined(&joined(a, b), c);

    let mut seed = script.shuffle_seed;
    for to in 0..REPLICAS {
        for i in shuffled_with_duplicates(world.deltas.len(), &mut seed) {
            world.deliver(i, to);
        }
    }
    let mut fresh = Causal::<S::Store>::default();
    for i in shuffled_with_duplicates(world.deltas.len(), &mut seed) {
        fresh.join(world.deltas[i].clone());
    }
    for r in &world.replicas {
        prop_assert_eq!(
            &r.state,
            &full,
            "a replica fed every delta differs from the full-state join"
        );
    }
    prop_assert_eq!(
        &fresh,
        &full,
        "the join of all deltas differs from the full-state join"
    );
    for r in &world.replicas {
        let mut whole = r.relative.clone();
        whole.extend_context(&r.applied);
        prop_assert_eq!(
            &whole,
            &r.state,
            "a state kept relative to the dots it applied differs from the whole one"
        );
    }

    if let Some(expected) = S::model(&world.history).filter(|_| !script.raw) {
        prop_assert_eq!(
            S::value(&full),
            expected,
            "value differs from the reference model"
        );
    }
    for x in before.iter().chain(&world.deltas).chain([&full]) {
        round_trips(x)?;
    }
    Ok(())
}

/// Runs one hand-made script with a write at every replica and checks the model sees it.
pub(crate) fn assert_nonvacuous<S: Subject>()
where
    S::Value: Default,
{
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut checked = 0;
    for _ in 0..64 {
        let op = S::op().new_tree(&mut runner).unwrap().current();
        let mut world = World::<S>::new();
        world.local(0, &op);
        if world.history.is_empty() {
            continue;
        }
        let model = S::model(&world.history).expect("a single write has a model");
        assert_eq!(S::value(&world.replicas[0].state), model);
        if model != S::Value::default() {
            checked += 1;
        }
    }
    assert!(checked > 0, "no op ever produced a visible value");
}
