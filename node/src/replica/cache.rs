//! Decoded documents kept between group-commit rounds, so that a document written or
//! merged into again and again is not read back and decoded from the store each time.
//!
//! The cache holds exactly what the last sync wrote: a document enters it only after its
//! store write succeeded, and leaves it while a round has it staged (the staged copy is
//! the current one). It is bounded by the documents' encoded size, and drops the least
//! recently used first. A replica is the only writer of its store, so the cache can never
//! hold a version other than the stored one.

use std::collections::{BTreeMap, HashMap};

use lattice_crdt::Document;

/// A decoded document and its encoded size.
#[derive(Debug)]
struct Cached {
    doc: Document,
    bytes: usize,
    /// When it was last put in: its place in the recency order.
    tick: u64,
}

/// Decoded documents, least recently used dropped first, at most `bytes_max` encoded.
#[derive(Debug)]
pub(super) struct DocCache {
    docs: HashMap<String, Cached>,
    /// Keys by the tick of their last use, oldest first.
    order: BTreeMap<u64, String>,
    tick: u64,
    bytes: usize,
    bytes_max: usize,
}

impl DocCache {
    /// An empty cache of at most `bytes_max` encoded bytes (0 turns it off).
    pub(super) fn new(bytes_max: usize) -> DocCache {
        DocCache {
            docs: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
            bytes: 0,
            bytes_max,
        }
    }

    /// The cached `key`, left in place.
    pub(super) fn get(&self, key: &str) -> Option<&Document> {
        self.docs.get(key).map(|c| &c.doc)
    }

    /// Takes `key` out, with its encoded size.
    pub(super) fn take(&mut self, key: &str) -> Option<(Document, usize)> {
        let cached = self.docs.remove(key)?;
        self.order.remove(&cached.tick);
        self.bytes -= cached.bytes;
        Some((cached.doc, cached.bytes))
    }

    /// Puts `key` in as the most recently used, dropping the least recently used to
    /// stay in bounds. A document larger than the whole cache is not kept.
    pub(super) fn put(&mut self, key: String, doc: Document, bytes: usize) {
        self.take(&key);
        if bytes > self.bytes_max {
            return;
        }
        while self.bytes + bytes > self.bytes_max {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(dropped) = self.docs.remove(&oldest) {
                self.bytes -= dropped.bytes;
            }
        }
        self.tick += 1;
        self.order.insert(self.tick, key.clone());
        self.bytes += bytes;
        let tick = self.tick;
        self.docs.insert(key, Cached { doc, bytes, tick });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Document {
        Document::default()
    }

    #[test]
    fn least_recently_put_goes_first_and_bytes_stay_bounded() {
        let mut cache = DocCache::new(100);
        cache.put("a".into(), doc(), 40);
        cache.put("b".into(), doc(), 40);
        cache.put("a".into(), doc(), 40); // a is now the most recent
        cache.put("c".into(), doc(), 40);
        assert!(cache.get("b").is_none(), "b was the least recently used");
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
        assert_eq!(cache.bytes, 80);
        cache.put("huge".into(), doc(), 101);
        assert!(cache.get("huge").is_none(), "larger than the cache");
        assert_eq!(cache.bytes, 80, "and nothing was dropped for it");
        assert_eq!(cache.take("a").map(|(_, b)| b), Some(40));
        assert!(cache.get("a").is_none());
        cache.take("c");
        assert_eq!(
            (cache.bytes, cache.docs.len(), cache.order.len()),
            (0, 0, 0)
        );
    }

    #[test]
    fn a_zero_cache_keeps_nothing() {
        let mut cache = DocCache::new(0);
        cache.put("a".into(), doc(), 1);
        assert!(cache.get("a").is_none());
    }
}
