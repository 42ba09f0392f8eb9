//! The version vector's latest growth, so that a document whose context was completed
//! with the vector a little while ago catches up by the few dot ranges added since,
//! instead of by a join with the whole vector.
//!
//! Every document's context is kept completed with the replica's version vector (see
//! [`Document::extend_context`]): when a round first touches it and again when a sync
//! writes it. The vector has an entry per origin that ever wrote, so in a large cluster
//! that join costs about as much as the rest of applying a peer's record. A document
//! that stays in the cache was completed at some [`Mark`]; the ranges noted since then
//! are exactly what the vector gained, so adding them gives the same context.

use std::collections::VecDeque;

use lattice_crdt::{Document, DotRange, VersionVector};

/// How many of the latest ranges are kept. A document completed longer ago than this
/// many changes of the vector is completed by a whole join, as is one loaded from the
/// store; so is every document after a change that is not a range (a snapshot's base).
const RANGES_MAX: usize = 64;

/// A point in the vector's growth: the number of ranges noted before it.
pub(super) type Mark = u64;

/// The latest ranges added to the version vector, oldest first.
#[derive(Debug, Default)]
pub(super) struct Growth {
    ranges: VecDeque<DotRange>,
    /// The mark after the newest range.
    end: Mark,
}

impl Growth {
    /// The current point: a document completed with the vector now is completed at it.
    pub(super) fn mark(&self) -> Mark {
        self.end
    }

    /// The vector gained `range`.
    pub(super) fn note(&mut self, range: DotRange) {
        self.ranges.push_back(range);
        self.end += 1;
        if self.ranges.len() > RANGES_MAX {
            self.ranges.pop_front();
        }
    }

    /// The vector gained dots that are not one range: documents completed before now
    /// need a whole join (the mark moves on, so that no earlier mark is current).
    pub(super) fn forget(&mut self) {
        self.ranges.clear();
        self.end += 1;
    }

    /// Completes `doc`'s context with `vv`. `since` is where it was completed last
    /// (`None`: never, or not known).
    pub(super) fn complete(&self, doc: &mut Document, since: Option<Mark>, vv: &VersionVector) {
        let start = self.end - self.ranges.len() as u64;
        match since {
            Some(mark) if mark >= start => {
                for range in self.ranges.iter().skip((mark - start) as usize) {
                    let mut dots = VersionVector::new();
                    dots.insert_range(range.origin, range.first..=range.last);
                    doc.extend_context(&dots);
                }
            }
            _ => doc.extend_context(vv),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lattice_crdt::NodeId;

    fn range(origin: u64, first: u64, last: u64) -> DotRange {
        DotRange {
            origin: NodeId::new(origin).unwrap(),
            first,
            last,
        }
    }

    /// A document completed at `mark` of a vector that then grows by `ranges` ends with
    /// the context a whole join gives, whether the growth still holds the ranges or not.
    #[test]
    fn completing_by_the_ranges_since_equals_a_whole_join() {
        let mut vv = VersionVector::new();
        let mut growth = Growth::default();
        let grow = |vv: &mut VersionVector, growth: &mut Growth, r: DotRange| {
            vv.insert_range(r.origin, r.first..=r.last);
            growth.note(r);
        };
        for o in 1..=20 {
            grow(&mut vv, &mut growth, range(o, 1, o));
        }
        let mut doc = Document::default();
        doc.extend_context(&vv);
        let mark = growth.mark();
        for (i, r) in [range(3, 4, 9), range(25, 1, 1), range(7, 12, 14)]
            .into_iter()
            .enumerate()
        {
            grow(&mut vv, &mut growth, r);
            let mut by_ranges = doc.clone();
            growth.complete(&mut by_ranges, Some(mark), &vv);
            let mut whole = doc.clone();
            whole.extend_context(&vv);
            assert_eq!(by_ranges, whole, "after {} ranges", i + 1);
            assert_ne!(&by_ranges, &doc, "and it grew");
        }
        for seq in 1..=RANGES_MAX as u64 {
            grow(&mut vv, &mut growth, range(30, seq, seq));
        }
        let mut too_old = doc.clone();
        growth.complete(&mut too_old, Some(mark), &vv);
        assert_eq!(
            too_old.context(),
            &vv,
            "beyond the ranges kept: a whole join"
        );
        let before_forget = growth.mark();
        growth.forget();
        let mut after_forget = Document::default();
        growth.complete(&mut after_forget, Some(before_forget), &vv);
        assert_eq!(
            after_forget.context(),
            &vv,
            "completed right before a forget: a whole join"
        );
        let mut current = Document::default();
        growth.complete(&mut current, Some(growth.mark()), &vv);
        assert!(
            current.context().is_empty(),
            "nothing was added since its mark"
        );
    }
}
