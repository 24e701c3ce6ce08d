//! Group commit of call-record writes: many writes of many calls in one transaction, so a burst
//! of calls costs one commit (one `fsync` on SQLite, one WAL flush on Postgres) per batch rather
//! than per write — and a few statements rather than one per write: the batch is cut into
//! **waves**, runs of consecutive writes in which no call appears twice, and each wave runs as
//! one multi-row statement per kind of write (all its inserts, then all its offers, …). One
//! call's writes therefore keep their order (they fall in successive waves), while a burst of
//! a thousand calls' inserts is a handful of statements instead of a thousand round trips.
//!
//! The batch is all or nothing: if any write fails — or changes nothing, which the single-write
//! methods would report as an error — the transaction is rolled back and
//! [`CallWriteStore::commit_call_writes`] says so; the caller then runs each write on its own
//! through [`CallStore`](crate::CallStore), [`AuditStore`](crate::AuditStore) and
//! [`WrapUpStore`](crate::WrapUpStore), whose errors say exactly what was wrong. The statements
//! are those of the single-write methods, for several rows.

use sqlx::AssertSqlSafe;
use std::collections::HashSet;

use crate::audit::insert_audit;
use crate::backend::{Backend, on_pool};
use crate::calls::{
    insert_calls, mark_answered, mark_ended, mark_offered, mark_taken_over, mark_transferred,
};
use crate::quality::{UPSERT_CALL_QUALITY, check as check_quality};
use crate::wrapups::save_wrapups;
use crate::{CallQuality, NewAuditEntry, NewCall, NewWrapUp, StoreError, validate};

/// One write of a call's record, its audit log or its wrap-up.
#[derive(Debug, Clone, PartialEq)]
pub enum CallWrite {
    /// [`CallStore::insert_call`](crate::CallStore::insert_call).
    Insert(NewCall),
    /// [`CallStore::mark_call_offered`](crate::CallStore::mark_call_offered).
    Offered {
        /// The call.
        call_id: String,
        /// The agent.
        agent_id: String,
        /// When.
        at_ms: i64,
    },
    /// [`CallStore::mark_call_answered`](crate::CallStore::mark_call_answered).
    Answered {
        /// The call.
        call_id: String,
        /// The agent.
        agent_id: String,
        /// When.
        at_ms: i64,
    },
    /// [`CallStore::mark_call_transferred`](crate::CallStore::mark_call_transferred).
    Transferred {
        /// The call.
        call_id: String,
        /// The new queue.
        to_skill: String,
        /// When.
        at_ms: i64,
    },
    /// [`CallStore::mark_call_taken_over`](crate::CallStore::mark_call_taken_over).
    TakenOver {
        /// The call.
        call_id: String,
        /// The staff member.
        staff_id: String,
        /// When.
        at_ms: i64,
    },
    /// [`CallStore::mark_call_ended`](crate::CallStore::mark_call_ended), then
    /// [`CallQualityStore::record_call_quality`](crate::CallQualityStore::record_call_quality)
    /// for each measured side, in the same transaction.
    Ended {
        /// The call.
        call_id: String,
        /// When.
        at_ms: i64,
        /// The end reason.
        outcome: String,
        /// The audio quality of the call's sides as the relay measured them (empty: none).
        quality: Vec<CallQuality>,
    },
    /// [`AuditStore::append_audit`](crate::AuditStore::append_audit).
    Audit(NewAuditEntry),
    /// [`WrapUpStore::save_wrapup`](crate::WrapUpStore::save_wrapup).
    WrapUp(NewWrapUp),
}

/// Writes of call records committed together.
#[async_trait::async_trait]
pub trait CallWriteStore: Send + Sync {
    /// Runs `writes` in order in one transaction and commits it. `Err` if any of them failed
    /// or changed nothing; then nothing of the batch was written.
    async fn commit_call_writes(&self, writes: &[CallWrite]) -> Result<(), StoreError>;
}

/// The most rows one statement writes (well under both backends' limits on bound values).
const MAX_ROWS: usize = 256;

