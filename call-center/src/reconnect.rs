//! Lost connections and coming back.
//!
//! One rule for every side and every cause: **a side whose connection is lost is waited for
//! for the reconnect grace period, and a new media offer for its call replaces its media leg.**
//!
//! - A citizen **waiting** whose WebSocket drops (or whose media leg dies after it was up) is
//!   *parked* by the engine (the engine's grace timer); `rejoin_call` unparks it.
//! - A citizen on an **answered** call (or one taken over) whose connection or leg is lost:
//!   the call stays up, the others are told `peer_reconnecting`; `rejoin_call` brings a new leg;
//!   after the grace the call ends `citizen_lost`.
//! - An **agent** on an answered call whose console or headset is lost: the call stays up, the
//!   citizen hears the hold tune; the console's return (`call_resumed`) and `media_connect`
//!   bring it back; after the grace the call ends `agent_lost`.
//!
//! The grace of answered calls is the core's timer ([`crate::timer::Timer::Grace`]); the
//! engine's view — the agent is on the call — stays true throughout.

use voicedesk_protocol::{
    EndReason, ErrorCode, HelpState, LiveCall, MediaLegState, ParkedCall, Role, ServerMessage,
    Supporter,
};
use voicedesk_queue_engine::Input as EngineInput;

use crate::calls::{CITIZEN_NAME, leg_refusal};
use crate::core::CallCenter;
use crate::error::{Refusal, refuse};
use crate::pending::Pending;
use crate::state::LegOwner;
use crate::timer::Timer;
use crate::{AgentId, CallId, ConnId, LegEnd, LegFailure, LegId, RelayCommand, Side};

fn role_of(side: Side) -> Role {
    match side {
        Side::Citizen => Role::Citizen,
        Side::Agent => Role::Agent,
    }
}

impl CallCenter {
    pub(crate) fn is_lost(&self, call: &CallId, side: Side) -> bool {
        self.lost.contains_key(&(call.clone(), side))
    }

    /// The sides of a call waited for, for the wallboard.
    pub(crate) fn reconnecting(&self, call: &CallId) -> Vec<Role> {
        [Side::Citizen, Side::Agent]
            .into_iter()
            .filter(|side| self.is_lost(call, *side))
            .map(role_of)
            .collect()
    }

    /// Marks a side of an answered call lost: its grace starts (once) and everyone else on the
    /// call is told.
    pub(crate) fn mark_lost(&mut self, call: &CallId, side: Side) {
        let key = (call.clone(), side);
        if self.lost.contains_key(&key) || !self.calls.contains_key(call) {
            return;
        }
        let deadline = self.now.plus(self.engine.config().reconnect_grace);
        self.lost.insert(key, deadline);
        self.timers.set(Timer::Grace(call.clone(), side), deadline);
        self.stats.sides_lost += 1;
        let message = ServerMessage::PeerReconnecting {
            call_id: call.0.clone(),
            peer: role_of(side),
            reconnect_by_ms: deadline.as_u64(),
        };
        self.tell_others(call, side, message);
    }

    /// A side waited for is back (its new leg connected); everyone else is told.
    pub(crate) fn mark_back(&mut self, call: &CallId, side: Side) {
        if self.lost.remove(&(call.clone(), side)).is_none() {
            return;
        }
        self.timers.stop(&Timer::Grace(call.clone(), side));
        self.stats.sides_back += 1;
        let message =
            ServerMessage::PeerReconnected { call_id: call.0.clone(), peer: role_of(side) };
        self.tell_others(call, side, message);
    }

    /// Sends to everyone on the call but `side`.
    fn tell_others(&mut self, call: &CallId, side: Side, message: ServerMessage) {
        let Some(c) = self.calls.get(call) else { return };
        let citizen = (side != Side::Citizen).then_some(c.citizen_conn);
        let agent = c.agent.clone().filter(|_| c.connected && side != Side::Agent);
        let staff: Vec<String> = c.supporters.iter().map(|s| s.user_id.clone()).collect();
        if let Some(conn) = citizen {
            self.send(conn, message.clone());
        }
        if let Some(agent) = agent {
            self.send_to_member(&agent.0, message.clone());
        }
        for user in staff {
            self.send_to_member(&user, message.clone());
        }
    }

