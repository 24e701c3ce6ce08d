-- voicedesk store, change 0002 (Postgres): staff support of live calls. Keep in step with
-- migrations/sqlite/0002_support.sql: the same tables, columns, constraints and indexes.
-- Never edit a migration once released (sqlx keeps its checksum): add a new numbered change.

-- Who supported which call, how and when; also who opened a call's recording.
-- APPEND-ONLY: the application only ever INSERTs here; it never UPDATEs or DELETEs an audit row
-- (retention, if ever, is an operator's job outside the application).
-- `mode` is a voicedesk_protocol::SupportMode::as_str (for 'join' and 'mode' entries); `detail`
-- is free text (e.g. which recording was accessed).
-- `id` is `BIGINT GENERATED ALWAYS AS IDENTITY` (SQLite: `INTEGER PRIMARY KEY AUTOINCREMENT`):
-- it grows with every append and is never reused, so `ORDER BY id DESC` is newest first.
CREATE TABLE audit_log (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms       BIGINT  NOT NULL,
    actor_id    TEXT    NOT NULL REFERENCES users (id),
    call_id     TEXT    NOT NULL REFERENCES calls (id),
    action      TEXT    NOT NULL
        CHECK (action IN ('join', 'mode', 'leave', 'take_over', 'recording_access')),
    mode        TEXT    NULL CHECK (mode IN ('monitor', 'whisper', 'barge', 'take_over')),
    detail      TEXT    NULL
);

-- One call's history, newest first.
CREATE INDEX audit_log_call_id_id ON audit_log (call_id, id);
-- One staff member's actions, newest first.
CREATE INDEX audit_log_actor_id_id ON audit_log (actor_id, id);
-- Time ranges (reports, retention).
CREATE INDEX audit_log_at_ms ON audit_log (at_ms);

-- A staff member who took the call over keeps the citizen and the agent leaves: `agent_id` keeps
-- the agent who answered, `handled_by` is the staff member who took over, at `taken_over_at_ms`.
ALTER TABLE calls ADD COLUMN handled_by TEXT NULL REFERENCES users (id);
ALTER TABLE calls ADD COLUMN taken_over_at_ms BIGINT NULL;
