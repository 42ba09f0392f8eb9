//! Shared pieces of the node's integration tests. Each test crate uses only some of
//! them, hence the allow.

#![allow(dead_code)]

use lattice_crdt::{Document, Json, JsonLimits, NodeId, Op};
use lattice_node::store::Store;
use lattice_node::{Replica, Synced};
use proptest::prelude::*;
use serde_json::json;

/// Node `n` (non-zero).
pub(crate) fn node(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

/// Every document `synced` wrote has its context completed with the version vector
/// written with it (a few prefixes, not the scattered dots that touched it).
pub(crate) fn assert_written_contexts_complete<S: Store>(replica: &Replica<S>, synced: &Synced) {
    let vv = replica.version_vector();
    for key in &synced.changed {
        if let Some(bytes) = replica.store().doc(key).unwrap() {
            let stored: Document = lattice_crdt::codec::decode(&bytes, usize::MAX).unwrap();
            assert!(
                stored.context().includes(vv),
                "document {key} written with an incomplete context"
            );
        }
    }
}

/// Random ops on a document with a counter `n`, a set `s` and a register `r`, over small
/// values so that adds, removes and sets collide; deletes of the set and the document.
pub(crate) fn op() -> impl Strategy<Value = Op> {
    let v = |n: u8| Json::from_value(&json!(n), &JsonLimits::default()).unwrap();
    prop_oneof![
        (-5i64..5).prop_map(|by| Op::Increment {
            field: "n".into(),
            by
        }),
        (0u8..4).prop_map(move |n| Op::Add {
            field: "s".into(),
            value: v(n)
        }),
        (0u8..4).prop_map(move |n| Op::Remove {
            field: "s".into(),
            value: v(n)
        }),
        (0u8..4).prop_map(move |n| Op::Set {
            field: "r".into(),
            value: v(n)
        }),
        Just(Op::Clear { field: "r".into() }),
        Just(Op::DeleteField { field: "s".into() }),
        Just(Op::DeleteDocument),
    ]
}
