//! The [`Store`](crate::Store) implementation shared by both backends.
//!
//! The schema is the same on SQLite and Postgres and every query below is written in the common
//! dialect (`$n` placeholders work on both: sqlx binds SQLite's `$n` by number), so one body of
//! code serves both. It is a macro rather than generic code because sqlx's generic bounds
//! (`Executor`, `IntoArguments`, `Decode` for every column type, per backend) would drown the
//! queries; the macro is expanded once per concrete pool type and type-checked there.

/// Columns of `users`, in [`UserRow`](crate::model::UserRow) order.
macro_rules! user_columns {
    () => {
        "id, username, display_name, role, password_hash, created_at_ms"
    };
}

/// Columns of `sessions`, in [`SessionRow`](crate::model::SessionRow) order.
macro_rules! session_columns {
    () => {
        "token_hash, role, user_id, created_at_ms, expires_at_ms"
    };
}

/// Columns of `calls`, in [`CallRow`](crate::model::CallRow) order.
macro_rules! call_columns {
    () => {
        "id, citizen_session, service, queued_at_ms, offered_at_ms, answered_at_ms, \
         ended_at_ms, outcome, agent_id, offer_count"
    };
}

/// Implements [`Store`](crate::Store) for a type with a `pool` field of a sqlx pool.
macro_rules! impl_store {
    ($store:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::Store for $store {
            async fn ping(&self) -> Result<(), $crate::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            fn backend(&self) -> &'static str {
                $backend
            }

            async fn create_user(
                &self,
                user: &$crate::NewUser,
            ) -> Result<$crate::User, $crate::StoreError> {
                use sqlx::error::ErrorKind;
                use $crate::error::{constraint_kind, constraint_mentions};

                if user.role == voicedesk_protocol::Role::Citizen {
                    return Err($crate::StoreError::InvalidUserRole(user.role));
                }
                sqlx::query(
                    "INSERT INTO users \
                     (id, username, display_name, role, password_hash, created_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&user.id)
                .bind(&user.username)
                .bind(&user.display_name)
                .bind(user.role.as_str())
                .bind(&user.password_hash)
                .bind(user.created_at_ms)
                .execute(&self.pool)
                .await
                .map_err(|e| match constraint_kind(&e) {
                    Some(ErrorKind::UniqueViolation) if constraint_mentions(&e, "username") => {
                        $crate::StoreError::Conflict {
                            entity: "user",
                            key: "username",
                            value: user.username.clone(),
                        }
                    }
                    Some(ErrorKind::UniqueViolation) => $crate::StoreError::Conflict {
                        entity: "user",
                        key: "id",
                        value: user.id.clone(),
                    },
                    _ => $crate::StoreError::Database(e),
                })?;
                Ok($crate::User::from(user.clone()))
            }

            async fn user_by_username(
                &self,
                username: &str,
            ) -> Result<Option<$crate::User>, $crate::StoreError> {
                sqlx::query_as::<_, $crate::model::UserRow>(concat!(
                    "SELECT ",
                    $crate::queries::user_columns!(),
                    " FROM users WHERE username = $1"
                ))
                .bind(username)
                .fetch_optional(&self.pool)
                .await?
                .map($crate::model::user_from_row)
                .transpose()
            }

            async fn user_by_id(
                &self,
                id: &str,
            ) -> Result<Option<$crate::User>, $crate::StoreError> {
                sqlx::query_as::<_, $crate::model::UserRow>(concat!(
                    "SELECT ",
                    $crate::queries::user_columns!(),
                    " FROM users WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .map($crate::model::user_from_row)
                .transpose()
            }

            async fn create_session(
                &self,
                session: &$crate::NewSession,
            ) -> Result<(), $crate::StoreError> {
                use sqlx::error::ErrorKind;
                use $crate::error::constraint_kind;

                sqlx::query(concat!(
                    "INSERT INTO sessions (",
                    $crate::queries::session_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5)"
                ))
                .bind(&session.token_hash)
                .bind(session.role.as_str())
                .bind(&session.user_id)
                .bind(session.created_at_ms)
                .bind(session.expires_at_ms)
                .execute(&self.pool)
                .await
                .map_err(|e| match constraint_kind(&e) {
                    Some(ErrorKind::UniqueViolation) => $crate::StoreError::Conflict {
                        entity: "session",
                        key: "token_hash",
                        value: "<redacted>".to_owned(),
                    },
                    Some(ErrorKind::ForeignKeyViolation) => $crate::StoreError::InvalidReference {
                        entity: "session",
                        target: "user",
                        id: session.user_id.clone().unwrap_or_default(),
                    },
                    _ => $crate::StoreError::Database(e),
                })?;
                Ok(())
            }

            async fn session_by_token_hash(
                &self,
                token_hash: &str,
                now_ms: i64,
            ) -> Result<Option<$crate::Session>, $crate::StoreError> {
                sqlx::query_as::<_, $crate::model::SessionRow>(concat!(
                    "SELECT ",
                    $crate::queries::session_columns!(),
                    " FROM sessions WHERE token_hash = $1 AND expires_at_ms > $2"
                ))
                .bind(token_hash)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await?
                .map($crate::model::session_from_row)
                .transpose()
            }

            async fn delete_session(&self, token_hash: &str) -> Result<(), $crate::StoreError> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_expired_sessions(
                &self,
                now_ms: i64,
            ) -> Result<u64, $crate::StoreError> {
                let done = sqlx::query("DELETE FROM sessions WHERE expires_at_ms <= $1")
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn insert_call(&self, call: &$crate::NewCall) -> Result<(), $crate::StoreError> {
                use sqlx::error::ErrorKind;
                use $crate::error::constraint_kind;

                sqlx::query(
                    "INSERT INTO calls (id, citizen_session, service, queued_at_ms) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&call.id)
                .bind(&call.citizen_session)
                .bind(&call.service)
                .bind(call.queued_at_ms)
                .execute(&self.pool)
                .await
                .map_err(|e| match constraint_kind(&e) {
                    Some(ErrorKind::UniqueViolation) => $crate::StoreError::Conflict {
                        entity: "call",
                        key: "id",
                        value: call.id.clone(),
                    },
                    _ => $crate::StoreError::Database(e),
                })?;
                Ok(())
            }

            async fn mark_call_offered(
                &self,
                call_id: &str,
                agent_id: &str,
                at_ms: i64,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE calls SET offered_at_ms = COALESCE(offered_at_ms, $3), \
                     agent_id = $2, offer_count = offer_count + 1 WHERE id = $1",
                )
                .bind(call_id)
                .bind(agent_id)
                .bind(at_ms)
                .execute(&self.pool)
                .await
                .map_err(|e| $crate::queries::agent_reference_error(e, agent_id))?;
                $crate::queries::exactly_one_call(done.rows_affected(), call_id)
            }

            async fn mark_call_answered(
                &self,
                call_id: &str,
                agent_id: &str,
                at_ms: i64,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE calls SET answered_at_ms = $3, agent_id = $2 WHERE id = $1",
                )
                .bind(call_id)
                .bind(agent_id)
                .bind(at_ms)
                .execute(&self.pool)
                .await
                .map_err(|e| $crate::queries::agent_reference_error(e, agent_id))?;
                $crate::queries::exactly_one_call(done.rows_affected(), call_id)
            }

            async fn mark_call_ended(
                &self,
                call_id: &str,
                at_ms: i64,
                outcome: &str,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE calls SET ended_at_ms = $2, outcome = $3 \
                     WHERE id = $1 AND ended_at_ms IS NULL",
                )
                .bind(call_id)
                .bind(at_ms)
                .bind(outcome)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() > 0 {
                    return Ok(true);
                }
                // Nothing changed: either the call already ended (calls are never deleted, so
                // this answer cannot go stale) or there is no such call.
                let exists = sqlx::query_scalar::<_, i32>("SELECT 1 FROM calls WHERE id = $1")
                    .bind(call_id)
                    .fetch_optional(&self.pool)
                    .await?;
                match exists {
                    Some(_) => Ok(false),
                    None => {
                        Err($crate::StoreError::NotFound { entity: "call", id: call_id.to_owned() })
                    }
                }
            }

            async fn call(
                &self,
                call_id: &str,
            ) -> Result<Option<$crate::CallRecord>, $crate::StoreError> {
                sqlx::query_as::<_, $crate::model::CallRow>(concat!(
                    "SELECT ",
                    $crate::queries::call_columns!(),
                    " FROM calls WHERE id = $1"
                ))
                .bind(call_id)
                .fetch_optional(&self.pool)
                .await?
                .map($crate::model::call_from_row)
                .transpose()
            }

            async fn end_open_calls(
                &self,
                at_ms: i64,
                outcome: &str,
            ) -> Result<u64, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE calls SET ended_at_ms = $1, outcome = $2 WHERE ended_at_ms IS NULL",
                )
                .bind(at_ms)
                .bind(outcome)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn count_calls(&self) -> Result<u64, $crate::StoreError> {
                let n = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM calls")
                    .fetch_one(&self.pool)
                    .await?;
                u64::try_from(n).map_err(|_| $crate::StoreError::Corrupt {
                    table: "calls",
                    column: "COUNT(*)",
                    value: n.to_string(),
                })
            }
        }
    };
}

pub(crate) use {call_columns, impl_store, session_columns, user_columns};

/// Maps a failed update that sets `calls.agent_id`: an unknown agent is an invalid reference.
pub(crate) fn agent_reference_error(e: sqlx::Error, agent_id: &str) -> crate::StoreError {
    match crate::error::constraint_kind(&e) {
        Some(sqlx::error::ErrorKind::ForeignKeyViolation) => crate::StoreError::InvalidReference {
            entity: "call",
            target: "agent",
            id: agent_id.to_owned(),
        },
        _ => crate::StoreError::Database(e),
    }
}

/// An update keyed by call id touched `rows` rows: none means the call does not exist.
pub(crate) fn exactly_one_call(rows: u64, call_id: &str) -> Result<(), crate::StoreError> {
    if rows == 0 {
        Err(crate::StoreError::NotFound { entity: "call", id: call_id.to_owned() })
    } else {
        Ok(())
    }
}
