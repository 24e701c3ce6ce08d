//! What the hub does with client messages, engine commands and relay events.

use std::sync::atomic::Ordering;
use std::time::Instant;

use voicedesk_media_relay::{LegId, RelayError, RelayEvent, SlotFeed, SlotRef};
use voicedesk_protocol::{
    AgentAvailability, ClientMessage, EndReason, ErrorCode, MediaLegState, Role, ServerMessage,
};
use voicedesk_queue_engine::{AgentId, CallId, Command, Input, Party};
use voicedesk_store::NewCall;

use super::{ActiveCall, ConnId, Hub, Identity, LegOwner};
use crate::clock::now_ms;

/// A refused message: the error code and text sent back.
pub(super) type Refusal = (ErrorCode, String);

fn refuse(code: ErrorCode, text: impl Into<String>) -> Refusal {
    (code, text.into())
}

/// The slot a participant hears the other party on (DESIGN.md: citizen slot 0 = agent,
/// agent slot 0 = citizen).
const PEER_SLOT: u8 = 0;

impl Hub {
    pub(super) async fn handle_message(
        &mut self,
        conn: ConnId,
        message: ClientMessage,
    ) -> Result<(), Refusal> {
        let identity = self
            .conns
            .get(&conn)
            .map(|c| c.identity.clone())
            .ok_or_else(|| refuse(ErrorCode::Internal, "connection is not registered"))?;
        let now = Instant::now();
        match (identity, message) {
            (Identity::Citizen { citizen_id }, ClientMessage::Call { service, sdp }) => {
                self.place_call(conn, citizen_id, service, sdp).await
            }
            (Identity::Citizen { .. }, ClientMessage::HangUp { call_id }) => {
                let call = CallId(call_id);
                if self.conns.get(&conn).and_then(|c| c.call.as_ref()) != Some(&call) {
                    return Err(refuse(ErrorCode::UnknownCall, format!("you have no call {call}")));
                }
                self.engine_input(now, Input::HangUp { call, by: Party::Citizen }).await
            }
            (Identity::Agent { user }, message) => {
                let agent = AgentId(user.id);
                self.agent_message(now, agent, message).await
            }
            (_, message) => Err(refuse(
                ErrorCode::Forbidden,
                format!("\"{}\" is not allowed for this connection", message.type_name()),
            )),
        }
    }

    async fn agent_message(
        &mut self,
        now: Instant,
        agent: AgentId,
        message: ClientMessage,
    ) -> Result<(), Refusal> {
        match message {
            ClientMessage::MediaConnect { sdp } => self.connect_headset(agent, sdp).await,
            ClientMessage::SetState { state: AgentAvailability::Available, .. } => {
                let ready = self.agents.get(&agent).is_some_and(|p| p.leg_connected);
                if !ready {
                    return Err(refuse(
                        ErrorCode::InvalidState,
                        "connect the headset (media_connect) and wait until it is connected before becoming available",
                    ));
                }
                self.engine_input(now, Input::AgentAvailable { agent }).await
            }
            ClientMessage::SetState { state: AgentAvailability::Away, reason } => {
                self.engine_input(now, Input::AgentAway { agent, reason }).await
            }
            ClientMessage::Accept { call_id } => {
                self.engine_input(now, Input::Accept { agent, call: CallId(call_id) }).await
            }
            ClientMessage::Reject { call_id } => {
                self.engine_input(now, Input::Reject { agent, call: CallId(call_id) }).await
            }
            ClientMessage::HangUp { call_id } => {
                self.engine_input(
                    now,
                    Input::HangUp { call: CallId(call_id), by: Party::Agent(agent) },
                )
                .await
            }
            other => Err(refuse(
                ErrorCode::Forbidden,
                format!("\"{}\" is not allowed for an agent", other.type_name()),
            )),
        }
    }

    /// Feeds the engine and carries out what it decided.
    pub(super) async fn engine_input(&mut self, now: Instant, input: Input) -> Result<(), Refusal> {
        self.engine.handle_input(now, input).map_err(|e| refuse(e.code(), e.to_string()))?;
        self.carry_out().await;
        Ok(())
    }

