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
         ended_at_ms, outcome, agent_id, offer_count, handled_by, taken_over_at_ms, skill_id, \
         priority, transfer_count, transferred_at_ms"
    };
}

/// Columns of `audit_log`, in [`AuditRow`](crate::model::AuditRow) order.
macro_rules! audit_columns {
    () => {
        "id, at_ms, actor_id, call_id, action, mode, detail"
    };
}

/// Columns of `skills`, in [`SkillRow`](crate::model::SkillRow) order.
macro_rules! skill_columns {
    () => {
        "id, name_zh, name_en, hours, max_waiting, max_wait_secs, sort, updated_at_ms"
    };
}

/// Columns of `services`, in [`ServiceRow`](crate::model::ServiceRow) order.
macro_rules! service_columns {
    () => {
        "id, area, skill_id, kind, name_zh, name_en, description_zh, description_en, priority, \
         sort, enabled"
    };
}

/// Columns of `call_wrapups`, in [`WrapUpRow`](crate::model::WrapUpRow) order.
macro_rules! wrapup_columns {
    () => {
        "call_id, agent_id, disposition, notes, at_ms"
    };
}

/// Columns of `messages` that [`MessageRow`](crate::model::MessageRow) reads (by name).
macro_rules! message_columns {
    () => {
        "id, client_id, ticket, kind, service, name, phone, body, voice_file, voice_ms, \
         voice_bytes, call_id, reason, created_at_ms, due_at_ms, state, assigned_to, \
         assigned_at_ms, reply, replied_at_ms, replied_by, closed_at_ms, closed_by, secret_hash"
    };
}

/// Columns of `announcements`, in [`AnnouncementRow`](crate::model::AnnouncementRow) order.
macro_rules! announcement_columns {
    () => {
        "id, title_zh, title_en, title_es, body_zh, body_en, body_es, published_at_ms, \
         expires_at_ms, pinned, created_by, updated_at_ms"
    };
}

/// Columns of `ratings` that [`RatingRow`](crate::model::RatingRow) reads (by name).
macro_rules! rating_columns {
    () => {
        "subject_kind, subject_id, level, comment, created_at_ms, follow_up, handled_at_ms, \
         handled_by, note"
    };
}

