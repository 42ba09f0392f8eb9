//! The generic CRDT law suite (riak_dt's `prop_converge`, STYLE.md 9), run over every
//! lattice-crdt type.
//!
//! Each property runs a random history on three replicas: local ops (refused ones are
//! dropped, as a replica would), and deltas delivered late, out of order and twice.
//! Then every replica receives every delta in a shuffled order with duplicates, and:
//!
//! - all replicas are identical, and equal to the join of their full states;
//! - a fresh replica fed all deltas in another order is identical too;
//! - joins are commutative, associative and idempotent on the states reached;
//! - the value equals a simple reference model of the history;
//! - every state and delta survives an encode/decode round trip.
//!
//! A failure prints the shrunk history (with its shuffle seed); proptest keeps it in
//! `proptest-regressions/` so it is re-run first from then on.

mod harness;
mod subjects;

use proptest::prelude::*;

use harness::{check_laws, script};
use subjects::{
    ChaosDocumentSubject, CounterSubject, DocumentSubject, RegisterSubject, SetSubject,
};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(128),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn counter_obeys_the_laws(script in script::<CounterSubject>()) {
        check_laws::<CounterSubject>(&script)?;
    }

    #[test]
    fn orset_obeys_the_laws(script in script::<SetSubject>()) {
        check_laws::<SetSubject>(&script)?;
    }

    #[test]
    fn register_obeys_the_laws(script in script::<RegisterSubject>()) {
        check_laws::<RegisterSubject>(&script)?;
    }

    #[test]
    fn document_obeys_the_laws(script in script::<DocumentSubject>()) {
        check_laws::<DocumentSubject>(&script)?;
    }

    #[test]
    fn document_with_clashes_and_deletes_obeys_the_laws(script in script::<ChaosDocumentSubject>()) {
        check_laws::<ChaosDocumentSubject>(&script)?;
    }
}

#[test]
fn subjects_are_not_vacuous() {
    // The reference models must actually constrain something: a script with writes
    // yields a non-empty value for each subject.
    harness::assert_nonvacuous::<CounterSubject>();
    harness::assert_nonvacuous::<SetSubject>();
    harness::assert_nonvacuous::<RegisterSubject>();
    harness::assert_nonvacuous::<DocumentSubject>();
}
