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
}

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
}
