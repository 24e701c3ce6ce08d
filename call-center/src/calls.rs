//! The citizen's call from `call` to its end: placing it (the offer checked, then its leg and
//! its record at once, then `call_queued`), the engine's commands (offer, connect, positions, end), and ending a call
//! everywhere.

use voicedesk_protocol::{
    AgentAvailability, ClientMessage, EndReason, ErrorCode, Role, ServerMessage,
};
use voicedesk_queue_engine::{Command, Input as EngineInput, Party, TurnAway};

use crate::chats::ChatParty;
use crate::core::{CallCenter, TICK};
use crate::error::{Refusal, refuse};
use crate::feeds::{CallLegs, call_feeds, silence};
use crate::pending::{Pending, RatingTarget};
use crate::state::{Call, LegOwner, Placing};
use crate::store::{NewCallRecord, StoreRequest};
use crate::{
    AgentId, CallId, ConnId, LegFailure, LegId, OpId, RelayCommand, Report, SlotFeed, UnixMs,
};

/// Calls an agent may still wrap up (the most recent ones of the session).
const MAX_WRAP_UP_BACKLOG: usize = 5;
/// Longest service id accepted.
const MAX_SERVICE_CHARS: usize = 200;

/// How the agent is named to the citizen.
pub(crate) const CITIZEN_NAME: &str = "市民 Citizen";

pub(crate) fn leg_refusal(e: LegFailure) -> Refusal {
    match e {
        LegFailure::BadSdp(why) => refuse(ErrorCode::BadSdp, why),
        LegFailure::Unavailable(_) => {
            refuse(ErrorCode::MediaUnavailable, "the media relay cannot take the call right now")
        }
    }
}

impl CallCenter {
    pub(crate) fn citizen_message(
        &mut self,
        conn: ConnId,
        citizen_id: String,
        message: ClientMessage,
    ) -> Result<(), Refusal> {
        if crate::citizen::counted_against_cap(&message).is_some() {
            self.gate_message(conn, citizen_id, message);
            return Ok(());
        }
        self.citizen_message_checked(conn, citizen_id, message)
    }

    /// A citizen's message, past the daily message cap where it applies.
    pub(crate) fn citizen_message_checked(
        &mut self,
        conn: ConnId,
        citizen_id: String,
        message: ClientMessage,
    ) -> Result<(), Refusal> {
        match message {
            ClientMessage::Call { service, sdp } => self.place_call(conn, citizen_id, service, sdp),
            ClientMessage::RejoinCall { call_id, sdp } => {
                self.rejoin_call(conn, &citizen_id, CallId(call_id), sdp)
            }
            ClientMessage::Ask { text } => self.ask(conn, text),
            ClientMessage::LeaveMessage { client_id, service, name, phone, body, call_id } => {
                self.leave_message(conn, citizen_id, client_id, service, name, phone, body, call_id)
            }
            ClientMessage::Rate { call_id, ticket, code, level, comment } => {
                let target = match (call_id, ticket, code) {
                    (Some(call), None, None) => (RatingTarget::Call(call), None),
                    (None, Some(ticket), Some(code)) => {
                        (RatingTarget::Ticket { ticket }, Some(code))
                    }
                    _ => {
                        return Err(refuse(
                            ErrorCode::InvalidState,
                            "rate either a call_id, or a ticket with its code",
                        ));
                    }
                };
                self.rate(conn, citizen_id, target.0, target.1, level, comment)
            }
            ClientMessage::HangUp { call_id } if self.is_chat(&call_id) => {
                self.end_chat(conn, ChatParty::Citizen(citizen_id), CallId(call_id))
            }
            ClientMessage::HangUp { call_id } => {
                self.citizen_hang_up(conn, &citizen_id, CallId(call_id))
            }
            ClientMessage::StartVoiceMessage { call_id, sdp, service } => {
                self.start_voice_message(conn, call_id, sdp, service)
            }
            ClientMessage::FinishVoiceMessage { client_id, name, phone } => {
                self.finish_voice_message(conn, citizen_id, client_id, name, phone)
            }
            ClientMessage::CancelVoiceMessage => self.cancel_voice_message(conn),
            ClientMessage::StartChat { service } => self.start_chat(conn, citizen_id, service),
            ClientMessage::UpgradeChat { chat_id, sdp } => {
                self.upgrade_chat(conn, &citizen_id, CallId(chat_id), sdp)
            }
            ClientMessage::RejoinChat { chat_id, after_seq } => {
                self.rejoin_chat(conn, &citizen_id, CallId(chat_id), after_seq)
            }
            message => self.chat_message(conn, ChatParty::Citizen(citizen_id), message, "citizen"),
        }
    }

