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

mod accounts;
mod error;
pub mod files;
mod model;
mod postgres;
mod queries;
mod sqlite;
mod ticket;
mod validate;

use std::sync::Arc;

pub use accounts::{
    Account, AccountProfile, AccountStore, ActiveSession, AdminAuditEntry, MAX_NAME_CHARS,
    NewAccount, NewAdminAudit, SignInFailures, validate_username,
};
pub use error::StoreError;
pub use model::{
    AgentSkill, Announcement, AuditAction, AuditEntry, AuditFilter, CallCounts, CallRecord,
    Catalogue, FollowUp, HallArea, Holiday, HolidayKind, InsertedMessage, LabelledCode, Message,
    MessageAuditEntry, MessageFilter, MessageKind, MessageReason, MessageState, NewAuditEntry,
    NewCall, NewMessage, NewMessageAudit, NewRating, NewSession, NewUser, NewWrapUp, Rating,
    RatingSubject, Service, ServiceKind, Session, Skill, User, UserSkill, UserSummary, WrapUp,
};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use ticket::{ALPHABET as TICKET_ALPHABET, normalize_ticket};
pub use validate::MAX_ANNOUNCEMENT_BODY_CHARS;

/// Everything voicedesk persists. Every write is committed before the call returns.
/// Accounts, sign-in failures and the admin audit log are the narrow [`AccountStore`].
#[async_trait::async_trait]
pub trait Store: AccountStore + Send + Sync + 'static {
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

    // ---- Catalogue, agent skills, holidays, codes (change 0003) ------------------------------

    /// The whole catalogue in one consistent read: hall areas, skills, services (disabled ones
    /// included), away reasons (system ones included), dispositions and holidays, each ordered by
    /// `sort` then id/code (holidays by day); ids compare as bytes on both backends.
    async fn catalogue(&self) -> Result<Catalogue, StoreError>;

    /// Creates the skill, or replaces every field of the skill with that id. A value breaking
    /// the rules of [`Skill`] is [`StoreError::InvalidValue`], nothing written.
    async fn upsert_skill(&self, skill: &Skill) -> Result<(), StoreError>;

    /// Deletes the skill (and the agents' levels in it); returns whether it existed. A skill that
    /// a service routes to, or that a call was queued for, is [`StoreError::InUse`] (entity
    /// `"skill"`, by `"services"` or `"calls"`) and nothing is changed.
    async fn delete_skill(&self, id: &str) -> Result<bool, StoreError>;

    /// Creates the service, or replaces every field of the service with that id. An unknown
    /// area or skill is [`StoreError::InvalidReference`] (entity `"service"`, target
    /// `"hall area"` or `"skill"`); a value breaking the rules of [`Service`] is
    /// [`StoreError::InvalidValue`]. Either way nothing is written.
    async fn upsert_service(&self, service: &Service) -> Result<(), StoreError>;

    /// Deletes the service; returns whether it existed. (Calls keep the service name they were
    /// recorded with.)
    async fn delete_service(&self, id: &str) -> Result<bool, StoreError>;

    /// The skills of one user, by skill id. An unknown user has none.
    async fn agent_skills(&self, user_id: &str) -> Result<Vec<AgentSkill>, StoreError>;

    /// Every user's skills, by user id then skill id (what routing loads at start-up).
    async fn all_agent_skills(&self) -> Result<Vec<UserSkill>, StoreError>;

    /// Replaces the user's whole skill set with `skills`, in one transaction (an empty slice
    /// removes them all). An unknown user or skill is [`StoreError::InvalidReference`] (entity
    /// `"agent skill"`, target `"user"` or `"skill"`); a level outside 1..=10 or a skill listed
    /// twice is [`StoreError::InvalidValue`]. Either way the old set is kept unchanged. The role is
    /// not checked: any user may hold skills.
    async fn set_agent_skills(
        &self,
        user_id: &str,
        skills: &[AgentSkill],
    ) -> Result<(), StoreError>;

    /// The users with this role, by username (as bytes), without their password hashes. Citizens have no
    /// user rows: [`Role::Citizen`](voicedesk_protocol::Role::Citizen) lists none.
    async fn users_by_role(
        &self,
        role: voicedesk_protocol::Role,
    ) -> Result<Vec<UserSummary>, StoreError>;

    /// Creates or replaces the calendar entry of `holiday.day`. A day that is not a real
    /// `YYYY-MM-DD` date or a blank name is [`StoreError::InvalidValue`], nothing written.
    async fn upsert_holiday(&self, holiday: &Holiday) -> Result<(), StoreError>;

    /// Deletes the calendar entry of `day`; returns whether it existed.
    async fn delete_holiday(&self, day: &str) -> Result<bool, StoreError>;

    /// Replaces the away reasons agents can pick with `reasons`, in one transaction: codes given
    /// are created or updated, other non-system codes are deleted, system reasons (e.g.
    /// `missed_calls`) are kept untouched. An empty list, an entry marked `system`, a code listed
    /// twice or an invalid code or label is [`StoreError::InvalidValue`]; a code that is a system
    /// reason's is [`StoreError::Conflict`]. Either way nothing is changed.
    async fn replace_away_reasons(&self, reasons: &[LabelledCode]) -> Result<(), StoreError>;

    /// Replaces the dispositions like [`Store::replace_away_reasons`]; in addition, deleting a
    /// disposition that a wrap-up uses is [`StoreError::InUse`] (entity `"disposition"`, by
    /// `"call wrap-ups"`) and nothing is changed.
    async fn replace_dispositions(&self, dispositions: &[LabelledCode]) -> Result<(), StoreError>;

    // ---- Transfers and wrap-ups (change 0003) ------------------------------------------------

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

    /// Saves the agent's wrap-up of the call. One per (call, agent): saving again replaces the
    /// disposition, notes and time. An unknown call, agent or disposition is
    /// [`StoreError::InvalidReference`] (entity `"call wrap-up"`, target `"call"`, `"agent"` or
    /// `"disposition"`); notes longer than [`NewWrapUp::MAX_NOTES_CHARS`] are
    /// [`StoreError::InvalidValue`]. Either way nothing is written. The store does not check
    /// that the agent handled the call or that it has ended.
    async fn save_wrapup(&self, wrapup: &NewWrapUp) -> Result<(), StoreError>;

    /// The wrap-ups of a call, oldest first (then by agent id). An unknown call has none.
    async fn wrapups(&self, call_id: &str) -> Result<Vec<WrapUp>, StoreError>;

    // ---- Online messages and service ratings (change 0004) -----------------------------------

    /// Stores a citizen's message, committed when this returns; acknowledge it only then.
    ///
    /// The store chooses the id (a UUID), the ticket (`XXXX-XXXX`, see [`normalize_ticket`]) and
    /// a secret code, of which it keeps only a salted hash. Idempotent by `client_id`:
    /// - a new `client_id`: the message is stored, `created == true`;
    /// - a `client_id` already stored with the same content (every field but `voice_file` and
    ///   the times): nothing new is stored, the stored message comes back with
    ///   `created == false` and a **new** secret code (the old one stops working: the first
    ///   answer was probably lost); delete the retry's own voice file, if it wrote one;
    /// - a `client_id` already stored with other content: [`StoreError::Conflict`] (entity
    ///   `"message"`, key `"client_id"`), nothing changed.
    ///
    /// A value breaking the rules of [`NewMessage`] is [`StoreError::InvalidValue`]; an unknown
    /// `call_id` is [`StoreError::InvalidReference`] (entity `"message"`, target `"call"`). Either
    /// way nothing is written.
    async fn insert_message(&self, message: &NewMessage) -> Result<InsertedMessage, StoreError>;

    /// The message with this ticket (as typed: case, spaces and `-` do not matter), if any. For
    /// staff; citizens go through [`Store::verify_ticket`].
    async fn message_by_ticket(&self, ticket: &str) -> Result<Option<Message>, StoreError>;

    /// The message with this ticket if `secret` is its current code (as typed: case, spaces and
    /// `-` do not matter); `None` for an unknown ticket, a wrong or malformed code alike. The
    /// code's hash is compared in constant time, and an unknown ticket costs the same hashing.
    async fn verify_ticket(
        &self,
        ticket: &str,
        secret: &str,
    ) -> Result<Option<Message>, StoreError>;

    /// The message with this id, if any.
    async fn message(&self, id: &str) -> Result<Option<Message>, StoreError>;

    /// Messages matching `filter`, at most `filter.limit` (capped at
    /// [`MessageFilter::MAX_LIMIT`]), in inbox order: open ones (`new`, `assigned`) first, most
    /// urgent (earliest `due_at_ms`) first; then answered and closed ones, newest
    /// (`created_at_ms`) first; ties by id.
    async fn messages(&self, filter: &MessageFilter) -> Result<Vec<Message>, StoreError>;

    /// Assigns the message to `user_id` (a staff member taking it, or moving it to a colleague):
    /// state `assigned`, `assigned_to`, `assigned_at_ms`. Only from `new` or `assigned`; from
    /// `answered` or `closed` it is [`StoreError::InvalidTransition`]. Unknown message:
    /// [`StoreError::NotFound`]; unknown user: [`StoreError::InvalidReference`] (entity
    /// `"message"`, target `"user"`). Nothing changes on any error. Returns the updated message.
    async fn assign_message(
        &self,
        id: &str,
        user_id: &str,
        at_ms: i64,
    ) -> Result<Message, StoreError>;

    /// Stores the reply: state `answered`, `reply`, `replied_at_ms`, `replied_by` (and
    /// `assigned_to`, `assigned_at_ms` if it was not assigned). Only from `new` or `assigned`;
    /// a message already answered or closed is [`StoreError::InvalidTransition`]. A blank reply
    /// or one longer than [`NewMessage::MAX_BODY_CHARS`] is [`StoreError::InvalidValue`];
    /// unknown message / user as for [`Store::assign_message`]. Nothing changes on any error.
    async fn reply_message(
        &self,
        id: &str,
        user_id: &str,
        reply: &str,
        at_ms: i64,
    ) -> Result<Message, StoreError>;

    /// Closes the message (with or without a reply): state `closed`, `closed_at_ms`,
    /// `closed_by`. From `new`, `assigned` or `answered`; closing a closed message is
    /// [`StoreError::InvalidTransition`]. Unknown message / user as for
    /// [`Store::assign_message`]. Nothing changes on any error.
    async fn close_message(
        &self,
        id: &str,
        user_id: &str,
        at_ms: i64,
    ) -> Result<Message, StoreError>;

    /// Every voice file name a message references (for [`files::sweep_orphans`]), sorted.
    async fn voice_files(&self) -> Result<Vec<String>, StoreError>;

    /// Stores a citizen's rating; levels 1 and 2 open a follow-up. The subject must exist
    /// (otherwise [`StoreError::InvalidReference`], entity `"rating"`, target `"call"` or
    /// `"message"`); the store does not check that the call was answered or the message
    /// replied to (the caller offers the rating only then). A subject already rated is
    /// [`StoreError::Conflict`] (entity `"rating"`, key `"subject"`, value `"call:<id>"`) and the
    /// first rating is kept unchanged; a level outside 1..=5 or a comment longer than
    /// [`NewRating::MAX_COMMENT_CHARS`] is [`StoreError::InvalidValue`]. Returns the stored rating.
    async fn insert_rating(&self, rating: &NewRating) -> Result<Rating, StoreError>;

    /// The rating of a call or message, if any.
    async fn rating(&self, kind: RatingSubject, id: &str) -> Result<Option<Rating>, StoreError>;

    /// Ratings with a follow-up (levels 1 and 2): only the open ones when `open_only`, otherwise
    /// the handled ones too. Open ones first, oldest first (they have waited longest); then
    /// handled ones, most recently handled first. At most [`MessageFilter::MAX_LIMIT`].
    async fn follow_ups(&self, open_only: bool) -> Result<Vec<Rating>, StoreError>;

    /// Marks an open follow-up handled by `user_id` with `note` (may be empty, at most
    /// [`NewRating::MAX_NOTE_CHARS`]). No rating of that subject: [`StoreError::NotFound`]
    /// (entity `"rating"`); a rating without follow-up (level 3-5) or already handled:
    /// [`StoreError::InvalidTransition`]; unknown user: [`StoreError::InvalidReference`] (entity
    /// `"rating"`, target `"user"`). Nothing changes on any error. Returns the updated rating.
    async fn mark_follow_up_handled(
        &self,
        kind: RatingSubject,
        id: &str,
        user_id: &str,
        note: &str,
        at_ms: i64,
    ) -> Result<Rating, StoreError>;

    // ---- Voice message access log (change 0005) -----------------------------------------------

    /// Appends to the message audit log (append-only): `actor_id` opened the voice recording of
    /// `message_id`. An unknown user or message is [`StoreError::InvalidReference`] (entity
    /// `"message audit"`); nothing is written.
    async fn append_message_audit(&self, entry: &NewMessageAudit) -> Result<i64, StoreError>;

    /// A message's access log, oldest first.
    async fn message_audit(&self, message_id: &str) -> Result<Vec<MessageAuditEntry>, StoreError>;

    // ---- Knowledge base (change 0006) ---------------------------------------------------------

    /// Every knowledge-base article as `(id, article JSON)`, by id.
    async fn kb_articles(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Creates or replaces an article (its JSON as the knowledge crate serialises it).
    async fn upsert_kb_article(&self, id: &str, json: &str, at_ms: i64) -> Result<(), StoreError>;

    /// Deletes an article; whether it existed.
    async fn delete_kb_article(&self, id: &str) -> Result<bool, StoreError>;

    // ---- Announcements (change 0007) ----------------------------------------------------------

    /// The announcements shown at `now_ms` (published by then, not expired), in the order of
    /// [`Announcement::list_order`]: pinned first, then newest first.
    async fn current_announcements(&self, now_ms: i64) -> Result<Vec<Announcement>, StoreError>;

    /// Every announcement, scheduled and expired ones included, in the same order.
    async fn announcements(&self) -> Result<Vec<Announcement>, StoreError>;

    /// One announcement.
    async fn announcement(&self, id: &str) -> Result<Option<Announcement>, StoreError>;

    /// Adds an announcement. Invalid values are [`StoreError::InvalidValue`], an existing id is
    /// [`StoreError::Conflict`]; either way nothing is written.
    async fn insert_announcement(&self, announcement: &Announcement) -> Result<(), StoreError>;

    /// Replaces the content of an existing announcement (its `created_by` is kept) and returns
    /// it as stored. An unknown id is [`StoreError::NotFound`]; invalid values are
    /// [`StoreError::InvalidValue`]; either way nothing is written.
    async fn update_announcement(
        &self,
        announcement: &Announcement,
    ) -> Result<Announcement, StoreError>;

    /// Deletes an announcement; whether it existed.
    async fn delete_announcement(&self, id: &str) -> Result<bool, StoreError>;
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
