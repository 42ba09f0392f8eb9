//! phi-accrual estimation (Hayashibara et al. 2004), as Akka and Cassandra use it.
//!
//! An estimator keeps the last `window` samples of some delay and, for an elapsed time
//! `t`, reports `phi(t) = -log10(P(sample > t))` under a normal distribution fitted to
//! the window (Akka's logistic approximation of the normal CDF). phi 1 means a 10%
//! chance that the awaited event is still coming, phi 8 a 1e-8 chance.
//!
//! The engine keeps two per member (see the engine's module doc for how they feed SWIM):
//! heartbeat inter-arrival times ([`PhiAccrual::record_arrival`]) and ack delays
//! ([`PhiAccrual::record_sample`]).

use std::collections::VecDeque;
use std::time::Duration;

/// phi is capped here so that it stays a finite, printable number.
pub(crate) const PHI_MAX: f64 = 1000.0;

/// A bounded window of delay samples and the phi they imply.
#[derive(Clone, Debug)]
pub(crate) struct PhiAccrual {
    samples: VecDeque<f64>,
    window: usize,
    std_min: f64,
    /// The arrival that the next inter-arrival sample is measured from.
    sampled_from: Option<Duration>,
    /// The latest arrival of any kind: silence is measured from here.
    last_arrival: Option<Duration>,
}

impl PhiAccrual {
    /// An empty estimator keeping `window` samples, whose standard deviation is never
    /// taken below `std_min`.
    pub(crate) fn new(window: usize, std_min: Duration) -> PhiAccrual {
        assert!(window >= 2, "phi window below 2");
        PhiAccrual {
            // Grown as samples come: in a large cluster most members are heard from
            // directly now and then, and a full window per member per node would take
            // most of the memory (1,000 nodes: about 1.6 GB of empty windows).
            samples: VecDeque::new(),
            window,
            std_min: std_min.as_secs_f64(),
            sampled_from: None,
            last_arrival: None,
        }
    }

    /// Adds one delay sample, forgetting the oldest beyond the window.
    pub(crate) fn record_sample(&mut self, delay: Duration) {
        if self.samples.len() == self.window {
            self.samples.pop_front();
        }
        self.samples.push_back(delay.as_secs_f64());
    }

    /// Notes a heartbeat (any message from the member) at `now`. Arrivals closer than
    /// `gap_min` to the last sampled one are coalesced into it, so a burst of messages
    /// counts once and does not drag the mean towards zero.
    pub(crate) fn record_arrival(&mut self, now: Duration, gap_min: Duration) {
        self.last_arrival = Some(self.last_arrival.map_or(now, |last| last.max(now)));
        match self.sampled_from {
            None => self.sampled_from = Some(now),
            Some(from) if now >= from + gap_min => {
                self.record_sample(now - from);
                self.sampled_from = Some(now);
            }
            Some(_) => {}
        }
    }

    /// phi of the silence since the last arrival; 0 before two arrivals were seen.
    pub(crate) fn phi_now(&self, now: Duration) -> f64 {
        match self.last_arrival {
            Some(last) => self.phi(now.saturating_sub(last)),
            None => 0.0,
        }
    }

    /// phi of waiting `elapsed` for the next event; 0 without samples.
    pub(crate) fn phi(&self, elapsed: Duration) -> f64 {
        match self.fit() {
            Some((mean, std)) => phi_of((elapsed.as_secs_f64() - mean) / std),
            None => 0.0,
        }
    }

    /// The elapsed time at which phi reaches `threshold`, if there are samples.
    pub(crate) fn elapsed_at_phi(&self, threshold: f64) -> Option<Duration> {
        let (mean, std) = self.fit()?;
        let y = standard_score_at_phi(threshold);
        Some(Duration::from_secs_f64(
            (mean + y * std).clamp(0.0, 86_400.0),
        ))
    }

    /// How many samples the window holds.
    pub(crate) fn len(&self) -> usize {
        self.samples.len()
    }

    /// Mean and standard deviation (floored at `std_min`) of the window.
    fn fit(&self) -> Option<(f64, f64)> {
        if self.samples.is_empty() {
            return None;
        }
        let n = self.samples.len() as f64;
        let mean = self.samples.iter().sum::<f64>() / n;
        let var = self
            .samples
            .iter()
            .map(|s| (s - mean) * (s - mean))
            .sum::<f64>()
            / n;
        Some((mean, var.sqrt().max(self.std_min)))
    }
}

/// phi for a standard score `y` = (t − mean) / std (Akka's `PhiAccrualFailureDetector`).
fn phi_of(y: f64) -> f64 {
    let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
    let phi = if y > 0.0 {
        -(e / (1.0 + e)).log10()
    } else {
        -(1.0 - 1.0 / (1.0 + e)).log10()
    };
    if phi.is_nan() {
        PHI_MAX
    } else {
        phi.clamp(0.0, PHI_MAX)
    }
}

/// The standard score at which `phi_of` reaches `threshold` (bisection; `phi_of` is
/// increasing).
fn standard_score_at_phi(threshold: f64) -> f64 {
    let (mut lo, mut hi) = (-10.0_f64, 40.0_f64);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if phi_of(mid) < threshold {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn phi_grows_with_silence() {
        let mut est = PhiAccrual::new(100, ms(10));
        for i in 0..20 {
            est.record_arrival(ms(1000 * i), ms(100));
        }
        let now = ms(19_000);
        let a = est.phi_now(now + ms(500));
        let b = est.phi_now(now + ms(1000));
        let c = est.phi_now(now + ms(3000));
        assert!(a < b && b < c, "{a} {b} {c}");
        assert!(c > 8.0);
        assert_eq!(PhiAccrual::new(4, ms(1)).phi_now(now), 0.0);
    }

    #[test]
    fn elapsed_at_phi_inverts_phi() {
        let mut est = PhiAccrual::new(10, ms(5));
        for d in [20, 22, 18, 25, 19] {
            est.record_sample(ms(d));
        }
        let t = est.elapsed_at_phi(8.0).unwrap();
        let phi = est.phi(t);
        assert!((phi - 8.0).abs() < 0.01, "{phi}");
        assert!(t > ms(25));
    }

    #[test]
    fn window_is_bounded_and_bursts_coalesce() {
        let mut est = PhiAccrual::new(3, ms(1));
        for i in 0..10 {
            est.record_sample(ms(i));
        }
        assert_eq!(est.len(), 3);
        let mut est = PhiAccrual::new(10, ms(1));
        est.record_arrival(ms(0), ms(100));
        est.record_arrival(ms(10), ms(100));
        est.record_arrival(ms(200), ms(100));
        assert_eq!(est.len(), 1);
    }
}
