//! Persistence for voicedesk: the [`Store`] interface and its two implementations,
//! [`SqliteStore`] (one file, the embedded default) and [`PostgresStore`] (the shared system of
//! record of a cluster). The same test suite (`tests/store_suite.rs`) runs against both.
//!
//! # Design choices
//!
//! **Times are `i64` Unix epoch milliseconds, stored as `BIGINT`.** SQLite has no timestamp
//! type and Postgres's `TIMESTAMPTZ` decodes through chrono/time with backend-specific rules; an
//! integer is stored, compared and indexed the same way on both, so every query is written once.
//! It is also what the protocol carries (`*_at_ms`) and what the deterministic cores use (they
//! take the current time as an input), so nothing converts between clocks. The store itself never
//! reads a clock: callers pass `now_ms` / `at_ms`.
//!
//! **`#[async_trait]` and `Arc<dyn Store>`.** The one `voicedesk` binary picks the backend at
//! run time from a flag (`--database-url sqlite:…` or `postgres://…`), so the rest of the
//! program holds a trait object rather than being generic over the backend. Native `async fn`
//! in traits is not object-safe (dyn-compatible) yet; `async_trait` boxes the futures (and makes
//! them `Send`, which axum handlers and spawned tasks need). One allocation per database call
//! is noise next to the round trip.
//!
//! **Runtime queries.** Queries are `sqlx::query`/`query_as` with binds, not the compile-time
//! `query!` macros, so building needs no database. The schema is identical on both backends and
//! the SQL uses the common dialect, so one implementation (see `queries.rs`) serves both.
//!
//! **Migrations** are embedded (`migrations/sqlite`, `migrations/postgres`, the same numbered
//! changes) and applied when a store is opened; applying them again is a no-op.

mod error;
mod model;
mod postgres;
mod queries;
mod sqlite;

use std::sync::Arc;

pub use error::StoreError;
pub use model::{
    AuditAction, AuditEntry, AuditFilter, CallCounts, CallRecord, NewAuditEntry, NewCall,
    NewSession, NewUser, Session, User,
};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Everything voicedesk persists. Every write is committed before the call returns.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Runs `SELECT 1`; used by `/healthz`.
    async fn ping(&self) -> Result<(), StoreError>;

    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Creates a user. A taken username (or id) is [`StoreError::Conflict`]; a citizen role is
    /// [`StoreError::InvalidUserRole`].
    async fn create_user(&self, user: &NewUser) -> Result<User, StoreError>;

    /// The user with this login name, if any.
    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;

    /// The user with this id, if any.
    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError>;

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

    /// Records a newly queued call. A duplicate id is [`StoreError::Conflict`].
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

    /// Wallboard figures over the calls queued at or after `since_ms`: how many were answered
    /// (`answered_at_ms` set), abandoned (`outcome` = `"abandoned"`) and answered at most
    /// `threshold_ms` after they were queued.
    async fn call_counts_since(
        &self,
        since_ms: i64,
        threshold_ms: i64,
    ) -> Result<CallCounts, StoreError>;

    /// Appends one audit entry and returns its id; committed when this returns. An actor or a
    /// call that does not exist is [`StoreError::InvalidReference`] (entity `"audit entry"`,
    /// target `"user"` or `"call"`) and writes nothing. Audit entries are never updated or
    /// deleted.
    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<i64, StoreError>;

    /// Audit entries, newest (highest id) first, only of `filter.call_id` and/or by
    /// `filter.actor_id` when given, at most `filter.limit` of them (capped at
    /// [`AuditFilter::MAX_LIMIT`]). An unparseable stored action or mode is
    /// [`StoreError::Corrupt`].
    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
}

/// Opens the store named by `url` and applies the migrations: `sqlite:…` opens (creating it if
/// missing) a SQLite file, `postgres://…` / `postgresql://…` connects to Postgres.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => Ok(Arc::new(SqliteStore::open(url).await?)),
        "postgres" | "postgresql" if url[scheme.len()..].starts_with("://") => {
            Ok(Arc::new(PostgresStore::connect(url).await?))
        }
        _ => Err(StoreError::UnsupportedUrl { scheme: scheme.chars().take(32).collect() }),
    }
}
