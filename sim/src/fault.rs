//! The fault profile (how hard the network and clocks misbehave) and the fault
//! schedule (what breaks when), both drawn from the seed.

use std::time::Duration;

use lattice_node::PruneConfig;

use crate::options::{Faults, Options};
use crate::rng::Rng;

/// How the network and clocks behave during the faulty phase.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Profile {
    /// One-way base latency of a link, in ms.
    pub latency_ms: u64,
    /// Extra random latency per message, up to this many ms (reorders messages).
    pub jitter_ms: u64,
    /// Percent of messages lost.
    pub loss_percent: u64,
    /// Percent of messages delivered twice.
    pub duplicate_percent: u64,
    /// Percent of messages held back up to ten jitters (heavy reordering).
    pub reorder_percent: u64,
    /// Largest clock offset of a node from true time, in ms (either sign).
    pub offset_ms_max: u64,
    /// Largest clock drift, in parts per million (either sign).
    pub drift_ppm_max: u64,
    /// Mean time between faults of each enabled kind, in ms.
    pub fault_gap_ms: u64,
    /// The faults in force.
    pub faults: Faults,
    /// Dots of each origin every node keeps in its delta log whatever its peers hold
    /// (`PruneConfig::retain_dots`). Swarm runs draw a handful in half the profiles, so
    /// that nodes prune every second and those that fall behind catch up by snapshot.
    pub log_retain_dots: u64,
}

impl Profile {
    /// The profile for `options`: fixed, moderate intensities for the enabled faults, or
    /// in swarm mode a random subset of them at random intensities.
    pub(crate) fn draw(options: &Options, rng: &mut Rng) -> Profile {
        let mut faults = options.faults;
        if options.swarm {
            for on in [
                &mut faults.partition,
                &mut faults.crash,
                &mut faults.pause,
                &mut faults.skew,
                &mut faults.loss,
            ] {
                *on = *on && rng.percent(60);
            }
        }
        let swarm = options.swarm;
        let pick = |rng: &mut Rng, fixed: u64, lo: u64, hi: u64| {
            if swarm {
                rng.range(lo, hi)
            } else {
                fixed
            }
        };
        let latency_ms = pick(rng, 5, 1, 50);
        let jitter_ms = pick(rng, 5, 0, latency_ms * 2);
        let (loss, dup, reorder) = if faults.loss {
            (
                pick(rng, 5, 1, 25),
                pick(rng, 2, 0, 10),
                pick(rng, 2, 0, 10),
            )
        } else {
            (0, 0, 0)
        };
        let (offset, drift) = if faults.skew {
            (pick(rng, 100, 10, 200), pick(rng, 100, 0, 200))
        } else {
            (0, 0)
        };
        let log_retain_dots = if swarm && rng.percent(50) {
            rng.range(1, 20)
        } else {
            PruneConfig::default().retain_dots
        };
        Profile {
            log_retain_dots,
            latency_ms,
            jitter_ms,
            loss_percent: loss,
            duplicate_percent: dup,
            reorder_percent: reorder,
            offset_ms_max: offset,
            drift_ppm_max: drift,
            fault_gap_ms: pick(rng, 20_000, 3_000, 40_000),
            faults,
        }
    }
}

/// One thing that breaks or heals.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Fault {
    /// Splits the cluster: nodes with `side[i]` cannot reach the others (and, unless
    /// `one_way`, the others cannot reach them). Healed by `Heal` with the same id.
    Partition {
        /// Identifies the partition for its heal.
        id: u32,
        /// Which side each node is on.
        side: Vec<bool>,
        /// Only messages from the `true` side to the other are dropped.
        one_way: bool,
    },
    /// Ends the partition `id`.
    Heal {
        /// The partition.
        id: u32,
    },
    /// The node crashes, losing everything not synced.
    Crash(usize),
    /// The node restarts from its store (no-op if running).
    Restart(usize),
    /// The node stops processing.
    Pause(usize),
    /// The node resumes, handling everything that queued up.
    Resume(usize),
    /// The node's clock jumps by this many ms (either sign).
    ClockJump(usize, i64),
}

/// A fault at a simulated time.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Scheduled {
    /// When, from the start of the run.
    pub at: Duration,
    /// What.
    pub fault: Fault,
}

/// The fault schedule of a run over `[start, end)`: for each enabled kind, faults
/// about `profile.fault_gap_ms` apart, each lasting 1–15 s and healed before `end`.
pub(crate) fn schedule(
    profile: &Profile,
    nodes: usize,
    start: Duration,
    end: Duration,
    rng: &mut Rng,
) -> Vec<Scheduled> {
    let mut out = Vec::new();
    let f = profile.faults;
    let kinds = [(f.partition, 0u8), (f.crash, 1), (f.pause, 2), (f.skew, 3)];
    let mut next_id = 0;
    for (on, kind) in kinds {
        if !on || nodes < 2 && kind == 0 {
            continue;
        }
        let mut at = start.as_millis() as u64 + rng.below(profile.fault_gap_ms);
        while at < end.as_millis() as u64 {
            let last = rng.range(1_000, 15_000);
            let until = (at + last).min(end.as_millis() as u64);
            let node = rng.below(nodes as u64) as usize;
            let (begin, finish) = match kind {
                0 => {
                    next_id += 1;
                    (
                        partition(next_id, nodes, rng),
                        Some(Fault::Heal { id: next_id }),
                    )
                }
                1 => (Fault::Crash(node), Some(Fault::Restart(node))),
                2 => (Fault::Pause(node), Some(Fault::Resume(node))),
                _ => {
                    let ms = rng.range(1, profile.offset_ms_max.max(1)) as i64;
                    (
                        Fault::ClockJump(node, if rng.percent(50) { ms } else { -ms }),
                        None,
                    )
                }
            };
            out.push(Scheduled {
                at: Duration::from_millis(at),
                fault: begin,
            });
            if let Some(heal) = finish {
                out.push(Scheduled {
                    at: Duration::from_millis(until),
                    fault: heal,
                });
            }
            at += profile.fault_gap_ms / 2 + rng.below(profile.fault_gap_ms);
        }
    }
    out.sort_by_key(|s| s.at);
    out
}

/// A random partition: a node isolated, a symmetric split, or a one-way split.
fn partition(id: u32, nodes: usize, rng: &mut Rng) -> Fault {
    let shape = rng.below(3);
    let side: Vec<bool> = if shape == 0 {
        let lone = rng.below(nodes as u64) as usize;
        (0..nodes).map(|i| i == lone).collect()
    } else {
        let mut side: Vec<bool> = (0..nodes).map(|_| rng.percent(50)).collect();
        side[0] = true;
        side[nodes - 1] = false;
        side
    };
    Fault::Partition {
        id,
        side,
        one_way: shape == 2,
    }
}
