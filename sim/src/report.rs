//! What a run, or a batch of runs, reports: checker results and the figures.

use std::fmt;

use serde::Serialize;

use crate::fault::Profile;
use crate::timeline::Timeline;

/// The report of one run that passed every checker.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// The command that reproduces the run.
    pub command: String,
    /// The seed.
    pub seed: u64,
    /// Cluster size.
    pub nodes: usize,
    /// The hash of the run's event trace: the same command gives the same hash.
    pub trace_hash: String,
    /// Events folded into the trace.
    pub trace_events: u64,
    /// The fault profile drawn for the run.
    pub profile: Profile,
    /// Faults injected (each break and its heal count once each).
    pub faults_injected: u64,
    /// Simulated time, faulty phase plus quiet period, in ms.
    pub simulated_ms: u64,
    /// Simulated time from heal-all until every replica held identical documents and
    /// version vectors, in ms.
    pub convergence_ms: u64,
    /// Simulated time from heal-all until every node saw every other node alive, in
    /// ms.
    pub membership_convergence_ms: u64,
    /// Writes acknowledged to sessions.
    pub writes_acked: u64,
    /// Writes a crash took before they were synced (never acknowledged).
    pub writes_lost_unacked: u64,
    /// Reads answered.
    pub reads: u64,
    /// Requests a node answered "session not ready" (the session moved on).
    pub session_not_ready: u64,
    /// Crashes injected.
    pub crashes: u64,
    /// Crashes that some node declared dead before the restart.
    pub crashes_detected: u64,
    /// For each detected crash, the time from the crash to the first "dead", in ms.
    pub detection_ms: Vec<u64>,
    /// False deaths: declarations (a node's own suspicion of a member timed out; news
    /// of the death spread by gossip does not count again) about a member that was
    /// running, unpaused, not restarted and not partitioned from the declarer in either
    /// direction during the whole suspicion. Message loss does not excuse a
    /// declaration: SWIM is meant to ride it out.
    pub false_dead: u64,
    /// Declarations about a running member that was paused, restarted or partitioned
    /// from the declarer at some time during the suspicion: the right verdict from
    /// where the declarer stood.
    pub dead_while_unreachable: u64,
    /// Messages sent by all nodes.
    pub messages: u64,
    /// Bytes sent by all nodes.
    pub bytes: u64,
    /// Messages per node per simulated second.
    pub messages_per_node_per_sec: f64,
    /// Bytes per node per simulated second.
    pub bytes_per_node_per_sec: f64,
    /// Group commits (store syncs) per node per simulated second.
    pub syncs_per_node_per_sec: f64,
    /// Records applied by anti-entropy: what dissemination lost, or had not brought yet.
    pub repairs: u64,
    /// Records dissemination brought to a node that already had them: anti-entropy got
    /// there first, or the node had them before a restart (its seen-set starts empty).
    pub late_deltas: u64,
    /// Frames a node refused (malformed, or an anti-entropy message it would not take).
    pub frames_refused: u64,
    /// Records brought by dissemination that a replica refused (malformed, too large,
    /// or stamped too far ahead of the receiver's clock: a clock jump beyond the maximum
    /// drift).
    pub records_refused: u64,
    /// What the first refusal was: which node refused what from whom, and why.
    pub first_refusal: Option<String>,
    /// Whole copies of payloads (records) sent, pushed or pulled, per payload a node
    /// took in as new: 1 would be a perfect tree; the rest are copies a node already
    /// had.
    pub whole_copies_per_delivery: f64,
    /// Payload ids offered (a payload's rounds after its first) per payload a node took
    /// in as new.
    pub offers_per_delivery: f64,
    /// Membership updates piggybacked on each message received: news of every member
    /// that joined, was suspected, died or refuted, each sent
    /// `retransmit_mult × ⌈log10(n + 1)⌉` times by every node.
    pub updates_per_message: f64,
    /// Checkers that ran and passed.
    pub checks: Vec<&'static str>,
    /// Membership transitions and faults over simulated time, for plots (not part of
    /// the JSON report, never part of the trace hash).
    #[serde(skip)]
    pub timeline: Timeline,
}

/// A run that failed a checker.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// What was violated.
    pub message: String,
    /// The command that reproduces it.
    pub command: String,
}

/// The report of a batch of runs (one seed or many).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Runs that passed.
    pub runs: Vec<RunReport>,
    /// Runs that failed.
    pub failures: Vec<Failure>,
}

/// p50, p99 and max of a sample (0 when empty).
fn percentiles(mut xs: Vec<u64>) -> (u64, u64, u64) {
    if xs.is_empty() {
        return (0, 0, 0);
    }
    xs.sort_unstable();
    let at = |p: usize| xs[((xs.len() - 1) * p).div_ceil(100)];
    (at(50), at(99), xs[xs.len() - 1])
}

