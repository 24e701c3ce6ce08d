//! The voicedesk signaling protocol, version 1.
//!
//! This module is the single source of truth for what travels over `/ws`: JSON text frames,
//! each an object with a `type` tag. `docs/protocol.md` shows an example of every message and
//! a test in this crate checks that every example there parses.
//!
//! Rules every message follows:
//! - every client message gets a reply or an event; a failure is an [`ServerMessage::Error`]
//!   carrying a stable [`ErrorCode`], and the connection stays usable;
//! - ids are opaque strings;
//! - times are milliseconds (`*_ms`), either durations or Unix epoch milliseconds (`*_at_ms`).

use serde::{Deserialize, Serialize};

/// Protocol version carried in [`ServerMessage::Welcome`].
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest WebSocket message (and frame) the server accepts, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Longest chat message text, in characters ([`ClientMessage::SendChat`]); longer is refused.
pub const MAX_CHAT_TEXT_CHARS: usize = 2000;

/// Who is on the other end of a connection. Decided by the server from the session, never by
/// the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An anonymous member of the public calling from the hall.
    Citizen,
    /// A virtual service agent answering calls in the agent console.
    Agent,
    /// Backend support staff.
    Staff,
    /// Administrator (has every staff right).
    Admin,
}

impl Role {
    /// The stable lowercase name used in the store and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Citizen => "citizen",
            Role::Agent => "agent",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }

    /// Parses the stable name written by [`Role::as_str`].
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "citizen" => Some(Role::Citizen),
            "agent" => Some(Role::Agent),
            "staff" => Some(Role::Staff),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Staff and admins may support calls and see the wallboard.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Staff | Role::Admin)
    }

    /// Number of fixed receive slots a media leg of this role has (DESIGN.md, idea 4):
    /// citizen hears agent + barge, agent hears citizen + coach, staff hear citizen + agent.
    pub fn receive_slots(self) -> usize {
        2
    }
}

/// An agent's availability as the agent sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentAvailability {
    /// Ready to be offered calls.
    Available,
    /// Logged in but not taking calls.
    Away,
}

/// What an agent is doing, as the server reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentActivity {
    /// Waiting for a call.
    Available,
    /// Not taking calls.
    Away,
    /// A call is ringing at this agent.
    Ringing,
    /// Talking to a citizen.
    OnCall,
    /// Wrapping up the last call (disposition, notes); offered no call until it ends (the
    /// configured time passes or the agent ends it early).
    AfterCallWork,
}

/// Why a call ended. Stored with the call record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The citizen hung up while talking.
    CitizenHangUp,
    /// The agent hung up while talking.
    AgentHangUp,
    /// The citizen gave up before an agent answered.
    Abandoned,
    /// A media connection failed (ICE/DTLS) or went silent.
    MediaFailed,
    /// The citizen's signaling connection went away.
    CitizenDisconnected,
    /// The agent's signaling connection went away or the agent logged out.
    AgentDisconnected,
    /// Nobody with the skill the service needs is logged in.
    NoAgents,
    /// The service's queue is outside its business hours (or it is a holiday).
    Closed,
    /// The service's queue holds its maximum number of waiting calls.
    QueueFull,
    /// Sent to the agent only: the agent transferred the call to another service's queue; the
    /// call goes on without the agent.
    Transferred,
    /// The citizen chose to leave a message instead of waiting (the message was saved).
    MessageLeft,
    /// The server is shutting down.
    ServerShutdown,
    /// Sent to the agent only: a staff member took the call over; the call goes on without
    /// the agent.
    TakenOver,
    /// A staff member who had taken the call over hung up.
    StaffHangUp,
    /// The citizen's connection (signaling or media) was lost during the answered call and
    /// no new offer came back within the reconnect grace period.
    CitizenLost,
    /// The agent's console or headset was lost during the call and did not come back within
    /// the reconnect grace period.
    AgentLost,
}

impl EndReason {
    /// The stable snake_case name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::CitizenHangUp => "citizen_hang_up",
            EndReason::AgentHangUp => "agent_hang_up",
            EndReason::Abandoned => "abandoned",
            EndReason::MediaFailed => "media_failed",
            EndReason::CitizenDisconnected => "citizen_disconnected",
            EndReason::AgentDisconnected => "agent_disconnected",
            EndReason::NoAgents => "no_agents",
            EndReason::Closed => "closed",
            EndReason::QueueFull => "queue_full",
            EndReason::Transferred => "transferred",
            EndReason::MessageLeft => "message_left",
            EndReason::ServerShutdown => "server_shutdown",
            EndReason::TakenOver => "taken_over",
            EndReason::StaffHangUp => "staff_hang_up",
            EndReason::CitizenLost => "citizen_lost",
            EndReason::AgentLost => "agent_lost",
        }
    }
}

/// Why an offer was taken back from an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawReason {
    /// The agent rejected it.
    Rejected,
    /// The ring timeout passed without an answer.
    RingTimeout,
    /// The citizen hung up while it was ringing.
    CitizenLeft,
}

/// How a staff member supports a live call (DESIGN.md, the routing table of idea 4).
///
/// | mode | citizen hears | agent hears | staff hears |
/// |---|---|---|---|
/// | monitor | agent | citizen | citizen, agent |
/// | whisper | agent | citizen, staff | citizen, agent |
/// | barge | agent, staff | citizen, staff | citizen, agent |
/// | take over | staff | — (agent leaves) | citizen |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportMode {
    /// Listen to both sides.
    Monitor,
    /// Talk to the agent only.
    Whisper,
    /// Three-way: everyone hears everyone.
    Barge,
    /// The staff member keeps the citizen; the agent leaves and is freed.
    TakeOver,
}

impl SupportMode {
    /// The stable snake_case name, as stored in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            SupportMode::Monitor => "monitor",
            SupportMode::Whisper => "whisper",
            SupportMode::Barge => "barge",
            SupportMode::TakeOver => "take_over",
        }
    }

    /// Whether the citizen hears the staff member in this mode.
    pub fn citizen_hears_staff(self) -> bool {
        matches!(self, SupportMode::Barge | SupportMode::TakeOver)
    }
}

/// Where an agent's request for help stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HelpState {
    /// Waiting for a staff member.
    Pending,
    /// A staff member accepted and joined (whisper).
    Accepted,
    /// The agent withdrew it, or the call ended.
    Cancelled,
}

