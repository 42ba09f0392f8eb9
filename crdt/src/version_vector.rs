//! Version vectors with gaps: a compact set of dots.
//!
//! Per origin the set is a contiguous prefix `1..=n` plus a short sorted list of
//! disjoint ranges beyond it (the gaps between them are dots not yet seen). A replica
//! that receives deltas in order keeps only prefixes; out-of-order arrival costs one
//! range per gap until it fills. The same type is the causal context of every CRDT.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::{Dot, NodeId};

/// How many times more origins `self` must have than `other` for a join to search for
/// each of `other`'s origins rather than walk both lists.
const SEARCH_JOIN_RATIO: usize = 8;

/// A set of dots, stored per origin as a prefix plus ranges.
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug)]
pub struct VersionVector {
    /// Sorted by origin. Two origins fit inline, so a delta's context never allocates.
    origins: SmallVec<[(NodeId, SeqSet); 2]>,
}

/// A run of consecutive dots of one origin: `first..=last`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct DotRange {
    /// The node whose writes these are.
    pub origin: NodeId,
    /// The first sequence number in the run (at least 1).
    pub first: u64,
    /// The last sequence number in the run (at least `first`).
    pub last: u64,
}

impl DotRange {
    /// How many dots the run holds.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Always false: a run holds at least one dot. Here for clippy's `len` convention.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The sequence numbers of one origin: `1..=prefix` plus `extra`, sorted inclusive
/// ranges that are disjoint, not adjacent, and start above `prefix + 1`.
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug)]
struct SeqSet {
    prefix: u64,
    extra: SmallVec<[(u64, u64); 1]>,
}

/// The index of the first of `origins` (sorted) at or after `origin`, found by galloping
/// from the front: walking one vector's origins in order through another's costs a
/// search over the distance to the next one, not over the whole rest.
fn seek(origins: &[(NodeId, SeqSet)], origin: NodeId) -> usize {
    let mut end = 1;
    while end < origins.len() && origins[end - 1].0 < origin {
        end *= 2;
    }
    let start = end / 2;
    let end = end.min(origins.len());
    start + origins[start..end].partition_point(|(o, _)| *o < origin)
}

impl SeqSet {
    fn contains(&self, seq: u64) -> bool {
        if seq == 0 {
            return false;
        }
        if seq <= self.prefix {
            return true;
        }
        let i = self.extra.partition_point(|&(_, hi)| hi < seq);
        self.extra.get(i).is_some_and(|&(lo, _)| lo <= seq)
    }

    /// How many of `lo..=hi` are in the set.
    fn count_in(&self, lo: u64, hi: u64) -> u64 {
        self.ranges()
            .map(|(l, h)| h.min(hi).saturating_add(1).saturating_sub(l.max(lo)))
            .sum()
    }

    fn max(&self) -> u64 {
        self.extra.last().map_or(self.prefix, |&(_, hi)| hi)
    }

    fn insert_range(&mut self, lo: u64, hi: u64) {
        if hi <= self.prefix {
            return;
        }
        let lo = lo.max(self.prefix + 1);
        if lo > hi {
            return;
        }
        // The common case: the run extends the prefix and reaches no extra range.
        if lo == self.prefix + 1
            && self
                .extra
                .first()
                .is_none_or(|&(l, _)| hi.saturating_add(1) < l)
        {
            self.prefix = hi;
            return;
        }
        // Also common: the run lies beyond every range, or extends the last one.
        match self.extra.last_mut() {
            Some(last) if lo > last.1 && lo - last.1 == 1 => {
                last.1 = hi;
                return;
            }
            Some(last) if lo > last.1 => {
                self.extra.push((lo, hi));
                return;
            }
            None if lo > self.prefix + 1 => {
                self.extra.push((lo, hi));
                return;
            }
            _ => {}
        }
        // Ranges that overlap or touch [lo, hi] are merged into it.
        let start = self
            .extra
            .partition_point(|&(_, h)| h.saturating_add(1) < lo);
        let end = self
            .extra
            .partition_point(|&(l, _)| l <= hi.saturating_add(1));
        let (mut lo, mut hi) = (lo, hi);
        if start < end {
            lo = lo.min(self.extra[start].0);
            hi = hi.max(self.extra[end - 1].1);
        }
        if start < end {
            self.extra[start] = (lo, hi);
            self.extra.drain(start + 1..end);
        } else {
            self.extra.insert(start, (lo, hi));
        }
        if self.extra[0].0 == self.prefix + 1 {
            self.prefix = self.extra.remove(0).1;
        }
    }

    fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let prefix = (self.prefix > 0).then_some((1, self.prefix));
        prefix.into_iter().chain(self.extra.iter().copied())
    }

    fn join(&mut self, other: &SeqSet) {
        for (lo, hi) in other.ranges() {
            self.insert_range(lo, hi);
        }
    }

    /// The ranges of `other` that are not in `self`, in order.
    fn missing(&self, other: &SeqSet, mut out: impl FnMut(u64, u64)) {
        // Most often all of theirs lies in our prefix.
        if other.max() <= self.prefix {
            return;
        }
        let mut mine = self.ranges().peekable();
        for (mut lo, hi) in other.ranges() {
            while lo <= hi {
                match mine.peek() {
                    Some(&(_, mh)) if mh < lo => {
                        mine.next();
                    }
                    Some(&(ml, mh)) if ml <= lo => {
                        if mh >= hi {
                            break;
                        }
                        lo = mh + 1;
                    }
                    Some(&(ml, _)) if ml <= hi => {
                        out(lo, ml - 1);
                        lo = ml;
                    }
                    _ => {
                        out(lo, hi);
                        break;
                    }
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.prefix == 0 && self.extra.is_empty()
    }
}

impl VersionVector {
    /// The empty set.
    pub fn new() -> VersionVector {
        VersionVector::default()
    }

    /// True when no dot is in the set.
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// Whether `dot` is in the set.
    pub fn contains(&self, dot: Dot) -> bool {
        self.get(dot.origin).is_some_and(|s| s.contains(dot.seq))
    }

    fn get(&self, origin: NodeId) -> Option<&SeqSet> {
        let i = self
            .origins
            .binary_search_by_key(&origin, |(o, _)| *o)
            .ok()?;
        Some(&self.origins[i].1)
    }

    fn entry(&mut self, origin: NodeId) -> &mut SeqSet {
        let i = match self.origins.binary_search_by_key(&origin, |(o, _)| *o) {
            Ok(i) => i,
            Err(i) => {
                self.origins.insert(i, (origin, SeqSet::default()));
                i
            }
        };
        &mut self.origins[i].1
    }

    /// Adds one dot.
    pub fn insert(&mut self, dot: Dot) {
        self.insert_range(dot.origin, dot.seq..=dot.seq);
    }

    /// Adds the dots `origin:seqs` (sequence number 0 is never a dot and is ignored).
    pub fn insert_range(&mut self, origin: NodeId, seqs: RangeInclusive<u64>) {
        let (lo, hi) = (*seqs.start(), *seqs.end());
        if hi == 0 || lo > hi {
            return;
        }
        self.entry(origin).insert_range(lo, hi);
    }

    /// Adds every dot of `other` (set union, the lattice join). Both lists of origins
    /// are sorted, so one pass over them finds the shared origins, and origins new here
    /// are merged in at the end: linear, not a search per origin. A vector of a few
    /// origins (a delta's context, one record's dots) joins into a much larger one by a
    /// binary search per origin instead, so its cost does not grow with the cluster.
    pub fn join(&mut self, other: &VersionVector) {
        if other.origins.len() * SEARCH_JOIN_RATIO < self.origins.len() {
            for (origin, seqs) in &other.origins {
                self.entry(*origin).join(seqs);
            }
            return;
        }
        let mut i = 0;
        let mut new = Vec::new();
        for (origin, seqs) in &other.origins {
            while self.origins.get(i).is_some_and(|(o, _)| o < origin) {
                i += 1;
            }
            match self.origins.get_mut(i) {
                Some((o, mine)) if o == origin => mine.join(seqs),
                _ => new.push((*origin, seqs.clone())),
            }
        }
        if !new.is_empty() {
            self.origins.extend(new);
            // Two sorted runs: the stable sort merges them in linear time.
            self.origins.sort_by_key(|(o, _)| *o);
        }
    }

    /// Whether every dot of `other` is in `self`.
    pub fn includes(&self, other: &VersionVector) -> bool {
        let mut rest = &self.origins[..];
        for (origin, theirs) in &other.origins {
            let i = seek(rest, *origin);
            let Some((_, mine)) = rest.get(i).filter(|(o, _)| o == origin) else {
                return false;
            };
            let mut missing = false;
            mine.missing(theirs, |_, _| missing = true);
            if missing {
                return false;
            }
            rest = &rest[i + 1..];
        }
        true
    }

    /// The dots that `other` has and `self` lacks, as runs ordered by origin and sequence.
    pub fn missing_ranges(&self, other: &VersionVector) -> Vec<DotRange> {
        let empty = SeqSet::default();
        let mut out = Vec::new();
        let mut rest = &self.origins[..];
        for (origin, theirs) in &other.origins {
            let i = seek(rest, *origin);
            let mine = match rest.get(i) {
                Some((o, mine)) if o == origin => mine,
                _ => &empty,
            };
            rest = &rest[i..];
            mine.missing(theirs, |first, last| {
                out.push(DotRange {
                    origin: *origin,
                    first,
                    last,
                })
            });
        }
        out
    }

    /// How many dots of `range` are in the set: none (it is new here), `range.len()`
    /// (all seen), or some. One search, no allocation.
    pub fn count_in(&self, range: DotRange) -> u64 {
        self.get(range.origin)
            .map_or(0, |s| s.count_in(range.first, range.last))
    }

    /// The highest sequence number of `origin` in the set (0 if none).
    pub fn max_seq(&self, origin: NodeId) -> u64 {
        self.get(origin).map_or(0, SeqSet::max)
    }

    /// The length of the contiguous prefix `1..=n` of `origin`'s dots in the set.
    pub fn prefix(&self, origin: NodeId) -> u64 {
        self.get(origin).map_or(0, |s| s.prefix)
    }

    /// The dot after the highest one of `origin`: what `origin` should use for its next
    /// write when this set holds all of its writes.
    pub fn next_dot(&self, origin: NodeId) -> Dot {
        Dot::new(origin, self.max_seq(origin) + 1)
    }

    /// Whether some origin has dots beyond a gap.
    pub fn has_gaps(&self) -> bool {
        self.origins.iter().any(|(_, s)| !s.extra.is_empty())
    }

    /// How many origins have a dot in the set.
    pub fn origin_count(&self) -> usize {
        self.origins.len()
    }

    /// The origins with a dot in the set, in order.
    pub fn origins(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.origins.iter().map(|(origin, _)| *origin)
    }

    /// All runs of dots in the set, ordered by origin and sequence.
    pub fn ranges(&self) -> impl Iterator<Item = DotRange> + '_ {
        self.origins.iter().flat_map(|(origin, seqs)| {
            seqs.ranges().map(|(first, last)| DotRange {
                origin: *origin,
                first,
                last,
            })
        })
    }

    /// The number of runs: a measure of the encoded size.
    pub fn range_count(&self) -> usize {
        self.origins
            .iter()
            .map(|(_, s)| usize::from(s.prefix > 0) + s.extra.len())
            .sum()
    }
}

impl FromIterator<Dot> for VersionVector {
    fn from_iter<I: IntoIterator<Item = Dot>>(dots: I) -> VersionVector {
        let mut vv = VersionVector::new();
        for dot in dots {
            vv.insert(dot);
        }
        vv
    }
}

/// The encoded form of one origin: its prefix and its extra ranges as `(start, length-1)`.
#[derive(Deserialize)]
struct OriginWire(NodeId, u64, WireSpans);

/// An origin's extra ranges as read, `(start, length-1)`, straight into the small list
/// the vector keeps them in: a delta's context (one range) decodes without allocating.
struct WireSpans(SmallVec<[(u64, u64); 1]>);

impl<'de> Deserialize<'de> for WireSpans {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Spans;

        impl<'de> serde::de::Visitor<'de> for Spans {
            type Value = WireSpans;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of sequence ranges")
            }

            fn visit_seq<S: serde::de::SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> Result<WireSpans, S::Error> {
                let mut spans = SmallVec::new();
                // The length is the peer's word: trusted only up to a bound.
                spans.reserve(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(span) = seq.next_element::<(u64, u64)>()? {
                    spans.push(span);
                }
                Ok(WireSpans(spans))
            }
        }

        d.deserialize_seq(Spans)
    }
}

