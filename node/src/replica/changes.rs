//! What changed since a client's last sync: the documents an offline-first client must
//! refresh, found from the delta log.
//!
//! The client keeps a cursor (a version vector, sent as a session token). The log
//! records it lacks name the documents that changed since; their current views are its
//! answer, at most `records_max` records per call. The next cursor covers exactly the
//! records scanned, so paging never skips a change, and equals the cursor joined with
//! the replica's version vector once nothing is left. When the log lacks records the
//! cursor lacks (pruned, or never held because a snapshot brought their dots), the
//! changes cannot be listed: the client lists the documents afresh.

use std::collections::BTreeSet;

use lattice_crdt::{codec, VersionVector};
use serde_json::Value;

use super::{CatchUp, Replica};
use crate::log::LogRecord;
use crate::store::{Store, StoreError};

/// The answer of [`Replica::changes_since`].
#[derive(Clone, Debug, PartialEq)]
pub enum Changes {
    /// Documents changed since the cursor.
    Docs {
        /// Each changed document under the prefix and its view (`None`: deleted), in
        /// key order.
        docs: Vec<(String, Option<Value>)>,
        /// The cursor for the next call.
        next: VersionVector,
        /// `false` when more changes remain: call again with `next`.
        complete: bool,
    },
    /// The log no longer reaches back to the cursor: list the documents afresh.
    Pruned,
}

impl<S: Store> Replica<S> {
    /// The documents under `prefix` changed since `cursor`, scanning at most
    /// `records_max` log records (see the module doc). Like a read, it shows writes
    /// staged since the last sync: answer only once a sync made them durable.
    pub fn changes_since(
        &self,
        cursor: &VersionVector,
        prefix: &str,
        records_max: usize,
    ) -> Result<Changes, StoreError> {
        // The answer waits for the next sync, so the records staged since the last one
        // count: the next cursor covers them.
        let (records, complete) =
            match self.records_for(cursor, records_max.max(1), &|_| false, true)? {
                CatchUp::SnapshotNeeded => return Ok(Changes::Pruned),
                CatchUp::Records { records, complete } => (records, complete),
            };
        let mut next = cursor.clone();
        let mut keys = BTreeSet::new();
        for bytes in &records {
            let record: LogRecord = codec::decode(bytes, usize::MAX)
                .map_err(|e| StoreError::Corrupt(format!("log record: {e}")))?;
            let dots = record.dots();
            next.insert_range(dots.origin, dots.first..=dots.last);
            if record.key.starts_with(prefix) {
                keys.insert(record.key);
            }
        }
        if complete {
            next.join(self.version_vector());
        }
        let mut docs = Vec::with_capacity(keys.len());
        for key in keys {
            let doc = self.document(&key)?;
            let view = (!doc.is_bottom()).then(|| doc.to_json());
            docs.push((key, view));
        }
        Ok(Changes::Docs {
            docs,
            next,
            complete,
        })
    }
}
