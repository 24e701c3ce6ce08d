//! Read-only views of the engine for metrics, the wallboard and tests. Nothing here changes
//! state or queues commands.

use std::time::{Duration, Instant};

use voicedesk_protocol::AgentActivity;

use super::{Agent, AgentState, Call, Engine, Phase};
use crate::{AgentId, CallId};

/// Where a live call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPhase {
    /// Waiting for an available agent.
    Queued,
    /// Offered to an agent who has not answered yet (still counted in the queue).
    Ringing,
    /// Answered; citizen and agent are talking.
    Connected,
}

/// A live call as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallView<'a> {
    /// The call.
    pub id: &'a CallId,
    /// The service the citizen chose.
    pub service: Option<&'a str>,
    /// Queued, ringing or connected.
    pub phase: CallPhase,
    /// The agent it rings at or is connected to.
    pub agent: Option<&'a AgentId>,
    /// When the call arrived (kept across requeues).
    pub queued_at: Instant,
    /// When the current phase began.
    pub phase_since: Instant,
    /// 1-based place among the calls waiting for an answer (queued or ringing); `None` once
    /// connected. Always the last position sent in a [`crate::Command::Position`].
    pub position: Option<u32>,
}

/// A logged-in agent as the engine sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentView<'a> {
    /// The agent.
    pub id: &'a AgentId,
    /// What they are doing.
    pub activity: AgentActivity,
    /// Why they are away.
    pub reason: Option<&'a str>,
    /// When the current activity began.
    pub since: Instant,
    /// When they last became available or ended a call; the longest idle is offered first.
    pub idle_since: Instant,
    /// The call ringing at them or connected to them.
    pub call: Option<&'a CallId>,
}

impl Engine {
    /// Calls queued and not ringing anywhere.
    pub fn queue_len(&self) -> usize {
        self.calls.values().filter(|c| c.phase == Phase::Queued).count()
    }

    /// Calls ringing at an agent.
    pub fn ringing_count(&self) -> usize {
        self.calls.values().filter(|c| matches!(c.phase, Phase::Ringing(_))).count()
    }

    /// Calls answered and not yet ended.
    pub fn connected_count(&self) -> usize {
        self.calls.values().filter(|c| matches!(c.phase, Phase::Connected(_))).count()
    }

    /// Logged-in agents in any state.
    pub fn agents_logged_in(&self) -> usize {
        self.agents.len()
    }

    /// What the agent is doing; `None` if not logged in.
    pub fn agent_activity(&self, agent: &AgentId) -> Option<AgentActivity> {
        self.agents.get(agent).map(|a| a.state.activity())
    }

    /// One logged-in agent.
    pub fn agent(&self, agent: &AgentId) -> Option<AgentView<'_>> {
        self.agents.get_key_value(agent).map(|(id, a)| agent_view(id, a))
    }

    /// Every logged-in agent, by id.
    pub fn agents(&self) -> impl Iterator<Item = AgentView<'_>> {
        self.agents.iter().map(|(id, a)| agent_view(id, a))
    }

    /// One live call.
    pub fn call(&self, call: &CallId) -> Option<CallView<'_>> {
        self.calls.get_key_value(call).map(|(id, c)| call_view(id, c))
    }

    /// Every live call, by id.
    pub fn calls(&self) -> impl Iterator<Item = CallView<'_>> {
        self.calls.iter().map(|(id, c)| call_view(id, c))
    }

    /// The calls waiting for an answer (queued or ringing) in queue order: position 1 first.
    pub fn waiting_calls(&self) -> impl Iterator<Item = CallView<'_>> {
        self.waiting.values().map(|id| call_view(id, &self.calls[id]))
    }

    /// The call's current position in the queue; `None` if connected or not live.
    pub fn position(&self, call: &CallId) -> Option<u32> {
        self.calls.get(call).and_then(|c| c.position)
    }

    /// How long the oldest waiting call has waited at `now`.
    pub fn longest_wait(&self, now: Instant) -> Option<Duration> {
        self.waiting
            .values()
            .next()
            .map(|id| now.saturating_duration_since(self.calls[id].queued_at))
    }
}

fn call_view<'a>(id: &'a CallId, c: &'a Call) -> CallView<'a> {
    let (phase, agent) = match &c.phase {
        Phase::Queued => (CallPhase::Queued, None),
        Phase::Ringing(agent) => (CallPhase::Ringing, Some(agent)),
        Phase::Connected(agent) => (CallPhase::Connected, Some(agent)),
    };
    CallView {
        id,
        service: c.service.as_deref(),
        phase,
        agent,
        queued_at: c.queued_at,
        phase_since: c.phase_since,
        position: c.position,
    }
}

fn agent_view<'a>(id: &'a AgentId, a: &'a Agent) -> AgentView<'a> {
    AgentView {
        id,
        activity: a.state.activity(),
        reason: a.state.reason(),
        since: a.since,
        idle_since: a.idle_since,
        call: match &a.state {
            AgentState::Ringing(call) | AgentState::OnCall(call) => Some(call),
            AgentState::Available | AgentState::Away { .. } => None,
        },
    }
}
