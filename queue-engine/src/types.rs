//! The vocabulary of the engine: ids, configuration, the inputs it accepts and the commands it
//! emits. Nothing here has behaviour; the rules live in [`crate::Engine`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use voicedesk_protocol::{AgentActivity, EndReason, WithdrawReason};

use crate::calendar::{Calendar, WeeklyHours};

/// Identifies one call from arrival to end. Chosen by the shell (the engine never invents ids)
/// and opaque to the engine; the same string is the protocol's `call_id`.
#[derive(
    serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub struct CallId(pub String);

/// Identifies one logged-in agent. Chosen by the shell (the user id); at most one login per id.
#[derive(
    serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub struct AgentId(pub String);

/// Identifies a skill, which is also the name of the queue of calls needing it. Each service
/// of the hall routes to one skill (the shell owns that mapping).
#[derive(
    serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub struct SkillId(pub String);

macro_rules! string_id {
    ($name:ident) => {
        impl $name {
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }
    };
}

string_id!(CallId);
string_id!(AgentId);
string_id!(SkillId);

/// Lowest and highest skill level an agent may have (higher is better).
pub const SKILL_LEVELS: std::ops::RangeInclusive<u8> = 1..=10;

/// The most chats a [`RoutingProfile`] may let one agent hold at once.
pub const MAX_CHAT_CAPACITY: u8 = 10;

/// How a contact reaches the agent. Both channels wait in the same queue (one per skill), in
/// one order; they differ in how many an agent holds at once (see [`RoutingProfile`]).
#[derive(
    serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A voice call ([`Input::CallArrived`]): an agent holds at most one, and nothing else
    /// is offered to them during it.
    Voice,
    /// A text chat ([`Input::ChatArrived`]): an agent holds up to
    /// [`RoutingProfile::chat_capacity`] at once.
    Chat,
}

/// How many contacts of which channels one agent takes at once (Amazon Connect's routing
/// profile, Genesys' utilisation). Set per agent with [`Input::SetRoutingProfile`]; an agent
/// logs in with [`EngineConfig::routing_profile`].
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoutingProfile {
    /// At most this many chats connected at once (0 to [`MAX_CHAT_CAPACITY`]; 0: no chats).
    /// Default 3.
    pub chat_capacity: u8,
    /// Whether a voice call may be offered to an agent who holds chats (below their
    /// capacity). `false` (the default): a call is offered only to an agent holding no chat,
    /// so a voice call always has the agent's whole attention. Either way a call is never
    /// offered to an agent at chat capacity, and a chat never to an agent in a call.
    pub calls_with_chats: bool,
}

impl RoutingProfile {
    /// The default chat capacity.
    pub const DEFAULT_CHAT_CAPACITY: u8 = 3;
}

impl Default for RoutingProfile {
    fn default() -> Self {
        Self { chat_capacity: Self::DEFAULT_CHAT_CAPACITY, calls_with_chats: false }
    }
}

/// Who ends a call with [`Input::HangUp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    /// The citizen who placed the call. The shell has already checked that the citizen's
    /// connection owns the call; the engine does not know citizens.
    Citizen,
    /// An agent. The engine checks that the call is connected to this agent
    /// ([`crate::EngineError::NotYourCall`] otherwise).
    Agent(AgentId),
}

/// Where the engine's clock stands on the wall: `instant` (the shell's monotonic clock) was
/// `unix_ms` (Unix epoch milliseconds). The engine needs wall time only for business hours;
/// the wall time of `now` is `unix_ms + (now - instant)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockAnchor {
    /// A monotonic instant.
    pub instant: Instant,
    /// The Unix epoch milliseconds at `instant`.
    pub unix_ms: i64,
}

impl ClockAnchor {
    /// The wall-clock Unix milliseconds of `now`.
    pub fn unix_ms_at(&self, now: Instant) -> i64 {
        fn ms(d: Duration) -> i64 {
            i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
        }
        match now.checked_duration_since(self.instant) {
            Some(after) => self.unix_ms.saturating_add(ms(after)),
            None => self.unix_ms.saturating_sub(ms(self.instant.duration_since(now))),
        }
    }
}

