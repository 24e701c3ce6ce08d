//! Staff on live chats (issue 16): open one read-only (`watch_chat`), whisper to its agent in
//! text (`whisper_chat`, the citizen never gets it), take it over (`take_over_chat`), stop
//! watching (`unwatch_chat`). Like voice support, every such action is written to the chat
//! audit log **before** it takes effect: it goes ahead only when its entry comes back committed,
//! and is checked again then (the chat may have changed meanwhile).
//!
//! - A watcher gets the conversation so far (`chat_watching`, read from the store) and every
//!   new text of either side (`chat_message`; a text committed while the history is read may
//!   come twice, the page keeps one per seq).
//! - A whisper goes to the agent's connection and back to the staff member, nowhere else.
//! - A take over ends the agent's part for the engine (`TakenOver`: the agent's chat capacity
//!   is freed); the staff member becomes the chat's agent, the citizen hears the new name
//!   (`chat_connected`), nothing else changes.
//! - A chat that ends while watched ends the watching (`chat_ended` to the watchers).

use voicedesk_protocol::{ClientMessage, EndReason, ErrorCode, MAX_CHAT_TEXT_CHARS, ServerMessage};
use voicedesk_queue_engine::Input as EngineInput;

use crate::calls::CITIZEN_NAME;
use crate::chats::ChatParty;
use crate::core::CallCenter;
use crate::error::{Refusal, refuse};
use crate::pending::{ChatAudited, Pending};
use crate::store::{ChatAuditAction, ChatAuditRecord, StoreFailure, StoreReply, StoreRequest};
use crate::{AgentId, CallId, ConnId};

fn no_chat(chat: &CallId) -> Refusal {
    refuse(ErrorCode::UnknownCall, format!("no live chat {chat} (unknown, or it has ended)"))
}

/// Whether a staff connection's message is about a chat (handled by
/// [`CallCenter::staff_chat_message`]).
pub(crate) fn is_staff_chat_message(message: &ClientMessage) -> bool {
    matches!(
        message,
        ClientMessage::WatchChat { .. }
            | ClientMessage::WhisperChat { .. }
            | ClientMessage::TakeOverChat { .. }
            | ClientMessage::UnwatchChat { .. }
            | ClientMessage::SendChat { .. }
            | ClientMessage::ChatTyping { .. }
            | ClientMessage::ChatRead { .. }
            | ClientMessage::EndChat { .. }
    )
}

impl CallCenter {
    /// A staff connection's chat messages ([`is_staff_chat_message`]).
    pub(crate) fn staff_chat_message(
        &mut self,
        user_id: &str,
        conn: ConnId,
        message: ClientMessage,
    ) -> Result<(), Refusal> {
        match message {
            ClientMessage::WatchChat { chat_id } => self.watch_chat(user_id, conn, CallId(chat_id)),
            ClientMessage::WhisperChat { chat_id, text } => {
                self.whisper_chat(user_id, conn, CallId(chat_id), text)
            }
            ClientMessage::TakeOverChat { chat_id } => {
                self.take_over_chat(user_id, conn, CallId(chat_id))
            }
            ClientMessage::UnwatchChat { chat_id } => {
                self.unwatch_chat(user_id, conn, CallId(chat_id))
            }
            // A chat taken over is written to as its agent.
            message @ (ClientMessage::SendChat { .. }
            | ClientMessage::ChatTyping { .. }
            | ClientMessage::ChatRead { .. }
            | ClientMessage::EndChat { .. }) => {
                let party = ChatParty::Agent(AgentId(user_id.to_owned()));
                self.chat_message(conn, party, message, "staff")
            }
            other => Err(refuse(
                ErrorCode::Forbidden,
                format!("\"{}\" is not a chat message", other.type_name()),
            )),
        }
    }

