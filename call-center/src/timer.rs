//! The core's one timer table, after quinn-proto's `connection/timer.rs`.
//!
//! The queueing engine keeps the deadlines of waiting calls and agents (ring, parking grace,
//! maximum wait, after-call work) in its own table; this one holds only what the engine does not
//! know — the grace of a side lost during an answered call, and the periodic tick — and
//! [`crate::CallCenter::poll_timeout`] is the minimum of both. No deadline lives in two places.

use std::collections::{BTreeMap, BTreeSet};

use crate::{CallId, UnixMs};

/// A side of an answered call that can be lost and waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// The citizen.
    Citizen,
    /// The agent (not staff: a supporter whose connection drops leaves the call).
    Agent,
}

/// One kind of deadline. Ordered so that timers due at the same instant fire in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// The grace of a lost side of an answered call ends: the call ends.
    Grace(CallId, Side),
    /// Queue status to agents and the wallboard to staff, once a second.
    Tick,
}

/// Every armed timer and its deadline. At most one deadline per [`Timer`].
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    deadlines: BTreeMap<Timer, UnixMs>,
    by_deadline: BTreeSet<(UnixMs, Timer)>,
}

impl TimerTable {
    /// Arms `timer` at `deadline`, replacing an earlier deadline of the same timer.
    pub(crate) fn set(&mut self, timer: Timer, deadline: UnixMs) {
        if let Some(old) = self.deadlines.insert(timer.clone(), deadline) {
            self.by_deadline.remove(&(old, timer.clone()));
        }
        self.by_deadline.insert((deadline, timer));
    }

    /// Disarms `timer`.
    pub(crate) fn stop(&mut self, timer: &Timer) {
        if let Some(old) = self.deadlines.remove(timer) {
            self.by_deadline.remove(&(old, timer.clone()));
        }
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<UnixMs> {
        self.by_deadline.first().map(|(at, _)| *at)
    }

    /// Disarms and returns the earliest timer due at or before `now`.
    pub(crate) fn pop_expired(&mut self, now: UnixMs) -> Option<Timer> {
        let (at, _) = self.by_deadline.first()?;
        if *at > now {
            return None;
        }
        let (_, timer) = self.by_deadline.pop_first()?;
        self.deadlines.remove(&timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_rearming_replaces() {
        let mut t = TimerTable::default();
        let a = Timer::Grace(CallId("a".into()), Side::Citizen);
        t.set(a.clone(), UnixMs(50));
        t.set(Timer::Tick, UnixMs(10));
        assert_eq!(t.next_deadline(), Some(UnixMs(10)));
        t.set(Timer::Tick, UnixMs(100));
        assert_eq!(t.next_deadline(), Some(UnixMs(50)));
        assert_eq!(t.pop_expired(UnixMs(49)), None);
        assert_eq!(t.pop_expired(UnixMs(100)), Some(a));
        assert_eq!(t.pop_expired(UnixMs(100)), Some(Timer::Tick));
        assert_eq!(t.next_deadline(), None);
    }
}
