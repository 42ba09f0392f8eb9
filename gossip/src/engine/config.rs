//! The engine's settings: every knob with its unit, default, bound and tuning advice.
//!
//! Defaults follow hashicorp memberlist's LAN profile (`DefaultLANConfig`), which is
//! tuned for a data-centre network with sub-millisecond to few-millisecond round trips.

use std::num::NonZeroU32;
use std::time::Duration;

use thiserror::Error;

/// Settings of an [`Engine`](super::Engine). Check them with [`Config::validate`];
/// [`Engine::try_new`](super::Engine::try_new) does.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Lifeguard on (true) or plain SWIM (false): local health awareness, suspicion
    /// timeouts that shrink with confirmations, nacks from indirect probers, and the
    /// "buddy system" (a suspect learns of its suspicion on the next probe). Off only to
    /// measure what Lifeguard buys; production keeps it on.
    pub lifeguard: bool,
    /// One protocol period: one member is probed per period. Bound: 10 ms ..= 60 s.
    /// Shorter detects failures sooner at a proportional cost in messages.
    pub probe_interval: Duration,
    /// How long to wait for a direct ack before asking others to probe (the floor of the
    /// phi-adaptive timeout). Bound: 1 ms ..= `probe_interval`. Set it above the 99.9th
    /// percentile round trip of your network.
    pub probe_timeout: Duration,
    /// How many members are asked to probe indirectly after a missed ack (SWIM's k).
    /// Bound: ..= 16. More rules out more broken paths at k messages per missed ack.
    pub indirect_checks: NonZeroU32,
    /// Suspicion timeout multiplier: the minimum suspicion timeout is
    /// `suspicion_mult × max(1, log10(n)) × probe_interval`. Bound: ..= 64. Higher gives
    /// a slow or flaky member longer to refute, and detects real failures later.
    pub suspicion_mult: NonZeroU32,
    /// The suspicion timeout without confirmations is this multiple of the minimum
    /// (Lifeguard). Bound: ..= 64. Higher protects more against one confused suspector.
    pub suspicion_max_timeout_mult: NonZeroU32,
    /// A membership update is piggybacked at most `retransmit_mult × ⌈log10(n + 1)⌉`
    /// times. Bound: ..= 64. Raise it on lossy networks.
    pub retransmit_mult: NonZeroU32,
    /// Local health (Lifeguard): timeouts and the probe interval stretch up to this
    /// multiple when this node misses acks, nacks, or has to refute. Bound: ..= 64.
    pub awareness_max: NonZeroU32,
    /// Period of the gossip round that spreads pending membership updates and payloads
    /// to `gossip_nodes` random members. Bound: 1 ms ..= 60 s. Shorter spreads faster;
    /// each round with something pending costs `gossip_nodes` messages.
    pub gossip_interval: Duration,
    /// Fanout: members each gossip round (and each payload push) goes to. Bound: ..= 64.
    /// 3 reaches a LAN cluster of hundreds in a few rounds.
    pub gossip_nodes: NonZeroU32,
    /// A payload is pushed for `payload_rounds_mult × ⌈log10(n + 1)⌉` gossip rounds, whole
    /// in the first (right away at its origin) and as an offer of its id after, before the
    /// node forgets it. Bound: ..= 16. Higher delivers more without anti-entropy's help,
    /// at one id per extra round and fanout member.
    pub payload_rounds_mult: NonZeroU32,
    /// A payload stops being pushed (offered, or sent whole if its first round has not
    /// come yet), before its rounds are done, once this many copies and offers of it
    /// have come back from peers: with every holder sending to
    /// `gossip_nodes` members a round, a node hears about `gossip_nodes` echoes a round
    /// once nearly all hold it, and offers after that reach almost only holders.
    /// Bound: ..= 1024. The default, twice the default fanout, stops about two rounds
    /// into saturation; in a 1,000-node simulation it cut the ids offered by 58% and
    /// the bytes sent by a third, and anti-entropy repaired no more.
    pub payload_echoes_max: NonZeroU32,
    /// phi above which a silence is treated as a missed ack (the adaptive probe timeout
    /// is where the ack-delay estimator's phi crosses it). Bound: 1.0 ..= 100.0. 8 means
    /// about a 1e-8 chance that a healthy member's ack is still on its way.
    pub phi_threshold: f64,
    /// Samples kept by each phi-accrual estimator (heartbeats and ack delays). Bound:
    /// 2 ..= 10 000. More is smoother and slower to adapt.
    pub phi_window_samples: NonZeroU32,
    /// Floor of the heartbeat estimator's standard deviation (Akka's
    /// `min-std-deviation`). Bound: 1 ms ..= 60 s. Raise it when members are heard from
    /// irregularly, so that phi does not jump.
    pub phi_std_deviation_min: Duration,
    /// Floor of the ack-delay estimator's standard deviation. Bound: 100 µs ..= 60 s.
    /// Raise it on networks with bursty delay.
    pub ack_std_deviation_min: Duration,
    /// A dead or left member is forgotten (reaped) this long after it went down.
    /// Bound: 1 s ..= 7 days. Longer keeps retrying dead members to heal long partitions.
    pub reap_after: Duration,
    /// After reaping, the member's last incarnation is remembered this long, so stale
    /// gossip cannot bring it back. Bound: `reap_after` ..= 30 days. Keep it well above
    /// the time gossip can take to die out (seconds) and any partition you expect to heal
    /// from members that still remember the reaped one.
    pub tombstone_ttl: Duration,
    /// Every interval, one dead member and one unreachable seed are sent our membership
    /// (a push–pull sync), which heals partitions and retries failed joins.
    /// Bound: 100 ms ..= 1 h. Shorter heals sooner at two small streams per interval.
    pub rejoin_interval: Duration,
    /// Every interval the node exchanges its full membership with one random live member
    /// (push–pull, memberlist's `PushPullInterval`), repairing news that gossip lost.
    /// Bound: 1 s ..= 1 h. Shorter repairs sooner at two streams of about 30 bytes per
    /// member per interval.
    pub push_pull_interval: Duration,
    /// Every interval the engine names a random live member for anti-entropy
    /// ([`Event::AntiEntropy`](super::Event::AntiEntropy)). Bound: 10 ms ..= 1 h.
    pub anti_entropy_interval: Duration,
    /// Largest datagram (probe, ack, gossip) the engine sends. Bound: 256 ..= 65 000.
    /// 1200 fits a QUIC datagram on any path with the IPv6 minimum MTU.
    pub datagram_bytes_max: usize,
    /// Largest stream message (payloads, membership sync) the engine sends or accepts.
    /// Bound: `datagram_bytes_max` ..= 64 MiB. Payloads larger than this minus a few
    /// dozen bytes of header are left to anti-entropy.
    pub stream_bytes_max: usize,
    /// Most members (and most remembered reaped members) kept. Bound: 1 ..= 1 000 000.
    pub members_max: usize,
    /// Most payloads being pushed at once; beyond it the oldest stop early (anti-entropy
    /// repairs what they miss). Bound: 1 ..= 1 000 000.
    pub payload_queue_max: usize,
    /// Most payload bytes being pushed at once. Bound: `stream_bytes_max` ..= 4 GiB.
    pub payload_queue_bytes_max: usize,
    /// How many payload ids are remembered to drop duplicates; a payload seen again after
    /// its id was forgotten is delivered again. Bound: 16 ..= 10 000 000. Size it above
    /// payloads per second × the seconds a payload circulates (a few) with a wide margin.
    pub seen_payloads_max: usize,
    /// Most indirect probes this node runs for others at once. Bound: 1 ..= 10 000.
    pub relays_max: usize,
    /// Most messages waiting in [`poll_transmit`](super::Engine::poll_transmit); more are
    /// dropped and counted. Bound: 16 ..= 1 000 000.
    pub transmit_queue_max: usize,
    /// Most events waiting in [`poll_event`](super::Engine::poll_event); more are dropped
    /// and counted. Bound: 16 ..= 1 000 000.
    pub event_queue_max: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            lifeguard: true,
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            indirect_checks: nz(3),
            suspicion_mult: nz(4),
            suspicion_max_timeout_mult: nz(6),
            retransmit_mult: nz(4),
            awareness_max: nz(8),
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: nz(3),
            payload_rounds_mult: nz(2),
            payload_echoes_max: nz(6),
            phi_threshold: 8.0,
            phi_window_samples: nz(100),
            phi_std_deviation_min: Duration::from_millis(100),
            ack_std_deviation_min: Duration::from_millis(10),
            reap_after: Duration::from_secs(30),
            tombstone_ttl: Duration::from_secs(300),
            rejoin_interval: Duration::from_secs(10),
            push_pull_interval: Duration::from_secs(30),
            anti_entropy_interval: Duration::from_secs(1),
            datagram_bytes_max: 1200,
            stream_bytes_max: 1 << 20,
            members_max: 4096,
            payload_queue_max: 1024,
            payload_queue_bytes_max: 16 << 20,
            seen_payloads_max: 16_384,
            relays_max: 64,
            transmit_queue_max: 4096,
            event_queue_max: 4096,
        }
    }
}

