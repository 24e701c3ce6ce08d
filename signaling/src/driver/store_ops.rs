//! The core's store operations carried out on the store: one `StoreRequest` in, one answer out
//! (which the driver hands back to the core). Nothing here decides anything.

use std::path::Path;
use std::sync::Arc;

use voicedesk_call_center::CallId;
use voicedesk_call_center::UnixMs;
use voicedesk_call_center::store::{
    AuditAction as CoreAudit, AuditRecord, CallFacts, ChatAuditAction as CoreChatAudit, ChatAuthor,
    MeasuredLegs, MessageReason as CoreReason, NewCallRecord, RatingKind, StoreFailure, StoreReply,
    StoreRequest, TicketFacts, VoiceMessageRecord,
};
use voicedesk_media_relay::{LegId as RelayLeg, RelayHandle, RelayStats};
use voicedesk_protocol::{ChatLine, EndReason, Role};
use voicedesk_store::{
    AuditAction, CHAT_PAGE_MAX, CallQuality, CallWrite, ChatMarks, ChatSender, ChatSide,
    MessageKind, MessageReason, NewAuditEntry, NewCall, NewChat, NewChatMessage, NewMessage,
    NewRating, NewWrapUp, RatingSubject, Store, StoreError,
};

/// How a store error reaches the core.
fn failure(e: StoreError) -> StoreFailure {
    match e {
        StoreError::InvalidValue { .. } => StoreFailure::InvalidValue(e.to_string()),
        StoreError::Conflict { .. } => StoreFailure::Conflict,
        StoreError::InvalidReference { target, .. } => {
            StoreFailure::InvalidReference { target: target.to_owned() }
        }
        other => StoreFailure::Unavailable(other.to_string()),
    }
}

/// How a chat write's error reaches the core: an ended chat (or one no longer connected to
/// the agent) is a refused value the sender is told about, not an outage.
fn chat_failure(e: StoreError) -> StoreFailure {
    if e.is_invalid_transition() {
        return StoreFailure::InvalidValue(e.to_string());
    }
    failure(e)
}

fn reason(r: CoreReason) -> MessageReason {
    match r {
        CoreReason::Closed => MessageReason::Closed,
        CoreReason::QueueFull => MessageReason::QueueFull,
        CoreReason::NoAgents => MessageReason::NoAgents,
        CoreReason::WaitLimit => MessageReason::WaitLimit,
        CoreReason::Choice => MessageReason::Choice,
    }
}

fn saved(inserted: voicedesk_store::InsertedMessage) -> StoreReply {
    StoreReply::MessageSaved {
        ticket: inserted.message.ticket,
        code: inserted.secret,
        due_at_ms: inserted.message.due_at_ms,
    }
}

/// The audio figures the relay last published for a finished call's legs, as rows to keep
/// with its record (a side without audio has none). Clamped into the ranges the store
/// accepts, so a measurement can never make the end's write fail.
fn measured_quality(relay: &RelayStats, measured: &MeasuredLegs) -> Vec<CallQuality> {
    [("citizen", measured.citizen), ("agent", measured.agent)]
        .into_iter()
        .filter_map(|(side, leg)| {
            let q = relay.live_quality(RelayLeg(leg?.0))?;
            Some(CallQuality {
                side,
                mos: q.mos?.clamp(1.0, 4.5),
                loss_pct: (q.loss * 100.0).clamp(0.0, 100.0),
                jitter_ms: q.jitter_ms.max(0.0),
                rtt_ms: q.rtt_ms.filter(|rtt| rtt.is_finite()).map(|rtt| rtt.max(0.0)),
            })
        })
        .collect()
}

/// The end of a call with its sides' audio figures as the relay last published them.
fn ended(
    call: &CallId,
    at: UnixMs,
    reason: EndReason,
    measured: &MeasuredLegs,
    relay: &RelayStats,
) -> CallWrite {
    CallWrite::Ended {
        call_id: call.0.clone(),
        at_ms: at.0,
        outcome: reason.as_str().to_owned(),
        quality: measured_quality(relay, measured),
    }
}

