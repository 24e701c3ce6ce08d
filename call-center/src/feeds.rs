//! Who hears whom in a call with staff support: the modes of DESIGN.md as relay feeds.
//!
//! A pure function of the call's legs and its supporters' modes. The core emits its result as
//! one [`crate::RelayCommand::SetFeeds`] on every join, mode change and leave, so the relay's
//! routing table — the security boundary — always holds exactly this table:
//!
//! | mode | citizen hears | agent hears | staff hears |
//! |---|---|---|---|
//! | (no staff) | agent | citizen | — |
//! | monitor | agent | citizen | citizen, agent |
//! | whisper | agent | citizen, staff | citizen, agent |
//! | barge | agent, staff | citizen, staff | citizen, agent |
//! | take over | staff | — (agent left) | citizen |
//!
//! Slots: citizen 0 = agent (or the staff member who took over), 1 = barging staff;
//! agent 0 = citizen, 1 = coaching staff; staff 0 = citizen, 1 = agent.
//! At most one supporter may speak (whisper, barge or take over); others monitor. The core
//! refuses a second speaker; this function only ever routes the first.

use voicedesk_protocol::SupportMode;

use crate::LegId;

/// One receive slot of a leg.
#[derive(
    serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub struct SlotRef {
    /// The leg that receives.
    pub leg: LegId,
    /// Which of its receive tracks.
    pub slot: u8,
}

/// What one slot hears: a source leg, or nothing (silence; the hold tune on a citizen's slot 0
/// while hold is on).
#[derive(
    serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub struct SlotFeed {
    /// The slot.
    pub slot: SlotRef,
    /// Its source.
    pub source: Option<LegId>,
}

/// The media legs of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallLegs {
    /// The citizen's leg; `None` while the citizen's connection is lost (the others' slots
    /// that hear the citizen fall silent until a new leg takes its place).
    pub citizen: Option<LegId>,
    /// The agent's headset; `None` after a take over or while the agent is lost.
    pub agent: Option<LegId>,
    /// Staff headsets on the call with their modes, in joining order.
    pub supporters: Vec<(LegId, SupportMode)>,
}

/// Whether a mode makes the supporter speak.
pub fn speaks(mode: SupportMode) -> bool {
    !matches!(mode, SupportMode::Monitor)
}

fn slot(leg: LegId, slot: u8) -> SlotRef {
    SlotRef { leg, slot }
}

/// Every slot of every leg of the call, fed as the table says.
pub fn call_feeds(call: &CallLegs) -> Vec<SlotFeed> {
    let speaker = call.supporters.iter().find(|(_, mode)| speaks(*mode)).copied();
    let taken_over_by = speaker.filter(|(_, m)| *m == SupportMode::TakeOver).map(|(leg, _)| leg);
    let agent = if taken_over_by.is_some() { None } else { call.agent };
    let barger = speaker.filter(|(_, m)| *m == SupportMode::Barge).map(|(leg, _)| leg);
    let coach = speaker
        .filter(|(_, m)| matches!(m, SupportMode::Whisper | SupportMode::Barge))
        .map(|(leg, _)| leg);

    let mut feeds = Vec::with_capacity(4 + 2 * call.supporters.len());
    if let Some(citizen) = call.citizen {
        feeds.push(SlotFeed { slot: slot(citizen, 0), source: taken_over_by.or(agent) });
        feeds.push(SlotFeed { slot: slot(citizen, 1), source: barger });
    }
    if let Some(agent) = agent {
        feeds.push(SlotFeed { slot: slot(agent, 0), source: call.citizen });
        feeds.push(SlotFeed { slot: slot(agent, 1), source: coach });
    }
    for (staff, _) in &call.supporters {
        feeds.push(SlotFeed { slot: slot(*staff, 0), source: call.citizen });
        feeds.push(SlotFeed { slot: slot(*staff, 1), source: agent });
    }
    feeds
}

