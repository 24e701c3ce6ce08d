//! How one body of query code serves both backends.
//!
//! Every aggregate module (`calls.rs`, `messages.rs`, …) holds its narrow trait and one
//! implementation of it, `impl<S: Backend> CallStore for S`, which [`SqliteStore`] and
//! [`PostgresStore`] both get. A method body borrows the backend's pool with [`Backend::db`] and
//! runs its queries inside [`on_pool!`](crate::backend::on_pool), which expands the body once per
//! backend, so it is written once and type-checked against each pool type:
//!
//! ```ignore
//! let rows = on_pool!(self.db(), |pool| {
//!     sqlx::query("DELETE FROM holidays WHERE day = $1").bind(day).execute(pool).await
//!         .map(|done| done.rows_affected())
//! })?;
//! ```
//!
//! The body must yield the same type on both backends (so `rows_affected()` is taken inside, and
//! rows are decoded into the tuple types of `model.rs`, which decode alike on both).
//!
//! Why this shape: the schema is the same on SQLite and Postgres and the SQL uses the common
//! dialect (`$n` placeholders work on both: sqlx binds SQLite's `$n` by number; times are
//! `BIGINT` epoch milliseconds), so only the pool type differs. Code generic over
//! `sqlx::Database` would need `Encode`/`Decode`/`Type` bounds for every column type and
//! `Executor` bounds for pools and transactions, per function, which would drown the queries; a
//! macro around whole trait impls hides the code from the formatter and from a reader's tools.
//! This macro is five lines, and what it wraps is plain, formatted Rust.
//!
//! [`SqliteStore`]: crate::SqliteStore
//! [`PostgresStore`]: crate::PostgresStore

use sqlx::{PgPool, SqlitePool};

use crate::StoreError;

/// A borrowed pool of either backend: what the aggregate modules run their queries on.
#[derive(Debug, Clone, Copy)]
pub enum Db<'a> {
    /// The embedded default (`SqliteStore`).
    Sqlite(&'a SqlitePool),
    /// The shared system of record of a cluster (`PostgresStore`).
    Postgres(&'a PgPool),
}

impl Db<'_> {
    /// `"sqlite"` or `"postgres"`.
    pub fn name(self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }
}

/// A store on one of the two backends. Implemented by `SqliteStore` and `PostgresStore` only
/// (this module is private, so nothing else can name the trait); every narrow store trait is
/// implemented for every `Backend`.
pub trait Backend: Send + Sync + 'static {
    /// The pool every query of this store runs on.
    fn db(&self) -> Db<'_>;
}

/// Runs `$body` with `$pool` bound to the pool of `$db` (a [`Db`]): the body is expanded once per
/// backend. See the module documentation.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::backend::Db::Sqlite($pool) => $body,
            $crate::backend::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// `rows` tuples of `width` numbered placeholders, row after row: `($1, $2), ($3, $4)` — the
/// `VALUES` list of a statement that writes several rows at once (both backends number `$n`).
pub(crate) fn value_rows(rows: usize, width: usize) -> String {
    let mut list = String::with_capacity(rows * width * 6);
    for row in 0..rows {
        list.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..width {
            if column > 0 {
                list.push_str(", ");
            }
            list.push('$');
            list.push_str(&(row * width + column + 1).to_string());
        }
        list.push(')');
    }
    list
}

/// A lookup of one referenced row: what it is ("user", "call"), a query selecting `1` for an id
/// (`$1`), and the id the write referred to.
pub(crate) type Reference<'a> = (&'static str, &'static str, &'a str);

/// The first `(target, id)` of `refs` whose lookup finds no row: which reference a foreign key
/// violation was about (SQLite does not say).
pub(crate) async fn first_missing(
    db: Db<'_>,
    refs: &[Reference<'_>],
) -> Result<Option<(&'static str, String)>, StoreError> {
    for &(target, sql, id) in refs {
        let found = on_pool!(db, |pool| {
            sqlx::query_scalar::<_, i32>(sql).bind(id).fetch_optional(pool).await
        })?;
        if found.is_none() {
            return Ok(Some((target, id.to_owned())));
        }
    }
    Ok(None)
}

/// Maps a failed write: a foreign key violation becomes an invalid reference to the first of
/// `refs` that does not exist (entity `entity`), anything else stays a database error.
pub(crate) async fn reference_error(
    db: Db<'_>,
    e: sqlx::Error,
    entity: &'static str,
    refs: &[Reference<'_>],
) -> StoreError {
    if !is_foreign_key_violation(&e) {
        return StoreError::Database(e);
    }
    match first_missing(db, refs).await {
        Ok(Some((target, id))) => StoreError::InvalidReference { entity, target, id },
        Ok(None) => StoreError::Database(e),
        Err(lookup) => lookup,
    }
}

/// Whether the error is a foreign key violation.
pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(crate::error::constraint_kind(e), Some(sqlx::error::ErrorKind::ForeignKeyViolation))
}

/// Whether the error is a unique key violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(crate::error::constraint_kind(e), Some(sqlx::error::ErrorKind::UniqueViolation))
}
