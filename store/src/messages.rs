//! Citizens' online messages (text or voice) and the staff inbox that answers them: table
//! `messages`.

use crate::backend::{Backend, Db, is_foreign_key_violation, is_unique_violation, on_pool};
use crate::error::constraint_mentions;
use crate::model::{self, MessageRow};
use crate::{
    InsertedMessage, Message, MessageFilter, MessageState, NewMessage, StoreError,
    normalize_ticket, ticket, validate,
};

/// Columns of `messages` that [`MessageRow`] reads (by name).
macro_rules! message_columns {
    () => {
        "id, client_id, ticket, kind, service, name, phone, body, voice_file, voice_ms, \
         voice_bytes, call_id, reason, created_at_ms, due_at_ms, state, assigned_to, \
         assigned_at_ms, reply, replied_at_ms, replied_by, closed_at_ms, closed_by, secret_hash"
    };
}

/// Messages and their inbox. Every write is committed before the call returns.
#[async_trait::async_trait]
pub trait MessageStore: Send + Sync {
    /// Stores a citizen's message, committed when this returns; acknowledge it only then.
    ///
    /// The store chooses the id (a UUID), the ticket (`XXXX-XXXX`, see [`normalize_ticket`]) and
    /// a secret code, of which it keeps only a salted hash. Idempotent by `client_id`:
    /// - a new `client_id`: the message is stored, `created == true`;
    /// - a `client_id` already stored with the same content (every field but `voice_file` and
    ///   the times): nothing new is stored, the stored message comes back with
    ///   `created == false` and a **new** secret code (the old one stops working: the first
    ///   answer was probably lost); delete the retry's own voice file, if it wrote one;
    /// - a `client_id` already stored with other content, or by another citizen
    ///   (`citizen_id`): [`StoreError::Conflict`] (entity `"message"`, key `"client_id"`),
    ///   nothing changed — a resend by someone else never reveals the message or changes its
    ///   code.
    ///
    /// A value breaking the rules of [`NewMessage`] is [`StoreError::InvalidValue`]; an unknown
    /// `call_id` is [`StoreError::InvalidReference`] (entity `"message"`, target `"call"`). Either
    /// way nothing is written.
    async fn insert_message(&self, message: &NewMessage) -> Result<InsertedMessage, StoreError>;

    /// How many messages `citizen_id` left at or after `since_ms`, not counting the one with
    /// `except_client_id` (so that the retry of a message is not refused by the cap it counts
    /// towards).
    async fn citizen_message_count(
        &self,
        citizen_id: &str,
        since_ms: i64,
        except_client_id: &str,
    ) -> Result<u64, StoreError>;

    /// The message with this ticket (as typed: case, spaces and `-` do not matter), if any. For
    /// staff; citizens go through [`MessageStore::verify_ticket`].
    async fn message_by_ticket(&self, ticket: &str) -> Result<Option<Message>, StoreError>;

    /// The message with this ticket if `secret` is its current code (as typed: case, spaces and
    /// `-` do not matter); `None` for an unknown ticket, a wrong or malformed code alike. The
    /// code's hash is compared in constant time, and an unknown ticket costs the same hashing.
    async fn verify_ticket(
        &self,
        ticket: &str,
        secret: &str,
    ) -> Result<Option<Message>, StoreError>;

    /// The message with this id, if any.
    async fn message(&self, id: &str) -> Result<Option<Message>, StoreError>;

    /// Messages matching `filter`, at most `filter.limit` (capped at
    /// [`MessageFilter::MAX_LIMIT`]), in inbox order: open ones (`new`, `assigned`) first, most
    /// urgent (earliest `due_at_ms`) first; then answered and closed ones, newest
    /// (`created_at_ms`) first; ties by id.
    async fn messages(&self, filter: &MessageFilter) -> Result<Vec<Message>, StoreError>;

    /// Assigns the message to `user_id` (a staff member taking it, or moving it to a colleague):
    /// state `assigned`, `assigned_to`, `assigned_at_ms`. Only from `new` or `assigned`; from
    /// `answered` or `closed` it is [`StoreError::InvalidTransition`]. Unknown message:
    /// [`StoreError::NotFound`]; unknown user: [`StoreError::InvalidReference`] (entity
    /// `"message"`, target `"user"`). Nothing changes on any error. Returns the updated message.
    async fn assign_message(
        &self,
        id: &str,
        user_id: &str,
        at_ms: i64,
    ) -> Result<Message, StoreError>;

