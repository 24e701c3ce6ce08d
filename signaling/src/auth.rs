//! Passwords, session tokens and sessions.
//!
//! - Passwords are stored as argon2id PHC strings.
//! - A session token is 32 random bytes (hex). Only its SHA-256 is stored, so a copy of the
//!   database does not let anyone sign in. Agents get it in an HttpOnly, SameSite=Strict
//!   cookie; citizens get theirs in the `welcome` message (anonymous, resumable).

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sha2::{Digest, Sha256};
use voicedesk_protocol::{Role, UserInfo};
use voicedesk_store::{AccountStore, NewSession, Session, StoreError, User, UserStore};

use crate::clock::now_ms;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "vd_session";

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).expect("16 bytes is a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail")
        .to_string()
}

/// Checks a password against a stored PHC string. A malformed hash is a mismatch.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
        .unwrap_or(false)
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs argon2 work on the one password thread.
///
/// argon2id needs 19 MiB per hash. Run on tokio's blocking pool, every login can land on a
/// different thread, each with its own malloc arena that keeps those 19 MiB after the hash:
/// measured, 50 logins grew the server by 860 MB. One dedicated thread reuses one buffer, and
/// a login storm cannot take more than one core from the media relay.
pub async fn on_password_thread<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> T {
    static WORKER: std::sync::OnceLock<std::sync::mpsc::Sender<Job>> = std::sync::OnceLock::new();
    let worker = WORKER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("password-hashing".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .expect("can start the password thread");
        tx
    });
    let (reply, result) = tokio::sync::oneshot::channel();
    worker
        .send(Box::new(move || {
            let _ = reply.send(job());
        }))
        .expect("the password thread never stops");
    result.await.expect("the password thread runs every job")
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A new opaque session token (64 hex characters).
pub fn new_token() -> String {
    hex::encode(random_bytes::<32>())
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The public face of a user.
pub fn user_info(user: &User) -> UserInfo {
    UserInfo {
        id: user.id.clone(),
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        role: user.role,
    }
}

/// The signed-in user of an account. The password hash is not loaded for a session check.
fn user_of(account: voicedesk_store::Account) -> User {
    User {
        id: account.id,
        username: account.username,
        display_name: account.display_name,
        role: account.role,
        password_hash: String::new(),
        created_at_ms: account.created_at_ms,
    }
}

/// Sessions over the store.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn UserStore>,
    /// The accounts' state (disabled, must change the password) and the sign-in lookup.
    accounts: Arc<dyn AccountStore>,
    ttl_ms: i64,
    /// A real argon2 hash, verified against when the username is unknown, so that a wrong
    /// username takes as long as a wrong password.
    dummy_hash: Arc<str>,
}

/// A valid session with its user (none for citizens).
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The stored session.
    pub session: Session,
    /// The signed-in user.
    pub user: Option<User>,
    /// An administrator set the password: until the user changes it, only `/api/me`,
    /// `/api/password` and `/api/logout` serve this session.
    pub must_change_password: bool,
}

/// What a sign-in attempt came to.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// Signed in: the raw token and the user.
    SignedIn {
        /// The session token for the cookie.
        token: String,
        /// The user.
        user: User,
        /// The user must choose a new password before anything else.
        must_change_password: bool,
    },
    /// Unknown username or wrong password (never told apart).
    Invalid,
    /// The right password of a disabled account.
    Disabled,
}

impl Sessions {
    /// Sessions that live `ttl`.
    pub fn new(
        store: Arc<dyn UserStore>,
        accounts: Arc<dyn AccountStore>,
        ttl: std::time::Duration,
    ) -> Self {
        Self {
            store,
            accounts,
            ttl_ms: ttl.as_millis() as i64,
            dummy_hash: hash_password("not a password").into(),
        }
    }

    /// Checks credentials and opens a session. A wrong username and a wrong password give the
    /// same [`LoginOutcome::Invalid`] after the same work; a disabled account is told only to
    /// someone who gave its password.
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginOutcome, StoreError> {
        let found = self.accounts.credentials(username).await?;
        let hash = found.as_ref().map(|(_, hash)| hash.clone());
        let password = password.to_owned();
        let dummy = self.dummy_hash.clone();
        // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
        let ok = on_password_thread(move || {
            let matches = verify_password(&password, hash.as_deref().unwrap_or(&dummy));
            matches && hash.is_some()
        })
        .await;
        let Some((account, hash)) = found.filter(|_| ok) else { return Ok(LoginOutcome::Invalid) };
        if account.disabled_at_ms.is_some() {
            return Ok(LoginOutcome::Disabled);
        }
        let token = self.open(account.role, Some(account.id.clone())).await?;
        let must_change_password = account.must_change_password;
        let user = User {
            id: account.id,
            username: account.username,
            display_name: account.display_name,
            role: account.role,
            password_hash: hash,
            created_at_ms: account.created_at_ms,
        };
        Ok(LoginOutcome::SignedIn { token, user, must_change_password })
    }

    /// Whether `password` is the user's current one (for a password change).
    pub async fn verify(&self, user_id: &str, password: &str) -> Result<bool, StoreError> {
        let Some(user) = self.store.user_by_id(user_id).await? else { return Ok(false) };
        let password = password.to_owned();
        Ok(on_password_thread(move || verify_password(&password, &user.password_hash)).await)
    }

    /// Opens a session for `role` and returns its raw token.
    pub async fn open(&self, role: Role, user_id: Option<String>) -> Result<String, StoreError> {
        let token = new_token();
        let now = now_ms();
        self.store
            .create_session(&NewSession {
                token_hash: token_hash(&token),
                role,
                user_id,
                created_at_ms: now,
                expires_at_ms: now + self.ttl_ms,
            })
            .await?;
        Ok(token)
    }

    /// Looks up a raw token. Unknown, forged and expired tokens give `None`.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Authenticated>, StoreError> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let Some(session) = self.store.session_by_token_hash(&token_hash(token), now_ms()).await?
        else {
            return Ok(None);
        };
        let (user, must_change_password) = match &session.user_id {
            Some(id) => match self.accounts.account(id).await? {
                Some(account) if account.disabled_at_ms.is_none() => {
                    let must = account.must_change_password;
                    (Some(user_of(account)), must)
                }
                _ => return Ok(None),
            },
            None => (None, false),
        };
        Ok(Some(Authenticated { session, user, must_change_password }))
    }

    /// Ends a session.
    pub async fn logout(&self, token: &str) -> Result<(), StoreError> {
        self.store.delete_session(&token_hash(token)).await
    }
}

/// Reads the session cookie from a `Cookie` header value.
pub fn session_cookie(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_with_the_right_secret() {
        let hash = hash_password("correct horse");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsE", &hash));
        assert!(!verify_password("correct horse", "not a phc string"));
    }

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_ne!(token_hash(&a), a);
        assert_eq!(token_hash(&a), token_hash(&a));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        assert_eq!(session_cookie("a=1; vd_session=abc; b=2"), Some("abc"));
        assert_eq!(session_cookie("a=1"), None);
    }
}
