//! Reads served on the caller's thread, without a call into the node thread.
//!
//! The node thread writes its store only inside a sync (one batch, then the flush). A
//! [`ReadGate`] brackets each sync with a version counter — odd while a batch is being
//! written and synced, even once it is durable — and publishes the version vector of
//! the last sync. A read checks the counter, takes that version vector, reads the
//! document through the store's [`DocReader`], and checks the counter again: if no sync
//! started meanwhile, the document is exactly as of the last sync, so it is durable and
//! the version vector is a token that covers it (a seqlock, with sled's own
//! synchronisation ordering the document read between the two loads).
//!
//! Otherwise — a sync in progress, a session whose past is not all here, a store
//! without a reader (`MemStore`), anything unusual — the read goes to the node thread,
//! which waits, pulls from peers and reports errors as before. A read through the gate
//! never sees a write before it is durable and acknowledged; it may miss one that is
//! staged in the current round, exactly as if it had arrived before that write.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use lattice_crdt::VersionVector;

use crate::key::validate_key;
use crate::replica::{decode_stored, Read};
use crate::store::DocReader;
use crate::token::SessionToken;

/// See the module doc.
pub(super) struct ReadGate {
    /// Even: the store holds exactly the state of the last sync. Odd: a sync is running,
    /// or the node has stopped.
    version: AtomicU64,
    /// The version vector of the last sync.
    synced: RwLock<Arc<VersionVector>>,
    reader: Arc<dyn DocReader>,
}

impl std::fmt::Debug for ReadGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadGate")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl ReadGate {
    /// A gate over `reader`, whose store holds exactly the state of `vv` (nothing staged).
    pub(super) fn new(reader: Arc<dyn DocReader>, vv: &VersionVector) -> ReadGate {
        ReadGate {
            version: AtomicU64::new(0),
            synced: RwLock::new(Arc::new(vv.clone())),
            reader,
        }
    }

    /// The node thread is about to write to the store (or has stopped: then never call
    /// [`synced`](ReadGate::synced) again).
    pub(super) fn writing(&self) {
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    /// The node thread's writes are durable and its state is `vv`.
    pub(super) fn synced(&self, vv: &VersionVector) {
        *self.synced.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(vv.clone());
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    /// Reads `key` for `session` as of the last sync, or `None` when the node thread
    /// must answer (see the module doc).
    pub(super) fn read(&self, key: &str, session: Option<&SessionToken>) -> Option<Read> {
        validate_key(key).ok()?;
        let before = self.version.load(Ordering::SeqCst);
        if before % 2 == 1 {
            return None;
        }
        let vv = Arc::clone(&*self.synced.read().ok()?);
        if session.is_some_and(|t| !vv.includes(t.past())) {
            return None;
        }
        let bytes = self.reader.doc(key).ok()?;
        if self.version.load(Ordering::SeqCst) != before {
            return None;
        }
        let view = match bytes {
            None => None,
            Some(bytes) => {
                let doc = decode_stored(&bytes, &vv, key).ok()?;
                (!doc.is_bottom()).then(|| doc.to_json())
            }
        };
        let mut token = SessionToken::new(VersionVector::clone(&vv));
        if let Some(past) = session {
            token.merge(past);
        }
        Some(Read {
            view,
            token,
            pending: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use lattice_crdt::{NodeId, Op, NTP64};
    use serde_json::json;

    use super::*;
    use crate::replica::encode_stored;
    use crate::store::StoreError;

    /// A reader over fixed documents that can run a hook mid-read (a sync starting).
    #[derive(Default)]
    struct Docs {
        docs: Mutex<Vec<(String, Vec<u8>)>>,
        during_read: Mutex<Option<Arc<ReadGate>>>,
    }

    impl DocReader for Docs {
        fn doc(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            if let Some(gate) = self.during_read.lock().unwrap().take() {
                gate.writing();
            }
            let docs = self.docs.lock().unwrap();
            Ok(docs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
        }
    }

    fn node(n: u64) -> NodeId {
        NodeId::new(n).unwrap()
    }

    /// A document with counter `n` = 3 written by node 1 as dot (1, 1), stored
    /// relative to its vv, and the vv.
    fn doc() -> (Vec<u8>, VersionVector) {
        let mut doc = lattice_crdt::Document::default();
        let ops = [Op::Increment {
            field: "n".into(),
            by: 3,
        }];
        let stamp =
            lattice_crdt::Hlc::new(node(1), std::time::Duration::from_secs(1)).tick(NTP64(1 << 32));
        doc.apply(&ops, lattice_crdt::Dot::new(node(1), 1), stamp);
        let mut vv = VersionVector::new();
        vv.insert_range(node(1), 1..=1);
        doc.trim_context(&vv);
        (encode_stored(&doc, 0), vv)
    }

    fn gate() -> (Arc<Docs>, Arc<ReadGate>, VersionVector) {
        let (bytes, vv) = doc();
        let docs = Arc::new(Docs::default());
        docs.docs.lock().unwrap().push(("k".into(), bytes));
        let gate = Arc::new(ReadGate::new(docs.clone(), &vv));
        (docs, gate, vv)
    }

    #[test]
    fn a_quiet_store_is_read_with_the_synced_version_vector_as_token() {
        let (_, gate, vv) = gate();
        let read = gate.read("k", None).unwrap();
        assert_eq!(read.view, Some(json!({"n": 3})));
        assert_eq!(read.token.past(), &vv);
        assert_eq!(gate.read("absent", None).unwrap().view, None);
        let mut other = VersionVector::new();
        other.insert_range(node(2), 1..=4);
        let session = SessionToken::new(other.clone());
        assert!(
            gate.read("k", Some(&session)).is_none(),
            "a past not all here"
        );
        gate.writing();
        let mut both = vv.clone();
        both.join(&other);
        gate.synced(&both);
        let read = gate.read("k", Some(&session)).unwrap();
        assert_eq!(
            read.token.past(),
            &both,
            "the last sync's vector, with the session"
        );
        assert!(
            gate.read("", None).is_none(),
            "bad keys go to the node thread"
        );
    }

    #[test]
    fn nothing_is_read_while_a_sync_runs_or_once_one_started_mid_read() {
        let (docs, gate, vv) = gate();
        gate.writing();
        assert!(gate.read("k", None).is_none(), "a sync is running");
        gate.synced(&vv);
        assert!(gate.read("k", None).is_some());
        *docs.during_read.lock().unwrap() = Some(gate.clone());
        assert!(
            gate.read("k", None).is_none(),
            "a sync started between the two checks"
        );
    }
}
