-- voicedesk store, change 0005 (SQLite): who opened which voice message. Keep in step with
-- migrations/postgres/0005_message_audit.sql: the same table, columns, constraints and indexes.
-- The call audit log (change 0002) needs a call; a voice message may have none, so recording
-- accesses of messages have their own log.
-- APPEND-ONLY: the application only ever INSERTs here.
CREATE TABLE message_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms       BIGINT  NOT NULL,
    actor_id    TEXT    NOT NULL REFERENCES users (id),
    message_id  TEXT    NOT NULL REFERENCES messages (id),
    action      TEXT    NOT NULL CHECK (action IN ('recording_access'))
);

-- One message's history.
CREATE INDEX message_audit_message_id_id ON message_audit (message_id, id);
