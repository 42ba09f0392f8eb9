//! The checkers: convergence, no lost acknowledged write, and the model of counters,
//! sets and registers built from acknowledged writes only.
//!
//! Counters, with or without deletes, are checked exactly against the model of the
//! `counter` submodule.
//!
//! The model of a set or register follows the observed-remove rule: an `Add` or `Set`
//! with dot `d` is undone by any later acknowledged op on the same key that *observed*
//! `d` (its document's causal context held `d` when it was written) and that replaces
//! or removes it: `Add`/`Remove` of the same element, `Set`/`Clear` of the same
//! register, `DeleteField` of the field, `DeleteDocument`. An element is present iff one
//! of its adds survives; a register holds the surviving `Set` with the largest HLC
//! timestamp. Unacknowledged writes are never in the model: in this simulator a write
//! is lost exactly when its node crashed before syncing it, and then no peer saw it.

mod counter;

use std::collections::BTreeSet;

use lattice_crdt::{Document, Dot, Json, Op, Timestamp, VersionVector};

/// An acknowledged write, as the simulator recorded it.
#[derive(Clone, Debug)]
pub struct AckedWrite {
    /// The node that acknowledged it.
    pub node: usize,
    /// The document.
    pub key: String,
    /// Its ops; op `i` has dot `first + i`.
    pub ops: Vec<Op>,
    /// The dot of its first op.
    pub first: Dot,
    /// The causal context of the document on its node just before it.
    pub context: VersionVector,
    /// Its HLC timestamp, if a `Set` recorded one.
    pub timestamp: Option<Timestamp>,
}

impl AckedWrite {
    /// The dots of its ops.
    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        (0..self.ops.len() as u64).map(|i| Dot::new(self.first.origin, self.first.seq + i))
    }

    /// Whether op `index` was made with `dot` in its document's causal context: in the
    /// context before the write, or an earlier op of the same batch.
    fn observed(&self, index: usize, dot: Dot) -> bool {
        let earlier_in_batch = dot.origin == self.first.origin
            && dot.seq >= self.first.seq
            && dot.seq < self.first.seq + index as u64;
        earlier_in_batch || self.context.contains(dot)
    }
}

/// Whether `killer` undoes the `Add`/`Set` `target` (on `field`, element `value`).
fn undoes(killer: &Op, field: &str, target: &Op) -> bool {
    match (killer, target) {
        (Op::DeleteDocument, _) => true,
        (Op::DeleteField { field: f }, _) => f == field,
        (Op::Add { field: f, value: v }, Op::Add { value, .. })
        | (Op::Remove { field: f, value: v }, Op::Add { value, .. }) => f == field && v == value,
        (Op::Set { field: f, .. }, Op::Set { .. }) | (Op::Clear { field: f }, Op::Set { .. }) => {
            f == field
        }
        _ => false,
    }
}

/// The surviving `Add`s and `Set`s of `field` in the writes to one key.
fn survivors<'a>(writes: &[&'a AckedWrite], field: &str) -> Vec<(&'a AckedWrite, &'a Op)> {
    let mut out = Vec::new();
    for w in writes {
        for (op, dot) in w.ops.iter().zip(w.dots()) {
            let target = matches!(op, Op::Add { .. } | Op::Set { .. }) && op.field() == Some(field);
            if !target {
                continue;
            }
            let undone = writes
                .iter()
                .any(|k| k.context.contains(dot) && k.ops.iter().any(|kop| undoes(kop, field, op)));
            if !undone {
                out.push((*w, op));
            }
        }
    }
    out
}

/// Checks one document (as every replica holds it after convergence) against the
/// model of the acknowledged writes to `key`.
pub(crate) fn check_document(key: &str, doc: &Document, all: &[AckedWrite]) -> Result<(), String> {
    let writes: Vec<&AckedWrite> = all.iter().filter(|w| w.key == key).collect();
    let expected = counter::counter_value(&writes, "n");
    let actual = doc.field("n").map_or(0, |f| f.counter().value());
    if actual != expected {
        return Err(format!(
            "counter {key}.n is {actual}, but the acknowledged ops give {expected}"
        ));
    }
    let expected: BTreeSet<&Json> = survivors(&writes, "s")
        .into_iter()
        .filter_map(|(_, op)| match op {
            Op::Add { value, .. } => Some(value),
            _ => None,
        })
        .collect();
    let actual: BTreeSet<&Json> = doc
        .field("s")
        .map(|f| f.set().elements().collect())
        .unwrap_or_default();
    if actual != expected {
        return Err(format!(
            "set {key}.s is {actual:?}, but the acknowledged ops give {expected:?}"
        ));
    }
    let winner = survivors(&writes, "r")
        .into_iter()
        .filter_map(|(w, op)| match op {
            Op::Set { value, .. } => Some((w.timestamp, value)),
            _ => None,
        })
        .max_by(|a, b| a.0.cmp(&b.0));
    let expected = winner.map(|(_, v)| v);
    let actual = doc
        .field("r")
        .and_then(|f| f.register().winner())
        .map(|s| &s.value);
    if actual != expected {
        return Err(format!(
            "register {key}.r is {actual:?}, but the acknowledged ops give {expected:?}"
        ));
    }
    Ok(())
}

/// Checks that `vv` holds every acknowledged write's dots.
pub(crate) fn check_not_lost(
    node: usize,
    vv: &VersionVector,
    all: &[AckedWrite],
) -> Result<(), String> {
    for w in all {
        if let Some(dot) = w.dots().find(|d| !vv.contains(*d)) {
            return Err(format!(
                "acknowledged write {dot:?} to {} (acknowledged by node {}) is missing on node {node}",
                w.key, w.node
            ));
        }
    }
    Ok(())
}