/// Silences both slots of a leg that leaves a call.
pub fn silence(leg: LegId) -> [SlotFeed; 2] {
    [SlotFeed { slot: slot(leg, 0), source: None }, SlotFeed { slot: slot(leg, 1), source: None }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const C: LegId = LegId(1);
    const A: LegId = LegId(2);
    const S: LegId = LegId(3);
    const T: LegId = LegId(4);

    fn hears(feeds: &[SlotFeed], leg: LegId) -> Vec<LegId> {
        let mut heard: Vec<LegId> =
            feeds.iter().filter(|f| f.slot.leg == leg).filter_map(|f| f.source).collect();
        heard.sort();
        heard
    }

    fn with(mode: Option<SupportMode>) -> CallLegs {
        CallLegs {
            citizen: Some(C),
            agent: Some(A),
            supporters: mode.map(|m| vec![(S, m)]).unwrap_or_default(),
        }
    }

    #[test]
    fn each_mode_routes_as_the_design_table_says() {
        let normal = call_feeds(&with(None));
        assert_eq!((hears(&normal, C), hears(&normal, A)), (vec![A], vec![C]));

        let monitor = call_feeds(&with(Some(SupportMode::Monitor)));
        assert_eq!(hears(&monitor, C), vec![A]);
        assert_eq!(hears(&monitor, A), vec![C]);
        assert_eq!(hears(&monitor, S), vec![C, A]);

        let whisper = call_feeds(&with(Some(SupportMode::Whisper)));
        assert_eq!(hears(&whisper, C), vec![A]);
        assert_eq!(hears(&whisper, A), vec![C, S]);
        assert_eq!(hears(&whisper, S), vec![C, A]);

        let barge = call_feeds(&with(Some(SupportMode::Barge)));
        assert_eq!(hears(&barge, C), vec![A, S]);
        assert_eq!(hears(&barge, A), vec![C, S]);
        assert_eq!(hears(&barge, S), vec![C, A]);

        let take_over = call_feeds(&with(Some(SupportMode::TakeOver)));
        assert_eq!(hears(&take_over, C), vec![S]);
        assert_eq!(hears(&take_over, S), vec![C]);
        assert!(
            take_over.iter().all(|f| f.slot.leg != A && f.source != Some(A)),
            "the agent is out"
        );
    }

    #[test]
    fn a_second_supporter_only_listens() {
        let call = CallLegs {
            citizen: Some(C),
            agent: Some(A),
            supporters: vec![(S, SupportMode::Whisper), (T, SupportMode::Barge)],
        };
        let feeds = call_feeds(&call);
        assert_eq!(hears(&feeds, C), vec![A], "the second one's barge is not routed");
        assert_eq!(hears(&feeds, A), vec![C, S]);
        assert_eq!(hears(&feeds, T), vec![C, A]);
    }

    #[test]
    fn a_lost_citizen_leaves_the_slots_that_heard_them_silent() {
        let mut call = with(Some(SupportMode::Barge));
        call.citizen = None;
        let feeds = call_feeds(&call);
        assert!(feeds.iter().all(|f| f.slot.leg != C && f.source != Some(C)));
        assert!(feeds.iter().any(|f| f.slot == slot(A, 0) && f.source.is_none()), "agent slot 0");
        assert!(feeds.iter().any(|f| f.slot == slot(S, 0) && f.source.is_none()), "staff slot 0");
        assert_eq!(hears(&feeds, A), vec![S], "the agent still hears the barging staff");
    }

    fn mode() -> impl Strategy<Value = SupportMode> {
        prop_oneof![
            Just(SupportMode::Monitor),
            Just(SupportMode::Whisper),
            Just(SupportMode::Barge),
            Just(SupportMode::TakeOver),
        ]
    }

    proptest! {
        /// The security property: staff audio reaches the citizen only from a supporter who
        /// barges or took over, the agent's coach slot only from one who whispers or barges,
        /// no leg hears itself, and every slot is assigned once.
        #[test]
        fn staff_audio_reaches_only_whom_the_mode_allows(modes in prop::collection::vec(mode(), 0..4)) {
            let supporters: Vec<(LegId, SupportMode)> =
                modes.iter().enumerate().map(|(i, m)| (LegId(10 + i as u64), *m)).collect();
            let call = CallLegs { citizen: Some(C), agent: Some(A), supporters: supporters.clone() };
            let feeds = call_feeds(&call);
            let mode_of = |leg: LegId| supporters.iter().find(|(l, _)| *l == leg).map(|(_, m)| *m);
            for f in &feeds {
                prop_assert_ne!(f.source, Some(f.slot.leg));
                if let Some(m) = f.source.and_then(mode_of) {
                    if f.slot.leg == C {
                        prop_assert!(m.citizen_hears_staff(), "citizen hears staff in {:?}", m);
                    }
                    if f.slot.leg == A {
                        prop_assert!(matches!(m, SupportMode::Whisper | SupportMode::Barge));
                    }
                    prop_assert!(mode_of(f.slot.leg).is_none(), "staff never hear staff");
                }
            }
            let mut slots: Vec<SlotRef> = feeds.iter().map(|f| f.slot).collect();
            slots.sort();
            let n = slots.len();
            slots.dedup();
            prop_assert_eq!(slots.len(), n, "each slot assigned once");
        }
    }
}
