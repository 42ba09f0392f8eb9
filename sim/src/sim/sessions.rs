//! The client sessions: requests, failover, acknowledgements, and the session and
//! clock checkers that run on every answer.

use std::time::Duration;

use lattice_crdt::{Dot, Op};
use lattice_node::{ReadError, WriteError};

use super::nodes::node_id;
use super::{Ev, Pending, Simulation};
use crate::check::AckedWrite;
use crate::workload::{batch, KEYS};

/// Percent of requests that are writes.
const WRITE_PERCENT: u64 = 60;

/// Percent of requests before which a session moves to another node unprompted.
const MOVE_PERCENT: u64 = 5;

impl Simulation {
    fn think(&mut self, s: usize, lo_ms: u64, hi_ms: u64) {
        let at = self.now + Duration::from_millis(self.rng.range(lo_ms, hi_ms));
        self.push(at, Ev::Session(s));
    }

    fn move_session(&mut self, s: usize) {
        let n = self.nodes.len() as u64;
        if n > 1 {
            let from = self.sessions[s].node as u64;
            self.sessions[s].node = ((from + 1 + self.rng.below(n - 1)) % n) as usize;
        }
    }

    /// A session's write failed (its node crashed before syncing it): it moves on.
    pub(super) fn session_failed(&mut self, s: usize) {
        self.sessions[s].waiting = false;
        self.move_session(s);
        if !self.quiet {
            self.think(s, 10, 100);
        }
    }

    /// A session's next request.
    pub(super) fn session_step(&mut self, s: usize) -> Result<(), String> {
        if self.quiet || self.sessions[s].waiting {
            return Ok(());
        }
        if self.rng.percent(MOVE_PERCENT) || !self.running(self.sessions[s].node) {
            self.move_session(s);
        }
        let i = self.sessions[s].node;
        if !self.running(i) {
            self.think(s, 50, 200);
            return Ok(());
        }
        let key = KEYS[self.rng.below(KEYS.len() as u64) as usize];
        self.trace
            .event(8, &[self.now.as_nanos() as u64, s as u64, i as u64]);
        if self.rng.percent(WRITE_PERCENT) {
            self.write(s, i, key)
        } else {
            self.read(s, i, key)
        }
    }

    fn not_ready(&mut self, s: usize, i: usize) -> Result<(), String> {
        self.counters.not_ready += 1;
        let core = self.nodes[i].core.as_ref().expect("running");
        if core
            .replica()
            .version_vector()
            .includes(self.sessions[s].token.past())
        {
            return Err(format!(
                "node {i} answered SessionNotReady to session {s}, but holds its past"
            ));
        }
        self.move_session(s);
        self.think(s, 20, 200);
        Ok(())
    }

    fn read(&mut self, s: usize, i: usize, key: &str) -> Result<(), String> {
        // A server answers a read only once what it shows is durable.
        self.sync_now(i)?;
        let core = self.nodes[i].core.as_ref().expect("running");
        let read = match core.read(key, Some(&self.sessions[s].token)) {
            Err(ReadError::SessionNotReady) => return self.not_ready(s, i),
            Err(e) => return Err(format!("node {i} refused a read of {key}: {e}")),
            Ok(read) => read,
        };
        let vv = core.replica().version_vector();
        let session = &mut self.sessions[s];
        if !vv.includes(&session.written) {
            return Err(format!("read-your-writes: session {s} read {key} on node {i}, which lacks its acknowledged writes"));
        }
        if !vv.includes(&session.seen) || !read.token.past().includes(&session.seen) {
            return Err(format!("monotonic reads: session {s} read {key} on node {i}, which has not seen what the session saw before"));
        }
        session.seen.join(read.token.past());
        session.token = read.token;
        self.counters.reads += 1;
        self.think(s, 20, 300);
        Ok(())
    }

    fn write(&mut self, s: usize, i: usize, key: &str) -> Result<(), String> {
        let ops = batch(&mut self.rng, key);
        let wall = self.wall(i);
        let core = self.nodes[i].core.as_mut().expect("running");
        let vv = core.replica().version_vector().clone();
        let first = vv.next_dot(node_id(i));
        let context = match core.replica().document(key) {
            Ok(doc) => doc.context().clone(),
            Err(e) => return Err(format!("node {i} cannot load {key}: {e}")),
        };
        let written = match core.write(wall, key, &ops, Some(&self.sessions[s].token)) {
            Err(WriteError::SessionNotReady) => return self.not_ready(s, i),
            Err(e) => {
                return Err(format!(
                    "node {i} refused a valid write {ops:?} to {key}: {e}"
                ))
            }
            Ok(w) => w,
        };
        let session = &self.sessions[s];
        if !vv.includes(&session.seen) || !vv.includes(&session.written) {
            return Err(format!("monotonic writes / writes-follow-reads: node {i} accepted session {s}'s write to {key} without its past"));
        }
        let timestamp = set_timestamp(core, key, &ops, first);
        self.sessions[s].waiting = true;
        self.nodes[i].pending.push(Pending {
            ticket: written.ticket,
            session: s,
            token: written.token,
            write: AckedWrite {
                node: i,
                key: key.to_owned(),
                ops,
                first,
                context,
                timestamp,
            },
        });
        self.flush(i);
        Ok(())
    }

    /// A write became durable on node `i`: the session gets its token, the checkers
    /// get the write.
    pub(super) fn acknowledge(&mut self, i: usize, p: Pending) -> Result<(), String> {
        if let Some(ts) = p.write.timestamp {
            let node = &mut self.nodes[i];
            if node.last_timestamp.is_some_and(|last| last >= ts) {
                return Err(format!(
                    "HLC of node {i} went backwards (restarts so far: {}): timestamp {ts} after {}",
                    node.epoch,
                    node.last_timestamp.expect("checked")
                ));
            }
            node.last_timestamp = Some(ts);
        }
        let session = &mut self.sessions[p.session];
        if !p.token.past().includes(&session.seen) {
            return Err(format!(
                "session {} got a write token that drops its past",
                p.session
            ));
        }
        for dot in p.write.dots() {
            session.written.insert(dot);
        }
        session.seen.join(p.token.past());
        session.token = p.token;
        session.waiting = false;
        self.trace.event(
            9,
            &[
                self.now.as_nanos() as u64,
                p.session as u64,
                p.write.first.seq,
            ],
        );
        self.acked.push(p.write);
        if !self.quiet {
            self.think(p.session, 20, 300);
        }
        Ok(())
    }
}

/// The HLC timestamp the write's `Set` got, read back from the staged document.
fn set_timestamp(
    core: &lattice_node::NodeCore<lattice_node::store::MemStore, u32>,
    key: &str,
    ops: &[Op],
    first: Dot,
) -> Option<lattice_crdt::Timestamp> {
    let (index, field) = ops.iter().enumerate().find_map(|(k, op)| match op {
        Op::Set { field, .. } => Some((k, field)),
        _ => None,
    })?;
    let dot = Dot::new(first.origin, first.seq + index as u64);
    let doc = core.replica().document(key).ok()?;
    let entries = doc.field(field)?.register().entries();
    entries
        .iter()
        .find(|(d, _)| *d == dot)
        .map(|(_, s)| s.timestamp)
}
