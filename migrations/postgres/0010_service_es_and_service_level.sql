-- voicedesk store, change 0010 (Postgres): Spanish names of services, and each queue's service
-- level target. Keep in step with migrations/sqlite/0010_service_es_and_service_level.sql (the
-- same body).
-- Never edit a migration once released (sqlx keeps its checksum): add a new numbered change.
--
-- name_es / description_es: what the hall shows in Spanish. '' means "not written": the hall
-- then uses its own resource file's name of the service (catalogue.service.<id>), else English.
ALTER TABLE services ADD COLUMN name_es TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN description_es TEXT NOT NULL DEFAULT '';

-- The queue's service level target: service_level_pct percent of its calls answered within
-- service_level_secs seconds (e.g. 80 % within 20 s). Both or neither (NULL: no target).
ALTER TABLE skills ADD COLUMN service_level_secs INTEGER NULL CHECK (service_level_secs > 0);
ALTER TABLE skills ADD COLUMN service_level_pct INTEGER NULL
    CHECK (service_level_pct BETWEEN 1 AND 100);
UPDATE skills SET service_level_secs = 20, service_level_pct = 80;
