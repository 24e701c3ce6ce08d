//! Store operations as values: what the core asks the driver to commit or read, and what
//! comes back. The driver maps them onto the store's traits; the core never waits for one
//! inline, and a client hears of a record only once its [`crate::Input::Store`] said `Ok`.

use voicedesk_protocol::{EndReason, SupportMode};

use crate::{CallId, LegId, UnixMs};

/// A call's first record.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct NewCallRecord {
    /// The call.
    pub call: CallId,
    /// The citizen's opaque identity id.
    pub citizen_session: String,
    /// The service chosen in the hall.
    pub service: Option<String>,
    /// When it was queued.
    pub queued_at: UnixMs,
    /// Its queue.
    pub skill: String,
    /// Its priority there.
    pub priority: u8,
}

/// What an audit entry records.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// A staff member joined a call.
    Join,
    /// A staff member changed mode.
    Mode,
    /// A staff member left a call.
    Leave,
    /// A staff member took a call over.
    TakeOver,
}

/// One audit log entry.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// When.
    pub at: UnixMs,
    /// The staff member.
    pub actor: String,
    /// The call.
    pub call: CallId,
    /// What.
    pub action: AuditAction,
    /// The mode joined or switched to.
    pub mode: Option<SupportMode>,
    /// Why, when not the actor's own choice ("call ended", "disconnected" …).
    pub detail: Option<String>,
}

/// What a chat audit entry records (staff on a live chat, issue 16).
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatAuditAction {
    /// A staff member opened the chat read-only.
    Watch,
    /// A staff member whispered to the chat's agent (the text is the entry's detail).
    Whisper,
    /// A staff member took the chat over.
    TakeOver,
    /// A staff member stopped watching.
    Leave,
}

/// One chat audit entry.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ChatAuditRecord {
    /// When.
    pub at: UnixMs,
    /// The staff member.
    pub actor: String,
    /// The chat.
    pub chat: CallId,
    /// What.
    pub action: ChatAuditAction,
    /// The whispered text, or why when not the actor's own choice ("chat ended" …).
    pub detail: Option<String>,
}

/// Why a citizen leaves a message.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageReason {
    /// The queue was closed.
    Closed,
    /// The queue was full.
    QueueFull,
    /// Nobody with the skill was signed in.
    NoAgents,
    /// The call waited as long as its queue allows.
    WaitLimit,
    /// The citizen chose to.
    Choice,
}

/// A text message to commit.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// The client's id for the message (retries are safe).
    pub client_id: String,
    /// The service it is about.
    pub service: Option<String>,
    /// The citizen's name, if given.
    pub name: Option<String>,
    /// Their phone, if given.
    pub phone: Option<String>,
    /// The text.
    pub body: String,
    /// The waiting call it was left from.
    pub call: Option<CallId>,
    /// Why.
    pub reason: MessageReason,
    /// When it arrived.
    pub created_at: UnixMs,
    /// When staff must have answered it (two working days).
    pub due_at: UnixMs,
    /// The citizen who left it (a retry by another citizen is a conflict).
    pub citizen_id: String,
}

/// A voice message to commit: the driver stops the recording of `leg`, writes the Ogg/Opus
/// file durably, then commits the row naming it (and removes the file if the row fails).
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct VoiceMessageRecord {
    /// The leg being recorded.
    pub leg: crate::LegId,
    /// The client's id for the message.
    pub client_id: String,
    /// The service it is about.
    pub service: Option<String>,
    /// The citizen's name, if given.
    pub name: Option<String>,
    /// Their phone, if given.
    pub phone: Option<String>,
    /// The waiting call it was left from.
    pub call: Option<CallId>,
    /// Why.
    pub reason: MessageReason,
    /// When it arrived.
    pub created_at: UnixMs,
    /// When staff must have answered it.
    pub due_at: UnixMs,
    /// The citizen who left it.
    pub citizen_id: String,
}

