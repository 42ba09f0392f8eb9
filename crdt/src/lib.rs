//! lattice-crdt: the pure data types of lattice. No I/O, no clock reads, no threads.
//!
//! Everything the rest of lattice replicates is built here:
//!
//! - [`Hlc`]: the hybrid logical clock (uhlc's types, lattice's update rule, `now` passed in);
//! - [`Dot`] and [`VersionVector`]: names of events, and compact sets of them with gaps;
//! - delta-state CRDTs over one framework ([`Causal`] = dot store + causal context):
//!   [`Counter`] (PN-counter over i64), [`OrSet`] (add-wins observed-remove set of JSON
//!   values), [`LwwRegister`] (last-writer-wins by HLC timestamp) and [`Document`] (an
//!   observed-remove map of named fields of those three types);
//! - [`Op`] batches, validated ([`Document::validate`], [`validate_delta`]) before they
//!   are applied infallibly;
//! - [`codec`]: the versioned binary encoding; [`Document::to_json`]: the JSON view.
//!
//! Every mutator takes the dot (and timestamp) to use and returns a delta; merging a
//! delta and merging a full state are the same [`Causal::join`]. `lattice-node` owns
//! dot allocation, the clock and durability; this crate only computes.

#![deny(missing_docs)]

pub mod codec;
mod counter;
mod document;
mod dot_store;
mod hlc;
mod id;
mod json;
mod op;
mod orset;
mod register;
mod version_vector;

pub use counter::{Counter, CounterError, CounterStore};
pub use document::{DocStore, Document, Field, FieldKind};
pub use dot_store::{Causal, DotFun, DotMap, DotSet, DotStore};
pub use hlc::{Hlc, HlcError, MAX_DRIFT_DEFAULT};
pub use id::{Dot, NodeId};
pub use json::{Json, JsonError, JsonLimits};
pub use op::{validate_delta, DocLimits, Op, OpError};
pub use orset::{OrSet, SetStore};
pub use register::{LwwRegister, RegisterStore, Stamped};
pub use uhlc::{Timestamp, NTP64};
pub use version_vector::{DotRange, VersionVector};