/// Per-queue settings, changed with [`Input::ConfigureQueue`].
///
/// `#[non_exhaustive]`: start from [`QueueSettings::default`] (no limits, always open) and use
/// the `with_*` methods.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct QueueSettings {
    /// At most this many calls wait for an agent (queued or parked; a call ringing at an
    /// agent does not count); a call arriving at a full queue is turned away with
    /// [`EndReason::QueueFull`]. `None`: no limit.
    pub max_waiting: Option<u32>,
    /// After this long since it was first queued, a waiting call gets one
    /// [`Command::WaitLimitReached`] (it keeps its place). `None`: no limit.
    pub max_wait: Option<Duration>,
    /// When the queue admits calls (see [`Calendar`]).
    pub hours: WeeklyHours,
}

impl QueueSettings {
    /// These settings with a limit on waiting calls.
    #[must_use]
    pub fn with_max_waiting(mut self, max_waiting: Option<u32>) -> Self {
        self.max_waiting = max_waiting;
        self
    }

    /// These settings with a maximum wait.
    #[must_use]
    pub fn with_max_wait(mut self, max_wait: Option<Duration>) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// These settings with other business hours.
    #[must_use]
    pub fn with_hours(mut self, hours: WeeklyHours) -> Self {
        self.hours = hours;
        self
    }
}

/// Tunables of the engine.
///
/// `#[non_exhaustive]` because later issues add fields: start from [`EngineConfig::default`]
/// and use the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineConfig {
    /// How long an offer rings at one agent before it is withdrawn
    /// ([`WithdrawReason::RingTimeout`]). Default 15 s.
    pub ring_timeout: Duration,
    /// After this many *consecutive* ring timeouts the agent is set away with reason
    /// [`crate::MISSED_CALLS_REASON`]; below it they stay available (the call prefers other
    /// agents). An accept or a reject breaks the streak. `0` disables auto-away. Default 2.
    pub max_missed_offers: u32,
    /// How long an agent wraps up after a call before being offered the next one.
    /// [`Duration::ZERO`]: straight back to available. Default 30 s.
    pub after_call_work: Duration,
    /// How long a call whose citizen disconnected before an answer keeps its place
    /// (parked) before it ends as [`EndReason::Abandoned`]. Default 60 s.
    pub reconnect_grace: Duration,
    /// The away reasons an agent may pick ([`Input::AgentAway`]); no reason is always allowed,
    /// [`crate::MISSED_CALLS_REASON`] never (it is the engine's).
    /// Default `break`, `meal`, `meeting`, `training`, `other`.
    pub away_reasons: Vec<String>,
    /// The handle time assumed for a queue before any call of it has ended; seeds the wait
    /// estimate. Default 180 s.
    pub default_handle_time: Duration,
    /// The routing profile every agent logs in with (chat capacity 3, calls only without
    /// chats); [`Input::SetRoutingProfile`] changes one agent's.
    pub routing_profile: RoutingProfile,
}

impl EngineConfig {
    /// The default ring timeout.
    pub const DEFAULT_RING_TIMEOUT: Duration = Duration::from_secs(15);
    /// The default after-call work.
    pub const DEFAULT_AFTER_CALL_WORK: Duration = Duration::from_secs(30);
    /// The default reconnect grace.
    pub const DEFAULT_RECONNECT_GRACE: Duration = Duration::from_secs(60);
    /// The default seed of the handle time.
    pub const DEFAULT_HANDLE_TIME: Duration = Duration::from_secs(180);
    /// The default away reasons.
    pub const DEFAULT_AWAY_REASONS: [&'static str; 5] =
        ["break", "meal", "meeting", "training", "other"];

    /// This configuration with another ring timeout.
    #[must_use]
    pub fn with_ring_timeout(mut self, ring_timeout: Duration) -> Self {
        self.ring_timeout = ring_timeout;
        self
    }

    /// This configuration with another auto-away threshold (`0` disables it).
    #[must_use]
    pub fn with_max_missed_offers(mut self, max_missed_offers: u32) -> Self {
        self.max_missed_offers = max_missed_offers;
        self
    }

    /// This configuration with another after-call work time.
    #[must_use]
    pub fn with_after_call_work(mut self, after_call_work: Duration) -> Self {
        self.after_call_work = after_call_work;
        self
    }

    /// This configuration with another reconnect grace.
    #[must_use]
    pub fn with_reconnect_grace(mut self, reconnect_grace: Duration) -> Self {
        self.reconnect_grace = reconnect_grace;
        self
    }

    /// This configuration with other away reasons.
    #[must_use]
    pub fn with_away_reasons<I, S>(mut self, reasons: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.away_reasons = reasons.into_iter().map(Into::into).collect();
        self
    }

    /// This configuration with another handle-time seed.
    #[must_use]
    pub fn with_default_handle_time(mut self, default_handle_time: Duration) -> Self {
        self.default_handle_time = default_handle_time;
        self
    }

    /// This configuration with another routing profile for agents logging in.
    #[must_use]
    pub fn with_routing_profile(mut self, routing_profile: RoutingProfile) -> Self {
        self.routing_profile = routing_profile;
        self
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            ring_timeout: Self::DEFAULT_RING_TIMEOUT,
            max_missed_offers: 2,
            after_call_work: Self::DEFAULT_AFTER_CALL_WORK,
            reconnect_grace: Self::DEFAULT_RECONNECT_GRACE,
            away_reasons: Self::DEFAULT_AWAY_REASONS.iter().map(|r| (*r).to_owned()).collect(),
            default_handle_time: Self::DEFAULT_HANDLE_TIME,
            routing_profile: RoutingProfile::default(),
        }
    }
}