    /// A chat message either side may send (texts, typing, marks, the end).
    pub(crate) fn chat_message(
        &mut self,
        conn: ConnId,
        party: ChatParty,
        message: ClientMessage,
        role: &str,
    ) -> Result<(), Refusal> {
        match message {
            ClientMessage::SendChat { chat_id, client_id, text } => {
                // The first text of a voice call opens its text panel.
                self.open_call_texts(conn, &party, &CallId(chat_id.clone()));
                self.send_chat(conn, party, CallId(chat_id), client_id, text)
            }
            ClientMessage::ChatTyping { chat_id, typing } => {
                self.chat_typing(conn, party, CallId(chat_id), typing)
            }
            ClientMessage::ChatRead { chat_id, delivered_seq, read_seq } => {
                self.chat_read(conn, party, CallId(chat_id), delivered_seq, read_seq)
            }
            ClientMessage::EndChat { chat_id } => self.end_chat(conn, party, CallId(chat_id)),
            other => Err(refuse(
                ErrorCode::Forbidden,
                format!("\"{}\" is not allowed for a {role} connection", other.type_name()),
            )),
        }
    }

    pub(crate) fn agent_message(
        &mut self,
        user_id: String,
        message: ClientMessage,
    ) -> Result<(), Refusal> {
        let agent = AgentId(user_id);
        match message {
            ClientMessage::SetState { state: AgentAvailability::Available, .. } => {
                if !self.members.get(&agent.0).is_some_and(|m| m.leg_connected) {
                    return Err(refuse(
                        ErrorCode::InvalidState,
                        "connect the headset (media_connect) and wait until it is connected before becoming available",
                    ));
                }
                self.engine_input(EngineInput::AgentAvailable { agent })
            }
            ClientMessage::SetState { state: AgentAvailability::Away, reason } => {
                self.engine_input(EngineInput::AgentAway { agent, reason })
            }
            ClientMessage::Accept { call_id } => {
                // A chat needs no headset.
                if !self.is_chat(&call_id)
                    && self.members.get(&agent.0).is_none_or(|m| m.leg.is_none())
                {
                    return Err(refuse(
                        ErrorCode::InvalidState,
                        "your headset is not connected; connect it (media_connect) to take the call",
                    ));
                }
                self.engine_input(EngineInput::Accept { agent, call: CallId(call_id) })
            }
            ClientMessage::Reject { call_id } => {
                self.engine_input(EngineInput::Reject { agent, call: CallId(call_id) })
            }
            ClientMessage::HangUp { call_id } => {
                let call = CallId(call_id);
                self.engine_input(EngineInput::HangUp { call, by: Party::Agent(agent) })
            }
            ClientMessage::RequestHelp { call_id, reason } => {
                self.request_help(&agent, CallId(call_id), reason)
            }
            ClientMessage::CancelHelp { call_id } => self.cancel_help(&agent, CallId(call_id)),
            ClientMessage::Transfer { call_id, service } => {
                self.transfer(agent, CallId(call_id), &service)
            }
            ClientMessage::OfferUpgrade { chat_id } => self.offer_upgrade(&agent, CallId(chat_id)),
            ClientMessage::WrapUp { call_id, disposition, notes } => {
                self.wrap_up(&agent, CallId(call_id), disposition, notes)
            }
            message => {
                let conn = self.members.get(&agent.0).map(|m| m.conn).unwrap_or(ConnId(0));
                self.chat_message(conn, ChatParty::Agent(agent), message, "agent")
            }
        }
    }

    /// Feeds the engine and carries out what it decided; its refusal goes to the client.
    pub(crate) fn engine_input(&mut self, input: EngineInput) -> Result<(), Refusal> {
        let now = self.instant();
        self.engine.handle_input(now, input).map_err(|e| refuse(e.code(), e.to_string()))?;
        self.carry_out();
        Ok(())
    }

    /// Feeds the engine an input the core itself decided on; a refusal means the core's view
    /// and the engine's differ, which is a violation (reported, counted, not a panic).
    pub(crate) fn engine_must(&mut self, input: EngineInput) -> bool {
        let now = self.instant();
        let what = format!("{input:?}");
        match self.engine.handle_input(now, input) {
            Ok(()) => {
                self.carry_out();
                true
            }
            Err(e) => {
                self.violation(format!("engine refused {what}: {e}"));
                false
            }
        }
    }

