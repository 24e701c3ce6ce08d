//! Live text chats (issue 16), the hall's fourth channel: a chat is its own state, not a call
//! with flags. It waits in its service's queue with the calls (the engine's `ChatArrived`:
//! the same admission, order, positions, parking and maximum wait), rings at an agent below
//! their chat capacity, and once accepted carries texts both ways.
//!
//! Rules kept here, once:
//! - `chat_queued` only after the chat's row is committed; `chat_connected` only after the
//!   answer is; `chat_sent` only after the text is (a retry with the same `client_id` is
//!   answered the same and stored once — the store's rule).
//! - One text of a chat is written at a time, in arrival order (the others wait in the chat's
//!   outbox), so texts are numbered in the order they were sent and the other side hears
//!   them in that order; the chat's end waits for the text in flight.
//! - A citizen whose connection drops keeps a waiting chat parked (the engine's grace) and an
//!   answered chat for the reconnect grace (the core's timer); `rejoin_chat` brings back every
//!   text after the seq the page has.
//! - Bad input (blank, over 2,000 characters, a bad client id, not your chat, an ended chat,
//!   too many texts too fast) is refused with a clear error and changes nothing.

use std::collections::VecDeque;
use std::time::Duration;

use voicedesk_protocol::{
    ChatLine, EndReason, ErrorCode, MAX_CHAT_TEXT_CHARS, Role, ServerMessage,
};
use voicedesk_queue_engine::{Command, Input as EngineInput, Party};

use crate::calls::CITIZEN_NAME;
use crate::core::{CallCenter, TICK};
use crate::error::{Refusal, refuse};
use crate::pending::Pending;
use crate::store::{ChatAuthor, StoreFailure, StoreReply, StoreRequest};
use crate::timer::Timer;
use crate::{AgentId, CallId, ConnId, Report, Side, UnixMs};

/// Texts one side may send to one chat within [`FLOOD_WINDOW`]; more are refused
/// (`rate_limited`).
pub(crate) const FLOOD_TEXTS: usize = 10;
/// The window of [`FLOOD_TEXTS`].
pub(crate) const FLOOD_WINDOW: Duration = Duration::from_secs(10);
/// Shortest and longest client id of a text (a UUID is 36), as the store checks it.
const CLIENT_ID_CHARS: std::ops::RangeInclusive<usize> = 16..=64;

/// A live chat from `start_chat` to its end.
#[derive(Debug)]
pub(crate) struct LiveChat {
    pub(crate) citizen_id: String,
    /// The citizen's connection; `None` while it is away (a waiting chat parked, an answered
    /// one waited for).
    pub(crate) citizen_conn: Option<ConnId>,
    pub(crate) service: Option<String>,
    /// The queue it waits (or waited) in.
    pub(crate) skill: String,
    pub(crate) priority: u8,
    /// When it was started (a transfer keeps it).
    pub(crate) queued_at: UnixMs,
    /// Its row is committed: it waits in (or has left) the engine's queue.
    pub(crate) recorded: bool,
    /// The citizen left before the row was committed: it ends as soon as it is.
    pub(crate) abandoned: bool,
    /// The agent it rings at or is connected to.
    pub(crate) agent: Option<AgentId>,
    /// Accepted, and the answer committed.
    pub(crate) connected: bool,
    /// The seq of the last text committed and relayed.
    pub(crate) last_seq: u64,
    /// A text of this chat is being written.
    pub(crate) writing: bool,
    /// Texts waiting for the one being written, oldest first.
    pub(crate) outbox: VecDeque<ChatSend>,
    /// The chat ended while a text was being written: it finishes once that is answered.
    pub(crate) end_after: Option<(EndReason, Option<AgentId>)>,
    /// When each side's recent texts arrived (citizen, agent), for the flood limit.
    pub(crate) recent: [VecDeque<UnixMs>; 2],
    /// Each side's delivered/read marks as last committed (citizen, agent).
    pub(crate) marks: [(u64, u64); 2],
    /// The citizen's grace runs (an answered chat whose citizen connection is gone).
    pub(crate) citizen_lost: bool,
    /// When the citizen was last told a position, and whether a newer one was held back (at
    /// most one per chat per tick, as for calls).
    pub(crate) position_told_at: Option<UnixMs>,
    pub(crate) position_due: bool,
    /// The citizen asked for a voice call with the agent and it is being set up
    /// (`upgrade.rs`); once it is one, `calls` holds it too.
    pub(crate) upgrading: bool,
    /// The texts of a voice call (a chat upgraded to one, or a call's text panel): the call
    /// (`calls`, same id) is what the engine, the wallboard and the reports know.
    pub(crate) call_side: bool,
    /// Staff members watching it read-only (`watch_chat`), in the order they came.
    pub(crate) watchers: Vec<String>,
    /// The staff member who took it over: its agent now, outside the engine.
    pub(crate) taken_over_by: Option<String>,
}

