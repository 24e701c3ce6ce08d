//! The plain rows the store reads and writes. Times are Unix epoch milliseconds.

use std::fmt;

use serde::{Deserialize, Serialize};
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCall {
    /// Call id, unique.
    pub id: String,
    /// The citizen's opaque identity id (not a token).
    pub citizen_session: String,
    /// The service the citizen chose in the hall.
    pub service: Option<String>,
    /// When the call was queued.
    pub queued_at_ms: i64,
    /// The queue (skill id) the call waits in; must exist. `None`: no particular queue.
    pub skill_id: Option<String>,
    /// 0..=9, higher is served first (normally the service's priority).
    pub priority: i32,
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
    /// The queue (skill id) the call waits or waited in; after a transfer, the last one.
    pub skill_id: Option<String>,
    /// 0..=9, higher is served first.
    pub priority: i32,
    /// How many times the call was transferred to another queue.
    pub transfer_count: u32,
    /// When the call was last transferred; `None` if it never was.
    pub transferred_at_ms: Option<i64>,
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
    Option<String>,
    i32,
    i32,
    Option<i64>,
);
pub(crate) type AuditRow = (i64, i64, String, String, String, Option<String>, Option<String>);
pub(crate) type CallCountsRow = (i64, i64, i64);

pub(crate) fn parse_role(table: &'static str, value: String) -> Result<Role, StoreError> {
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
        skill_id,
        priority,
        transfer_count,
        transferred_at_ms,
    ) = row;
    let count = |column: &'static str, n: i32| {
        u32::try_from(n).map_err(|_| StoreError::Corrupt {
            table: "calls",
            column,
            value: n.to_string(),
        })
    };
    let offer_count = count("offer_count", offer_count)?;
    let transfer_count = count("transfer_count", transfer_count)?;
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
        skill_id,
        priority,
        transfer_count,
        transferred_at_ms,
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

// ---- Catalogue (change 0003) -----------------------------------------------------------------

/// One of the five areas of the virtual service hall (`guidance`, `counter`, `self_service`,
/// `announcements`, `rest`). Fixed by the migrations: the hall's layout knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HallArea {
    /// Stable snake_case id.
    pub id: String,
    /// Simplified Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Display order (ascending, then by id).
    pub sort: i32,
}

/// A skill, which is also a queue: calls for its services wait in it and are offered to the
/// agents who have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skill {
    /// Stable snake_case id (1..=64 characters of `a-z`, `0-9`, `_`, starting with a letter).
    pub id: String,
    /// Simplified Chinese name, not blank.
    pub name_zh: String,
    /// English name, not blank.
    pub name_en: String,
    /// Weekly opening hours, e.g. `mon-fri 09:00-12:00,13:00-17:00`, `always`, `never`. Not
    /// blank; the store does not parse it (the signaling layer validates it).
    pub hours: String,
    /// At most this many calls may wait in the queue; `None`: no cap. Never 0.
    pub max_waiting: Option<u32>,
    /// A call waits at most this long (seconds); `None`: no cap. Never 0.
    pub max_wait_secs: Option<u32>,
    /// Service level target: [`Skill::service_level_pct`] percent of the calls answered within
    /// this many seconds. Set together with the percentage, or neither (`None`: no target).
    #[serde(default)]
    pub service_level_secs: Option<u32>,
    /// Service level target percentage, 1..=100 (see [`Skill::service_level_secs`]).
    #[serde(default)]
    pub service_level_pct: Option<u32>,
    /// Display order (ascending, then by id).
    #[serde(default)]
    pub sort: i32,
    /// When an admin last changed the skill (0: as seeded). The caller sets it.
    #[serde(default)]
    pub updated_at_ms: i64,
    /// Whether the queue's calls are recorded (and so what the hall tells the citizen).
    #[serde(default)]
    pub recording: RecordingPolicy,
}

/// A queue's call recording policy. Stored (and serialised) as its snake_case name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingPolicy {
    /// No call is recorded; the hall says the call is not recorded.
    #[default]
    None,
    /// Every answered call is recorded; the hall says so before the call.
    All,
    /// The agent or staff may start recording during the call; the citizen is told then.
    OnDemand,
}