    // ----- placing a call ---------------------------------------------------------------------

    fn place_call(
        &mut self,
        conn: ConnId,
        citizen_id: String,
        service: Option<String>,
        sdp: String,
    ) -> Result<(), Refusal> {
        if self.conns.get(&conn).is_some_and(|c| c.call.is_some()) {
            return Err(refuse(ErrorCode::InvalidState, "you already have a call in progress"));
        }
        let route = self.route_of(service.as_deref())?;
        let call = self.new_call_id();
        let record = NewCallRecord {
            call: call.clone(),
            citizen_session: citizen_id.clone(),
            service: service.clone(),
            queued_at: self.now,
            skill: route.skill.0.clone(),
            priority: route.priority,
        };
        // Admission before any media: a turned-away call gets no leg, only its record. The
        // calls of the same queue still being placed count as the engine will see them.
        let arriving = self.arriving_in(&route.skill.0);
        let now = self.instant();
        if let Err(turned_away) = self.engine.admission_expecting(&route.skill, now, arriving) {
            let reason = turned_away.end_reason();
            let opens_at_ms = match turned_away {
                TurnAway::Closed { opens_at_ms } => opens_at_ms.map(|ms| ms.max(0) as u64),
                _ => None,
            };
            // A broken offer is refused as such, whatever the queue's state: the relay's check
            // first (no leg is made), then the record.
            let then = Pending::TurnedAwayOffer { call, conn, record, reason, opens_at_ms };
            self.check_offer(sdp, then);
            return Ok(());
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.call = Some(call.clone());
        }
        self.placing.insert(
            call.clone(),
            Placing {
                conn,
                citizen_id,
                service,
                skill: route.skill.0,
                priority: route.priority,
                queued_at: self.now,
                leg: None,
                recorded: None,
                abandoned: false,
            },
        );
        // The relay's own check first (pure, no leg made): a broken offer gets no record.
        self.check_offer(sdp.clone(), Pending::PlaceOffer { call, sdp });
        Ok(())
    }

    /// The queue of a service chosen in the hall (none: the general consultation queue).
    pub(crate) fn route_of(&self, service: Option<&str>) -> Result<crate::Route, Refusal> {
        if service.is_some_and(|s| s.chars().count() > MAX_SERVICE_CHARS) {
            return Err(refuse(ErrorCode::UnknownService, "service is longer than 200 characters"));
        }
        self.routing.route(service).ok_or_else(|| {
            refuse(
                ErrorCode::UnknownService,
                format!("unknown service {service:?}; see GET /api/catalogue"),
            )
        })
    }

    /// The relay's verdict on a pure check of an offer (no leg made).
    pub(crate) fn offer_checked(&mut self, op: OpId, result: Result<(), LegFailure>) {
        match self.pending.remove(&op) {
            Some(Pending::PlaceOffer { call, sdp }) => self.place_offer_checked(call, sdp, result),
            Some(then @ Pending::TurnedAwayOffer { .. }) => {
                self.turned_away_offer_checked(then, result)
            }
            other => self.violation(format!("offer verdict for {op}, which awaits {other:?}")),
        }
    }

    /// An admitted call's offer is sound: its leg and its record are asked for at once, so
    /// `call_queued` waits for the slower of the relay and the store, not for both in turn.
    fn place_offer_checked(&mut self, call: CallId, sdp: String, result: Result<(), LegFailure>) {
        let Some(p) = self.placing.get(&call) else {
            self.violation(format!("offer verdict of unknown placing call {call}"));
            return;
        };
        if p.abandoned || result.is_err() {
            let conn = p.conn;
            self.placing.remove(&call);
            self.release_conn_call(conn, &call);
            if let Err(e) = result
                && self.conns.contains_key(&conn)
            {
                self.stats.client_errors += 1;
                let r = leg_refusal(e);
                self.send(conn, ServerMessage::error(r.code, r.text, Some("call")));
            }
            return;
        }
        let record = NewCallRecord {
            call: call.clone(),
            citizen_session: p.citizen_id.clone(),
            service: p.service.clone(),
            queued_at: p.queued_at,
            skill: p.skill.clone(),
            priority: p.priority,
        };
        self.create_leg(sdp, Role::Citizen, Pending::PlaceLeg { call: call.clone() });
        self.store(
            Some(call.clone()),
            StoreRequest::InsertCall(record),
            Pending::PlaceRecord { call },
        );
    }

