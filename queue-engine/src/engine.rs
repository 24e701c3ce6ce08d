//! The state machine: one queue, first come first served, longest-idle agent first.
//!
//! Every public entry point follows the same two steps:
//! 1. *apply* the input or the expired timers: validate everything first and return an error
//!    before the first mutation, then change calls and agents and queue the commands that
//!    describe the change;
//! 2. [`Engine::settle`]: bring the state back to its resting shape — no call waits while no
//!    agent is logged in, no queued call waits while an agent is available (dispatch), and every
//!    waiting call has been told its current position.
//!
//! Keeping "what happened" apart from "what follows from it" is what lets later issues add
//! routing rules (skills, priorities, business hours, maximum wait, after-call work) in
//! `settle`, `choose_agent` and the timer table without touching every input handler.

#[cfg(debug_assertions)]
mod invariants;
mod views;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use voicedesk_protocol::{AgentActivity, EndReason, WithdrawReason};

pub use self::views::{AgentView, CallPhase, CallView};
use crate::timer::{Timer, TimerTable};
use crate::{AgentId, CallId, Command, EngineConfig, EngineError, Input, Party};

/// Reason set on an agent whose offer rang out unanswered.
pub const MISSED_CALL_REASON: &str = "missed call";

/// The queueing engine (ACD). See the crate documentation for the contract.
///
/// `Clone` and `PartialEq` exist so tests can snapshot the whole state and prove that a
/// refused input changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    /// Fixed at construction.
    config: EngineConfig,
    /// Every live call, from [`Input::CallArrived`] until its [`Command::End`]; an ended call is
    /// forgotten at once, so a late input naming it is [`EngineError::UnknownCall`].
    calls: BTreeMap<CallId, Call>,
    /// The queue: every call not yet answered (queued or ringing), keyed by arrival order.
    /// A ringing call keeps its entry so that its position holds and, if the offer fails, it is
    /// back at its original place without being re-inserted. Answered and ended calls leave.
    waiting: BTreeMap<u64, CallId>,
    /// Every logged-in agent. An agent's entry exists exactly while they are logged in.
    agents: BTreeMap<AgentId, Agent>,
    /// Ring deadlines: armed exactly while a call rings (see [`Timer::Ring`]).
    timers: TimerTable,
    /// Commands not yet drained by [`Engine::poll_command`], oldest first.
    commands: VecDeque<Command>,
    /// Arrival counter; the next call's key in `waiting`. Never reused, so order is total even
    /// when two calls arrive at the same instant.
    next_seq: u64,
}

/// One live call.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    /// Its key in [`Engine::waiting`]: the place in the queue, kept for the call's whole life.
    seq: u64,
    /// The citizen's chosen service, passed on with every offer.
    service: Option<String>,
    /// When it arrived; `waited` in offers is measured from here, across requeues.
    queued_at: Instant,
    /// Where the call is now.
    phase: Phase,
    /// When `phase` began (for the wallboard: ringing for, talking for).
    phase_since: Instant,
    /// Agents who rejected or missed this call. They get it again only when no other agent is
    /// available, so a call does not bounce between the same two people.
    tried: BTreeSet<AgentId>,
    /// The position last sent in [`Command::Position`]; `None` before the first one and once
    /// answered. After every step it equals the call's place in `waiting`.
    position: Option<u32>,
}

/// Where a call is. The agent named here has the mirror state in [`AgentState`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Waiting for an available agent.
    Queued,
    /// Offered to this agent, who has not answered yet.
    Ringing(AgentId),
    /// Answered by this agent.
    Connected(AgentId),
}

/// One logged-in agent.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Agent {
    /// What the agent is doing.
    state: AgentState,
    /// When `state` began; reported in [`Command::AgentState`].
    since: Instant,
    /// When the agent last became available or ended a call. The longest-idle available agent
    /// (earliest `idle_since`) gets the next offer. An offer that does not become a call
    /// (rejected, withdrawn) does not move it: ringing is not work.
    idle_since: Instant,
}

/// What an agent is doing. The call named here has the mirror phase in [`Phase`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum AgentState {
    /// Can be offered a call.
    Available,
    /// Logged in, not taking calls.
    Away {
        /// Free text from the agent, or [`MISSED_CALL_REASON`].
        reason: Option<String>,
    },
    /// This call rings at the agent.
    Ringing(CallId),
    /// Talking on this call.
    OnCall(CallId),
}

impl AgentState {
    /// The protocol's name for this state.
    fn activity(&self) -> AgentActivity {
        match self {
            AgentState::Available => AgentActivity::Available,
            AgentState::Away { .. } => AgentActivity::Away,
            AgentState::Ringing(_) => AgentActivity::Ringing,
            AgentState::OnCall(_) => AgentActivity::OnCall,
        }
    }

