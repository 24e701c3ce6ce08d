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
         ended_at_ms, outcome, agent_id, offer_count, handled_by, taken_over_at_ms"
    };
}

/// Columns of `audit_log`, in [`AuditRow`](crate::model::AuditRow) order.
macro_rules! audit_columns {
    () => {
        "id, at_ms, actor_id, call_id, action, mode, detail"
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

            async fn mark_call_taken_over(
                &self,
                call_id: &str,
                staff_id: &str,
                at_ms: i64,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE calls SET handled_by = $2, taken_over_at_ms = $3 \
                     WHERE id = $1 AND ended_at_ms IS NULL",
                )
                .bind(call_id)
                .bind(staff_id)
                .bind(at_ms)
                .execute(&self.pool)
                .await
                .map_err(|e| $crate::queries::user_reference_error(e, "staff", staff_id))?;
                if done.rows_affected() > 0 {
                    return Ok(());
                }
                // Nothing changed: the call has ended (ended calls never reopen, so this answer
                // cannot go stale) or did not exist when the update ran (an open call found now
                // was inserted since: still "not found" for this update).
                let ended_at_ms = sqlx::query_scalar::<_, Option<i64>>(
                    "SELECT ended_at_ms FROM calls WHERE id = $1",
                )
                .bind(call_id)
                .fetch_optional(&self.pool)
                .await?;
                match ended_at_ms {
                    Some(Some(_)) => Err($crate::StoreError::CallEnded { id: call_id.to_owned() }),
                    _ => {
                        Err($crate::StoreError::NotFound { entity: "call", id: call_id.to_owned() })
                    }
                }
            }

            async fn call_counts_since(
                &self,
                since_ms: i64,
                threshold_ms: i64,
            ) -> Result<$crate::CallCounts, $crate::StoreError> {
                // One pass over the calls_queued_at_ms range. COUNT skips NULLs, so a CASE without
                // ELSE counts the rows its condition holds for; for an unanswered call the
                // difference is NULL and the condition never holds.
                let row = sqlx::query_as::<_, $crate::model::CallCountsRow>(
                    "SELECT COUNT(answered_at_ms), \
                     COUNT(CASE WHEN outcome = $3 THEN 1 END), \
                     COUNT(CASE WHEN answered_at_ms - queued_at_ms <= $2 THEN 1 END) \
                     FROM calls WHERE queued_at_ms >= $1",
                )
                .bind(since_ms)
                .bind(threshold_ms)
                .bind(voicedesk_protocol::EndReason::Abandoned.as_str())
                .fetch_one(&self.pool)
                .await?;
                $crate::model::call_counts_from_row(row)
            }

            async fn append_audit(
                &self,
                entry: &$crate::NewAuditEntry,
            ) -> Result<i64, $crate::StoreError> {
                use sqlx::error::ErrorKind;
                use $crate::error::constraint_kind;

                let inserted = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO audit_log (at_ms, actor_id, call_id, action, mode, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(entry.at_ms)
                .bind(&entry.actor_id)
                .bind(&entry.call_id)
                .bind(entry.action.as_str())
                .bind(entry.mode.map(|m| m.as_str()))
                .bind(&entry.detail)
                .fetch_one(&self.pool)
                .await;
                let e = match inserted {
                    Ok(id) => return Ok(id),
                    Err(e) => e,
                };
                if !matches!(constraint_kind(&e), Some(ErrorKind::ForeignKeyViolation)) {
                    return Err($crate::StoreError::Database(e));
                }
                // SQLite does not say which reference failed: look both up.
                let missing = [
                    ("user", "SELECT 1 FROM users WHERE id = $1", &entry.actor_id),
                    ("call", "SELECT 1 FROM calls WHERE id = $1", &entry.call_id),
                ];
                for (target, sql, id) in missing {
                    let found = sqlx::query_scalar::<_, i32>(sql)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    if found.is_none() {
                        return Err($crate::StoreError::InvalidReference {
                            entity: "audit entry",
                            target,
                            id: id.clone(),
                        });
                    }
                }
                Err($crate::StoreError::Database(e))
            }

            async fn audit_entries(
                &self,
                filter: &$crate::AuditFilter,
            ) -> Result<Vec<$crate::AuditEntry>, $crate::StoreError> {
                // One static statement per filter shape (rather than `$1 IS NULL OR …`), so each
                // plan can use its index: (call_id, id), (actor_id, id) or the primary key.
                let sql = match (&filter.call_id, &filter.actor_id) {
                    (None, None) => concat!(
                        "SELECT ",
                        $crate::queries::audit_columns!(),
                        " FROM audit_log ORDER BY id DESC LIMIT $1"
                    ),
                    (Some(_), None) => concat!(
                        "SELECT ",
                        $crate::queries::audit_columns!(),
                        " FROM audit_log WHERE call_id = $1 ORDER BY id DESC LIMIT $2"
                    ),
                    (None, Some(_)) => concat!(
                        "SELECT ",
                        $crate::queries::audit_columns!(),
                        " FROM audit_log WHERE actor_id = $1 ORDER BY id DESC LIMIT $2"
                    ),
                    (Some(_), Some(_)) => concat!(
                        "SELECT ",
                        $crate::queries::audit_columns!(),
                        " FROM audit_log WHERE call_id = $1 AND actor_id = $2 \
                         ORDER BY id DESC LIMIT $3"
                    ),
                };
                let mut query = sqlx::query_as::<_, $crate::model::AuditRow>(sql);
                if let Some(call_id) = &filter.call_id {
                    query = query.bind(call_id);
                }
                if let Some(actor_id) = &filter.actor_id {
                    query = query.bind(actor_id);
                }
                let limit = i64::from(filter.limit.min($crate::AuditFilter::MAX_LIMIT));
                query
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map($crate::model::audit_entry_from_row)
                    .collect()
            }
        }
    };
}

pub(crate) use {audit_columns, call_columns, impl_store, session_columns, user_columns};

/// Maps a failed update that sets `calls.agent_id`: an unknown agent is an invalid reference.
pub(crate) fn agent_reference_error(e: sqlx::Error, agent_id: &str) -> crate::StoreError {
    user_reference_error(e, "agent", agent_id)
}

/// Maps a failed update that sets a user column of `calls` (`agent_id`, `handled_by`): an
/// unknown user is an invalid reference to a `target` ("agent", "staff").
pub(crate) fn user_reference_error(
    e: sqlx::Error,
    target: &'static str,
    user_id: &str,
) -> crate::StoreError {
    match crate::error::constraint_kind(&e) {
        Some(sqlx::error::ErrorKind::ForeignKeyViolation) => {
            crate::StoreError::InvalidReference { entity: "call", target, id: user_id.to_owned() }
        }
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