impl RecordingPolicy {
    /// Every policy, in declaration order.
    pub const ALL: [RecordingPolicy; 3] =
        [RecordingPolicy::None, RecordingPolicy::All, RecordingPolicy::OnDemand];

    /// The stable snake_case name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingPolicy::None => "none",
            RecordingPolicy::All => "all",
            RecordingPolicy::OnDemand => "on_demand",
        }
    }

    /// The policy named by `name` ([`RecordingPolicy::as_str`]), if any.
    pub fn parse(name: &str) -> Option<RecordingPolicy> {
        RecordingPolicy::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// What a citizen does with a service. Stored (and serialised) as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// Looking something up (benefits, contributions, records).
    Inquiry,
    /// Applying for something (enrolment, a benefit, a certification).
    Application,
    /// Changing registered information.
    Modification,
    /// Paying contributions.
    Payment,
    /// An employer (unit) declaration.
    Declaration,
    /// Moving an insurance relationship to another region.
    Transfer,
    /// Anything else (help, feedback, printing).
    Other,
}

impl ServiceKind {
    /// Every kind, in declaration order.
    pub const ALL: [ServiceKind; 7] = [
        ServiceKind::Inquiry,
        ServiceKind::Application,
        ServiceKind::Modification,
        ServiceKind::Payment,
        ServiceKind::Declaration,
        ServiceKind::Transfer,
        ServiceKind::Other,
    ];

    /// The stable snake_case name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Inquiry => "inquiry",
            ServiceKind::Application => "application",
            ServiceKind::Modification => "modification",
            ServiceKind::Payment => "payment",
            ServiceKind::Declaration => "declaration",
            ServiceKind::Transfer => "transfer",
            ServiceKind::Other => "other",
        }
    }

    /// The kind named by `name` ([`ServiceKind::as_str`]), if any.
    pub fn parse(name: &str) -> Option<ServiceKind> {
        ServiceKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

fn enabled_by_default() -> bool {
    true
}

/// A service a citizen can pick in the hall. Its calls queue for `skill_id` with `priority`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// Stable snake_case id, e.g. `pension_benefit_inquiry` (same rules as [`Skill::id`]).
    pub id: String,
    /// The hall area it is found in (a [`HallArea::id`]).
    pub area: String,
    /// The queue its calls wait in (a [`Skill::id`]).
    pub skill_id: String,
    /// What the citizen does.
    pub kind: ServiceKind,
    /// Simplified Chinese name, not blank.
    pub name_zh: String,
    /// English name, not blank.
    pub name_en: String,
    /// One citizen-friendly sentence in Simplified Chinese (may be empty).
    #[serde(default)]
    pub description_zh: String,
    /// One citizen-friendly sentence in English (may be empty).
    #[serde(default)]
    pub description_en: String,
    /// Spanish name; empty: the hall uses its own translation of the service, else English.
    #[serde(default)]
    pub name_es: String,
    /// One citizen-friendly sentence in Spanish (may be empty).
    #[serde(default)]
    pub description_es: String,
    /// 0..=9, higher is served first.
    #[serde(default)]
    pub priority: i32,
    /// Display order (ascending, then by id).
    #[serde(default)]
    pub sort: i32,
    /// Whether citizens are offered it. A disabled service stays in the catalogue.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

/// A code with labels: an away reason or a call disposition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelledCode {
    /// Stable snake_case code (same rules as [`Skill::id`]).
    pub code: String,
    /// Simplified Chinese label, not blank.
    pub name_zh: String,
    /// English label, not blank.
    pub name_en: String,
    /// Display order (ascending, then by code).
    #[serde(default)]
    pub sort: i32,
    /// Set by voicedesk itself (e.g. the away reason `missed_calls`): agents cannot pick it and
    /// admins can neither create, change nor delete it.
    #[serde(default)]
    pub system: bool,
}

/// What a calendar day is. Stored (and serialised) as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayKind {
    /// A public holiday: the human queues are closed whatever their weekly hours say.
    Holiday,
    /// An official make-up working day on a weekend: the Monday-to-Friday hours apply.
    Workday,
}

