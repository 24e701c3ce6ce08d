//! Accounts (change 0008): the state of a staff-side account beyond its change-0001 columns
//! (Latin name, disabled, must change password), who is signed in, failed sign-ins, and the
//! admin audit log — one narrow trait, [`AccountStore`], implemented for both backends.
//!
//! The queries are the common dialect of SQLite and Postgres, written once in
//! `impl<S: Backend> AccountStore for S`, each body run on the store's pool by `on_pool!` (see
//! `backend.rs`).

use serde::Serialize;
use voicedesk_protocol::Role;

use crate::StoreError;
use crate::backend::{Backend, on_pool};
use crate::model::parse_role;

/// A staff-side account as an administrator sees it (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Stable opaque id.
    pub id: String,
    /// Login name, unique (see [`validate_username`]).
    pub username: String,
    /// The name in Chinese characters (shown to citizens and colleagues).
    pub display_name: String,
    /// The name in Latin letters (may be empty).
    pub name_latin: String,
    /// Agent, staff or admin.
    pub role: Role,
    /// When the account was created.
    pub created_at_ms: i64,
    /// Set while the account is disabled: it keeps its history and cannot sign in.
    pub disabled_at_ms: Option<i64>,
    /// Set when an administrator chose the password: the user must change it at next sign-in.
    pub must_change_password: bool,
}

/// An account to create. The caller hashes the password and chooses the id and time.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// Stable opaque id.
    pub id: String,
    /// Login name (see [`validate_username`]).
    pub username: String,
    /// The name in Chinese characters.
    pub display_name: String,
    /// The name in Latin letters (may be empty).
    pub name_latin: String,
    /// Never [`Role::Citizen`].
    pub role: Role,
    /// argon2 PHC string.
    pub password_hash: String,
    /// When.
    pub created_at_ms: i64,
    /// Whether the user must choose a new password at the first sign-in.
    pub must_change_password: bool,
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// What an administrator edits of an existing account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProfile {
    /// The name in Chinese characters.
    pub display_name: String,
    /// The name in Latin letters (may be empty).
    pub name_latin: String,
    /// Agent, staff or admin.
    pub role: Role,
}

/// A signed-in member's session, for "who is signed in".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveSession {
    /// The SHA-256 of the token (hex): identifies the session without being a credential.
    pub id: String,
    /// The user.
    pub user_id: String,
    /// Their login name.
    pub username: String,
    /// Their name.
    pub display_name: String,
    /// The role the session was opened with.
    pub role: Role,
    /// When they signed in.
    pub created_at_ms: i64,
    /// When the session expires.
    pub expires_at_ms: i64,
}

/// The failed sign-ins counted under one key (an account name or a client address).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignInFailures {
    /// Failures since the count was last reset.
    pub failures: u32,
    /// The last failure.
    pub last_failure_at_ms: i64,
    /// No attempt is evaluated before this time (0: not locked).
    pub locked_until_ms: i64,
}

/// An entry to append to the admin audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdminAudit {
    /// When.
    pub at_ms: i64,
    /// The administrator; `None` for the `voicedesk user` command or the server itself.
    pub actor_id: Option<String>,
    /// Who, as shown (a username, `shell`, `server`).
    pub actor_name: String,
    /// What: `user.create`, `user.disable`, `skill.update`, `sign_in.locked`, …
    pub action: String,
    /// Which object: `user:<username>`, `skill:<id>`, `address:<ip>`, …
    pub target: String,
    /// The object before, as JSON (`None`: it did not exist).
    pub before_json: Option<String>,
    /// The object after, as JSON (`None`: it was deleted).
    pub after_json: Option<String>,
    /// The client address of the request, if any.
    pub address: Option<String>,
}

/// A stored admin audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminAuditEntry {
    /// Grows with every append: newest is highest.
    pub id: i64,
    /// When.
    pub at_ms: i64,
    /// The administrator, if any.
    pub actor_id: Option<String>,
    /// Who, as shown.
    pub actor_name: String,
    /// What.
    pub action: String,
    /// Which object.
    pub target: String,
    /// Before, as JSON.
    pub before_json: Option<String>,
    /// After, as JSON.
    pub after_json: Option<String>,
    /// The client address.
    pub address: Option<String>,
}

/// The longest display or Latin name.
pub const MAX_NAME_CHARS: usize = 64;

/// A login name: 2–32 characters of lower-case ASCII letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit.
pub fn validate_username(username: &str) -> Result<(), StoreError> {
    let ok = (2..=32).contains(&username.len())
        && username.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_' || b == b'-'
        })
        && username.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "username",
            username,
            "2-32 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
        ))
    }
}

