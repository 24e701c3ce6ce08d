//! What the hall offers and when: hall areas, skills (queues), services, holidays, away reasons
//! and dispositions — tables `hall_areas`, `skills`, `services`, `holidays`, `away_reasons`,
//! `dispositions`.

use crate::backend::{Backend, Db, is_foreign_key_violation, on_pool, reference_error};
use crate::model::{self, AreaRow, CodeRow, HolidayRow, ServiceRow, SkillRow};
use crate::{Catalogue, Holiday, LabelledCode, Service, Skill, StoreError, validate};

/// Columns of `skills`, in [`SkillRow`] order.
macro_rules! skill_columns {
    () => {
        "id, name_zh, name_en, hours, max_waiting, max_wait_secs, sort, updated_at_ms, \
         service_level_secs, service_level_pct, recording"
    };
}

/// Columns of `services`, in [`ServiceRow`] order.
macro_rules! service_columns {
    () => {
        "id, area, skill_id, kind, name_zh, name_en, description_zh, description_en, priority, \
         sort, enabled, name_es, description_es"
    };
}

/// The catalogue the admin edits and the hall and routing read. Every write is committed before
/// the call returns.
#[async_trait::async_trait]
pub trait CatalogueStore: Send + Sync {
    /// The whole catalogue in one consistent read: hall areas, skills, services (disabled ones
    /// included), away reasons (system ones included), dispositions and holidays, each ordered by
    /// `sort` then id/code (holidays by day); ids compare as bytes on both backends.
    async fn catalogue(&self) -> Result<Catalogue, StoreError>;

    /// Creates the skill, or replaces every field of the skill with that id. A value breaking
    /// the rules of [`Skill`] is [`StoreError::InvalidValue`], nothing written.
    async fn upsert_skill(&self, skill: &Skill) -> Result<(), StoreError>;

    /// Deletes the skill (and the agents' levels in it); returns whether it existed. A skill that
    /// a service routes to, or that a call was queued for, is [`StoreError::InUse`] (entity
    /// `"skill"`, by `"services"` or `"calls"`) and nothing is changed.
    async fn delete_skill(&self, id: &str) -> Result<bool, StoreError>;

    /// Creates the service, or replaces every field of the service with that id. An unknown
    /// area or skill is [`StoreError::InvalidReference`] (entity `"service"`, target
    /// `"hall area"` or `"skill"`); a value breaking the rules of [`Service`] is
    /// [`StoreError::InvalidValue`]. Either way nothing is written.
    async fn upsert_service(&self, service: &Service) -> Result<(), StoreError>;

    /// Deletes the service; returns whether it existed. (Calls keep the service name they were
    /// recorded with.)
    async fn delete_service(&self, id: &str) -> Result<bool, StoreError>;

    /// Creates or replaces the calendar entry of `holiday.day`. A day that is not a real
    /// `YYYY-MM-DD` date or a blank name is [`StoreError::InvalidValue`], nothing written.
    async fn upsert_holiday(&self, holiday: &Holiday) -> Result<(), StoreError>;

    /// Creates or replaces the calendar entries of every day in `holidays` (an imported
    /// calendar), in one transaction. Any entry that [`CatalogueStore::upsert_holiday`] would
    /// refuse, or a day listed twice, is [`StoreError::InvalidValue`] and nothing is written.
    async fn upsert_holidays(&self, holidays: &[Holiday]) -> Result<(), StoreError>;

    /// Deletes the calendar entry of `day`; returns whether it existed.
    async fn delete_holiday(&self, day: &str) -> Result<bool, StoreError>;

    /// Replaces the away reasons agents can pick with `reasons`, in one transaction: codes given
    /// are created or updated, other non-system codes are deleted, system reasons (e.g.
    /// `missed_calls`) are kept untouched. An empty list, an entry marked `system`, a code listed
    /// twice or an invalid code or label is [`StoreError::InvalidValue`]; a code that is a system
    /// reason's is [`StoreError::Conflict`]. Either way nothing is changed.
    async fn replace_away_reasons(&self, reasons: &[LabelledCode]) -> Result<(), StoreError>;

