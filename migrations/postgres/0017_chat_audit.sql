-- voicedesk store, change 0017 (Postgres): staff on live chats (issue 16). Keep in step with
-- migrations/sqlite/0017_chat_audit.sql: the same table, columns, constraints and indexes.
-- Never edit a migration once released (sqlx keeps its checksum): add a new numbered change.
--
-- Who watched which chat read-only, whispered to its agent (the text is kept in `detail`),
-- took it over or stopped watching, and when. Each entry is committed BEFORE the action takes
-- effect. A table of its own rather than a chat reference in audit_log: audit_log.call_id is
-- NOT NULL REFERENCES calls and its actions and modes are the voice ones; making it either-or
-- would rebuild that table on SQLite and weaken both references, while here each reference
-- is exact. The audit pages read both tables.
-- APPEND-ONLY: the application only ever INSERTs here.
CREATE TABLE chat_audit (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms       BIGINT  NOT NULL,
    actor_id    TEXT    NOT NULL REFERENCES users (id),
    chat_id     TEXT    NOT NULL REFERENCES chats (id),
    action      TEXT    NOT NULL CHECK (action IN ('watch', 'whisper', 'take_over', 'leave')),
    detail      TEXT    NULL CHECK (length(detail) <= 2000)
);

-- One chat's history, newest first.
CREATE INDEX chat_audit_chat_id_id ON chat_audit (chat_id, id);
-- One staff member's actions, newest first.
CREATE INDEX chat_audit_actor_id_id ON chat_audit (actor_id, id);

-- A staff member who took a chat over writes as its agent: `agent_id` keeps the agent who
-- answered, `handled_by` is the staff member who took over, at `taken_over_at_ms` (as for
-- calls in 0002). A chat's agent texts must come from COALESCE(handled_by, agent_id).
ALTER TABLE chats ADD COLUMN handled_by TEXT NULL REFERENCES users (id);
ALTER TABLE chats ADD COLUMN taken_over_at_ms BIGINT NULL;
