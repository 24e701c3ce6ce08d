//! What the core remembers between inputs: connections, signed-in members, live calls, media
//! legs, and the requests whose answers are awaited.

use voicedesk_protocol::{EndReason, QueueSummary, Role, SupportMode, Supporter, TranscriptLine};

use crate::{AgentId, CallId, ConnId, LegId, UnixMs};

/// Who is behind a connection, as the core keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Who {
    /// A citizen, by their opaque identity.
    Citizen(String),
    /// A member by user id.
    Member(String, Role),
}

/// A WebSocket connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) who: Who,
    /// Citizen: the call in progress on this connection (placing included).
    pub(crate) call: Option<CallId>,
    /// Citizen: the assistant conversation and the last turn-away.
    pub(crate) citizen: CitizenSide,
}

/// What a citizen connection has going on besides its call.
#[derive(Debug, Default)]
pub(crate) struct CitizenSide {
    /// The conversation with the self-service assistant, oldest first.
    pub(crate) chat: Vec<TranscriptLine>,
    /// A call took the conversation along: the assistant is quiet until it ends.
    pub(crate) handed_off: bool,
    /// Why the last call was turned away, for the reason of a message left next.
    pub(crate) turned_away: Option<EndReason>,
    /// A voice message being recorded.
    pub(crate) voice: Option<VoiceDraft>,
}

/// A voice message being recorded by the relay.
#[derive(Debug, Clone)]
pub(crate) struct VoiceDraft {
    /// The leg recorded, once known.
    pub(crate) leg: Option<LegId>,
    /// The waiting call it is recorded from, or `None` for a leg of its own.
    pub(crate) call: Option<CallId>,
    /// The service the message is about.
    pub(crate) service: Option<String>,
    /// The relay confirmed the recording runs.
    pub(crate) recording: bool,
}

/// A signed-in agent or staff member.
#[derive(Debug)]
pub(crate) struct Member {
    /// The current console; it may be gone while an agent's call waits for it.
    pub(crate) conn: ConnId,
    pub(crate) name: String,
    pub(crate) role: Role,
    /// The headset leg, kept for the whole session.
    pub(crate) leg: Option<LegId>,
    /// ICE and DTLS of the headset are up.
    pub(crate) leg_connected: bool,
    /// Staff: the call supported (one at a time: one headset).
    pub(crate) supporting: Option<CallId>,
    /// Staff: a join or mode change waits for its audit entry.
    pub(crate) audit_pending: bool,
    /// Agent: recent calls that may still be wrapped up, newest last.
    /// (A chat is wrapped up the same way; `true` marks one.)
    pub(crate) handled: Vec<(CallId, bool)>,
    /// Agent: the queue status last sent.
    pub(crate) queue_status: Vec<QueueSummary>,
    /// Agent: signed out (account disabled …) as soon as the call in progress has ended and
    /// the agent has been told.
    pub(crate) sign_out_when_free: bool,
    /// Agent: a chat capacity the engine could not take yet (something rang at the agent);
    /// tried again every tick.
    pub(crate) chat_capacity_due: Option<u8>,
}

/// A staff member on a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Support {
    pub(crate) user_id: String,
    pub(crate) mode: SupportMode,
}

/// An agent's open request for help.
#[derive(Debug, Clone)]
pub(crate) struct HelpRequest {
    pub(crate) reason: String,
    pub(crate) at: UnixMs,
}

/// A call from its `call_queued` to its end.
#[derive(Debug)]
pub(crate) struct Call {
    /// The citizen's connection; while lost, possibly the one that went away.
    pub(crate) citizen_conn: ConnId,
    /// The citizen's media leg; `None` while parked or lost.
    pub(crate) citizen_leg: Option<LegId>,
    pub(crate) citizen_id: String,
    /// Waiting, and the citizen is gone: the engine keeps the place.
    pub(crate) parked: bool,
    pub(crate) service: Option<String>,
    /// The queue it waits (or waited) in.
    pub(crate) skill: String,
    pub(crate) transfers: u32,
    /// The assistant conversation, shown to the agent.
    pub(crate) transcript: Vec<TranscriptLine>,
    pub(crate) queued_at: UnixMs,
    pub(crate) answered_at: Option<UnixMs>,
    /// The agent it rings at or talks to; `None` after a take over.
    pub(crate) agent: Option<AgentId>,
    /// The agent was told of the ringing offer (its write committed).
    pub(crate) offer_told: bool,
    /// Bridged and recorded as answered.
    pub(crate) connected: bool,
    /// Staff on the call, in joining order.
    pub(crate) supporters: Vec<Support>,
    /// The staff member who took the call over; from then on the engine no longer knows it.
    pub(crate) taken_over_by: Option<String>,
    pub(crate) help: Option<HelpRequest>,
    /// The supporters the citizen was last told about.
    pub(crate) citizen_heard: Vec<Supporter>,
    /// When the citizen was last told a `queue_position`, if ever.
    pub(crate) position_told_at: Option<UnixMs>,
    /// A newer position is due but was held back (at most one per call per tick): the tick
    /// sends the engine's current one.
    pub(crate) position_due: bool,
}

impl Call {
    /// Answered (bridged to an agent, or taken over).
    pub(crate) fn answered(&self) -> bool {
        self.connected || self.taken_over_by.is_some()
    }
}

/// A call between the citizen's `call` and its `call_queued`: the leg and the record are
/// being made.
#[derive(Debug)]
pub(crate) struct Placing {
    pub(crate) conn: ConnId,
    pub(crate) citizen_id: String,
    pub(crate) service: Option<String>,
    pub(crate) skill: String,
    pub(crate) priority: u8,
    pub(crate) queued_at: UnixMs,
    /// What the relay answered: the leg and SDP answer, or why not. The leg and the record
    /// are asked for at once (neither waits for the other); `call_queued` waits for both.
    pub(crate) leg: Option<Result<(LegId, String), crate::LegFailure>>,
    /// Whether the record was committed, once the store answered.
    pub(crate) recorded: Option<bool>,
    /// The citizen left before `call_queued`.
    pub(crate) abandoned: bool,
}

/// Whose a media leg is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LegOwner {
    Citizen(CallId),
    Member(String),
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Departure {
    /// Closed, dropped, replaced: an agent's call in progress waits for the agent.
    Dropped,
    /// Signed out: whatever they had ends now.
    SignedOut,
}
