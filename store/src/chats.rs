//! Live text chats between a citizen and an agent (issue 16) and their messages: tables
//! `chats` and `chat_messages`.
//!
//! The rules a chat's writer relies on:
//! - every message is committed before [`ChatStore::append_chat_message`] returns, so the
//!   sender is acknowledged only then (DESIGN.md, core idea 7);
//! - a retried send (same chat, same `client_id`) is stored once: the retry gets the stored
//!   message back with `created == false`;
//! - messages are numbered 1, 2, … per chat in commit order (`seq`), so a reconnecting client
//!   asks for what came after the last `seq` it has;
//! - an ended chat takes no more messages, and an agent writes only to the chat connected to
//!   them. Nothing is written when a write is refused.

use crate::StoreError;
use crate::backend::{Backend, is_foreign_key_violation, is_unique_violation, on_pool};

/// A chat to record when the citizen starts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChat {
    /// Chosen by the call-center core (like a call id): 1 to 64 characters.
    pub id: String,
    /// The signaling server's anonymous citizen id: 1 to 64 characters.
    pub citizen_id: String,
    /// The service the citizen chose in the hall.
    pub service: Option<String>,
    /// The queue (skill) it waits in.
    pub skill: Option<String>,
    /// When the citizen started it.
    pub created_at_ms: i64,
}

/// How far one side has got with the other side's messages: the highest `seq` its client
/// reported delivered and read. Both only move forward, and read implies delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChatMarks {
    /// Highest `seq` delivered to this side's client.
    pub delivered_seq: i64,
    /// Highest `seq` this side has read.
    pub read_seq: i64,
}

/// A stored chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    /// The chat id.
    pub id: String,
    /// The citizen who started it.
    pub citizen_id: String,
    /// The service the citizen chose.
    pub service: Option<String>,
    /// The queue it waited in.
    pub skill: Option<String>,
    /// When the citizen started it.
    pub created_at_ms: i64,
    /// When an agent last accepted it (a transfer is answered again).
    pub answered_at_ms: Option<i64>,
    /// The agent who last accepted it.
    pub agent_id: Option<String>,
    /// When it ended; `None` while live.
    pub ended_at_ms: Option<i64>,
    /// Why it ended (the protocol's end reason, as the caller wrote it).
    pub end_reason: Option<String>,
    /// The citizen's marks.
    pub citizen: ChatMarks,
    /// The agent's marks.
    pub agent: ChatMarks,
    /// The `seq` of its last message; 0 before the first.
    pub last_seq: i64,
    /// The staff member who took it over (its agent texts are theirs from then).
    pub handled_by: Option<String>,
    /// When it was taken over.
    pub taken_over_at_ms: Option<i64>,
}

/// Who wrote a chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatSender {
    /// The chat's citizen (the caller has checked the connection owns the chat).
    Citizen,
    /// An agent, by user id; must be the agent the chat is connected to.
    Agent(String),
}

/// One side of a chat, for its marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatSide {
    /// The citizen.
    Citizen,
    /// The agent.
    Agent,
}

/// A message to append to a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChatMessage {
    /// The chat.
    pub chat_id: String,
    /// The sender's own id for the message (a UUID): 16 to 64 characters of `A-Za-z0-9-_`.
    /// A retry with the same id is the same message.
    pub client_id: String,
    /// Who wrote it.
    pub sender: ChatSender,
    /// The text: not blank, at most [`NewChatMessage::MAX_BODY_CHARS`] characters. Stored as
    /// given (it is shown as text, never as markup).
    pub body: String,
    /// When the server received it.
    pub sent_at_ms: i64,
}

impl NewChatMessage {
    /// The longest message, in characters (issue 16: "over 2,000 characters" is refused).
    pub const MAX_BODY_CHARS: usize = 2000;
}

/// A stored chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// The chat.
    pub chat_id: String,
    /// 1, 2, … within the chat, in commit order.
    pub seq: i64,
    /// The sender's id for it.
    pub client_id: String,
    /// Who wrote it.
    pub sender: ChatSender,
    /// The text.
    pub body: String,
    /// When the server received it (the first time, for a retried send).
    pub sent_at_ms: i64,
}