    /// The relay answered the offer of a call being placed.
    pub(crate) fn place_leg_created(
        &mut self,
        call: CallId,
        result: Result<(LegId, String), LegFailure>,
    ) {
        let Some(p) = self.placing.get_mut(&call) else {
            self.violation(format!("leg of unknown placing call {call}"));
            if let Ok((leg, _)) = result {
                self.relay(RelayCommand::CloseLeg { leg });
            }
            return;
        };
        p.leg = Some(result);
        self.place_settled(call);
    }

    /// The record of a call being placed is committed (or not).
    pub(crate) fn place_recorded(&mut self, call: CallId, ok: bool) {
        let Some(p) = self.placing.get_mut(&call) else {
            self.violation(format!("record of unknown placing call {call}"));
            return;
        };
        p.recorded = Some(ok);
        self.place_settled(call);
    }

    /// Once both the leg and the record are answered: the citizen is told `call_queued` and
    /// the engine queues the call — or what failed is undone and the citizen told.
    fn place_settled(&mut self, call: CallId) {
        let Some(p) = self.placing.get(&call) else { return };
        let (Some(leg), Some(recorded)) = (p.leg.clone(), p.recorded) else { return };
        let Some(p) = self.placing.remove(&call) else { return };
        let conn = p.conn;
        let failure = match (leg, recorded, p.abandoned) {
            (Ok((leg, answer)), true, false) => {
                self.queue_placed(call, p, leg, answer);
                return;
            }
            (leg, recorded, abandoned) => {
                if let Ok((leg, _)) = &leg {
                    self.relay(RelayCommand::CloseLeg { leg: *leg });
                }
                if recorded {
                    // Committed, but the citizen left meanwhile or the relay could not make
                    // the leg: the record is closed at once.
                    let reason =
                        if abandoned { EndReason::Abandoned } else { EndReason::MediaFailed };
                    let request = StoreRequest::CallEnded {
                        call: call.clone(),
                        at: self.now,
                        reason,
                        measured: Default::default(),
                    };
                    let then = Pending::Note {
                        what: "end of a call left or failed while placing",
                        call: Some(call.clone()),
                    };
                    self.store(Some(call.clone()), request, then);
                }
                if abandoned {
                    return;
                }
                match leg {
                    Err(e) => leg_refusal(e),
                    Ok(_) => refuse(
                        ErrorCode::Internal,
                        "the call could not be recorded; please try again",
                    ),
                }
            }
        };
        self.release_conn_call(conn, &call);
        if self.conns.contains_key(&conn) {
            self.stats.client_errors += 1;
            self.send(conn, ServerMessage::error(failure.code, failure.text, Some("call")));
        }
    }

    /// A placed call has its leg and its committed record: the citizen hears the hold tune and
    /// is told `call_queued`, and the engine queues the call.
    fn queue_placed(&mut self, call: CallId, p: Placing, leg: LegId, answer: String) {
        self.relay(RelayCommand::SetHold { leg, on: true });
        self.stats.calls_total += 1;
        self.legs.insert(leg, LegOwner::Citizen(call.clone()));
        let transcript = self.hand_off_transcript(p.conn);
        self.calls.insert(
            call.clone(),
            Call {
                citizen_conn: p.conn,
                citizen_leg: Some(leg),
                citizen_id: p.citizen_id,
                parked: false,
                service: p.service.clone(),
                skill: p.skill.clone(),
                transfers: 0,
                transcript,
                queued_at: p.queued_at,
                answered_at: None,
                agent: None,
                offer_told: false,
                connected: false,
                supporters: Vec::new(),
                taken_over_by: None,
                help: None,
                citizen_heard: Vec::new(),
                position_told_at: None,
                position_due: false,
            },
        );
        self.send(p.conn, ServerMessage::CallQueued { call_id: call.0.clone(), sdp: answer });
        let arrived = EngineInput::CallArrived {
            call: call.clone(),
            skill: voicedesk_queue_engine::SkillId(p.skill),
            priority: p.priority,
            service: p.service,
        };
        if !self.engine_must(arrived) {
            self.finish_call(&call, EndReason::NoAgents, None);
        }
    }

    /// The relay's verdict on a turned-away call's offer.
    fn turned_away_offer_checked(&mut self, then: Pending, result: Result<(), LegFailure>) {
        let Pending::TurnedAwayOffer { call, conn, record, reason, opens_at_ms } = then else {
            self.violation(format!("turned-away offer verdict for {then:?}"));
            return;
        };
        match result {
            Ok(()) => {
                let then =
                    Pending::TurnedAwayRecord { call: call.clone(), conn, reason, opens_at_ms };
                self.store(Some(call), StoreRequest::InsertCall(record), then);
            }
            Err(e) => {
                self.stats.client_errors += 1;
                let r = leg_refusal(e);
                self.send(conn, ServerMessage::error(r.code, r.text, Some("call")));
            }
        }
    }

