//! Causal CRDTs in the style of Almeida, Shoker and Baquero, "Delta state replicated
//! data types" (2018): a *dot store* paired with a *causal context*.
//!
//! The store holds the live events (dots) with their payloads; the context
//! ([`VersionVector`]) holds every dot the replica has ever seen. A dot that is in the
//! other side's context but not in its store was removed there, so removals leave no
//! tombstone: only the context, which compresses to one prefix per origin, remembers
//! them. Every CRDT in lattice is a [`Causal`] over one of the stores here, and every
//! delta is itself a small `Causal` value, so merging a delta and merging a full state
//! are the same [`Causal::join`].

use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::{Dot, NodeId, VersionVector};

/// A set of dots with payloads that knows how to join with another one, given both
/// sides' causal contexts.
pub trait DotStore: Default + Clone + PartialEq + fmt::Debug {
    /// Whether the store holds no dot (the bottom of the lattice).
    fn is_bottom(&self) -> bool;

    /// Joins `other` into `self`. `ctx` is `self`'s causal context and `other_ctx` is
    /// `other`'s, both as they were before the join.
    fn join(&mut self, ctx: &VersionVector, other: Self, other_ctx: &VersionVector);

    /// Calls `f` with every dot in the store.
    fn for_each_dot(&self, f: &mut dyn FnMut(Dot));

    /// All dots in the store, as a version vector.
    fn dots(&self) -> VersionVector {
        let mut vv = VersionVector::new();
        self.for_each_dot(&mut |dot| vv.insert(dot));
        vv
    }
}

/// A dot store with its causal context: a complete causal CRDT (or a delta of one).
#[derive(Clone, Default, PartialEq, Debug, Serialize, Deserialize)]
#[serde(bound(deserialize = "S: DotStore + DeserializeOwned"))]
#[serde(try_from = "CausalWire<S>")]
pub struct Causal<S> {
    pub(crate) store: S,
    pub(crate) context: VersionVector,
}

impl<S: DotStore> Causal<S> {
    /// A value from its parts. `None` if a dot of the store is missing from the context,
    /// which no reachable state has.
    pub fn from_parts(store: S, context: VersionVector) -> Option<Causal<S>> {
        let mut consistent = true;
        store.for_each_dot(&mut |dot| consistent &= context.contains(dot));
        consistent.then_some(Causal { store, context })
    }

    /// The lattice join: afterwards `self` holds everything either side held, minus what
    /// either side had seen and removed. Commutative, associative, idempotent; never fails.
    pub fn join(&mut self, other: Causal<S>) {
        self.store.join(&self.context, other.store, &other.context);
        self.context.join(&other.context);
    }

    /// The live dots and their payloads.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Every dot this value has seen, live or removed.
    pub fn context(&self) -> &VersionVector {
        &self.context
    }

    /// Whether no live dot remains (the value reads as empty).
    pub fn is_bottom(&self) -> bool {
        self.store.is_bottom()
    }

    /// Adds `dots` to the causal context, leaving the store alone.
    ///
    /// Sound only for dots that this value has already seen or that can never appear in
    /// its store. A replica uses it with its version vector: every dot there was either
    /// applied to this document already or belongs to another document, and adding them
    /// keeps each document's context a few prefixes instead of a scattered set of the
    /// dots that happened to touch it.
    pub fn extend_context(&mut self, dots: &VersionVector) {
        self.context.join(dots);
    }

    /// Drops from the context every dot of `base`, keeping the value *relative to*
    /// `base`: it then stands for itself with `base` added back by
    /// [`extend_context`](Causal::extend_context), under the same soundness rule. A
    /// replica keeps its documents relative to its version vector, so that each holds
    /// only the few dots the vector lacks instead of a copy of it.
    ///
    /// A relative value still joins exactly like the whole one with a value whose
    /// store holds no dot of `base` (a new delta): the join consults only the other
    /// side's context about `self`'s dots, and `self`'s context only about dots of the
    /// other store. Anything else (a peer's full state) must be joined into the whole
    /// value.
    pub fn trim_context(&mut self, base: &VersionVector) {
        self.context = base.missing_ranges(&self.context).into_iter().fold(
            VersionVector::new(),
            |mut vv, r| {
                vv.insert_range(r.origin, r.first..=r.last);
                vv
            },
        );
    }

