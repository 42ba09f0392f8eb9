//! The runtime: one thread owns a [`Replica`] (or, networked, a
//! [`NodeCore`](crate::NodeCore): see [`NodeRuntime`]) and group-commits its writes.
//!
//! Callers send requests through a bounded channel (STYLE.md 12: the core is owned, not
//! locked). The thread takes every request that is waiting, stages each write, then
//! makes them all durable with one [`Replica::sync`] and only then answers them: one
//! disk flush per round, however many writers. A read of a document with writes still
//! in the round waits for the same sync, so no reader sees state a crash could take
//! back. This is the only place in the crate that reads the wall clock or spawns.
//!
//! If a sync fails, the thread answers every waiting writer with the error and stops:
//! after a failed fsync the kernel may have dropped the dirty pages, so going on could
//! acknowledge lost data.

mod node;
mod reads;

pub use node::{Change, GossipStats, NodeHandle, NodeRuntime, Page};

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::thread::{self, JoinHandle};
use std::time::{SystemTime, UNIX_EPOCH};

use lattice_crdt::{Op, NTP64};
use thiserror::Error;
use tokio::sync::oneshot;

use crate::replica::{Read, ReadError, Replica, WriteError, Written};
use crate::store::{Store, StoreError};
use crate::token::SessionToken;

/// Requests waiting for the replica thread, at most (default 4,096). A full queue makes
/// callers get [`CallError::Overloaded`] instead of queueing without bound.
pub const QUEUE_LEN_DEFAULT: usize = 4096;

/// Requests handled per group-commit round, at most.
const ROUND_LEN_MAX: usize = 1024;

/// Why a call to the runtime failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CallError {
    /// The write was refused; nothing changed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The read was refused.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The write was staged but could not be made durable; the runtime has stopped.
    #[error("the write could not be made durable: {0}")]
    Sync(String),
    /// The request queue is full; retry later.
    #[error("the replica is overloaded; retry later")]
    Overloaded,
    /// The runtime has stopped.
    #[error("the replica has stopped")]
    Stopped,
}

enum Input {
    Write {
        key: String,
        ops: Vec<Op>,
        session: Option<SessionToken>,
        reply: oneshot::Sender<Result<Written, CallError>>,
    },
    Read {
        key: String,
        session: Option<SessionToken>,
        reply: oneshot::Sender<Result<Read, CallError>>,
    },
}

/// A cheap, clonable way to call the replica thread.
#[derive(Clone, Debug)]
pub struct Handle {
    tx: SyncSender<Input>,
}

/// The replica thread. Dropping every [`Handle`] and calling [`Runtime::stop`] ends it.
#[derive(Debug)]
pub struct Runtime<S> {
    handle: Handle,
    thread: JoinHandle<Result<Replica<S>, StoreError>>,
}

impl<S: Store + Send + 'static> Runtime<S> {
    /// Starts the thread that owns `replica`, with a queue of `queue_len` requests.
    pub fn start(replica: Replica<S>, queue_len: usize) -> Runtime<S> {
        let (tx, rx) = sync_channel(queue_len.max(1));
        let thread = thread::Builder::new()
            .name(format!("lattice-replica-{}", replica.node()))
            .spawn(move || run(replica, rx))
            .expect("spawning the replica thread");
        Runtime {
            handle: Handle { tx },
            thread,
        }
    }

    /// A handle to call the replica.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Stops once every other handle is dropped and returns the replica (with its last
    /// writes synced), or the sync error that stopped it.
    pub fn stop(self) -> Result<Replica<S>, StoreError> {
        drop(self.handle);
        self.thread
            .join()
            .expect("the replica thread does not panic")
    }
}

impl Handle {
    /// Applies `ops` to the document `key` and waits until the write is durable. Blocks
    /// the calling thread: from async code use [`write_async`](Handle::write_async).
    pub fn write(
        &self,
        key: &str,
        ops: Vec<Op>,
        session: Option<SessionToken>,
    ) -> Result<Written, CallError> {
        self.send_write(key, ops, session)?
            .blocking_recv()
            .unwrap_or(Err(CallError::Stopped))
    }