impl Serialize for VersionVector {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.origins
                .iter()
                .map(|(origin, seqs)| (origin, seqs.prefix, Spans(&seqs.extra))),
        )
    }
}

/// Extra ranges written as `(start, length-1)`, the form [`OriginWire`] reads.
struct Spans<'a>(&'a [(u64, u64)]);

impl Serialize for Spans<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|&(lo, hi)| (lo, hi - lo)))
    }
}

impl VersionVector {
    /// Appends one origin as read from the wire, checking it follows the last one.
    fn push_wire(
        &mut self,
        OriginWire(origin, prefix, WireSpans(mut extra)): OriginWire,
    ) -> Result<(), &'static str> {
        if self.origins.last().is_some_and(|(last, _)| *last >= origin) {
            return Err("version vector origins are not strictly increasing");
        }
        let mut floor = prefix.checked_add(1).ok_or("sequence number overflow")?;
        // `(start, length-1)` becomes `(start, end)` in place.
        for range in &mut extra {
            let (lo, span) = *range;
            let hi = lo.checked_add(span).ok_or("sequence number overflow")?;
            if lo <= floor {
                return Err("version vector ranges overlap, touch or are unsorted");
            }
            *range = (lo, hi);
            floor = hi.checked_add(1).ok_or("sequence number overflow")?;
        }
        let seqs = SeqSet { prefix, extra };
        if seqs.is_empty() {
            return Err("version vector holds an empty origin");
        }
        self.origins.push((origin, seqs));
        Ok(())
    }
}

