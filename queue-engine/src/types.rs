//! The vocabulary of the engine: ids, configuration, the inputs it accepts and the commands it
//! emits. Nothing here has behaviour; the rules live in [`crate::Engine`].

use std::fmt;
use std::time::{Duration, Instant};

use voicedesk_protocol::{AgentActivity, EndReason, WithdrawReason};

/// Identifies one call from arrival to end. Chosen by the shell (the engine never invents ids)
/// and opaque to the engine; the same string is the protocol's `call_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub String);

/// Identifies one logged-in agent. Chosen by the shell (the user id); at most one login per id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId(pub String);

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

/// Tunables of the engine.
///
/// `#[non_exhaustive]` because later issues add fields (maximum wait, after-call work, …):
/// start from [`EngineConfig::default`] and set fields, or use the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineConfig {
    /// How long an offer rings at one agent before it is withdrawn
    /// ([`WithdrawReason::RingTimeout`]) and the agent is set away as "missed call".
    /// Default 15 s.
    pub ring_timeout: Duration,
}

impl EngineConfig {
    /// The default ring timeout.
    pub const DEFAULT_RING_TIMEOUT: Duration = Duration::from_secs(15);

    /// This configuration with another ring timeout.
    #[must_use]
    pub fn with_ring_timeout(mut self, ring_timeout: Duration) -> Self {
        self.ring_timeout = ring_timeout;
        self
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { ring_timeout: Self::DEFAULT_RING_TIMEOUT }
    }
}

/// Something that happened outside the engine, fed in with [`crate::Engine::handle_input`].
///
/// The shell translates client messages and connection events into these; it does not need to
/// know the engine's state first: an input that does not fit the state is refused with an
/// [`crate::EngineError`] and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A citizen's call was answered by the relay and wants an agent. Queued at the back, or
    /// ended at once with [`EndReason::NoAgents`] when no agent is logged in.
    CallArrived {
        /// A new id, not currently in the engine.
        call: CallId,
        /// The service the citizen chose in the hall; carried into [`Command::Offer`].
        service: Option<String>,
    },
    /// The citizen's side went away: they left the queue, closed the page, or their signaling
    /// connection dropped. Before an answer this ends the call as [`EndReason::Abandoned`];
    /// on a connected call as [`EndReason::CitizenDisconnected`].
    CallAbandoned {
        /// The call.
        call: CallId,
    },
    /// An agent logged in (or their console reconnected after a logout). They start
    /// [`AgentActivity::Away`] without a reason until they say they are available.
    AgentLoggedIn {
        /// The agent.
        agent: AgentId,
    },
    /// An agent logged out or their console disconnected. A ringing offer is withdrawn and the
    /// call goes back to its place in the queue; a connected call ends
    /// ([`EndReason::AgentDisconnected`]).
    AgentLoggedOut {
        /// The agent.
        agent: AgentId,
    },
    /// The agent is ready for calls (`set_state available`).
    AgentAvailable {
        /// The agent.
        agent: AgentId,
    },
    /// The agent steps away (`set_state away`).
    AgentAway {
        /// The agent.
        agent: AgentId,
        /// Free text shown on the wallboard.
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
    /// A staff member took the connected call over. The engine lets go of it: the agent is
    /// freed at once and the call ends for the engine with [`EndReason::TakenOver`] (the
    /// shell keeps the citizen talking to the staff member).
    TakenOver {
        /// The call.
        call: CallId,
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
        /// How long it rings before the engine withdraws it.
        ring_timeout: Duration,
        /// How long the citizen has waited since the call was queued.
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
    /// The call's place among the calls waiting for an answer changed (`queue_position`).
    /// 1 = next (or being offered now). Never emitted for a call once it is answered or ended.
    Position {
        /// The call.
        call: CallId,
        /// 1-based position.
        position: u32,
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
    },
}

impl Command {
    /// The call this command is about, if any.
    pub fn call(&self) -> Option<&CallId> {
        match self {
            Command::Offer { call, .. }
            | Command::WithdrawOffer { call, .. }
            | Command::Connect { call, .. }
            | Command::End { call, .. }
            | Command::Position { call, .. } => Some(call),
            Command::AgentState { .. } => None,
        }
    }
}
