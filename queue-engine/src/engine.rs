//! The state machine: per-skill queues in (priority, arrival) order, best agent by skill level
//! then longest idle, after-call work, parking, transfers.
//!
//! Every public entry point follows the same two steps:
//! 1. *apply* the input or the expired timers: validate everything first and return an error
//!    before the first mutation, then change calls and agents and queue the commands that
//!    describe the change. Every change that can matter to a queue marks its skill *dirty*
//!    ([`Dirty`]): it may now have a waiting call and a free agent, or some positions or
//!    estimates may have moved;
//! 2. [`Engine::settle`]: bring the dirty skills — and only those — back to their resting
//!    shape: no call waits in a skill nobody logged in has, no ready call waits while an agent
//!    with its skill is available (dispatch), and every waiting call has been told its current
//!    position and estimate.
//!
//! The indexes that make a step cost O(log n) plus the positions it must announce:
//! - per skill, `waiting` (every waiting call in queue order, with the position last sent),
//!   `ready` (the calls among them that may be offered now) and `available` (the agents with
//!   the skill who are available, best first);
//! - per skill, the counts of logged-in and staffed agents;
//! - the timer table, ordered by deadline.

#[cfg(debug_assertions)]
mod invariants;
mod views;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound;
use std::time::{Duration, Instant};

use voicedesk_protocol::{AgentActivity, EndReason, WithdrawReason};

pub use self::views::{AgentView, CallPhase, CallView, QueueView};
use crate::calendar::Calendar;
use crate::timer::{Timer, TimerTable};
use crate::{
    AgentId, CallId, Channel, ClockAnchor, Command, EngineConfig, EngineError, Input,
    MAX_CHAT_CAPACITY, Party, QueueSettings, RoutingProfile, SKILL_LEVELS, SkillId, TurnAway,
};

/// Reason set by the engine on an agent who let [`EngineConfig::max_missed_offers`] offers in
/// a row ring out. Agents cannot pick it themselves.
pub const MISSED_CALLS_REASON: &str = "missed_calls";

/// A call's place in its queue: priority (higher first), then first queued (earlier first),
/// then arrival counter. Unique per call (the counter is).
type QueueKey = (Reverse<u8>, Instant, u64);

/// An agent's place in a skill's rotation: level (higher first), then idle since (earlier
/// first), then id.
type AgentKey = (Reverse<u8>, Instant, AgentId);

/// An agent's place in a skill's chat rotation: fewest chats held first (spread the load),
/// then level, idle since, id.
type ChatAgentKey = (u32, Reverse<u8>, Instant, AgentId);

/// The queueing engine (ACD). See the crate documentation for the contract.
///
/// `Clone` and `PartialEq` exist so tests can snapshot the whole state and prove that a
/// refused input changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    /// Fixed at construction.
    config: EngineConfig,
    /// Maps `now` to wall-clock time, for business hours.
    anchor: ClockAnchor,
    /// Holidays, make-up workdays, UTC offset.
    calendar: Calendar,
    /// Every configured queue. Queues are never removed.
    queues: BTreeMap<SkillId, Queue>,
    /// Every live call, from [`Input::CallArrived`] until its [`Command::End`]; an ended call is
    /// forgotten at once, so a late input naming it is [`EngineError::UnknownCall`].
    calls: BTreeMap<CallId, Call>,
    /// Every logged-in agent. An agent's entry exists exactly while they are logged in.
    agents: BTreeMap<AgentId, Agent>,
    /// Ring, grace, maximum-wait and wrap-up deadlines.
    timers: TimerTable,
    /// Commands not yet drained by [`Engine::poll_command`], oldest first.
    commands: VecDeque<Command>,
    /// Arrival counter; the last part of a call's [`QueueKey`]. Never reused.
    next_seq: u64,
    /// Skills touched by the current step; empty between steps.
    dirty: BTreeMap<SkillId, Dirty>,
}

/// One skill's queue and the indexes routing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Queue {
    settings: QueueSettings,
    /// Every waiting call of the skill (queued, ringing or parked) in queue order, with what
    /// was last announced to it. A ringing call keeps its entry (and its position): if the
    /// offer fails it is back at its place without being re-inserted.
    waiting: BTreeMap<QueueKey, Slot>,
    /// The waiting voice calls that may be offered now: queued, not ringing, not parked.
    ready: BTreeMap<QueueKey, CallId>,
    /// The same for chats. Kept apart so that a chat nobody can take now does not hold up
    /// the calls behind it, and the other way round.
    ready_chats: BTreeMap<QueueKey, CallId>,
    /// How many waiting calls are parked.
    parked: u32,
    /// The agents with this skill who may be offered a voice call now, best first.
    available: BTreeSet<AgentKey>,
    /// The agents with this skill who may be offered a chat now, best first.
    chat_available: BTreeSet<ChatAgentKey>,
    /// Logged-in agents with this skill, in any state.
    logged_in: u32,
    /// Logged-in agents with this skill who are not away.
    staffed: u32,
    /// Exponentially weighted average handle time (connected → end), milliseconds.
    handle_time_ms: u64,
}

impl Queue {
    /// The calls and chats that still wait for an agent: queued or parked, not ringing. This is what
    /// `max_waiting` limits. A ringing call has its agent (it keeps its place and position
    /// only so that a failed offer puts it back where it was); counting it would turn calls
    /// away from a queue whose agents are all free but still ringing — a burst of calls
    /// at a fully staffed hall. A withdrawn offer puts its call back among these even when
    /// that makes them more than `max_waiting`: it was admitted, and admission is only
    /// checked at arrival (as when the limit is lowered, nobody is evicted).
    fn waiting_for_an_agent(&self) -> usize {
        self.ready.len() + self.ready_chats.len() + self.parked as usize
    }

    /// The ready calls (`chat == false`) or chats.
    fn ready_mut(&mut self, chat: bool) -> &mut BTreeMap<QueueKey, CallId> {
        if chat { &mut self.ready_chats } else { &mut self.ready }
    }
}

/// A waiting call's entry in [`Queue::waiting`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Slot {
    call: CallId,
    /// The position last sent; 0 before the first one. After every step: the rank.
    position: u32,
    /// The estimate last sent with it.
    estimate: Option<Duration>,
}