/// Stable error codes. Clients branch on these; the text is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON or not a JSON object with a `type`.
    BadJson,
    /// The `type` is not a message of this protocol, or its fields are wrong.
    UnknownType,
    /// The message was larger than [`MAX_MESSAGE_BYTES`].
    MessageTooLarge,
    /// The message is not allowed for this connection's role.
    Forbidden,
    /// The message is valid but not in the current state (e.g. accepting a call not offered).
    InvalidState,
    /// The call id is not known to this connection.
    UnknownCall,
    /// The service id is not in the hall's catalogue (`GET /api/catalogue`), or is disabled.
    UnknownService,
    /// The SDP is not a usable audio offer.
    BadSdp,
    /// The session token is unknown, forged or expired.
    SessionExpired,
    /// The media relay could not take the connection.
    MediaUnavailable,
    /// Too many messages too fast (from this connection or its address), too many ticket code
    /// attempts, or a cap reached (messages per citizen): the message had no effect. Going on
    /// flooding closes the connection (close code 1008).
    RateLimited,
    /// Something broke on the server; the message had no effect.
    Internal,
}

/// Messages a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Liveness check; answered with [`ServerMessage::Pong`].
    Ping,
    /// Citizen only: take back an earlier anonymous identity after a reload.
    Resume {
        /// The `citizen_token` from an earlier [`ServerMessage::Welcome`].
        citizen_token: String,
    },
    /// Citizen only: call an agent. The relay answers the offer at once
    /// ([`ServerMessage::CallQueued`]).
    Call {
        /// The id of the service the citizen chose in the hall (`GET /api/catalogue`); it
        /// decides the queue (skill) and priority. Absent: general consultation.
        #[serde(default)]
        service: Option<String>,
        /// An SDP offer with 1 to [`Role::receive_slots`] audio sections; the first sends the
        /// microphone.
        sdp: String,
    },
    /// Citizen only: a new media offer for this citizen's call, replacing its media leg. One
    /// message for every recovery:
    /// - a call waiting for an answer that was parked when the connection (or its media)
    ///   dropped (announced in [`ServerMessage::Resumed`] as `parked_call`): within the
    ///   reconnect grace period it keeps its place. Answered with [`ServerMessage::CallQueued`]
    ///   (the relay's new answer) and a fresh position;
    /// - an answered call whose citizen side was lost (announced in `resumed` as
    ///   `active_call`, or [`ServerMessage::MediaState`] `failed` on a connection that stayed
    ///   up), or simply a call whose ICE connection broke: the new leg takes the old one's
    ///   place in the call. Answered with [`ServerMessage::CallRejoined`]; the other side hears
    ///   the citizen again once the leg connects ([`ServerMessage::MediaState`] `connected`);
    /// - a waiting call on this same connection: the new leg replaces the old one, the call
    ///   keeps its place ([`ServerMessage::CallQueued`]).
    RejoinCall {
        /// The citizen's call (parked, waiting or answered).
        call_id: String,
        /// A new SDP offer, as in [`ClientMessage::Call`].
        sdp: String,
    },
    /// Citizen only: leave a text message (when no agent can answer, or at any time while
    /// queued — a queued call then ends as [`EndReason::MessageLeft`]). Answered with
    /// [`ServerMessage::MessageSaved`] once committed; a retry with the same `client_id` returns
    /// the same ticket and creates no duplicate.
    LeaveMessage {
        /// A client-generated id (e.g. a UUID) that makes retries safe.
        client_id: String,
        /// The service the message is about (a catalogue id).
        #[serde(default)]
        service: Option<String>,
        /// The citizen's name, if they want to give it (at most 50 characters).
        #[serde(default)]
        name: Option<String>,
        /// A phone number for a call back (at most 20 characters).
        #[serde(default)]
        phone: Option<String>,
        /// The message (1 to 2000 characters).
        body: String,
        /// The queued call the citizen leaves for this message, if any.
        #[serde(default)]
        call_id: Option<String>,
    },
    /// Citizen only: start recording a voice message. From a queued call (`call_id`) the relay
    /// records the existing connection (no new negotiation; the call leaves the queue only when
    /// the message is saved); without a call, `sdp` is a new audio offer. Answered with
    /// [`ServerMessage::VoiceRecording`].
    StartVoiceMessage {
        /// The citizen's queued call to record from.
        #[serde(default)]
        call_id: Option<String>,
        /// A new SDP offer when there is no call.
        #[serde(default)]
        sdp: Option<String>,
        /// The service the message is about.
        #[serde(default)]
        service: Option<String>,
    },
    /// Citizen only: stop recording and save the voice message. Answered with
    /// [`ServerMessage::MessageSaved`] once the file is synced and the row committed.
    FinishVoiceMessage {
        /// A client-generated id that makes retries safe.
        client_id: String,
        /// The citizen's name (optional).
        #[serde(default)]
        name: Option<String>,
        /// A phone number for a call back (optional).
        #[serde(default)]
        phone: Option<String>,
    },
    /// Citizen only: stop recording and keep nothing (a queued call goes on waiting).
    CancelVoiceMessage,
    /// Citizen only: a question for the self-service assistant. Answered with
    /// [`ServerMessage::Answer`]. Refused once the citizen asked for an agent (the hand-off).
    Ask {
        /// The question in the citizen's words (at most 500 characters).
        text: String,
    },
    /// Citizen only: rate a call or an answered message, five levels (5 very satisfied … 1 very
    /// dissatisfied). Answered with [`ServerMessage::RatingSaved`]; one rating per call or
    /// message. Levels 1 and 2 go onto the staff's follow-up list.
    Rate {
        /// The call to rate (one of this citizen's answered calls).
        #[serde(default)]
        call_id: Option<String>,
        /// Or the ticket of an answered message, with its secret code.
        #[serde(default)]
        ticket: Option<String>,
        /// The message's secret code.
        #[serde(default)]
        code: Option<String>,
        /// 1..=5.
        level: u8,
        /// Optional comment (at most 500 characters).
        #[serde(default)]
        comment: String,
    },
    /// Agent only: open the headset media connection kept for the whole session.
    MediaConnect {
        /// An SDP offer, as in [`ClientMessage::Call`].
        sdp: String,
    },
    /// Agent only: become available or go away.
    SetState {
        /// The new availability.
        state: AgentAvailability,
        /// Why the agent is away (free text, optional).
        #[serde(default)]
        reason: Option<String>,
    },
    /// Agent only: take the call ringing at this agent.
    Accept {
        /// The offered call.
        call_id: String,
    },
    /// Agent only: decline the call ringing at this agent; it goes to the next agent.
    Reject {
        /// The offered call.
        call_id: String,
    },
    /// Either side: end the call (a citizen may also leave the queue this way).
    HangUp {
        /// The call to end.
        call_id: String,
    },
    /// Agent only: blind transfer of the connected call to another service's queue. The
    /// citizen goes back on hold and keeps the original queue time for ordering; the agent's
    /// part ends ([`EndReason::Transferred`]) and after-call work begins.
    Transfer {
        /// The agent's connected call.
        call_id: String,
        /// The service id whose queue takes the call.
        service: String,
    },
    /// Agent only: the wrap-up of a call this agent handled — a disposition code from the
    /// catalogue's list and free notes. Saving again replaces it. Answered with
    /// [`ServerMessage::WrapUpSaved`] once committed.
    WrapUp {
        /// The call.
        call_id: String,
        /// A disposition code (`GET /api/catalogue`).
        disposition: String,
        /// Free notes (at most 2000 characters).
        #[serde(default)]
        notes: String,
    },
    /// Agent only: ask staff for help with the current call.
    RequestHelp {
        /// The agent's current call.
        call_id: String,
        /// Why (shown to staff).
        reason: String,
    },
    /// Agent only: withdraw a help request.
    CancelHelp {
        /// The call the request was for.
        call_id: String,
    },
    /// Staff only: join a live call in a mode.
    JoinCall {
        /// The call.
        call_id: String,
        /// How to join.
        mode: SupportMode,
    },
    /// Staff only: switch mode in a call already joined.
    SetMode {
        /// The call.
        call_id: String,
        /// The new mode.
        mode: SupportMode,
    },
    /// Staff only: leave a call (after a take over this ends the call).
    LeaveCall {
        /// The call.
        call_id: String,
    },
    /// Staff only: accept an agent's help request; joins the call in whisper mode.
    AcceptHelp {
        /// The call the request is for.
        call_id: String,
    },
    /// Citizen only: start a live text chat with an agent of `service` (issue 16).
    StartChat {
        /// A service id from the catalogue; none means the general consultation queue.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
    },
    /// Citizen or agent: send a text in a chat of one's own. Acknowledged with
    /// [`ServerMessage::ChatSent`] only after it is committed; a retry with the same
    /// `client_id` is stored once.
    SendChat {
        /// The chat.
        chat_id: String,
        /// The sender's own id for this text (a UUID).
        client_id: String,
        /// The text, at most [`MAX_CHAT_TEXT_CHARS`] characters; shown as text, never markup.
        text: String,
    },
    /// Citizen or agent: typing started or stopped (not stored).
    ChatTyping {
        /// The chat.
        chat_id: String,
        /// Whether typing now.
        typing: bool,
    },
    /// Citizen or agent: the other side's texts up to these seqs reached this client / were
    /// read. Marks only move forward.
    ChatRead {
        /// The chat.
        chat_id: String,
        /// Highest seq delivered to this client.
        delivered_seq: u64,
        /// Highest seq read.
        read_seq: u64,
    },
    /// Citizen or agent: end the chat.
    EndChat {
        /// The chat.
        chat_id: String,
    },
    /// Citizen only: turn one's connected chat into a voice call with the same agent, without
    /// queueing again (the chat's texts go on beside the call). `sdp` is the microphone's
    /// offer, as in `call`. Answered with [`ServerMessage::ChatUpgraded`]; refused when the
    /// agent cannot take a call now (no headset connected, another call) and the chat goes on.
    UpgradeChat {
        /// The chat.
        chat_id: String,
        /// The WebRTC offer of the citizen's microphone.
        sdp: String,
    },
    /// Agent only: propose to the citizen of one's chat to go on by voice; the citizen hears
    /// [`ServerMessage::UpgradeOffered`] and accepts with `upgrade_chat`.
    OfferUpgrade {
        /// The chat.
        chat_id: String,
    },
    /// Citizen only: after a reload, take the chat back with every text after `after_seq`
    /// (within the reconnect grace).
    RejoinChat {
        /// The chat.
        chat_id: String,
        /// The last seq this client has (0: none).
        #[serde(default)]
        after_seq: u64,
    },
    /// Staff only: open a live chat read-only. Audited first; then
    /// [`ServerMessage::ChatWatching`] with the conversation so far, and every new text of
    /// either side as [`ServerMessage::ChatMessage`] until [`ServerMessage::ChatEnded`].
    WatchChat {
        /// The chat.
        chat_id: String,
    },
    /// Staff only: a text to the agent of a chat this staff member watches; the citizen never
    /// gets it. Audited (with its text) first; then [`ServerMessage::ChatWhisper`] to the agent
    /// and back to the sender.
    WhisperChat {
        /// The chat.
        chat_id: String,
        /// The text, at most [`MAX_CHAT_TEXT_CHARS`] characters.
        text: String,
    },
    /// Staff only: take over a watched chat. Audited first; then the agent's part ends
    /// ([`EndReason::TakenOver`]), the citizen gets [`ServerMessage::ChatConnected`] with the
    /// staff member's name and the staff member writes as the chat's agent (`send_chat`,
    /// `end_chat`).
    TakeOverChat {
        /// The chat.
        chat_id: String,
    },
    /// Staff only: stop watching a chat (audited; answered with [`ServerMessage::ChatEnded`]
    /// `staff_hang_up` for this side only).
    UnwatchChat {
        /// The chat.
        chat_id: String,
    },
}