impl TryFrom<Vec<OriginWire>> for VersionVector {
    type Error = &'static str;

    fn try_from(wire: Vec<OriginWire>) -> Result<Self, Self::Error> {
        let mut vv = VersionVector::new();
        for origin in wire {
            vv.push_wire(origin)?;
        }
        Ok(vv)
    }
}

/// Reads the origins straight into the vector, checking each as it comes (no list of
/// wire entries in between: a delta's context decodes without allocating).
impl<'de> Deserialize<'de> for VersionVector {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Origins;

        impl<'de> serde::de::Visitor<'de> for Origins {
            type Value = VersionVector;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a version vector")
            }

            fn visit_seq<S: serde::de::SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> Result<VersionVector, S::Error> {
                let mut vv = VersionVector::new();
                // The length is the peer's word: trusted only up to a bound.
                vv.origins.reserve(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(origin) = seq.next_element::<OriginWire>()? {
                    vv.push_wire(origin).map_err(serde::de::Error::custom)?;
                }
                Ok(vv)
            }
        }

        d.deserialize_seq(Origins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(origin: u64, seq: u64) -> Dot {
        Dot::new(NodeId::new(origin).unwrap(), seq)
    }

    #[test]
    fn out_of_order_inserts_keep_gaps_until_they_fill() {
        let mut vv = VersionVector::new();
        for seq in [3, 1, 5] {
            vv.insert(dot(1, seq));
        }
        assert!(vv.has_gaps());
        assert!(!vv.contains(dot(1, 2)) && !vv.contains(dot(1, 4)));
        assert_eq!(vv.prefix(NodeId::new(1).unwrap()), 1);
        vv.insert(dot(1, 2));
        vv.insert(dot(1, 4));
        assert!(!vv.has_gaps());
        assert_eq!(vv.prefix(NodeId::new(1).unwrap()), 5);
        assert_eq!(vv.range_count(), 1);
    }

    #[test]
    fn missing_ranges_are_exactly_the_difference() {
        let a: VersionVector = [1, 2, 3, 7, 8].into_iter().map(|s| dot(1, s)).collect();
        let b: VersionVector = (1..=10).map(|s| dot(1, s)).chain([dot(2, 4)]).collect();
        let missing = a.missing_ranges(&b);
        let node = |n| NodeId::new(n).unwrap();
        assert_eq!(
            missing,
            vec![
                DotRange {
                    origin: node(1),
                    first: 4,
                    last: 6
                },
                DotRange {
                    origin: node(1),
                    first: 9,
                    last: 10
                },
                DotRange {
                    origin: node(2),
                    first: 4,
                    last: 4
                },
            ]
        );
        assert!(b.includes(&a) && !a.includes(&b));
        assert!(b.missing_ranges(&a).is_empty());
    }

    #[test]
    fn the_wire_form_refuses_malformed_vectors() {
        let spans = |s: &[(u64, u64)]| WireSpans(SmallVec::from_slice(s));
        let origin = NodeId::new(1).unwrap();
        let overlapping = vec![OriginWire(origin, 3, spans(&[(4, 0)]))];
        assert!(VersionVector::try_from(overlapping).is_err());
        let unsorted = vec![OriginWire(origin, 0, spans(&[(9, 0), (5, 0)]))];
        assert!(VersionVector::try_from(unsorted).is_err());
        let overflow = vec![OriginWire(origin, 0, spans(&[(9, u64::MAX)]))];
        assert!(VersionVector::try_from(overflow).is_err());
        let ok = vec![OriginWire(origin, 3, spans(&[(5, 2)]))];
        let vv = VersionVector::try_from(ok).unwrap();
        assert!(vv.contains(Dot::new(origin, 7)) && !vv.contains(Dot::new(origin, 4)));
    }
}

#[cfg(test)]
mod model {
    //! The version vector against the plainest model: a `BTreeSet` of dots.

    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    /// Runs of dots: (origin, first, length).
    type Runs = Vec<(u64, u64, u64)>;

