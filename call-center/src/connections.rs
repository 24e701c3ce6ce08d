//! Connections coming and going: sign-in (the newest console wins), a citizen's resume, a
//! dropped connection, a sign-out.

use std::collections::BTreeMap;

use voicedesk_protocol::{ErrorCode, Role, ServerMessage};
use voicedesk_queue_engine::Input as EngineInput;

use crate::core::CallCenter;
use crate::state::{CitizenSide, Conn, Departure, Member, Who};
use crate::{AgentId, CallId, ConnId, Identity, RelayCommand, SkillId};

impl CallCenter {
    pub(crate) fn connected(&mut self, conn: ConnId, identity: Identity) {
        if self.conns.contains_key(&conn) {
            self.violation(format!("{conn} connected twice"));
            return;
        }
        let who = match identity {
            Identity::Citizen { citizen_id } => Who::Citizen(citizen_id),
            Identity::Member { user, skills } => {
                self.member_connected(conn, &user, skills);
                Who::Member(user.id, user.role)
            }
        };
        let reattached = match &who {
            Who::Member(user_id, _) => self.members.get(user_id).is_some_and(|m| m.conn == conn),
            Who::Citizen(_) => false,
        };
        let staff = matches!(&who, Who::Member(_, role) if role.is_staff());
        let user_id = match &who {
            Who::Member(id, _) => Some(id.clone()),
            Who::Citizen(_) => None,
        };
        self.conns.insert(conn, Conn { who, call: None, citizen: CitizenSide::default() });
        if staff {
            let board = self.wallboard_snapshot();
            self.send(conn, ServerMessage::Wallboard(board));
        }
        if let Some(user_id) = user_id
            && reattached
        {
            self.agent_reattached(&user_id, conn);
        }
    }

    /// A member signs in: the newest console wins; an agent waited for during a call takes
    /// it back; a new agent logs into the engine.
    fn member_connected(
        &mut self,
        conn: ConnId,
        user: &voicedesk_protocol::UserInfo,
        skills: BTreeMap<SkillId, u8>,
    ) {
        if let Some(old) = self.members.get(&user.id).map(|m| m.conn)
            && self.conns.contains_key(&old)
        {
            let replaced = ServerMessage::error(
                ErrorCode::SessionExpired,
                "signed in from another window",
                None,
            );
            self.send(old, replaced);
            self.emit(crate::Effect::Close { conn: old });
            self.disconnected(old, Departure::Dropped);
        }
        if let Some(m) = self.members.get_mut(&user.id) {
            // Still there: an agent whose console was lost during a call, waited for. This
            // connection takes the call back (the engine never saw the agent leave).
            m.conn = conn;
            m.queue_status.clear();
            return;
        }
        if user.role == Role::Agent {
            let agent = AgentId(user.id.clone());
            self.engine_must(EngineInput::AgentLoggedIn { agent, skills });
        }
        self.members.insert(
            user.id.clone(),
            Member {
                conn,
                name: user.display_name.clone(),
                role: user.role,
                leg: None,
                leg_connected: false,
                supporting: None,
                audit_pending: false,
                handled: Vec::new(),
                queue_status: Vec::new(),
                sign_out_when_free: false,
                chat_capacity_due: None,
            },
        );
    }

    pub(crate) fn resumed(&mut self, conn: ConnId, citizen_id: String, citizen_token: String) {
        let Some(c) = self.conns.get(&conn) else { return };
        if c.call.is_some() {
            let error = ServerMessage::error(
                ErrorCode::InvalidState,
                "cannot resume another identity during a call",
                Some("resume"),
            );
            self.send(conn, error);
            return;
        }
        // The newest connection wins: one still held for a call of this identity is dropped.
        let stale: Vec<ConnId> = self
            .calls
            .values()
            .filter(|c| c.citizen_id == citizen_id && c.citizen_conn != conn)
            .map(|c| c.citizen_conn)
            .filter(|old| self.conns.contains_key(old))
            .collect();
        for old in stale {
            let replaced = ServerMessage::error(
                ErrorCode::SessionExpired,
                "this session was resumed on another connection",
                None,
            );
            self.send(old, replaced);
            self.emit(crate::Effect::Close { conn: old });
            self.disconnected(old, Departure::Dropped);
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.who = Who::Citizen(citizen_id.clone());
        }
        let parked_call = self.parked_call_of(&citizen_id);
        let active_call = self.active_call_of(&citizen_id);
        self.send(conn, ServerMessage::Resumed { citizen_token, parked_call, active_call });
    }

