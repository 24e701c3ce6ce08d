//! The plain rows the store reads and writes. Times are Unix epoch milliseconds.

use std::fmt;

use serde::Serialize;
use voicedesk_protocol::{Role, SupportMode};

use crate::StoreError;

/// A staff-side account: agent, staff or admin.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Stable opaque id.
    pub id: String,
    /// Login name, unique.
    pub username: String,
    /// Name shown to citizens and colleagues.
    pub display_name: String,
    /// Never [`Role::Citizen`].
    pub role: Role,
    /// The password hash in PHC string format (the caller hashes and verifies).
    pub password_hash: String,
    /// When the account was created.
    pub created_at_ms: i64,
}

/// A user to create. The caller chooses the id and the creation time.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Stable opaque id.
    pub id: String,
    /// Login name, unique.
    pub username: String,
    /// Name shown to citizens and colleagues.
    pub display_name: String,
    /// Agent, staff or admin; [`Role::Citizen`] is refused.
    pub role: Role,
    /// The password hash in PHC string format.
    pub password_hash: String,
    /// When the account is created.
    pub created_at_ms: i64,
}

impl From<NewUser> for User {
    fn from(u: NewUser) -> User {
        User {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            role: u.role,
            password_hash: u.password_hash,
            created_at_ms: u.created_at_ms,
        }
    }
}

// Debug by hand so a password hash never lands in a log line.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("role", &self.role)
            .field("password_hash", &"<redacted>")
            .field("created_at_ms", &self.created_at_ms)
            .finish()
    }
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("role", &self.role)
            .field("password_hash", &"<redacted>")
            .field("created_at_ms", &self.created_at_ms)
            .finish()
    }
}

/// A sign-in session, found by the hash of its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Hash of the bearer token (the store never sees the token itself).
    pub token_hash: String,
    /// The role the session grants.
    pub role: Role,
    /// The signed-in user; `None` for anonymous citizen sessions.
    pub user_id: Option<String>,
    /// When the session was created.
    pub created_at_ms: i64,
    /// The first instant at which the session is no longer valid.
    pub expires_at_ms: i64,
}

/// A session to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// Hash of the bearer token, unique.
    pub token_hash: String,
    /// The role the session grants.
    pub role: Role,
    /// The signed-in user (must exist); `None` for citizen sessions.
    pub user_id: Option<String>,
    /// When the session is created.
    pub created_at_ms: i64,
    /// The first instant at which the session is no longer valid.
    pub expires_at_ms: i64,
}

/// A call entering the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCall {
    /// Call id, unique.
    pub id: String,
    /// The citizen's opaque identity id (not a token).
    pub citizen_session: String,
    /// The service the citizen chose in the hall.
    pub service: Option<String>,
    /// When the call was queued.
    pub queued_at_ms: i64,
}

/// A call as stored: every column of `calls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// Call id.
    pub id: String,
    /// The citizen's opaque identity id.
    pub citizen_session: String,
    /// The service the citizen chose.
    pub service: Option<String>,
    /// When the call was queued.
    pub queued_at_ms: i64,
    /// When the call was first offered to an agent.
    pub offered_at_ms: Option<i64>,
    /// When an agent answered.
    pub answered_at_ms: Option<i64>,
    /// When the call ended; `None` while it is open.
    pub ended_at_ms: Option<i64>,
    /// Why it ended (`EndReason::as_str`); `None` while it is open.
    pub outcome: Option<String>,
    /// The agent last offered the call, or the agent who answered it.
    pub agent_id: Option<String>,
    /// How many times the call was offered.
    pub offer_count: u32,
    /// The staff member who took the call over (the agent left); `None` if nobody did.
    pub handled_by: Option<String>,
    /// When the call was taken over; `None` if it was not.
    pub taken_over_at_ms: Option<i64>,
}

impl CallRecord {
    /// Whether the call has not ended yet.
    pub fn is_open(&self) -> bool {
        self.ended_at_ms.is_none()
    }
}

/// What an audit entry records. Stored (and serialised) as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A staff member joined a call (in the entry's `mode`).
    Join,
    /// A staff member switched mode in a call already joined (to the entry's `mode`).
    Mode,
    /// A staff member left a call.
    Leave,
    /// A staff member took a call over; the agent left.
    TakeOver,
    /// Someone opened a call's recording.
    RecordingAccess,
}

impl AuditAction {
    /// Every action, in declaration order.
    pub const ALL: [AuditAction; 5] = [
        AuditAction::Join,
        AuditAction::Mode,
        AuditAction::Leave,
        AuditAction::TakeOver,
        AuditAction::RecordingAccess,
    ];

    /// The stable snake_case name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Join => "join",
            AuditAction::Mode => "mode",
            AuditAction::Leave => "leave",
            AuditAction::TakeOver => "take_over",
            AuditAction::RecordingAccess => "recording_access",
        }
    }

    /// The action named by `name` ([`AuditAction::as_str`]), if any.
    pub fn parse(name: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// An audit entry to append. The caller passes the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// When it happened.
    pub at_ms: i64,
    /// Who did it (a user id; must exist).
    pub actor_id: String,
    /// The call it concerns (must exist).
    pub call_id: String,
    /// What was done.
    pub action: AuditAction,
    /// The support mode joined or switched to, if the action has one.
    pub mode: Option<SupportMode>,
    /// Free text (e.g. which recording was accessed).
    pub detail: Option<String>,
}

