//! The model of a counter field: its converged value from the acknowledged writes
//! alone, without the CRDT.
//!
//! lattice's counter keeps one entry per origin: the origin's running contribution,
//! under the dot of its latest increment (crdt/src/counter.rs). An increment adds to
//! the origin's current entry *at the origin*, or starts from zero if the origin has
//! none (it merged a delete that removed it). A `DeleteField` of the counter, or a
//! `DeleteDocument`, removes the entries that were live at its node when it was made
//! (observed-remove). So:
//!
//! - delete `k` removes entry `d` iff its node had merged `d` (`d` in the causal
//!   context of the delete) and had not already removed it by merging an earlier
//!   delete that removed `d` (recursively; deltas are not merged in causal order, so
//!   "merged" is exactly "in the context", and earlier deletes are those in it);
//! - an origin's increment builds on its previous increment's amount unless the
//!   origin had merged a delete that removed that previous entry;
//! - the converged value is the sum, over origins, of the amount of the origin's
//!   latest acknowledged increment, unless some delete removed that entry.
//!
//! Hence the documented rule (crdt/tests/document.rs): an increment concurrent with a
//! delete brings back its origin's whole share. A newer increment also retires its
//! origin's older entry; the model never needs that rule, because it only asks about an
//! origin's latest entry, as of the origin's next increment or of the end, and no
//! delete it asks about can have seen a newer increment of that origin.

use std::collections::BTreeMap;

use lattice_crdt::{Dot, NodeId, Op};

use super::AckedWrite;

/// The deletes of one counter field and what each removed (memoized).
struct Deletes<'a> {
    /// The deletes, each as (write, op index, dot).
    all: Vec<(&'a AckedWrite, usize, Dot)>,
    removes: BTreeMap<(usize, Dot), bool>,
}

impl<'a> Deletes<'a> {
    /// Whether delete `k` removed entry `dot`.
    fn removes(&mut self, k: usize, dot: Dot) -> bool {
        if let Some(&known) = self.removes.get(&(k, dot)) {
            return known;
        }
        let (w, index, _) = self.all[k];
        let removed = w.observed(index, dot) && !self.removed_before(w, index, dot);
        self.removes.insert((k, dot), removed);
        removed
    }

    /// Whether the node that made op `index` of `w` had merged a delete that removed
    /// entry `dot`.
    fn removed_before(&mut self, w: &AckedWrite, index: usize, dot: Dot) -> bool {
        (0..self.all.len()).any(|k| w.observed(index, self.all[k].2) && self.removes(k, dot))
    }
}

