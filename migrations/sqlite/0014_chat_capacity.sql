-- voicedesk store, change 0014 (SQLite): per-agent chat capacity and chat wrap-ups (issue 16).
-- Keep in step with migrations/postgres/0014_chat_capacity.sql (the same body).
-- Never edit a migration once released (sqlx keeps its checksum): add a new numbered change.
--
-- How many live chats an agent holds at once (0 = no chats, at most 10); NULL = the server's
-- default (3). Set by an admin; the routing engine gets it at sign-in and on every change.
ALTER TABLE users ADD COLUMN chat_capacity INTEGER NULL CHECK (chat_capacity BETWEEN 0 AND 10);

-- The agent's wrap-up of a chat, like call_wrapups: one per agent per chat (a transferred chat
-- has two agents); saving again replaces it.
CREATE TABLE chat_wrapups (
    chat_id     TEXT   NOT NULL REFERENCES chats (id),
    agent_id    TEXT   NOT NULL REFERENCES users (id),
    disposition TEXT   NOT NULL REFERENCES dispositions (code),
    notes       TEXT   NOT NULL DEFAULT '' CHECK (length(notes) <= 2000),
    at_ms       BIGINT NOT NULL,
    PRIMARY KEY (chat_id, agent_id)
);
CREATE INDEX chat_wrapups_agent_id ON chat_wrapups (agent_id, at_ms);
CREATE INDEX chat_wrapups_disposition ON chat_wrapups (disposition);