/// An audit entry as stored: every column of `audit_log`. Entries are never changed or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Grows with every append: a higher id is a later entry.
    pub id: i64,
    /// When it happened.
    pub at_ms: i64,
    /// Who did it.
    pub actor_id: String,
    /// The call it concerns.
    pub call_id: String,
    /// What was done.
    pub action: AuditAction,
    /// The support mode joined or switched to, if the action has one.
    pub mode: Option<SupportMode>,
    /// Free text.
    pub detail: Option<String>,
}

/// Which audit entries to read: every condition given must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only entries of this call.
    pub call_id: Option<String>,
    /// Only entries by this user.
    pub actor_id: Option<String>,
    /// At most this many entries (the newest); capped at [`AuditFilter::MAX_LIMIT`].
    pub limit: u32,
}

impl AuditFilter {
    /// The most entries one read returns, whatever `limit` asks for.
    pub const MAX_LIMIT: u32 = 1000;
}

/// Wallboard figures over the calls queued since a boundary (see
/// [`Store::call_counts_since`](crate::Store::call_counts_since)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CallCounts {
    /// Calls an agent answered.
    pub answered: u64,
    /// Calls that ended with outcome `abandoned` (the citizen gave up before an answer).
    pub abandoned: u64,
    /// Answered calls whose answer came at most the threshold after they were queued.
    pub answered_within: u64,
}

// Rows as the queries return them: tuples decode the same way on both backends.
pub(crate) type UserRow = (String, String, String, String, String, i64);
pub(crate) type SessionRow = (String, String, Option<String>, i64, i64);
pub(crate) type CallRow = (
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    i32,
    Option<String>,
    Option<i64>,
);
pub(crate) type AuditRow = (i64, i64, String, String, String, Option<String>, Option<String>);
pub(crate) type CallCountsRow = (i64, i64, i64);

fn parse_role(table: &'static str, value: String) -> Result<Role, StoreError> {
    Role::parse(&value).ok_or(StoreError::Corrupt { table, column: "role", value })
}

pub(crate) fn user_from_row(row: UserRow) -> Result<User, StoreError> {
    let (id, username, display_name, role, password_hash, created_at_ms) = row;
    let role = parse_role("users", role)?;
    if role == Role::Citizen {
        return Err(StoreError::Corrupt {
            table: "users",
            column: "role",
            value: role.as_str().to_owned(),
        });
    }
    Ok(User { id, username, display_name, role, password_hash, created_at_ms })
}

pub(crate) fn session_from_row(row: SessionRow) -> Result<Session, StoreError> {
    let (token_hash, role, user_id, created_at_ms, expires_at_ms) = row;
    Ok(Session {
        token_hash,
        role: parse_role("sessions", role)?,
        user_id,
        created_at_ms,
        expires_at_ms,
    })
}

pub(crate) fn call_from_row(row: CallRow) -> Result<CallRecord, StoreError> {
    let (
        id,
        citizen_session,
        service,
        queued_at_ms,
        offered_at_ms,
        answered_at_ms,
        ended_at_ms,
        outcome,
        agent_id,
        offer_count,
        handled_by,
        taken_over_at_ms,
    ) = row;
    let offer_count = u32::try_from(offer_count).map_err(|_| StoreError::Corrupt {
        table: "calls",
        column: "offer_count",
        value: offer_count.to_string(),
    })?;
    Ok(CallRecord {
        id,
        citizen_session,
        service,
        queued_at_ms,
        offered_at_ms,
        answered_at_ms,
        ended_at_ms,
        outcome,
        agent_id,
        offer_count,
        handled_by,
        taken_over_at_ms,
    })
}

/// The support mode named by `name` (`SupportMode::as_str`), if any. A new mode also needs a
/// migration: `audit_log.mode` has a CHECK listing the modes.
pub(crate) fn parse_support_mode(name: &str) -> Option<SupportMode> {
    [SupportMode::Monitor, SupportMode::Whisper, SupportMode::Barge, SupportMode::TakeOver]
        .into_iter()
        .find(|m| m.as_str() == name)
}

pub(crate) fn audit_entry_from_row(row: AuditRow) -> Result<AuditEntry, StoreError> {
    let (id, at_ms, actor_id, call_id, action, mode, detail) = row;
    let action = AuditAction::parse(&action).ok_or(StoreError::Corrupt {
        table: "audit_log",
        column: "action",
        value: action,
    })?;
    let mode = mode
        .map(|m| {
            parse_support_mode(&m).ok_or(StoreError::Corrupt {
                table: "audit_log",
                column: "mode",
                value: m,
            })
        })
        .transpose()?;
    Ok(AuditEntry { id, at_ms, actor_id, call_id, action, mode, detail })
}

pub(crate) fn call_counts_from_row(row: CallCountsRow) -> Result<CallCounts, StoreError> {
    let count = |column: &'static str, n: i64| {
        u64::try_from(n).map_err(|_| StoreError::Corrupt {
            table: "calls",
            column,
            value: n.to_string(),
        })
    };
    let (answered, abandoned, answered_within) = row;
    Ok(CallCounts {
        answered: count("answered_at_ms", answered)?,
        abandoned: count("outcome", abandoned)?,
        answered_within: count("answered_at_ms", answered_within)?,
    })
}