    /// A lost side did not come back in time: its call ends.
    pub(crate) fn grace_expired(&mut self, call: &CallId, side: Side) {
        if self.chats.contains_key(call) && !self.calls.contains_key(call) {
            self.chat_grace_expired(call);
            return;
        }
        if self.lost.remove(&(call.clone(), side)).is_none() {
            return;
        }
        match side {
            Side::Citizen => {
                if let Err(r) = self.citizen_ends(call, EndReason::CitizenLost) {
                    self.violation(format!(
                        "grace of {call} over but the engine refused: {}",
                        r.text
                    ));
                    self.finish_call(call, EndReason::CitizenLost, None);
                }
            }
            Side::Agent => self.agent_not_back(call),
        }
    }

    /// The agent did not come back in time: the call ends `agent_lost`; a console that never
    /// returned is signed out, a console without a headset is set away (`after_agents_freed`).
    fn agent_not_back(&mut self, call: &CallId) {
        let Some(agent) = self.calls.get(call).and_then(|c| c.agent.clone()) else {
            self.finish_call(call, EndReason::AgentLost, None);
            return;
        };
        let ended = EngineInput::EndCall { call: call.clone(), reason: EndReason::AgentLost };
        if !self.engine_must(ended) {
            self.finish_call(call, EndReason::AgentLost, Some(agent));
        }
    }

    // ----- the citizen -----------------------------------------------------------------------

    /// The citizen's connection went away (already forgotten): waiting → parked; answered →
    /// waited for.
    pub(crate) fn citizen_connection_lost(&mut self, call: &CallId) {
        let Some(c) = self.calls.get(call) else { return };
        if c.parked {
            return;
        }
        if c.answered() {
            self.citizen_lost(call);
        } else {
            self.park(call);
        }
    }

    /// The relay lost a citizen's leg. Answered: waited for. Waiting and the leg was up:
    /// parked. Waiting and it never connected: the call ends `media_failed`.
    pub(crate) fn citizen_media_lost(&mut self, call: &CallId, leg: LegId, reason: LegEnd) {
        let Some(c) = self.calls.get(call) else { return };
        if c.citizen_leg != Some(leg) {
            return;
        }
        let conn = c.citizen_conn;
        let answered = c.answered();
        self.send(conn, ServerMessage::MediaState { state: MediaLegState::Failed });
        if answered {
            self.citizen_lost(call);
        } else if reason == LegEnd::ConnectTimeout {
            if let Err(r) = self.citizen_ends(call, EndReason::MediaFailed) {
                self.violation(format!(
                    "media of {call} failed but the engine refused: {}",
                    r.text
                ));
            }
        } else {
            self.park(call);
        }
    }

    /// An answered call's citizen is gone: the leg is closed, the others' slots that heard
    /// the citizen fall silent, the call waits.
    fn citizen_lost(&mut self, call: &CallId) {
        let Some(c) = self.calls.get_mut(call) else { return };
        if let Some(leg) = c.citizen_leg.take() {
            self.legs.remove(&leg);
            self.relay(RelayCommand::CloseLeg { leg });
        }
        self.mark_lost(call, Side::Citizen);
        self.route(call, &[]);
    }

    /// A waiting call whose citizen is gone keeps its place for the grace period.
    fn park(&mut self, call: &CallId) {
        let now = self.instant();
        if let Err(e) =
            self.engine.handle_input(now, EngineInput::CitizenDisconnected { call: call.clone() })
        {
            self.violation(format!("engine refused to park {call}: {e}"));
            if let Err(r) = self.citizen_ends(call, EndReason::CitizenDisconnected) {
                self.violation(format!("engine refused to end {call}: {}", r.text));
                self.finish_call(call, EndReason::CitizenDisconnected, None);
            }
            return;
        }
        if let Some(c) = self.calls.get_mut(call) {
            c.parked = true;
            if let Some(leg) = c.citizen_leg.take() {
                self.legs.remove(&leg);
                self.relay(RelayCommand::CloseLeg { leg });
            }
        }
        self.carry_out();
    }

