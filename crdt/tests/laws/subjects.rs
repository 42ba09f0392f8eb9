//! The types under test, each with its ops and its reference model.

use std::collections::BTreeSet;

use lattice_crdt::{
    Counter, CounterStore, DocLimits, DocStore, Document, Dot, Json, JsonLimits, LwwRegister, Op,
    OrSet, RegisterStore, SetStore, Timestamp,
};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::harness::{Performed, Subject};

/// A small universe of values, so adds and removes of one element collide often.
fn universe() -> Vec<Json> {
    [
        json!(1),
        json!("a"),
        json!(null),
        json!(1.5),
        json!({"k": [1, "x"]}),
    ]
    .iter()
    .map(|v| Json::from_value(v, &JsonLimits::default()).unwrap())
    .collect()
}

fn element() -> BoxedStrategy<Json> {
    prop::sample::select(universe()).boxed()
}

/// Add-wins: an element is present iff one of its adds was observed by none of its
/// removes. `observed(add, remove)` says whether the remove's replica had seen the add.
fn add_wins<I: Copy>(
    events: &[(I, bool, Json)],
    observed: impl Fn(I, I) -> bool,
) -> BTreeSet<Json> {
    let mut present = BTreeSet::new();
    for (add, is_add, e) in events {
        let survives = *is_add
            && !events
                .iter()
                .any(|(rm, is_add, e2)| !is_add && e2 == e && observed(*add, *rm));
        if survives {
            present.insert(e.clone());
        }
    }
    present
}

/// Last writer wins: the write with the largest timestamp (ties broken by `rank`).
fn last_writer<R: Ord + Copy>(writes: &[(Timestamp, R, Json)]) -> Option<Json> {
    writes
        .iter()
        .max_by_key(|(ts, rank, _)| (*ts, *rank))
        .map(|(_, _, v)| v.clone())
}

pub(crate) struct CounterSubject;

impl Subject for CounterSubject {
    type Store = CounterStore;
    type Op = i64;
    type Value = i128;

    fn op() -> BoxedStrategy<i64> {
        prop_oneof![4 => -100i64..100, 1 => any::<i64>()].boxed()
    }

    fn apply(state: &mut Counter, by: &i64, dot: Dot, _: Timestamp) -> Option<Counter> {
        state.increment(dot, *by).ok()
    }

    fn value(state: &Counter) -> i128 {
        state.value()
    }

    fn model(history: &[Performed<i64>]) -> Option<i128> {
        Some(history.iter().map(|p| i128::from(p.op)).sum())
    }
}

pub(crate) struct SetSubject;

#[derive(Debug, Clone)]
pub(crate) enum SetOp {
    Add(Json),
    Remove(Json),
}

impl Subject for SetSubject {
    type Store = SetStore;
    type Op = SetOp;
    type Value = BTreeSet<Json>;

    fn op() -> BoxedStrategy<SetOp> {
        prop_oneof![3 => element().prop_map(SetOp::Add), 2 => element().prop_map(SetOp::Remove)]
            .boxed()
    }

    fn dots(op: &SetOp) -> u64 {
        u64::from(matches!(op, SetOp::Add(_)))
    }

    fn apply(state: &mut OrSet, op: &SetOp, dot: Dot, _: Timestamp) -> Option<OrSet> {
        Some(match op {
            SetOp::Add(e) => state.add(dot, e.clone()),
            SetOp::Remove(e) => state.remove(e),
        })
    }

    fn value(state: &OrSet) -> BTreeSet<Json> {
        state.store().elements().cloned().collect()
    }

    fn model(history: &[Performed<SetOp>]) -> Option<BTreeSet<Json>> {
        let events: Vec<(usize, bool, Json)> = history
            .iter()
            .enumerate()
            .map(|(i, p)| match &p.op {
                SetOp::Add(e) => (i, true, e.clone()),
                SetOp::Remove(e) => (i, false, e.clone()),
            })
            .collect();
        Some(add_wins(&events, |add, rm| history[rm].past.contains(&add)))
    }
}

pub(crate) struct RegisterSubject;

impl Subject for RegisterSubject {
    type Store = RegisterStore;
    type Op = Json;
    type Value = Option<Json>;

    fn op() -> BoxedStrategy<Json> {
        element()
    }

    fn apply(state: &mut LwwRegister, v: &Json, dot: Dot, ts: Timestamp) -> Option<LwwRegister> {
        Some(state.set(dot, ts, v.clone()))
    }

    fn timestamps(delta: &LwwRegister) -> Vec<Timestamp> {
        delta.store().timestamps().copied().collect()
    }

    fn value(state: &LwwRegister) -> Option<Json> {
        state.value().cloned()
    }

