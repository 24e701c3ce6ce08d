//! Citizens' service ratings (1–5) of calls and messages, and the follow-up of bad ones: table
//! `ratings`.

use crate::backend::{
    Backend, first_missing, is_foreign_key_violation, is_unique_violation, on_pool,
};
use crate::model::{self, RatingRow};
use crate::{FollowUp, MessageFilter, NewRating, Rating, RatingSubject, StoreError, validate};

/// Columns of `ratings` that [`RatingRow`] reads (by name).
macro_rules! rating_columns {
    () => {
        "subject_kind, subject_id, level, comment, created_at_ms, follow_up, handled_at_ms, \
         handled_by, note"
    };
}

/// Ratings and their follow-ups. Every write is committed before the call returns.
#[async_trait::async_trait]
pub trait RatingStore: Send + Sync {
    /// Stores a citizen's rating; levels 1 and 2 open a follow-up. The subject must exist
    /// (otherwise [`StoreError::InvalidReference`], entity `"rating"`, target `"call"` or
    /// `"message"`); the store does not check that the call was answered or the message
    /// replied to (the caller offers the rating only then). A subject already rated is
    /// [`StoreError::Conflict`] (entity `"rating"`, key `"subject"`, value `"call:<id>"`) and the
    /// first rating is kept unchanged; a level outside 1..=5 or a comment longer than
    /// [`NewRating::MAX_COMMENT_CHARS`] is [`StoreError::InvalidValue`]. Returns the stored rating.
    async fn insert_rating(&self, rating: &NewRating) -> Result<Rating, StoreError>;

    /// The rating of a call or message, if any.
    async fn rating(&self, kind: RatingSubject, id: &str) -> Result<Option<Rating>, StoreError>;

    /// Ratings with a follow-up (levels 1 and 2): only the open ones when `open_only`, otherwise
    /// the handled ones too. Open ones first, oldest first (they have waited longest); then
    /// handled ones, most recently handled first. At most [`MessageFilter::MAX_LIMIT`].
    async fn follow_ups(&self, open_only: bool) -> Result<Vec<Rating>, StoreError>;

    /// Marks an open follow-up handled by `user_id` with `note` (may be empty, at most
    /// [`NewRating::MAX_NOTE_CHARS`]). No rating of that subject: [`StoreError::NotFound`]
    /// (entity `"rating"`); a rating without follow-up (level 3-5) or already handled:
    /// [`StoreError::InvalidTransition`]; unknown user: [`StoreError::InvalidReference`] (entity
    /// `"rating"`, target `"user"`). Nothing changes on any error. Returns the updated rating.
    async fn mark_follow_up_handled(
        &self,
        kind: RatingSubject,
        id: &str,
        user_id: &str,
        note: &str,
        at_ms: i64,
    ) -> Result<Rating, StoreError>;
}

#[async_trait::async_trait]
impl<S: Backend> RatingStore for S {
    async fn insert_rating(&self, rating: &NewRating) -> Result<Rating, StoreError> {
        validate::rating(rating)?;
        let (target, lookup) = match rating.subject_kind {
            RatingSubject::Call => ("call", "SELECT 1 FROM calls WHERE id = $1"),
            RatingSubject::Message => ("message", "SELECT 1 FROM messages WHERE id = $1"),
            RatingSubject::Chat => ("chat", "SELECT 1 FROM chats WHERE id = $1"),
        };
        // Calls, messages and chats are never deleted: the subject cannot vanish after this.
        if let Some((target, id)) =
            first_missing(self.db(), &[(target, lookup, &rating.subject_id)]).await?
        {
            return Err(StoreError::InvalidReference { entity: "rating", target, id });
        }
        let follow_up = (rating.level <= NewRating::FOLLOW_UP_MAX_LEVEL).then_some(FollowUp::Open);
        on_pool!(self.db(), |pool| {
            sqlx::query(
                "INSERT INTO ratings (subject_kind, subject_id, level, comment, \
                 created_at_ms, follow_up) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(rating.subject_kind.as_str())
            .bind(&rating.subject_id)
            .bind(rating.level)
            .bind(&rating.comment)
            .bind(rating.created_at_ms)
            .bind(follow_up.map(FollowUp::as_str))
            .execute(pool)
            .await
            .map(drop)
        })
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict {
                    entity: "rating",
                    key: "subject",
                    value: format!("{}:{}", rating.subject_kind.as_str(), rating.subject_id),
                }
            } else {
                StoreError::Database(e)
            }
        })?;
        Ok(Rating {
            subject_kind: rating.subject_kind,
            subject_id: rating.subject_id.clone(),
            level: rating.level,
            comment: rating.comment.clone(),
            created_at_ms: rating.created_at_ms,
            follow_up,
            handled_at_ms: None,
            handled_by: None,
            note: None,
        })
    }

    async fn rating(&self, kind: RatingSubject, id: &str) -> Result<Option<Rating>, StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, RatingRow>(concat!(
                "SELECT ",
                rating_columns!(),
                " FROM ratings WHERE subject_kind = $1 AND subject_id = $2"
            ))
            .bind(kind.as_str())
            .bind(id)
            .fetch_optional(pool)
            .await
        })?
        .map(model::rating_from_row)
        .transpose()
    }

    async fn follow_ups(&self, open_only: bool) -> Result<Vec<Rating>, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, RatingRow>(concat!(
                "SELECT ",
                rating_columns!(),
                " FROM ratings WHERE follow_up = 'open' \
                 OR ($1 = 0 AND follow_up = 'handled') \
                 ORDER BY CASE WHEN follow_up = 'open' THEN 0 ELSE 1 END, \
                 CASE WHEN follow_up = 'open' THEN created_at_ms ELSE -handled_at_ms END, \
                 subject_kind, subject_id LIMIT $2"
            ))
            .bind(i32::from(open_only))
            .bind(i64::from(MessageFilter::MAX_LIMIT))
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(model::rating_from_row).collect()
    }

    async fn mark_follow_up_handled(
        &self,
        kind: RatingSubject,
        id: &str,
        user_id: &str,
        note: &str,
        at_ms: i64,
    ) -> Result<Rating, StoreError> {
        validate::follow_up_note(note)?;
        let row = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, RatingRow>(concat!(
                "UPDATE ratings SET follow_up = 'handled', handled_at_ms = $4, \
                 handled_by = $3, note = $5 \
                 WHERE subject_kind = $1 AND subject_id = $2 AND follow_up = 'open' \
                 RETURNING ",
                rating_columns!()
            ))
            .bind(kind.as_str())
            .bind(id)
            .bind(user_id)
            .bind(at_ms)
            .bind(note)
            .fetch_optional(pool)
            .await
        })
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                StoreError::InvalidReference {
                    entity: "rating",
                    target: "user",
                    id: user_id.to_owned(),
                }
            } else {
                StoreError::Database(e)
            }
        })?;
        if let Some(row) = row {
            return model::rating_from_row(row);
        }
        let state = on_pool!(self.db(), |pool| {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT follow_up FROM ratings WHERE subject_kind = $1 AND subject_id = $2",
            )
            .bind(kind.as_str())
            .bind(id)
            .fetch_optional(pool)
            .await
        })?;
        let subject = format!("{}:{id}", kind.as_str());
        Err(match state {
            None => StoreError::NotFound { entity: "rating", id: subject },
            Some(state) => StoreError::InvalidTransition {
                entity: "rating",
                id: subject,
                state: if state.is_some() { "handled" } else { "without follow-up" },
                action: "mark handled",
            },
        })
    }
}