impl ClientMessage {
    /// The `type` tag, for error replies and logs.
    pub fn type_name(&self) -> &'static str {
        match self {
            ClientMessage::Ping => "ping",
            ClientMessage::Resume { .. } => "resume",
            ClientMessage::Call { .. } => "call",
            ClientMessage::RejoinCall { .. } => "rejoin_call",
            ClientMessage::LeaveMessage { .. } => "leave_message",
            ClientMessage::StartVoiceMessage { .. } => "start_voice_message",
            ClientMessage::FinishVoiceMessage { .. } => "finish_voice_message",
            ClientMessage::CancelVoiceMessage => "cancel_voice_message",
            ClientMessage::Ask { .. } => "ask",
            ClientMessage::Rate { .. } => "rate",
            ClientMessage::MediaConnect { .. } => "media_connect",
            ClientMessage::SetState { .. } => "set_state",
            ClientMessage::Accept { .. } => "accept",
            ClientMessage::Reject { .. } => "reject",
            ClientMessage::HangUp { .. } => "hang_up",
            ClientMessage::Transfer { .. } => "transfer",
            ClientMessage::WrapUp { .. } => "wrap_up",
            ClientMessage::RequestHelp { .. } => "request_help",
            ClientMessage::CancelHelp { .. } => "cancel_help",
            ClientMessage::JoinCall { .. } => "join_call",
            ClientMessage::SetMode { .. } => "set_mode",
            ClientMessage::LeaveCall { .. } => "leave_call",
            ClientMessage::AcceptHelp { .. } => "accept_help",
            ClientMessage::StartChat { .. } => "start_chat",
            ClientMessage::SendChat { .. } => "send_chat",
            ClientMessage::ChatTyping { .. } => "chat_typing",
            ClientMessage::ChatRead { .. } => "chat_read",
            ClientMessage::EndChat { .. } => "end_chat",
            ClientMessage::RejoinChat { .. } => "rejoin_chat",
            ClientMessage::UpgradeChat { .. } => "upgrade_chat",
            ClientMessage::OfferUpgrade { .. } => "offer_upgrade",
            ClientMessage::WatchChat { .. } => "watch_chat",
            ClientMessage::WhisperChat { .. } => "whisper_chat",
            ClientMessage::TakeOverChat { .. } => "take_over_chat",
            ClientMessage::UnwatchChat { .. } => "unwatch_chat",
        }
    }

    /// A message that is its `type` alone (no fields allowed).
    pub fn is_fieldless(&self) -> bool {
        matches!(self, ClientMessage::Ping | ClientMessage::CancelVoiceMessage)
    }

    /// The roles allowed to send this message.
    pub fn allowed_for(&self, role: Role) -> bool {
        match self {
            ClientMessage::Ping => true,
            ClientMessage::HangUp { .. } => matches!(role, Role::Citizen | Role::Agent),
            // Staff write to a chat they took over.
            ClientMessage::SendChat { .. }
            | ClientMessage::ChatTyping { .. }
            | ClientMessage::ChatRead { .. }
            | ClientMessage::EndChat { .. } => true,
            ClientMessage::Resume { .. }
            | ClientMessage::Call { .. }
            | ClientMessage::RejoinCall { .. }
            | ClientMessage::LeaveMessage { .. }
            | ClientMessage::StartVoiceMessage { .. }
            | ClientMessage::FinishVoiceMessage { .. }
            | ClientMessage::CancelVoiceMessage
            | ClientMessage::Ask { .. }
            | ClientMessage::Rate { .. }
            | ClientMessage::StartChat { .. }
            | ClientMessage::RejoinChat { .. }
            | ClientMessage::UpgradeChat { .. } => role == Role::Citizen,
            ClientMessage::MediaConnect { .. } => role != Role::Citizen,
            ClientMessage::SetState { .. }
            | ClientMessage::Accept { .. }
            | ClientMessage::Reject { .. }
            | ClientMessage::Transfer { .. }
            | ClientMessage::WrapUp { .. }
            | ClientMessage::RequestHelp { .. }
            | ClientMessage::CancelHelp { .. }
            | ClientMessage::OfferUpgrade { .. } => role == Role::Agent,
            ClientMessage::JoinCall { .. }
            | ClientMessage::SetMode { .. }
            | ClientMessage::LeaveCall { .. }
            | ClientMessage::AcceptHelp { .. }
            | ClientMessage::WatchChat { .. }
            | ClientMessage::WhisperChat { .. }
            | ClientMessage::TakeOverChat { .. }
            | ClientMessage::UnwatchChat { .. } => role.is_staff(),
        }
    }
}