impl LiveChat {
    /// The chat has ended for its sides (its end may still wait for a text in flight).
    pub(crate) fn ending(&self) -> bool {
        self.end_after.is_some()
    }
}

/// One text waiting to be written.
#[derive(Debug, Clone)]
pub(crate) struct ChatSend {
    pub(crate) conn: ConnId,
    pub(crate) client_id: String,
    pub(crate) author: ChatAuthor,
    pub(crate) text: String,
    pub(crate) at: UnixMs,
}

/// Who sends a chat message: the citizen (by identity) or an agent.
#[derive(Debug, Clone)]
pub(crate) enum ChatParty {
    Citizen(String),
    Agent(AgentId),
}

impl ChatParty {
    fn index(&self) -> usize {
        match self {
            ChatParty::Citizen(_) => 0,
            ChatParty::Agent(_) => 1,
        }
    }
}

pub(crate) fn gone(chat: &CallId) -> Refusal {
    refuse(ErrorCode::InvalidState, format!("chat {chat} is not yours, or it has ended"))
}

/// Whether a client id is one the store keeps (16 to 64 of `A-Za-z0-9-_`).
fn client_id_ok(id: &str) -> bool {
    CLIENT_ID_CHARS.contains(&id.len())
        && id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
}

impl CallCenter {
    /// Whether a client's call id names a live chat.
    pub(crate) fn is_chat(&self, id: &str) -> bool {
        self.chats.contains_key(&CallId(id.to_owned()))
    }

    // ----- starting -------------------------------------------------------------------------

    /// `start_chat`: admitted like a call (turned away with the same reasons), recorded, then
    /// `chat_queued` and into the engine's queue.
    pub(crate) fn start_chat(
        &mut self,
        conn: ConnId,
        citizen_id: String,
        service: Option<String>,
    ) -> Result<(), Refusal> {
        if self.chats.values().any(|c| c.citizen_id == citizen_id && !c.ending()) {
            return Err(refuse(ErrorCode::InvalidState, "you already have a chat in progress"));
        }
        let route = self.route_of(service.as_deref())?;
        let chat = self.new_call_id();
        let skill = route.skill.0.clone();
        let request = StoreRequest::InsertChat {
            chat: chat.clone(),
            citizen_id: citizen_id.clone(),
            service: service.clone(),
            skill: skill.clone(),
            at: self.now,
        };
        let arriving = self.arriving_in(&skill);
        let now = self.instant();
        if let Err(turned_away) = self.engine.admission_expecting(&route.skill, now, arriving) {
            let reason = turned_away.end_reason();
            let then = Pending::ChatTurnedAway { chat: chat.clone(), conn, reason };
            self.store(Some(chat), request, then);
            return Ok(());
        }
        self.chats.insert(
            chat.clone(),
            LiveChat {
                citizen_id,
                citizen_conn: Some(conn),
                service,
                skill,
                priority: route.priority,
                queued_at: self.now,
                recorded: false,
                abandoned: false,
                agent: None,
                connected: false,
                last_seq: 0,
                writing: false,
                outbox: VecDeque::new(),
                end_after: None,
                recent: [VecDeque::new(), VecDeque::new()],
                marks: [(0, 0); 2],
                citizen_lost: false,
                position_told_at: None,
                position_due: false,
                upgrading: false,
                call_side: false,
                watchers: Vec::new(),
                taken_over_by: None,
            },
        );
        self.store(Some(chat.clone()), request, Pending::ChatRecord { chat });
        Ok(())
    }

    /// Calls and chats of `skill` admitted but not yet in the engine: admission counts them as
    /// the engine will see them.
    pub(crate) fn arriving_in(&self, skill: &str) -> usize {
        let calls = self.placing.values().filter(|p| p.skill == skill && !p.abandoned).count();
        let chats =
            self.chats.values().filter(|c| c.skill == skill && !c.recorded && !c.abandoned).count();
        calls + chats
    }

    /// The chat's row came back: the citizen is told `chat_queued` and the engine queues it.
    pub(crate) fn chat_recorded(&mut self, chat: CallId, ok: bool) {
        let Some(c) = self.chats.get_mut(&chat) else {
            self.violation(format!("record of unknown chat {chat}"));
            return;
        };
        if !ok {
            let conn = c.citizen_conn;
            self.chats.remove(&chat);
            if let Some(conn) = conn {
                self.chat_not_started(conn);
            }
            return;
        }
        c.recorded = true;
        if c.abandoned {
            // Nobody is there to tell; the row is closed at once.
            self.write_chat_end(&chat, EndReason::Abandoned);
            self.chats.remove(&chat);
            return;
        }
        let (conn, skill, priority, service) =
            (c.citizen_conn, c.skill.clone(), c.priority, c.service.clone());
        if let Some(conn) = conn {
            self.send(conn, ServerMessage::ChatQueued { chat_id: chat.0.clone() });
        }
        let arrived = EngineInput::ChatArrived {
            chat: chat.clone(),
            skill: voicedesk_queue_engine::SkillId(skill),
            priority,
            service,
        };
        if !self.engine_must(arrived) {
            self.finish_chat(&chat, EndReason::NoAgents, None);
        }
    }

