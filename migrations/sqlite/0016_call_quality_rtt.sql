-- voicedesk store, change 0016 (SQLite): round-trip time in call quality (issue 22). Keep in step
-- with migrations/postgres/0016_call_quality_rtt.sql (the same body but for the float type).
-- Never edit a migration once released (sqlx keeps its checksum): add a new numbered change.
--
-- The relay measures each leg's round-trip time from RTCP (its sender reports, the
-- participant's receiver reports); the MOS estimate uses it. NULL: no report came back before
-- the call ended (the estimate assumed a city network's delay), and rows written before 0016.
ALTER TABLE call_quality ADD COLUMN rtt_ms REAL CHECK (rtt_ms >= 0.0);
