//! Call records: table `calls`, one row per call from queueing to hang-up.

use crate::backend::{
    Backend, Db, is_foreign_key_violation, is_unique_violation, on_pool, value_rows,
};
use sqlx::AssertSqlSafe;
use std::collections::BTreeMap;

use crate::model::{self, CallRow};
use crate::{CallCounts, CallRecord, NewCall, StoreError, validate};

/// Columns of `calls`, in [`CallRow`] order.
macro_rules! call_columns {
    () => {
        "id, citizen_session, service, queued_at_ms, offered_at_ms, answered_at_ms, \
         ended_at_ms, outcome, agent_id, offer_count, handled_by, taken_over_at_ms, skill_id, \
         priority, transfer_count, transferred_at_ms"
    };
}
pub(crate) use call_columns;

/// The writes of a call's record, for `rows` calls at once (one statement; `rows` is 1 for the
/// single-write methods below, more for the group commit, `batch.rs`). Placeholders are numbered
/// row by row in the order of each function's documented tuple.
///
/// `(id, citizen_session, service, queued_at_ms, skill_id, priority)`.
pub(crate) fn insert_calls(rows: usize) -> String {
    format!(
        "INSERT INTO calls (id, citizen_session, service, queued_at_ms, skill_id, priority) \
         VALUES {}",
        value_rows(rows, 6)
    )
}

/// An update of calls from tuples `(id, column2, column3)` (a `VALUES` list is named
/// `column1`, `column2`, … on both backends), only of calls still open when `open_only`.
fn update_calls(set: &str, rows: usize, open_only: bool) -> String {
    format!(
        "UPDATE calls SET {set} FROM (VALUES {}) AS v WHERE calls.id = v.column1{}",
        value_rows(rows, 3),
        if open_only { " AND calls.ended_at_ms IS NULL" } else { "" }
    )
}

/// `(id, agent_id, at_ms)`: the first offer's time is kept, the offers are counted.
pub(crate) fn mark_offered(rows: usize) -> String {
    update_calls(
        "offered_at_ms = COALESCE(calls.offered_at_ms, v.column3), agent_id = v.column2, \
         offer_count = calls.offer_count + 1",
        rows,
        false,
    )
}

/// `(id, agent_id, at_ms)`.
pub(crate) fn mark_answered(rows: usize) -> String {
    update_calls("answered_at_ms = v.column3, agent_id = v.column2", rows, false)
}

/// `(id, at_ms, outcome)`: only a call that has not ended.
pub(crate) fn mark_ended(rows: usize) -> String {
    update_calls("ended_at_ms = v.column2, outcome = v.column3", rows, true)
}

/// `(id, staff_id, at_ms)`: only a call that has not ended.
pub(crate) fn mark_taken_over(rows: usize) -> String {
    update_calls("handled_by = v.column2, taken_over_at_ms = v.column3", rows, true)
}

/// `(id, to_skill, at_ms)`: only a call that has not ended.
pub(crate) fn mark_transferred(rows: usize) -> String {
    update_calls(
        "skill_id = v.column2, transferred_at_ms = v.column3, \
         transfer_count = calls.transfer_count + 1",
        rows,
        true,
    )
}

/// The life of each call. Every write is committed before the call returns.
#[async_trait::async_trait]
pub trait CallStore: Send + Sync {
    /// Records a newly queued call. A duplicate id is [`StoreError::Conflict`]; a `skill_id`
    /// that does not exist is [`StoreError::InvalidReference`] (entity `"call"`, target
    /// `"skill"`); a priority outside 0..=9 is [`StoreError::InvalidValue`].
    async fn insert_call(&self, call: &NewCall) -> Result<(), StoreError>;

    /// Sets offered_at_ms (first offer only; later offers keep the first time), agent_id to this
    /// agent, offer_count += 1. Unknown call: [`StoreError::NotFound`]; unknown agent:
    /// [`StoreError::InvalidReference`].
    async fn mark_call_offered(
        &self,
        call_id: &str,
        agent_id: &str,
        at_ms: i64,
    ) -> Result<(), StoreError>;

    /// Sets answered_at_ms and agent_id. Unknown call: [`StoreError::NotFound`]; unknown agent:
    /// [`StoreError::InvalidReference`].
    async fn mark_call_answered(
        &self,
        call_id: &str,
        agent_id: &str,
        at_ms: i64,
    ) -> Result<(), StoreError>;

    /// Sets ended_at_ms and outcome (an `EndReason::as_str`) only if the call is still open
    /// (ended_at_ms IS NULL); returns whether it changed anything. Unknown call:
    /// [`StoreError::NotFound`].
    async fn mark_call_ended(
        &self,
        call_id: &str,
        at_ms: i64,
        outcome: &str,
    ) -> Result<bool, StoreError>;