    /// The call the agent holds, ringing or connected.
    fn call(&self) -> Option<&CallId> {
        match self {
            AgentState::Ringing(call) | AgentState::OnCall(call) => Some(call),
            AgentState::Available | AgentState::Away { .. } => None,
        }
    }

    /// The away reason, if any.
    fn reason(&self) -> Option<&str> {
        match self {
            AgentState::Away { reason } => reason.as_deref(),
            _ => None,
        }
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new(EngineConfig::default())
    }
}

impl Engine {
    /// An engine with no calls and no agents.
    pub fn new(config: EngineConfig) -> Self {
        Self {
            config,
            calls: BTreeMap::new(),
            waiting: BTreeMap::new(),
            agents: BTreeMap::new(),
            timers: TimerTable::default(),
            commands: VecDeque::new(),
            next_seq: 0,
        }
    }

    /// The configuration the engine was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
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
    /// An [`EngineError`] when the input does not fit the current state: an unknown call or
    /// agent, an accept or reject of a call not ringing at that agent, a hang-up by an agent
    /// not on that call, a state change while ringing or talking, a duplicate login or call id.
    pub fn handle_input(&mut self, now: Instant, input: Input) -> Result<(), EngineError> {
        match input {
            Input::CallArrived { call, service } => self.call_arrived(now, call, service)?,
            Input::CallAbandoned { call } => self.citizen_left(now, &call)?,
            Input::AgentLoggedIn { agent } => self.agent_logged_in(now, agent)?,
            Input::AgentLoggedOut { agent } => self.agent_logged_out(now, &agent)?,
            Input::AgentAvailable { agent } => self.agent_available(now, &agent)?,
            Input::AgentAway { agent, reason } => self.agent_away(now, &agent, reason)?,
            Input::Accept { agent, call } => self.accept(now, &agent, &call)?,
            Input::Reject { agent, call } => self.reject(now, &agent, &call)?,
            Input::HangUp { call, by } => self.hang_up(now, &call, &by)?,
            Input::MediaFailed { call } => self.media_failed(now, &call)?,
            Input::TakenOver { call } => self.taken_over(now, &call)?,
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
        service: Option<String>,
    ) -> Result<(), EngineError> {
        if self.calls.contains_key(&call) {
            return Err(EngineError::DuplicateCall(call));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.waiting.insert(seq, call.clone());
        self.calls.insert(
            call,
            Call {
                seq,
                service,
                queued_at: now,
                phase: Phase::Queued,
                phase_since: now,
                tried: BTreeSet::new(),
                position: None,
            },
        );
        // With nobody logged in, `settle` ends it at once with `NoAgents`.
        Ok(())
    }

    fn citizen_left(&mut self, now: Instant, call: &CallId) -> Result<(), EngineError> {
        let reason = match self.live_call(call)?.phase {
            Phase::Connected(_) => EndReason::CitizenDisconnected,
            Phase::Queued | Phase::Ringing(_) => EndReason::Abandoned,
        };
        self.end_call(now, call, reason);
        Ok(())
    }

    fn agent_logged_in(&mut self, now: Instant, agent: AgentId) -> Result<(), EngineError> {
        if self.agents.contains_key(&agent) {
            return Err(EngineError::AlreadyLoggedIn(agent));
        }
        self.agents.insert(
            agent.clone(),
            Agent { state: AgentState::Away { reason: None }, since: now, idle_since: now },
        );
        self.report_agent(&agent);
        Ok(())
    }

    fn agent_logged_out(&mut self, now: Instant, agent: &AgentId) -> Result<(), EngineError> {
        // Removed first: a logged-out agent gets no more commands (end_call skips them).
        let removed =
            self.agents.remove(agent).ok_or_else(|| EngineError::UnknownAgent(agent.clone()))?;
        match removed.state {
            AgentState::Ringing(call) => {
                // No WithdrawOffer: the shell caused this and the protocol has no reason for it.
                self.requeue(now, &call);
            }
            AgentState::OnCall(call) => self.end_call(now, &call, EndReason::AgentDisconnected),
            AgentState::Available | AgentState::Away { .. } => {}
        }
        Ok(())
    }

    fn agent_available(&mut self, now: Instant, agent: &AgentId) -> Result<(), EngineError> {
        let a = self.idle_agent_mut(agent)?;
        if matches!(a.state, AgentState::Away { .. }) {
            a.state = AgentState::Available;
            a.since = now;
            a.idle_since = now;
        }
        // Already available: confirmed, nothing moves (the client gets its reply).
        self.report_agent(agent);
        Ok(())
    }

    fn agent_away(
        &mut self,
        now: Instant,
        agent: &AgentId,
        reason: Option<String>,
    ) -> Result<(), EngineError> {
        let a = self.idle_agent_mut(agent)?;
        if matches!(a.state, AgentState::Available) {
            a.since = now;
        }
        // Already away: only the reason changes; the agent has been away since before.
        a.state = AgentState::Away { reason };
        self.report_agent(agent);
        Ok(())
    }

    fn accept(&mut self, now: Instant, agent: &AgentId, call: &CallId) -> Result<(), EngineError> {
        self.check_ringing_at(agent, call)?;
        self.timers.stop(&Timer::Ring(call.clone()));
        let c = self.calls.get_mut(call).expect("checked: call rings");
        self.waiting.remove(&c.seq);
        c.phase = Phase::Connected(agent.clone());
        c.phase_since = now;
        c.position = None;
        let a = self.agents.get_mut(agent).expect("checked: agent logged in");
        a.state = AgentState::OnCall(call.clone());
        a.since = now;
        self.commands.push_back(Command::Connect { call: call.clone(), agent: agent.clone() });
        self.report_agent(agent);
        Ok(())
    }

    fn reject(&mut self, now: Instant, agent: &AgentId, call: &CallId) -> Result<(), EngineError> {
        self.check_ringing_at(agent, call)?;
        self.withdraw(now, call, WithdrawReason::Rejected);
        let a = self.agents.get_mut(agent).expect("checked: agent logged in");
        a.state = AgentState::Available;
        a.since = now;
        self.report_agent(agent);
        Ok(())
    }

    fn hang_up(&mut self, now: Instant, call: &CallId, by: &Party) -> Result<(), EngineError> {
        let reason = match by {
            Party::Citizen => match self.live_call(call)?.phase {
                Phase::Connected(_) => EndReason::CitizenHangUp,
                Phase::Queued | Phase::Ringing(_) => EndReason::Abandoned,
            },
            Party::Agent(agent) => {
                if !self.agents.contains_key(agent) {
                    return Err(EngineError::UnknownAgent(agent.clone()));
                }
                match &self.live_call(call)?.phase {
                    Phase::Connected(holder) if holder == agent => EndReason::AgentHangUp,
                    _ => {
                        return Err(EngineError::NotYourCall {
                            call: call.clone(),
                            agent: agent.clone(),
                        });
                    }
                }
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

    // ----- timers -----------------------------------------------------------------------------

    /// The offer rang out: withdraw it, and set the agent away so the call does not come back
    /// to someone who is not there.
    fn ring_timed_out(&mut self, now: Instant, call: &CallId) {
        let Some(Phase::Ringing(agent)) = self.calls.get(call).map(|c| c.phase.clone()) else {
            unreachable!("ring timer of {call} armed while it is not ringing");
        };
        self.withdraw(now, call, WithdrawReason::RingTimeout);
        let a = self.agents.get_mut(&agent).expect("a ringing agent is logged in");
        a.state = AgentState::Away { reason: Some(MISSED_CALL_REASON.to_owned()) };
        a.since = now;
        self.report_agent(&agent);
    }

    // ----- settling: what follows from any change ---------------------------------------------

    /// Restores the resting shape after any change; see the module documentation.
    fn settle(&mut self, now: Instant) {
        if self.agents.is_empty() {
            // No agent can take a call; the shell offers the fallbacks. (With no agent there
            // is no ringing or connected call, so these are all queued.)
            let queued: Vec<CallId> = self.waiting.values().cloned().collect();
            for call in queued {
                self.end_call(now, &call, EndReason::NoAgents);
            }
        }
        self.dispatch(now);
        self.announce_positions();
        #[cfg(debug_assertions)]
        self.assert_invariants();
    }

    /// Offers queued calls, oldest first, while an agent is available.
    fn dispatch(&mut self, now: Instant) {
        while let Some(call) = self.head_of_queue() {
            let Some(agent) = self.choose_agent(&call) else {
                // One queue and no skills yet: if the head cannot be placed, nothing can.
                break;
            };
            self.offer(now, &call, &agent);
        }
    }

    /// The oldest call that is queued and not ringing.
    fn head_of_queue(&self) -> Option<CallId> {
        self.waiting.values().find(|id| self.calls[*id].phase == Phase::Queued).cloned()
    }

    /// The agent `call` should ring at: the longest-idle available agent who has not yet
    /// rejected or missed it, else the longest-idle available agent. Ties go to the smaller id
    /// so the choice never depends on anything but the state.
    fn choose_agent(&self, call: &CallId) -> Option<AgentId> {
        let tried = &self.calls[call].tried;
        self.agents
            .iter()
            .filter(|(_, a)| a.state == AgentState::Available)
            .min_by_key(|(id, a)| (tried.contains(*id), a.idle_since, *id))
            .map(|(id, _)| id.clone())
    }

    fn offer(&mut self, now: Instant, call: &CallId, agent: &AgentId) {
        let ring_timeout = self.config.ring_timeout;
        let c = self.calls.get_mut(call).expect("dispatch offers live calls");
        c.phase = Phase::Ringing(agent.clone());
        c.phase_since = now;
        let waited = now.saturating_duration_since(c.queued_at);
        let service = c.service.clone();
        let a = self.agents.get_mut(agent).expect("dispatch offers to logged-in agents");
        a.state = AgentState::Ringing(call.clone());
        a.since = now;
        // A ring timeout too large to represent is treated as "rings until answered".
        if let Some(deadline) = now.checked_add(ring_timeout) {
            self.timers.set(Timer::Ring(call.clone()), deadline);
        }
        self.commands.push_back(Command::Offer {
            call: call.clone(),
            agent: agent.clone(),
            ring_timeout,
            waited,
            service,
        });
        self.report_agent(agent);
    }

    /// Sends every waiting call whose place changed its new position. Answered and ended calls
    /// are no longer in `waiting`, so they never get one.
    fn announce_positions(&mut self) {
        for (rank, id) in self.waiting.values().enumerate() {
            let position = u32::try_from(rank + 1).unwrap_or(u32::MAX);
            let c = self.calls.get_mut(id).expect("waiting calls are live");
            if c.position != Some(position) {
                c.position = Some(position);
                self.commands.push_back(Command::Position { call: id.clone(), position });
            }
        }
    }

    // ----- shared steps -----------------------------------------------------------------------

    /// Ends a live call in any phase: withdraws a ringing offer, frees a connected agent (who
    /// is idle from now), forgets the call. A connected agent already removed by their logout
    /// is skipped.
    fn end_call(&mut self, now: Instant, call: &CallId, reason: EndReason) {
        let removed = self.calls.remove(call).expect("end_call on a live call");
        self.waiting.remove(&removed.seq);
        self.timers.stop(&Timer::Ring(call.clone()));
        let connected_agent = match removed.phase {
            Phase::Queued => None,
            Phase::Ringing(agent) => {
                // Never reached by a logout (that requeues), so the agent is still here.
                self.commands.push_back(Command::WithdrawOffer {
                    call: call.clone(),
                    agent: agent.clone(),
                    reason: WithdrawReason::CitizenLeft,
                });
                self.make_available(now, &agent, false);
                None
            }
            Phase::Connected(agent) => Some(agent),
        };
        self.commands.push_back(Command::End {
            call: call.clone(),
            agent: connected_agent.clone(),
            reason,
        });
        if let Some(agent) = connected_agent
            && self.agents.contains_key(&agent)
        {
            self.make_available(now, &agent, true);
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
        self.requeue(now, call);
        self.calls.get_mut(call).expect("live").tried.insert(agent);
    }

    /// A ringing call goes back to the queue at its original place and with its original
    /// arrival time (it never left `waiting`).
    fn requeue(&mut self, now: Instant, call: &CallId) {
        self.timers.stop(&Timer::Ring(call.clone()));
        let c = self.calls.get_mut(call).expect("requeue of a live call");
        c.phase = Phase::Queued;
        c.phase_since = now;
    }

    /// Sets a logged-in agent available from `now`; `worked` says whether they just ended a
    /// call (their idle time restarts) or only had an offer taken back (it does not).
    fn make_available(&mut self, now: Instant, agent: &AgentId, worked: bool) {
        let a = self.agents.get_mut(agent).expect("make_available of a logged-in agent");
        a.state = AgentState::Available;
        a.since = now;
        if worked {
            a.idle_since = now;
        }
        self.report_agent(agent);
    }

    /// Queues an [`Command::AgentState`] with the agent's current state.
    fn report_agent(&mut self, agent: &AgentId) {
        let a = &self.agents[agent];
        self.commands.push_back(Command::AgentState {
            agent: agent.clone(),
            state: a.state.activity(),
            reason: a.state.reason().map(str::to_owned),
            since: a.since,
        });
    }

    // ----- validation (no mutation) -----------------------------------------------------------

    fn live_call(&self, call: &CallId) -> Result<&Call, EngineError> {
        self.calls.get(call).ok_or_else(|| EngineError::UnknownCall(call.clone()))
    }

    /// The agent, if logged in and holding no call (available or away).
    fn idle_agent_mut(&mut self, agent: &AgentId) -> Result<&mut Agent, EngineError> {
        let a =
            self.agents.get_mut(agent).ok_or_else(|| EngineError::UnknownAgent(agent.clone()))?;
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
}
