//! A chat upgraded to a voice call with the same agent (issue 16), without queueing again.
//!
//! The citizen asks (`upgrade_chat` with the microphone's offer), or the agent proposes it
//! (`offer_upgrade`, the citizen hears `upgrade_offered` and asks). In order:
//! 1. checked: the citizen's own answered chat, no call on the connection, the agent's headset
//!    connected and the agent on no other call (refused with a clear error, the chat goes on);
//! 2. the citizen's leg is made by the relay (a failure is told, the chat goes on);
//! 3. the engine's `UpgradeChat`: the chat's slot frees and the agent is on the call (the
//!    agent's other chats stay open; nothing new rings while the call lasts);
//! 4. the call's record, then its answer, are committed; then the media is bridged and both
//!    sides hear `chat_upgraded` (the citizen with the relay's answer) and `call_connected`.
//!
//! From step 3 the id names a call (`calls`) and a chat (`chats`): the engine's commands go
//! to the call, whose end also ends the chat; texts go on through the chat.
//!
//! Any answered voice call has the same text panel (issue 16): the first `send_chat` naming
//! the call by either side opens a chat with the call's id, already answered by its agent
//! (its row and answer written before its first text, in the call's store order), and from
//! then on the chat's rules hold (committed before acknowledged, client ids, 2,000
//! characters, the flood limit). A transfer hands the texts to the agent who answers next.

use std::collections::VecDeque;

use voicedesk_protocol::{ErrorCode, Role, ServerMessage};
use voicedesk_queue_engine::Input as EngineInput;

use crate::calls::{CITIZEN_NAME, leg_refusal};
use crate::chats::{ChatParty, LiveChat, gone};
use crate::core::CallCenter;
use crate::error::{Refusal, refuse};
use crate::pending::Pending;
use crate::state::{Call, LegOwner};
use crate::store::{NewCallRecord, StoreRequest};
use crate::{AgentId, CallId, ConnId, LegFailure, LegId, RelayCommand, UnixMs};

impl CallCenter {
    /// The agent of `chat` if the chat is answered, live, and not already a call (or
    /// becoming one).
    fn upgradable(&self, chat: &CallId) -> Result<AgentId, Refusal> {
        let c = self.chats.get(chat).filter(|c| c.end_after.is_none()).ok_or_else(|| gone(chat))?;
        if c.upgrading || self.calls.contains_key(chat) {
            return Err(refuse(ErrorCode::InvalidState, "this chat is already a voice call"));
        }
        if c.taken_over_by.is_some() {
            return Err(refuse(
                ErrorCode::InvalidState,
                "a staff member has taken this chat over; it goes on as a chat",
            ));
        }
        let Some(agent) = c.agent.clone().filter(|_| c.connected) else {
            return Err(refuse(
                ErrorCode::InvalidState,
                "no agent has answered this chat yet; a call can be asked for once one has",
            ));
        };
        let headset =
            self.members.get(&agent.0).is_some_and(|m| m.leg.is_some() && m.leg_connected);
        if !headset {
            return Err(refuse(
                ErrorCode::InvalidState,
                "the agent's headset is not connected, so the chat cannot become a call now; the chat goes on",
            ));
        }
        if let Some(busy) = self.engine.agent(&agent).and_then(|a| a.call.cloned()) {
            return Err(refuse(
                ErrorCode::InvalidState,
                format!("the agent is busy with another call ({busy}); the chat goes on"),
            ));
        }
        Ok(agent)
    }

    /// `offer_upgrade`: the agent proposes to go on by voice; the citizen is asked.
    pub(crate) fn offer_upgrade(&mut self, agent: &AgentId, chat: CallId) -> Result<(), Refusal> {
        let ours = self.chats.get(&chat).is_some_and(|c| c.agent.as_ref() == Some(agent));
        if !ours {
            return Err(gone(&chat));
        }
        self.upgradable(&chat)?;
        let Some(conn) = self.chats.get(&chat).and_then(|c| c.citizen_conn) else {
            return Err(refuse(
                ErrorCode::InvalidState,
                "the citizen's connection is away; try again when they are back",
            ));
        };
        self.send(conn, ServerMessage::UpgradeOffered { chat_id: chat.0 });
        Ok(())
    }

