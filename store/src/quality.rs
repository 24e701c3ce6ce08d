//! Per-call audio quality: table `call_quality`, one row per measured side of a call, beside
//! the call record (issue 22).

use serde::Serialize;

use crate::StoreError;
use crate::backend::{Backend, first_missing, on_pool};

/// One side of a call as the relay measured it when the call ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CallQuality {
    /// `"citizen"` or `"agent"`.
    pub side: &'static str,
    /// E-model MOS estimate, 1.0 ..= 4.5.
    pub mos: f64,
    /// Packets lost, percent (0 ..= 100).
    pub loss_pct: f64,
    /// Interarrival jitter, milliseconds (>= 0).
    pub jitter_ms: f64,
    /// Round-trip time between the relay and the side, milliseconds (>= 0); `None` when no
    /// RTCP report measured it.
    pub rtt_ms: Option<f64>,
}

/// The sides a quality row may name.
const SIDES: [&str; 2] = ["citizen", "agent"];

/// Audio quality kept with call records.
#[async_trait::async_trait]
pub trait CallQualityStore: Send + Sync {
    /// Records (or replaces) one side's quality of a call. An unknown call is
    /// [`StoreError::InvalidReference`] (entity `"call_quality"`, target `"call"`); a side other
    /// than citizen/agent, or a figure out of range or not finite, is
    /// [`StoreError::InvalidValue`]. Nothing changes on any error.
    async fn record_call_quality(
        &self,
        call_id: &str,
        quality: &CallQuality,
    ) -> Result<(), StoreError>;

    /// The measured sides of a call, citizen first; empty if none was measured.
    async fn call_quality(&self, call_id: &str) -> Result<Vec<CallQuality>, StoreError>;

    /// The measured sides of every call queued from `from_ms` to `to_ms` (both included), by
    /// call id and then citizen first: one query for a page of the call records' export.
    async fn call_quality_between(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, CallQuality)>, StoreError>;
}

/// A row of `call_quality` as read: side, mos, loss, jitter, round trip.
type Row = (String, f64, f64, f64, Option<f64>);

fn from_row((side, mos, loss_pct, jitter_ms, rtt_ms): Row) -> CallQuality {
    CallQuality {
        side: if side == "citizen" { "citizen" } else { "agent" },
        mos,
        loss_pct,
        jitter_ms,
        rtt_ms,
    }
}

/// Writes (or replaces) one side's row; the same text for both backends.
pub(crate) const UPSERT_CALL_QUALITY: &str = "INSERT INTO call_quality (call_id, side, mos, loss_pct, jitter_ms, rtt_ms) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (call_id, side) DO UPDATE SET \
     mos = excluded.mos, loss_pct = excluded.loss_pct, jitter_ms = excluded.jitter_ms, \
     rtt_ms = excluded.rtt_ms";

/// Checks one side's figures (see [`CallQualityStore::record_call_quality`]).
pub(crate) fn check(q: &CallQuality) -> Result<(), StoreError> {
    let bad = |field: &'static str, value: String, expected: &'static str| {
        StoreError::InvalidValue { entity: "call_quality", field, value, expected }
    };
    if !SIDES.contains(&q.side) {
        return Err(bad("side", q.side.to_owned(), "citizen or agent"));
    }
    if !(q.mos.is_finite() && (1.0..=4.5).contains(&q.mos)) {
        return Err(bad("mos", q.mos.to_string(), "a MOS from 1.0 to 4.5"));
    }
    if !(q.loss_pct.is_finite() && (0.0..=100.0).contains(&q.loss_pct)) {
        return Err(bad("loss_pct", q.loss_pct.to_string(), "a percentage from 0 to 100"));
    }
    if !(q.jitter_ms.is_finite() && q.jitter_ms >= 0.0) {
        return Err(bad("jitter_ms", q.jitter_ms.to_string(), "milliseconds, 0 or more"));
    }
    if let Some(rtt) = q.rtt_ms
        && !(rtt.is_finite() && rtt >= 0.0)
    {
        return Err(bad("rtt_ms", rtt.to_string(), "milliseconds, 0 or more"));
    }
    Ok(())
}

#[async_trait::async_trait]
impl<S: Backend> CallQualityStore for S {
    async fn record_call_quality(
        &self,
        call_id: &str,
        quality: &CallQuality,
    ) -> Result<(), StoreError> {
        check(quality)?;
        if let Some((target, id)) =
            first_missing(self.db(), &[("call", "SELECT 1 FROM calls WHERE id = $1", call_id)])
                .await?
        {
            return Err(StoreError::InvalidReference { entity: "call_quality", target, id });
        }
        on_pool!(self.db(), |pool| {
            sqlx::query(UPSERT_CALL_QUALITY)
                .bind(call_id)
                .bind(quality.side)
                .bind(quality.mos)
                .bind(quality.loss_pct)
                .bind(quality.jitter_ms)
                .bind(quality.rtt_ms)
                .execute(pool)
                .await
                .map(drop)
        })?;
        Ok(())
    }

    async fn call_quality(&self, call_id: &str) -> Result<Vec<CallQuality>, StoreError> {
        let rows: Vec<Row> = on_pool!(self.db(), |pool| {
            sqlx::query_as(
                "SELECT side, mos, loss_pct, jitter_ms, rtt_ms FROM call_quality \
                 WHERE call_id = $1 \
                 ORDER BY CASE side WHEN 'citizen' THEN 0 ELSE 1 END",
            )
            .bind(call_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    async fn call_quality_between(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, CallQuality)>, StoreError> {
        let rows: Vec<(String, String, f64, f64, f64, Option<f64>)> =
            on_pool!(self.db(), |pool| {
                sqlx::query_as(
                    "SELECT q.call_id, q.side, q.mos, q.loss_pct, q.jitter_ms, q.rtt_ms \
                 FROM call_quality q \
                 JOIN calls c ON c.id = q.call_id \
                 WHERE c.queued_at_ms >= $1 AND c.queued_at_ms <= $2 \
                 ORDER BY q.call_id, CASE q.side WHEN 'citizen' THEN 0 ELSE 1 END",
                )
                .bind(from_ms)
                .bind(to_ms)
                .fetch_all(pool)
                .await
            })?;
        Ok(rows
            .into_iter()
            .map(|(call, side, mos, loss, jitter, rtt)| {
                (call, from_row((side, mos, loss, jitter, rtt)))
            })
            .collect())
    }
}