    /// The rule for every staff action on a chat, checked when asked and again when its audit
    /// entry is committed: a live chat, not taken over by someone else; `action` needs more.
    fn check_chat_support(
        &self,
        user_id: &str,
        chat: &CallId,
        action: &ChatAudited,
    ) -> Result<(), Refusal> {
        if !self.members.contains_key(user_id) {
            return Err(refuse(ErrorCode::InvalidState, "not signed in"));
        }
        let c = self
            .chats
            .get(chat)
            .filter(|c| c.recorded && !c.abandoned && c.end_after.is_none())
            .ok_or_else(|| no_chat(chat))?;
        if let Some(by) = &c.taken_over_by {
            let text = if by == user_id {
                "you took this chat over; write to it or end it"
            } else {
                "the chat has been taken over by another staff member"
            };
            return Err(refuse(ErrorCode::InvalidState, text));
        }
        let watching = c.watchers.iter().any(|w| w == user_id);
        match action {
            ChatAudited::Watch if watching => {
                Err(refuse(ErrorCode::InvalidState, "you already watch this chat"))
            }
            ChatAudited::Watch => Ok(()),
            _ if !watching => {
                Err(refuse(ErrorCode::InvalidState, "open the chat first (watch_chat)"))
            }
            ChatAudited::Whisper(_) | ChatAudited::TakeOver if !c.connected => {
                Err(refuse(ErrorCode::InvalidState, "no agent has answered the chat yet"))
            }
            // The texts of a voice call (or of a chat becoming one) belong to the call: it is
            // taken over as a call (`staff_join` … `take_over`), texts and all.
            ChatAudited::TakeOver if c.call_side || c.upgrading => Err(refuse(
                ErrorCode::InvalidState,
                "this chat is a voice call's texts; take the call over instead",
            )),
            _ => Ok(()),
        }
    }

    /// Checks, then writes the audit entry; the action waits for it.
    fn ask_chat_audit(
        &mut self,
        user_id: &str,
        conn: ConnId,
        chat: CallId,
        action: ChatAudited,
    ) -> Result<(), Refusal> {
        if self.members.get(user_id).is_some_and(|m| m.audit_pending) {
            return Err(refuse(
                ErrorCode::InvalidState,
                "your previous request is still being recorded",
            ));
        }
        self.check_chat_support(user_id, &chat, &action)?;
        let (kind, detail) = match &action {
            ChatAudited::Watch => (ChatAuditAction::Watch, None),
            ChatAudited::Whisper(text) => (ChatAuditAction::Whisper, Some(text.clone())),
            ChatAudited::TakeOver => (ChatAuditAction::TakeOver, None),
            ChatAudited::Leave => (ChatAuditAction::Leave, None),
        };
        if let Some(m) = self.members.get_mut(user_id) {
            m.audit_pending = true;
        }
        let record = ChatAuditRecord {
            at: self.now,
            actor: user_id.to_owned(),
            chat: chat.clone(),
            action: kind,
            detail,
        };
        let then =
            Pending::ChatAudit { user_id: user_id.to_owned(), chat: chat.clone(), action, conn };
        self.store(Some(chat), StoreRequest::ChatAudit(record), then);
        Ok(())
    }

    fn watch_chat(&mut self, user_id: &str, conn: ConnId, chat: CallId) -> Result<(), Refusal> {
        self.ask_chat_audit(user_id, conn, chat, ChatAudited::Watch)
    }

    fn whisper_chat(
        &mut self,
        user_id: &str,
        conn: ConnId,
        chat: CallId,
        text: String,
    ) -> Result<(), Refusal> {
        if text.trim().is_empty() {
            return Err(refuse(ErrorCode::InvalidState, "a whisper cannot be blank"));
        }
        if text.chars().count() > MAX_CHAT_TEXT_CHARS {
            return Err(refuse(
                ErrorCode::InvalidState,
                format!("a whisper has at most {MAX_CHAT_TEXT_CHARS} characters"),
            ));
        }
        self.ask_chat_audit(user_id, conn, chat, ChatAudited::Whisper(text))
    }

    fn take_over_chat(&mut self, user_id: &str, conn: ConnId, chat: CallId) -> Result<(), Refusal> {
        self.ask_chat_audit(user_id, conn, chat, ChatAudited::TakeOver)
    }

