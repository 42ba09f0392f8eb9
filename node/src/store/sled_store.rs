//! The production [`Store`] on sled 0.34.7, with a `sync` that is really durable.
//!
//! # Layout
//!
//! Four sled trees in one sled database (a directory): `docs` (document key → bytes),
//! `log` (`log_key(dot)` → record), `meta` ([`MetaKey::name`] → bytes, plus
//! [`NODE_KEY`] and [`FORMAT_KEY`]) and `receipts` (receipt id → bytes; a store from
//! before receipts simply has the tree created empty). A batch is one sled multi-tree
//! transaction.
//! sled commits it under a batch manifest (`TransactionalTrees::commit` →
//! `PageCache::pin_log` / `RecoveryGuard::seal_batch`, sled `src/transaction.rs:404-414`,
//! `src/pagecache/mod.rs:426-433,889-915`), and recovery stops before a batch whose last
//! record is missing (`src/pagecache/iterator.rs:110-121`), so a batch is recovered whole
//! or not at all. One tree with key prefixes would go through the same mechanism
//! (`Tree::apply_batch`, `src/tree.rs:376-401`), so several trees cost nothing extra.
//!
//! # What sled's `flush` guarantees on Linux (read from sled 0.34.7's source)
//!
//! `Db::flush` (`src/tree.rs:798`) → `PageCache::flush` (`src/pagecache/mod.rs:761`) →
//! `iobuf::flush` (`src/pagecache/iobuf.rs:1011`) waits until every reserved log
//! position is "stable". A buffer becomes stable in `IoBufs::write_to_log`
//! (`src/pagecache/iobuf.rs:569`), which on Linux (without the `io_uring` feature)
//! does `pwrite` and then `sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER)`
//! (`src/pagecache/iobuf.rs:728-757`); it falls back to `fsync` only when that call is
//! missing (`ENOSYS`). `sync_file_range(2)` writes the pages out but does not flush the
//! disk's volatile write cache and writes none of the file's metadata (size, extents).
//! sled's own upstream issues say so (spacejam/sled#1351, #1452). So when `flush`
//! returns, the data is in the kernel and on its way to the device:
//!
//! - it survives a process kill;
//! - it may not survive an OS crash: the log grows by appending segments, and the new
//!   size or extents are only committed by a later `fsync` or the file system's own
//!   journal commit;
//! - it may not survive a power loss: it may still be in the disk's volatile cache.
//!
//! sled does `fsync` its data file (`db`) elsewhere: its flusher thread every
//! `flush_every_ms` (default 500 ms, `src/config.rs:238`) after a flush
//! (`src/flusher.rs:137`), when it truncates the file (`src/pagecache/segment.rs:1103`),
//! when recovery rewrites a segment (`src/pagecache/snapshot.rs:336,425`) and on drop
//! (`src/pagecache/logger.rs:467`). So a process left running makes its writes durable
//! within about half a second, but `flush` returning promises nothing of the kind.
//!
//! The other files sled writes, and what it does not sync:
//!
//! - `blobs/<lsn>`: a page fragment larger than `segment_size / 4` minus headers (about
//!   128 KiB with the default 512 KiB segments; `src/pagecache/logger.rs:166-173`) is
//!   written to its own file (`write_blob`, `src/pagecache/blob_io.rs:65-98`) and never
//!   `fsync`ed, nor is the `blobs` directory. Leaves split only above 16 entries
//!   (`src/node.rs:599-606`), so documents of a few KiB are enough to produce blobs.
//! - `conf`: written once at creation without `fsync` (`src/config.rs:666-683`).
//! - `snap.<lsn>`: written during recovery (`src/pagecache/snapshot.rs:364-366`),
//!   `fsync`ed and renamed into place (`src/pagecache/snapshot.rs:512-560`), but the
//!   directory is never `fsync`ed, so the rename (and the creation of `db`, `conf` and
//!   `blobs/`) is not durable.
//!
//! # What `SledStore` adds
//!
//! [`Store::sync`] is `Db::flush`, then an `fsync` of every blob file that appeared since
//! the last sync and of the `blobs` directory (only when there is one: one `readdir` per
//! sync), then `fdatasync` of `db` through a handle opened once in [`SledStore::open`]
//! (`fsync` works on any descriptor of the file). `fdatasync` commits the data, the file
//! size and the extents and, on file systems with barriers (ext4, xfs by default),
//! flushes the disk cache. A sync with nothing written since the last one does no I/O.
//! [`SledStore::open`] flushes and `fsync`s everything once (`db`, `conf`, every blob,
//! `blobs/`, the store directory and the parent of every directory it created), so a
//! freshly initialised store, and whatever recovery found, is durable before use.
//!
//! A file `LATTICE_STORE`, created durably once initialisation is durable, tells a new
//! store from one whose data sled could not find: sled 0.34.7 recovers an empty
//! database from a data file that is garbage from its first byte, and starting such a
//! store afresh would reuse the node's dots, so `open` refuses ([`StoreError::Corrupt`]).
//!
//! # Left open (only sled can fix these)
//!
//! - An unsynced batch whose pages went to blob files: its log record may reach the
//!   disk (by `sync_file_range` or sled's flusher) before its blob does. After an OS
//!   crash or power loss, recovery skips a missing blob without a word
//!   (`src/pagecache/iterator.rs:156-163`), which can recover such a batch in part, and
//!   stops at a torn one. Synced batches are not affected.
//! - Damage inside the log (a bad sector, a stray write) looks to recovery like a torn
//!   tail: sled recovers the prefix before it and reports nothing, so the store silently
//!   goes back in time, synced batches included (seen by overwriting 97 bytes in the
//!   middle of `db`). The replica does not trust its own log alone for its next
//!   sequence number: once a peer's digest shows dots of ours that the store lacks, it
//!   refuses writes until they are repaired (`Replica::note_peer_version`). Writes
//!   taken after such a restart and before any peer was heard from can still reuse
//!   dots; for a node started with seeds `/v1/ready` stays 503 until a peer has
//!   answered, so a load balancer that honours it sends none there.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lattice_crdt::{Dot, NodeId};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::{
    dot_of_log_key, log_key, DocReader, MetaKey, ReceiptId, Store, StoreError, WriteBatch,
    STORE_FORMAT_VERSION,
};

