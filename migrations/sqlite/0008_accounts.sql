-- voicedesk store, change 0008 (SQLite): real accounts. Keep in step with
-- migrations/postgres/0008_accounts.sql: the same tables, columns, constraints and indexes.
-- Never edit a migration once released (sqlx keeps its checksum): add a new numbered change.

-- The account's state beside the columns of change 0001 (read by store/src/accounts.rs only):
-- `name_latin` is the name in Latin letters (`display_name` holds the Chinese one, or both for
-- accounts made before this change); `disabled_at_ms` is set while the account is disabled
-- (it keeps its history and cannot sign in); `must_change_password` is 1 after an
-- administrator set the password: the user must choose a new one at the next sign-in.
ALTER TABLE users ADD COLUMN name_latin TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN disabled_at_ms BIGINT NULL;
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0
    CHECK (must_change_password IN (0, 1));

-- Failed sign-ins per key: `account:<lower-case username as typed>` (unknown names included, so
-- the answer never tells whether an account exists) or `address:<client IP>`. Policy in
-- signaling/src/signin_guard.rs; a row is deleted when its count no longer matters.
CREATE TABLE sign_in_failures (
    key                TEXT    PRIMARY KEY NOT NULL,
    failures           INTEGER NOT NULL CHECK (failures >= 0),
    last_failure_at_ms BIGINT  NOT NULL,
    locked_until_ms    BIGINT  NOT NULL DEFAULT 0
);

-- Every change an administrator (or the `voicedesk user` command, actor NULL) made, and every
-- sign-in lock. APPEND-ONLY like audit_log. `before_json`/`after_json` are the changed object as
-- JSON before and after (NULL when it did not exist); secrets (password hashes) never appear.
CREATE TABLE admin_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms       BIGINT  NOT NULL,
    actor_id    TEXT    NULL REFERENCES users (id),
    actor_name  TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    before_json TEXT    NULL,
    after_json  TEXT    NULL,
    address     TEXT    NULL
);

CREATE INDEX admin_audit_at_ms ON admin_audit (at_ms);
CREATE INDEX admin_audit_target_id ON admin_audit (target, id);
