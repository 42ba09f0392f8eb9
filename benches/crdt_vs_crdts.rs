//! lattice-crdt against the `crdts` crate (7.x), same workloads, same process.
//!
//! Each comparison runs "an op on replica A, then merge its result into replica B":
//!
//! - counter: A increments by 1 (3 actors round-robin) and B merges the delta
//!   (lattice `Counter::increment` + `join`; crdts `PNCounter::inc` + `apply` on A and B);
//! - register: A writes a new small JSON number and B merges it (lattice `LwwRegister::set`
//!   stamped by `Hlc::tick` + `join`; crdts `LWWReg<Json, u64>` applied on A and B);
//! - OR-set: A adds 100,000 distinct strings one by one, B merges each delta (lattice
//!   `OrSet::add` + `join`; crdts `Orswot<String, u64>` add op applied on A and B).
//!
//! Values and elements are built before the timer starts, for both libraries, and both
//! store the very same bytes (lattice's canonical JSON text); crdts' register even holds
//! the same `Json` type, so the register row compares CRDT machinery only. Each workload
//! runs [`REPS`] times, lattice and crdts alternating, and the fastest run counts.
//! Also printed, for lattice alone: the encoded size of a one-element delta against its
//! 10,000-element set, and `Document::write` of one-op batches (no merge).
//!
//! Run: `cargo bench --bench crdt_vs_crdts` (the `bench` profile; the run itself takes
//! under 10 s on 2 cores). Figures on a shared VM vary by 10-20% between runs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crdts::{CmRDT, LWWReg, Orswot, PNCounter};
use lattice_crdt::{
    codec, Counter, DocLimits, Document, Dot, Hlc, Json, JsonLimits, LwwRegister, NodeId, Op,
    OrSet, MAX_DRIFT_DEFAULT, NTP64,
};
use serde_json::Value;

/// Runs of each workload; the fastest counts.
const REPS: usize = 5;
/// Writers taking turns, so states hold more than one entry.
const ACTORS: usize = 3;
/// Ops per run of the counter comparison.
const COUNTER_OPS: usize = 2_000_000;
/// Ops per run of the register comparison.
const REGISTER_OPS: usize = 1_000_000;
/// Distinct elements added per run of the OR-set comparison.
const SET_ELEMENTS: usize = 100_000;
/// Elements in the set whose one-element delta is measured.
const DELTA_SET_ELEMENTS: usize = 10_000;
/// One-op batches per run of each `Document::write` workload (the set one stays within
/// the default limit of 100,000 elements per set).
const DOC_OPS: usize = 100_000;

/// Goal for counter and register op + merge, ops/s.
const SCALAR_GOAL_OPS: f64 = 10e6;
/// Goal for OR-set add + delta merge, ops/s.
const SET_GOAL_OPS: f64 = 1e6;
/// Goal for lattice / crdts.
const RATIO_GOAL: f64 = 1.0;
/// Goal for a one-element delta's size, in percent of the full state's.
const DELTA_GOAL_PERCENT: f64 = 1.0;

/// The nodes taking turns, and the next sequence number of each.
struct Writers {
    nodes: [NodeId; ACTORS],
    seqs: [u64; ACTORS],
}

impl Writers {
    fn new() -> Writers {
        Writers {
            nodes: [1, 2, 3].map(|n| NodeId::new(n).expect("non-zero")),
            seqs: [0; ACTORS],
        }
    }

    /// A fresh dot of writer `i % ACTORS`.
    fn dot(&mut self, i: usize) -> Dot {
        let k = i % ACTORS;
        self.seqs[k] += 1;
        Dot::new(self.nodes[k], self.seqs[k])
    }
}

/// The crdts actor for op `i`: the same round-robin as [`Writers`].
fn actor(i: usize) -> u64 {
    (i % ACTORS) as u64 + 1
}

fn json(value: Value) -> Json {
    Json::from_value(&value, &JsonLimits::default()).expect("small values are within limits")
}

/// The register values: JSON numbers `0..n`.
fn numbers(n: usize) -> Vec<Json> {
    (0..n).map(|i| json(Value::from(i))).collect()
}

/// The set elements: distinct JSON strings.
fn strings(n: usize) -> Vec<Json> {
    (0..n)
        .map(|i| json(Value::String(format!("element-{i:07}"))))
        .collect()
}

fn lattice_counter(ops: usize) -> Duration {
    let (mut a, mut b) = (Counter::default(), Counter::default());
    let mut writers = Writers::new();
    let start = Instant::now();
    for i in 0..ops {
        let delta = a.increment(writers.dot(i), 1).expect("no overflow");
        b.join(black_box(delta));
    }
    let elapsed = start.elapsed();
    assert_eq!(
        (a.value(), black_box(&b).value()),
        (ops as i128, ops as i128)
    );
    elapsed
}