impl HolidayKind {
    /// The stable snake_case name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            HolidayKind::Holiday => "holiday",
            HolidayKind::Workday => "workday",
        }
    }

    /// The kind named by `name` ([`HolidayKind::as_str`]), if any.
    pub fn parse(name: &str) -> Option<HolidayKind> {
        [HolidayKind::Holiday, HolidayKind::Workday].into_iter().find(|k| k.as_str() == name)
    }
}

/// A public holiday or make-up working day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holiday {
    /// The local date, `YYYY-MM-DD` (a real calendar date).
    pub day: String,
    /// Holiday or make-up working day.
    pub kind: HolidayKind,
    /// Simplified Chinese name, not blank (e.g. 国庆节).
    pub name_zh: String,
    /// English name, not blank.
    pub name_en: String,
}

/// Everything the hall and the routing need to know, as one read (see
/// [`Store::catalogue`](crate::Store::catalogue)). Every list is ordered by `sort`, then id or
/// code; `holidays` by day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalogue {
    /// The five hall areas.
    pub areas: Vec<HallArea>,
    /// The skills (queues).
    pub skills: Vec<Skill>,
    /// Every service, disabled ones included.
    pub services: Vec<Service>,
    /// Why an agent may be away, system reasons included.
    pub away_reasons: Vec<LabelledCode>,
    /// How a call may be wrapped up.
    pub dispositions: Vec<LabelledCode>,
    /// Holidays and make-up working days.
    pub holidays: Vec<Holiday>,
}

/// One skill of one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSkill {
    /// The skill (must exist).
    pub skill_id: String,
    /// 1..=10, higher is more experienced.
    pub level: i32,
}

/// One skill of one user, as [`Store::all_agent_skills`](crate::Store::all_agent_skills)
/// lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserSkill {
    /// The user.
    pub user_id: String,
    /// The skill.
    pub skill_id: String,
    /// 1..=10.
    pub level: i32,
}

/// A user without the password hash, for listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserSummary {
    /// Stable opaque id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Name shown to citizens and colleagues.
    pub display_name: String,
    /// Agent, staff or admin.
    pub role: Role,
    /// When the account was created.
    pub created_at_ms: i64,
}

/// An agent's wrap-up of a call, to save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWrapUp {
    /// The call (must exist).
    pub call_id: String,
    /// The agent (a user id; must exist).
    pub agent_id: String,
    /// A disposition code (must exist).
    pub disposition: String,
    /// Free text, at most [`NewWrapUp::MAX_NOTES_CHARS`] characters (may be empty).
    pub notes: String,
    /// When it was saved.
    pub at_ms: i64,
}

impl NewWrapUp {
    /// The longest `notes` the store accepts, in characters (Unicode scalar values).
    pub const MAX_NOTES_CHARS: usize = 2000;
}

/// A wrap-up as stored: every column of `call_wrapups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrapUp {
    /// The call.
    pub call_id: String,
    /// The agent.
    pub agent_id: String,
    /// The disposition code.
    pub disposition: String,
    /// Free text.
    pub notes: String,
    /// When it was last saved.
    pub at_ms: i64,
}

/// An announcement of the hall's information area (change 0007): published by an admin,
/// current from `published_at_ms` until `expires_at_ms`. Chinese and English are required,
/// Spanish is optional (title and body together).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// 1 to 64 characters of `a-z`, `0-9`, `_` and `-` (a slug for seeded ones, a UUID for
    /// those created through the API).
    pub id: String,
    /// Simplified Chinese title, not blank, at most 200 characters.
    pub title_zh: String,
    /// English title, likewise.
    pub title_en: String,
    /// Spanish title, if the announcement has a Spanish version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_es: Option<String>,
    /// Simplified Chinese text, not blank, at most 5000 characters.
    pub body_zh: String,
    /// English text, likewise.
    pub body_en: String,
    /// Spanish text, with `title_es`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_es: Option<String>,
    /// When it is shown from (may be in the future: scheduled).
    pub published_at_ms: i64,
    /// When it stops being shown; `None`: until removed. Later than `published_at_ms`.
    pub expires_at_ms: Option<i64>,
    /// Listed before the others.
    pub pinned: bool,
    /// The user id of the admin who created it (`system` for the seeded ones).
    pub created_by: String,
    /// When it was last saved.
    pub updated_at_ms: i64,
}