    async fn place_call(
        &mut self,
        conn: ConnId,
        citizen_id: String,
        service: Option<String>,
        sdp: String,
    ) -> Result<(), Refusal> {
        if self.conns.get(&conn).is_some_and(|c| c.call.is_some()) {
            return Err(refuse(ErrorCode::InvalidState, "you already have a call in progress"));
        }
        if service.as_ref().is_some_and(|s| s.chars().count() > 200) {
            return Err(refuse(ErrorCode::UnknownType, "service is longer than 200 characters"));
        }
        let (leg, answer) = self
            .relay
            .create_leg(sdp, Role::Citizen.receive_slots())
            .await
            .map_err(relay_refusal)?;
        let call = CallId(uuid::Uuid::new_v4().to_string());
        let record = NewCall {
            id: call.0.clone(),
            citizen_session: citizen_id,
            service: service.clone(),
            queued_at_ms: now_ms(),
        };
        if let Err(e) = self.store.insert_call(&record).await {
            tracing::error!(error = %e, "could not record a new call");
            let _ = self.relay.close_leg(leg).await;
            return Err(refuse(
                ErrorCode::Internal,
                "the call could not be recorded; please try again",
            ));
        }
        self.stats.calls_total.fetch_add(1, Ordering::Relaxed);
        self.legs.insert(leg, LegOwner::Citizen(call.clone()));
        self.calls.insert(
            call.clone(),
            ActiveCall { citizen_conn: conn, citizen_leg: leg, agent: None, connected: false },
        );
        if let Some(c) = self.conns.get_mut(&conn) {
            c.call = Some(call.clone());
        }
        tracing::info!(%call, %leg, "call queued");
        self.send(conn, ServerMessage::CallQueued { call_id: call.0.clone(), sdp: answer });
        if let Err(e) = self
            .engine
            .handle_input(Instant::now(), Input::CallArrived { call: call.clone(), service })
        {
            tracing::error!(%call, error = %e, "engine refused a new call");
            self.finish_call(&call, EndReason::NoAgents, None).await;
        }
        self.carry_out().await;
        Ok(())
    }

    async fn connect_headset(&mut self, agent: AgentId, sdp: String) -> Result<(), Refusal> {
        let Some(presence) = self.agents.get(&agent) else {
            return Err(refuse(ErrorCode::InvalidState, "agent is not signed in"));
        };
        let conn = presence.conn;
        let old_leg = presence.leg;
        let (leg, answer) =
            self.relay.create_leg(sdp, Role::Agent.receive_slots()).await.map_err(relay_refusal)?;
        if let Some(old) = old_leg {
            // A reconnect replaces the headset; an ongoing call keeps going on the new leg
            // once it connects.
            self.legs.remove(&old);
            let _ = self.relay.close_leg(old).await;
        }
        if let Some(p) = self.agents.get_mut(&agent) {
            p.leg = Some(leg);
            p.leg_connected = false;
        }
        self.legs.insert(leg, LegOwner::Agent(agent));
        self.send(conn, ServerMessage::MediaAnswer { sdp: answer });
        Ok(())
    }

    /// The citizen's connection went away.
    pub(super) async fn citizen_left(&mut self, call: &CallId) {
        let input = Input::HangUp { call: call.clone(), by: Party::Citizen };
        if self.engine.handle_input(Instant::now(), input).is_ok() {
            // Record the real cause rather than the engine's generic hang-up.
            self.carry_out_with(Some(EndReason::CitizenDisconnected)).await;
        }
    }

    /// Carries out every command the engine queued.
    pub(super) async fn carry_out(&mut self) {
        self.carry_out_with(None).await
    }

