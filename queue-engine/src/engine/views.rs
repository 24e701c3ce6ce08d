//! Read-only views of the engine for metrics, the wallboard and tests. Nothing here changes
//! state or queues commands.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use voicedesk_protocol::AgentActivity;

use super::{Agent, AgentState, Call, Engine, Phase, Queue, estimate, millis};
use crate::{AgentId, CallId, Channel, QueueSettings, RoutingProfile, SkillId};

/// Where a live call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPhase {
    /// Waiting for an available agent (see [`CallView::parked`]).
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
    /// Voice call or chat.
    pub channel: Channel,
    /// The service the citizen chose.
    pub service: Option<&'a str>,
    /// The queue it waits in (or was answered from).
    pub skill: &'a SkillId,
    /// Its priority (higher is served first).
    pub priority: u8,
    /// Queued, ringing or connected.
    pub phase: CallPhase,
    /// Queued but its citizen is disconnected: keeps its place, offered to nobody.
    pub parked: bool,
    /// The agent it rings at or is connected to.
    pub agent: Option<&'a AgentId>,
    /// When the call was first queued (kept across requeues and transfers).
    pub queued_at: Instant,
    /// When the current phase began.
    pub phase_since: Instant,
    /// 1-based place in its queue (queued, ringing or parked calls); `None` once connected.
    /// Always the last position sent in a [`crate::Command::Position`].
    pub position: Option<u32>,
    /// The estimate last sent with the position.
    pub estimated_wait: Option<Duration>,
    /// [`crate::Command::WaitLimitReached`] was sent for it.
    pub wait_limit_reached: bool,
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
    /// When they last became available after being away or working; among agents of the
    /// same skill level, the longest idle is offered first.
    pub idle_since: Instant,
    /// The call or chat ringing at them, or the voice call connected to them.
    pub call: Option<&'a CallId>,
    /// The chats connected to them.
    pub chats: &'a BTreeSet<CallId>,
    /// Their chat capacity and whether calls come beside chats.
    pub profile: RoutingProfile,
    /// Their skill levels (1 to 10).
    pub skills: &'a BTreeMap<SkillId, u8>,
    /// Ring timeouts in a row since their last accept, reject or auto-away.
    pub consecutive_misses: u32,
    /// In after-call work: when it ends by itself.
    pub after_call_work_until: Option<Instant>,
}

/// One queue's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueView<'a> {
    /// The queue.
    pub skill: &'a SkillId,
    /// Its settings.
    pub settings: &'a QueueSettings,
    /// Calls waiting in it: queued, ringing and parked.
    pub waiting: usize,
    /// Of those, ringing at an agent.
    pub ringing: usize,
    /// Of those, parked (citizen disconnected).
    pub parked: usize,
    /// How long the longest-waiting call has waited (since first queued).
    pub longest_wait: Option<Duration>,
    /// Logged-in agents with the skill who are not away.
    pub staffed: u32,
    /// Of those, who may be offered a voice call now.
    pub available: usize,
    /// Of those, who may be offered a chat now (available and below their chat capacity).
    pub chat_available: usize,
    /// The average handle time the estimate uses.
    pub handle_time: Duration,
    /// The estimate a new call of the lowest priority would get (position `waiting + 1`).
    pub estimate_for_new_call: Option<Duration>,
}

impl Engine {
    /// Calls and chats queued (not ringing, not parked) in every queue.
    pub fn queue_len(&self) -> usize {
        self.queues.values().map(|q| q.ready.len() + q.ready_chats.len()).sum()
    }

    /// Whether a live call is a voice call or a chat; `None` if not live.
    pub fn channel(&self, call: &CallId) -> Option<Channel> {
        self.calls.get(call).map(|c| c.channel)
    }

    /// Chats connected to an agent, in every queue.
    pub fn connected_chats(&self) -> usize {
        self.agents.values().map(|a| a.chats.len()).sum()
    }

    /// Calls parked in every queue.
    pub fn parked_count(&self) -> usize {
        self.queues.values().map(|q| q.parked as usize).sum()
    }

    /// Calls ringing at an agent.
    pub fn ringing_count(&self) -> usize {
        self.queues.values().map(ringing).sum()
    }

    /// Calls answered and not yet ended.
    pub fn connected_count(&self) -> usize {
        self.calls.len() - self.queues.values().map(|q| q.waiting.len()).sum::<usize>()
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
        self.calls.get_key_value(call).map(|(id, c)| self.call_view(id, c))
    }

