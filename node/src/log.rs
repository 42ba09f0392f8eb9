//! Delta-log records: one local write batch (or one received from a peer), as stored
//! under its first dot and as sent between nodes.

use lattice_crdt::{codec, validate_delta, DocLimits, Document, Dot, DotRange, DotStore};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::key::{validate_key, KeyError};

/// A write batch: the document it changed, the dots it took, and its delta.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// The batch's first dot; it took `first.seq .. first.seq + count`.
    pub first: Dot,
    /// How many consecutive dots the batch took (one per op).
    pub count: u64,
    /// The document it changed.
    pub key: String,
    /// Its effect on the document.
    pub delta: Document,
}

/// Why a record from a peer was refused. Nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The bytes are not a record.
    #[error("undecodable record: {0}")]
    Decode(#[from] codec::DecodeError),
    /// The record's dots are impossible (no dots, sequence 0, overflow).
    #[error("record dots are invalid: first {first:?}, count {count}")]
    Dots {
        /// The claimed first dot.
        first: Dot,
        /// The claimed count.
        count: u64,
    },
    /// The delta holds dots outside the batch it claims to be.
    #[error("record delta holds dots outside the batch {0:?}")]
    ForeignDots(DotRange),
    /// The key is not a valid document key.
    #[error("record key: {0}")]
    Key(#[from] KeyError),
    /// The delta breaks a document limit.
    #[error("record delta: {0}")]
    Delta(#[from] lattice_crdt::OpError),
}

impl LogRecord {
    /// The dots the batch took.
    pub fn dots(&self) -> DotRange {
        DotRange {
            origin: self.first.origin,
            first: self.first.seq,
            last: self.first.seq + self.count - 1,
        }
    }

    /// Encodes the record for the log or the network.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes and checks a record from bytes that may come from anywhere.
    pub fn decode(
        bytes: &[u8],
        bytes_max: usize,
        limits: &DocLimits,
    ) -> Result<LogRecord, RecordError> {
        let record: LogRecord = codec::decode(bytes, bytes_max)?;
        record.validate(limits)?;
        Ok(record)
    }

    fn validate(&self, limits: &DocLimits) -> Result<(), RecordError> {
        let dots_err = RecordError::Dots {
            first: self.first,
            count: self.count,
        };
        if self.first.seq == 0 || self.count == 0 || self.first.advance(self.count - 1).is_none() {
            return Err(dots_err);
        }
        validate_key(&self.key)?;
        let range = self.dots();
        let mut foreign = false;
        self.delta.store().for_each_dot(&mut |d| {
            foreign |= d.origin != range.origin || d.seq < range.first || d.seq > range.last;
        });
        if foreign {
            return Err(RecordError::ForeignDots(range));
        }
        validate_delta(&self.delta, limits)?;
        Ok(())
    }
}