/// The value counter `field` must converge to, given every acknowledged write to its
/// document.
pub(crate) fn counter_value(writes: &[&AckedWrite], field: &str) -> i128 {
    let mut deletes = Deletes {
        all: Vec::new(),
        removes: BTreeMap::new(),
    };
    let mut increments: BTreeMap<NodeId, Vec<(&AckedWrite, usize, Dot, i128)>> = BTreeMap::new();
    for w in writes {
        for (index, (op, dot)) in w.ops.iter().zip(w.dots()).enumerate() {
            let by = match op {
                Op::Increment { field: f, by } if f == field => i128::from(*by),
                Op::Decrement { field: f, by } if f == field => -i128::from(*by),
                Op::DeleteField { field: f } if f == field => {
                    deletes.all.push((w, index, dot));
                    continue;
                }
                Op::DeleteDocument => {
                    deletes.all.push((w, index, dot));
                    continue;
                }
                _ => continue,
            };
            increments
                .entry(dot.origin)
                .or_default()
                .push((w, index, dot, by));
        }
    }
    let mut value = 0;
    for mut ops in increments.into_values() {
        ops.sort_by_key(|(_, _, dot, _)| dot.seq);
        let mut latest: Option<(Dot, i128)> = None;
        for (w, index, dot, by) in ops {
            let base = match latest {
                Some((prev, amount)) if !deletes.removed_before(w, index, prev) => amount,
                _ => 0,
            };
            latest = Some((dot, base + by));
        }
        if let Some((dot, amount)) = latest {
            if !(0..deletes.all.len()).any(|k| deletes.removes(k, dot)) {
                value += amount;
            }
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use lattice_crdt::{DocLimits, Document, Hlc, MAX_DRIFT_DEFAULT, NTP64};

    use super::*;

    /// A node holding one document, recording its writes as the simulator does.
    struct Node {
        doc: Document,
        hlc: Hlc,
        id: NodeId,
        deltas: Vec<Document>,
    }

    impl Node {
        fn new(n: u64) -> Node {
            let id = NodeId::new(n).unwrap();
            let hlc = Hlc::new(id, MAX_DRIFT_DEFAULT);
            let (doc, deltas) = (Document::default(), Vec::new());
            Node {
                doc,
                hlc,
                id,
                deltas,
            }
        }

        fn write(&mut self, op: Op, acked: &mut Vec<AckedWrite>) {
            let first = Dot::new(self.id, self.deltas.len() as u64 + 1);
            let context = self.doc.context().clone();
            let ts = self.hlc.tick(NTP64(1 << 40));
            let delta = self
                .doc
                .write(std::slice::from_ref(&op), first, ts, &DocLimits::default());
            self.deltas.push(delta.unwrap());
            let (node, key, timestamp) = (0, "d-0".to_owned(), None);
            let ops = vec![op];
            acked.push(AckedWrite {
                node,
                key,
                ops,
                first,
                context,
                timestamp,
            });
        }

        fn receive(&mut self, from: &Node, write: usize) {
            self.doc.join(from.deltas[write - 1].clone());
        }
    }

    fn inc(by: i64) -> Op {
        Op::Increment {
            field: "n".into(),
            by,
        }
    }

    fn delete() -> Op {
        Op::DeleteField { field: "n".into() }
    }

    /// The model's value and the CRDT's once every delta is merged everywhere.
    fn both(nodes: &[&Node], acked: &[AckedWrite]) -> (i128, i128) {
        let mut all = Document::default();
        for delta in nodes.iter().flat_map(|n| &n.deltas) {
            all.join(delta.clone());
        }
        let crdt = all.field("n").map_or(0, |f| f.counter().value());
        (counter_value(&acked.iter().collect::<Vec<_>>(), "n"), crdt)
    }

    #[test]
    fn an_increment_concurrent_with_a_delete_brings_back_its_origins_share() {
        let (mut a, mut b, mut acked) = (Node::new(1), Node::new(2), Vec::new());
        a.write(inc(10), &mut acked);
        b.receive(&a, 1);
        b.write(delete(), &mut acked);
        a.write(inc(1), &mut acked);
        assert_eq!(both(&[&a, &b], &acked), (11, 11));
    }

    #[test]
    fn an_increment_after_the_delete_starts_from_zero() {
        let (mut a, mut b, mut acked) = (Node::new(1), Node::new(2), Vec::new());
        a.write(inc(10), &mut acked);
        b.receive(&a, 1);
        b.write(delete(), &mut acked);
        a.receive(&b, 1);
        a.write(inc(1), &mut acked);
        assert_eq!(both(&[&a, &b], &acked), (1, 1));
    }

    #[test]
    fn a_delete_that_saw_an_entry_already_removed_does_not_remove_it_again() {
        // c's delete removes a's entry at b; b's delete then sees no entry of a. a merges
        // only b's delete, so its next increment still builds on its 10.
        let (mut a, mut b, mut c) = (Node::new(1), Node::new(2), Node::new(3));
        let mut acked = Vec::new();
        a.write(inc(10), &mut acked);
        c.receive(&a, 1);
        c.write(delete(), &mut acked);
        b.receive(&a, 1);
        b.receive(&c, 1);
        b.write(delete(), &mut acked);
        a.receive(&b, 1);
        a.write(inc(1), &mut acked);
        assert_eq!(both(&[&a, &b, &c], &acked), (11, 11));
    }
}