/// A setting outside its documented bound. Nothing was built.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `field` is outside `bound`.
    #[error("gossip config: {field} must be in {bound}")]
    OutOfBounds {
        /// The offending field.
        field: &'static str,
        /// Its bound, as documented.
        bound: &'static str,
    },
}

const fn nz(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(n) => n,
        None => panic!("zero"),
    }
}

fn check(ok: bool, field: &'static str, bound: &'static str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::OutOfBounds { field, bound })
    }
}

fn within(d: Duration, lo: Duration, hi: Duration) -> bool {
    lo <= d && d <= hi
}

impl Config {
    /// Checks every field against its documented bound.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_timing()?;
        self.validate_counts()?;
        self.validate_sizes()
    }

    fn validate_timing(&self) -> Result<(), ConfigError> {
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        check(
            within(self.probe_interval, ms(10), s(60)),
            "probe_interval",
            "10ms..=60s",
        )?;
        check(
            within(self.probe_timeout, ms(1), self.probe_interval),
            "probe_timeout",
            "1ms..=probe_interval",
        )?;
        check(
            within(self.gossip_interval, ms(1), s(60)),
            "gossip_interval",
            "1ms..=60s",
        )?;
        check(
            within(self.reap_after, s(1), s(7 * 86_400)),
            "reap_after",
            "1s..=7d",
        )?;
        check(
            within(self.tombstone_ttl, self.reap_after, s(30 * 86_400)),
            "tombstone_ttl",
            "reap_after..=30d",
        )?;
        check(
            within(self.rejoin_interval, ms(100), s(3600)),
            "rejoin_interval",
            "100ms..=1h",
        )?;
        check(
            within(self.push_pull_interval, s(1), s(3600)),
            "push_pull_interval",
            "1s..=1h",
        )?;
        check(
            within(self.anti_entropy_interval, ms(10), s(3600)),
            "anti_entropy_interval",
            "10ms..=1h",
        )?;
        check(
            within(self.phi_std_deviation_min, ms(1), s(60)),
            "phi_std_deviation_min",
            "1ms..=60s",
        )?;
        check(
            within(
                self.ack_std_deviation_min,
                Duration::from_micros(100),
                s(60),
            ),
            "ack_std_deviation_min",
            "100us..=60s",
        )
    }

    fn validate_counts(&self) -> Result<(), ConfigError> {
        let at_most = |v: NonZeroU32, max: u32| v.get() <= max;
        check(
            at_most(self.indirect_checks, 16),
            "indirect_checks",
            "1..=16",
        )?;
        check(at_most(self.suspicion_mult, 64), "suspicion_mult", "1..=64")?;
        check(
            at_most(self.suspicion_max_timeout_mult, 64),
            "suspicion_max_timeout_mult",
            "1..=64",
        )?;
        check(
            at_most(self.retransmit_mult, 64),
            "retransmit_mult",
            "1..=64",
        )?;
        check(at_most(self.awareness_max, 64), "awareness_max", "1..=64")?;
        check(at_most(self.gossip_nodes, 64), "gossip_nodes", "1..=64")?;
        check(
            at_most(self.payload_rounds_mult, 16),
            "payload_rounds_mult",
            "1..=16",
        )?;
        check(
            at_most(self.payload_echoes_max, 1024),
            "payload_echoes_max",
            "1..=1024",
        )?;
        check(
            (2..=10_000).contains(&self.phi_window_samples.get()),
            "phi_window_samples",
            "2..=10000",
        )?;
        check(
            (1.0..=100.0).contains(&self.phi_threshold),
            "phi_threshold",
            "1.0..=100.0",
        )
    }

    fn validate_sizes(&self) -> Result<(), ConfigError> {
        let d = self.datagram_bytes_max;
        check(
            (256..=65_000).contains(&d),
            "datagram_bytes_max",
            "256..=65000",
        )?;
        check(
            (d..=64 << 20).contains(&self.stream_bytes_max),
            "stream_bytes_max",
            "datagram_bytes_max..=64MiB",
        )?;
        check(
            (self.stream_bytes_max..=u32::MAX as usize).contains(&self.payload_queue_bytes_max),
            "payload_queue_bytes_max",
            "stream_bytes_max..=4GiB",
        )?;
        check(
            (1..=1_000_000).contains(&self.members_max),
            "members_max",
            "1..=1000000",
        )?;
        check(
            (1..=1_000_000).contains(&self.payload_queue_max),
            "payload_queue_max",
            "1..=1000000",
        )?;
        check(
            (16..=10_000_000).contains(&self.seen_payloads_max),
            "seen_payloads_max",
            "16..=10000000",
        )?;
        check(
            (1..=10_000).contains(&self.relays_max),
            "relays_max",
            "1..=10000",
        )?;
        check(
            (16..=1_000_000).contains(&self.transmit_queue_max),
            "transmit_queue_max",
            "16..=1000000",
        )?;
        check(
            (16..=1_000_000).contains(&self.event_queue_max),
            "event_queue_max",
            "16..=1000000",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn timeout_above_interval_is_refused() {
        let config = Config {
            probe_timeout: Duration::from_secs(2),
            ..Config::default()
        };
        assert!(matches!(
            config.validate(),
            Err(ConfigError::OutOfBounds {
                field: "probe_timeout",
                ..
            })
        ));
    }
}
