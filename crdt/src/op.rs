//! Writes to a document: ops, their validation, and their infallible application.
//!
//! A batch of ops is first checked against the document as it stands
//! ([`Document::validate`]: sizes, types, counter overflow), and only then applied
//! ([`Document::apply`]), which cannot fail. Op `i` of a batch uses the dot
//! `first_dot.seq + i`, so a batch of `n` ops takes `n` consecutive dots of its node
//! and the node's version vector stays a prefix. The same split exists for deltas from
//! peers: [`validate_delta`] checks them, [`Causal::join`] merges them.

use std::collections::BTreeMap;

use thiserror::Error;
use uhlc::Timestamp;

use crate::counter::CounterError;
use crate::document::{Document, Field, FieldKind};
use crate::dot_store::{Causal, DotStore};
use crate::{Dot, Json, JsonError, JsonLimits, NodeId};

/// One change to one document.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Op {
    /// Adds `by` to the counter `field`.
    Increment {
        /// The counter.
        field: String,
        /// The amount.
        by: i64,
    },
    /// Subtracts `by` from the counter `field`.
    Decrement {
        /// The counter.
        field: String,
        /// The amount.
        by: i64,
    },
    /// Adds `value` to the set `field`.
    Add {
        /// The set.
        field: String,
        /// The element.
        value: Json,
    },
    /// Removes `value` from the set `field` (adds this replica has not seen survive).
    Remove {
        /// The set.
        field: String,
        /// The element.
        value: Json,
    },
    /// Writes `value` to the register `field`.
    Set {
        /// The register.
        field: String,
        /// The value.
        value: Json,
    },
    /// Clears the register `field`: removes the values this replica has seen (a write
    /// it has not seen survives). A cleared register holds nothing and reads as absent.
    Clear {
        /// The register.
        field: String,
    },
    /// Removes the field with everything this replica has seen in it.
    DeleteField {
        /// The field.
        field: String,
    },
    /// Removes every field this replica has seen.
    DeleteDocument,
}

impl Op {
    /// The field the op writes, if it writes one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Op::Increment { field, .. }
            | Op::Decrement { field, .. }
            | Op::Add { field, .. }
            | Op::Remove { field, .. }
            | Op::Set { field, .. }
            | Op::Clear { field }
            | Op::DeleteField { field } => Some(field),
            Op::DeleteDocument => None,
        }
    }

    /// The field type the op needs, if it needs one.
    pub fn kind(&self) -> Option<FieldKind> {
        match self {
            Op::Increment { .. } | Op::Decrement { .. } => Some(FieldKind::Counter),
            Op::Add { .. } | Op::Remove { .. } => Some(FieldKind::Set),
            Op::Set { .. } | Op::Clear { .. } => Some(FieldKind::Register),
            Op::DeleteField { .. } | Op::DeleteDocument => None,
        }
    }
}

/// Bounds on documents, batches and deltas. Defaults suit interactive apps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DocLimits {
    /// Bounds on each JSON value (set element or register value).
    pub json: JsonLimits,
    /// Longest field name, in bytes (default 128).
    pub field_name_bytes_max: usize,
    /// Most fields in one document (default 1,024).
    pub fields_max: usize,
    /// Most elements in one set field (default 100,000).
    pub set_elements_max: usize,
    /// Most ops in one batch (default 1,000).
    pub ops_per_batch_max: usize,
}

impl Default for DocLimits {
    fn default() -> Self {
        DocLimits {
            json: JsonLimits::default(),
            field_name_bytes_max: 128,
            fields_max: 1024,
            set_elements_max: 100_000,
            ops_per_batch_max: 1000,
        }
    }
}

