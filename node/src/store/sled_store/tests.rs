//! SledStore's tests: the store contract (`store_contract_tests!`), opening and
//! reopening (format, node, damage, locking), durable blobs, refusal after a failure,
//! and recovery after the process is killed mid-write.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use tempfile::TempDir;

use super::*;
use crate::store::contract_tests::{
    assert_matches_model, dot, dots, node, put_docs, sample_steps, store_contract_tests, Model,
    NODE,
};

fn fresh() -> (TempDir, SledStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("store"), NODE).unwrap();
    (dir, store)
}

store_contract_tests!(fresh);

fn reopen(store: SledStore, as_node: NodeId) -> Result<SledStore, StoreError> {
    let dir = store.files.dir.clone();
    drop(store);
    SledStore::open(&dir, as_node)
}

/// Writes `value` under a raw key of the meta tree, bypassing the store.
fn put_raw_meta(store: &SledStore, key: &str, value: &[u8]) {
    store.meta.insert(key, value).unwrap();
}

#[test]
fn fresh_directory_is_initialised_with_format_and_node() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b").join("store");
    let store = SledStore::open(&path, NODE).unwrap();
    let format = store.meta_raw(FORMAT_KEY).unwrap().unwrap();
    assert_eq!(&format[..], STORE_FORMAT_VERSION.to_be_bytes());
    assert_eq!(
        &store.meta_raw(NODE_KEY).unwrap().unwrap()[..],
        NODE.get().to_be_bytes()
    );
    for file in ["db", "conf", "blobs"] {
        assert!(path.join(file).exists(), "sled wrote {file}");
    }
    let store = reopen(store, NODE).unwrap();
    assert_eq!(store.node(), NODE);
}

#[test]
fn interrupted_initialisation_is_completed_on_reopen() {
    let (_dir, store) = fresh();
    let marker = store.files.dir.join(MARKER_FILE);
    let text = std::fs::read_to_string(&marker).unwrap();
    assert_eq!(
        text,
        format!("lattice store of node 7, format version {STORE_FORMAT_VERSION}, on sled 0.34\n")
    );
    std::fs::remove_file(&marker).unwrap(); // as if the first open died just before
    let store = reopen(store, NODE).unwrap();
    assert!(marker.exists());
    assert_eq!(store.node(), NODE);
}

#[test]
fn stores_can_move_to_the_runtime_thread() {
    fn is_send<T: Send>() {}
    is_send::<SledStore>();
    is_send::<crate::store::MemStore>();
}

#[test]
fn internal_meta_keys_never_collide_with_meta_key_names() {
    for key in [
        MetaKey::VersionVector,
        MetaKey::HlcHighWater,
        MetaKey::Pruned,
    ] {
        assert!(![NODE_KEY, FORMAT_KEY].contains(&key.name()));
    }
}

#[test]
fn reopen_after_sync_keeps_everything() {
    let (_dir, mut store) = fresh();
    let mut model = Model::default();
    for (batch, _) in sample_steps() {
        store.write(batch.clone()).unwrap();
        model.unsynced.push(batch);
    }
    store.sync().unwrap();
    model.sync();
    let store = reopen(store, NODE).unwrap();
    assert_matches_model(&store, &model);
}

#[test]
fn open_rejects_another_format_version() {
    // Version 1 stored documents with their whole context: such a store is refused.
    let (_dir, store) = fresh();
    put_raw_meta(&store, FORMAT_KEY, &1u32.to_be_bytes());
    let error = reopen(store, NODE).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::UnsupportedFormat {
                found: 1,
                expected: 2
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "store format version 1 is not supported (this build reads version 2)"
    );
}

#[test]
fn open_rejects_another_nodes_store() {
    let (_dir, store) = fresh();
    let error = reopen(store, node(8)).unwrap_err();
    assert!(matches!(error, StoreError::WrongNode { found, expected }
        if found == NODE && expected == node(8)));
    assert_eq!(error.to_string(), "store belongs to node 7, not 8");
}