/// The signed-in person behind an agent connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Stable user id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Name shown to citizens and colleagues.
    pub display_name: String,
    /// The user's role.
    pub role: Role,
}

/// Messages the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message on every connection.
    Welcome {
        /// [`PROTOCOL_VERSION`].
        protocol: u32,
        /// The role this connection is bound to.
        role: Role,
        /// Citizen connections: a resumable anonymous session token (keep it in
        /// `sessionStorage`, send it in [`ClientMessage::Resume`] after a reload).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        citizen_token: Option<String>,
        /// Staff connections: who is signed in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<UserInfo>,
    },
    /// Reply to [`ClientMessage::Ping`].
    Pong,
    /// Reply to [`ClientMessage::Resume`]: this connection now carries the earlier identity.
    /// Another connection still carrying it is closed (the newest connection wins).
    Resumed {
        /// The same token, still valid.
        citizen_token: String,
        /// A call of this citizen parked when the connection dropped; it keeps its place until
        /// the reconnect grace period ends. Send [`ClientMessage::RejoinCall`] to go on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parked_call: Option<ParkedCall>,
        /// An answered call of this citizen that waits for them: the agent is still on it
        /// until `reconnect_by_ms`. Send [`ClientMessage::RejoinCall`] with a new offer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        active_call: Option<LiveCall>,
    },
    /// Reply to [`ClientMessage::RejoinCall`] for an answered call: the relay's answer to the
    /// new offer, whose leg takes the place of the old one in the call.
    CallRejoined {
        /// The call.
        call_id: String,
        /// The relay's SDP answer.
        sdp: String,
    },
    /// Agent only: sent right after `welcome` when an agent's console comes back (a reload, a
    /// dropped connection) while the agent's call waits for them. Send
    /// [`ClientMessage::MediaConnect`] with a new offer: the call is routed onto the new headset
    /// once it connects.
    CallResumed(LiveCall),
    /// The other side of this call lost its connection (signaling or media); the call is
    /// kept until `reconnect_by_ms` and ends then (`citizen_lost`, `agent_lost`) unless they
    /// come back. Sent to the agent and staff on the call when the citizen is lost, to the
    /// citizen and staff when the agent is.
    PeerReconnecting {
        /// The call.
        call_id: String,
        /// Who is lost: `citizen` or `agent`.
        peer: Role,
        /// When the call ends if they are not back (Unix epoch ms).
        reconnect_by_ms: u64,
    },
    /// The side announced in [`ServerMessage::PeerReconnecting`] is back: its new media leg is
    /// connected and voice flows again.
    PeerReconnected {
        /// The call.
        call_id: String,
        /// Who is back.
        peer: Role,
    },
    /// Reply to [`ClientMessage::Call`]: the relay answered and the call waits in the queue.
    CallQueued {
        /// The new call.
        call_id: String,
        /// The relay's SDP answer.
        sdp: String,
    },
    /// The citizen's place in the queue changed (1 = next).
    QueuePosition {
        /// The queued call.
        call_id: String,
        /// 1-based position in the call's queue (all calls waiting for the same skill).
        position: u32,
        /// Estimated wait from now until an agent answers, from recent handle times and the
        /// agents staffing the queue (docs/wait-estimate.md); absent when nobody staffs it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        estimated_wait_ms: Option<u64>,
    },
    /// The call has waited as long as its queue's maximum wait. It keeps its place; the
    /// citizen may keep waiting or choose another way to be served.
    WaitLimitReached {
        /// The queued call.
        call_id: String,
        /// How long it has waited.
        waited_ms: u64,
    },
    /// The agent transferred the citizen's call to another service's queue; the citizen hears
    /// the hold tune again and gets positions for the new queue.
    CallTransferred {
        /// The call.
        call_id: String,
        /// The service whose queue has the call now.
        service: String,
    },
    /// Reply to [`ClientMessage::MediaConnect`].
    MediaAnswer {
        /// The relay's SDP answer.
        sdp: String,
    },
    /// The state of this connection's media leg changed.
    MediaState {
        /// `connected`, `failed` or `closed`.
        state: MediaLegState,
    },
    /// The agent's state, after every change (including the reply to
    /// [`ClientMessage::SetState`]).
    AgentState {
        /// What the agent is doing now.
        state: AgentActivity,
        /// Reason given for `away`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// When this state began (Unix epoch ms).
        since_ms: u64,
        /// After-call work: when it ends and the agent becomes available (Unix epoch ms).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until_ms: Option<u64>,
    },
    /// Agent only: the queues of this agent's skills, pushed when they change (at most once a
    /// second).
    QueueStatus {
        /// One entry per skill of the agent.
        queues: Vec<QueueSummary>,
    },
    /// Reply to [`ClientMessage::WrapUp`]: the wrap-up is committed.
    WrapUpSaved {
        /// The call.
        call_id: String,
    },
    /// Reply to [`ClientMessage::LeaveMessage`] and [`ClientMessage::FinishVoiceMessage`]: the
    /// message is committed. Keep the ticket and the code to read the reply on the ticket page.
    MessageSaved {
        /// The client's id of the message.
        client_id: String,
        /// The ticket number.
        ticket: String,
        /// The secret code (the server keeps only its hash; a retry issues a new one and the
        /// earlier one stops working).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        /// When staff will have answered at the latest (two working days; Unix epoch ms).
        due_at_ms: u64,
    },
    /// Reply to [`ClientMessage::StartVoiceMessage`]: recording has started.
    VoiceRecording {
        /// The relay's SDP answer when the message was started with a new offer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp: Option<String>,
        /// The longest message kept; recording stops there.
        max_ms: u64,
    },
    /// Reply to [`ClientMessage::CancelVoiceMessage`], also sent when the recording was dropped
    /// because an agent answered the queued call: nothing was kept.
    VoiceMessageCancelled,
    /// The self-service assistant's reply to [`ClientMessage::Ask`].
    Answer {
        /// The question, as asked.
        question: String,
        /// The best article, when the assistant is confident.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        best: Option<KnowledgeHit>,
        /// Other articles that may help (when not confident, the only answer).
        suggestions: Vec<KnowledgeHit>,
        /// Whether `best` is a confident answer.
        confident: bool,
        /// The assistant offers a human: an agent (if the service is open) or a message.
        offer_human: bool,
    },
    /// Reply to [`ClientMessage::Rate`]: the rating is committed.
    RatingSaved {
        /// The call rated, or the ticket.
        subject: String,
        /// The level given.
        level: u8,
    },
    /// A call rings at this agent.
    CallOffered {
        /// The call.
        call_id: String,
        /// The service the citizen chose (a catalogue id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// The queue (skill) the call waits in.
        #[serde(default)]
        skill: String,
        /// The call's priority in that queue (higher is served first).
        #[serde(default)]
        priority: u8,
        /// How many times it was transferred before.
        #[serde(default)]
        transfers: u32,
        /// The citizen's conversation with the self-service assistant before asking for an agent.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        transcript: Vec<TranscriptLine>,
        /// How long the citizen has waited so far.
        waited_ms: u64,
        /// How long the offer rings before it goes to the next agent.
        ring_timeout_ms: u64,
    },
    /// An offer to this agent was taken back.
    OfferWithdrawn {
        /// The call.
        call_id: String,
        /// Why.
        reason: WithdrawReason,
    },
    /// Both sides are bridged; voice flows.
    CallConnected {
        /// The call.
        call_id: String,
        /// The other party's name as shown to this side.
        peer_name: String,
    },
    /// The call is over for this side.
    CallEnded {
        /// The call.
        call_id: String,
        /// Why it ended.
        reason: EndReason,
        /// With [`EndReason::Closed`]: when the service's queue opens next (Unix epoch ms).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        opens_at_ms: Option<u64>,
    },
    /// Who supports a call and how; sent to the agent and the staff on every change, and to
    /// the citizen only with the supporters the citizen can hear (barge, take over).
    SupportChanged {
        /// The call.
        call_id: String,
        /// The staff members on the call.
        supporters: Vec<Supporter>,
    },
    /// The state of this agent's help request.
    HelpStatus {
        /// The call the request is for.
        call_id: String,
        /// Where it stands.
        state: HelpState,
        /// The staff member who accepted, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        staff_name: Option<String>,
    },
    /// Staff only: the live state of the hall, pushed on change and every few seconds.
    Wallboard(Wallboard),
    /// Reply to [`ClientMessage::StartChat`]: the chat is recorded and waits in the queue
    /// (positions follow as [`ServerMessage::ChatPosition`]).
    ChatQueued {
        /// The new chat.
        chat_id: String,
    },
    /// The chat's place in its queue changed (1 = next). Calls and chats of a service wait in
    /// one queue, so the position counts both.
    ChatPosition {
        /// The chat.
        chat_id: String,
        /// 1-based position.
        position: u32,
        /// Estimated wait, as for calls; absent when nobody staffs the queue.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        estimated_wait_ms: Option<u64>,
    },
    /// Agent only: a chat rings at this agent; answer with `accept` / `reject` and the chat id
    /// as `call_id`.
    ChatOffered {
        /// The chat.
        chat_id: String,
        /// The service the citizen chose.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// How long the citizen has waited.
        waited_ms: u64,
        /// How long it rings before it goes to another agent.
        ring_timeout_ms: u64,
    },
    /// To both sides: the agent accepted; texts may flow.
    ChatConnected {
        /// The chat.
        chat_id: String,
        /// The other party's name as shown to this side.
        peer_name: String,
    },
    /// A committed text of the chat, to the side that did not write it (and, when an agent
    /// takes the chat, each text written before).
    ChatMessage(ChatLine),
    /// To the sender: the text with this `client_id` is committed as `seq`.
    ChatSent {
        /// The chat.
        chat_id: String,
        /// The sender's id for the text.
        client_id: String,
        /// Its number in the chat.
        seq: u64,
        /// When the server received it (Unix epoch ms).
        sent_at_ms: u64,
    },
    /// The other side is typing, or stopped.
    ChatTyping {
        /// The chat.
        chat_id: String,
        /// Whether typing now.
        typing: bool,
    },
    /// The other side's delivered/read marks moved.
    ChatMarks {
        /// The chat.
        chat_id: String,
        /// Highest of this side's seqs delivered to the other side.
        delivered_seq: u64,
        /// Highest read.
        read_seq: u64,
    },
    /// Reply to [`ClientMessage::RejoinChat`]: the chat is back on this connection, with the
    /// texts after the seq asked for.
    ChatRejoined {
        /// The chat.
        chat_id: String,
        /// The texts after `after_seq`, oldest first.
        messages: Vec<ChatLine>,
    },
    /// Citizen only: the agent proposes to go on by voice (`upgrade_chat` accepts).
    UpgradeOffered {
        /// The chat.
        chat_id: String,
    },
    /// Reply to [`ClientMessage::UpgradeChat`], to both sides once the call's answer is
    /// committed: the chat is now also a voice call with the same id, connected to the same
    /// agent; call messages follow (`call_ended` ends the call and the chat together). Texts
    /// go on as in the chat.
    ChatUpgraded {
        /// The chat, and now the call.
        chat_id: String,
        /// Citizen: the relay's answer to the microphone's offer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp: Option<String>,
    },
    /// Staff only: the chat this staff member asked to watch, with every text so far (oldest
    /// first); new texts follow as [`ServerMessage::ChatMessage`].
    ChatWatching {
        /// The chat.
        chat_id: String,
        /// The agent's name (empty while nobody answered).
        agent_name: String,
        /// The texts so far.
        messages: Vec<ChatLine>,
    },
    /// A staff member's text to the agent of a chat (never sent to the citizen): to the agent,
    /// shown as a whisper, and back to the staff member who wrote it.
    ChatWhisper {
        /// The chat.
        chat_id: String,
        /// The staff member's name.
        staff_name: String,
        /// The text.
        text: String,
        /// When it was committed to the audit (Unix epoch ms).
        sent_at_ms: u64,
    },
    /// The chat is over for this side (for a watching staff member: the chat ended, or
    /// `staff_hang_up` when the watch did).
    ChatEnded {
        /// The chat.
        chat_id: String,
        /// Why it ended.
        reason: EndReason,
    },
    /// A request failed; nothing changed.
    Error {
        /// Stable code.
        code: ErrorCode,
        /// Readable explanation.
        message: String,
        /// The `type` of the message that failed, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_type: Option<String>,
    },
}

