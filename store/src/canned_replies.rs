//! Canned replies (常用语) of the live chat (issue 16), kept per service by admins and offered
//! to agents in the chat composer: table `canned_replies`.

use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use crate::StoreError;
use crate::backend::{Backend, is_foreign_key_violation, is_unique_violation, on_pool};
use crate::validate;

/// Longest canned reply body, in characters: the chat's own limit (`MAX_CHAT_TEXT_CHARS` of the
/// protocol), so a reply can always be sent as it is.
pub const MAX_CANNED_REPLY_CHARS: usize = 2000;

/// A canned reply of one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromRow)]
pub struct CannedReply {
    /// 1 to 64 characters of `a-z`, `0-9`, `_` and `-`.
    pub id: String,
    /// The catalogue service it belongs to (deleted with it).
    pub service: String,
    /// The short label an agent picks from (non-blank, at most 200 characters).
    pub title: String,
    /// The text sent (non-blank, at most [`MAX_CANNED_REPLY_CHARS`] characters).
    pub body: String,
    /// Order within the service (then the title).
    pub sort: i32,
    /// The user id of the admin who last wrote it.
    pub updated_by: String,
    /// When it was last written.
    pub updated_at_ms: i64,
}

/// Columns of `canned_replies`, in [`CannedReply`] order.
macro_rules! columns {
    () => {
        "id, service, title, body, sort, updated_by, updated_at_ms"
    };
}

/// Canned replies. Every write is committed before the call returns; a refused write writes
/// nothing.
#[async_trait::async_trait]
pub trait CannedReplyStore: Send + Sync {
    /// The replies of `service` (every service's when `None`), by service, then `sort`, then
    /// title.
    async fn canned_replies(&self, service: Option<&str>) -> Result<Vec<CannedReply>, StoreError>;

    /// One reply.
    async fn canned_reply(&self, id: &str) -> Result<Option<CannedReply>, StoreError>;

    /// Adds a reply. Invalid values and an unknown service are [`StoreError::InvalidValue`], an
    /// existing id is [`StoreError::Conflict`].
    async fn insert_canned_reply(&self, reply: &CannedReply) -> Result<(), StoreError>;

    /// Replaces an existing reply and returns it as stored. An unknown id is
    /// [`StoreError::NotFound`]; invalid values and an unknown service are
    /// [`StoreError::InvalidValue`].
    async fn update_canned_reply(&self, reply: &CannedReply) -> Result<CannedReply, StoreError>;

    /// Deletes a reply; whether it existed.
    async fn delete_canned_reply(&self, id: &str) -> Result<bool, StoreError>;
}

fn unknown_service(service: &str) -> StoreError {
    StoreError::InvalidValue {
        entity: "canned reply",
        field: "service",
        value: service.chars().take(64).collect(),
        expected: "a service of the catalogue",
    }
}

#[async_trait::async_trait]
impl<S: Backend> CannedReplyStore for S {
    async fn canned_replies(&self, service: Option<&str>) -> Result<Vec<CannedReply>, StoreError> {
        let mut replies = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, CannedReply>(concat!(
                "SELECT ",
                columns!(),
                " FROM canned_replies WHERE $1 IS NULL OR service = $1"
            ))
            .bind(service)
            .fetch_all(pool)
            .await
        })?;
        // Sorted here: the same order on both backends whatever their collation.
        replies.sort_by(|a, b| {
            (&a.service, a.sort, &a.title, &a.id).cmp(&(&b.service, b.sort, &b.title, &b.id))
        });
        Ok(replies)
    }

    async fn canned_reply(&self, id: &str) -> Result<Option<CannedReply>, StoreError> {
        Ok(on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, CannedReply>(concat!(
                "SELECT ",
                columns!(),
                " FROM canned_replies WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(pool)
            .await
        })?)
    }

    async fn insert_canned_reply(&self, r: &CannedReply) -> Result<(), StoreError> {
        validate::canned_reply(r)?;
        on_pool!(self.db(), |pool| {
            sqlx::query(concat!(
                "INSERT INTO canned_replies (",
                columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ))
            .bind(&r.id)
            .bind(&r.service)
            .bind(&r.title)
            .bind(&r.body)
            .bind(r.sort)
            .bind(&r.updated_by)
            .bind(r.updated_at_ms)
            .execute(pool)
            .await
            .map(drop)
        })
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict { entity: "canned reply", key: "id", value: r.id.clone() }
            } else if is_foreign_key_violation(&e) {
                unknown_service(&r.service)
            } else {
                StoreError::Database(e)
            }
        })
    }

    async fn update_canned_reply(&self, r: &CannedReply) -> Result<CannedReply, StoreError> {
        validate::canned_reply(r)?;
        on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, CannedReply>(concat!(
                "UPDATE canned_replies SET service = $2, title = $3, body = $4, sort = $5, \
                 updated_by = $6, updated_at_ms = $7 WHERE id = $1 RETURNING ",
                columns!()
            ))
            .bind(&r.id)
            .bind(&r.service)
            .bind(&r.title)
            .bind(&r.body)
            .bind(r.sort)
            .bind(&r.updated_by)
            .bind(r.updated_at_ms)
            .fetch_optional(pool)
            .await
        })
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                unknown_service(&r.service)
            } else {
                StoreError::Database(e)
            }
        })?
        .ok_or_else(|| StoreError::NotFound { entity: "canned reply", id: r.id.clone() })
    }

    async fn delete_canned_reply(&self, id: &str) -> Result<bool, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query("DELETE FROM canned_replies WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(rows > 0)
    }
}