/// The metadata key of the node id the store belongs to (8 bytes, big-endian).
const NODE_KEY: &str = "store/node_id";
/// The metadata key of the layout version (4 bytes, big-endian).
const FORMAT_KEY: &str = "store/format_version";
/// A file created (durably) once the store's initialisation is durable. Its contents
/// are for people; its existence tells a damaged store from a new one.
const MARKER_FILE: &str = "LATTICE_STORE";
/// How many times `open` tries to take sled's lock on the store before giving up.
const LOCK_TRIES_MAX: u32 = 50;
/// The pause between two tries (so `open` waits at most about half a second).
const LOCK_RETRY_PAUSE_MS: u64 = 10;

/// A replica's store on disk: documents, delta log and metadata in a sled database.
///
/// Single owner: it is `&mut` to write and sync. After a `write` or `sync` fails, every
/// call fails until the store is reopened: sled may have applied part of the batch in
/// memory, and Linux may have dropped the pages whose write-back failed, so a retried
/// `fsync` could succeed without them. Reopening recovers what is really on disk.
pub struct SledStore {
    node: NodeId,
    db: sled::Db,
    docs: sled::Tree,
    log: sled::Tree,
    meta: sled::Tree,
    receipts: sled::Tree,
    files: DiskFiles,
    /// Whether a batch was written since the last successful sync.
    unsynced: bool,
    /// Why the store stopped working, once a write or sync failed.
    failed: Option<String>,
}