impl Summary {
    /// Convergence time p50/p99/max over the runs, in ms.
    pub fn convergence_ms(&self) -> (u64, u64, u64) {
        percentiles(self.runs.iter().map(|r| r.convergence_ms).collect())
    }

    /// Membership convergence time p50/p99/max over the runs, in ms.
    pub fn membership_convergence_ms(&self) -> (u64, u64, u64) {
        percentiles(
            self.runs
                .iter()
                .map(|r| r.membership_convergence_ms)
                .collect(),
        )
    }

    /// Failure detection time p50/p99/max over every detected crash, in ms.
    pub fn detection_ms(&self) -> (u64, u64, u64) {
        percentiles(
            self.runs
                .iter()
                .flat_map(|r| r.detection_ms.iter().copied())
                .collect(),
        )
    }

    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let (c50, c99, cmax) = self.convergence_ms();
        let (m50, m99, mmax) = self.membership_convergence_ms();
        let (d50, d99, dmax) = self.detection_ms();
        serde_json::json!({
            "convergence_ms": { "p50": c50, "p99": c99, "max": cmax },
            "membership_convergence_ms": { "p50": m50, "p99": m99, "max": mmax },
            "detection_ms": { "p50": d50, "p99": d99, "max": dmax },
            "runs": self.runs,
            "failures": self.failures,
        })
    }

    fn mean(&self, f: impl Fn(&RunReport) -> f64) -> f64 {
        if self.runs.is_empty() {
            return 0.0;
        }
        self.runs.iter().map(f).sum::<f64>() / self.runs.len() as f64
    }

    fn total(&self, f: impl Fn(&RunReport) -> u64) -> u64 {
        self.runs.iter().map(f).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [run] = self.runs.as_slice() {
            writeln!(f, "run:          {}", run.command)?;
            writeln!(
                f,
                "trace hash:   {} ({} events)",
                run.trace_hash, run.trace_events
            )?;
            writeln!(f, "profile:      {:?}", run.profile)?;
        }
        let (c50, c99, cmax) = self.convergence_ms();
        let (m50, m99, mmax) = self.membership_convergence_ms();
        let (d50, d99, dmax) = self.detection_ms();
        writeln!(
            f,
            "runs:         {} passed, {} failed",
            self.runs.len(),
            self.failures.len()
        )?;
        writeln!(
            f,
            "convergence:  p50 {c50} ms, p99 {c99} ms, max {cmax} ms after heal"
        )?;
        writeln!(
            f,
            "membership:   every node saw every other alive p50 {m50} ms, p99 {m99} ms, max {mmax} ms after heal"
        )?;
        writeln!(
            f,
            "detection:    {} of {} crashes declared dead; p50 {d50} ms, p99 {d99} ms, max {dmax} ms",
            self.total(|r| r.crashes_detected),
            self.total(|r| r.crashes)
        )?;
        writeln!(
            f,
            "false dead:   {} declarations about reachable members ({} more about members paused, restarted or cut off from the declarer)",
            self.total(|r| r.false_dead),
            self.total(|r| r.dead_while_unreachable)
        )?;
        writeln!(
            f,
            "traffic:      {:.1} messages, {:.0} bytes per node per second",
            self.mean(|r| r.messages_per_node_per_sec),
            self.mean(|r| r.bytes_per_node_per_sec)
        )?;
        writeln!(
            f,
            "gossip:       {:.1} whole copies sent and {:.1} ids offered per record taken in; {:.1} membership updates on each message",
            self.mean(|r| r.whole_copies_per_delivery),
            self.mean(|r| r.offers_per_delivery),
            self.mean(|r| r.updates_per_message)
        )?;
        writeln!(
            f,
            "syncs:        {:.1} group commits per node per second",
            self.mean(|r| r.syncs_per_node_per_sec)
        )?;
        writeln!(
            f,
            "workload:     {} writes acknowledged, {} lost unacknowledged, {} reads, {} not-ready retries",
            self.total(|r| r.writes_acked),
            self.total(|r| r.writes_lost_unacked),
            self.total(|r| r.reads),
            self.total(|r| r.session_not_ready)
        )?;
        writeln!(
            f,
            "repairs:      {} records applied by anti-entropy; {} records came by dissemination after they were there (anti-entropy was first, or a restart)",
            self.total(|r| r.repairs),
            self.total(|r| r.late_deltas)
        )?;
        write!(
            f,
            "refused:      {} frames and {} records from peers",
            self.total(|r| r.frames_refused),
            self.total(|r| r.records_refused)
        )?;
        match self.runs.iter().find_map(|r| r.first_refusal.as_deref()) {
            Some(first) => writeln!(f, "; the first: {first}")?,
            None => writeln!(f)?,
        }
        if let Some(run) = self.runs.first() {
            writeln!(f, "checks:       {} passed", run.checks.join(", "))?;
        }
        for failure in &self.failures {
            writeln!(
                f,
                "FAILED seed {}: {}\n  reproduce: {}",
                failure.seed, failure.message, failure.command
            )?;
        }
        Ok(())
    }
}