    pub(crate) fn parked_call_of(&self, citizen_id: &str) -> Option<ParkedCall> {
        self.calls.iter().find(|(_, c)| c.parked && c.citizen_id == citizen_id).map(|(id, c)| {
            ParkedCall {
                call_id: id.0.clone(),
                service: c.service.clone(),
                position: self.engine.position(id).unwrap_or(0),
            }
        })
    }

    pub(crate) fn active_call_of(&self, citizen_id: &str) -> Option<LiveCall> {
        let call = self
            .calls
            .iter()
            .find(|(id, c)| c.citizen_id == citizen_id && self.is_lost(id, Side::Citizen))
            .map(|(id, _)| id.clone())?;
        self.live_call(&call, Side::Citizen)
    }

    /// A call as told to `side` coming back to it.
    fn live_call(&self, call: &CallId, side: Side) -> Option<LiveCall> {
        let c = self.calls.get(call)?;
        let peer_name = match side {
            Side::Citizen => c
                .taken_over_by
                .as_ref()
                .or(c.agent.as_ref().map(|a| &a.0))
                .and_then(|user| self.members.get(user))
                .map(|m| m.name.clone())
                .unwrap_or_default(),
            Side::Agent => CITIZEN_NAME.to_owned(),
        };
        let reconnect_by = self.lost.get(&(call.clone(), side)).copied().unwrap_or(self.now);
        Some(LiveCall {
            call_id: call.0.clone(),
            service: c.service.clone(),
            peer_name,
            answered_at_ms: c.answered_at.map_or(0, |t| t.as_u64()),
            reconnect_by_ms: reconnect_by.as_u64(),
        })
    }

    /// `rejoin_call`: a new media offer for one of this citizen's calls replaces its leg.
    pub(crate) fn rejoin_call(
        &mut self,
        conn: ConnId,
        citizen_id: &str,
        call: CallId,
        sdp: String,
    ) -> Result<(), Refusal> {
        let Some(c) = self.calls.get(&call).filter(|c| c.citizen_id == citizen_id) else {
            return Err(refuse(
                ErrorCode::UnknownCall,
                format!("you have no call {call} (the grace period may be over)"),
            ));
        };
        if self.conns.get(&conn).and_then(|c| c.call.as_ref()).is_some_and(|other| *other != call) {
            return Err(refuse(ErrorCode::InvalidState, "you already have a call in progress"));
        }
        if c.citizen_conn != conn && self.conns.contains_key(&c.citizen_conn) {
            return Err(refuse(
                ErrorCode::InvalidState,
                "this call is carried by another connection; resume on this one first",
            ));
        }
        self.create_leg(sdp, Role::Citizen, Pending::Rejoin { conn, call });
        Ok(())
    }

