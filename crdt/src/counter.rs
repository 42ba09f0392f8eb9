//! The PN-counter over i64, as a causal counter.
//!
//! Each origin has one live entry: its running contribution, under the dot of its latest
//! increment. A new increment replaces the origin's entry (its delta's context names the
//! old dot), so state stays one entry per writer however many increments happen.
//! Keying entries by dot is what lets a counter field be removed observed-remove inside
//! a document. The value is the sum of each origin's latest entry.

use thiserror::Error;

use crate::dot_store::{Causal, DotFun, DotStore};
use crate::{Dot, NodeId, VersionVector};

/// The dot store of a counter: dot of an origin's latest increment → its contribution.
pub type CounterStore = DotFun<i64>;

/// A PN-counter, or a delta of one.
pub type Counter = Causal<CounterStore>;

/// Why an increment was refused. The counter is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CounterError {
    /// The counter's value, or this node's share of it, would leave the i64 range.
    #[error("adding {by} to the counter would overflow i64")]
    Overflow {
        /// The refused amount.
        by: i64,
    },
}

impl CounterStore {
    /// The counter's value: the sum of every origin's contribution. It is exact: while
    /// each local increment keeps the value in i64, concurrent ones on several nodes may
    /// together leave that range, which i128 holds.
    pub fn value(&self) -> i128 {
        let mut total = 0i128;
        let mut entries = self.entries().iter().peekable();
        while let Some((dot, amount)) = entries.next() {
            // Only the origin's latest dot counts; older ones linger only between
            // out-of-order deltas.
            if entries
                .peek()
                .is_none_or(|(next, _)| next.origin != dot.origin)
            {
                total += i128::from(*amount);
            }
        }
        total
    }

    /// `origin`'s current contribution.
    pub fn contribution(&self, origin: NodeId) -> i64 {
        self.of_origin(origin).last().map_or(0, |(_, v)| *v)
    }

    /// Checks that `origin` may add `by`: neither its contribution nor the value may
    /// leave the i64 range.
    pub fn check_increment(&self, origin: NodeId, by: i64) -> Result<(), CounterError> {
        let mine = self.contribution(origin);
        let fits =
            mine.checked_add(by).is_some() && i64::try_from(self.value() + i128::from(by)).is_ok();
        if fits {
            Ok(())
        } else {
            Err(CounterError::Overflow { by })
        }
    }

    /// The delta of adding `by` at `dot.origin` with the fresh dot `dot`. Call
    /// [`check_increment`](CounterStore::check_increment) first.
    pub(crate) fn increment_delta(&self, dot: Dot, by: i64) -> Counter {
        let mine = self.of_origin(dot.origin);
        let mut context: VersionVector = mine.iter().map(|(d, _)| *d).collect();
        context.insert(dot);
        let amount = mine.last().map_or(0, |(_, v)| *v).saturating_add(by);
        Causal {
            store: CounterStore::single(dot, amount),
            context,
        }
    }

    /// The delta that resets the counter as this replica sees it.
    pub(crate) fn reset_delta(&self) -> Counter {
        Causal {
            store: CounterStore::default(),
            context: self.dots(),
        }
    }
}

impl Counter {
    /// The counter's value.
    pub fn value(&self) -> i128 {
        self.store.value()
    }

    /// Adds `by` (negative to decrement) using the fresh dot `dot`. Returns the delta.
    pub fn increment(&mut self, dot: Dot, by: i64) -> Result<Counter, CounterError> {
        self.store.check_increment(dot.origin, by)?;
        let delta = self.store.increment_delta(dot, by);
        // Joining our own delta replaces the origin's entries with the new one; doing it
        // directly spares a clone and a general join (the law suite checks they agree).
        let (dot, amount) = delta.store.entries()[0];
        self.store.replace_origin(dot, amount);
        self.context.insert(dot);
        Ok(delta)
    }

    /// Resets the counter to zero as this replica sees it; increments concurrent with
    /// the reset survive. Returns the delta.
    pub fn reset(&mut self) -> Counter {
        let delta = self.store.reset_delta();
        self.absorb(delta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(origin: u64, seq: u64) -> Dot {
        Dot::new(NodeId::new(origin).unwrap(), seq)
    }

    #[test]
    fn one_entry_per_origin_however_many_increments() {
        let mut c = Counter::default();
        for seq in 1..=100 {
            c.increment(dot(1, seq), 2).unwrap();
        }
        c.increment(dot(2, 1), -50).unwrap();
        assert_eq!(c.value(), 150);
        assert_eq!(c.store().entries().len(), 2);
    }

    #[test]
    fn out_of_order_deltas_never_count_an_origin_twice() {
        let mut writer = Counter::default();
        let deltas: Vec<Counter> = (1..=3)
            .map(|seq| writer.increment(dot(1, seq), 1).unwrap())
            .collect();
        let mut reader = Counter::default();
        reader.join(deltas[0].clone());
        reader.join(deltas[2].clone());
        // The first and the last entry of origin 1 are both live until the middle delta
        // arrives; the read takes the latest one only.
        assert_eq!(reader.store().entries().len(), 2);
        assert_eq!(reader.value(), 3);
        reader.join(deltas[1].clone());
        assert_eq!(reader, writer);
    }

    #[test]
    fn overflow_is_an_error_and_changes_nothing() {
        let mut c = Counter::default();
        c.increment(dot(1, 1), i64::MAX).unwrap();
        let before = c.clone();
        assert_eq!(
            c.increment(dot(1, 2), 1),
            Err(CounterError::Overflow { by: 1 })
        );
        assert_eq!(
            c.increment(dot(2, 1), 1),
            Err(CounterError::Overflow { by: 1 })
        );
        assert_eq!(c, before);
        c.increment(dot(2, 1), i64::MIN).unwrap();
        assert_eq!(c.value(), -1);
    }
}