    /// `upgrade_chat`: the citizen's chat becomes a voice call with its agent (see the
    /// module documentation for the order).
    pub(crate) fn upgrade_chat(
        &mut self,
        conn: ConnId,
        citizen_id: &str,
        chat: CallId,
        sdp: String,
    ) -> Result<(), Refusal> {
        let mine = self
            .chats
            .get(&chat)
            .is_some_and(|c| c.citizen_id == citizen_id && c.citizen_conn == Some(conn));
        if !mine {
            return Err(gone(&chat));
        }
        if self.conns.get(&conn).is_some_and(|c| c.call.is_some()) {
            return Err(refuse(ErrorCode::InvalidState, "you already have a call in progress"));
        }
        self.upgradable(&chat)?;
        if let Some(c) = self.chats.get_mut(&chat) {
            c.upgrading = true;
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.call = Some(chat.clone());
        }
        self.create_leg(sdp, Role::Citizen, Pending::UpgradeLeg { chat, conn });
        Ok(())
    }

    /// The relay answered the citizen's offer: the engine puts the agent on the call, and the
    /// call's record is written.
    pub(crate) fn upgrade_leg_created(
        &mut self,
        chat: CallId,
        conn: ConnId,
        result: Result<(LegId, String), LegFailure>,
    ) {
        let still = self
            .chats
            .get(&chat)
            .is_some_and(|c| c.upgrading && c.citizen_conn == Some(conn) && c.end_after.is_none());
        let refusal = match (still, result) {
            (false, result) => {
                // The chat ended or the citizen left meanwhile: nothing to carry the leg.
                if let Ok((leg, _)) = result {
                    self.relay(RelayCommand::CloseLeg { leg });
                }
                self.upgrade_given_up(&chat, conn, None);
                return;
            }
            (true, Err(e)) => leg_refusal(e),
            (true, Ok((leg, answer))) => match self.upgrade_in_engine(&chat, conn, leg) {
                Ok(agent) => {
                    self.write_upgraded_call(chat, agent, answer);
                    return;
                }
                Err(refusal) => {
                    self.relay(RelayCommand::CloseLeg { leg });
                    refusal
                }
            },
        };
        self.upgrade_given_up(&chat, conn, Some(refusal));
    }

    /// The engine's `UpgradeChat`; on success the call is the core's too (not yet answered).
    fn upgrade_in_engine(
        &mut self,
        chat: &CallId,
        conn: ConnId,
        leg: LegId,
    ) -> Result<AgentId, Refusal> {
        // Checked again: the headset or the agent's state may have changed meanwhile.
        let agent = self.upgradable_now(chat)?;
        self.engine_input(EngineInput::UpgradeChat { chat: chat.clone(), agent: agent.clone() })?;
        let Some(c) = self.chats.get(chat) else {
            return Err(refuse(ErrorCode::Internal, "the chat ended meanwhile"));
        };
        self.legs.insert(leg, LegOwner::Citizen(chat.clone()));
        let call = Call {
            citizen_conn: conn,
            citizen_leg: Some(leg),
            citizen_id: c.citizen_id.clone(),
            parked: false,
            service: c.service.clone(),
            skill: c.skill.clone(),
            transfers: 0,
            transcript: Vec::new(),
            queued_at: c.queued_at,
            answered_at: None,
            agent: Some(agent.clone()),
            // The agent knows the call (it is their chat): told of its end in any case.
            offer_told: true,
            connected: false,
            supporters: Vec::new(),
            taken_over_by: None,
            help: None,
            citizen_heard: Vec::new(),
            position_told_at: None,
            position_due: false,
        };
        self.calls.insert(chat.clone(), call);
        if let Some(c) = self.chats.get_mut(chat) {
            c.call_side = true;
        }
        Ok(agent)
    }

    /// [`Self::upgradable`] for a chat already marked as upgrading.
    fn upgradable_now(&mut self, chat: &CallId) -> Result<AgentId, Refusal> {
        let c = self.chats.get_mut(chat).expect("checked by the caller");
        c.upgrading = false;
        let verdict = self.upgradable(chat);
        if let Some(c) = self.chats.get_mut(chat) {
            c.upgrading = true;
        }
        verdict
    }

    /// The upgrade did not happen: the chat goes on as it was, the citizen is told why.
    fn upgrade_given_up(&mut self, chat: &CallId, conn: ConnId, refusal: Option<Refusal>) {
        if let Some(c) = self.chats.get_mut(chat) {
            c.upgrading = false;
        }
        self.release_conn_call(conn, chat);
        if let Some(r) = refusal
            && self.conns.contains_key(&conn)
        {
            self.stats.client_errors += 1;
            self.send(conn, ServerMessage::error(r.code, r.text, Some("upgrade_chat")));
        }
    }

