//! Time as the core knows it: a plain value handed in with every input, never read from a
//! clock.

use std::time::{Duration, Instant};

/// A point in time as Unix epoch milliseconds. Every input comes with one; the core keeps the
/// latest and never goes back (an earlier `now` counts as the latest, so durations saturate).
#[derive(
    serde::Serialize,
    serde::Deserialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
)]
pub struct UnixMs(pub i64);

impl UnixMs {
    /// `self` plus `d`, saturating.
    pub fn plus(self, d: Duration) -> Self {
        UnixMs(self.0.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
    }

    /// How long after `earlier` this is; zero if it is not after.
    pub fn since(self, earlier: UnixMs) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// As the protocol's unsigned milliseconds (0 before the epoch).
    pub fn as_u64(self) -> u64 {
        u64::try_from(self.0).unwrap_or(0)
    }
}

/// Converts between the core's [`UnixMs`] and the `Instant`s the queueing engine counts in.
///
/// The engine only ever compares and subtracts its instants, so any fixed `base` gives the
/// same decisions: the driver passes the `Instant` of its start, tests pass any. The mapping
/// is the identity on differences, which keeps a replay of the same inputs byte-identical.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EngineClock {
    base: Instant,
    base_ms: i64,
}

impl EngineClock {
    pub(crate) fn new(base: Instant, base_ms: UnixMs) -> Self {
        Self { base, base_ms: base_ms.0 }
    }

    /// The engine instant of `at`.
    pub(crate) fn instant(&self, at: UnixMs) -> Instant {
        let delta = at.0.saturating_sub(self.base_ms);
        if delta >= 0 {
            self.base + Duration::from_millis(delta as u64)
        } else {
            self.base.checked_sub(Duration::from_millis(delta.unsigned_abs())).unwrap_or(self.base)
        }
    }

    /// The wall time of an engine instant.
    pub(crate) fn unix(&self, at: Instant) -> UnixMs {
        if at >= self.base {
            UnixMs(self.base_ms.saturating_add(at.duration_since(self.base).as_millis() as i64))
        } else {
            UnixMs(self.base_ms.saturating_sub(self.base.duration_since(at).as_millis() as i64))
        }
    }

    /// The anchor the engine uses for wall-clock rules (business hours, holidays).
    pub(crate) fn anchor(&self) -> voicedesk_queue_engine::ClockAnchor {
        voicedesk_queue_engine::ClockAnchor { instant: self.base, unix_ms: self.base_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_and_unix_ms_round_trip() {
        let clock = EngineClock::new(Instant::now(), UnixMs(1_000_000));
        for ms in [1_000_000, 1_000_001, 1_500_000, 999_000] {
            assert_eq!(clock.unix(clock.instant(UnixMs(ms))), UnixMs(ms));
        }
        assert_eq!(UnixMs(10).since(UnixMs(20)), Duration::ZERO);
        assert_eq!(UnixMs(10).plus(Duration::from_secs(1)), UnixMs(1010));
    }
}
