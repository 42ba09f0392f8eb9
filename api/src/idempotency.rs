//! `Idempotency-Key` on writes: a repeat within the window answers the first result
//! and applies nothing again.
//!
//! Kept in memory, bounded and expiring: it does NOT survive a restart of the node yet
//! (issue 5 asks that it does; that needs a small durable table in the store).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

/// A write's answer, as first sent.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    /// The response body.
    pub(crate) body: String,
    /// The session token answered.
    pub(crate) session: String,
    /// What the request asked, so a reuse of the key for another request is caught.
    pub(crate) request: u64,
}

type Cell = Arc<OnceCell<Stored>>;

/// The remembered keys. Concurrent repeats share one cell, so the write runs once.
#[derive(Debug)]
pub(crate) struct Idempotency {
    window: Duration,
    keys_max: usize,
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    cells: HashMap<String, (Instant, Cell)>,
    order: VecDeque<(Instant, String)>,
}

impl Idempotency {
    /// Remembers keys for `window`, at most `keys_max` at once.
    pub(crate) fn new(window: Duration, keys_max: usize) -> Idempotency {
        Idempotency {
            window,
            keys_max,
            entries: Mutex::default(),
        }
    }

    /// The cell for `key` (scoped by the caller to token and document), new or
    /// remembered.
    pub(crate) fn cell(&self, key: String) -> Cell {
        let now = now();
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        while let Some((at, _)) = e.order.front() {
            if now.duration_since(*at) < self.window && e.order.len() < self.keys_max {
                break;
            }
            let (at, old) = e.order.pop_front().expect("front exists");
            if e.cells.get(&old).is_some_and(|(t, _)| *t == at) {
                e.cells.remove(&old);
            }
        }
        if let Some((_, cell)) = e.cells.get(&key) {
            return Arc::clone(cell);
        }
        let cell = Cell::default();
        e.cells.insert(key.clone(), (now, Arc::clone(&cell)));
        e.order.push_back((now, key));
        cell
    }
}

/// The API's clock for expiry (the driver layer may read it; cores may not).
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_remembered_until_it_expires_or_is_crowded_out() {
        let keys = Idempotency::new(Duration::from_secs(60), 2);
        let a = keys.cell("a".into());
        assert!(Arc::ptr_eq(&a, &keys.cell("a".into())));
        keys.cell("b".into());
        keys.cell("c".into()); // crowds out "a", the oldest
        assert!(!Arc::ptr_eq(&a, &keys.cell("a".into())));

        let brief = Idempotency::new(Duration::ZERO, 10);
        let x = brief.cell("x".into());
        assert!(
            !Arc::ptr_eq(&x, &brief.cell("x".into())),
            "an expired key is forgotten"
        );
    }
}
