//! Lost connections and coming back.
//!
//! One rule for every side and every cause: **a side whose connection is lost is waited for
//! for the reconnect grace period, and a new media offer for its call replaces its media leg.**
//!
//! - A citizen **waiting** for an answer whose WebSocket drops (or whose media leg dies after it
//!   was up) is *parked* by the engine: the call keeps its place and is offered to nobody; the
//!   leg is closed. `rejoin_call` with a new offer unparks it; after the grace the engine ends
//!   it as `abandoned`.
//! - A citizen on an **answered** call (or one taken over by staff) whose WebSocket drops, or
//!   whose media leg dies, or who sends a new offer for the call: the call stays up, the old
//!   leg is closed, the agent and staff are told `peer_reconnecting`. `resume` on a new
//!   connection reports the call as `active_call`; `rejoin_call` with a new offer creates a
//!   new leg that takes the old one's place in the routing (`call_rejoined`), and once it
//!   connects the others get `peer_reconnected`. After the grace the call ends `citizen_lost`.
//! - An **agent** on an answered call whose console drops, or whose headset dies, or who
//!   replaces the headset: the call stays up (the engine still has the agent on the call), the
//!   citizen hears the hold tune, citizen and staff are told `peer_reconnecting`. A console
//!   that signs in again with the same session (the cookie) gets `call_resumed`; its
//!   `media_connect` brings a new headset onto which the call is routed once it connects
//!   (`peer_reconnected`). After the grace the call ends `agent_lost` (and the agent is signed
//!   out if the console never came back, or set away if only the headset is missing).
//!
//! The grace of waiting calls is the engine's timer; the grace of answered calls is the hub's
//! (`Hub::lost`), because a call taken over by staff is no longer the engine's and the engine's
//! view — the agent is on the call — stays true throughout.

use std::time::Instant;

use voicedesk_media_relay::{LegEndReason, LegId};
use voicedesk_protocol::{
    EndReason, ErrorCode, HelpState, LiveCall, MediaLegState, ParkedCall, Role, ServerMessage,
    Supporter,
};
use voicedesk_queue_engine::{AgentId, CallId, Input, Party};

use super::calls::{Refusal, refuse, relay_refusal};
use super::{ConnId, Hub, LegOwner};

/// A side of an answered call that can be lost and waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Side {
    /// The citizen.
    Citizen,
    /// The agent (not staff: a supporter whose connection drops leaves the call).
    Agent,
}

impl Side {
    fn role(self) -> Role {
        match self {
            Side::Citizen => Role::Citizen,
            Side::Agent => Role::Agent,
        }
    }
}

impl Hub {
    /// Whether `side` of `call` is lost and waited for.
    pub(super) fn is_lost(&self, call: &CallId, side: Side) -> bool {
        self.lost.contains_key(&(call.clone(), side))
    }

    /// The sides of a call waited for, for the wallboard.
    pub(super) fn reconnecting(&self, call: &CallId) -> Vec<Role> {
        [Side::Citizen, Side::Agent]
            .into_iter()
            .filter(|side| self.is_lost(call, *side))
            .map(Side::role)
            .collect()
    }

    /// When the next grace period of an answered call ends.
    pub(super) fn next_grace_deadline(&self) -> Option<Instant> {
        self.lost.values().min().copied()
    }

    /// Marks a side of an answered call lost: its grace period starts (once; a second loss
    /// before it is back does not extend it) and everyone else on the call is told.
    pub(super) fn mark_lost(&mut self, call: &CallId, side: Side) {
        let key = (call.clone(), side);
        if self.lost.contains_key(&key) || !self.calls.contains_key(call) {
            return;
        }
        let grace = self.engine.config().reconnect_grace;
        let now = Instant::now();
        let deadline = now.checked_add(grace).unwrap_or(now);
        self.lost.insert(key, deadline);
        self.stats.sides_lost.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(%call, ?side, grace_ms = grace.as_millis() as u64, "connection lost during a call; the call waits");
        let message = ServerMessage::PeerReconnecting {
            call_id: call.0.clone(),
            peer: side.role(),
            reconnect_by_ms: self.wall_ms(deadline),
        };
        self.tell_others(call, side, message);
    }

