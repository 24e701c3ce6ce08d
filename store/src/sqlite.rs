//! The SQLite backend: one file on the local disk, the embedded default.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::StoreError;
use crate::backend::{Backend, Db};

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");

/// How long a connection waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite allows one writer at a time; a few connections let reads proceed beside it (WAL).
const MAX_CONNECTIONS: u32 = 4;

/// The [`Store`](crate::Store) on a SQLite database file.
///
/// Every connection runs in WAL mode with `synchronous=FULL` (a commit is on disk before it is
/// acknowledged: `NORMAL` may lose the last commits on power loss), foreign keys on and a 5 s busy
/// timeout.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `path_or_url` and applies the migrations.
    ///
    /// `path_or_url` is either a `sqlite:` URL (`sqlite:///var/lib/voicedesk/db.sqlite`,
    /// `sqlite:data.db`, `sqlite::memory:`) or a plain file path. An in-memory database lives as
    /// long as the store: its pool keeps one connection open for good.
    pub async fn open(path_or_url: &str) -> Result<SqliteStore, StoreError> {
        let in_memory = path_or_url.contains(":memory:") || path_or_url.contains("mode=memory");
        let options = if path_or_url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(path_or_url)?
        } else {
            SqliteConnectOptions::new().filename(path_or_url)
        };
        Self::open_inner(options, in_memory).await
    }

    /// Opens the database described by `options`, after setting on top of them what the store
    /// relies on: create if missing, WAL, `synchronous=FULL`, foreign keys, the busy timeout.
    /// Other settings (extra pragmas, e.g. `max_page_count`) are kept.
    pub async fn open_with(options: SqliteConnectOptions) -> Result<SqliteStore, StoreError> {
        Self::open_inner(options, false).await
    }

    async fn open_inner(
        options: SqliteConnectOptions,
        in_memory: bool,
    ) -> Result<SqliteStore, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let filename = options.get_filename().display().to_string();
        let pool_options = if in_memory {
            // The database disappears with its last connection: never let that one go.
            SqlitePoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(MAX_CONNECTIONS)
        };
        let pool = pool_options.connect_with(options).await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate { backend: "sqlite", source })?;
        tracing::info!(file = %filename, "sqlite store open, migrations applied");
        Ok(SqliteStore { pool })
    }

    /// The connection pool, for what the [`Store`](crate::Store) interface does not cover
    /// (tests, maintenance).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection (checkpointing the WAL); later operations fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl Backend for SqliteStore {
    fn db(&self) -> Db<'_> {
        Db::Sqlite(&self.pool)
    }
}
