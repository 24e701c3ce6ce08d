//! Wall-clock time for records. The engine and relay get `Instant`s; the store gets epoch
//! milliseconds from here.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The wall clock of decisions that tests must be able to move forward without waiting (sign-in
/// slow-downs and locks). Clones share one offset; production never moves it.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    /// Milliseconds since the Unix epoch, plus whatever [`Clock::advance`] added.
    pub fn now_ms(&self) -> i64 {
        now_ms() + self.offset_ms.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Moves this clock (and every clone) forward: fake time for tests.
    pub fn advance(&self, by: std::time::Duration) {
        self.offset_ms.fetch_add(by.as_millis() as i64, std::sync::atomic::Ordering::Relaxed);
    }
}