fn crdts_counter(ops: usize) -> Duration {
    let (mut a, mut b) = (PNCounter::<u64>::new(), PNCounter::<u64>::new());
    let start = Instant::now();
    for i in 0..ops {
        let op = a.inc(actor(i));
        a.apply(op.clone());
        b.apply(black_box(op));
    }
    let elapsed = start.elapsed();
    assert_eq!(black_box(&b).read().to_string(), ops.to_string());
    assert_eq!(a, b);
    elapsed
}

fn lattice_register(ops: usize) -> Duration {
    let values = numbers(ops);
    let (mut a, mut b) = (LwwRegister::default(), LwwRegister::default());
    let mut writers = Writers::new();
    let mut clocks = writers.nodes.map(|n| Hlc::new(n, MAX_DRIFT_DEFAULT));
    let start = Instant::now();
    for (i, value) in values.into_iter().enumerate() {
        let timestamp = clocks[i % ACTORS].tick(NTP64(i as u64 + 1));
        let delta = a.set(writers.dot(i), timestamp, value);
        b.join(black_box(delta));
    }
    let elapsed = start.elapsed();
    assert_eq!(black_box(&b).value(), Some(&json(Value::from(ops - 1))));
    assert_eq!(a, b);
    elapsed
}

fn crdts_register(ops: usize) -> Duration {
    let values = numbers(ops);
    let mut a = LWWReg {
        val: json(Value::Null),
        marker: 0u64,
    };
    let mut b = a.clone();
    let start = Instant::now();
    for (i, val) in values.into_iter().enumerate() {
        let op = LWWReg {
            val,
            marker: i as u64 + 1,
        };
        a.apply(op.clone());
        b.apply(black_box(op));
    }
    let elapsed = start.elapsed();
    assert_eq!(black_box(&b), &a);
    assert_eq!(b.val, json(Value::from(ops - 1)));
    elapsed
}

fn lattice_set(elements: usize) -> Duration {
    let elements = strings(elements);
    let n = elements.len();
    let (mut a, mut b) = (OrSet::default(), OrSet::default());
    let mut writers = Writers::new();
    let start = Instant::now();
    for (i, element) in elements.into_iter().enumerate() {
        let delta = a.add(writers.dot(i), element);
        b.join(black_box(delta));
    }
    let elapsed = start.elapsed();
    assert_eq!((a.store().len(), black_box(&b).store().len()), (n, n));
    elapsed
}

fn crdts_set(elements: usize) -> Duration {
    let elements: Vec<String> = strings(elements)
        .iter()
        .map(|e| e.as_str().to_owned())
        .collect();
    let n = elements.len();
    let (mut a, mut b) = (Orswot::<String, u64>::new(), Orswot::<String, u64>::new());
    let start = Instant::now();
    for (i, element) in elements.into_iter().enumerate() {
        let op = a.add(element, a.read_ctx().derive_add_ctx(actor(i)));
        a.apply(op.clone());
        b.apply(black_box(op));
    }
    let elapsed = start.elapsed();
    assert_eq!((a.read().val.len(), black_box(&b).read().val.len()), (n, n));
    elapsed
}

/// Encoded sizes of a one-element delta and of the set it was added to, in bytes.
fn delta_and_state_bytes() -> (usize, usize) {
    let mut elements = strings(DELTA_SET_ELEMENTS + 1);
    let last = elements.pop().expect("one more element");
    let mut set = OrSet::default();
    let mut writers = Writers::new();
    for (i, element) in elements.into_iter().enumerate() {
        set.add(writers.dot(i), element);
    }
    let delta = set.add(writers.dot(DELTA_SET_ELEMENTS), last);
    (codec::encode(&delta).len(), codec::encode(&set).len())
}

/// Times one-op `Document::write` batches from one node; `ops` are the batches' ops.
fn document_writes(ops: Vec<Op>) -> Duration {
    let n = ops.len();
    let node = NodeId::new(1).expect("non-zero");
    let mut clock = Hlc::new(node, MAX_DRIFT_DEFAULT);
    let limits = DocLimits::default();
    let mut doc = Document::default();
    let start = Instant::now();
    for (i, op) in ops.iter().enumerate() {
        let seq = i as u64 + 1;
        let timestamp = clock.tick(NTP64(seq));
        let delta = doc.write(
            std::slice::from_ref(op),
            Dot::new(node, seq),
            timestamp,
            &limits,
        );
        black_box(delta.expect("valid batch"));
    }
    let elapsed = start.elapsed();
    assert_eq!(black_box(&doc).fields().count(), 1);
    assert_eq!(doc.context().prefix(node), n as u64);
    elapsed
}

fn doc_increments(n: usize) -> Duration {
    let op = Op::Increment {
        field: "likes".to_owned(),
        by: 1,
    };
    document_writes(vec![op; n])
}

fn doc_adds(n: usize) -> Duration {
    let ops = strings(n).into_iter().map(|value| Op::Add {
        field: "tags".to_owned(),
        value,
    });
    document_writes(ops.collect())
}