    /// The call's record first (then its answer): a call is never bridged unrecorded.
    fn write_upgraded_call(&mut self, chat: CallId, agent: AgentId, answer: String) {
        let Some(c) = self.chats.get(&chat) else { return };
        let record = NewCallRecord {
            call: chat.clone(),
            citizen_session: c.citizen_id.clone(),
            service: c.service.clone(),
            queued_at: c.queued_at,
            skill: c.skill.clone(),
            priority: c.priority,
        };
        let then = Pending::UpgradeRecord { chat: chat.clone(), agent, answer };
        self.store(Some(chat), StoreRequest::InsertCall(record), then);
    }

    /// The call's record came back: its answer is written next.
    pub(crate) fn upgrade_recorded(
        &mut self,
        chat: CallId,
        agent: AgentId,
        answer: String,
        ok: bool,
    ) {
        if !self.calls.contains_key(&chat) {
            return;
        }
        if !ok {
            // As for a call whose answer cannot be recorded: it cannot go on.
            self.engine_must(EngineInput::MediaFailed { call: chat });
            return;
        }
        let at = self.now;
        let request = StoreRequest::CallAnswered { call: chat.clone(), agent: agent.0.clone(), at };
        let then = Pending::UpgradeAnswer { chat: chat.clone(), agent, at, answer };
        self.store(Some(chat), request, then);
    }

    /// The answer is committed: the media is bridged, both sides are told, and the agent
    /// wraps the conversation up as a call.
    pub(crate) fn upgrade_answered(
        &mut self,
        chat: CallId,
        agent: AgentId,
        at: UnixMs,
        answer: String,
        ok: bool,
    ) {
        let connected_here = self.engine.call(&chat).is_some_and(|v| {
            v.agent == Some(&agent) && v.phase == voicedesk_queue_engine::CallPhase::Connected
        });
        if !connected_here || !self.calls.contains_key(&chat) {
            return;
        }
        if !ok {
            self.engine_must(EngineInput::MediaFailed { call: chat });
            return;
        }
        if let Some(c) = self.chats.get_mut(&chat) {
            c.upgrading = false;
        }
        if let Some(m) = self.members.get_mut(&agent.0) {
            for entry in m.handled.iter_mut().filter(|(c, _)| *c == chat) {
                entry.1 = false;
            }
        }
        let Some(c) = self.calls.get_mut(&chat) else { return };
        c.connected = true;
        c.answered_at = Some(at);
        let citizen_conn = c.citizen_conn;
        self.route(&chat, &[]);
        let headset = self.members.get(&agent.0).and_then(|m| m.leg.filter(|_| m.leg_connected));
        if headset.is_none() {
            self.mark_lost(&chat, crate::Side::Agent);
        }
        self.stats.calls_answered += 1;
        let agent_name = self.members.get(&agent.0).map(|m| m.name.clone()).unwrap_or_default();
        let upgraded = ServerMessage::ChatUpgraded { chat_id: chat.0.clone(), sdp: Some(answer) };
        self.send(citizen_conn, upgraded);
        self.send(
            citizen_conn,
            ServerMessage::CallConnected { call_id: chat.0.clone(), peer_name: agent_name },
        );
        self.send_to_member(
            &agent.0,
            ServerMessage::ChatUpgraded { chat_id: chat.0.clone(), sdp: None },
        );
        let to_agent =
            ServerMessage::CallConnected { call_id: chat.0, peer_name: CITIZEN_NAME.into() };
        self.send_to_member(&agent.0, to_agent);
    }

    // ----- a voice call's text panel ---------------------------------------------------------