/// What the current step changed in one skill.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Dirty {
    /// The smallest queue key whose rank may have changed (a call entered or left there).
    from: Option<QueueKey>,
    /// The estimate inputs (staffing, handle time) changed: every waiting call is re-checked.
    full: bool,
}

/// One live call.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    /// Voice or chat; fixed at arrival.
    channel: Channel,
    /// Arrival counter, kept for the call's whole life (transfers included).
    seq: u64,
    /// The citizen's chosen service, passed on with every offer.
    service: Option<String>,
    /// The queue it waits in, or was answered from.
    skill: SkillId,
    /// Higher is served first.
    priority: u8,
    /// When it was first queued; kept across requeues and transfers.
    queued_at: Instant,
    /// Where the call is now.
    phase: Phase,
    /// When `phase` began (for the wallboard, and the handle time once connected).
    phase_since: Instant,
    /// Agents who rejected or missed this call (or transferred it). They get it again only
    /// when no other agent with the skill is available.
    tried: BTreeSet<AgentId>,
    /// [`Command::WaitLimitReached`] was sent.
    wait_limit_reached: bool,
}

impl Call {
    fn key(&self) -> QueueKey {
        (Reverse(self.priority), self.queued_at, self.seq)
    }

    fn is_chat(&self) -> bool {
        self.channel == Channel::Chat
    }
}

/// Where a call is. The agent named here has the mirror state in [`AgentState`] (a connected
/// chat: the agent's [`Agent::chats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Waiting for an available agent.
    Queued,
    /// Waiting, but its citizen is disconnected: keeps its place, offered to nobody.
    Parked,
    /// Offered to this agent, who has not answered yet.
    Ringing(AgentId),
    /// Answered by this agent.
    Connected(AgentId),
}

impl Phase {
    /// In its queue's `waiting` (everything but connected).
    fn is_waiting(&self) -> bool {
        !matches!(self, Phase::Connected(_))
    }
}

/// One logged-in agent.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Agent {
    /// What the agent is doing.
    state: AgentState,
    /// When `state` began; reported in [`Command::AgentState`].
    since: Instant,
    /// When the agent last became available after being away or working. Among agents of the
    /// same level the earliest is offered first. An offer that does not become a call does
    /// not move it: ringing is not work.
    idle_since: Instant,
    /// Skill levels, 1 to 10.
    skills: BTreeMap<SkillId, u8>,
    /// Ring timeouts in a row.
    misses: u32,
    /// How many chats, and whether calls beside them.
    profile: RoutingProfile,
    /// The chats connected to the agent. They do not change [`Agent::state`]: an agent with
    /// chats is available (for more, up to the capacity), away, ringing or even on a call.
    chats: BTreeSet<CallId>,
}

impl Agent {
    /// May be offered a voice call: available, and no chat (or, per the profile, fewer than
    /// the capacity).
    fn takes_voice(&self) -> bool {
        self.state == AgentState::Available
            && (self.chats.is_empty()
                || (self.profile.calls_with_chats && self.chats.len() < self.chat_capacity()))
    }

    /// May be offered a chat: available and below the chat capacity.
    fn takes_chat(&self) -> bool {
        self.state == AgentState::Available && self.chats.len() < self.chat_capacity()
    }

    fn chat_capacity(&self) -> usize {
        usize::from(self.profile.chat_capacity)
    }

    fn load(&self) -> u32 {
        u32::try_from(self.chats.len()).unwrap_or(u32::MAX)
    }
}

/// What an agent is doing. The call named here has the mirror phase in [`Phase`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum AgentState {
    /// Can be offered a call.
    Available,
    /// Logged in, not taking calls.
    Away {
        /// One of the configured reasons, [`MISSED_CALLS_REASON`], or none.
        reason: Option<String>,
    },
    /// This call rings at the agent.
    Ringing(CallId),
    /// Talking on this call.
    OnCall(CallId),
    /// Wrapping up; available by itself at `until` (`None`: only when the agent says so).
    AfterCallWork {
        /// When the wrap-up timer fires.
        until: Option<Instant>,
    },
}

impl AgentState {
    /// The protocol's name for this state.
    fn activity(&self) -> AgentActivity {
        match self {
            AgentState::Available => AgentActivity::Available,
            AgentState::Away { .. } => AgentActivity::Away,
            AgentState::Ringing(_) => AgentActivity::Ringing,
            AgentState::OnCall(_) => AgentActivity::OnCall,
            AgentState::AfterCallWork { .. } => AgentActivity::AfterCallWork,
        }
    }

    /// The call the agent holds, ringing or connected.
    fn call(&self) -> Option<&CallId> {
        match self {
            AgentState::Ringing(call) | AgentState::OnCall(call) => Some(call),
            _ => None,
        }
    }

    /// The away reason, if any.
    fn reason(&self) -> Option<&str> {
        match self {
            AgentState::Away { reason } => reason.as_deref(),
            _ => None,
        }
    }

    /// The end of after-call work, if in it.
    fn until(&self) -> Option<Instant> {
        match self {
            AgentState::AfterCallWork { until } => *until,
            _ => None,
        }
    }

    fn is_away(&self) -> bool {
        matches!(self, AgentState::Away { .. })
    }
}

/// Marks `skill` dirty (if configured): dispatch, and re-announce from `from` or everything.
fn mark(
    dirty: &mut BTreeMap<SkillId, Dirty>,
    queues: &BTreeMap<SkillId, Queue>,
    skill: &SkillId,
    from: Option<QueueKey>,
    full: bool,
) {
    if !queues.contains_key(skill) {
        return;
    }
    let d = dirty.entry(skill.clone()).or_default();
    d.full |= full;
    if let Some(from) = from {
        d.from = Some(d.from.map_or(from, |old| old.min(from)));
    }
}

