//! The routing table: which source leg feeds which receive slot.
//!
//! Every leg has a few fixed receive slots (DESIGN.md, idea 4). A slot is fed by at most one
//! source leg at a time; a source may feed many slots. Bridging a call, a supervisor joining
//! or leaving, or a mode change is nothing but rewriting entries here — no renegotiation.
//! This table is the security boundary of the monitor and whisper modes: a packet reaches a
//! slot only if the slot's entry names its source.

use std::collections::HashMap;

/// A media leg inside one relay. Allocated by the relay, never reused while the relay runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u64);

impl std::fmt::Display for LegId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "leg-{}", self.0)
    }
}

/// One receive slot of one leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotRef {
    /// The leg that hears.
    pub leg: LegId,
    /// Index of the receive slot on that leg (its m-line order).
    pub slot: u8,
}

/// One change of the table: feed `slot` from `source`, or silence it with `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotFeed {
    /// The slot to change.
    pub slot: SlotRef,
    /// The leg whose microphone the slot now carries.
    pub source: Option<LegId>,
}

/// Source → destinations and destination → source, kept as exact inverses.
#[derive(Debug, Default, Clone)]
pub struct RoutingTable {
    /// Who feeds each slot. Absent means silent.
    source_of: HashMap<SlotRef, LegId>,
    /// Every slot a leg's microphone reaches; the per-packet lookup.
    fanout: HashMap<LegId, Vec<SlotRef>>,
}

impl RoutingTable {
    /// An empty table: nobody hears anybody.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one change; returns the source that fed the slot before.
    pub fn set(&mut self, feed: SlotFeed) -> Option<LegId> {
        let previous = match feed.source {
            Some(source) => self.source_of.insert(feed.slot, source),
            None => self.source_of.remove(&feed.slot),
        };
        if let Some(old) = previous
            && let Some(targets) = self.fanout.get_mut(&old)
        {
            targets.retain(|s| *s != feed.slot);
            if targets.is_empty() {
                self.fanout.remove(&old);
            }
        }
        if let Some(source) = feed.source {
            self.fanout.entry(source).or_default().push(feed.slot);
        }
        previous
    }

    /// The slots a packet from `source` must be copied to.
    pub fn destinations(&self, source: LegId) -> &[SlotRef] {
        self.fanout.get(&source).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The leg feeding `slot`, if any.
    pub fn source_of(&self, slot: SlotRef) -> Option<LegId> {
        self.source_of.get(&slot).copied()
    }

    /// Forgets a leg on both sides: it feeds nothing and hears nothing. Returns the slots of
    /// other legs that went silent because of it.
    pub fn remove_leg(&mut self, leg: LegId) -> Vec<SlotRef> {
        let silenced = self.fanout.remove(&leg).unwrap_or_default();
        for slot in &silenced {
            self.source_of.remove(slot);
        }
        let own: Vec<SlotRef> = self.source_of.keys().filter(|s| s.leg == leg).copied().collect();
        for slot in own {
            self.set(SlotFeed { slot, source: None });
        }
        silenced.into_iter().filter(|s| s.leg != leg).collect()
    }

    /// Number of fed slots.
    pub fn len(&self) -> usize {
        self.source_of.len()
    }

    /// Whether no slot is fed.
    pub fn is_empty(&self) -> bool {
        self.source_of.is_empty()
    }

    /// Checks that the two maps are exact inverses. Used by tests.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut count = 0;
        for (source, targets) in &self.fanout {
            if targets.is_empty() {
                return Err(format!("{source} has an empty fanout entry"));
            }
            for slot in targets {
                count += 1;
                if self.source_of.get(slot) != Some(source) {
                    return Err(format!("{source} fans out to {slot:?} which it does not feed"));
                }
            }
        }
        if count != self.source_of.len() {
            return Err(format!("{count} fanout entries for {} fed slots", self.source_of.len()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn slot(leg: u64, slot: u8) -> SlotRef {
        SlotRef { leg: LegId(leg), slot }
    }

    #[test]
    fn a_slot_has_one_source_and_switching_moves_it() {
        let mut table = RoutingTable::new();
        table.set(SlotFeed { slot: slot(2, 0), source: Some(LegId(1)) });
        assert_eq!(table.destinations(LegId(1)), &[slot(2, 0)]);
        let previous = table.set(SlotFeed { slot: slot(2, 0), source: Some(LegId(3)) });
        assert_eq!(previous, Some(LegId(1)));
        assert!(table.destinations(LegId(1)).is_empty(), "old source no longer reaches the slot");
        assert_eq!(table.destinations(LegId(3)), &[slot(2, 0)]);
    }

    #[test]
    fn removing_a_leg_silences_what_it_fed_and_what_it_heard() {
        let mut table = RoutingTable::new();
        table.set(SlotFeed { slot: slot(2, 0), source: Some(LegId(1)) });
        table.set(SlotFeed { slot: slot(1, 0), source: Some(LegId(2)) });
        table.set(SlotFeed { slot: slot(3, 1), source: Some(LegId(1)) });
        let silenced = table.remove_leg(LegId(1));
        assert_eq!(silenced.len(), 2);
        assert!(table.is_empty());
        table.check_invariants().unwrap();
    }

    proptest! {
        #[test]
        fn any_sequence_of_changes_keeps_the_maps_inverse(
            ops in prop::collection::vec((0u64..5, 0u8..2, prop::option::of(0u64..5), any::<bool>()), 0..200)
        ) {
            let mut table = RoutingTable::new();
            let mut model: HashMap<SlotRef, LegId> = HashMap::new();
            for (leg, s, source, remove) in ops {
                if remove && source.is_none() {
                    table.remove_leg(LegId(leg));
                    model.retain(|k, v| k.leg != LegId(leg) && *v != LegId(leg));
                } else {
                    let feed = SlotFeed { slot: slot(leg, s), source: source.map(LegId) };
                    table.set(feed);
                    match feed.source {
                        Some(src) => { model.insert(feed.slot, src); }
                        None => { model.remove(&feed.slot); }
                    }
                }
                prop_assert!(table.check_invariants().is_ok(), "{:?}", table.check_invariants());
                for (k, v) in &model {
                    prop_assert_eq!(table.source_of(*k), Some(*v));
                    prop_assert!(table.destinations(*v).contains(k));
                }
                prop_assert_eq!(table.len(), model.len());
            }
        }
    }
}