impl CallWrite {
    /// The call this write is about.
    fn call_id(&self) -> &str {
        match self {
            CallWrite::Insert(c) => &c.id,
            CallWrite::Offered { call_id, .. }
            | CallWrite::Answered { call_id, .. }
            | CallWrite::Transferred { call_id, .. }
            | CallWrite::TakenOver { call_id, .. }
            | CallWrite::Ended { call_id, .. } => call_id,
            CallWrite::Audit(a) => &a.call_id,
            CallWrite::WrapUp(w) => &w.call_id,
        }
    }

    /// Which statement writes it (the variant's index, in the order a wave runs them).
    fn kind(&self) -> usize {
        match self {
            CallWrite::Insert(_) => 0,
            CallWrite::Offered { .. } => 1,
            CallWrite::Answered { .. } => 2,
            CallWrite::Transferred { .. } => 3,
            CallWrite::TakenOver { .. } => 4,
            CallWrite::Ended { .. } => 5,
            CallWrite::Audit(_) => 6,
            CallWrite::WrapUp(_) => 7,
        }
    }

    /// The statement writing `rows` writes of this one's kind.
    fn statement(&self, rows: usize) -> String {
        match self {
            CallWrite::Insert(_) => insert_calls(rows),
            CallWrite::Offered { .. } => mark_offered(rows),
            CallWrite::Answered { .. } => mark_answered(rows),
            CallWrite::Transferred { .. } => mark_transferred(rows),
            CallWrite::TakenOver { .. } => mark_taken_over(rows),
            CallWrite::Ended { .. } => mark_ended(rows),
            CallWrite::Audit(_) => insert_audit(rows),
            CallWrite::WrapUp(_) => save_wrapups(rows),
        }
    }
}

/// `writes` cut into waves: maximal runs of consecutive writes in which no call appears twice.
fn waves(writes: &[CallWrite]) -> Vec<&[CallWrite]> {
    let mut waves = Vec::new();
    let mut start = 0;
    let mut calls = HashSet::new();
    for (i, write) in writes.iter().enumerate() {
        if !calls.insert(write.call_id()) {
            waves.push(&writes[start..i]);
            start = i;
            calls.clear();
            calls.insert(write.call_id());
        }
    }
    if start < writes.len() {
        waves.push(&writes[start..]);
    }
    waves
}

/// The statements of one wave: its writes grouped by kind, in kind order, at most
/// [`MAX_ROWS`] per statement.
fn statements<'w>(wave: &[&'w CallWrite]) -> Vec<Vec<&'w CallWrite>> {
    let mut by_kind: Vec<Vec<&CallWrite>> = vec![Vec::new(); 8];
    for write in wave {
        by_kind[write.kind()].push(write);
    }
    by_kind
        .into_iter()
        .flat_map(|rows| rows.chunks(MAX_ROWS).map(<[_]>::to_vec).collect::<Vec<_>>())
        .filter(|rows| !rows.is_empty())
        .collect()
}

/// A statement of the batch changed fewer rows than it had writes (the single-write methods,
/// run next, say which and why).
fn unchanged(rows: &[&CallWrite], changed: u64) -> StoreError {
    StoreError::NotFound {
        entity: "call",
        id: format!(
            "{changed} of {} written in a group: {}",
            rows.len(),
            rows.iter().map(|w| w.call_id()).collect::<Vec<_>>().join(", ")
        ),
    }
}

