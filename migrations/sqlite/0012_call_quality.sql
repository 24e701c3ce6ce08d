-- voicedesk store, change 0012 (SQLite): per-call audio quality (issue 22). Keep in step with
-- migrations/postgres/0012_call_quality.sql (the same body but for the float type).
-- Never edit a migration once released (sqlx keeps its checksum): add a new numbered change.
--
-- One row per side of a call whose audio the relay measured: the E-model MOS estimate (1.0 to
-- 4.5), the loss in percent and the interarrival jitter in ms of what the side sent, as they
-- stood when the call ended. Kept beside the call record (a call without audio has none).
CREATE TABLE call_quality (
    call_id    TEXT NOT NULL REFERENCES calls(id),
    side       TEXT NOT NULL CHECK (side IN ('citizen', 'agent')),
    mos        REAL NOT NULL CHECK (mos >= 1.0 AND mos <= 4.5),
    loss_pct   REAL NOT NULL CHECK (loss_pct >= 0.0 AND loss_pct <= 100.0),
    jitter_ms  REAL NOT NULL CHECK (jitter_ms >= 0.0),
    PRIMARY KEY (call_id, side)
);
