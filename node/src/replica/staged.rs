//! What changed since the last sync: decoded documents, log records and deletes, write
//! receipts, held in memory and written by [`Replica::sync`](super::Replica::sync) as one atomic batch.
//!
//! Documents are kept, in memory and in the store, *relative to* the version vector
//! ([`Document::trim_context`]): a document's context holds only the dots the vector
//! lacks (usually none), and the vector itself stands for the rest. In a large cluster
//! the vector has an entry per origin that ever wrote, so a stored document is then
//! smaller by about the vector's encoded size (in the 1,000-node simulation, 1.5 KB of
//! a 1.6–2.5 KB document), and no round completes contexts with the vector. A stored
//! document is relative to the vector written in the same batch, and reading it back
//! with any later vector gives the same document: a later dot of its own would have
//! rewritten it.

use std::collections::BTreeMap;
use std::sync::Arc;

use lattice_crdt::{codec, DocStore, Document, Dot, DotRange, VersionVector};

use super::cache::DocCache;
use super::Ticket;
use crate::log::LogRecord;
use crate::store::{MetaKey, ReceiptId, Store, StoreError, WriteBatch};

/// A document loaded for this round.
#[derive(Debug)]
pub(super) struct StagedDoc {
    pub(super) doc: Document,
    /// Its encoded size when loaded plus an upper bound on what this round added.
    pub(super) bytes: usize,
    /// Whether this round changed it (only changed documents are written).
    pub(super) changed: bool,
}

/// A document to cache after a sync: key, document (relative to the version vector),
/// encoded size.
pub(super) type ToCache = (String, Document, usize);

/// The changes of one group-commit round.
#[derive(Debug, Default)]
pub(super) struct Staged {
    docs: BTreeMap<String, StagedDoc>,
    /// Log records, with the dots each covers.
    log: Vec<(DotRange, Arc<[u8]>)>,
    log_deletes: Vec<Dot>,
    /// Whether this round adopted dots whose records the log lacks (a snapshot).
    unlogged: bool,
    /// Local write batches, to hand out for sending once durable.
    records: Vec<LogRecord>,
    /// Receipts to put (with the ticket of their write) or delete (`None`).
    receipts: BTreeMap<ReceiptId, Option<(Ticket, Vec<u8>)>>,
}

/// Reads and decodes the stored document `key` (empty if absent), relative to `vv`, and
/// its encoded size.
pub(super) fn load<S: Store>(
    store: &S,
    vv: &VersionVector,
    key: &str,
) -> Result<(Document, usize), StoreError> {
    match store.doc(key)? {
        None => Ok((Document::default(), 0)),
        Some(bytes) => Ok((decode_stored(&bytes, vv, key)?, bytes.len())),
    }
}

/// The stored encoding of `doc`, which is relative to the version vector.
pub(crate) fn encode_stored(doc: &Document, bytes_hint: usize) -> Vec<u8> {
    codec::encode_sized(&(doc.store(), doc.context()), bytes_hint)
}

/// Decodes a stored document `key` relative to `vv`, a version vector at least as
/// recent as the one written with it.
pub(crate) fn decode_stored(
    bytes: &[u8],
    vv: &VersionVector,
    key: &str,
) -> Result<Document, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("document {key:?}: {e}"));
    let (store, context): (DocStore, VersionVector) =
        codec::decode(bytes, usize::MAX).map_err(|e| corrupt(e.to_string()))?;
    Document::from_parts_over(store, context, vv)
        .ok_or_else(|| corrupt("a dot of the document is missing from its context".into()))
}

impl Staged {
    /// The staged version of `key`, if this round loaded it.
    pub(super) fn doc(&self, key: &str) -> Option<&Document> {
        self.docs.get(key).map(|s| &s.doc)
    }

    /// Whether this round changed `key`.
    pub(super) fn is_changed(&self, key: &str) -> bool {
        self.docs.get(key).is_some_and(|s| s.changed)
    }

