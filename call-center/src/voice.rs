//! Voice messages: the relay records the citizen's waiting call's leg (no renegotiation) or a
//! leg of its own; on `finish_voice_message` the driver writes the file durably, then commits
//! the row naming it, and only then is the citizen told.

use voicedesk_protocol::{EndReason, ErrorCode, Role, ServerMessage};
use voicedesk_queue_engine::Input as EngineInput;

use crate::calls::leg_refusal;
use crate::citizen::store_refusal;
use crate::core::CallCenter;
use crate::error::{Refusal, refuse};
use crate::pending::Pending;
use crate::state::VoiceDraft;
use crate::store::{StoreFailure, StoreReply, StoreRequest, VoiceMessageRecord};
use crate::{CallId, ConnId, LegFailure, LegId, OpId, RelayCommand};

/// The store's rule for message client ids (a UUID or similar), checked before a recording is
/// stopped for a message that could not be saved.
fn check_client_id(client_id: &str) -> Result<(), Refusal> {
    let ok = (16..=64).contains(&client_id.len())
        && client_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(refuse(
            ErrorCode::InvalidState,
            "message.client_id: 16 to 64 characters of A-Z, a-z, 0-9, - and _ (a UUID)",
        ))
    }
}

impl CallCenter {
    /// `start_voice_message`: from the waiting call's leg, or from a new leg.
    pub(crate) fn start_voice_message(
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
        if let Some(id) = service.as_deref()
            && self.routing.route(Some(id)).is_none()
        {
            return Err(refuse(ErrorCode::UnknownService, format!("unknown service {id:?}")));
        }
        match (call_id, sdp) {
            (Some(call_id), None) => {
                let call = CallId(call_id);
                self.waiting_call_of(conn, &call)?;
                let c = &self.calls[&call];
                let leg = c.citizen_leg.ok_or_else(|| {
                    refuse(ErrorCode::InvalidState, "your call has no media connection right now")
                })?;
                let service = service.or_else(|| c.service.clone());
                let draft =
                    VoiceDraft { leg: Some(leg), call: Some(call), service, recording: false };
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.citizen.voice = Some(draft);
                }
                self.start_recording(leg, Pending::VoiceStart { conn, answer: None });
            }
            (None, Some(sdp)) => {
                if self.conns.get(&conn).is_some_and(|c| c.call.is_some()) {
                    return Err(refuse(
                        ErrorCode::InvalidState,
                        "you have a call in progress: record from it with its call_id",
                    ));
                }
                let draft = VoiceDraft { leg: None, call: None, service, recording: false };
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.citizen.voice = Some(draft);
                }
                self.create_leg(sdp, Role::Citizen, Pending::VoiceLeg { conn });
            }
            _ => {
                return Err(refuse(
                    ErrorCode::InvalidState,
                    "give either the call_id of your waiting call or a new sdp offer",
                ));
            }
        }
        Ok(())
    }

    /// The relay made a voice message's own leg: recording starts on it.
    pub(crate) fn voice_leg_created(
        &mut self,
        conn: ConnId,
        result: Result<(LegId, String), LegFailure>,
    ) {
        let draft = self.conns.get_mut(&conn).and_then(|c| c.citizen.voice.as_mut());
        match (draft, result) {
            (Some(draft), Ok((leg, answer))) => {
                draft.leg = Some(leg);
                self.start_recording(leg, Pending::VoiceStart { conn, answer: Some(answer) });
            }
            (None, Ok((leg, _))) => self.relay(RelayCommand::CloseLeg { leg }),
            (_, Err(e)) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.citizen.voice = None;
                }
                let r = leg_refusal(e);
                self.stats.client_errors += 1;
                self.send(conn, ServerMessage::error(r.code, r.text, Some("start_voice_message")));
            }
        }
    }

    pub(crate) fn recording_started(&mut self, op: OpId, result: Result<(), String>) {
        let Some(Pending::VoiceStart { conn, answer }) = self.pending.remove(&op) else {
            self.violation(format!("recording answer for {op}, which awaits none"));
            return;
        };
        let Some(draft) = self.conns.get_mut(&conn).and_then(|c| c.citizen.voice.as_mut()) else {
            // Gone or cancelled meanwhile: what was started is stopped.
            if result.is_ok() && answer.is_some() {
                // Its own leg was closed with the draft already.
            }
            return;
        };
        let (leg, from_call) = (draft.leg, draft.call.is_some());
        match result {
            Ok(()) => {
                draft.recording = true;
                if from_call && let Some(leg) = leg {
                    // The citizen speaks now; the hold tune would only be in the way.
                    self.relay(RelayCommand::SetHold { leg, on: false });
                }
                let max_ms = self.config.voice_max.as_millis() as u64;
                self.send(conn, ServerMessage::VoiceRecording { sdp: answer, max_ms });
            }
            Err(_) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.citizen.voice = None;
                }
                if !from_call && let Some(leg) = leg {
                    self.relay(RelayCommand::CloseLeg { leg });
                }
                self.stats.client_errors += 1;
                let r = leg_refusal(LegFailure::Unavailable(String::new()));
                self.send(conn, ServerMessage::error(r.code, r.text, Some("start_voice_message")));
            }
        }
    }

    /// `finish_voice_message`: the driver stops the recording, writes the file, commits the
    /// row; the citizen hears of it once committed.
    pub(crate) fn finish_voice_message(
        &mut self,
        conn: ConnId,
        citizen_id: String,
        client_id: String,
        name: Option<String>,
        phone: Option<String>,
    ) -> Result<(), Refusal> {
        check_client_id(&client_id)?;
        let draft = self.conns.get(&conn).and_then(|c| c.citizen.voice.clone());
        let Some(draft) = draft.filter(|d| d.recording) else {
            return Err(refuse(ErrorCode::InvalidState, "no voice message is being recorded"));
        };
        let Some(leg) = draft.leg else {
            return Err(refuse(ErrorCode::InvalidState, "no voice message is being recorded"));
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.citizen.voice = None;
        }
        let created_at = self.now;
        let due = self.routing.calendar.add_working_days(created_at.0, 2);
        let record = VoiceMessageRecord {
            leg,
            client_id: client_id.clone(),
            service: draft.service.clone(),
            name,
            phone,
            call: draft.call.clone(),
            reason: self.message_reason(conn, draft.call.as_ref()),
            created_at,
            due_at: crate::UnixMs(due),
            citizen_id,
        };
        let key = draft.call.clone();
        self.store(
            key,
            StoreRequest::InsertVoiceMessage(record),
            Pending::VoiceSave { conn, client_id, draft },
        );
        Ok(())
    }

    /// The voice message's file and row came back: the leg is let go (its own leg closed, the
    /// call's leg held again), then the citizen told.
    pub(crate) fn voice_saved(
        &mut self,
        conn: ConnId,
        client_id: String,
        draft: VoiceDraft,
        result: Result<StoreReply, StoreFailure>,
    ) {
        self.let_go_of_draft(&draft);
        match result {
            Ok(StoreReply::MessageSaved { ticket, code, due_at_ms }) => {
                let saved = ServerMessage::MessageSaved {
                    client_id,
                    ticket,
                    code: Some(code),
                    due_at_ms: due_at_ms.max(0) as u64,
                };
                self.send(conn, saved);
                if let Some(call) = draft.call
                    && self.calls.get(&call).is_some_and(|c| !c.answered())
                {
                    self.engine_must(EngineInput::EndCall { call, reason: EndReason::MessageLeft });
                }
            }
            Ok(other) => self.violation(format!("voice message insert answered {other:?}")),
            Err(e) => {
                let r = match &e {
                    StoreFailure::InvalidValue(text) if text.contains("nothing was recorded") => {
                        refuse(
                            ErrorCode::InvalidState,
                            "nothing was recorded; is the microphone on?",
                        )
                    }
                    StoreFailure::Unavailable(_) => refuse(
                        ErrorCode::Internal,
                        "the voice message could not be stored; please try again or leave a text message",
                    ),
                    e => store_refusal(e),
                };
                self.stats.client_errors += 1;
                self.send(conn, ServerMessage::error(r.code, r.text, Some("finish_voice_message")));
            }
        }
        self.message_answered(conn);
    }

    /// A draft is over: its own leg is closed; a live call's leg hears the hold tune again.
    fn let_go_of_draft(&mut self, draft: &VoiceDraft) {
        let Some(leg) = draft.leg else { return };
        match &draft.call {
            None => self.relay(RelayCommand::CloseLeg { leg }),
            Some(call)
                if self
                    .calls
                    .get(call)
                    .is_some_and(|c| c.citizen_leg == Some(leg) && !c.answered()) =>
            {
                self.relay(RelayCommand::SetHold { leg, on: true })
            }
            Some(_) => {}
        }
    }

    /// Stops a draft's recording and drops it.
    fn discard(&mut self, draft: &VoiceDraft) {
        if let Some(leg) = draft.leg
            && draft.recording
        {
            self.relay(RelayCommand::DiscardRecording { leg });
        }
        self.let_go_of_draft(draft);
    }

    /// Drops the connection's voice message draft, if any, without a word to the citizen.
    pub(crate) fn drop_own_voice_draft(&mut self, conn: ConnId) {
        if let Some(draft) = self.conns.get_mut(&conn).and_then(|c| c.citizen.voice.take()) {
            self.discard(&draft);
        }
    }

    /// `cancel_voice_message`.
    pub(crate) fn cancel_voice_message(&mut self, conn: ConnId) -> Result<(), Refusal> {
        let Some(draft) = self.conns.get_mut(&conn).and_then(|c| c.citizen.voice.take()) else {
            return Err(refuse(ErrorCode::InvalidState, "no voice message is being recorded"));
        };
        self.discard(&draft);
        self.send(conn, ServerMessage::VoiceMessageCancelled);
        Ok(())
    }

    /// An agent answered (or the call ended) while the citizen was recording from it: the
    /// recording is dropped and the citizen told.
    pub(crate) fn drop_voice_draft_of(&mut self, call: &CallId) {
        let Some(conn) = self.calls.get(call).map(|c| c.citizen_conn) else { return };
        let from_this = self
            .conns
            .get(&conn)
            .and_then(|c| c.citizen.voice.as_ref())
            .is_some_and(|d| d.call.as_ref() == Some(call));
        if !from_this {
            return;
        }
        if let Some(draft) = self.conns.get_mut(&conn).and_then(|c| c.citizen.voice.take()) {
            if let Some(leg) = draft.leg.filter(|_| draft.recording) {
                self.relay(RelayCommand::DiscardRecording { leg });
            }
            self.send(conn, ServerMessage::VoiceMessageCancelled);
        }
    }

    /// A citizen connection went away: a voice message on a leg of its own is dropped.
    pub(crate) fn voice_of_gone_connection(&mut self, draft: Option<VoiceDraft>) {
        if let Some(draft) = draft.filter(|d| d.call.is_none()) {
            self.discard(&draft);
        }
    }
}
