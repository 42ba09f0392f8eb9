//! Shared pieces of the node's integration tests. Each test crate uses only some of
//! them, hence the allow.

#![allow(dead_code)]

use lattice_crdt::{DocStore, Document, Json, JsonLimits, NodeId, Op, VersionVector};
use lattice_node::store::Store;
use lattice_node::{Replica, Synced};
use proptest::prelude::*;
use serde_json::json;

/// Node `n` (non-zero).
pub(crate) fn node(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

/// Every document `synced` wrote is stored relative to the version vector written with
/// it: its stored context holds no dot of the vector (it is not a copy of it), and with
/// the vector added back it is exactly the document the replica reads.
pub(crate) fn assert_written_relative<S: Store>(replica: &Replica<S>, synced: &Synced) {
    let vv = replica.version_vector();
    assert_eq!(
        &replica.stored_version().unwrap(),
        vv,
        "read right after a sync"
    );
    for key in &synced.changed {
        if let Some(bytes) = replica.store().doc(key).unwrap() {
            let (store, context): (DocStore, VersionVector) =
                lattice_crdt::codec::decode(&bytes, usize::MAX).unwrap();
            assert_eq!(
                vv.missing_ranges(&context),
                context.ranges().collect::<Vec<_>>(),
                "document {key} stored with dots of the vector"
            );
            let mut whole = Document::from_parts_over(store, context, vv)
                .unwrap_or_else(|| panic!("document {key} stored without its dots"));
            whole.extend_context(vv);
            assert_eq!(whole, replica.document(key).unwrap(), "document {key}");
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