    /// The call record, if any.
    async fn call(&self, call_id: &str) -> Result<Option<CallRecord>, StoreError>;

    /// Ends every open call (crash recovery at start-up, and shutdown); returns how many.
    async fn end_open_calls(&self, at_ms: i64, outcome: &str) -> Result<u64, StoreError>;

    /// How many call records exist.
    async fn count_calls(&self) -> Result<u64, StoreError>;

    /// Records that `staff_id` took the call over at `at_ms`: sets `handled_by` and
    /// `taken_over_at_ms` (a later take over of the same call replaces both; `agent_id` keeps the
    /// agent who answered). Unknown call: [`StoreError::NotFound`]; a call that has already
    /// ended: [`StoreError::CallEnded`], nothing changed; unknown staff member:
    /// [`StoreError::InvalidReference`].
    async fn mark_call_taken_over(
        &self,
        call_id: &str,
        staff_id: &str,
        at_ms: i64,
    ) -> Result<(), StoreError>;

    /// Moves an open call to the queue `to_skill`: sets `skill_id`, `transferred_at_ms` and
    /// `transfer_count += 1`; returns whether it changed anything (false: the call has already
    /// ended). Unknown call: [`StoreError::NotFound`]; unknown skill:
    /// [`StoreError::InvalidReference`] (entity `"call"`, target `"skill"`), nothing changed.
    async fn mark_call_transferred(
        &self,
        call_id: &str,
        to_skill: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Wallboard figures by queue (skill id) over the calls queued at or after `since_ms`: how
    /// many were answered (`answered_at_ms` set), abandoned (`outcome` = `"abandoned"`) and
    /// answered within their queue's service-level time (`skills.service_level_secs`, else
    /// `default_threshold_ms`), counted from the last transfer when the call was answered after
    /// one, as the reports count it. Queues without such calls are left out.
    async fn call_counts_by_queue_since(
        &self,
        since_ms: i64,
        default_threshold_ms: i64,
    ) -> Result<BTreeMap<String, CallCounts>, StoreError>;
}

#[async_trait::async_trait]
impl<S: Backend> CallStore for S {
    async fn insert_call(&self, call: &NewCall) -> Result<(), StoreError> {
        validate::call(call)?;
        on_pool!(self.db(), |pool| {
            sqlx::query(AssertSqlSafe(insert_calls(1)))
                .bind(&call.id)
                .bind(&call.citizen_session)
                .bind(&call.service)
                .bind(call.queued_at_ms)
                .bind(&call.skill_id)
                .bind(call.priority)
                .execute(pool)
                .await
                .map(drop)
        })
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict { entity: "call", key: "id", value: call.id.clone() }
            } else if is_foreign_key_violation(&e) {
                StoreError::InvalidReference {
                    entity: "call",
                    target: "skill",
                    id: call.skill_id.clone().unwrap_or_default(),
                }
            } else {
                StoreError::Database(e)
            }
        })
    }

    async fn mark_call_offered(
        &self,
        call_id: &str,
        agent_id: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query(AssertSqlSafe(mark_offered(1)))
                .bind(call_id)
                .bind(agent_id)
                .bind(at_ms)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(|e| user_reference_error(e, "agent", agent_id))?;
        exactly_one_call(rows, call_id)
    }

    async fn mark_call_answered(
        &self,
        call_id: &str,
        agent_id: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query(AssertSqlSafe(mark_answered(1)))
                .bind(call_id)
                .bind(agent_id)
                .bind(at_ms)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(|e| user_reference_error(e, "agent", agent_id))?;
        exactly_one_call(rows, call_id)
    }

    async fn mark_call_ended(
        &self,
        call_id: &str,
        at_ms: i64,
        outcome: &str,
    ) -> Result<bool, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query(AssertSqlSafe(mark_ended(1)))
                .bind(call_id)
                .bind(at_ms)
                .bind(outcome)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        if rows > 0 {
            return Ok(true);
        }
        // Nothing changed: either the call already ended (calls are never deleted, so this
        // answer cannot go stale) or there is no such call.
        if call_exists(self.db(), call_id).await? {
            Ok(false)
        } else {
            Err(StoreError::NotFound { entity: "call", id: call_id.to_owned() })
        }
    }

    async fn call(&self, call_id: &str) -> Result<Option<CallRecord>, StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, CallRow>(concat!(
                "SELECT ",
                call_columns!(),
                " FROM calls WHERE id = $1"
            ))
            .bind(call_id)
            .fetch_optional(pool)
            .await
        })?
        .map(model::call_from_row)
        .transpose()
    }

    async fn end_open_calls(&self, at_ms: i64, outcome: &str) -> Result<u64, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query("UPDATE calls SET ended_at_ms = $1, outcome = $2 WHERE ended_at_ms IS NULL")
                .bind(at_ms)
                .bind(outcome)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(rows)
    }

    async fn count_calls(&self) -> Result<u64, StoreError> {
        let n = on_pool!(self.db(), |pool| {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM calls").fetch_one(pool).await
        })?;
        u64::try_from(n).map_err(|_| StoreError::Corrupt {
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
    ) -> Result<(), StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query(AssertSqlSafe(mark_taken_over(1)))
                .bind(call_id)
                .bind(staff_id)
                .bind(at_ms)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(|e| user_reference_error(e, "staff", staff_id))?;
        if rows > 0 {
            return Ok(());
        }
        // Nothing changed: the call has ended (ended calls never reopen, so this answer cannot
        // go stale) or did not exist when the update ran (an open call found now was inserted
        // since: still "not found" for this update).
        let ended_at_ms = on_pool!(self.db(), |pool| {
            sqlx::query_scalar::<_, Option<i64>>("SELECT ended_at_ms FROM calls WHERE id = $1")
                .bind(call_id)
                .fetch_optional(pool)
                .await
        })?;
        match ended_at_ms {
            Some(Some(_)) => Err(StoreError::CallEnded { id: call_id.to_owned() }),
            _ => Err(StoreError::NotFound { entity: "call", id: call_id.to_owned() }),
        }
    }

    async fn mark_call_transferred(
        &self,
        call_id: &str,
        to_skill: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query(AssertSqlSafe(mark_transferred(1)))
                .bind(call_id)
                .bind(to_skill)
                .bind(at_ms)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                StoreError::InvalidReference {
                    entity: "call",
                    target: "skill",
                    id: to_skill.to_owned(),
                }
            } else {
                StoreError::Database(e)
            }
        })?;
        if rows > 0 {
            return Ok(true);
        }
        // Nothing changed: the call has ended (ended calls never reopen) or there is none.
        if call_exists(self.db(), call_id).await? {
            Ok(false)
        } else {
            Err(StoreError::NotFound { entity: "call", id: call_id.to_owned() })
        }
    }

    async fn call_counts_by_queue_since(
        &self,
        since_ms: i64,
        default_threshold_ms: i64,
    ) -> Result<BTreeMap<String, CallCounts>, StoreError> {
        // One pass over the calls_queued_at_ms range. COUNT skips NULLs, so a CASE without ELSE
        // counts the rows its condition holds for; for an unanswered call the wait is NULL and
        // the condition never holds.
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, (String, i64, i64, i64)>(
                "SELECT COALESCE(c.skill_id, ''), COUNT(c.answered_at_ms), \
                 COUNT(CASE WHEN c.outcome = $3 THEN 1 END), \
                 COUNT(CASE WHEN (CASE WHEN c.transferred_at_ms <= c.answered_at_ms \
                   THEN c.answered_at_ms - c.transferred_at_ms \
                   ELSE c.answered_at_ms - c.queued_at_ms END) \
                   <= COALESCE(CAST(sk.service_level_secs AS BIGINT) * 1000, $2) THEN 1 END) \
                 FROM calls c LEFT JOIN skills sk ON sk.id = c.skill_id \
                 WHERE c.queued_at_ms >= $1 GROUP BY COALESCE(c.skill_id, '')",
            )
            .bind(since_ms)
            .bind(default_threshold_ms)
            .bind(voicedesk_protocol::EndReason::Abandoned.as_str())
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .map(|(skill, answered, abandoned, within)| {
                Ok((skill, model::call_counts_from_row((answered, abandoned, within))?))
            })
            .collect()
    }
}

/// Whether a call with this id exists.
async fn call_exists(db: Db<'_>, call_id: &str) -> Result<bool, StoreError> {
    let found = on_pool!(db, |pool| {
        sqlx::query_scalar::<_, i32>("SELECT 1 FROM calls WHERE id = $1")
            .bind(call_id)
            .fetch_optional(pool)
            .await
    })?;
    Ok(found.is_some())
}

/// Maps a failed update that sets a user column of `calls` (`agent_id`, `handled_by`): an
/// unknown user is an invalid reference to a `target` ("agent", "staff").
fn user_reference_error(e: sqlx::Error, target: &'static str, user_id: &str) -> StoreError {
    if is_foreign_key_violation(&e) {
        StoreError::InvalidReference { entity: "call", target, id: user_id.to_owned() }
    } else {
        StoreError::Database(e)
    }
}

/// An update keyed by call id touched `rows` rows: none means the call does not exist.
fn exactly_one_call(rows: u64, call_id: &str) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::NotFound { entity: "call", id: call_id.to_owned() })
    } else {
        Ok(())
    }
}
