//! Shared pieces of the node's integration tests. Each test crate uses only some of
//! them, hence the allow.

#![allow(dead_code)]

use lattice_crdt::{Json, JsonLimits, NodeId, Op};
use proptest::prelude::*;
use serde_json::json;

/// Node `n` (non-zero).
pub(crate) fn node(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
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
