//! The networked node: a [`NodeCore`] driven over QUIC.
//!
//! One OS thread owns the core (its store does blocking I/O) and takes inputs from a
//! bounded channel: frames from peers, client calls, and its own timers. Each round it
//! handles everything waiting, runs due timers, makes staged changes durable with one
//! sync (group commit) when a request waits for it or the core says a sync is due
//! ([`NodeCore::sync_due`]: at once for a local write, within
//! [`CommitConfig::peer_delay`](crate::CommitConfig::peer_delay) for changes from
//! peers), answers the requests that sync covered, and hands the frames to send to a
//! tokio task. Two more tokio tasks move bytes: one feeds received frames in,
//! one sends, each frame on its own task so one slow peer holds up no other. Reads of
//! durable state are served on the caller's thread when the store allows it (see
//! `reads.rs`).

use std::net::SocketAddr;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use lattice_crdt::{NodeId, Op, VersionVector};
use lattice_gossip::engine::{Kind as GossipKind, MemberInfo};
use lattice_gossip::quic::Kind as QuicKind;
use lattice_gossip::tls::node_of_cert_name;
use lattice_gossip::QuicTransport;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::reads::ReadGate;
use super::{wall_clock, CallError, QUEUE_LEN_DEFAULT};
use crate::core::{NodeCore, NodeEvent, NodeStats, Readiness};
use crate::replica::{Changes, Read, Retry, Synced, Written};
use crate::store::{Store, StoreError};
use crate::token::SessionToken;

enum Input {
    Frame {
        from: SocketAddr,
        /// The node the peer's certificate names.
        peer: NodeId,
        bytes: Vec<u8>,
    },
    Write {
        key: String,
        ops: Vec<Op>,
        session: Option<SessionToken>,
        retry: Option<Retry>,
        reply: oneshot::Sender<Result<Written, CallError>>,
    },
    Read {
        key: String,
        session: Option<SessionToken>,
        reply: oneshot::Sender<Result<Read, CallError>>,
    },
    Members {
        reply: oneshot::Sender<Vec<MemberInfo<SocketAddr>>>,
    },
    List {
        prefix: String,
        after: Option<String>,
        limit: usize,
        reply: oneshot::Sender<Result<Page, CallError>>,
    },
    WaitFor {
        token: SessionToken,
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    Stats {
        reply: oneshot::Sender<(NodeStats, GossipStats)>,
    },
    Readiness {
        reply: oneshot::Sender<Readiness>,
    },
    Lag {
        reply: oneshot::Sender<Vec<(NodeId, u64)>>,
    },
    Changes {
        cursor: VersionVector,
        prefix: String,
        records_max: usize,
        reply: oneshot::Sender<Result<Changes, CallError>>,
    },
    Leave,
    Stop,
}

/// Session waits parked in the node thread, at most; more answer
/// [`CallError::Overloaded`].
const SESSION_WAITERS_MAX: usize = 4096;

/// Changes buffered for each [`NodeHandle::subscribe`] receiver; a slower receiver
/// gets `Lagged` and should re-read the documents it follows.
const CHANGES_BUFFERED_MAX: usize = 1024;

/// The membership engine's counters.
pub type GossipStats = lattice_gossip::engine::Stats;

/// A document's new state, published after each round's sync for every document the
/// round changed: by local writes, by records from peers, or by anti-entropy repairs.
/// Several changes to one document in one round give one `Change` with the state after
/// all of them.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The document's key.
    pub key: String,
    /// Its view after the change; `None` once it holds nothing.
    pub view: Option<Value>,
}

/// A page of documents from [`NodeHandle::list`].
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// Documents and their views, in key order. Documents holding nothing (deleted)
    /// are skipped, so a page may be shorter than asked even when more follow.
    pub docs: Vec<(String, Value)>,
    /// The last key scanned, when the page was full: list on after it for more.
    pub next: Option<String>,
}