    fn model(history: &[Performed<Json>]) -> Option<Option<Json>> {
        let writes: Vec<_> = history
            .iter()
            .map(|p| (p.timestamp, (), p.op.clone()))
            .collect();
        Some(last_writer(&writes))
    }
}

/// Documents. `CHAOS = false`: fields keep one type each (`likes` counter, `tags` set,
/// `title` register) and are never deleted, the part a model can pin down.
/// `CHAOS = true`: fields written with any type (concurrent type clashes), field and
/// document deletes; checked for the laws, not against a model.
pub(crate) struct Documents<const CHAOS: bool>;

pub(crate) type DocumentSubject = Documents<false>;
pub(crate) type ChaosDocumentSubject = Documents<true>;

fn modelled_op() -> BoxedStrategy<Op> {
    let field = |f: &str| f.to_owned();
    prop_oneof![
        (-50i64..50).prop_map(move |by| Op::Increment {
            field: field("likes"),
            by
        }),
        (-50i64..50).prop_map(move |by| Op::Decrement {
            field: field("likes"),
            by
        }),
        element().prop_map(move |value| Op::Add {
            field: field("tags"),
            value
        }),
        element().prop_map(move |value| Op::Remove {
            field: field("tags"),
            value
        }),
        element().prop_map(move |value| Op::Set {
            field: field("title"),
            value
        }),
    ]
    .boxed()
}

fn chaos_op() -> BoxedStrategy<Op> {
    let name = prop::sample::select(vec!["a".to_owned(), "b".to_owned()]);
    prop_oneof![
        4 => (name.clone(), -50i64..50).prop_map(|(field, by)| Op::Increment { field, by }),
        4 => (name.clone(), element()).prop_map(|(field, value)| Op::Add { field, value }),
        2 => (name.clone(), element()).prop_map(|(field, value)| Op::Remove { field, value }),
        4 => (name.clone(), element()).prop_map(|(field, value)| Op::Set { field, value }),
        1 => name.clone().prop_map(|field| Op::Clear { field }),
        1 => name.prop_map(|field| Op::DeleteField { field }),
        1 => Just(Op::DeleteDocument),
    ]
    .boxed()
}

impl<const CHAOS: bool> Subject for Documents<CHAOS> {
    type Store = DocStore;
    type Op = Vec<Op>;
    type Value = Value;

    fn op() -> BoxedStrategy<Vec<Op>> {
        let op = if CHAOS { chaos_op() } else { modelled_op() };
        prop::collection::vec(op, 1..4).boxed()
    }

    fn dots(op: &Vec<Op>) -> u64 {
        op.len() as u64
    }

    fn apply(state: &mut Document, ops: &Vec<Op>, dot: Dot, ts: Timestamp) -> Option<Document> {
        state.write(ops, dot, ts, &DocLimits::default()).ok()
    }

    fn timestamps(delta: &Document) -> Vec<Timestamp> {
        delta.timestamps().copied().collect()
    }

    fn value(state: &Document) -> Value {
        state.to_json()
    }

    fn model(history: &[Performed<Vec<Op>>]) -> Option<Value> {
        (!CHAOS).then(|| document_model(history))
    }
}

fn document_model(history: &[Performed<Vec<Op>>]) -> Value {
    let mut likes: Option<i128> = None;
    let mut tags = Vec::new();
    let mut titles = Vec::new();
    for (k, p) in history.iter().enumerate() {
        for (j, op) in p.op.iter().enumerate() {
            match op {
                Op::Increment { by, .. } => *likes.get_or_insert(0) += i128::from(*by),
                Op::Decrement { by, .. } => *likes.get_or_insert(0) -= i128::from(*by),
                Op::Add { value, .. } => tags.push(((k, j), true, value.clone())),
                Op::Remove { value, .. } => tags.push(((k, j), false, value.clone())),
                Op::Set { value, .. } => titles.push((p.timestamp, j, value.clone())),
                _ => unreachable!("the modelled strategy makes no deletes"),
            }
        }
    }
    // Op j of batch k saw ops before it in its batch and everything its replica saw.
    let observed = |(k, i): (usize, usize), (m, j): (usize, usize)| {
        (k == m && i < j) || history[m].past.contains(&k)
    };
    let tags = add_wins(&tags, observed);
    let mut doc = serde_json::Map::new();
    if let Some(likes) = likes {
        doc.insert("likes".into(), json!(i64::try_from(likes).unwrap()));
    }
    if !tags.is_empty() {
        doc.insert("tags".into(), tags.iter().map(Json::to_value).collect());
    }
    if let Some(title) = last_writer(&titles) {
        doc.insert("title".into(), title.to_value());
    }
    Value::Object(doc)
}
