//! The self-service assistant's knowledge base: tables `kb_articles` and `kb_synonyms` (each
//! article or synonym group stored as the JSON the `knowledge` crate serialises; the search
//! itself lives in that crate), and `kb_unanswered`, the questions that got no confident answer.

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

    /// Every synonym group an admin wrote as `(id, group JSON)`, by id.
    async fn kb_synonyms(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Creates or replaces a synonym group (its JSON as the knowledge crate serialises it).
    async fn upsert_kb_synonym(&self, id: &str, json: &str, at_ms: i64) -> Result<(), StoreError>;

    /// Deletes a synonym group; whether it existed.
    async fn delete_kb_synonym(&self, id: &str) -> Result<bool, StoreError>;

    /// Counts one more asking of a question that got no confident answer (`lang` `"zh"` or
    /// `"en"`; the question as the caller normalised it, 1..=500 characters, else
    /// [`StoreError::InvalidValue`]).
    async fn record_kb_unanswered(
        &self,
        lang: &str,
        question: &str,
        at_ms: i64,
    ) -> Result<(), StoreError>;

    /// The questions that got no confident answer, the most recently asked first, at most
    /// `limit` (capped at 500).
    async fn kb_unanswered(&self, limit: u32) -> Result<Vec<UnansweredQuestion>, StoreError>;

    /// Removes a question from that list (an admin wrote its article, or it needs none);
    /// whether it was listed. Asked again, it is listed again from one.
    async fn dismiss_kb_unanswered(&self, lang: &str, question: &str) -> Result<bool, StoreError>;
}

/// A question the assistant had no confident answer to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnansweredQuestion {
    /// `"zh"` or `"en"`.
    pub lang: String,
    /// The question, trimmed, whitespace collapsed.
    pub question: String,
    /// How many times it was asked.
    pub asked: i64,
    /// When it was first asked (Unix ms).
    pub first_asked_at_ms: i64,
    /// When it was last asked (Unix ms).
    pub last_asked_at_ms: i64,
}

/// The longest question kept, in characters.
const MAX_QUESTION_CHARS: usize = 500;

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

    async fn kb_synonyms(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, (String, String)>("SELECT id, group_json FROM kb_synonyms")
                .fetch_all(pool)
                .await
        })?;
        rows.sort();
        Ok(rows)
    }

    async fn upsert_kb_synonym(&self, id: &str, json: &str, at_ms: i64) -> Result<(), StoreError> {
        crate::validate::key("synonym group", "id", id)?;
        on_pool!(self.db(), |pool| {
            sqlx::query(
                "INSERT INTO kb_synonyms (id, group_json, updated_at_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET group_json = excluded.group_json, \
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

    async fn delete_kb_synonym(&self, id: &str) -> Result<bool, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query("DELETE FROM kb_synonyms WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(rows > 0)
    }

    async fn record_kb_unanswered(
        &self,
        lang: &str,
        question: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        if !matches!(lang, "zh" | "en") {
            return Err(StoreError::InvalidValue {
                entity: "unanswered question",
                field: "lang",
                value: lang.chars().take(64).collect(),
                expected: "\"zh\" or \"en\"",
            });
        }
        if question.trim().is_empty() || question.chars().count() > MAX_QUESTION_CHARS {
            return Err(StoreError::InvalidValue {
                entity: "unanswered question",
                field: "question",
                value: question.chars().take(64).collect(),
                expected: "a non-blank text of at most 500 characters",
            });
        }
        on_pool!(self.db(), |pool| {
            sqlx::query(
                "INSERT INTO kb_unanswered (lang, question, asked, first_asked_at_ms, \
                 last_asked_at_ms) VALUES ($1, $2, 1, $3, $3) \
                 ON CONFLICT (lang, question) DO UPDATE SET asked = kb_unanswered.asked + 1, \
                 last_asked_at_ms = excluded.last_asked_at_ms",
            )
            .bind(lang)
            .bind(question)
            .bind(at_ms)
            .execute(pool)
            .await
            .map(drop)
        })?;
        Ok(())
    }

    async fn kb_unanswered(&self, limit: u32) -> Result<Vec<UnansweredQuestion>, StoreError> {
        let limit = i64::from(limit.min(500));
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, (String, String, i32, i64, i64)>(
                "SELECT lang, question, asked, first_asked_at_ms, last_asked_at_ms \
                 FROM kb_unanswered ORDER BY last_asked_at_ms DESC, question LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(lang, question, asked, first_asked_at_ms, last_asked_at_ms)| {
                UnansweredQuestion {
                    lang,
                    question,
                    asked: i64::from(asked),
                    first_asked_at_ms,
                    last_asked_at_ms,
                }
            })
            .collect())
    }

    async fn dismiss_kb_unanswered(&self, lang: &str, question: &str) -> Result<bool, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query("DELETE FROM kb_unanswered WHERE lang = $1 AND question = $2")
                .bind(lang)
                .bind(question)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(rows > 0)
    }
}