impl fmt::Debug for SledStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledStore")
            .field("node", &self.node)
            .field("dir", &self.files.dir)
            .field("unsynced", &self.unsynced)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens the store of `node` in directory `path`, creating and initialising it
    /// (durably) if it does not exist.
    ///
    /// Fails with [`StoreError::UnsupportedFormat`] if the store was written by another
    /// layout version, [`StoreError::WrongNode`] if it belongs to another node,
    /// [`StoreError::Corrupt`] if its metadata is unreadable or it is not a lattice
    /// store, and [`StoreError::Io`] if the directory cannot be used (for instance
    /// because another process has it open: `open` waits about half a second for it).
    pub fn open(path: &Path, node: NodeId) -> Result<SledStore, StoreError> {
        let created = missing_dirs(path);
        let db = open_sled(path)?;
        let open_tree = |name: &str| {
            db.open_tree(name)
                .map_err(|e| engine_error(&format!("open tree {name}"), e))
        };
        let (docs, log, meta) = (open_tree("docs")?, open_tree("log")?, open_tree("meta")?);
        let receipts = open_tree("receipts")?;
        let files = DiskFiles::open(path)?;
        let marked = files.is_marked_initialised();
        let mut store = SledStore {
            node,
            db,
            docs,
            log,
            meta,
            receipts,
            files,
            unsynced: false,
            failed: None,
        };
        store.check_or_initialise(marked)?;
        store.files.sync_all_at_open(&store.db, &created)?;
        if !marked {
            store.files.mark_initialised(node)?;
        }
        Ok(store)
    }

    /// Checks the recorded format version and node, or records them in a new store.
    ///
    /// `marked` says the store was initialised before (its marker file exists): then
    /// missing metadata means sled lost the data, and starting afresh would reuse this
    /// node's dots, so it is [`StoreError::Corrupt`].
    fn check_or_initialise(&mut self, marked: bool) -> Result<(), StoreError> {
        let Some(format) = self.meta_raw(FORMAT_KEY)? else {
            if marked {
                return Err(StoreError::Corrupt(format!(
                    "{MARKER_FILE} says this store was initialised, but sled recovered no \
                     lattice metadata: the data file is damaged, emptied or replaced"
                )));
            }
            return self.initialise();
        };
        let found = u32::from_be_bytes(fixed_bytes(&format, "format version")?);
        if found != STORE_FORMAT_VERSION {
            return Err(StoreError::UnsupportedFormat {
                found,
                expected: STORE_FORMAT_VERSION,
            });
        }
        let node = self
            .meta_raw(NODE_KEY)?
            .ok_or_else(|| StoreError::Corrupt("the store records no node id".into()))?;
        let found = NodeId::new(u64::from_be_bytes(fixed_bytes(&node, "node id")?))
            .ok_or_else(|| StoreError::Corrupt("the store records node id 0".into()))?;
        if found != self.node {
            return Err(StoreError::WrongNode {
                found,
                expected: self.node,
            });
        }
        Ok(())
    }

    /// Records the format version and node id in a store that has no data yet.
    fn initialise(&mut self) -> Result<(), StoreError> {
        let has_data = |tree: &sled::Tree| !tree.is_empty();
        let trees = [&self.docs, &self.log, &self.meta, &self.receipts];
        if trees.into_iter().any(has_data) {
            return Err(StoreError::Corrupt(
                "the database has data but no lattice format version".into(),
            ));
        }
        let mut batch = sled::Batch::default();
        batch.insert(FORMAT_KEY, &STORE_FORMAT_VERSION.to_be_bytes());
        batch.insert(NODE_KEY, &self.node.get().to_be_bytes());
        self.meta
            .apply_batch(batch)
            .map_err(|e| engine_error("initialise the store", e))
    }

    fn meta_raw(&self, key: &str) -> Result<Option<sled::IVec>, StoreError> {
        self.meta
            .get(key)
            .map_err(|e| engine_error(&format!("read metadata {key}"), e))
    }

    /// Refuses every call after a write or sync failed (see the type's doc).
    fn check_usable(&self) -> Result<(), StoreError> {
        match &self.failed {
            None => Ok(()),
            Some(why) => Err(StoreError::Io(format!(
                "an earlier write or sync failed ({why}); reopen the store"
            ))),
        }
    }

    /// Remembers a failed write or sync, so that later calls fail too.
    fn poison_on_error<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(error) = &result {
            self.failed = Some(error.to_string());
        }
        result
    }

    /// Applies a batch as one sled transaction over the four trees.
    fn transact(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        let trees = (&self.docs, &self.log, &self.meta, &self.receipts);
        let result = trees.transaction(|(docs, log, meta, receipts)| {
            for (key, value) in &batch.docs {
                match value {
                    Some(bytes) => docs.insert(key.as_bytes(), bytes.as_slice())?,
                    None => docs.remove(key.as_bytes())?,
                };
            }
            for (dot, record) in &batch.log {
                log.insert(&log_key(*dot)[..], &record[..])?;
            }
            for dot in &batch.log_deletes {
                log.remove(&log_key(*dot)[..])?;
            }
            for (key, value) in &batch.meta {
                meta.insert(key.name(), value.as_slice())?;
            }
            for (id, value) in &batch.receipts {
                match value {
                    Some(bytes) => receipts.insert(&id[..], bytes.as_slice())?,
                    None => receipts.remove(&id[..])?,
                };
            }
            Ok::<(), ConflictableTransactionError<Infallible>>(())
        });
        match result {
            Ok(()) => Ok(()),
            Err(TransactionError::Storage(e)) => Err(engine_error("write a batch", e)),
            Err(TransactionError::Abort(never)) => match never {},
        }
    }
}