    fn unwatch_chat(&mut self, user_id: &str, conn: ConnId, chat: CallId) -> Result<(), Refusal> {
        self.ask_chat_audit(user_id, conn, chat, ChatAudited::Leave)
    }

    /// A staff member's chat audit entry came back: committed, the action takes effect if it
    /// still may; not committed, it is refused and nothing happened.
    pub(crate) fn chat_audited(
        &mut self,
        user_id: String,
        chat: CallId,
        action: ChatAudited,
        conn: ConnId,
        ok: bool,
    ) {
        if let Some(m) = self.members.get_mut(&user_id) {
            m.audit_pending = false;
        }
        let request = match &action {
            ChatAudited::Watch => "watch_chat",
            ChatAudited::Whisper(_) => "whisper_chat",
            ChatAudited::TakeOver => "take_over_chat",
            ChatAudited::Leave => "unwatch_chat",
        };
        let checked = if ok {
            self.check_chat_support(&user_id, &chat, &action)
        } else {
            Err(refuse(ErrorCode::Internal, "the action could not be audited, so it was not done"))
        };
        if let Err(r) = checked {
            self.stats.client_errors += 1;
            self.send(conn, ServerMessage::error(r.code, r.text, Some(request)));
            return;
        }
        let Some(c) = self.chats.get_mut(&chat) else { return };
        match action {
            ChatAudited::Watch => {
                c.watchers.push(user_id);
                let request = StoreRequest::ReadChatLines { chat: chat.clone(), after_seq: 0 };
                self.store(None, request, Pending::ChatWatchLines { chat, conn });
                self.push_wallboard();
            }
            ChatAudited::Whisper(text) => {
                let agent = c.agent.clone();
                let whisper = ServerMessage::ChatWhisper {
                    chat_id: chat.0.clone(),
                    staff_name: self.name_of(&user_id),
                    text,
                    sent_at_ms: self.now.as_u64(),
                };
                if let Some(agent) = agent {
                    self.send_to_member(&agent.0, whisper.clone());
                }
                self.send(conn, whisper);
            }
            ChatAudited::TakeOver => {
                c.watchers.retain(|w| *w != user_id);
                c.taken_over_by = Some(user_id.clone());
                let request = StoreRequest::ChatTakenOver {
                    chat: chat.clone(),
                    staff: user_id,
                    at: self.now,
                };
                let then = Pending::Note { what: "chat take over", call: Some(chat.clone()) };
                let op = self.store(Some(chat.clone()), request, then);
                // The engine lets the chat go and frees the agent's capacity; its `End`
                // (`taken_over`) comes back to `chat_handed_over`, which tells the sides once
                // the take over is written (the staff member's texts are the agent's then).
                self.take_over_write = Some(op);
                self.engine_must(EngineInput::TakenOver { call: chat });
                self.take_over_write = None;
            }
            ChatAudited::Leave => {
                c.watchers.retain(|w| *w != user_id);
                let ended = ServerMessage::ChatEnded {
                    chat_id: chat.0.clone(),
                    reason: EndReason::StaffHangUp,
                };
                self.send(conn, ended);
                self.push_wallboard();
            }
        }
    }

    fn name_of(&self, user_id: &str) -> String {
        self.members.get(user_id).map(|m| m.name.clone()).unwrap_or_default()
    }