/// A clonable way to call a running node.
#[derive(Clone, Debug)]
pub struct NodeHandle {
    tx: SyncSender<Input>,
    changes: broadcast::Sender<Change>,
    /// Reads without a call into the node thread, when the store has a reader.
    gate: Option<Arc<ReadGate>>,
}

/// A running node: the core's thread and its network tasks.
#[derive(Debug)]
pub struct NodeRuntime<S> {
    handle: NodeHandle,
    thread: JoinHandle<Result<NodeCore<S, SocketAddr>, StoreError>>,
    transport: Arc<QuicTransport>,
}

impl<S: Store + Send + 'static> NodeRuntime<S> {
    /// Starts `core` on `transport` and joins through `seeds`. Call inside a tokio
    /// runtime (it spawns the network tasks there).
    pub fn start(
        mut core: NodeCore<S, SocketAddr>,
        transport: QuicTransport,
        seeds: &[SocketAddr],
    ) -> Self {
        let transport = Arc::new(transport);
        let (tx, rx) = sync_channel(QUEUE_LEN_DEFAULT);
        let (out_tx, out_rx) = mpsc::channel(QUEUE_LEN_DEFAULT);
        let (changes, _) = broadcast::channel(CHANGES_BUFFERED_MAX);
        tokio::spawn(receive(Arc::clone(&transport), tx.clone()));
        tokio::spawn(send(Arc::clone(&transport), out_rx));
        let epoch = monotonic_epoch();
        core.join(Duration::ZERO, seeds);
        let feed = changes.clone();
        let gate = core
            .replica()
            .store()
            .doc_reader()
            .map(|reader| Arc::new(ReadGate::new(reader, core.replica().version_vector())));
        let driver_gate = gate.clone();
        let thread = thread::Builder::new()
            .name(format!("lattice-node-{}", core.replica().node()))
            .spawn(move || run(core, rx, out_tx, feed, driver_gate, epoch))
            .expect("spawning the node thread");
        NodeRuntime {
            handle: NodeHandle { tx, changes, gate },
            thread,
            transport,
        }
    }

    /// A handle to call the node.
    pub fn handle(&self) -> NodeHandle {
        self.handle.clone()
    }

    /// Leaves the cluster, stops (calls through other handles then fail with
    /// [`CallError::Stopped`]), closes the transport, and returns the core with its last
    /// writes synced.
    pub async fn stop(self) -> Result<NodeCore<S, SocketAddr>, StoreError> {
        let _ = self.handle.tx.try_send(Input::Leave);
        // Give the leave notice a moment to go out before the transport closes.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = self.handle.tx.send(Input::Stop);
        self.transport.close().await;
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join().expect("the node thread does not panic"))
            .await
            .expect("joining the node thread")
    }
}

impl NodeHandle {
    /// Applies `ops` to document `key`; answers once the write is durable.
    pub async fn write(
        &self,
        key: &str,
        ops: Vec<Op>,
        session: Option<SessionToken>,
    ) -> Result<Written, CallError> {
        self.call_write(key, ops, session, None).await
    }

    /// [`write`](NodeHandle::write) that the client may retry: a retry with the same
    /// `retry.id`, also after a restart of this node, answers the first attempt's result
    /// and applies nothing ([`Replica::write_once`](crate::Replica::write_once)).
    pub async fn write_once(
        &self,
        key: &str,
        ops: Vec<Op>,
        session: Option<SessionToken>,
        retry: Retry,
    ) -> Result<Written, CallError> {
        self.call_write(key, ops, session, Some(retry)).await
    }

    async fn call_write(
        &self,
        key: &str,
        ops: Vec<Op>,
        session: Option<SessionToken>,
        retry: Option<Retry>,
    ) -> Result<Written, CallError> {
        let (reply, rx) = oneshot::channel();
        let key = key.to_owned();
        self.send(Input::Write {
            key,
            ops,
            session,
            retry,
            reply,
        })?;
        rx.await.unwrap_or(Err(CallError::Stopped))
    }