/// Implements [`Store`](crate::Store) for a type with a `pool` field of a sqlx pool.
macro_rules! impl_store {
    ($store:ty, $backend:literal) => {
        impl $store {
            /// The first `(target, id)` of `refs` (target, lookup query, id) whose lookup finds
            /// no row: which reference a foreign key violation was about (SQLite does not say).
            async fn first_missing(
                &self,
                refs: &[(&'static str, &'static str, &str)],
            ) -> Result<Option<(&'static str, String)>, $crate::StoreError> {
                for &(target, sql, id) in refs {
                    let found = sqlx::query_scalar::<_, i32>(sql)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    if found.is_none() {
                        return Ok(Some((target, id.to_owned())));
                    }
                }
                Ok(None)
            }

            /// Maps a failed write: a foreign key violation becomes an invalid reference to the
            /// first of `refs` that does not exist (entity `entity`), anything else stays a
            /// database error.
            async fn reference_error(
                &self,
                e: sqlx::Error,
                entity: &'static str,
                refs: &[(&'static str, &'static str, &str)],
            ) -> $crate::StoreError {
                if !matches!(
                    $crate::error::constraint_kind(&e),
                    Some(sqlx::error::ErrorKind::ForeignKeyViolation)
                ) {
                    return $crate::StoreError::Database(e);
                }
                match self.first_missing(refs).await {
                    Ok(Some((target, id))) => {
                        $crate::StoreError::InvalidReference { entity, target, id }
                    }
                    Ok(None) => $crate::StoreError::Database(e),
                    Err(lookup) => lookup,
                }
            }

            /// Why a message transition matched no row: the message does not exist
            /// ([`StoreError::NotFound`]) or is in a state that refuses `action`.
            async fn message_refusal(
                &self,
                id: &str,
                action: &'static str,
            ) -> $crate::StoreError {
                let state = sqlx::query_scalar::<_, String>(
                    "SELECT state FROM messages WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await;
                match state {
                    Err(e) => $crate::StoreError::Database(e),
                    Ok(None) => {
                        $crate::StoreError::NotFound { entity: "message", id: id.to_owned() }
                    }
                    Ok(Some(state)) => match $crate::MessageState::parse(&state) {
                        Some(state) => $crate::StoreError::InvalidTransition {
                            entity: "message",
                            id: id.to_owned(),
                            state: state.as_str(),
                            action,
                        },
                        None => $crate::StoreError::Corrupt {
                            table: "messages",
                            column: "state",
                            value: state,
                        },
                    },
                }
            }

            /// Maps the outcome of a message transition (an `UPDATE … WHERE <allowed states>
            /// RETURNING` the message columns) for `action` by `user_id`.
            async fn message_transition(
                &self,
                updated: Result<Option<$crate::model::MessageRow>, sqlx::Error>,
                id: &str,
                user_id: &str,
                action: &'static str,
            ) -> Result<$crate::Message, $crate::StoreError> {
                let row = updated.map_err(|e| match $crate::error::constraint_kind(&e) {
                    Some(sqlx::error::ErrorKind::ForeignKeyViolation) => {
                        $crate::StoreError::InvalidReference {
                            entity: "message",
                            target: "user",
                            id: user_id.to_owned(),
                        }
                    }
                    _ => $crate::StoreError::Database(e),
                })?;
                match row {
                    Some(row) => $crate::model::message_from_row(row),
                    None => Err(self.message_refusal(id, action).await),
                }
            }

            /// [`Store::replace_away_reasons`](crate::Store::replace_away_reasons) and
            /// [`Store::replace_dispositions`](crate::Store::replace_dispositions).
            async fn replace_codes(
                &self,
                table: &$crate::queries::CodeTable,
                codes: &[$crate::LabelledCode],
            ) -> Result<(), $crate::StoreError> {
                use sqlx::error::ErrorKind;
                use $crate::error::constraint_kind;

                $crate::validate::codes(table.entity, codes)?;
                let mut tx = self.pool.begin().await?;
                // Writes first: SQLite takes the write lock at once (no read-to-write upgrade
                // that could fail with SQLITE_BUSY), Postgres locks the rows.
                for c in codes {
                    let done = sqlx::query(table.upsert)
                        .bind(&c.code)
                        .bind(&c.name_zh)
                        .bind(&c.name_en)
                        .bind(c.sort)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() == 0 {
                        // The upsert skips system rows.
                        return Err($crate::StoreError::Conflict {
                            entity: table.entity,
                            key: "code",
                            value: c.code.clone(),
                        });
                    }
                }
                let existing = sqlx::query_scalar::<_, String>(table.non_system_codes)
                    .fetch_all(&mut *tx)
                    .await?;
                for code in existing {
                    if codes.iter().any(|c| c.code == code) {
                        continue;
                    }
                    sqlx::query(table.delete).bind(&code).execute(&mut *tx).await.map_err(
                        |e| match constraint_kind(&e) {
                            Some(ErrorKind::ForeignKeyViolation) => $crate::StoreError::InUse {
                                entity: table.entity,
                                id: code.clone(),
                                by: table.used_by,
                            },
                            _ => $crate::StoreError::Database(e),
                        },
                    )?;
                }
                tx.commit().await?;
                Ok(())
            }
        }

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

                $crate::validate::call(call)?;
                sqlx::query(
                    "INSERT INTO calls \
                     (id, citizen_session, service, queued_at_ms, skill_id, priority) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&call.id)
                .bind(&call.citizen_session)
                .bind(&call.service)
                .bind(call.queued_at_ms)
                .bind(&call.skill_id)
                .bind(call.priority)
                .execute(&self.pool)
                .await
                .map_err(|e| match constraint_kind(&e) {
                    Some(ErrorKind::UniqueViolation) => $crate::StoreError::Conflict {
                        entity: "call",
                        key: "id",
                        value: call.id.clone(),
                    },
                    Some(ErrorKind::ForeignKeyViolation) => $crate::StoreError::InvalidReference {
                        entity: "call",
                        target: "skill",
                        id: call.skill_id.clone().unwrap_or_default(),
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

            async fn catalogue(&self) -> Result<$crate::Catalogue, $crate::StoreError> {
                use $crate::model;

                // One snapshot for all six reads: SQLite's read transaction is one; Postgres's
                // default (READ COMMITTED) takes a snapshot per statement, so ask for more.
                let mut tx = self.pool.begin().await?;
                if self.backend() == "postgres" {
                    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        .execute(&mut *tx)
                        .await?;
                }
                let mut areas: Vec<$crate::HallArea> = sqlx::query_as::<_, model::AreaRow>(
                    "SELECT id, name_zh, name_en, sort FROM hall_areas",
                )
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(model::area_from_row)
                .collect();
                let mut skills: Vec<$crate::Skill> = sqlx::query_as::<_, model::SkillRow>(concat!(
                    "SELECT ",
                    $crate::queries::skill_columns!(),
                    " FROM skills"
                ))
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(model::skill_from_row)
                .collect::<Result<_, _>>()?;
                let mut services: Vec<$crate::Service> = sqlx::query_as::<_, model::ServiceRow>(concat!(
                    "SELECT ",
                    $crate::queries::service_columns!(),
                    " FROM services"
                ))
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(model::service_from_row)
                .collect::<Result<_, _>>()?;
                let mut away_reasons: Vec<$crate::LabelledCode> = sqlx::query_as::<_, model::CodeRow>(
                    "SELECT code, name_zh, name_en, sort, system FROM away_reasons",
                )
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|row| model::code_from_row("away_reasons", row))
                .collect::<Result<_, _>>()?;
                let mut dispositions: Vec<$crate::LabelledCode> = sqlx::query_as::<_, model::CodeRow>(
                    "SELECT code, name_zh, name_en, sort, system FROM dispositions",
                )
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|row| model::code_from_row("dispositions", row))
                .collect::<Result<_, _>>()?;
                let mut holidays: Vec<$crate::Holiday> = sqlx::query_as::<_, model::HolidayRow>(
                    "SELECT day, kind, name_zh, name_en FROM holidays",
                )
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(model::holiday_from_row)
                .collect::<Result<_, _>>()?;
                tx.commit().await?;
                // Ordered here, not in SQL: byte order of the ids on both backends (Postgres
                // would use the database's collation, which may ignore '_').
                areas.sort_by(|a, b| (a.sort, &a.id).cmp(&(b.sort, &b.id)));
                skills.sort_by(|a, b| (a.sort, &a.id).cmp(&(b.sort, &b.id)));
                services.sort_by(|a, b| (a.sort, &a.id).cmp(&(b.sort, &b.id)));
                away_reasons.sort_by(|a, b| (a.sort, &a.code).cmp(&(b.sort, &b.code)));
                dispositions.sort_by(|a, b| (a.sort, &a.code).cmp(&(b.sort, &b.code)));
                holidays.sort_by(|a, b| a.day.cmp(&b.day));
                Ok($crate::Catalogue { areas, skills, services, away_reasons, dispositions, holidays })
            }

            async fn upsert_skill(&self, skill: &$crate::Skill) -> Result<(), $crate::StoreError> {
                let (max_waiting, max_wait_secs) = $crate::validate::skill(skill)?;
                sqlx::query(concat!(
                    "INSERT INTO skills (",
                    $crate::queries::skill_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (id) DO UPDATE SET name_zh = excluded.name_zh, \
                     name_en = excluded.name_en, hours = excluded.hours, \
                     max_waiting = excluded.max_waiting, max_wait_secs = excluded.max_wait_secs, \
                     sort = excluded.sort, updated_at_ms = excluded.updated_at_ms"
                ))
                .bind(&skill.id)
                .bind(&skill.name_zh)
                .bind(&skill.name_en)
                .bind(&skill.hours)
                .bind(max_waiting)
                .bind(max_wait_secs)
                .bind(skill.sort)
                .bind(skill.updated_at_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_skill(&self, id: &str) -> Result<bool, $crate::StoreError> {
                let deleted =
                    sqlx::query("DELETE FROM skills WHERE id = $1").bind(id).execute(&self.pool).await;
                let e = match deleted {
                    Ok(done) => return Ok(done.rows_affected() > 0),
                    Err(e) => e,
                };
                if !matches!(
                    $crate::error::constraint_kind(&e),
                    Some(sqlx::error::ErrorKind::ForeignKeyViolation)
                ) {
                    return Err($crate::StoreError::Database(e));
                }
                // Which rows still use it: the lookups invert `first_missing` (present = in use).
                let users = [
                    ("services", "SELECT 1 FROM services WHERE skill_id = $1 LIMIT 1"),
                    ("calls", "SELECT 1 FROM calls WHERE skill_id = $1 LIMIT 1"),
                ];
                for (by, sql) in users {
                    let found = sqlx::query_scalar::<_, i32>(sql)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    if found.is_some() {
                        return Err($crate::StoreError::InUse {
                            entity: "skill",
                            id: id.to_owned(),
                            by,
                        });
                    }
                }
                Err($crate::StoreError::Database(e))
            }

            async fn upsert_service(
                &self,
                service: &$crate::Service,
            ) -> Result<(), $crate::StoreError> {
                $crate::validate::service(service)?;
                let done = sqlx::query(concat!(
                    "INSERT INTO services (",
                    $crate::queries::service_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (id) DO UPDATE SET area = excluded.area, \
                     skill_id = excluded.skill_id, kind = excluded.kind, \
                     name_zh = excluded.name_zh, name_en = excluded.name_en, \
                     description_zh = excluded.description_zh, \
                     description_en = excluded.description_en, priority = excluded.priority, \
                     sort = excluded.sort, enabled = excluded.enabled"
                ))
                .bind(&service.id)
                .bind(&service.area)
                .bind(&service.skill_id)
                .bind(service.kind.as_str())
                .bind(&service.name_zh)
                .bind(&service.name_en)
                .bind(&service.description_zh)
                .bind(&service.description_en)
                .bind(service.priority)
                .bind(service.sort)
                .bind(i32::from(service.enabled))
                .execute(&self.pool)
                .await;
                match done {
                    Ok(_) => Ok(()),
                    Err(e) => Err(self
                        .reference_error(
                            e,
                            "service",
                            &[
                                (
                                    "hall area",
                                    "SELECT 1 FROM hall_areas WHERE id = $1",
                                    &service.area,
                                ),
                                ("skill", "SELECT 1 FROM skills WHERE id = $1", &service.skill_id),
                            ],
                        )
                        .await),
                }
            }

            async fn delete_service(&self, id: &str) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query("DELETE FROM services WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn agent_skills(
                &self,
                user_id: &str,
            ) -> Result<Vec<$crate::AgentSkill>, $crate::StoreError> {
                let rows = sqlx::query_as::<_, (String, i32)>(
                    "SELECT skill_id, level FROM agent_skills WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
                let mut skills: Vec<$crate::AgentSkill> = rows
                    .into_iter()
                    .map(|(skill_id, level)| $crate::AgentSkill { skill_id, level })
                    .collect();
                // Byte order on both backends (see `catalogue`).
                skills.sort_by(|a, b| a.skill_id.cmp(&b.skill_id));
                Ok(skills)
            }

            async fn all_agent_skills(&self) -> Result<Vec<$crate::UserSkill>, $crate::StoreError> {
                let rows = sqlx::query_as::<_, $crate::model::UserSkillRow>(
                    "SELECT user_id, skill_id, level FROM agent_skills",
                )
                .fetch_all(&self.pool)
                .await?;
                let mut all: Vec<$crate::UserSkill> =
                    rows.into_iter().map($crate::model::user_skill_from_row).collect();
                all.sort_by(|a, b| (&a.user_id, &a.skill_id).cmp(&(&b.user_id, &b.skill_id)));
                Ok(all)
            }

            async fn set_agent_skills(
                &self,
                user_id: &str,
                skills: &[$crate::AgentSkill],
            ) -> Result<(), $crate::StoreError> {
                $crate::validate::agent_skills(skills)?;
                let mut tx = self.pool.begin().await?;
                // A no-op write on the user row: it tells whether the user exists and holds the
                // row (Postgres) or the database (SQLite) until commit, so concurrent
                // replacements of one user's set run one after the other and the user cannot be
                // deleted halfway.
                let user = sqlx::query("UPDATE users SET username = username WHERE id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                if user.rows_affected() == 0 {
                    return Err($crate::StoreError::InvalidReference {
                        entity: "agent skill",
                        target: "user",
                        id: user_id.to_owned(),
                    });
                }
                sqlx::query("DELETE FROM agent_skills WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                for skill in skills {
                    sqlx::query(
                        "INSERT INTO agent_skills (user_id, skill_id, level) VALUES ($1, $2, $3)",
                    )
                    .bind(user_id)
                    .bind(&skill.skill_id)
                    .bind(skill.level)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match $crate::error::constraint_kind(&e) {
                        // The user row is held: the missing row is the skill.
                        Some(sqlx::error::ErrorKind::ForeignKeyViolation) => {
                            $crate::StoreError::InvalidReference {
                                entity: "agent skill",
                                target: "skill",
                                id: skill.skill_id.clone(),
                            }
                        }
                        _ => $crate::StoreError::Database(e),
                    })?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn users_by_role(
                &self,
                role: voicedesk_protocol::Role,
            ) -> Result<Vec<$crate::UserSummary>, $crate::StoreError> {
                sqlx::query_as::<_, $crate::model::UserSummaryRow>(
                    "SELECT id, username, display_name, role, created_at_ms FROM users \
                     WHERE role = $1",
                )
                .bind(role.as_str())
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map($crate::model::user_summary_from_row)
                .collect::<Result<Vec<_>, _>>()
                .map(|mut users| {
                    // Byte order on both backends (see `catalogue`).
                    users.sort_by(|a, b| a.username.cmp(&b.username));
                    users
                })
            }

            async fn upsert_holiday(
                &self,
                holiday: &$crate::Holiday,
            ) -> Result<(), $crate::StoreError> {
                $crate::validate::holiday(holiday)?;
                sqlx::query(
                    "INSERT INTO holidays (day, kind, name_zh, name_en) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (day) DO UPDATE SET kind = excluded.kind, \
                     name_zh = excluded.name_zh, name_en = excluded.name_en",
                )
                .bind(&holiday.day)
                .bind(holiday.kind.as_str())
                .bind(&holiday.name_zh)
                .bind(&holiday.name_en)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_holiday(&self, day: &str) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query("DELETE FROM holidays WHERE day = $1")
                    .bind(day)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn replace_away_reasons(
                &self,
                reasons: &[$crate::LabelledCode],
            ) -> Result<(), $crate::StoreError> {
                self.replace_codes(&$crate::queries::AWAY_REASONS, reasons).await
            }

            async fn replace_dispositions(
                &self,
                dispositions: &[$crate::LabelledCode],
            ) -> Result<(), $crate::StoreError> {
                self.replace_codes(&$crate::queries::DISPOSITIONS, dispositions).await
            }

            async fn mark_call_transferred(
                &self,
                call_id: &str,
                to_skill: &str,
                at_ms: i64,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE calls SET skill_id = $2, transferred_at_ms = $3, \
                     transfer_count = transfer_count + 1 WHERE id = $1 AND ended_at_ms IS NULL",
                )
                .bind(call_id)
                .bind(to_skill)
                .bind(at_ms)
                .execute(&self.pool)
                .await
                .map_err(|e| match $crate::error::constraint_kind(&e) {
                    Some(sqlx::error::ErrorKind::ForeignKeyViolation) => {
                        $crate::StoreError::InvalidReference {
                            entity: "call",
                            target: "skill",
                            id: to_skill.to_owned(),
                        }
                    }
                    _ => $crate::StoreError::Database(e),
                })?;
                if done.rows_affected() > 0 {
                    return Ok(true);
                }
                // Nothing changed: the call has ended (ended calls never reopen) or there is none.
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

            async fn save_wrapup(
                &self,
                wrapup: &$crate::NewWrapUp,
            ) -> Result<(), $crate::StoreError> {
                $crate::validate::wrapup(wrapup)?;
                let done = sqlx::query(concat!(
                    "INSERT INTO call_wrapups (",
                    $crate::queries::wrapup_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (call_id, agent_id) DO UPDATE SET \
                     disposition = excluded.disposition, notes = excluded.notes, \
                     at_ms = excluded.at_ms"
                ))
                .bind(&wrapup.call_id)
                .bind(&wrapup.agent_id)
                .bind(&wrapup.disposition)
                .bind(&wrapup.notes)
                .bind(wrapup.at_ms)
                .execute(&self.pool)
                .await;
                match done {
                    Ok(_) => Ok(()),
                    Err(e) => Err(self
                        .reference_error(
                            e,
                            "call wrap-up",
                            &[
                                ("call", "SELECT 1 FROM calls WHERE id = $1", &wrapup.call_id),
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

            async fn wrapups(
                &self,
                call_id: &str,
            ) -> Result<Vec<$crate::WrapUp>, $crate::StoreError> {
                let rows = sqlx::query_as::<_, $crate::model::WrapUpRow>(concat!(
                    "SELECT ",
                    $crate::queries::wrapup_columns!(),
                    " FROM call_wrapups WHERE call_id = $1"
                ))
                .bind(call_id)
                .fetch_all(&self.pool)
                .await?;
                let mut wrapups: Vec<$crate::WrapUp> =
                    rows.into_iter().map($crate::model::wrapup_from_row).collect();
                wrapups.sort_by(|a, b| (a.at_ms, &a.agent_id).cmp(&(b.at_ms, &b.agent_id)));
                Ok(wrapups)
            }

            async fn insert_message(
                &self,
                m: &$crate::NewMessage,
            ) -> Result<$crate::InsertedMessage, $crate::StoreError> {
                use sqlx::error::ErrorKind;
                use $crate::error::{constraint_kind, constraint_mentions};

                $crate::validate::message(m)?;
                // A fresh ticket (or id) that clashes with a stored one is drawn again.
                const ATTEMPTS: u32 = 5;
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    let id = uuid::Uuid::new_v4().to_string();
                    let ticket = $crate::ticket::new_ticket();
                    let secret = $crate::ticket::new_secret();
                    let mut tx = self.pool.begin().await?;
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
                    .bind($crate::ticket::secret_hash(&id, &secret))
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
                    let done = match inserted {
                        Ok(done) => done,
                        Err(e) => {
                            drop(tx);
                            match constraint_kind(&e) {
                                Some(ErrorKind::UniqueViolation)
                                    if constraint_mentions(&e, "voice_file") =>
                                {
                                    return Err($crate::StoreError::Conflict {
                                        entity: "message",
                                        key: "voice_file",
                                        value: m.voice_file.clone().unwrap_or_default(),
                                    });
                                }
                                Some(ErrorKind::UniqueViolation) if attempt < ATTEMPTS => continue,
                                Some(ErrorKind::ForeignKeyViolation) => {
                                    return Err($crate::StoreError::InvalidReference {
                                        entity: "message",
                                        target: "call",
                                        id: m.call_id.clone().unwrap_or_default(),
                                    });
                                }
                                _ => return Err($crate::StoreError::Database(e)),
                            }
                        }
                    };
                    if done.rows_affected() == 1 {
                        tx.commit().await?;
                        let message = $crate::Message {
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
                            state: $crate::MessageState::New,
                            assigned_to: None,
                            assigned_at_ms: None,
                            reply: None,
                            replied_at_ms: None,
                            replied_by: None,
                            closed_at_ms: None,
                            closed_by: None,
                        };
                        return Ok($crate::InsertedMessage { message, secret, created: true });
                    }
                    // The client id is taken: a retry of the same message, or a clash.
                    let row = sqlx::query_as::<_, $crate::model::MessageRow>(concat!(
                        "SELECT ",
                        $crate::queries::message_columns!(),
                        " FROM messages WHERE client_id = $1"
                    ))
                    .bind(&m.client_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    let stored = $crate::model::message_from_row(row)?;
                    let (stored_citizen,): (Option<String>,) =
                        sqlx::query_as("SELECT citizen_id FROM messages WHERE id = $1")
                            .bind(&stored.id)
                            .fetch_one(&mut *tx)
                            .await?;
                    if !m.same_content(&stored) || stored_citizen != m.citizen_id {
                        return Err($crate::StoreError::Conflict {
                            entity: "message",
                            key: "client_id",
                            value: m.client_id.clone(),
                        });
                    }
                    sqlx::query("UPDATE messages SET secret_hash = $2 WHERE id = $1")
                        .bind(&stored.id)
                        .bind($crate::ticket::secret_hash(&stored.id, &secret))
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    return Ok($crate::InsertedMessage { message: stored, secret, created: false });
                }
            }

            async fn citizen_message_count(
                &self,
                citizen_id: &str,
                since_ms: i64,
                except_client_id: &str,
            ) -> Result<u64, $crate::StoreError> {
                let (n,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM messages WHERE citizen_id = $1 AND created_at_ms >= $2 \
                     AND client_id <> $3",
                )
                .bind(citizen_id)
                .bind(since_ms)
                .bind(except_client_id)
                .fetch_one(&self.pool)
                .await?;
                Ok(n.max(0) as u64)
            }

            async fn message_by_ticket(
                &self,
                ticket: &str,
            ) -> Result<Option<$crate::Message>, $crate::StoreError> {
                let Some(ticket) = $crate::normalize_ticket(ticket) else { return Ok(None) };
                sqlx::query_as::<_, $crate::model::MessageRow>(concat!(
                    "SELECT ",
                    $crate::queries::message_columns!(),
                    " FROM messages WHERE ticket = $1"
                ))
                .bind(ticket)
                .fetch_optional(&self.pool)
                .await?
                .map($crate::model::message_from_row)
                .transpose()
            }

            async fn verify_ticket(
                &self,
                ticket: &str,
                secret: &str,
            ) -> Result<Option<$crate::Message>, $crate::StoreError> {
                let row = match $crate::normalize_ticket(ticket) {
                    Some(ticket) => {
                        sqlx::query_as::<_, $crate::model::MessageRow>(concat!(
                            "SELECT ",
                            $crate::queries::message_columns!(),
                            " FROM messages WHERE ticket = $1"
                        ))
                        .bind(ticket)
                        .fetch_optional(&self.pool)
                        .await?
                    }
                    None => None,
                };
                let Some(row) = row else {
                    // The same hashing for an unknown ticket: timing tells nothing.
                    let _ = $crate::ticket::secret_matches("", secret, &"0".repeat(64));
                    return Ok(None);
                };
                if $crate::ticket::secret_matches(row.id(), secret, &row.secret_hash) {
                    $crate::model::message_from_row(row).map(Some)
                } else {
                    Ok(None)
                }
            }

            async fn message(
                &self,
                id: &str,
            ) -> Result<Option<$crate::Message>, $crate::StoreError> {
                sqlx::query_as::<_, $crate::model::MessageRow>(concat!(
                    "SELECT ",
                    $crate::queries::message_columns!(),
                    " FROM messages WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .map($crate::model::message_from_row)
                .transpose()
            }

            async fn messages(
                &self,
                filter: &$crate::MessageFilter,
            ) -> Result<Vec<$crate::Message>, $crate::StoreError> {
                let limit = filter.limit.min($crate::MessageFilter::MAX_LIMIT);
                sqlx::query_as::<_, $crate::model::MessageRow>(concat!(
                    "SELECT ",
                    $crate::queries::message_columns!(),
                    " FROM messages WHERE ($1 IS NULL OR state = $1) \
                     AND ($2 IS NULL OR (state IN ('new', 'assigned') AND due_at_ms < $2)) \
                     ORDER BY CASE WHEN state IN ('new', 'assigned') THEN 0 ELSE 1 END, \
                     CASE WHEN state IN ('new', 'assigned') THEN due_at_ms \
                     ELSE -created_at_ms END, id LIMIT $3"
                ))
                .bind(filter.state.map($crate::MessageState::as_str))
                .bind(filter.overdue_at_ms)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map($crate::model::message_from_row)
                .collect()
            }

            async fn assign_message(
                &self,
                id: &str,
                user_id: &str,
                at_ms: i64,
            ) -> Result<$crate::Message, $crate::StoreError> {
                let updated = sqlx::query_as::<_, $crate::model::MessageRow>(concat!(
                    "UPDATE messages SET state = 'assigned', assigned_to = $2, \
                     assigned_at_ms = $3 WHERE id = $1 AND state IN ('new', 'assigned') \
                     RETURNING ",
                    $crate::queries::message_columns!()
                ))
                .bind(id)
                .bind(user_id)
                .bind(at_ms)
                .fetch_optional(&self.pool)
                .await;
                self.message_transition(updated, id, user_id, "assign").await
            }

            async fn reply_message(
                &self,
                id: &str,
                user_id: &str,
                reply: &str,
                at_ms: i64,
            ) -> Result<$crate::Message, $crate::StoreError> {
                $crate::validate::reply(reply)?;
                let updated = sqlx::query_as::<_, $crate::model::MessageRow>(concat!(
                    "UPDATE messages SET state = 'answered', reply = $4, replied_at_ms = $3, \
                     replied_by = $2, assigned_to = COALESCE(assigned_to, $2), \
                     assigned_at_ms = COALESCE(assigned_at_ms, $3) \
                     WHERE id = $1 AND state IN ('new', 'assigned') RETURNING ",
                    $crate::queries::message_columns!()
                ))
                .bind(id)
                .bind(user_id)
                .bind(at_ms)
                .bind(reply)
                .fetch_optional(&self.pool)
                .await;
                self.message_transition(updated, id, user_id, "reply").await
            }

            async fn close_message(
                &self,
                id: &str,
                user_id: &str,
                at_ms: i64,
            ) -> Result<$crate::Message, $crate::StoreError> {
                let updated = sqlx::query_as::<_, $crate::model::MessageRow>(concat!(
                    "UPDATE messages SET state = 'closed', closed_at_ms = $3, closed_by = $2 \
                     WHERE id = $1 AND state <> 'closed' RETURNING ",
                    $crate::queries::message_columns!()
                ))
                .bind(id)
                .bind(user_id)
                .bind(at_ms)
                .fetch_optional(&self.pool)
                .await;
                self.message_transition(updated, id, user_id, "close").await
            }

            async fn kb_articles(&self) -> Result<Vec<(String, String)>, $crate::StoreError> {
                let mut rows = sqlx::query_as::<_, (String, String)>(
                    "SELECT id, article_json FROM kb_articles",
                )
                .fetch_all(&self.pool)
                .await?;
                // Byte order on both backends (a Postgres collation may order `_` differently).
                rows.sort();
                Ok(rows)
            }

            async fn upsert_kb_article(
                &self,
                id: &str,
                json: &str,
                at_ms: i64,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO kb_articles (id, article_json, updated_at_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (id) DO UPDATE SET article_json = excluded.article_json, \
                     updated_at_ms = excluded.updated_at_ms",
                )
                .bind(id)
                .bind(json)
                .bind(at_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_kb_article(&self, id: &str) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query("DELETE FROM kb_articles WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn current_announcements(
                &self,
                now_ms: i64,
            ) -> Result<Vec<$crate::Announcement>, $crate::StoreError> {
                let mut rows = sqlx::query_as::<_, $crate::model::AnnouncementRow>(concat!(
                    "SELECT ",
                    $crate::queries::announcement_columns!(),
                    " FROM announcements WHERE published_at_ms <= $1 \
                     AND (expires_at_ms IS NULL OR expires_at_ms > $1)"
                ))
                .bind(now_ms)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map($crate::model::announcement_from_row)
                .collect::<Result<Vec<_>, _>>()?;
                // Sorted here: the same order on both backends whatever their collation.
                rows.sort_by($crate::Announcement::list_order);
                Ok(rows)
            }

            async fn announcements(
                &self,
            ) -> Result<Vec<$crate::Announcement>, $crate::StoreError> {
                let mut rows = sqlx::query_as::<_, $crate::model::AnnouncementRow>(concat!(
                    "SELECT ",
                    $crate::queries::announcement_columns!(),
                    " FROM announcements"
                ))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map($crate::model::announcement_from_row)
                .collect::<Result<Vec<_>, _>>()?;
                rows.sort_by($crate::Announcement::list_order);
                Ok(rows)
            }

            async fn announcement(
                &self,
                id: &str,
            ) -> Result<Option<$crate::Announcement>, $crate::StoreError> {
                sqlx::query_as::<_, $crate::model::AnnouncementRow>(concat!(
                    "SELECT ",
                    $crate::queries::announcement_columns!(),
                    " FROM announcements WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .map($crate::model::announcement_from_row)
                .transpose()
            }

            async fn insert_announcement(
                &self,
                a: &$crate::Announcement,
            ) -> Result<(), $crate::StoreError> {
                use sqlx::error::ErrorKind;
                use $crate::error::constraint_kind;

                $crate::validate::announcement(a)?;
                sqlx::query(concat!(
                    "INSERT INTO announcements (",
                    $crate::queries::announcement_columns!(),
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
                .execute(&self.pool)
                .await
                .map_err(|e| match constraint_kind(&e) {
                    Some(ErrorKind::UniqueViolation) => $crate::StoreError::Conflict {
                        entity: "announcement",
                        key: "id",
                        value: a.id.clone(),
                    },
                    _ => $crate::StoreError::Database(e),
                })?;
                Ok(())
            }

            async fn update_announcement(
                &self,
                a: &$crate::Announcement,
            ) -> Result<$crate::Announcement, $crate::StoreError> {
                $crate::validate::announcement(a)?;
                sqlx::query_as::<_, $crate::model::AnnouncementRow>(concat!(
                    "UPDATE announcements SET title_zh = $2, title_en = $3, title_es = $4, \
                     body_zh = $5, body_en = $6, body_es = $7, published_at_ms = $8, \
                     expires_at_ms = $9, pinned = $10, updated_at_ms = $11 WHERE id = $1 \
                     RETURNING ",
                    $crate::queries::announcement_columns!()
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
                .fetch_optional(&self.pool)
                .await?
                .map($crate::model::announcement_from_row)
                .transpose()?
                .ok_or_else(|| $crate::StoreError::NotFound {
                    entity: "announcement",
                    id: a.id.clone(),
                })
            }

            async fn delete_announcement(&self, id: &str) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query("DELETE FROM announcements WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn voice_files(&self) -> Result<Vec<String>, $crate::StoreError> {
                let mut files = sqlx::query_scalar::<_, String>(
                    "SELECT voice_file FROM messages WHERE voice_file IS NOT NULL",
                )
                .fetch_all(&self.pool)
                .await?;
                files.sort();
                Ok(files)
            }

            async fn insert_rating(
                &self,
                rating: &$crate::NewRating,
            ) -> Result<$crate::Rating, $crate::StoreError> {
                use sqlx::error::ErrorKind;

                $crate::validate::rating(rating)?;
                let (target, lookup) = match rating.subject_kind {
                    $crate::RatingSubject::Call => ("call", "SELECT 1 FROM calls WHERE id = $1"),
                    $crate::RatingSubject::Message => {
                        ("message", "SELECT 1 FROM messages WHERE id = $1")
                    }
                };
                // Calls and messages are never deleted: the subject cannot vanish after this.
                if let Some((target, id)) =
                    self.first_missing(&[(target, lookup, &rating.subject_id)]).await?
                {
                    return Err($crate::StoreError::InvalidReference {
                        entity: "rating",
                        target,
                        id,
                    });
                }
                let follow_up = (rating.level <= $crate::NewRating::FOLLOW_UP_MAX_LEVEL)
                    .then_some($crate::FollowUp::Open);
                sqlx::query(
                    "INSERT INTO ratings (subject_kind, subject_id, level, comment, \
                     created_at_ms, follow_up) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(rating.subject_kind.as_str())
                .bind(&rating.subject_id)
                .bind(rating.level)
                .bind(&rating.comment)
                .bind(rating.created_at_ms)
                .bind(follow_up.map($crate::FollowUp::as_str))
                .execute(&self.pool)
                .await
                .map_err(|e| match $crate::error::constraint_kind(&e) {
                    Some(ErrorKind::UniqueViolation) => $crate::StoreError::Conflict {
                        entity: "rating",
                        key: "subject",
                        value: format!(
                            "{}:{}",
                            rating.subject_kind.as_str(),
                            rating.subject_id
                        ),
                    },
                    _ => $crate::StoreError::Database(e),
                })?;
                Ok($crate::Rating {
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

            async fn rating(
                &self,
                kind: $crate::RatingSubject,
                id: &str,
            ) -> Result<Option<$crate::Rating>, $crate::StoreError> {
                sqlx::query_as::<_, $crate::model::RatingRow>(concat!(
                    "SELECT ",
                    $crate::queries::rating_columns!(),
                    " FROM ratings WHERE subject_kind = $1 AND subject_id = $2"
                ))
                .bind(kind.as_str())
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .map($crate::model::rating_from_row)
                .transpose()
            }

            async fn follow_ups(
                &self,
                open_only: bool,
            ) -> Result<Vec<$crate::Rating>, $crate::StoreError> {
                sqlx::query_as::<_, $crate::model::RatingRow>(concat!(
                    "SELECT ",
                    $crate::queries::rating_columns!(),
                    " FROM ratings WHERE follow_up = 'open' \
                     OR ($1 = 0 AND follow_up = 'handled') \
                     ORDER BY CASE WHEN follow_up = 'open' THEN 0 ELSE 1 END, \
                     CASE WHEN follow_up = 'open' THEN created_at_ms ELSE -handled_at_ms END, \
                     subject_kind, subject_id LIMIT $2"
                ))
                .bind(i32::from(open_only))
                .bind(i64::from($crate::MessageFilter::MAX_LIMIT))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map($crate::model::rating_from_row)
                .collect()
            }

            async fn mark_follow_up_handled(
                &self,
                kind: $crate::RatingSubject,
                id: &str,
                user_id: &str,
                note: &str,
                at_ms: i64,
            ) -> Result<$crate::Rating, $crate::StoreError> {
                $crate::validate::follow_up_note(note)?;
                let row = sqlx::query_as::<_, $crate::model::RatingRow>(concat!(
                    "UPDATE ratings SET follow_up = 'handled', handled_at_ms = $4, \
                     handled_by = $3, note = $5 \
                     WHERE subject_kind = $1 AND subject_id = $2 AND follow_up = 'open' \
                     RETURNING ",
                    $crate::queries::rating_columns!()
                ))
                .bind(kind.as_str())
                .bind(id)
                .bind(user_id)
                .bind(at_ms)
                .bind(note)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| match $crate::error::constraint_kind(&e) {
                    Some(sqlx::error::ErrorKind::ForeignKeyViolation) => {
                        $crate::StoreError::InvalidReference {
                            entity: "rating",
                            target: "user",
                            id: user_id.to_owned(),
                        }
                    }
                    _ => $crate::StoreError::Database(e),
                })?;
                if let Some(row) = row {
                    return $crate::model::rating_from_row(row);
                }
                let state = sqlx::query_scalar::<_, Option<String>>(
                    "SELECT follow_up FROM ratings WHERE subject_kind = $1 AND subject_id = $2",
                )
                .bind(kind.as_str())
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                let subject = format!("{}:{id}", kind.as_str());
                Err(match state {
                    None => $crate::StoreError::NotFound { entity: "rating", id: subject },
                    Some(state) => $crate::StoreError::InvalidTransition {
                        entity: "rating",
                        id: subject,
                        state: if state.is_some() { "handled" } else { "without follow-up" },
                        action: "mark handled",
                    },
                })
            }

            async fn append_message_audit(
                &self,
                entry: &$crate::NewMessageAudit,
            ) -> Result<i64, $crate::StoreError> {
                let inserted = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO message_audit (at_ms, actor_id, message_id, action) \
                     VALUES ($1, $2, $3, 'recording_access') RETURNING id",
                )
                .bind(entry.at_ms)
                .bind(&entry.actor_id)
                .bind(&entry.message_id)
                .fetch_one(&self.pool)
                .await;
                let e = match inserted {
                    Ok(id) => return Ok(id),
                    Err(e) => e,
                };
                if !matches!(
                    $crate::error::constraint_kind(&e),
                    Some(sqlx::error::ErrorKind::ForeignKeyViolation)
                ) {
                    return Err($crate::StoreError::Database(e));
                }
                // SQLite does not say which reference failed: look both up.
                let user = sqlx::query_scalar::<_, String>("SELECT id FROM users WHERE id = $1")
                    .bind(&entry.actor_id)
                    .fetch_optional(&self.pool)
                    .await?;
                let (target, id) = if user.is_none() {
                    ("user", entry.actor_id.clone())
                } else {
                    ("message", entry.message_id.clone())
                };
                Err($crate::StoreError::InvalidReference { entity: "message audit", target, id })
            }

            async fn message_audit(
                &self,
                message_id: &str,
            ) -> Result<Vec<$crate::MessageAuditEntry>, $crate::StoreError> {
                let rows = sqlx::query_as::<_, (i64, i64, String, String)>(
                    "SELECT id, at_ms, actor_id, message_id FROM message_audit \
                     WHERE message_id = $1 ORDER BY id",
                )
                .bind(message_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, at_ms, actor_id, message_id)| $crate::MessageAuditEntry {
                        id,
                        at_ms,
                        actor_id,
                        message_id,
                    })
                    .collect())
            }
        }
    };
}

pub(crate) use {
    announcement_columns, audit_columns, call_columns, impl_store, message_columns, rating_columns,
    service_columns, session_columns, skill_columns, user_columns, wrapup_columns,
};

/// The statements of one table of labelled codes (`away_reasons`, `dispositions`).
pub(crate) struct CodeTable {
    /// The kind of row, for errors: "away reason", "disposition".
    pub(crate) entity: &'static str,
    /// Creates or updates a non-system code ($1 code, $2 name_zh, $3 name_en, $4 sort); touches
    /// no row when the code is a system one.
    pub(crate) upsert: &'static str,
    /// The codes of every non-system row.
    pub(crate) non_system_codes: &'static str,
    /// Deletes a non-system code ($1).
    pub(crate) delete: &'static str,
    /// What refers to the rows, for [`StoreError::InUse`](crate::StoreError::InUse).
    pub(crate) used_by: &'static str,
}

pub(crate) const AWAY_REASONS: CodeTable = CodeTable {
    entity: "away reason",
    upsert: "INSERT INTO away_reasons (code, name_zh, name_en, sort, system) \
             VALUES ($1, $2, $3, $4, 0) ON CONFLICT (code) DO UPDATE SET \
             name_zh = excluded.name_zh, name_en = excluded.name_en, sort = excluded.sort \
             WHERE away_reasons.system = 0",
    non_system_codes: "SELECT code FROM away_reasons WHERE system = 0",
    delete: "DELETE FROM away_reasons WHERE code = $1 AND system = 0",
    // No table refers to away reasons (agents' presence is not stored): never reported.
    used_by: "agents",
};

pub(crate) const DISPOSITIONS: CodeTable = CodeTable {
    entity: "disposition",
    upsert: "INSERT INTO dispositions (code, name_zh, name_en, sort, system) \
             VALUES ($1, $2, $3, $4, 0) ON CONFLICT (code) DO UPDATE SET \
             name_zh = excluded.name_zh, name_en = excluded.name_en, sort = excluded.sort \
             WHERE dispositions.system = 0",
    non_system_codes: "SELECT code FROM dispositions WHERE system = 0",
    delete: "DELETE FROM dispositions WHERE code = $1 AND system = 0",
    used_by: "call wrap-ups",
};

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
