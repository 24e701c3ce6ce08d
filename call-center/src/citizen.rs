//! The citizen-side flows besides the call: the self-service assistant (and the hand-off of its
//! transcript to an agent), text messages, and ratings. Each acknowledgement is sent only once
//! the store committed what it acknowledges.

use voicedesk_protocol::{ClientMessage, EndReason, ErrorCode, ServerMessage, TranscriptLine};
use voicedesk_queue_engine::Input as EngineInput;

use crate::core::CallCenter;
use crate::error::{Refusal, refuse};
use crate::pending::{Pending, RatingTarget};
use crate::store::{
    CallFacts, MessageReason, MessageRecord, RatingKind, StoreFailure, StoreReply, StoreRequest,
};
use crate::{AssistantAnswer, CallId, ConnId, OpId};

/// A message is due this many working days after it arrives.
const DUE_WORKING_DAYS: u32 = 2;
const MAX_COMMENT_CHARS: usize = 500;
const MAX_QUESTION_CHARS: usize = 500;
/// Lines of the assistant conversation kept per connection (and shown to the agent).
const MAX_TRANSCRIPT_LINES: usize = 40;

/// The window of the per-citizen message cap.
const CAP_WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Whether a citizen's message leaves (or starts recording) a message, which the daily cap
/// applies to; if so, the client id whose earlier save is not counted (a retry of it is not a
/// new message).
pub(crate) fn counted_against_cap(message: &ClientMessage) -> Option<String> {
    match message {
        ClientMessage::LeaveMessage { client_id, .. }
        | ClientMessage::FinishVoiceMessage { client_id, .. } => Some(client_id.clone()),
        // Refused before the citizen speaks, not after.
        ClientMessage::StartVoiceMessage { .. } => Some(String::new()),
        _ => None,
    }
}

/// A store refusal of a message or rating, as the citizen sees it.
pub(crate) fn store_refusal(e: &StoreFailure) -> Refusal {
    match e {
        StoreFailure::InvalidValue(text) => refuse(ErrorCode::InvalidState, text.clone()),
        StoreFailure::Conflict => refuse(
            ErrorCode::InvalidState,
            "this client_id was already used for another message or rating",
        ),
        _ => refuse(ErrorCode::Internal, "it could not be saved; please try again"),
    }
}

impl CallCenter {
    /// A message that leaves (or records) a message: handled now if none of the connection's
    /// is in flight, else once those before it have been answered.
    pub(crate) fn gate_message(
        &mut self,
        conn: ConnId,
        citizen_id: String,
        message: ClientMessage,
    ) {
        if let Some(waiting) = self.message_gate.get_mut(&conn) {
            waiting.push_back(message);
            return;
        }
        self.message_gate.insert(conn, std::collections::VecDeque::new());
        self.check_message_cap(conn, citizen_id, message);
    }

    /// The connection's message in flight has been answered: the next one goes, or — if the
    /// connection closed meanwhile and nothing is left — the connection is forgotten.
    pub(crate) fn message_answered(&mut self, conn: ConnId) {
        let Some(waiting) = self.message_gate.get_mut(&conn) else { return };
        if self.stopped {
            // Shut down: nothing more is saved.
            waiting.clear();
        }
        if let Some(next) = waiting.pop_front() {
            let citizen_id = match self.conns.get(&conn).map(|c| &c.who) {
                Some(crate::state::Who::Citizen(id)) => id.clone(),
                _ => return,
            };
            self.check_message_cap(conn, citizen_id, next);
            return;
        }
        self.message_gate.remove(&conn);
        if self.closing.remove(&conn) {
            self.disconnected(conn, crate::state::Departure::Dropped);
            self.emit(crate::Effect::Close { conn });
        }
    }

    /// Counts the citizen's messages of the last 24 hours; the message is handled once the
    /// count is back and under the cap.
    fn check_message_cap(&mut self, conn: ConnId, citizen_id: String, message: ClientMessage) {
        let except_client_id = counted_against_cap(&message).unwrap_or_default();
        let since = crate::UnixMs(self.now.0 - CAP_WINDOW.as_millis() as i64);
        let request =
            StoreRequest::CountMessages { citizen_id: citizen_id.clone(), since, except_client_id };
        self.store(None, request, Pending::MessageCap { conn, citizen_id, message });
    }