/// Why a queue does not admit a call now ([`crate::Engine::admission`], arrivals, transfers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnAway {
    /// Outside the queue's hours, or a holiday. `opens_at_ms`: the next opening (Unix ms),
    /// if there is one within about 60 days.
    Closed {
        /// Next opening, Unix epoch milliseconds.
        opens_at_ms: Option<i64>,
    },
    /// [`QueueSettings::max_waiting`] calls wait for an agent (ringing calls not counted).
    QueueFull,
    /// No logged-in agent (in any state) has the skill.
    NoAgents,
}

impl TurnAway {
    /// The reason a call turned away ends with.
    pub fn end_reason(self) -> EndReason {
        match self {
            TurnAway::Closed { .. } => EndReason::Closed,
            TurnAway::QueueFull => EndReason::QueueFull,
            TurnAway::NoAgents => EndReason::NoAgents,
        }
    }
}

impl fmt::Display for TurnAway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TurnAway::Closed { opens_at_ms: Some(at) } => {
                write!(f, "the queue is closed (opens at {at} ms since the epoch)")
            }
            TurnAway::Closed { opens_at_ms: None } => f.write_str("the queue is closed"),
            TurnAway::QueueFull => f.write_str("the queue is full"),
            TurnAway::NoAgents => f.write_str("no logged-in agent has the skill"),
        }
    }
}

