//! What the driver measures for `/metrics` and the staff console: it times what passes through
//! it (a client message until the reply that closes its step, store operations) and turns the
//! core's reported facts into histograms. It decides nothing; the core stays free of clocks.
//!
//! - set-up `queued`: a citizen's `call` until `call_queued` goes to that connection (the
//!   leg answered by the relay and the record committed);
//! - set-up `bridged`: an agent's `accept` until `call_connected` goes to the agent (the
//!   answer committed and routing handed to the relay);
//! - answer after offer: `call_offered` sent to an agent until the agent's `accept`;
//! - a client message's handling: the core's decision plus handing its effects out;
//! - queue wait and handle time: from the core's [`Report::Answered`] and
//!   [`Report::CallFinished`] (its own `now` differences);
//! - audio quality: the relay's per-leg figures, put on the wallboard's calls and kept with
//!   the call record when it ends.
//!
//! [`Report::Answered`]: voicedesk_call_center::Report::Answered
//! [`Report::CallFinished`]: voicedesk_call_center::Report::CallFinished

use std::collections::HashMap;
use std::time::{Duration, Instant};

use voicedesk_call_center::store::StoreRequest;
use voicedesk_call_center::{ConnId, OpId};
use voicedesk_media_relay::{LegId as RelayLeg, LegQuality, RelayStats};
use voicedesk_protocol::{AudioQuality, ClientMessage, EndReason, ServerMessage};

use crate::metrics::{
    Histograms, MessageType, Queue, QueueOutcome, SetupStep, Side, StoreOperation,
};

/// Open set-up steps, by connection. An entry lives from the client's message to the reply
/// that closes it, an error to that connection, or the connection's end.
#[derive(Default)]
pub(super) struct Timing {
    /// A citizen's `call` arrived.
    placing: HashMap<ConnId, Instant>,
    /// An agent's `accept` arrived.
    accepting: HashMap<ConnId, Instant>,
    /// An offer was sent to this agent.
    offered: HashMap<ConnId, Instant>,
    /// Store operations handed out and not answered yet: their kind and when.
    store_ops: HashMap<OpId, (&'static str, Instant)>,
}

impl Timing {
    /// A client message arrives.
    pub(super) fn client(
        &mut self,
        h: &Histograms,
        at: Instant,
        conn: ConnId,
        message: &ClientMessage,
    ) {
        match message {
            ClientMessage::Call { .. } => {
                self.placing.insert(conn, at);
            }
            ClientMessage::Accept { .. } => {
                self.accepting.insert(conn, at);
                if let Some(offered) = self.offered.remove(&conn) {
                    h.answer_after_offer.observe(at.duration_since(offered).as_secs_f64());
                }
            }
            ClientMessage::Reject { .. } => {
                self.offered.remove(&conn);
            }
            _ => {}
        }
    }

    /// A message goes to a connection.
    pub(super) fn sent(&mut self, h: &Histograms, conn: ConnId, message: &ServerMessage) {
        let step = |map: &mut HashMap<ConnId, Instant>, step: &'static str| {
            if let Some(at) = map.remove(&conn) {
                h.setup.get_or_create(&SetupStep { step }).observe(at.elapsed().as_secs_f64());
            }
        };
        match message {
            ServerMessage::CallQueued { .. } => step(&mut self.placing, "queued"),
            ServerMessage::CallConnected { .. } => step(&mut self.accepting, "bridged"),
            ServerMessage::CallOffered { .. } => {
                self.offered.insert(conn, Instant::now());
            }
            ServerMessage::OfferWithdrawn { .. } => {
                self.offered.remove(&conn);
            }
            ServerMessage::Error { .. } | ServerMessage::CallEnded { .. } => self.gone(conn),
            _ => {}
        }
    }

    /// A store operation is handed out.
    pub(super) fn store_op(&mut self, op: OpId, request: &StoreRequest) {
        self.store_ops.insert(op, (operation(request), Instant::now()));
    }

    /// A store operation's answer arrives.
    pub(super) fn store_answer(&mut self, h: &Histograms, op: OpId, ok: bool) {
        if let Some((operation, at)) = self.store_ops.remove(&op) {
            let labels = StoreOperation { operation };
            h.store_write.get_or_create(&labels).observe(at.elapsed().as_secs_f64());
            if !ok {
                h.store_errors.get_or_create(&labels).inc();
            }
        }
    }

    /// The connection is gone: its open steps are dropped unmeasured.
    pub(super) fn gone(&mut self, conn: ConnId) {
        self.placing.remove(&conn);
        self.accepting.remove(&conn);
        self.offered.remove(&conn);
    }
}

