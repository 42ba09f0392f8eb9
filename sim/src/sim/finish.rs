//! The quiet period's convergence check and the final checkers and report.

use std::collections::BTreeMap;
use std::time::Duration;

use lattice_gossip::engine::{MemberState, Stats as GossipStats};

use lattice_node::NodeStats;

use super::{Ev, Simulation, QUIET_MAX};
use crate::check::{check_document, check_not_lost};
use crate::report::RunReport;
use crate::timeline::Timeline;
use crate::workload::KEYS;

impl Simulation {
    /// Why the replicas differ, or `None` if they are identical.
    fn divergence(&self) -> Result<Option<String>, String> {
        let cores: Vec<_> = self.nodes.iter().map(|n| n.core.as_ref()).collect();
        let Some(Some(first)) = cores.first() else {
            return Ok(None);
        };
        for (i, core) in cores.iter().enumerate().skip(1) {
            let Some(core) = core else {
                return Ok(Some(format!("node {i} is down")));
            };
            if core.replica().version_vector() != first.replica().version_vector() {
                return Ok(Some(format!(
                    "node {i} version vector {:?} != node 0's {:?}",
                    core.replica().version_vector(),
                    first.replica().version_vector()
                )));
            }
            for key in KEYS {
                let load = |c: &&lattice_node::NodeCore<_, _>| {
                    c.replica()
                        .document(key)
                        .map_err(|e| format!("loading {key}: {e}"))
                };
                let (a, b) = (load(first)?, load(core)?);
                if a != b {
                    return Ok(Some(format!(
                        "{key}: node {i} holds {} but node 0 {}",
                        b.to_json(),
                        a.to_json()
                    )));
                }
            }
        }
        Ok(None)
    }

    /// Why some node does not see every other node as alive, or `None` if all do.
    /// Heal-all restarts every crashed node, so every node is live at the end. Starts
    /// with the node that lagged at the last check, which most likely still does.
    fn membership_divergence(&mut self) -> Option<String> {
        let n = self.nodes.len();
        let start = self.members_lagging;
        for i in (start..n).chain(0..start) {
            let Some(core) = self.nodes[i].core.as_ref() else {
                return Some(format!("node {i} is down"));
            };
            let (mut known, mut all_alive) = (0, true);
            for m in core.members() {
                known += 1;
                all_alive &= m.state == MemberState::Alive;
                if !all_alive {
                    break;
                }
            }
            if all_alive && known == n - 1 {
                continue;
            }
            self.members_lagging = i;
            let states: BTreeMap<usize, MemberState> = core
                .members()
                .map(|m| (m.id.get() as usize - 1, m.state))
                .collect();
            let (j, state) = (0..n)
                .filter(|&j| j != i)
                .map(|j| (j, states.get(&j)))
                .find(|(_, s)| s != &Some(&MemberState::Alive))
                .expect("fewer than n - 1 members alive");
            return Some(match state {
                Some(state) => format!("node {i} sees node {j} as {state:?}"),
                None => format!("node {i} does not know node {j}"),
            });
        }
        None
    }

    /// A quiet-period check: the replicas hold identical documents and every node sees
    /// every other node alive (then the run ends), or not yet (or too late).
    pub(super) fn check_converged(&mut self) -> Result<(), String> {
        if self.converged_at.is_none() && self.divergence()?.is_none() {
            self.converged_at = Some(self.now);
        }
        if self.members_converged_at.is_none() && self.membership_divergence().is_none() {
            self.members_converged_at = Some(self.now);
        }
        if self.converged() {
            return Ok(());
        }
        if self.now - self.heal_at >= QUIET_MAX {
            let why = match self.divergence()? {
                Some(why) => why,
                None => self.membership_divergence().unwrap_or_default(),
            };
            return Err(format!(
                "no convergence {} s after heal-all: {why}",
                QUIET_MAX.as_secs()
            ));
        }
        self.push(self.now + super::CHECK_EVERY, Ev::Check);
        Ok(())
    }

    /// Whether both the data and the membership converged.
    pub(super) fn converged(&self) -> bool {
        self.converged_at.is_some() && self.members_converged_at.is_some()
    }

