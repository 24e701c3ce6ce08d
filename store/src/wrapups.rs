//! Agents' wrap-ups of their calls: table `call_wrapups` (a disposition and notes per call and
//! agent).

use crate::backend::{Backend, on_pool, reference_error, value_rows};
use crate::model::{self, WrapUpRow};
use crate::{NewWrapUp, StoreError, WrapUp, validate};
use sqlx::AssertSqlSafe;

/// Columns of `call_wrapups`, in [`WrapUpRow`] order.
macro_rules! wrapup_columns {
    () => {
        "call_id, agent_id, disposition, notes, at_ms"
    };
}

/// Wrap-ups, created or replaced, `rows` at once (`batch.rs` groups them; one statement must
/// not name the same call and agent twice): tuples `(call_id, agent_id, disposition, notes,
/// at_ms)`.
pub(crate) fn save_wrapups(rows: usize) -> String {
    format!(
        "INSERT INTO call_wrapups ({}) VALUES {} \
         ON CONFLICT (call_id, agent_id) DO UPDATE SET \
         disposition = excluded.disposition, notes = excluded.notes, at_ms = excluded.at_ms",
        wrapup_columns!(),
        value_rows(rows, 5)
    )
}

/// What agents record after a call. Every write is committed before the call returns.
#[async_trait::async_trait]
pub trait WrapUpStore: Send + Sync {
    /// Saves the agent's wrap-up of the call. One per (call, agent): saving again replaces the
    /// disposition, notes and time. An unknown call, agent or disposition is
    /// [`StoreError::InvalidReference`] (entity `"call wrap-up"`, target `"call"`, `"agent"` or
    /// `"disposition"`); notes longer than [`NewWrapUp::MAX_NOTES_CHARS`] are
    /// [`StoreError::InvalidValue`]. Either way nothing is written. The store does not check
    /// that the agent handled the call or that it has ended.
    async fn save_wrapup(&self, wrapup: &NewWrapUp) -> Result<(), StoreError>;

    /// The wrap-ups of a call, oldest first (then by agent id). An unknown call has none.
    async fn wrapups(&self, call_id: &str) -> Result<Vec<WrapUp>, StoreError>;
}

#[async_trait::async_trait]
impl<S: Backend> WrapUpStore for S {
    async fn save_wrapup(&self, wrapup: &NewWrapUp) -> Result<(), StoreError> {
        validate::wrapup(wrapup)?;
        let done = on_pool!(self.db(), |pool| {
            sqlx::query(AssertSqlSafe(save_wrapups(1)))
                .bind(&wrapup.call_id)
                .bind(&wrapup.agent_id)
                .bind(&wrapup.disposition)
                .bind(&wrapup.notes)
                .bind(wrapup.at_ms)
                .execute(pool)
                .await
                .map(drop)
        });
        match done {
            Ok(()) => Ok(()),
            Err(e) => Err(reference_error(
                self.db(),
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

    async fn wrapups(&self, call_id: &str) -> Result<Vec<WrapUp>, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, WrapUpRow>(concat!(
                "SELECT ",
                wrapup_columns!(),
                " FROM call_wrapups WHERE call_id = $1"
            ))
            .bind(call_id)
            .fetch_all(pool)
            .await
        })?;
        let mut wrapups: Vec<WrapUp> = rows.into_iter().map(model::wrapup_from_row).collect();
        wrapups.sort_by(|a, b| (a.at_ms, &a.agent_id).cmp(&(b.at_ms, &b.agent_id)));
        Ok(wrapups)
    }
}
