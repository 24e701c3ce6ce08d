-- voicedesk store, change 0013 (SQLite): live text chats (issue 16) and their messages. Keep in
-- step with migrations/postgres/0013_chats.sql (the same body).
-- Never edit a migration once released (sqlx keeps its checksum): add a new numbered change.
-- (0013, not 0012: issue 22's call-quality change was written as 0012 at the same time.)
--
-- A chat is one conversation between a citizen and (once answered) an agent. Its id is chosen
-- by the call-center core, like a call's. citizen_id is the signaling server's anonymous
-- citizen id; only that citizen and the connected agent may write to the chat.
-- The read marks are per side and only move forward: the highest message seq the citizen's
-- (agent's) client reported delivered / read. last_seq is the seq of the chat's last message:
-- an append updates this row first, which serialises the appends of one chat on both
-- backends (no two messages take the same seq, a retry racing its original finds it).
CREATE TABLE chats (
    id TEXT PRIMARY KEY,
    citizen_id TEXT NOT NULL,
    service TEXT,
    skill TEXT,
    created_at_ms BIGINT NOT NULL,
    answered_at_ms BIGINT,
    agent_id TEXT REFERENCES users (id),
    ended_at_ms BIGINT,
    end_reason TEXT,
    citizen_delivered_seq BIGINT NOT NULL DEFAULT 0,
    citizen_read_seq BIGINT NOT NULL DEFAULT 0,
    agent_delivered_seq BIGINT NOT NULL DEFAULT 0,
    agent_read_seq BIGINT NOT NULL DEFAULT 0,
    last_seq BIGINT NOT NULL DEFAULT 0,
    CHECK ((ended_at_ms IS NULL) = (end_reason IS NULL))
);
CREATE INDEX chats_created_at_ms ON chats (created_at_ms);
CREATE INDEX chats_open ON chats (ended_at_ms, created_at_ms);

-- One row per message, numbered 1, 2, … within its chat in commit order. client_id is the
-- sender's own id for the message: a retried send with the same client_id is the same
-- message (stored once).
CREATE TABLE chat_messages (
    chat_id TEXT NOT NULL REFERENCES chats (id),
    seq BIGINT NOT NULL,
    client_id TEXT NOT NULL,
    sender TEXT NOT NULL CHECK (sender IN ('citizen', 'agent')),
    agent_id TEXT REFERENCES users (id),
    body TEXT NOT NULL,
    sent_at_ms BIGINT NOT NULL,
    PRIMARY KEY (chat_id, seq),
    UNIQUE (chat_id, client_id),
    CHECK ((sender = 'agent') = (agent_id IS NOT NULL))
);

-- A chat is rated like a call (five levels; 1 and 2 open a follow-up). The subject kinds are a
-- CHECK constraint, which SQLite cannot alter: the table is rebuilt with 'chat' allowed, the
-- same way on both backends, its rows and its index kept.
CREATE TABLE ratings_0013 (
    subject_kind  TEXT    NOT NULL CHECK (subject_kind IN ('call', 'message', 'chat')),
    subject_id    TEXT    NOT NULL CHECK (length(subject_id) BETWEEN 1 AND 64),
    level         INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    comment       TEXT    NOT NULL DEFAULT '' CHECK (length(comment) <= 500),
    created_at_ms BIGINT  NOT NULL,
    follow_up     TEXT    NULL CHECK (follow_up IN ('open', 'handled')),
    handled_at_ms BIGINT  NULL,
    handled_by    TEXT    NULL REFERENCES users (id),
    note          TEXT    NULL CHECK (length(note) <= 2000),
    PRIMARY KEY (subject_kind, subject_id),
    CHECK ((level <= 2 AND follow_up IS NOT NULL) OR (level >= 3 AND follow_up IS NULL)),
    CHECK ((COALESCE(follow_up, '') = 'handled' AND handled_at_ms IS NOT NULL
            AND handled_by IS NOT NULL AND note IS NOT NULL)
        OR (COALESCE(follow_up, '') <> 'handled' AND handled_at_ms IS NULL
            AND handled_by IS NULL AND note IS NULL))
);
INSERT INTO ratings_0013 (subject_kind, subject_id, level, comment, created_at_ms, follow_up,
                          handled_at_ms, handled_by, note)
    SELECT subject_kind, subject_id, level, comment, created_at_ms, follow_up, handled_at_ms,
           handled_by, note
    FROM ratings;
DROP TABLE ratings;
ALTER TABLE ratings_0013 RENAME TO ratings;
CREATE INDEX ratings_follow_up ON ratings (follow_up, created_at_ms);
