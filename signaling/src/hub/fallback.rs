//! When no agent can answer: the self-service assistant (questions answered from the knowledge
//! base, and the hand-off to an agent with the transcript), online messages (text and voice)
//! and the citizen's rating of the service.

use std::time::Instant;

use voicedesk_knowledge::{Confidence, Hit};
use voicedesk_media_relay::LegId;
use voicedesk_protocol::{EndReason, ErrorCode, KnowledgeHit, Role, ServerMessage, TranscriptLine};
use voicedesk_queue_engine::{CallId, Input};
use voicedesk_store::{
    MessageKind, MessageReason, NewMessage, NewRating, RatingSubject, StoreError,
};

use super::calls::{Refusal, refuse, relay_refusal};
use super::{ConnId, Hub};
use crate::clock::now_ms;

/// A message is due this many working days after it arrives (the government service norm).
const DUE_WORKING_DAYS: u32 = 2;
/// Longest rating comment, in characters.
const MAX_COMMENT_CHARS: usize = 500;

/// Longest question, in characters.
const MAX_QUESTION_CHARS: usize = 500;
/// Lines of the assistant conversation kept per connection (and shown to the agent).
const MAX_TRANSCRIPT_LINES: usize = 40;

/// What a citizen connection has going on besides its call.
#[derive(Debug, Default)]
pub(super) struct CitizenSide {
    /// The conversation with the self-service assistant, oldest first.
    pub(super) chat: Vec<TranscriptLine>,
    /// The citizen asked for an agent after talking to the assistant: the assistant says
    /// nothing more until that call ends.
    pub(super) handed_off: bool,
    /// A voice message being recorded.
    pub(super) voice: Option<VoiceDraft>,
    /// Why this citizen's last call was turned away, for the reason of a message left next.
    pub(super) turned_away: Option<EndReason>,
}

/// A voice message being recorded by the relay.
#[derive(Debug)]
pub(super) struct VoiceDraft {
    /// The leg recorded.
    leg: LegId,
    /// The queued call it is recorded from (its leg), or `None` for a leg of its own.
    call: Option<CallId>,
    /// The service the message is about.
    service: Option<String>,
}

/// Message text that the store refuses is shown to the citizen as it is (it names the field).
fn store_refusal(e: StoreError) -> Refusal {
    match e {
        StoreError::InvalidValue { .. } => refuse(ErrorCode::InvalidState, e.to_string()),
        StoreError::Conflict { .. } => refuse(
            ErrorCode::InvalidState,
            "this client_id was already used for another message or rating",
        ),
        other => {
            tracing::error!(error = %other, "could not save a message or rating");
            refuse(ErrorCode::Internal, "it could not be saved; please try again")
        }
    }
}

impl CitizenSide {
    fn push(&mut self, from: &str, text: String) {
        self.chat.push(TranscriptLine { from: from.to_owned(), text });
        let excess = self.chat.len().saturating_sub(MAX_TRANSCRIPT_LINES);
        self.chat.drain(..excess);
    }
}

fn knowledge_hit(hit: Hit) -> KnowledgeHit {
    KnowledgeHit {
        article_id: hit.article_id,
        title: hit.title,
        body: hit.body,
        service: hit.service_id,
    }
}