/// One client message was handled in `took`.
pub(super) fn message_handled(h: &Histograms, r#type: &'static str, took: Duration) {
    h.ws_message.get_or_create(&MessageType { r#type }).observe(took.as_secs_f64());
}

/// A waiting call was answered after `waited`.
pub(super) fn answered(h: &Histograms, queue: &str, waited: Duration) {
    let labels = QueueOutcome { queue: queue.to_owned(), outcome: "answered".to_owned() };
    h.queue_wait.get_or_create(&labels).observe(waited.as_secs_f64());
}

/// A call ended: an unanswered one's wait, an answered one's talk time.
pub(super) fn finished(
    h: &Histograms,
    queue: &str,
    reason: EndReason,
    waited: Option<Duration>,
    talked: Option<Duration>,
) {
    if let Some(waited) = waited {
        let labels = QueueOutcome { queue: queue.to_owned(), outcome: reason.as_str().to_owned() };
        h.queue_wait.get_or_create(&labels).observe(waited.as_secs_f64());
    }
    if let Some(talked) = talked {
        h.handle.get_or_create(&Queue { queue: queue.to_owned() }).observe(talked.as_secs_f64());
    }
}

/// A finished call's side had this audio quality.
pub(super) fn call_quality(h: &Histograms, side: &'static str, mos: f64) {
    h.call_mos.get_or_create(&Side { side }).observe(mos);
}

/// Every store operation kind [`operation`] names: their error counters start at zero, so a
/// first failure is an increase Prometheus sees.
pub(super) const OPERATIONS: [&str; 14] = [
    "insert_call",
    "call_offered",
    "call_answered",
    "call_transferred",
    "call_taken_over",
    "call_ended",
    "audit",
    "wrap_up",
    "insert_message",
    "insert_voice_message",
    "insert_rating",
    "read_call",
    "verify_ticket",
    "count_messages",
];

/// Creates the series of the fixed label sets at zero (store errors by operation, call quality
/// by side), so they are on the page before the first event.
pub(super) fn start_series(h: &Histograms) {
    for operation in OPERATIONS {
        drop(h.store_errors.get_or_create(&StoreOperation { operation }));
    }
    for side in ["citizen", "agent"] {
        drop(h.call_mos.get_or_create(&Side { side }));
    }
}

/// A store request's kind (a fixed set: a label).
pub(super) fn operation(request: &StoreRequest) -> &'static str {
    match request {
        StoreRequest::InsertCall(_) => "insert_call",
        StoreRequest::CallOffered { .. } => "call_offered",
        StoreRequest::CallAnswered { .. } => "call_answered",
        StoreRequest::CallTransferred { .. } => "call_transferred",
        StoreRequest::CallTakenOver { .. } | StoreRequest::ChatTakenOver { .. } => {
            "call_taken_over"
        }
        StoreRequest::CallEnded { .. } => "call_ended",
        StoreRequest::Audit(_) | StoreRequest::ChatAudit(_) => "audit",
        StoreRequest::WrapUp { .. } => "wrap_up",
        StoreRequest::InsertMessage(_) => "insert_message",
        StoreRequest::InsertVoiceMessage(_) => "insert_voice_message",
        StoreRequest::InsertRating { .. } => "insert_rating",
        StoreRequest::ReadCall { .. } => "read_call",
        StoreRequest::VerifyTicket { .. } => "verify_ticket",
        StoreRequest::CountMessages { .. } => "count_messages",
        StoreRequest::InsertChat { .. } => "insert_chat",
        StoreRequest::ChatAnswered { .. } => "chat_answered",
        StoreRequest::ChatEnded { .. } => "chat_ended",
        StoreRequest::AppendChat { .. } => "append_chat",
        StoreRequest::MarkChat { .. } => "mark_chat",
        StoreRequest::ReadChatLines { .. } => "read_chat_lines",
        StoreRequest::ReadChat { .. } => "read_chat",
    }
}

/// The relay's last figures for a leg, as the protocol shows them.
pub(super) fn leg_quality(relay: &RelayStats, leg: Option<u64>) -> Option<AudioQuality> {
    let q = relay.live_quality(RelayLeg(leg?))?;
    audio_quality(&q)
}

/// A leg's figures as the protocol shows them (`None` before audio).
pub(super) fn audio_quality(q: &LegQuality) -> Option<AudioQuality> {
    Some(AudioQuality {
        mos: q.mos? as f32,
        loss_pct: (q.loss * 100.0) as f32,
        jitter_ms: q.jitter_ms as f32,
        rtt_ms: q.rtt_ms.map(|rtt| rtt as f32),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn operation_names_are_listed_once() {
        use voicedesk_call_center::store::StoreRequest;
        let request = StoreRequest::ReadCall { call_id: "c".into() };
        assert!(super::OPERATIONS.contains(&super::operation(&request)));
        let mut names = super::OPERATIONS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), super::OPERATIONS.len());
    }
}
