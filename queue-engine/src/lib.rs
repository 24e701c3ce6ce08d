//! The voicedesk queueing engine (ACD): which waiting citizen is offered to which agent, when.
//!
//! The engine is a pure, deterministic state machine in the style of str0m and quinn-proto
//! (DESIGN.md, core idea 1). It does no I/O, spawns nothing and never reads a clock: every input
//! carries the current time, and the engine tells its driver when it next needs to be woken.
//! Given the same inputs at the same instants it emits the same commands in the same order
//! (all its maps are ordered; ties are broken by id).
//!
//! # Contract with the shell
//!
//! A thin async task (in the signaling crate) owns one [`Engine`] and loops:
//!
//! 1. feed what happened with [`Engine::handle_input`]`(now, input)` — a citizen calls, an agent
//!    logs in, accepts, hangs up …; when the deadline from [`Engine::poll_timeout`] has passed,
//!    call [`Engine::handle_timeout`]`(now)`;
//! 2. drain [`Engine::poll_command`] until `None` and carry each [`Command`] out in order
//!    (ring the agent, bridge the media, tell the citizen their position, write the call record);
//! 3. sleep until the next input or [`Engine::poll_timeout`].
//!
//! An input that does not fit the current state returns an [`EngineError`]; then **nothing
//! changed and no command was queued**, so the shell only answers the client with
//! [`EngineError::code`] and the message. Errors are for bad or late input; a panic means an
//! invariant of the engine is broken (checked after every step in debug builds).
//!
//! `now` should never go backwards; if it does, durations saturate at zero rather than panic.
//!
//! # Behaviour
//!
//! - One queue, first come first served. A call is offered to one agent at a time: the
//!   longest-idle available agent (idle since they last became available or ended a call).
//! - **Reject**: the offer is withdrawn, the agent stays available, the call goes to the next
//!   available agent. **Ring timeout** ([`EngineConfig::ring_timeout`], 15 s by default): the offer
//!   is withdrawn, the agent is set away with reason [`MISSED_CALL_REASON`] and the call goes to
//!   the next available agent. An agent who rejected or missed a call is offered it again only
//!   when no other agent is available.
//! - **Accept** connects; a **hang-up** from either side, a citizen leaving, or a media failure
//!   ends the call for both and frees the agent, who is idle from that moment.
//! - **Citizen leaves before an answer** (queued or ringing): the call ends as
//!   [`voicedesk_protocol::EndReason::Abandoned`]; a ringing agent gets the offer withdrawn
//!   ([`voicedesk_protocol::WithdrawReason::CitizenLeft`]) and stays available.
//! - **Agent logs out or disconnects** while ringing: the offer is dropped and the call is back
//!   at the head of the queue with its original arrival time; while talking: the call ends as
//!   [`voicedesk_protocol::EndReason::AgentDisconnected`].
//! - **No agent logged in**: a call that arrives is ended at once with
//!   [`voicedesk_protocol::EndReason::NoAgents`] (the shell then offers the fallbacks). Agents
//!   logged in but busy or away: the call waits.
//!
//! # Decisions
//!
//! - **Ringing calls keep their place in the queue.** A position is the call's 1-based rank
//!   among all calls *waiting for an answer*, queued or ringing, in arrival order. A ringing
//!   call is thus "position 1 / being offered" (or 2 when another older call rings too), and
//!   the calls behind it do not move up until it is answered or ends — so a rejected or missed
//!   offer never makes anyone's position go backwards. [`Command::Position`] is emitted at the
//!   end of a step for every waiting call whose rank differs from the last one sent (a new call
//!   gets its first one), ringing calls included; never for a call once answered or ended.
//! - **Every call ends with exactly one [`Command::End`]**, including one refused at arrival
//!   for `NoAgents`; after it no command names the call, and the engine forgets it (a later
//!   input naming it is [`EngineError::UnknownCall`]).
//! - **When the last agent logs out, the waiting calls end with `NoAgents`** as well, the same
//!   rule as at arrival: a citizen never holds on in an empty hall. A shell that wants to ride
//!   out a short agent reconnect delays [`Input::AgentLoggedOut`].
//! - **Login starts away** (no reason): an agent is offered calls only after they say they are
//!   available. A logout emits no [`Command::AgentState`] (there is no logged-out activity) and
//!   no [`Command::WithdrawOffer`] (the protocol has no reason for it and the shell caused it).
//! - **An offer does not reset idle time.** Rejecting, or having an offer withdrawn because the
//!   citizen left, keeps the agent's place in the rotation; ending a call or coming back from
//!   away restarts it.
//! - **A rejected call comes straight back** to the rejecting agent when they are the only
//!   available agent: the citizen is still waiting, and an agent who does not want calls sets
//!   away. A missed call cannot do that (the agent is away).
//! - **Setting the state you are in** is confirmed with an [`Command::AgentState`] and changes
//!   nothing (every client message gets a reply); away → away only updates the reason.
//!   Availability cannot change while ringing or on a call ([`EngineError::AgentBusy`]).
//! - **Inputs win races with timers**: [`Engine::handle_input`] does not fire due timers, so an
//!   accept handled before [`Engine::handle_timeout`] connects, and one handled after it is
//!   [`EngineError::NotOfferedToYou`].
//! - **Errors check the actor first** (agent logged in), then the call (live), then their
//!   relation. [`Input::HangUp`] names the agent ([`Party::Agent`]) so the engine can refuse a
//!   hang-up of someone else's call.
//! - **Media failure** ends the call in any phase ([`voicedesk_protocol::EndReason::MediaFailed`])
//!   and frees the agent as available; if the agent's own headset is the problem, the shell sets
//!   them away.
//!
//! # Growing it
//!
//! Later issues add routing rules without a rewrite: skills filter candidates in
//! `choose_agent` and dispatch then scans past a head call nobody can take; priorities extend
//! the queue key (today the arrival counter); business hours and maximum wait become checks at
//! arrival and a `MaxWait` timer kind; after-call work is an agent state with a `WrapUp` timer
//! entered where a call ends. Each new timer is a variant in the timer table, and
//! [`EngineConfig`] is `#[non_exhaustive]` for the new tunables.

#![warn(missing_docs)]

mod calendar;
mod engine;
mod error;
mod timer;
mod types;

pub use calendar::{Calendar, CivilDate, OPENING_SEARCH_DAYS, ParseError, Weekday, WeeklyHours};
pub use engine::{AgentView, CallPhase, CallView, Engine, MISSED_CALLS_REASON, QueueView};
pub use error::EngineError;
pub use types::{
    AgentId, CallId, ClockAnchor, Command, EngineConfig, Input, Party, QueueSettings, SKILL_LEVELS,
    SkillId, TurnAway,
};