    /// The keys of documents this round holds.
    pub(super) fn keys(&self) -> impl Iterator<Item = &String> + '_ {
        self.docs.keys()
    }

    /// `key`'s document (relative to `vv`) for changing, taken from `cache` or else
    /// loaded from `store` the first time this round touches it.
    pub(super) fn entry<S: Store>(
        &mut self,
        store: &S,
        cache: &mut DocCache,
        vv: &VersionVector,
        key: &str,
    ) -> Result<&mut StagedDoc, StoreError> {
        if !self.docs.contains_key(key) {
            let (doc, bytes) = match cache.take(key) {
                Some(cached) => cached,
                None => load(store, vv, key)?,
            };
            let staged = StagedDoc {
                doc,
                bytes,
                changed: false,
            };
            self.docs.insert(key.to_owned(), staged);
        }
        Ok(self.docs.get_mut(key).expect("just inserted"))
    }

    /// Records a local write batch.
    pub(super) fn push_local(&mut self, record: LogRecord) {
        self.push_log(record.dots(), record.encode().into());
        self.records.push(record);
    }

    /// Records a batch received from a peer under its first dot, in its original
    /// encoding (`bytes`, already checked by decoding them).
    pub(super) fn push_log(&mut self, dots: DotRange, bytes: Arc<[u8]>) {
        self.log.push((dots, bytes));
    }

    /// The records this round staged of `range.origin` that cover a dot of `range`,
    /// by first dot.
    pub(super) fn log_meeting(&self, range: DotRange) -> Vec<(Dot, &[u8])> {
        let mut meeting: Vec<(Dot, &[u8])> = self
            .log
            .iter()
            .filter(|(dots, _)| {
                dots.origin == range.origin && dots.first <= range.last && dots.last >= range.first
            })
            .map(|(dots, bytes)| (Dot::new(dots.origin, dots.first), &bytes[..]))
            .collect();
        meeting.sort_unstable_by_key(|(first, _)| *first);
        meeting
    }

    /// Whether this round changes which dots the log holds no records for: it prunes
    /// the log, or adopts a snapshot.
    pub(super) fn moves_pruned(&self) -> bool {
        !self.log_deletes.is_empty() || self.unlogged
    }

    /// Notes that this round adopts dots whose records the log lacks.
    pub(super) fn adopt_unlogged(&mut self) {
        self.unlogged = true;
    }

    /// Records log deletions (pruning).
    pub(super) fn delete_log(&mut self, dots: Vec<Dot>) {
        self.log_deletes.extend(dots);
    }

    /// This round's change to receipt `id`, if any: `Some(None)` is a delete.
    pub(super) fn receipt(&self, id: &ReceiptId) -> Option<Option<&(Ticket, Vec<u8>)>> {
        self.receipts.get(id).map(Option::as_ref)
    }

    /// Stages a receipt written with the write of `ticket`.
    pub(super) fn put_receipt(&mut self, id: ReceiptId, ticket: Ticket, bytes: Vec<u8>) {
        self.receipts.insert(id, Some((ticket, bytes)));
    }

    /// Stages the deletion of a receipt.
    pub(super) fn delete_receipt(&mut self, id: ReceiptId) {
        self.receipts.insert(id, None);
    }

    /// The local records of this round, oldest first.
    pub(super) fn records(&self) -> impl Iterator<Item = &LogRecord> + '_ {
        self.records.iter()
    }

    /// The store batch for this round, the local records it makes durable, and the
    /// documents to cache once it is written: every document this round held that the
    /// batch leaves stored, with its encoded size.
    ///
    /// A changed document is written relative to `vv` (the vector the batch writes), or
    /// deleted when it holds nothing and `vv` already knows its whole context. An empty
    /// document whose context knows dots not applied here yet (a delete that overtook
    /// the write it removes) is kept until they arrive, or they would come back to life.
    pub(super) fn into_batch(
        self,
        vv: &VersionVector,
        meta: Vec<(MetaKey, Vec<u8>)>,
    ) -> (WriteBatch, Vec<LogRecord>, Vec<ToCache>) {
        let mut docs = Vec::new();
        let mut cache = Vec::with_capacity(self.docs.len());
        for (key, mut s) in self.docs {
            if !s.changed {
                cache.push((key, s.doc, s.bytes));
                continue;
            }
            s.doc.trim_context(vv);
            if s.doc.is_bottom() && s.doc.context().is_empty() {
                docs.push((key, None));
                continue;
            }
            // `s.bytes` bounds the encoding from above: one buffer, no regrowth.
            let bytes = encode_stored(&s.doc, s.bytes);
            cache.push((key.clone(), s.doc, bytes.len()));
            docs.push((key, Some(bytes)));
        }
        let batch = WriteBatch {
            docs,
            log: self
                .log
                .into_iter()
                .map(|(dots, bytes)| (Dot::new(dots.origin, dots.first), bytes))
                .collect(),
            log_deletes: self.log_deletes,
            meta,
            receipts: self
                .receipts
                .into_iter()
                .map(|(id, change)| (id, change.map(|(_, bytes)| bytes)))
                .collect(),
        };
        (batch, self.records, cache)
    }
}
