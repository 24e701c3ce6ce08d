//! Why an input was refused. A refused input changed nothing and queued no command.

use std::fmt;

use voicedesk_protocol::{AgentActivity, ErrorCode};

use crate::{AgentId, CallId, SkillId, TurnAway};

/// An input that does not fit the engine's current state.
///
/// These are ordinary outcomes of racing clients (an accept that arrives after the ring
/// timeout, a hang-up for a call that has just ended) or of bad configuration, not bugs: the
/// shell answers the client with [`EngineError::code`] and the text, and goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineError {
    /// The call is not in the engine: it never arrived or it has already ended.
    UnknownCall(CallId),
    /// The agent is not logged in.
    UnknownAgent(AgentId),
    /// The queue (skill) was never configured with [`crate::Input::ConfigureQueue`].
    UnknownQueue(SkillId),
    /// The call is not connected to an agent (it is queued, ringing or parked).
    NotConnected(CallId),
    /// [`crate::Input::CitizenReconnected`] for a call that is not parked.
    NotParked(CallId),
    /// [`crate::Input::CitizenDisconnected`] for a call that is already parked.
    AlreadyParked(CallId),
    /// [`crate::Input::CallArrived`] with the id of a call that is still in the engine.
    DuplicateCall(CallId),
    /// [`crate::Input::AgentLoggedIn`] for an agent who is already logged in.
    AlreadyLoggedIn(AgentId),
    /// A skill level outside [`crate::SKILL_LEVELS`] (1 to 10).
    InvalidSkillLevel {
        /// The skill.
        skill: SkillId,
        /// The level given.
        level: u8,
    },
    /// An away reason that is not in [`crate::EngineConfig::away_reasons`], or the engine's
    /// own [`crate::MISSED_CALLS_REASON`].
    UnknownAwayReason(String),
    /// Accept or reject of a call that is not ringing at this agent (never offered to them,
    /// already withdrawn, or already accepted).
    NotOfferedToYou {
        /// The call.
        call: CallId,
        /// The agent who tried.
        agent: AgentId,
    },
    /// An agent hung up or transferred a call that is not connected to them.
    NotYourCall {
        /// The call.
        call: CallId,
        /// The agent who tried.
        agent: AgentId,
    },
    /// An agent tried to become available or away while a call rings at them or they are
    /// talking; they must accept, reject or hang up first.
    AgentBusy {
        /// The agent.
        agent: AgentId,
        /// The call they have.
        call: CallId,
        /// [`AgentActivity::Ringing`] or [`AgentActivity::OnCall`].
        activity: AgentActivity,
    },
    /// A routing profile whose chat capacity is above [`crate::MAX_CHAT_CAPACITY`].
    InvalidChatCapacity(u8),
    /// The target queue of a transfer does not admit calls now; the agent keeps the call.
    TransferRefused {
        /// The call.
        call: CallId,
        /// Why the target refused.
        reason: TurnAway,
    },
}

impl EngineError {
    /// The protocol error code to answer the client with.
    pub fn code(&self) -> ErrorCode {
        match self {
            EngineError::UnknownCall(_) => ErrorCode::UnknownCall,
            EngineError::UnknownAgent(_)
            | EngineError::UnknownQueue(_)
            | EngineError::NotConnected(_)
            | EngineError::NotParked(_)
            | EngineError::AlreadyParked(_)
            | EngineError::DuplicateCall(_)
            | EngineError::AlreadyLoggedIn(_)
            | EngineError::InvalidSkillLevel { .. }
            | EngineError::UnknownAwayReason(_)
            | EngineError::NotOfferedToYou { .. }
            | EngineError::NotYourCall { .. }
            | EngineError::AgentBusy { .. }
            | EngineError::InvalidChatCapacity(_)
            | EngineError::TransferRefused { .. } => ErrorCode::InvalidState,
        }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::UnknownCall(call) => {
                write!(f, "unknown call {call}: it never arrived or it has already ended")
            }
            EngineError::UnknownAgent(agent) => write!(f, "agent {agent} is not logged in"),
            EngineError::UnknownQueue(skill) => write!(f, "no queue is configured for {skill}"),
            EngineError::NotConnected(call) => {
                write!(f, "call {call} is not connected to an agent yet")
            }
            EngineError::NotParked(call) => {
                write!(f, "call {call} is not waiting for its citizen to reconnect")
            }
            EngineError::AlreadyParked(call) => {
                write!(f, "call {call} is already waiting for its citizen to reconnect")
            }
            EngineError::DuplicateCall(call) => {
                write!(f, "call {call} is already in the queue engine")
            }
            EngineError::AlreadyLoggedIn(agent) => write!(f, "agent {agent} is already logged in"),
            EngineError::InvalidSkillLevel { skill, level } => {
                write!(f, "skill level {level} for {skill} is not between 1 and 10")
            }
            EngineError::UnknownAwayReason(reason) => {
                write!(f, "\"{reason}\" is not one of the away reasons an agent may pick")
            }
            EngineError::NotOfferedToYou { call, agent } => {
                write!(f, "call {call} is not ringing at agent {agent}")
            }
            EngineError::NotYourCall { call, agent } => {
                write!(f, "call {call} is not connected to agent {agent}")
            }
            EngineError::AgentBusy { agent, call, activity } => match activity {
                AgentActivity::Ringing => write!(
                    f,
                    "agent {agent} has call {call} ringing; accept or reject it before changing state"
                ),
                _ => write!(f, "agent {agent} is on call {call}; hang up before changing state"),
            },
            EngineError::InvalidChatCapacity(capacity) => write!(
                f,
                "a chat capacity of {capacity} is more than the {} chats an agent may hold",
                crate::MAX_CHAT_CAPACITY
            ),
            EngineError::TransferRefused { call, reason } => {
                write!(f, "call {call} cannot be transferred: {reason}")
            }
        }
    }
}

impl std::error::Error for EngineError {}
