//! The client workload: sessions that write every op kind to a few documents, read with
//! session tokens, and move between nodes.
//!
//! Documents `c-*` never see a delete; documents `d-*` also get `DeleteField` and
//! `DeleteDocument`. Both are checked against the model of the acknowledged ops (see
//! [`check`](crate::check)); on `c-*` a counter's model is the plain sum of its
//! increments. Every field has one type: `n` counter, `s` set, `r` register.

use lattice_crdt::VersionVector;
use lattice_crdt::{Json, JsonLimits, Op};
use lattice_node::SessionToken;

use crate::rng::Rng;

/// The documents the workload writes: counter documents first, then delete documents.
pub(crate) const KEYS: [&str; 5] = ["c-0", "c-1", "d-0", "d-1", "d-2"];

/// Whether no op of the workload ever deletes in `key`.
pub(crate) fn delete_free(key: &str) -> bool {
    key.starts_with("c-")
}

/// A client session.
#[derive(Debug)]
pub(crate) struct Session {
    /// The node it talks to.
    pub(crate) node: usize,
    /// Its token, as the nodes handed it out.
    pub(crate) token: SessionToken,
    /// The dots of its acknowledged writes (kept by the simulator, not by tokens).
    pub(crate) written: VersionVector,
    /// Everything its tokens ever covered (for monotonic reads).
    pub(crate) seen: VersionVector,
    /// Waiting for a write's acknowledgement.
    pub(crate) waiting: bool,
}

impl Session {
    pub(crate) fn new(node: usize) -> Session {
        Session {
            node,
            token: SessionToken::default(),
            written: VersionVector::new(),
            seen: VersionVector::new(),
            waiting: false,
        }
    }
}

fn value(n: u64) -> Json {
    Json::from_value(&serde_json::json!(n), &JsonLimits::default())
        .expect("a small integer is JSON")
}

/// One op on field `field` (`n`, `s` or `r`), deletes allowed or not.
fn op_on(rng: &mut Rng, field: &str, deletes: bool) -> Op {
    let f = field.to_owned();
    if deletes && rng.percent(12) {
        return Op::DeleteField { field: f };
    }
    match (field, rng.below(4)) {
        ("n", 0) => Op::Decrement {
            field: f,
            by: rng.range(1, 5) as i64,
        },
        ("n", _) => Op::Increment {
            field: f,
            by: rng.range(1, 10) as i64,
        },
        ("s", 0) => Op::Remove {
            field: f,
            value: value(rng.below(4)),
        },
        ("s", _) => Op::Add {
            field: f,
            value: value(rng.below(4)),
        },
        (_, 0) => Op::Clear { field: f },
        (_, _) => Op::Set {
            field: f,
            value: value(rng.below(6)),
        },
    }
}

/// A batch for `key`: usually one op, sometimes two on different fields, and in delete
/// documents now and then a lone `DeleteDocument`.
pub(crate) fn batch(rng: &mut Rng, key: &str) -> Vec<Op> {
    let deletes = !delete_free(key);
    if deletes && rng.percent(4) {
        return vec![Op::DeleteDocument];
    }
    let fields = ["n", "s", "r"];
    let first = rng.below(3) as usize;
    let mut ops = vec![op_on(rng, fields[first], deletes)];
    if rng.percent(20) {
        let second = (first + 1 + rng.below(2) as usize) % 3;
        ops.push(op_on(rng, fields[second], deletes));
    }
    ops
}