/// The group-commit form of a call-record write (`None` for anything else). The end of a call
/// takes its sides' audio figures from `relay` now, while its legs' figures are still there.
pub(super) fn call_write(request: &StoreRequest, relay: &RelayStats) -> Option<CallWrite> {
    Some(match request {
        StoreRequest::InsertCall(r) => CallWrite::Insert(new_call(r)),
        StoreRequest::CallOffered { call, agent, at } => {
            CallWrite::Offered { call_id: call.0.clone(), agent_id: agent.clone(), at_ms: at.0 }
        }
        StoreRequest::CallAnswered { call, agent, at } => {
            CallWrite::Answered { call_id: call.0.clone(), agent_id: agent.clone(), at_ms: at.0 }
        }
        StoreRequest::CallTransferred { call, skill, at } => {
            CallWrite::Transferred { call_id: call.0.clone(), to_skill: skill.clone(), at_ms: at.0 }
        }
        StoreRequest::CallTakenOver { call, staff, at } => {
            CallWrite::TakenOver { call_id: call.0.clone(), staff_id: staff.clone(), at_ms: at.0 }
        }
        StoreRequest::CallEnded { call, at, reason, measured } => {
            ended(call, *at, *reason, measured, relay)
        }
        StoreRequest::Audit(a) => CallWrite::Audit(audit_entry(a)),
        StoreRequest::WrapUp { call, agent, disposition, notes, at, chat: false } => {
            CallWrite::WrapUp(NewWrapUp {
                call_id: call.0.clone(),
                agent_id: agent.clone(),
                disposition: disposition.clone(),
                notes: notes.clone(),
                at_ms: at.0,
            })
        }
        _ => return None,
    })
}

fn new_call(r: &NewCallRecord) -> NewCall {
    NewCall {
        id: r.call.0.clone(),
        citizen_session: r.citizen_session.clone(),
        service: r.service.clone(),
        queued_at_ms: r.queued_at.0,
        skill_id: Some(r.skill.clone()),
        priority: i32::from(r.priority),
    }
}

fn audit_entry(a: &AuditRecord) -> NewAuditEntry {
    NewAuditEntry {
        at_ms: a.at.0,
        actor_id: a.actor.clone(),
        call_id: a.call.0.clone(),
        action: match a.action {
            CoreAudit::Join => AuditAction::Join,
            CoreAudit::Mode => AuditAction::Mode,
            CoreAudit::Leave => AuditAction::Leave,
            CoreAudit::TakeOver => AuditAction::TakeOver,
        },
        mode: a.mode,
        detail: a.detail.clone(),
    }
}

/// Carries out one call-record write on its own (its group failed): the end of a call as it
/// was taken (see [`end_call`]), anything else as `request`.
pub(super) async fn run_alone(
    store: &Arc<dyn Store>,
    relay: &RelayHandle,
    voice_dir: &Path,
    write: CallWrite,
    request: StoreRequest,
) -> Result<StoreReply, StoreFailure> {
    match write {
        CallWrite::Ended { .. } => end_call(store, write).await,
        _ => run(store, relay, voice_dir, request).await,
    }
}

/// The end of a call and its audio figures in one transaction. If that changed nothing, the
/// call had already ended (fine, as [`voicedesk_store::CallStore::mark_call_ended`] says; its
/// figures were kept then) or does not exist (`NotFound`).
async fn end_call(store: &Arc<dyn Store>, write: CallWrite) -> Result<StoreReply, StoreFailure> {
    let done = |r: Result<(), StoreError>| r.map(|()| StoreReply::Done).map_err(failure);
    match store.commit_call_writes(std::slice::from_ref(&write)).await {
        Err(e) if e.is_not_found() => {
            let CallWrite::Ended { call_id, at_ms, outcome, .. } = write else {
                return Err(failure(e));
            };
            done(store.mark_call_ended(&call_id, at_ms, &outcome).await.map(|_| ()))
        }
        result => done(result),
    }
}