    /// A side waited for is back: its new leg is connected. Everyone else is told.
    pub(super) fn mark_back(&mut self, call: &CallId, side: Side) {
        if self.lost.remove(&(call.clone(), side)).is_none() {
            return;
        }
        self.stats.sides_back.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(%call, ?side, "lost side back in the call");
        let message = ServerMessage::PeerReconnected { call_id: call.0.clone(), peer: side.role() };
        self.tell_others(call, side, message);
    }

    /// Sends to everyone on the call but `side`: the citizen, the agent, the staff.
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

    /// The grace of every side not back by now is over: its call ends.
    pub(super) async fn grace_expired(&mut self, now: Instant) {
        let due: Vec<(CallId, Side)> =
            self.lost.iter().filter(|(_, at)| **at <= now).map(|(key, _)| key.clone()).collect();
        for (call, side) in due {
            if self.lost.remove(&(call.clone(), side)).is_none() {
                continue; // ended by an earlier one
            }
            tracing::info!(%call, ?side, "grace period over; ending the call");
            match side {
                Side::Citizen => {
                    if self.citizen_ends(now, &call, EndReason::CitizenLost).await.is_err() {
                        self.finish_call(&call, EndReason::CitizenLost, None).await;
                    }
                }
                Side::Agent => self.agent_not_back(now, &call).await,
            }
        }
    }

    /// The agent of `call` did not come back in time. A console that never returned is signed
    /// out; a console without a headset is set away. Either way the call ends `agent_lost`.
    async fn agent_not_back(&mut self, now: Instant, call: &CallId) {
        let Some(agent) = self.calls.get(call).and_then(|c| c.agent.clone()) else {
            self.finish_call(call, EndReason::AgentLost, None).await;
            return;
        };
        let member = self.members.get(&agent.0).map(|m| (m.conn, m.role));
        match member {
            Some((conn, role)) if !self.conns.contains_key(&conn) => {
                self.member_gone(&agent.0, role, Some(EndReason::AgentLost)).await;
            }
            Some(_) => {
                // The console is here, the headset is not: the agent hangs up (and is set away
                // in `after_agents_freed`).
                let hang_up = Input::HangUp { call: call.clone(), by: Party::Agent(agent.clone()) };
                if self.engine.handle_input(now, hang_up).is_err() {
                    self.finish_call(call, EndReason::AgentLost, Some(agent)).await;
                }
                self.carry_out_with(Some(EndReason::AgentLost)).await;
            }
            None => self.finish_call(call, EndReason::AgentLost, Some(agent)).await,
        }
    }

    // ----- the citizen ---------------------------------------------------------------------

    /// The citizen's signaling connection went away (the connection is already forgotten).
    /// A waiting call is parked; an answered call waits for the citizen.
    pub(super) async fn citizen_connection_lost(&mut self, call: &CallId) {
        let Some(c) = self.calls.get(call) else { return };
        if c.parked {
            // Its media went first; the engine's grace already runs.
            return;
        }
        if c.connected || c.taken_over_by.is_some() {
            self.citizen_lost(call).await;
        } else {
            self.park(call).await;
        }
    }

    /// The relay lost a citizen's leg. An answered call waits for a new offer; a waiting call
    /// whose leg was up is parked (the page re-offers on the same connection); a leg that
    /// never connected ends a waiting call as `media_failed` (the citizen's network cannot
    /// carry media at all).
    pub(super) async fn citizen_media_lost(
        &mut self,
        call: &CallId,
        leg: LegId,
        reason: LegEndReason,
    ) {
        let Some(c) = self.calls.get(call) else { return };
        if c.citizen_leg != Some(leg) {
            return;
        }
        let conn = c.citizen_conn;
        let answered = c.connected || c.taken_over_by.is_some();
        self.send(conn, ServerMessage::MediaState { state: MediaLegState::Failed });
        if answered {
            self.citizen_lost(call).await;
        } else if reason == LegEndReason::ConnectTimeout {
            let _ = self.citizen_ends(Instant::now(), call, EndReason::MediaFailed).await;
        } else {
            self.park(call).await;
        }
    }