/// An article of the knowledge base as the assistant answers with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeHit {
    /// The article id.
    pub article_id: String,
    /// Its title in the question's language.
    pub title: String,
    /// Its body (steps, what to prepare) in the question's language.
    pub body: String,
    /// The service it is about, if any (a catalogue id): "talk to an agent" calls that service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// One committed text of a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    /// The chat.
    pub chat_id: String,
    /// 1, 2, … within the chat, in commit order.
    pub seq: u64,
    /// Who wrote it: [`Role::Citizen`] or [`Role::Agent`].
    pub from: Role,
    /// The text (show it as text, never as markup).
    pub text: String,
    /// When the server received it (Unix epoch ms).
    pub sent_at_ms: u64,
}

/// One line of a citizen's conversation with the self-service assistant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// `citizen` or `assistant`.
    pub from: String,
    /// What was said (the assistant's line is the title of the article it answered with).
    pub text: String,
}

/// A citizen's call parked while the citizen's connection was away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedCall {
    /// The call.
    pub call_id: String,
    /// Its service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Its place in the queue.
    pub position: u32,
}

/// An answered call in progress, as told to a side that comes back to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCall {
    /// The call.
    pub call_id: String,
    /// The service the citizen chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The other side's name (as in [`ServerMessage::CallConnected`]).
    pub peer_name: String,
    /// When the call was answered (Unix epoch ms).
    pub answered_at_ms: u64,
    /// Until when the call waits for a new offer from this side (Unix epoch ms).
    pub reconnect_by_ms: u64,
}

