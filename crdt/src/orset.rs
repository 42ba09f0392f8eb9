//! The add-wins observed-remove set of JSON values (the optimized OR-set, ORSWOT shape).
//!
//! Each element carries the dots of the adds that put it there; removing an element
//! drops the dots the remover had seen, so an add concurrent with the remove survives
//! (add wins). Removed elements leave no bytes behind: the causal context alone
//! remembers their dots. An index from dot to element keeps joining a small delta into a
//! large set at O(log n) instead of a scan.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dot_store::{Causal, DotSet, DotStore};
use crate::{Dot, Json, VersionVector};

/// The dot store of an OR-set: element → the dots that added it.
#[derive(Clone, Default, Debug, Deserialize)]
#[serde(try_from = "Vec<(Json, DotSet)>")]
pub struct SetStore {
    entries: BTreeMap<Json, DotSet>,
    index: BTreeMap<Dot, Json>,
}

/// An add-wins observed-remove set of JSON values, or a delta of one.
pub type OrSet = Causal<SetStore>;

impl PartialEq for SetStore {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl SetStore {
    /// The elements, in canonical order.
    pub fn elements(&self) -> impl Iterator<Item = &Json> + '_ {
        self.entries.keys()
    }

    /// Whether `element` is in the set.
    pub fn contains(&self, element: &Json) -> bool {
        self.entries.contains_key(element)
    }

    /// How many elements the set holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set holds no element.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The delta of adding `element` with the fresh dot `dot`: it supersedes the dots
    /// the element already had here.
    pub(crate) fn add_delta(&self, dot: Dot, element: Json) -> Causal<SetStore> {
        let mut context = self.dots_of(&element);
        context.insert(dot);
        let mut store = SetStore::default();
        store.index.insert(dot, element.clone());
        store.entries.insert(element, DotSet::single(dot));
        Causal { store, context }
    }

    /// The delta of removing `element`: the dots it has here, and no store.
    pub(crate) fn remove_delta(&self, element: &Json) -> Causal<SetStore> {
        Causal {
            store: SetStore::default(),
            context: self.dots_of(element),
        }
    }

    fn dots_of(&self, element: &Json) -> VersionVector {
        self.entries
            .get(element)
            .map(|dots| dots.iter().collect())
            .unwrap_or_default()
    }

    fn drop_dot(&mut self, dot: Dot, element: &Json) {
        self.index.remove(&dot);
        if let Some(dots) = self.entries.get_mut(element) {
            let kept: Vec<Dot> = dots.iter().filter(|d| *d != dot).collect();
            match DotSet::try_from(kept) {
                Ok(rest) => *dots = rest,
                Err(_) => {
                    self.entries.remove(element);
                }
            }
        }
    }
}

impl DotStore for SetStore {
    fn is_bottom(&self) -> bool {
        self.entries.is_empty()
    }

    fn join(&mut self, ctx: &VersionVector, other: Self, other_ctx: &VersionVector) {
        // Most joins are of a delta's field into a field of another type: nothing to
        // remove here, nothing to add.
        if self.index.is_empty() && other.entries.is_empty() {
            return;
        }
        // Elements only here lose the dots the other side has seen: found through the
        // index, range by range of a delta's context (an origin or two), or else dot by
        // dot of ours in the context, when it has more origins than we have dots (a
        // delete's, which holds every dot its writer had seen of the document).
        let mut removed = Vec::new();
        let gone = |element: &Json| !other.entries.contains_key(element);
        if other_ctx.origin_count() > self.index.len() {
            for (dot, element) in &self.index {
                if other_ctx.contains(*dot) && gone(element) {
                    removed.push((*dot, element.clone()));
                }
            }
        } else {
            for range in other_ctx.ranges() {
                let span = Dot::new(range.origin, range.first)..=Dot::new(range.origin, range.last);
                for (dot, element) in self.index.range(span) {
                    if gone(element) {
                        removed.push((*dot, element.clone()));
                    }
                }
            }
        }
        for (dot, element) in removed {
            self.drop_dot(dot, &element);
        }
        // Elements on the other side join element by element.
        for (element, theirs) in other.entries {
            let Some(mine) = self.entries.get_mut(&element) else {
                let mut fresh = DotSet::default();
                fresh.join(ctx, theirs, other_ctx);
                if !fresh.is_bottom() {
                    fresh.iter().for_each(|dot| {
                        self.index.insert(dot, element.clone());
                    });
                    self.entries.insert(element, fresh);
                }
                continue;
            };
            let before = mine.clone();
            mine.join(ctx, theirs, other_ctx);
            if *mine == before {
                continue;
            }
            let after = mine.clone();
            if after.is_bottom() {
                self.entries.remove(&element);
            }
            before.iter().for_each(|dot| {
                self.index.remove(&dot);
            });
            after.iter().for_each(|dot| {
                self.index.insert(dot, element.clone());
            });
        }
    }

    fn for_each_dot(&self, f: &mut dyn FnMut(Dot)) {
        self.index.keys().for_each(|d| f(*d));
    }
}

impl Serialize for SetStore {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.entries.iter())
    }
}

impl TryFrom<Vec<(Json, DotSet)>> for SetStore {
    type Error = &'static str;

    fn try_from(entries: Vec<(Json, DotSet)>) -> Result<Self, Self::Error> {
        if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err("set elements are not strictly increasing");
        }
        let mut store = SetStore::default();
        for (element, dots) in entries {
            for dot in dots.iter() {
                if store.index.insert(dot, element.clone()).is_some() {
                    return Err("one dot marks two set elements");
                }
            }
            store.entries.insert(element, dots);
        }
        Ok(store)
    }
}

impl OrSet {
    /// Adds `element` using the fresh dot `dot` (never used before by `dot.origin`).
    /// Returns the delta to send to other replicas.
    pub fn add(&mut self, dot: Dot, element: Json) -> OrSet {
        let delta = self.store.add_delta(dot, element.clone());
        // Our own add replaces the element's dots with the new one (the law suite checks
        // this agrees with joining the delta).
        let old = self
            .store
            .entries
            .insert(element.clone(), DotSet::single(dot));
        for old_dot in old.iter().flat_map(DotSet::iter) {
            self.store.index.remove(&old_dot);
        }
        self.store.index.insert(dot, element);
        self.context.insert(dot);
        delta
    }

    /// Removes `element` as this replica sees it; concurrent adds elsewhere survive.
    /// Returns the delta to send to other replicas.
    pub fn remove(&mut self, element: &Json) -> OrSet {
        let delta = self.store.remove_delta(element);
        for dot in self
            .store
            .entries
            .remove(element)
            .iter()
            .flat_map(DotSet::iter)
        {
            self.store.index.remove(&dot);
        }
        delta
    }
}
