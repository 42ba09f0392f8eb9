//! Document semantics the law suite does not pin down with a model: deletes, type
//! clashes, validation.

use lattice_crdt::{
    DocLimits, Document, Dot, FieldKind, Hlc, Json, JsonLimits, NodeId, Op, OpError,
    MAX_DRIFT_DEFAULT, NTP64,
};
use serde_json::{json, Value};

/// One replica of one document: its node, clock and next sequence number.
struct Replica {
    doc: Document,
    hlc: Hlc,
    node: NodeId,
    next_seq: u64,
}

impl Replica {
    fn new(n: u64) -> Replica {
        let node = NodeId::new(n).unwrap();
        Replica {
            doc: Document::default(),
            hlc: Hlc::new(node, MAX_DRIFT_DEFAULT),
            node,
            next_seq: 1,
        }
    }

    fn write(&mut self, ops: Vec<Op>) -> Result<Document, OpError> {
        let ts = self.hlc.tick(NTP64(1 << 40));
        let dot = Dot::new(self.node, self.next_seq);
        let delta = self.doc.write(&ops, dot, ts, &DocLimits::default())?;
        self.next_seq += ops.len() as u64;
        Ok(delta)
    }

    fn receive(&mut self, delta: &Document) {
        for ts in delta.timestamps() {
            self.hlc.observe(ts, NTP64(1 << 40)).unwrap();
        }
        self.doc.join(delta.clone());
    }
}

fn v(value: Value) -> Json {
    Json::from_value(&value, &JsonLimits::default()).unwrap()
}

fn inc(field: &str, by: i64) -> Op {
    Op::Increment {
        field: field.into(),
        by,
    }
}

fn add(field: &str, value: Value) -> Op {
    Op::Add {
        field: field.into(),
        value: v(value),
    }
}

fn set(field: &str, value: Value) -> Op {
    Op::Set {
        field: field.into(),
        value: v(value),
    }
}

#[test]
fn the_view_orders_fields_and_elements() {
    let mut a = Replica::new(1);
    a.write(vec![
        set("title", json!("hi")),
        add("tags", json!("b")),
        add("tags", json!("a")),
        inc("likes", 3),
    ])
    .unwrap();
    assert_eq!(
        serde_json::to_string(&a.doc.to_json()).unwrap(),
        r#"{"likes":3,"tags":["a","b"],"title":"hi"}"#
    );
}

#[test]
fn deleting_a_field_keeps_concurrent_updates() {
    let mut a = Replica::new(1);
    let mut b = Replica::new(2);
    let first = a
        .write(vec![add("tags", json!("old")), set("title", json!("t1"))])
        .unwrap();
    b.receive(&first);
    let delete = a
        .write(vec![Op::DeleteField {
            field: "tags".into(),
        }])
        .unwrap();
    let concurrent = b.write(vec![add("tags", json!("new"))]).unwrap();
    a.receive(&concurrent);
    b.receive(&delete);
    assert_eq!(a.doc, b.doc);
    assert_eq!(a.doc.to_json(), json!({"tags": ["new"], "title": "t1"}));
}

#[test]
fn clearing_a_register_keeps_a_concurrent_write_and_refuses_other_types() {
    let mut a = Replica::new(1);
    let mut b = Replica::new(2);
    b.receive(&a.write(vec![set("title", json!("old"))]).unwrap());
    a.write(vec![add("tags", json!(1))]).unwrap();
    let clear_a_set = a.write(vec![Op::Clear {
        field: "tags".into(),
    }]);
    assert!(matches!(clear_a_set, Err(OpError::TypeMismatch { .. })));
    a.write(vec![Op::DeleteField {
        field: "tags".into(),
    }])
    .unwrap();
    let clear = a
        .write(vec![Op::Clear {
            field: "title".into(),
        }])
        .unwrap();
    assert_eq!(a.doc.to_json(), json!({}));
    let concurrent = b.write(vec![set("title", json!("new"))]).unwrap();
    a.receive(&concurrent);
    b.receive(&clear);
    assert_eq!(a.doc.store(), b.doc.store()); // b never saw the tags writes

    assert_eq!(a.doc.to_json(), json!({"title": "new"}));
}

#[test]
fn deleting_a_document_keeps_concurrent_writes_and_leaves_only_context() {
    let mut a = Replica::new(1);
    let mut b = Replica::new(2);
    let first = a
        .write(vec![inc("likes", 5), add("tags", json!("x"))])
        .unwrap();
    b.receive(&first);
    let delete = a.write(vec![Op::DeleteDocument]).unwrap();
    assert!(a.doc.is_bottom(), "a delete leaves no field behind");
    let concurrent = b.write(vec![set("title", json!("still here"))]).unwrap();
    a.receive(&concurrent);
    b.receive(&delete);
    assert_eq!(a.doc, b.doc);
    assert_eq!(a.doc.to_json(), json!({"title": "still here"}));
}