    /// An answered call's citizen is gone: the leg is closed, the others' slots that heard
    /// the citizen fall silent, the call waits.
    async fn citizen_lost(&mut self, call: &CallId) {
        let Some(c) = self.calls.get_mut(call) else { return };
        if let Some(leg) = c.citizen_leg.take() {
            self.legs.remove(&leg);
            let _ = self.relay.close_leg(leg).await;
        }
        self.mark_lost(call, Side::Citizen);
        if let Err(e) = self.route(call, &[]).await {
            tracing::warn!(%call, error = %e, "re-routing without the citizen failed");
        }
    }

    /// A waiting call whose citizen is gone keeps its place for the grace period, offered to
    /// nobody; its media leg is closed (a rejoin brings a new one).
    async fn park(&mut self, call: &CallId) {
        let now = Instant::now();
        if let Err(e) =
            self.engine.handle_input(now, Input::CitizenDisconnected { call: call.clone() })
        {
            tracing::warn!(%call, error = %e, "engine refused to park a call");
            let _ = self.citizen_ends(now, call, EndReason::CitizenDisconnected).await;
            return;
        }
        self.drop_voice_draft_of(call).await;
        if let Some(c) = self.calls.get_mut(call) {
            c.parked = true;
            if let Some(leg) = c.citizen_leg.take() {
                self.legs.remove(&leg);
                let _ = self.relay.close_leg(leg).await;
            }
        }
        tracing::info!(%call, "citizen gone while waiting; call parked");
        self.carry_out().await;
    }

    /// The parked call of a citizen identity, for `resumed`.
    pub(super) fn parked_call_of(&self, citizen_id: &str) -> Option<ParkedCall> {
        self.calls.iter().find(|(_, c)| c.parked && c.citizen_id == citizen_id).map(|(id, c)| {
            ParkedCall {
                call_id: id.0.clone(),
                service: c.service.clone(),
                position: self.engine.position(id).unwrap_or(0),
            }
        })
    }