/// Opens a store, lets `damage` write raw metadata, and returns the reopen error.
fn reopen_after(damage: impl FnOnce(&SledStore)) -> StoreError {
    let (_dir, store) = fresh();
    damage(&store);
    reopen(store, NODE).unwrap_err()
}

#[test]
fn malformed_metadata_is_corrupt_not_a_panic() {
    let short_format = reopen_after(|s| put_raw_meta(s, FORMAT_KEY, &[0, 1]));
    assert_eq!(
        short_format.to_string(),
        "corrupt store: the format version is 2 bytes long, not 4"
    );
    let zero_node = reopen_after(|s| put_raw_meta(s, NODE_KEY, &[0; 8]));
    assert!(matches!(zero_node, StoreError::Corrupt(_)), "{zero_node:?}");
    let long_node = reopen_after(|s| put_raw_meta(s, NODE_KEY, &[0; 9]));
    assert!(matches!(long_node, StoreError::Corrupt(_)), "{long_node:?}");
    let no_node = reopen_after(|s| {
        s.meta.remove(NODE_KEY).unwrap();
    });
    assert!(matches!(no_node, StoreError::Corrupt(_)), "{no_node:?}");
}

#[test]
fn database_without_lattice_metadata_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::open(dir.path()).unwrap();
    db.open_tree("docs")
        .unwrap()
        .insert("a", "someone else's data")
        .unwrap();
    drop(db);
    let error = SledStore::open(dir.path(), NODE).unwrap_err();
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
}

#[test]
fn malformed_keys_read_as_corrupt_not_a_panic() {
    let (_dir, store) = fresh();
    let mut long_key = log_key(dot(1, 5)).to_vec();
    long_key.push(0);
    store.log.insert(long_key, "x").unwrap();
    let range = store.log_range(node(1), 0, u64::MAX, 10).unwrap_err();
    assert!(matches!(range, StoreError::Corrupt(_)), "{range:?}");
    let floor = store.log_floor(node(1), 6).unwrap_err();
    assert!(matches!(floor, StoreError::Corrupt(_)), "{floor:?}");
    store.docs.insert([b'a', 0xff], "x").unwrap();
    let listing = store.docs_after("a", None, 10).unwrap_err();
    assert_eq!(
        listing.to_string(),
        "corrupt store: document key [97, 255] is not UTF-8"
    );
}

#[test]
fn damaged_data_file_is_an_error_not_a_panic() {
    let (_dir, mut store) = fresh();
    for (batch, _) in sample_steps() {
        store.write(batch).unwrap();
    }
    store.sync().unwrap();
    let path = store.files.dir.join("db");
    drop(store);
    let length = std::fs::metadata(&path).unwrap().len();
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all(&vec![0xA5; usize::try_from(length).unwrap()])
        .unwrap();
    drop(file);
    // sled 0.34.7 recovers an empty database from this; the marker file tells the
    // store it is not new, so it refuses instead of starting afresh.
    let error = SledStore::open(path.parent().unwrap(), NODE).unwrap_err();
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
}

#[test]
fn second_open_of_an_open_store_is_an_io_error() {
    let (dir, _store) = fresh();
    let error = SledStore::open(&dir.path().join("store"), NODE).unwrap_err();
    assert!(matches!(error, StoreError::Io(_)), "{error:?}");
}

#[test]
fn sync_makes_blob_files_durable_and_remembers_them() {
    let (_dir, mut store) = fresh();
    // One document over sled's blob threshold (about 128 KiB) goes to a blob file.
    let big = vec![7u8; 200 * 1024];
    store.write(put_docs(&[("big", &big)])).unwrap();
    store.sync().unwrap();
    let blobs = std::fs::read_dir(store.files.dir.join("blobs")).unwrap();
    let on_disk: BTreeSet<OsString> = blobs.map(|e| e.unwrap().file_name()).collect();
    assert!(!on_disk.is_empty(), "the test needs a blob to exist");
    assert!(on_disk.is_subset(&store.files.synced_blobs));
    let store = reopen(store, NODE).unwrap();
    assert_eq!(store.doc("big").unwrap(), Some(big));
}