#[test]
fn an_increment_concurrent_with_a_delete_survives_with_its_writers_contribution() {
    // Documented semantics of counters inside documents: a node's entry is its running
    // contribution, so a concurrent increment brings back that node's whole share.
    let mut a = Replica::new(1);
    let mut b = Replica::new(2);
    b.receive(&a.write(vec![inc("likes", 10)]).unwrap());
    let delete = b
        .write(vec![Op::DeleteField {
            field: "likes".into(),
        }])
        .unwrap();
    let concurrent = a.write(vec![inc("likes", 1)]).unwrap();
    a.receive(&delete);
    b.receive(&concurrent);
    assert_eq!(a.doc, b.doc);
    assert_eq!(a.doc.to_json(), json!({"likes": 11}));
}

#[test]
fn concurrent_first_writes_of_different_types_converge_to_one_shown_type() {
    let mut a = Replica::new(1);
    let mut b = Replica::new(2);
    let mut c = Replica::new(3);
    let da = a.write(vec![inc("f", 1)]).unwrap();
    let db = b.write(vec![add("f", json!("x"))]).unwrap();
    let dc = c.write(vec![set("f", json!("r"))]).unwrap();
    for r in [&mut a, &mut b, &mut c] {
        for d in [&dc, &da, &db] {
            r.receive(d);
        }
    }
    assert!(a.doc == b.doc && b.doc == c.doc);
    assert_eq!(a.doc.field("f").unwrap().kind(), Some(FieldKind::Register));
    assert_eq!(a.doc.to_json(), json!({"f": "r"}));
    // The shown type now fixes the field: other types are refused, and deleting the
    // field clears the hidden stores too.
    assert!(matches!(
        a.write(vec![inc("f", 1)]),
        Err(OpError::TypeMismatch { .. })
    ));
    a.write(vec![Op::DeleteField { field: "f".into() }])
        .unwrap();
    a.write(vec![inc("f", 2)]).unwrap();
    assert_eq!(a.doc.to_json(), json!({"f": 2}));
}

#[test]
fn refused_batches_change_nothing() {
    let mut a = Replica::new(1);
    a.write(vec![inc("likes", 1), add("tags", json!("x"))])
        .unwrap();
    let before = a.doc.clone();
    let refused = [
        vec![],
        vec![inc("likes", 1), add("likes", json!(1))],
        vec![set("tags", json!(1))],
        vec![inc("likes", i64::MAX)],
        vec![Op::Decrement {
            field: "likes".into(),
            by: i64::MIN,
        }],
        vec![inc("", 1)],
        vec![inc(&"n".repeat(129), 1)],
        vec![inc("ok", 1), set("tags", json!(2))],
    ];
    for ops in refused {
        let err = a
            .write(ops.clone())
            .expect_err(&format!("{ops:?} was accepted"));
        assert_eq!(a.doc, before, "{err} changed the document");
    }
    // A delete earlier in the batch frees the field for another type.
    a.write(vec![
        Op::DeleteField {
            field: "tags".into(),
        },
        set("tags", json!(2)),
    ])
    .unwrap();
    assert_eq!(a.doc.to_json(), json!({"likes": 1, "tags": 2}));
}

#[test]
fn field_and_batch_limits_are_enforced() {
    let limits = DocLimits {
        fields_max: 2,
        ops_per_batch_max: 3,
        set_elements_max: 2,
        ..DocLimits::default()
    };
    let node = NodeId::new(1).unwrap();
    let doc = Document::default();
    let too_many_fields = [inc("a", 1), inc("b", 1), inc("c", 1)];
    assert!(matches!(
        doc.validate(node, &too_many_fields, &limits),
        Err(OpError::TooManyFields { count: 3, max: 2 })
    ));
    let too_many_ops = [inc("a", 1), inc("a", 1), inc("a", 1), inc("a", 1)];
    assert!(matches!(
        doc.validate(node, &too_many_ops, &limits),
        Err(OpError::TooManyOps { .. })
    ));
    let big_set = [add("s", json!(1)), add("s", json!(2)), add("s", json!(3))];
    assert!(matches!(
        doc.validate(node, &big_set, &limits),
        Err(OpError::SetTooLarge { .. })
    ));
}
