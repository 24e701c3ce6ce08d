//! Users (agents, staff, admins) and their sign-in sessions: tables `users` and `sessions`.

use voicedesk_protocol::Role;

use crate::backend::{Backend, is_foreign_key_violation, is_unique_violation, on_pool};
use crate::error::constraint_mentions;
use crate::model::{self, SessionRow, UserRow};
use crate::{NewSession, NewUser, Session, StoreError, User, UserSummary};

/// Columns of `users`, in [`UserRow`] order.
macro_rules! user_columns {
    () => {
        "id, username, display_name, role, password_hash, created_at_ms"
    };
}

/// Columns of `sessions`, in [`SessionRow`] order.
macro_rules! session_columns {
    () => {
        "token_hash, role, user_id, created_at_ms, expires_at_ms"
    };
}

/// Users and sessions. Every write is committed before the call returns.
#[async_trait::async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user. A taken username (or id) is [`StoreError::Conflict`]; a citizen role is
    /// [`StoreError::InvalidUserRole`].
    async fn create_user(&self, user: &NewUser) -> Result<User, StoreError>;

    /// The user with this login name, if any.
    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;

    /// The user with this id, if any.
    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError>;

    /// The users with this role, by username (as bytes), without their password hashes. Citizens
    /// have no user rows: [`Role::Citizen`] lists none.
    async fn users_by_role(&self, role: Role) -> Result<Vec<UserSummary>, StoreError>;

    /// Stores a session. The caller hashes the token; the store never sees it. A `user_id`
    /// that does not exist is [`StoreError::InvalidReference`].
    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError>;

    /// Only a session whose `expires_at_ms > now_ms` is returned.
    async fn session_by_token_hash(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<Session>, StoreError>;

    /// Deletes the session (sign-out). Deleting an unknown session is not an error.
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;

    /// Deletes every session with `expires_at_ms <= now_ms`; returns how many.
    async fn delete_expired_sessions(&self, now_ms: i64) -> Result<u64, StoreError>;
}

#[async_trait::async_trait]
impl<S: Backend> UserStore for S {
    async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
        if user.role == Role::Citizen {
            return Err(StoreError::InvalidUserRole(user.role));
        }
        on_pool!(self.db(), |pool| {
            sqlx::query(concat!(
                "INSERT INTO users (",
                user_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6)"
            ))
            .bind(&user.id)
            .bind(&user.username)
            .bind(&user.display_name)
            .bind(user.role.as_str())
            .bind(&user.password_hash)
            .bind(user.created_at_ms)
            .execute(pool)
            .await
            .map(drop)
        })
        .map_err(|e| {
            if is_unique_violation(&e) && constraint_mentions(&e, "username") {
                StoreError::Conflict {
                    entity: "user",
                    key: "username",
                    value: user.username.clone(),
                }
            } else if is_unique_violation(&e) {
                StoreError::Conflict { entity: "user", key: "id", value: user.id.clone() }
            } else {
                StoreError::Database(e)
            }
        })?;
        Ok(User::from(user.clone()))
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, UserRow>(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE username = $1"
            ))
            .bind(username)
            .fetch_optional(pool)
            .await
        })?
        .map(model::user_from_row)
        .transpose()
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, UserRow>(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(pool)
            .await
        })?
        .map(model::user_from_row)
        .transpose()
    }

    async fn users_by_role(&self, role: Role) -> Result<Vec<UserSummary>, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, model::UserSummaryRow>(
                "SELECT id, username, display_name, role, created_at_ms FROM users \
                 WHERE role = $1",
            )
            .bind(role.as_str())
            .fetch_all(pool)
            .await
        })?;
        let mut users =
            rows.into_iter().map(model::user_summary_from_row).collect::<Result<Vec<_>, _>>()?;
        // Byte order on both backends (a Postgres collation may order `_` differently).
        users.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(users)
    }

    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query(concat!(
                "INSERT INTO sessions (",
                session_columns!(),
                ") VALUES ($1, $2, $3, $4, $5)"
            ))
            .bind(&session.token_hash)
            .bind(session.role.as_str())
            .bind(&session.user_id)
            .bind(session.created_at_ms)
            .bind(session.expires_at_ms)
            .execute(pool)
            .await
            .map(drop)
        })
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict {
                    entity: "session",
                    key: "token_hash",
                    value: "<redacted>".to_owned(),
                }
            } else if is_foreign_key_violation(&e) {
                StoreError::InvalidReference {
                    entity: "session",
                    target: "user",
                    id: session.user_id.clone().unwrap_or_default(),
                }
            } else {
                StoreError::Database(e)
            }
        })
    }

    async fn session_by_token_hash(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<Session>, StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, SessionRow>(concat!(
                "SELECT ",
                session_columns!(),
                " FROM sessions WHERE token_hash = $1 AND expires_at_ms > $2"
            ))
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional(pool)
            .await
        })?
        .map(model::session_from_row)
        .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await
                .map(drop)
        })?;
        Ok(())
    }

    async fn delete_expired_sessions(&self, now_ms: i64) -> Result<u64, StoreError> {
        let deleted = on_pool!(self.db(), |pool| {
            sqlx::query("DELETE FROM sessions WHERE expires_at_ms <= $1")
                .bind(now_ms)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(deleted)
    }
}