/// Carries out one request.
pub(super) async fn run(
    store: &Arc<dyn Store>,
    relay: &RelayHandle,
    voice_dir: &Path,
    request: StoreRequest,
) -> Result<StoreReply, StoreFailure> {
    let done = |r: Result<(), StoreError>| r.map(|()| StoreReply::Done).map_err(failure);
    match request {
        StoreRequest::InsertCall(r) => done(store.insert_call(&new_call(&r)).await),
        StoreRequest::CallOffered { call, agent, at } => {
            done(store.mark_call_offered(&call.0, &agent, at.0).await)
        }
        StoreRequest::CallAnswered { call, agent, at } => {
            done(store.mark_call_answered(&call.0, &agent, at.0).await)
        }
        StoreRequest::CallTransferred { call, skill, at } => {
            done(store.mark_call_transferred(&call.0, &skill, at.0).await.map(|_| ()))
        }
        StoreRequest::CallTakenOver { call, staff, at } => {
            done(store.mark_call_taken_over(&call.0, &staff, at.0).await.map(|_| ()))
        }
        StoreRequest::CallEnded { call, at, reason, measured } => {
            end_call(store, ended(&call, at, reason, &measured, relay.stats())).await
        }
        StoreRequest::Audit(a) => done(store.append_audit(&audit_entry(&a)).await.map(|_| ())),
        StoreRequest::ChatTakenOver { chat, staff, at } => {
            done(store.take_over_chat(&chat.0, &staff, at.0).await)
        }
        StoreRequest::ChatAudit(a) => {
            let entry = voicedesk_store::NewChatAudit {
                at_ms: a.at.0,
                actor_id: a.actor,
                chat_id: a.chat.0,
                action: match a.action {
                    CoreChatAudit::Watch => voicedesk_store::ChatAuditAction::Watch,
                    CoreChatAudit::Whisper => voicedesk_store::ChatAuditAction::Whisper,
                    CoreChatAudit::TakeOver => voicedesk_store::ChatAuditAction::TakeOver,
                    CoreChatAudit::Leave => voicedesk_store::ChatAuditAction::Leave,
                },
                detail: a.detail,
            };
            done(store.append_chat_audit(&entry).await.map(|_| ()))
        }
        StoreRequest::WrapUp { call, agent, disposition, notes, at, chat } => {
            let wrap_up =
                NewWrapUp { call_id: call.0, agent_id: agent, disposition, notes, at_ms: at.0 };
            if chat {
                done(store.save_chat_wrapup(&wrap_up).await)
            } else {
                done(store.save_wrapup(&wrap_up).await)
            }
        }
        StoreRequest::InsertMessage(m) => {
            let message = NewMessage {
                client_id: m.client_id,
                kind: MessageKind::Text,
                service: m.service,
                name: m.name,
                phone: m.phone,
                body: Some(m.body),
                voice_file: None,
                voice_ms: None,
                voice_bytes: None,
                call_id: m.call.map(|c| c.0),
                reason: reason(m.reason),
                created_at_ms: m.created_at.0,
                due_at_ms: m.due_at.0,
                citizen_id: Some(m.citizen_id),
            };
            store.insert_message(&message).await.map(saved).map_err(failure)
        }
        StoreRequest::InsertVoiceMessage(m) => voice_message(store, relay, voice_dir, m).await,
        StoreRequest::InsertRating { kind, subject_id, level, comment, at } => {
            let rating = NewRating {
                subject_kind: match kind {
                    RatingKind::Call => RatingSubject::Call,
                    RatingKind::Message => RatingSubject::Message,
                    RatingKind::Chat => RatingSubject::Chat,
                },
                subject_id,
                level: i32::from(level),
                comment,
                created_at_ms: at.0,
            };
            store.insert_rating(&rating).await.map(|_| StoreReply::Done).map_err(failure)
        }
        StoreRequest::ReadCall { call_id } => {
            let record = store.call(&call_id).await.map_err(failure)?;
            Ok(StoreReply::Call(record.map(|r| CallFacts {
                citizen_session: r.citizen_session,
                answered: r.answered_at_ms.is_some(),
                ended: r.outcome.is_some(),
            })))
        }
        StoreRequest::InsertChat { chat, citizen_id, service, skill, at } => {
            let new = NewChat {
                id: chat.0,
                citizen_id,
                service,
                skill: Some(skill),
                created_at_ms: at.0,
            };
            store.insert_chat(&new).await.map(|_| StoreReply::Done).map_err(failure)
        }
        StoreRequest::ChatAnswered { chat, agent, at } => store
            .answer_chat(&chat.0, &agent, at.0)
            .await
            .map(|_| StoreReply::Done)
            .map_err(failure),
        StoreRequest::ChatEnded { chat, reason, at } => store
            .end_chat(&chat.0, reason.as_str(), at.0)
            .await
            .map(|_| StoreReply::Done)
            .map_err(failure),
        StoreRequest::AppendChat { chat, client_id, author, text, at } => {
            let message = NewChatMessage {
                chat_id: chat.0,
                client_id,
                sender: match author {
                    ChatAuthor::Citizen => ChatSender::Citizen,
                    ChatAuthor::Agent(id) => ChatSender::Agent(id),
                },
                body: text,
                sent_at_ms: at.0,
            };
            let appended = store.append_chat_message(&message).await.map_err(chat_failure)?;
            Ok(StoreReply::ChatAppended {
                seq: appended.message.seq.max(0) as u64,
                sent_at: UnixMs(appended.message.sent_at_ms),
                created: appended.created,
            })
        }
        StoreRequest::MarkChat { chat, citizen, delivered_seq, read_seq } => {
            let side = if citizen { ChatSide::Citizen } else { ChatSide::Agent };
            let marks = ChatMarks {
                delivered_seq: i64::try_from(delivered_seq).unwrap_or(i64::MAX),
                read_seq: i64::try_from(read_seq).unwrap_or(i64::MAX),
            };
            store.mark_chat(&chat.0, side, marks).await.map(|_| StoreReply::Done).map_err(failure)
        }
        StoreRequest::ReadChatLines { chat, after_seq } => {
            // Every text after the seq, page by page.
            let mut lines = Vec::new();
            let mut after = i64::try_from(after_seq).unwrap_or(i64::MAX);
            loop {
                let page =
                    store.chat_messages(&chat.0, after, CHAT_PAGE_MAX).await.map_err(failure)?;
                let full = page.len() == CHAT_PAGE_MAX as usize;
                for m in page {
                    after = m.seq;
                    lines.push(ChatLine {
                        chat_id: m.chat_id,
                        seq: m.seq.max(0) as u64,
                        from: match m.sender {
                            ChatSender::Citizen => Role::Citizen,
                            ChatSender::Agent(_) => Role::Agent,
                        },
                        text: m.body,
                        sent_at_ms: m.sent_at_ms.max(0) as u64,
                    });
                }
                if !full {
                    break;
                }
            }
            Ok(StoreReply::ChatLines(lines))
        }
        StoreRequest::ReadChat { chat_id } => {
            let chat = store.chat(&chat_id).await.map_err(failure)?;
            Ok(StoreReply::Call(chat.map(|c| CallFacts {
                citizen_session: c.citizen_id,
                answered: c.answered_at_ms.is_some(),
                ended: c.ended_at_ms.is_some(),
            })))
        }
        StoreRequest::CountMessages { citizen_id, since, except_client_id } => store
            .citizen_message_count(&citizen_id, since.0, &except_client_id)
            .await
            .map(StoreReply::Count)
            .map_err(failure),
        StoreRequest::VerifyTicket { ticket, code } => {
            let message = store.verify_ticket(&ticket, &code).await.map_err(failure)?;
            Ok(StoreReply::Ticket(
                message.map(|m| TicketFacts { message_id: m.id, replied: m.reply.is_some() }),
            ))
        }
    }
}

