-- voicedesk store, change 0018 (SQLite): each queue's call recording policy (issue 18).
-- Keep in step with migrations/postgres/0018_recording_policy.sql (the same body).
-- Never edit a migration once released (sqlx keeps its checksum): add a new numbered change.
--
-- 'none': calls of the queue are not recorded (the hall says so); 'all': every answered call is
-- recorded (the hall says so before the call); 'on_demand': the agent or staff may start a
-- recording during the call, and the citizen is told at that moment. Existing queues keep
-- today's behaviour: nothing is recorded.
ALTER TABLE skills ADD COLUMN recording TEXT NOT NULL DEFAULT 'none'
    CHECK (recording IN ('none', 'all', 'on_demand'));
