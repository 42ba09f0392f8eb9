//! State shared by a transport and its tasks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, Notify};

use super::peers::Peers;
use super::stats::Counters;
use super::{Incoming, Limits};

/// What every task of one transport sees.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) limits: Limits,
    pub(crate) counters: Counters,
    pub(crate) peers: Peers,
    pub(crate) in_flight: InFlight,
    /// Where received messages go; `None` once the transport is closing, so no new
    /// connection is read and `recv` ends when the last reader stops.
    inbox: Mutex<Option<mpsc::Sender<Incoming>>>,
}

impl Shared {
    pub(crate) fn new(limits: Limits, inbox: mpsc::Sender<Incoming>) -> Self {
        Self {
            peers: Peers::new(limits.connections_max.get()),
            limits,
            counters: Counters::default(),
            in_flight: InFlight::default(),
            inbox: Mutex::new(Some(inbox)),
        }
    }

    /// A sender into the receive queue, or `None` once closing.
    pub(crate) fn inbox(&self) -> Option<mpsc::Sender<Incoming>> {
        self.inbox_slot().clone()
    }

    /// Stops handing out senders; returns whether it was open.
    pub(crate) fn close_inbox(&self) -> bool {
        self.inbox_slot().take().is_some()
    }

    fn inbox_slot(&self) -> std::sync::MutexGuard<'_, Option<mpsc::Sender<Incoming>>> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Count of sent streams not yet acknowledged by their receiver, so `close` can wait
/// for them instead of cutting them off.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// Held while one sent stream awaits acknowledgement.
#[derive(Debug)]
pub(crate) struct InFlightGuard(Arc<Shared>);

impl Shared {
    /// Counts one more stream in flight until the guard is dropped. Taken before the
    /// waiting task is spawned, so `close` cannot miss it.
    pub(crate) fn stream_in_flight(self: &Arc<Self>) -> InFlightGuard {
        self.in_flight.count.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self.clone())
    }
}

impl InFlight {
    /// Returns once no stream is in flight.
    pub(crate) async fn wait_idle(&self) {
        loop {
            let idle = self.idle.notified();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let in_flight = &self.0.in_flight;
        if in_flight.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            in_flight.idle.notify_waiters();
        }
    }
}
