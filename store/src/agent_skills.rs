//! Which skills (queues) each user serves and how well: table `agent_skills`, what routing loads.

use crate::backend::{Backend, is_foreign_key_violation, on_pool};
use crate::model::{self, UserSkillRow};
use crate::{AgentSkill, StoreError, UserSkill, validate};

/// Agents' skills. Every write is committed before the call returns.
#[async_trait::async_trait]
pub trait AgentSkillStore: Send + Sync {
    /// The skills of one user, by skill id. An unknown user has none.
    async fn agent_skills(&self, user_id: &str) -> Result<Vec<AgentSkill>, StoreError>;

    /// Every user's skills, by user id then skill id (what routing loads at start-up).
    async fn all_agent_skills(&self) -> Result<Vec<UserSkill>, StoreError>;

    /// Replaces the user's whole skill set with `skills`, in one transaction (an empty slice
    /// removes them all). An unknown user or skill is [`StoreError::InvalidReference`] (entity
    /// `"agent skill"`, target `"user"` or `"skill"`); a level outside 1..=10 or a skill listed
    /// twice is [`StoreError::InvalidValue`]. Either way the old set is kept unchanged. The role is
    /// not checked: any user may hold skills.
    async fn set_agent_skills(
        &self,
        user_id: &str,
        skills: &[AgentSkill],
    ) -> Result<(), StoreError>;

    /// How many chats the user holds at once (change 0014); `None`: the server's default. An
    /// unknown user has none set.
    async fn chat_capacity(&self, user_id: &str) -> Result<Option<u8>, StoreError>;

    /// Sets (or with `None` clears) the user's chat capacity. Above
    /// [`MAX_CHAT_CAPACITY`] is [`StoreError::InvalidValue`]; an unknown user
    /// [`StoreError::InvalidReference`] (entity `"chat capacity"`, target `"user"`).
    async fn set_chat_capacity(
        &self,
        user_id: &str,
        capacity: Option<u8>,
    ) -> Result<(), StoreError>;
}

/// The most chats one agent may be set to hold at once (the routing engine's limit).
pub const MAX_CHAT_CAPACITY: u8 = 10;

#[async_trait::async_trait]
impl<S: Backend> AgentSkillStore for S {
    async fn agent_skills(&self, user_id: &str) -> Result<Vec<AgentSkill>, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, (String, i32)>(
                "SELECT skill_id, level FROM agent_skills WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await
        })?;
        let mut skills: Vec<AgentSkill> =
            rows.into_iter().map(|(skill_id, level)| AgentSkill { skill_id, level }).collect();
        // Byte order on both backends (a Postgres collation may order `_` differently).
        skills.sort_by(|a, b| a.skill_id.cmp(&b.skill_id));
        Ok(skills)
    }

    async fn all_agent_skills(&self) -> Result<Vec<UserSkill>, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, UserSkillRow>("SELECT user_id, skill_id, level FROM agent_skills")
                .fetch_all(pool)
                .await
        })?;
        let mut all: Vec<UserSkill> = rows.into_iter().map(model::user_skill_from_row).collect();
        all.sort_by(|a, b| (&a.user_id, &a.skill_id).cmp(&(&b.user_id, &b.skill_id)));
        Ok(all)
    }

    async fn set_agent_skills(
        &self,
        user_id: &str,
        skills: &[AgentSkill],
    ) -> Result<(), StoreError> {
        validate::agent_skills(skills)?;
        on_pool!(self.db(), |pool| {
            let mut tx = pool.begin().await?;
            // A no-op write on the user row: it tells whether the user exists and holds the row
            // (Postgres) or the database (SQLite) until commit, so concurrent replacements of one
            // user's set run one after the other and the user cannot be deleted halfway.
            let user = sqlx::query("UPDATE users SET username = username WHERE id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if user.rows_affected() == 0 {
                return Err(StoreError::InvalidReference {
                    entity: "agent skill",
                    target: "user",
                    id: user_id.to_owned(),
                });
            }
            sqlx::query("DELETE FROM agent_skills WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            for skill in skills {
                sqlx::query(
                    "INSERT INTO agent_skills (user_id, skill_id, level) VALUES ($1, $2, $3)",
                )
                .bind(user_id)
                .bind(&skill.skill_id)
                .bind(skill.level)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    // The user row is held: the missing row is the skill.
                    if is_foreign_key_violation(&e) {
                        StoreError::InvalidReference {
                            entity: "agent skill",
                            target: "skill",
                            id: skill.skill_id.clone(),
                        }
                    } else {
                        StoreError::Database(e)
                    }
                })?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    async fn chat_capacity(&self, user_id: &str) -> Result<Option<u8>, StoreError> {
        let row = on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, (Option<i32>,)>("SELECT chat_capacity FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.and_then(|(c,)| c).map(|c| c.clamp(0, i32::from(MAX_CHAT_CAPACITY)) as u8))
    }

    async fn set_chat_capacity(
        &self,
        user_id: &str,
        capacity: Option<u8>,
    ) -> Result<(), StoreError> {
        if capacity.is_some_and(|c| c > MAX_CHAT_CAPACITY) {
            return Err(StoreError::InvalidValue {
                entity: "chat capacity",
                field: "chat_capacity",
                value: format!("{capacity:?}"),
                expected: "0 to 10",
            });
        }
        let done = on_pool!(self.db(), |pool| {
            sqlx::query("UPDATE users SET chat_capacity = $1 WHERE id = $2")
                .bind(capacity.map(i32::from))
                .bind(user_id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        if done == 0 {
            return Err(StoreError::InvalidReference {
                entity: "chat capacity",
                target: "user",
                id: user_id.to_owned(),
            });
        }
        Ok(())
    }
}
