//! The self-service assistant's knowledge base: table `kb_articles` (each article stored as the
//! JSON the `knowledge` crate serialises; the search itself lives in that crate).

use crate::StoreError;
use crate::backend::{Backend, on_pool};

/// Knowledge-base articles. Every write is committed before the call returns.
#[async_trait::async_trait]
pub trait KnowledgeStore: Send + Sync {
    /// Every knowledge-base article as `(id, article JSON)`, by id.
    async fn kb_articles(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Creates or replaces an article (its JSON as the knowledge crate serialises it).
    async fn upsert_kb_article(&self, id: &str, json: &str, at_ms: i64) -> Result<(), StoreError>;

    /// Deletes an article; whether it existed.
    async fn delete_kb_article(&self, id: &str) -> Result<bool, StoreError>;
}

#[async_trait::async_trait]
impl<S: Backend> KnowledgeStore for S {
    async fn kb_articles(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, (String, String)>("SELECT id, article_json FROM kb_articles")
                .fetch_all(pool)
                .await
        })?;
        // Byte order on both backends (a Postgres collation may order `_` differently).
        rows.sort();
        Ok(rows)
    }

    async fn upsert_kb_article(&self, id: &str, json: &str, at_ms: i64) -> Result<(), StoreError> {
        on_pool!(self.db(), |pool| {
            sqlx::query(
                "INSERT INTO kb_articles (id, article_json, updated_at_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET article_json = excluded.article_json, \
                 updated_at_ms = excluded.updated_at_ms",
            )
            .bind(id)
            .bind(json)
            .bind(at_ms)
            .execute(pool)
            .await
            .map(drop)
        })?;
        Ok(())
    }

    async fn delete_kb_article(&self, id: &str) -> Result<bool, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query("DELETE FROM kb_articles WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(rows > 0)
    }
}