    /// Replaces the dispositions like [`CatalogueStore::replace_away_reasons`]; in addition,
    /// deleting a disposition that a wrap-up uses is [`StoreError::InUse`] (entity
    /// `"disposition"`, by `"call wrap-ups"`) and nothing is changed.
    async fn replace_dispositions(&self, dispositions: &[LabelledCode]) -> Result<(), StoreError>;
}

#[async_trait::async_trait]
impl<S: Backend> CatalogueStore for S {
    async fn catalogue(&self) -> Result<Catalogue, StoreError> {
        let db = self.db();
        let (areas, skills, services, away_reasons, dispositions, holidays) =
            on_pool!(db, |pool| {
                // One snapshot for all six reads: SQLite's read transaction is one; Postgres's
                // default (READ COMMITTED) takes a snapshot per statement, so ask for more.
                let mut tx = pool.begin().await?;
                if matches!(db, Db::Postgres(_)) {
                    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        .execute(&mut *tx)
                        .await?;
                }
                let areas = sqlx::query_as::<_, AreaRow>(
                    "SELECT id, name_zh, name_en, sort FROM hall_areas",
                )
                .fetch_all(&mut *tx)
                .await?;
                let skills = sqlx::query_as::<_, SkillRow>(concat!(
                    "SELECT ",
                    skill_columns!(),
                    " FROM skills"
                ))
                .fetch_all(&mut *tx)
                .await?;
                let services = sqlx::query_as::<_, ServiceRow>(concat!(
                    "SELECT ",
                    service_columns!(),
                    " FROM services"
                ))
                .fetch_all(&mut *tx)
                .await?;
                let away_reasons = sqlx::query_as::<_, CodeRow>(
                    "SELECT code, name_zh, name_en, sort, system FROM away_reasons",
                )
                .fetch_all(&mut *tx)
                .await?;
                let dispositions = sqlx::query_as::<_, CodeRow>(
                    "SELECT code, name_zh, name_en, sort, system FROM dispositions",
                )
                .fetch_all(&mut *tx)
                .await?;
                let holidays = sqlx::query_as::<_, HolidayRow>(
                    "SELECT day, kind, name_zh, name_en FROM holidays",
                )
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                (areas, skills, services, away_reasons, dispositions, holidays)
            });
        let mut areas: Vec<_> = areas.into_iter().map(model::area_from_row).collect();
        let mut skills =
            skills.into_iter().map(model::skill_from_row).collect::<Result<Vec<_>, _>>()?;
        let mut services =
            services.into_iter().map(model::service_from_row).collect::<Result<Vec<_>, _>>()?;
        let mut away_reasons = away_reasons
            .into_iter()
            .map(|row| model::code_from_row("away_reasons", row))
            .collect::<Result<Vec<_>, _>>()?;
        let mut dispositions = dispositions
            .into_iter()
            .map(|row| model::code_from_row("dispositions", row))
            .collect::<Result<Vec<_>, _>>()?;
        let mut holidays =
            holidays.into_iter().map(model::holiday_from_row).collect::<Result<Vec<_>, _>>()?;
        // Ordered here, not in SQL: byte order of the ids on both backends (Postgres would use
        // the database's collation, which may ignore '_').
        areas.sort_by(|a, b| (a.sort, &a.id).cmp(&(b.sort, &b.id)));
        skills.sort_by(|a, b| (a.sort, &a.id).cmp(&(b.sort, &b.id)));
        services.sort_by(|a, b| (a.sort, &a.id).cmp(&(b.sort, &b.id)));
        away_reasons.sort_by(|a, b| (a.sort, &a.code).cmp(&(b.sort, &b.code)));
        dispositions.sort_by(|a, b| (a.sort, &a.code).cmp(&(b.sort, &b.code)));
        holidays.sort_by(|a, b| a.day.cmp(&b.day));
        Ok(Catalogue { areas, skills, services, away_reasons, dispositions, holidays })
    }

