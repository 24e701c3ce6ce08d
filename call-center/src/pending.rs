//! Requests whose answers are awaited, and what the core does when each comes back.

use voicedesk_protocol::{EndReason, ServerMessage, SupportMode};

use crate::{AgentId, CallId, ConnId};

/// What a staff member's audited action was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Audited {
    /// Join in a mode (take over included).
    Join(SupportMode),
    /// Switch to a mode (take over included).
    Mode(SupportMode),
    /// Leave.
    Leave,
}

/// What a staff member's audited action on a chat was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChatAudited {
    /// Open the chat read-only.
    Watch,
    /// A text to the agent.
    Whisper(String),
    /// Take the chat over.
    TakeOver,
    /// Stop watching.
    Leave,
}

/// What a rating is of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RatingTarget {
    /// One of the citizen's calls.
    Call(String),
    /// An answered message, proven by its code.
    Ticket { ticket: String },
    /// One of the citizen's chats (a call id the store did not know as a call).
    Chat(String),
}

/// One awaited answer.
#[derive(Debug, Clone)]
pub(crate) enum Pending {
    /// The offer of an admitted call being checked (no leg made): then its leg and its record
    /// are asked for at once.
    PlaceOffer { call: CallId, sdp: String },
    /// The leg of a call being placed.
    PlaceLeg { call: CallId },
    /// The record of an admitted call being placed.
    PlaceRecord { call: CallId },
    /// The record of a call turned away at arrival (then its end).
    TurnedAwayRecord { call: CallId, conn: ConnId, reason: EndReason, opens_at_ms: Option<u64> },
    /// The end of a call turned away: then the citizen is told.
    TurnedAwayEnd { call: CallId, conn: ConnId, reason: EndReason, opens_at_ms: Option<u64> },
    /// An offer's record: then the agent is told.
    Offer { call: CallId, agent: AgentId, message: ServerMessage },
    /// An answer's record: then both sides are told and the media bridged.
    Answer { call: CallId, agent: AgentId, at: crate::UnixMs },
    /// A turned-away call's offer being checked (a broken offer is `bad_sdp` whatever the
    /// queue's state): then its record.
    TurnedAwayOffer {
        call: CallId,
        conn: ConnId,
        record: crate::store::NewCallRecord,
        reason: EndReason,
        opens_at_ms: Option<u64>,
    },
    /// A write nothing waits on (its failure is reported).
    Note { what: &'static str, call: Option<CallId> },
    /// A staff member's audit entry: the action goes ahead only once it is committed.
    Audit { user_id: String, call: CallId, action: Audited, conn: ConnId },
    /// A staff member's chat audit entry: the action goes ahead only once it is committed.
    ChatAudit { user_id: String, chat: CallId, action: ChatAudited, conn: ConnId },
    /// A watched chat's texts so far: then `chat_watching` to the staff member.
    ChatWatchLines { chat: CallId, conn: ConnId },
    /// A wrap-up: then `wrap_up_saved`.
    WrapUp { conn: ConnId, call: CallId, disposition: String },
    /// A text message: then `message_saved` (and the waiting call it came from ends).
    Message { conn: ConnId, client_id: String, call: Option<CallId> },
    /// The lookup before a rating.
    RatingLookup {
        conn: ConnId,
        citizen_id: String,
        target: RatingTarget,
        level: u8,
        comment: String,
    },
    /// A rating: then `rating_saved`.
    Rating { conn: ConnId, shown: String, level: u8 },
    /// A headset leg.
    Headset { user_id: String },
    /// A new leg for a citizen's call (`rejoin_call`).
    Rejoin { conn: ConnId, call: CallId },
    /// A leg of its own for a voice message.
    VoiceLeg { conn: ConnId },
    /// The relay starting a recording.
    VoiceStart { conn: ConnId, answer: Option<String> },
    /// A voice message's file and row: then `message_saved`, and the leg let go.
    VoiceSave { conn: ConnId, client_id: String, draft: crate::state::VoiceDraft },
    /// A new chat's row: then `chat_queued` and the queue.
    ChatRecord { chat: CallId },
    /// A turned-away chat's row (then its end).
    ChatTurnedAway { chat: CallId, conn: ConnId, reason: EndReason },
    /// The end of a turned-away chat: then the citizen is told.
    ChatTurnedAwayEnd { chat: CallId, conn: ConnId, reason: EndReason },
    /// The citizen's leg of a chat becoming a call.
    UpgradeLeg { chat: CallId, conn: ConnId },
    /// The record of a chat's call: then its answer.
    UpgradeRecord { chat: CallId, agent: AgentId, answer: String },
    /// The answer of a chat's call: then bridged, and both sides told.
    UpgradeAnswer { chat: CallId, agent: AgentId, at: crate::UnixMs, answer: String },
    /// The row of a voice call's text panel: then its agent.
    CallTextsRow { call: CallId, agent: AgentId },
    /// The agent of a voice call's text panel: then its waiting texts (opening), or the texts
    /// so far to `reader` (the agent who answered a transferred call).
    CallTextsAgent { call: CallId, reader: Option<AgentId> },
    /// A chat's answer: then both sides are told.
    ChatAnswer { chat: CallId, agent: AgentId },
    /// A chat text: then `chat_sent` to the sender and the text to the other side.
    ChatText {
        chat: CallId,
        conn: ConnId,
        client_id: String,
        author: crate::store::ChatAuthor,
        text: String,
    },
    /// A chat's texts read back: for a rejoining citizen (`chat_rejoined`) or the agent who
    /// just took the chat.
    ChatLines { chat: CallId, conn: ConnId, rejoin: bool },
    /// A question to the assistant.
    Search { conn: ConnId, question: String },
    /// The count of a citizen's messages of the last day: under the cap, the message that
    /// leaves (or records) one is handled.
    MessageCap { conn: ConnId, citizen_id: String, message: voicedesk_protocol::ClientMessage },
}