impl Announcement {
    /// Whether it is shown at `now_ms`: published by then and not expired.
    pub fn is_current(&self, now_ms: i64) -> bool {
        self.published_at_ms <= now_ms && self.expires_at_ms.is_none_or(|end| end > now_ms)
    }

    /// The order of the public list: pinned first, then newest publication first, then id.
    pub fn list_order(a: &Announcement, b: &Announcement) -> std::cmp::Ordering {
        b.pinned
            .cmp(&a.pinned)
            .then(b.published_at_ms.cmp(&a.published_at_ms))
            .then_with(|| a.id.cmp(&b.id))
    }
}

pub(crate) type AnnouncementRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    i32,
    String,
    i64,
);

pub(crate) fn announcement_from_row(row: AnnouncementRow) -> Result<Announcement, StoreError> {
    let (
        id,
        title_zh,
        title_en,
        title_es,
        body_zh,
        body_en,
        body_es,
        published_at_ms,
        expires_at_ms,
        pinned,
        created_by,
        updated_at_ms,
    ) = row;
    Ok(Announcement {
        id,
        title_zh,
        title_en,
        title_es,
        body_zh,
        body_en,
        body_es,
        published_at_ms,
        expires_at_ms,
        pinned: flag("announcements", "pinned", pinned)?,
        created_by,
        updated_at_ms,
    })
}

pub(crate) type AreaRow = (String, String, String, i32);
pub(crate) type SkillRow = (
    String,
    String,
    String,
    String,
    Option<i32>,
    Option<i32>,
    i32,
    i64,
    Option<i32>,
    Option<i32>,
    String,
);
pub(crate) type ServiceRow =
    (String, String, String, String, String, String, String, String, i32, i32, i32, String, String);
pub(crate) type CodeRow = (String, String, String, i32, i32);
pub(crate) type HolidayRow = (String, String, String, String);
pub(crate) type UserSkillRow = (String, String, i32);
pub(crate) type UserSummaryRow = (String, String, String, String, i64);
pub(crate) type WrapUpRow = (String, String, String, String, i64);

pub(crate) fn area_from_row(row: AreaRow) -> HallArea {
    let (id, name_zh, name_en, sort) = row;
    HallArea { id, name_zh, name_en, sort }
}

fn positive(
    table: &'static str,
    column: &'static str,
    n: Option<i32>,
) -> Result<Option<u32>, StoreError> {
    n.map(|n| {
        u32::try_from(n).ok().filter(|&n| n > 0).ok_or(StoreError::Corrupt {
            table,
            column,
            value: n.to_string(),
        })
    })
    .transpose()
}

pub(crate) fn skill_from_row(row: SkillRow) -> Result<Skill, StoreError> {
    let (
        id,
        name_zh,
        name_en,
        hours,
        max_waiting,
        max_wait_secs,
        sort,
        updated_at_ms,
        service_level_secs,
        service_level_pct,
        recording,
    ) = row;
    let recording = RecordingPolicy::parse(&recording).ok_or(StoreError::Corrupt {
        table: "skills",
        column: "recording",
        value: recording,
    })?;
    Ok(Skill {
        id,
        name_zh,
        name_en,
        hours,
        max_waiting: positive("skills", "max_waiting", max_waiting)?,
        max_wait_secs: positive("skills", "max_wait_secs", max_wait_secs)?,
        service_level_secs: positive("skills", "service_level_secs", service_level_secs)?,
        service_level_pct: positive("skills", "service_level_pct", service_level_pct)?,
        sort,
        updated_at_ms,
        recording,
    })
}

fn flag(table: &'static str, column: &'static str, n: i32) -> Result<bool, StoreError> {
    match n {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(StoreError::Corrupt { table, column, value: n.to_string() }),
    }
}