/// What [`ChatStore::append_chat_message`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedChatMessage {
    /// The stored message (for a retry: the one stored the first time).
    pub message: ChatMessage,
    /// `false` when the `client_id` was already stored (a retry): nothing new was written.
    pub created: bool,
}

/// Chats and their messages. Every write is committed before the call returns.
#[async_trait::async_trait]
pub trait ChatStore: Send + Sync {
    /// Records a new chat. A chat id already stored is [`StoreError::Conflict`] (entity
    /// `"chat"`, key `"id"`); a bad value is [`StoreError::InvalidValue`].
    async fn insert_chat(&self, chat: &NewChat) -> Result<Chat, StoreError>;

    /// The chat with this id, if any.
    async fn chat(&self, id: &str) -> Result<Option<Chat>, StoreError>;

    /// Every chat not ended yet, oldest first (what a restarted core must settle).
    async fn open_chats(&self) -> Result<Vec<Chat>, StoreError>;

    /// An agent accepted the chat (again, after a transfer): `agent_id`, `answered_at_ms`.
    /// Unknown chat: [`StoreError::NotFound`]; ended: [`StoreError::InvalidTransition`];
    /// unknown agent: [`StoreError::InvalidReference`] (entity `"chat"`, target `"user"`).
    async fn answer_chat(&self, id: &str, agent_id: &str, at_ms: i64) -> Result<Chat, StoreError>;

    /// Ends the chat with `reason` (at most 64 characters). Only once: an ended chat is
    /// [`StoreError::InvalidTransition`]; unknown: [`StoreError::NotFound`].
    async fn end_chat(&self, id: &str, reason: &str, at_ms: i64) -> Result<Chat, StoreError>;

    /// A staff member took the open chat over: from now on the chat's agent texts are theirs
    /// (`handled_by`); `agent_id` keeps the agent who answered. An ended chat is
    /// [`StoreError::InvalidTransition`]; an unknown one [`StoreError::NotFound`].
    async fn take_over_chat(&self, id: &str, staff_id: &str, at_ms: i64) -> Result<(), StoreError>;

    /// Appends a message, committed when this returns: acknowledge it to its sender only then.
    ///
    /// Idempotent by (`chat_id`, `client_id`): a stored `client_id` with the same sender and
    /// body comes back with `created == false` (even after the chat ended: the first send was
    /// committed, only its answer was lost); with another sender or body it is
    /// [`StoreError::Conflict`] (entity `"chat message"`, key `"client_id"`).
    ///
    /// A bad client id or body (blank, over [`NewChatMessage::MAX_BODY_CHARS`]) is
    /// [`StoreError::InvalidValue`]; an unknown chat [`StoreError::NotFound`]; an ended chat, or
    /// an agent the chat is not connected to, [`StoreError::InvalidTransition`]. Nothing is
    /// written on any error.
    async fn append_chat_message(
        &self,
        message: &NewChatMessage,
    ) -> Result<AppendedChatMessage, StoreError>;