impl Hub {
    /// `ask`: the assistant answers from the knowledge base (about a millisecond, so it runs in
    /// the hub's turn; the transcript must follow the order of the citizen's messages anyway).
    pub(super) fn ask(&mut self, conn: ConnId, text: String) -> Result<(), Refusal> {
        let question = text.trim().to_owned();
        if question.is_empty() || question.chars().count() > MAX_QUESTION_CHARS {
            return Err(refuse(
                ErrorCode::InvalidState,
                format!("a question has 1 to {MAX_QUESTION_CHARS} characters"),
            ));
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return Err(refuse(ErrorCode::Internal, "connection is not registered"));
        };
        if c.citizen.handed_off {
            return Err(refuse(
                ErrorCode::InvalidState,
                "you are being connected to an agent; the assistant has handed over",
            ));
        }
        let answer = self.knowledge.answer(&question, None);
        let confident = answer.confidence == Confidence::High;
        let said = match &answer.best {
            Some(best) => best.title.clone(),
            None if answer.suggestions.is_empty() => "—".to_owned(),
            None => {
                let titles: Vec<&str> =
                    answer.suggestions.iter().map(|h| h.title.as_str()).collect();
                format!("? {}", titles.join(" / "))
            }
        };
        c.citizen.push("citizen", question.clone());
        c.citizen.push("assistant", said);
        let reply = ServerMessage::Answer {
            question,
            best: answer.best.map(knowledge_hit),
            suggestions: answer.suggestions.into_iter().map(knowledge_hit).collect(),
            confident,
            offer_human: !confident,
        };
        self.send(conn, reply);
        Ok(())
    }

    /// A call placed from this connection takes the assistant conversation along (the agent
    /// sees it with the offer) and ends the assistant's part.
    pub(super) fn hand_off_transcript(&mut self, conn: ConnId) -> Vec<TranscriptLine> {
        let Some(c) = self.conns.get_mut(&conn) else { return Vec::new() };
        if c.citizen.chat.is_empty() {
            return Vec::new();
        }
        c.citizen.handed_off = true;
        c.citizen.chat.clone()
    }

    /// The citizen's call ended: the assistant may answer again, starting a new conversation.
    pub(super) fn assistant_back(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn)
            && c.citizen.handed_off
        {
            c.citizen.handed_off = false;
            c.citizen.chat.clear();
        }
    }
}

impl Hub {
    /// The citizen's waiting (not answered, not parked) call on this connection.
    fn waiting_call_of(&self, conn: ConnId, call: &CallId) -> Result<(), Refusal> {
        let owns = self.conns.get(&conn).is_some_and(|c| c.call.as_ref() == Some(call));
        match self.calls.get(call) {
            Some(c) if owns && !c.connected && !c.parked && c.taken_over_by.is_none() => Ok(()),
            Some(_) if owns => {
                Err(refuse(ErrorCode::InvalidState, "the call is no longer waiting"))
            }
            _ => Err(refuse(ErrorCode::UnknownCall, format!("you have no call {call}"))),
        }
    }

