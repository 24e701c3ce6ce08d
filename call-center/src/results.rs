//! Answers of the store: each goes to the continuation the core left for it.

use crate::core::CallCenter;
use crate::pending::Pending;
use crate::store::{StoreFailure, StoreReply};
use crate::{Effect, OpId, Report};

impl CallCenter {
    pub(crate) fn store_done(&mut self, op: OpId, result: Result<StoreReply, StoreFailure>) {
        let Some(pending) = self.pending.remove(&op) else {
            self.violation(format!("store answer for {op}, which nothing awaits"));
            return;
        };
        if let Err(e) = &result {
            self.stats.store_failures += 1;
            let (what, call, then) = failure_note(&pending);
            self.emit(Effect::Report(Report::StoreFailed {
                what,
                call,
                error: format!("{e:?}"),
                then,
            }));
        }
        let ok = result.is_ok();
        self.release(op);
        match pending {
            Pending::PlaceRecord { call } => self.place_recorded(call, ok),
            Pending::TurnedAwayRecord { call, conn, reason, opens_at_ms } => {
                self.turned_away_recorded(call, conn, reason, opens_at_ms, ok)
            }
            Pending::TurnedAwayEnd { call, conn, reason, opens_at_ms } => {
                self.tell_turned_away(call, conn, reason, opens_at_ms)
            }
            Pending::Offer { call, agent, message } => {
                self.offer_recorded(call, agent, message, ok)
            }
            Pending::Answer { call, agent, at } => self.answer_recorded(call, agent, at, ok),
            Pending::Note { .. } => {}
            Pending::Audit { user_id, call, action, conn } => {
                self.audited(user_id, call, action, conn, ok)
            }
            Pending::ChatAudit { user_id, chat, action, conn } => {
                self.chat_audited(user_id, chat, action, conn, ok)
            }
            Pending::ChatWatchLines { chat, conn } => self.chat_watch_lines(chat, conn, result),
            Pending::WrapUp { conn, call, disposition } => {
                self.wrap_up_stored(conn, call, disposition, result)
            }
            Pending::Message { conn, client_id, call } => {
                self.message_stored(conn, client_id, call, result)
            }
            Pending::RatingLookup { conn, citizen_id, target, level, comment } => {
                self.rating_looked_up(conn, citizen_id, target, level, comment, result)
            }
            Pending::VoiceSave { conn, client_id, draft } => {
                self.voice_saved(conn, client_id, draft, result)
            }
            Pending::Rating { conn, shown, level } => {
                self.rating_stored(conn, shown, level, result)
            }
            Pending::MessageCap { conn, citizen_id, message } => {
                self.message_cap_counted(conn, citizen_id, message, result)
            }
            Pending::ChatRecord { chat } => self.chat_recorded(chat, ok),
            Pending::ChatTurnedAway { chat, conn, reason } => {
                self.chat_turned_away_recorded(chat, conn, reason, ok)
            }
            Pending::ChatTurnedAwayEnd { chat, conn, reason } => {
                self.tell_chat_turned_away(chat, conn, reason)
            }
            Pending::ChatAnswer { chat, agent } => self.chat_answer_recorded(chat, agent, ok),
            Pending::CallTextsRow { call, agent } => self.call_texts_row(call, agent, ok),
            Pending::CallTextsAgent { call, reader } => self.call_texts_ready(call, ok, reader),
            Pending::UpgradeRecord { chat, agent, answer } => {
                self.upgrade_recorded(chat, agent, answer, ok)
            }
            Pending::UpgradeAnswer { chat, agent, at, answer } => {
                self.upgrade_answered(chat, agent, at, answer, ok)
            }
            Pending::ChatText { chat, conn, client_id, author, text } => {
                self.chat_text_stored(chat, conn, client_id, author, text, result)
            }
            Pending::ChatLines { chat, conn, rejoin } => {
                self.chat_lines_read(chat, conn, rejoin, result)
            }
            other @ (Pending::PlaceLeg { .. }
            | Pending::UpgradeLeg { .. }
            | Pending::PlaceOffer { .. }
            | Pending::Headset { .. }
            | Pending::Rejoin { .. }
            | Pending::VoiceLeg { .. }
            | Pending::VoiceStart { .. }
            | Pending::TurnedAwayOffer { .. }
            | Pending::Search { .. }) => {
                self.violation(format!("store answer for {op}, which awaits {other:?}"));
            }
        }
    }
}