    pub(crate) fn signed_out(&mut self, user_id: &str) {
        let Some((conn, role)) = self.members.get(user_id).map(|m| (m.conn, m.role)) else {
            return;
        };
        if self.conns.contains_key(&conn) {
            let expired = ServerMessage::error(ErrorCode::SessionExpired, "signed out", None);
            self.send(conn, expired);
            self.emit(crate::Effect::Close { conn });
            self.disconnected(conn, Departure::SignedOut);
        } else {
            // A console lost during a call, waited for: signing out ends the wait.
            self.member_gone(user_id, role);
        }
    }

    /// A user to sign out (their account was disabled, their password reset …): an agent on
    /// an answered call finishes it first — the call ends as it would, the agent is told, and
    /// then the console is signed out; anyone else is signed out now.
    pub(crate) fn sign_out_when_free(&mut self, user_id: &str) {
        let busy = self.members.get(user_id).is_some_and(|m| m.role == Role::Agent)
            && self.member_call(user_id).is_some();
        match self.members.get_mut(user_id) {
            Some(m) if busy => m.sign_out_when_free = true,
            _ => self.signed_out(user_id),
        }
    }

    /// Agents waiting to be signed out whose call is over and whose console has heard
    /// everything held for it: signed out now.
    pub(crate) fn sign_out_freed(&mut self) {
        let due: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.sign_out_when_free && !self.held.contains_key(&m.conn))
            .map(|(id, _)| id.clone())
            .filter(|id| self.member_call(id).is_none())
            .collect();
        for user_id in due {
            self.signed_out(&user_id);
        }
    }

    /// The connection closed (its reader ended). With a message in flight, the citizen still
    /// hears its answer — the driver keeps the outbox, whose writer flushes before it closes —
    /// and the connection is forgotten after it (`message_answered`).
    pub(crate) fn connection_closed(&mut self, conn: ConnId) {
        if self.message_gate.contains_key(&conn) {
            self.closing.insert(conn);
        } else {
            self.disconnected(conn, Departure::Dropped);
        }
    }

    pub(crate) fn disconnected(&mut self, conn: ConnId, departure: Departure) {
        self.message_gate.remove(&conn);
        self.closing.remove(&conn);
        let Some(c) = self.conns.remove(&conn) else { return };
        self.held.remove(&conn);
        self.voice_of_gone_connection(c.citizen.voice);
        match c.who {
            Who::Citizen(_) => {
                self.chat_citizen_gone(conn);
                if let Some(call) = c.call {
                    if let Some(p) = self.placing.get_mut(&call) {
                        p.abandoned = true;
                    } else {
                        self.citizen_connection_lost(&call);
                    }
                }
            }
            Who::Member(user_id, role) => {
                if self.members.get(&user_id).is_none_or(|m| m.conn != conn) {
                    return;
                }
                // An agent's console lost during a call: the call waits for the agent.
                if departure == Departure::Dropped
                    && role == Role::Agent
                    && let Some(call) = self.member_call(&user_id)
                {
                    self.agent_detached(&user_id, &call);
                    return;
                }
                self.member_gone(&user_id, role);
            }
        }
    }

    /// An agent or staff member leaves for good: the engine logs the agent out (a ringing
    /// call goes back to its place, a talking one ends `agent_disconnected`), staff leave their
    /// call, the headset is closed.
    pub(crate) fn member_gone(&mut self, user_id: &str, role: Role) {
        if role == Role::Agent {
            let agent = AgentId(user_id.to_owned());
            self.engine_must(EngineInput::AgentLoggedOut { agent });
        } else {
            self.staff_gone(user_id, "disconnected");
            self.chat_staff_gone(user_id);
        }
        if let Some(leg) = self.members.remove(user_id).and_then(|m| m.leg) {
            self.legs.remove(&leg);
            self.relay(RelayCommand::CloseLeg { leg });
        }
    }

    /// The call a member is on: the agent's connected call, or the call staff support.
    pub(crate) fn member_call(&self, user_id: &str) -> Option<CallId> {
        if let Some(call) = self.members.get(user_id).and_then(|m| m.supporting.clone()) {
            return Some(call);
        }
        self.calls
            .iter()
            .find(|(_, c)| c.connected && c.agent.as_ref().is_some_and(|a| a.0 == user_id))
            .map(|(id, _)| id.clone())
    }
}