fn validate_profile(display_name: &str, name_latin: &str, role: Role) -> Result<(), StoreError> {
    if display_name.trim().is_empty() || display_name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid("display_name", display_name, "a name of 1-64 characters"));
    }
    if name_latin.chars().count() > MAX_NAME_CHARS || name_latin.chars().any(|c| c.is_control()) {
        return Err(invalid("name_latin", name_latin, "up to 64 characters"));
    }
    if role == Role::Citizen {
        return Err(StoreError::InvalidUserRole(role));
    }
    Ok(())
}

fn invalid(field: &'static str, value: &str, expected: &'static str) -> StoreError {
    StoreError::InvalidValue {
        entity: "account",
        field,
        value: value.chars().take(64).collect(),
        expected,
    }
}

type AccountRow = (String, String, String, String, String, i64, Option<i64>, i32);
type AuditRow = (
    i64,
    i64,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);
type SessionRow = (String, String, String, String, String, i64, i64);

/// Columns of `users` in [`AccountRow`] order.
macro_rules! account_columns {
    () => {
        "id, username, display_name, name_latin, role, created_at_ms, disabled_at_ms, \
         must_change_password"
    };
}

fn account_from_row(row: AccountRow) -> Result<Account, StoreError> {
    let (id, username, display_name, name_latin, role, created_at_ms, disabled_at_ms, must) = row;
    Ok(Account {
        id,
        username,
        display_name,
        name_latin,
        role: parse_role("users", role)?,
        created_at_ms,
        disabled_at_ms,
        must_change_password: must != 0,
    })
}

fn audit_from_row(row: AuditRow) -> AdminAuditEntry {
    let (id, at_ms, actor_id, actor_name, action, target, before_json, after_json, address) = row;
    AdminAuditEntry {
        id,
        at_ms,
        actor_id,
        actor_name,
        action,
        target,
        before_json,
        after_json,
        address,
    }
}

fn session_from_row(row: SessionRow) -> Result<ActiveSession, StoreError> {
    let (id, user_id, username, display_name, role, created_at_ms, expires_at_ms) = row;
    Ok(ActiveSession {
        id,
        user_id,
        username,
        display_name,
        role: parse_role("sessions", role)?,
        created_at_ms,
        expires_at_ms,
    })
}

/// Accounts, sessions of members, failed sign-ins and the admin audit log. Every write is
/// committed before the call returns.
#[async_trait::async_trait]
pub trait AccountStore: Send + Sync {
    /// Every account, by username.
    async fn accounts(&self) -> Result<Vec<Account>, StoreError>;

    /// The account with this id.
    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError>;

    /// The account with this username and its password hash (for signing in).
    async fn credentials(&self, username: &str) -> Result<Option<(Account, String)>, StoreError>;

    /// Creates an account. A username or profile breaking the rules is
    /// [`StoreError::InvalidValue`] (citizen role: [`StoreError::InvalidUserRole`]); a taken
    /// username is [`StoreError::Conflict`] (entity `"user"`, key `"username"`). Either way
    /// nothing is written.
    async fn create_account(&self, account: &NewAccount) -> Result<Account, StoreError>;

    /// Replaces the names and role. Unknown id: [`StoreError::NotFound`]; invalid values as for
    /// [`AccountStore::create_account`]. Returns the account as stored.
    async fn update_account(
        &self,
        id: &str,
        profile: &AccountProfile,
    ) -> Result<Account, StoreError>;

    /// Disables (`Some(at_ms)`) or enables (`None`) the account. Disabling deletes every
    /// session of the user in the same transaction. Unknown id: [`StoreError::NotFound`].
    async fn set_account_disabled(
        &self,
        id: &str,
        disabled_at_ms: Option<i64>,
    ) -> Result<Account, StoreError>;

    /// Sets the password hash and whether it must be changed at next sign-in, and deletes every
    /// session of the user except `keep_session` (a token hash), in one transaction. Unknown
    /// id: [`StoreError::NotFound`].
    async fn set_password(
        &self,
        id: &str,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Members' sessions valid at `now_ms`, newest first (citizens' are not listed).
    async fn active_sessions(&self, now_ms: i64) -> Result<Vec<ActiveSession>, StoreError>;

    /// Deletes every session of the user; returns how many.
    async fn delete_user_sessions(&self, user_id: &str) -> Result<u64, StoreError>;