    /// Reads document `key`.
    pub async fn read(&self, key: &str, session: Option<SessionToken>) -> Result<Read, CallError> {
        if let Some(read) = self
            .gate
            .as_ref()
            .and_then(|g| g.read(key, session.as_ref()))
        {
            return Ok(read);
        }
        let (reply, rx) = oneshot::channel();
        let key = key.to_owned();
        self.send(Input::Read {
            key,
            session,
            reply,
        })?;
        rx.await.unwrap_or(Err(CallError::Stopped))
    }

    /// The members this node knows of.
    pub async fn members(&self) -> Result<Vec<MemberInfo<SocketAddr>>, CallError> {
        let (reply, rx) = oneshot::channel();
        self.send(Input::Members { reply })?;
        rx.await.map_err(|_| CallError::Stopped)
    }

    /// Up to `limit` documents whose keys start with `prefix` and sort after `after`,
    /// in key order, with their views (see [`Page`]).
    pub async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, CallError> {
        let (reply, rx) = oneshot::channel();
        self.send(Input::List {
            prefix: prefix.to_owned(),
            after: after.map(str::to_owned),
            limit,
            reply,
        })?;
        rx.await.unwrap_or(Err(CallError::Stopped))
    }

    /// Waits until this node's state includes `token`'s causal past, at most `max_wait`;
    /// answers whether it does. The node thread answers as soon as a round brings it in.
    pub async fn wait_until(
        &self,
        token: &SessionToken,
        max_wait: Duration,
    ) -> Result<bool, CallError> {
        let (reply, rx) = oneshot::channel();
        self.send(Input::WaitFor {
            token: token.clone(),
            reply,
        })?;
        match tokio::time::timeout(max_wait, rx).await {
            Ok(Ok(Ok(()))) => Ok(true),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err(CallError::Stopped),
            Err(_) => Ok(false),
        }
    }

    /// Counters of the core and of its membership engine.
    pub async fn stats(&self) -> Result<(NodeStats, GossipStats), CallError> {
        let (reply, rx) = oneshot::channel();
        self.send(Input::Stats { reply })?;
        rx.await.map_err(|_| CallError::Stopped)
    }

    /// The documents under `prefix` changed since `cursor`, for an offline-first client
    /// ([`Replica::changes_since`](crate::Replica::changes_since)); answered once what it
    /// reports is durable.
    pub async fn changes_since(
        &self,
        cursor: &VersionVector,
        prefix: &str,
        records_max: usize,
    ) -> Result<Changes, CallError> {
        let (reply, rx) = oneshot::channel();
        self.send(Input::Changes {
            cursor: cursor.clone(),
            prefix: prefix.to_owned(),
            records_max,
            reply,
        })?;
        rx.await.unwrap_or(Err(CallError::Stopped))
    }

    /// Per live member, the dots this node holds that it lacked at its last digest
    /// ([`NodeCore::replication_lag`]).
    pub async fn replication_lag(&self) -> Result<Vec<(NodeId, u64)>, CallError> {
        let (reply, rx) = oneshot::channel();
        self.send(Input::Lag { reply })?;
        rx.await.map_err(|_| CallError::Stopped)
    }

    /// Whether the node has joined and caught up ([`NodeCore::readiness`]).
    pub async fn readiness(&self) -> Result<Readiness, CallError> {
        let (reply, rx) = oneshot::channel();
        self.send(Input::Readiness { reply })?;
        rx.await.map_err(|_| CallError::Stopped)
    }

    /// Every document change from now on (see [`Change`]).
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    fn send(&self, input: Input) -> Result<(), CallError> {
        self.tx.try_send(input).map_err(|e| match e {
            TrySendError::Full(_) => CallError::Overloaded,
            TrySendError::Disconnected(_) => CallError::Stopped,
        })
    }
}