/// What a rating is about.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatingKind {
    /// A call.
    Call,
    /// An answered message.
    Message,
    /// A live chat that was answered and has ended.
    Chat,
}

/// Who wrote a chat text.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum ChatAuthor {
    /// The chat's citizen.
    Citizen,
    /// The agent connected to the chat, by user id.
    Agent(String),
}

/// The media legs of a call's two sides as it ended, whose audio quality is kept with its
/// record (none for a call that never reached anyone).
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeasuredLegs {
    /// The citizen's leg.
    pub citizen: Option<LegId>,
    /// The agent's headset leg, if the agent was on the call.
    pub agent: Option<LegId>,
}

/// One store operation.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum StoreRequest {
    /// A new call record.
    InsertCall(NewCallRecord),
    /// The call was offered to an agent.
    CallOffered {
        /// The call.
        call: CallId,
        /// The agent.
        agent: String,
        /// When.
        at: UnixMs,
    },
    /// The call was answered.
    CallAnswered {
        /// The call.
        call: CallId,
        /// The agent.
        agent: String,
        /// When.
        at: UnixMs,
    },
    /// The call went to another queue.
    CallTransferred {
        /// The call.
        call: CallId,
        /// The new queue.
        skill: String,
        /// When.
        at: UnixMs,
    },
    /// A staff member took the call over.
    CallTakenOver {
        /// The call.
        call: CallId,
        /// The staff member.
        staff: String,
        /// When.
        at: UnixMs,
    },
    /// The call ended. The write keeps, in the same commit, the audio figures the relay
    /// measured on `measured`'s legs (the driver reads them when it carries the write out:
    /// a measurement the core cannot know).
    CallEnded {
        /// The call.
        call: CallId,
        /// When.
        at: UnixMs,
        /// Why.
        reason: EndReason,
        /// Whose audio figures to keep with the record.
        #[serde(default)]
        measured: MeasuredLegs,
    },
    /// An audit entry.
    Audit(AuditRecord),
    /// A chat audit entry.
    ChatAudit(ChatAuditRecord),
    /// A staff member took the chat over: their texts are the chat's agent texts from now.
    ChatTakenOver {
        /// The chat.
        chat: CallId,
        /// The staff member.
        staff: String,
        /// When.
        at: UnixMs,
    },
    /// An agent's wrap-up of a call.
    WrapUp {
        /// The call.
        call: CallId,
        /// The agent.
        agent: String,
        /// A disposition id of the catalogue.
        disposition: String,
        /// Free notes.
        notes: String,
        /// When.
        at: UnixMs,
        /// The id is a chat's (kept beside the chat, not the calls).
        #[serde(default)]
        chat: bool,
    },
    /// A text message.
    InsertMessage(MessageRecord),
    /// A voice message (file, then row).
    InsertVoiceMessage(VoiceMessageRecord),
    /// A rating.
    InsertRating {
        /// Of what.
        kind: RatingKind,
        /// The call id or message id.
        subject_id: String,
        /// 1 to 5.
        level: u8,
        /// Free comment.
        comment: String,
        /// When.
        at: UnixMs,
    },
    /// Read what a rating of a call needs to know.
    ReadCall {
        /// The call id.
        call_id: String,
    },
    /// Check a ticket's code and read whether it has a reply.
    VerifyTicket {
        /// The ticket.
        ticket: String,
        /// Its secret code.
        code: String,
    },
    /// A new live chat (issue 16), before it waits in the queue.
    InsertChat {
        /// The chat (an id from the calls' id space).
        chat: CallId,
        /// The citizen's opaque identity id.
        citizen_id: String,
        /// The service chosen in the hall.
        service: Option<String>,
        /// Its queue.
        skill: String,
        /// When it started.
        at: UnixMs,
    },
    /// An agent accepted the chat (again, after a transfer).
    ChatAnswered {
        /// The chat.
        chat: CallId,
        /// The agent.
        agent: String,
        /// When.
        at: UnixMs,
    },
    /// The chat ended.
    ChatEnded {
        /// The chat.
        chat: CallId,
        /// Why.
        reason: EndReason,
        /// When.
        at: UnixMs,
    },
    /// Append one text to a chat; a retry with the same `client_id` is stored once.
    AppendChat {
        /// The chat.
        chat: CallId,
        /// The sender's own id for the text.
        client_id: String,
        /// Who wrote it.
        author: ChatAuthor,
        /// The text (checked by the core: not blank, at most 2,000 characters).
        text: String,
        /// When the server received it.
        at: UnixMs,
    },
    /// Move one side's delivered/read marks forward.
    MarkChat {
        /// The chat.
        chat: CallId,
        /// Whose marks: the citizen's or the agent's.
        citizen: bool,
        /// Highest seq delivered to that side.
        delivered_seq: u64,
        /// Highest seq read by that side.
        read_seq: u64,
    },
    /// Read a chat's texts after a seq (a rejoin, or an agent taking the chat).
    ReadChatLines {
        /// The chat.
        chat: CallId,
        /// Texts with a greater seq, oldest first.
        after_seq: u64,
    },
    /// Read what a rating of a chat needs to know.
    ReadChat {
        /// The chat id.
        chat_id: String,
    },
    /// Count the messages a citizen left since a time (for the per-citizen daily cap).
    CountMessages {
        /// The citizen's opaque identity id.
        citizen_id: String,
        /// From when.
        since: UnixMs,
        /// A message not counted: the one being retried (empty: none).
        except_client_id: String,
    },
}

