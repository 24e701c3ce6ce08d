//! The Postgres backend: the system of record of a cluster.

use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::StoreError;
use crate::backend::{Backend, Db};

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// Connections per node. Postgres serves many nodes; keep each node's share modest.
const MAX_CONNECTIONS: u32 = 10;

/// The [`Store`](crate::Store) on a Postgres database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db?…`) and applies
    /// the migrations (serialised across nodes by sqlx's advisory lock).
    ///
    /// Connect parameters in the URL are honoured, e.g. `?options[search_path]=tenant_a` to place
    /// the tables in another schema.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        Self::connect_with(PgConnectOptions::from_str(url)?).await
    }

    /// Connects with explicit options and applies the migrations.
    pub async fn connect_with(options: PgConnectOptions) -> Result<PostgresStore, StoreError> {
        let database = options.get_database().unwrap_or_default().to_owned();
        let pool =
            PgPoolOptions::new().max_connections(MAX_CONNECTIONS).connect_with(options).await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate { backend: "postgres", source })?;
        tracing::info!(%database, "postgres store connected, migrations applied");
        Ok(PostgresStore { pool })
    }

    /// The connection pool, for what the [`Store`](crate::Store) interface does not cover
    /// (`LISTEN/NOTIFY`, advisory locks for leader election, tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection; later operations fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl Backend for PostgresStore {
    fn db(&self) -> Db<'_> {
        Db::Postgres(&self.pool)
    }
}