    fn runs() -> impl Strategy<Value = Runs> {
        // (origin, first, length): small numbers so runs overlap, touch and leave gaps.
        prop::collection::vec((1u64..8, 1u64..40, 0u64..6), 0..24)
    }

    /// Runs over many origins, and a few runs over some of them: a document's context
    /// and one record's dots.
    fn wide_and_few() -> impl Strategy<Value = (Runs, Runs)> {
        (
            prop::collection::vec((1u64..60, 1u64..40, 0u64..6), 40..120),
            prop::collection::vec((1u64..64, 1u64..40, 0u64..6), 1..4),
        )
    }

    fn build(runs: &[(u64, u64, u64)]) -> (VersionVector, BTreeSet<Dot>) {
        let mut vv = VersionVector::new();
        let mut model = BTreeSet::new();
        for &(origin, first, len) in runs {
            let origin = NodeId::new(origin).unwrap();
            vv.insert_range(origin, first..=first + len);
            model.extend((first..=first + len).map(|s| Dot::new(origin, s)));
        }
        (vv, model)
    }

    fn dots(vv: &VersionVector) -> BTreeSet<Dot> {
        vv.ranges()
            .flat_map(|r| (r.first..=r.last).map(move |s| Dot::new(r.origin, s)))
            .collect()
    }

    proptest! {
        #[test]
        fn matches_a_set_of_dots(a in runs(), b in runs()) {
            let (va, ma) = build(&a);
            let (vb, mb) = build(&b);
            prop_assert_eq!(dots(&va), ma.clone());
            for origin in 1..8 {
                for seq in 0..50 {
                    let dot = Dot::new(NodeId::new(origin).unwrap(), seq);
                    prop_assert_eq!(va.contains(dot), ma.contains(&dot));
                }
            }
            let mut joined = va.clone();
            joined.join(&vb);
            let union: BTreeSet<Dot> = ma.union(&mb).copied().collect();
            prop_assert_eq!(dots(&joined), union.clone());
            // Joined origins stay sorted: equal to the set built from scratch.
            let (from_scratch, _) = build(&union.iter().map(|d| (d.origin.get(), d.seq, 0)).collect::<Vec<_>>());
            prop_assert_eq!(joined, from_scratch);
            let missing: BTreeSet<Dot> = va
                .missing_ranges(&vb)
                .iter()
                .flat_map(|r| (r.first..=r.last).map(move |s| Dot::new(r.origin, s)))
                .collect();
            prop_assert_eq!(missing, mb.difference(&ma).copied().collect::<BTreeSet<_>>());
            prop_assert_eq!(va.includes(&vb), mb.is_subset(&ma));
            for &(origin, first, len) in &b {
                let origin = NodeId::new(origin).unwrap();
                let range = DotRange { origin, first, last: first + len };
                let held = (first..=first + len).filter(|&s| ma.contains(&Dot::new(origin, s))).count();
                prop_assert_eq!(va.count_in(range), held as u64);
            }
            // The representation is canonical: equal sets are equal values.
            let (rebuilt, _) = build(&ma.iter().map(|d| (d.origin.get(), d.seq, 0)).collect::<Vec<_>>());
            prop_assert_eq!(rebuilt, va);
        }

        /// A join of a few origins into many searches for each (see `SEARCH_JOIN_RATIO`)
        /// and must give what the walk over both lists gives the other way round.
        #[test]
        fn a_few_origins_join_many_like_any_join((wide, few) in wide_and_few()) {
            let (vw, mw) = build(&wide);
            let (vf, mf) = build(&few);
            prop_assume!(vf.origins.len() * SEARCH_JOIN_RATIO < vw.origins.len());
            let mut searched = vw.clone();
            searched.join(&vf);
            let mut walked = vf.clone();
            walked.join(&vw);
            let union: BTreeSet<Dot> = mw.union(&mf).copied().collect();
            prop_assert_eq!(dots(&searched), union);
            prop_assert_eq!(&searched, &walked);
            // Lookups walk one vector's origins through the other's (`seek`): right
            // however the two differ in size, and a union includes both sides.
            let pairs = [(&vw, &mw, &vf, &mf), (&vf, &mf, &vw, &mw)];
            for (x, mx, y, my) in pairs {
                prop_assert_eq!(x.includes(y), my.is_subset(mx));
                let missing: BTreeSet<Dot> = x
                    .missing_ranges(y)
                    .iter()
                    .flat_map(|r| (r.first..=r.last).map(move |s| Dot::new(r.origin, s)))
                    .collect();
                prop_assert_eq!(missing, my.difference(mx).copied().collect::<BTreeSet<_>>());
                prop_assert!(searched.includes(y));
            }
        }
    }
}