/// `position × (handle time + after-call work) / staffed`, rounded up to 10 s; see
/// `docs/wait-estimate.md`.
fn estimate(position: u32, staffed: u32, cycle_ms: u64) -> Option<Duration> {
    if staffed == 0 {
        return None;
    }
    let ms = u128::from(position) * u128::from(cycle_ms) / u128::from(staffed);
    let steps = ms.div_ceil(10_000);
    Some(Duration::from_secs(u64::try_from(steps * 10).unwrap_or(u64::MAX)))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Engine {
    /// An engine with no queues, calls or agents. `anchor` maps the shell's instants to wall
    /// time (only business hours need it).
    pub fn new(config: EngineConfig, anchor: ClockAnchor) -> Self {
        Self {
            config,
            anchor,
            calendar: Calendar::default(),
            queues: BTreeMap::new(),
            calls: BTreeMap::new(),
            agents: BTreeMap::new(),
            timers: TimerTable::default(),
            commands: VecDeque::new(),
            next_seq: 0,
            dirty: BTreeMap::new(),
        }
    }

    /// The configuration the engine was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The calendar in force.
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// The clock anchor in force.
    pub fn clock_anchor(&self) -> ClockAnchor {
        self.anchor
    }

    /// Re-anchors wall time (after the shell noticed the wall clock was stepped). Affects only
    /// later admission checks; nothing is re-evaluated and no command is queued.
    pub fn set_clock_anchor(&mut self, anchor: ClockAnchor) {
        self.anchor = anchor;
    }

    /// Whether a call for `skill` would be admitted at `now`, for a shell that wants to know
    /// before it sets up media. Checked in this order: closed, full, no agents. A skill with
    /// no configured queue answers `Err(TurnAway::NoAgents)` (no agent serves it), while
    /// [`Input::CallArrived`] for it is refused with [`EngineError::UnknownQueue`].
    ///
    /// # Errors
    ///
    /// The [`TurnAway`] the call would be ended with.
    pub fn admission(&self, skill: &SkillId, now: Instant) -> Result<(), TurnAway> {
        self.admission_expecting(skill, now, 0)
    }

    /// [`Engine::admission`] for a shell that has already admitted `arriving` calls of `skill`
    /// which have not arrived yet (their media and records are being set up). Those that
    /// the skill's available agents will take on arrival are not counted; the rest will wait
    /// for an agent and count toward `max_waiting`. So a burst at a fully staffed queue is
    /// admitted, and a burst at a busy queue stops at its limit before any citizen is told
    /// `call_queued`. [`Input::CallArrived`] still checks admission itself, as at any arrival.
    ///
    /// # Errors
    ///
    /// The [`TurnAway`] the call would be ended with.
    pub fn admission_expecting(
        &self,
        skill: &SkillId,
        now: Instant,
        arriving: usize,
    ) -> Result<(), TurnAway> {
        let Some(q) = self.queues.get(skill) else {
            return Err(TurnAway::NoAgents);
        };
        let wall = self.anchor.unix_ms_at(now);
        if !self.calendar.is_open(&q.settings.hours, wall) {
            let opens_at_ms = self.calendar.next_opening(&q.settings.hours, wall);
            return Err(TurnAway::Closed { opens_at_ms });
        }
        let will_wait = arriving.saturating_sub(q.available.len());
        if let Some(max) = q.settings.max_waiting
            && q.waiting_for_an_agent() + will_wait >= usize::try_from(max).unwrap_or(usize::MAX)
        {
            return Err(TurnAway::QueueFull);
        }
        if q.logged_in == 0 {
            return Err(TurnAway::NoAgents);
        }
        Ok(())
    }

    /// Applies one input that happened at `now`.
    ///
    /// On `Err` nothing changed and no command was queued. On `Ok` the resulting commands are
    /// ready in [`Engine::poll_command`] and [`Engine::poll_timeout`] may have moved.
    ///
    /// Expired timers are *not* processed here: an input handled before [`Engine::handle_timeout`]
    /// wins the race (an accept that beats the ring timeout connects).
    ///
    /// # Errors
    ///
    /// An [`EngineError`] when the input does not fit the current state.
    pub fn handle_input(&mut self, now: Instant, input: Input) -> Result<(), EngineError> {
        match input {
            Input::CallArrived { call, skill, priority, service } => {
                self.call_arrived(now, call, skill, priority, service, Channel::Voice)?;
            }
            Input::ChatArrived { chat, skill, priority, service } => {
                self.call_arrived(now, chat, skill, priority, service, Channel::Chat)?;
            }
            Input::UpgradeChat { chat, agent } => self.upgrade_chat(now, &agent, &chat)?,
            Input::SetRoutingProfile { agent, profile } => {
                self.set_routing_profile(&agent, profile)?;
            }
            Input::CallAbandoned { call } => self.citizen_left(now, &call)?,
            Input::CitizenDisconnected { call } => self.citizen_disconnected(now, &call)?,
            Input::CitizenReconnected { call } => self.citizen_reconnected(now, &call)?,
            Input::ConfigureQueue { skill, settings } => self.configure_queue(now, skill, settings),
            Input::SetCalendar { calendar } => self.calendar = calendar,
            Input::SetAwayReasons { reasons } => self.config.away_reasons = reasons,
            Input::AgentLoggedIn { agent, skills } => self.agent_logged_in(now, agent, skills)?,
            Input::SetAgentSkills { agent, skills } => self.set_agent_skills(&agent, skills)?,
            Input::AgentLoggedOut { agent } => self.agent_logged_out(now, &agent)?,
            Input::AgentAvailable { agent } => self.agent_available(now, &agent)?,
            Input::AgentAway { agent, reason } => self.agent_away(now, &agent, reason)?,
            Input::Accept { agent, call } => self.accept(now, &agent, &call)?,
            Input::Reject { agent, call } => self.reject(now, &agent, &call)?,
            Input::HangUp { call, by } => self.hang_up(now, &call, &by)?,
            Input::MediaFailed { call } => self.media_failed(now, &call)?,
            Input::EndCall { call, reason } => {
                self.live_call(&call)?;
                self.end_call(now, &call, reason);
            }
            Input::TakenOver { call } => self.taken_over(now, &call)?,
            Input::Transfer { agent, call, to_skill, priority } => {
                self.transfer(now, &agent, &call, to_skill, priority)?;
            }
        }
        self.settle(now);
        Ok(())
    }

    /// Fires every timer due at or before `now`, earliest first. Calling it early or twice is
    /// harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            match timer {
                Timer::Ring(call) => self.ring_timed_out(now, &call),
                Timer::Grace(call) => self.end_call(now, &call, EndReason::Abandoned),
                Timer::MaxWait(call) => self.wait_limit_reached(now, &call),
                Timer::WrapUp(agent) => {
                    self.set_agent_state(now, &agent, AgentState::Available, true);
                }
            }
        }
        self.settle(now);
    }

    /// The next command for the shell, oldest first; `None` when drained.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// When [`Engine::handle_timeout`] must be called next; `None` while no timer is armed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    // ----- inputs: validate, then apply -------------------------------------------------------

    fn call_arrived(
        &mut self,
        now: Instant,
        call: CallId,
        skill: SkillId,
        priority: u8,
        service: Option<String>,
        channel: Channel,
    ) -> Result<(), EngineError> {
        if self.calls.contains_key(&call) {
            return Err(EngineError::DuplicateCall(call));
        }
        if !self.queues.contains_key(&skill) {
            return Err(EngineError::UnknownQueue(skill));
        }
        if let Err(turned_away) = self.admission(&skill, now) {
            let reason = turned_away.end_reason();
            self.commands.push_back(Command::End { call, agent: None, reason });
            return Ok(());
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.calls.insert(
            call.clone(),
            Call {
                channel,
                seq,
                service,
                skill,
                priority,
                queued_at: now,
                phase: Phase::Queued,
                phase_since: now,
                tried: BTreeSet::new(),
                wait_limit_reached: false,
            },
        );
        self.enter_queue(&call);
        self.arm_max_wait(now, &call);
        Ok(())
    }

    fn citizen_left(&mut self, now: Instant, call: &CallId) -> Result<(), EngineError> {
        let reason = match self.live_call(call)?.phase {
            Phase::Connected(_) => EndReason::CitizenDisconnected,
            _ => EndReason::Abandoned,
        };
        self.end_call(now, call, reason);
        Ok(())
    }

    fn citizen_disconnected(&mut self, now: Instant, call: &CallId) -> Result<(), EngineError> {
        match self.live_call(call)?.phase.clone() {
            Phase::Connected(_) => self.end_call(now, call, EndReason::CitizenDisconnected),
            Phase::Parked => return Err(EngineError::AlreadyParked(call.clone())),
            Phase::Queued => self.park(now, call),
            Phase::Ringing(agent) => {
                self.commands.push_back(Command::WithdrawOffer {
                    call: call.clone(),
                    agent: agent.clone(),
                    reason: WithdrawReason::CitizenLeft,
                });
                self.park(now, call);
                self.set_agent_state(now, &agent, AgentState::Available, false);
            }
        }
        Ok(())
    }

    fn park(&mut self, now: Instant, call: &CallId) {
        self.set_phase(now, call, Phase::Parked);
        if let Some(deadline) = now.checked_add(self.config.reconnect_grace) {
            self.timers.set(Timer::Grace(call.clone()), deadline);
        }
    }

    fn citizen_reconnected(&mut self, now: Instant, call: &CallId) -> Result<(), EngineError> {
        if self.live_call(call)?.phase != Phase::Parked {
            return Err(EngineError::NotParked(call.clone()));
        }
        self.set_phase(now, call, Phase::Queued);
        Ok(())
    }

    fn configure_queue(&mut self, now: Instant, skill: SkillId, settings: QueueSettings) {
        if let Some(q) = self.queues.get_mut(&skill) {
            let max_wait_changed = q.settings.max_wait != settings.max_wait;
            q.settings = settings;
            if max_wait_changed {
                let calls: Vec<CallId> = q.waiting.values().map(|s| s.call.clone()).collect();
                for call in calls {
                    self.timers.stop(&Timer::MaxWait(call.clone()));
                    self.arm_max_wait(now, &call);
                }
            }
        } else {
            let mut q = Queue {
                settings,
                waiting: BTreeMap::new(),
                ready: BTreeMap::new(),
                ready_chats: BTreeMap::new(),
                parked: 0,
                available: BTreeSet::new(),
                chat_available: BTreeSet::new(),
                logged_in: 0,
                staffed: 0,
                handle_time_ms: millis(self.config.default_handle_time),
            };
            for (id, a) in &self.agents {
                if let Some(&level) = a.skills.get(&skill) {
                    q.logged_in += 1;
                    if !a.state.is_away() {
                        q.staffed += 1;
                    }
                    if a.takes_voice() {
                        q.available.insert((Reverse(level), a.idle_since, id.clone()));
                    }
                    if a.takes_chat() {
                        q.chat_available.insert((
                            a.load(),
                            Reverse(level),
                            a.idle_since,
                            id.clone(),
                        ));
                    }
                }
            }
            self.queues.insert(skill.clone(), q);
        }
        mark(&mut self.dirty, &self.queues, &skill, None, true);
    }

    fn check_skills(skills: &BTreeMap<SkillId, u8>) -> Result<(), EngineError> {
        match skills.iter().find(|(_, level)| !SKILL_LEVELS.contains(*level)) {
            Some((skill, &level)) => {
                Err(EngineError::InvalidSkillLevel { skill: skill.clone(), level })
            }
            None => Ok(()),
        }
    }

    fn agent_logged_in(
        &mut self,
        now: Instant,
        agent: AgentId,
        skills: BTreeMap<SkillId, u8>,
    ) -> Result<(), EngineError> {
        if self.agents.contains_key(&agent) {
            return Err(EngineError::AlreadyLoggedIn(agent));
        }
        Self::check_skills(&skills)?;
        self.agents.insert(
            agent.clone(),
            Agent {
                state: AgentState::Away { reason: None },
                since: now,
                idle_since: now,
                skills,
                misses: 0,
                profile: self.config.routing_profile,
                chats: BTreeSet::new(),
            },
        );
        self.attach(&agent, true);
        self.report_agent(&agent);
        Ok(())
    }

    fn set_agent_skills(
        &mut self,
        agent: &AgentId,
        skills: BTreeMap<SkillId, u8>,
    ) -> Result<(), EngineError> {
        if !self.agents.contains_key(agent) {
            return Err(EngineError::UnknownAgent(agent.clone()));
        }
        Self::check_skills(&skills)?;
        self.detach(agent, true);
        self.agents.get_mut(agent).expect("checked").skills = skills;
        self.attach(agent, true);
        Ok(())
    }

    fn set_routing_profile(
        &mut self,
        agent: &AgentId,
        profile: RoutingProfile,
    ) -> Result<(), EngineError> {
        let a = self.agents.get(agent).ok_or_else(|| EngineError::UnknownAgent(agent.clone()))?;
        if let AgentState::Ringing(call) = &a.state {
            // The offer was made under the old profile; it must be answered first.
            return Err(EngineError::AgentBusy {
                agent: agent.clone(),
                call: call.clone(),
                activity: AgentActivity::Ringing,
            });
        }
        if profile.chat_capacity > MAX_CHAT_CAPACITY {
            return Err(EngineError::InvalidChatCapacity(profile.chat_capacity));
        }
        self.detach(agent, false);
        self.agents.get_mut(agent).expect("checked").profile = profile;
        self.attach(agent, false);
        Ok(())
    }

    fn agent_logged_out(&mut self, now: Instant, agent: &AgentId) -> Result<(), EngineError> {
        if !self.agents.contains_key(agent) {
            return Err(EngineError::UnknownAgent(agent.clone()));
        }
        self.detach(agent, true);
        // Removed before the call is dealt with: a logged-out agent gets no more commands.
        let removed = self.agents.remove(agent).expect("checked");
        self.timers.stop(&Timer::WrapUp(agent.clone()));
        match removed.state {
            // No WithdrawOffer: the shell caused this and the protocol has no reason for it.
            AgentState::Ringing(call) => self.set_phase(now, &call, Phase::Queued),
            AgentState::OnCall(call) => self.end_call(now, &call, EndReason::AgentDisconnected),
            _ => {}
        }
        for chat in &removed.chats {
            self.end_call(now, chat, EndReason::AgentDisconnected);
        }
        Ok(())
    }

    fn agent_available(&mut self, now: Instant, agent: &AgentId) -> Result<(), EngineError> {
        let a = self.idle_agent(agent)?;
        if a.state == AgentState::Available {
            // Confirmed, nothing moves (the client gets its reply).
            self.report_agent(agent);
        } else {
            self.set_agent_state(now, agent, AgentState::Available, true);
        }
        Ok(())
    }

    fn agent_away(
        &mut self,
        now: Instant,
        agent: &AgentId,
        reason: Option<String>,
    ) -> Result<(), EngineError> {
        let a = self.idle_agent(agent)?;
        if let Some(r) = &reason
            && (r == MISSED_CALLS_REASON || !self.config.away_reasons.contains(r))
        {
            return Err(EngineError::UnknownAwayReason(r.clone()));
        }
        if a.state.is_away() {
            // Only the reason changes; the agent has been away since before.
            self.agents.get_mut(agent).expect("checked").state = AgentState::Away { reason };
            self.report_agent(agent);
        } else {
            self.set_agent_state(now, agent, AgentState::Away { reason }, false);
        }
        Ok(())
    }

    fn accept(&mut self, now: Instant, agent: &AgentId, call: &CallId) -> Result<(), EngineError> {
        self.check_ringing_at(agent, call)?;
        self.timers.stop(&Timer::MaxWait(call.clone()));
        self.set_phase(now, call, Phase::Connected(agent.clone()));
        self.agents.get_mut(agent).expect("checked").misses = 0;
        self.commands.push_back(Command::Connect { call: call.clone(), agent: agent.clone() });
        if self.calls[call].is_chat() {
            // Ringing, the agent is in no index, so the chat count may change before the state.
            // Taking a chat is work: the idle time restarts.
            self.agents.get_mut(agent).expect("checked").chats.insert(call.clone());
            self.set_agent_state(now, agent, AgentState::Available, true);
        } else {
            self.set_agent_state(now, agent, AgentState::OnCall(call.clone()), false);
        }
        Ok(())
    }

    /// A connected chat becomes a voice call with its agent: the chat slot frees and the agent
    /// is on the call (its handle time counts from here).
    fn upgrade_chat(
        &mut self,
        now: Instant,
        agent: &AgentId,
        chat: &CallId,
    ) -> Result<(), EngineError> {
        self.check_connected_to(agent, chat)?;
        self.idle_agent(agent)?;
        if !self.calls[chat].is_chat() {
            return Err(EngineError::NotYourCall { call: chat.clone(), agent: agent.clone() });
        }
        self.release_chat(agent, chat);
        let c = self.calls.get_mut(chat).expect("checked");
        c.channel = Channel::Voice;
        c.phase_since = now;
        self.set_agent_state(now, agent, AgentState::OnCall(chat.clone()), true);
        Ok(())
    }

    fn reject(&mut self, now: Instant, agent: &AgentId, call: &CallId) -> Result<(), EngineError> {
        self.check_ringing_at(agent, call)?;
        self.withdraw(now, call, WithdrawReason::Rejected);
        self.agents.get_mut(agent).expect("checked").misses = 0;
        self.set_agent_state(now, agent, AgentState::Available, false);
        Ok(())
    }

    fn hang_up(&mut self, now: Instant, call: &CallId, by: &Party) -> Result<(), EngineError> {
        let reason = match by {
            Party::Citizen => match self.live_call(call)?.phase {
                Phase::Connected(_) => EndReason::CitizenHangUp,
                _ => EndReason::Abandoned,
            },
            Party::Agent(agent) => {
                self.check_connected_to(agent, call)?;
                EndReason::AgentHangUp
            }
        };
        self.end_call(now, call, reason);
        Ok(())
    }

    fn media_failed(&mut self, now: Instant, call: &CallId) -> Result<(), EngineError> {
        self.live_call(call)?;
        self.end_call(now, call, EndReason::MediaFailed);
        Ok(())
    }

    fn taken_over(&mut self, now: Instant, call: &CallId) -> Result<(), EngineError> {
        match &self.live_call(call)?.phase {
            Phase::Connected(_) => {
                self.end_call(now, call, EndReason::TakenOver);
                Ok(())
            }
            _ => Err(EngineError::NotConnected(call.clone())),
        }
    }

    fn transfer(
        &mut self,
        now: Instant,
        agent: &AgentId,
        call: &CallId,
        to_skill: SkillId,
        priority: Option<u8>,
    ) -> Result<(), EngineError> {
        self.check_connected_to(agent, call)?;
        if !self.queues.contains_key(&to_skill) {
            return Err(EngineError::UnknownQueue(to_skill));
        }
        if let Err(reason) = self.admission(&to_skill, now) {
            return Err(EngineError::TransferRefused { call: call.clone(), reason });
        }
        let c = self.calls.get_mut(call).expect("checked");
        let from_skill = std::mem::replace(&mut c.skill, to_skill.clone());
        let talked = now.saturating_duration_since(c.phase_since);
        let chat = c.is_chat();
        c.priority = priority.unwrap_or(c.priority);
        c.tried.clear();
        c.tried.insert(agent.clone());
        if !chat {
            self.record_handle_time(&from_skill, talked);
        }
        self.commands.push_back(Command::Transferred {
            call: call.clone(),
            agent: agent.clone(),
            skill: to_skill,
        });
        self.set_phase(now, call, Phase::Queued);
        self.arm_max_wait(now, call);
        if chat {
            self.release_chat(agent, call);
        } else {
            self.free_agent(now, agent);
        }
        Ok(())
    }

    // ----- timers -----------------------------------------------------------------------------

    /// The offer rang out: withdraw it; the agent stays available (the call prefers others)
    /// until [`EngineConfig::max_missed_offers`] in a row set them away.
    fn ring_timed_out(&mut self, now: Instant, call: &CallId) {
        let Some(Phase::Ringing(agent)) = self.calls.get(call).map(|c| c.phase.clone()) else {
            unreachable!("ring timer of {call} armed while it is not ringing");
        };
        self.withdraw(now, call, WithdrawReason::RingTimeout);
        let max = self.config.max_missed_offers;
        let a = self.agents.get_mut(&agent).expect("a ringing agent is logged in");
        a.misses += 1;
        if max > 0 && a.misses >= max {
            a.misses = 0;
            let reason = Some(MISSED_CALLS_REASON.to_owned());
            self.set_agent_state(now, &agent, AgentState::Away { reason }, false);
        } else {
            self.set_agent_state(now, &agent, AgentState::Available, false);
        }
    }

    fn wait_limit_reached(&mut self, now: Instant, call: &CallId) {
        let c = self.calls.get_mut(call).expect("a max-wait timer belongs to a live call");
        debug_assert!(c.phase.is_waiting() && !c.wait_limit_reached);
        c.wait_limit_reached = true;
        let waited = now.saturating_duration_since(c.queued_at);
        self.commands.push_back(Command::WaitLimitReached { call: call.clone(), waited });
    }

    /// Arms the waiting call's maximum-wait timer per its queue, or notifies at once when the
    /// limit is already behind it (a transfer or a lowered limit). Once per call.
    fn arm_max_wait(&mut self, now: Instant, call: &CallId) {
        let c = &self.calls[call];
        if c.wait_limit_reached {
            return;
        }
        let Some(max_wait) = self.queues[&c.skill].settings.max_wait else {
            return;
        };
        match c.queued_at.checked_add(max_wait) {
            Some(deadline) if deadline <= now => self.wait_limit_reached(now, call),
            Some(deadline) => self.timers.set(Timer::MaxWait(call.clone()), deadline),
            None => {}
        }
    }

    // ----- settling: what follows from any change ---------------------------------------------

    /// Restores the resting shape of every dirty skill; see the module documentation.
    fn settle(&mut self, now: Instant) {
        let skills: Vec<SkillId> = self.dirty.keys().cloned().collect();
        for skill in &skills {
            let q = &self.queues[skill];
            if q.logged_in == 0 {
                // Nobody who could take these is logged in; the shell offers the fallbacks.
                // A call still ringing at an agent who just lost the skill keeps its offer.
                let ending: Vec<CallId> = q
                    .waiting
                    .values()
                    .filter(|s| !matches!(self.calls[&s.call].phase, Phase::Ringing(_)))
                    .map(|s| s.call.clone())
                    .collect();
                for call in ending {
                    self.end_call(now, &call, EndReason::NoAgents);
                }
            }
        }
        self.dispatch(now, &skills);
        let dirty = std::mem::take(&mut self.dirty);
        for (skill, d) in dirty {
            self.announce(&skill, &d);
        }
        #[cfg(debug_assertions)]
        self.assert_invariants();
    }

    /// Offers ready calls and chats of the dirty skills to their available agents, in global
    /// queue order (priority, first queued, arrival) across those skills and both channels,
    /// until no dirty skill has a ready contact and an agent who may take it.
    fn dispatch(&mut self, now: Instant, skills: &[SkillId]) {
        let head = |q: &Queue, channel: Channel| -> Option<QueueKey> {
            let (ready, free) = match channel {
                Channel::Voice => (&q.ready, !q.available.is_empty()),
                Channel::Chat => (&q.ready_chats, !q.chat_available.is_empty()),
            };
            if free { ready.keys().next().copied() } else { None }
        };
        let mut heads: BTreeSet<(QueueKey, SkillId, Channel)> = BTreeSet::new();
        for s in skills {
            for channel in [Channel::Voice, Channel::Chat] {
                if let Some(k) = head(&self.queues[s], channel) {
                    heads.insert((k, s.clone(), channel));
                }
            }
        }
        while let Some((key, skill, channel)) = heads.pop_first() {
            let q = &self.queues[&skill];
            let (call, agent) = match channel {
                Channel::Voice => {
                    if q.available.is_empty() {
                        continue; // an offer elsewhere took its last available agent
                    }
                    let call = q.ready[&key].clone();
                    let tried = &self.calls[&call].tried;
                    let chosen = q.available.iter().find(|(_, _, id)| !tried.contains(id));
                    (call, chosen.or_else(|| q.available.first()).expect("non-empty").2.clone())
                }
                Channel::Chat => {
                    if q.chat_available.is_empty() {
                        continue;
                    }
                    let call = q.ready_chats[&key].clone();
                    let tried = &self.calls[&call].tried;
                    let chosen = q.chat_available.iter().find(|(.., id)| !tried.contains(id));
                    let chosen = chosen.or_else(|| q.chat_available.first()).expect("non-empty");
                    (call, chosen.3.clone())
                }
            };
            self.offer(now, &call, &agent);
            // The offer took the agent out of both channels' indexes; the other channel's
            // head is already in the set (or has no agent left).
            if let Some(next) = head(&self.queues[&skill], channel) {
                heads.insert((next, skill, channel));
            }
        }
    }

    fn offer(&mut self, now: Instant, call: &CallId, agent: &AgentId) {
        let ring_timeout = self.config.ring_timeout;
        self.set_phase(now, call, Phase::Ringing(agent.clone()));
        let c = &self.calls[call];
        // A ring timeout too large to represent is treated as "rings until answered".
        if let Some(deadline) = now.checked_add(ring_timeout) {
            self.timers.set(Timer::Ring(call.clone()), deadline);
        }
        self.commands.push_back(Command::Offer {
            call: call.clone(),
            agent: agent.clone(),
            skill: c.skill.clone(),
            ring_timeout,
            waited: now.saturating_duration_since(c.queued_at),
            service: c.service.clone(),
        });
        self.set_agent_state(now, agent, AgentState::Ringing(call.clone()), false);
    }

    /// Sends every waiting call of `skill` whose rank or estimate changed its new position.
    /// Starts at the first changed key unless the estimate inputs changed.
    fn announce(&mut self, skill: &SkillId, dirty: &Dirty) {
        let cycle_ms =
            self.queues[skill].handle_time_ms.saturating_add(millis(self.config.after_call_work));
        let q = self.queues.get_mut(skill).expect("dirty skills are configured");
        let staffed = q.staffed;
        let (start, from) = match (dirty.full, dirty.from) {
            (true, _) => (1, Bound::Unbounded),
            (false, Some(from)) => {
                let before = q.waiting.range(..from).next_back();
                (before.map_or(1, |(_, s)| s.position + 1), Bound::Included(from))
            }
            (false, None) => return,
        };
        for (rank, slot) in (start..).zip(q.waiting.range_mut((from, Bound::Unbounded))) {
            let slot = slot.1;
            let estimated_wait = estimate(rank, staffed, cycle_ms);
            if slot.position != rank || slot.estimate != estimated_wait {
                slot.position = rank;
                slot.estimate = estimated_wait;
                self.commands.push_back(Command::Position {
                    call: slot.call.clone(),
                    position: rank,
                    estimated_wait,
                });
            }
        }
    }

    // ----- shared steps -----------------------------------------------------------------------

    /// Moves a live call to `phase`, keeping the queue indexes and the call's timers in step:
    /// leaving ringing stops the ring timer, leaving parked the grace timer; entering or
    /// leaving the waiting calls marks the ranks from the call's key dirty.
    fn set_phase(&mut self, now: Instant, call: &CallId, phase: Phase) {
        let c = self.calls.get_mut(call).expect("set_phase of a live call");
        let old = std::mem::replace(&mut c.phase, phase.clone());
        c.phase_since = now;
        let (key, skill, chat) = (c.key(), c.skill.clone(), c.is_chat());
        match old {
            Phase::Ringing(_) => self.timers.stop(&Timer::Ring(call.clone())),
            Phase::Parked => self.timers.stop(&Timer::Grace(call.clone())),
            _ => {}
        }
        let q = self.queues.get_mut(&skill).expect("calls wait in configured queues");
        match old {
            Phase::Queued => {
                q.ready_mut(chat).remove(&key);
            }
            Phase::Parked => q.parked -= 1,
            Phase::Ringing(_) => {}
            Phase::Connected(_) => {
                q.waiting.insert(key, Slot { call: call.clone(), position: 0, estimate: None });
                mark(&mut self.dirty, &self.queues, &skill, Some(key), false);
            }
        }
        // Any phase change may matter to the skill (dispatch, or the no-agents sweep of a call
        // that was ringing at an agent who has since lost the skill).
        mark(&mut self.dirty, &self.queues, &skill, None, false);
        let q = self.queues.get_mut(&skill).expect("calls wait in configured queues");
        match phase {
            Phase::Queued => {
                q.ready_mut(chat).insert(key, call.clone());
            }
            Phase::Parked => q.parked += 1,
            Phase::Ringing(_) => {}
            Phase::Connected(_) => {
                q.waiting.remove(&key);
                mark(&mut self.dirty, &self.queues, &skill, Some(key), false);
            }
        }
    }

    /// Puts a new call (phase queued) into its queue.
    fn enter_queue(&mut self, call: &CallId) {
        let c = &self.calls[call];
        let (key, skill, chat) = (c.key(), c.skill.clone(), c.is_chat());
        let q = self.queues.get_mut(&skill).expect("calls wait in configured queues");
        q.waiting.insert(key, Slot { call: call.clone(), position: 0, estimate: None });
        q.ready_mut(chat).insert(key, call.clone());
        mark(&mut self.dirty, &self.queues, &skill, Some(key), false);
    }

    /// Ends a live call in any phase: withdraws a ringing offer, sends a connected agent to
    /// after-call work, forgets the call. A connected agent already removed by their logout is
    /// skipped.
    fn end_call(&mut self, now: Instant, call: &CallId, reason: EndReason) {
        let c = &self.calls[call];
        let (key, skill, chat) = (c.key(), c.skill.clone(), c.is_chat());
        let phase = c.phase.clone();
        let talked = now.saturating_duration_since(c.phase_since);
        if phase.is_waiting() {
            let q = self.queues.get_mut(&skill).expect("calls wait in configured queues");
            q.waiting.remove(&key);
            match phase {
                Phase::Queued => {
                    q.ready_mut(chat).remove(&key);
                }
                Phase::Parked => q.parked -= 1,
                _ => {}
            }
            mark(&mut self.dirty, &self.queues, &skill, Some(key), false);
        }
        self.calls.remove(call);
        for timer in
            [Timer::Ring(call.clone()), Timer::Grace(call.clone()), Timer::MaxWait(call.clone())]
        {
            self.timers.stop(&timer);
        }
        let connected_agent = match phase {
            Phase::Queued | Phase::Parked => None,
            Phase::Ringing(agent) => {
                // Never reached by a logout (that requeues), so the agent is still here.
                self.commands.push_back(Command::WithdrawOffer {
                    call: call.clone(),
                    agent: agent.clone(),
                    reason: WithdrawReason::CitizenLeft,
                });
                self.set_agent_state(now, &agent, AgentState::Available, false);
                None
            }
            Phase::Connected(agent) => Some(agent),
        };
        self.commands.push_back(Command::End {
            call: call.clone(),
            agent: connected_agent.clone(),
            reason,
        });
        if let Some(agent) = connected_agent {
            if chat {
                // Chats are long and held side by side: they do not feed the handle time.
                self.release_chat(&agent, call);
            } else {
                self.record_handle_time(&skill, talked);
                if self.agents.contains_key(&agent) {
                    self.free_agent(now, &agent);
                }
            }
        }
    }

    /// A chat left its agent (ended or transferred): one chat slot frees at once, no
    /// after-call work and no state change. An agent already removed by their logout is
    /// skipped.
    fn release_chat(&mut self, agent: &AgentId, chat: &CallId) {
        if !self.agents.contains_key(agent) {
            return;
        }
        self.detach(agent, false);
        self.agents.get_mut(agent).expect("checked").chats.remove(chat);
        self.attach(agent, false);
    }

    /// Folds one handle time into the skill's average (alpha 0.2).
    fn record_handle_time(&mut self, skill: &SkillId, talked: Duration) {
        let Some(q) = self.queues.get_mut(skill) else { return };
        let sample = millis(talked);
        let updated = q.handle_time_ms.saturating_mul(4).saturating_add(sample) / 5;
        if updated != q.handle_time_ms {
            q.handle_time_ms = updated;
            mark(&mut self.dirty, &self.queues, skill, None, true);
        }
    }

    /// An agent whose call just ended or left them: after-call work, or available at once.
    fn free_agent(&mut self, now: Instant, agent: &AgentId) {
        let acw = self.config.after_call_work;
        if acw.is_zero() {
            self.set_agent_state(now, agent, AgentState::Available, true);
        } else {
            let until = now.checked_add(acw);
            self.set_agent_state(now, agent, AgentState::AfterCallWork { until }, false);
        }
    }

    /// Takes a ringing offer back (the agent's state is the caller's business) and puts the
    /// call back at its place in the queue.
    fn withdraw(&mut self, now: Instant, call: &CallId, reason: WithdrawReason) {
        let agent = match &self.calls[call].phase {
            Phase::Ringing(agent) => agent.clone(),
            phase => unreachable!("withdraw of {call} in {phase:?}"),
        };
        self.commands.push_back(Command::WithdrawOffer {
            call: call.clone(),
            agent: agent.clone(),
            reason,
        });
        self.set_phase(now, call, Phase::Queued);
        self.calls.get_mut(call).expect("live").tried.insert(agent);
    }

    /// Changes a logged-in agent's state from `now` and reports it, keeping the skill indexes,
    /// the staffing counts and the wrap-up timer in step. `idle` restarts the agent's idle time.
    fn set_agent_state(&mut self, now: Instant, agent: &AgentId, state: AgentState, idle: bool) {
        self.detach(agent, false);
        let a = self.agents.get_mut(agent).expect("set_agent_state of a logged-in agent");
        let was_away = a.state.is_away();
        a.state = state;
        a.since = now;
        if idle {
            a.idle_since = now;
        }
        let staffing_changed = was_away != a.state.is_away();
        let until = a.state.until();
        self.attach(agent, staffing_changed);
        self.timers.stop(&Timer::WrapUp(agent.clone()));
        if let Some(until) = until {
            self.timers.set(Timer::WrapUp(agent.clone()), until);
        }
        self.report_agent(agent);
    }

    /// Removes the agent from the indexes and counts of their configured skills.
    fn detach(&mut self, agent: &AgentId, staffing_changed: bool) {
        let a = &self.agents[agent];
        for (skill, &level) in &a.skills {
            let Some(q) = self.queues.get_mut(skill) else { continue };
            q.logged_in -= 1;
            if !a.state.is_away() {
                q.staffed -= 1;
            }
            if a.takes_voice() {
                q.available.remove(&(Reverse(level), a.idle_since, agent.clone()));
            }
            if a.takes_chat() {
                q.chat_available.remove(&(a.load(), Reverse(level), a.idle_since, agent.clone()));
            }
            if staffing_changed {
                mark(&mut self.dirty, &self.queues, skill, None, true);
            }
        }
    }

    /// Adds the agent to the indexes and counts of their configured skills; an available agent
    /// makes the skill dirty (dispatch).
    fn attach(&mut self, agent: &AgentId, staffing_changed: bool) {
        let a = &self.agents[agent];
        for (skill, &level) in &a.skills {
            let Some(q) = self.queues.get_mut(skill) else { continue };
            q.logged_in += 1;
            if !a.state.is_away() {
                q.staffed += 1;
            }
            if a.takes_voice() {
                q.available.insert((Reverse(level), a.idle_since, agent.clone()));
            }
            if a.takes_chat() {
                q.chat_available.insert((a.load(), Reverse(level), a.idle_since, agent.clone()));
            }
            if a.takes_voice() || a.takes_chat() || staffing_changed {
                mark(&mut self.dirty, &self.queues, skill, None, staffing_changed);
            }
        }
    }

    /// Queues an [`Command::AgentState`] with the agent's current state.
    fn report_agent(&mut self, agent: &AgentId) {
        let a = &self.agents[agent];
        self.commands.push_back(Command::AgentState {
            agent: agent.clone(),
            state: a.state.activity(),
            reason: a.state.reason().map(str::to_owned),
            since: a.since,
            until: a.state.until(),
        });
    }

    // ----- validation (no mutation) -----------------------------------------------------------

    fn live_call(&self, call: &CallId) -> Result<&Call, EngineError> {
        self.calls.get(call).ok_or_else(|| EngineError::UnknownCall(call.clone()))
    }

    /// The agent, if logged in and holding no call (available, away or in after-call work).
    fn idle_agent(&self, agent: &AgentId) -> Result<&Agent, EngineError> {
        let a = self.agents.get(agent).ok_or_else(|| EngineError::UnknownAgent(agent.clone()))?;
        if let Some(call) = a.state.call() {
            return Err(EngineError::AgentBusy {
                agent: agent.clone(),
                call: call.clone(),
                activity: a.state.activity(),
            });
        }
        Ok(a)
    }

    /// The actor first, then the call, then whether the call rings at this actor.
    fn check_ringing_at(&self, agent: &AgentId, call: &CallId) -> Result<(), EngineError> {
        if !self.agents.contains_key(agent) {
            return Err(EngineError::UnknownAgent(agent.clone()));
        }
        match &self.live_call(call)?.phase {
            Phase::Ringing(ringing) if ringing == agent => Ok(()),
            _ => Err(EngineError::NotOfferedToYou { call: call.clone(), agent: agent.clone() }),
        }
    }

    /// The actor first, then the call, then whether the call is connected to this actor.
    fn check_connected_to(&self, agent: &AgentId, call: &CallId) -> Result<(), EngineError> {
        if !self.agents.contains_key(agent) {
            return Err(EngineError::UnknownAgent(agent.clone()));
        }
        match &self.live_call(call)?.phase {
            Phase::Connected(holder) if holder == agent => Ok(()),
            _ => Err(EngineError::NotYourCall { call: call.clone(), agent: agent.clone() }),
        }
    }
}