    /// A value kept relative to `base` (see [`trim_context`](Causal::trim_context))
    /// from its parts. `None` if a dot of the store is neither in `context` nor in
    /// `base`, which no reachable state has.
    pub fn from_parts_over(
        store: S,
        context: VersionVector,
        base: &VersionVector,
    ) -> Option<Causal<S>> {
        let mut consistent = true;
        store.for_each_dot(&mut |dot| {
            consistent &= context.contains(dot) || base.contains(dot);
        });
        consistent.then_some(Causal { store, context })
    }

    /// Joins a delta made by a mutator into `self` and hands it back to the caller.
    pub(crate) fn absorb(&mut self, delta: Causal<S>) -> Causal<S> {
        self.join(delta.clone());
        delta
    }
}

#[derive(Deserialize)]
struct CausalWire<S> {
    store: S,
    context: VersionVector,
}

impl<S: DotStore> TryFrom<CausalWire<S>> for Causal<S> {
    type Error = &'static str;

    fn try_from(wire: CausalWire<S>) -> Result<Self, Self::Error> {
        Causal::from_parts(wire.store, wire.context)
            .ok_or("a dot of the store is missing from its causal context")
    }
}

/// A plain set of dots, sorted. Marks the presence of an OR-set element.
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug, Deserialize)]
#[serde(try_from = "Vec<Dot>")]
pub struct DotSet(SmallVec<[Dot; 1]>);

impl Serialize for DotSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl DotSet {
    /// The set holding one dot.
    pub fn single(dot: Dot) -> DotSet {
        DotSet(smallvec::smallvec![dot])
    }

    /// The dots, in order.
    pub fn iter(&self) -> impl Iterator<Item = Dot> + '_ {
        self.0.iter().copied()
    }
}

impl TryFrom<Vec<Dot>> for DotSet {
    type Error = &'static str;

    fn try_from(dots: Vec<Dot>) -> Result<Self, Self::Error> {
        if dots.is_empty() {
            return Err("empty dot set");
        }
        if dots.windows(2).any(|w| w[0] >= w[1]) {
            return Err("dot set is not strictly increasing");
        }
        Ok(DotSet(dots.into()))
    }
}

impl DotStore for DotSet {
    fn is_bottom(&self) -> bool {
        self.0.is_empty()
    }

    fn join(&mut self, ctx: &VersionVector, other: Self, other_ctx: &VersionVector) {
        if self.0 == other.0 {
            return;
        }
        let mine = std::mem::take(&mut self.0);
        let (mut a, mut b) = (mine.into_iter().peekable(), other.0.into_iter().peekable());
        loop {
            match (a.peek().copied(), b.peek().copied()) {
                (Some(x), Some(y)) if x == y => {
                    self.0.push(x);
                    a.next();
                    b.next();
                }
                (Some(x), y) if y.is_none_or(|y| x < y) => {
                    if !other_ctx.contains(x) {
                        self.0.push(x);
                    }
                    a.next();
                }
                (_, Some(y)) => {
                    if !ctx.contains(y) {
                        self.0.push(y);
                    }
                    b.next();
                }
                _ => break,
            }
        }
    }

    fn for_each_dot(&self, f: &mut dyn FnMut(Dot)) {
        self.0.iter().for_each(|d| f(*d));
    }
}

/// A map from dot to payload, sorted by dot (so by origin, then sequence). A payload
/// never changes once written, so the same dot on both sides carries the same payload
/// (the larger one is kept should they differ, which keeps the join commutative even on
/// corrupt input). One entry fits inline: a delta never allocates.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(bound(deserialize = "V: Deserialize<'de>"))]
#[serde(try_from = "Vec<(Dot, V)>")]
pub struct DotFun<V>(SmallVec<[(Dot, V); 1]>);

impl<V> Default for DotFun<V> {
    fn default() -> Self {
        DotFun(SmallVec::new())
    }
}

impl<V> DotFun<V> {
    /// The entries, sorted by dot.
    pub fn entries(&self) -> &[(Dot, V)] {
        &self.0
    }

    /// The entries of one origin, oldest first.
    pub fn of_origin(&self, origin: NodeId) -> &[(Dot, V)] {
        let lo = self.0.partition_point(|(d, _)| d.origin < origin);
        let hi = self.0.partition_point(|(d, _)| d.origin <= origin);
        &self.0[lo..hi]
    }

