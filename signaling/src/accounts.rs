//! Account operations shared by the admin API and the `voicedesk user` command: create,
//! change, disable, enable, set a password. Each checks its input (the password rules of
//! [`crate::passwords`], the store's rules for names), commits, then writes the admin audit log.
//! Bad input changes nothing.

use std::net::IpAddr;

use rand::Rng;
use serde_json::json;
use voicedesk_protocol::Role;
use voicedesk_store::{Account, AccountProfile, NewAccount, Store, StoreError};

use crate::auth::{hash_password, on_password_thread};
use crate::clock::now_ms;
use crate::passwords::{PasswordRejected, check_new_password};

/// Who makes a change (for the admin audit log).
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The administrator's user id (`None`: the `voicedesk user` command).
    pub id: Option<&'a str>,
    /// Shown in the log: the administrator's username, or `shell`.
    pub name: &'a str,
    /// The client address of the request.
    pub address: Option<IpAddr>,
}

impl Actor<'static> {
    /// The `voicedesk user` command on the server's machine.
    pub const SHELL: Actor<'static> = Actor { id: None, name: "shell", address: None };
}

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The new password breaks a rule.
    #[error(transparent)]
    Password(#[from] PasswordRejected),
    /// The last enabled administrator cannot be disabled or lose the admin role.
    #[error("this is the last enabled administrator: create another one first")]
    LastAdmin,
    /// An administrator cannot disable their own account (they would lock themselves out).
    #[error("you cannot disable your own account")]
    OwnAccount,
    /// The store refused (invalid value, taken username, unknown account) or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccountError {
    /// A stable code for APIs: `password_too_short`, `last_admin`, `conflict`, …
    pub fn code(&self) -> &'static str {
        match self {
            AccountError::Password(p) => p.code(),
            AccountError::LastAdmin => "last_admin",
            AccountError::OwnAccount => "own_account",
            AccountError::Store(StoreError::Conflict { .. }) => "conflict",
            AccountError::Store(StoreError::NotFound { .. }) => "not_found",
            AccountError::Store(e) if e.is_client_error() => "bad_request",
            AccountError::Store(_) => "internal",
        }
    }

    /// The field the error is about, for showing it next to that field.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            AccountError::Password(_) => Some("password"),
            AccountError::Store(StoreError::InvalidValue { field, .. }) => Some(field),
            AccountError::Store(StoreError::Conflict { key: "username", .. }) => Some("username"),
            AccountError::Store(StoreError::InvalidUserRole(_)) => Some("role"),
            _ => None,
        }
    }
}

/// An account to create.
#[derive(Clone)]
pub struct NewAccountRequest {
    /// Login name.
    pub username: String,
    /// The name in Chinese characters.
    pub display_name: String,
    /// The name in Latin letters.
    pub name_latin: String,
    /// Agent, staff or admin.
    pub role: Role,
    /// The first password; `None` generates one (returned once).
    pub password: Option<String>,
    /// The user must choose a new password at the first sign-in.
    pub must_change_password: bool,
}

/// A random first password that meets the rules: 14 characters from an alphabet without
/// look-alikes (no 0/O, 1/l/I).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..14).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

async fn hash(password: String) -> String {
    on_password_thread(move || hash_password(&password)).await
}

fn audit_value(account: &Account) -> serde_json::Value {
    json!(account)
}

async fn audit(
    store: &dyn Store,
    actor: Actor<'_>,
    action: &str,
    account: &Account,
    before: Option<&Account>,
    after: Option<&Account>,
) {
    crate::admin_audit::append(
        store,
        actor.id,
        actor.name,
        action,
        &format!("user:{}", account.username),
        before.map(audit_value),
        after.map(audit_value),
        actor.address,
    )
    .await;
}

/// Creates an account; returns it and the generated password, if one was generated.
pub async fn create(
    store: &dyn Store,
    actor: Actor<'_>,
    request: NewAccountRequest,
) -> Result<(Account, Option<String>), AccountError> {
    let username = request.username.trim().to_owned();
    voicedesk_store::validate_username(&username)?;
    let generated = request.password.is_none().then(generate_password);
    let password = request.password.or_else(|| generated.clone()).unwrap_or_default();
    check_new_password(&password, &username)?;
    let account = store
        .create_account(&NewAccount {
            id: uuid::Uuid::new_v4().to_string(),
            username,
            display_name: request.display_name,
            name_latin: request.name_latin,
            role: request.role,
            password_hash: hash(password).await,
            created_at_ms: now_ms(),
            must_change_password: request.must_change_password || generated.is_some(),
        })
        .await?;
    audit(store, actor, "user.create", &account, None, Some(&account)).await;
    Ok((account, generated))
}

