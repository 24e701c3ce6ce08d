-- voicedesk store, change 0001 (Postgres). Keep in step with migrations/sqlite/0001_initial.sql:
-- the same tables, columns, constraints and indexes, so the store runs the same queries on both.
-- Every time is a Unix epoch in milliseconds (BIGINT), never a database timestamp type.
-- `PRIMARY KEY NOT NULL`: SQLite, unlike Postgres, lets a non-INTEGER primary key hold NULL.

-- Staff-side accounts. Citizens are anonymous and never have a row here.
CREATE TABLE users (
    id            TEXT    PRIMARY KEY NOT NULL,
    username      TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('agent', 'staff', 'admin')),
    password_hash TEXT    NOT NULL,
    created_at_ms BIGINT  NOT NULL
);

-- Sign-in sessions. Only a hash of the token is stored; the raw token never reaches the store.
-- Citizen sessions have no user.
CREATE TABLE sessions (
    token_hash    TEXT    PRIMARY KEY NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('citizen', 'agent', 'staff', 'admin')),
    user_id       TEXT    NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at_ms BIGINT  NOT NULL,
    expires_at_ms BIGINT  NOT NULL
);

CREATE INDEX sessions_expires_at_ms ON sessions (expires_at_ms);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- One row per call, from queued to ended. `outcome` is the end reason
-- (voicedesk_protocol::EndReason::as_str); NULL while the call is open.
CREATE TABLE calls (
    id              TEXT    PRIMARY KEY NOT NULL,
    citizen_session TEXT    NOT NULL,
    service         TEXT    NULL,
    queued_at_ms    BIGINT  NOT NULL,
    offered_at_ms   BIGINT  NULL,
    answered_at_ms  BIGINT  NULL,
    ended_at_ms     BIGINT  NULL,
    outcome         TEXT    NULL,
    agent_id        TEXT    NULL REFERENCES users (id),
    offer_count     INTEGER NOT NULL DEFAULT 0 CHECK (offer_count >= 0)
);

CREATE INDEX calls_queued_at_ms ON calls (queued_at_ms);
-- Open calls only: crash recovery and shutdown end them, the engine rebuilds from them.
CREATE INDEX calls_open ON calls (queued_at_ms) WHERE ended_at_ms IS NULL;
