//! The one error type of the store.

use sqlx::error::ErrorKind;
use voicedesk_protocol::Role;

/// Everything a [`Store`](crate::Store) operation can fail with.
///
/// The first variants are outcomes a caller branches on (a missing row, a taken name); the last
/// ones are faults of the database or its configuration. Messages name the table and key
/// involved but never a password, a token or a connection URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The row the operation needs does not exist (e.g. marking an unknown call).
    #[error("{entity} {id:?} not found")]
    NotFound {
        /// What was looked for: "call", "user", …
        entity: &'static str,
        /// The id that was not found.
        id: String,
    },

    /// A row with the same unique key already exists (duplicate username, call id, …).
    #[error("{entity} with {key} {value:?} already exists")]
    Conflict {
        /// The kind of row: "user", "session", "call".
        entity: &'static str,
        /// The unique column that clashed: "username", "id", …
        key: &'static str,
        /// The clashing value (never a secret: token hashes are reported as `"<redacted>"`).
        value: String,
    },

    /// The operation needs an open call, but the call has already ended (e.g. taking over a call
    /// that was hung up meanwhile). Ended calls never reopen, so retrying cannot succeed.
    #[error("call {id:?} has already ended")]
    CallEnded {
        /// The call id.
        id: String,
    },

    /// The row is not in a state that allows the operation (replying to a closed message,
    /// handling a follow-up twice, …). Nothing was changed. The state is the one read when the
    /// operation was refused.
    #[error("{entity} {id:?} is {state}: cannot {action}")]
    InvalidTransition {
        /// The kind of row: "message", "rating".
        entity: &'static str,
        /// Its id ("call:<id>" / "message:<id>" for a rating).
        id: String,
        /// The state it is in: "closed", "answered", "handled", "without follow-up", ….
        state: &'static str,
        /// What was refused: "assign", "reply", "close", "mark handled".
        action: &'static str,
    },

    /// The row refers to a row that does not exist (a session for an unknown user, a call
    /// offered to an unknown agent).
    #[error("{entity} refers to {target} {id:?}, which does not exist")]
    InvalidReference {
        /// The kind of row being written.
        entity: &'static str,
        /// The kind of row it refers to.
        target: &'static str,
        /// The id that does not exist.
        id: String,
    },

    /// The row cannot be deleted: other rows still refer to it (a skill that services or calls
    /// use, a disposition that wrap-ups use). Nothing was changed.
    #[error("{entity} {id:?} is still used by {by}")]
    InUse {
        /// The kind of row that was to be deleted: "skill", "disposition".
        entity: &'static str,
        /// Its id or code.
        id: String,
        /// What still refers to it: "services", "calls", "call wrap-ups".
        by: &'static str,
    },

    /// A value the caller passed breaks a rule of the schema (an id that is not snake_case, a
    /// blank name, a priority outside 0..=9, a day that is not a date, notes too long, …).
    /// Checked before anything is written: nothing was changed.
    #[error("invalid {entity} {field} {value:?}: expected {expected}")]
    InvalidValue {
        /// The kind of row: "skill", "service", "call", …
        entity: &'static str,
        /// The field: "id", "priority", …
        field: &'static str,
        /// The value given (long values are cut to 64 characters).
        value: String,
        /// What the field accepts.
        expected: &'static str,
    },

    /// Users are agents, staff or admins; citizens are anonymous and have no user row.
    #[error("a user cannot have the role {:?} (citizens are anonymous)", .0.as_str())]
    InvalidUserRole(Role),

    /// A value read back from the database is not one the store writes (a hand-edited row or a
    /// newer schema).
    #[error("corrupt row in {table}.{column}: unexpected value {value:?}")]
    Corrupt {
        /// Table of the bad value.
        table: &'static str,
        /// Column of the bad value.
        column: &'static str,
        /// The value found.
        value: String,
    },

    /// The URL names no backend this build supports.
    #[error(
        "unsupported store URL scheme {scheme:?}: expected \"sqlite:\", \"postgres://\" or \"postgresql://\""
    )]
    UnsupportedUrl {
        /// The part of the URL before the first ':' (the rest may hold a password and is not kept).
        scheme: String,
    },

    /// Applying the embedded migrations failed (also: the database was migrated by a newer or a
    /// modified version of this program).
    #[error("migrating the {backend} database failed: {source}")]
    Migrate {
        /// "sqlite" or "postgres".
        backend: &'static str,
        /// What went wrong.
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    /// Any other database failure: connection lost, pool timeout, disk full, I/O error, …
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// True for [`StoreError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }

    /// True for [`StoreError::Conflict`].
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }

    /// True for [`StoreError::CallEnded`].
    pub fn is_call_ended(&self) -> bool {
        matches!(self, StoreError::CallEnded { .. })
    }

    /// True for [`StoreError::InvalidTransition`].
    pub fn is_invalid_transition(&self) -> bool {
        matches!(self, StoreError::InvalidTransition { .. })
    }

    /// True for [`StoreError::InvalidReference`].
    pub fn is_invalid_reference(&self) -> bool {
        matches!(self, StoreError::InvalidReference { .. })
    }

    /// True for [`StoreError::InUse`].
    pub fn is_in_use(&self) -> bool {
        matches!(self, StoreError::InUse { .. })
    }

    /// True for [`StoreError::InvalidValue`].
    pub fn is_invalid_value(&self) -> bool {
        matches!(self, StoreError::InvalidValue { .. })
    }

    /// Whether the caller's input is at fault ([`StoreError::InvalidValue`],
    /// [`StoreError::InvalidReference`], [`StoreError::InUse`], [`StoreError::Conflict`],
    /// [`StoreError::InvalidUserRole`], [`StoreError::InvalidTransition`]): an HTTP API answers
    /// 4xx, not 5xx.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            StoreError::InvalidValue { .. }
                | StoreError::InvalidTransition { .. }
                | StoreError::InvalidReference { .. }
                | StoreError::InUse { .. }
                | StoreError::Conflict { .. }
                | StoreError::InvalidUserRole(_)
        )
    }
}

/// The constraint class of a database error, if it is one.
pub(crate) fn constraint_kind(err: &sqlx::Error) -> Option<ErrorKind> {
    err.as_database_error().map(|e| e.kind())
}

/// Whether a constraint error names `needle` (Postgres: in the constraint name, e.g.
/// `users_username_key`; SQLite: in the message, e.g. `UNIQUE constraint failed: users.username`).
pub(crate) fn constraint_mentions(err: &sqlx::Error, needle: &str) -> bool {
    err.as_database_error().is_some_and(|e| {
        e.constraint().is_some_and(|c| c.contains(needle)) || e.message().contains(needle)
    })
}
