//! The plain rows the store reads and writes. Times are Unix epoch milliseconds.

use std::fmt;

use voicedesk_protocol::Role;

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
}

impl CallRecord {
    /// Whether the call has not ended yet.
    pub fn is_open(&self) -> bool {
        self.ended_at_ms.is_none()
    }
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
);

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
    })
}