#[async_trait::async_trait]
impl<S: Backend> CallWriteStore for S {
    async fn commit_call_writes(&self, writes: &[CallWrite]) -> Result<(), StoreError> {
        for write in writes {
            match write {
                CallWrite::Insert(call) => validate::call(call)?,
                CallWrite::WrapUp(wrapup) => validate::wrapup(wrapup)?,
                CallWrite::Ended { quality, .. } => quality.iter().try_for_each(check_quality)?,
                _ => {}
            }
        }
        let statements: Vec<Vec<&CallWrite>> = waves(writes)
            .into_iter()
            .flat_map(|wave| statements(&wave.iter().collect::<Vec<_>>()))
            .collect();
        on_pool!(self.db(), |pool| {
            let mut tx = pool.begin().await?;
            for rows in &statements {
                let sql = rows[0].statement(rows.len());
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for write in rows {
                    query = match write {
                        CallWrite::Insert(c) => query
                            .bind(&c.id)
                            .bind(&c.citizen_session)
                            .bind(&c.service)
                            .bind(c.queued_at_ms)
                            .bind(&c.skill_id)
                            .bind(c.priority),
                        CallWrite::Offered { call_id, agent_id, at_ms }
                        | CallWrite::Answered { call_id, agent_id, at_ms } => {
                            query.bind(call_id).bind(agent_id).bind(*at_ms)
                        }
                        CallWrite::Transferred { call_id, to_skill, at_ms } => {
                            query.bind(call_id).bind(to_skill).bind(*at_ms)
                        }
                        CallWrite::TakenOver { call_id, staff_id, at_ms } => {
                            query.bind(call_id).bind(staff_id).bind(*at_ms)
                        }
                        CallWrite::Ended { call_id, at_ms, outcome, .. } => {
                            query.bind(call_id).bind(*at_ms).bind(outcome)
                        }
                        CallWrite::Audit(a) => query
                            .bind(a.at_ms)
                            .bind(&a.actor_id)
                            .bind(&a.call_id)
                            .bind(a.action.as_str())
                            .bind(a.mode.map(|m| m.as_str()))
                            .bind(&a.detail),
                        CallWrite::WrapUp(w) => query
                            .bind(&w.call_id)
                            .bind(&w.agent_id)
                            .bind(&w.disposition)
                            .bind(&w.notes)
                            .bind(w.at_ms),
                    };
                }
                // Dropping `tx` on the way out rolls the batch back.
                let changed = query.execute(&mut *tx).await?.rows_affected();
                if changed != rows.len() as u64 {
                    return Err(unchanged(rows, changed));
                }
            }
            // The audio figures of the calls that ended, once every write ran (their calls
            // exist), in the same transaction.
            for write in writes {
                let CallWrite::Ended { call_id, quality, .. } = write else { continue };
                for q in quality {
                    sqlx::query(UPSERT_CALL_QUALITY)
                        .bind(call_id)
                        .bind(q.side)
                        .bind(q.mos)
                        .bind(q.loss_pct)
                        .bind(q.jitter_ms)
                        .bind(q.rtt_ms)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(call_id: &str) -> CallWrite {
        CallWrite::Ended {
            call_id: call_id.into(),
            at_ms: 1,
            outcome: "abandoned".into(),
            quality: vec![],
        }
    }

    fn offered(call_id: &str) -> CallWrite {
        CallWrite::Offered { call_id: call_id.into(), agent_id: "a1".into(), at_ms: 1 }
    }

    #[test]
    fn a_wave_ends_before_a_call_appears_again() {
        let writes = [offered("c1"), offered("c2"), ended("c1"), ended("c3"), ended("c2")];
        let cut: Vec<Vec<&str>> =
            waves(&writes).iter().map(|w| w.iter().map(CallWrite::call_id).collect()).collect();
        assert_eq!(cut, [vec!["c1", "c2"], vec!["c1", "c3", "c2"]]);
        assert!(waves(&[]).is_empty());
    }

    #[test]
    fn a_wave_runs_one_statement_per_kind_in_kind_order() {
        let writes = [ended("c1"), offered("c2"), ended("c3"), offered("c4")];
        let wave: Vec<&CallWrite> = writes.iter().collect();
        let ids: Vec<Vec<&str>> = statements(&wave)
            .iter()
            .map(|rows| rows.iter().map(|w| w.call_id()).collect())
            .collect();
        assert_eq!(ids, [vec!["c2", "c4"], vec!["c1", "c3"]]);
    }

    #[test]
    fn placeholders_are_numbered_row_by_row() {
        assert_eq!(crate::backend::value_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert!(mark_ended(1).ends_with("AND calls.ended_at_ms IS NULL"));
    }
}