    /// A turned-away chat's row is committed: its end is written, then the citizen told.
    pub(crate) fn chat_turned_away_recorded(
        &mut self,
        chat: CallId,
        conn: ConnId,
        reason: EndReason,
        ok: bool,
    ) {
        if !ok {
            self.chat_not_started(conn);
            return;
        }
        let request = StoreRequest::ChatEnded { chat: chat.clone(), reason, at: self.now };
        let then = Pending::ChatTurnedAwayEnd { chat: chat.clone(), conn, reason };
        self.store(Some(chat), request, then);
    }

    /// A chat's row could not be written: the citizen is told to try again (nothing queued).
    fn chat_not_started(&mut self, conn: ConnId) {
        self.stats.client_errors += 1;
        let error = ServerMessage::error(
            ErrorCode::Internal,
            "the chat could not be started; please try again",
            Some("start_chat"),
        );
        self.send(conn, error);
    }

    /// The citizen hears the chat was turned away; a message left next carries the reason
    /// (the same fallbacks as a call).
    pub(crate) fn tell_chat_turned_away(&mut self, chat: CallId, conn: ConnId, reason: EndReason) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.citizen.turned_away = Some(reason);
        }
        self.emit(crate::Effect::Report(Report::CallEnded { call: chat.clone(), reason }));
        self.send(conn, ServerMessage::ChatEnded { chat_id: chat.0, reason });
    }

    // ----- the engine's decisions -------------------------------------------------------------

    /// Carries out one of the engine's commands about a chat.
    pub(crate) fn chat_command(&mut self, command: Command) {
        match command {
            Command::Offer { call, agent, ring_timeout, waited, service, .. } => {
                if let Some(c) = self.chats.get_mut(&call) {
                    c.agent = Some(agent.clone());
                }
                let offered = ServerMessage::ChatOffered {
                    chat_id: call.0,
                    service,
                    waited_ms: waited.as_millis() as u64,
                    ring_timeout_ms: ring_timeout.as_millis() as u64,
                };
                self.send_to_member(&agent.0, offered);
            }
            Command::WithdrawOffer { call, agent, reason } => {
                if let Some(c) = self.chats.get_mut(&call)
                    && c.agent.as_ref() == Some(&agent)
                    && !c.connected
                {
                    c.agent = None;
                    let withdrawn = ServerMessage::OfferWithdrawn { call_id: call.0, reason };
                    self.send_to_member(&agent.0, withdrawn);
                }
            }
            Command::Connect { call, agent } => {
                if let Some(c) = self.chats.get_mut(&call) {
                    c.agent = Some(agent.clone());
                }
                let request = StoreRequest::ChatAnswered {
                    chat: call.clone(),
                    agent: agent.0.clone(),
                    at: self.now,
                };
                self.store(Some(call.clone()), request, Pending::ChatAnswer { chat: call, agent });
            }
            Command::Transferred { call, agent, skill } => {
                self.chat_transferred(call, agent, skill)
            }
            Command::End { call, agent, reason: EndReason::TakenOver } => {
                self.chat_handed_over(call, agent)
            }
            Command::End { call, agent, reason } => self.finish_chat(&call, reason, agent),
            Command::Position { call, position, estimated_wait } => {
                let now = self.now;
                let Some(c) = self.chats.get_mut(&call) else { return };
                if c.position_told_at.is_some_and(|at| now < at.plus(TICK)) {
                    c.position_due = true;
                    return;
                }
                c.position_told_at = Some(now);
                c.position_due = false;
                if let Some(conn) = c.citizen_conn {
                    let message = ServerMessage::ChatPosition {
                        chat_id: call.0,
                        position,
                        estimated_wait_ms: estimated_wait.map(|d| d.as_millis() as u64),
                    };
                    self.send(conn, message);
                }
            }
            Command::WaitLimitReached { call, waited } => {
                if let Some(conn) = self.chats.get(&call).and_then(|c| c.citizen_conn) {
                    let waited_ms = waited.as_millis() as u64;
                    self.send(conn, ServerMessage::WaitLimitReached { call_id: call.0, waited_ms });
                }
            }
            Command::AgentState { .. } => {}
        }
    }

    /// The answer is committed: both sides are told, and the agent gets what the citizen
    /// typed so far (read back from the store).
    pub(crate) fn chat_answer_recorded(&mut self, chat: CallId, agent: AgentId, ok: bool) {
        let connected_here = self.engine.call(&chat).is_some_and(|v| {
            v.agent == Some(&agent) && v.phase == voicedesk_queue_engine::CallPhase::Connected
        });
        if !connected_here || !self.chats.contains_key(&chat) {
            return;
        }
        if !ok {
            self.engine_must(EngineInput::EndCall { call: chat, reason: EndReason::MediaFailed });
            return;
        }
        self.remember_handled(&agent, &chat);
        let Some(c) = self.chats.get_mut(&chat) else { return };
        c.connected = true;
        let (citizen_conn, skill, waited, last_seq) =
            (c.citizen_conn, c.skill.clone(), self.now.since(c.queued_at), c.last_seq);
        self.wallboard.answered(self.now, &skill, waited);
        self.emit(crate::Effect::Report(Report::Answered { call: chat.clone(), skill, waited }));
        let agent_name = self.members.get(&agent.0).map(|m| m.name.clone()).unwrap_or_default();
        if let Some(conn) = citizen_conn {
            let message =
                ServerMessage::ChatConnected { chat_id: chat.0.clone(), peer_name: agent_name };
            self.send(conn, message);
        }
        let to_agent = ServerMessage::ChatConnected {
            chat_id: chat.0.clone(),
            peer_name: CITIZEN_NAME.into(),
        };
        self.send_to_member(&agent.0, to_agent);
        if last_seq > 0
            && let Some(conn) = self.members.get(&agent.0).map(|m| m.conn)
        {
            let request = StoreRequest::ReadChatLines { chat: chat.clone(), after_seq: 0 };
            self.store(None, request, Pending::ChatLines { chat, conn, rejoin: false });
        }
    }

    /// The agent sent the chat to another queue: the agent's part ends, the citizen waits
    /// again with the original queue time.
    fn chat_transferred(
        &mut self,
        chat: CallId,
        agent: AgentId,
        skill: voicedesk_queue_engine::SkillId,
    ) {
        let Some(c) = self.chats.get_mut(&chat) else { return };
        c.agent = None;
        c.connected = false;
        c.skill = skill.0;
        c.position_told_at = None;
        let (conn, service) = (c.citizen_conn, c.service.clone().unwrap_or_default());
        let ended =
            ServerMessage::ChatEnded { chat_id: chat.0.clone(), reason: EndReason::Transferred };
        self.send_to_member(&agent.0, ended);
        if let Some(conn) = conn {
            self.send(conn, ServerMessage::CallTransferred { call_id: chat.0, service });
        }
    }

    /// The chat is over: its end is written (after the text in flight, if any), then both
    /// sides are told; texts still waiting are refused.
    pub(crate) fn finish_chat(&mut self, chat: &CallId, reason: EndReason, agent: Option<AgentId>) {
        let Some(c) = self.chats.get_mut(chat) else { return };
        if c.writing {
            // Over for the engine already: nothing else may end it meanwhile.
            c.end_after.get_or_insert((reason, agent));
            c.citizen_lost = false;
            self.timers.stop(&Timer::Grace(chat.clone(), Side::Citizen));
            return;
        }
        let Some(c) = self.chats.remove(chat) else { return };
        self.timers.stop(&Timer::Grace(chat.clone(), Side::Citizen));
        for send in c.outbox {
            self.stats.client_errors += 1;
            let error = ServerMessage::error(
                ErrorCode::InvalidState,
                format!("chat {chat} has ended; this text was not sent"),
                Some("send_chat"),
            );
            self.send(send.conn, error);
        }
        if !c.call_side {
            if reason == EndReason::Abandoned {
                self.wallboard.abandoned(self.now, &c.skill);
            }
            self.emit(crate::Effect::Report(Report::CallEnded { call: chat.clone(), reason }));
        }
        let op = self.write_chat_end(chat, reason);
        let message = ServerMessage::ChatEnded { chat_id: chat.0.clone(), reason };
        for user_id in &c.watchers {
            self.chat_audit_note(chat, user_id, "chat ended");
            if let Some(conn) = self.members.get(user_id).map(|m| m.conn) {
                self.send_after(op, conn, message.clone());
            }
        }
        if let Some(conn) = c.citizen_conn {
            self.send_after(op, conn, message.clone());
        }
        let agent = agent.or(c.agent).filter(|_| c.connected);
        if let Some(conn) = agent.and_then(|a| self.members.get(&a.0).map(|m| m.conn)) {
            self.send_after(op, conn, message);
        }
    }

    fn write_chat_end(&mut self, chat: &CallId, reason: EndReason) -> crate::OpId {
        let request = StoreRequest::ChatEnded { chat: chat.clone(), reason, at: self.now };
        let then = Pending::Note { what: "end of a chat", call: Some(chat.clone()) };
        self.store(Some(chat.clone()), request, then)
    }

    /// Every live chat ends as `server_shutdown` (those not yet recorded as soon as they are).
    pub(crate) fn shutdown_chats(&mut self) {
        // A chat already ending (its end waits for a text being written) is left to finish.
        let chats: Vec<(CallId, bool, bool)> = self
            .chats
            .iter()
            .filter(|(_, c)| !c.ending())
            .map(|(id, c)| (id.clone(), c.recorded, c.taken_over_by.is_some()))
            .collect();
        for (chat, recorded, taken_over) in chats {
            if taken_over {
                self.finish_chat(&chat, EndReason::ServerShutdown, None);
                continue;
            }
            if !recorded {
                if let Some(c) = self.chats.get_mut(&chat) {
                    c.abandoned = true;
                }
                continue;
            }
            let end =
                EngineInput::EndCall { call: chat.clone(), reason: EndReason::ServerShutdown };
            if !self.engine_must(end) {
                self.finish_chat(&chat, EndReason::ServerShutdown, None);
            }
        }
    }

    // ----- texts ------------------------------------------------------------------------------

    /// The live chat `party` may write to from `conn`: the citizen's own (on this connection),
    /// or the agent's connected one.
    fn own_chat(&self, conn: ConnId, party: &ChatParty, chat: &CallId) -> Result<(), Refusal> {
        let Some(c) = self.chats.get(chat).filter(|c| c.recorded && !c.ending()) else {
            return Err(gone(chat));
        };
        let mine = match party {
            ChatParty::Citizen(id) => c.citizen_id == *id && c.citizen_conn == Some(conn),
            ChatParty::Agent(agent) => c.connected && c.agent.as_ref() == Some(agent),
        };
        if mine { Ok(()) } else { Err(gone(chat)) }
    }

    /// `send_chat`: checked, then written (one text of a chat at a time), then acknowledged.
    pub(crate) fn send_chat(
        &mut self,
        conn: ConnId,
        party: ChatParty,
        chat: CallId,
        client_id: String,
        text: String,
    ) -> Result<(), Refusal> {
        self.own_chat(conn, &party, &chat)?;
        if text.trim().is_empty() {
            return Err(refuse(ErrorCode::InvalidState, "a chat text cannot be blank"));
        }
        if text.chars().count() > MAX_CHAT_TEXT_CHARS {
            return Err(refuse(
                ErrorCode::InvalidState,
                format!("a chat text has at most {MAX_CHAT_TEXT_CHARS} characters"),
            ));
        }
        if !client_id_ok(&client_id) {
            return Err(refuse(
                ErrorCode::InvalidState,
                "client_id must be 16 to 64 characters of letters, digits, '-' and '_'",
            ));
        }
        let now = self.now;
        let Some(c) = self.chats.get_mut(&chat) else { return Err(gone(&chat)) };
        let recent = &mut c.recent[party.index()];
        while recent.front().is_some_and(|at| now.since(*at) >= FLOOD_WINDOW) {
            recent.pop_front();
        }
        if recent.len() >= FLOOD_TEXTS {
            return Err(refuse(
                ErrorCode::RateLimited,
                format!(
                    "too many chat texts: at most {FLOOD_TEXTS} in {} seconds; wait a moment",
                    FLOOD_WINDOW.as_secs()
                ),
            ));
        }
        recent.push_back(now);
        let author = match party {
            ChatParty::Citizen(_) => ChatAuthor::Citizen,
            ChatParty::Agent(agent) => ChatAuthor::Agent(agent.0),
        };
        c.outbox.push_back(ChatSend { conn, client_id, author, text, at: now });
        self.write_next_text(&chat);
        Ok(())
    }

    /// Writes the chat's next waiting text, unless one is being written.
    pub(crate) fn write_next_text(&mut self, chat: &CallId) {
        let Some(c) = self.chats.get_mut(chat) else { return };
        if c.writing {
            return;
        }
        let Some(send) = c.outbox.pop_front() else { return };
        c.writing = true;
        let request = StoreRequest::AppendChat {
            chat: chat.clone(),
            client_id: send.client_id.clone(),
            author: send.author.clone(),
            text: send.text.clone(),
            at: send.at,
        };
        let then = Pending::ChatText {
            chat: chat.clone(),
            conn: send.conn,
            client_id: send.client_id,
            author: send.author,
            text: send.text.clone(),
        };
        self.store(Some(chat.clone()), request, then);
    }

    /// A text's write came back: the sender hears `chat_sent` (or why not), the other side the
    /// new text; then the next text, or the end that waited.
    pub(crate) fn chat_text_stored(
        &mut self,
        chat: CallId,
        conn: ConnId,
        client_id: String,
        author: ChatAuthor,
        text: String,
        result: Result<StoreReply, StoreFailure>,
    ) {
        match result {
            Ok(StoreReply::ChatAppended { seq, sent_at, created }) => {
                let sent = ServerMessage::ChatSent {
                    chat_id: chat.0.clone(),
                    client_id,
                    seq,
                    sent_at_ms: sent_at.as_u64(),
                };
                self.send(conn, sent);
                if created {
                    self.relay_text(&chat, seq, sent_at, author, text);
                }
            }
            Ok(other) => self.violation(format!("chat text answered {other:?}")),
            Err(e) => {
                let refusal = match e {
                    StoreFailure::Conflict => refuse(
                        ErrorCode::InvalidState,
                        "this client_id was already used for another text of this chat",
                    ),
                    StoreFailure::InvalidValue(text) => refuse(ErrorCode::InvalidState, text),
                    _ => refuse(
                        ErrorCode::Internal,
                        "the text could not be saved; please send it again",
                    ),
                };
                self.stats.client_errors += 1;
                self.send(
                    conn,
                    ServerMessage::error(refusal.code, refusal.text, Some("send_chat")),
                );
            }
        }
        let Some(c) = self.chats.get_mut(&chat) else { return };
        c.writing = false;
        if let Some((reason, agent)) = c.end_after.take() {
            self.finish_chat(&chat, reason, agent);
        } else {
            self.write_next_text(&chat);
        }
    }

    /// A committed new text goes to the side that did not write it.
    fn relay_text(
        &mut self,
        chat: &CallId,
        seq: u64,
        sent_at: UnixMs,
        author: ChatAuthor,
        text: String,
    ) {
        let Some(c) = self.chats.get_mut(chat) else { return };
        c.last_seq = c.last_seq.max(seq);
        let (from, to) = match author {
            ChatAuthor::Citizen => (
                Role::Citizen,
                c.agent
                    .clone()
                    .filter(|_| c.connected)
                    .and_then(|a| self.members.get(&a.0).map(|m| m.conn)),
            ),
            ChatAuthor::Agent(_) => (Role::Agent, c.citizen_conn),
        };
        let line =
            ChatLine { chat_id: chat.0.clone(), seq, from, text, sent_at_ms: sent_at.as_u64() };
        for watcher in self.chat_watcher_conns(chat) {
            self.send(watcher, ServerMessage::ChatMessage(line.clone()));
        }
        if let Some(conn) = to {
            self.send(conn, ServerMessage::ChatMessage(line));
        }
    }

    /// The connection of the side of `chat` that is not `party` (the agent only once
    /// connected, the citizen only while here).
    fn other_side(&self, chat: &CallId, party: &ChatParty) -> Option<ConnId> {
        let c = self.chats.get(chat)?;
        match party {
            ChatParty::Citizen(_) => c
                .agent
                .as_ref()
                .filter(|_| c.connected)
                .and_then(|a| self.members.get(&a.0))
                .map(|m| m.conn),
            ChatParty::Agent(_) => c.citizen_conn,
        }
    }

    /// `chat_typing`: relayed to the other side, not stored.
    pub(crate) fn chat_typing(
        &mut self,
        conn: ConnId,
        party: ChatParty,
        chat: CallId,
        typing: bool,
    ) -> Result<(), Refusal> {
        self.own_chat(conn, &party, &chat)?;
        if let Some(to) = self.other_side(&chat, &party) {
            self.send(to, ServerMessage::ChatTyping { chat_id: chat.0, typing });
        }
        Ok(())
    }

    /// `chat_read`: the marks only move forward and never past the last text; committed, then
    /// relayed to the other side.
    pub(crate) fn chat_read(
        &mut self,
        conn: ConnId,
        party: ChatParty,
        chat: CallId,
        delivered_seq: u64,
        read_seq: u64,
    ) -> Result<(), Refusal> {
        self.own_chat(conn, &party, &chat)?;
        let Some(c) = self.chats.get_mut(&chat) else { return Err(gone(&chat)) };
        if delivered_seq.max(read_seq) > c.last_seq {
            return Err(refuse(
                ErrorCode::InvalidState,
                format!("chat {chat} has no text after seq {}", c.last_seq),
            ));
        }
        let side = party.index();
        let (old_delivered, old_read) = c.marks[side];
        let read = old_read.max(read_seq);
        let delivered = old_delivered.max(delivered_seq).max(read);
        if (delivered, read) == (old_delivered, old_read) {
            return Ok(());
        }
        c.marks[side] = (delivered, read);
        let request = StoreRequest::MarkChat {
            chat: chat.clone(),
            citizen: side == 0,
            delivered_seq: delivered,
            read_seq: read,
        };
        let to = self.other_side(&chat, &party);
        let then = Pending::Note { what: "chat marks", call: Some(chat.clone()) };
        let op = self.store(Some(chat.clone()), request, then);
        if let Some(to) = to {
            let marks = ServerMessage::ChatMarks {
                chat_id: chat.0,
                delivered_seq: delivered,
                read_seq: read,
            };
            self.send_after(op, to, marks);
        }
        Ok(())
    }

    /// `end_chat` (or `hang_up` with a chat id): either side ends it; before an answer the
    /// citizen abandons it.
    pub(crate) fn end_chat(
        &mut self,
        conn: ConnId,
        party: ChatParty,
        chat: CallId,
    ) -> Result<(), Refusal> {
        let by = match &party {
            ChatParty::Citizen(id) => {
                let mine = self.chats.get(&chat).is_some_and(|c| {
                    c.citizen_id == *id && c.citizen_conn == Some(conn) && !c.ending()
                });
                if !mine {
                    return Err(gone(&chat));
                }
                if let Some(c) = self.chats.get_mut(&chat)
                    && !c.recorded
                {
                    c.abandoned = true;
                    return Ok(());
                }
                Party::Citizen
            }
            ChatParty::Agent(agent) => {
                self.own_chat(conn, &party, &chat)?;
                Party::Agent(agent.clone())
            }
        };
        if self.chats.get(&chat).is_some_and(|c| c.taken_over_by.is_some()) {
            // The engine let go of a chat taken over: it ends here.
            let reason = match by {
                Party::Citizen => EndReason::CitizenHangUp,
                Party::Agent(_) => EndReason::StaffHangUp,
            };
            self.finish_chat(&chat, reason, None);
            return Ok(());
        }
        self.engine_input(EngineInput::HangUp { call: chat, by })
    }

    // ----- the citizen away and back ------------------------------------------------------------

    /// The citizen's connection closed: a chat not yet recorded is abandoned, a waiting one
    /// parked (the engine's grace), an answered one waited for (the core's grace).
    pub(crate) fn chat_citizen_gone(&mut self, conn: ConnId) {
        let mine: Vec<CallId> = self
            .chats
            .iter()
            .filter(|(_, c)| c.citizen_conn == Some(conn))
            .map(|(id, _)| id.clone())
            .collect();
        let grace = self.engine.config().reconnect_grace;
        for chat in mine {
            let Some(c) = self.chats.get_mut(&chat) else { continue };
            c.citizen_conn = None;
            if self.calls.contains_key(&chat) {
                // Upgraded to a call: the call's grace waits for the citizen (`rejoin_call`,
                // then `rejoin_chat` for the texts).
                continue;
            }
            if !c.recorded {
                c.abandoned = true;
            } else if c.ending() {
                // Its end is being written; nobody waits for the citizen.
                continue;
            } else if c.connected {
                c.citizen_lost = true;
                let deadline = self.now.plus(grace);
                self.timers.set(Timer::Grace(chat.clone(), Side::Citizen), deadline);
                let agent = c.agent.clone();
                self.stats.sides_lost += 1;
                if let Some(agent) = agent {
                    let message = ServerMessage::PeerReconnecting {
                        call_id: chat.0.clone(),
                        peer: Role::Citizen,
                        reconnect_by_ms: deadline.as_u64(),
                    };
                    self.send_to_member(&agent.0, message);
                }
            } else {
                self.engine_must(EngineInput::CitizenDisconnected { call: chat });
            }
        }
    }

    /// The citizen of an answered chat did not come back in time.
    pub(crate) fn chat_grace_expired(&mut self, chat: &CallId) {
        let Some(c) = self.chats.get_mut(chat) else { return };
        if !c.citizen_lost {
            return;
        }
        c.citizen_lost = false;
        if c.taken_over_by.is_some() {
            self.finish_chat(chat, EndReason::CitizenLost, None);
            return;
        }
        let ended = EngineInput::EndCall { call: chat.clone(), reason: EndReason::CitizenLost };
        if !self.engine_must(ended) {
            self.finish_chat(chat, EndReason::CitizenLost, None);
        }
    }

    /// `rejoin_chat`: the citizen's chat comes to this connection, with every text after
    /// `after_seq` (read from the store), then where it stands.
    pub(crate) fn rejoin_chat(
        &mut self,
        conn: ConnId,
        citizen_id: &str,
        chat: CallId,
        after_seq: u64,
    ) -> Result<(), Refusal> {
        let Some(c) =
            self.chats.get_mut(&chat).filter(|c| c.citizen_id == citizen_id && !c.ending())
        else {
            return Err(gone(&chat));
        };
        if !c.recorded {
            return Err(refuse(ErrorCode::InvalidState, "the chat is still being started"));
        }
        let old = c.citizen_conn.replace(conn).filter(|old| *old != conn);
        let (lost, agent) = (c.citizen_lost, c.agent.clone());
        c.citizen_lost = false;
        if let Some(old) = old {
            // The newest connection wins: the old one hears no more of the chat.
            let moved = ServerMessage::error(
                ErrorCode::SessionExpired,
                format!("chat {chat} continues on another connection"),
                None,
            );
            self.send(old, moved);
        }
        if lost {
            self.timers.stop(&Timer::Grace(chat.clone(), Side::Citizen));
            self.stats.sides_back += 1;
            if let Some(agent) = &agent {
                let back =
                    ServerMessage::PeerReconnected { call_id: chat.0.clone(), peer: Role::Citizen };
                self.send_to_member(&agent.0, back);
            }
        }
        let parked = self.engine.call(&chat).is_some_and(|v| v.parked);
        if parked {
            self.engine_must(EngineInput::CitizenReconnected { call: chat.clone() });
        }
        let request = StoreRequest::ReadChatLines { chat: chat.clone(), after_seq };
        self.store(None, request, Pending::ChatLines { chat, conn, rejoin: true });
        Ok(())
    }

    /// Texts read back: a rejoining citizen gets `chat_rejoined` and where the chat stands; an
    /// agent who just took the chat gets what was written before.
    pub(crate) fn chat_lines_read(
        &mut self,
        chat: CallId,
        conn: ConnId,
        rejoin: bool,
        result: Result<StoreReply, StoreFailure>,
    ) {
        let lines = match result {
            Ok(StoreReply::ChatLines(lines)) => lines,
            Ok(other) => {
                self.violation(format!("chat lines answered {other:?}"));
                return;
            }
            Err(_) if rejoin => {
                self.stats.client_errors += 1;
                let error = ServerMessage::error(
                    ErrorCode::Internal,
                    "the conversation could not be read; send rejoin_chat again",
                    Some("rejoin_chat"),
                );
                self.send(conn, error);
                return;
            }
            Err(_) => return,
        };
        if !rejoin {
            for line in lines {
                self.send(conn, ServerMessage::ChatMessage(line));
            }
            return;
        }
        self.send(conn, ServerMessage::ChatRejoined { chat_id: chat.0.clone(), messages: lines });
        let Some(c) = self.chats.get(&chat).filter(|c| c.citizen_conn == Some(conn)) else {
            return;
        };
        if c.connected {
            let peer_name = c
                .agent
                .as_ref()
                .and_then(|a| self.members.get(&a.0))
                .map(|m| m.name.clone())
                .unwrap_or_default();
            self.send(conn, ServerMessage::ChatConnected { chat_id: chat.0, peer_name });
        } else if let Some(view) = self.engine.call(&chat)
            && let Some(position) = view.position
        {
            let message = ServerMessage::ChatPosition {
                chat_id: chat.0,
                position,
                estimated_wait_ms: view.estimated_wait.map(|d| d.as_millis() as u64),
            };
            self.send(conn, message);
        }
    }

    /// Each live chat for the wallboard: (queue, waiting 0/1, wait in ms if waiting, answered
    /// 0/1).
    pub(crate) fn chat_figures(&self) -> Vec<(String, u32, u64, u32)> {
        self.chats
            .values()
            .filter(|c| c.recorded && !c.ending() && !c.call_side)
            .map(|c| {
                let waiting = !c.connected;
                let wait = if waiting { self.now.since(c.queued_at).as_millis() as u64 } else { 0 };
                (c.skill.clone(), u32::from(waiting), wait, u32::from(c.connected))
            })
            .collect()
    }

    /// Whether `chat` is recorded and still waits for an agent (queued, ringing or parked).
    pub(crate) fn chat_waiting(&self, chat: &CallId) -> bool {
        self.chats.get(chat).is_some_and(|c| c.recorded && !c.connected && !c.ending())
    }

    /// The citizen's waiting chat on this connection (a message may be left from it).
    pub(crate) fn waiting_chat_of(&self, conn: ConnId, chat: &CallId) -> Result<(), Refusal> {
        let mine = self.chats.get(chat).is_some_and(|c| c.citizen_conn == Some(conn));
        if !mine {
            return Err(gone(chat));
        }
        if !self.chat_waiting(chat) {
            return Err(refuse(ErrorCode::InvalidState, "the chat is no longer waiting"));
        }
        Ok(())
    }

    /// The chat positions held back since the last tick.
    pub(crate) fn push_due_chat_positions(&mut self) {
        let now = self.now;
        let due: Vec<CallId> =
            self.chats.iter().filter(|(_, c)| c.position_due).map(|(id, _)| id.clone()).collect();
        for chat in due {
            let current = self.engine.call(&chat).and_then(|v| {
                v.position.map(|p| (p, v.estimated_wait.map(|d| d.as_millis() as u64)))
            });
            let Some(c) = self.chats.get_mut(&chat) else { continue };
            c.position_due = false;
            let (Some((position, estimated_wait_ms)), Some(conn)) = (current, c.citizen_conn)
            else {
                continue;
            };
            c.position_told_at = Some(now);
            let message =
                ServerMessage::ChatPosition { chat_id: chat.0, position, estimated_wait_ms };
            self.send(conn, message);
        }
    }
}