impl Store for SledStore {
    fn node(&self) -> NodeId {
        self.node
    }

    fn doc(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.check_usable()?;
        let value = self
            .docs
            .get(key)
            .map_err(|e| engine_error("read a document", e))?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn docs_after(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.check_usable()?;
        // Keys with a common prefix are contiguous; a cursor before the prefix is moot.
        let start = match after {
            Some(after) if after >= prefix => Bound::Excluded(after.as_bytes()),
            _ => Bound::Included(prefix.as_bytes()),
        };
        let mut page = Vec::new();
        for entry in self.docs.range::<&[u8], _>((start, Bound::Unbounded)) {
            if page.len() >= limit {
                break;
            }
            let (key, value) = entry.map_err(|e| engine_error("list documents", e))?;
            if !key.starts_with(prefix.as_bytes()) {
                break;
            }
            let key = String::from_utf8(key.to_vec()).map_err(|e| {
                StoreError::Corrupt(format!("document key {:?} is not UTF-8", e.as_bytes()))
            })?;
            page.push((key, value.to_vec()));
        }
        Ok(page)
    }

    fn log_floor(&self, origin: NodeId, seq: u64) -> Result<Option<(Dot, Vec<u8>)>, StoreError> {
        self.check_usable()?;
        let range = log_key(Dot::new(origin, 0))..=log_key(Dot::new(origin, seq));
        match self.log.range(range).next_back() {
            None => Ok(None),
            Some(entry) => log_entry(entry).map(Some),
        }
    }

    fn log_range(
        &self,
        origin: NodeId,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<(Dot, Vec<u8>)>, StoreError> {
        self.check_usable()?;
        if from > to {
            return Ok(Vec::new());
        }
        let range = log_key(Dot::new(origin, from))..=log_key(Dot::new(origin, to));
        self.log.range(range).take(limit).map(log_entry).collect()
    }

    fn meta(&self, key: MetaKey) -> Result<Option<Vec<u8>>, StoreError> {
        self.check_usable()?;
        Ok(self.meta_raw(key.name())?.map(|v| v.to_vec()))
    }

    fn receipt(&self, id: &ReceiptId) -> Result<Option<Vec<u8>>, StoreError> {
        self.check_usable()?;
        let value = self
            .receipts
            .get(id)
            .map_err(|e| engine_error("read a receipt", e))?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn receipts_after(
        &self,
        after: Option<&ReceiptId>,
        limit: usize,
    ) -> Result<Vec<(ReceiptId, Vec<u8>)>, StoreError> {
        self.check_usable()?;
        let start = after.map_or(Bound::Unbounded, |id| Bound::Excluded(&id[..]));
        let mut page = Vec::new();
        for entry in self.receipts.range::<&[u8], _>((start, Bound::Unbounded)) {
            if page.len() >= limit {
                break;
            }
            let (id, value) = entry.map_err(|e| engine_error("list receipts", e))?;
            let id = id.as_ref().try_into().map_err(|_| {
                StoreError::Corrupt(format!("receipt id of {} bytes, not 32", id.len()))
            })?;
            page.push((id, value.to_vec()));
        }
        Ok(page)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        self.check_usable()?;
        if batch.is_empty() {
            return Ok(());
        }
        let result = self.transact(&batch);
        self.poison_on_error(result)?;
        self.unsynced = true;
        Ok(())
    }

    fn doc_reader(&self) -> Option<Arc<dyn DocReader>> {
        Some(Arc::new(SledDocReader(self.docs.clone())))
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        self.check_usable()?;
        if !self.unsynced {
            return Ok(());
        }
        let result = self.files.sync(&self.db);
        self.poison_on_error(result)?;
        self.unsynced = false;
        Ok(())
    }
}

/// Reads documents from other threads (a sled tree is a shared handle).
struct SledDocReader(sled::Tree);

impl DocReader for SledDocReader {
    fn doc(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self
            .0
            .get(key)
            .map_err(|e| engine_error("read a document", e))?;
        Ok(value.map(|v| v.to_vec()))
    }
}

/// The files sled writes that `sync` must `fsync` itself (see the module doc).
struct DiskFiles {
    /// The store's directory.
    dir: PathBuf,
    /// sled's data file `db`, opened once so that a sync costs no `open`.
    db_file: File,
    /// The blob files already `fsync`ed, by name.
    synced_blobs: BTreeSet<OsString>,
}

impl DiskFiles {
    fn open(dir: &Path) -> Result<DiskFiles, StoreError> {
        let path = dir.join("db");
        let db_file = File::open(&path).map_err(|e| io_error("open", &path, e))?;
        Ok(DiskFiles {
            dir: dir.to_path_buf(),
            db_file,
            synced_blobs: BTreeSet::new(),
        })
    }

    /// Makes every write sled accepted so far durable: flush, new blobs, `fdatasync`.
    fn sync(&mut self, db: &sled::Db) -> Result<(), StoreError> {
        db.flush()
            .map_err(|e| engine_error("flush sled's log", e))?;
        self.sync_new_blobs()?;
        self.db_file
            .sync_data()
            .map_err(|e| io_error("fdatasync", &self.dir.join("db"), e))
    }

    /// Once at open: everything sled wrote, and every directory entry leading to it.
    fn sync_all_at_open(&mut self, db: &sled::Db, created: &[PathBuf]) -> Result<(), StoreError> {
        db.flush()
            .map_err(|e| engine_error("flush sled's log", e))?;
        self.sync_new_blobs()?;
        fsync(&self.dir.join("conf"))?;
        self.db_file
            .sync_all()
            .map_err(|e| io_error("fsync", &self.dir.join("db"), e))?;
        fsync(&self.dir)?;
        for dir in created {
            fsync(dir)?;
            fsync(parent_dir(dir))?;
        }
        Ok(())
    }

    fn is_marked_initialised(&self) -> bool {
        self.dir.join(MARKER_FILE).exists()
    }

    /// Creates the marker file, once the initialised store is durable.
    fn mark_initialised(&self, node: NodeId) -> Result<(), StoreError> {
        let marker = self.dir.join(MARKER_FILE);
        let text = format!(
            "lattice store of node {node}, format version {STORE_FORMAT_VERSION}, on sled 0.34\n"
        );
        std::fs::write(&marker, text).map_err(|e| io_error("write", &marker, e))?;
        fsync(&marker)?;
        fsync(&self.dir)
    }

    /// `fsync`s the blob files that appeared since the last call, then their directory.
    fn sync_new_blobs(&mut self) -> Result<(), StoreError> {
        let blobs = self.dir.join("blobs");
        let listing = std::fs::read_dir(&blobs).map_err(|e| io_error("list", &blobs, e))?;
        let mut names = BTreeSet::new();
        for entry in listing {
            names.insert(entry.map_err(|e| io_error("list", &blobs, e))?.file_name());
        }
        let new: Vec<&OsString> = names.difference(&self.synced_blobs).collect();
        for name in &new {
            match File::open(blobs.join(name)) {
                Ok(file) => file
                    .sync_all()
                    .map_err(|e| io_error("fsync", &blobs.join(name), e))?,
                // sled removed it meanwhile: nothing left to make durable.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("open", &blobs.join(name), e)),
            }
        }
        if !new.is_empty() {
            fsync(&blobs)?;
        }
        self.synced_blobs = names;
        Ok(())
    }
}

/// Opens the sled database, waiting a little while its lock is held: sled 0.34.7
/// releases its file lock only after its background threads let go of the file, a
/// moment after the previous `Db` in this process was dropped (spacejam/sled#1234).
fn open_sled(path: &Path) -> Result<sled::Db, StoreError> {
    for _ in 1..LOCK_TRIES_MAX {
        match sled::Config::new().path(path).open() {
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(Duration::from_millis(LOCK_RETRY_PAUSE_MS));
            }
            result => return result.map_err(|e| engine_error("open the sled database", e)),
        }
    }
    let last_try = sled::Config::new().path(path).open();
    last_try.map_err(|e| engine_error("open the sled database (is another process using it?)", e))
}

/// `fsync`s a file or a directory by path.
fn fsync(path: &Path) -> Result<(), StoreError> {
    let file = File::open(path).map_err(|e| io_error("open", path, e))?;
    file.sync_all().map_err(|e| io_error("fsync", path, e))
}

/// The directories `path` and its ancestors that do not exist yet, deepest first: sled
/// creates them, and their entries in their parents must be made durable.
fn missing_dirs(path: &Path) -> Vec<PathBuf> {
    path.ancestors()
        .take_while(|dir| !dir.as_os_str().is_empty() && !dir.exists())
        .map(Path::to_path_buf)
        .collect()
}

/// The directory holding `path` (`.` for a bare relative name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Decodes one entry of the `log` tree.
fn log_entry(entry: sled::Result<(sled::IVec, sled::IVec)>) -> Result<(Dot, Vec<u8>), StoreError> {
    let (key, record) = entry.map_err(|e| engine_error("read the log", e))?;
    let dot = dot_of_log_key(&key)
        .ok_or_else(|| StoreError::Corrupt(format!("log key {:?} is not a dot", &key[..])))?;
    Ok((dot, record.to_vec()))
}

/// The `N` bytes of a fixed-size metadata value.
fn fixed_bytes<const N: usize>(value: &[u8], what: &str) -> Result<[u8; N], StoreError> {
    value.try_into().map_err(|_| {
        StoreError::Corrupt(format!("the {what} is {} bytes long, not {N}", value.len()))
    })
}

/// A sled failure, saying what the store was doing.
fn engine_error(doing: &str, error: sled::Error) -> StoreError {
    match error {
        sled::Error::Corruption { at, .. } => StoreError::Corrupt(format!(
            "sled found corrupt data (at {at:?}) while trying to {doing}"
        )),
        sled::Error::Unsupported(why) => {
            StoreError::Corrupt(format!("sled cannot {doing} in this database: {why}"))
        }
        sled::Error::Io(e) => StoreError::Io(format!("{doing}: {e}")),
        other => StoreError::Io(format!("sled failed to {doing}: {other}")),
    }
}

/// A file-system failure, saying on what.
fn io_error(doing: &str, path: &Path, error: io::Error) -> StoreError {
    StoreError::Io(format!("{doing} {}: {error}", path.display()))
}

#[cfg(test)]
mod tests;
