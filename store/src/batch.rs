//! Group commit of call-record writes: many writes of many calls in one transaction, so a burst
//! of calls costs one commit (one `fsync` on SQLite, one WAL flush on Postgres) per batch rather
//! than per write.
//!
//! The batch is all or nothing: if any write fails — or changes nothing, which the single-write
//! methods would report as an error — the transaction is rolled back and
//! [`CallWriteStore::commit_call_writes`] says so; the caller then runs each write on its own
//! through [`CallStore`](crate::CallStore), [`AuditStore`](crate::AuditStore) and
//! [`WrapUpStore`](crate::WrapUpStore), whose errors say exactly what was wrong. The statements
//! are those of the single-write methods.

use crate::audit::insert_audit;
use crate::backend::{Backend, on_pool};
use crate::calls::{
    INSERT_CALL, MARK_ANSWERED, MARK_ENDED, MARK_OFFERED, MARK_TAKEN_OVER, MARK_TRANSFERRED,
};
use crate::quality::{UPSERT_CALL_QUALITY, check as check_quality};
use crate::wrapups::SAVE_WRAPUP;
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

/// A write of the batch changed nothing (the single-write method would say why).
fn unchanged(write: &CallWrite) -> StoreError {
    let id = match write {
        CallWrite::Insert(c) => &c.id,
        CallWrite::Offered { call_id, .. }
        | CallWrite::Answered { call_id, .. }
        | CallWrite::Transferred { call_id, .. }
        | CallWrite::TakenOver { call_id, .. }
        | CallWrite::Ended { call_id, .. } => call_id,
        CallWrite::Audit(a) => &a.call_id,
        CallWrite::WrapUp(w) => &w.call_id,
    };
    StoreError::NotFound { entity: "call", id: id.clone() }
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
        on_pool!(self.db(), |pool| {
            let mut tx = pool.begin().await?;
            for write in writes {
                let query = match write {
                    CallWrite::Insert(c) => sqlx::query(INSERT_CALL)
                        .bind(&c.id)
                        .bind(&c.citizen_session)
                        .bind(&c.service)
                        .bind(c.queued_at_ms)
                        .bind(&c.skill_id)
                        .bind(c.priority),
                    CallWrite::Offered { call_id, agent_id, at_ms } => {
                        sqlx::query(MARK_OFFERED).bind(call_id).bind(agent_id).bind(*at_ms)
                    }
                    CallWrite::Answered { call_id, agent_id, at_ms } => {
                        sqlx::query(MARK_ANSWERED).bind(call_id).bind(agent_id).bind(*at_ms)
                    }
                    CallWrite::Transferred { call_id, to_skill, at_ms } => {
                        sqlx::query(MARK_TRANSFERRED).bind(call_id).bind(to_skill).bind(*at_ms)
                    }
                    CallWrite::TakenOver { call_id, staff_id, at_ms } => {
                        sqlx::query(MARK_TAKEN_OVER).bind(call_id).bind(staff_id).bind(*at_ms)
                    }
                    CallWrite::Ended { call_id, at_ms, outcome, .. } => {
                        sqlx::query(MARK_ENDED).bind(call_id).bind(*at_ms).bind(outcome)
                    }
                    CallWrite::Audit(a) => sqlx::query(insert_audit!())
                        .bind(a.at_ms)
                        .bind(&a.actor_id)
                        .bind(&a.call_id)
                        .bind(a.action.as_str())
                        .bind(a.mode.map(|m| m.as_str()))
                        .bind(&a.detail),
                    CallWrite::WrapUp(w) => sqlx::query(SAVE_WRAPUP)
                        .bind(&w.call_id)
                        .bind(&w.agent_id)
                        .bind(&w.disposition)
                        .bind(&w.notes)
                        .bind(w.at_ms),
                };
                // Dropping `tx` on the way out rolls the batch back.
                if query.execute(&mut *tx).await?.rows_affected() == 0 {
                    return Err(unchanged(write));
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