/// Feeds frames from the transport to the core; ends when either side closes.
async fn receive(transport: Arc<QuicTransport>, tx: SyncSender<Input>) {
    while let Some(incoming) = transport.recv().await {
        let Some(peer) = node_of_cert_name(&incoming.peer_name) else {
            // A cluster certificate that names no node (not `node-<id>`): it may not
            // speak for any.
            tracing::warn!(peer = %incoming.peer_name, "dropped a frame from a certificate that names no node");
            continue;
        };
        let input = Input::Frame {
            from: incoming.from,
            peer,
            bytes: incoming.bytes,
        };
        match tx.try_send(input) {
            Ok(()) | Err(TrySendError::Full(_)) => {} // a full core sheds frames; gossip retries
            Err(TrySendError::Disconnected(_)) => break,
        }
    }
}

/// Sends the core's frames, each on its own task.
async fn send(
    transport: Arc<QuicTransport>,
    mut rx: mpsc::Receiver<(SocketAddr, Vec<u8>, GossipKind)>,
) {
    while let Some((to, bytes, kind)) = rx.recv().await {
        let transport = Arc::clone(&transport);
        let kind = match kind {
            GossipKind::Datagram => QuicKind::Datagram,
            GossipKind::Stream => QuicKind::Stream,
        };
        tokio::spawn(async move {
            // Lost frames are the protocol's business: gossip and anti-entropy retry.
            let _ = transport.send(to, bytes, kind).await;
        });
    }
}

/// Writes and reads answered once the round's sync is done.
enum Waiting {
    Write(oneshot::Sender<Result<Written, CallError>>, Written),
    Read(oneshot::Sender<Result<Read, CallError>>, Read),
    Changes(oneshot::Sender<Result<Changes, CallError>>, Changes),
}

type Outbox = mpsc::Sender<(SocketAddr, Vec<u8>, GossipKind)>;

/// A session waiting for this node to include its past, and where to say so.
type SessionWait = (SessionToken, oneshot::Sender<Result<(), CallError>>);

/// What the node thread keeps between rounds, besides the core.
struct Driver {
    /// Sessions waiting for this node to include their past.
    sessions: Vec<SessionWait>,
    /// Where changes go.
    changes: broadcast::Sender<Change>,
    /// Told around every sync, when reads bypass the thread.
    gate: Option<Arc<ReadGate>>,
    refusals: RefusalLog,
}

/// How often at most a refusal of what a peer sent is logged.
const REFUSAL_LOG_PERIOD: Duration = Duration::from_secs(10);

/// Logs frames and records from peers that were refused: at most one line per
/// [`REFUSAL_LOG_PERIOD`], which says how many were refused since the last, so a peer
/// that sends refused data in bulk (its clock far ahead, say) shows in the log without
/// flooding it. Every refusal is also counted (`/metrics`).
#[derive(Default)]
struct RefusalLog {
    /// When the last line was logged, since the node thread's epoch.
    logged_at: Option<Duration>,
    since: u64,
}

impl RefusalLog {
    /// Notes a refusal at `now` (since the epoch), logging it unless a line went out less
    /// than a period ago.
    fn note(
        &mut self,
        now: Duration,
        peer: SocketAddr,
        what: &str,
        reason: &dyn std::fmt::Display,
    ) {
        self.since += 1;
        if self
            .logged_at
            .is_some_and(|at| now < at + REFUSAL_LOG_PERIOD)
        {
            return;
        }
        tracing::warn!(%peer, refused = self.since, "refused {what} from a peer: {reason}");
        self.logged_at = Some(now);
        self.since = 0;
    }
}

impl Driver {
    /// Syncs the core, closing the read gate while the store changes.
    fn sync<S: Store>(
        &self,
        core: &mut NodeCore<S, SocketAddr>,
        now: Duration,
    ) -> Result<Synced, StoreError> {
        if let Some(gate) = &self.gate {
            gate.writing();
        }
        let synced = core.sync(now)?; // on failure the gate stays closed: the node stops
        if let Some(gate) = &self.gate {
            gate.synced(core.replica().version_vector());
        }
        Ok(synced)
    }
}