    /// Replaces every entry of `dot.origin` with `(dot, value)`.
    pub(crate) fn replace_origin(&mut self, dot: Dot, value: V) {
        let lo = self.0.partition_point(|(d, _)| d.origin < dot.origin);
        let hi = self.0.partition_point(|(d, _)| d.origin <= dot.origin);
        if hi == lo + 1 {
            self.0[lo] = (dot, value);
        } else {
            self.0.drain(lo..hi);
            self.0.insert(lo, (dot, value));
        }
    }

    /// The DotFun holding one entry.
    pub(crate) fn single(dot: Dot, value: V) -> DotFun<V> {
        DotFun(smallvec::smallvec![(dot, value)])
    }
}

impl<V: Serialize> Serialize for DotFun<V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl<V> TryFrom<Vec<(Dot, V)>> for DotFun<V> {
    type Error = &'static str;

    fn try_from(entries: Vec<(Dot, V)>) -> Result<Self, Self::Error> {
        if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err("dot map entries are not strictly increasing");
        }
        Ok(DotFun(entries.into()))
    }
}

impl<V: Clone + Ord + fmt::Debug> DotStore for DotFun<V> {
    fn is_bottom(&self) -> bool {
        self.0.is_empty()
    }

    fn join(&mut self, ctx: &VersionVector, other: Self, other_ctx: &VersionVector) {
        // Most joins are of a delta's field into a document field of another type, or
        // into one that it leaves alone: one side holds nothing, or the other few
        // entries, and looking at each entry costs less than the searches below.
        if self.0.is_empty() {
            let new = other.0.into_iter().filter(|(dot, _)| !ctx.contains(*dot));
            self.0.extend(new);
            return;
        }
        if other.0.is_empty() && self.0.len() <= 4 {
            self.0.retain(|(dot, _)| !other_ctx.contains(*dot));
            return;
        }
        // Entries of ours that the other side has seen and no longer holds go. Only
        // origins of its context can have such entries: a delta's context has one or
        // two, while a document has an entry per writer. A context of more origins than
        // we have entries (a delete's) is looked into per entry instead.
        let theirs = &other.0;
        let held = |dot: &Dot| theirs.binary_search_by_key(dot, |(d, _)| *d).is_ok();
        if other_ctx.origin_count() > self.0.len() {
            self.0
                .retain(|(dot, _)| held(dot) || !other_ctx.contains(*dot));
        } else {
            for origin in other_ctx.origins() {
                let lo = self.0.partition_point(|(d, _)| d.origin < origin);
                // An origin has an entry or two here (a counter one), so its run ends a
                // step or two on: walked to, not searched for in the rest.
                let run = self.0[lo..].iter().take_while(|(d, _)| d.origin == origin);
                let hi = lo + run.count();
                let mut kept = lo;
                for i in lo..hi {
                    let dot = self.0[i].0;
                    if held(&dot) || !other_ctx.contains(dot) {
                        self.0.swap(kept, i);
                        kept += 1;
                    }
                }
                self.0.drain(kept..hi);
            }
        }
        for (dot, value) in other.0 {
            match self.0.binary_search_by_key(&dot, |(d, _)| *d) {
                Ok(i) => {
                    if value > self.0[i].1 {
                        self.0[i].1 = value;
                    }
                }
                Err(i) => {
                    if !ctx.contains(dot) {
                        self.0.insert(i, (dot, value));
                    }
                }
            }
        }
    }

    fn for_each_dot(&self, f: &mut dyn FnMut(Dot)) {
        self.0.iter().for_each(|(d, _)| f(*d));
    }
}

/// A map from keys to nested dot stores that all share one causal context. A key is
/// present while its store holds a dot.
///
/// Kept as a list sorted by key: a document has few fields and a delta mostly one, so
/// decoding a record allocates room for one field where a B-tree allocated a node of
/// eleven, about 2 KiB. (Inline room for one would make every document that much
/// larger to move.) On the wire it is a map, as a B-tree map was, and decodes as one:
/// keys in any order, the last of equal keys kept.
#[derive(Clone, PartialEq, Debug)]
pub struct DotMap<K, S>(pub(crate) Vec<(K, S)>);

impl<K, S> Default for DotMap<K, S> {
    fn default() -> Self {
        DotMap(Vec::new())
    }
}

impl<K: Ord, S> DotMap<K, S> {
    /// Where `key` is, or where it would go.
    fn search<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The store under `key`.
    pub(crate) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&S>
    where
        K: Borrow<Q>,
    {
        self.search(key).ok().map(|i| &self.0[i].1)
    }

