//! The rules a new password must meet (set by an administrator, the `voicedesk user` command,
//! or the user): at least [`MIN_PASSWORD_CHARS`] characters, at most [`MAX_PASSWORD_BYTES`]
//! bytes, not the username, not one repeated character, and not on the list of common passwords.
//!
//! The list (`signaling/assets/common-passwords.txt`, shipped in the binary) is the 11,611
//! passwords of eight characters or more among the 30,000 most common ones that zxcvbn 4.4.2
//! ships (Dan Wheeler and Dropbox, MIT licence; drawn from leaked password sets), plus a few
//! common in Chinese leaks (`woaini1314`, `aa123456`, …) and this product's name. The check is
//! case-insensitive and also catches a listed password with digits or `!` appended. Passwords
//! themselves are hashed with argon2id (`auth.rs`); existing ones (the demo's `demo`) are not
//! re-checked.

use std::collections::HashSet;
use std::sync::OnceLock;

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// The longest password accepted (argon2 takes any length; this bounds the work per request).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("the password needs at least {min} characters")]
    TooShort {
        /// The minimum.
        min: usize,
    },
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    #[error("the password is longer than {max} bytes")]
    TooLong {
        /// The maximum.
        max: usize,
    },
    /// On the list of common passwords, the username, or one repeated character.
    #[error("the password is too common or too easy to guess")]
    Common,
}

impl PasswordRejected {
    /// A stable code for APIs and translations: `password_too_short`, `password_too_long`,
    /// `password_common`.
    pub fn code(&self) -> &'static str {
        match self {
            PasswordRejected::TooShort { .. } => "password_too_short",
            PasswordRejected::TooLong { .. } => "password_too_long",
            PasswordRejected::Common => "password_common",
        }
    }
}

fn common_passwords() -> &'static HashSet<&'static str> {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("../assets/common-passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Checks a new password for the account `username`.
pub fn check_new_password(password: &str, username: &str) -> Result<(), PasswordRejected> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordRejected::TooLong { max: MAX_PASSWORD_BYTES });
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordRejected::TooShort { min: MIN_PASSWORD_CHARS });
    }
    let lower = password.to_lowercase();
    let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c == '!');
    let list = common_passwords();
    let mut chars = lower.chars();
    let first = chars.next();
    let repeated = chars.all(|c| Some(c) == first);
    if list.contains(lower.as_str())
        || (stem.chars().count() >= 6 && list.contains(stem))
        || (!username.is_empty() && lower.contains(&username.to_lowercase()))
        || repeated
    {
        return Err(PasswordRejected::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_long_and_common_passwords_are_refused() {
        assert_eq!(
            check_new_password("short", "wang"),
            Err(PasswordRejected::TooShort { min: MIN_PASSWORD_CHARS })
        );
        assert_eq!(
            check_new_password(&"x".repeat(2000), "wang"),
            Err(PasswordRejected::TooLong { max: MAX_PASSWORD_BYTES })
        );
        for common in [
            "qwertyuiop",
            "1qaz2wsx3edc",
            "Password123",
            "woaini1314",
            "aaaaaaaaaaaa",
            "wangfang2026",
            "baseball2024!",
        ] {
            assert_eq!(
                check_new_password(common, "wangfang"),
                Err(PasswordRejected::Common),
                "{common}"
            );
        }
    }

    #[test]
    fn a_reasonable_password_is_accepted() {
        assert_eq!(check_new_password("社保热线 counter 7", "wangfang"), Ok(()));
        assert_eq!(check_new_password("blue-heron-41-lantern", "wangfang"), Ok(()));
    }

    #[test]
    fn the_list_is_loaded() {
        assert!(common_passwords().len() > 11_000);
    }
}
