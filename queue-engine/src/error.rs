//! Why an input was refused. A refused input changed nothing and queued no command.

use std::fmt;

use voicedesk_protocol::{AgentActivity, ErrorCode};

use crate::{AgentId, CallId};

/// An input that does not fit the engine's current state.
///
/// These are ordinary outcomes of racing clients (an accept that arrives after the ring
/// timeout, a hang-up for a call that has just ended), not bugs: the shell answers the client
/// with [`EngineError::code`] and the text, and goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineError {
    /// The call is not in the engine: it never arrived or it has already ended.
    UnknownCall(CallId),
    /// The agent is not logged in.
    UnknownAgent(AgentId),
    /// The call is not connected to an agent (it is queued or ringing).
    NotConnected(CallId),
    /// [`crate::Input::CallArrived`] with the id of a call that is still in the engine.
    DuplicateCall(CallId),
    /// [`crate::Input::AgentLoggedIn`] for an agent who is already logged in.
    AlreadyLoggedIn(AgentId),
    /// Accept or reject of a call that is not ringing at this agent (never offered to them,
    /// already withdrawn, or already accepted).
    NotOfferedToYou {
        /// The call.
        call: CallId,
        /// The agent who tried.
        agent: AgentId,
    },
    /// An agent hung up a call that is not connected to them.
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
}

impl EngineError {
    /// The protocol error code to answer the client with.
    pub fn code(&self) -> ErrorCode {
        match self {
            EngineError::UnknownCall(_) => ErrorCode::UnknownCall,
            EngineError::UnknownAgent(_)
            | EngineError::NotConnected(_)
            | EngineError::DuplicateCall(_)
            | EngineError::AlreadyLoggedIn(_)
            | EngineError::NotOfferedToYou { .. }
            | EngineError::NotYourCall { .. }
            | EngineError::AgentBusy { .. } => ErrorCode::InvalidState,
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
            EngineError::NotConnected(call) => {
                write!(f, "call {call} is not connected to an agent yet")
            }
            EngineError::DuplicateCall(call) => {
                write!(f, "call {call} is already in the queue engine")
            }
            EngineError::AlreadyLoggedIn(agent) => write!(f, "agent {agent} is already logged in"),
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
        }
    }
}

impl std::error::Error for EngineError {}