pub(crate) fn service_from_row(row: ServiceRow) -> Result<Service, StoreError> {
    let (
        id,
        area,
        skill_id,
        kind,
        name_zh,
        name_en,
        description_zh,
        description_en,
        priority,
        sort,
        enabled,
        name_es,
        description_es,
    ) = row;
    let kind = ServiceKind::parse(&kind).ok_or(StoreError::Corrupt {
        table: "services",
        column: "kind",
        value: kind,
    })?;
    Ok(Service {
        id,
        area,
        skill_id,
        kind,
        name_zh,
        name_en,
        description_zh,
        description_en,
        name_es,
        description_es,
        priority,
        sort,
        enabled: flag("services", "enabled", enabled)?,
    })
}

pub(crate) fn code_from_row(table: &'static str, row: CodeRow) -> Result<LabelledCode, StoreError> {
    let (code, name_zh, name_en, sort, system) = row;
    Ok(LabelledCode { code, name_zh, name_en, sort, system: flag(table, "system", system)? })
}

pub(crate) fn holiday_from_row(row: HolidayRow) -> Result<Holiday, StoreError> {
    let (day, kind, name_zh, name_en) = row;
    let kind = HolidayKind::parse(&kind).ok_or(StoreError::Corrupt {
        table: "holidays",
        column: "kind",
        value: kind,
    })?;
    Ok(Holiday { day, kind, name_zh, name_en })
}

pub(crate) fn user_skill_from_row(row: UserSkillRow) -> UserSkill {
    let (user_id, skill_id, level) = row;
    UserSkill { user_id, skill_id, level }
}

pub(crate) fn user_summary_from_row(row: UserSummaryRow) -> Result<UserSummary, StoreError> {
    let (id, username, display_name, role, created_at_ms) = row;
    let role = parse_role("users", role)?;
    Ok(UserSummary { id, username, display_name, role, created_at_ms })
}

pub(crate) fn wrapup_from_row(row: WrapUpRow) -> WrapUp {
    let (call_id, agent_id, disposition, notes, at_ms) = row;
    WrapUp { call_id, agent_id, disposition, notes, at_ms }
}

// ---- Online messages and service ratings (change 0004) ---------------------------------------

/// Declares a closed set of snake_case names stored in a TEXT column (with a CHECK listing them):
/// the enum, `ALL`, `as_str` and `parse`.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable snake_case name, as stored (and serialised).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value named by `name` (its `as_str`), if any.
            pub fn parse(name: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == name)
            }
        }
    };
}

named_enum! {
    /// What a citizen left: a text or a voice recording.
    MessageKind {
        /// A written message (`body` is required).
        Text = "text",
        /// A voice recording (`voice_file`, `voice_ms` and `voice_bytes` are required).
        Voice = "voice",
    }
}

named_enum! {
    /// Why the citizen was offered to leave a message instead of talking to an agent.
    MessageReason {
        /// Outside business hours or on a holiday.
        Closed = "closed",
        /// The queue was full.
        QueueFull = "queue_full",
        /// No agent with the skill was logged in.
        NoAgents = "no_agents",
        /// The citizen waited as long as the queue allows.
        WaitLimit = "wait_limit",
        /// The citizen chose to leave a message while queued.
        Choice = "choice",
    }
}

named_enum! {
    /// Where a message is in its handling: `new` → `assigned` → `answered` → `closed`.
    ///
    /// Allowed transitions (anything else is [`StoreError::InvalidTransition`], nothing
    /// changed): assign from `new` or `assigned` (re-assigning moves it to another staff member);
    /// reply from `new` or `assigned`; close from `new`, `assigned` or `answered`.
    MessageState {
        /// Nobody has taken it yet.
        New = "new",
        /// A staff member took it.
        Assigned = "assigned",
        /// A staff member replied; the citizen can read the reply and rate it.
        Answered = "answered",
        /// Done (with or without a reply); nothing changes it any more.
        Closed = "closed",
    }
}

impl MessageState {
    /// Whether staff still have to act on it (`new` or `assigned`): only these become overdue.
    pub fn is_open(self) -> bool {
        matches!(self, MessageState::New | MessageState::Assigned)
    }
}