impl StoreRequest {
    /// Whether the request writes (as opposed to reads).
    pub fn is_write(&self) -> bool {
        !matches!(
            self,
            StoreRequest::ReadCall { .. }
                | StoreRequest::ReadChat { .. }
                | StoreRequest::ReadChatLines { .. }
                | StoreRequest::VerifyTicket { .. }
                | StoreRequest::CountMessages { .. }
        )
    }
}

/// A call as a rating needs it.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct CallFacts {
    /// Whose call it was.
    pub citizen_session: String,
    /// It was answered.
    pub answered: bool,
    /// It has ended.
    pub ended: bool,
}

/// A ticket as a rating needs it.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TicketFacts {
    /// The message's id.
    pub message_id: String,
    /// Staff replied.
    pub replied: bool,
}

/// What the store answered.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum StoreReply {
    /// A write committed.
    Done,
    /// A message committed (or found again by its client id).
    MessageSaved {
        /// Its ticket.
        ticket: String,
        /// Its secret code.
        code: String,
        /// When it is due.
        due_at_ms: i64,
    },
    /// [`StoreRequest::ReadCall`] and [`StoreRequest::ReadChat`]: the call or chat, if it
    /// exists.
    Call(Option<CallFacts>),
    /// [`StoreRequest::VerifyTicket`]: the message, if ticket and code match.
    Ticket(Option<TicketFacts>),
    /// [`StoreRequest::CountMessages`]: how many.
    Count(u64),
    /// [`StoreRequest::AppendChat`]: the text's place in the chat.
    ChatAppended {
        /// Its seq (for a retry: the one stored the first time).
        seq: u64,
        /// When it was first received.
        sent_at: UnixMs,
        /// `false` for a retry: nothing new was written.
        created: bool,
    },
    /// [`StoreRequest::ReadChatLines`]: the texts, oldest first.
    ChatLines(Vec<voicedesk_protocol::ChatLine>),
}

/// Why a store operation failed.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum StoreFailure {
    /// A value was refused; the text names the field.
    InvalidValue(String),
    /// A unique key is taken (a client id reused, a second rating).
    Conflict,
    /// A reference does not exist (`target` names it: "disposition" …).
    InvalidReference {
        /// What was referenced.
        target: String,
    },
    /// The store could not do it now.
    Unavailable(String),
}
