//! The engine's deadlines, after quinn-proto's `connection/timer.rs`: an enum of timer kinds and
//! one table whose earliest entry is [`crate::Engine::poll_timeout`].
//!
//! Unlike a QUIC connection the engine has many calls and agents, so a timer kind carries the id
//! it belongs to and the table is keyed by it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::{AgentId, CallId};

/// One kind of deadline, for one call or agent. Ordered so that timers due at the same instant
/// fire in a fixed order (determinism).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// The offer of this call to its ringing agent is withdrawn when this passes.
    Ring(CallId),
    /// This parked call ends as abandoned when this passes (its citizen did not come back).
    Grace(CallId),
    /// This waiting call has waited its queue's maximum wait.
    MaxWait(CallId),
    /// This agent's after-call work ends.
    WrapUp(AgentId),
}

/// Every armed timer and its deadline. At most one deadline per [`Timer`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TimerTable {
    /// Deadline of each armed timer; the source of truth.
    deadlines: BTreeMap<Timer, Instant>,
    /// The same entries ordered by deadline, so the next one is found without a scan.
    by_deadline: BTreeSet<(Instant, Timer)>,
}

impl TimerTable {
    /// Arms `timer` at `deadline`, replacing an earlier deadline of the same timer.
    pub(crate) fn set(&mut self, timer: Timer, deadline: Instant) {
        if let Some(old) = self.deadlines.insert(timer.clone(), deadline) {
            self.by_deadline.remove(&(old, timer.clone()));
        }
        self.by_deadline.insert((deadline, timer));
    }

    /// Disarms `timer`; nothing happens if it was not armed.
    pub(crate) fn stop(&mut self, timer: &Timer) {
        if let Some(old) = self.deadlines.remove(timer) {
            self.by_deadline.remove(&(old, timer.clone()));
        }
    }

    /// The deadline of `timer`, if armed.
    #[cfg(any(test, debug_assertions))]
    pub(crate) fn get(&self, timer: &Timer) -> Option<Instant> {
        self.deadlines.get(timer).copied()
    }

    /// The earliest deadline of all armed timers.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.first().map(|(deadline, _)| *deadline)
    }

    /// Disarms and returns the earliest timer due at or before `now`, if any.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        let (deadline, _) = self.by_deadline.first()?;
        if *deadline > now {
            return None;
        }
        let (_, timer) = self.by_deadline.pop_first()?;
        self.deadlines.remove(&timer);
        Some(timer)
    }

    /// Number of armed timers.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.deadlines.len()
    }

    /// Every armed timer and its deadline.
    #[cfg(debug_assertions)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Timer, &Instant)> {
        self.deadlines.iter()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ring(id: &str) -> Timer {
        Timer::Ring(CallId::from(id))
    }

    #[test]
    fn next_deadline_is_the_minimum_and_rearming_replaces() {
        let t0 = Instant::now();
        let mut table = TimerTable::default();
        assert_eq!(table.next_deadline(), None);
        table.set(ring("a"), t0 + Duration::from_secs(5));
        table.set(ring("b"), t0 + Duration::from_secs(3));
        assert_eq!(table.next_deadline(), Some(t0 + Duration::from_secs(3)));
        table.set(ring("b"), t0 + Duration::from_secs(9));
        assert_eq!(table.next_deadline(), Some(t0 + Duration::from_secs(5)));
        assert_eq!(table.len(), 2);
        table.stop(&ring("a"));
        assert_eq!(table.next_deadline(), Some(t0 + Duration::from_secs(9)));
        assert_eq!(table.get(&ring("a")), None);
    }

    #[test]
    fn expired_timers_pop_in_deadline_order_and_only_when_due() {
        let t0 = Instant::now();
        let mut table = TimerTable::default();
        table.set(ring("late"), t0 + Duration::from_secs(2));
        table.set(ring("early"), t0 + Duration::from_secs(1));
        assert_eq!(table.pop_expired(t0), None);
        let t2 = t0 + Duration::from_secs(2);
        assert_eq!(table.pop_expired(t2), Some(ring("early")));
        assert_eq!(table.pop_expired(t2), Some(ring("late")));
        assert_eq!(table.pop_expired(t2), None);
        assert_eq!(table.len(), 0);
    }
}