/// A message to store (see [`Store::insert_message`](crate::Store::insert_message)). The store
/// chooses the id, the ticket and the secret code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The client's idempotency key: 16 to 64 characters of `A-Z a-z 0-9 - _` (a UUID). A retry
    /// with the same key and the same content returns the stored message.
    pub client_id: String,
    /// Text or voice.
    pub kind: MessageKind,
    /// The service the citizen chose (free text, 1 to 200 characters; not a reference: services
    /// may be deleted later).
    pub service: Option<String>,
    /// The citizen's name, 1 to [`NewMessage::MAX_NAME_CHARS`] characters, not blank.
    pub name: Option<String>,
    /// A phone number: digits, `+`, `-` and spaces, at least one digit, at most
    /// [`NewMessage::MAX_PHONE_CHARS`] characters.
    pub phone: Option<String>,
    /// The text; required (not blank) for a text message, optional for a voice message; at most
    /// [`NewMessage::MAX_BODY_CHARS`] characters.
    pub body: Option<String>,
    /// Voice only: the file name inside the voice directory, as made by
    /// [`files::new_voice_file_name`](crate::files::new_voice_file_name) (`vm-<32 hex>.opus`).
    /// The file must be durably written ([`files::write_durably`](crate::files::write_durably))
    /// before this is inserted.
    pub voice_file: Option<String>,
    /// Voice only: the recording's length in milliseconds (≥ 0).
    pub voice_ms: Option<i64>,
    /// Voice only: the file's size in bytes (> 0).
    pub voice_bytes: Option<i64>,
    /// The queued call the message came from (must exist), if any.
    pub call_id: Option<String>,
    /// Why the citizen left a message.
    pub reason: MessageReason,
    /// When it arrived.
    pub created_at_ms: i64,
    /// When staff must have answered (not before `created_at_ms`), normally
    /// `Calendar::add_working_days(created_at_ms, 2)`.
    pub due_at_ms: i64,
    /// The anonymous citizen who leaves it (the signaling server's citizen id, at most 64
    /// characters), if known: a retry of `client_id` is the same message only from the same
    /// citizen, and [`Store::citizen_message_count`](crate::Store::citizen_message_count)
    /// counts by it.
    pub citizen_id: Option<String>,
}

impl NewMessage {
    /// The longest name, in characters.
    pub const MAX_NAME_CHARS: usize = 50;
    /// The longest phone number, in characters.
    pub const MAX_PHONE_CHARS: usize = 20;
    /// The longest text (and reply), in characters.
    pub const MAX_BODY_CHARS: usize = 2000;

    /// Whether the stored `m` carries the same content: every field but `voice_file` (a retry may have
    /// written its recording under a new name) and the two times (a retry arrives later).
    pub(crate) fn same_content(&self, m: &Message) -> bool {
        self.client_id == m.client_id
            && self.kind == m.kind
            && self.service == m.service
            && self.name == m.name
            && self.phone == m.phone
            && self.body == m.body
            && self.voice_ms == m.voice_ms
            && self.voice_bytes == m.voice_bytes
            && self.call_id == m.call_id
            && self.reason == m.reason
    }
}

/// A message as stored: every column of `messages` but the secret's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Server-chosen id (a UUID).
    pub id: String,
    /// The client's idempotency key.
    pub client_id: String,
    /// What the citizen quotes: `XXXX-XXXX` (see [`normalize_ticket`](crate::normalize_ticket)).
    pub ticket: String,
    /// Text or voice.
    pub kind: MessageKind,
    /// The service the citizen chose.
    pub service: Option<String>,
    /// The citizen's name.
    pub name: Option<String>,
    /// The citizen's phone number.
    pub phone: Option<String>,
    /// The text.
    pub body: Option<String>,
    /// Voice: the file name inside the voice directory.
    pub voice_file: Option<String>,
    /// Voice: the length in milliseconds.
    pub voice_ms: Option<i64>,
    /// Voice: the file size in bytes.
    pub voice_bytes: Option<i64>,
    /// The call it came from.
    pub call_id: Option<String>,
    /// Why the citizen left a message.
    pub reason: MessageReason,
    /// When it arrived.
    pub created_at_ms: i64,
    /// When it must have been answered.
    pub due_at_ms: i64,
    /// Where it is in its handling.
    pub state: MessageState,
    /// The staff member who took it (kept after the reply and the close).
    pub assigned_to: Option<String>,
    /// When it was (last) assigned.
    pub assigned_at_ms: Option<i64>,
    /// The reply the citizen reads.
    pub reply: Option<String>,
    /// When it was replied to.
    pub replied_at_ms: Option<i64>,
    /// Who replied.
    pub replied_by: Option<String>,
    /// When it was closed.
    pub closed_at_ms: Option<i64>,
    /// Who closed it.
    pub closed_by: Option<String>,
}

