-- voicedesk store, change 0009 (SQLite): the citizen who left a message. Keep in step with
-- migrations/postgres/0009_message_citizen.sql (the same body).
-- Never edit a migration once released (sqlx keeps its checksum): add a new numbered change.
--
-- citizen_id is the signaling server's anonymous citizen id (derived from the citizen's session
-- token). A retry of a client_id is the same message only from the same citizen (another
-- citizen's resend is a conflict, not the first citizen's ticket), and the number of messages
-- one citizen left in a day is capped. NULL for the rows before this change.
ALTER TABLE messages ADD COLUMN citizen_id TEXT;
CREATE INDEX messages_citizen_id_created_at_ms ON messages (citizen_id, created_at_ms);