    /// A turned-away call's record is committed: its end is written, then the citizen told.
    pub(crate) fn turned_away_recorded(
        &mut self,
        call: CallId,
        conn: ConnId,
        reason: EndReason,
        opens_at_ms: Option<u64>,
        ok: bool,
    ) {
        if !ok {
            self.stats.client_errors += 1;
            let error = ServerMessage::error(
                ErrorCode::Internal,
                "the call could not be recorded; please try again",
                Some("call"),
            );
            self.send(conn, error);
            return;
        }
        let request = StoreRequest::CallEnded {
            call: call.clone(),
            at: self.now,
            reason,
            measured: Default::default(),
        };
        let then = Pending::TurnedAwayEnd { call: call.clone(), conn, reason, opens_at_ms };
        self.store(Some(call), request, then);
    }

    /// The citizen is told the call was turned away (its record is complete, or at least
    /// opened: an end that could not be written is closed at the next start).
    pub(crate) fn tell_turned_away(
        &mut self,
        call: CallId,
        conn: ConnId,
        reason: EndReason,
        opens_at_ms: Option<u64>,
    ) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.citizen.turned_away = Some(reason);
        }
        self.emit(crate::Effect::Report(Report::CallEnded { call: call.clone(), reason }));
        self.send(conn, ServerMessage::CallEnded { call_id: call.0, reason, opens_at_ms });
    }

    /// Forgets that a connection carries `call`.
    pub(crate) fn release_conn_call(&mut self, conn: ConnId, call: &CallId) {
        if let Some(c) = self.conns.get_mut(&conn)
            && c.call.as_ref() == Some(call)
        {
            c.call = None;
        }
    }

    fn citizen_hang_up(
        &mut self,
        conn: ConnId,
        citizen_id: &str,
        call: CallId,
    ) -> Result<(), Refusal> {
        let on_this_connection = self.conns.get(&conn).and_then(|c| c.call.as_ref()) == Some(&call);
        if on_this_connection && let Some(p) = self.placing.get_mut(&call) {
            p.abandoned = true;
            self.release_conn_call(conn, &call);
            return Ok(());
        }
        // After a resume, a call left behind by the old connection (parked, or answered and
        // waiting for a new offer) may be ended without rejoining it.
        let left_behind = self.calls.get(&call).is_some_and(|c| {
            c.citizen_id == citizen_id && !self.conns.contains_key(&c.citizen_conn)
        });
        if !on_this_connection && !left_behind {
            return Err(refuse(ErrorCode::UnknownCall, format!("you have no call {call}")));
        }
        self.citizen_ends(&call, EndReason::CitizenHangUp)
    }

    /// The citizen's side ends the call (hang-up, media failure, lost for good). A call taken
    /// over by staff is no longer the engine's: the core ends it itself.
    pub(crate) fn citizen_ends(&mut self, call: &CallId, reason: EndReason) -> Result<(), Refusal> {
        if self.calls.get(call).is_some_and(|c| c.taken_over_by.is_some()) {
            self.finish_call(call, reason, None);
            return Ok(());
        }
        let input = match reason {
            EndReason::CitizenHangUp => {
                EngineInput::HangUp { call: call.clone(), by: Party::Citizen }
            }
            EndReason::MediaFailed => EngineInput::MediaFailed { call: call.clone() },
            reason => EngineInput::EndCall { call: call.clone(), reason },
        };
        self.engine_input(input)
    }

    // ----- the engine's decisions ---------------------------------------------------------------

    /// Carries out every command the engine queued.
    pub(crate) fn carry_out(&mut self) {
        while let Some(command) = self.engine.poll_command() {
            // A chat upgraded to a call is the call's (its end ends the chat too).
            if command
                .call()
                .is_some_and(|c| self.chats.contains_key(c) && !self.calls.contains_key(c))
            {
                self.chat_command(command);
                continue;
            }
            match command {
                Command::Offer { call, agent, ring_timeout, waited, service, skill } => {
                    let priority = self.engine.call(&call).map_or(0, |v| v.priority);
                    let Some(c) = self.calls.get_mut(&call) else {
                        self.violation(format!(
                            "engine offered {call}, which the core does not know"
                        ));
                        continue;
                    };
                    c.agent = Some(agent.clone());
                    c.offer_told = false;
                    let offered = ServerMessage::CallOffered {
                        call_id: call.0.clone(),
                        service,
                        priority,
                        skill: skill.0,
                        transfers: c.transfers,
                        transcript: c.transcript.clone(),
                        waited_ms: waited.as_millis() as u64,
                        ring_timeout_ms: ring_timeout.as_millis() as u64,
                    };
                    let request = StoreRequest::CallOffered {
                        call: call.clone(),
                        agent: agent.0.clone(),
                        at: self.now,
                    };
                    self.store(
                        Some(call.clone()),
                        request,
                        Pending::Offer { call, agent, message: offered },
                    );
                }
                Command::WithdrawOffer { call, agent, reason } => {
                    let mut told = false;
                    if let Some(c) = self.calls.get_mut(&call)
                        && c.agent.as_ref() == Some(&agent)
                        && !c.connected
                    {
                        told = c.offer_told;
                        c.agent = None;
                        c.offer_told = false;
                    }
                    // An offer whose record was not yet committed was never told: its
                    // withdrawal is not told either.
                    if told {
                        let withdrawn = ServerMessage::OfferWithdrawn { call_id: call.0, reason };
                        self.send_to_member(&agent.0, withdrawn);
                    }
                }
                Command::Connect { call, agent } => self.connect(call, agent),
                Command::Transferred { call, agent, skill } => self.transferred(call, agent, skill),
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
                    self.hand_over(&call, agent)
                }
                Command::End { call, agent, reason } => self.finish_call(&call, reason, agent),
                Command::Position { call, position, estimated_wait } => {
                    // At most one position per call per tick, the latest: every answer moves
                    // everybody behind it, and a burst of answers would otherwise flood each
                    // waiting citizen (hundreds of messages in seconds fill the connection's
                    // outbox, which then drops the citizen).
                    let now = self.now;
                    let Some(c) = self.calls.get_mut(&call) else { continue };
                    if c.position_told_at.is_some_and(|at| now < at.plus(TICK)) {
                        c.position_due = true;
                        continue;
                    }
                    c.position_told_at = Some(now);
                    c.position_due = false;
                    let conn = c.citizen_conn;
                    let message = ServerMessage::QueuePosition {
                        call_id: call.0,
                        position,
                        estimated_wait_ms: estimated_wait.map(|d| d.as_millis() as u64),
                    };
                    self.send(conn, message);
                }
                Command::AgentState { agent, state, reason, since, until } => {
                    let since_ms = self.wall(since).as_u64();
                    let until_ms = until.map(|at| self.wall(at).as_u64());
                    self.send_to_member(
                        &agent.0,
                        ServerMessage::AgentState { state, reason, since_ms, until_ms },
                    );
                }
            }
        }
    }

    /// An offer's record came back: the agent hears of the offer only if it committed and
    /// the call still rings at them. A failed write withdraws the offer as if the agent had
    /// declined it (nobody was told), so the call goes on to whoever can take it.
    pub(crate) fn offer_recorded(
        &mut self,
        call: CallId,
        agent: AgentId,
        message: ServerMessage,
        ok: bool,
    ) {
        let still_ringing = self.engine.call(&call).is_some_and(|v| {
            v.agent == Some(&agent) && v.phase == voicedesk_queue_engine::CallPhase::Ringing
        });
        if !still_ringing {
            return;
        }
        if ok {
            if let Some(c) = self.calls.get_mut(&call) {
                c.offer_told = true;
            }
            self.send_to_member(&agent.0, message);
        } else {
            self.engine_must(EngineInput::Reject { agent, call });
        }
    }

    /// The engine connected a call: the answer is recorded first; then the media is bridged
    /// and both sides are told.
    fn connect(&mut self, call: CallId, agent: AgentId) {
        let has_headset = self.members.get(&agent.0).is_some_and(|m| m.leg.is_some());
        if !has_headset {
            self.violation(format!("call {call} connected to {agent} who has no headset"));
            self.engine_must(EngineInput::MediaFailed { call });
            return;
        }
        if let Some(c) = self.calls.get_mut(&call) {
            c.agent = Some(agent.clone());
        }
        let request =
            StoreRequest::CallAnswered { call: call.clone(), agent: agent.0.clone(), at: self.now };
        let at = self.now;
        self.store(Some(call.clone()), request, Pending::Answer { call, agent, at });
    }

    /// The answer's record came back. Committed: bridge and tell. Not committed: the call
    /// cannot go on unrecorded and ends (`media_failed`, the protocol's reason for a call that
    /// could not be carried); nobody is told it was answered.
    pub(crate) fn answer_recorded(&mut self, call: CallId, agent: AgentId, at: UnixMs, ok: bool) {
        let connected_here = self.engine.call(&call).is_some_and(|v| {
            v.agent == Some(&agent) && v.phase == voicedesk_queue_engine::CallPhase::Connected
        });
        if !connected_here || !self.calls.contains_key(&call) {
            return;
        }
        if !ok {
            self.engine_must(EngineInput::MediaFailed { call });
            return;
        }
        // A citizen recording a voice message from this call gets the agent instead.
        self.drop_voice_draft_of(&call);
        self.remember_handled(&agent, &call);
        let Some(c) = self.calls.get_mut(&call) else { return };
        c.connected = true;
        c.answered_at = Some(at);
        let (citizen_conn, skill, waited) =
            (c.citizen_conn, c.skill.clone(), self.now.since(c.queued_at));
        self.route(&call, &[]);
        // The headset went while the answer was being written: the call waits for a new one.
        let headset = self.members.get(&agent.0).and_then(|m| m.leg.filter(|_| m.leg_connected));
        if headset.is_none() {
            self.mark_lost(&call, crate::Side::Agent);
        }
        self.stats.calls_answered += 1;
        self.wallboard.answered(self.now, &skill, waited);
        self.emit(crate::Effect::Report(Report::Answered { call: call.clone(), skill, waited }));
        let agent_name = self.members.get(&agent.0).map(|m| m.name.clone()).unwrap_or_default();
        self.send(
            citizen_conn,
            ServerMessage::CallConnected { call_id: call.0.clone(), peer_name: agent_name },
        );
        let to_agent = ServerMessage::CallConnected {
            call_id: call.0.clone(),
            peer_name: CITIZEN_NAME.into(),
        };
        self.send_to_member(&agent.0, to_agent);
        // A transferred call's texts go on with the agent who answered it.
        self.call_texts_answered(&call, &agent);
    }

    /// A call or chat the agent answered may be wrapped up (the most recent ones).
    pub(crate) fn remember_handled(&mut self, agent: &AgentId, call: &CallId) {
        let chat = self.chats.contains_key(call);
        if let Some(m) = self.members.get_mut(&agent.0) {
            m.handled.retain(|(c, _)| c != call);
            m.handled.push((call.clone(), chat));
            let excess = m.handled.len().saturating_sub(MAX_WRAP_UP_BACKLOG);
            m.handled.drain(..excess);
        }
    }

    // ----- media routing ------------------------------------------------------------------------

    /// The legs of a call as they are now.
    pub(crate) fn call_legs(&self, call: &Call) -> CallLegs {
        let leg_of = |user: &str| self.members.get(user).and_then(|m| m.leg);
        let agent_here = call.agent.as_ref().filter(|_| call.connected);
        CallLegs {
            citizen: call.citizen_leg,
            agent: agent_here.and_then(|a| leg_of(&a.0)),
            supporters: call
                .supporters
                .iter()
                .filter_map(|s| leg_of(&s.user_id).map(|leg| (leg, s.mode)))
                .collect(),
        }
    }

    /// Applies the call's routing in one relay change, plus `silenced` legs (legs that just
    /// left the call).
    pub(crate) fn route(&mut self, call: &CallId, silenced: &[LegId]) {
        let Some(active) = self.calls.get(call) else { return };
        let mut feeds: Vec<SlotFeed> = silenced.iter().flat_map(|leg| silence(*leg)).collect();
        feeds.extend(call_feeds(&self.call_legs(active)));
        self.relay(RelayCommand::SetFeeds { call: Some(call.clone()), feeds });
    }

    // ----- ending ---------------------------------------------------------------------------------

    /// Ends a call everywhere: the relay lets go of it, its end is written, and once that
    /// write is answered every side is told.
    pub(crate) fn finish_call(&mut self, call: &CallId, reason: EndReason, agent: Option<AgentId>) {
        self.drop_voice_draft_of(call);
        let Some(active) = self.calls.remove(call) else { return };
        for side in [crate::Side::Citizen, crate::Side::Agent] {
            self.lost.remove(&(call.clone(), side));
            self.timers.stop(&crate::timer::Timer::Grace(call.clone(), side));
        }
        let agent = agent.or(active.agent.clone());
        // The legs the call had, whose audio figures its end keeps (read before they close).
        let measured = {
            let legs = self.call_legs(&active);
            crate::store::MeasuredLegs { citizen: legs.citizen, agent: legs.agent }
        };
        let mut silenced: Vec<SlotFeed> = Vec::new();
        if let Some(leg) = agent.as_ref().and_then(|a| self.members.get(&a.0)).and_then(|m| m.leg)
            && active.connected
        {
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
        if !silenced.is_empty() {
            self.relay(RelayCommand::SetFeeds { call: None, feeds: silenced });
        }
        if let Some(leg) = active.citizen_leg {
            self.legs.remove(&leg);
            self.relay(RelayCommand::CloseLeg { leg });
        }
        for s in &active.supporters {
            self.audit_note(call, &s.user_id, crate::store::AuditAction::Leave, Some("call ended"));
        }
        self.release_conn_call(active.citizen_conn, call);
        self.assistant_back(active.citizen_conn);
        let mut tell = vec![active.citizen_conn];
        if let Some(agent) = &agent
            && (active.connected || (active.offer_told && reason != EndReason::Abandoned))
            && let Some(conn) = self.members.get(&agent.0).map(|m| m.conn)
        {
            tell.push(conn);
        }
        if let Some(agent) = agent
            && active.connected
        {
            self.freed_agents.push(agent.0);
        }
        for s in &active.supporters {
            if let Some(conn) = self.members.get(&s.user_id).map(|m| m.conn) {
                tell.push(conn);
            }
        }
        if reason == EndReason::Abandoned {
            self.wallboard.abandoned(self.now, &active.skill);
        }
        self.emit(crate::Effect::Report(Report::CallEnded { call: call.clone(), reason }));
        let answered = active.answered_at.filter(|_| active.answered());
        self.emit(crate::Effect::Report(Report::CallFinished {
            call: call.clone(),
            skill: active.skill.clone(),
            reason,
            waited: answered.is_none().then(|| self.now.since(active.queued_at)),
            talked: answered.map(|at| self.now.since(at)),
        }));
        let message =
            ServerMessage::CallEnded { call_id: call.0.clone(), reason, opens_at_ms: None };
        // Everyone is told once the end is written (or its write failed: the call is over
        // anyway, and an open record is closed as `server_shutdown` at the next start); what
        // follows for them (after-call work) waits behind it.
        let request =
            StoreRequest::CallEnded { call: call.clone(), at: self.now, reason, measured };
        let then = Pending::Note { what: "end of a call", call: Some(call.clone()) };
        let op = self.store(Some(call.clone()), request, then);
        for conn in tell {
            self.send_after(op, conn, message.clone());
        }
        // A chat upgraded to this call ends with it (its texts kept).
        self.finish_chat(call, reason, None);
    }

    /// Agents who just left a call: one whose console was lost meanwhile is signed out
    /// (nobody is there to take the next call); one whose headset is not back is set away.
    pub(crate) fn after_agents_freed(&mut self) {
        while let Some(user_id) = self.freed_agents.pop() {
            if self.member_call(&user_id).is_some() {
                continue;
            }
            let Some((conn, role, headset_up)) =
                self.members.get(&user_id).map(|m| (m.conn, m.role, m.leg_connected))
            else {
                continue;
            };
            if !self.conns.contains_key(&conn) {
                self.member_gone(&user_id, role);
            } else if !headset_up && role == Role::Agent {
                let away = EngineInput::AgentAway {
                    agent: AgentId(user_id),
                    reason: Some(crate::core::HEADSET_AWAY_REASON.into()),
                };
                // An agent already away stays away; the engine's refusal is not a violation
                // here (the agent may have been logged out by the same input).
                let now = self.instant();
                if self.engine.handle_input(now, away).is_ok() {
                    self.carry_out();
                }
            }
        }
    }

    /// Ends every call as `server_shutdown` and stops.
    pub(crate) fn shutdown(&mut self) {
        // Calls still being placed end as soon as their record is committed.
        for p in self.placing.values_mut() {
            p.abandoned = true;
        }
        let calls: Vec<CallId> = self.calls.keys().cloned().collect();
        for call in calls {
            if self.calls.get(&call).is_some_and(|c| c.taken_over_by.is_some()) {
                self.finish_call(&call, EndReason::ServerShutdown, None);
            } else {
                self.engine_must(EngineInput::EndCall {
                    call: call.clone(),
                    reason: EndReason::ServerShutdown,
                });
            }
        }
        self.shutdown_chats();
        let legs: Vec<LegId> = self.legs.keys().copied().collect();
        for leg in legs {
            self.relay(RelayCommand::CloseLeg { leg });
        }
        self.legs.clear();
        self.stopped = true;
    }
}