    /// The chat's messages with `seq > after_seq`, oldest first, at most `limit` (capped at
    /// [`CHAT_PAGE_MAX`]). Empty for an unknown chat.
    async fn chat_messages(
        &self,
        chat_id: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<ChatMessage>, StoreError>;

    /// Moves `side`'s marks forward to `marks` (a mark never moves back; read implies
    /// delivered). A mark beyond the chat's last message or negative is
    /// [`StoreError::InvalidValue`]; an unknown chat [`StoreError::NotFound`]. Allowed on an
    /// ended chat (the last read may come in after the end). Returns the updated chat.
    async fn mark_chat(
        &self,
        id: &str,
        side: ChatSide,
        marks: ChatMarks,
    ) -> Result<Chat, StoreError>;

    /// Saves the agent's wrap-up of a chat (change 0014), like a call's
    /// ([`crate::WrapUpStore::save_wrapup`], with the chat id as `call_id`): one per (chat,
    /// agent), saving again replaces it. An unknown chat, agent or disposition is
    /// [`StoreError::InvalidReference`] (entity `"chat wrap-up"`, target `"chat"`, `"agent"` or
    /// `"disposition"`).
    async fn save_chat_wrapup(&self, wrapup: &crate::NewWrapUp) -> Result<(), StoreError>;

    /// The wrap-ups of a chat, oldest first.
    async fn chat_wrapups(&self, chat_id: &str) -> Result<Vec<crate::WrapUp>, StoreError>;
}

/// The most messages [`ChatStore::chat_messages`] returns at once.
pub const CHAT_PAGE_MAX: u32 = 500;

/// Columns of `chats` that [`ChatRow`] reads.
macro_rules! chat_select {
    () => {
        "SELECT id, citizen_id, service, skill, created_at_ms, answered_at_ms, agent_id, \
         ended_at_ms, end_reason, citizen_delivered_seq, citizen_read_seq, \
         agent_delivered_seq, agent_read_seq, last_seq, handled_by, taken_over_at_ms FROM chats"
    };
}

/// Columns of `chat_messages` that [`MessageRow`] reads.
macro_rules! message_select {
    () => {
        "SELECT chat_id, seq, client_id, sender, agent_id, body, sent_at_ms FROM chat_messages"
    };
}

#[derive(sqlx::FromRow)]
struct ChatRow {
    id: String,
    citizen_id: String,
    service: Option<String>,
    skill: Option<String>,
    created_at_ms: i64,
    answered_at_ms: Option<i64>,
    agent_id: Option<String>,
    ended_at_ms: Option<i64>,
    end_reason: Option<String>,
    citizen_delivered_seq: i64,
    citizen_read_seq: i64,
    agent_delivered_seq: i64,
    agent_read_seq: i64,
    last_seq: i64,
    handled_by: Option<String>,
    taken_over_at_ms: Option<i64>,
}

impl From<ChatRow> for Chat {
    fn from(r: ChatRow) -> Self {
        Chat {
            id: r.id,
            citizen_id: r.citizen_id,
            service: r.service,
            skill: r.skill,
            created_at_ms: r.created_at_ms,
            answered_at_ms: r.answered_at_ms,
            agent_id: r.agent_id,
            ended_at_ms: r.ended_at_ms,
            end_reason: r.end_reason,
            citizen: ChatMarks {
                delivered_seq: r.citizen_delivered_seq,
                read_seq: r.citizen_read_seq,
            },
            agent: ChatMarks { delivered_seq: r.agent_delivered_seq, read_seq: r.agent_read_seq },
            last_seq: r.last_seq,
            handled_by: r.handled_by,
            taken_over_at_ms: r.taken_over_at_ms,
        }
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    chat_id: String,
    seq: i64,
    client_id: String,
    sender: String,
    agent_id: Option<String>,
    body: String,
    sent_at_ms: i64,
}

impl TryFrom<MessageRow> for ChatMessage {
    type Error = StoreError;

