//! The append-only audit logs: `audit_log` (staff monitoring, whispering, barging into and taking
//! over calls), `chat_audit` (staff watching, whispering to and taking over live chats) and
//! `message_audit` (who opened a voice message's recording).

use crate::backend::{Backend, first_missing, is_foreign_key_violation, on_pool, value_rows};
use crate::model::{self, AuditRow};
use crate::{
    AuditEntry, AuditFilter, MessageAuditEntry, NewAuditEntry, NewMessageAudit, StoreError,
};
use sqlx::AssertSqlSafe;

/// Columns of `audit_log`, in [`AuditRow`] order.
macro_rules! audit_columns {
    () => {
        "id, at_ms, actor_id, call_id, action, mode, detail"
    };
}

/// Entries of `audit_log`, `rows` at once (`batch.rs` groups them): tuples
/// `(at_ms, actor_id, call_id, action, mode, detail)`.
pub(crate) fn insert_audit(rows: usize) -> String {
    format!(
        "INSERT INTO audit_log (at_ms, actor_id, call_id, action, mode, detail) VALUES {}",
        value_rows(rows, 6)
    )
}

/// What a chat audit entry records. Stored (and serialised) as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatAuditAction {
    /// A staff member opened the chat read-only.
    Watch,
    /// A staff member whispered to the chat's agent (the text is the entry's detail).
    Whisper,
    /// A staff member took the chat over; the agent left.
    TakeOver,
    /// A staff member stopped watching.
    Leave,
}

impl ChatAuditAction {
    /// Every action, in declaration order.
    pub const ALL: [ChatAuditAction; 4] = [
        ChatAuditAction::Watch,
        ChatAuditAction::Whisper,
        ChatAuditAction::TakeOver,
        ChatAuditAction::Leave,
    ];

    /// The stable snake_case name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatAuditAction::Watch => "watch",
            ChatAuditAction::Whisper => "whisper",
            ChatAuditAction::TakeOver => "take_over",
            ChatAuditAction::Leave => "leave",
        }
    }

    /// The action named by `name` ([`ChatAuditAction::as_str`]), if any.
    pub fn parse(name: &str) -> Option<ChatAuditAction> {
        ChatAuditAction::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// A chat audit entry to append. The caller passes the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChatAudit {
    /// When it happened.
    pub at_ms: i64,
    /// Who did it (a user id; must exist).
    pub actor_id: String,
    /// The chat it concerns (must exist).
    pub chat_id: String,
    /// What was done.
    pub action: ChatAuditAction,
    /// The whispered text, or why (at most 2,000 characters).
    pub detail: Option<String>,
}

/// A chat audit entry as stored: every column of `chat_audit`. Never changed or deleted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChatAuditEntry {
    /// Grows with every append: a higher id is a later entry.
    pub id: i64,
    /// When it happened.
    pub at_ms: i64,
    /// Who did it.
    pub actor_id: String,
    /// The chat it concerns.
    pub chat_id: String,
    /// What was done.
    pub action: ChatAuditAction,
    /// The whispered text, or why.
    pub detail: Option<String>,
}

/// The audit logs. Entries are committed when the call returns and never updated or deleted.
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one audit entry and returns its id; committed when this returns. An actor or a
    /// call that does not exist is [`StoreError::InvalidReference`] (entity `"audit entry"`,
    /// target `"user"` or `"call"`) and writes nothing. Audit entries are never updated or
    /// deleted.
    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<i64, StoreError>;

    /// Audit entries, newest (highest id) first, only of `filter.call_id` and/or by
    /// `filter.actor_id` when given, at most `filter.limit` of them (capped at
    /// [`AuditFilter::MAX_LIMIT`]). An unparseable stored action or mode is
    /// [`StoreError::Corrupt`].
    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;

    /// Appends to the message audit log (append-only): `actor_id` opened the voice recording of
    /// `message_id`. An unknown user or message is [`StoreError::InvalidReference`] (entity
    /// `"message audit"`); nothing is written.
    async fn append_message_audit(&self, entry: &NewMessageAudit) -> Result<i64, StoreError>;

    /// A message's access log, oldest first.
    async fn message_audit(&self, message_id: &str) -> Result<Vec<MessageAuditEntry>, StoreError>;

    /// Appends one chat audit entry and returns its id; committed when this returns. An actor
    /// or a chat that does not exist is [`StoreError::InvalidReference`] (entity
    /// `"chat audit entry"`, target `"user"` or `"chat"`) and writes nothing.
    async fn append_chat_audit(&self, entry: &NewChatAudit) -> Result<i64, StoreError>;

    /// Chat audit entries, newest first, only of `chat_id` when given, at most `limit` (capped
    /// at [`AuditFilter::MAX_LIMIT`]). An unparseable stored action is [`StoreError::Corrupt`].
    async fn chat_audit_entries(
        &self,
        chat_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ChatAuditEntry>, StoreError>;
}