/// Something that happened outside the engine, fed in with [`crate::Engine::handle_input`].
///
/// The shell translates client messages and connection events into these; it does not need to
/// know the engine's state first: an input that does not fit the state is refused with an
/// [`crate::EngineError`] and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A citizen's call wants an agent with `skill`. Queued in that skill's queue, or — when
    /// the queue is closed, full, or has no logged-in agent — ended at once with
    /// [`EndReason::Closed`], [`EndReason::QueueFull`] or [`EndReason::NoAgents`].
    CallArrived {
        /// A new id, not currently in the engine.
        call: CallId,
        /// The queue; must be configured ([`crate::EngineError::UnknownQueue`]).
        skill: SkillId,
        /// Higher is served first.
        priority: u8,
        /// The service the citizen chose in the hall; carried into [`Command::Offer`].
        service: Option<String>,
    },
    /// A citizen's chat wants an agent with `skill`: like [`Input::CallArrived`] (the same
    /// queue, order, admission, positions, parking and maximum wait; the id shares the calls'
    /// id space), but offered only to an agent below their chat capacity and in no voice call
    /// ([`RoutingProfile`]). Every other input naming a call works on a chat the same way;
    /// ending a chat frees one of the agent's chat slots at once (no after-call work: a chat
    /// is wrapped up beside the others).
    ChatArrived {
        /// A new id, not currently in the engine (calls and chats share the id space).
        chat: CallId,
        /// The queue; must be configured ([`crate::EngineError::UnknownQueue`]).
        skill: SkillId,
        /// Higher is served first.
        priority: u8,
        /// The service the citizen chose in the hall; carried into [`Command::Offer`].
        service: Option<String>,
    },
    /// The agent's connected chat becomes a voice call with the same agent, without queueing
    /// again (issue 16): the chat's slot frees, and the agent is on this call (no new chat
    /// or call is offered until it ends; the agent's other chats stay open). When it ends the
    /// agent goes to after-call work like after any call. Refused unless the chat is connected
    /// to this agent ([`crate::EngineError::NotYourCall`]) and the agent holds no other call,
    /// ringing or connected ([`crate::EngineError::AgentBusy`]).
    UpgradeChat {
        /// The connected chat; it keeps its id.
        chat: CallId,
        /// The agent it is connected to.
        agent: AgentId,
    },
    /// Replaces a logged-in agent's routing profile, effective at once. Refused while a call
    /// or chat rings at the agent ([`crate::EngineError::AgentBusy`]). Lowering the chat
    /// capacity below the chats the agent holds keeps them; no new chat is offered until the
    /// agent is below the new capacity.
    SetRoutingProfile {
        /// The agent.
        agent: AgentId,
        /// The new profile; `chat_capacity` at most [`MAX_CHAT_CAPACITY`].
        profile: RoutingProfile,
    },
    /// The citizen explicitly left: ends the call at once, as [`EndReason::Abandoned`] before
    /// an answer (parked included) and as [`EndReason::CitizenDisconnected`] when connected.
    CallAbandoned {
        /// The call.
        call: CallId,
    },
    /// The citizen's connection dropped. Before an answer the call is *parked* (keeps its
    /// place, offered to nobody) for [`EngineConfig::reconnect_grace`]; when connected it ends
    /// as [`EndReason::CitizenDisconnected`].
    CitizenDisconnected {
        /// The call.
        call: CallId,
    },
    /// The citizen of a parked call is back: the call is offered again from its place.
    CitizenReconnected {
        /// The call.
        call: CallId,
    },
    /// Creates or updates a queue, effective at once.
    ConfigureQueue {
        /// The queue.
        skill: SkillId,
        /// Its settings.
        settings: QueueSettings,
    },
    /// Replaces the holidays, make-up workdays and UTC offset.
    SetCalendar {
        /// The new calendar.
        calendar: Calendar,
    },
    /// Replaces the away reasons agents may pick ([`EngineConfig::away_reasons`]). Agents away
    /// with a reason no longer listed stay away with it; only new choices are checked.
    SetAwayReasons {
        /// The reasons ([`crate::MISSED_CALLS_REASON`] among them is ignored: it stays the
        /// engine's own).
        reasons: Vec<String>,
    },
    /// An agent logged in (or their console reconnected after a logout). They start
    /// [`AgentActivity::Away`] without a reason until they say they are available.
    AgentLoggedIn {
        /// The agent.
        agent: AgentId,
        /// Skill levels, each in [`SKILL_LEVELS`]. Skills of queues not configured yet are
        /// kept (the queue may be configured later).
        skills: BTreeMap<SkillId, u8>,
    },
    /// Replaces a logged-in agent's skills, effective at once.
    SetAgentSkills {
        /// The agent.
        agent: AgentId,
        /// The new skill levels, each in [`SKILL_LEVELS`].
        skills: BTreeMap<SkillId, u8>,
    },
    /// An agent logged out or their console disconnected. A ringing offer is dropped and the
    /// call goes back to its place; a connected call ends ([`EndReason::AgentDisconnected`]).
    AgentLoggedOut {
        /// The agent.
        agent: AgentId,
    },
    /// The agent is ready for calls (`set_state available`); also ends after-call work early.
    AgentAvailable {
        /// The agent.
        agent: AgentId,
    },
    /// The agent steps away (`set_state away`), from available, away or after-call work.
    AgentAway {
        /// The agent.
        agent: AgentId,
        /// One of [`EngineConfig::away_reasons`], or none.
        reason: Option<String>,
    },
    /// The agent takes the call ringing at them.
    Accept {
        /// The agent.
        agent: AgentId,
        /// The call that must be ringing at this agent.
        call: CallId,
    },
    /// The agent declines the call ringing at them; it goes to the next agent.
    Reject {
        /// The agent.
        agent: AgentId,
        /// The call that must be ringing at this agent.
        call: CallId,
    },
    /// One side hangs up. A citizen may hang up at any time (before an answer that is an
    /// abandon); an agent only on the call connected to them.
    HangUp {
        /// The call.
        call: CallId,
        /// Who hung up.
        by: Party,
    },
    /// The relay reports the call's media failed. Ends the call ([`EndReason::MediaFailed`])
    /// in whatever phase it is.
    MediaFailed {
        /// The call.
        call: CallId,
    },
    /// A staff member took the connected call over. The engine lets go of it: the agent goes
    /// to after-call work and the call ends for the engine with [`EndReason::TakenOver`] (the
    /// shell keeps the citizen talking to the staff member).
    TakenOver {
        /// The call.
        call: CallId,
    },
    /// The shell ends a live call for a reason of its own, in whatever phase it is: a side
    /// lost for longer than the reconnect grace ([`EndReason::CitizenLost`],
    /// [`EndReason::AgentLost`]), a waiting citizen who left a message
    /// ([`EndReason::MessageLeft`]), a shutdown. The call ends with exactly this reason, so
    /// the shell never relabels an [`Command::End`]; a connected agent goes to after-call
    /// work as after any call.
    EndCall {
        /// The call.
        call: CallId,
        /// Why it ends.
        reason: EndReason,
    },
    /// Blind transfer: the connected agent sends the call to another (or the same) queue. The
    /// call waits again there with its original queue time; the agent goes to after-call
    /// work. Refused with [`crate::EngineError::TransferRefused`] when the target does not
    /// admit calls now (the agent keeps the call).
    Transfer {
        /// The agent connected to the call.
        agent: AgentId,
        /// The call.
        call: CallId,
        /// The target queue.
        to_skill: SkillId,
        /// The priority in the target queue; `None` keeps the call's.
        priority: Option<u8>,
    },
}