    /// Every live call, by id.
    pub fn calls(&self) -> impl Iterator<Item = CallView<'_>> {
        self.calls.iter().map(|(id, c)| self.call_view(id, c))
    }

    /// The calls waiting in `skill`'s queue (queued, ringing or parked) in queue order:
    /// position 1 first. Empty for an unknown skill.
    pub fn waiting_calls<'a>(&'a self, skill: &SkillId) -> impl Iterator<Item = CallView<'a>> {
        self.queues
            .get(skill)
            .into_iter()
            .flat_map(|q| q.waiting.values())
            .map(|s| self.call(&s.call).expect("waiting calls are live"))
    }

    /// The call's current position in its queue; `None` if connected or not live.
    pub fn position(&self, call: &CallId) -> Option<u32> {
        self.call(call).and_then(|c| c.position)
    }

    /// How long the longest-waiting call of any queue has waited at `now`.
    pub fn longest_wait(&self, now: Instant) -> Option<Duration> {
        self.queues.values().filter_map(|q| longest_wait(q, now)).max()
    }

    /// Every configured queue, by skill.
    pub fn queues(&self, now: Instant) -> impl Iterator<Item = QueueView<'_>> {
        self.queues.iter().map(move |(skill, q)| self.queue_view(skill, q, now))
    }

    /// One configured queue.
    pub fn queue(&self, skill: &SkillId, now: Instant) -> Option<QueueView<'_>> {
        self.queues.get_key_value(skill).map(|(skill, q)| self.queue_view(skill, q, now))
    }

    fn queue_view<'a>(&self, skill: &'a SkillId, q: &'a Queue, now: Instant) -> QueueView<'a> {
        let cycle = q.handle_time_ms.saturating_add(millis(self.config.after_call_work));
        let next = u32::try_from(q.waiting.len() + 1).unwrap_or(u32::MAX);
        QueueView {
            skill,
            settings: &q.settings,
            waiting: q.waiting.len(),
            ringing: ringing(q),
            parked: q.parked as usize,
            longest_wait: longest_wait(q, now),
            staffed: q.staffed,
            available: q.available.len(),
            chat_available: q.chat_available.len(),
            handle_time: Duration::from_millis(q.handle_time_ms),
            estimate_for_new_call: estimate(next, q.staffed, cycle),
        }
    }

    fn call_view<'a>(&'a self, id: &'a CallId, c: &'a Call) -> CallView<'a> {
        let (phase, agent) = match &c.phase {
            Phase::Queued | Phase::Parked => (CallPhase::Queued, None),
            Phase::Ringing(agent) => (CallPhase::Ringing, Some(agent)),
            Phase::Connected(agent) => (CallPhase::Connected, Some(agent)),
        };
        let slot = if c.phase.is_waiting() {
            self.queues.get(&c.skill).and_then(|q| q.waiting.get(&c.key()))
        } else {
            None
        };
        CallView {
            id,
            channel: c.channel,
            service: c.service.as_deref(),
            skill: &c.skill,
            priority: c.priority,
            phase,
            parked: c.phase == Phase::Parked,
            agent,
            queued_at: c.queued_at,
            phase_since: c.phase_since,
            position: slot.map(|s| s.position).filter(|p| *p > 0),
            estimated_wait: slot.and_then(|s| s.estimate),
            wait_limit_reached: c.wait_limit_reached,
        }
    }
}

fn ringing(q: &Queue) -> usize {
    q.waiting.len() - q.ready.len() - q.ready_chats.len() - q.parked as usize
}

fn longest_wait(q: &Queue, now: Instant) -> Option<Duration> {
    // Queue order is by priority first, so the oldest call is not necessarily the head.
    q.waiting
        .keys()
        .map(|(_, queued_at, _)| *queued_at)
        .min()
        .map(|t| now.saturating_duration_since(t))
}

fn agent_view<'a>(id: &'a AgentId, a: &'a Agent) -> AgentView<'a> {
    AgentView {
        id,
        activity: a.state.activity(),
        reason: a.state.reason(),
        since: a.since,
        idle_since: a.idle_since,
        call: a.state.call(),
        chats: &a.chats,
        profile: a.profile,
        skills: &a.skills,
        consecutive_misses: a.misses,
        after_call_work_until: match a.state {
            AgentState::AfterCallWork { until } => until,
            _ => None,
        },
    }
}
