//! Client messages, the citizen's call, the engine's commands, and ending calls.

use std::sync::atomic::Ordering;
use std::time::Instant;

use voicedesk_media_relay::{LegId, RelayError, SlotFeed};
use voicedesk_protocol::{
    AgentAvailability, ClientMessage, EndReason, ErrorCode, Role, ServerMessage, SupportMode,
};
use voicedesk_queue_engine::{AgentId, CallId, Command, Input, Party, TurnAway};
use voicedesk_store::NewCall;

use super::fallback::RatingTarget;
use super::{ActiveCall, ConnId, Hub, Identity, LegOwner};
use crate::clock::now_ms;
use crate::support::{CallLegs, call_feeds, silence};

/// Calls an agent may still wrap up (the most recent ones of the session).
const MAX_WRAP_UP_BACKLOG: usize = 5;

/// A refused message: the error code and text sent back.
pub(super) type Refusal = (ErrorCode, String);

pub(super) fn refuse(code: ErrorCode, text: impl Into<String>) -> Refusal {
    (code, text.into())
}

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
            (Identity::Citizen { citizen_id }, ClientMessage::RejoinCall { call_id, sdp }) => {
                self.rejoin_call(conn, &citizen_id, CallId(call_id), sdp).await
            }
            (Identity::Citizen { .. }, ClientMessage::Ask { text }) => self.ask(conn, text),
            (
                Identity::Citizen { .. },
                ClientMessage::LeaveMessage { client_id, service, name, phone, body, call_id },
            ) => self.leave_message(conn, client_id, service, name, phone, body, call_id).await,
            (
                Identity::Citizen { .. },
                ClientMessage::StartVoiceMessage { call_id, sdp, service },
            ) => self.start_voice_message(conn, call_id, sdp, service).await,
            (
                Identity::Citizen { .. },
                ClientMessage::FinishVoiceMessage { client_id, name, phone },
            ) => self.finish_voice_message(conn, client_id, name, phone).await,
            (Identity::Citizen { .. }, ClientMessage::CancelVoiceMessage) => {
                self.cancel_voice_message(conn).await
            }
            (
                Identity::Citizen { citizen_id },
                ClientMessage::Rate { call_id, ticket, code, level, comment },
            ) => {
                let target = match (call_id, ticket, code) {
                    (Some(call), None, None) => RatingTarget::Call(call),
                    (None, Some(ticket), Some(code)) => RatingTarget::Ticket { ticket, code },
                    _ => {
                        return Err(refuse(
                            ErrorCode::InvalidState,
                            "rate either a call_id, or a ticket with its code",
                        ));
                    }
                };
                self.rate(conn, &citizen_id, target, level, comment).await
            }
            (Identity::Citizen { citizen_id }, ClientMessage::HangUp { call_id }) => {
                let call = CallId(call_id);
                let on_this_connection =
                    self.conns.get(&conn).and_then(|c| c.call.as_ref()) == Some(&call);
                // After a resume, a call left behind by the old connection (parked, or
                // answered and waiting for a new offer) may be ended without rejoining it.
                let left_behind = self.calls.get(&call).is_some_and(|c| {
                    c.citizen_id == citizen_id && !self.conns.contains_key(&c.citizen_conn)
                });
                if !on_this_connection && !left_behind {
                    return Err(refuse(ErrorCode::UnknownCall, format!("you have no call {call}")));
                }
                self.citizen_ends(now, &call, EndReason::CitizenHangUp).await
            }
            (Identity::Member { user }, ClientMessage::MediaConnect { sdp }) => {
                self.connect_headset(&user.id, user.role, sdp).await
            }
            (Identity::Member { user }, message) if user.role == Role::Agent => {
                self.agent_message(now, AgentId(user.id), message).await
            }
            (Identity::Member { user }, message) if user.role.is_staff() => {
                self.staff_message(&user.id, message).await
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
            ClientMessage::SetState { state: AgentAvailability::Available, .. } => {
                if !self.members.get(&agent.0).is_some_and(|m| m.leg_connected) {
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
                let input = Input::HangUp { call: CallId(call_id), by: Party::Agent(agent) };
                self.engine_input(now, input).await
            }
            ClientMessage::RequestHelp { call_id, reason } => {
                self.request_help(&agent, CallId(call_id), reason)
            }
            ClientMessage::CancelHelp { call_id } => self.cancel_help(&agent, CallId(call_id)),
            ClientMessage::Transfer { call_id, service } => {
                self.transfer(now, agent, CallId(call_id), &service).await
            }
            ClientMessage::WrapUp { call_id, disposition, notes } => {
                self.wrap_up(&agent, CallId(call_id), disposition, notes).await
            }
            other => Err(refuse(
                ErrorCode::Forbidden,
                format!("\"{}\" is not allowed for an agent", other.type_name()),
            )),
        }
    }

    async fn staff_message(
        &mut self,
        user_id: &str,
        message: ClientMessage,
    ) -> Result<(), Refusal> {
        match message {
            ClientMessage::JoinCall { call_id, mode } => {
                self.join_call(user_id, CallId(call_id), mode).await
            }
            ClientMessage::SetMode { call_id, mode } => {
                self.set_mode(user_id, CallId(call_id), mode).await
            }
            ClientMessage::LeaveCall { call_id } => self.leave_call(user_id, CallId(call_id)).await,
            ClientMessage::AcceptHelp { call_id } => {
                let call = CallId(call_id);
                if self.calls.get(&call).is_none_or(|c| c.help.is_none()) {
                    return Err(refuse(
                        ErrorCode::InvalidState,
                        "no open help request for this call",
                    ));
                }
                self.join_call(user_id, call, SupportMode::Whisper).await
            }
            other => Err(refuse(
                ErrorCode::Forbidden,
                format!("\"{}\" is not allowed for staff", other.type_name()),
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
            return Err(refuse(ErrorCode::UnknownService, "service is longer than 200 characters"));
        }
        let route = self.routing.route(service.as_deref()).ok_or_else(|| {
            refuse(
                ErrorCode::UnknownService,
                format!("unknown service {:?}; see GET /api/catalogue", service.as_deref()),
            )
        })?;
        let call = CallId(uuid::Uuid::new_v4().to_string());
        let queued_at_ms = now_ms();
        let record = NewCall {
            id: call.0.clone(),
            citizen_session: citizen_id.clone(),
            service: service.clone(),
            queued_at_ms,
            skill_id: Some(route.skill.0.clone()),
            priority: i32::from(route.priority),
        };
        // A broken offer is refused as such, whatever the queue's state.
        voicedesk_media_relay::sdp::check_offer(&sdp, Role::Citizen.receive_slots())
            .map_err(relay_refusal)?;
        // Closed, full or nobody with the skill: told at once, before any media is set up.
        // The record keeps the outcome for the statistics.
        if let Err(turned_away) = self.engine.admission(&route.skill, Instant::now()) {
            let reason = turned_away.end_reason();
            self.record_new_call(&record).await?;
            if let Err(e) = self.store.mark_call_ended(&call.0, now_ms(), reason.as_str()).await {
                tracing::error!(%call, error = %e, "could not record a turned-away call");
            }
            let opens_at_ms = match turned_away {
                TurnAway::Closed { opens_at_ms } => opens_at_ms.map(|ms| ms.max(0) as u64),
                _ => None,
            };
            tracing::info!(%call, skill = %route.skill, reason = reason.as_str(), "call turned away");
            if let Some(c) = self.conns.get_mut(&conn) {
                c.citizen.turned_away = Some(reason);
            }
            self.send(conn, ServerMessage::CallEnded { call_id: call.0, reason, opens_at_ms });
            return Ok(());
        }
        let (leg, answer) = self
            .relay
            .create_leg(sdp, Role::Citizen.receive_slots())
            .await
            .map_err(relay_refusal)?;
        if let Err(refusal) = self.record_new_call(&record).await {
            let _ = self.relay.close_leg(leg).await;
            return Err(refusal);
        }
        self.hold(leg).await;
        self.stats.calls_total.fetch_add(1, Ordering::Relaxed);
        self.legs.insert(leg, LegOwner::Citizen(call.clone()));
        let transcript = self.hand_off_transcript(conn);
        self.calls.insert(
            call.clone(),
            ActiveCall {
                citizen_conn: conn,
                citizen_leg: Some(leg),
                citizen_id,
                parked: false,
                service: service.clone(),
                skill: route.skill.0.clone(),
                transfers: 0,
                transcript,
                queued_at_ms,
                answered_at_ms: None,
                agent: None,
                connected: false,
                supporters: Vec::new(),
                taken_over_by: None,
                help: None,
                citizen_heard: Vec::new(),
            },
        );
        if let Some(c) = self.conns.get_mut(&conn) {
            c.call = Some(call.clone());
        }
        tracing::info!(%call, %leg, skill = %route.skill, "call queued");
        self.send(conn, ServerMessage::CallQueued { call_id: call.0.clone(), sdp: answer });
        let arrived = Input::CallArrived {
            call: call.clone(),
            skill: route.skill,
            priority: route.priority,
            service,
        };
        if let Err(e) = self.engine.handle_input(Instant::now(), arrived) {
            tracing::error!(%call, error = %e, "engine refused a new call");
            self.finish_call(&call, EndReason::NoAgents, None).await;
        }
        self.carry_out().await;
        Ok(())
    }

    async fn record_new_call(&self, record: &NewCall) -> Result<(), Refusal> {
        self.store.insert_call(record).await.map_err(|e| {
            tracing::error!(error = %e, "could not record a new call");
            refuse(ErrorCode::Internal, "the call could not be recorded; please try again")
        })
    }

    /// The citizen ends the call (hang-up, gone, media lost). A call taken over by staff is
    /// no longer the engine's: the hub ends it itself.
    pub(super) async fn citizen_ends(
        &mut self,
        now: Instant,
        call: &CallId,
        reason: EndReason,
    ) -> Result<(), Refusal> {
        if self.calls.get(call).is_some_and(|c| c.taken_over_by.is_some()) {
            self.finish_call(call, reason, None).await;
            return Ok(());
        }
        let input = match reason {
            EndReason::MediaFailed => Input::MediaFailed { call: call.clone() },
            _ => Input::HangUp { call: call.clone(), by: Party::Citizen },
        };
        self.engine.handle_input(now, input).map_err(|e| refuse(e.code(), e.to_string()))?;
        let override_reason =
            matches!(reason, EndReason::CitizenDisconnected | EndReason::CitizenLost)
                .then_some(reason);
        self.carry_out_with(override_reason).await;
        Ok(())
    }

    /// Carries out every command the engine queued.
    pub(super) async fn carry_out(&mut self) {
        self.carry_out_with(None).await
    }

    pub(super) async fn carry_out_with(&mut self, end_reason_override: Option<EndReason>) {
        while let Some(command) = self.engine.poll_command() {
            match command {
                Command::Offer { call, agent, ring_timeout, waited, service, skill } => {
                    if let Err(e) = self.store.mark_call_offered(&call.0, &agent.0, now_ms()).await
                    {
                        tracing::error!(%call, error = %e, "could not record an offer");
                    }
                    let priority = self.engine.call(&call).map_or(0, |v| v.priority);
                    let mut transfers = 0;
                    let mut transcript = Vec::new();
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.agent = Some(agent.clone());
                        transfers = c.transfers;
                        transcript = c.transcript.clone();
                    }
                    let offered = ServerMessage::CallOffered {
                        call_id: call.0,
                        service,
                        priority,
                        skill: skill.0,
                        transfers,
                        transcript,
                        waited_ms: waited.as_millis() as u64,
                        ring_timeout_ms: ring_timeout.as_millis() as u64,
                    };
                    self.send_to_member(&agent.0, offered);
                }
                Command::WithdrawOffer { call, agent, reason } => {
                    if let Some(c) = self.calls.get_mut(&call)
                        && c.agent.as_ref() == Some(&agent)
                        && !c.connected
                    {
                        c.agent = None;
                    }
                    let withdrawn = ServerMessage::OfferWithdrawn { call_id: call.0, reason };
                    self.send_to_member(&agent.0, withdrawn);
                }
                Command::Connect { call, agent } => self.bridge(call, agent).await,
                Command::Transferred { call, agent, skill } => {
                    self.transferred(call, agent, skill).await
                }
                Command::WaitLimitReached { call, waited } => {
                    if let Some(conn) = self.calls.get(&call).map(|c| c.citizen_conn) {
                        let waited_ms = waited.as_millis() as u64;
                        self.send(
                            conn,
                            ServerMessage::WaitLimitReached { call_id: call.0, waited_ms },
                        );
                    }
                }
                Command::End { call, agent, reason: EndReason::TakenOver } => {
                    self.hand_over(&call, agent).await
                }
                Command::End { call, agent, reason } => {
                    // A dropped connection ends a talking call as a disconnect, not a hang-up.
                    let reason = match (end_reason_override, reason) {
                        // An agent waited for in vain: the engine saw a logout or a hang-up.
                        (
                            Some(EndReason::AgentLost),
                            EndReason::AgentDisconnected | EndReason::AgentHangUp,
                        ) => EndReason::AgentLost,
                        (Some(EndReason::AgentLost), reason) => reason,
                        (Some(cause), EndReason::CitizenHangUp) => cause,
                        // A waiting citizen who left a message did not give up.
                        (Some(EndReason::MessageLeft), EndReason::Abandoned) => {
                            EndReason::MessageLeft
                        }
                        _ => reason,
                    };
                    self.finish_call(&call, reason, agent).await;
                }
                Command::Position { call, position, estimated_wait } => {
                    if let Some(conn) = self.calls.get(&call).map(|c| c.citizen_conn) {
                        let estimated_wait_ms = estimated_wait.map(|d| d.as_millis() as u64);
                        let message = ServerMessage::QueuePosition {
                            call_id: call.0,
                            position,
                            estimated_wait_ms,
                        };
                        self.send(conn, message);
                    }
                }
                Command::AgentState { agent, state, reason, since, until } => {
                    let since_ms = self.wall_ms(since);
                    let until_ms = until.map(|at| self.wall_ms(at));
                    self.send_to_member(
                        &agent.0,
                        ServerMessage::AgentState { state, reason, since_ms, until_ms },
                    );
                }
            }
        }
    }

    /// The legs of a call as they are now, for [`call_feeds`].
    fn call_legs(&self, call: &ActiveCall) -> CallLegs {
        let leg_of = |user: &str| self.members.get(user).and_then(|m| m.leg);
        CallLegs {
            citizen: call.citizen_leg,
            agent: call.agent.as_ref().filter(|_| call.connected).and_then(|a| leg_of(&a.0)),
            supporters: call
                .supporters
                .iter()
                .filter_map(|s| leg_of(&s.user_id).map(|leg| (leg, s.mode)))
                .collect(),
        }
    }

    /// Applies the call's routing to the relay in one change, plus `silenced` legs (legs that
    /// just left the call).
    pub(super) async fn route(
        &mut self,
        call: &CallId,
        silenced: &[LegId],
    ) -> Result<(), RelayError> {
        let Some(active) = self.calls.get(call) else { return Ok(()) };
        let mut feeds: Vec<SlotFeed> = silenced.iter().flat_map(|leg| silence(*leg)).collect();
        feeds.extend(call_feeds(&self.call_legs(active)));
        self.relay.set_feeds(feeds).await
    }

    /// Connects citizen and agent in the relay, records the answer, tells both.
    async fn bridge(&mut self, call: CallId, agent: AgentId) {
        // A citizen recording a voice message from this call gets the agent instead.
        self.drop_voice_draft_of(&call).await;
        let agent_leg = self.members.get(&agent.0).and_then(|m| m.leg);
        if let Some(m) = self.members.get_mut(&agent.0) {
            m.handled.push(call.clone());
            let excess = m.handled.len().saturating_sub(MAX_WRAP_UP_BACKLOG);
            m.handled.drain(..excess);
        }
        let Some(c) = self.calls.get_mut(&call) else { return };
        if agent_leg.is_none() {
            tracing::error!(%call, %agent, "bridge without the agent's headset");
            let _ = self.engine.handle_input(Instant::now(), Input::MediaFailed { call });
            return;
        }
        c.agent = Some(agent.clone());
        c.connected = true;
        if let Err(e) = self.route(&call, &[]).await {
            tracing::warn!(%call, error = %e, "bridging failed");
            let _ = self.engine.handle_input(Instant::now(), Input::MediaFailed { call });
            return;
        }
        let at = now_ms();
        if let Err(e) = self.store.mark_call_answered(&call.0, &agent.0, at).await {
            tracing::error!(%call, error = %e, "could not record an answer");
        }
        self.stats.calls_answered.fetch_add(1, Ordering::Relaxed);
        let agent_name = self.members.get(&agent.0).map(|m| m.name.clone()).unwrap_or_default();
        let Some(c) = self.calls.get_mut(&call) else { return };
        c.answered_at_ms = Some(at);
        let (citizen_conn, queued_at_ms) = (c.citizen_conn, c.queued_at_ms);
        let skill = c.skill.clone();
        self.wallboard.answered(&skill, at - queued_at_ms);
        tracing::info!(%call, %agent, "call connected");
        let to_citizen =
            ServerMessage::CallConnected { call_id: call.0.clone(), peer_name: agent_name };
        self.send(citizen_conn, to_citizen);
        let to_agent =
            ServerMessage::CallConnected { call_id: call.0, peer_name: "市民 Citizen".into() };
        self.send_to_member(&agent.0, to_agent);
    }

    /// Ends a call everywhere: relay, record, every side.
    pub(super) async fn finish_call(
        &mut self,
        call: &CallId,
        reason: EndReason,
        agent: Option<AgentId>,
    ) {
        self.drop_voice_draft_of(call).await;
        let Some(active) = self.calls.remove(call) else { return };
        self.lost.retain(|(lost_call, _), _| lost_call != call);
        let agent = agent.or(active.agent.clone());
        let mut silenced: Vec<SlotFeed> = Vec::new();
        if let Some(leg) = agent.as_ref().and_then(|a| self.members.get(&a.0)).and_then(|m| m.leg) {
            silenced.extend(silence(leg));
        }
        for s in &active.supporters {
            if let Some(m) = self.members.get_mut(&s.user_id) {
                m.supporting = None;
                if let Some(leg) = m.leg {
                    silenced.extend(silence(leg));
                }
            }
        }
        let _ = self.relay.set_feeds(silenced).await;
        if let Some(leg) = active.citizen_leg {
            self.legs.remove(&leg);
            let _ = self.relay.close_leg(leg).await;
        }
        let at = now_ms();
        for s in &active.supporters {
            self.audit(
                call,
                &s.user_id,
                voicedesk_store::AuditAction::Leave,
                None,
                Some("call ended"),
            )
            .await
            .ok();
        }
        if let Err(e) = self.store.mark_call_ended(&call.0, at, reason.as_str()).await {
            tracing::error!(%call, error = %e, "could not record the end of a call");
        }
        if reason == EndReason::Abandoned {
            self.wallboard.abandoned(&active.skill);
        }
        tracing::info!(%call, reason = reason.as_str(), "call ended");
        if let Some(c) = self.conns.get_mut(&active.citizen_conn)
            && c.call.as_ref() == Some(call)
        {
            c.call = None;
        }
        self.assistant_back(active.citizen_conn);
        let ended = ServerMessage::CallEnded { call_id: call.0.clone(), reason, opens_at_ms: None };
        self.send(active.citizen_conn, ended.clone());
        if let Some(agent) = agent
            && (active.connected || reason != EndReason::Abandoned)
        {
            self.send_to_member(&agent.0, ended.clone());
            self.freed_agents.push(agent.0);
        }
        for s in &active.supporters {
            self.send_to_member(&s.user_id, ended.clone());
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

pub(super) fn relay_refusal(e: RelayError) -> Refusal {
    match e {
        RelayError::BadSdp(why) => refuse(ErrorCode::BadSdp, why),
        other => {
            tracing::error!(error = %other, "relay refused a leg");
            refuse(ErrorCode::MediaUnavailable, "the media relay cannot take the call right now")
        }
    }
}
