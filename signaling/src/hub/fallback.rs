//! When no agent can answer: the self-service assistant (questions answered from the knowledge
//! base, and the hand-off to an agent with the transcript), online messages (text and voice)
//! and the citizen's rating of the service.

use voicedesk_knowledge::{Confidence, Hit};
use voicedesk_protocol::{ErrorCode, KnowledgeHit, ServerMessage, TranscriptLine};

use super::calls::{Refusal, refuse};
use super::{ConnId, Hub};

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