    async fn upsert_skill(&self, skill: &Skill) -> Result<(), StoreError> {
        let (max_waiting, max_wait_secs, service_level_secs, service_level_pct) =
            validate::skill(skill)?;
        on_pool!(self.db(), |pool| {
            sqlx::query(concat!(
                "INSERT INTO skills (",
                skill_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (id) DO UPDATE SET name_zh = excluded.name_zh, \
                 name_en = excluded.name_en, hours = excluded.hours, \
                 max_waiting = excluded.max_waiting, max_wait_secs = excluded.max_wait_secs, \
                 sort = excluded.sort, updated_at_ms = excluded.updated_at_ms, \
                 service_level_secs = excluded.service_level_secs, \
                 service_level_pct = excluded.service_level_pct, \
                 recording = excluded.recording"
            ))
            .bind(&skill.id)
            .bind(&skill.name_zh)
            .bind(&skill.name_en)
            .bind(&skill.hours)
            .bind(max_waiting)
            .bind(max_wait_secs)
            .bind(skill.sort)
            .bind(skill.updated_at_ms)
            .bind(service_level_secs)
            .bind(service_level_pct)
            .bind(skill.recording.as_str())
            .execute(pool)
            .await
            .map(drop)
        })?;
        Ok(())
    }

    async fn delete_skill(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = on_pool!(self.db(), |pool| {
            sqlx::query("DELETE FROM skills WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        });
        let e = match deleted {
            Ok(rows) => return Ok(rows > 0),
            Err(e) => e,
        };
        if !is_foreign_key_violation(&e) {
            return Err(StoreError::Database(e));
        }
        // Which rows still use it (present = in use).
        let users = [
            ("services", "SELECT 1 FROM services WHERE skill_id = $1 LIMIT 1"),
            ("calls", "SELECT 1 FROM calls WHERE skill_id = $1 LIMIT 1"),
        ];
        for (by, sql) in users {
            let found = on_pool!(self.db(), |pool| {
                sqlx::query_scalar::<_, i32>(sql).bind(id).fetch_optional(pool).await
            })?;
            if found.is_some() {
                return Err(StoreError::InUse { entity: "skill", id: id.to_owned(), by });
            }
        }
        Err(StoreError::Database(e))
    }

    async fn upsert_service(&self, service: &Service) -> Result<(), StoreError> {
        validate::service(service)?;
        let done = on_pool!(self.db(), |pool| {
            sqlx::query(concat!(
                "INSERT INTO services (",
                service_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (id) DO UPDATE SET area = excluded.area, \
                 skill_id = excluded.skill_id, kind = excluded.kind, \
                 name_zh = excluded.name_zh, name_en = excluded.name_en, \
                 description_zh = excluded.description_zh, \
                 description_en = excluded.description_en, priority = excluded.priority, \
                 sort = excluded.sort, enabled = excluded.enabled, \
                 name_es = excluded.name_es, description_es = excluded.description_es"
            ))
            .bind(&service.id)
            .bind(&service.area)
            .bind(&service.skill_id)
            .bind(service.kind.as_str())
            .bind(&service.name_zh)
            .bind(&service.name_en)
            .bind(&service.description_zh)
            .bind(&service.description_en)
            .bind(service.priority)
            .bind(service.sort)
            .bind(i32::from(service.enabled))
            .bind(&service.name_es)
            .bind(&service.description_es)
            .execute(pool)
            .await
            .map(drop)
        });
        match done {
            Ok(()) => Ok(()),
            Err(e) => Err(reference_error(
                self.db(),
                e,
                "service",
                &[
                    ("hall area", "SELECT 1 FROM hall_areas WHERE id = $1", &service.area),
                    ("skill", "SELECT 1 FROM skills WHERE id = $1", &service.skill_id),
                ],
            )
            .await),
        }
    }

    async fn delete_service(&self, id: &str) -> Result<bool, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query("DELETE FROM services WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(rows > 0)
    }

    async fn upsert_holiday(&self, holiday: &Holiday) -> Result<(), StoreError> {
        self.upsert_holidays(std::slice::from_ref(holiday)).await
    }

    async fn upsert_holidays(&self, holidays: &[Holiday]) -> Result<(), StoreError> {
        validate::holidays(holidays)?;
        on_pool!(self.db(), |pool| {
            let mut tx = pool.begin().await?;
            for holiday in holidays {
                sqlx::query(
                    "INSERT INTO holidays (day, kind, name_zh, name_en) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (day) DO UPDATE SET kind = excluded.kind, \
                     name_zh = excluded.name_zh, name_en = excluded.name_en",
                )
                .bind(&holiday.day)
                .bind(holiday.kind.as_str())
                .bind(&holiday.name_zh)
                .bind(&holiday.name_en)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    async fn delete_holiday(&self, day: &str) -> Result<bool, StoreError> {
        let rows = on_pool!(self.db(), |pool| {
            sqlx::query("DELETE FROM holidays WHERE day = $1")
                .bind(day)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(rows > 0)
    }

    async fn replace_away_reasons(&self, reasons: &[LabelledCode]) -> Result<(), StoreError> {
        replace_codes(self.db(), &AWAY_REASONS, reasons).await
    }

    async fn replace_dispositions(&self, dispositions: &[LabelledCode]) -> Result<(), StoreError> {
        replace_codes(self.db(), &DISPOSITIONS, dispositions).await
    }
}

/// The statements of one table of labelled codes (`away_reasons`, `dispositions`).
struct CodeTable {
    /// The kind of row, for errors: "away reason", "disposition".
    entity: &'static str,
    /// Creates or updates a non-system code ($1 code, $2 name_zh, $3 name_en, $4 sort); touches
    /// no row when the code is a system one.
    upsert: &'static str,
    /// The codes of every non-system row.
    non_system_codes: &'static str,
    /// Deletes a non-system code ($1).
    delete: &'static str,
    /// What refers to the rows, for [`StoreError::InUse`].
    used_by: &'static str,
}

const AWAY_REASONS: CodeTable = CodeTable {
    entity: "away reason",
    upsert: "INSERT INTO away_reasons (code, name_zh, name_en, sort, system) \
             VALUES ($1, $2, $3, $4, 0) ON CONFLICT (code) DO UPDATE SET \
             name_zh = excluded.name_zh, name_en = excluded.name_en, sort = excluded.sort \
             WHERE away_reasons.system = 0",
    non_system_codes: "SELECT code FROM away_reasons WHERE system = 0",
    delete: "DELETE FROM away_reasons WHERE code = $1 AND system = 0",
    // No table refers to away reasons (agents' presence is not stored): never reported.
    used_by: "agents",
};

const DISPOSITIONS: CodeTable = CodeTable {
    entity: "disposition",
    upsert: "INSERT INTO dispositions (code, name_zh, name_en, sort, system) \
             VALUES ($1, $2, $3, $4, 0) ON CONFLICT (code) DO UPDATE SET \
             name_zh = excluded.name_zh, name_en = excluded.name_en, sort = excluded.sort \
             WHERE dispositions.system = 0",
    non_system_codes: "SELECT code FROM dispositions WHERE system = 0",
    delete: "DELETE FROM dispositions WHERE code = $1 AND system = 0",
    used_by: "call wrap-ups",
};

/// [`CatalogueStore::replace_away_reasons`] and [`CatalogueStore::replace_dispositions`].
async fn replace_codes(
    db: Db<'_>,
    table: &CodeTable,
    codes: &[LabelledCode],
) -> Result<(), StoreError> {
    validate::codes(table.entity, codes)?;
    on_pool!(db, |pool| {
        let mut tx = pool.begin().await?;
        // Writes first: SQLite takes the write lock at once (no read-to-write upgrade that could
        // fail with SQLITE_BUSY), Postgres locks the rows.
        for c in codes {
            let done = sqlx::query(table.upsert)
                .bind(&c.code)
                .bind(&c.name_zh)
                .bind(&c.name_en)
                .bind(c.sort)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                // The upsert skips system rows.
                return Err(StoreError::Conflict {
                    entity: table.entity,
                    key: "code",
                    value: c.code.clone(),
                });
            }
        }
        let existing =
            sqlx::query_scalar::<_, String>(table.non_system_codes).fetch_all(&mut *tx).await?;
        for code in existing {
            if codes.iter().any(|c| c.code == code) {
                continue;
            }
            sqlx::query(table.delete).bind(&code).execute(&mut *tx).await.map_err(|e| {
                if is_foreign_key_violation(&e) {
                    StoreError::InUse { entity: table.entity, id: code.clone(), by: table.used_by }
                } else {
                    StoreError::Database(e)
                }
            })?;
        }
        tx.commit().await?;
        Ok(())
    })
}