#[test]
fn a_failed_store_refuses_every_call_until_reopened() {
    let (_dir, mut store) = fresh();
    store.write(put_docs(&[("a", b"1")])).unwrap();
    let failure = store.poison_on_error::<()>(Err(StoreError::Io("disk on fire".into())));
    assert!(failure.is_err());
    let refused = store.sync().unwrap_err().to_string();
    assert!(
        refused.contains("disk on fire") && refused.contains("reopen"),
        "{refused}"
    );
    assert!(store.doc("a").is_err());
    assert!(store.write(put_docs(&[("b", b"1")])).is_err());
    let store = reopen(store, NODE).unwrap();
    assert_eq!(
        store.doc("a").unwrap(),
        Some(b"1".to_vec()),
        "sled flushes on close"
    );
}

/// The environment variable that makes `child_writes_batches_until_killed` run.
const KILL_DIR_ENV: &str = "LATTICE_STORE_KILL_DIR";
/// A batch count after which the child is killed, while it keeps writing.
const KILL_AFTER_SYNCED: u64 = 40;

/// Batch `i` of the kill test: a counter in four places and a pruned log tail.
fn numbered_batch(i: u64) -> WriteBatch {
    WriteBatch {
        docs: vec![("last".into(), Some(i.to_be_bytes().to_vec()))],
        log: vec![(dot(7, i), i.to_be_bytes()[..].into())],
        log_deletes: i
            .checked_sub(3)
            .filter(|s| *s > 0)
            .map(|s| dot(7, s))
            .into_iter()
            .collect(),
        meta: vec![(MetaKey::VersionVector, i.to_be_bytes().to_vec())],
        receipts: vec![([7; 32], Some(i.to_be_bytes().to_vec()))],
    }
}

/// Run in a child process by the test below: writes numbered batches, syncs every
/// fifth and reports it on stdout, until killed.
#[test]
#[ignore = "a helper process for kill_mid_write_recovers_a_prefix_of_whole_batches"]
fn child_writes_batches_until_killed() {
    let Some(dir) = std::env::var_os(KILL_DIR_ENV) else {
        return;
    };
    let mut store = SledStore::open(Path::new(&dir), NODE).unwrap();
    for i in 1.. {
        store.write(numbered_batch(i)).unwrap();
        if i % 5 == 0 {
            store.sync().unwrap();
            println!("synced {i}");
        }
    }
}

#[test]
fn kill_mid_write_recovers_a_prefix_of_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let module = module_path!().split_once("::").map_or("", |(_, rest)| rest);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            &format!("{module}::child_writes_batches_until_killed"),
            "--exact",
        ])
        .args(["--ignored", "--nocapture", "--test-threads=1"])
        .env(KILL_DIR_ENV, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut synced = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if let Some(n) = line.unwrap().strip_prefix("synced ") {
            synced = n.parse().unwrap();
        }
        if synced >= KILL_AFTER_SYNCED {
            child.kill().unwrap(); // SIGKILL: no destructor, no flush
            break;
        }
    }
    child.wait().unwrap();
    assert!(synced >= KILL_AFTER_SYNCED, "the child never got there");
    assert_recovered_prefix(&SledStore::open(dir.path(), NODE).unwrap(), synced);
}

/// Asserts the store holds exactly batches `1..=n` of `numbered_batch` for some
/// `n >= synced`: every synced batch, and each later one whole or not at all.
fn assert_recovered_prefix(store: &SledStore, synced: u64) {
    let counter = store.meta(MetaKey::VersionVector).unwrap().unwrap();
    let n = u64::from_be_bytes(counter.try_into().unwrap());
    assert!(
        n >= synced,
        "lost synced batches: recovered {n}, synced {synced}"
    );
    assert_eq!(store.doc("last").unwrap(), Some(n.to_be_bytes().to_vec()));
    assert_eq!(
        store.receipt(&[7; 32]).unwrap(),
        Some(n.to_be_bytes().to_vec())
    );
    let tail: Vec<Dot> = (n.saturating_sub(2).max(1)..=n)
        .map(|i| dot(7, i))
        .collect();
    assert_eq!(
        dots(&store.log_range(node(7), 0, u64::MAX, 10).unwrap()),
        tail
    );
}