fn run<S: Store>(
    mut core: NodeCore<S, SocketAddr>,
    rx: Receiver<Input>,
    out: Outbox,
    changes: broadcast::Sender<Change>,
    gate: Option<Arc<ReadGate>>,
    epoch: Instant,
) -> Result<NodeCore<S, SocketAddr>, StoreError> {
    let mut driver = Driver {
        sessions: Vec::new(),
        changes,
        gate,
        refusals: RefusalLog::default(),
    };
    loop {
        let wait = [core.poll_timeout(), core.sync_due()]
            .into_iter()
            .flatten()
            .min()
            .map(|t| t.saturating_sub(epoch.elapsed()))
            .unwrap_or(Duration::from_secs(1));
        let first = match rx.recv_timeout(wait) {
            Ok(input) => Some(input),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let inputs: Vec<Input> = first.into_iter().chain(rx.try_iter().take(1023)).collect();
        let mut waiting = Vec::new();
        let mut stop = false;
        for input in inputs {
            stop |= matches!(input, Input::Stop);
            handle(&mut core, input, epoch, &mut waiting, &mut driver);
        }
        let now = epoch.elapsed();
        if core.poll_timeout().is_some_and(|t| t <= now) {
            core.handle_timeout(now, wall_clock());
        }
        let mut changed = Vec::new();
        // Changes from peers wait for their commit delay (or a local write), unless a
        // request waits for durability or someone follows the changes.
        let waited = !waiting.is_empty() || driver.changes.receiver_count() > 0;
        if core.needs_sync() && (waited || core.sync_due().is_some_and(|t| t <= now)) {
            match driver.sync(&mut core, now) {
                Ok(synced) => changed = synced.changed,
                Err(e) => {
                    let message = e.to_string();
                    for w in waiting {
                        answer(w, Err(CallError::Sync(message.clone())));
                    }
                    return Err(e);
                }
            }
        }
        for w in waiting {
            answer(w, Ok(()));
        }
        publish(&core, changed, &driver.changes);
        answer_sessions(&mut core, &mut driver.sessions, now);
        while let Some(t) = core.poll_transmit() {
            let _ = out.try_send((t.to, t.bytes, t.kind)); // a full outbox sheds; protocols retry
        }
        // Membership is read through `members`; refusals are logged.
        while let Some(event) = core.poll_event() {
            if let NodeEvent::Refused { from, reason } = event {
                driver.refusals.note(now, from, "a record", &reason);
            }
        }
        if stop {
            break;
        }
    }
    let synced = driver.sync(&mut core, epoch.elapsed());
    if let Some(gate) = &driver.gate {
        gate.writing(); // stopped: every read goes to the (gone) thread and fails
    }
    synced?;
    Ok(core)
}

fn handle<S: Store>(
    core: &mut NodeCore<S, SocketAddr>,
    input: Input,
    epoch: Instant,
    waiting: &mut Vec<Waiting>,
    driver: &mut Driver,
) {
    let now = epoch.elapsed();
    match input {
        Input::Frame { from, peer, bytes } => {
            // Counted in stats.
            if let Err(e) = core.handle_authenticated_frame(now, wall_clock(), from, peer, &bytes) {
                driver.refusals.note(now, from, "a frame", &e);
            }
        }
        Input::Write {
            key,
            ops,
            session,
            retry,
            reply,
        } => {
            let written = match &retry {
                None => core.write(wall_clock(), &key, &ops, session.as_ref()),
                Some(retry) => core.write_once(wall_clock(), &key, &ops, session.as_ref(), retry),
            };
            match written {
                Ok(written) => waiting.push(Waiting::Write(reply, written)),
                Err(e) => drop(reply.send(Err(e.into()))),
            }
        }
        Input::Read {
            key,
            session,
            reply,
        } => match core.read(&key, session.as_ref()) {
            // The token names every dot the node holds: answer after the round's sync.
            Ok(read) if read.pending || core.needs_sync() => {
                waiting.push(Waiting::Read(reply, read))
            }
            other => drop(reply.send(other.map_err(CallError::from))),
        },
        Input::Members { reply } => drop(reply.send(core.members().collect())),
        Input::List {
            prefix,
            after,
            limit,
            reply,
        } => drop(reply.send(list(core, &prefix, after.as_deref(), limit))),
        Input::WaitFor { token, reply } => {
            if core.replica().can_serve(&token) {
                drop(reply.send(Ok(())));
            } else if driver.sessions.len() < SESSION_WAITERS_MAX {
                core.pull(now, token.past());
                driver.sessions.push((token, reply));
            } else {
                drop(reply.send(Err(CallError::Overloaded)));
            }
        }
        Input::Stats { reply } => drop(reply.send((core.stats(), core.gossip_stats()))),
        Input::Readiness { reply } => drop(reply.send(core.readiness())),
        Input::Lag { reply } => drop(reply.send(core.replication_lag())),
        Input::Changes {
            cursor,
            prefix,
            records_max,
            reply,
        } => match core.replica().changes_since(&cursor, &prefix, records_max) {
            // Like a read: what it reports must be durable first.
            Ok(changes) if core.needs_sync() => waiting.push(Waiting::Changes(reply, changes)),
            other => drop(reply.send(other.map_err(|e| CallError::Read(e.into())))),
        },
        Input::Leave => core.leave(now),
        Input::Stop => {}
    }
}

fn answer(waiting: Waiting, result: Result<(), CallError>) {
    match (waiting, result) {
        (Waiting::Write(reply, written), Ok(())) => drop(reply.send(Ok(written))),
        (Waiting::Read(reply, read), Ok(())) => drop(reply.send(Ok(read))),
        (Waiting::Changes(reply, changes), Ok(())) => drop(reply.send(Ok(changes))),
        (Waiting::Write(reply, _), Err(e)) => drop(reply.send(Err(e))),
        (Waiting::Read(reply, _), Err(e)) => drop(reply.send(Err(e))),
        (Waiting::Changes(reply, _), Err(e)) => drop(reply.send(Err(e))),
    }
}

/// Reads a page of documents for [`NodeHandle::list`].
fn list<S: Store>(
    core: &NodeCore<S, SocketAddr>,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Page, CallError> {
    let store_error = |e: StoreError| CallError::Read(e.into());
    let replica = core.replica();
    let docs = replica
        .store()
        .docs_after(prefix, after, limit)
        .map_err(store_error)?;
    let next = docs
        .last()
        .filter(|_| docs.len() >= limit)
        .map(|(key, _)| key.clone());
    let mut page = Vec::with_capacity(docs.len());
    for (key, _) in docs {
        let doc = replica.document(&key).map_err(store_error)?;
        if !doc.is_bottom() {
            page.push((key, doc.to_json()));
        }
    }
    Ok(Page { docs: page, next })
}

/// Publishes the new state of the documents a round changed, if anyone listens.
fn publish<S: Store>(
    core: &NodeCore<S, SocketAddr>,
    changed: Vec<String>,
    changes: &broadcast::Sender<Change>,
) {
    if changes.receiver_count() == 0 {
        return;
    }
    for key in changed {
        if let Ok(doc) = core.replica().document(&key) {
            let view = (!doc.is_bottom()).then(|| doc.to_json());
            let _ = changes.send(Change { key, view });
        }
    }
}

/// Answers the session waits this node can now serve, forgets abandoned ones, and asks
/// peers again for what the others still lack.
fn answer_sessions<S: Store>(
    core: &mut NodeCore<S, SocketAddr>,
    sessions: &mut Vec<SessionWait>,
    now: Duration,
) {
    let mut lacking = VersionVector::new();
    let mut i = 0;
    while i < sessions.len() {
        if sessions[i].1.is_closed() {
            sessions.swap_remove(i);
        } else if core.replica().can_serve(&sessions[i].0) {
            let (_, reply) = sessions.swap_remove(i);
            drop(reply.send(Ok(())));
        } else {
            lacking.join(sessions[i].0.past());
            i += 1;
        }
    }
    if !sessions.is_empty() {
        core.pull(now, &lacking);
    }
}

/// The start of the node's monotonic clock: the driver's one read of it.
#[allow(clippy::disallowed_methods)]
fn monotonic_epoch() -> Instant {
    Instant::now()
}