    /// The engine let go of a taken-over chat: the staff member becomes its agent, the agent
    /// is told, the citizen sees the new name.
    pub(crate) fn chat_handed_over(&mut self, chat: CallId, agent: Option<AgentId>) {
        let Some(c) = self.chats.get_mut(&chat) else { return };
        let Some(staff) = c.taken_over_by.clone() else {
            self.violation(format!("chat {chat} handed over without a staff member"));
            return;
        };
        let agent = agent.or(c.agent.take());
        c.agent = Some(AgentId(staff.clone()));
        let citizen_conn = c.citizen_conn;
        let write = self.take_over_write;
        let tell =
            |this: &mut Self, conn: Option<ConnId>, message: ServerMessage| match (conn, write) {
                (Some(conn), Some(op)) => this.send_after(op, conn, message),
                (Some(conn), None) => this.send(conn, message),
                (None, _) => {}
            };
        if let Some(agent) = agent {
            let ended =
                ServerMessage::ChatEnded { chat_id: chat.0.clone(), reason: EndReason::TakenOver };
            let conn = self.members.get(&agent.0).map(|m| m.conn);
            tell(self, conn, ended);
        }
        let staff_name = self.name_of(&staff);
        let connected =
            ServerMessage::ChatConnected { chat_id: chat.0.clone(), peer_name: staff_name };
        tell(self, citizen_conn, connected);
        let to_staff =
            ServerMessage::ChatConnected { chat_id: chat.0, peer_name: CITIZEN_NAME.into() };
        let conn = self.members.get(&staff).map(|m| m.conn);
        tell(self, conn, to_staff);
        self.push_wallboard();
    }

    /// The texts so far of a chat just opened read-only.
    pub(crate) fn chat_watch_lines(
        &mut self,
        chat: CallId,
        conn: ConnId,
        result: Result<StoreReply, StoreFailure>,
    ) {
        let lines = match result {
            Ok(StoreReply::ChatLines(lines)) => lines,
            Ok(other) => {
                self.violation(format!("chat lines answered {other:?}"));
                return;
            }
            Err(_) => {
                self.stats.client_errors += 1;
                let error = ServerMessage::error(
                    ErrorCode::Internal,
                    "the conversation could not be read; open the chat again",
                    Some("watch_chat"),
                );
                self.send(conn, error);
                return;
            }
        };
        let Some(c) = self.chats.get(&chat) else { return };
        let agent_name = c
            .agent
            .as_ref()
            .filter(|_| c.connected)
            .map(|a| self.name_of(&a.0))
            .unwrap_or_default();
        let watching = ServerMessage::ChatWatching { chat_id: chat.0, agent_name, messages: lines };
        self.send(conn, watching);
    }

    /// The connections watching `chat`.
    pub(crate) fn chat_watcher_conns(&self, chat: &CallId) -> Vec<ConnId> {
        self.chats
            .get(chat)
            .map(|c| {
                c.watchers.iter().filter_map(|w| self.members.get(w)).map(|m| m.conn).collect()
            })
            .unwrap_or_default()
    }

    /// A staff member's connection went away: they stop watching (noted in the audit) and a
    /// chat they took over ends as `agent_lost`.
    pub(crate) fn chat_staff_gone(&mut self, user_id: &str) {
        let watched: Vec<CallId> = self
            .chats
            .iter()
            .filter(|(_, c)| c.watchers.iter().any(|w| w == user_id))
            .map(|(id, _)| id.clone())
            .collect();
        for chat in watched {
            if let Some(c) = self.chats.get_mut(&chat) {
                c.watchers.retain(|w| w != user_id);
            }
            self.chat_audit_note(&chat, user_id, "disconnected");
        }
        let owned: Vec<CallId> = self
            .chats
            .iter()
            .filter(|(_, c)| c.taken_over_by.as_deref() == Some(user_id) && c.end_after.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        for chat in owned {
            self.chat_audit_note(&chat, user_id, "disconnected");
            self.finish_chat(&chat, EndReason::AgentLost, None);
        }
    }

    /// A `leave` entry of something that happens anyway (the chat ended, the person is gone).
    pub(crate) fn chat_audit_note(&mut self, chat: &CallId, user_id: &str, detail: &str) {
        let record = ChatAuditRecord {
            at: self.now,
            actor: user_id.to_owned(),
            chat: chat.clone(),
            action: ChatAuditAction::Leave,
            detail: Some(detail.to_owned()),
        };
        let then = Pending::Note { what: "chat audit entry", call: Some(chat.clone()) };
        self.store(Some(chat.clone()), StoreRequest::ChatAudit(record), then);
    }
}
