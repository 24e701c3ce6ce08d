//! Identifiers the core hands out or receives.

use std::fmt;

pub use voicedesk_queue_engine::{AgentId, CallId, SkillId};

/// A WebSocket connection, numbered by the driver.
#[derive(
    serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub struct ConnId(pub u64);

/// A media leg, numbered by the relay (the relay's `LegId`).
#[derive(
    serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub struct LegId(pub u64);

/// One request whose answer comes back as an input (a store operation, a leg to create, a
/// question for the assistant). Numbered by the core, in order.
#[derive(
    serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub struct OpId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn-{}", self.0)
    }
}

impl fmt::Display for LegId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leg-{}", self.0)
    }
}

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op-{}", self.0)
    }
}

/// Call ids in the shape of a UUID, from the driver's random `seed` (one per process, so ids
/// never repeat across restarts) and the core's counter (so a replay makes the same ids).
pub(crate) fn call_id(seed: u64, counter: u64) -> CallId {
    let hi = seed;
    let lo = counter;
    CallId(format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        (lo >> 48) & 0xffff,
        lo & 0xffff_ffff_ffff
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn call_ids_look_like_uuids_and_differ_by_counter() {
        let a = super::call_id(0x0123_4567_89ab_cdef, 1);
        let b = super::call_id(0x0123_4567_89ab_cdef, 2);
        assert_eq!(a.0, "01234567-89ab-cdef-0000-000000000001");
        assert_ne!(a, b);
        assert_eq!(a.0.len(), 36);
    }
}
