//! What a run is asked to do: cluster size, seed, duration, which faults.

use std::fmt;
use std::time::Duration;

use thiserror::Error;

/// The kinds of trouble a run may inject.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Faults {
    /// Network partitions: symmetric, one-way, and a node isolated from all.
    pub partition: bool,
    /// Crashes that lose unsynced writes, and restarts.
    pub crash: bool,
    /// Pauses: a node stops processing for a while (a long GC, a frozen VM).
    pub pause: bool,
    /// Clock offsets, drift and jumps.
    pub skew: bool,
    /// Message loss, duplication and reordering.
    pub loss: bool,
}

/// A fault name that `--faults` does not know.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("unknown fault {0:?}; expected a comma list of partition, crash, pause, skew, loss (or all, none)")]
pub struct FaultsError(pub String);

impl Faults {
    /// Every kind of fault.
    pub const ALL: Faults = Faults {
        partition: true,
        crash: true,
        pause: true,
        skew: true,
        loss: true,
    };

    /// Parses a comma list such as `partition,crash,loss` (also `all` and `none`).
    pub fn parse(text: &str) -> Result<Faults, FaultsError> {
        let mut faults = Faults::default();
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "partition" => faults.partition = true,
                "crash" => faults.crash = true,
                "pause" => faults.pause = true,
                "skew" => faults.skew = true,
                "loss" => faults.loss = true,
                "all" => faults = Faults::ALL,
                "none" => faults = Faults::default(),
                other => return Err(FaultsError(other.to_owned())),
            }
        }
        Ok(faults)
    }

    fn names(&self) -> Vec<&'static str> {
        let all = [
            (self.partition, "partition"),
            (self.crash, "crash"),
            (self.pause, "pause"),
            (self.skew, "skew"),
            (self.loss, "loss"),
        ];
        all.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect()
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// Most client sessions when their number is not given.
const SESSIONS_DEFAULT_MAX: usize = 32;

/// One simulation run's options. The same options give the same run, bit for bit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Cluster size (at least 1).
    pub nodes: usize,
    /// The seed every random choice of the run derives from.
    pub seed: u64,
    /// Length of the faulty phase (workload running, faults injected), in simulated
    /// time. Healing and the quiet period come after it.
    pub duration: Duration,
    /// Which faults may be injected.
    pub faults: Faults,
    /// Swarm mode: the fault profile (which of `faults` are on, and how hard) is itself
    /// drawn from the seed.
    pub swarm: bool,
    /// Client sessions of the workload; `None`: one per node, at least 2, at most 32.
    /// `Some(0)` runs membership and anti-entropy alone.
    pub sessions: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            nodes: 5,
            seed: 0,
            duration: Duration::from_secs(300),
            faults: Faults::ALL,
            swarm: false,
            sessions: None,
        }
    }
}

impl Options {
    /// The command line that reproduces this run.
    pub fn command(&self) -> String {
        let mut command = format!(
            "lattice sim --nodes {} --seed {} --duration {} --faults {}",
            self.nodes,
            self.seed,
            format_duration(self.duration),
            self.faults,
        );
        if self.swarm {
            command.push_str(" --swarm");
        }
        if let Some(sessions) = self.sessions {
            command.push_str(&format!(" --sessions {sessions}"));
        }
        command
    }

    /// The number of client sessions the run uses.
    pub fn session_count(&self) -> usize {
        self.sessions
            .unwrap_or_else(|| self.nodes.clamp(2, SESSIONS_DEFAULT_MAX))
    }
}

/// Parses `300s`, `2m`, `1h`, `500ms` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 300s, 2m or 500ms"))?;
    let millis = match unit {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    millis
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// Formats a duration so that [`parse_duration`] reads it back.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1_000 == 0 {
        format!("{}s", ms / 1_000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_and_durations_round_trip() {
        let f = Faults::parse("crash,loss").unwrap();
        assert_eq!(f.to_string(), "crash,loss");
        assert_eq!(
            Faults::parse(&Faults::ALL.to_string()).unwrap(),
            Faults::ALL
        );
        assert!(Faults::parse("flood").is_err());
        for text in ["300s", "2m", "500ms", "1h", "7"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("2x").is_err());
    }
}
