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
//! - **Queues are skills.** Each service of the hall routes to one [`SkillId`]; a queue exists
//!   once [`Input::ConfigureQueue`] created it ([`QueueSettings`]: maximum waiting calls,
//!   maximum wait, weekly hours). Within a queue, calls are ordered by priority (higher first),
//!   then by when they were *first* queued, then by arrival.
//! - **Admission** is checked when a call arrives, in this order: closed (its hours and the
//!   [`Calendar`]) → [`voicedesk_protocol::EndReason::Closed`]; as many calls waiting for an
//!   agent (queued or parked — a ringing call has its agent) as `max_waiting` → `QueueFull`;
//!   no logged-in agent (in any state) has the skill → `NoAgents`.
//!   A turned-away call gets exactly one [`Command::End`] and nothing else. An unconfigured
//!   skill is refused ([`EngineError::UnknownQueue`]). [`Engine::admission`] answers the same
//!   question without a call; [`Engine::admission_expecting`] also counts calls the shell
//!   admitted that have not arrived yet (beyond the queue's free agents).
//! - **Routing.** A call is offered to one agent at a time: among the *available* agents who
//!   have its skill, the highest skill level, then the longest idle, then the smaller id. An
//!   agent who rejected or missed the call (or transferred it) gets it again only when no
//!   other agent with the skill is available. When agents free up for several queues, calls
//!   are taken in **global order** (priority, first queued, arrival) across the queues the step
//!   touched, so an older call of one service is not starved by a busier service sharing the
//!   same agents.
//! - **Ring timeout** ([`EngineConfig::ring_timeout`], 15 s): the offer is withdrawn and the
//!   call goes on to the next agent. The agent stays available until
//!   [`EngineConfig::max_missed_offers`] (2) timeouts *in a row*, then is set away with reason
//!   [`MISSED_CALLS_REASON`]. An accept or a reject resets the streak (either proves the agent
//!   is at the console), and so does the auto-away itself. **Reject**: withdrawn, the agent
//!   stays available, the call goes to the next agent.
//! - **Accept** connects. Whatever frees a connected agent — a hang-up by either side, a media
//!   failure, a take-over, a transfer, the citizen's connection dropping — puts the agent in
//!   **after-call work** ([`EngineConfig::after_call_work`], 30 s; zero means straight back)
//!   with a wrap-up timer; then available. [`Input::AgentAvailable`] ends it early and
//!   [`Input::AgentAway`] replaces it. The [`Command::AgentState`] carries `until`.
//! - **Citizen leaves** ([`Input::CallAbandoned`], or [`Input::HangUp`] by the citizen) before
//!   an answer: the call ends as `Abandoned` at once; a ringing agent gets the offer withdrawn
//!   (`CitizenLeft`) and stays available.
//! - **Citizen's connection drops** ([`Input::CitizenDisconnected`]) before an answer: the call
//!   is *parked*: it keeps its place and position but is offered to nobody (a ringing offer is
//!   withdrawn as `CitizenLeft`); [`Input::CitizenReconnected`] within
//!   [`EngineConfig::reconnect_grace`] (60 s) unparks it, else it ends as `Abandoned`. On a
//!   connected call it ends as `CitizenDisconnected`.
//! - **Transfer** ([`Input::Transfer`], blind): the connected agent sends the call to a queue
//!   (the same one is allowed). The target's admission is checked; if it refuses, the input is
//!   refused ([`EngineError::TransferRefused`]) and the agent keeps the call. Otherwise
//!   [`Command::Transferred`] is emitted, the call waits again in the target queue **with its
//!   original queue time** (ahead of later arrivals of its priority), and the agent goes to
//!   after-call work.
//! - **Maximum wait**: at `queued_at + max_wait` a waiting call gets one
//!   [`Command::WaitLimitReached`] and keeps its place; the shell offers other channels and
//!   the call ends only if the citizen chooses. Because a transfer keeps the original queue
//!   time, it does not restart the limit (and a call transferred past the target's limit is
//!   notified at once); the notice is never sent twice for a call.
//! - **Agents leave** ([`Input::AgentLoggedOut`]): while ringing, the offer is dropped and the
//!   call is back at its place; while talking, the call ends as `AgentDisconnected`; in
//!   after-call work, they are just removed. When the last logged-in agent with a skill leaves
//!   (or loses the skill), the calls waiting in that queue end with `NoAgents`, as at arrival.
//! - **Channels and capacity.** A contact is a voice call ([`Input::CallArrived`]) or a chat
//!   ([`Input::ChatArrived`], [`Channel`]); both wait in their skill's queue in the one order
//!   above and share the call ids and every rule of this list. An agent holds one voice call,
//!   or up to [`RoutingProfile::chat_capacity`] chats (default 3) while staying available. A
//!   chat is offered only to an available agent below capacity (never in a call, ringing,
//!   away or in after-call work), the one holding the fewest chats first, then by level and
//!   idle time; a call only to an available agent with no chat — or, with
//!   [`RoutingProfile::calls_with_chats`], fewer chats than the capacity. Ready calls and
//!   chats are indexed apart so neither channel holds up the other. Ending or transferring a
//!   chat frees its slot at once (no after-call work, no [`Command::AgentState`]).
//! - **Positions and estimates**: [`Command::Position`] carries the call's 1-based rank among
//!   the calls waiting in its own queue (queued, ringing or parked) and an estimated wait
//!   (`docs/wait-estimate.md`: position × (average handle time + after-call work) / staffed
//!   agents, rounded up to 10 s; `None` when nobody with the skill is staffed).
//!
//! # Decisions
//!
//! - **Ringing and parked calls keep their place.** A ringing call is "position 1 / being
//!   offered", and the calls behind it do not move up until it is answered or ends — so a
//!   rejected or missed offer never makes anyone's position go backwards, and a citizen whose
//!   connection blips does not lose their place.
//! - **Positions are pushed at the end of a step**, only for the queues the step touched and
//!   only to calls whose (position, estimate) changed; never to a connected call and never
//!   after its end. A transferred call is waiting again and gets positions again. Staffing or
//!   handle-time changes move every estimate of the queue, so they re-announce the whole queue.
//! - **Every call ends with exactly one [`Command::End`]**, including one turned away at
//!   arrival; after it no command names the call, and the engine forgets it (a later input
//!   naming it is [`EngineError::UnknownCall`]). A transfer is not an end.
//! - **Business hours gate admission only.** Calls already waiting when a queue closes are
//!   still served; the shell decides whether to announce the closing. Holidays close every
//!   queue whose hours are not `always`; make-up workdays (调休) use Monday's hours; a date in
//!   both sets is a holiday. Wall time comes from the [`ClockAnchor`]
//!   ([`Engine::set_clock_anchor`] re-anchors it); the engine still never reads a clock.
//! - **A ringing call does not count toward `max_waiting`**: it is no longer waiting for an
//!   agent, and counting it turned calls away from a fully staffed queue whose agents were
//!   all still ringing (a burst of a thousand calls at a thousand free agents). A withdrawn
//!   offer (rejected, rung out, agent logged out) puts the call back at its place even if the
//!   queue is then above its limit: it was admitted once, and is neither evicted nor checked
//!   again; it only delays later arrivals until the queue is below the limit.
//! - **Queue settings take effect at once.** Lowering `max_waiting` evicts nobody; changing
//!   `max_wait` re-arms the timers of the calls not yet notified. Queues are never deleted
//!   (set their hours to `never`).
//! - **Agent skills** are levels 1 to 10 ([`EngineError::InvalidSkillLevel`] otherwise).
//!   Skills naming a queue not configured yet are kept and count once the queue is
//!   configured. [`Input::SetAgentSkills`] takes effect at once and may dispatch; if the skill
//!   of a call ringing at the agent is removed, that offer stays until it is answered,
//!   rejected or times out.
//! - **Agents away or in after-call work are logged in**: they keep a queue admitting calls.
//!   *Staffed* (for estimates) means logged in with the skill and not away.
//! - **Login starts away** (no reason). Away reasons come from
//!   [`EngineConfig::away_reasons`] (no reason is always allowed; [`MISSED_CALLS_REASON`] is
//!   the engine's own) — [`EngineError::UnknownAwayReason`] otherwise. A logout emits no
//!   [`Command::AgentState`] and no [`Command::WithdrawOffer`].
//! - **Idle time** restarts when an agent becomes available after being away or after a call
//!   (at the end of after-call work). An offer that does not become a call does not reset it.
//! - **A rejected call comes straight back** to the rejecting agent when they are the only
//!   available agent with the skill: the citizen is still waiting, and an agent who does not
//!   want calls sets away.
//! - **Setting the state you are in** is confirmed with an [`Command::AgentState`] and changes
//!   nothing; away → away only updates the reason. Availability cannot change while ringing or
//!   on a call ([`EngineError::AgentBusy`]).
//! - **Inputs win races with timers**: [`Engine::handle_input`] does not fire due timers, so an
//!   accept handled before [`Engine::handle_timeout`] connects, and one handled after it is
//!   [`EngineError::NotOfferedToYou`].
//! - **Errors check the actor first** (agent logged in), then the call (live), then their
//!   relation, then the target (queue, admission, reason).
//! - **Cost.** Each step touches only the skills it changed (a dirty set): per-skill ordered
//!   waiting calls, ready calls and available agents make routing O(log n); what remains
//!   linear is announcing the positions that changed, which the protocol requires
//!   (`docs/benchmarks.md`, "Queueing engine"). The invariant check after every step is
//!   brute force and compiled only into debug builds.

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
    AgentId, CallId, Channel, ClockAnchor, Command, EngineConfig, Input, MAX_CHAT_CAPACITY, Party,
    QueueSettings, RoutingProfile, SKILL_LEVELS, SkillId, TurnAway,
};
