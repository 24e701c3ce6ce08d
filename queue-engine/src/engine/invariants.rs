//! The resting shape of the engine, asserted after every step in debug builds (and so in every
//! test), so a broken invariant panics at the step that broke it, not several commands later.

use super::{AgentState, Engine, Phase};
use crate::timer::Timer;

impl Engine {
    /// Panics if the state is not in its resting shape. Run after every step in debug builds
    /// (tests), so a broken invariant is caught where it is broken.
    pub(super) fn assert_invariants(&self) {
        let mut ringing = 0;
        for (id, c) in &self.calls {
            match &c.phase {
                Phase::Queued => {
                    assert!(
                        self.timers.get(&Timer::Ring(id.clone())).is_none(),
                        "{id}: queued with a ring timer"
                    );
                }
                Phase::Ringing(agent) => {
                    ringing += 1;
                    assert_eq!(self.agents[agent].state, AgentState::Ringing(id.clone()), "{id}");
                }
                Phase::Connected(agent) => {
                    assert_eq!(self.agents[agent].state, AgentState::OnCall(id.clone()), "{id}");
                    assert_eq!(c.position, None, "{id}: connected call keeps a position");
                }
            }
            let in_queue = self.waiting.get(&c.seq) == Some(id);
            assert_eq!(in_queue, !matches!(c.phase, Phase::Connected(_)), "{id}: queue membership");
        }
        assert_eq!(self.waiting.len() + self.connected_count(), self.calls.len());
        assert!(self.timers.len() <= ringing, "a ring timer outlived its offer");
        for (id, a) in &self.agents {
            if let Some(call) = a.state.call() {
                let phase = &self.calls[call].phase;
                assert!(
                    *phase == Phase::Ringing(id.clone()) || *phase == Phase::Connected(id.clone()),
                    "{id} holds {call} which is {phase:?}"
                );
            }
        }
        for (rank, id) in self.waiting.values().enumerate() {
            assert_eq!(
                self.calls[id].position,
                u32::try_from(rank + 1).ok(),
                "{id}: stale position"
            );
        }
        if self.agents.is_empty() {
            assert!(self.calls.is_empty(), "calls live with no agent logged in");
        }
        let available = self.agents.values().any(|a| a.state == AgentState::Available);
        assert!(
            !(available && self.head_of_queue().is_some()),
            "a call waits while an agent is free"
        );
    }
}