/// What a failed store operation was, and what the core does about it.
fn failure_note(pending: &Pending) -> (&'static str, Option<crate::CallId>, &'static str) {
    match pending {
        Pending::PlaceRecord { call } => {
            ("insert call", Some(call.clone()), "call refused; the citizen is told to try again")
        }
        Pending::TurnedAwayRecord { call, .. } => {
            ("insert call", Some(call.clone()), "the citizen is told to try again")
        }
        Pending::TurnedAwayEnd { call, .. } => {
            ("end call", Some(call.clone()), "told anyway; closed at next start")
        }
        Pending::Offer { call, .. } => {
            ("offer", Some(call.clone()), "offer withdrawn untold; the call goes on")
        }
        Pending::Answer { call, .. } => {
            ("answer", Some(call.clone()), "call ended as media_failed; nobody told of an answer")
        }
        Pending::Note { what, call } => (what, call.clone(), "nothing waits on it"),
        Pending::Audit { call, .. } => ("audit", Some(call.clone()), "the action is refused"),
        Pending::ChatAudit { chat, .. } => {
            ("chat audit", Some(chat.clone()), "the action is refused")
        }
        Pending::ChatWatchLines { chat, .. } => {
            ("read chat", Some(chat.clone()), "the staff member is told to open it again")
        }
        Pending::WrapUp { call, .. } => {
            ("wrap-up", Some(call.clone()), "the agent is told to try again")
        }
        Pending::Message { .. } => ("message", None, "the citizen is told; nothing acknowledged"),
        Pending::MessageCap { .. } => {
            ("count messages", None, "the citizen is told; nothing recorded")
        }
        Pending::RatingLookup { .. } => ("rating lookup", None, "the citizen is told"),
        Pending::Rating { .. } => ("rating", None, "the citizen is told; nothing acknowledged"),
        Pending::VoiceSave { .. } => {
            ("voice message", None, "the citizen is told; nothing acknowledged")
        }
        Pending::ChatRecord { chat } => {
            ("insert chat", Some(chat.clone()), "chat refused; the citizen is told to try again")
        }
        Pending::ChatTurnedAway { chat, .. } => {
            ("insert chat", Some(chat.clone()), "the citizen is told to try again")
        }
        Pending::ChatTurnedAwayEnd { chat, .. } => {
            ("end chat", Some(chat.clone()), "told anyway; the row stays open")
        }
        Pending::ChatAnswer { chat, .. } => {
            ("answer chat", Some(chat.clone()), "chat ended; nobody told of an answer")
        }
        Pending::ChatText { chat, .. } => {
            ("chat text", Some(chat.clone()), "the sender is told; nothing acknowledged")
        }
        Pending::ChatLines { chat, .. } => {
            ("read chat", Some(chat.clone()), "a rejoining citizen is told to try again")
        }
        Pending::CallTextsRow { call, .. } | Pending::CallTextsAgent { call, .. } => {
            ("a call's texts", Some(call.clone()), "its waiting texts are refused")
        }
        Pending::UpgradeRecord { chat, .. } => {
            ("insert upgraded call", Some(chat.clone()), "call and chat ended as media_failed")
        }
        Pending::UpgradeAnswer { chat, .. } => {
            ("answer upgraded call", Some(chat.clone()), "call and chat ended as media_failed")
        }
        Pending::PlaceLeg { .. }
        | Pending::UpgradeLeg { .. }
        | Pending::PlaceOffer { .. }
        | Pending::Headset { .. }
        | Pending::Rejoin { .. }
        | Pending::VoiceLeg { .. }
        | Pending::VoiceStart { .. }
        | Pending::TurnedAwayOffer { .. }
        | Pending::Search { .. } => ("not a store request", None, "violation"),
    }
}