impl Message {
    /// Whether it is open (`new` or `assigned`) and was due before `now_ms`.
    pub fn is_overdue(&self, now_ms: i64) -> bool {
        self.state.is_open() && self.due_at_ms < now_ms
    }
}

/// What [`Store::insert_message`](crate::Store::insert_message) returns.
#[derive(Clone, PartialEq, Eq)]
pub struct InsertedMessage {
    /// The stored message (on a retry: the one stored first, unchanged but for its code).
    pub message: Message,
    /// The secret code to show the citizen with the ticket, once: 8 characters of
    /// `23456789ABCDEFGHJKMNPQRSTUVWXYZ`. Only its hash is stored. A retry (same `client_id`,
    /// same content) issues a NEW code and the previous one stops working: a retry usually
    /// means the first answer was lost, and the citizen must not be left without a code. Show
    /// the code of the last answer received.
    pub secret: String,
    /// True when this call stored the message, false when it was a retry of a stored one.
    pub created: bool,
}

// Debug by hand so the secret code never lands in a log line.
impl fmt::Debug for InsertedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InsertedMessage")
            .field("message", &self.message)
            .field("secret", &"<redacted>")
            .field("created", &self.created)
            .finish()
    }
}

/// Which messages to list (see [`Store::messages`](crate::Store::messages)): every condition
/// given must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFilter {
    /// Only messages in this state.
    pub state: Option<MessageState>,
    /// Only overdue messages: open (`new` or `assigned`) with `due_at_ms` before this instant
    /// (pass the current time).
    pub overdue_at_ms: Option<i64>,
    /// At most this many; capped at [`MessageFilter::MAX_LIMIT`].
    pub limit: u32,
}

impl MessageFilter {
    /// The most messages one read returns, whatever `limit` asks for.
    pub const MAX_LIMIT: u32 = 1000;
}

named_enum! {
    /// What a rating is about.
    RatingSubject {
        /// A call (the subject id is a call id).
        Call = "call",
        /// An answered message (the subject id is a message id).
        Message = "message",
        /// A live chat (the subject id is a chat id; change 0013).
        Chat = "chat",
    }
}

named_enum! {
    /// The follow-up of a low rating (levels 1 and 2).
    FollowUp {
        /// Waiting for staff.
        Open = "open",
        /// Staff handled it (with a note).
        Handled = "handled",
    }
}

/// A citizen's rating to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRating {
    /// What is rated.
    pub subject_kind: RatingSubject,
    /// The call or message id (must exist).
    pub subject_id: String,
    /// 1..=5: 5 very satisfied (非常满意), 4 satisfied (满意), 3 basically satisfied (基本满意),
    /// 2 dissatisfied (不满意), 1 very dissatisfied (非常不满意). Levels 1 and 2 open a
    /// follow-up.
    pub level: i32,
    /// Optional comment, at most [`NewRating::MAX_COMMENT_CHARS`] characters (may be empty).
    pub comment: String,
    /// When it was given.
    pub created_at_ms: i64,
}

impl NewRating {
    /// The longest comment, in characters.
    pub const MAX_COMMENT_CHARS: usize = 500;
    /// The longest follow-up note, in characters.
    pub const MAX_NOTE_CHARS: usize = 2000;
    /// Ratings at or below this level need a follow-up.
    pub const FOLLOW_UP_MAX_LEVEL: i32 = 2;
}