/// Why a batch or a delta was refused. The document is unchanged in every case.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OpError {
    /// The batch holds no op.
    #[error("the batch holds no op")]
    EmptyBatch,
    /// The batch holds more ops than allowed.
    #[error("the batch holds {count} ops; at most {max} are allowed")]
    TooManyOps {
        /// Ops in the batch.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// A field name is empty or too long.
    #[error("field name of {bytes} bytes is not allowed (1 to {max} bytes)")]
    FieldName {
        /// The name's length.
        bytes: usize,
        /// The bound.
        max: usize,
    },
    /// The op needs a field of another type than the field has.
    #[error("field {field:?} is a {existing}; a {attempted} op cannot apply to it")]
    TypeMismatch {
        /// The field.
        field: String,
        /// Its type.
        existing: FieldKind,
        /// The type the op needs.
        attempted: FieldKind,
    },
    /// An increment would overflow the counter.
    #[error("field {field:?}: {source}")]
    Counter {
        /// The field.
        field: String,
        /// The overflow.
        source: CounterError,
    },
    /// A value is out of bounds.
    #[error("field {field:?}: {source}")]
    Value {
        /// The field.
        field: String,
        /// What is wrong with the value.
        source: JsonError,
    },
    /// The document would hold too many fields.
    #[error("the document would hold {count} fields; at most {max} are allowed")]
    TooManyFields {
        /// Fields after the batch.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// A set would hold too many elements.
    #[error("set {field:?} would hold more than {max} elements")]
    SetTooLarge {
        /// The field.
        field: String,
        /// The bound.
        max: usize,
    },
}

/// What validation tracks per field while it walks a batch.
#[derive(Clone, Copy, Default)]
struct Pending {
    kind: Option<FieldKind>,
    contribution: i64,
    value: i128,
    set_len: usize,
}

impl Pending {
    fn of(field: Option<&Field>, node: NodeId) -> Pending {
        field.map_or_else(Pending::default, |f| Pending {
            kind: f.kind(),
            contribution: f.counter().contribution(node),
            value: f.counter().value(),
            set_len: f.set().len(),
        })
    }

    fn step(&mut self, op: &Op, name: &str, limits: &DocLimits) -> Result<(), OpError> {
        if let (Some(existing), Some(attempted)) = (self.kind, op.kind()) {
            if existing != attempted {
                return Err(OpError::TypeMismatch {
                    field: name.to_owned(),
                    existing,
                    attempted,
                });
            }
        }
        let value_error = |source| OpError::Value {
            field: name.to_owned(),
            source,
        };
        match op {
            Op::Increment { by, .. } => self.count(*by, name)?,
            Op::Decrement { by, .. } => match by.checked_neg() {
                Some(by) => self.count(by, name)?,
                None => return Err(counter_overflow(name, *by)),
            },
            Op::Add { value, .. } => {
                value.check(&limits.json).map_err(value_error)?;
                self.set_len += 1;
                if self.set_len > limits.set_elements_max {
                    return Err(OpError::SetTooLarge {
                        field: name.to_owned(),
                        max: limits.set_elements_max,
                    });
                }
            }
            Op::Remove { value, .. } | Op::Set { value, .. } => {
                value.check(&limits.json).map_err(value_error)?
            }
            Op::DeleteField { .. } | Op::DeleteDocument | Op::Clear { .. } => {
                *self = Pending::default()
            }
        }
        if !matches!(op, Op::Remove { .. } | Op::Clear { .. }) {
            self.kind = self.kind.or(op.kind());
        }
        Ok(())
    }

    fn count(&mut self, by: i64, name: &str) -> Result<(), OpError> {
        let contribution = self.contribution.checked_add(by);
        let value = self.value + i128::from(by);
        match contribution {
            Some(c) if i64::try_from(value).is_ok() => {
                self.contribution = c;
                self.value = value;
                Ok(())
            }
            _ => Err(counter_overflow(name, by)),
        }
    }
}

fn counter_overflow(field: &str, by: i64) -> OpError {
    OpError::Counter {
        field: field.to_owned(),
        source: CounterError::Overflow { by },
    }
}

fn check_field_name(name: &str, limits: &DocLimits) -> Result<(), OpError> {
    if name.is_empty() || name.len() > limits.field_name_bytes_max {
        return Err(OpError::FieldName {
            bytes: name.len(),
            max: limits.field_name_bytes_max,
        });
    }
    Ok(())
}

impl Document {
    /// Checks that node `node` may apply `ops` to this document as it stands now.
    pub fn validate(&self, node: NodeId, ops: &[Op], limits: &DocLimits) -> Result<(), OpError> {
        if ops.is_empty() {
            return Err(OpError::EmptyBatch);
        }
        if ops.len() > limits.ops_per_batch_max {
            return Err(OpError::TooManyOps {
                count: ops.len(),
                max: limits.ops_per_batch_max,
            });
        }
        let mut pending: BTreeMap<&str, Pending> = BTreeMap::new();
        let mut cleared = false;
        for op in ops {
            let Some(name) = op.field() else {
                pending.values_mut().for_each(|p| *p = Pending::default());
                cleared = true;
                continue;
            };
            check_field_name(name, limits)?;
            let current = (!cleared).then(|| self.field(name)).flatten();
            let entry = pending
                .entry(name)
                .or_insert_with(|| Pending::of(current, node));
            entry.step(op, name, limits)?;
        }
        let mut count = if cleared { 0 } else { self.store.len() };
        for (name, p) in &pending {
            let existed = !cleared && self.field(name).is_some_and(|f| f.kind().is_some());
            match (existed, p.kind.is_some()) {
                (false, true) => count += 1,
                (true, false) => count -= 1,
                _ => {}
            }
        }
        if count > limits.fields_max {
            return Err(OpError::TooManyFields {
                count,
                max: limits.fields_max,
            });
        }
        Ok(())
    }

    /// Applies a batch that [`validate`](Document::validate) accepted for this document
    /// and node `first_dot.origin`. Op `i` uses dot `first_dot.seq + i`; every op shares
    /// `timestamp`. Returns the batch's delta.
    ///
    /// # Panics
    /// If the batch's dots overflow `u64`, or `timestamp` is not from a lattice HLC.
    pub fn apply(&mut self, ops: &[Op], first_dot: Dot, timestamp: Timestamp) -> Document {
        let mut batch: Option<Document> = None;
        for (i, op) in ops.iter().enumerate() {
            let dot = first_dot.advance(i as u64).expect("dot sequence overflow");
            let mut delta = self.op_delta(op, dot, timestamp);
            delta.context.insert(dot);
            let delta = self.absorb(delta);
            match &mut batch {
                None => batch = Some(delta),
                Some(batch) => batch.join(delta),
            }
        }
        batch.unwrap_or_default()
    }

    /// [`validate`](Document::validate), then [`apply`](Document::apply).
    pub fn write(
        &mut self,
        ops: &[Op],
        first_dot: Dot,
        timestamp: Timestamp,
        limits: &DocLimits,
    ) -> Result<Document, OpError> {
        self.validate(first_dot.origin, ops, limits)?;
        Ok(self.apply(ops, first_dot, timestamp))
    }

    fn op_delta(&self, op: &Op, dot: Dot, timestamp: Timestamp) -> Document {
        let empty = Field::default();
        let field = op.field().and_then(|n| self.field(n)).unwrap_or(&empty);
        let name = op.field().unwrap_or_default();
        match op {
            Op::Increment { by, .. } => {
                let delta = field.counter.increment_delta(dot, *by);
                Document::lift(name, delta, |f, s| f.counter = s)
            }
            Op::Decrement { by, .. } => {
                let delta = field.counter.increment_delta(dot, by.saturating_neg());
                Document::lift(name, delta, |f, s| f.counter = s)
            }
            Op::Add { value, .. } => {
                let delta = field.set.add_delta(dot, value.clone());
                Document::lift(name, delta, |f, s| f.set = s)
            }
            Op::Remove { value, .. } => {
                let delta = field.set.remove_delta(value);
                Document::lift(name, delta, |f, s| f.set = s)
            }
            Op::Set { value, .. } => {
                let delta = field.register.set_delta(dot, timestamp, value.clone());
                Document::lift(name, delta, |f, s| f.register = s)
            }
            Op::Clear { .. } => Causal {
                store: Default::default(),
                context: field.register.dots(),
            },
            Op::DeleteField { .. } => Causal {
                store: Default::default(),
                context: field.dots(),
            },
            Op::DeleteDocument => Causal {
                store: Default::default(),
                context: self.store.dots(),
            },
        }
    }
}

/// Checks a delta (or full state) from a peer against `limits` before it is merged:
/// field names, values, field and element counts. Its HLC timestamps
/// ([`Document::timestamps`]) are for the replica to check against its clock.
pub fn validate_delta(delta: &Document, limits: &DocLimits) -> Result<(), OpError> {
    if delta.store.len() > limits.fields_max {
        return Err(OpError::TooManyFields {
            count: delta.store.len(),
            max: limits.fields_max,
        });
    }
    for (name, field) in delta.fields() {
        check_field_name(name, limits)?;
        let value_error = |source| OpError::Value {
            field: name.to_owned(),
            source,
        };
        if field.set().len() > limits.set_elements_max {
            return Err(OpError::SetTooLarge {
                field: name.to_owned(),
                max: limits.set_elements_max,
            });
        }
        for element in field.set().elements() {
            element.check(&limits.json).map_err(value_error)?;
        }
        for (_, stamped) in field.register().entries() {
            stamped.value.check(&limits.json).map_err(value_error)?;
        }
    }
    Ok(())
}
