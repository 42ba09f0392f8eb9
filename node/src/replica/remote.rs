//! Taking in what peers send: log records (deltas) and snapshot pages.
//!
//! Everything from a peer is checked first (decoding bounds, record shape, limits, HLC
//! drift) and only then merged, which cannot fail. A record whose dots this replica
//! already has changes nothing.

use lattice_crdt::{codec, validate_delta, Document, HlcError, OpError, VersionVector, NTP64};
use thiserror::Error;

use super::Replica;
use crate::key::{validate_key, KeyError};
use crate::log::{LogRecord, RecordError};
use crate::store::{MetaKey, Store, StoreError, WriteBatch};

/// Why something from a peer was refused. Nothing was applied.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The record is malformed or breaks a limit.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A snapshot document is malformed or breaks a limit.
    #[error("snapshot document {key:?}: {reason}")]
    Snapshot {
        /// The document's key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A timestamp runs too far ahead of the local clock.
    #[error(transparent)]
    Clock(#[from] HlcError),
    /// The merged document would exceed the size bound.
    #[error("merged document {key:?} would be {bytes} bytes; at most {max} are allowed")]
    DocumentTooLarge {
        /// The document.
        key: String,
        /// Its encoded size after the merge.
        bytes: usize,
        /// The bound.
        max: usize,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What applying a record did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The record was new and is now applied (durable after the next sync).
    New,
    /// This replica already had every dot of the record; nothing changed.
    Duplicate,
}

impl<S: Store> Replica<S> {
    /// Applies a log record received from a peer, at local time `now`.
    pub fn apply_remote(&mut self, now: NTP64, bytes: &[u8]) -> Result<Applied, ApplyError> {
        let record = LogRecord::decode(bytes, self.config.record_bytes_max, &self.config.limits)?;
        let range = record.dots();
        let mut own = VersionVector::new();
        own.insert_range(range.origin, range.first..=range.last);
        if self.vv.includes(&own) {
            return Ok(Applied::Duplicate);
        }
        self.observe(now, &record.delta)?;
        let mut doc = self.document(&record.key)?;
        doc.join(record.delta.clone());
        let mut vv = self.vv.clone();
        vv.join(&own);
        let doc_bytes = self.encode_merged(&record.key, &mut doc, &vv)?;
        self.stage(&record.key, doc_bytes, &record, vv)?;
        Ok(Applied::New)
    }

    /// Merges one page of a peer's snapshot (see [`Replica::snapshot_page`]). `base` is
    /// the peer's version vector taken before its first page; `after` is the cursor this
    /// page was requested with. Documents of ours in the page's key range that the page
    /// lacks were deleted at the peer, so they are merged with an empty document that has
    /// seen `base`.
    pub fn apply_snapshot_page(
        &mut self,
        now: NTP64,
        base: &VersionVector,
        after: Option<&str>,
        page: &super::SnapshotPage,
    ) -> Result<(), ApplyError> {
        let docs = self.check_snapshot_docs(now, page)?;
        let last = page.next.as_deref();
        let ours = self.keys_in_range(after, last)?;
        let mut batch = WriteBatch::default();
        let gone = Document::from_parts(Default::default(), base.clone()).expect("empty store");
        for key in ours.iter().filter(|k| !docs.iter().any(|(d, _)| d == *k)) {
            batch.docs.push(self.merged(key, gone.clone())?);
        }
        for (key, theirs) in docs {
            batch.docs.push(self.merged(&key, theirs)?);
        }
        self.store.write(batch)?;
        Ok(())
    }

    /// Adopts the peer's version vector after every page of its snapshot was merged.
    pub fn finish_snapshot(&mut self, base: &VersionVector) -> Result<(), StoreError> {
        let mut vv = self.vv.clone();
        vv.join(base);
        let batch = WriteBatch {
            meta: vec![(MetaKey::VersionVector, codec::encode(&vv))],
            ..WriteBatch::default()
        };
        self.store.write(batch)?;
        self.vv = vv;
        Ok(())
    }

    /// Checks a delta's timestamps against the clock, then moves the clock past them.
    fn observe(&mut self, now: NTP64, delta: &Document) -> Result<(), HlcError> {
        for ts in delta.timestamps() {
            self.hlc.check(ts, now)?;
        }
        for ts in delta.timestamps() {
            self.hlc.observe(ts, now)?;
        }
        Ok(())
    }

    fn check_snapshot_docs(
        &mut self,
        now: NTP64,
        page: &super::SnapshotPage,
    ) -> Result<Vec<(String, Document)>, ApplyError> {
        let mut docs = Vec::with_capacity(page.docs.len());
        for (key, bytes) in &page.docs {
            let bad = |reason: String| ApplyError::Snapshot {
                key: key.clone(),
                reason,
            };
            validate_key(key).map_err(|e: KeyError| bad(e.to_string()))?;
            let doc: Document =
                codec::decode(bytes, self.config.doc_bytes_max).map_err(|e| bad(e.to_string()))?;
            validate_delta(&doc, &self.config.limits).map_err(|e: OpError| bad(e.to_string()))?;
            for ts in doc.timestamps() {
                self.hlc.check(ts, now)?;
            }
            docs.push((key.clone(), doc));
        }
        for (_, doc) in &docs {
            self.observe(now, doc)?;
        }
        Ok(docs)
    }

    /// Our document `key` joined with `theirs`, encoded for the store.
    fn merged(&self, key: &str, theirs: Document) -> Result<(String, Option<Vec<u8>>), ApplyError> {
        let mut doc = self.document(key)?;
        doc.join(theirs);
        let vv = self.vv.clone();
        Ok((key.to_owned(), self.encode_merged(key, &mut doc, &vv)?))
    }

    fn encode_merged(
        &self,
        key: &str,
        doc: &mut Document,
        vv: &VersionVector,
    ) -> Result<Option<Vec<u8>>, ApplyError> {
        self.encode_doc(doc, vv)
            .map_err(|e| ApplyError::DocumentTooLarge {
                key: key.to_owned(),
                bytes: e.bytes,
                max: e.max,
            })
    }

    /// Our document keys greater than `after` and at most `last` (to the end if `None`).
    fn keys_in_range(
        &self,
        after: Option<&str>,
        last: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut cursor = after.map(str::to_owned);
        loop {
            let page = self.store.docs_after("", cursor.as_deref(), 256)?;
            let Some((tail, _)) = page.last() else { break };
            cursor = Some(tail.clone());
            for (key, _) in page {
                if last.is_some_and(|l| key.as_str() > l) {
                    return Ok(keys);
                }
                keys.push(key);
            }
        }
        Ok(keys)
    }
}
