//! Information announcements shown in the hall: table `announcements`.

use crate::backend::{Backend, is_unique_violation, on_pool};
use crate::model::{self, AnnouncementRow};
use crate::{Announcement, StoreError, validate};

/// Columns of `announcements`, in [`AnnouncementRow`] order.
macro_rules! announcement_columns {
    () => {
        "id, title_zh, title_en, title_es, body_zh, body_en, body_es, published_at_ms, \
         expires_at_ms, pinned, created_by, updated_at_ms"
    };
}

/// Announcements. Every write is committed before the call returns.
#[async_trait::async_trait]
pub trait AnnouncementStore: Send + Sync {
    /// The announcements shown at `now_ms` (published by then, not expired), in the order of
    /// [`Announcement::list_order`]: pinned first, then newest first.
    async fn current_announcements(&self, now_ms: i64) -> Result<Vec<Announcement>, StoreError>;

    /// Every announcement, scheduled and expired ones included, in the same order.
    async fn announcements(&self) -> Result<Vec<Announcement>, StoreError>;

    /// One announcement.
    async fn announcement(&self, id: &str) -> Result<Option<Announcement>, StoreError>;

    /// Adds an announcement. Invalid values are [`StoreError::InvalidValue`], an existing id is
    /// [`StoreError::Conflict`]; either way nothing is written.
    async fn insert_announcement(&self, announcement: &Announcement) -> Result<(), StoreError>;

    /// Replaces the content of an existing announcement (its `created_by` is kept) and returns
    /// it as stored. An unknown id is [`StoreError::NotFound`]; invalid values are
    /// [`StoreError::InvalidValue`]; either way nothing is written.
    async fn update_announcement(
        &self,
        announcement: &Announcement,
    ) -> Result<Announcement, StoreError>;

    /// Deletes an announcement; whether it existed.
    async fn delete_announcement(&self, id: &str) -> Result<bool, StoreError>;
}

#[async_trait::async_trait]
impl<S: Backend> AnnouncementStore for S {
    async fn current_announcements(&self, now_ms: i64) -> Result<Vec<Announcement>, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, AnnouncementRow>(concat!(
                "SELECT ",
                announcement_columns!(),
                " FROM announcements WHERE published_at_ms <= $1 \
                 AND (expires_at_ms IS NULL OR expires_at_ms > $1)"
            ))
            .bind(now_ms)
            .fetch_all(pool)
            .await
        })?;
        let mut announcements =
            rows.into_iter().map(model::announcement_from_row).collect::<Result<Vec<_>, _>>()?;
        // Sorted here: the same order on both backends whatever their collation.
        announcements.sort_by(Announcement::list_order);
        Ok(announcements)
    }

    async fn announcements(&self) -> Result<Vec<Announcement>, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, AnnouncementRow>(concat!(
                "SELECT ",
                announcement_columns!(),
                " FROM announcements"
            ))
            .fetch_all(pool)
            .await
        })?;
        let mut announcements =
            rows.into_iter().map(model::announcement_from_row).collect::<Result<Vec<_>, _>>()?;
        announcements.sort_by(Announcement::list_order);
        Ok(announcements)
    }

    async fn announcement(&self, id: &str) -> Result<Option<Announcement>, StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, AnnouncementRow>(concat!(
                "SELECT ",
                announcement_columns!(),
                " FROM announcements WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(pool)
            .await
        })?
        .map(model::announcement_from_row)
        .transpose()
    }

    async fn insert_announcement(&self, a: &Announcement) -> Result<(), StoreError> {
        validate::announcement(a)?;
        on_pool!(self.db(), |pool| {
            sqlx::query(concat!(
                "INSERT INTO announcements (",
                announcement_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ))
            .bind(&a.id)
            .bind(&a.title_zh)
            .bind(&a.title_en)
            .bind(&a.title_es)
            .bind(&a.body_zh)
            .bind(&a.body_en)
            .bind(&a.body_es)
            .bind(a.published_at_ms)
            .bind(a.expires_at_ms)
            .bind(i32::from(a.pinned))
            .bind(&a.created_by)
            .bind(a.updated_at_ms)
            .execute(pool)
            .await
            .map(drop)
        })
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict { entity: "announcement", key: "id", value: a.id.clone() }
            } else {
                StoreError::Database(e)
            }
        })
    }

    async fn update_announcement(&self, a: &Announcement) -> Result<Announcement, StoreError> {
        validate::announcement(a)?;
        on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, AnnouncementRow>(concat!(
                "UPDATE announcements SET title_zh = $2, title_en = $3, title_es = $4, \
                 body_zh = $5, body_en = $6, body_es = $7, published_at_ms = $8, \
                 expires_at_ms = $9, pinned = $10, updated_at_ms = $11 WHERE id = $1 \
                 RETURNING ",
                announcement_columns!()
            ))
            .bind(&a.id)
            .bind(&a.title_zh)
            .bind(&a.title_en)
            .bind(&a.title_es)
            .bind(&a.body_zh)
            .bind(&a.body_en)
            .bind(&a.body_es)
            .bind(a.published_at_ms)
            .bind(a.expires_at_ms)
            .bind(i32::from(a.pinned))
            .bind(a.updated_at_ms)
            .fetch_optional(pool)
            .await
        })?
        .map(model::announcement_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound { entity: "announcement", id: a.id.clone() })
    }

    async fn delete_announcement(&self, id: &str) -> Result<bool, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query("DELETE FROM announcements WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(rows > 0)
    }
}