    /// The failed sign-ins counted under `key`.
    async fn sign_in_failures(&self, key: &str) -> Result<Option<SignInFailures>, StoreError>;

    /// Stores the count under `key` (created or replaced).
    async fn put_sign_in_failures(
        &self,
        key: &str,
        failures: &SignInFailures,
    ) -> Result<(), StoreError>;

    /// Forgets the count under `key`.
    async fn clear_sign_in_failures(&self, key: &str) -> Result<(), StoreError>;

    /// Appends to the admin audit log and returns the entry's id. An `actor_id` that does not
    /// exist is [`StoreError::InvalidReference`]; nothing is written.
    async fn append_admin_audit(&self, entry: &NewAdminAudit) -> Result<i64, StoreError>;

    /// The admin audit log, newest first: at most `limit` (≤ 1000) entries with an id below
    /// `before_id` when given.
    async fn admin_audit(
        &self,
        limit: u32,
        before_id: Option<i64>,
    ) -> Result<Vec<AdminAuditEntry>, StoreError>;
}

#[async_trait::async_trait]
impl<S: Backend> AccountStore for S {
    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, AccountRow>(concat!(
                "SELECT ",
                account_columns!(),
                " FROM users ORDER BY username"
            ))
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(account_from_row)
            .collect()
        })
    }

    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, AccountRow>(concat!(
                "SELECT ",
                account_columns!(),
                " FROM users WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .map(account_from_row)
            .transpose()
        })
    }

    async fn credentials(&self, username: &str) -> Result<Option<(Account, String)>, StoreError> {
        on_pool!(self.db(), |pool| {
            let row = sqlx::query_as::<
                _,
                (String, String, String, String, String, i64, Option<i64>, i32, String),
            >(concat!(
                "SELECT ",
                account_columns!(),
                ", password_hash FROM users WHERE username = $1"
            ))
            .bind(username)
            .fetch_optional(pool)
            .await?;
            row.map(|(a, b, c, d, e, f, g, h, hash)| {
                account_from_row((a, b, c, d, e, f, g, h)).map(|acc| (acc, hash))
            })
            .transpose()
        })
    }

    async fn create_account(&self, account: &NewAccount) -> Result<Account, StoreError> {
        on_pool!(self.db(), |pool| {
            validate_username(&account.username)?;
            validate_profile(&account.display_name, &account.name_latin, account.role)?;
            sqlx::query(
                "INSERT INTO users (id, username, display_name, name_latin, role, \
             password_hash, created_at_ms, must_change_password) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&account.id)
            .bind(&account.username)
            .bind(account.display_name.trim())
            .bind(account.name_latin.trim())
            .bind(account.role.as_str())
            .bind(&account.password_hash)
            .bind(account.created_at_ms)
            .bind(i32::from(account.must_change_password))
            .execute(pool)
            .await
            .map_err(|e| match crate::error::constraint_kind(&e) {
                Some(sqlx::error::ErrorKind::UniqueViolation)
                    if crate::error::constraint_mentions(&e, "username") =>
                {
                    StoreError::Conflict {
                        entity: "user",
                        key: "username",
                        value: account.username.clone(),
                    }
                }
                Some(sqlx::error::ErrorKind::UniqueViolation) => {
                    StoreError::Conflict { entity: "user", key: "id", value: account.id.clone() }
                }
                _ => StoreError::Database(e),
            })?;
            self.account(&account.id)
                .await?
                .ok_or_else(|| StoreError::NotFound { entity: "user", id: account.id.clone() })
        })
    }

    async fn update_account(
        &self,
        id: &str,
        profile: &AccountProfile,
    ) -> Result<Account, StoreError> {
        on_pool!(self.db(), |pool| {
            validate_profile(&profile.display_name, &profile.name_latin, profile.role)?;
            let done = sqlx::query(
                "UPDATE users SET display_name = $2, name_latin = $3, role = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(profile.display_name.trim())
            .bind(profile.name_latin.trim())
            .bind(profile.role.as_str())
            .execute(pool)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound { entity: "user", id: id.to_owned() });
            }
            self.account(id)
                .await?
                .ok_or_else(|| StoreError::NotFound { entity: "user", id: id.to_owned() })
        })
    }

    async fn set_account_disabled(
        &self,
        id: &str,
        disabled_at_ms: Option<i64>,
    ) -> Result<Account, StoreError> {
        on_pool!(self.db(), |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("UPDATE users SET disabled_at_ms = $2 WHERE id = $1")
                .bind(id)
                .bind(disabled_at_ms)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound { entity: "user", id: id.to_owned() });
            }
            if disabled_at_ms.is_some() {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            self.account(id)
                .await?
                .ok_or_else(|| StoreError::NotFound { entity: "user", id: id.to_owned() })
        })
    }

    async fn set_password(
        &self,
        id: &str,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
    ) -> Result<(), StoreError> {
        on_pool!(self.db(), |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE users SET password_hash = $2, must_change_password = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(password_hash)
            .bind(i32::from(must_change))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound { entity: "user", id: id.to_owned() });
            }
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                .bind(id)
                .bind(keep_session.unwrap_or(""))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    async fn active_sessions(&self, now_ms: i64) -> Result<Vec<ActiveSession>, StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, SessionRow>(
                "SELECT s.token_hash, u.id, u.username, u.display_name, s.role, \
             s.created_at_ms, s.expires_at_ms \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.expires_at_ms > $1 ORDER BY s.created_at_ms DESC, s.token_hash",
            )
            .bind(now_ms)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(session_from_row)
            .collect()
        })
    }

    async fn delete_user_sessions(&self, user_id: &str) -> Result<u64, StoreError> {
        on_pool!(self.db(), |pool| {
            let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        })
    }

    async fn sign_in_failures(&self, key: &str) -> Result<Option<SignInFailures>, StoreError> {
        on_pool!(self.db(), |pool| {
            let row = sqlx::query_as::<_, (i32, i64, i64)>(
                "SELECT failures, last_failure_at_ms, locked_until_ms \
             FROM sign_in_failures WHERE key = $1",
            )
            .bind(key)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(failures, last_failure_at_ms, locked_until_ms)| SignInFailures {
                failures: failures.max(0) as u32,
                last_failure_at_ms,
                locked_until_ms,
            }))
        })
    }

    async fn put_sign_in_failures(
        &self,
        key: &str,
        failures: &SignInFailures,
    ) -> Result<(), StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query(
                "INSERT INTO sign_in_failures (key, failures, last_failure_at_ms, \
             locked_until_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, \
             last_failure_at_ms = excluded.last_failure_at_ms, \
             locked_until_ms = excluded.locked_until_ms",
            )
            .bind(key)
            .bind(failures.failures.min(i32::MAX as u32) as i32)
            .bind(failures.last_failure_at_ms)
            .bind(failures.locked_until_ms)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    async fn clear_sign_in_failures(&self, key: &str) -> Result<(), StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query("DELETE FROM sign_in_failures WHERE key = $1")
                .bind(key)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    async fn append_admin_audit(&self, entry: &NewAdminAudit) -> Result<i64, StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO admin_audit (at_ms, actor_id, actor_name, action, target, \
             before_json, after_json, address) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(entry.at_ms)
            .bind(&entry.actor_id)
            .bind(&entry.actor_name)
            .bind(&entry.action)
            .bind(&entry.target)
            .bind(&entry.before_json)
            .bind(&entry.after_json)
            .bind(&entry.address)
            .fetch_one(pool)
            .await
            .map_err(|e| match crate::error::constraint_kind(&e) {
                Some(sqlx::error::ErrorKind::ForeignKeyViolation) => StoreError::InvalidReference {
                    entity: "admin audit entry",
                    target: "user",
                    id: entry.actor_id.clone().unwrap_or_default(),
                },
                _ => StoreError::Database(e),
            })
        })
    }

    async fn admin_audit(
        &self,
        limit: u32,
        before_id: Option<i64>,
    ) -> Result<Vec<AdminAuditEntry>, StoreError> {
        on_pool!(self.db(), |pool| {
            let rows = sqlx::query_as::<_, AuditRow>(
                "SELECT id, at_ms, actor_id, actor_name, action, target, before_json, \
             after_json, address FROM admin_audit WHERE id < $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(i64::from(limit.min(1000)))
            .fetch_all(pool)
            .await?;
            Ok(rows.into_iter().map(audit_from_row).collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rule() {
        for ok in ["agent1", "wang.fang", "li_ming-2", "a1"] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "Agent1", "-lead", "王芳", "has space", &"x".repeat(33)] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_profile("王芳", "Wang Fang", Role::Agent).is_ok());
        assert!(validate_profile("  ", "", Role::Agent).is_err());
        assert!(validate_profile("王芳", "Wang\nFang", Role::Agent).is_err());
        assert!(validate_profile("王芳", "", Role::Citizen).is_err());
    }
}