fn doc_sets(n: usize) -> Duration {
    let ops = numbers(n).into_iter().map(|value| Op::Set {
        field: "title".to_owned(),
        value,
    });
    document_writes(ops.collect())
}

/// Ops per second of the fastest of [`REPS`] runs of `run`.
fn best_rate(ops: usize, run: fn(usize) -> Duration) -> f64 {
    let best = (0..REPS).map(|_| run(ops)).min().expect("REPS > 0");
    ops as f64 / best.as_secs_f64()
}

/// One compared workload: its name and both libraries' best rates.
struct Row {
    name: &'static str,
    lattice: f64,
    crdts: f64,
}

impl Row {
    /// Runs both sides [`REPS`] times, alternating, and keeps each side's fastest run.
    fn measure(
        name: &'static str,
        ops: usize,
        lattice: fn(usize) -> Duration,
        crdts: fn(usize) -> Duration,
    ) -> Row {
        let (mut best_lattice, mut best_crdts) = (Duration::MAX, Duration::MAX);
        for _ in 0..REPS {
            best_lattice = best_lattice.min(lattice(ops));
            best_crdts = best_crdts.min(crdts(ops));
        }
        Row {
            name,
            lattice: ops as f64 / best_lattice.as_secs_f64(),
            crdts: ops as f64 / best_crdts.as_secs_f64(),
        }
    }

    fn ratio(&self) -> f64 {
        self.lattice / self.crdts
    }

    fn print(&self) {
        println!(
            "{:<38} {:>14} {:>14} {:>8.2}x",
            self.name,
            rate(self.lattice),
            rate(self.crdts),
            self.ratio()
        );
    }
}

fn rate(ops_per_s: f64) -> String {
    format!("{:.2} M/s", ops_per_s / 1e6)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

fn print_goal(goal: &str, measured: &str, met: bool) {
    println!("  {goal:<52} {measured:>12}  {}", verdict(met));
}

fn print_goals(rows: [(&Row, f64); 3], delta_percent: f64) {
    println!();
    println!(
        "goals: counter and register op+merge >= 10 M/s, OR-set add + delta merge >= 1 M/s, \
         >= {RATIO_GOAL:.1}x crdts everywhere, delta <= {DELTA_GOAL_PERCENT}% of full state"
    );
    for (row, goal) in rows {
        let speed = format!("{}: >= {}", row.name, rate(goal));
        print_goal(&speed, &rate(row.lattice), row.lattice >= goal);
        let ratio = format!("{}: >= {RATIO_GOAL:.1}x crdts", row.name);
        let measured = format!("{:.2}x", row.ratio());
        print_goal(&ratio, &measured, row.ratio() >= RATIO_GOAL);
    }
    print_goal(
        &format!("OR-set delta: <= {DELTA_GOAL_PERCENT}% of full state"),
        &format!("{delta_percent:.3}%"),
        delta_percent <= DELTA_GOAL_PERCENT,
    );
}

fn main() {
    if cfg!(debug_assertions) {
        println!("warning: debug build; run `cargo bench --bench crdt_vs_crdts` for figures");
    }
    println!("best of {REPS} runs; {ACTORS} writers round-robin; inputs built before timing");
    println!();
    println!(
        "{:<38} {:>14} {:>14} {:>9}",
        "workload (op on A, merge into B)", "lattice ops/s", "crdts ops/s", "ratio"
    );
    let counter = Row::measure("counter +1", COUNTER_OPS, lattice_counter, crdts_counter);
    counter.print();
    let register = Row::measure(
        "register set (JSON number)",
        REGISTER_OPS,
        lattice_register,
        crdts_register,
    );
    register.print();
    let set = Row::measure(
        "OR-set add, 100k distinct strings",
        SET_ELEMENTS,
        lattice_set,
        crdts_set,
    );
    set.print();

    let (delta_bytes, state_bytes) = delta_and_state_bytes();
    let delta_percent = 100.0 * delta_bytes as f64 / state_bytes as f64;
    println!();
    println!(
        "OR-set delta size (lattice codec): one add = {delta_bytes} B, \
         {DELTA_SET_ELEMENTS}-element state = {state_bytes} B, delta = {delta_percent:.3}%"
    );

    println!();
    println!("lattice Document::write, one-op batches, no merge:");
    for (name, run) in [
        ("increment", doc_increments as fn(usize) -> Duration),
        ("add (set grows to 100k)", doc_adds),
        ("set (register)", doc_sets),
    ] {
        println!("  {:<36} {:>14}", name, rate(best_rate(DOC_OPS, run)));
    }

    print_goals(
        [
            (&counter, SCALAR_GOAL_OPS),
            (&register, SCALAR_GOAL_OPS),
            (&set, SET_GOAL_OPS),
        ],
        delta_percent,
    );
}
