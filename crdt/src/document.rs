//! The document: an observed-remove map from field name to a counter, set or register.
//!
//! All fields share the document's causal context, so removing a field or the whole
//! document is observed-remove: the remover's context covers the dots it saw, and any
//! write it did not see survives the merge.
//!
//! # Type clashes
//! A field's type is fixed by its first write, and local writes of another type are
//! refused ([`OpError::TypeMismatch`]). Two replicas can still make concurrent first
//! writes of different types to one field. A field therefore holds one store of each
//! type (a product lattice, so merging stays a join) and *shows* one type: register over
//! set over counter (the most general wins). The hidden stores keep merging, are dropped
//! by the next delete of the field, and make local writes of their type a mismatch.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use uhlc::Timestamp;

use crate::counter::CounterStore;
use crate::dot_store::{Causal, DotMap, DotStore};
use crate::orset::SetStore;
use crate::register::RegisterStore;
use crate::{Dot, VersionVector};

/// The type of a field.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A PN-counter.
    Counter,
    /// An add-wins OR-set.
    Set,
    /// A last-writer-wins register.
    Register,
}

impl std::fmt::Display for FieldKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FieldKind::Counter => "counter",
            FieldKind::Set => "set",
            FieldKind::Register => "register",
        })
    }
}

/// One field's dot stores, one per type (see the module doc on type clashes).
#[derive(Clone, Default, PartialEq, Debug, Serialize, Deserialize)]
pub struct Field {
    pub(crate) counter: CounterStore,
    pub(crate) set: SetStore,
    pub(crate) register: RegisterStore,
}

impl Field {
    /// The type the field shows: register over set over counter; `None` when empty.
    pub fn kind(&self) -> Option<FieldKind> {
        if !self.register.is_bottom() {
            Some(FieldKind::Register)
        } else if !self.set.is_bottom() {
            Some(FieldKind::Set)
        } else if !self.counter.is_bottom() {
            Some(FieldKind::Counter)
        } else {
            None
        }
    }

    /// The counter store (empty unless the field is or was a counter).
    pub fn counter(&self) -> &CounterStore {
        &self.counter
    }

    /// The set store (empty unless the field is or was a set).
    pub fn set(&self) -> &SetStore {
        &self.set
    }

    /// The register store (empty unless the field is or was a register).
    pub fn register(&self) -> &RegisterStore {
        &self.register
    }

    /// The JSON view of the field's shown type (`null` when empty).
    pub fn to_json(&self) -> Value {
        match self.kind() {
            Some(FieldKind::Counter) => counter_json(self.counter.value()),
            Some(FieldKind::Set) => {
                Value::Array(self.set.elements().map(|e| e.to_value()).collect())
            }
            Some(FieldKind::Register) => self
                .register
                .winner()
                .map_or(Value::Null, |s| s.value.to_value()),
            None => Value::Null,
        }
    }
}

/// A counter's value as JSON: a number, or a decimal string beyond the 64-bit range
/// (reachable only by concurrent increments on several nodes).
fn counter_json(value: i128) -> Value {
    Number::from_i128(value).map_or_else(|| Value::String(value.to_string()), Value::Number)
}

impl DotStore for Field {
    fn is_bottom(&self) -> bool {
        self.counter.is_bottom() && self.set.is_bottom() && self.register.is_bottom()
    }

    fn join(&mut self, ctx: &VersionVector, other: Self, other_ctx: &VersionVector) {
        self.counter.join(ctx, other.counter, other_ctx);
        self.set.join(ctx, other.set, other_ctx);
        self.register.join(ctx, other.register, other_ctx);
    }

    fn for_each_dot(&self, f: &mut dyn FnMut(Dot)) {
        self.counter.for_each_dot(f);
        self.set.for_each_dot(f);
        self.register.for_each_dot(f);
    }
}

/// The dot store of a document: field name → field.
pub type DocStore = DotMap<String, Field>;

/// A document, or a delta of one (a delta is a small document).
pub type Document = Causal<DocStore>;

impl Document {
    /// The field called `name`, if it holds anything.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.store.get(name)
    }

    /// The live fields, by name.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &Field)> + '_ {
        self.store.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Every HLC timestamp in the document: what a replica checks against its clock's
    /// drift bound and then observes when a delta arrives.
    pub fn timestamps(&self) -> impl Iterator<Item = &Timestamp> + '_ {
        self.store.iter().flat_map(|(_, f)| f.register.timestamps())
    }

    /// The JSON view: an object of field name → value, fields in byte order of their
    /// names, set elements in the order of their canonical text. For example
    /// `{"likes": 3, "tags": ["a", "b"], "title": "hi"}`.
    pub fn to_json(&self) -> Value {
        let fields: Map<String, Value> = self
            .store
            .iter()
            .map(|(name, field)| (name.clone(), field.to_json()))
            .collect();
        Value::Object(fields)
    }

    /// Puts a field-level delta under `name` as a document delta.
    pub(crate) fn lift<S>(
        name: &str,
        delta: Causal<S>,
        place: impl FnOnce(&mut Field, S),
    ) -> Document
    where
        S: DotStore,
    {
        let mut store = DocStore::default();
        if !delta.store.is_bottom() {
            let mut field = Field::default();
            place(&mut field, delta.store);
            store.insert(name.to_owned(), field);
        }
        Causal {
            store,
            context: delta.context,
        }
    }
}