    /// Opens the text panel of an answered voice call `call` for its citizen or agent on
    /// `conn`, if it has none; anything else is left to `send_chat`'s own checks.
    pub(crate) fn open_call_texts(&mut self, conn: ConnId, party: &ChatParty, call: &CallId) {
        if self.chats.contains_key(call) {
            return;
        }
        let Some(c) = self.calls.get(call).filter(|c| c.connected && c.taken_over_by.is_none())
        else {
            return;
        };
        let Some(agent) = c.agent.clone() else { return };
        let ours = match party {
            ChatParty::Citizen(id) => c.citizen_id == *id && c.citizen_conn == conn,
            ChatParty::Agent(a) => *a == agent,
        };
        if !ours {
            return;
        }
        let citizen_conn = self.conns.contains_key(&c.citizen_conn).then_some(c.citizen_conn);
        let chat = LiveChat {
            citizen_id: c.citizen_id.clone(),
            citizen_conn,
            service: c.service.clone(),
            skill: c.skill.clone(),
            priority: 0,
            queued_at: c.queued_at,
            recorded: true,
            abandoned: false,
            agent: Some(agent.clone()),
            connected: true,
            last_seq: 0,
            // Texts wait in the outbox until the row and its agent are committed (chat writes
            // are not ordered by the driver: one after the other here).
            writing: true,
            outbox: VecDeque::new(),
            end_after: None,
            recent: [VecDeque::new(), VecDeque::new()],
            marks: [(0, 0); 2],
            citizen_lost: false,
            position_told_at: None,
            position_due: false,
            upgrading: false,
            call_side: true,
            watchers: Vec::new(),
            taken_over_by: None,
        };
        let insert = StoreRequest::InsertChat {
            chat: call.clone(),
            citizen_id: chat.citizen_id.clone(),
            service: chat.service.clone(),
            skill: chat.skill.clone(),
            at: self.now,
        };
        self.chats.insert(call.clone(), chat);
        let then = Pending::CallTextsRow { call: call.clone(), agent };
        self.store(Some(call.clone()), insert, then);
    }

    /// The panel's row came back: its agent next.
    pub(crate) fn call_texts_row(&mut self, call: CallId, agent: AgentId, ok: bool) {
        if !ok {
            self.call_texts_ready(call, false, None);
            return;
        }
        let answered =
            StoreRequest::ChatAnswered { chat: call.clone(), agent: agent.0.clone(), at: self.now };
        let then = Pending::CallTextsAgent { call: call.clone(), reader: None };
        self.store(Some(call), answered, then);
    }

    /// The panel's agent is committed (or not). Opening (`reader` none): the texts waiting go,
    /// in order, or — not committed — are refused and the panel forgotten (the next text opens
    /// it again). After a transfer: the agent who answered (`reader`) gets what was written.
    pub(crate) fn call_texts_ready(&mut self, call: CallId, ok: bool, reader: Option<AgentId>) {
        if let Some(agent) = reader {
            let conn = self.members.get(&agent.0).map(|m| m.conn);
            if let (true, Some(conn)) = (ok, conn) {
                let request = StoreRequest::ReadChatLines { chat: call.clone(), after_seq: 0 };
                self.store(None, request, Pending::ChatLines { chat: call, conn, rejoin: false });
            }
            return;
        }
        let Some(c) = self.chats.get_mut(&call) else { return };
        c.writing = false;
        if !ok && !c.ending() {
            let Some(c) = self.chats.remove(&call) else { return };
            for send in c.outbox {
                self.stats.client_errors += 1;
                let error = ServerMessage::error(
                    ErrorCode::Internal,
                    "the text could not be saved; please send it again",
                    Some("send_chat"),
                );
                self.send(send.conn, error);
            }
            return;
        }
        if let Some((reason, by)) = c.end_after.take() {
            self.finish_chat(&call, reason, by);
            return;
        }
        self.write_next_text(&call);
    }

    /// The call was transferred: its texts wait for the next agent; the one who sent it on
    /// hears the texts end for them.
    pub(crate) fn call_texts_transferred(&mut self, call: &CallId, agent: &AgentId) {
        let Some(c) = self.chats.get_mut(call) else { return };
        c.agent = None;
        c.connected = false;
        let ended = ServerMessage::ChatEnded {
            chat_id: call.0.clone(),
            reason: voicedesk_protocol::EndReason::Transferred,
        };
        self.send_to_member(&agent.0, ended);
    }

    /// A transferred call with texts was answered: the texts go on with this agent, who gets
    /// them (read back) once the new answer of the texts is committed.
    pub(crate) fn call_texts_answered(&mut self, call: &CallId, agent: &AgentId) {
        let Some(c) = self.chats.get_mut(call).filter(|c| c.agent.is_none()) else { return };
        c.agent = Some(agent.clone());
        c.connected = true;
        let answered =
            StoreRequest::ChatAnswered { chat: call.clone(), agent: agent.0.clone(), at: self.now };
        let then = Pending::CallTextsAgent { call: call.clone(), reader: Some(agent.clone()) };
        self.store(Some(call.clone()), answered, then);
    }
}