    pub(crate) fn message_cap_counted(
        &mut self,
        conn: ConnId,
        citizen_id: String,
        message: ClientMessage,
        result: Result<StoreReply, StoreFailure>,
    ) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        let request = message.type_name();
        // A text message or a finished voice message is in flight until its write is
        // answered; anything else is over once this is decided.
        let saves = matches!(
            message,
            ClientMessage::LeaveMessage { .. } | ClientMessage::FinishVoiceMessage { .. }
        );
        let cap = self.config.messages_per_citizen_per_day;
        let outcome = match result {
            Ok(StoreReply::Count(left)) if left >= u64::from(cap) => {
                if request == "finish_voice_message" {
                    // Nothing will be saved: the recording goes.
                    self.drop_own_voice_draft(conn);
                }
                Err(refuse(
                    ErrorCode::RateLimited,
                    format!(
                        "you have left {cap} messages in the last 24 hours, the most we take; \
                         staff will answer those first"
                    ),
                ))
            }
            Ok(StoreReply::Count(_)) => self.citizen_message_checked(conn, citizen_id, message),
            Ok(other) => {
                self.violation(format!("message count answered {other:?}"));
                Err(refuse(ErrorCode::Internal, "it could not be saved; please try again"))
            }
            Err(e) => Err(store_refusal(&e)),
        };
        let in_flight = saves && outcome.is_ok();
        if let Err(r) = outcome {
            self.stats.client_errors += 1;
            self.send(conn, ServerMessage::error(r.code, r.text, Some(request)));
        }
        if !in_flight {
            self.message_answered(conn);
        }
    }

    /// `ask`: the question goes to the assistant; the answer comes back as an input.
    pub(crate) fn ask(&mut self, conn: ConnId, text: String) -> Result<(), Refusal> {
        let question = text.trim().to_owned();
        if question.is_empty() || question.chars().count() > MAX_QUESTION_CHARS {
            return Err(refuse(
                ErrorCode::InvalidState,
                format!("a question has 1 to {MAX_QUESTION_CHARS} characters"),
            ));
        }
        if self.conns.get(&conn).is_some_and(|c| c.citizen.handed_off) {
            return Err(refuse(
                ErrorCode::InvalidState,
                "you are being connected to an agent; the assistant has handed over",
            ));
        }
        self.search(question.clone(), Pending::Search { conn, question });
        Ok(())
    }

    pub(crate) fn searched(&mut self, op: OpId, answer: AssistantAnswer) {
        let Some(Pending::Search { conn, question }) = self.pending.remove(&op) else {
            self.violation(format!("assistant answer for {op}, which awaits no question"));
            return;
        };
        let Some(c) = self.conns.get_mut(&conn) else { return };
        let said = match &answer.best {
            Some(best) => best.title.clone(),
            None if answer.suggestions.is_empty() => "—".to_owned(),
            None => {
                let titles: Vec<&str> =
                    answer.suggestions.iter().map(|h| h.title.as_str()).collect();
                format!("? {}", titles.join(" / "))
            }
        };
        for (from, text) in [("citizen", question.clone()), ("assistant", said)] {
            c.citizen.chat.push(TranscriptLine { from: from.to_owned(), text });
        }
        let excess = c.citizen.chat.len().saturating_sub(MAX_TRANSCRIPT_LINES);
        c.citizen.chat.drain(..excess);
        let reply = ServerMessage::Answer {
            question,
            best: answer.best,
            suggestions: answer.suggestions,
            confident: answer.confident,
            offer_human: !answer.confident,
        };
        self.send(conn, reply);
    }

    /// A call placed from this connection takes the assistant conversation along.
    pub(crate) fn hand_off_transcript(&mut self, conn: ConnId) -> Vec<TranscriptLine> {
        let Some(c) = self.conns.get_mut(&conn) else { return Vec::new() };
        if c.citizen.chat.is_empty() {
            return Vec::new();
        }
        c.citizen.handed_off = true;
        c.citizen.chat.clone()
    }

    /// The citizen's call ended: the assistant may answer again, from a new conversation.
    pub(crate) fn assistant_back(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn)
            && c.citizen.handed_off
        {
            c.citizen.handed_off = false;
            c.citizen.chat.clear();
        }
    }

    /// The citizen's waiting (not answered, not parked) call on this connection.
    pub(crate) fn waiting_call_of(&self, conn: ConnId, call: &CallId) -> Result<(), Refusal> {
        let owns = self.conns.get(&conn).is_some_and(|c| c.call.as_ref() == Some(call));
        match self.calls.get(call) {
            Some(c) if owns && !c.connected && !c.parked && c.taken_over_by.is_none() => Ok(()),
            Some(_) if owns => {
                Err(refuse(ErrorCode::InvalidState, "the call is no longer waiting"))
            }
            _ => Err(refuse(ErrorCode::UnknownCall, format!("you have no call {call}"))),
        }
    }

    /// Why the citizen leaves a message.
    pub(crate) fn message_reason(&self, conn: ConnId, call: Option<&CallId>) -> MessageReason {
        if let Some(call) = call {
            let limit = self.engine.call(call).is_some_and(|v| v.wait_limit_reached);
            return if limit { MessageReason::WaitLimit } else { MessageReason::Choice };
        }
        match self.conns.get(&conn).and_then(|c| c.citizen.turned_away) {
            Some(EndReason::Closed) => MessageReason::Closed,
            Some(EndReason::QueueFull) => MessageReason::QueueFull,
            Some(EndReason::NoAgents) => MessageReason::NoAgents,
            _ => MessageReason::Choice,
        }
    }

    /// `leave_message`: committed, then acknowledged; a waiting call it came from then ends as
    /// `message_left`.
    #[allow(clippy::too_many_arguments)] // the message's fields, as the protocol has them
    pub(crate) fn leave_message(
        &mut self,
        conn: ConnId,
        citizen_id: String,
        client_id: String,
        service: Option<String>,
        name: Option<String>,
        phone: Option<String>,
        body: String,
        call_id: Option<String>,
    ) -> Result<(), Refusal> {
        if let Some(id) = service.as_deref()
            && self.routing.route(Some(id)).is_none()
        {
            return Err(refuse(ErrorCode::UnknownService, format!("unknown service {id:?}")));
        }
        let call = call_id.map(CallId);
        // A waiting chat may be left for a message too (the chat ends once it is saved); the
        // message row names calls only.
        let chat = call.clone().filter(|c| self.chats.contains_key(c));
        match (&call, &chat) {
            (Some(chat), Some(_)) => self.waiting_chat_of(conn, chat)?,
            (Some(call), None) => self.waiting_call_of(conn, call)?,
            (None, _) => {}
        }
        let created_at = self.now;
        let due_ms = self.routing.calendar.add_working_days(created_at.0, DUE_WORKING_DAYS);
        let record = MessageRecord {
            client_id: client_id.clone(),
            service,
            name,
            phone,
            body,
            call: call.clone().filter(|_| chat.is_none()),
            reason: self.message_reason(conn, call.as_ref()),
            created_at,
            due_at: crate::UnixMs(due_ms),
            citizen_id,
        };
        self.store(
            None,
            StoreRequest::InsertMessage(record),
            Pending::Message { conn, client_id, call },
        );
        Ok(())
    }

    pub(crate) fn message_stored(
        &mut self,
        conn: ConnId,
        client_id: String,
        call: Option<CallId>,
        result: Result<StoreReply, StoreFailure>,
    ) {
        match result {
            Ok(StoreReply::MessageSaved { ticket, code, due_at_ms }) => {
                let saved = ServerMessage::MessageSaved {
                    client_id,
                    ticket,
                    code: Some(code),
                    due_at_ms: due_at_ms.max(0) as u64,
                };
                self.send(conn, saved);
                let waiting_chat = |call: &CallId| self.chat_waiting(call);
                if let Some(call) = call
                    && (self.calls.get(&call).is_some_and(|c| !c.answered()) || waiting_chat(&call))
                {
                    self.engine_must(EngineInput::EndCall { call, reason: EndReason::MessageLeft });
                }
            }
            Ok(other) => self.violation(format!("message insert answered {other:?}")),
            Err(e) => {
                self.stats.client_errors += 1;
                let r = store_refusal(&e);
                self.send(conn, ServerMessage::error(r.code, r.text, Some("leave_message")));
            }
        }
        self.message_answered(conn);
    }

    /// `rate`: a call of this citizen that was answered and ended, or an answered message by
    /// ticket and code. Looked up first, then committed, then acknowledged.
    pub(crate) fn rate(
        &mut self,
        conn: ConnId,
        citizen_id: String,
        target: RatingTarget,
        code: Option<String>,
        level: u8,
        comment: String,
    ) -> Result<(), Refusal> {
        if !(1..=5).contains(&level) {
            return Err(refuse(ErrorCode::InvalidState, "a rating is a level from 1 to 5"));
        }
        if comment.chars().count() > MAX_COMMENT_CHARS {
            return Err(refuse(
                ErrorCode::InvalidState,
                format!("a comment has at most {MAX_COMMENT_CHARS} characters"),
            ));
        }
        let request = match (&target, code) {
            (RatingTarget::Call(call_id), _) => StoreRequest::ReadCall { call_id: call_id.clone() },
            (RatingTarget::Chat(chat_id), _) => StoreRequest::ReadChat { chat_id: chat_id.clone() },
            (RatingTarget::Ticket { ticket }, Some(code)) => {
                StoreRequest::VerifyTicket { ticket: ticket.clone(), code }
            }
            (RatingTarget::Ticket { .. }, None) => {
                return Err(refuse(
                    ErrorCode::InvalidState,
                    "rate either a call_id, or a ticket with its code",
                ));
            }
        };
        let then = Pending::RatingLookup { conn, citizen_id, target, level, comment };
        self.store(None, request, then);
        Ok(())
    }

    pub(crate) fn rating_looked_up(
        &mut self,
        conn: ConnId,
        citizen_id: String,
        target: RatingTarget,
        level: u8,
        comment: String,
        result: Result<StoreReply, StoreFailure>,
    ) {
        let found = match (target, result) {
            (RatingTarget::Call(call_id), Ok(StoreReply::Call(None))) => {
                // Not a call: perhaps one of the citizen's chats (rated the same way).
                let request = StoreRequest::ReadChat { chat_id: call_id.clone() };
                let target = RatingTarget::Chat(call_id);
                let then = Pending::RatingLookup { conn, citizen_id, target, level, comment };
                self.store(None, request, then);
                return;
            }
            (RatingTarget::Call(id), Ok(StoreReply::Call(facts))) => {
                rateable(facts, &citizen_id, RatingKind::Call, id)
            }
            (RatingTarget::Chat(id), Ok(StoreReply::Call(facts))) => {
                rateable(facts, &citizen_id, RatingKind::Chat, id)
            }
            (RatingTarget::Ticket { ticket }, Ok(StoreReply::Ticket(facts))) => match facts {
                None => Err(refuse(ErrorCode::InvalidState, "unknown ticket or wrong code")),
                Some(f) if !f.replied => {
                    Err(refuse(ErrorCode::InvalidState, "the message has no reply yet"))
                }
                Some(f) => Ok((RatingKind::Message, f.message_id, ticket)),
            },
            (_, Err(e)) => Err(store_refusal(&e)),
            (_, Ok(other)) => {
                self.violation(format!("rating lookup answered {other:?}"));
                Err(refuse(ErrorCode::Internal, "it could not be saved; please try again"))
            }
        };
        match found {
            Ok((kind, subject_id, shown)) => {
                let request =
                    StoreRequest::InsertRating { kind, subject_id, level, comment, at: self.now };
                self.store(None, request, Pending::Rating { conn, shown, level });
            }
            Err(r) => {
                self.stats.client_errors += 1;
                self.send(conn, ServerMessage::error(r.code, r.text, Some("rate")));
            }
        }
    }

    pub(crate) fn rating_stored(
        &mut self,
        conn: ConnId,
        shown: String,
        level: u8,
        result: Result<StoreReply, StoreFailure>,
    ) {
        match result {
            Ok(_) => self.send(conn, ServerMessage::RatingSaved { subject: shown, level }),
            Err(e) => {
                let r = match e {
                    StoreFailure::Conflict => {
                        refuse(ErrorCode::InvalidState, "this has already been rated")
                    }
                    e => store_refusal(&e),
                };
                self.stats.client_errors += 1;
                self.send(conn, ServerMessage::error(r.code, r.text, Some("rate")));
            }
        }
    }
}

/// A call or chat of this citizen that was answered and has ended may be rated.
fn rateable(
    facts: Option<CallFacts>,
    citizen_id: &str,
    kind: RatingKind,
    id: String,
) -> Result<(RatingKind, String, String), Refusal> {
    match facts.filter(|f| f.citizen_session == citizen_id) {
        None => Err(refuse(ErrorCode::UnknownCall, format!("you have no call or chat {id}"))),
        Some(f) if !f.answered || !f.ended => Err(refuse(
            ErrorCode::InvalidState,
            "only a call or chat that was answered and has ended can be rated",
        )),
        Some(_) => Ok((kind, id.clone(), id)),
    }
}