/// One queue as an agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSummary {
    /// The skill (queue) id.
    pub skill: String,
    /// Calls waiting for an answer (queued, ringing or parked).
    pub waiting: u32,
    /// The longest current wait.
    pub longest_wait_ms: u64,
    /// Agents with this skill who are available now.
    pub available_agents: u32,
    /// Agents with this skill who are signed in and not away.
    pub staffed_agents: u32,
}

/// A staff member on a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supporter {
    /// The staff member's user id.
    pub user_id: String,
    /// Their display name.
    pub name: String,
    /// How they support the call.
    pub mode: SupportMode,
}

/// Live figures for the staff console.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Wallboard {
    /// When the snapshot was taken (Unix epoch ms).
    pub at_ms: u64,
    /// One row per queue.
    pub queues: Vec<QueueRow>,
    /// Every signed-in agent.
    pub agents: Vec<AgentRow>,
    /// Every call in progress.
    pub calls: Vec<CallRow>,
    /// Every live chat (waiting or answered), oldest first.
    #[serde(default)]
    pub chats: Vec<ChatRow>,
    /// Open help requests, oldest first.
    pub help_requests: Vec<HelpRow>,
    /// Queue length and service level sampled over the last hours, oldest first.
    pub history: Vec<HistoryPoint>,
}