    /// The relay answered a rejoin's offer.
    pub(crate) fn rejoin_leg_created(
        &mut self,
        conn: ConnId,
        call: CallId,
        result: Result<(LegId, String), LegFailure>,
    ) {
        let (leg, answer) = match result {
            Ok(made) => made,
            Err(e) => {
                let r = leg_refusal(e);
                self.stats.client_errors += 1;
                self.send(conn, ServerMessage::error(r.code, r.text, Some("rejoin_call")));
                return;
            }
        };
        let usable = self.conns.contains_key(&conn)
            && self.calls.get(&call).is_some_and(|c| {
                c.citizen_conn == conn || !self.conns.contains_key(&c.citizen_conn)
            });
        if !usable {
            // The call ended, or another connection took it meanwhile.
            self.relay(RelayCommand::CloseLeg { leg });
            if self.conns.contains_key(&conn) && !self.calls.contains_key(&call) {
                self.stats.client_errors += 1;
                let error = ServerMessage::error(
                    ErrorCode::UnknownCall,
                    format!("you have no call {call} (the grace period may be over)"),
                    Some("rejoin_call"),
                );
                self.send(conn, error);
            }
            return;
        }
        let Some(c) = self.calls.get(&call) else { return };
        let (parked, answered) = (c.parked, c.answered());
        if parked {
            let now = self.instant();
            if let Err(e) = self
                .engine
                .handle_input(now, EngineInput::CitizenReconnected { call: call.clone() })
            {
                self.relay(RelayCommand::CloseLeg { leg });
                self.stats.client_errors += 1;
                self.send(conn, ServerMessage::error(e.code(), e.to_string(), Some("rejoin_call")));
                return;
            }
        }
        // Held: until an agent (back) feeds slot 0, the citizen hears the tune.
        self.relay(RelayCommand::SetHold { leg, on: true });
        self.legs.insert(leg, LegOwner::Citizen(call.clone()));
        let Some(c) = self.calls.get_mut(&call) else { return };
        c.parked = false;
        c.citizen_conn = conn;
        let old = c.citizen_leg.replace(leg);
        let heard = c.citizen_heard.clone();
        if let Some(old) = old {
            self.legs.remove(&old);
            self.relay(RelayCommand::CloseLeg { leg: old });
        }
        if let Some(cn) = self.conns.get_mut(&conn) {
            cn.call = Some(call.clone());
        }
        if answered {
            // Until the new leg connects nobody hears the citizen.
            self.mark_lost(&call, Side::Citizen);
            self.route(&call, &[]);
            self.send(conn, ServerMessage::CallRejoined { call_id: call.0.clone(), sdp: answer });
            if !heard.is_empty() {
                let message =
                    ServerMessage::SupportChanged { call_id: call.0.clone(), supporters: heard };
                self.send(conn, message);
            }
            if let Some(&deadline) = self.lost.get(&(call.clone(), Side::Agent)) {
                let message = ServerMessage::PeerReconnecting {
                    call_id: call.0.clone(),
                    peer: Role::Agent,
                    reconnect_by_ms: deadline.as_u64(),
                };
                self.send(conn, message);
            }
        } else {
            self.send(conn, ServerMessage::CallQueued { call_id: call.0.clone(), sdp: answer });
            // The engine sends positions only when they change; the new page needs one now.
            if let Some(view) = self.engine.call(&call)
                && let Some(position) = view.position
            {
                let message = ServerMessage::QueuePosition {
                    call_id: call.0.clone(),
                    position,
                    estimated_wait_ms: view.estimated_wait.map(|d| d.as_millis() as u64),
                };
                self.send(conn, message);
            }
            self.carry_out();
        }
    }

    // ----- the agent -------------------------------------------------------------------------

    /// An agent's console dropped during a call: the member stays, the headset is closed,
    /// the call waits for the agent.
    pub(crate) fn agent_detached(&mut self, user_id: &str, call: &CallId) {
        if let Some(m) = self.members.get_mut(user_id) {
            m.leg_connected = false;
            if let Some(leg) = m.leg.take() {
                self.legs.remove(&leg);
                self.relay(RelayCommand::CloseLeg { leg });
            }
        }
        self.mark_lost(call, Side::Agent);
        self.route(call, &[]);
    }

    /// An agent's console is back while the call waits: it is told its state, the call, who
    /// supports it and whether the citizen is waited for too.
    pub(crate) fn agent_reattached(&mut self, user_id: &str, conn: ConnId) {
        let agent = AgentId(user_id.to_owned());
        let state = self.engine.agent(&agent).map(|a| ServerMessage::AgentState {
            state: a.activity,
            reason: a.reason.map(str::to_owned),
            since_ms: self.wall(a.since).as_u64(),
            until_ms: a.after_call_work_until.map(|at| self.wall(at).as_u64()),
        });
        if let Some(state) = state {
            self.send(conn, state);
        }
        let Some(call) = self.member_call(user_id) else { return };
        if let Some(live) = self.live_call(&call, Side::Agent) {
            self.send(conn, ServerMessage::CallResumed(live));
        }
        let Some(c) = self.calls.get(&call) else { return };
        let supporters: Vec<Supporter> = self.supporter_list(c);
        let help_pending = c.help.is_some();
        if !supporters.is_empty() {
            self.send(conn, ServerMessage::SupportChanged { call_id: call.0.clone(), supporters });
        }
        if help_pending {
            let status = ServerMessage::HelpStatus {
                call_id: call.0.clone(),
                state: HelpState::Pending,
                staff_name: None,
            };
            self.send(conn, status);
        }
        if let Some(&deadline) = self.lost.get(&(call.clone(), Side::Citizen)) {
            let message = ServerMessage::PeerReconnecting {
                call_id: call.0.clone(),
                peer: Role::Citizen,
                reconnect_by_ms: deadline.as_u64(),
            };
            self.send(conn, message);
        }
    }
}