#[async_trait::async_trait]
impl<S: Backend> AuditStore for S {
    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<i64, StoreError> {
        let inserted = on_pool!(self.db(), |pool| {
            sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!("{} RETURNING id", insert_audit(1))))
                .bind(entry.at_ms)
                .bind(&entry.actor_id)
                .bind(&entry.call_id)
                .bind(entry.action.as_str())
                .bind(entry.mode.map(|m| m.as_str()))
                .bind(&entry.detail)
                .fetch_one(pool)
                .await
        });
        let e = match inserted {
            Ok(id) => return Ok(id),
            Err(e) => e,
        };
        if !is_foreign_key_violation(&e) {
            return Err(StoreError::Database(e));
        }
        // SQLite does not say which reference failed: look both up.
        let refs = [
            ("user", "SELECT 1 FROM users WHERE id = $1", entry.actor_id.as_str()),
            ("call", "SELECT 1 FROM calls WHERE id = $1", entry.call_id.as_str()),
        ];
        match first_missing(self.db(), &refs).await? {
            Some((target, id)) => {
                Err(StoreError::InvalidReference { entity: "audit entry", target, id })
            }
            None => Err(StoreError::Database(e)),
        }
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        // One static statement per filter shape (rather than `$1 IS NULL OR …`), so each plan
        // can use its index: (call_id, id), (actor_id, id) or the primary key.
        let sql = match (&filter.call_id, &filter.actor_id) {
            (None, None) => {
                concat!("SELECT ", audit_columns!(), " FROM audit_log ORDER BY id DESC LIMIT $1")
            }
            (Some(_), None) => concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_log WHERE call_id = $1 ORDER BY id DESC LIMIT $2"
            ),
            (None, Some(_)) => concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_log WHERE actor_id = $1 ORDER BY id DESC LIMIT $2"
            ),
            (Some(_), Some(_)) => concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_log WHERE call_id = $1 AND actor_id = $2 \
                 ORDER BY id DESC LIMIT $3"
            ),
        };
        let limit = i64::from(filter.limit.min(AuditFilter::MAX_LIMIT));
        let rows = on_pool!(self.db(), |pool| {
            let mut query = sqlx::query_as::<_, AuditRow>(sql);
            if let Some(call_id) = &filter.call_id {
                query = query.bind(call_id);
            }
            if let Some(actor_id) = &filter.actor_id {
                query = query.bind(actor_id);
            }
            query.bind(limit).fetch_all(pool).await
        })?;
        rows.into_iter().map(model::audit_entry_from_row).collect()
    }

    async fn append_message_audit(&self, entry: &NewMessageAudit) -> Result<i64, StoreError> {
        let inserted = on_pool!(self.db(), |pool| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO message_audit (at_ms, actor_id, message_id, action) \
                 VALUES ($1, $2, $3, 'recording_access') RETURNING id",
            )
            .bind(entry.at_ms)
            .bind(&entry.actor_id)
            .bind(&entry.message_id)
            .fetch_one(pool)
            .await
        });
        let e = match inserted {
            Ok(id) => return Ok(id),
            Err(e) => e,
        };
        if !is_foreign_key_violation(&e) {
            return Err(StoreError::Database(e));
        }
        // SQLite does not say which reference failed: look the user up; if it exists, the
        // message is the missing one.
        let user = [("user", "SELECT 1 FROM users WHERE id = $1", entry.actor_id.as_str())];
        let (target, id) = match first_missing(self.db(), &user).await? {
            Some(missing) => missing,
            None => ("message", entry.message_id.clone()),
        };
        Err(StoreError::InvalidReference { entity: "message audit", target, id })
    }

    async fn append_chat_audit(&self, entry: &NewChatAudit) -> Result<i64, StoreError> {
        let inserted = on_pool!(self.db(), |pool| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO chat_audit (at_ms, actor_id, chat_id, action, detail) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(entry.at_ms)
            .bind(&entry.actor_id)
            .bind(&entry.chat_id)
            .bind(entry.action.as_str())
            .bind(&entry.detail)
            .fetch_one(pool)
            .await
        });
        let e = match inserted {
            Ok(id) => return Ok(id),
            Err(e) => e,
        };
        if !is_foreign_key_violation(&e) {
            return Err(StoreError::Database(e));
        }
        let refs = [
            ("user", "SELECT 1 FROM users WHERE id = $1", entry.actor_id.as_str()),
            ("chat", "SELECT 1 FROM chats WHERE id = $1", entry.chat_id.as_str()),
        ];
        match first_missing(self.db(), &refs).await? {
            Some((target, id)) => {
                Err(StoreError::InvalidReference { entity: "chat audit entry", target, id })
            }
            None => Err(StoreError::Database(e)),
        }
    }

    async fn chat_audit_entries(
        &self,
        chat_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ChatAuditEntry>, StoreError> {
        let sql = match chat_id {
            None => {
                "SELECT id, at_ms, actor_id, chat_id, action, detail FROM chat_audit \
                 ORDER BY id DESC LIMIT $1"
            }
            Some(_) => {
                "SELECT id, at_ms, actor_id, chat_id, action, detail FROM chat_audit \
                 WHERE chat_id = $1 ORDER BY id DESC LIMIT $2"
            }
        };
        let limit = i64::from(limit.min(AuditFilter::MAX_LIMIT));
        let rows = on_pool!(self.db(), |pool| {
            let mut query =
                sqlx::query_as::<_, (i64, i64, String, String, String, Option<String>)>(sql);
            if let Some(chat_id) = chat_id {
                query = query.bind(chat_id);
            }
            query.bind(limit).fetch_all(pool).await
        })?;
        rows.into_iter()
            .map(|(id, at_ms, actor_id, chat_id, action, detail)| {
                let action = ChatAuditAction::parse(&action).ok_or(StoreError::Corrupt {
                    table: "chat_audit",
                    column: "action",
                    value: action,
                })?;
                Ok(ChatAuditEntry { id, at_ms, actor_id, chat_id, action, detail })
            })
            .collect()
    }

    async fn message_audit(&self, message_id: &str) -> Result<Vec<MessageAuditEntry>, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, (i64, i64, String, String)>(
                "SELECT id, at_ms, actor_id, message_id FROM message_audit \
                 WHERE message_id = $1 ORDER BY id",
            )
            .bind(message_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(id, at_ms, actor_id, message_id)| MessageAuditEntry {
                id,
                at_ms,
                actor_id,
                message_id,
            })
            .collect())
    }
}