/// A rating as stored: every column of `ratings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rating {
    /// What is rated.
    pub subject_kind: RatingSubject,
    /// The call or message id.
    pub subject_id: String,
    /// 1..=5 (5 = very satisfied).
    pub level: i32,
    /// The citizen's comment (may be empty).
    pub comment: String,
    /// When it was given.
    pub created_at_ms: i64,
    /// `None` for levels 3-5; `Open`, then `Handled`, for levels 1-2.
    pub follow_up: Option<FollowUp>,
    /// When staff marked the follow-up handled.
    pub handled_at_ms: Option<i64>,
    /// Who did.
    pub handled_by: Option<String>,
    /// What they noted (may be empty).
    pub note: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    id: String,
    client_id: String,
    ticket: String,
    kind: String,
    service: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    body: Option<String>,
    voice_file: Option<String>,
    voice_ms: Option<i64>,
    voice_bytes: Option<i64>,
    call_id: Option<String>,
    reason: String,
    created_at_ms: i64,
    due_at_ms: i64,
    state: String,
    assigned_to: Option<String>,
    assigned_at_ms: Option<i64>,
    reply: Option<String>,
    replied_at_ms: Option<i64>,
    replied_by: Option<String>,
    closed_at_ms: Option<i64>,
    closed_by: Option<String>,
    pub(crate) secret_hash: String,
}

fn parse_named<T>(
    table: &'static str,
    column: &'static str,
    value: String,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(&value).ok_or(StoreError::Corrupt { table, column, value })
}

impl MessageRow {
    pub(crate) fn id(&self) -> &str {
        &self.id
    }
}

pub(crate) fn message_from_row(row: MessageRow) -> Result<Message, StoreError> {
    Ok(Message {
        kind: parse_named("messages", "kind", row.kind, MessageKind::parse)?,
        reason: parse_named("messages", "reason", row.reason, MessageReason::parse)?,
        state: parse_named("messages", "state", row.state, MessageState::parse)?,
        id: row.id,
        client_id: row.client_id,
        ticket: row.ticket,
        service: row.service,
        name: row.name,
        phone: row.phone,
        body: row.body,
        voice_file: row.voice_file,
        voice_ms: row.voice_ms,
        voice_bytes: row.voice_bytes,
        call_id: row.call_id,
        created_at_ms: row.created_at_ms,
        due_at_ms: row.due_at_ms,
        assigned_to: row.assigned_to,
        assigned_at_ms: row.assigned_at_ms,
        reply: row.reply,
        replied_at_ms: row.replied_at_ms,
        replied_by: row.replied_by,
        closed_at_ms: row.closed_at_ms,
        closed_by: row.closed_by,
    })
}

#[derive(sqlx::FromRow)]
pub(crate) struct RatingRow {
    subject_kind: String,
    subject_id: String,
    level: i32,
    comment: String,
    created_at_ms: i64,
    follow_up: Option<String>,
    handled_at_ms: Option<i64>,
    handled_by: Option<String>,
    note: Option<String>,
}

pub(crate) fn rating_from_row(row: RatingRow) -> Result<Rating, StoreError> {
    Ok(Rating {
        subject_kind: parse_named(
            "ratings",
            "subject_kind",
            row.subject_kind,
            RatingSubject::parse,
        )?,
        follow_up: row
            .follow_up
            .map(|f| parse_named("ratings", "follow_up", f, FollowUp::parse))
            .transpose()?,
        subject_id: row.subject_id,
        level: row.level,
        comment: row.comment,
        created_at_ms: row.created_at_ms,
        handled_at_ms: row.handled_at_ms,
        handled_by: row.handled_by,
        note: row.note,
    })
}

// ---- Voice message access log (change 0005) ------------------------------------------------

/// A staff member opened a voice message's recording (the only action logged so far).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessageAudit {
    /// When (epoch ms).
    pub at_ms: i64,
    /// Who (a user id).
    pub actor_id: String,
    /// Which message.
    pub message_id: String,
}

/// One entry of the message access log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageAuditEntry {
    /// Grows with every append.
    pub id: i64,
    /// When (epoch ms).
    pub at_ms: i64,
    /// Who.
    pub actor_id: String,
    /// Which message.
    pub message_id: String,
}

impl NewMessage {
    /// Checks a client id by the rule [`crate::Store::insert_message`] applies, before any
    /// costly work (a voice message is recorded and written before its row is inserted).
    pub fn check_client_id(client_id: &str) -> Result<(), StoreError> {
        crate::validate::message_client_id(client_id)
    }
}