/// The account with this username.
pub async fn by_username(store: &dyn Store, username: &str) -> Result<Account, AccountError> {
    store
        .credentials(username)
        .await?
        .map(|(account, _)| account)
        .ok_or_else(|| StoreError::NotFound { entity: "user", id: username.to_owned() }.into())
}

async fn load(store: &dyn Store, id: &str) -> Result<Account, AccountError> {
    store
        .account(id)
        .await?
        .ok_or_else(|| StoreError::NotFound { entity: "user", id: id.to_owned() }.into())
}

/// Whether another enabled administrator than `id` exists.
async fn another_admin(store: &dyn Store, id: &str) -> Result<bool, AccountError> {
    Ok(store
        .accounts()
        .await?
        .iter()
        .any(|a| a.id != id && a.role == Role::Admin && a.disabled_at_ms.is_none()))
}

/// Changes the names and role. The last enabled administrator keeps the admin role.
pub async fn update(
    store: &dyn Store,
    actor: Actor<'_>,
    id: &str,
    profile: AccountProfile,
) -> Result<Account, AccountError> {
    let before = load(store, id).await?;
    if before.role == Role::Admin
        && profile.role != Role::Admin
        && before.disabled_at_ms.is_none()
        && !another_admin(store, id).await?
    {
        return Err(AccountError::LastAdmin);
    }
    let after = store.update_account(id, &profile).await?;
    audit(store, actor, "user.update", &after, Some(&before), Some(&after)).await;
    Ok(after)
}

/// Disables or enables the account. Disabling deletes its sessions at once (the caller tells
/// the core to close its console). The last enabled administrator and one's own account cannot
/// be disabled.
pub async fn set_disabled(
    store: &dyn Store,
    actor: Actor<'_>,
    id: &str,
    disabled: bool,
) -> Result<Account, AccountError> {
    let before = load(store, id).await?;
    if disabled && actor.id == Some(id) {
        return Err(AccountError::OwnAccount);
    }
    if disabled && before.role == Role::Admin && !another_admin(store, id).await? {
        return Err(AccountError::LastAdmin);
    }
    if disabled == before.disabled_at_ms.is_some() {
        return Ok(before);
    }
    let after = store.set_account_disabled(id, disabled.then(now_ms)).await?;
    let action = if disabled { "user.disable" } else { "user.enable" };
    audit(store, actor, action, &after, Some(&before), Some(&after)).await;
    Ok(after)
}

/// An administrator sets a new password (`None`: generated and returned): every session of the
/// user ends and the user must change it at the next sign-in.
pub async fn reset_password(
    store: &dyn Store,
    actor: Actor<'_>,
    id: &str,
    password: Option<String>,
) -> Result<Option<String>, AccountError> {
    let before = load(store, id).await?;
    let generated = password.is_none().then(generate_password);
    let password = password.or_else(|| generated.clone()).unwrap_or_default();
    check_new_password(&password, &before.username)?;
    store.set_password(id, &hash(password).await, true, None).await?;
    let after = load(store, id).await?;
    audit(store, actor, "user.reset_password", &after, Some(&before), Some(&after)).await;
    Ok(generated)
}

/// A user chooses a new password (the current one checked by the caller): the session
/// `keep_session` (a token hash) stays signed in, every other session of the user ends.
pub async fn change_own_password(
    store: &dyn Store,
    id: &str,
    new_password: String,
    keep_session: &str,
) -> Result<(), AccountError> {
    let account = load(store, id).await?;
    check_new_password(&new_password, &account.username)?;
    store.set_password(id, &hash(new_password).await, false, Some(keep_session)).await?;
    let actor = Actor { id: Some(id), name: &account.username, address: None };
    audit(store, actor, "user.change_own_password", &account, None, None).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_meet_the_rules() {
        for _ in 0..50 {
            let p = generate_password();
            assert_eq!(p.len(), 14);
            assert_eq!(check_new_password(&p, "someone"), Ok(()));
        }
    }
}
