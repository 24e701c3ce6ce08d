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
//! **Narrow traits per aggregate.** Each aggregate has one module holding its trait and its
//! implementation, so "where is the SQL that inserts a call" is answered by a file name:
//!
//! | module | trait | tables |
//! |---|---|---|
//! | `users.rs` | [`UserStore`] | `users`, `sessions` |
//! | `calls.rs` | [`CallStore`] | `calls` |
//! | `wrapups.rs` | [`WrapUpStore`] | `call_wrapups` |
//! | `audit.rs` | [`AuditStore`] | `audit_log`, `message_audit` |
//! | `catalogue.rs` | [`CatalogueStore`] | `hall_areas`, `skills`, `services`, `holidays`, `away_reasons`, `dispositions` |
//! | `agent_skills.rs` | [`AgentSkillStore`] | `agent_skills` |
//! | `messages.rs` | [`MessageStore`] | `messages` |
//! | `ratings.rs` | [`RatingStore`] | `ratings` |
//! | `knowledge.rs` | [`KnowledgeStore`] | `kb_articles` |
//! | `announcements.rs` | [`AnnouncementStore`] | `announcements` |
//! | `chats.rs` | [`ChatStore`] | `chats`, `chat_messages` |
//! | `canned_replies.rs` | [`CannedReplyStore`] | `canned_replies` |
//! | `reports.rs` | [`ReportStore`] | reads `calls`, `messages`, `ratings`, `audit_log` |
//!
//! [`Store`] is all of them together (plus [`Store::ping`]); a component that needs one
//! aggregate takes that trait (`Arc<dyn MessageStore>`, upcast from an `Arc<dyn Store>`), one
//! that needs several takes `Arc<dyn Store>`. Through a `dyn Store` every method is callable
//! without importing its trait; on a concrete `SqliteStore` / `PostgresStore` (or in generic
//! code) bring the traits in scope with `use voicedesk_store::prelude::*;`.
//!
//! **One body of code for both backends.** Every trait is implemented once, for any
//! `Backend` (that is, [`SqliteStore`] and [`PostgresStore`]); a method runs its queries inside
//! `on_pool!`, which expands the body once per pool type. `backend.rs` explains why this shape
//! rather than code generic over `sqlx::Database`. The schema is identical on both backends and
//! the SQL uses the common dialect, so the query text is the same on both.
//!
//! **`#[async_trait]` and `Arc<dyn Store>`.** The one `voicedesk` binary picks the backend at
//! run time from a flag (`--database-url sqlite:…` or `postgres://…`), so the rest of the
//! program holds a trait object rather than being generic over the backend. Native `async fn`
//! in traits is not object-safe (dyn-compatible) yet; `async_trait` boxes the futures (and makes
//! them `Send`, which axum handlers and spawned tasks need). One allocation per database call
//! is noise next to the round trip.
//!
//! **Runtime queries.** Queries are `sqlx::query`/`query_as` with binds, not the compile-time
//! `query!` macros, so building needs no database.
//!
//! **Migrations** are embedded (`migrations/sqlite`, `migrations/postgres`, the same numbered
//! changes) and applied when a store is opened; applying them again is a no-op.

mod accounts;
mod agent_skills;
mod announcements;
mod audit;
mod backend;
mod batch;
mod calls;
mod canned_replies;
mod catalogue;
mod chats;
mod error;
pub mod files;
mod knowledge;
mod messages;
mod model;
mod postgres;
mod quality;
mod ratings;
mod reports;
mod sqlite;
mod ticket;
mod users;
mod validate;
mod wrapups;

use std::sync::Arc;

pub use accounts::{
    Account, AccountProfile, AccountStore, ActiveSession, AdminAuditEntry, MAX_NAME_CHARS,
    NewAccount, NewAdminAudit, SignInFailures, validate_username,
};
pub use agent_skills::{AgentSkillStore, MAX_CHAT_CAPACITY};
pub use announcements::AnnouncementStore;
pub use audit::{AuditStore, ChatAuditAction, ChatAuditEntry, NewChatAudit};
pub use batch::{CallWrite, CallWriteStore};
pub use calls::CallStore;
pub use canned_replies::{CannedReply, CannedReplyStore, MAX_CANNED_REPLY_CHARS};
pub use catalogue::CatalogueStore;
pub use chats::{
    AppendedChatMessage, CHAT_PAGE_MAX, Chat, ChatMarks, ChatMessage, ChatSender, ChatSide,
    ChatStore, NewChat, NewChatMessage,
};
pub use error::StoreError;
pub use knowledge::{KnowledgeStore, UnansweredQuestion};
pub use messages::MessageStore;
pub use model::{
    AgentSkill, Announcement, AuditAction, AuditEntry, AuditFilter, CallCounts, CallRecord,
    Catalogue, FollowUp, HallArea, Holiday, HolidayKind, InsertedMessage, LabelledCode, Message,
    MessageAuditEntry, MessageFilter, MessageKind, MessageReason, MessageState, NewAuditEntry,
    NewCall, NewMessage, NewMessageAudit, NewRating, NewSession, NewUser, NewWrapUp, Rating,
    RatingSubject, RecordingPolicy, Service, ServiceKind, Session, Skill, User, UserSkill,
    UserSummary, WrapUp,
};
pub use postgres::PostgresStore;
pub use quality::{CallQuality, CallQualityStore};
pub use ratings::RatingStore;
pub use reports::{
    ABANDON_BUCKETS_MS, CallFigures, DayFigures, GroupName, HourFigures, MessageFigures, Report,
    ReportGroup, ReportQuery, ReportStore,
};
pub use sqlite::SqliteStore;
pub use ticket::{ALPHABET as TICKET_ALPHABET, normalize_ticket};
pub use users::UserStore;
pub use validate::MAX_ANNOUNCEMENT_BODY_CHARS;
pub use wrapups::WrapUpStore;

/// Every store trait, to call store methods on a concrete `SqliteStore` / `PostgresStore`:
/// `use voicedesk_store::prelude::*;` (through a `dyn Store` they need no import).
pub mod prelude {
    pub use crate::{
        AccountStore, AgentSkillStore, AnnouncementStore, AuditStore, CallStore, CallWriteStore,
        CannedReplyStore, CatalogueStore, ChatStore, KnowledgeStore, MessageStore, RatingStore,
        ReportStore, Store, UserStore, WrapUpStore,
    };
}

/// Everything voicedesk persists: every aggregate's trait. Every write is committed before the
/// call returns.
#[async_trait::async_trait]
pub trait Store:
    UserStore
    + CallStore
    + CallWriteStore
    + WrapUpStore
    + AuditStore
    + CatalogueStore
    + AgentSkillStore
    + MessageStore
    + RatingStore
    + KnowledgeStore
    + AnnouncementStore
    + AccountStore
    + ReportStore
    + CallQualityStore
    + ChatStore
    + CannedReplyStore
    + Send
    + Sync
    + 'static
{
    /// Runs `SELECT 1`; used by `/healthz`.
    async fn ping(&self) -> Result<(), StoreError>;

    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;
}

#[async_trait::async_trait]
impl<S: backend::Backend> Store for S {
    async fn ping(&self) -> Result<(), StoreError> {
        backend::on_pool!(self.db(), |pool| sqlx::query("SELECT 1").execute(pool).await.map(drop))?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        self.db().name()
    }
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