    async fn carry_out_with(&mut self, end_reason_override: Option<EndReason>) {
        while let Some(command) = self.engine.poll_command() {
            match command {
                Command::Offer { call, agent, ring_timeout, waited, service } => {
                    if let Err(e) = self.store.mark_call_offered(&call.0, &agent.0, now_ms()).await
                    {
                        tracing::error!(%call, error = %e, "could not record an offer");
                    }
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.agent = Some(agent.clone());
                    }
                    if let Some(conn) = self.agents.get(&agent).map(|p| p.conn) {
                        self.send(
                            conn,
                            ServerMessage::CallOffered {
                                call_id: call.0,
                                service,
                                waited_ms: waited.as_millis() as u64,
                                ring_timeout_ms: ring_timeout.as_millis() as u64,
                            },
                        );
                    }
                }
                Command::WithdrawOffer { call, agent, reason } => {
                    if let Some(c) = self.calls.get_mut(&call)
                        && c.agent.as_ref() == Some(&agent)
                        && !c.connected
                    {
                        c.agent = None;
                    }
                    if let Some(conn) = self.agents.get(&agent).map(|p| p.conn) {
                        self.send(conn, ServerMessage::OfferWithdrawn { call_id: call.0, reason });
                    }
                }
                Command::Connect { call, agent } => self.bridge(call, agent).await,
                Command::End { call, agent, reason } => {
                    // A dropped connection ends a talking call as a disconnect, not a hang-up.
                    let reason = match (end_reason_override, reason) {
                        (Some(cause), EndReason::CitizenHangUp) => cause,
                        _ => reason,
                    };
                    self.finish_call(&call, reason, agent).await;
                }
                Command::Position { call, position } => {
                    if let Some(conn) = self.calls.get(&call).map(|c| c.citizen_conn) {
                        self.send(conn, ServerMessage::QueuePosition { call_id: call.0, position });
                    }
                }
                Command::AgentState { agent, state, reason, since } => {
                    let since_ms = self.wall_ms(since);
                    if let Some(conn) = self.agents.get(&agent).map(|p| p.conn) {
                        self.send(conn, ServerMessage::AgentState { state, reason, since_ms });
                    }
                }
            }
        }
    }

    /// Connects citizen and agent in the relay, records the answer, tells both.
    async fn bridge(&mut self, call: CallId, agent: AgentId) {
        let (Some(citizen_leg), Some(agent_leg)) = (
            self.calls.get(&call).map(|c| c.citizen_leg),
            self.agents.get(&agent).and_then(|p| p.leg),
        ) else {
            tracing::error!(%call, %agent, "bridge without both legs");
            let _ = self.engine.handle_input(Instant::now(), Input::MediaFailed { call });
            return;
        };
        let feeds = vec![
            SlotFeed {
                slot: SlotRef { leg: citizen_leg, slot: PEER_SLOT },
                source: Some(agent_leg),
            },
            SlotFeed {
                slot: SlotRef { leg: agent_leg, slot: PEER_SLOT },
                source: Some(citizen_leg),
            },
        ];
        if let Err(e) = self.relay.set_feeds(feeds).await {
            tracing::warn!(%call, error = %e, "bridging failed");
            let _ = self.engine.handle_input(Instant::now(), Input::MediaFailed { call });
            return;
        }
        if let Err(e) = self.store.mark_call_answered(&call.0, &agent.0, now_ms()).await {
            tracing::error!(%call, error = %e, "could not record an answer");
        }
        self.stats.calls_answered.fetch_add(1, Ordering::Relaxed);
        let agent_name =
            self.agents.get(&agent).map(|p| p.display_name.clone()).unwrap_or_default();
        let Some(c) = self.calls.get_mut(&call) else { return };
        c.connected = true;
        c.agent = Some(agent.clone());
        let citizen_conn = c.citizen_conn;
        tracing::info!(%call, %agent, "call connected");
        self.send(
            citizen_conn,
            ServerMessage::CallConnected { call_id: call.0.clone(), peer_name: agent_name },
        );
        if let Some(conn) = self.agents.get(&agent).map(|p| p.conn) {
            self.send(
                conn,
                ServerMessage::CallConnected {
                    call_id: call.0, peer_name: "市民 Citizen".into()
                },
            );
        }
    }

    /// Ends a call everywhere: relay, record, both sides.
    pub(super) async fn finish_call(
        &mut self,
        call: &CallId,
        reason: EndReason,
        agent: Option<AgentId>,
    ) {
        let Some(active) = self.calls.remove(call) else { return };
        let agent = agent.or(active.agent.clone());
        if let Some(agent_leg) = agent.as_ref().and_then(|a| self.agents.get(a)).and_then(|p| p.leg)
        {
            let silence =
                SlotFeed { slot: SlotRef { leg: agent_leg, slot: PEER_SLOT }, source: None };
            let _ = self.relay.set_feeds(vec![silence]).await;
        }
        self.legs.remove(&active.citizen_leg);
        let _ = self.relay.close_leg(active.citizen_leg).await;
        if let Err(e) = self.store.mark_call_ended(&call.0, now_ms(), reason.as_str()).await {
            tracing::error!(%call, error = %e, "could not record the end of a call");
        }
        tracing::info!(%call, reason = reason.as_str(), "call ended");
        if let Some(c) = self.conns.get_mut(&active.citizen_conn)
            && c.call.as_ref() == Some(call)
        {
            c.call = None;
        }
        self.send(
            active.citizen_conn,
            ServerMessage::CallEnded { call_id: call.0.clone(), reason },
        );
        if let Some(conn) = agent.as_ref().and_then(|a| self.agents.get(a)).map(|p| p.conn)
            && (active.connected || reason != EndReason::Abandoned)
        {
            self.send(conn, ServerMessage::CallEnded { call_id: call.0.clone(), reason });
        }
    }

    pub(super) async fn handle_relay_event(&mut self, event: RelayEvent) {
        match event {
            RelayEvent::LegConnected { leg } => match self.legs.get(&leg).cloned() {
                Some(LegOwner::Agent(agent)) => {
                    let Some(presence) = self.agents.get_mut(&agent) else { return };
                    presence.leg_connected = true;
                    let conn = presence.conn;
                    self.send(conn, ServerMessage::MediaState { state: MediaLegState::Connected });
                    // A headset replaced during a call: bridge the call onto the new leg.
                    let ongoing = self
                        .calls
                        .iter()
                        .find(|(_, c)| c.connected && c.agent.as_ref() == Some(&agent));
                    if let Some((_, c)) = ongoing {
                        let feeds = vec![
                            SlotFeed {
                                slot: SlotRef { leg: c.citizen_leg, slot: PEER_SLOT },
                                source: Some(leg),
                            },
                            SlotFeed {
                                slot: SlotRef { leg, slot: PEER_SLOT },
                                source: Some(c.citizen_leg),
                            },
                        ];
                        let _ = self.relay.set_feeds(feeds).await;
                    }
                }
                Some(LegOwner::Citizen(call)) => {
                    if let Some(conn) = self.calls.get(&call).map(|c| c.citizen_conn) {
                        self.send(
                            conn,
                            ServerMessage::MediaState { state: MediaLegState::Connected },
                        );
                    }
                }
                None => {}
            },
            RelayEvent::LegEnded { leg, reason } => {
                let Some(owner) = self.legs.remove(&leg) else { return };
                tracing::info!(%leg, ?reason, ?owner, "media leg lost");
                match owner {
                    LegOwner::Citizen(call) => {
                        if let Some(conn) = self.calls.get(&call).map(|c| c.citizen_conn) {
                            self.send(
                                conn,
                                ServerMessage::MediaState { state: MediaLegState::Failed },
                            );
                        }
                        let _ =
                            self.engine_input(Instant::now(), Input::MediaFailed { call }).await;
                    }
                    LegOwner::Agent(agent) => {
                        let Some(presence) = self.agents.get_mut(&agent) else { return };
                        presence.leg = None;
                        presence.leg_connected = false;
                        let conn = presence.conn;
                        self.send(conn, ServerMessage::MediaState { state: MediaLegState::Failed });
                        let call = self
                            .calls
                            .iter()
                            .find(|(_, c)| c.connected && c.agent.as_ref() == Some(&agent))
                            .map(|(id, _)| id.clone());
                        if let Some(call) = call {
                            let _ = self
                                .engine_input(Instant::now(), Input::MediaFailed { call })
                                .await;
                        }
                        let away =
                            Input::AgentAway { agent, reason: Some("headset disconnected".into()) };
                        let _ = self.engine_input(Instant::now(), away).await;
                    }
                }
            }
        }
    }

    /// Ends every call as `server_shutdown`, recorded, and tells everyone.
    pub(super) async fn shutdown(&mut self) {
        let calls: Vec<CallId> = self.calls.keys().cloned().collect();
        for call in calls {
            self.finish_call(&call, EndReason::ServerShutdown, None).await;
        }
        match self.store.end_open_calls(now_ms(), EndReason::ServerShutdown.as_str()).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(n, "ended call records left open"),
            Err(e) => tracing::error!(error = %e, "could not close open call records"),
        }
        let legs: Vec<LegId> = self.legs.keys().copied().collect();
        for leg in legs {
            let _ = self.relay.close_leg(leg).await;
        }
        self.conns.clear();
        tracing::info!("hub stopped: every call ended and recorded");
    }
}

fn relay_refusal(e: RelayError) -> Refusal {
    match e {
        RelayError::BadSdp(why) => refuse(ErrorCode::BadSdp, why),
        other => {
            tracing::error!(error = %other, "relay refused a leg");
            refuse(ErrorCode::MediaUnavailable, "the media relay cannot take the call right now")
        }
    }
}