    /// The answered call waiting for a citizen identity, for `resumed`.
    pub(super) fn active_call_of(&self, citizen_id: &str) -> Option<LiveCall> {
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
            Side::Agent => "市民 Citizen".to_owned(),
        };
        let reconnect_by = self.lost.get(&(call.clone(), side)).copied().unwrap_or(Instant::now());
        Some(LiveCall {
            call_id: call.0.clone(),
            service: c.service.clone(),
            peer_name,
            answered_at_ms: c.answered_at_ms.map_or(0, |ms| ms.max(0) as u64),
            reconnect_by_ms: self.wall_ms(reconnect_by),
        })
    }

    /// `rejoin_call`: a new media offer for one of this citizen's calls replaces its leg.
    pub(super) async fn rejoin_call(
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
        let (parked, answered) = (c.parked, c.connected || c.taken_over_by.is_some());
        if answered {
            self.rejoin_answered(conn, call, sdp).await
        } else {
            self.rejoin_waiting(conn, call, sdp, parked).await
        }
    }

    /// A new leg for a waiting call: a parked call is unparked and keeps its place; a queued
    /// call's leg is replaced. Answered with `call_queued` and the position.
    async fn rejoin_waiting(
        &mut self,
        conn: ConnId,
        call: CallId,
        sdp: String,
        parked: bool,
    ) -> Result<(), Refusal> {
        let (leg, answer) = self
            .relay
            .create_leg(sdp, Role::Citizen.receive_slots())
            .await
            .map_err(relay_refusal)?;
        if parked {
            if let Err(e) = self
                .engine
                .handle_input(Instant::now(), Input::CitizenReconnected { call: call.clone() })
            {
                let _ = self.relay.close_leg(leg).await;
                return Err(refuse(e.code(), e.to_string()));
            }
        } else {
            // A voice message recorded from the old leg is dropped with it.
            self.drop_voice_draft_of(&call).await;
        }
        self.hold(leg).await;
        self.legs.insert(leg, LegOwner::Citizen(call.clone()));
        let Some(c) = self.calls.get_mut(&call) else { return Ok(()) };
        c.parked = false;
        c.citizen_conn = conn;
        let old = c.citizen_leg.replace(leg);
        if let Some(old) = old {
            self.legs.remove(&old);
            let _ = self.relay.close_leg(old).await;
        }
        if let Some(conn) = self.conns.get_mut(&conn) {
            conn.call = Some(call.clone());
        }
        tracing::info!(%call, %leg, parked, "waiting call rejoined with a new leg");
        self.send(conn, ServerMessage::CallQueued { call_id: call.0.clone(), sdp: answer });
        // The engine sends positions only when they change; the new leg's page needs one now.
        if let Some(view) = self.engine.call(&call)
            && let Some(position) = view.position
        {
            let estimated_wait_ms = view.estimated_wait.map(|d| d.as_millis() as u64);
            let message = ServerMessage::QueuePosition {
                call_id: call.0.clone(),
                position,
                estimated_wait_ms,
            };
            self.send(conn, message);
        }
        self.carry_out().await;
        Ok(())
    }

    /// A new leg for an answered call takes the old one's place in the routing. The others
    /// hear the citizen again once it connects (`mark_back` on `LegConnected`).
    async fn rejoin_answered(
        &mut self,
        conn: ConnId,
        call: CallId,
        sdp: String,
    ) -> Result<(), Refusal> {
        let (leg, answer) = self
            .relay
            .create_leg(sdp, Role::Citizen.receive_slots())
            .await
            .map_err(relay_refusal)?;
        // Held: if the agent is lost too, the citizen hears the tune rather than nothing.
        self.hold(leg).await;
        self.legs.insert(leg, LegOwner::Citizen(call.clone()));
        let Some(c) = self.calls.get_mut(&call) else { return Ok(()) };
        c.citizen_conn = conn;
        let old = c.citizen_leg.replace(leg);
        let heard = c.citizen_heard.clone();
        if let Some(old) = old {
            self.legs.remove(&old);
            let _ = self.relay.close_leg(old).await;
        }
        if let Some(conn) = self.conns.get_mut(&conn) {
            conn.call = Some(call.clone());
        }
        // Until the new leg connects nobody hears the citizen (a same-connection re-offer
        // after an ICE failure included).
        self.mark_lost(&call, Side::Citizen);
        if let Err(e) = self.route(&call, &[]).await {
            tracing::warn!(%call, error = %e, "routing the rejoined citizen failed");
        }
        tracing::info!(%call, %leg, "answered call rejoined with a new leg");
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
                reconnect_by_ms: self.wall_ms(deadline),
            };
            self.send(conn, message);
        }
        Ok(())
    }

    // ----- the agent -----------------------------------------------------------------------

    /// An agent's console dropped during a call (the connection is already forgotten): the
    /// member stays, the headset is closed, the call waits for the agent.
    pub(super) async fn agent_detached(&mut self, user_id: &str, call: &CallId) {
        if let Some(m) = self.members.get_mut(user_id) {
            m.leg_connected = false;
            if let Some(leg) = m.leg.take() {
                self.legs.remove(&leg);
                let _ = self.relay.close_leg(leg).await;
            }
        }
        tracing::info!(%call, agent = user_id, "agent console lost during a call; waiting for it");
        self.mark_lost(call, Side::Agent);
        if let Err(e) = self.route(call, &[]).await {
            tracing::warn!(%call, error = %e, "re-routing without the agent failed");
        }
    }

    /// An agent's console is back (signed in with the same session) while the call waits: it
    /// is told its state, the call, who supports it and whether the citizen is waited for too.
    pub(super) fn agent_reattached(&mut self, user_id: &str, conn: ConnId) {
        let agent = AgentId(user_id.to_owned());
        let state = self.engine.agent(&agent).map(|a| ServerMessage::AgentState {
            state: a.activity,
            reason: a.reason.map(str::to_owned),
            since_ms: self.wall_ms(a.since),
            until_ms: a.after_call_work_until.map(|at| self.wall_ms(at)),
        });
        if let Some(state) = state {
            self.send(conn, state);
        }
        let Some(call) = self.member_call(user_id) else { return };
        tracing::info!(%call, agent = user_id, "agent console back during a call");
        if let Some(live) = self.live_call(&call, Side::Agent) {
            self.send(conn, ServerMessage::CallResumed(live));
        }
        let Some(c) = self.calls.get(&call) else { return };
        let supporters: Vec<Supporter> = c
            .supporters
            .iter()
            .map(|s| Supporter {
                user_id: s.user_id.clone(),
                name: self.members.get(&s.user_id).map(|m| m.name.clone()).unwrap_or_default(),
                mode: s.mode,
            })
            .collect();
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
                reconnect_by_ms: self.wall_ms(deadline),
            };
            self.send(conn, message);
        }
    }
}