/// A queue on the wallboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueRow {
    /// Queue name (the skill id; the console labels it from the catalogue).
    pub name: String,
    /// Agents with this skill available now, and signed in and not away.
    #[serde(default)]
    pub available_agents: u32,
    /// Agents with this skill signed in and not away.
    #[serde(default)]
    pub staffed_agents: u32,
    /// Calls waiting for an answer (queued or ringing).
    pub waiting: u32,
    /// The longest current wait.
    pub longest_wait_ms: u64,
    /// Calls answered since local midnight.
    pub answered_today: u32,
    /// Calls abandoned since local midnight.
    pub abandoned_today: u32,
    /// Share of today's answered + abandoned calls that were answered within
    /// `service_level_seconds`, in percent; `None` before the first such call.
    pub service_level_pct: Option<f32>,
    /// The service-level threshold: the queue's own, or the server's default
    /// (`--service-level-seconds`); for `all`, the default (each call is counted against its
    /// own queue's threshold).
    pub service_level_seconds: u32,
    /// The service-level target in percent: the queue's own, or the server's default
    /// (`--service-level-target-pct`).
    #[serde(default)]
    pub service_level_target_pct: u32,
    /// Of `waiting`, the live chats (queued, ringing or parked; issue 16).
    #[serde(default)]
    pub chats_waiting: u32,
    /// The longest current wait of a chat (since it was started; a transfer keeps it).
    #[serde(default)]
    pub longest_chat_wait_ms: u64,
    /// Chats answered and in progress in this queue.
    #[serde(default)]
    pub active_chats: u32,
}

/// An agent on the wallboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRow {
    /// User id.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// What the agent is doing.
    pub state: AgentActivity,
    /// Why the agent is away (a reason code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Since when (Unix epoch ms).
    pub since_ms: u64,
    /// The agent's skills (queue ids).
    #[serde(default)]
    pub skills: Vec<String>,
    /// Chats the agent holds now (issue 16).
    #[serde(default)]
    pub chats: u32,
    /// How many the agent may hold at once.
    #[serde(default)]
    pub chat_capacity: u32,
}

/// How one side's audio reaches the relay: an E-model estimate from the loss and jitter the
/// relay measures on the side's incoming stream and the round-trip time its RTCP reports give.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AudioQuality {
    /// Mean opinion score estimate, 1.0 (bad) … 4.5 (excellent); below 3.1 is poor.
    pub mos: f32,
    /// Packets lost, percent.
    pub loss_pct: f32,
    /// Interarrival jitter, milliseconds.
    pub jitter_ms: f32,
    /// Round-trip time between the relay and the side, milliseconds (`None` until measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f32>,
}

/// A call on the wallboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRow {
    /// The call.
    pub call_id: String,
    /// The service the citizen chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The queue (skill) it waits or waited in.
    #[serde(default)]
    pub skill: String,
    /// `queued`, `ringing` or `talking`.
    pub phase: CallPhaseName,
    /// The agent it rings at or talks to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// When the citizen called (Unix epoch ms).
    pub queued_at_ms: u64,
    /// When it was answered (Unix epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at_ms: Option<u64>,
    /// Staff on the call.
    pub supporters: Vec<Supporter>,
    /// Sides of the answered call whose connection is lost and who are waited for
    /// (`citizen`, `agent`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reconnecting: Vec<Role>,
    /// The citizen's audio quality so far (filled in by the server from its relay's figures;
    /// `None` before audio or without a leg).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citizen_quality: Option<AudioQuality>,
    /// The agent's audio quality so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_quality: Option<AudioQuality>,
}

/// A live chat on the wallboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRow {
    /// The chat.
    pub chat_id: String,
    /// The service the citizen chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The queue it waits or waited in.
    pub skill: String,
    /// Whether an agent (or a staff member who took it over) answered it.
    pub answered: bool,
    /// The agent it rings at or talks to (or the staff member who took it over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// When the citizen started it (Unix epoch ms).
    pub queued_at_ms: u64,
    /// The staff members watching it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watchers: Vec<String>,
    /// Taken over by a staff member.
    #[serde(default)]
    pub taken_over: bool,
}

/// The phase of a call on the wallboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallPhaseName {
    /// Waiting in the queue.
    Queued,
    /// Ringing at an agent.
    Ringing,
    /// Talking.
    Talking,
}

/// An open help request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpRow {
    /// The call.
    pub call_id: String,
    /// The agent asking.
    pub agent_name: String,
    /// Why.
    pub reason: String,
    /// When (Unix epoch ms).
    pub requested_at_ms: u64,
}

/// One sample of the wallboard history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// When (Unix epoch ms).
    pub at_ms: u64,
    /// Calls waiting at that moment.
    pub waiting: u32,
    /// Service level at that moment, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_level_pct: Option<f32>,
}

/// State of a media leg as reported to its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaLegState {
    /// ICE and DTLS are up; media flows.
    Connected,
    /// ICE or DTLS failed or the leg went silent.
    Failed,
    /// The leg was closed.
    Closed,
}

impl ServerMessage {
    /// Builds an [`ServerMessage::Error`].
    pub fn error(code: ErrorCode, message: impl Into<String>, request_type: Option<&str>) -> Self {
        ServerMessage::Error {
            code,
            message: message.into(),
            request_type: request_type.map(str::to_owned),
        }
    }
}

/// Why a text frame could not be read as a [`ClientMessage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// [`ErrorCode::BadJson`] or [`ErrorCode::UnknownType`].
    pub code: ErrorCode,
    /// Readable explanation.
    pub message: String,
    /// The `type` tag, when the frame had one.
    pub request_type: Option<String>,
}

/// The longest readable explanation in a [`DecodeError`]: serde's text may quote the input
/// (an unknown type name, a wrong value), and an error must not be larger than the frame that
/// caused it.
pub const MAX_DECODE_ERROR_CHARS: usize = 200;