    /// Puts `store` under `key`, replacing what was there.
    pub(crate) fn insert(&mut self, key: K, store: S) {
        match self.search(&key) {
            Ok(i) => self.0[i].1 = store,
            Err(i) => self.0.insert(i, (key, store)),
        }
    }

    /// The entries, by key.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &S)> + '_ {
        self.0.iter().map(|(k, s)| (k, s))
    }

    /// How many keys are present.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

impl<K: Ord + Clone + fmt::Debug, S: DotStore> DotStore for DotMap<K, S> {
    fn is_bottom(&self) -> bool {
        self.0.is_empty()
    }

    fn join(&mut self, ctx: &VersionVector, other: Self, other_ctx: &VersionVector) {
        for (key, mine) in self.0.iter_mut() {
            if other.search(key).is_err() {
                mine.join(ctx, S::default(), other_ctx);
            }
        }
        for (key, theirs) in other.0 {
            let i = match self.search(&key) {
                Ok(i) => i,
                Err(i) => {
                    self.0.insert(i, (key, S::default()));
                    i
                }
            };
            self.0[i].1.join(ctx, theirs, other_ctx);
        }
        self.0.retain(|(_, store)| !store.is_bottom());
    }

    fn for_each_dot(&self, f: &mut dyn FnMut(Dot)) {
        self.0.iter().for_each(|(_, s)| s.for_each_dot(f));
    }
}

impl<K: Serialize, S: Serialize> Serialize for DotMap<K, S> {
    fn serialize<Z: serde::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de, K: Deserialize<'de> + Ord, S: Deserialize<'de>> Deserialize<'de> for DotMap<K, S> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries<K, S>(PhantomData<(K, S)>);