    /// The final checkers, then the report.
    pub(super) fn finish(&self) -> Result<RunReport, String> {
        let (Some(converged), Some(members_converged)) =
            (self.converged_at, self.members_converged_at)
        else {
            return Err("the run ended before converging".into());
        };
        let core = self.nodes[0].core.as_ref().ok_or("node 0 is down")?;
        check_not_lost(0, core.replica().version_vector(), &self.acked)?;
        for key in KEYS {
            let doc = core
                .replica()
                .document(key)
                .map_err(|e| format!("loading {key}: {e}"))?;
            check_document(key, &doc, &self.acked)?;
        }
        Ok(self.report(converged, members_converged))
    }

    fn report(&self, converged: Duration, members_converged: Duration) -> RunReport {
        let secs = self.now.as_secs_f64().max(1e-9);
        let n = self.nodes.len() as f64;
        let detection_ms = self
            .crashes
            .iter()
            .filter_map(|c| c.detected.map(|d| (d - c.at).as_millis() as u64))
            .collect::<Vec<_>>();
        // Every core's counters, those of cores that crashed included.
        let running = self.nodes.iter().filter_map(|x| x.core.as_ref());
        let crashed = self
            .nodes
            .iter()
            .flat_map(|x| x.crashed_stats.iter().copied());
        let counters: Vec<(NodeStats, GossipStats)> = running
            .map(|c| (c.stats(), c.gossip_stats()))
            .chain(crashed)
            .collect();
        let stat =
            |field: fn(&NodeStats) -> u64| -> u64 { counters.iter().map(|(s, _)| field(s)).sum() };
        let gossip = |field: fn(&GossipStats) -> u64| -> u64 {
            counters.iter().map(|(_, g)| field(g)).sum()
        };
        let delivered = gossip(|g| g.payloads_delivered).max(1) as f64;
        let repairs = stat(|s| s.repairs);
        let late_deltas = stat(|s| s.deltas_duplicate);
        RunReport {
            command: self.options.command(),
            seed: self.options.seed,
            nodes: self.nodes.len(),
            trace_hash: format!("{:016x}", self.trace.hash()),
            trace_events: self.trace.events(),
            profile: self.profile.clone(),
            faults_injected: self.counters.faults,
            simulated_ms: self.now.as_millis() as u64,
            convergence_ms: (converged - self.heal_at).as_millis() as u64,
            membership_convergence_ms: (members_converged - self.heal_at).as_millis() as u64,
            writes_acked: self.acked.len() as u64,
            writes_lost_unacked: self.counters.lost_unacked,
            reads: self.counters.reads,
            session_not_ready: self.counters.not_ready,
            crashes: self.crashes.len() as u64,
            crashes_detected: detection_ms.len() as u64,
            detection_ms,
            false_dead: self.counters.false_dead,
            dead_while_unreachable: self.counters.dead_while_unreachable,
            messages: self.counters.messages,
            bytes: self.counters.bytes,
            messages_per_node_per_sec: self.counters.messages as f64 / n / secs,
            bytes_per_node_per_sec: self.counters.bytes as f64 / n / secs,
            syncs_per_node_per_sec: stat(|s| s.syncs) as f64 / n / secs,
            repairs,
            late_deltas,
            frames_refused: stat(|s| s.frames_refused),
            records_refused: stat(|s| s.records_refused),
            first_refusal: self.counters.first_refusal.clone(),
            whole_copies_per_delivery: gossip(|g| g.payloads_sent + g.payloads_pulled) as f64
                / delivered,
            offers_per_delivery: gossip(|g| g.payload_ids_offered) as f64 / delivered,
            updates_per_message: gossip(|g| g.updates_received) as f64
                / gossip(|g| g.messages_received).max(1) as f64,
            checks: vec![
                "convergence",
                "membership converged",
                "no acknowledged write lost",
                "counters exact",
                "sets and registers match the model",
                "read-your-writes",
                "monotonic reads",
                "monotonic writes / writes-follow-reads",
                "HLC strictly increasing across restarts",
            ],
            timeline: Timeline {
                heal_at_ms: self.heal_at.as_millis() as u64,
                end_ms: self.now.as_millis() as u64,
                ..self.timeline.clone()
            },
        }
    }
}
