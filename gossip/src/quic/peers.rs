//! The table of connections to peers, by the peer's (listening) address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use quinn::Connection;
use tokio::sync::OwnedMutexGuard;

/// One peer's connection, if any. Its async lock is held while dialling, so concurrent
/// senders to one peer wait for one handshake instead of starting several.
type Slot = Arc<tokio::sync::Mutex<Option<Connection>>>;

/// Connections by peer address, at most `max` peers. Connections accepted from a peer
/// are used to send to it too, so two nodes usually share one connection.
#[derive(Debug)]
pub(crate) struct Peers {
    table: Mutex<HashMap<SocketAddr, Slot>>,
    max: usize,
}

/// The table holds `max` peers with live connections or dials in progress.
#[derive(Debug)]
pub(crate) struct Full;

impl Peers {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            table: Mutex::new(HashMap::new()),
            max,
        }
    }

    /// Locks `addr`'s slot: it holds a live connection, or the caller dials and fills it.
    pub(crate) async fn lock(
        &self,
        addr: SocketAddr,
    ) -> Result<OwnedMutexGuard<Option<Connection>>, Full> {
        loop {
            let slot = self.slot(addr)?;
            let guard = slot.clone().lock_owned().await;
            // The slot may have been pruned while we waited: then start over.
            if self.is_current(addr, &slot) {
                return Ok(guard);
            }
        }
    }

    /// Remembers an accepted connection for sending, unless the peer already has a live
    /// connection or a dial to it is in progress.
    pub(crate) fn offer(&self, conn: &Connection) {
        let Ok(slot) = self.slot(conn.remote_address()) else {
            return;
        };
        if let Ok(mut current) = slot.try_lock() {
            if !is_live(&current) {
                *current = Some(conn.clone());
            }
        };
    }

    /// Forgets every peer (on close).
    pub(crate) fn clear(&self) {
        self.table().clear();
    }

    fn slot(&self, addr: SocketAddr) -> Result<Slot, Full> {
        let mut table = self.table();
        if let Some(slot) = table.get(&addr) {
            return Ok(slot.clone());
        }
        if table.len() >= self.max {
            // Drop peers whose connection is gone and that nobody is dialling.
            table.retain(|_, slot| slot.try_lock().map_or(true, |c| is_live(&c)));
        }
        if table.len() >= self.max {
            return Err(Full);
        }
        let slot = Slot::default();
        table.insert(addr, slot.clone());
        Ok(slot)
    }

    fn is_current(&self, addr: SocketAddr, slot: &Slot) -> bool {
        self.table()
            .get(&addr)
            .is_some_and(|current| Arc::ptr_eq(current, slot))
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Slot>> {
        // The table is consistent after every statement, so a panic elsewhere cannot
        // leave it half-updated.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether a slot holds a connection that is still open.
pub(crate) fn is_live(conn: &Option<Connection>) -> bool {
    conn.as_ref().is_some_and(|c| c.close_reason().is_none())
}