        impl<'de, K: Deserialize<'de> + Ord, S: Deserialize<'de>> Visitor<'de> for Entries<K, S> {
            type Value = DotMap<K, S>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(K, S)> = Vec::new();
                let mut sorted = true;
                while let Some((key, store)) = map.next_entry::<K, S>()? {
                    sorted &= entries.last().is_none_or(|(last, _)| *last < key);
                    entries.push((key, store));
                }
                if sorted {
                    return Ok(DotMap(entries));
                }
                // Not in canonical order (no lattice node writes it so): sort, stably,
                // and keep the last of equal keys, as a map's inserts would (`dedup_by`
                // drops the later of two, so the later's store moves into the earlier).
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                entries.dedup_by(|later, earlier| {
                    let equal = later.0 == earlier.0;
                    if equal {
                        std::mem::swap(&mut later.1, &mut earlier.1);
                    }
                    equal
                });
                Ok(DotMap(entries))
            }
        }

        d.deserialize_map(Entries(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{Json, JsonLimits, OrSet};

    fn dot(origin: u64, seq: u64) -> Dot {
        Dot::new(NodeId::new(origin).unwrap(), seq)
    }

    fn x() -> Json {
        Json::from_value(&serde_json::json!("x"), &JsonLimits::default()).unwrap()
    }

    /// A remove that overtook its add: the relative value keeps the removed dot, which
    /// its base lacks, or the late add would come back to life.
    #[test]
    fn a_relative_value_keeps_the_removed_dots_its_base_lacks() {
        let mut a = OrSet::default();
        let add = a.add(dot(1, 1), x());
        let mut b = OrSet::default();
        b.join(add.clone());
        let remove = b.remove(&x());
        let base: VersionVector = [dot(3, 1), dot(3, 2)].into_iter().collect();

        let mut whole = OrSet::default();
        whole.extend_context(&base);
        whole.join(remove.clone());
        let mut relative = OrSet::default();
        relative.join(remove);
        relative.trim_context(&base);
        assert!(relative.context().contains(dot(1, 1)));
        assert!(
            !relative.context().contains(dot(3, 1)),
            "the base's dots go"
        );

        whole.join(add.clone());
        relative.join(add);
        assert!(relative.is_bottom(), "the add stays removed");
        relative.extend_context(&base);
        assert_eq!(relative, whole);
    }

    /// A dot map is a map on the wire, byte for byte as a B-tree map was, and a map
    /// from a peer decodes whatever its order: sorted, the last of equal keys kept.
    #[test]
    fn a_dot_map_is_a_map_on_the_wire_in_any_order() {
        let set = |seq: u64| DotSet::single(dot(1, seq));
        let mut map: DotMap<String, DotSet> = DotMap::default();
        map.insert("b".to_owned(), set(2));
        map.insert("a".to_owned(), set(1));
        let btree: BTreeMap<String, DotSet> = [("a", set(1)), ("b", set(2))]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let bytes = crate::codec::encode(&map);
        assert_eq!(bytes, crate::codec::encode(&btree));
        assert_eq!(
            crate::codec::decode::<DotMap<String, DotSet>>(&bytes, 1 << 10).unwrap(),
            map
        );

        // Postcard writes a list of pairs as it writes a map: the same bytes a peer's
        // unsorted map with a repeated key would be.
        let unsorted = vec![("b", set(2)), ("a", set(1)), ("b", set(3))];
        let decoded: DotMap<String, DotSet> =
            crate::codec::decode(&crate::codec::encode(&unsorted), 1 << 10).unwrap();
        let keys: Vec<(&String, &DotSet)> = decoded.iter().collect();
        assert_eq!(
            keys,
            vec![(&"a".to_owned(), &set(1)), (&"b".to_owned(), &set(3))]
        );
    }

    #[test]
    fn a_relative_value_needs_its_store_dots_in_context_or_base() {
        let mut set = OrSet::default();
        set.add(dot(1, 1), x());
        let base: VersionVector = [dot(1, 1)].into_iter().collect();
        let (store, empty) = (set.store().clone(), VersionVector::new());
        assert!(Causal::from_parts_over(store.clone(), empty.clone(), &base).is_some());
        assert!(Causal::from_parts_over(store, empty, &VersionVector::new()).is_none());
    }

    /// A join removes exactly the entries the other side has seen and does not hold,
    /// and adds exactly those of its entries this side has not seen, whichever way it
    /// looks into the contexts: per origin of a context with few origins, per entry
    /// against one with many (a delete's). Random stores and contexts of both kinds,
    /// against the definition.
    #[test]
    fn joins_remove_and_add_by_the_definition_for_any_context_size() {
        use crate::orset::SetStore;

        let mut state = 7u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        for case in 0..3000 {
            // Dots of origins 1..=12, sequence numbers 1..=4.
            let mut draw = |count: u64| -> Vec<Dot> {
                let mut dots: Vec<Dot> =
                    (0..count).map(|_| dot(1 + next(12), 1 + next(4))).collect();
                dots.sort();
                dots.dedup();
                dots
            };
            let mine = draw(1 + case % 8);
            let theirs = draw(case % 3);
            let extra = draw(if case % 2 == 0 { 1 } else { 24 });
            let ctx: VersionVector = mine.iter().chain(&draw(2)).copied().collect();
            let other_ctx: VersionVector = theirs.iter().chain(&extra).copied().collect();
            let kept = |d: &Dot, in_theirs: bool, in_mine: bool| {
                (in_mine && (in_theirs || !other_ctx.contains(*d)))
                    || (in_theirs && !ctx.contains(*d))
            };
            let mut all: Vec<Dot> = mine.iter().chain(&theirs).copied().collect();
            all.sort();
            all.dedup();
            let expected: Vec<Dot> = all
                .into_iter()
                .filter(|d| kept(d, theirs.contains(d), mine.contains(d)))
                .collect();

            let fun = |dots: &[Dot]| DotFun(dots.iter().map(|d| (*d, d.seq)).collect());
            let mut joined = fun(&mine);
            joined.join(&ctx, fun(&theirs), &other_ctx);
            assert_eq!(joined, fun(&expected), "dot fun, case {case}");

            // One element per origin, so elements go when all their dots do.
            let set = |dots: &[Dot]| {
                let mut by_element: BTreeMap<u64, Vec<Dot>> = BTreeMap::new();
                for d in dots {
                    by_element.entry(d.origin.get() % 3).or_default().push(*d);
                }
                let entries: Vec<(Json, DotSet)> = by_element
                    .into_iter()
                    .map(|(e, dots)| {
                        let e = Json::from_value(&serde_json::json!(e), &JsonLimits::default());
                        (e.unwrap(), DotSet::try_from(dots).unwrap())
                    })
                    .collect();
                SetStore::try_from(entries).unwrap()
            };
            let mut joined = set(&mine);
            joined.join(&ctx, set(&theirs), &other_ctx);
            assert_eq!(joined, set(&expected), "set, case {case}");
        }
    }
}