    /// Stores the reply: state `answered`, `reply`, `replied_at_ms`, `replied_by` (and
    /// `assigned_to`, `assigned_at_ms` if it was not assigned). Only from `new` or `assigned`;
    /// a message already answered or closed is [`StoreError::InvalidTransition`]. A blank reply
    /// or one longer than [`NewMessage::MAX_BODY_CHARS`] is [`StoreError::InvalidValue`];
    /// unknown message / user as for [`MessageStore::assign_message`]. Nothing changes on any
    /// error.
    async fn reply_message(
        &self,
        id: &str,
        user_id: &str,
        reply: &str,
        at_ms: i64,
    ) -> Result<Message, StoreError>;

    /// Closes the message (with or without a reply): state `closed`, `closed_at_ms`,
    /// `closed_by`. From `new`, `assigned` or `answered`; closing a closed message is
    /// [`StoreError::InvalidTransition`]. Unknown message / user as for
    /// [`MessageStore::assign_message`]. Nothing changes on any error.
    async fn close_message(
        &self,
        id: &str,
        user_id: &str,
        at_ms: i64,
    ) -> Result<Message, StoreError>;

    /// Every voice file name a message references (for [`files::sweep_orphans`]), sorted.
    ///
    /// [`files::sweep_orphans`]: crate::files::sweep_orphans
    async fn voice_files(&self) -> Result<Vec<String>, StoreError>;
}

#[async_trait::async_trait]
impl<S: Backend> MessageStore for S {
    async fn insert_message(&self, m: &NewMessage) -> Result<InsertedMessage, StoreError> {
        validate::message(m)?;
        // A fresh ticket (or id) that clashes with a stored one is drawn again.
        const ATTEMPTS: u32 = 5;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let id = uuid::Uuid::new_v4().to_string();
            let ticket = ticket::new_ticket();
            let secret = ticket::new_secret();
            let secret_hash = ticket::secret_hash(&id, &secret);
            // Insert, or on a taken client id, renew the stored message's code, in one
            // transaction. (`?` and `return` leave `insert_message` itself.)
            let outcome = on_pool!(self.db(), |pool| {
                let mut tx = pool.begin().await?;
                let inserted = sqlx::query(
                    "INSERT INTO messages (id, client_id, ticket, secret_hash, kind, service, \
                     name, phone, body, voice_file, voice_ms, voice_bytes, call_id, reason, \
                     created_at_ms, due_at_ms, state, citizen_id) VALUES ($1, $2, $3, $4, \
                     $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'new', $17) \
                     ON CONFLICT (client_id) DO NOTHING",
                )
                .bind(&id)
                .bind(&m.client_id)
                .bind(&ticket)
                .bind(&secret_hash)
                .bind(m.kind.as_str())
                .bind(&m.service)
                .bind(&m.name)
                .bind(&m.phone)
                .bind(&m.body)
                .bind(&m.voice_file)
                .bind(m.voice_ms)
                .bind(m.voice_bytes)
                .bind(&m.call_id)
                .bind(m.reason.as_str())
                .bind(m.created_at_ms)
                .bind(m.due_at_ms)
                .bind(&m.citizen_id)
                .execute(&mut *tx)
                .await;
                match inserted {
                    Err(e) => Attempt::Failed(e),
                    Ok(done) if done.rows_affected() == 1 => {
                        tx.commit().await?;
                        Attempt::Inserted
                    }
                    Ok(_) => {
                        // The client id is taken: a retry of the same message, or a clash.
                        let row = sqlx::query_as::<_, MessageRow>(concat!(
                            "SELECT ",
                            message_columns!(),
                            " FROM messages WHERE client_id = $1"
                        ))
                        .bind(&m.client_id)
                        .fetch_one(&mut *tx)
                        .await?;
                        let stored = model::message_from_row(row)?;
                        let (stored_citizen,): (Option<String>,) =
                            sqlx::query_as("SELECT citizen_id FROM messages WHERE id = $1")
                                .bind(&stored.id)
                                .fetch_one(&mut *tx)
                                .await?;
                        if !m.same_content(&stored) || stored_citizen != m.citizen_id {
                            return Err(StoreError::Conflict {
                                entity: "message",
                                key: "client_id",
                                value: m.client_id.clone(),
                            });
                        }
                        sqlx::query("UPDATE messages SET secret_hash = $2 WHERE id = $1")
                            .bind(&stored.id)
                            .bind(ticket::secret_hash(&stored.id, &secret))
                            .execute(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        Attempt::Retried(stored)
                    }
                }
            });
            match outcome {
                Attempt::Inserted => {
                    let message = new_message(m, id, ticket);
                    return Ok(InsertedMessage { message, secret, created: true });
                }
                Attempt::Retried(message) => {
                    return Ok(InsertedMessage { message, secret, created: false });
                }
                Attempt::Failed(e)
                    if is_unique_violation(&e) && constraint_mentions(&e, "voice_file") =>
                {
                    return Err(StoreError::Conflict {
                        entity: "message",
                        key: "voice_file",
                        value: m.voice_file.clone().unwrap_or_default(),
                    });
                }
                Attempt::Failed(e) if is_unique_violation(&e) && attempt < ATTEMPTS => continue,
                Attempt::Failed(e) if is_foreign_key_violation(&e) => {
                    return Err(StoreError::InvalidReference {
                        entity: "message",
                        target: "call",
                        id: m.call_id.clone().unwrap_or_default(),
                    });
                }
                Attempt::Failed(e) => return Err(StoreError::Database(e)),
            }
        }
    }