    fn try_from(r: MessageRow) -> Result<Self, StoreError> {
        let sender = match (r.sender.as_str(), r.agent_id) {
            ("citizen", None) => ChatSender::Citizen,
            ("agent", Some(agent)) => ChatSender::Agent(agent),
            _ => {
                return Err(StoreError::Corrupt {
                    table: "chat_messages",
                    column: "sender",
                    value: r.sender,
                });
            }
        };
        Ok(ChatMessage {
            chat_id: r.chat_id,
            seq: r.seq,
            client_id: r.client_id,
            sender,
            body: r.body,
            sent_at_ms: r.sent_at_ms,
        })
    }
}

fn invalid(
    entity: &'static str,
    field: &'static str,
    value: &str,
    expected: &'static str,
) -> StoreError {
    let mut shown: String = value.chars().take(64).collect();
    if shown.len() < value.len() {
        shown.push('…');
    }
    StoreError::InvalidValue { entity, field, value: shown, expected }
}

fn check_new_chat(c: &NewChat) -> Result<(), StoreError> {
    for (field, value) in [("id", &c.id), ("citizen_id", &c.citizen_id)] {
        if value.is_empty() || value.chars().count() > 64 {
            return Err(invalid("chat", field, value, "1 to 64 characters"));
        }
    }
    for (field, value) in [("service", &c.service), ("skill", &c.skill)] {
        if let Some(v) = value
            && (v.is_empty() || v.chars().count() > 64)
        {
            return Err(invalid("chat", field, v, "1 to 64 characters"));
        }
    }
    Ok(())
}

fn check_new_message(m: &NewChatMessage) -> Result<(), StoreError> {
    let ok = (16..=64).contains(&m.client_id.len())
        && m.client_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(invalid(
            "chat message",
            "client_id",
            &m.client_id,
            "16 to 64 characters of A-Z, a-z, 0-9, - and _ (a UUID)",
        ));
    }
    if m.body.trim().is_empty() || m.body.chars().count() > NewChatMessage::MAX_BODY_CHARS {
        return Err(invalid(
            "chat message",
            "body",
            &m.body,
            "a non-blank text of at most 2000 characters",
        ));
    }
    Ok(())
}

impl ChatSender {
    fn columns(&self) -> (&'static str, Option<&str>) {
        match self {
            ChatSender::Citizen => ("citizen", None),
            ChatSender::Agent(agent) => ("agent", Some(agent.as_str())),
        }
    }
}

fn ended(id: &str, action: &'static str) -> StoreError {
    StoreError::InvalidTransition { entity: "chat", id: id.to_owned(), state: "ended", action }
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound { entity: "chat", id: id.to_owned() }
}

#[async_trait::async_trait]
impl<S: Backend> ChatStore for S {
    async fn insert_chat(&self, chat: &NewChat) -> Result<Chat, StoreError> {
        check_new_chat(chat)?;
        on_pool!(self.db(), |pool| {
            sqlx::query(
                "INSERT INTO chats (id, citizen_id, service, skill, created_at_ms) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&chat.id)
            .bind(&chat.citizen_id)
            .bind(&chat.service)
            .bind(&chat.skill)
            .bind(chat.created_at_ms)
            .execute(pool)
            .await
            .map(drop)
        })
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict { entity: "chat", key: "id", value: chat.id.clone() }
            } else {
                StoreError::Database(e)
            }
        })?;
        self.chat(&chat.id).await?.ok_or_else(|| not_found(&chat.id))
    }

    async fn chat(&self, id: &str) -> Result<Option<Chat>, StoreError> {
        let row = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, ChatRow>(concat!(chat_select!(), " WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.map(Chat::from))
    }

    async fn open_chats(&self) -> Result<Vec<Chat>, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, ChatRow>(concat!(
                chat_select!(),
                " WHERE ended_at_ms IS NULL ORDER BY created_at_ms, id"
            ))
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().map(Chat::from).collect())
    }

    async fn answer_chat(&self, id: &str, agent_id: &str, at_ms: i64) -> Result<Chat, StoreError> {
        let updated = on_pool!(self.db(), |pool| {
            sqlx::query(
                "UPDATE chats SET agent_id = $2, answered_at_ms = $3 \
                 WHERE id = $1 AND ended_at_ms IS NULL",
            )
            .bind(id)
            .bind(agent_id)
            .bind(at_ms)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                StoreError::InvalidReference {
                    entity: "chat",
                    target: "user",
                    id: agent_id.to_owned(),
                }
            } else {
                StoreError::Database(e)
            }
        })?;
        let chat = self.chat(id).await?.ok_or_else(|| not_found(id))?;
        if updated == 0 {
            return Err(ended(id, "answer"));
        }
        Ok(chat)
    }

    async fn end_chat(&self, id: &str, reason: &str, at_ms: i64) -> Result<Chat, StoreError> {
        if reason.is_empty() || reason.chars().count() > 64 {
            return Err(invalid("chat", "end_reason", reason, "1 to 64 characters"));
        }
        let updated = on_pool!(self.db(), |pool| {
            sqlx::query(
                "UPDATE chats SET ended_at_ms = $2, end_reason = $3 \
                 WHERE id = $1 AND ended_at_ms IS NULL",
            )
            .bind(id)
            .bind(at_ms)
            .bind(reason)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        let chat = self.chat(id).await?.ok_or_else(|| not_found(id))?;
        if updated == 0 {
            return Err(ended(id, "end"));
        }
        Ok(chat)
    }

    async fn take_over_chat(&self, id: &str, staff_id: &str, at_ms: i64) -> Result<(), StoreError> {
        let updated = on_pool!(self.db(), |pool| {
            sqlx::query(
                "UPDATE chats SET handled_by = $2, taken_over_at_ms = $3 \
                 WHERE id = $1 AND ended_at_ms IS NULL",
            )
            .bind(id)
            .bind(staff_id)
            .bind(at_ms)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                StoreError::InvalidReference {
                    entity: "chat",
                    target: "user",
                    id: staff_id.to_owned(),
                }
            } else {
                StoreError::Database(e)
            }
        })?;
        if updated == 0 {
            self.chat(id).await?.ok_or_else(|| not_found(id))?;
            return Err(ended(id, "take over"));
        }
        Ok(())
    }

    async fn append_chat_message(
        &self,
        m: &NewChatMessage,
    ) -> Result<AppendedChatMessage, StoreError> {
        check_new_message(m)?;
        let (sender, agent_id) = m.sender.columns();
        let outcome: Result<Result<AppendedChatMessage, StoreError>, sqlx::Error> =
            on_pool!(self.db(), |pool| {
                async {
                    let mut tx = pool.begin().await?;
                    // Writing to the chat's row first serialises the appends of one chat (a
                    // row lock on Postgres, the write lock on SQLite): the checks below and
                    // the next seq are read by one writer at a time, so a retry racing its
                    // original finds it, and two messages never take the same seq.
                    let found = sqlx::query("UPDATE chats SET last_seq = last_seq WHERE id = $1")
                        .bind(&m.chat_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if found == 0 {
                        return Ok(Err(not_found(&m.chat_id)));
                    }
                    let stored = sqlx::query_as::<_, MessageRow>(concat!(
                        message_select!(),
                        " WHERE chat_id = $1 AND client_id = $2"
                    ))
                    .bind(&m.chat_id)
                    .bind(&m.client_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(stored) = stored {
                        // A retry: the same message, or a clash of client ids.
                        tx.rollback().await?;
                        let message = match ChatMessage::try_from(stored) {
                            Ok(message) => message,
                            Err(e) => return Ok(Err(e)),
                        };
                        if message.sender != m.sender || message.body != m.body {
                            return Ok(Err(StoreError::Conflict {
                                entity: "chat message",
                                key: "client_id",
                                value: m.client_id.clone(),
                            }));
                        }
                        return Ok(Ok(AppendedChatMessage { message, created: false }));
                    }
                    let (ended_at, holder, last_seq): (Option<i64>, Option<String>, i64) =
                        sqlx::query_as(
                            "SELECT ended_at_ms, COALESCE(handled_by, agent_id), last_seq \
                             FROM chats WHERE id = $1",
                        )
                        .bind(&m.chat_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    let refusal = if ended_at.is_some() {
                        Some(ended(&m.chat_id, "send"))
                    } else {
                        match &m.sender {
                            ChatSender::Agent(agent) if holder.as_deref() != Some(agent) => {
                                Some(StoreError::InvalidTransition {
                                    entity: "chat",
                                    id: m.chat_id.clone(),
                                    state: "not connected to this agent",
                                    action: "send",
                                })
                            }
                            _ => None,
                        }
                    };
                    if let Some(refusal) = refusal {
                        tx.rollback().await?;
                        return Ok(Err(refusal));
                    }
                    let seq = last_seq + 1;
                    sqlx::query(
                        "INSERT INTO chat_messages \
                         (chat_id, seq, client_id, sender, agent_id, body, sent_at_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&m.chat_id)
                    .bind(seq)
                    .bind(&m.client_id)
                    .bind(sender)
                    .bind(agent_id)
                    .bind(&m.body)
                    .bind(m.sent_at_ms)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE chats SET last_seq = $2 WHERE id = $1")
                        .bind(&m.chat_id)
                        .bind(seq)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    let message = ChatMessage {
                        chat_id: m.chat_id.clone(),
                        seq,
                        client_id: m.client_id.clone(),
                        sender: m.sender.clone(),
                        body: m.body.clone(),
                        sent_at_ms: m.sent_at_ms,
                    };
                    Ok(Ok(AppendedChatMessage { message, created: true }))
                }
                .await
            });
        outcome?
    }

    async fn chat_messages(
        &self,
        chat_id: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<ChatMessage>, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, MessageRow>(concat!(
                message_select!(),
                " WHERE chat_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ))
            .bind(chat_id)
            .bind(after_seq)
            .bind(i64::from(limit.min(CHAT_PAGE_MAX)))
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(ChatMessage::try_from).collect()
    }

    async fn mark_chat(
        &self,
        id: &str,
        side: ChatSide,
        marks: ChatMarks,
    ) -> Result<Chat, StoreError> {
        let chat = self.chat(id).await?.ok_or_else(|| not_found(id))?;
        for (field, seq) in [("delivered_seq", marks.delivered_seq), ("read_seq", marks.read_seq)] {
            if seq < 0 || seq > chat.last_seq {
                return Err(invalid(
                    "chat",
                    field,
                    &seq.to_string(),
                    "the seq of a message of the chat, or 0",
                ));
            }
        }
        let delivered = marks.delivered_seq.max(marks.read_seq);
        // The same statement for both sides but the columns; a mark never moves back.
        let sql = match side {
            ChatSide::Citizen => {
                "UPDATE chats SET \
                 citizen_delivered_seq = CASE WHEN citizen_delivered_seq < $2 \
                 THEN $2 ELSE citizen_delivered_seq END, \
                 citizen_read_seq = CASE WHEN citizen_read_seq < $3 \
                 THEN $3 ELSE citizen_read_seq END WHERE id = $1"
            }
            ChatSide::Agent => {
                "UPDATE chats SET \
                 agent_delivered_seq = CASE WHEN agent_delivered_seq < $2 \
                 THEN $2 ELSE agent_delivered_seq END, \
                 agent_read_seq = CASE WHEN agent_read_seq < $3 \
                 THEN $3 ELSE agent_read_seq END WHERE id = $1"
            }
        };
        on_pool!(self.db(), |pool| {
            sqlx::query(sql)
                .bind(id)
                .bind(delivered)
                .bind(marks.read_seq)
                .execute(pool)
                .await
                .map(drop)
        })?;
        self.chat(id).await?.ok_or_else(|| not_found(id))
    }

    async fn save_chat_wrapup(&self, wrapup: &crate::NewWrapUp) -> Result<(), StoreError> {
        crate::validate::wrapup(wrapup)?;
        let done = on_pool!(self.db(), |pool| {
            sqlx::query(
                "INSERT INTO chat_wrapups (chat_id, agent_id, disposition, notes, at_ms) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (chat_id, agent_id) DO UPDATE SET \
                 disposition = excluded.disposition, notes = excluded.notes, \
                 at_ms = excluded.at_ms",
            )
            .bind(&wrapup.call_id)
            .bind(&wrapup.agent_id)
            .bind(&wrapup.disposition)
            .bind(&wrapup.notes)
            .bind(wrapup.at_ms)
            .execute(pool)
            .await
            .map(drop)
        });
        match done {
            Ok(()) => Ok(()),
            Err(e) => Err(crate::backend::reference_error(
                self.db(),
                e,
                "chat wrap-up",
                &[
                    ("chat", "SELECT 1 FROM chats WHERE id = $1", &wrapup.call_id),
                    ("agent", "SELECT 1 FROM users WHERE id = $1", &wrapup.agent_id),
                    (
                        "disposition",
                        "SELECT 1 FROM dispositions WHERE code = $1",
                        &wrapup.disposition,
                    ),
                ],
            )
            .await),
        }
    }

    async fn chat_wrapups(&self, chat_id: &str) -> Result<Vec<crate::WrapUp>, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, crate::model::WrapUpRow>(
                "SELECT chat_id, agent_id, disposition, notes, at_ms FROM chat_wrapups \
                 WHERE chat_id = $1 ORDER BY at_ms, agent_id",
            )
            .bind(chat_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().map(crate::model::wrapup_from_row).collect())
    }
}
