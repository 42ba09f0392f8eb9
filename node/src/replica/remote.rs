//! Taking in what peers send: log records (deltas) and snapshot pages.
//!
//! Everything from a peer is checked first (decoding bounds, record shape, limits, HLC
//! drift) and only then merged, which cannot fail. A record whose dots this replica
//! already has changes nothing.

use std::sync::Arc;

use lattice_crdt::{codec, validate_delta, Document, HlcError, OpError, VersionVector, NTP64};
use thiserror::Error;

use super::Replica;
use crate::key::{validate_key, KeyError};
use crate::log::{LogRecord, RecordError};
use crate::store::{Store, StoreError};

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
    /// Applies a log record received from a peer, at local time `now`. Durable after
    /// the next sync. The log keeps `bytes` as they are: shared, if given as an
    /// `Arc<[u8]>` (a payload from gossip), or else copied once.
    pub fn apply_remote<B>(&mut self, now: NTP64, bytes: B) -> Result<Applied, ApplyError>
    where
        B: AsRef<[u8]> + Into<Arc<[u8]>>,
    {
        let record = LogRecord::decode(
            bytes.as_ref(),
            self.config.record_bytes_max,
            &self.config.limits,
        )?;
        let range = record.dots();
        let held = self.vv.count_in(range);
        if held == range.len() {
            return Ok(Applied::Duplicate);
        }
        self.observe(now, &record.delta)?;
        // A record's dots are new here, so it joins the document kept relative to the
        // version vector; one that repeats some (no honest peer sends it) joins the
        // whole document.
        self.merge_doc(&record.key, record.delta, bytes.as_ref().len(), held > 0)?;
        self.vv.insert_range(range.origin, range.first..=range.last);
        self.staged.push_log(range, bytes.into());
        Ok(Applied::New)
    }

    /// Merges one page of a peer's snapshot (see [`Replica::snapshot_page`]). `base` is
    /// the peer's version vector taken before its first page; `after` is the cursor this
    /// page was requested with. Documents of ours in the page's key range that the page
    /// lacks were deleted at the peer, so they are merged with an empty document that has
    /// seen `base`. Durable after the next sync.
    pub fn apply_snapshot_page(
        &mut self,
        now: NTP64,
        base: &VersionVector,
        after: Option<&str>,
        page: &super::SnapshotPage,
    ) -> Result<(), ApplyError> {
        let docs = self.check_snapshot_docs(now, page)?;
        let ours = self.keys_in_range(after, page.next.as_deref())?;
        let gone = Document::from_parts(Default::default(), base.clone()).expect("empty store");
        for key in ours
            .iter()
            .filter(|k| !docs.iter().any(|(d, _, _)| d == *k))
        {
            self.merge_doc(key, gone.clone(), 0, false)?;
        }
        for (key, theirs, bytes) in docs {
            self.merge_doc(&key, theirs, bytes, true)?;
        }
        Ok(())
    }

    /// Adopts the peer's version vector after every page of its snapshot was merged.
    /// Durable after the next sync.
    ///
    /// The dots new here came inside documents, so the log holds no record of them;
    /// they count as pruned, and a peer that lacks one gets a snapshot from here too.
    /// (Answering such a peer from the log would leave them out and call the answer
    /// complete, and it would wait for a peer whose log was really pruned.)
    pub fn finish_snapshot(&mut self, base: &VersionVector) {
        let unlogged = self.vv.missing_ranges(base);
        if !unlogged.is_empty() {
            for r in unlogged {
                self.pruned.insert_range(r.origin, r.first..=r.last);
            }
            self.staged.adopt_unlogged();
        }
        self.vv.join(base);
    }

    /// Joins `theirs` into our document `key`, which grows by at most `bytes`. Unless
    /// `whole`, `theirs` must be new here (its store holds no dot of the version
    /// vector): then it joins the document as kept, relative to the vector; otherwise
    /// the document is made whole first.
    fn merge_doc(
        &mut self,
        key: &str,
        theirs: Document,
        bytes: usize,
        whole: bool,
    ) -> Result<(), ApplyError> {
        let entry = self
            .staged
            .entry(&self.store, &mut self.cache, &self.vv, key)?;
        let size = entry.bytes + bytes;
        if size > self.config.doc_bytes_max {
            return Err(ApplyError::DocumentTooLarge {
                key: key.to_owned(),
                bytes: size,
                max: self.config.doc_bytes_max,
            });
        }
        if whole {
            entry.doc.extend_context(&self.vv);
        }
        entry.doc.join(theirs);
        entry.bytes = size;
        entry.changed = true;
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
    ) -> Result<Vec<(String, Document, usize)>, ApplyError> {
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
            docs.push((key.clone(), doc, bytes.len()));
        }
        for (_, doc, _) in &docs {
            self.observe(now, doc)?;
        }
        Ok(docs)
    }

    /// Our document keys (stored or staged) greater than `after` and at most `last` (to
    /// the end if `None`).
    fn keys_in_range(
        &self,
        after: Option<&str>,
        last: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let in_range = |k: &str| after.is_none_or(|a| k > a) && last.is_none_or(|l| k <= l);
        let mut keys: Vec<String> = self
            .staged
            .keys()
            .filter(|k| in_range(k))
            .cloned()
            .collect();
        let mut cursor = after.map(str::to_owned);
        loop {
            let page = self.store.docs_after("", cursor.as_deref(), 256)?;
            let Some((tail, _)) = page.last() else { break };
            cursor = Some(tail.clone());
            for (key, _) in page {
                if !in_range(&key) {
                    return Ok(dedup(keys));
                }
                keys.push(key);
            }
        }
        Ok(dedup(keys))
    }
}

fn dedup(mut keys: Vec<String>) -> Vec<String> {
    keys.sort_unstable();
    keys.dedup();
    keys
}