/// At most `max` characters of `text`, with `…` when cut.
fn clipped(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Reads one client frame, telling apart broken JSON from a well-formed message of an unknown
/// type or with wrong fields. The error never echoes more than [`MAX_DECODE_ERROR_CHARS`] of
/// the input, and names the type in `request_type` only when it is one of the protocol's.
pub fn decode_client_message(text: &str) -> Result<ClientMessage, DecodeError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| DecodeError {
        code: ErrorCode::BadJson,
        message: clipped(&format!("not valid JSON: {e}"), MAX_DECODE_ERROR_CHARS),
        request_type: None,
    })?;
    let Some(tag) = value.get("type").and_then(|t| t.as_str()).map(str::to_owned) else {
        return Err(DecodeError {
            code: ErrorCode::BadJson,
            message: "expected a JSON object with a string field \"type\"".into(),
            request_type: None,
        });
    };
    let fields = value.as_object().map_or(0, |o| o.len());
    match serde_json::from_value::<ClientMessage>(value) {
        // serde ignores `deny_unknown_fields` on the unit variants of an internally tagged
        // enum: a field-less message with fields is refused here.
        Ok(message) if message.is_fieldless() && fields > 1 => Err(DecodeError {
            code: ErrorCode::UnknownType,
            message: format!("not a valid \"{tag}\" message: it has no fields besides \"type\""),
            request_type: Some(tag),
        }),
        Ok(message) => Ok(message),
        Err(e) if e.to_string().starts_with("unknown variant") => Err(DecodeError {
            code: ErrorCode::UnknownType,
            message: format!(
                "unknown message type \"{}\"",
                clipped(&tag, MAX_DECODE_ERROR_CHARS / 2)
            ),
            request_type: None,
        }),
        Err(e) => Err(DecodeError {
            code: ErrorCode::UnknownType,
            message: clipped(
                &format!("not a valid \"{tag}\" message: {e}"),
                MAX_DECODE_ERROR_CHARS,
            ),
            request_type: Some(tag),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_json_and_unknown_types_are_told_apart() {
        assert_eq!(decode_client_message("{").unwrap_err().code, ErrorCode::BadJson);
        assert_eq!(decode_client_message("[1]").unwrap_err().code, ErrorCode::BadJson);
        let e = decode_client_message(r#"{"type":"fly"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownType);
        assert_eq!(e.message, "unknown message type \"fly\"");
        assert_eq!(e.request_type, None, "an unknown type is not echoed back as a request");
        let e = decode_client_message(r#"{"type":"accept"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownType, "missing call_id is a wrong-fields error");
        assert_eq!(
            decode_client_message(r#"{"type":"accept","call_id":"c1"}"#).unwrap(),
            ClientMessage::Accept { call_id: "c1".into() }
        );
    }

    #[test]
    fn field_less_messages_refuse_extra_fields() {
        for text in [r#"{"type":"ping","admin":true}"#, r#"{"type":"cancel_voice_message","x":1}"#]
        {
            let e = decode_client_message(text).unwrap_err();
            assert_eq!(e.code, ErrorCode::UnknownType, "{text}");
            assert!(e.message.contains("no fields"), "{}", e.message);
        }
        assert_eq!(decode_client_message(r#"{"type":"ping"}"#).unwrap(), ClientMessage::Ping);
        let e = decode_client_message(r#"{"type":"accept","call_id":"c","admin":true}"#);
        assert_eq!(e.unwrap_err().code, ErrorCode::UnknownType, "struct variants too");
    }

    #[test]
    fn errors_never_echo_much_of_the_input() {
        let long = "t".repeat(60_000);
        let e = decode_client_message(&format!(r#"{{"type":"{long}"}}"#)).unwrap_err();
        assert!(e.message.chars().count() <= MAX_DECODE_ERROR_CHARS + 30, "{}", e.message.len());
        assert_eq!(e.request_type, None);
        let e =
            decode_client_message(&format!(r#"{{"type":"ask","text":7,"{long}":1}}"#)).unwrap_err();
        assert!(e.message.chars().count() <= MAX_DECODE_ERROR_CHARS + 1, "{}", e.message.len());
        assert_eq!(e.request_type.as_deref(), Some("ask"));
        let e = decode_client_message(&format!("{{\"type\":\"{long}")).unwrap_err();
        assert!(e.message.chars().count() <= MAX_DECODE_ERROR_CHARS + 1);
    }

    #[test]
    fn chat_messages_are_allowed_to_their_roles_only() {
        let start = ClientMessage::StartChat { service: None };
        assert!(start.allowed_for(Role::Citizen) && !start.allowed_for(Role::Agent));
        let send = ClientMessage::SendChat {
            chat_id: "h".into(),
            client_id: "id".into(),
            text: "hi".into(),
        };
        assert!(send.allowed_for(Role::Citizen) && send.allowed_for(Role::Agent));
        // Staff write to a chat they took over (the core refuses any other).
        assert!(send.allowed_for(Role::Staff));
        let line = ServerMessage::ChatMessage(ChatLine {
            chat_id: "h".into(),
            seq: 1,
            from: Role::Citizen,
            text: "<b>hi</b>".into(),
            sent_at_ms: 1,
        });
        let json = serde_json::to_string(&line).unwrap();
        assert!(
            json.starts_with(r#"{"type":"chat_message","chat_id":"h","seq":1,"from":"citizen""#)
        );
        assert_eq!(serde_json::from_str::<ServerMessage>(&json).unwrap(), line);
    }

    #[test]
    fn roles_are_checked_per_message() {
        let call = ClientMessage::Call { service: None, sdp: String::new() };
        assert!(call.allowed_for(Role::Citizen));
        assert!(!call.allowed_for(Role::Agent));
        let accept = ClientMessage::Accept { call_id: "c".into() };
        assert!(accept.allowed_for(Role::Agent));
        assert!(!accept.allowed_for(Role::Citizen));
    }

    /// Every JSON example in `docs/protocol.md` must be a message of this module.
    #[test]
    fn every_example_in_the_protocol_document_parses() {
        let doc = include_str!("../../docs/protocol.md");
        let mut client = 0;
        let mut server = 0;
        let mut lines = doc.lines();
        while let Some(line) = lines.next() {
            let direction = line.trim();
            if direction != "```json client" && direction != "```json server" {
                continue;
            }
            let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            let text = body.join("\n");
            if direction.ends_with("client") {
                decode_client_message(&text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
                client += 1;
            } else {
                serde_json::from_str::<ServerMessage>(&text)
                    .unwrap_or_else(|e| panic!("{text}: {e}"));
                server += 1;
            }
        }
        assert!(client >= 8, "every client message has an example (found {client})");
        assert!(server >= 14, "every server message has an example (found {server})");
    }
}
