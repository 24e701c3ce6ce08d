//! The resting shape of the engine, asserted after every step in debug builds (and so in every
//! test), so a broken invariant panics at the step that broke it, not several commands later.
//! Deliberately brute force (it recomputes every index from the calls and agents), and compiled
//! out of release builds.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use super::{AgentState, Engine, Phase, estimate, millis};
use crate::timer::Timer;

impl Engine {
    /// Panics if the state is not in its resting shape.
    pub(super) fn assert_invariants(&self) {
        assert!(self.dirty.is_empty(), "dirty skills left after settle");
        for (id, c) in &self.calls {
            let q = self.queues.get(&c.skill).unwrap_or_else(|| panic!("{id}: unknown queue"));
            let key = c.key();
            let (ready, other) =
                if c.is_chat() { (&q.ready_chats, &q.ready) } else { (&q.ready, &q.ready_chats) };
            assert!(!other.contains_key(&key), "{id}: ready in the other channel");
            match &c.phase {
                Phase::Queued => assert_eq!(ready.get(&key), Some(id), "{id}: not ready"),
                Phase::Parked => {
                    assert!(!ready.contains_key(&key));
                }
                Phase::Ringing(agent) => {
                    assert!(!ready.contains_key(&key));
                    assert_eq!(self.agents[agent].state, AgentState::Ringing(id.clone()), "{id}");
                    assert!(self.timers.get(&Timer::Ring(id.clone())).is_some(), "{id}: no ring");
                }
                Phase::Connected(agent) if c.is_chat() => {
                    assert!(self.agents[agent].chats.contains(id), "{id}: not in {agent}'s chats");
                }
                Phase::Connected(agent) => {
                    assert_eq!(self.agents[agent].state, AgentState::OnCall(id.clone()), "{id}");
                }
            }
            let slot = q.waiting.get(&key);
            assert_eq!(slot.map(|s| &s.call), c.phase.is_waiting().then_some(id), "{id}: slot");
            if c.wait_limit_reached || !c.phase.is_waiting() || q.settings.max_wait.is_none() {
                assert!(self.timers.get(&Timer::MaxWait(id.clone())).is_none(), "{id}: max wait");
            }
        }
        for (timer, deadline) in self.timers.iter() {
            match timer {
                Timer::Ring(call) => {
                    assert!(matches!(self.calls[call].phase, Phase::Ringing(_)), "{call}: ring");
                }
                Timer::Grace(call) => assert_eq!(self.calls[call].phase, Phase::Parked),
                Timer::MaxWait(call) => assert!(self.calls[call].phase.is_waiting()),
                Timer::WrapUp(agent) => {
                    assert_eq!(self.agents[agent].state.until(), Some(*deadline), "{agent}");
                }
            }
        }
        for (id, a) in &self.agents {
            if let Some(call) = a.state.call() {
                let phase = &self.calls[call].phase;
                assert!(
                    *phase == Phase::Ringing(id.clone()) || *phase == Phase::Connected(id.clone()),
                    "{id} holds {call} which is {phase:?}"
                );
            }
            for chat in &a.chats {
                let c = &self.calls[chat];
                assert!(c.is_chat() && c.phase == Phase::Connected(id.clone()), "{id}: {chat}");
            }
            if let Some(AgentState::OnCall(call) | AgentState::Ringing(call)) = Some(&a.state) {
                assert!(!a.chats.contains(call), "{id} holds {call} twice");
            }
            if let Some(until) = a.state.until() {
                assert_eq!(self.timers.get(&Timer::WrapUp(id.clone())), Some(until));
            }
            assert!(a.skills.values().all(|l| crate::SKILL_LEVELS.contains(l)));
        }
        let mut waiting_total = 0;
        for (skill, q) in &self.queues {
            waiting_total += q.waiting.len();
            let mut available = BTreeSet::new();
            let mut chat_available = BTreeSet::new();
            let (mut logged_in, mut staffed) = (0, 0);
            for (id, a) in &self.agents {
                if let Some(&level) = a.skills.get(skill) {
                    logged_in += 1;
                    staffed += u32::from(!a.state.is_away());
                    if a.takes_voice() {
                        available.insert((Reverse(level), a.idle_since, id.clone()));
                    }
                    if a.takes_chat() {
                        chat_available.insert((a.load(), Reverse(level), a.idle_since, id.clone()));
                    }
                    // The routing rules themselves, beside the index that implements them.
                    if a.takes_voice() && !a.chats.is_empty() {
                        assert!(a.profile.calls_with_chats, "{id}: calls beside chats");
                    }
                    assert!(!a.takes_chat() || a.state.call().is_none(), "{id}: chat in a call");
                }
            }
            assert_eq!(q.available, available, "{skill}: available index");
            assert_eq!(q.chat_available, chat_available, "{skill}: chat index");
            assert_eq!((q.logged_in, q.staffed), (logged_in, staffed), "{skill}: counts");
            let parked =
                q.waiting.values().filter(|s| self.calls[&s.call].phase == Phase::Parked).count();
            assert_eq!(q.parked as usize, parked, "{skill}: parked count");
            assert!(
                q.ready.is_empty() || q.available.is_empty(),
                "{skill}: a call waits while an agent with the skill is free"
            );
            assert!(
                q.ready_chats.is_empty() || q.chat_available.is_empty(),
                "{skill}: a chat waits while an agent with the skill has a free chat slot"
            );
            if logged_in == 0 {
                assert!(
                    q.waiting
                        .values()
                        .all(|s| matches!(self.calls[&s.call].phase, Phase::Ringing(_))),
                    "{skill}: calls wait with nobody logged in who has the skill"
                );
            }
            let cycle = q.handle_time_ms.saturating_add(millis(self.config.after_call_work));
            let ranked: BTreeMap<_, _> = q.waiting.iter().collect();
            for (rank, (key, slot)) in (1..).zip(ranked) {
                let c = &self.calls[&slot.call];
                assert_eq!(c.key(), *key);
                assert_eq!(&c.skill, skill);
                assert_eq!(slot.position, rank, "{}: stale position", slot.call);
                assert_eq!(slot.estimate, estimate(rank, q.staffed, cycle), "{}", slot.call);
            }
        }
        let connected =
            self.calls.values().filter(|c| matches!(c.phase, Phase::Connected(_))).count();
        assert_eq!(waiting_total + connected, self.calls.len(), "every call is in one place");
    }
}