/// Something the shell must do, drained with [`crate::Engine::poll_command`] in order.
///
/// Every command is a fact the engine has already committed to its state; the shell carries it
/// out (tell the clients, route media, write the call record) and never has to ask back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Ring `call` at `agent` (`call_offered`). At most one offer per call and per agent.
    Offer {
        /// The call.
        call: CallId,
        /// The agent it rings at.
        agent: AgentId,
        /// The queue it was waiting in.
        skill: SkillId,
        /// How long it rings before the engine withdraws it.
        ring_timeout: Duration,
        /// How long the citizen has waited since the call was first queued.
        waited: Duration,
        /// The service the citizen chose.
        service: Option<String>,
    },
    /// Take an offer back from an agent (`offer_withdrawn`). Not emitted when the agent logs
    /// out: the shell already knows, and the protocol has no reason for it.
    WithdrawOffer {
        /// The call.
        call: CallId,
        /// The agent it was ringing at.
        agent: AgentId,
        /// Why.
        reason: WithdrawReason,
    },
    /// The agent accepted: bridge citizen and agent (`call_connected` to both).
    Connect {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
    },
    /// The agent transferred the call: tell the agent `call_ended` with
    /// [`EndReason::Transferred`], unbridge them, and keep the citizen waiting (positions
    /// follow). The call is live again in `skill`'s queue.
    Transferred {
        /// The call.
        call: CallId,
        /// The agent who let go of it (now in after-call work).
        agent: AgentId,
        /// The queue it waits in now.
        skill: SkillId,
    },
    /// The call is over (`call_ended`). The last command that names this call.
    End {
        /// The call.
        call: CallId,
        /// The agent who was connected to it, who must be told too; `None` when the call ended
        /// before it was answered (a ringing agent gets [`Command::WithdrawOffer`] instead).
        agent: Option<AgentId>,
        /// Why.
        reason: EndReason,
    },
    /// The call's place in its queue or its wait estimate changed (`queue_position`).
    /// 1 = next. Never emitted for a call while it is connected, nor after it ended.
    Position {
        /// The call.
        call: CallId,
        /// 1-based rank among the calls waiting in the call's queue (queued, ringing, parked).
        position: u32,
        /// Estimated wait from now, in 10 s steps; `None` when no agent with the skill is
        /// staffed (see `docs/wait-estimate.md`).
        estimated_wait: Option<Duration>,
    },
    /// The call has waited [`QueueSettings::max_wait`]. Sent once per call; the call keeps
    /// its place (the shell may offer the citizen other channels).
    WaitLimitReached {
        /// The call.
        call: CallId,
        /// How long it has waited since it was first queued.
        waited: Duration,
    },
    /// An agent's state changed (`agent_state`), or they confirmed the state they are in.
    /// Not emitted for a logout: a logged-out agent has no state.
    AgentState {
        /// The agent.
        agent: AgentId,
        /// What the agent is doing now.
        state: AgentActivity,
        /// Why the agent is away (`None` in other states).
        reason: Option<String>,
        /// When this state began (the shell maps it to wall-clock time).
        since: Instant,
        /// In after-call work: when it ends by itself (`None` in other states).
        until: Option<Instant>,
    },
}

impl Command {
    /// The call this command is about, if any.
    pub fn call(&self) -> Option<&CallId> {
        match self {
            Command::Offer { call, .. }
            | Command::WithdrawOffer { call, .. }
            | Command::Connect { call, .. }
            | Command::Transferred { call, .. }
            | Command::End { call, .. }
            | Command::Position { call, .. }
            | Command::WaitLimitReached { call, .. } => Some(call),
            Command::AgentState { .. } => None,
        }
    }
}
