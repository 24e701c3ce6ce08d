-- voicedesk store, change 0004 (Postgres): online messages and service ratings. Keep in step with
-- migrations/sqlite/0004_messages.sql: the same tables, columns, constraints and indexes.
-- Never edit a migration once released (sqlx keeps its checksum): add a new numbered change.
-- Times are Unix epoch milliseconds (BIGINT). length() counts characters on both backends.

-- Online messages a citizen leaves when no agent can answer: a text, or a voice recording of the
-- citizen's existing media connection stored as an Ogg/Opus file in the voice directory.
-- `client_id` is the client's idempotency key: a retry with the same key finds this row.
-- `ticket` is what the citizen quotes (`XXXX-XXXX`, 8 characters of 23456789ABCDEFGHJKMNPQRSTUVWXYZ);
-- `secret_hash` is a salted SHA-256 of the secret code the citizen was given (never the code).
-- `voice_file` is a bare file name (vm-<32 hex>.opus) inside the voice directory; the file is
-- synced and renamed into place before the row that references it is committed.
-- `reason` is why the citizen was offered a message: outside business hours, a full queue, no
-- agent with the skill, the wait limit, or the citizen's own choice.
-- State: new → assigned → answered → closed (closing is possible from any open state).
CREATE TABLE messages (
    id             TEXT    PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
    client_id      TEXT    NOT NULL UNIQUE CHECK (length(client_id) BETWEEN 16 AND 64),
    ticket         TEXT    NOT NULL UNIQUE CHECK (length(ticket) = 9),
    secret_hash    TEXT    NOT NULL CHECK (length(secret_hash) = 64),
    kind           TEXT    NOT NULL CHECK (kind IN ('text', 'voice')),
    service        TEXT    NULL CHECK (length(service) BETWEEN 1 AND 200),
    name           TEXT    NULL CHECK (length(name) BETWEEN 1 AND 50),
    phone          TEXT    NULL CHECK (length(phone) BETWEEN 1 AND 20),
    body           TEXT    NULL CHECK (length(body) BETWEEN 1 AND 2000),
    voice_file     TEXT    NULL UNIQUE CHECK (length(voice_file) BETWEEN 1 AND 128),
    voice_ms       BIGINT  NULL CHECK (voice_ms >= 0),
    voice_bytes    BIGINT  NULL CHECK (voice_bytes > 0),
    call_id        TEXT    NULL REFERENCES calls (id),
    reason         TEXT    NOT NULL
        CHECK (reason IN ('closed', 'queue_full', 'no_agents', 'wait_limit', 'choice')),
    created_at_ms  BIGINT  NOT NULL,
    due_at_ms      BIGINT  NOT NULL,
    state          TEXT    NOT NULL DEFAULT 'new'
        CHECK (state IN ('new', 'assigned', 'answered', 'closed')),
    assigned_to    TEXT    NULL REFERENCES users (id),
    assigned_at_ms BIGINT  NULL,
    reply          TEXT    NULL CHECK (length(reply) BETWEEN 1 AND 2000),
    replied_at_ms  BIGINT  NULL,
    replied_by     TEXT    NULL REFERENCES users (id),
    closed_at_ms   BIGINT  NULL,
    closed_by      TEXT    NULL REFERENCES users (id),
    CHECK (due_at_ms >= created_at_ms),
    -- A text message has a body and no recording; a voice message has its file, length and size.
    CHECK ((kind = 'text' AND body IS NOT NULL AND voice_file IS NULL AND voice_ms IS NULL
            AND voice_bytes IS NULL)
        OR (kind = 'voice' AND voice_file IS NOT NULL AND voice_ms IS NOT NULL
            AND voice_bytes IS NOT NULL)),
    CHECK (state <> 'assigned' OR (assigned_to IS NOT NULL AND assigned_at_ms IS NOT NULL)),
    CHECK ((reply IS NULL AND replied_at_ms IS NULL AND replied_by IS NULL)
        OR (reply IS NOT NULL AND replied_at_ms IS NOT NULL AND replied_by IS NOT NULL)),
    CHECK (state <> 'answered' OR reply IS NOT NULL),
    CHECK ((state = 'closed') = (closed_at_ms IS NOT NULL AND closed_by IS NOT NULL))
);

-- The staff inbox: by state, most urgent (earliest due) first; overdue = open and due passed.
CREATE INDEX messages_state_due_at_ms ON messages (state, due_at_ms);
-- The messages that came from one call.
CREATE INDEX messages_call_id ON messages (call_id);

-- The citizen's rating of a call or of an answered message, one per subject: level 5 = very
-- satisfied, 4 satisfied, 3 basically satisfied, 2 dissatisfied, 1 very dissatisfied (the
-- government service-rating norm). The two lowest levels open a follow-up ('open') that staff
-- mark 'handled' with a note; levels 3-5 have none (NULL).
CREATE TABLE ratings (
    subject_kind  TEXT    NOT NULL CHECK (subject_kind IN ('call', 'message')),
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

-- The follow-up list: open ones oldest first, handled ones newest first.
CREATE INDEX ratings_follow_up ON ratings (follow_up, created_at_ms);