    async fn citizen_message_count(
        &self,
        citizen_id: &str,
        since_ms: i64,
        except_client_id: &str,
    ) -> Result<u64, StoreError> {
        let (n,): (i64,) = on_pool!(self.db(), |pool| {
            sqlx::query_as(
                "SELECT COUNT(*) FROM messages WHERE citizen_id = $1 AND created_at_ms >= $2 \
                 AND client_id <> $3",
            )
            .bind(citizen_id)
            .bind(since_ms)
            .bind(except_client_id)
            .fetch_one(pool)
            .await
        })?;
        Ok(n.max(0) as u64)
    }

    async fn message_by_ticket(&self, ticket: &str) -> Result<Option<Message>, StoreError> {
        let Some(ticket) = normalize_ticket(ticket) else { return Ok(None) };
        message_row_by_ticket(self.db(), &ticket).await?.map(model::message_from_row).transpose()
    }

    async fn verify_ticket(
        &self,
        ticket: &str,
        secret: &str,
    ) -> Result<Option<Message>, StoreError> {
        let row = match normalize_ticket(ticket) {
            Some(ticket) => message_row_by_ticket(self.db(), &ticket).await?,
            None => None,
        };
        let Some(row) = row else {
            // The same hashing for an unknown ticket: timing tells nothing.
            let _ = ticket::secret_matches("", secret, &"0".repeat(64));
            return Ok(None);
        };
        if ticket::secret_matches(row.id(), secret, &row.secret_hash) {
            model::message_from_row(row).map(Some)
        } else {
            Ok(None)
        }
    }

    async fn message(&self, id: &str) -> Result<Option<Message>, StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, MessageRow>(concat!(
                "SELECT ",
                message_columns!(),
                " FROM messages WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(pool)
            .await
        })?
        .map(model::message_from_row)
        .transpose()
    }

    async fn messages(&self, filter: &MessageFilter) -> Result<Vec<Message>, StoreError> {
        let limit = filter.limit.min(MessageFilter::MAX_LIMIT);
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, MessageRow>(concat!(
                "SELECT ",
                message_columns!(),
                " FROM messages WHERE ($1 IS NULL OR state = $1) \
                 AND ($2 IS NULL OR (state IN ('new', 'assigned') AND due_at_ms < $2)) \
                 ORDER BY CASE WHEN state IN ('new', 'assigned') THEN 0 ELSE 1 END, \
                 CASE WHEN state IN ('new', 'assigned') THEN due_at_ms \
                 ELSE -created_at_ms END, id LIMIT $3"
            ))
            .bind(filter.state.map(MessageState::as_str))
            .bind(filter.overdue_at_ms)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(model::message_from_row).collect()
    }

    async fn assign_message(
        &self,
        id: &str,
        user_id: &str,
        at_ms: i64,
    ) -> Result<Message, StoreError> {
        let updated = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, MessageRow>(concat!(
                "UPDATE messages SET state = 'assigned', assigned_to = $2, \
                 assigned_at_ms = $3 WHERE id = $1 AND state IN ('new', 'assigned') \
                 RETURNING ",
                message_columns!()
            ))
            .bind(id)
            .bind(user_id)
            .bind(at_ms)
            .fetch_optional(pool)
            .await
        });
        transition_outcome(self.db(), updated, id, user_id, "assign").await
    }

    async fn reply_message(
        &self,
        id: &str,
        user_id: &str,
        reply: &str,
        at_ms: i64,
    ) -> Result<Message, StoreError> {
        validate::reply(reply)?;
        let updated = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, MessageRow>(concat!(
                "UPDATE messages SET state = 'answered', reply = $4, replied_at_ms = $3, \
                 replied_by = $2, assigned_to = COALESCE(assigned_to, $2), \
                 assigned_at_ms = COALESCE(assigned_at_ms, $3) \
                 WHERE id = $1 AND state IN ('new', 'assigned') RETURNING ",
                message_columns!()
            ))
            .bind(id)
            .bind(user_id)
            .bind(at_ms)
            .bind(reply)
            .fetch_optional(pool)
            .await
        });
        transition_outcome(self.db(), updated, id, user_id, "reply").await
    }

    async fn close_message(
        &self,
        id: &str,
        user_id: &str,
        at_ms: i64,
    ) -> Result<Message, StoreError> {
        let updated = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, MessageRow>(concat!(
                "UPDATE messages SET state = 'closed', closed_at_ms = $3, closed_by = $2 \
                 WHERE id = $1 AND state <> 'closed' RETURNING ",
                message_columns!()
            ))
            .bind(id)
            .bind(user_id)
            .bind(at_ms)
            .fetch_optional(pool)
            .await
        });
        transition_outcome(self.db(), updated, id, user_id, "close").await
    }

    async fn voice_files(&self) -> Result<Vec<String>, StoreError> {
        let mut files = on_pool!(self.db(), |pool| {
            sqlx::query_scalar::<_, String>(
                "SELECT voice_file FROM messages WHERE voice_file IS NOT NULL",
            )
            .fetch_all(pool)
            .await
        })?;
        files.sort();
        Ok(files)
    }
}