    /// Why the citizen leaves a message: from a waiting call, its wait limit or their choice;
    /// otherwise the reason the last call was turned away.
    fn message_reason(&self, conn: ConnId, call: Option<&CallId>) -> MessageReason {
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

    fn check_service(&self, service: Option<&str>) -> Result<(), Refusal> {
        match service {
            Some(id) if self.routing.route(Some(id)).is_none() => {
                Err(refuse(ErrorCode::UnknownService, format!("unknown service {id:?}")))
            }
            _ => Ok(()),
        }
    }

    fn citizen_of(&self, conn: ConnId) -> Option<String> {
        match self.conns.get(&conn).map(|c| &c.identity) {
            Some(super::Identity::Citizen { citizen_id }) => Some(citizen_id.clone()),
            _ => None,
        }
    }

    /// Refuses a message (other than the retry of `client_id`) from a citizen who has left as
    /// many as the cap allows in the last 24 hours.
    async fn check_message_cap(&self, conn: ConnId, client_id: &str) -> Result<(), Refusal> {
        const DAY_MS: i64 = 24 * 3600 * 1000;
        let Some(citizen) = self.citizen_of(conn) else { return Ok(()) };
        let left = self
            .store
            .citizen_message_count(&citizen, now_ms() - DAY_MS, client_id)
            .await
            .map_err(store_refusal)?;
        let cap = self.messages_per_citizen;
        if left >= u64::from(cap) {
            return Err(refuse(
                ErrorCode::RateLimited,
                format!(
                    "you have left {cap} messages in the last 24 hours, the most we take; \
                     staff will answer those first"
                ),
            ));
        }
        Ok(())
    }

    /// Commits a message and acknowledges it; a waiting call it came from then ends as
    /// `message_left`.
    async fn save_message(
        &mut self,
        conn: ConnId,
        mut message: NewMessage,
        call: Option<CallId>,
    ) -> Result<(), Refusal> {
        let now = now_ms();
        message.reason = self.message_reason(conn, call.as_ref());
        message.created_at_ms = now;
        message.due_at_ms = self.routing.calendar.add_working_days(now, DUE_WORKING_DAYS);
        let client_id = message.client_id.clone();
        message.citizen_id = self.citizen_of(conn);
        self.check_message_cap(conn, &client_id).await?;
        let inserted = self.store.insert_message(&message).await.map_err(store_refusal)?;
        tracing::info!(ticket = %inserted.message.ticket, created = inserted.created, "message saved");
        self.send(
            conn,
            ServerMessage::MessageSaved {
                client_id,
                ticket: inserted.message.ticket.clone(),
                code: Some(inserted.secret),
                due_at_ms: inserted.message.due_at_ms.max(0) as u64,
            },
        );
        if let Some(call) = call
            && self.calls.contains_key(&call)
        {
            let left = Input::CallAbandoned { call: call.clone() };
            if self.engine.handle_input(Instant::now(), left).is_ok() {
                self.carry_out_with(Some(EndReason::MessageLeft)).await;
            }
        }
        Ok(())
    }

    /// `leave_message`: a text message.
    #[allow(clippy::too_many_arguments)] // the message's fields, as the protocol has them
    pub(super) async fn leave_message(
        &mut self,
        conn: ConnId,
        client_id: String,
        service: Option<String>,
        name: Option<String>,
        phone: Option<String>,
        body: String,
        call_id: Option<String>,
    ) -> Result<(), Refusal> {
        self.check_service(service.as_deref())?;
        let call = call_id.map(CallId);
        if let Some(call) = &call {
            self.waiting_call_of(conn, call)?;
        }
        let message = NewMessage {
            client_id,
            kind: MessageKind::Text,
            service,
            name,
            phone,
            body: Some(body),
            voice_file: None,
            voice_ms: None,
            voice_bytes: None,
            call_id: call.as_ref().map(|c| c.0.clone()),
            reason: MessageReason::Choice,
            created_at_ms: 0,
            due_at_ms: 0,
            citizen_id: None,
        };
        self.save_message(conn, message, call).await
    }

    /// `start_voice_message`: the relay records the waiting call's leg, or a new leg.
    pub(super) async fn start_voice_message(
        &mut self,
        conn: ConnId,
        call_id: Option<String>,
        sdp: Option<String>,
        service: Option<String>,
    ) -> Result<(), Refusal> {
        if self.conns.get(&conn).is_some_and(|c| c.citizen.voice.is_some()) {
            return Err(refuse(
                ErrorCode::InvalidState,
                "a voice message is already being recorded",
            ));
        }
        self.check_service(service.as_deref())?;
        // Refused before the citizen speaks, not after.
        self.check_message_cap(conn, "").await?;
        let max = self.voice_max;
        let (leg, call, answer) = match (call_id, sdp) {
            (Some(call_id), None) => {
                let call = CallId(call_id);
                self.waiting_call_of(conn, &call)?;
                let leg = self.calls[&call].citizen_leg.ok_or_else(|| {
                    refuse(ErrorCode::InvalidState, "your call has no media connection right now")
                })?;
                (leg, Some(call), None)
            }
            (None, Some(sdp)) => {
                if self.conns.get(&conn).is_some_and(|c| c.call.is_some()) {
                    return Err(refuse(
                        ErrorCode::InvalidState,
                        "you have a call in progress: record from it with its call_id",
                    ));
                }
                let (leg, answer) = self
                    .relay
                    .create_leg(sdp, Role::Citizen.receive_slots())
                    .await
                    .map_err(relay_refusal)?;
                (leg, None, Some(answer))
            }
            _ => {
                return Err(refuse(
                    ErrorCode::InvalidState,
                    "give either the call_id of your waiting call or a new sdp offer",
                ));
            }
        };
        if let Err(e) = self.relay.start_recording(leg, max).await {
            if call.is_none() {
                let _ = self.relay.close_leg(leg).await;
            }
            return Err(relay_refusal(e));
        }
        if call.is_some() {
            // The citizen speaks now; the hold tune would only be in the way.
            let _ = self.relay.set_hold(leg, false).await;
        }
        let service = service.or_else(|| call.as_ref().and_then(|c| self.calls[c].service.clone()));
        if let Some(c) = self.conns.get_mut(&conn) {
            c.citizen.voice = Some(VoiceDraft { leg, call, service });
        }
        let max_ms = max.as_millis() as u64;
        self.send(conn, ServerMessage::VoiceRecording { sdp: answer, max_ms });
        Ok(())
    }

    /// Takes the draft off the connection and stops the recording; a leg of its own is closed,
    /// a waiting call's leg gets its hold tune back.
    async fn end_voice_draft(
        &mut self,
        conn: ConnId,
    ) -> Option<(VoiceDraft, Result<voicedesk_media_relay::Recording, Refusal>)> {
        let draft = self.conns.get_mut(&conn)?.citizen.voice.take()?;
        let recording = self.relay.stop_recording(draft.leg).await.map_err(relay_refusal);
        if draft.call.is_none() {
            let _ = self.relay.close_leg(draft.leg).await;
        } else if draft.call.as_ref().is_some_and(|c| self.calls.contains_key(c)) {
            let _ = self.relay.set_hold(draft.leg, true).await;
        }
        Some((draft, recording))
    }

    /// `finish_voice_message`: the recording becomes an Ogg/Opus file (written, synced,
    /// renamed), then its row is committed, then the citizen is told.
    pub(super) async fn finish_voice_message(
        &mut self,
        conn: ConnId,
        client_id: String,
        name: Option<String>,
        phone: Option<String>,
    ) -> Result<(), Refusal> {
        check_client_id(&client_id)?;
        let Some((draft, recording)) = self.end_voice_draft(conn).await else {
            return Err(refuse(ErrorCode::InvalidState, "no voice message is being recorded"));
        };
        let recording = recording?;
        if recording.packets.is_empty() {
            return Err(refuse(
                ErrorCode::InvalidState,
                "nothing was recorded; is the microphone on?",
            ));
        }
        let bytes = recording.to_ogg_opus();
        let file = voicedesk_store::files::new_voice_file_name();
        let dir = self.voice_dir.clone();
        let (name_for_write, len) = (file.clone(), bytes.len());
        let written = tokio::task::spawn_blocking(move || {
            voicedesk_store::files::write_durably(&dir, &name_for_write, &bytes)
        })
        .await;
        if let Err(e) = written.map_err(std::io::Error::other).and_then(|r| r) {
            tracing::error!(error = %e, "could not write a voice message");
            return Err(refuse(
                ErrorCode::Internal,
                "the voice message could not be stored; please try again or leave a text message",
            ));
        }
        let message = NewMessage {
            client_id,
            kind: MessageKind::Voice,
            service: draft.service,
            name,
            phone,
            body: None,
            voice_file: Some(file.clone()),
            voice_ms: Some(recording.duration.as_millis() as i64),
            voice_bytes: Some(len as i64),
            call_id: draft.call.as_ref().map(|c| c.0.clone()),
            reason: MessageReason::Choice,
            created_at_ms: 0,
            due_at_ms: 0,
            citizen_id: None,
        };
        let saved = self.save_message(conn, message, draft.call).await;
        if saved.is_err() {
            // Not acknowledged: the file goes (the start-up sweep would take it otherwise).
            let _ = std::fs::remove_file(self.voice_dir.join(&file));
        }
        saved
    }

    /// `cancel_voice_message`.
    pub(super) async fn cancel_voice_message(&mut self, conn: ConnId) -> Result<(), Refusal> {
        if self.end_voice_draft(conn).await.is_none() {
            return Err(refuse(ErrorCode::InvalidState, "no voice message is being recorded"));
        }
        self.send(conn, ServerMessage::VoiceMessageCancelled);
        Ok(())
    }

    /// An agent answered (or the call ended) while the citizen was recording from it: the
    /// recording is dropped and the citizen told.
    pub(super) async fn drop_voice_draft_of(&mut self, call: &CallId) {
        let conn = self.calls.get(call).map(|c| c.citizen_conn);
        let Some(conn) = conn else { return };
        let recording_this = self
            .conns
            .get(&conn)
            .and_then(|c| c.citizen.voice.as_ref())
            .is_some_and(|d| d.call.as_ref() == Some(call));
        if recording_this && self.end_voice_draft(conn).await.is_some() {
            self.send(conn, ServerMessage::VoiceMessageCancelled);
        }
    }

    /// A citizen connection went away: a voice message on a leg of its own is dropped.
    pub(super) async fn citizen_gone(&mut self, conn: ConnId) {
        let own_leg = self
            .conns
            .get(&conn)
            .and_then(|c| c.citizen.voice.as_ref())
            .is_some_and(|d| d.call.is_none());
        if own_leg {
            let _ = self.end_voice_draft(conn).await;
        }
    }

    /// `rate`: one of this citizen's answered calls, or an answered message by ticket and code.
    pub(super) async fn rate(
        &mut self,
        conn: ConnId,
        citizen_id: &str,
        target: RatingTarget,
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
        let (kind, subject_id, shown) = match target {
            RatingTarget::Call(call_id) => {
                let record = self.store.call(&call_id).await.map_err(store_refusal)?;
                let Some(record) = record.filter(|r| r.citizen_session == citizen_id) else {
                    return Err(refuse(
                        ErrorCode::UnknownCall,
                        format!("you have no call {call_id}"),
                    ));
                };
                if record.answered_at_ms.is_none() || record.outcome.is_none() {
                    return Err(refuse(
                        ErrorCode::InvalidState,
                        "only a call that was answered and has ended can be rated",
                    ));
                }
                (RatingSubject::Call, call_id.clone(), call_id)
            }
            RatingTarget::Ticket { ticket, code } => {
                let message =
                    self.store.verify_ticket(&ticket, &code).await.map_err(store_refusal)?;
                let Some(message) = message else {
                    return Err(refuse(ErrorCode::InvalidState, "unknown ticket or wrong code"));
                };
                if message.reply.is_none() {
                    return Err(refuse(ErrorCode::InvalidState, "the message has no reply yet"));
                }
                (RatingSubject::Message, message.id, ticket)
            }
        };
        let rating = NewRating {
            subject_kind: kind,
            subject_id,
            level: i32::from(level),
            comment,
            created_at_ms: now_ms(),
        };
        match self.store.insert_rating(&rating).await {
            Ok(_) => {
                self.send(conn, ServerMessage::RatingSaved { subject: shown, level });
                Ok(())
            }
            Err(StoreError::Conflict { .. }) => {
                Err(refuse(ErrorCode::InvalidState, "this has already been rated"))
            }
            Err(e) => Err(store_refusal(e)),
        }
    }
}

/// What a citizen rates.
pub(super) enum RatingTarget {
    /// One of their calls.
    Call(String),
    /// An answered message, proven by its code.
    Ticket {
        /// The ticket number.
        ticket: String,
        /// Its secret code.
        code: String,
    },
}

/// The store's rule for client ids, checked before a recording is stopped for a message that
/// could not be saved.
fn check_client_id(client_id: &str) -> Result<(), Refusal> {
    NewMessage::check_client_id(client_id).map_err(store_refusal)
}