    /// [`write`](Handle::write) for async callers.
    pub async fn write_async(
        &self,
        key: &str,
        ops: Vec<Op>,
        session: Option<SessionToken>,
    ) -> Result<Written, CallError> {
        self.send_write(key, ops, session)?
            .await
            .unwrap_or(Err(CallError::Stopped))
    }

    /// Reads the document `key` (waiting for the current round's sync if the document
    /// has writes in it). Blocks the calling thread.
    pub fn read(&self, key: &str, session: Option<SessionToken>) -> Result<Read, CallError> {
        let (reply, rx) = oneshot::channel();
        self.send(Input::Read {
            key: key.to_owned(),
            session,
            reply,
        })?;
        rx.blocking_recv().unwrap_or(Err(CallError::Stopped))
    }

    fn send_write(
        &self,
        key: &str,
        ops: Vec<Op>,
        session: Option<SessionToken>,
    ) -> Result<oneshot::Receiver<Result<Written, CallError>>, CallError> {
        let (reply, rx) = oneshot::channel();
        self.send(Input::Write {
            key: key.to_owned(),
            ops,
            session,
            reply,
        })?;
        Ok(rx)
    }

    fn send(&self, input: Input) -> Result<(), CallError> {
        self.tx.try_send(input).map_err(|e| match e {
            TrySendError::Full(_) => CallError::Overloaded,
            TrySendError::Disconnected(_) => CallError::Stopped,
        })
    }
}

/// Answers waiting for the round's sync.
enum Waiting {
    Write(oneshot::Sender<Result<Written, CallError>>, Written),
    Read(oneshot::Sender<Result<Read, CallError>>, Read),
}

fn run<S: Store>(mut replica: Replica<S>, rx: Receiver<Input>) -> Result<Replica<S>, StoreError> {
    while let Ok(first) = rx.recv() {
        let round = std::iter::once(first).chain(rx.try_iter().take(ROUND_LEN_MAX - 1));
        let mut waiting = Vec::new();
        let mut staged = false;
        for input in round.collect::<Vec<_>>() {
            staged |= handle_input(&mut replica, input, &mut waiting);
        }
        if staged {
            if let Err(e) = replica.sync() {
                for w in waiting {
                    fail(w, &e);
                }
                return Err(e);
            }
        }
        for w in waiting {
            match w {
                Waiting::Write(reply, written) => drop(reply.send(Ok(written))),
                Waiting::Read(reply, read) => drop(reply.send(Ok(read))),
            }
        }
    }
    replica.sync()?;
    Ok(replica)
}

/// Handles one request; returns whether it staged a write.
fn handle_input<S: Store>(
    replica: &mut Replica<S>,
    input: Input,
    waiting: &mut Vec<Waiting>,
) -> bool {
    match input {
        Input::Write {
            key,
            ops,
            session,
            reply,
        } => match replica.write(wall_clock(), &key, &ops, session.as_ref()) {
            Ok(written) => {
                waiting.push(Waiting::Write(reply, written));
                true
            }
            Err(e) => {
                drop(reply.send(Err(e.into())));
                false
            }
        },
        Input::Read {
            key,
            session,
            reply,
        } => {
            // The read's token names every dot the replica holds: answer only once the
            // round's sync made them durable, or a crash could take back what it names.
            let staged = replica.unsynced_records().next().is_some();
            match replica.read(&key, session.as_ref()) {
                Ok(read) if read.pending || staged => waiting.push(Waiting::Read(reply, read)),
                other => drop(reply.send(other.map_err(CallError::from))),
            }
            false
        }
    }
}

fn fail(waiting: Waiting, error: &StoreError) {
    let message = error.to_string();
    match waiting {
        Waiting::Write(reply, _) => drop(reply.send(Err(CallError::Sync(message)))),
        Waiting::Read(reply, _) => drop(reply.send(Err(CallError::Sync(message)))),
    }
}

/// The wall clock as NTP64 since the Unix epoch: the one clock read of the node crate.
#[allow(clippy::disallowed_methods)]
pub(crate) fn wall_clock() -> NTP64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    NTP64::from(since_epoch)
}