/// How one attempt of [`MessageStore::insert_message`] ended.
enum Attempt {
    /// The message was stored (and committed) with the attempt's id and ticket.
    Inserted,
    /// The client id was stored already with the same content; its code was renewed.
    Retried(Message),
    /// The insert failed (rolled back); the error decides between retrying and giving up.
    Failed(sqlx::Error),
}

/// The message as [`MessageStore::insert_message`] just stored it.
fn new_message(m: &NewMessage, id: String, ticket: String) -> Message {
    Message {
        id,
        client_id: m.client_id.clone(),
        ticket,
        kind: m.kind,
        service: m.service.clone(),
        name: m.name.clone(),
        phone: m.phone.clone(),
        body: m.body.clone(),
        voice_file: m.voice_file.clone(),
        voice_ms: m.voice_ms,
        voice_bytes: m.voice_bytes,
        call_id: m.call_id.clone(),
        reason: m.reason,
        created_at_ms: m.created_at_ms,
        due_at_ms: m.due_at_ms,
        state: MessageState::New,
        assigned_to: None,
        assigned_at_ms: None,
        reply: None,
        replied_at_ms: None,
        replied_by: None,
        closed_at_ms: None,
        closed_by: None,
    }
}

/// The row of the message with this (normalised) ticket, secret hash included.
async fn message_row_by_ticket(db: Db<'_>, ticket: &str) -> Result<Option<MessageRow>, StoreError> {
    let row = on_pool!(db, |pool| {
        sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE ticket = $1"
        ))
        .bind(ticket)
        .fetch_optional(pool)
        .await
    })?;
    Ok(row)
}

/// Maps the outcome of a message transition (an `UPDATE … WHERE <allowed states> RETURNING` the
/// message columns) for `action` by `user_id`.
async fn transition_outcome(
    db: Db<'_>,
    updated: Result<Option<MessageRow>, sqlx::Error>,
    id: &str,
    user_id: &str,
    action: &'static str,
) -> Result<Message, StoreError> {
    let row = updated.map_err(|e| {
        if is_foreign_key_violation(&e) {
            StoreError::InvalidReference {
                entity: "message",
                target: "user",
                id: user_id.to_owned(),
            }
        } else {
            StoreError::Database(e)
        }
    })?;
    match row {
        Some(row) => model::message_from_row(row),
        None => Err(refusal(db, id, action).await),
    }
}

/// Why a message transition matched no row: the message does not exist
/// ([`StoreError::NotFound`]) or is in a state that refuses `action`.
async fn refusal(db: Db<'_>, id: &str, action: &'static str) -> StoreError {
    let state = on_pool!(db, |pool| {
        sqlx::query_scalar::<_, String>("SELECT state FROM messages WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await
    });
    match state {
        Err(e) => StoreError::Database(e),
        Ok(None) => StoreError::NotFound { entity: "message", id: id.to_owned() },
        Ok(Some(state)) => match MessageState::parse(&state) {
            Some(state) => StoreError::InvalidTransition {
                entity: "message",
                id: id.to_owned(),
                state: state.as_str(),
                action,
            },
            None => StoreError::Corrupt { table: "messages", column: "state", value: state },
        },
    }
}
