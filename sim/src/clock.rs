//! Per-node wall clocks: true simulated time plus an offset, a drift and jumps. Only the
//! HLC sees them; the engines' monotonic `now` is the true simulated time.

use std::time::Duration;

use lattice_crdt::NTP64;

/// The simulated epoch of every wall clock (2023-11-14).
const EPOCH: Duration = Duration::from_secs(1_700_000_000);

/// One node's wall clock.
#[derive(Clone, Debug, Default)]
pub(crate) struct Clock {
    /// Offset from true time, in µs (either sign), including jumps.
    offset_us: i64,
    /// Drift in parts per million of elapsed true time.
    drift_ppm: i64,
}

impl Clock {
    /// A clock `offset_us` off and drifting by `drift_ppm`.
    pub(crate) fn new(offset_us: i64, drift_ppm: i64) -> Clock {
        Clock {
            offset_us,
            drift_ppm,
        }
    }

    /// Jumps by `ms` (an NTP step, a VM restore).
    pub(crate) fn jump(&mut self, ms: i64) {
        self.offset_us += ms * 1_000;
    }

    /// Steps back to true time (the quiet period's NTP correction).
    pub(crate) fn correct(&mut self) {
        *self = Clock::default();
    }

    /// The wall time this clock shows at true simulated time `now`.
    pub(crate) fn wall(&self, now: Duration) -> NTP64 {
        let now_us = now.as_micros() as i64;
        let us = EPOCH.as_micros() as i64
            + now_us
            + self.offset_us
            + now_us / 1_000_000 * self.drift_ppm;
        NTP64::from(Duration::from_micros(us.max(0) as u64))
    }
}