/// A voice message: the recording is stopped, written as an Ogg/Opus file (temporary file,
/// `fsync`, rename, `fsync` of the directory), then the row naming it is committed; a file
/// whose row failed is removed.
async fn voice_message(
    store: &Arc<dyn Store>,
    relay: &RelayHandle,
    voice_dir: &Path,
    m: VoiceMessageRecord,
) -> Result<StoreReply, StoreFailure> {
    let recording = relay
        .stop_recording(RelayLeg(m.leg.0))
        .await
        .map_err(|e| StoreFailure::Unavailable(e.to_string()))?;
    if recording.packets.is_empty() {
        return Err(StoreFailure::InvalidValue("nothing was recorded".into()));
    }
    let bytes = recording.to_ogg_opus();
    let file = voicedesk_store::files::new_voice_file_name();
    let (dir, name, len) = (voice_dir.to_path_buf(), file.clone(), bytes.len());
    let written = tokio::task::spawn_blocking(move || {
        voicedesk_store::files::write_durably(&dir, &name, &bytes)
    })
    .await;
    if let Err(e) = written.map_err(std::io::Error::other).and_then(|r| r) {
        tracing::error!(error = %e, "could not write a voice message");
        return Err(StoreFailure::Unavailable(e.to_string()));
    }
    let message = NewMessage {
        client_id: m.client_id,
        kind: MessageKind::Voice,
        service: m.service,
        name: m.name,
        phone: m.phone,
        body: None,
        voice_file: Some(file.clone()),
        voice_ms: Some(recording.duration.as_millis() as i64),
        voice_bytes: Some(len as i64),
        call_id: m.call.map(|c| c.0),
        reason: reason(m.reason),
        created_at_ms: m.created_at.0,
        due_at_ms: m.due_at.0,
        citizen_id: Some(m.citizen_id),
    };
    match store.insert_message(&message).await {
        Ok(inserted) => Ok(saved(inserted)),
        Err(e) => {
            // Not acknowledged: the file goes (the start-up sweep would take it otherwise).
            if let Err(rm) = std::fs::remove_file(voice_dir.join(&file)) {
                tracing::warn!(error = %rm, %file, "could not remove an unsaved voice file");
            }
            Err(failure(e))
        }
    }
}
